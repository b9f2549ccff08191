"""What every device model offers the machine.

Owns: the :class:`Device` base class.  A device is position-independent: it receives its
base port(s) and IRQ line(s) from the machine profile, registers on the :class:`IoBus`
it is given, and decodes offsets within its own span.  Devices that act on their own
over time (timers, a UART draining its FIFO) implement :meth:`advance` and
:meth:`next_deadline_ns`; the run loop calls ``advance(now)`` after every slice of guest
execution and stops the guest in time for the earliest deadline.

State: :meth:`save_state` returns a dict of named fields with ``"version"``;
:meth:`load_state` refuses versions newer than :attr:`STATE_VERSION`.
"""

from __future__ import annotations

from typing import Any


class StateVersionError(ValueError):
    """A saved device state is from a newer (or unknown) format."""


class Device:
    NAME = "device"
    STATE_VERSION = 1

    def reset(self) -> None:
        """Power-on / hard reset state."""

    def advance(self, now_ns: int) -> None:
        """Bring the device up to guest time ``now_ns`` (raise IRQs that fell due)."""

    def next_deadline_ns(self) -> int | None:
        """Guest time at which :meth:`advance` next has something to do, or None."""
        return None

    def save_state(self) -> dict[str, Any]:
        return {"version": self.STATE_VERSION}

    def load_state(self, state: dict[str, Any]) -> None:
        self.check_state_version(state)

    def check_state_version(self, state: dict[str, Any]) -> None:
        version = state.get("version")
        if not isinstance(version, int) or version > self.STATE_VERSION or version < 1:
            raise StateVersionError(
                f"{self.NAME}: saved state version {version!r} is not supported "
                f"(this build reads up to {self.STATE_VERSION})"
            )
