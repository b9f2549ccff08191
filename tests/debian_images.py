"""Bootable guest images built from Debian's packages, for the issue-10 integration tests.

Owns: the recipes for GRUB 2 (on a 1.44 MB floppy, on an MBR hard disk, on an El Torito
ISO made by grub-mkrescue), SYSLINUX (on a FAT floppy and a FAT hard disk), ISOLINUX (on
an ISO made by xorriso) and memtest86+ (its .bin as a floppy, its ISO as shipped); the
cache that keeps each built image between test runs; and the error that names the Debian
package a recipe misses.

Every image carries the same payload, so each boot loader can reach the same things:
MEMDISK with ../shared/guests/freedos722.img, memtest86+ (ia32 .bin, Linux boot
protocol), and for SYSLINUX/ISOLINUX meminfo.c32, pci.c32 and cat.c32.  What QEMU shows
for each image is written down in tests/images-reference.md.

The cache: ``$VMGUI_TEST_IMAGES`` if set, else ``$XDG_CACHE_HOME/vmgui-test-images`` (by
default ``~/.cache/vmgui-test-images``).  An image is named ``<name>-<key>.<ext>``, the
key a hash of this file, every input file and every tool binary, so a new package
version or a changed recipe builds a new image.  A build runs in a temporary folder in
the cache and its result is renamed into place: a parallel run or an interrupted build
never leaves half an image under the final name.  Nothing here is committed.

Layouts follow GRUB's own tools (util/setup.c: boot.img in sector 0 with the kernel
sector field at 5Ch, core.img from sector 1, diskboot.img's first blocklist starting at
sector 2) and SYSLINUX's (mbr.bin, ``syslinux --install`` through mtools, which needs no
root and no loop device).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

SECTOR = 512
FLOPPY_144 = 1_474_560
# A hard disk of 32 cylinders x 16 heads x 63 sectors (16.5 MB); the partition starts at
# 1 MiB, as today's partitioning tools place it, leaving GRUB the gap before it.
HDD_HEADS, HDD_SECTORS, HDD_CYLINDERS = 16, 63, 32
HDD_TOTAL = HDD_CYLINDERS * HDD_HEADS * HDD_SECTORS
PART_START = 2048

GRUB_DIR = Path("/usr/lib/grub/i386-pc")
SYSLINUX_MODULES = Path("/usr/lib/syslinux/modules/bios")
MEMDISK = Path("/usr/lib/syslinux/memdisk")
SYSLINUX_MBR = Path("/usr/lib/SYSLINUX/mbr.bin")
ISOLINUX_BIN = Path("/usr/lib/ISOLINUX/isolinux.bin")
MEMTEST_BIN = Path("/boot/memtest86+ia32.bin")
MEMTEST_ISO = Path("/usr/lib/memtest86+/memtest86+ia32.iso")

# Which Debian package ships each tool and file the recipes use.
PACKAGE_OF = {
    "grub-mkimage": "grub-common", "grub-mkrescue": "grub-common",
    str(GRUB_DIR): "grub-pc-bin",
    "mkfs.fat": "dosfstools", "mcopy": "mtools", "mmd": "mtools",
    "syslinux": "syslinux", str(SYSLINUX_MBR): "syslinux",
    str(SYSLINUX_MODULES): "syslinux-common", str(MEMDISK): "syslinux-common",
    str(ISOLINUX_BIN): "isolinux", "xorriso": "xorriso",
    str(MEMTEST_BIN): "memtest86+", str(MEMTEST_ISO): "memtest86+",
    "apt-get": "apt", "apt-cache": "apt", "dpkg-deb": "dpkg",
    "mkfs.ext2": "e2fsprogs", "debugfs": "e2fsprogs",  # tests/linux_disks.py
}

# GRUB modules built into core.img, so that no module is loaded from the medium.
GRUB_MODULES = ("biosdisk part_msdos fat iso9660 normal configfile echo test ls cat "
                "lsmmap date lspci linux16 halt reboot").split()

# The names the payload has on every medium (8.3, so FAT and ISO 9660 keep them as is).
FREEDOS_NAME, MEMTEST_NAME = "freedos.img", "memtest.bin"

GRUB_CFG = f"""\
# vmgui test image: GRUB 2 ({{medium}})
set timeout=5
set default=0
menuentry "FreeDOS 722K floppy through MEMDISK" {{{{
    linux16 /boot/memdisk
    initrd16 /boot/{FREEDOS_NAME}
}}}}
menuentry "memtest86+ (ia32)" {{{{
    linux16 /boot/{MEMTEST_NAME}
}}}}
menuentry "Memory map, clock and PCI devices" {{{{
    lsmmap
    date
    lspci
}}}}
"""

SYSLINUX_CFG = f"""\
PROMPT 1
TIMEOUT 0
SAY vmgui test image: {{loader}} -- labels: hello dos mem pci memtest
LABEL hello
  COM32 cat.c32
  APPEND hello.txt
