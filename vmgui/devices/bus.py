"""I/O port bus and interrupt lines: the only way devices talk to the machine.

Owns: port-range registration (returning handles that undo it), dispatch of IN/OUT by
port, the ISA convention that an unclaimed port reads all ones, the splitting of wide
accesses to devices that decode bytes only (an 8-bit ISA card sees a 16-bit OUT as two
byte writes, low port first: the bus's byte-lane steering), and :class:`IrqLine`, the
wire a device raises and lowers without knowing who listens.

Thread rule: a bus and everything registered on it are used from one thread only (the
VM's emulation thread).  Devices never import the engine; tests drive them through a bus.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

ReadFn = Callable[[int, int], int]
"""``read(offset, size) -> value``: offset is relative to the registered base."""
WriteFn = Callable[[int, int, int], None]
"""``write(offset, size, value)``: offset is relative to the registered base."""

_SIZE_MASK = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFFFFFF}
BYTE_ONLY = frozenset({1})


class StringIoPort(Protocol):
    """A device port that can move several elements of a ``rep ins``/``rep outs`` in
    one call (an ATA data port and its DRQ block): the core's string-I/O path
    (:mod:`vmgui.core.stringio`) asks how many elements are ready, then moves them.
    Moving ``n`` elements here must have exactly the effects of ``n`` single reads or
    writes of the port (block completion, status, interrupt), and ``n`` is never more
    than the device said it had ready.  ``offset`` is relative to the registered base,
    ``width`` is 1, 2 or 4 bytes."""

    def string_in_ready(self, offset: int, width: int) -> int:
        """How many ``width``-byte reads in a row come from data ready now, with no
        effect between them (0: none, or the port cannot move them in bulk)."""
        ...

    def string_in(self, offset: int, width: int, count: int) -> bytes:
        """What ``count`` reads would return, concatenated (little-endian elements)."""
        ...

    def string_out_room(self, offset: int, width: int) -> int:
        """How many ``width``-byte writes in a row the device takes now (as above)."""
        ...

    def string_out(self, offset: int, width: int, data: bytes) -> None:
        """``len(data) // width`` writes of the elements in ``data``."""
        ...


@dataclass(frozen=True)
class PortRange:
    """One registration: ports ``base .. base+count-1`` owned by ``name``; ``widths`` are
    the access sizes the device decodes itself (any other size reaches it as bytes)."""

    base: int
    count: int
    name: str
    read: ReadFn | None
    write: WriteFn | None
    widths: frozenset[int] = BYTE_ONLY
    string: StringIoPort | None = None


class Registration:
    """Handle returned by :meth:`IoBus.register`; :meth:`remove` undoes it."""

    def __init__(self, bus: IoBus, rng: PortRange) -> None:
        self._bus = bus
        self.range = rng

    def remove(self) -> None:
        self._bus._unregister(self.range)


