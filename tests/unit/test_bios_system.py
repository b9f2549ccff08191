"""Unit tests for vmgui.bios.system (int 11h, 12h, 15h, 17h) with FakeCpu.

Expected values per Ralf Brown's interrupt list (INT 15 AH=4Fh, 86h, 87h, 88h, C0h, C1h,
AX=2400h-2403h, E801h, E820h) and the ACPI specification (E820 record layout and types).
"""

from __future__ import annotations

import pytest

from vmgui.bios.api import FakeCpu, Flag
from vmgui.bios.bda import Bda, seg_off
from vmgui.bios.system import MemoryLayout, SystemBios, e820_map
from vmgui.devices.bus import IoBus
from vmgui.devices.clock import ManualClock
from vmgui.devices.i8042 import Port92

MB = 1024 * 1024
SMAP = 0x534D4150
CONFIG = (0xF000, 0xE6F5)


def layout(total_mb: int) -> MemoryLayout:
    return MemoryLayout(conventional_kb=639, ebda_segment=0x9FC0,
                        extended_bytes=(total_mb - 1) * MB)


class Rig:
    def __init__(self, total_mb: int = 16, mem_size: int = 0x110000) -> None:
        self.cpu = FakeCpu(mem_size)
        self.bus = IoBus()
        self.clock = ManualClock()
        self.a20_events: list[bool] = []
        self.resets = 0
        self.port92 = Port92(self.bus, self.a20_events.append, self._reset)
        self.sys = SystemBios(self.cpu.mem, self.bus, self.clock, layout(total_mb), CONFIG)

    def _reset(self) -> None:
        self.resets += 1

    def int15(self, **regs: int):
        call = self.cpu.call(0x15, **regs)
        self.sys.handle15(call)
        return call


@pytest.fixture
def rig() -> Rig:
    return Rig()


# --------------------------------------------------------------------------- 11h / 12h


def test_int11_equipment_word_from_bda(rig):
    rig.cpu.mem.write_u16(Bda.EQUIPMENT, 0x4427)
    call = rig.cpu.call(0x11, ax=0xFFFF)
    rig.sys.equipment(call)
    assert rig.cpu.regs.ax == 0x4427


def test_int12_memory_size_from_bda(rig):
    rig.cpu.mem.write_u16(Bda.MEMORY_KB, 639)
    call = rig.cpu.call(0x12, ax=0)
    rig.sys.memory_size(call)
    assert rig.cpu.regs.ax == 0x027F


def test_int17_reports_no_printer(rig):
    call = rig.cpu.call(0x17, ax=0x0200, dx=0)
    rig.sys.printer(call)
    assert rig.cpu.regs.ah & 0x01  # time-out
    assert rig.cpu.regs.ah & 0x08  # I/O error


# --------------------------------------------------------------------------- memory size


@pytest.mark.parametrize(("total_mb", "expect"), [(2, 0x0400), (16, 0x3C00), (64, 0xFC00),
                                                  (65, 0xFC00), (256, 0xFC00)])
def test_ah88_extended_kb_capped(total_mb, expect):
    rig = Rig(total_mb)
    rig.int15(ax=0x8800)
    assert rig.cpu.regs.ax == expect
    assert not rig.cpu.cf


def test_e801_16mb(rig):
    rig.int15(ax=0xE801, bx=0xFFFF, dx=0xFFFF)
    r = rig.cpu.regs
    assert (r.ax, r.bx, r.cx, r.dx) == (0x3C00, 0x0000, 0x3C00, 0x0000)
    assert not rig.cpu.cf


def test_e801_64mb():
    rig = Rig(64)
    rig.int15(ax=0xE801)
    r = rig.cpu.regs
    # 15 MB between 1 and 16 MB in KB; 48 MB above 16 MB in 64 KB blocks
    assert (r.ax, r.bx, r.cx, r.dx) == (0x3C00, 0x0300, 0x3C00, 0x0300)
    assert not rig.cpu.cf


def test_e801_small_memory():
    rig = Rig(8)
    rig.int15(ax=0xE801)
    assert (rig.cpu.regs.ax, rig.cpu.regs.bx) == (7 * 1024, 0)


# --------------------------------------------------------------------------- E820


