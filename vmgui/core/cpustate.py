"""CPU state the engine hides, found by a start-up probe: where in a saved context the
segment descriptor caches, the mode flags, the pending error code and the engine's
"exception in flight" live.

Owns: :func:`probe_layout`, which runs a few instructions in a small throw-away engine of
the loaded unicorn build and locates each field by the values it takes (never by the
source's struct layout, which changes between builds), then checks the double-fault
behaviour those fields explain; :class:`EngineCheckError` when the build does not pass,
which refuses to start a machine rather than run guests wrong; :class:`CpuState`, typed
access to one engine's context through those offsets.

Why: unicorn never delivers interrupts or exceptions.  Protected-mode delivery (see
:mod:`vmgui.core.pmode`) must load CS and SS with new descriptors and privilege levels,
which no register write can do (a segment write in protected mode is checked as a data
segment load at the current privilege level), read the error code of a fault, and reset
the engine's record of the exception in flight: the engine never clears it, so its
second fault would turn into a double fault and its third into a silent triple fault
(ARCHITECTURE.md).
"""

from __future__ import annotations

import itertools
import logging
import struct
from dataclasses import dataclass

from unicorn import x86_const as x86

from vmgui.bios.api import Reg
from vmgui.core.engine import UC_REG_CR0, ContextBuffer, Engine, Mmr

log = logging.getLogger(__name__)

# hflags bits (the engine's translation flags; named as in QEMU's target/i386/cpu.h,
# each one checked by the probe where it matters)
HF_CPL_MASK = 3
HF_CS32 = 1 << 4
HF_SS32 = 1 << 5
HF_ADDSEG = 1 << 6
HF_PE = 1 << 7
DESC_B = 1 << 22  # descriptor's D/B bit (32-bit code / stack)
SEGMENT_ORDER = ("es", "cs", "ss", "ds", "fs", "gs")  # the engine's segment indexes
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U64 = struct.Struct("<Q")
_SEG = struct.Struct("<I4xQII")  # selector, (pad), base, limit, flags
_TABLE = struct.Struct("<QI")  # a descriptor-table register's cache: base, limit
PROBE_RAM = 0x10000
_PROBE_MARKS = {"es": 0x1111, "cs": 0x2222, "ss": 0x3333, "ds": 0x4444, "fs": 0x5555,
                "gs": 0x6666}


class EngineCheckError(RuntimeError):
    """The loaded engine build does not behave as vmgui's protected-mode delivery needs."""


@dataclass(frozen=True)
class ContextLayout:
    """Offsets into a context's CPU-state bytes (after the header)."""

    regs: int  # EAX; the others follow 8 bytes apart (EAX ECX EDX EBX ESP EBP ESI EDI)
    eip: int
    eflags: int
    hflags: int
    segs: int  # ES; the others follow in SEGMENT_ORDER, seg_stride apart
    seg_stride: int
    gdt: int
    idt: int
    cr: int  # CR0; CR2, CR3 and CR4 follow 8 bytes apart
    error_code: int
    exception_is_int: int
    old_exception: int

    def seg(self, name: str) -> int:
        return self.segs + SEGMENT_ORDER.index(name) * self.seg_stride


# ---------------------------------------------------------------------- the probe
# Real-mode code at 1000h: load a GDT, enter protected mode, load flat data segments,
# then load ES with the selector in BX (1234h: beyond the GDT, #GP(1234h)).  Hand-assembled (the
# probe runs where no assembler is installed).
_GDTR_AT, _GDT_AT, _CODE_AT, _PM_AT = 0x0F00, 0x0F10, 0x1000, 0x1020
_GDT = bytes.fromhex("0000000000000000" "ffff0000009acf00" "ffff00000092cf00")
_GDTR = struct.pack("<HI", len(_GDT) - 1, _GDT_AT)
_REAL = bytes.fromhex(
    "0f0116000f"  # lgdt [0F00h]
    "0f20c0"  # mov eax, cr0
    "0c01"  # or al, 1
    "0f22c0"  # mov cr0, eax
    "ea20100800")  # jmp 0008h:1020h
