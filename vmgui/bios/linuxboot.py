"""Direct kernel boot: the Linux/x86 boot protocol 2.x loader (what QEMU's ``-kernel``,
``-initrd`` and ``-append`` do).

Owns: reading a bzImage's setup header, checking that the kernel, its command line and
the initrd fit the machine (clear errors naming the file otherwise), placing the
real-mode setup code, the protected-mode kernel and the initrd in guest memory, filling
the header fields a boot loader writes, and starting the setup code in real mode with
the registers the protocol asks for.  The BIOS calls :meth:`LinuxBoot.boot` in place of
loading a boot sector (power-on, reset, int 19h); the setup code then uses the BIOS as
it would after any boot loader (int 10h, int 15h E820h ...).

Memory layout (boot.rst, "Memory Layout" and "Sample Boot Configuration", for a
protocol 2.02+ bzImage loaded below 90000h, as QEMU places it):

    10000h  real-mode kernel: boot sector + setup code (at most 32 KiB)
    18000h  stack and heap of the setup code, up to HEAP_END (the stack starts there)
    1E000h  the kernel command line (NUL-terminated)
   100000h  the protected-mode kernel (it unpacks itself at pref_address, 16 MB for
            Debian's i386 kernels, and needs init_size bytes from there)
   top      the initrd, page-aligned, ending below the least of the end of RAM, the
            kernel's initrd_addr_max and the 896 MB an i386 kernel maps directly

References: Linux Documentation/arch/x86/boot.rst (header offsets, field meanings,
"Running the Kernel": DS = ES = FS = GS = SS = the real-mode segment, SP at the heap end,
interrupts off, a far jump to segment + 20h); Linux arch/x86/boot/compressed/head_32.S
(where a relocatable kernel unpacks: the load address aligned up to kernel_alignment,
never below pref_address); QEMU hw/i386/x86.c x86_load_linux (the same placement; the
``vga=`` values).
"""

from __future__ import annotations

import logging
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from vmgui.bios.api import Memory, Registers
from vmgui.storage.image import open_regular

log = logging.getLogger(__name__)

MB = 1 << 20
PAGE = 0x1000
SECTOR = 512

# setup header offsets (boot.rst, "The Real-Mode Kernel Header")
SETUP_SECTS = 0x1F1
SYSSIZE = 0x1F4
VID_MODE = 0x1FA
BOOT_FLAG = 0x1FE
HEADER_MAGIC = 0x202
VERSION = 0x206
KERNEL_VERSION = 0x20E
TYPE_OF_LOADER = 0x210
LOADFLAGS = 0x211
RAMDISK_IMAGE = 0x218
RAMDISK_SIZE = 0x21C
HEAP_END_PTR = 0x224
CMD_LINE_PTR = 0x228
INITRD_ADDR_MAX = 0x22C
KERNEL_ALIGNMENT = 0x230
RELOCATABLE_KERNEL = 0x234
CMDLINE_SIZE = 0x238
PREF_ADDRESS = 0x258
INIT_SIZE = 0x260
HEADER_END = 0x264  # everything read here lies before this offset

HDRS = b"HdrS"
LOADED_HIGH = 0x01  # loadflags: the protected-mode code loads at 100000h (bzImage)
CAN_USE_HEAP = 0x80  # loadflags: heap_end_ptr is valid
LOADER_UNDEFINED = 0xFF  # type_of_loader of a boot loader without an assigned id
VID_NORMAL, VID_EXT, VID_ASK = 0xFFFF, 0xFFFE, 0xFFFD
MIN_PROTOCOL = 0x0202  # the 32-bit cmd_line_ptr; kernels since 2.4.0 (2000)
OLD_CMDLINE_MAX = 255  # before protocol 2.06 (no cmdline_size field)
OLD_INITRD_MAX = 0x37FFFFFF  # before protocol 2.03 (no initrd_addr_max field)

REAL_MODE_SEGMENT = 0x1000  # the real-mode kernel at 10000h
SETUP_MAX = 0x8000  # the real-mode code is at most 32 KiB
HEAP_END = 0xE000  # heap/stack end, offset in the real-mode segment
CMDLINE_OFFSET = HEAP_END  # the command line right after the heap ...
CMDLINE_ROOM = 0x10000 - CMDLINE_OFFSET  # ... up to the end of the 64 KiB segment
ENTRY_SEGMENT_DELTA = 0x20  # the setup code starts at segment + 20h, offset 0
KERNEL_ADDR = 0x100000
LOWMEM_END = 0x38000000  # 896 MB: what a 32-bit kernel maps directly (3G/1G split)
BOOT_EFLAGS = 0x0002  # interrupts off