def walk_e820(rig: Rig, es: int = 0x2000, di: int = 0x0100) -> list[tuple[int, int, int]]:
    entries = []
    ebx = 0
    for _ in range(32):
        rig.int15(eax=0xE820, edx=SMAP, ebx=ebx, ecx=24, es=es, di=di)
        assert not rig.cpu.cf
        assert rig.cpu.regs.eax == SMAP
        assert rig.cpu.regs.ecx == 20
        raw = rig.cpu.mem.read(seg_off(es, di), 20)
        entries.append((int.from_bytes(raw[0:8], "little"), int.from_bytes(raw[8:16], "little"),
                        int.from_bytes(raw[16:20], "little")))
        ebx = rig.cpu.regs.ebx
        if ebx == 0:
            return entries
    raise AssertionError("E820 continuation never ended")


def test_e820_walk_16mb(rig):
    assert walk_e820(rig) == [
        (0x00000, 0x9FC00, 1),
        (0x9FC00, 0x00400, 2),
        (0xE0000, 0x20000, 2),
        (0x100000, 15 * MB, 1),
    ]


def test_e820_walk_64mb_matches_map():
    rig = Rig(64)
    entries = walk_e820(rig, es=0x0050, di=0x0000)
    assert entries == e820_map(layout(64))
    assert entries[-1] == (0x100000, 0x3F00000, 1)


def test_e820_record_bytes(rig):
    rig.int15(eax=0xE820, edx=SMAP, ebx=3, ecx=20, es=0x1000, di=0x0010)
    assert rig.cpu.mem.read(0x10010, 20) == bytes.fromhex(
        "0000100000000000" "0000f00000000000" "01000000")
    assert rig.cpu.regs.ebx == 0  # last entry


def test_e820_continuation_values(rig):
    rig.int15(eax=0xE820, edx=SMAP, ebx=0, ecx=20, es=0x1000, di=0)
    assert rig.cpu.regs.ebx == 1
    rig.int15(eax=0xE820, edx=SMAP, ebx=1, ecx=20, es=0x1000, di=0)
    assert rig.cpu.regs.ebx == 2


def test_e820_bad_signature_unsupported(rig):
    rig.int15(eax=0xE820, edx=0x12345678, ebx=0, ecx=20, es=0x1000, di=0)
    assert rig.cpu.cf
    assert rig.cpu.regs.ah == 0x86
    assert rig.cpu.mem.read(0x10000, 20) == bytes(20)


def test_e820_bad_index_and_short_buffer(rig):
    rig.int15(eax=0xE820, edx=SMAP, ebx=99, ecx=20, es=0x1000, di=0)
    assert rig.cpu.cf
    rig.cpu._set_flag(Flag.CF, False)
    rig.int15(eax=0xE820, edx=SMAP, ebx=0, ecx=8, es=0x1000, di=0)
    assert rig.cpu.cf


# --------------------------------------------------------------------------- 87h


def descriptor(base: int, limit: int = 0xFFFF, access: int = 0x93) -> bytes:
    return (limit.to_bytes(2, "little") + (base & 0xFFFFFF).to_bytes(3, "little")
            + bytes((access, 0, base >> 24)))


def build_gdt(cpu: FakeCpu, addr: int, src: int, dst: int) -> None:
    gdt = bytes(16) + descriptor(src) + descriptor(dst) + bytes(16)
    cpu.mem.write(addr, gdt)


def test_ah87_block_move_up_and_down(rig):
    mem = rig.cpu.mem
    payload = bytes(range(256)) * 2
    mem.write(0x30000, payload)
    build_gdt(rig.cpu, seg_off(0x1000, 0x0200), src=0x30000, dst=0x100000)
    rig.int15(ax=0x8700, cx=0x100, es=0x1000, si=0x0200)  # 256 words
    assert not rig.cpu.cf and rig.cpu.regs.ah == 0
    assert mem.read(0x100000, 512) == payload
    assert mem.read(0x100200, 2) == b"\0\0"  # exactly CX words
    build_gdt(rig.cpu, seg_off(0x1000, 0x0200), src=0x100000, dst=0x50000)
    rig.int15(ax=0x8700, cx=0x80, es=0x1000, si=0x0200)
    assert mem.read(0x50000, 256) == payload[:256]
    assert mem.read(0x50100, 2) == b"\0\0"


def test_ah87_uses_base_bits_24_to_31():
    rig = Rig(32, mem_size=0x1010000)
    mem = rig.cpu.mem
    mem.write(0x1000000, b"above 16 MB!")
    build_gdt(rig.cpu, 0x8000, src=0x1000000, dst=0x60000)
    rig.int15(ax=0x8700, cx=6, es=0x0800, si=0)
    assert not rig.cpu.cf
    assert mem.read(0x60000, 12) == b"above 16 MB!"


