"""The Linux/x86 boot protocol loader (vmgui.bios.linuxboot): reading the setup header,
placing kernel, command line and initrd, the fields it writes, the CPU state it starts
the setup code with, and the errors for kernels, initrds and command lines it cannot
boot.  Kernels here are tests/guests/bzhello.img (a real 2.15 header) with fields
changed; Debian's kernel boots in tests/integration/test_linux_boot.py."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from tests.conftest import TEST_GUESTS
from vmgui.bios import linuxboot as lb
from vmgui.bios.api import FakeMemory, FakeRegisterBackend, Registers

MB = 1 << 20
BZHELLO = TEST_GUESTS / "bzhello.img"


def kernel_bytes(**fields: int) -> bytes:
    """bzhello.img with header fields changed: name=value, for the offsets below."""
    offsets = {"setup_sects": (lb.SETUP_SECTS, "<B"), "version": (lb.VERSION, "<H"),
               "loadflags": (lb.LOADFLAGS, "<B"), "syssize": (lb.SYSSIZE, "<I"),
               "initrd_addr_max": (lb.INITRD_ADDR_MAX, "<I"),
               "cmdline_size": (lb.CMDLINE_SIZE, "<I"),
               "kernel_alignment": (lb.KERNEL_ALIGNMENT, "<I"),
               "relocatable": (lb.RELOCATABLE_KERNEL, "<B"),
               "pref_address": (lb.PREF_ADDRESS, "<Q"), "init_size": (lb.INIT_SIZE, "<I")}
    data = bytearray(BZHELLO.read_bytes())
    for name, value in fields.items():
        offset, fmt = offsets[name]
        struct.pack_into(fmt, data, offset, value)
    return bytes(data)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def boot_of(tmp_path: Path, kernel: bytes | None = None, initrd: bytes | None = None,
            cmdline: str = "", ram_mb: int = 64) -> lb.LinuxBoot:
    k = write(tmp_path, "vmlinuz", kernel if kernel is not None else kernel_bytes())
    i = write(tmp_path, "initrd.img", initrd) if initrd is not None else None
    return lb.LinuxBoot(k, i, cmdline, ram_mb * MB)


# ---------------------------------------------------------------------------- header
def test_the_header_fields_of_a_2_15_bzimage():
    h = lb.parse_header(kernel_bytes(), "bzhello")
    assert (h.protocol, h.setup_sects, h.setup_bytes, h.syssize) == (0x20F, 1, 1024, 32)
    assert (h.initrd_addr_max, h.cmdline_max, h.pref_address, h.init_size) == (
        0x7FFFFFFF, 255, 0x100000, 0x1000)


def test_setup_sects_zero_means_four():
    assert lb.parse_header(kernel_bytes(setup_sects=0), "k").setup_sects == 4


def test_fields_a_protocol_does_not_have_take_the_documented_defaults():
    h = lb.parse_header(kernel_bytes(version=0x0202), "old")
    assert h.initrd_addr_max == lb.OLD_INITRD_MAX and h.cmdline_max == lb.OLD_CMDLINE_MAX
    assert (h.syssize, h.init_size, h.pref_address, h.relocatable) == (0, 0, 0, False)


def test_a_relocatable_kernel_runs_at_its_alignment_but_not_below_pref_address():
    h = lb.parse_header(kernel_bytes(relocatable=1, kernel_alignment=0x1000000,
                                     pref_address=0x1000000, init_size=0x1018000), "k")
    assert h.runtime_start() == 0x1000000
    assert h.footprint_end(5 * MB) == 0x1000000 + 0x1018000
    h = lb.parse_header(kernel_bytes(relocatable=1, kernel_alignment=0x400000,
                                     pref_address=0), "k")
    assert h.runtime_start() == 0x400000


def test_a_file_without_the_boot_header_is_not_a_bzimage():
    data = bytearray(kernel_bytes())
    data[0x202:0x206] = b"ELF!"
    with pytest.raises(lb.LinuxBootError, match=r"^vmlinuz: no Linux boot header \(HdrS\) at 202h"):
        lb.parse_header(bytes(data), "vmlinuz")


def test_a_file_too_short_for_a_header():
    with pytest.raises(lb.LinuxBootError, match="vmlinuz: 300 bytes, too short"):
        lb.parse_header(bytes(300), "vmlinuz")


@pytest.mark.parametrize("version", [0x0200, 0x0201])
def test_a_protocol_before_2_02_is_too_old(version):
    with pytest.raises(lb.LinuxBootError, match=r"boot protocol 2\.0[01] is too old"):
        lb.parse_header(kernel_bytes(version=version), "vmlinuz")


def test_a_zimage_is_refused():
    with pytest.raises(lb.LinuxBootError, match="a zImage kernel"):
        lb.parse_header(kernel_bytes(loadflags=0), "vmlinuz")


def test_a_truncated_kernel(tmp_path):
    with pytest.raises(lb.LinuxBootError, match="truncated: 512 bytes of kernel .* announces 4096"):
        boot_of(tmp_path, kernel_bytes(syssize=256))
    with pytest.raises(lb.LinuxBootError, match="truncated: 0 bytes of kernel"):
        boot_of(tmp_path, kernel_bytes()[:1024])


def test_setup_code_larger_than_32_kib(tmp_path):
    with pytest.raises(lb.LinuxBootError, match="64 setup sectors, more than the 32 KiB"):
        boot_of(tmp_path, kernel_bytes(setup_sects=64) + bytes(64 * 512))


# ---------------------------------------------------------------------------- command line
@pytest.mark.parametrize("cmdline, mode", [
    ("", 0xFFFF), ("quiet vga=normal", 0xFFFF), ("vga=ext", 0xFFFE), ("vga=ask", 0xFFFD),
    ("vga=0x317 ro", 0x317), ("vga=791", 791), ("vga=0755", 0o755), ("vga=1 vga=2", 2)])
def test_the_vga_option_sets_vid_mode(cmdline, mode):
    assert lb.video_mode(cmdline) == mode


@pytest.mark.parametrize("value", ["big", "0x", "65536", "0x1ffff"])
def test_a_bad_vga_value_is_said(value):
    with pytest.raises(lb.LinuxBootError, match=f"vga={value}"):
        lb.video_mode(f"vga={value}")


def test_a_command_line_longer_than_the_kernel_takes(tmp_path):
    boot_of(tmp_path, cmdline="x" * 255)
    with pytest.raises(lb.LinuxBootError, match="256 bytes, more than the 255 that vmlinuz"):
        boot_of(tmp_path, cmdline="x" * 256)


def test_a_command_line_never_outgrows_its_room_after_the_heap(tmp_path):
    k = kernel_bytes(cmdline_size=0xFFFFFF)
    boot_of(tmp_path, k, cmdline="x" * (lb.CMDLINE_ROOM - 1))
    with pytest.raises(lb.LinuxBootError, match=f"more than the {lb.CMDLINE_ROOM - 1}"):
        boot_of(tmp_path, k, cmdline="x" * lb.CMDLINE_ROOM)


def test_a_nul_in_the_command_line(tmp_path):
    with pytest.raises(lb.LinuxBootError, match="NUL"):
        boot_of(tmp_path, cmdline="a\0b")


# ---------------------------------------------------------------------------- placement
def test_the_initrd_goes_page_aligned_to_the_top_of_ram(tmp_path):
    boot = boot_of(tmp_path, initrd=bytes(10_000), ram_mb=64)
    assert boot.placement.initrd == (64 * MB - 10_000) & ~0xFFF
    assert boot.placement.initrd_size == 10_000
    assert (boot.placement.real_mode, boot.placement.cmdline) == (0x10000, 0x1E000)


def test_the_initrd_stays_below_initrd_addr_max(tmp_path):
    k = kernel_bytes(initrd_addr_max=32 * MB - 1)
    boot = boot_of(tmp_path, k, initrd=bytes(5000), ram_mb=64)
    assert boot.placement.initrd + 5000 <= 32 * MB
    assert boot.placement.initrd == (32 * MB - 5000) & ~0xFFF


def test_the_initrd_stays_in_the_memory_a_32_bit_kernel_maps(tmp_path):
    h = lb.parse_header(kernel_bytes(), "k")
    where = lb.place(h, 512, 5000, 2048 * MB, ("k", "i"))
    assert where.initrd + 5000 <= lb.LOWMEM_END == 896 * MB


def test_a_kernel_that_needs_more_ram_than_the_machine_has(tmp_path):
    k = kernel_bytes(relocatable=1, kernel_alignment=0x1000000, pref_address=0x1000000,
                     init_size=0x1018000)
    with pytest.raises(lb.LinuxBootError, match=r"vmlinuz: the kernel needs RAM up to 32\.1 MB"
                       r".*the machine has 16\.0 MB: give it at least 33 MB"):
        boot_of(tmp_path, k, ram_mb=16)


def test_an_initrd_that_does_not_fit_above_the_kernel(tmp_path):
    with pytest.raises(lb.LinuxBootError, match=r"initrd\.img: the initrd of 15\.5 MB does not "
                       r"fit in memory .* the machine has 16\.0 MB: give it at least 17 MB"):
        boot_of(tmp_path, initrd=bytes(31 * MB // 2), ram_mb=16)


def test_an_initrd_larger_than_the_kernel_takes_at_all():
    h = lb.parse_header(kernel_bytes(initrd_addr_max=8 * MB - 1), "k")
    with pytest.raises(lb.LinuxBootError, match=r"below which the kernel takes an initrd"):
        lb.place(h, 512, 9 * MB, 64 * MB, ("k", "initrd.img"))


def test_an_initrd_larger_than_the_ram_is_not_read(tmp_path):
    with pytest.raises(lb.LinuxBootError, match=r"initrd of 17\.0 MB is larger than the "
                       r"machine's memory \(16\.0 MB\)"):
        boot_of(tmp_path, initrd=bytes(17 * MB), ram_mb=16)


# ---------------------------------------------------------------------------- files
def test_a_missing_kernel_file(tmp_path):
    with pytest.raises(lb.LinuxBootError, match=r"nothere: cannot read the kernel \(No such"):
        lb.LinuxBoot(tmp_path / "nothere", None, "", 64 * MB)


def test_a_folder_as_initrd(tmp_path):
    k = write(tmp_path, "vmlinuz", kernel_bytes())
    with pytest.raises(lb.LinuxBootError, match="cannot read the initrd .*directory"):
        lb.LinuxBoot(k, tmp_path, "", 64 * MB)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_as_kernel_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(lb.LinuxBootError, match="cannot read the kernel .*FIFO"):
        lb.LinuxBoot(fifo, None, "", 64 * MB)


def test_an_initrd_or_command_line_without_a_kernel(tmp_path):
    assert lb.linux_boot(None, None, "", 64 * MB) is None
    with pytest.raises(lb.LinuxBootError, match="an initrd was given without a kernel"):
        lb.linux_boot(None, tmp_path / "initrd", "", 64 * MB)
    with pytest.raises(lb.LinuxBootError, match="a command line was given without a kernel"):
        lb.linux_boot(None, None, "console=ttyS0", 64 * MB)


# ---------------------------------------------------------------------------- boot
def test_boot_loads_the_parts_fills_the_header_and_starts_the_setup_code(tmp_path):
    boot = boot_of(tmp_path, initrd=b"INITRD" * 1000, cmdline="console=ttyS0 vga=ext",
                   ram_mb=8)
    mem = FakeMemory(8 * MB)
    regs = Registers(FakeRegisterBackend())
    regs.eflags = 0x0202
    boot.boot(mem, regs)
    setup = mem.read(0x10000, 1024)
    image = kernel_bytes()
    assert setup[:0x1FA] == image[:0x1FA] and setup[0x268:] == image[0x268:1024]
    assert setup[lb.TYPE_OF_LOADER] == 0xFF
    assert setup[lb.LOADFLAGS] == 0x81  # LOADED_HIGH kept, CAN_USE_HEAP added
    assert struct.unpack_from("<H", setup, lb.VID_MODE)[0] == 0xFFFE
    assert struct.unpack_from("<H", setup, lb.HEAP_END_PTR)[0] == 0xE000 - 0x200
    assert struct.unpack_from("<I", setup, lb.CMD_LINE_PTR)[0] == 0x1E000
    initrd_at = (8 * MB - 6000) & ~0xFFF
    assert struct.unpack_from("<II", setup, lb.RAMDISK_IMAGE) == (initrd_at, 6000)
    assert mem.read(0x1E000, 22) == b"console=ttyS0 vga=ext\0"
    assert mem.read(0x100000, 512) == image[1024:]
    assert mem.read(initrd_at, 6000) == b"INITRD" * 1000
    assert (regs.cs, regs.eip) == (0x1020, 0)
    assert (regs.ds, regs.es, regs.fs, regs.gs, regs.ss, regs.esp) == (
        0x1000, 0x1000, 0x1000, 0x1000, 0x1000, 0xE000)
    assert regs.eflags & 0x200 == 0  # interrupts off


def test_without_an_initrd_the_ramdisk_fields_are_zero(tmp_path):
    boot = boot_of(tmp_path, ram_mb=4)
    mem = FakeMemory(4 * MB)
    boot.boot(mem, Registers(FakeRegisterBackend()))
    assert struct.unpack_from("<II", mem.read(0x10000, 1024), lb.RAMDISK_IMAGE) == (0, 0)
    assert mem.read(0x1E000, 1) == b"\0"


def test_describe_names_the_file_and_protocol(tmp_path):
    assert boot_of(tmp_path).describe() == "vmlinuz (Linux unknown version, boot protocol 2.15)"