class IoBus:
    """Dispatches port reads and writes to the devices that claimed the ports.

    A read of an unclaimed port returns all ones (0xFF, 0xFFFF, ...), as on an ISA bus
    with nothing driving the data lines; a write to one is dropped.  An access whose
    size the device does not decode, or that runs past the end of its range, is split
    into byte accesses, low port first, each going to whoever claims that port.  So a
    handler only ever sees the sizes it registered, with values masked to that size.
    """

    def __init__(self) -> None:
        self._ports: dict[int, PortRange] = {}
        self.string_ports: set[int] = set()  # ports of ranges with a block-transfer side
        self.last_access: tuple[str, int, int, int] | None = None
        """(``"in"``/``"out"``, port, size, value) of the most recent access, for crash reports."""

    def register(
        self,
        base: int,
        count: int,
        name: str,
        read: ReadFn | None = None,
        write: WriteFn | None = None,
        widths: frozenset[int] = BYTE_ONLY,
        string: StringIoPort | None = None,
    ) -> Registration:
        """Claim ports ``base .. base+count-1``.  ``widths``: the access sizes (1, 2, 4)
        the device decodes; 1 is always among them, wider accesses arrive as bytes.
        ``string``: the range's block-transfer side (see :class:`StringIoPort`)."""
        if not (0 <= base and base + count <= 0x10000 and count > 0):
            raise ValueError(f"{name}: port range {base:#x}+{count} outside 0-FFFFh")
        if not widths <= {1, 2, 4}:
            raise ValueError(f"{name}: access widths {sorted(widths)} not among 1, 2, 4")
        rng = PortRange(base, count, name, read, write, frozenset(widths) | BYTE_ONLY, string)
        for port in range(base, base + count):
            if port in self._ports:
                other = self._ports[port].name
                raise ValueError(f"{name}: port {port:#06x} already claimed by {other}")
        for port in range(base, base + count):
            self._ports[port] = rng
            if string is not None:
                self.string_ports.add(port)
        return Registration(self, rng)

    def _unregister(self, rng: PortRange) -> None:
        for port in range(rng.base, rng.base + rng.count):
            if self._ports.get(port) is rng:
                del self._ports[port]
                self.string_ports.discard(port)

    def ports_of(self, device: object) -> list[int]:
        """The ports whose read or write handler is a method of ``device``."""
        def ours(handler: object) -> bool:
            return getattr(handler, "__self__", None) is device
        return sorted(port for port, rng in self._ports.items()
                      if ours(rng.read) or ours(rng.write))

    def owner(self, port: int) -> str | None:
        rng = self._ports.get(port)
        return rng.name if rng else None

    def string_port(self, port: int, size: int) -> tuple[StringIoPort, int] | None:
        """(block-transfer side, offset) of the device that decodes ``size``-byte
        accesses at ``port`` itself and can move them in bulk; None otherwise."""
        rng = self._ports.get(port)
        if rng is None or rng.string is None or size not in rng.widths \
                or port + size > rng.base + rng.count:
            return None
        return rng.string, port - rng.base

    def read(self, port: int, size: int = 1) -> int:
        port &= 0xFFFF
        rng = self._ports.get(port)
        if rng is None or rng.read is None:
            value = _SIZE_MASK[size]
        elif size in rng.widths and port + size <= rng.base + rng.count:
            value = rng.read(port - rng.base, size) & _SIZE_MASK[size]
        else:
            value = 0
            for i in range(size):
                value |= self.read((port + i) & 0xFFFF, 1) << (8 * i)
        self.last_access = ("in", port, size, value)
        return value

    def write(self, port: int, size: int, value: int) -> None:
        port &= 0xFFFF
        value &= _SIZE_MASK[size]
        self.last_access = ("out", port, size, value)
        rng = self._ports.get(port)
        if rng is None or rng.write is None:
            if size > 1:  # the other bytes may belong to a device
                for i in range(1, size):
                    self.write((port + i) & 0xFFFF, 1, (value >> (8 * i)) & 0xFF)
            return
        if size in rng.widths and port + size <= rng.base + rng.count:
            rng.write(port - rng.base, size, value)
        else:
            for i in range(size):
                self.write((port + i) & 0xFFFF, 1, (value >> (8 * i)) & 0xFF)


class IrqLine:
    """One interrupt request wire.  The device drives the level; the sink (the PIC)
    sees every change.  ``pulse()`` is a rising then falling edge, which is what an
    edge-triggered ISA interrupt needs."""

    def __init__(self, sink: Callable[[bool], None] | None = None, name: str = "") -> None:
        self._sink = sink
        self.name = name
        self.level = False

    def connect(self, sink: Callable[[bool], None]) -> None:
        self._sink = sink

    def set(self, level: bool) -> None:
        self.level = bool(level)
        if self._sink is not None:
            self._sink(self.level)

    def raise_(self) -> None:
        self.set(True)

    def lower(self) -> None:
        self.set(False)

    def pulse(self) -> None:
        self.set(True)
        self.set(False)
