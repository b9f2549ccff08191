"""The machine's notion of time, as devices see it.

Owns: the :class:`Clock` protocol devices read (nanoseconds of guest time) and
:class:`ManualClock`, a clock that only moves when told to (tests, deterministic runs).
Devices never read the host clock themselves: the machine hands them a clock, so the same
device code runs on host time, on virtual time derived from executed guest code, or on a
test's hand-driven time.
"""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    def now_ns(self) -> int:
        """Guest time in nanoseconds since power-on; never goes backwards."""
        ...


class ManualClock:
    """A clock that advances only through :meth:`advance` (tests, deterministic mode)."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        return self._now

    def advance(self, ns: int) -> None:
        if ns < 0:
            raise ValueError("time cannot go backwards")
        self._now += ns

    def set(self, ns: int) -> None:
        if ns < self._now:
            raise ValueError("time cannot go backwards")
        self._now = ns