LABEL dos
  KERNEL memdisk
  INITRD {FREEDOS_NAME}
LABEL mem
  COM32 meminfo.c32
LABEL pci
  COM32 pcitest.c32
LABEL memtest
  LINUX {MEMTEST_NAME}
"""

HELLO_TXT = "Hello from cat.c32: the label was typed at boot: and read.\n"
SYSLINUX_FILES = ("cat.c32", "meminfo.c32", "pcitest.c32", "libcom32.c32")


class MissingInput(Exception):
    """A recipe cannot run here: something it reads is not on this machine."""


class MissingPackage(MissingInput):
    """A recipe needs a tool or file that is not installed; names the Debian package."""

    def __init__(self, package: str, what: str) -> None:
        self.package = package
        super().__init__(f"needs the Debian package {package} ({what} is missing; "
                         f"apt-get install {package})")


class BuildError(Exception):
    """A build tool failed: its command line and what it printed."""


@dataclass(frozen=True)
class Recipe:
    """How to make one image: ``build(work, out, freedos)`` writes the image to ``out``
    (``work`` is a scratch folder); ``tools`` and ``files`` are what it uses."""

    name: str
    suffix: str
    tools: tuple[str, ...]
    files: tuple[Path, ...]
    build: Callable[[Path, Path, Path], None]
    needs_freedos: bool = True
    stamp: str = ""  # what identifies inputs no local file holds (a package version)


# ---------------------------------------------------------------------------- plumbing
PRUNE_AFTER_S = 7 * 24 * 3600  # an image version unused this long is removed

def cache_dir() -> Path:
    explicit = os.environ.get("VMGUI_TEST_IMAGES")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vmgui-test-images"


def tool(name: str) -> str:
    """The full path of the program ``name``, or MissingPackage naming its package."""
    found = shutil.which(name, path=os.pathsep.join(
        (os.environ.get("PATH", os.defpath), "/usr/sbin", "/sbin")))
    if found is None:
        raise MissingPackage(PACKAGE_OF.get(name, name), f"the program {name}")
    return found


def check_file(path: Path) -> Path:
    if not path.exists():
        owner = next((pkg for key, pkg in PACKAGE_OF.items()
                      if str(path) == key or str(path).startswith(key + "/")), "?")
        raise MissingPackage(owner, str(path))
    return path


def run(*argv: object, cwd: Path | None = None) -> None:
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1", LC_ALL="C")
    done = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)
    if done.returncode != 0:
        raise BuildError(f"{' '.join(map(str, argv))} failed ({done.returncode}):\n"
                         f"{done.stdout}{done.stderr}")


def _digest_into(h, path: Path) -> None:
    paths = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for p in paths:
        h.update(str(p).encode() + b"\0")
        h.update(hashlib.sha256(p.read_bytes()).digest())


def cache_key(recipe: Recipe, inputs: Iterable[Path]) -> str:
    h = hashlib.sha256(Path(__file__).read_bytes())
    for name in recipe.tools:
        _digest_into(h, Path(tool(name)))
    for path in inputs:
        _digest_into(h, path)
    h.update(recipe.stamp.encode())  # "" (most recipes) leaves the key as it was
    return h.hexdigest()[:16]


def build(recipe: Recipe, freedos: Path | None) -> Path:
    """The cached image of ``recipe``, built now if it is not in the cache yet.
    MissingPackage when a tool or file is not installed."""
    for name in recipe.tools:
        tool(name)
    inputs = [check_file(p) for p in recipe.files]
    if recipe.needs_freedos:
        if freedos is None or not freedos.is_file():
            raise MissingInput(f"needs the shared guest image freedos722.img (not found at "
                               f"{freedos})")
        inputs.append(freedos)
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:  # no writable home (a sandboxed CI user): a per-user temporary cache
        folder = Path(tempfile.gettempdir()) / f"vmgui-test-images-{os.getuid()}"
        folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{recipe.name}-{cache_key(recipe, inputs)}{recipe.suffix}"
    if final.is_file():
        os.utime(final)  # used now: not pruned by another checkout's build
        return final
    with tempfile.TemporaryDirectory(dir=folder, prefix=f".build-{recipe.name}-") as tmp:
        work = Path(tmp)
        out = work / f"out{recipe.suffix}"
        recipe.build(work, out, freedos)
        os.replace(out, final)
    _prune(folder, recipe, final)
    return final


def _prune(folder: Path, recipe: Recipe, keep: Path) -> None:
    """Remove other versions of ``recipe``'s image that nobody used for PRUNE_AFTER_S:
    another checkout (a worktree, a CI run beside a working copy) may be testing with
    one right now, and deleting it under that run failed its tests."""
    now = time.time()
    for old in folder.glob(f"{recipe.name}-*{recipe.suffix}"):
        try:
            if old != keep and now - old.stat().st_mtime > PRUNE_AFTER_S:
                old.unlink(missing_ok=True)
        except OSError:
            pass


def mcopy(image: str, *pairs: tuple[Path, str]) -> None:
    for source, target in pairs:
        run(tool("mcopy"), "-o", "-i", image, source, f"::{target}")


def mkfat(path: Path, kib: int, *options: object) -> None:
    run(tool("mkfs.fat"), "-C", *options, path, kib)


def splice(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(data)


def payload(work: Path, freedos: Path, text: dict[str, str]) -> dict[str, Path]:
    """The files every medium carries, plus ``text`` files written into ``work``."""
    files = {"memdisk": MEMDISK, FREEDOS_NAME: freedos, MEMTEST_NAME: MEMTEST_BIN}
    for name, content in text.items():
        files[name] = work / name
        files[name].write_text(content, encoding="ascii")
    return files


# ---------------------------------------------------------------------------- GRUB
def grub_core(work: Path, prefix: str) -> bytes:
    """core.img (diskboot.img + the compressed kernel with GRUB_MODULES built in)."""
    out = work / "core.img"
    run(tool("grub-mkimage"), "-O", "i386-pc", "-d", GRUB_DIR, "-p", prefix, "-o", out,
        *GRUB_MODULES)
    return out.read_bytes()


def grub_boot_sector(old: bytes, *, floppy: bool) -> bytes:
    """GRUB's boot.img over the sector ``old``: its BPB (floppy) or partition table and
    disk signature (MBR) kept, the kernel sector field at 5Ch set to 1 (core.img follows
    sector 0), and on a hard disk the boot-drive check that trusts a floppy DL turned
    into NOPs, as grub-bios-setup does."""
    boot = bytearray((GRUB_DIR / "boot.img").read_bytes())
    if floppy:
        boot[0x03:0x5A] = old[0x03:0x5A]
    else:
        boot[0x66:0x68] = b"\x90\x90"
        boot[0x1B8:0x1FE] = old[0x1B8:0x1FE]
    boot[0x5C:0x64] = struct.pack("<Q", 1)
    boot[0x1FE:0x200] = b"\x55\xAA"
    return bytes(boot)


def grub_files(image: str, work: Path, freedos: Path, medium: str) -> None:
    run(tool("mmd"), "-i", image, "::/boot", "::/boot/grub")
    files = payload(work, freedos, {"grub.cfg": GRUB_CFG.format(medium=medium)})
    mcopy(image, *((path, ("/boot/grub/" if name == "grub.cfg" else "/boot/") + name)
                   for name, path in files.items()))


def build_grub_floppy(work: Path, out: Path, freedos: Path) -> None:
    """A 1.44 MB FAT12 floppy whose reserved sectors hold core.img after GRUB's boot.img."""
    core = grub_core(work, "(fd0)/boot/grub")
    reserved = 1 + -(-len(core) // SECTOR)
    mkfat(out, FLOPPY_144 // 1024, "-F", "12", "-R", reserved, "-n", "GRUBFLOPPY")
    grub_files(str(out), work, freedos, "1.44 MB floppy")
    splice(out, 0, grub_boot_sector(out.read_bytes()[:SECTOR], floppy=True) + core)


def mbr(boot_code: bytes, part_type: int, first: int, count: int) -> bytes:
    """A master boot record: ``boot_code`` (at most 440 bytes), disk signature, one active
    partition of ``part_type`` from sector ``first`` for ``count`` sectors (CHS fields in
    the disk's 16-head, 63-sector geometry), and the 55AAh signature."""
    def chs(lba: int) -> bytes:
        cyl, rest = divmod(lba, HDD_HEADS * HDD_SECTORS)
        head, sector = divmod(rest, HDD_SECTORS)
        return bytes((head, ((cyl >> 2) & 0xC0) | (sector + 1), cyl & 0xFF))

    entry = (b"\x80" + chs(first) + bytes((part_type,)) + chs(first + count - 1)
             + struct.pack("<II", first, count))
    sector = bytearray(SECTOR)
    sector[:len(boot_code)] = boot_code[:440]
    sector[0x1B8:0x1BC] = b"VMGT"
    sector[0x1BE:0x1CE] = entry
    sector[0x1FE:0x200] = b"\x55\xAA"
    return bytes(sector)


def hard_disk(out: Path, boot: bytes, partition: Path, gap: bytes = b"") -> None:
    """``out``: ``boot`` in sector 0, ``gap`` from sector 1, ``partition`` at PART_START."""
    with open(out, "wb") as fh:
        fh.truncate(HDD_TOTAL * SECTOR)
        fh.write(boot + gap)
        fh.seek(PART_START * SECTOR)
        with open(partition, "rb") as part:
            shutil.copyfileobj(part, fh)


def fat16_partition(path: Path, label: str) -> None:
    kib = (HDD_TOTAL - PART_START) * SECTOR // 1024
    mkfat(path, kib, "-F", "16", "-h", PART_START, "-n", label)


def build_grub_hdd(work: Path, out: Path, freedos: Path) -> None:
    """An MBR disk: GRUB's boot.img, core.img in the gap before the first partition, and
    a FAT16 partition with /boot/grub."""
    core = grub_core(work, "(hd0,msdos1)/boot/grub")
    if len(core) > (PART_START - 1) * SECTOR:
        raise BuildError(f"core.img of {len(core)} bytes does not fit before sector {PART_START}")
    part = work / "part.img"
    fat16_partition(part, "GRUBDISK")
    grub_files(str(part), work, freedos, "MBR hard disk")
    table = mbr(b"", 0x06, PART_START, HDD_TOTAL - PART_START)
    hard_disk(out, grub_boot_sector(table, floppy=False), part, core)


def build_grub_iso(work: Path, out: Path, freedos: Path) -> None:
    """An El Torito ISO made by grub-mkrescue (BIOS only: built from GRUB_DIR)."""
    root = work / "iso"
    (root / "boot" / "grub").mkdir(parents=True)
    for name, path in payload(work, freedos, {}).items():
        shutil.copyfile(path, root / "boot" / name)
    (root / "boot" / "grub" / "grub.cfg").write_text(GRUB_CFG.format(medium="El Torito ISO"),
                                                     encoding="ascii")
    run(tool("grub-mkrescue"), "-d", GRUB_DIR, "--compress=xz", "-o", out, root,
        "--", "-volid", "VMGUI_GRUB")


# ---------------------------------------------------------------------------- SYSLINUX
def syslinux_payload(work: Path, freedos: Path, loader: str) -> dict[str, Path]:
    files = payload(work, freedos, {"hello.txt": HELLO_TXT,
                                    "syslinux.cfg": SYSLINUX_CFG.format(loader=loader)})
    files.update({name: SYSLINUX_MODULES / name for name in SYSLINUX_FILES})
    return files


def syslinux_fat(image: Path, work: Path, freedos: Path, loader: str) -> None:
    """Install SYSLINUX into the FAT file system ``image`` (mtools: no root needed)."""
    run(tool("syslinux"), "--install", image)
    mcopy(str(image), *((path, "/" + name)
                        for name, path in syslinux_payload(work, freedos, loader).items()))


def build_syslinux_floppy(work: Path, out: Path, freedos: Path) -> None:
    mkfat(out, FLOPPY_144 // 1024, "-F", "12", "-n", "SYSLINUX")
    syslinux_fat(out, work, freedos, "SYSLINUX on a floppy")


def build_syslinux_hdd(work: Path, out: Path, freedos: Path) -> None:
    part = work / "part.img"
    fat16_partition(part, "SYSLINUX")
    syslinux_fat(part, work, freedos, "SYSLINUX on a hard disk")
    code = SYSLINUX_MBR.read_bytes()
    hard_disk(out, mbr(code, 0x06, PART_START, HDD_TOTAL - PART_START), part)


def build_isolinux_iso(work: Path, out: Path, freedos: Path) -> None:
    root = work / "iso"
    folder = root / "isolinux"
    folder.mkdir(parents=True)
    files = syslinux_payload(work, freedos, "ISOLINUX on an ISO")
    files["isolinux.cfg"] = files.pop("syslinux.cfg")
    files.update({"isolinux.bin": ISOLINUX_BIN, "ldlinux.c32": SYSLINUX_MODULES / "ldlinux.c32"})
    for name, path in files.items():
        shutil.copyfile(path, folder / name)
    run(tool("xorriso"), "-as", "mkisofs", "-quiet", "-o", out, "-R", "-J", "-V", "VMGUI_ISOLINUX",
        "-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat", "-no-emul-boot",
        "-boot-load-size", "4", "-boot-info-table", root)


# ---------------------------------------------------------------------------- memtest86+
def build_memtest_floppy(work: Path, out: Path, freedos: Path | None) -> None:
    """memtest86+'s .bin (it starts with a floppy boot sector) padded to 1.44 MB: the
    same bytes as the floppy image the package's ISO boots by El Torito emulation."""
    data = MEMTEST_BIN.read_bytes()
    if len(data) > FLOPPY_144:
        raise BuildError(f"{MEMTEST_BIN} is {len(data)} bytes, more than a 1.44 MB floppy")
    out.write_bytes(data + bytes(FLOPPY_144 - len(data)))


GRUB_TOOLS = ("grub-mkimage", "mkfs.fat", "mcopy", "mmd")
SYSLINUX_INPUTS = (SYSLINUX_MODULES, MEMDISK, MEMTEST_BIN)

RECIPES = {r.name: r for r in (
    Recipe("grub-floppy", ".img", GRUB_TOOLS, (GRUB_DIR, MEMDISK, MEMTEST_BIN),
           build_grub_floppy),
    Recipe("grub-hdd", ".img", GRUB_TOOLS, (GRUB_DIR, MEMDISK, MEMTEST_BIN), build_grub_hdd),
    Recipe("grub-iso", ".iso", ("grub-mkrescue", "xorriso"), (GRUB_DIR, MEMDISK, MEMTEST_BIN),
           build_grub_iso),
    Recipe("syslinux-floppy", ".img", ("syslinux", "mkfs.fat", "mcopy"), SYSLINUX_INPUTS,
           build_syslinux_floppy),
    Recipe("syslinux-hdd", ".img", ("syslinux", "mkfs.fat", "mcopy"),
           (*SYSLINUX_INPUTS, SYSLINUX_MBR), build_syslinux_hdd),
    Recipe("isolinux-iso", ".iso", ("xorriso",), (*SYSLINUX_INPUTS, ISOLINUX_BIN),
           build_isolinux_iso),
    Recipe("memtest-floppy", ".img", (), (MEMTEST_BIN,), build_memtest_floppy,
           needs_freedos=False),
)}


def image(name: str, freedos: Path | None = None) -> Path:
    """The image ``name`` (a key of RECIPES, or "memtest-iso": the package's own ISO)."""
    if name == "memtest-iso":
        return check_file(MEMTEST_ISO)
    return build(RECIPES[name], freedos)
