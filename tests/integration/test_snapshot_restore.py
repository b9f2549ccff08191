"""Saved state end to end: the engine's CPU context moves between engines, and a booted
FreeDOS saved to a file continues in a fresh machine exactly where it was, screen and all.

The machine is driven from the test's own thread (``machine._step()`` is the run loop's
body), so captures happen between engine runs on the emulation thread, as the Machine
command that saves state will do it.
"""

from __future__ import annotations

import ctypes
import gc
import shutil
import time
from pathlib import Path

import pytest

from vmgui.bios.api import Reg
from vmgui.core import events as ev
from vmgui.core import keys, snapshot, statefile
from vmgui.core.engine import ContextError, Engine
from vmgui.core.machine import Machine, MachineConfig
from vmgui.devices.fonts import load_rom_font
from vmgui.devices.render import render

CODE_AT = 0x7C00
DATA_SEGMENT = 0x2345
# mov ax,[0010h] ; pushf ; pop dx ; hlt
PROGRAM = bytes.fromhex("a11000" "9c" "5a" "f4")
FLAGS = 0x0002 | 0x0001 | 0x0004 | 0x0040 | 0x0080 | 0x0400 | 0x0800  # CF PF ZF SF DF OF


def _engine_with_memory() -> tuple[Engine, bytearray]:
    engine = Engine()
    ram = bytearray(0x100000)
    engine.map_buffer(0, ram, 0, len(ram))
    return engine, ram


def test_cpu_context_moves_to_another_engine():
    first, ram1 = _engine_with_memory()
    second, ram2 = _engine_with_memory()
    try:
        for ram in (ram1, ram2):
            ram[CODE_AT : CODE_AT + len(PROGRAM)] = PROGRAM
            ram[(DATA_SEGMENT << 4) + 0x10 : (DATA_SEGMENT << 4) + 0x12] = b"\xef\xbe"
        first.write(Reg.DS, DATA_SEGMENT)
        first.write(Reg.SS, 0x1000)
        first.write(Reg.ESP, 0x0800)
        first.write(Reg.CS, 0)
        first.write(Reg.EIP, CODE_AT)
        first.write(Reg.EBX, 0x12345678)
        first.write(Reg.EBP, 0xCAFE)
        first.write(Reg.EFLAGS, FLAGS)
        blob = first.context_save()
        assert len(blob) == first.context_size()

        second.write(Reg.DS, 0)  # a different state that the restore must replace
        second.context_restore(blob)
        for reg, value in ((Reg.DS, DATA_SEGMENT), (Reg.EBX, 0x12345678), (Reg.EBP, 0xCAFE),
                           (Reg.EIP, CODE_AT), (Reg.SS, 0x1000), (Reg.ESP, 0x0800)):
            assert second.read(reg) == value, reg
        assert second.read(Reg.EFLAGS) == FLAGS

        assert second.run() == 0
        # the load used the DS base (2345h << 4) that came with the context
        assert second.read(Reg.EAX) & 0xFFFF == 0xBEEF
        assert second.read(Reg.EDX) & 0xFFFF == FLAGS
        assert second.read(Reg.EIP) == CODE_AT + len(PROGRAM)
        assert first.read(Reg.EIP) == CODE_AT  # the source engine did not move
    finally:
        first.close()
        second.close()
        gc.collect()


def test_cpu_context_of_another_size_is_refused():
    engine = Engine()
    try:
        blob = engine.context_save()
        with pytest.raises(ContextError, match=rf"saved CPU state is {len(blob) - 8} bytes, "
                                               rf"this engine build uses {len(blob)}"):
            engine.context_restore(blob[:-8])
    finally:
        engine.close()


def test_saving_takes_microseconds():
    engine = Engine()
    try:
        start = time.perf_counter()
        for _ in range(100):
            engine.context_save()
        assert (time.perf_counter() - start) / 100 < 0.001
    finally:
        engine.close()


# ---------------------------------------------------------------------- FreeDOS
class Stepped:
    """A machine whose run loop is driven from this thread, one ``_step()`` at a time."""

    def __init__(self, image: Path, memory_mb: int = 16) -> None:
        self.machine = Machine(MachineConfig(floppies=(image,), memory_mb=memory_mb))
        self.machine.power_on()
        self.machine._set_state(ev.RunState.RUNNING)

    def step_until(self, predicate, timeout: float = 30.0) -> None:
        end = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > end:
                screen = "\n".join(self.machine.text_lines())
                raise AssertionError(f"timed out; state {self.machine.state}; screen:\n{screen}")
            assert self.machine._step()
            assert self.machine.state is not ev.RunState.CRASHED

    def screen_has(self, text: str) -> bool:
        return any(text in line for line in self.machine.text_lines())

    def type(self, text: str) -> None:
        for event in keys.text(text):
            self.machine.send(ev.KeyScancodes(event))

    def frame(self) -> tuple[int, int, bytes]:
        return render(self.machine.display(), load_rom_font(16))

    def close(self) -> None:
        self.machine.close()


