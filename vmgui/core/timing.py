"""Guest time on the host clock, and the thread that stops the engine at deadlines.

Owns: :class:`HostClock` (guest nanoseconds = host monotonic time since power-on, minus
the time spent paused) and :class:`DeadlineTimer`, a helper thread that sets the engine's
stop flag when the next device deadline (a PIT tick, an RTC update, a key byte) falls due.
The timer thread only ever sets the flag; the emulation thread stops itself at the next
block boundary (see vmgui.core.engine), so no instruction is cut in half.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class HostClock:
    """Guest time that follows the host's monotonic clock while the machine runs."""

    def __init__(self) -> None:
        self._base = time.monotonic_ns()
        self._paused_at: int | None = None

    def now_ns(self) -> int:
        host = self._paused_at if self._paused_at is not None else time.monotonic_ns()
        return host - self._base

    def host_ns(self, guest_ns: int) -> int:
        """Host monotonic time at which guest time reaches ``guest_ns``."""
        return guest_ns + self._base

    def charge(self, ns: int) -> None:
        """Host time passes by itself: nothing to account for."""

    def pause(self) -> None:
        if self._paused_at is None:
            self._paused_at = time.monotonic_ns()

    def resume(self) -> None:
        if self._paused_at is not None:
            self._base += time.monotonic_ns() - self._paused_at
            self._paused_at = None


class VirtualClock:
    """Guest time as a pure function of the guest's execution (deterministic mode).

    now = blocks executed x ``ns_per_block`` + time charged for BIOS calls and port
    accesses (which cost the host far more than a block) + time skipped while the guest
    waited for an interrupt (no host sleep: the wait ends at the next device deadline).
    The same guest with the same inputs at the same guest times therefore sees the same
    PIT counts, RTC seconds and tick counts on every run and every machine.
    """

    def __init__(self, blocks: Callable[[], int], ns_per_block: int = 10) -> None:
        self._blocks = blocks
        self._ns_per_block = ns_per_block
        self._extra = 0

    def now_ns(self) -> int:
        return self._blocks() * self._ns_per_block + self._extra

    def charge(self, ns: int) -> None:
        self._extra += ns

    def skip_to(self, guest_ns: int) -> None:
        now = self.now_ns()
        if guest_ns > now:
            self._extra += guest_ns - now

    def blocks_until(self, guest_ns: int) -> int:
        """Blocks to execute from now until ``guest_ns`` (at least 1)."""
        return max(1, -(-(guest_ns - self.now_ns()) // self._ns_per_block))

    def pause(self) -> None:
        """Virtual time only moves when the guest runs."""

    def resume(self) -> None:
        """Virtual time only moves when the guest runs."""


class DeadlineTimer:
    """Calls ``fire()`` (from its own thread) once host monotonic time reaches the armed
    deadline.  ``arm`` replaces any earlier deadline; ``disarm`` cancels it."""

    def __init__(self, fire: Callable[[], None], name: str = "vmgui-deadline") -> None:
        self._fire = fire
        self._cond = threading.Condition()
        self._deadline: int | None = None
        self._alive = True
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def arm(self, host_deadline_ns: int) -> None:
        with self._cond:
            self._deadline = host_deadline_ns
            self._cond.notify()

    def disarm(self) -> None:
        with self._cond:
            self._deadline = None

    def close(self) -> None:
        with self._cond:
            self._alive = False
            self._cond.notify()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        with self._cond:
            while self._alive:
                if self._deadline is None:
                    self._cond.wait()
                    continue
                remaining = self._deadline - time.monotonic_ns()
                if remaining > 0:
                    self._cond.wait(remaining / 1e9)
                    continue
                self._deadline = None
                self._fire()