# --------------------------------------------------------------------------- A20


def test_a20_enable_disable_query_through_port92(rig):
    rig.int15(ax=0x2401)
    assert not rig.cpu.cf and rig.cpu.regs.ah == 0
    assert rig.port92.value & 0x02
    assert rig.bus.read(0x92) & 0x02
    assert rig.a20_events == [True]
    rig.int15(ax=0x2402)
    assert (rig.cpu.regs.ah, rig.cpu.regs.al) == (0, 1)
    assert not rig.cpu.cf
    rig.int15(ax=0x2400)
    assert not rig.cpu.cf
    assert not rig.bus.read(0x92) & 0x02
    assert rig.a20_events == [True, False]
    rig.int15(ax=0x2402)
    assert (rig.cpu.regs.ah, rig.cpu.regs.al) == (0, 0)
    assert rig.resets == 0  # never touched the fast-reset bit


def test_a20_query_reflects_guest_port_write(rig):
    rig.bus.write(0x92, 1, 0x02)
    rig.int15(ax=0x2402)
    assert rig.cpu.regs.al == 1


def test_a20_support_query(rig):
    rig.int15(ax=0x2403, bx=0)
    assert not rig.cpu.cf and rig.cpu.regs.ah == 0
    assert rig.cpu.regs.bx == 0x0003  # keyboard controller and port 92h


def test_a20_unknown_subfunction(rig):
    rig.int15(ax=0x2404)
    assert rig.cpu.cf and rig.cpu.regs.ah == 0x86


# --------------------------------------------------------------------------- misc 15h


def test_c0_config_table_pointer(rig):
    rig.int15(ax=0xC000)
    assert (rig.cpu.regs.es, rig.cpu.regs.bx) == (0xF000, 0xE6F5)
    assert rig.cpu.regs.ah == 0 and not rig.cpu.cf


def test_c1_ebda_segment(rig):
    rig.cpu._set_flag(Flag.CF, True)
    rig.int15(ax=0xC100)
    assert rig.cpu.regs.es == 0x9FC0
    assert not rig.cpu.cf


def test_4f_keyboard_intercept_keeps_scancode(rig):
    rig.int15(ax=0x4F1E)
    assert rig.cpu.cf
    assert rig.cpu.regs.al == 0x1E


def test_90_91_device_busy_post(rig):
    rig.cpu._set_flag(Flag.CF, True)
    rig.int15(ax=0x90FD)
    assert not rig.cpu.cf and rig.cpu.regs.ah == 0
    rig.int15(ax=0x91FD)
    assert not rig.cpu.cf and rig.cpu.regs.ah == 0


def test_86_wait_retries_until_deadline(rig):
    call = rig.int15(ax=0x8600, cx=0x000F, dx=0x4240)  # 1 000 000 us
    assert call.retry
    assert rig.sys.next_deadline_ns() == 1_000_000_000
    rig.clock.advance(500_000_000)
    call = rig.int15(ax=0x8600, cx=0x000F, dx=0x4240)
    assert call.retry
    assert rig.sys.next_deadline_ns() == 1_000_000_000  # not restarted by the retry
    rig.clock.advance(500_000_000)
    rig.cpu._set_flag(Flag.CF, True)
    call = rig.int15(ax=0x8600, cx=0x000F, dx=0x4240)
    assert not call.retry
    assert not rig.cpu.cf and rig.cpu.regs.ah == 0
    assert rig.sys.next_deadline_ns() is None


def test_86_zero_wait_returns_at_once(rig):
    call = rig.int15(ax=0x8600, cx=0, dx=0)
    assert not call.retry and not rig.cpu.cf


def test_86_deadline_from_current_clock(rig):
    rig.clock.advance(7_000)
    call = rig.int15(ax=0x8600, cx=0, dx=1000)  # 1 ms
    assert call.retry
    assert rig.sys.next_deadline_ns() == 7_000 + 1_000_000


@pytest.mark.parametrize("ax", [0x5300, 0xE980, 0x0000, 0xBF00])
def test_unknown_function_unsupported(rig, ax):
    rig.int15(ax=ax)
    assert rig.cpu.cf
    assert rig.cpu.regs.ah == 0x86