class LinuxBootError(ValueError):
    """The kernel, initrd or command line cannot be booted; the message names the file
    and says why ("vmlinuz: no Linux boot header (HdrS) at 202h")."""


@dataclass(frozen=True)
class SetupHeader:
    """The fields of a bzImage's setup header this loader reads (boot.rst)."""

    protocol: int
    setup_sects: int  # 0 in the file means 4
    loadflags: int
    syssize: int  # 16-byte paragraphs of protected-mode code (2.04+), else 0
    initrd_addr_max: int
    cmdline_max: int  # characters, without the NUL
    kernel_alignment: int
    relocatable: bool
    pref_address: int  # 0 before protocol 2.10
    init_size: int  # 0 before protocol 2.10
    version_text: str  # the kernel's version string, "" when it has none

    @property
    def setup_bytes(self) -> int:
        """Boot sector + setup code: the real-mode part at the start of the file."""
        return (self.setup_sects + 1) * SECTOR

    def runtime_start(self) -> int:
        """Where the kernel runs (and unpacks itself) when loaded at 100000h."""
        start = KERNEL_ADDR
        if self.relocatable and self.kernel_alignment:
            start = -(-KERNEL_ADDR // self.kernel_alignment) * self.kernel_alignment
        return max(start, self.pref_address)

    def footprint_end(self, protected_size: int) -> int:
        """The end of the memory the kernel occupies until it reads the memory map."""
        return max(KERNEL_ADDR + protected_size, self.runtime_start() + self.init_size)


def parse_header(data: bytes, name: str) -> SetupHeader:
    """The setup header of the kernel file whose first bytes are ``data`` (all of the
    file, or at least its first HEADER_END bytes).  LinuxBootError unless it is a bzImage
    of protocol 2.02 or later."""
    if len(data) < HEADER_END or data[HEADER_MAGIC:HEADER_MAGIC + 4] != HDRS:
        if len(data) < HEADER_END:
            raise LinuxBootError(f"{name}: {len(data)} bytes, too short for a Linux kernel "
                                 "(no boot header at 202h)")
        raise LinuxBootError(f"{name}: no Linux boot header (HdrS) at 202h: not a bzImage "
                             "kernel")
    def u16(off: int) -> int:
        return struct.unpack_from("<H", data, off)[0]

    def u32(off: int) -> int:
        return struct.unpack_from("<I", data, off)[0]

    protocol = u16(VERSION)
    if protocol < MIN_PROTOCOL:
        raise LinuxBootError(f"{name}: Linux boot protocol {protocol >> 8}.{protocol & 0xFF:02d} "
                             f"is too old (vmgui loads protocol 2.02 and later: Linux 2.4 on)")
    if not data[LOADFLAGS] & LOADED_HIGH:
        raise LinuxBootError(f"{name}: a zImage kernel (loaded below 1 MB); vmgui loads "
                             "bzImage kernels only")

    def since(version: int, value: int, default: int = 0) -> int:
        """A field protocol ``version`` introduced: ``default`` in older kernels."""
        return value if protocol >= version else default

    version_at = u16(KERNEL_VERSION) + 0x200 if u16(KERNEL_VERSION) else 0
    text = data[version_at:version_at + 256].split(b"\0")[0] if version_at else b""
    return SetupHeader(
        protocol=protocol,
        setup_sects=data[SETUP_SECTS] or 4,
        loadflags=data[LOADFLAGS],
        syssize=since(0x0204, u32(SYSSIZE)),
        initrd_addr_max=since(0x0203, u32(INITRD_ADDR_MAX), OLD_INITRD_MAX),
        cmdline_max=since(0x0206, u32(CMDLINE_SIZE), OLD_CMDLINE_MAX),
        kernel_alignment=since(0x0205, u32(KERNEL_ALIGNMENT)),
        relocatable=bool(since(0x0205, data[RELOCATABLE_KERNEL])),
        pref_address=since(0x020A, struct.unpack_from("<Q", data, PREF_ADDRESS)[0]),
        init_size=since(0x020A, u32(INIT_SIZE)),
        version_text=text.decode("ascii", "replace"),
    )


def video_mode(cmdline: str) -> int:
    """The vid_mode field for ``cmdline``: its ``vga=`` option (``normal``, ``ext``,
    ``ask`` or a number in C notation), else normal.  LinuxBootError for another value."""
    mode = VID_NORMAL
    for word in cmdline.split():
        if not word.startswith("vga="):
            continue
        value = word[4:]
        named = {"normal": VID_NORMAL, "ext": VID_EXT, "ask": VID_ASK}
        if value in named:
            mode = named[value]
            continue
        base = 16 if value[:2].lower() == "0x" else 8 if value[:1] == "0" and len(value) > 1 else 10
        try:
            mode = int(value, base)
        except ValueError:
            raise LinuxBootError(f"kernel command line: vga={value} is not a video mode "
                                 "(a number, normal, ext or ask)") from None
        if not 0 <= mode <= 0xFFFF:
            raise LinuxBootError(f"kernel command line: vga={value} is beyond FFFFh")
    return mode


@dataclass(frozen=True)
class Placement:
    """Where the parts go in guest memory, and what the header then says."""

    real_mode: int  # linear address of the real-mode kernel
    cmdline: int
    kernel: int
    initrd: int  # 0 without an initrd
    initrd_size: int

    @property
    def segment(self) -> int:
        return self.real_mode >> 4


def place(header: SetupHeader, protected_size: int, initrd_size: int | None, ram_end: int,
          names: tuple[str, str]) -> Placement:
    """The placement for a kernel of ``header`` with ``protected_size`` bytes after its
    setup code and an initrd of ``initrd_size`` bytes (None: none) in RAM ending at
    ``ram_end``.  LinuxBootError, naming ``names`` (kernel, initrd), when they do not fit."""
    kernel_name, initrd_name = names
    end = header.footprint_end(protected_size)
    if end > ram_end:
        raise LinuxBootError(
            f"{kernel_name}: the kernel needs RAM up to {_mb(end)} (it unpacks itself at "
            f"{_mb(header.runtime_start())} into {_mb(header.init_size or protected_size)}); "
            f"the machine has {_mb(ram_end)}: give it at least {_mb_up(end)} MB")
    if initrd_size is None:
        return Placement(REAL_MODE_SEGMENT << 4, (REAL_MODE_SEGMENT << 4) + CMDLINE_OFFSET,
                         KERNEL_ADDR, 0, 0)
    limit = min(ram_end, header.initrd_addr_max + 1, LOWMEM_END)
    address = (limit - initrd_size) & ~(PAGE - 1)
    if address < end:
        ceiling = min(header.initrd_addr_max + 1, LOWMEM_END)
        needed = end + -(-initrd_size // PAGE) * PAGE
        if needed > ceiling:
            raise LinuxBootError(
                f"{initrd_name}: the initrd of {_mb(initrd_size)} does not fit between the "
                f"kernel (up to {_mb(end)}) and the {_mb(ceiling)} below which the kernel "
                "takes an initrd")
        raise LinuxBootError(
            f"{initrd_name}: the initrd of {_mb(initrd_size)} does not fit in memory above "
            f"the kernel (which needs RAM up to {_mb(end)}); the machine has {_mb(ram_end)}: "
            f"give it at least {_mb_up(needed)} MB")
    return Placement(REAL_MODE_SEGMENT << 4, (REAL_MODE_SEGMENT << 4) + CMDLINE_OFFSET,
                     KERNEL_ADDR, address, initrd_size)


def _mb(size: int) -> str:
    return f"{size / MB:.1f} MB"


def _mb_up(size: int) -> int:
    return -(-size // MB)


def setup_block(image: bytes, header: SetupHeader, where: Placement, cmdline: str) -> bytes:
    """The real-mode kernel as it goes to memory: the file's first setup_bytes with the
    fields a boot loader writes filled in."""
    block = bytearray(image[:header.setup_bytes])
    struct.pack_into("<H", block, VID_MODE, video_mode(cmdline))
    block[TYPE_OF_LOADER] = LOADER_UNDEFINED
    block[LOADFLAGS] = header.loadflags | CAN_USE_HEAP
    struct.pack_into("<II", block, RAMDISK_IMAGE, where.initrd, where.initrd_size)
    struct.pack_into("<H", block, HEAP_END_PTR, HEAP_END - 0x200)
    struct.pack_into("<I", block, CMD_LINE_PTR, where.cmdline)
    return bytes(block)


def encode_cmdline(cmdline: str, header: SetupHeader, name: str) -> bytes:
    """``cmdline`` as the NUL-terminated bytes the kernel reads; LinuxBootError when it is
    longer than the kernel takes (cmdline_size) or than the room left for it."""
    if "\0" in cmdline:
        raise LinuxBootError("kernel command line: contains a NUL character")
    data = cmdline.encode("utf-8")
    room = min(header.cmdline_max, CMDLINE_ROOM - 1)
    if len(data) > room:
        raise LinuxBootError(f"kernel command line: {len(data)} bytes, more than the "
                             f"{room} that {name} takes")
    return data + b"\0"


def _read_file(path: Path, what: str, limit: int) -> bytes:
    """The whole regular file ``path``; LinuxBootError when it cannot be read or is
    larger than ``limit`` bytes (it could not fit in the machine anyway)."""
    try:
        fd = open_regular(path, os.O_RDONLY | getattr(os, "O_BINARY", 0), what)
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise LinuxBootError(f"{path}: cannot read the {what} ({why})") from None
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise LinuxBootError(f"{path}: the {what} of {_mb(size)} is larger than the "
                                 f"machine's memory ({_mb(limit)})")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read()
    except OSError as exc:
        raise LinuxBootError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    return data


class LinuxBoot:
    """A kernel, an optional initrd and a command line, checked against a machine whose
    RAM ends at ``ram_end`` (read once: a reset boots the same bytes again)."""

    def __init__(self, kernel: Path, initrd: Path | None, cmdline: str, ram_end: int) -> None:
        self.kernel_path = Path(kernel)
        self.initrd_path = Path(initrd) if initrd is not None else None
        self.cmdline = cmdline
        self.image = _read_file(self.kernel_path, "kernel", ram_end)
        name = self.kernel_path.name
        self.header = parse_header(self.image, name)
        protected = len(self.image) - self.header.setup_bytes
        if self.header.setup_bytes > SETUP_MAX:
            raise LinuxBootError(f"{name}: {self.header.setup_sects} setup sectors, more than "
                                 f"the {SETUP_MAX // 1024} KiB of real-mode code a kernel has")
        if protected < max(1, self.header.syssize * 16):
            raise LinuxBootError(f"{name}: truncated: {max(0, protected)} bytes of kernel "
                                 f"after its {self.header.setup_bytes} bytes of setup code"
                                 + (f", its header announces {self.header.syssize * 16}"
                                    if self.header.syssize else ""))
        self.cmdline_bytes = encode_cmdline(cmdline, self.header, name)
        video_mode(cmdline)  # a bad vga= is said now, not at boot
        self.initrd = (_read_file(self.initrd_path, "initrd", ram_end)
                       if self.initrd_path is not None else None)
        self.placement = place(self.header, protected,
                               None if self.initrd is None else len(self.initrd), ram_end,
                               (name, self.initrd_path.name if self.initrd_path else ""))

    def describe(self) -> str:
        version = self.header.version_text.split(" ")[0] or "unknown version"
        return f"{self.kernel_path.name} (Linux {version}, boot protocol " \
               f"{self.header.protocol >> 8}.{self.header.protocol & 0xFF:02d})"

    def boot(self, mem: Memory, regs: Registers) -> None:
        """Put the kernel, command line and initrd in memory and point the CPU at the
        setup code, as the boot protocol's "Running the Kernel" says."""
        where, header = self.placement, self.header
        mem.write(where.real_mode, setup_block(self.image, header, where, self.cmdline))
        mem.write(where.cmdline, self.cmdline_bytes)
        mem.write(where.kernel, self.image[header.setup_bytes:])
        if self.initrd is not None:
            mem.write(where.initrd, self.initrd)
        segment = where.segment
        for name in ("ds", "es", "fs", "gs", "ss"):
            setattr(regs, name, segment)
        regs.esp = HEAP_END
        regs.cs = segment + ENTRY_SEGMENT_DELTA
        regs.eip = 0
        regs.eflags = BOOT_EFLAGS
        log.info("booting %s at %04X:0000, initrd %s at %#x, command line %r",
                 self.describe(), segment + ENTRY_SEGMENT_DELTA,
                 self.initrd_path, where.initrd, self.cmdline)


def linux_boot(kernel: Path | None, initrd: Path | None, cmdline: str,
               ram_end: int) -> LinuxBoot | None:
    """The direct boot a machine's configuration asks for: None without a kernel.
    LinuxBootError for an initrd or command line without a kernel, or what
    :class:`LinuxBoot` finds wrong."""
    if kernel is None:
        if initrd is not None or cmdline:
            raise LinuxBootError(f"{'an initrd' if initrd is not None else 'a command line'} "
                                 "was given without a kernel to boot")
        return None
    return LinuxBoot(kernel, initrd, cmdline, ram_end)
