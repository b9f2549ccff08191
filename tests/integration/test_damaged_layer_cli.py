"""A damaged snapshot layer as the user meets it (issue 12, item 4): one flipped byte in
a layer's magic, or a garbage ``.cow``, used to make ``vmgui run`` exit 0 running the
layer as a raw disk (the guest's first write destroyed it) while ``vmgui list`` showed
nothing wrong.  Now: ``run`` exits 2 naming the layer, ``list`` shows the VM as
inaccessible with the reason, ``snapshot take`` and ``clone`` refuse, the layer's bytes
never change, and restoring the snapshot gets the VM going again.  Subprocesses on a
fresh library (``VMGUI_HOME``); the guest is a bare boot sector (nothing to boot: the
point is what happens before it)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.integration.runner import LIMIT_S, refused, vmgui

FLOPPY = 1474560



def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def home(tmp_path) -> Path:
    """A library with VM ``T`` (a floppy, one snapshot: A: is now a ``.cow`` layer)."""
    home = tmp_path / "machines"
    image = tmp_path / "fd.img"
    image.write_bytes(b"\xeb\xfe" + bytes(508) + b"\x55\xaa" + bytes(FLOPPY - 512))
    for args in (("create", "T", "--floppy", image, "--boot", "a"),
                 ("snapshot", "T", "take", "s1")):
        result = vmgui(home, *args, timeout=LIMIT_S)
        assert result.returncode == 0, result.stderr
    return home


def layer_of(home: Path) -> Path:
    (layer,) = (home / "T").glob("*.cow")
    return layer


@pytest.mark.parametrize("damage", ["magic byte", "garbage"])
def test_a_damaged_layer_is_refused_listed_and_left_alone(home, tmp_path, damage):
    layer = layer_of(home)
    data = bytearray(layer.read_bytes())
    if damage == "magic byte":
        data[3] ^= 0x0F  # VMGUICOW -> VMGZICOW
    else:
        data[:] = bytes(range(256)) * (len(data) // 256)
    layer.write_bytes(bytes(data))
    before = digest(layer)
    why = f"layer '{layer}' is damaged: bad magic"

    listing = vmgui(home, "list", timeout=LIMIT_S)
    assert listing.returncode == 0 and "Traceback" not in listing.stderr
    assert f"T  inaccessible: {why}" in listing.stdout
    run = ("--headless", "--timeout", "3", "--wait-text", "NEVER")  # ends if it boots
    refused(vmgui(home, "run", "T", *run, timeout=LIMIT_S), f"VM 'T': {why}")
    refused(vmgui(home, "run", layer, *run, timeout=LIMIT_S), why)
    refused(vmgui(home, "run", "T", "--tryout", *run, timeout=LIMIT_S), why)
    refused(vmgui(home, "snapshot", "T", "take", "s2", timeout=LIMIT_S), why)
    refused(vmgui(home, "clone", "T", "T2", timeout=LIMIT_S), why)
    assert digest(layer) == before
    assert sorted(p.name for p in home.iterdir()) == ["T"]

    # the way out: back to the snapshot (the damaged file stays for the user to inspect)
    assert vmgui(home, "snapshot", "T", "restore", "s1", timeout=LIMIT_S).returncode == 0
    listing = vmgui(home, "list", timeout=LIMIT_S)
    assert "inaccessible" not in listing.stdout and "(snapshot layer)" in listing.stdout
    assert digest(layer) == before