_PM = bytes.fromhex(
    "66b81000"  # mov ax, 10h
    "8ed8"  # mov ds, ax
    "8ed0"  # mov ss, ax
    "bc00800000"  # mov esp, 8000h
    "8ec3"  # mov es, bx  (BX set by the probe before each run: the faulting load)
    "cd33"  # int 33h
    "f4")  # hlt
_FAULT_AT = _PM_AT + 4 + 2 + 2 + 5  # the mov es, ax


def _find_all(blob: bytes, pattern: bytes, step: int = 4) -> list[int]:
    out, at = [], blob.find(pattern)
    while at >= 0:
        if at % step == 0:
            out.append(at)
        at = blob.find(pattern, at + 1)
    return out


def _only(candidates: list[int], what: str) -> int:
    if len(candidates) != 1:
        raise EngineCheckError(f"start-up probe: {what} found at {len(candidates)} places "
                               f"in the engine's CPU context ({candidates[:6]})")
    return candidates[0]


class _Probe:
    def __init__(self) -> None:
        self.engine = Engine(code_cache_mb=4)
        self.ram = bytearray(PROBE_RAM)
        self.engine.map_buffer(0, self.ram, 0, PROBE_RAM)
        self.ctx = ContextBuffer(self.engine)
        self.vectors: list[tuple[int, bytes]] = []
        self.engine.hook_interrupt(self._on_interrupt)

    def _on_interrupt(self, vector: int) -> None:
        self.vectors.append((vector, bytes(self.ctx.save())))
        self.engine.stop_now()

    def blob(self) -> bytes:
        return bytes(self.ctx.save())

    def close(self) -> None:
        self.ctx.free()
        self.engine.close()

    def run_from(self, eip: int, ebx: int) -> tuple[int, bytes]:
        self.vectors.clear()
        self.engine.write(Reg.EIP, eip)
        self.engine.write(Reg.EBX, ebx)
        self.engine.run(max_instructions=64)
        if not self.vectors:
            raise EngineCheckError(f"start-up probe: no exception reached the interrupt hook "
                                   f"(stopped at EIP {self.engine.read(Reg.EIP):#x})")
        return self.vectors[0]


def _locate_registers(probe: _Probe) -> dict[str, int]:
    eng = probe.engine
    for name, mark in _PROBE_MARKS.items():
        eng.write(Reg[name.upper()], mark)
    eng.write(Reg.EAX, 0xA1B2C3D4)
    eng.write(Reg.EIP, 0x0BAD)
    eng.write(Reg.EFLAGS, 0x0ED7)  # CF PF AF ZF SF TF IF DF OF (+ bit 1): a rare mix
    gdtr, idtr = Mmr(0, 0x00ABC000, 0x3FF, 0), Mmr(0, 0x00DEF000, 0x7FF, 0)
    eng.write_mmr(x86.UC_X86_REG_GDTR, gdtr)
    eng.write_mmr(x86.UC_X86_REG_IDTR, idtr)
    eng.write_raw(x86.UC_X86_REG_CR3, 0x7E5D3000)
    eng.write_raw(x86.UC_X86_REG_CR4, 0x00000690)  # OSFXSR, OSXMMEXCPT, PGE, PSE... a mix
    blob = probe.blob()
    found = {"regs": _only(_find_all(blob, _U64.pack(0xA1B2C3D4), 8), "EAX"),
             "eip": _only(_find_all(blob, _U64.pack(0x0BAD), 8), "EIP"),
             "eflags": _only(_find_all(blob, _U64.pack(0x0ED7), 8), "EFLAGS")}
    segs = [_only(_find_all(blob, _SEG.pack(mark, mark << 4, 0xFFFF, 0)[:20], 8),
                  f"the {name.upper()} descriptor cache")
            for name, mark in _PROBE_MARKS.items()]
    stride = segs[1] - segs[0]
    if stride <= 0 or any(b - a != stride for a, b in itertools.pairwise(segs)):
        raise EngineCheckError(f"start-up probe: segment caches are not evenly spaced "
                               f"({segs})")
    found.update(segs=segs[0], seg_stride=stride)
    cr3 = _only(_find_all(blob, _U64.pack(0x7E5D3000), 8), "CR3")
    if _U64.unpack_from(blob, cr3 + 8)[0] != 0x690:
        raise EngineCheckError("start-up probe: CR4 does not follow CR3 in the context")
    found["cr"] = cr3 - 3 * 8  # CR0 (CR2, CR3, CR4 follow 8 bytes apart)
    if _U64.unpack_from(blob, found["cr"])[0] != eng.read_raw(UC_REG_CR0):
        raise EngineCheckError("start-up probe: CR0 is not 3 words before CR3")
    eng.write_raw(x86.UC_X86_REG_CR4, 0)
    eng.write_raw(x86.UC_X86_REG_CR3, 0)
    for name, reg in (("gdt", gdtr), ("idt", idtr)):
        found[name] = _only(_find_all(blob, _U64.pack(reg.base) + _U32.pack(reg.limit), 8),
                            f"the {name.upper()}R cache") - 8
    # hflags: the one 32-bit word that changes by exactly HF_PE when CR0.PE is set
    before = probe.blob()  # CR3 and CR4 are back to 0: only PE changes below
    eng.write_raw(UC_REG_CR0, eng.read_raw(UC_REG_CR0) | 1)
    after = probe.blob()
    eng.write_raw(UC_REG_CR0, eng.read_raw(UC_REG_CR0) & ~1)
    found["hflags"] = _only(
        [i for i in range(0, segs[0], 4)
         if _U32.unpack_from(after, i)[0] ^ _U32.unpack_from(before, i)[0] == HF_PE],
        "hflags (the word that CR0.PE changes)")
    return found