def _count(vm: Stepped, text: str) -> int:
    return sum(line.count(text) for line in vm.machine.text_lines())


@pytest.fixture
def saved_freedos(shared_guests, tmp_path):
    """FreeDOS at its prompt after ``ver``, paused, saved: (state file, image copy)."""
    image = tmp_path / "freedos.img"
    shutil.copyfile(shared_guests / "freedos722.img", image)
    image.chmod(0o644)
    vm = Stepped(image)
    try:
        vm.step_until(lambda: vm.screen_has("A:\\>"))
        vm.type("ver\n")
        vm.step_until(lambda: vm.screen_has("FreeCom version")
                      and _count(vm, "A:\\>") >= 2 and not vm.machine._typed)
        vm.machine.send(ev.Pause())
        vm.step_until(lambda: vm.machine.state is ev.RunState.PAUSED)
        state = tmp_path / "freedos.vmstate"
        snapshot.save(vm.machine, state, note="after ver")
        copy = tmp_path / "freedos-restored.img"
        shutil.copyfile(image, copy)  # the disk as it was when the state was saved
        yield state, copy, vm.frame(), vm.machine.text_lines()
    finally:
        vm.close()
        gc.collect()


@pytest.mark.slow
def test_freedos_continues_after_restore(saved_freedos):
    state, image, frame, lines = saved_freedos
    meta = statefile.read_meta(state)
    assert meta["note"] == "after ver" and meta["profile"] == "pc-at"
    vm = Stepped(image)
    try:
        snapshot.load(vm.machine, state)
        assert abs(vm.machine.clock.now_ns() - meta["guest_ns"]) < 50_000_000
        ticks = vm.machine.memory.read_u32(0x46C)  # BIOS timer count in the BDA
        assert vm.machine.text_lines() == lines
        assert vm.frame() == frame  # pixel for pixel, before the guest runs again
        vm.type("dir\n")
        vm.step_until(lambda: vm.screen_has("bytes free"))
        text = "\n".join(vm.machine.text_lines())
        assert "COMMAND  COM" in text and "Booting from" not in text
        start = time.monotonic()
        vm.step_until(lambda: time.monotonic() - start > 0.3)
        assert vm.machine.memory.read_u32(0x46C) - ticks >= 4  # the PIT ticks on at 18.2 Hz
    finally:
        vm.close()
        gc.collect()


def _ram_payload_offset(path: Path) -> int:
    header, at, _ = statefile._parse_header(path.read_bytes(), path.name)
    for entry in header["parts"]:
        if entry["name"] == "ram":
            return at + entry["length"] // 2
        at += entry["length"]
    raise AssertionError("no ram part")


@pytest.mark.slow
def test_damaged_state_files_are_refused(saved_freedos, tmp_path):
    state = saved_freedos[0]
    data = state.read_bytes()
    truncated = tmp_path / "truncated.vmstate"
    truncated.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(statefile.StateFileError, match="truncated"):
        statefile.read_state(truncated)
    flipped = bytearray(data)
    flipped[_ram_payload_offset(state)] ^= 0x40
    damaged = tmp_path / "damaged.vmstate"
    damaged.write_bytes(flipped)
    with pytest.raises(statefile.StateFileError,
                       match=r"part 'ram' is damaged \(checksum mismatch\)"):
        statefile.read_state(damaged)


@pytest.mark.slow
def test_state_of_another_memory_size_is_refused(saved_freedos):
    state, image = saved_freedos[:2]
    vm = Stepped(image, memory_mb=8)
    try:
        before = bytes(vm.machine.memory.ram[:0x1000])
        with pytest.raises(snapshot.RestoreError, match="16 MB of RAM"):
            snapshot.load(vm.machine, state)
        assert bytes(vm.machine.memory.ram[:0x1000]) == before  # untouched
    finally:
        vm.close()
        gc.collect()


def test_context_blob_header_is_this_engines():
    """The blob's first field is the CPU state size (the layout self-check relies on it)."""
    engine = Engine()
    try:
        blob = engine.context_save()
        size = ctypes.c_size_t.from_buffer_copy(blob[: ctypes.sizeof(ctypes.c_size_t)]).value
        assert 0 < len(blob) - size <= 256
    finally:
        engine.close()


