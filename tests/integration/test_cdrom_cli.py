"""``vmgui create/modify --cdrom`` and running a library VM from its CD, as a user runs
them (subprocesses on a fresh library); the control protocol's media arguments."""

from __future__ import annotations

import tomllib

import pytest

from tests import isos
from tests.integration.runner import refused, vmgui
from vmgui.host.control_args import Reply, arguments


def ok(result) -> str:
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stdout


@pytest.fixture
def files(tmp_path, test_guests):
    cat = isos.catalog(isos.validation_entry(), isos.default_entry(count=1))
    boot = tmp_path / "boot.iso"
    boot.write_bytes(isos.build_iso(image=(test_guests / "cdboot.img").read_bytes(),
                                    catalog_sector=cat, volume_id="VMGUI CD"))
    floppy = tmp_path / "x.img"
    floppy.write_bytes(bytes(1474560))
    return {"home": tmp_path / "machines", "boot": boot, "floppy": floppy}


def vm_toml(home, name: str) -> dict:
    return tomllib.loads((home / name / "vm.toml").read_text())


def test_create_with_a_cd_and_boot_it(files, tmp_path):
    home = files["home"]
    ok(vmgui(home, "create", "inst", "--cdrom", files["boot"], "--new-hdd", "2"))
    d = vm_toml(home, "inst")
    assert (d["profile"], d["boot_order"], d["cdrom"]) == (
        "pc-pci", ["a", "d", "c"], {"path": str(files["boot"])})
    assert f"CD: {files['boot']}" in ok(vmgui(home, "list"))
    dump = tmp_path / "screen.txt"
    ok(vmgui(home, "run", "inst", "--timeout", "20", "--wait-text", "CD OK",
             "--dump-text", dump))
    assert "DL=E0 EDD=21 BPS=0800 PVD=CD001 VOL=VMGUI CD SPEC=13 00 E0" in dump.read_text()


def test_bad_cds_and_machines_without_a_cd_drive(files):
    home = files["home"]
    refused(vmgui(home, "create", "bad", "--cdrom", files["floppy"]),
            f"vmgui create: --cdrom: {files['floppy']} is not an ISO 9660 CD image")
    refused(vmgui(home, "create", "bad", "--cdrom", home / "nope.iso"),
            f"--cdrom {home / 'nope.iso'}: no such file")
    refused(vmgui(home, "create", "at", "--machine", "pc-at", "--cdrom", files["boot"]),
            "a CD is attached, but the pc-at machine has no CD drive (the pc-pci machine "
            "has one)")
    ok(vmgui(home, "create", "plain", "--boot", "c,a"))
    refused(vmgui(home, "modify", "plain", "--cdrom", files["boot"]),
            "the pc-at machine has no CD drive")
    ok(vmgui(home, "modify", "plain", "--cdrom", files["boot"], "--machine", "pc-pci"))
    d = vm_toml(home, "plain")
    assert d["boot_order"] == ["d", "c", "a"] and d["cdrom"]["path"] == str(files["boot"])
    ok(vmgui(home, "modify", "plain", "--no-cdrom"))
    assert "cdrom" not in vm_toml(home, "plain")
    refused(vmgui(home, "run", "plain", "--cdrom", files["boot"], "--wait-text", "x"),
            "--floppy/--hdd/--cdrom cannot be added to library VM 'plain'")


@pytest.mark.parametrize("request_,why", [
    ({"drive": "zip", "path": "/x.iso"}, '"drive": one of floppy-a, floppy-b, cdrom'),
    ({"drive": "cdrom", "path": "x.iso"}, "must be absolute"),
    ({"drive": "cdrom", "path": 7}, '"path": a string is required'),
    ({"drive": "floppy-a", "path": "/a.img", "readonly": "yes"}, '"readonly": true or false'),
])
def test_media_request_arguments_are_checked(request_, why):
    with pytest.raises(Reply, match=why) as exc:
        arguments("media", request_)
    assert exc.value.reason == "usage"


def test_media_request_eject_and_insert():
    assert arguments("media", {"drive": "cdrom", "path": None}) == {
        "drive": "cdrom", "path": None, "readonly": False}
    assert arguments("media", {"drive": "floppy-b", "path": "/b.img", "readonly": True})[
        "readonly"] is True


def test_a_floppy_inserted_into_a_try_out_vm_is_write_protected(tmp_path):
    import argparse

    from vmgui.cli.control import _request
    from vmgui.config.library import VmEntry
    from vmgui.config.schema import VmConfig

    image = tmp_path / "a.img"
    image.write_bytes(bytes(1474560))
    args = argparse.Namespace(verb="media", drive="floppy-a", arg=str(image), read_only=False)
    normal = VmEntry("vm", tmp_path, VmConfig("vm"), None)
    assert _request(args, normal)["readonly"] is False
    tryout = VmEntry("vm", tmp_path, VmConfig("vm", tryout=True), None)
    assert _request(args, tryout) == {"cmd": "media", "drive": "floppy-a",
                                      "path": str(image), "readonly": True}