def _locate_exception_fields(probe: _Probe, layout: dict[str, int]) -> dict[str, int]:
    """Run into #GP(1234h), then `int 33h`, and see which words hold what."""
    eng = probe.engine
    for name in SEGMENT_ORDER:
        eng.write(Reg[name.upper()], 0)
    eng.write(Reg.EFLAGS, 0x2)
    probe.ram[_GDTR_AT:_GDTR_AT + len(_GDTR)] = _GDTR
    probe.ram[_GDT_AT:_GDT_AT + len(_GDT)] = _GDT
    probe.ram[_CODE_AT:_CODE_AT + len(_REAL)] = _REAL
    probe.ram[_PM_AT:_PM_AT + len(_PM)] = _PM
    fresh = probe.blob()
    vector, first = probe.run_from(_CODE_AT, 0x1234)
    if vector != 13:
        raise EngineCheckError(f"start-up probe: loading selector 1234h raised vector "
                               f"{vector}, not #GP (13)")
    limit = len(first) - 4
    error = [i for i in range(0, limit, 4) if _I32.unpack_from(first, i)[0] == 0x1234
             and _I32.unpack_from(fresh, i)[0] != 0x1234 and i > layout["segs"]]
    old = [i for i in range(0, limit, 4) if _I32.unpack_from(first, i)[0] == 13
           and _I32.unpack_from(fresh, i)[0] == -1]
    # the same fault again, without resetting anything: the engine escalates it
    vector2, second = probe.run_from(_FAULT_AT, 0x2468)
    old = [i for i in old if _I32.unpack_from(second, i)[0] == 8]
    old_exception = _only(old, "the exception in flight (13, then 8 after a second #GP)")
    if vector2 != 8:
        raise EngineCheckError(f"start-up probe: a second #GP arrived as vector {vector2}; "
                               "this engine build does not have the double-fault record "
                               "vmgui resets, so its other behaviour is unknown")
    # reset the record as delivery does: the third fault is a plain #GP(2468h) again
    probe.ctx.save()
    _I32.pack_into(probe.ctx.view, old_exception, -1)
    probe.ctx.restore()
    vector3, third = probe.run_from(_FAULT_AT, 0x2468)
    error = [i for i in error if _I32.unpack_from(third, i)[0] == 0x2468]
    error_code = _only(error, "the error code (1234h, then 2468h)")
    if vector3 != 13:
        raise EngineCheckError(f"start-up probe: after resetting the exception in flight "
                               f"a #GP still arrived as vector {vector3}")
    _I32.pack_into(probe.ctx.save(), old_exception, -1)
    probe.ctx.restore()
    vector4, fourth = probe.run_from(_FAULT_AT + 2, 0x10)  # `int 33h` with ES loadable
    if vector4 != 0x33:
        raise EngineCheckError(f"start-up probe: int 33h arrived as vector {vector4:#x}")
    is_int = [i for i in range(0, limit, 4) if _I32.unpack_from(fourth, i)[0] == 1
              and _I32.unpack_from(third, i)[0] == 0 and error_code < i < old_exception]
    return {"error_code": error_code, "old_exception": old_exception,
            "exception_is_int": _only(is_int, "the software-interrupt flag")}


