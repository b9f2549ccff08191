"""Debian's i386 kernel and the busybox initramfs (tests/linux_images.py) behind a real
boot loader, for issue 11's "What it must show", 2: GRUB 2 on an ATA hard disk and
ISOLINUX on an El Torito ISO booted as a CD.

Owns: two recipes and the boot-loader configurations they write.

- ``linux-grub-hdd``: an MBR hard disk (the geometry and layout of
  :func:`tests.debian_images.hard_disk`: GRUB's boot.img in sector 0, core.img in the gap
  before the partition at 1 MiB) whose one partition is ext2, made by ``mkfs.ext2 -d``
  from a folder holding ``/boot/vmlinuz``, ``/boot/initrd.gz`` and ``/boot/grub/grub.cfg``.
  core.img has :data:`GRUB_MODULES` built in (``ext2`` and ``linux`` among them), so GRUB
  loads no module from the disk.  grub.cfg boots its one entry at once (``timeout=0``).
- ``linux-isolinux-iso``: an ISO made by xorriso, ISOLINUX as its no-emulation boot image
  (boot-info table, 4 sectors), the kernel and initramfs as ``/boot/vmlinuz`` and
  ``/boot/initrd.gz``; isolinux.cfg boots its default label at once (``PROMPT 0``).

Both pass :data:`APPEND` (tests/linux_images.py's serial command line) and print
:data:`LOADER_MARKER` before loading, so a test sees which loader ran: the kernel's own
"Kernel command line:" also carries the ``BOOT_IMAGE=`` both loaders put first.
Images are cached as tests/debian_images.py caches its own (same folder, atomic builds,
keyed by this file, the kernel, the initramfs and the tools); nothing is committed.
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

from tests import debian_images as di
from tests import linux_images as li

APPEND = li.SERIAL_APPEND
KERNEL_PATH, INITRD_PATH = "/boot/vmlinuz", "/boot/initrd.gz"
LOADER_MARKER = "vmgui: {loader} loads the Debian kernel"

# core.img's modules: the disk, its partition table and file system, the Linux loader
# (32-bit boot protocol) and what grub.cfg uses.
GRUB_MODULES = "biosdisk part_msdos ext2 normal configfile echo linux".split()

GRUB_CFG = f"""\
# vmgui test image: GRUB 2 boots Linux from an ext2 partition on an MBR hard disk
set timeout=0
set default=0
menuentry "Debian i386 kernel + busybox initramfs" {{
    echo "{LOADER_MARKER.format(loader="GRUB")}"
    linux {KERNEL_PATH} {APPEND}
    initrd {INITRD_PATH}
}}
"""

ISOLINUX_CFG = f"""\
SAY {LOADER_MARKER.format(loader="ISOLINUX")}
PROMPT 0
TIMEOUT 0
DEFAULT linux
LABEL linux
  KERNEL {KERNEL_PATH}
  INITRD {INITRD_PATH}
  APPEND {APPEND}
"""

EXT2_TOOL, EXT2_PACKAGE = "mkfs.ext2", "e2fsprogs"


def mkfs_ext2() -> str:
    """mkfs.ext2's path, or MissingPackage naming e2fsprogs."""
    try:
        return di.tool(EXT2_TOOL)
    except di.MissingPackage:
        raise di.MissingPackage(EXT2_PACKAGE, f"the program {EXT2_TOOL}") from None


def boot_tree(root: Path, kernel: Path, initrd: Path) -> None:
    """``root``/boot with the kernel and the initramfs under their loader paths."""
    (root / "boot").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(kernel, root / KERNEL_PATH.lstrip("/"))
    shutil.copyfile(initrd, root / INITRD_PATH.lstrip("/"))


def ext2_partition(path: Path, root: Path, label: str) -> None:
    """An ext2 file system filling the test disk's partition, holding the tree ``root``;
    fixed UUID and hash seed, so the same inputs give the same file system."""
    kib = (di.HDD_TOTAL - di.PART_START) * di.SECTOR // 1024
    di.run(mkfs_ext2(), "-q", "-F", "-b", "1024", "-L", label, "-d", root,
           "-U", "7a8e3e4c-0b1d-4e55-9a2f-766d67756931",
           "-E", "root_owner=0:0,hash_seed=7a8e3e4c-0b1d-4e55-9a2f-766d67756931",
           path, kib)


def build_grub_hdd(kernel: Path, initrd: Path, work: Path, out: Path,
                   _freedos: object = None) -> None:
    root = work / "root"
    boot_tree(root, kernel, initrd)
    (root / "boot" / "grub").mkdir()
    (root / "boot" / "grub" / "grub.cfg").write_text(GRUB_CFG, encoding="ascii")
    core_img = work / "core.img"
    di.run(di.tool("grub-mkimage"), "-O", "i386-pc", "-d", di.GRUB_DIR,
           "-p", "(hd0,msdos1)/boot/grub", "-o", core_img, *GRUB_MODULES)
    core = core_img.read_bytes()
    if len(core) > (di.PART_START - 1) * di.SECTOR:
        raise di.BuildError(f"core.img of {len(core)} bytes does not fit before sector "
                            f"{di.PART_START}")
    part = work / "part.img"
    ext2_partition(part, root, "LINUXGRUB")
    table = di.mbr(b"", 0x83, di.PART_START, di.HDD_TOTAL - di.PART_START)
    di.hard_disk(out, di.grub_boot_sector(table, floppy=False), part, core)


def build_isolinux_iso(kernel: Path, initrd: Path, work: Path, out: Path,
                       _freedos: object = None) -> None:
    root = work / "iso"
    boot_tree(root, kernel, initrd)
    folder = root / "isolinux"
    folder.mkdir()
    shutil.copyfile(di.ISOLINUX_BIN, folder / "isolinux.bin")
    shutil.copyfile(di.SYSLINUX_MODULES / "ldlinux.c32", folder / "ldlinux.c32")
    (folder / "isolinux.cfg").write_text(ISOLINUX_CFG, encoding="ascii")
    di.run(di.tool("xorriso"), "-as", "mkisofs", "-quiet", "-o", out, "-R", "-J",
           "-V", "VMGUI_LINUX", "-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat",
           "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table", root)


def grub_hdd() -> Path:
    """The cached GRUB + Linux hard disk image.  MissingInput (tests skip) when the
    Debian packages or a tool cannot be had."""
    kernel, initrd = li.images()
    mkfs_ext2()
    recipe = di.Recipe("linux-grub-hdd", ".img", ("grub-mkimage", EXT2_TOOL),
                       (di.GRUB_DIR, kernel, initrd, Path(__file__)),
                       functools.partial(build_grub_hdd, kernel, initrd),
                       needs_freedos=False)
    return di.build(recipe, None)


def isolinux_iso() -> Path:
    """The cached ISOLINUX + Linux ISO image (MissingInput as for :func:`grub_hdd`)."""
    kernel, initrd = li.images()
    recipe = di.Recipe("linux-isolinux-iso", ".iso", ("xorriso",),
                       (di.ISOLINUX_BIN, di.SYSLINUX_MODULES / "ldlinux.c32", kernel,
                        initrd, Path(__file__)),
                       functools.partial(build_isolinux_iso, kernel, initrd),
                       needs_freedos=False)
    return di.build(recipe, None)
