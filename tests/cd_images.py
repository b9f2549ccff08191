"""El Torito ISO images built with xorriso for the CD integration tests, cached.

Owns: the recipes -- ``noemu`` (tests/guests/cdboot.img as a no-emulation boot image),
``fdemu`` (FreeDOS on a 1.44M floppy image, booted in floppy emulation), ``data`` (an ISO
without a boot record) -- and the cache that keeps them between runs.

``fdemu``'s floppy: ../shared/guests/freedos722.img is a 720K disk, and El Torito emulates
only 1.2M, 1.44M and 2.88M floppies (padding it would not do: its boot sector and FAT
describe 9 sectors a track, the emulated drive has 18), so its files are copied with
mtools onto a new 1.44M FAT12 image whose boot sector gets FreeDOS's boot code (bytes 0-2
and 3Eh-1FFh of the 720K disk's; the BIOS parameter block in between is the new disk's;
FreeDOS's boot code reads its geometry from there).  KERNEL.SYS goes first, marked system
and hidden as on the original.

The cache: ``$VMGUI_TEST_IMAGES`` if set, else ``$XDG_CACHE_HOME/vmgui-test-images``
(``~/.cache/vmgui-test-images``), as tests/debian_images.py uses; an image is named
``cd-<recipe>-<key>.iso``, the key a hash of this file, the inputs and xorriso's version,
built in a temporary folder there and renamed into place.  Nothing here is committed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CDBOOT = ROOT / "tests" / "guests" / "cdboot.img"
# the shared guest images (tests/conftest.py's SHARED_GUESTS; $VMGUI_SHARED_GUESTS names
# them for a checkout that is not next to them)
SHARED = Path(os.environ.get("VMGUI_SHARED_GUESTS") or ROOT.parent / "shared" / "guests")
FREEDOS = SHARED / "freedos722.img"
TOOLS = {"xorriso": "xorriso", "mformat": "mtools", "mcopy": "mtools", "mattrib": "mtools"}


class MissingTool(Exception):
    """A recipe needs a program that is not installed; the message names its package."""


def cache_dir() -> Path:
    base = os.environ.get("VMGUI_TEST_IMAGES")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "vmgui-test-images"


def _need(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            raise MissingTool(f"{tool} is not installed (Debian package {TOOLS[tool]})")


def _run(*cmd: object, cwd: Path) -> None:
    subprocess.run([str(c) for c in cmd], cwd=cwd, check=True, capture_output=True)


def _iso(tmp: Path, root: Path, out: Path, volume: str, *boot: str) -> None:
    _run("xorriso", "-as", "mkisofs", "-quiet", "-V", volume, *boot, "-o", out, root, cwd=tmp)


def _noemu(tmp: Path, out: Path) -> None:
    root = tmp / "root"
    root.mkdir()
    shutil.copyfile(CDBOOT, root / "cdboot.img")
    _iso(tmp, root, out, "VMGUI CD TEST", "-b", "cdboot.img", "-no-emul-boot",
         "-boot-load-size", "1")


def freedos_144(tmp: Path, out: Path) -> None:
    """FreeDOS on a 1.44M floppy image (see the module header)."""
    files = tmp / "files"
    files.mkdir()
    _run("mcopy", "-i", FREEDOS, "-s", "-n", "-m", "::*", files, cwd=tmp)
    _run("mformat", "-i", out, "-C", "-f", "1440", "-v", "FREEDOS", "::", cwd=tmp)
    src = FREEDOS.read_bytes()[:512]
    with open(out, "r+b") as f:
        new = f.read(512)
        f.seek(0)
        f.write(src[:3] + new[3:0x3E] + src[0x3E:])
    _run("mcopy", "-i", out, "-m", files / "KERNEL.SYS", "::", cwd=tmp)
    _run("mattrib", "-i", out, "+s", "+h", "::KERNEL.SYS", cwd=tmp)
    for item in sorted(files.iterdir()):
        if item.name != "KERNEL.SYS":
            _run("mcopy", "-i", out, "-s", "-m", item, "::", cwd=tmp)


def _fdemu(tmp: Path, out: Path) -> None:
    root = tmp / "root"
    root.mkdir()
    freedos_144(tmp, root / "fd144.img")
    _iso(tmp, root, out, "FDEMU", "-b", "fd144.img", "-c", "boot.cat")


def _data(tmp: Path, out: Path) -> None:
    root = tmp / "root"
    root.mkdir()
    (root / "readme.txt").write_text("a CD with files and no boot record\n")
    _iso(tmp, root, out, "DATA CD")


RECIPES = {"noemu": (_noemu, (CDBOOT,), ("xorriso",)),
           "fdemu": (_fdemu, (FREEDOS,), ("xorriso", "mformat", "mcopy", "mattrib")),
           "data": (_data, (), ("xorriso",))}


def _key(inputs: tuple[Path, ...]) -> str:
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for path in inputs:
        digest.update(path.read_bytes())
    version = subprocess.run(["xorriso", "-version"], capture_output=True, text=True).stdout
    digest.update(version.encode())
    return digest.hexdigest()[:16]


def image(name: str) -> Path:
    """The cached ISO of recipe ``name``, built if it is not there yet.
    :class:`MissingTool` when a program it needs is not installed."""
    build, inputs, tools = RECIPES[name]
    _need(*tools)
    missing = [p for p in inputs if not p.is_file()]
    if missing:
        raise MissingTool(f"{missing[0]} is not there")
    folder = cache_dir()
    target = folder / f"cd-{name}-{_key(inputs)}.iso"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".cd-{name}-", dir=folder) as tmp:
        out = Path(tmp) / "out.iso"
        build(Path(tmp), out)
        os.replace(out, target)
    return target