def probe_layout() -> ContextLayout:
    """Locate the hidden fields in this engine build's context (a few ms); raises
    :class:`EngineCheckError` naming what did not match."""
    probe = _Probe()
    try:
        found = _locate_registers(probe)
        found.update(_locate_exception_fields(probe, found))
    finally:
        probe.close()
    layout = ContextLayout(**found)
    log.debug("engine context layout: %s", layout)
    return layout


# ---------------------------------------------------------------------- typed access
HF_INHIBIT_IRQ = 1 << 3
EF_VM = 1 << 17


@dataclass
class Segment:
    """One segment register with its descriptor cache (flags: the descriptor's high
    word as the engine keeps it: type, S, DPL, P, AVL, D/B, G)."""

    selector: int
    base: int
    limit: int
    flags: int

    @property
    def big(self) -> bool:
        return bool(self.flags & DESC_B)


class CpuContext:
    """One engine's CPU state through the probed layout.  :meth:`save` takes a fresh
    copy; the accessors read that copy; :meth:`load` patches it and puts it back."""

    def __init__(self, engine: Engine, layout: ContextLayout) -> None:
        self.layout = layout
        self._buf = ContextBuffer(engine)
        self._view = self._buf.view
        # offsets by name, looked up once (delivery reads several per interrupt)
        self._seg_at = {name: layout.seg(name) for name in SEGMENT_ORDER}
        self._table_at = {"gdt": layout.gdt, "idt": layout.idt}

    def close(self) -> None:
        self._buf.free()

    def save(self) -> CpuContext:
        self._buf.save()
        return self

    def _u64(self, at: int) -> int:
        return _U64.unpack_from(self._view, at)[0]

    @property
    def eip(self) -> int:
        return self._u64(self.layout.eip) & 0xFFFFFFFF

    @property
    def eflags(self) -> int:
        return self._u64(self.layout.eflags) & 0xFFFFFFFF

    @property
    def hflags(self) -> int:
        return _U32.unpack_from(self._view, self.layout.hflags)[0]

    @property
    def cpl(self) -> int:
        return self.hflags & HF_CPL_MASK

    def reg(self, index: int) -> int:
        """General register by the CPU's encoding (0 EAX, 1 ECX, 2 EDX, 3 EBX, 4 ESP,
        5 EBP, 6 ESI, 7 EDI)."""
        return self._u64(self.layout.regs + 8 * index) & 0xFFFFFFFF

    def delivery_words(self) -> tuple[int, int, int, int, int, int]:
        """(CR0, hflags, IDT base, IDT limit, GDT base, GDT limit) in one go."""
        view, lay = self._view, self.layout
        idt_base, idt_limit = _TABLE.unpack_from(view, lay.idt + 8)
        gdt_base, gdt_limit = _TABLE.unpack_from(view, lay.gdt + 8)
        return (_U64.unpack_from(view, lay.cr)[0] & 0xFFFFFFFF,
                _U32.unpack_from(view, lay.hflags)[0], idt_base, idt_limit, gdt_base,
                gdt_limit)

    def selector(self, name: str) -> int:
        return _U32.unpack_from(self._view, self._seg_at[name])[0]

    def seg(self, name: str) -> Segment:
        return Segment(*_SEG.unpack_from(self._view, self._seg_at[name]))

    def table(self, name: str) -> tuple[int, int]:
        """(base, limit) of the "gdt" or "idt" register."""
        return _TABLE.unpack_from(self._view, self._table_at[name] + 8)

    def cr(self, number: int) -> int:
        """CR0, CR2, CR3 or CR4."""
        return self._u64(self.layout.cr + 8 * number) & 0xFFFFFFFF

    def seg_base(self, name: str) -> int:
        return _U64.unpack_from(self._view, self._seg_at[name] + 8)[0]

    @property
    def error_code(self) -> int:
        return _I32.unpack_from(self._view, self.layout.error_code)[0] & 0xFFFFFFFF

    @property
    def exception_is_int(self) -> bool:
        return bool(_I32.unpack_from(self._view, self.layout.exception_is_int)[0])

    @property
    def exception_in_flight(self) -> int:
        return _I32.unpack_from(self._view, self.layout.old_exception)[0]

    def _put_seg(self, name: str, seg: Segment) -> None:
        _SEG.pack_into(self._view, self._seg_at[name], seg.selector & 0xFFFF,
                       seg.base & 0xFFFFFFFF, seg.limit & 0xFFFFFFFF, seg.flags & 0xFFFFFFFF)

    def clear_exception(self) -> None:
        """Forget the exception in flight (as a CPU does once one is delivered): save,
        patch that one word, restore.  Safe inside an engine hook, since every other
        byte goes back unchanged."""
        self._buf.save()
        _I32.pack_into(self._view, self.layout.old_exception, -1)
        self._buf.restore()

    def enter(self, cs: Segment, ss: Segment, cpl: int, esp: int, eip: int,
              eflags: int) -> None:
        """:meth:`load` for an entry that keeps SS (no stack switch, not from
        virtual-8086 mode): ``ss`` is the current SS as :meth:`seg` read it, and only CS,
        ESP, EIP, EFLAGS, hflags and the exception record are written."""
        lay, view = self.layout, self._view
        _SEG.pack_into(view, self._seg_at["cs"], cs.selector & 0xFFFF, cs.base & 0xFFFFFFFF,
                       cs.limit & 0xFFFFFFFF, cs.flags & 0xFFFFFFFF)
        _U64.pack_into(view, lay.regs + 8 * 4, esp & 0xFFFFFFFF)
        _U64.pack_into(view, lay.eip, eip & 0xFFFFFFFF)
        _U64.pack_into(view, lay.eflags, eflags & 0xFFFFFFFF)
        hflags = _U32.unpack_from(view, lay.hflags)[0] & ~(
            HF_CPL_MASK | HF_CS32 | HF_SS32 | HF_ADDSEG | HF_INHIBIT_IRQ)
        hflags |= cpl | HF_PE
        big = cs.flags & DESC_B
        if big:
            hflags |= HF_CS32
        if ss.flags & DESC_B:
            hflags |= HF_SS32
        if eflags & EF_VM or not big or self.seg_base("ds") | self.seg_base("es") | ss.base:
            hflags |= HF_ADDSEG
        _U32.pack_into(view, lay.hflags, hflags)
        _I32.pack_into(view, lay.old_exception, -1)
        self._buf.restore()

    def load(self, *, cs: Segment, ss: Segment, cpl: int, esp: int, eip: int, eflags: int,
             null_data: bool = False) -> None:
        """Enter a handler: new CS and SS caches, CPL, ESP, EIP and EFLAGS, with the
        translation flags the engine derives from them; the exception in flight is
        cleared.  Call right after :meth:`save`, between engine runs."""
        lay, view = self.layout, self._view
        self._put_seg("cs", cs)
        self._put_seg("ss", ss)
        if null_data:
            for name in ("es", "ds", "fs", "gs"):
                self._put_seg(name, Segment(0, 0, 0, 0))
        _U64.pack_into(view, lay.regs + 8 * 4, esp & 0xFFFFFFFF)
        _U64.pack_into(view, lay.eip, eip & 0xFFFFFFFF)
        _U64.pack_into(view, lay.eflags, eflags & 0xFFFFFFFF)
        hflags = self.hflags & ~(HF_CPL_MASK | HF_CS32 | HF_SS32 | HF_ADDSEG | HF_INHIBIT_IRQ)
        hflags |= cpl | HF_PE
        if cs.big:
            hflags |= HF_CS32
        if ss.big:
            hflags |= HF_SS32
        if eflags & EF_VM or not cs.big:
            hflags |= HF_ADDSEG
        elif self.seg_base("ds") | self.seg_base("es") | ss.base:
            hflags |= HF_ADDSEG
        _U32.pack_into(view, lay.hflags, hflags)
        _I32.pack_into(view, lay.old_exception, -1)
        self._buf.restore()
