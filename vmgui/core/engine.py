"""The Unicorn engine, wrapped for an x86 PC: the only module that talks to libunicorn.

Owns: opening an x86 engine in UC_MODE_32 and switching it to real mode, mapping host
buffers as guest memory, fast register access through raw ctypes calls (the Python
binding's reg_read costs ~2.5 us; a direct call ~0.4 us), hooks as handles that undo
themselves, the safe stop (native block hook from vmgui.core._stophook, or a slicing
fallback), and context save/restore.

Thread rule: an Engine is used from its emulation thread only, except
:meth:`request_stop`, which any thread may call.
Reference: unicorn 2.1.4 (pinned) include/unicorn/unicorn.h and x86.h.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from collections.abc import Callable

import unicorn
from unicorn import unicorn_const as ucc
from unicorn import x86_const as x86
from unicorn.unicorn_py3.unicorn import uclib as _binding_lib

from vmgui.bios.api import Reg
from vmgui.core.fasttlb import FastTlb

log = logging.getLogger(__name__)

UNICORN_VERSION = "2.1.4"

_c_u64 = ctypes.c_uint64
_LITTLE = sys.byteorder == "little"
_HOOK_INTR = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p)
_HOOK_CODE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint32,
                              ctypes.c_void_p)
_HOOK_INSN_INVALID = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.c_void_p)
_HOOK_IN = ctypes.CFUNCTYPE(ctypes.c_uint32, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                            ctypes.c_void_p)
_HOOK_OUT = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                             ctypes.c_uint32, ctypes.c_void_p)
_MMIO_READ = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint,
                              ctypes.c_void_p)
_MMIO_WRITE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint,
                               ctypes.c_uint64, ctypes.c_void_p)
_HOOK_INSN_SKIP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
_HOOK_SYSCALL = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
_HOOK_MEM_INVALID = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.c_int,
                                     ctypes.c_uint64, ctypes.c_int, ctypes.c_int64,
                                     ctypes.c_void_p)

# vmgui register ids -> unicorn ids
_UC_REG = {
    Reg.EAX: x86.UC_X86_REG_EAX, Reg.EBX: x86.UC_X86_REG_EBX, Reg.ECX: x86.UC_X86_REG_ECX,
    Reg.EDX: x86.UC_X86_REG_EDX, Reg.ESI: x86.UC_X86_REG_ESI, Reg.EDI: x86.UC_X86_REG_EDI,
    Reg.EBP: x86.UC_X86_REG_EBP, Reg.ESP: x86.UC_X86_REG_ESP, Reg.EIP: x86.UC_X86_REG_EIP,
    Reg.EFLAGS: x86.UC_X86_REG_EFLAGS, Reg.CS: x86.UC_X86_REG_CS, Reg.DS: x86.UC_X86_REG_DS,
    Reg.ES: x86.UC_X86_REG_ES, Reg.SS: x86.UC_X86_REG_SS, Reg.FS: x86.UC_X86_REG_FS,
    Reg.GS: x86.UC_X86_REG_GS,
}
SLICE_INSTRUCTIONS = 200_000
NO_CODE_BELOW = 0x500  # the IVT and BDA hold no code: writes there need no flush
VGA_WINDOW = (0xA0000, 0xC0000)
# uc_ctl(UC_CTL_TB_REMOVE_CACHE) as a write with 2 arguments: (IO_WRITE << 30) | (2 << 26)
_CTL_REMOVE_CACHE = (ucc.UC_CTL_IO_WRITE << 30) | (2 << 26) | ucc.UC_CTL_TB_REMOVE_CACHE
# uc_ctl(UC_CTL_TLB_FLUSH / UC_CTL_TB_FLUSH) as writes without arguments
_CTL_TLB_FLUSH = (ucc.UC_CTL_IO_WRITE << 30) | ucc.UC_CTL_TLB_FLUSH
_CTL_TB_FLUSH = (ucc.UC_CTL_IO_WRITE << 30) | ucc.UC_CTL_TB_FLUSH
# uc_ctl(UC_CTL_TCG_BUFFER_SIZE) as a write with 1 argument (uint32 bytes), and its read
_CTL_SET_TCG_BUFFER = (ucc.UC_CTL_IO_WRITE << 30) | (1 << 26) | ucc.UC_CTL_TCG_BUFFER_SIZE
_CTL_GET_TCG_BUFFER = (ucc.UC_CTL_IO_READ << 30) | (1 << 26) | ucc.UC_CTL_TCG_BUFFER_SIZE
DEFAULT_CODE_CACHE_MB = 128
# uc_ctl(UC_CTL_CPU_MODEL) as a write with 1 argument; honoured only before the first use
_CTL_SET_CPU_MODEL = (ucc.UC_CTL_IO_WRITE << 30) | (1 << 26) | ucc.UC_CTL_CPU_MODEL
# uc_ctl(UC_CTL_UC_USE_EXITS) as a write with 1 argument: exits come from a set (left empty)
_CTL_USE_EXITS = (ucc.UC_CTL_IO_WRITE << 30) | (1 << 26) | ucc.UC_CTL_UC_USE_EXITS
CR0_PG = 0x80000000
CPU_MODELS = {"pentium": x86.UC_CPU_X86_PENTIUM, "pentium2": x86.UC_CPU_X86_PENTIUM2,
              "pentium3": x86.UC_CPU_X86_PENTIUM3}
"""CPU models by name (QEMU's builtin_x86_defs entries): they decide which instructions
the engine runs (CMOV, MMX, SSE... are #UD where the model lacks them) and what its own
CPUID says.  Without one, unicorn 2.1.4 picks a Haswell-class model."""
MAX_CONTEXT_HEADER = 256  # struct uc_context before its data[]: 40 bytes in 2.1.4
UC_REG_CR0 = x86.UC_X86_REG_CR0
UC_REG_CR3 = x86.UC_X86_REG_CR3
_SEGMENTS = (Reg.CS, Reg.DS, Reg.ES, Reg.SS, Reg.FS, Reg.GS)
CR0_INDEX = len(Reg)  # position of CR0 in read_all()
BATCH_COUNT = len(Reg) + 1


class _Msr(ctypes.Structure):
    """struct uc_x86_msr of unicorn/x86.h."""

    _fields_ = [("rid", ctypes.c_uint32), ("value", ctypes.c_uint64)]


class ContextError(ValueError):
    """A saved CPU context does not fit this engine build."""


class EngineError(RuntimeError):
    """libunicorn returned an error; ``code`` is the uc_err value."""

    def __init__(self, what: str, code: int) -> None:
        self.code = code
        super().__init__(f"{what}: {_strerror(code)} (uc_err {code})")


def _load_lib() -> ctypes.CDLL:
    lib = ctypes.CDLL(_binding_lib._name)
    vp, u64, u32, s32 = ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint32, ctypes.c_int32
    sigs = {
        "uc_open": (s32, [u32, u32, ctypes.POINTER(vp)]),
        "uc_close": (s32, [vp]),
        "uc_reg_read": (s32, [vp, s32, vp]),
        "uc_reg_write": (s32, [vp, s32, vp]),
        "uc_reg_read_batch": (s32, [vp, vp, vp, s32]),
        "uc_reg_write_batch": (s32, [vp, vp, vp, s32]),
        "uc_mem_map_ptr": (s32, [vp, u64, ctypes.c_size_t, u32, vp]),
        "uc_mem_unmap": (s32, [vp, u64, ctypes.c_size_t]),
        "uc_mmio_map": (s32, [vp, u64, ctypes.c_size_t, vp, vp, vp, vp]),
        "uc_mem_read": (s32, [vp, u64, vp, ctypes.c_size_t]),
        "uc_mem_write": (s32, [vp, u64, vp, ctypes.c_size_t]),
        "uc_emu_start": (s32, [vp, u64, u64, u64, ctypes.c_size_t]),
        "uc_emu_stop": (s32, [vp]),
        "uc_hook_del": (s32, [vp, ctypes.c_size_t]),
        "uc_context_alloc": (s32, [vp, ctypes.POINTER(vp)]),
        "uc_context_save": (s32, [vp, vp]),
        "uc_context_restore": (s32, [vp, vp]),
        "uc_context_size": (ctypes.c_size_t, [vp]),
        "uc_context_free": (s32, [vp]),
        "uc_free": (s32, [vp]),
        "uc_strerror": (ctypes.c_char_p, [s32]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    # uc_hook_add and uc_ctl are variadic: no argtypes.
    lib.uc_hook_add.restype = s32
    lib.uc_ctl.restype = s32
    return lib


_LIB = _load_lib()  # immutable after import: a handle to the shared library


def _load_hot() -> ctypes.CDLL:
    """A second handle whose functions have no argtypes: hot paths pass ready-made ctypes
    objects, which skips ctypes' per-call conversion (0.58 -> 0.33 us a call here)."""
    lib = ctypes.CDLL(_binding_lib._name)
    for name in ("uc_reg_read", "uc_reg_write", "uc_reg_read_batch", "uc_reg_write_batch"):
        getattr(lib, name).restype = ctypes.c_int
    return lib


_HOT = _load_hot()
_C_INTS = tuple(ctypes.c_int(i) for i in range(256))  # immutable: counts and register ids


def _strerror(code: int) -> str:
    return _LIB.uc_strerror(code).decode("ascii", "replace")


class StopControl(ctypes.Structure):
    """Mirror of ``vmgui_stop_ctl`` in _stophook.c."""

    _fields_ = [
        ("stop", ctypes.c_int32),
        ("stopped_by", ctypes.c_int32),
        ("blocks", ctypes.c_uint64),
        ("limit", ctypes.c_uint64),
        ("emu_stop", ctypes.c_void_p),
        ("emu_start", ctypes.c_void_p),
        ("crash_signal", ctypes.c_int32),
        ("reserved", ctypes.c_int32),
        ("crash_address", ctypes.c_uint64),
        ("crash_pc", ctypes.c_uint64),
        ("deadline_ns", ctypes.c_uint64),  # host monotonic ns at which to stop; 0 = none
        ("reg_read", ctypes.c_void_p),
        ("eflags_reg", ctypes.c_int32),
        ("irq_wait", ctypes.c_int32),  # 1: stop at the first block that runs with IF set
    ]


_GUARDED_START = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(StopControl), ctypes.c_void_p,
                                  ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64,
                                  ctypes.c_size_t)
STOPPED_AT_IRQ_WINDOW = 4  # StopControl.stopped_by: IF came on while irq_wait was set
ENGINE_CRASHED = -1  # Engine.run's result when the crash guard caught a host signal


class EngineCrash(RuntimeError):
    """libunicorn itself faulted (a host signal inside uc_emu_start) and the crash guard
    caught it.  The engine is unusable afterwards; its registers can still be read."""

    def __init__(self, signal_number: int, address: int, host_pc: int) -> None:
        self.signal_number = signal_number
        self.address = address
        self.host_pc = host_pc
        super().__init__(f"the CPU engine crashed ({_signal_name(signal_number)} at host "
                         f"address {address:#x}{_where(host_pc)})")


def _signal_name(number: int) -> str:
    import signal

    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _where(host_pc: int) -> str:
    """' in libunicorn.so.2+0x1234' for a host code address, from /proc/self/maps."""
    if not host_pc:
        return ""
    try:
        with open("/proc/self/maps", encoding="ascii", errors="replace") as maps:
            for line in maps:
                fields = line.split()
                start, end = (int(x, 16) for x in fields[0].split("-"))
                if start <= host_pc < end and len(fields) >= 6:
                    name = fields[5].rsplit("/", 1)[-1]
                    return f", code in {name}+{host_pc - start + int(fields[2], 16):#x}"
    except (OSError, ValueError, IndexError):
        pass
    return f", code at {host_pc:#x}"


def _native_hooks() -> tuple[int, int] | None:
    """(block hook address, guarded emu_start address) from the built extension, with
    the crash guard's signal handlers installed; None without the extension."""
    try:
        from vmgui.core import _stophook
    except ImportError:
        return None
    if _stophook.ctl_size() != ctypes.sizeof(StopControl):
        log.warning("native stop hook has a different struct layout; not using it")
        return None
    _stophook.install_guard()
    return _stophook.hook_address(), _stophook.guarded_start_address()


class Mmr(ctypes.Structure):
    """unicorn's uc_x86_mmr: a descriptor-table or system-segment register (GDTR,
    IDTR, LDTR, TR)."""

    _fields_ = [("selector", ctypes.c_uint16), ("base", ctypes.c_uint64),
                ("limit", ctypes.c_uint32), ("flags", ctypes.c_uint32)]


class ContextBuffer:
    """One reusable uc_context of an engine, for reading and patching CPU state that
    no register id reaches (segment descriptor caches, the pending error code, the
    engine's "exception in flight").  :attr:`data` is a writable view of the CPU-state
    bytes after the context header; :meth:`save` fills it, :meth:`restore` copies it back
    into the CPU (nothing else: no TLB or translation flush).  Offsets into it come from
    :mod:`vmgui.core.cpustate`'s start-up probe, never from assumptions."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        total, header = engine._context_layout()
        self._ctx = engine._context_alloc()
        self.header = header
        self.data = (ctypes.c_char * (total - header)).from_address(self._ctx.value + header)
        self.view = memoryview(self.data).cast("B")

    def save(self) -> memoryview:
        err = _LIB.uc_context_save(self._engine._uc, self._ctx)
        if err:
            raise EngineError("uc_context_save", err)
        return self.view

    def restore(self) -> None:
        err = _LIB.uc_context_restore(self._engine._uc, self._ctx)
        if err:
            raise EngineError("uc_context_restore", err)

    def free(self) -> None:
        if self._ctx is not None:
            self.view.release()
            _LIB.uc_context_free(self._ctx)
            self._ctx = None


class HookHandle:
    """Undoes one hook registration; keeps its ctypes callback alive until then."""

    def __init__(self, engine: Engine, handle: int, keepalive: object) -> None:
        self._engine = engine
        self._handle = handle
        self._keepalive = keepalive

    def remove(self) -> None:
        if self._handle is not None and self._engine._uc:
            _LIB.uc_hook_del(self._engine._uc, self._handle)
        self._handle = None
        self._keepalive = None


class Engine:
    """An x86 unicorn engine in real mode (UC_MODE_32 with CR0.PE clear)."""

    def __init__(self, *, use_native_stop: bool = True,
                 code_cache_mb: int = DEFAULT_CODE_CACHE_MB,
                 cpu_model: str | None = None) -> None:
        """``cpu_model``: a name of :data:`CPU_MODELS`, or None for unicorn's default.
        ``code_cache_mb``: the size of the buffer for translated code.  unicorn's
        default is 1 GiB, and a guest that keeps running new code (garbage, or code it
        rewrites) fills all of it: the process grew to 1.1 GB.  When the buffer is full
        the engine drops every translation and starts over, so a smaller one only costs
        retranslation."""
        if cpu_model is not None and cpu_model not in CPU_MODELS:
            raise ValueError(f"CPU model {cpu_model!r} is unknown to the engine "
                             f"(known: {', '.join(CPU_MODELS)})")
        uc = ctypes.c_void_p()
        err = _LIB.uc_open(ucc.UC_ARCH_X86, ucc.UC_MODE_32, ctypes.byref(uc))
        if err:
            raise EngineError("uc_open", err)
        self._uc = uc
        if cpu_model is not None:
            self._set_cpu_model(cpu_model)
        # No exit address.  With uc_emu_start's `until` (even one never reached), every
        # return from the engine drops the code at until-1 and, to find it, translates
        # that address through the guest's page tables (measured with paging on: a page
        # fault each time, CR2 = FFFFFFFEh, the error code overwritten, and the fault
        # recorded as "in flight", so the guest's next #PF became a #DF and the one
        # after that stopped the engine for good: KolibriOS hung in its first system
        # call).  An empty exit set has nothing to drop.
        err = _LIB.uc_ctl(uc, _CTL_USE_EXITS, ctypes.c_int(1))
        if err:
            _LIB.uc_close(uc)
            raise EngineError("turn off the engine's exit address", err)
        # Only honoured before the engine's first use (it allocates the buffer then).
        err = _LIB.uc_ctl(uc, _CTL_SET_TCG_BUFFER, ctypes.c_uint32(code_cache_mb << 20))
        if err:
            raise EngineError(f"set the code cache to {code_cache_mb} MiB", err)
        self._val = _c_u64()
        self._val_ref = ctypes.byref(self._val)
        self._reg_ids = {reg: _UC_REG[reg] for reg in Reg}
        self._uc_ids = [_UC_REG[reg] for reg in Reg]
        self._c_ids = [ctypes.c_int(_UC_REG[reg]) for reg in Reg]
        self._batch_ids = (ctypes.c_int * BATCH_COUNT)(*[_UC_REG[r] for r in Reg], UC_REG_CR0)
        self._batch_vals = (ctypes.c_uint64 * BATCH_COUNT)()
        base = ctypes.addressof(self._batch_vals)
        self._batch_ptrs = (ctypes.c_void_p * BATCH_COUNT)(*[base + 8 * i
                                                            for i in range(BATCH_COUNT)])
        self._wbatch_ids = (ctypes.c_int * BATCH_COUNT)()
        self._wbatch_vals = (ctypes.c_uint64 * BATCH_COUNT)()
        wbase = ctypes.addressof(self._wbatch_vals)
        self._wbatch_ptrs = (ctypes.c_void_p * BATCH_COUNT)(*[wbase + 8 * i
                                                             for i in range(BATCH_COUNT)])
        self._hooks: list[HookHandle] = []
        self._mapped: dict[int, object] = {}  # guest address -> buffer or callbacks kept alive
        self.stop_ctl = StopControl()
        self._stop_asked = False  # stop_now() was called during the current run
        self.stop_ctl.emu_stop = ctypes.cast(_LIB.uc_emu_stop, ctypes.c_void_p).value
        self.stop_ctl.emu_start = ctypes.cast(_LIB.uc_emu_start, ctypes.c_void_p).value
        self.stop_ctl.reg_read = ctypes.cast(_LIB.uc_reg_read, ctypes.c_void_p).value
        self.stop_ctl.eflags_reg = _UC_REG[Reg.EFLAGS]
        self._stop_ctl_ref = ctypes.pointer(self.stop_ctl)
        self.crash: EngineCrash | None = None  # set when the crash guard caught a fault
        native = _native_hooks()
        self._guarded_start = _GUARDED_START(native[1]) if native else None
        addr = native[0] if native and use_native_stop else None
        self.native_stop = addr is not None
        if self.native_stop:
            handle = ctypes.c_size_t()
            err = _LIB.uc_hook_add(uc, ctypes.byref(handle), ucc.UC_HOOK_BLOCK,
                                   ctypes.c_void_p(addr), ctypes.byref(self.stop_ctl),
                                   _c_u64(1), _c_u64(0))
            if err:
                raise EngineError("uc_hook_add(native block hook)", err)
        else:
            log.warning("native stop hook unavailable: using instruction-count slicing "
                        "(slower, still safe)")
        # data-only TLB entries while paging is off: fast guest stores (vmgui.core.fasttlb)
        self.fast_tlb = FastTlb.install(_LIB, uc) if self.native_stop else None
        self.enter_real_mode()
        self._initial_cr4 = self.read_raw(x86.UC_X86_REG_CR4)

    def _set_cpu_model(self, name: str) -> None:
        err = _LIB.uc_ctl(self._uc, _CTL_SET_CPU_MODEL, ctypes.c_int(CPU_MODELS[name]))
        if err:
            _LIB.uc_close(self._uc)
            raise EngineError(f"select CPU model {name}", err)

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        if self.crash is not None:
            # The translator's state is damaged: uc_close could fault in turn.  Leave the
            # engine (and the buffers it maps) allocated; the process ends soon after.
            self._uc = None
            self._hooks.clear()
            return
        for hook in self._hooks:
            hook.remove()
        self._hooks.clear()
        if self._uc:
            _LIB.uc_close(self._uc)
            self._uc = None
        self._mapped.clear()

    def enter_real_mode(self) -> None:
        """Clear CR0.PE (and PG) and reload every segment so real-mode descriptors
        replace the flat 32-bit ones cached when the engine was created."""
        self.write_raw(UC_REG_CR0, self.read_raw(UC_REG_CR0) & ~0x80000001)
        for seg in _SEGMENTS:
            self.write(seg, 0)

    def reset_cpu(self) -> None:
        """What a CPU reset puts back besides real mode: CR2/CR3 zero, CR4 as at start, the
        descriptor-table registers at their reset values (IDTR 0:3FFh, GDTR 0:FFFFh, no
        LDT or task register), so a guest's protected-mode tables do not outlive it."""
        self.enter_real_mode()
        for reg in (x86.UC_X86_REG_CR3, x86.UC_X86_REG_CR2):
            self.write_raw(reg, 0)
        # CR4 as the engine starts (unicorn sets OSFXSR, so SSE code runs in real mode
        # as it always has on vmgui), not what the guest left
        self.write_raw(x86.UC_X86_REG_CR4, self._initial_cr4)
        self.write_mmr(x86.UC_X86_REG_IDTR, Mmr(0, 0, 0x3FF, 0))
        self.write_mmr(x86.UC_X86_REG_GDTR, Mmr(0, 0, 0xFFFF, 0))
        self.write_mmr(x86.UC_X86_REG_LDTR, Mmr(0, 0, 0xFFFF, 0x8200))
        self.write_mmr(x86.UC_X86_REG_TR, Mmr(0, 0, 0xFFFF, 0x8B00))
        self.flush_translations()

    # ------------------------------------------------------------------ registers
    def read(self, reg: Reg) -> int:
        # unicorn stores only as many bytes as the register has (2 for a segment):
        # clear the buffer so no bytes of an earlier, wider value survive
        self._val.value = 0
        _HOT.uc_reg_read(self._uc, self._c_ids[reg], self._val_ref)
        return self._val.value

    def write(self, reg: Reg, value: int) -> None:
        self._val.value = value
        _HOT.uc_reg_write(self._uc, self._c_ids[reg], self._val_ref)

    def read_all(self) -> list[int]:
        """Every register of :class:`Reg` plus CR0 (index ``CR0_INDEX``) in one call.
        (Each slot always receives the same register, so the bytes unicorn does not
        write for a narrow register stay zero: no clearing needed.)"""
        _HOT.uc_reg_read_batch(self._uc, self._batch_ids, self._batch_ptrs,
                               _C_INTS[BATCH_COUNT])
        return self._batch_vals[:]

    def write_some(self, values: list[int], mask: int) -> None:
        """Write back the registers whose bit (1 << Reg) is set in ``mask``, in one call."""
        if not mask & (mask - 1):  # a single register: one plain write is cheaper
            reg = mask.bit_length() - 1
            self.write(reg, values[reg])
            return
        n = 0
        ids, vals, uc_ids = self._wbatch_ids, self._wbatch_vals, self._uc_ids
        while mask:  # lowest bit first: segments (Reg 0-5) before EIP
            low = mask & -mask
            reg = low.bit_length() - 1
            ids[n] = uc_ids[reg]
            vals[n] = values[reg]
            n += 1
            mask ^= low
        if n:
            _HOT.uc_reg_write_batch(self._uc, ids, self._wbatch_ptrs, _C_INTS[n])

    def read_raw(self, uc_reg: int) -> int:
        self._val.value = 0
        _HOT.uc_reg_read(self._uc, _C_INTS[uc_reg] if uc_reg < len(_C_INTS)
                         else ctypes.c_int(uc_reg), self._val_ref)
        return self._val.value

    def write_raw(self, uc_reg: int, value: int) -> None:
        self._val.value = value
        _LIB.uc_reg_write(self._uc, uc_reg, self._val_ref)

    def read_mmr(self, uc_reg: int) -> Mmr:
        """GDTR, IDTR, LDTR or TR (``UC_X86_REG_*``)."""
        value = Mmr()
        err = _LIB.uc_reg_read(self._uc, uc_reg, ctypes.byref(value))
        if err:
            raise EngineError(f"read register {uc_reg}", err)
        return value

    def write_mmr(self, uc_reg: int, value: Mmr) -> None:
        err = _LIB.uc_reg_write(self._uc, uc_reg, ctypes.byref(value))
        if err:
            raise EngineError(f"write register {uc_reg}", err)

    # ------------------------------------------------------------------ memory
    def map_buffer(self, address: int, buffer: object, offset: int, size: int,
                   perms: int = ucc.UC_PROT_ALL) -> None:
        """Map ``size`` bytes of a writable host buffer (starting at ``offset``) at guest
        physical ``address``.  The guest and the host then share those bytes."""
        base = ctypes.addressof(ctypes.c_char.from_buffer(buffer, offset))
        err = _LIB.uc_mem_map_ptr(self._uc, address, size, perms, ctypes.c_void_p(base))
        if err:
            raise EngineError(f"map {size:#x} bytes at {address:#x}", err)
        self._mapped[address] = buffer

    def map_mmio(self, address: int, size: int, read: Callable[[int, int], int],
                 write: Callable[[int, int, int], None]) -> None:
        """Have ``read(offset, size) -> value`` and ``write(offset, size, value)`` answer
        every guest access to ``size`` bytes at ``address`` (offsets from ``address``;
        about 1.5 us an access).  The callbacks must not raise."""
        rd = _MMIO_READ(lambda uc, offset, width, ud: read(offset, width))
        wr = _MMIO_WRITE(lambda uc, offset, width, value, ud: write(offset, width, value))
        err = _LIB.uc_mmio_map(self._uc, address, size, ctypes.cast(rd, ctypes.c_void_p), None,
                               ctypes.cast(wr, ctypes.c_void_p), None)
        if err:
            raise EngineError(f"map {size:#x} bytes of I/O memory at {address:#x}", err)
        self._mapped[address] = (rd, wr)

    def unmap(self, address: int, size: int) -> None:
        err = _LIB.uc_mem_unmap(self._uc, address, size)
        if err:
            raise EngineError(f"unmap {size:#x} bytes at {address:#x}", err)
        self._mapped.pop(address, None)

    def mem_write(self, address: int, data: bytes) -> None:
        """Write guest memory and drop translated code that covered it.

        uc_mem_write does not invalidate translation blocks (measured: code rewritten by
        it keeps executing the old instructions), so a disk read over code that already
        ran, or a program loaded where another one ran, needs the explicit flush."""
        err = _LIB.uc_mem_write(self._uc, address, data, len(data))
        if err:
            raise EngineError(f"write {len(data)} bytes at {address:#x}", err)
        end = address + len(data)
        if end > NO_CODE_BELOW and not VGA_WINDOW[0] <= address < VGA_WINDOW[1]:
            self.invalidate_code(address, end)

    def invalidate_code(self, begin: int, end: int) -> None:
        """Forget translated code for guest physical addresses [begin, end).

        The engine takes a linear address here and finds its page through the guest's
        page tables, as an instruction fetch would: with paging on, a physical address
        taken as linear names the wrong page, or none (then the engine raises a page
        fault from inside this call, recorded as the guest's own).  So with paging on,
        paging is switched off for the call (each switch empties the TLB, so the
        lookup is the identity), and back on."""
        if self.fast_tlb is not None and not self.fast_tlb.may_hold_code(begin, end):
            # nothing to drop; asking the engine would mark the pages as code (it looks
            # them up as instruction fetches) and keep the guest's stores there slow
            return
        cr0 = self.read_raw(UC_REG_CR0)
        if cr0 & CR0_PG:
            self.write_raw(UC_REG_CR0, cr0 & ~CR0_PG)
            try:
                err = _LIB.uc_ctl(self._uc, _CTL_REMOVE_CACHE, _c_u64(begin), _c_u64(end))
            finally:
                self.write_raw(UC_REG_CR0, cr0)
        else:
            err = _LIB.uc_ctl(self._uc, _CTL_REMOVE_CACHE, _c_u64(begin), _c_u64(end))
        if err:
            raise EngineError(f"invalidate code {begin:#x}-{end:#x}", err)

    def mem_read(self, address: int, size: int) -> bytes:
        buf = ctypes.create_string_buffer(size)
        err = _LIB.uc_mem_read(self._uc, address, buf, size)
        if err:
            raise EngineError(f"read {size} bytes at {address:#x}", err)
        return buf.raw

    # ------------------------------------------------------------------ hooks
    def _add_hook(self, htype: int, cb: object, begin: int, end: int, *extra: object) -> HookHandle:
        handle = ctypes.c_size_t()
        err = _LIB.uc_hook_add(self._uc, ctypes.byref(handle), htype, cb, None,
                               _c_u64(begin), _c_u64(end), *extra)
        if err:
            raise EngineError(f"uc_hook_add(type {htype})", err)
        hook = HookHandle(self, handle.value, cb)
        self._hooks.append(hook)
        return hook

    def hook_interrupt(self, fn: Callable[[int], None]) -> HookHandle:
        """``fn(vector)`` for every ``int n`` and CPU exception."""
        return self._add_hook(ucc.UC_HOOK_INTR, _HOOK_INTR(lambda uc, vector, ud: fn(vector)),
                              1, 0)

    def hook_code(self, fn: Callable[[int], None], begin: int, end: int) -> HookHandle:
        """``fn(linear_address)`` before each instruction in [begin, end]."""
        cb = _HOOK_CODE(lambda uc, addr, size, ud: fn(addr))
        return self._add_hook(ucc.UC_HOOK_CODE, cb, begin, end)

    def hook_invalid_insn(self, fn: Callable[[], bool]) -> HookHandle:
        return self._add_hook(ucc.UC_HOOK_INSN_INVALID,
                              _HOOK_INSN_INVALID(lambda uc, ud: fn()), 1, 0)

    def hook_port_in(self, fn: Callable[[int, int], int]) -> HookHandle:
        cb = _HOOK_IN(lambda uc, port, size, ud: fn(port, size))
        return self._add_hook(ucc.UC_HOOK_INSN, cb, 1, 0, ctypes.c_int(x86.UC_X86_INS_IN))

    def hook_port_out(self, fn: Callable[[int, int, int], None]) -> HookHandle:
        cb = _HOOK_OUT(lambda uc, port, size, value, ud: fn(port, size, value))
        return self._add_hook(ucc.UC_HOOK_INSN, cb, 1, 0, ctypes.c_int(x86.UC_X86_INS_OUT))

    def hook_cpuid(self, fn: Callable[[], bool]) -> HookHandle:
        """``fn()`` before each CPUID; True: it has set EAX-EDX, skip the engine's own."""
        return self._add_hook(ucc.UC_HOOK_INSN, _HOOK_INSN_SKIP(lambda uc, ud: fn()), 1, 0,
                               ctypes.c_int(x86.UC_X86_INS_CPUID))

    def hook_rdtsc(self, fn: Callable[[], bool]) -> HookHandle:
        """``fn()`` before each RDTSC; True: it has set EDX:EAX, skip the engine's own
        (which reads the host's time-stamp counter)."""
        return self._add_hook(ucc.UC_HOOK_INSN, _HOOK_INSN_SKIP(lambda uc, ud: fn()), 1, 0,
                               ctypes.c_int(x86.UC_X86_INS_RDTSC))

    def hook_rdtscp(self, fn: Callable[[], bool]) -> HookHandle:
        """As :meth:`hook_rdtsc` for RDTSCP; skipping it, ``fn`` also sets ECX (TSC_AUX)."""
        return self._add_hook(ucc.UC_HOOK_INSN, _HOOK_INSN_SKIP(lambda uc, ud: fn()), 1, 0,
                               ctypes.c_int(x86.UC_X86_INS_RDTSCP))

    def hook_sysenter(self, fn: Callable[[], None]) -> HookHandle:
        """``fn()`` when the guest runs SYSENTER.  The engine (unicorn 2.1.4) only calls
        hooks there and then adds the instruction's length to EIP: ``fn`` does the rest."""
        return self._add_hook(ucc.UC_HOOK_INSN, _HOOK_SYSCALL(lambda uc, ud: fn()), 1, 0,
                              ctypes.c_int(x86.UC_X86_INS_SYSENTER))

    def write_msr(self, index: int, value: int) -> None:
        err = _LIB.uc_reg_write(self._uc, x86.UC_X86_REG_MSR, ctypes.byref(_Msr(index, value)))
        if err:
            raise EngineError(f"write MSR {index:#x}", err)

    def read_msr(self, index: int) -> int:
        """A model-specific register (e.g. C0000103h, TSC_AUX)."""
        msr = _Msr(index, 0)
        err = _LIB.uc_reg_read(self._uc, x86.UC_X86_REG_MSR, ctypes.byref(msr))
        if err:
            raise EngineError(f"read MSR {index:#x}", err)
        return msr.value

    def hook_mem_invalid(self, fn: Callable[[int, int, int, int], bool]) -> HookHandle:
        """``fn(access_type, address, size, value) -> handled`` on unmapped/protected access."""
        cb = _HOOK_MEM_INVALID(lambda uc, acc, addr, size, value, ud: fn(acc, addr, size, value))
        return self._add_hook(ucc.UC_HOOK_MEM_INVALID, cb, 1, 0)

    # ------------------------------------------------------------------ CPU context
    def _context_layout(self) -> tuple[int, int]:
        """(whole uc_context size, header size).  uc_context_size() counts the header
        (struct uc_context: context_size, mode, arch, snapshot level, two pointers) plus
        the copy of CPUX86State up to end_reset_fields; the header's first field is that
        copy's size.  Checked here, not assumed: a build with another layout must fail
        loudly rather than misplace the registers."""
        total = _LIB.uc_context_size(self._uc)
        ctx = self._context_alloc()
        try:
            data_size = ctypes.c_size_t.from_address(ctx.value).value
        finally:
            _LIB.uc_context_free(ctx)
        header = total - data_size
        if not 0 < header <= MAX_CONTEXT_HEADER or header % ctypes.sizeof(ctypes.c_size_t):
            raise ContextError(f"unexpected uc_context layout in this unicorn build: "
                               f"{total} bytes in all, {data_size} of CPU state")
        return total, header

    def _context_alloc(self) -> ctypes.c_void_p:
        if not self._uc:
            raise EngineError("uc_context_alloc", ucc.UC_ERR_HANDLE)
        ctx = ctypes.c_void_p()
        err = _LIB.uc_context_alloc(self._uc, ctypes.byref(ctx))
        if err:
            raise EngineError("uc_context_alloc", err)
        return ctx

    def context_size(self) -> int:
        """Bytes of a :meth:`context_save` blob in this engine build."""
        if not self._uc:
            raise EngineError("uc_context_size", ucc.UC_ERR_HANDLE)
        return _LIB.uc_context_size(self._uc)

    def context_save(self) -> bytes:
        """The CPU state (registers, segment caches, control registers, FPU/SSE...) as a
        raw copy of unicorn's uc_context, header included.  Only valid for the same
        unicorn build (see :data:`UNICORN_VERSION`); call between engine runs."""
        ctx = self._context_alloc()
        try:
            err = _LIB.uc_context_save(self._uc, ctx)
            if err:
                raise EngineError("uc_context_save", err)
            return ctypes.string_at(ctx.value, _LIB.uc_context_size(self._uc))
        finally:
            _LIB.uc_context_free(ctx)

    def context_restore(self, blob: bytes) -> None:
        """Load a :meth:`context_save` blob, possibly from another Engine of the same
        build.  Only the CPU state part is copied: the header of the blob holds pointers
        into the engine that saved it, so a fresh header from this engine is kept.
        Afterwards no translation of the old state survives: CR3 is written back, the
        TLB and all translated code are dropped (uc_context_restore only copies
        CPUX86State; QEMU's TLB lives outside it)."""
        total, header = self._context_layout()
        if len(blob) != total:
            raise ContextError(f"saved CPU state is {len(blob)} bytes, "
                               f"this engine build uses {total}")
        size_t = ctypes.sizeof(ctypes.c_size_t)
        if int.from_bytes(blob[:size_t], "little" if _LITTLE else "big") != total - header:
            raise ContextError("saved CPU state has another layout than this engine build")
        ctx = self._context_alloc()
        try:
            ctypes.memmove(ctx.value + header, blob[header:], total - header)
            err = _LIB.uc_context_restore(self._uc, ctx)
            if err:
                raise EngineError("uc_context_restore", err)
        finally:
            _LIB.uc_context_free(ctx)
        self.write_raw(UC_REG_CR3, self.read_raw(UC_REG_CR3))  # flushes when paging is on
        self.flush_translations()

    def flush_translations(self) -> None:
        """Drop every TLB entry and every translated block (both are rebuilt on demand);
        the TLB goes back to vmgui's fill hook (its code page marks start afresh)."""
        if self.fast_tlb is not None:
            self.fast_tlb.reset()
        for what, ctl in (("TLB flush", _CTL_TLB_FLUSH), ("TB flush", _CTL_TB_FLUSH)):
            err = _LIB.uc_ctl(self._uc, ctl)
            if err:
                raise EngineError(what, err)

    def code_cache_bytes(self) -> int:
        """The size of the translated-code buffer, as the engine reports it."""
        value = ctypes.c_uint32()
        err = _LIB.uc_ctl(self._uc, _CTL_GET_TCG_BUFFER, ctypes.byref(value))
        if err:
            raise EngineError("read the code cache size", err)
        return value.value

    # ------------------------------------------------------------------ running
    def run(self, *, max_instructions: int = 0) -> int:
        """Run from CS:EIP until stopped (flag, budget, HLT, error).  Returns uc_err, or
        :data:`ENGINE_CRASHED` when libunicorn faulted (then :attr:`crash` says how and
        the engine refuses to run again)."""
        if not self._uc or self.crash is not None:
            raise EngineError("run", ucc.UC_ERR_HANDLE)
        eip = self.read(Reg.EIP)
        self.stop_ctl.stopped_by = 0
        self._stop_asked = False
        return self._run(eip, max_instructions)

    def _run(self, eip: int, max_instructions: int) -> int:
        # Without the native hook, slices of SLICE instructions bring the emulation
        # thread back regularly to look at the stop flag itself.
        count = max_instructions or (0 if self.native_stop else SLICE_INSTRUCTIONS)
        if self._guarded_start is None:
            return _LIB.uc_emu_start(self._uc, eip, 0, 0, count)  # `until`: unused
        err = self._guarded_start(self._stop_ctl_ref, self._uc, eip, 0, 0, count)
        if err == ucc.UC_ERR_EXCEPTION and self.fast_tlb is not None \
                and self.fast_tlb.handed_over():
            # paging came on: the CPU's own TLB took over at an access not yet done;
            # run on from there unless a hook had asked the engine to stop
            if self._stop_asked:
                return ucc.UC_ERR_OK
            err = self._guarded_start(self._stop_ctl_ref, self._uc, self.read(Reg.EIP), 0,
                                      0, count)
        if err == ENGINE_CRASHED:
            ctl = self.stop_ctl
            self.crash = EngineCrash(ctl.crash_signal, ctl.crash_address, ctl.crash_pc)
            log.error("%s", self.crash)
        return err

    def request_stop(self) -> None:
        """Any thread: ask the emulation thread to stop at the next block boundary."""
        self.stop_ctl.stop = 1

    def stop_now(self) -> None:
        """Emulation thread only (inside a hook): stop after the current instruction."""
        self._stop_asked = True
        _LIB.uc_emu_stop(self._uc)

    @staticmethod
    def version() -> str:
        return unicorn.__version__
