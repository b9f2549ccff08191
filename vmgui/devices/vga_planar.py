"""VGA planar memory access: what a CPU byte read or write at A0000h does in the EGA/VGA
16-colour and unchained 256-colour modes.

Owns: the four latches, read modes 0 and 1 (colour compare, colour don't care), write
modes 0-3 with data rotate, the logical function (replace/AND/OR/XOR), set/reset and
its enable, the bit mask and the sequencer map mask, and odd/even addressing.  The planes
are stored interleaved (byte ``4 * offset + plane``, one 32-bit word per offset, plane 0
in the low byte), so each operation is a few integer operations on a 32-bit word.
Semantics per IBM's VGA Technical Reference and FreeVGA ("Graphics Controller
Registers", "VGA Memory Organization"); the layout and the 4-bit -> byte-lane mask trick
are QEMU's (hw/display/vga.c).

Thread rule: emulation thread only (every access is a guest memory access).
"""

from __future__ import annotations

from vmgui.devices.video_memory import PLANE_SIZE

# 4 bits, one per plane -> a 32-bit mask with 0xFF in the byte lane of each set bit
LANES = tuple(sum(0xFF << (8 * p) for p in range(4) if n >> p & 1) for n in range(16))
_FILL = 0x01010101  # a byte value times this: that byte in every lane

SEQ_MAP_MASK = 0x02
GC_SET_RESET, GC_ENABLE_SET_RESET, GC_COLOUR_COMPARE = 0x00, 0x01, 0x02
GC_DATA_ROTATE, GC_READ_MAP, GC_MODE, GC_COLOUR_DONT_CARE, GC_BIT_MASK = 3, 4, 5, 7, 8
_GC_ODD_EVEN = 0x10
_GC_READ_MODE_1 = 0x08


class PlanarMemory:
    """Byte accesses to the plane memory ``planes`` (256 KiB, interleaved) as the
    sequencer and graphics controller registers ``seq`` and ``gc`` (live bytearrays of
    the VGA) direct them.  ``offset`` is the CPU address minus the memory map's base."""

    def __init__(self, planes: memoryview, seq: bytearray, gc: bytearray) -> None:
        if len(planes) != 4 * PLANE_SIZE:
            raise ValueError(f"plane memory must be {4 * PLANE_SIZE} bytes")
        self.bytes = planes.cast("B") if planes.format != "B" else planes
        self.words = self.bytes.cast("I")
        self.seq = seq
        self.gc = gc
        self.latch = 0

    def read(self, offset: int) -> int:
        gc = self.gc
        offset &= PLANE_SIZE - 1
        if gc[GC_MODE] & _GC_ODD_EVEN:
            plane = (gc[GC_READ_MAP] & 2) | (offset & 1)
            return self.bytes[((offset & ~1) << 1) | plane]
        latch = self.latch = self.words[offset]
        if not gc[GC_MODE] & _GC_READ_MODE_1:
            return (latch >> (8 * (gc[GC_READ_MAP] & 3))) & 0xFF
        # read mode 1: a bit is 1 where every plane the don't-care mask selects holds
        # the colour compare value's bit
        diff = (latch ^ LANES[gc[GC_COLOUR_COMPARE] & 0x0F]) & LANES[gc[GC_COLOUR_DONT_CARE] & 0x0F]
        diff |= diff >> 16
        diff |= diff >> 8
        return ~diff & 0xFF

    def write(self, offset: int, value: int) -> None:
        gc = self.gc
        offset &= PLANE_SIZE - 1
        value &= 0xFF
        map_mask = self.seq[SEQ_MAP_MASK] & 0x0F
        if gc[GC_MODE] & _GC_ODD_EVEN:
            plane = (gc[GC_READ_MAP] & 2) | (offset & 1)
            if map_mask >> plane & 1:
                self.bytes[((offset & ~1) << 1) | plane] = value
            return
        data = self._write_data(value)
        old = self.words[offset]
        lanes = LANES[map_mask]
        self.words[offset] = (old & ~lanes & 0xFFFFFFFF) | (data & lanes)

    def _write_data(self, value: int) -> int:
        """The 32-bit word (four plane bytes) a write of ``value`` produces before the
        map mask picks the planes it reaches."""
        gc, latch = self.gc, self.latch
        mode = gc[GC_MODE] & 3
        if mode == 1:
            return latch  # write mode 1: the latches, as read last
        rotate = gc[GC_DATA_ROTATE] & 7
        rotated = ((value >> rotate) | (value << (8 - rotate))) & 0xFF
        bit_mask = gc[GC_BIT_MASK]
        if mode == 0:
            data = rotated * _FILL
            enable = LANES[gc[GC_ENABLE_SET_RESET] & 0x0F]
            data = (data & ~enable) | (LANES[gc[GC_SET_RESET] & 0x0F] & enable)
        elif mode == 2:
            data = LANES[value & 0x0F]
        else:  # mode 3: the rotated value ANDed with the bit mask is the bit mask
            data = LANES[gc[GC_SET_RESET] & 0x0F]
            bit_mask &= rotated
        function = (gc[GC_DATA_ROTATE] >> 3) & 3
        if function == 1:
            data &= latch
        elif function == 2:
            data |= latch
        elif function == 3:
            data ^= latch
        mask = bit_mask * _FILL
        return (data & mask) | (latch & ~mask & 0xFFFFFFFF)

    def clear(self) -> None:
        """All four planes zero (a BIOS mode set that clears memory)."""
        self.bytes[:] = bytes(len(self.bytes))