# --------------------------------------------------------------------------- up to 2 GB
# The pc-pci machine's map is SeaBIOS's (QEMU -M pc): EBDA, F0000h-FFFFFh and the BIOS at
# the top of 4 GiB reserved, RAM from 1 MB to the end; 88h caps at 63 MB like SeaBIOS.
SIZES_MB = (16, 256, 1024, 2048)


class PciRig(Rig):
    def __init__(self, total_mb: int) -> None:
        super().__init__(total_mb)
        self.sys.layout = MemoryLayout(conventional_kb=639, ebda_segment=0x9FC0,
                                       extended_bytes=(total_mb - 1) * MB, high_bios=True)


@pytest.mark.parametrize("total_mb", SIZES_MB)
def test_e820_of_the_pci_machine(total_mb):
    assert walk_e820_acpi3(PciRig(total_mb)) == [
        (0x00000, 0x9FC00, 1, 1),
        (0x9FC00, 0x00400, 2, 1),
        (0xF0000, 0x10000, 2, 1),
        (0x100000, (total_mb - 1) * MB, 1, 1),
        (0xFFFE0000, 0x20000, 2, 1),
    ]


@pytest.mark.parametrize("total_mb", SIZES_MB)
def test_e820_of_the_isa_machine_is_as_before(total_mb):
    assert walk_e820(Rig(total_mb)) == [
        (0x00000, 0x9FC00, 1), (0x9FC00, 0x00400, 2), (0xE0000, 0x20000, 2),
        (0x100000, (total_mb - 1) * MB, 1)]


def walk_e820_acpi3(rig: Rig) -> list[tuple[int, int, int, int]]:
    """Asking for 24 bytes: each entry comes with its ACPI 3.0 attributes, ECX=24."""
    entries, ebx = [], 0
    for _ in range(32):
        rig.cpu.mem.write(0x20100, b"\xee" * 28)
        rig.int15(eax=0xE820, edx=SMAP, ebx=ebx, ecx=24, es=0x2000, di=0x0100)
        assert not rig.cpu.cf and rig.cpu.regs.eax == SMAP and rig.cpu.regs.ecx == 24
        raw = rig.cpu.mem.read(0x20100, 28)
        assert raw[24:] == b"\xee" * 4  # nothing written past the 24 bytes
        entries.append(tuple(int.from_bytes(raw[a:b], "little")
                             for a, b in ((0, 8), (8, 16), (16, 20), (20, 24))))
        ebx = rig.cpu.regs.ebx
        if ebx == 0:
            return entries
    raise AssertionError("E820 continuation never ended")


def test_e820_of_the_pci_machine_gives_20_bytes_to_a_20_byte_caller():
    rig = PciRig(2048)
    rig.cpu.mem.write(0x10000, b"\xee" * 24)
    rig.int15(eax=0xE820, edx=SMAP, ebx=3, ecx=20, es=0x1000, di=0)
    assert rig.cpu.regs.ecx == 20
    assert rig.cpu.mem.read(0x10000, 24) == bytes.fromhex(
        "0000100000000000" "0000f07f00000000" "01000000" "eeeeeeee")


@pytest.mark.parametrize(("total_mb", "low_kb", "blocks"), [
    (16, 0x3C00, 0), (256, 0x3C00, 240 * 16), (1024, 0x3C00, 1008 * 16),
    (2048, 0x3C00, 0x7F00)])
def test_e801_up_to_2gb(total_mb, low_kb, blocks):
    """AX/CX: KB between 1 and 16 MB; BX/DX: 64 KB blocks above 16 MB."""
    for rig in (Rig(total_mb), PciRig(total_mb)):
        rig.int15(ax=0xE801)
        r = rig.cpu.regs
        assert (r.ax, r.bx, r.cx, r.dx) == (low_kb, blocks, low_kb, blocks)
        assert not rig.cpu.cf


@pytest.mark.parametrize("total_mb", SIZES_MB)
def test_ah88_up_to_2gb_stays_a_16_bit_kb_count(total_mb):
    """XMS managers (FreeDOS HIMEM) read AH=88h; SeaBIOS caps it at 63 MB."""
    for rig in (Rig(total_mb), PciRig(total_mb)):
        rig.int15(ax=0x8800)
        assert rig.cpu.regs.ax == (0x3C00 if total_mb == 16 else 0xFC00)
        assert not rig.cpu.cf