@pytest.mark.slow
def test_deterministic_machine_and_its_restored_copy_run_in_lockstep(shared_guests, tmp_path):
    """With guest time from executed code, a restored copy must behave exactly like the
    original from the save on: same guest time, same RAM, same screen after ``dir``."""
    if "deterministic" not in MachineConfig.__dataclass_fields__:
        pytest.skip("this build has no deterministic mode")
    image = tmp_path / "freedos.img"
    shutil.copyfile(shared_guests / "freedos722.img", image)
    image.chmod(0o644)
    config = MachineConfig(floppies=(image,), deterministic=True)
    machines = []
    try:
        for _ in range(2):
            machines.append(Machine(config))
            machines[-1].power_on()
            machines[-1]._set_state(ev.RunState.RUNNING)
        first, second = machines
        while not any("A:\\>" in line for line in first.text_lines()):
            assert first._step()
        snapshot.save(first, tmp_path / "det.vmstate")
        snapshot.load(second, tmp_path / "det.vmstate")
        assert second.clock.now_ns() == first.clock.now_ns()
        for event in keys.text("dir\n"):
            first.send(ev.KeyScancodes(event))
            second.send(ev.KeyScancodes(event))
        for _ in range(200_000):
            if any("bytes free" in line for line in first.text_lines()):
                break
            assert first._step() and second._step()
        else:
            raise AssertionError("dir did not finish")
        assert second.clock.now_ns() == first.clock.now_ns()
        assert second.text_lines() == first.text_lines()
        assert bytes(second.memory.ram) == bytes(first.memory.ram)
    finally:
        for machine in machines:
            machine.close()
        gc.collect()


def test_restore_drops_code_translated_before_it():
    """RAM restored by a host write under code the engine already translated: after
    context_restore the new bytes run, not the stale translation."""
    engine, ram = _engine_with_memory()
    try:
        ram[CODE_AT : CODE_AT + 4] = bytes.fromhex("b80100f4")  # mov ax,1 ; hlt
        engine.write(Reg.CS, 0)
        engine.write(Reg.EIP, CODE_AT)
        blob = engine.context_save()
        assert engine.run() == 0 and engine.read(Reg.EAX) & 0xFFFF == 1
        ram[CODE_AT : CODE_AT + 4] = bytes.fromhex("b80200f4")  # mov ax,2 ; hlt
        engine.context_restore(blob)
        assert engine.run() == 0 and engine.read(Reg.EAX) & 0xFFFF == 2
    finally:
        engine.close()
        gc.collect()


def test_save_and_load_commands_on_a_running_machine(tmp_path, test_guests):
    """SaveState/LoadState as commands to a machine running on its own thread."""
    import threading
    import time as _time

    from vmgui.core import events as _ev
    from vmgui.core import keys as _keys
    from vmgui.core.machine import Machine as _Machine
    from vmgui.core.machine import MachineConfig as _Config

    seen: list = []
    machine = _Machine(_Config(floppies=(test_guests / "echo.img",), read_only=True),
                       on_event=seen.append)
    thread = threading.Thread(target=machine.run, daemon=True)
    thread.start()

    def wait(pred, timeout=10.0):
        end = _time.monotonic() + timeout
        while not pred():
            assert _time.monotonic() < end, seen[-3:]
            _time.sleep(0.01)

    try:
        wait(lambda: "READY" in "\n".join(machine.text_lines()))
        state = tmp_path / "echo.state"
        machine.send(_ev.SaveState(str(state)))
        wait(lambda: any(isinstance(e, _ev.StateSaved) for e in seen))
        assert next(e for e in seen if isinstance(e, _ev.StateSaved)).error is None
        for event in _keys.text("q"):
            machine.send(_ev.KeyScancodes(event))
        wait(lambda: "1071" in "\n".join(machine.text_lines()))
        machine.send(_ev.LoadState(str(state)))
        wait(lambda: any(isinstance(e, _ev.StateLoaded) for e in seen))
        assert next(e for e in seen if isinstance(e, _ev.StateLoaded)).error is None
        wait(lambda: "1071" not in "\n".join(machine.text_lines()))  # back before the key
    finally:
        machine.send(_ev.PowerOff())
        thread.join(5)


def test_save_state_with_power_off_stops_at_the_saved_instant(tmp_path, test_guests):
    """SaveState(power_off=True): the machine ends in the same pause; a failed save (no
    such folder) leaves it running."""
    import threading
    import time as _time

    seen: list = []
    machine = Machine(MachineConfig(floppies=(test_guests / "echo.img",), read_only=True),
                      on_event=seen.append)
    thread = threading.Thread(target=machine.run, daemon=True)
    thread.start()
    end = _time.monotonic() + 10
    while "READY" not in "\n".join(machine.text_lines()):
        assert _time.monotonic() < end
        _time.sleep(0.01)
    try:
        machine.send(ev.SaveState(str(tmp_path / "missing" / "x.state"), power_off=True))
        while not any(isinstance(e, ev.StateSaved) for e in seen):
            assert _time.monotonic() < end + 10
            _time.sleep(0.01)
        assert next(e for e in seen if isinstance(e, ev.StateSaved)).error
        _time.sleep(0.1)
        assert thread.is_alive() and machine.state is ev.RunState.RUNNING
        state = tmp_path / "echo.state"
        machine.send(ev.SaveState(str(state), power_off=True))
        thread.join(10)
        assert not thread.is_alive() and machine.state is ev.RunState.POWERED_OFF
        saved = [e for e in seen if isinstance(e, ev.StateSaved)]
        assert saved[-1].path == str(state) and saved[-1].error is None
        assert state.stat().st_size > 0
    finally:
        machine.send(ev.PowerOff())
        thread.join(5)
