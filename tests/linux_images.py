"""A Linux kernel and a busybox initramfs from Debian's i386 packages, for issue 11's
direct-boot tests (``vmgui run --kernel/--initrd/--append``).

Owns: fetching the i386 packages ``linux-image-686`` (its current ``linux-image-6.1.0-N-686``)
and ``busybox-static`` with ``apt-get download``, taking the bzImage (``/boot/vmlinuz-*``)
and ``/bin/busybox`` out of them, and the recipe of a small initramfs: a newc cpio archive
(gzip-compressed) holding busybox, an ``/init`` that mounts proc, sys and dev and prints
:data:`INIT_MARKER`, and busybox init with a root shell on the VGA console (tty1) and on
the first serial port (ttyS0), each prompting :data:`PROMPT`.

Everything lives in the cache of :mod:`tests.debian_images` (same folder, same atomic
builds and pruning, never committed): the packages as ``deb-<name>-<key>.deb`` (the key
covers the package version apt offers, so a new kernel ABI downloads anew), the kernel as
``linux-686-<key>.bzImage`` and the initramfs as ``busybox-initramfs-<key>.cpio.gz``,
keyed by the package files and this file.  The archive is written here rather than by
cpio(1): member order, owners and times are fixed, so the same inputs give the same
bytes.  apt must know the i386 architecture (``dpkg --add-architecture i386 && apt-get
update``, as root; ``.ci/run`` does it); when it does not, or a package cannot be
downloaded, :class:`MissingInput` says so and the tests skip.
"""

from __future__ import annotations

import functools
import gzip
import io
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from tests.debian_images import BuildError, MissingInput, Recipe, build, run, tool

ARCH = "i386"
KERNEL_PACKAGE = "linux-image-686"  # depends on the current linux-image-6.1.0-N-686
BUSYBOX_PACKAGE = "busybox-static"
ENABLE_I386 = "dpkg --add-architecture i386 && apt-get update"

PROMPT = "vmgui-linux# "  # the shells' prompt (PS1), on tty1 and ttyS0
INIT_MARKER = "vmgui-initramfs: proc, sys and dev mounted"
SERIAL_APPEND = "console=tty0 console=ttyS0 noapic nolapic"  # the tests' command line

INIT = f"""\
#!/bin/sh
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "{INIT_MARKER}"
exec /sbin/init
"""

INITTAB = """\
tty1::respawn:-/bin/sh
ttyS0::respawn:-/bin/sh
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/umount -a -r
"""

PROFILE = f"""\
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export HOME=/root
export PS1='{PROMPT}'
"""

# The archive's members: directories, then files and nodes (modes of stat(2)).
DIRS = ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "dev", "etc", "proc", "sys", "root",
        "tmp", "mnt")
S_IFDIR, S_IFREG, S_IFLNK, S_IFCHR = 0o040000, 0o100000, 0o120000, 0o020000
NEWC_MAGIC = b"070701"


@dataclass(frozen=True)
class Package:
    """A Debian package (i386) in the version apt offers."""

    name: str
    version: str


