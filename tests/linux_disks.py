"""Disks for issue 11's Linux storage tests: an initramfs that loads the ATA, SCSI and
filesystem modules, an MBR hard disk with an ext2 partition and a small ISO 9660 CD.

Owns: the module set (:data:`WANTED_MODULES`) taken out of the same
``linux-image-6.1.0-N-686`` package as the kernel of :mod:`tests.linux_images`, with every
module they depend on (the ``depends=`` field of each ``.ko``'s ``.modinfo`` section,
which is what ``modinfo -F depends`` prints) and the order in which they load (a module
after what it depends on); the initramfs :func:`disk_initramfs`: the busybox one of
:mod:`tests.linux_images` plus ``/lib/modules/*.ko``, an ``/init`` that loads them with
busybox ``insmod`` (the ATA driver it picks: ``ata_piix`` when a PIIX3 IDE function
8086:7010 is on the PCI bus, else ``pata_legacy``, which probes the legacy ports itself)
and, when the kernel command line says ``vmgui_disktest=1`` (the kernel hands an unknown
``name=value`` to init in its environment), runs :data:`DISKTEST` instead of starting the
shells: mount /dev/sda1, print a file and a checksum, write a file, sync and unmount,
mount again (caches dropped) and read it back, mount /dev/sr0 if it exists and read its
files, print what the kernel logged about the drives, power off (``poweroff -f``). Each
step prints a line starting with :data:`MARK` on the serial console.

The ext2 image (:func:`ext2_disk`) is a 16.5 MB MBR disk (the geometry of
:mod:`tests.debian_images`) whose one partition, type 83h from sector 2048, holds an ext2
file system made by ``mkfs.ext2 -d`` (e2fsprogs) with :data:`DISK_FILES`; the CD
(:func:`data_iso`) is made by ``xorriso -as mkisofs`` (Rock Ridge) with :data:`CD_FILES`.
Everything is cached by :func:`tests.debian_images.build` (never committed).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import struct
import subprocess
import tarfile
from collections.abc import Callable, Iterable
from pathlib import Path

from tests import linux_images
from tests.debian_images import (
    HDD_TOTAL,
    PART_START,
    SECTOR,
    BuildError,
    Recipe,
    build,
    hard_disk,
    mbr,
    run,
    tool,
)
from tests.linux_images import S_IFDIR, S_IFREG

ATA_DRIVERS = ("ata_piix", "pata_legacy")  # init loads one of them (see INIT)
# What the tests need beyond the ATA driver: disks and CDs on SCSI, ext2 (by the ext4
# driver), ISO 9660.  First the crypto modules that others name as soft dependencies
# ("softdep=pre: crc32c" of ext4 and jbd2, crct10dif of crc_t10dif, crc64 of
# crc64_rocksoft): they register the algorithms those look up when they load.
SOFT_DEPENDENCIES = ("crc32c_generic", "crct10dif_generic", "crc64_rocksoft_generic")
WANTED_MODULES = (*SOFT_DEPENDENCIES, *ATA_DRIVERS, "sd_mod", "sr_mod", "ext4", "isofs")
MODULE_DIR = "lib/modules"

MARK = "vmgui-disktest:"
MODULES_LOADED = "vmgui-initramfs: modules loaded, ATA driver"
HELLO_NAME, HELLO_TEXT = "hello.txt", "Hello from an ext2 partition made by mkfs.ext2.\n"
PATTERN_NAME = "pattern.bin"  # 300 KiB: many multi-sector PIO transfers
PATTERN = bytes((i * 7 + (i >> 9)) & 0xFF for i in range(300 * 1024))
WRITTEN_NAME = "written.txt"
WRITTEN_TEXT = "written by Linux on /dev/sda1"
CD_NAME, CD_TEXT = "readme.txt", "Hello from an ISO 9660 CD made by xorriso.\n"
CD_PATTERN_NAME = "cdpat.bin"
CD_PATTERN = bytes((i * 13 + 5) & 0xFF for i in range(200 * 1024))
DISK_FILES = {HELLO_NAME: HELLO_TEXT.encode(), PATTERN_NAME: PATTERN}
CD_FILES = {CD_NAME: CD_TEXT.encode(), CD_PATTERN_NAME: CD_PATTERN}
DISKTEST_APPEND = "vmgui_disktest=1"

INIT = f"""\
#!/bin/sh
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "{linux_images.INIT_MARKER}"
load() {{ insmod /{MODULE_DIR}/$1.ko || echo "vmgui-initramfs: insmod $1 failed"; }}
for m in $(cat /{MODULE_DIR}/order); do load $m; done
if grep -qs 0x7010 /sys/bus/pci/devices/*/device; then ata=ata_piix; else ata=pata_legacy; fi
load $ata
echo "{MODULES_LOADED} $ata"
if [ "$vmgui_disktest" = 1 ]; then exec /bin/sh /disktest.sh; fi
exec /sbin/init
"""

DISKTEST = f"""\
say() {{ echo "{MARK} $*"; echo "{MARK} $*" > /dev/tty1; }}
wait_dev() {{
    n=0
    while [ ! -b $1 ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
    [ -b $1 ] && say "$1 after $n tenths" || say "no $1"
}}
wait_dev /dev/sda1
mkdir -p /mnt/disk /mnt/cd
mount -t ext2 /dev/sda1 /mnt/disk && say "mounted /dev/sda1"
say "hello: $(cat /mnt/disk/{HELLO_NAME})"
say "pattern: $(sha256sum /mnt/disk/{PATTERN_NAME})"
echo "{WRITTEN_TEXT}" > /mnt/disk/{WRITTEN_NAME} && sync
say "wrote: $(cat /mnt/disk/{WRITTEN_NAME})"
umount /mnt/disk && say "unmounted /dev/sda1"
echo 3 > /proc/sys/vm/drop_caches
mount -t ext2 -o ro /dev/sda1 /mnt/disk && say "reread: $(cat /mnt/disk/{WRITTEN_NAME})"
umount /mnt/disk
if grep -qs ' sr0$' /proc/partitions || [ -d /sys/block/sr0 ]; then
    wait_dev /dev/sr0
    mount -t iso9660 -o ro /dev/sr0 /mnt/cd && say "mounted /dev/sr0"
    say "cd: $(cat /mnt/cd/{CD_NAME})"
    say "cdpattern: $(sha256sum /mnt/cd/{CD_PATTERN_NAME})"
    umount /mnt/cd
fi
sync
say "dmesg follows"
dmesg | grep -iE ' ata[0-9]|scsi|sd[a-z]|sr[0-9]|piix|pata|cdrom|EXT[24]|ISO' \\
    | sed 's/^/{MARK} dmesg /'
say "done"
poweroff -f
"""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------- modules
def elf_section(data: bytes, wanted: str) -> bytes:
    """The contents of section ``wanted`` of a 32-bit little-endian ELF file."""
    if data[:4] != b"\x7fELF" or data[4] != 1 or data[5] != 1:
        raise BuildError("not a 32-bit little-endian ELF file")
    shoff, = struct.unpack_from("<I", data, 0x20)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x2E)

    def header(index: int) -> tuple[int, ...]:
        return struct.unpack_from("<IIIIII", data, shoff + index * shentsize)

    strtab = header(shstrndx)
    names = data[strtab[4]:strtab[4] + strtab[5]]
    for index in range(shnum):
        name_off, _type, _flags, _addr, offset, size = header(index)
        if names[name_off:names.index(b"\0", name_off)].decode() == wanted:
            return data[offset:offset + size]
    raise BuildError(f"no {wanted} section")


def modinfo(data: bytes) -> dict[str, str]:
    """The ``key=value`` strings of a module's ``.modinfo`` section (first of each key)."""
    fields: dict[str, str] = {}
    for item in elf_section(data, ".modinfo").split(b"\0"):
        key, sep, value = item.decode(errors="replace").partition("=")
        if sep:
            fields.setdefault(key, value)
    return fields


def module_name(path: str) -> str:
    return Path(path).name.removesuffix(".ko").replace("-", "_")


def each_module(kernel_deb: Path, visit: Callable[[str, bytes], None]) -> None:
    """``visit(name, bytes)`` for every ``.ko`` of ``kernel_deb``, streamed (nothing is
    unpacked: the package's modules are 300 MB)."""
    with subprocess.Popen([tool("dpkg-deb"), "--fsys-tarfile", str(kernel_deb)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                if member.isfile() and member.name.endswith(".ko") and "/kernel/" in member.name:
                    data = tar.extractfile(member)
                    assert data is not None
                    visit(module_name(member.name), data.read())


def load_order(depends: dict[str, list[str]], wanted: Iterable[str]) -> list[str]:
    """``wanted`` and everything they depend on, each after its dependencies."""
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in order:
            return
        if name in path:
            raise BuildError(f"modules depend on each other in a circle: {path + (name,)}")
        if name not in depends:
            raise BuildError(f"the kernel package has no module {name} "
                             f"(needed by {path[-1] if path else 'the tests'})")
        for dep in depends[name]:
            visit(dep, path + (name,))
        order.append(name)

    for name in wanted:
        visit(name, ())
    return order


def modules(kernel_deb: Path) -> tuple[list[str], dict[str, bytes]]:
    """The load order of :data:`WANTED_MODULES` with their dependencies, and their bytes.
    Two passes over the package: every module's ``depends=``, then the needed files."""
    depends: dict[str, list[str]] = {}

    def record(name: str, data: bytes) -> None:
        field = modinfo(data).get("depends", "")
        depends[name] = [dep.replace("-", "_") for dep in field.split(",") if dep]

    each_module(kernel_deb, record)
    order = load_order(depends, WANTED_MODULES)
    found: dict[str, bytes] = {}

    def keep(name: str, data: bytes) -> None:
        if name in order:
            found[name] = data

    each_module(kernel_deb, keep)
    return order, found


# ---------------------------------------------------------------------------- initramfs
def build_disk_initramfs(busybox_deb: Path, kernel_deb: Path, work: Path, out: Path,
                         _freedos: object = None) -> None:
    busybox = linux_images.deb_member(busybox_deb, lambda name: name == "./bin/busybox",
                                      "/bin/busybox")
    order, found = modules(kernel_deb)
    members = [m for m in linux_images.initramfs_members(busybox) if m[0] != "init"]
    members += [("init", S_IFREG | 0o755, INIT.encode(), (0, 0)),
                ("disktest.sh", S_IFREG | 0o755, DISKTEST.encode(), (0, 0)),
                ("lib", S_IFDIR | 0o755, b"", (0, 0)),
                (MODULE_DIR, S_IFDIR | 0o755, b"", (0, 0)),
                (f"{MODULE_DIR}/order", S_IFREG | 0o644,
                 "".join(f"{name}\n" for name in order if name not in ATA_DRIVERS).encode(),
                 (0, 0))]
    members += [(f"{MODULE_DIR}/{name}.ko", S_IFREG | 0o644, found[name], (0, 0))
                for name in order]
    archive = linux_images.newc_archive(members)
    out.write_bytes(gzip.compress(archive, compresslevel=9, mtime=0))


def disk_initramfs() -> Path:
    """The cached busybox initramfs with the disk modules and the disk test script."""
    busybox_deb = linux_images.deb(linux_images.busybox_package(), linux_images.BUSYBOX_PACKAGE)
    kernel_deb = linux_images.deb(linux_images.kernel_package(), linux_images.KERNEL_PACKAGE)
    return build(Recipe("busybox-disk-initramfs", ".cpio.gz", ("dpkg-deb",),
                        (busybox_deb, kernel_deb, Path(__file__), Path(linux_images.__file__)),
                        functools.partial(build_disk_initramfs, busybox_deb, kernel_deb),
                        needs_freedos=False),
                 None)


# ---------------------------------------------------------------------------- media
def write_files(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def build_ext2_disk(work: Path, out: Path, _freedos: object = None) -> None:
    """An MBR disk, one Linux partition (83h) at PART_START holding ext2 with DISK_FILES."""
    sectors = HDD_TOTAL - PART_START
    partition = work / "part.ext2"
    run(tool("mkfs.ext2"), "-q", "-F", "-b", "1024", "-L", "VMGUIDISK",
        "-U", "6d76677a-6578-7432-0000-000000000001", "-E", "root_owner=0:0",
        "-d", write_files(work / "files", DISK_FILES), partition, sectors * SECTOR // 1024)
    hard_disk(out, mbr(b"", 0x83, PART_START, sectors), partition)


def build_data_iso(work: Path, out: Path, _freedos: object = None) -> None:
    run(tool("xorriso"), "-as", "mkisofs", "-quiet", "-R", "-V", "VMGUI_CD", "-o", out,
        write_files(work / "files", CD_FILES))


def ext2_disk() -> Path:
    """The cached ext2 disk image (a test copies it before writing)."""
    return build(Recipe("ext2-disk", ".img", ("mkfs.ext2",), (Path(__file__),),
                        build_ext2_disk, needs_freedos=False), None)


def data_iso() -> Path:
    return build(Recipe("linux-data-cd", ".iso", ("xorriso",), (Path(__file__),),
                        build_data_iso, needs_freedos=False), None)


def debugfs_cat(image: Path, name: str) -> bytes | None:
    """The contents of ``/name`` in the ext2 partition of ``image`` read by debugfs
    (e2fsprogs), None when it has no such file.  Reads a copy of the partition: debugfs
    takes a file system, not a partitioned disk."""
    part = image.with_suffix(".part")
    with open(image, "rb") as disk, open(part, "wb") as fh:
        disk.seek(PART_START * SECTOR)
        fh.write(disk.read((HDD_TOTAL - PART_START) * SECTOR))
    try:
        done = subprocess.run([tool("debugfs"), "-R", f"cat /{name}", str(part)],
                              capture_output=True, timeout=60)
        listing = subprocess.run([tool("debugfs"), "-R", "ls -l /", str(part)],
                                 capture_output=True, text=True, timeout=60)
    finally:
        part.unlink()
    if done.returncode != 0:
        raise BuildError(f"debugfs failed on {image}: {done.stderr.decode(errors='replace')}")
    names = listing.stdout.split()
    return done.stdout if name in names else None