# ---------------------------------------------------------------------------- packages
def apt_field(package: str, field: str) -> str:
    """``field`` of the candidate version of ``package``:i386 in apt's lists (no network).
    MissingInput when apt does not know the package (the i386 architecture not added)."""
    done = subprocess.run([tool("apt-cache"), "show", "--no-all-versions", f"{package}:{ARCH}"],
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0 or not done.stdout.strip():
        raise MissingInput(f"apt knows no {ARCH} package {package} (as root: {ENABLE_I386})")
    for line in done.stdout.splitlines():
        if line.startswith(f"{field}:"):
            return line.split(":", 1)[1].strip()
    raise MissingInput(f"apt's record of {package}:{ARCH} has no {field} field")


def kernel_package() -> Package:
    """The linux-image-6.1.0-N-686 package that linux-image-686 depends on now."""
    depends = apt_field(KERNEL_PACKAGE, "Depends")
    name = depends.split(",")[0].split("(")[0].strip()
    if not name.startswith("linux-image-"):
        raise MissingInput(f"{KERNEL_PACKAGE}:{ARCH} depends on {depends!r}, not on a kernel")
    return Package(name, apt_field(name, "Version"))


def busybox_package() -> Package:
    return Package(BUSYBOX_PACKAGE, apt_field(BUSYBOX_PACKAGE, "Version"))


def download(package: Package, work: Path, out: Path, _freedos: object = None) -> None:
    """``apt-get download`` of ``package`` (its exact version) into ``work``, saved as
    ``out``.  MissingInput when apt cannot fetch it (no network, not in the archive)."""
    try:
        run(tool("apt-get"), "download", "-q", f"{package.name}:{ARCH}={package.version}",
            cwd=work)
    except BuildError as exc:
        raise MissingInput(f"cannot download {package.name} {package.version}: {exc}") from exc
    debs = list(work.glob(f"{package.name}_*.deb"))
    if len(debs) != 1:
        raise BuildError(f"apt-get download of {package.name} left {debs} in {work}")
    debs[0].rename(out)


def deb(package: Package, recipe_name: str) -> Path:
    """The cached .deb of ``package`` (downloaded now if it is not in the cache)."""
    recipe = Recipe(f"deb-{recipe_name}", ".deb", ("apt-get",), (),
                    functools.partial(download, package), needs_freedos=False,
                    stamp=f"{package.name}={package.version}")
    return build(recipe, None)


def deb_member(deb_file: Path, wanted, what: str) -> bytes:
    """The bytes of the first regular file of ``deb_file`` whose path (``./boot/...``)
    ``wanted(path)`` accepts (``what`` names it), streamed out of ``dpkg-deb --fsys-tarfile``
    (nothing else is unpacked: the kernel package's modules are 300 MB)."""
    with subprocess.Popen([tool("dpkg-deb"), "--fsys-tarfile", str(deb_file)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        try:
            with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
                for member in tar:
                    if member.isfile() and wanted(member.name):
                        data = tar.extractfile(member)
                        assert data is not None
                        return data.read()
        finally:
            proc.kill()
    raise BuildError(f"{deb_file.name} holds no {what}")


# ---------------------------------------------------------------------------- initramfs
def newc_member(ino: int, name: str, mode: int, data: bytes = b"",
                rdev: tuple[int, int] = (0, 0)) -> bytes:
    """One member of a newc ("070701") cpio archive: 110-byte header of hex fields, the
    NUL-terminated name and the data, each padded to 4 bytes; owner root, time 0."""
    encoded = name.encode() + b"\0"
    fields = (ino, mode, 0, 0, 2 if mode & S_IFDIR else 1, 0, len(data), 0, 0,
              rdev[0], rdev[1], len(encoded), 0)
    header = NEWC_MAGIC + b"".join(b"%08X" % value for value in fields)
    head = header + encoded
    head += bytes(-len(head) % 4)
    return head + data + bytes(-len(data) % 4)


def newc_archive(members: list[tuple[str, int, bytes, tuple[int, int]]]) -> bytes:
    """A whole newc archive of ``(name, mode, data, (rdev major, minor))``, trailer last."""
    out = io.BytesIO()
    for ino, (name, mode, data, rdev) in enumerate(members, start=1):
        out.write(newc_member(ino, name, mode, data, rdev))
    out.write(newc_member(0, "TRAILER!!!", 0))
    return out.getvalue()


def initramfs_members(busybox: bytes) -> list[tuple[str, int, bytes, tuple[int, int]]]:
    members = [(d, S_IFDIR | 0o755, b"", (0, 0)) for d in DIRS]
    members += [
        ("bin/busybox", S_IFREG | 0o755, busybox, (0, 0)),
        ("bin/sh", S_IFLNK | 0o777, b"busybox", (0, 0)),
        ("sbin/init", S_IFLNK | 0o777, b"../bin/busybox", (0, 0)),
        ("init", S_IFREG | 0o755, INIT.encode(), (0, 0)),
        ("etc/inittab", S_IFREG | 0o644, INITTAB.encode(), (0, 0)),
        ("etc/profile", S_IFREG | 0o644, PROFILE.encode(), (0, 0)),
        ("dev/console", S_IFCHR | 0o600, b"", (5, 1)),  # init's stdio before devtmpfs
        ("dev/null", S_IFCHR | 0o666, b"", (1, 3)),
    ]
    return members


def build_initramfs(busybox_deb: Path, work: Path, out: Path, _freedos: object = None) -> None:
    busybox = deb_member(busybox_deb, lambda name: name == "./bin/busybox", "/bin/busybox")
    archive = newc_archive(initramfs_members(busybox))
    out.write_bytes(gzip.compress(archive, compresslevel=9, mtime=0))


def build_kernel(kernel_deb: Path, work: Path, out: Path, _freedos: object = None) -> None:
    image = deb_member(kernel_deb, lambda name: name.startswith("./boot/vmlinuz-"),
                       "/boot/vmlinuz-*")
    if image[0x202:0x206] != b"HdrS":
        raise BuildError(f"the vmlinuz of {kernel_deb.name} has no Linux boot header")
    out.write_bytes(image)


# ---------------------------------------------------------------------------- the images
def kernel() -> Path:
    """The cached bzImage of Debian's current i386 ``-686`` kernel."""
    package_deb = deb(kernel_package(), KERNEL_PACKAGE)
    return build(Recipe("linux-686", ".bzImage", ("dpkg-deb",), (package_deb, Path(__file__)),
                        functools.partial(build_kernel, package_deb), needs_freedos=False),
                 None)


def initramfs() -> Path:
    """The cached busybox initramfs (gzip-compressed newc cpio)."""
    package_deb = deb(busybox_package(), BUSYBOX_PACKAGE)
    return build(Recipe("busybox-initramfs", ".cpio.gz", ("dpkg-deb",),
                        (package_deb, Path(__file__)),
                        functools.partial(build_initramfs, package_deb), needs_freedos=False),
                 None)


def images() -> tuple[Path, Path]:
    """(bzImage, initramfs); MissingInput (tests skip) when the packages cannot be had."""
    return kernel(), initramfs()

