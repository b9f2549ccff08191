"""Scripted control of a running machine: the automation API.

Owns: :class:`Session`, the synchronous verbs scripts, ``vmgui run`` steps and scenario
files use (wait for text or for a picture, wait until the screen is still, type, press
keys, screenshots, text, serial output, pause/resume/reset/power off) over any host with
the hosting interface (ThreadHost, ProcessHost, LockstepHost); :class:`AsyncSession`, the
same verbs as coroutines for asyncio code (qasync inside the GUI); and the errors they
raise.  With a LockstepHost (deterministic mode) every wait is counted in guest time and
runs the guest on the calling thread, so results repeat exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import numbers
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from vmgui.core import events as ev
from vmgui.core import keys
from vmgui.devices.display import DisplayKind
from vmgui.devices.fonts import load_rom_font
from vmgui.devices.render import render

POLL_S = 0.02
TIMEOUT_SHOT = "timeout.png"  # in the caller's artifacts folder, when it gave one
KEY_DRAIN_TIMEOUT_S = 30.0
MAX_SECONDS = 86400  # the longest wait or sleep: a day (longer is a mistake)


class AutomationError(Exception):
    """A step could not be done (bad argument, guest crashed, ...)."""


class GuestCrashedError(AutomationError):
    pass


class AutomationTimeout(AutomationError):
    """A wait ran out of time.  Carries the screen text and a screenshot of that moment."""

    def __init__(self, what: str, timeout: float, screen_text: str, screenshot: Path | None):
        self.screen_text = screen_text
        self.screenshot = screenshot
        where = f"; screenshot: {screenshot}" if screenshot else ""
        super().__init__(f"timed out after {timeout:g} s waiting for {what}{where}; "
                         f"screen:\n{screen_text}")


def check_seconds(value, what: str) -> float:
    """``value`` as a number of seconds to wait (``what``: "timeout", "sleep", ...);
    AutomationError naming it unless it is a finite number from 0 to
    :data:`MAX_SECONDS` -- NaN would make a wait never end (or a sleep not sleep),
    infinity wait for ever."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(value) or not 0 <= value <= MAX_SECONDS:
        raise AutomationError(f"{what} {value!r:.40}: must be a number of seconds from 0 "
                              f"to {MAX_SECONDS}")
    return float(value)


@dataclass(frozen=True)
class Region:
    x: int
    y: int
    width: int
    height: int

    @classmethod
    def parse(cls, value) -> Region | None:
        if value is None:
            return None
        x, y, w, h = (int(v) for v in value)
        if w <= 0 or h <= 0 or x < 0 or y < 0:
            raise ValueError(f"region {list(value)}: x, y >= 0 and width, height > 0")
        return cls(x, y, w, h)


def frame(host) -> np.ndarray:
    """The screen as an (h, w, 3) uint8 array at native resolution."""
    state = host.display()
    height = state.char_height if state.char_height in (8, 14, 16) else 16
    width, h, rgb = render(state, load_rom_font(height))
    return np.frombuffer(rgb, dtype=np.uint8).reshape(h, width, 3)


def find_needle(screen: np.ndarray, needle: np.ndarray, threshold: float,
                region: Region | None = None) -> tuple[int, int] | None:
    """Top-left (x, y) where ``needle`` matches ``screen`` with at least ``threshold`` of
    its pixels equal (within 8 per channel), searching ``region`` (default everywhere).

    Candidate positions come from a few anchor pixels of the needle whose colours are
    rarest on the screen (a match must have at least one anchor right), so a search costs
    a few vectorised passes plus one comparison per candidate, not one per position."""
    x0, y0, x1, y1 = 0, 0, screen.shape[1], screen.shape[0]
    if region is not None:
        x0, y0 = region.x, region.y
        x1, y1 = min(x1, region.x + region.width), min(y1, region.y + region.height)
    nh, nw = needle.shape[:2]
    if nh > y1 - y0 or nw > x1 - x0:
        return None
    area = screen[y0:y1, x0:x1].astype(np.int16)
    ref = needle.astype(np.int16)
    span_h, span_w = area.shape[0] - nh + 1, area.shape[1] - nw + 1
    tried: set[tuple[int, int]] = set()
    best: tuple[float, int, int] | None = None
    for ay, ax in _anchors(area, ref):  # rarest first: fewest candidates
        hits = np.abs(area[ay:ay + span_h, ax:ax + span_w] - ref[ay, ax]).max(axis=2) <= 8
        ys, xs = np.nonzero(hits)
        for y, x in zip(ys[:MAX_CANDIDATES].tolist(), xs[:MAX_CANDIDATES].tolist(),
                        strict=True):
            if (y, x) in tried:
                continue
            tried.add((y, x))
            window = area[y:y + nh, x:x + nw]
            score = float((np.abs(window - ref).max(axis=2) <= 8).mean())
            if score == 1.0:
                return x0 + x, y0 + y
            if score >= threshold and (best is None or score > best[0]):
                best = (score, x, y)
    return None if best is None else (x0 + best[1], y0 + best[2])


MAX_CANDIDATES = 20_000


def _anchors(area: np.ndarray, ref: np.ndarray, count: int = 3) -> list[tuple[int, int]]:
    """Needle pixels whose colours are rarest in ``area``."""
    flat_ref = ref.reshape(-1, 3)
    colours, first = np.unique(flat_ref, axis=0, return_index=True)
    packed_area = (area[..., 0].astype(np.int32) << 16) | (area[..., 1].astype(np.int32) << 8) \
        | area[..., 2].astype(np.int32)
    freq = []
    for colour, index in zip(colours, first, strict=True):
        key = (int(colour[0]) << 16) | (int(colour[1]) << 8) | int(colour[2])
        freq.append((int(np.count_nonzero(packed_area == key)), int(index)))
    freq.sort()
    width = ref.shape[1]
    return [(index // width, index % width) for _, index in freq[:count]]


class Session:
    """Automation verbs over a started host."""

    def __init__(self, host, *, serial_path: Path | None = None,
                 artifacts: Path | None = None) -> None:
        self.host = host
        self.serial_path = serial_path
        self.artifacts = artifacts
        self.key_timeout = KEY_DRAIN_TIMEOUT_S  # how long typed keys may wait to be read
        self._serial_written = 0

    # ------------------------------------------------------------------ plumbing
    def pump(self) -> None:
        """Collect events; raise if the guest crashed; append new COM1 output to the log."""
        self.host.poll_events()
        self.flush_serial()
        if self.host.crash is not None:
            crash = self.host.crash
            raise GuestCrashedError(f"guest crashed: {crash.reason}\n{crash.report}")

    def flush_serial(self) -> None:
        """Append COM1 output not yet written to the serial log file."""
        if self.serial_path is not None and len(self.host.serial) > self._serial_written:
            with open(self.serial_path, "ab") as fh:
                fh.write(self.host.serial[self._serial_written:])
            self._serial_written = len(self.host.serial)

    def _timeout(self, what: str, timeout: float) -> AutomationTimeout:
        """The error of a wait that ran out of time: the screen text, and a screenshot
        in ``artifacts`` when the caller gave that folder (none otherwise: nothing is
        left in a temporary folder that nobody deletes)."""
        shot = None
        if self.artifacts is not None:
            try:
                shot = self._save_artifact(TIMEOUT_SHOT)
            except (OSError, RuntimeError, ValueError, AutomationError):
                shot = None
        return AutomationTimeout(what, timeout, self.text(), shot)

    def _save_artifact(self, name: str) -> Path:
        """The screen as PNG ``artifacts/name``, written to a temporary file in that folder
        and renamed over ``name``: a link planted at ``name`` is replaced, never written
        through, and a reader never sees half a picture."""
        folder = Path(self.artifacts)
        image = Image.fromarray(frame(self.host), "RGB")
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                image.save(fh, format="PNG")
            os.replace(tmp, folder / name)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return folder / name

    def _poll_until(self, done, what: str, timeout: float):
        timeout = check_seconds(timeout, "timeout")
        host = self.host
        deadline = host.now() + timeout
        while True:
            self.pump()
            result = done()
            if result:
                return result
            if host.now() > deadline:
                raise self._timeout(what, timeout)
            host.wait(POLL_S)

    # ------------------------------------------------------------------ screen
    def text(self) -> str:
        try:
            return "\n".join(self.host.text_lines())
        except RuntimeError:
            return ""

    def wait_for_text(self, pattern: str, timeout: float = 30.0, *, regex: bool = False) -> str:
        """Wait until the text screen contains ``pattern`` (a substring, or a regular
        expression with ``regex=True``); returns the matched text."""
        if regex:
            compiled = re.compile(pattern)

            def found():
                match = compiled.search(self.text())
                return match.group(0) if match else None
        else:
            def found():
                return pattern if pattern in self.text() else None
        return self._poll_until(found, repr(pattern), timeout)

    def wait_for_serial(self, text: str | bytes, timeout: float = 30.0) -> None:
        """Wait until the guest's COM1 output contains ``text``."""
        needle = text.encode() if isinstance(text, str) else bytes(text)
        self._poll_until(lambda: needle in self.host.serial, f"{needle!r} on COM1", timeout)

    def wait_for_screen(self, needle: Path | np.ndarray, timeout: float = 30.0, *,
                        region=None, threshold: float = 0.98) -> tuple[int, int]:
        """Wait until the reference picture ``needle`` appears on screen (any mode);
        returns its top-left position."""
        picture = needle if isinstance(needle, np.ndarray) else load_picture(needle)
        where = Region.parse(region)
        screen = frame(self.host)
        if picture.shape[0] > screen.shape[0] or picture.shape[1] > screen.shape[1]:
            raise AutomationError(
                f"needle {picture.shape[1]}x{picture.shape[0]} is larger than the screen "
                f"{screen.shape[1]}x{screen.shape[0]}")
        name = needle.name if isinstance(needle, Path) else "the needle picture"
        return self._poll_until(lambda: find_needle(frame(self.host), picture, threshold,
                                                    where), name, timeout)

    def wait_still(self, seconds: float, timeout: float = 60.0) -> None:
        """Wait until the screen has not changed for ``seconds``."""
        seconds = check_seconds(seconds, "wait_still")
        host = self.host
        state = {"frame": frame(host), "since": host.now()}

        def still():
            now = frame(host)
            if not np.array_equal(now, state["frame"]):
                state["frame"], state["since"] = now, host.now()
            return host.now() - state["since"] >= seconds

        self._poll_until(still, f"the screen to stay still for {seconds:g} s", timeout)

    def screenshot(self, path: Path | str, *, crop=None, scale: int = 1) -> Path:
        """PNG at native resolution (optionally cropped to (x, y, w, h), scaled by an
        integer factor)."""
        image = Image.fromarray(frame(self.host), "RGB")
        area = Region.parse(crop)
        if area is not None:
            image = image.crop((area.x, area.y, area.x + area.width, area.y + area.height))
        if scale != 1:
            if scale < 1:
                raise AutomationError(f"scale {scale} must be a positive integer")
            image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
        path = Path(path)
        image.save(path, optimize=False)
        return path

    def mode(self) -> DisplayKind:
        return self.host.display().kind

    # ------------------------------------------------------------------ input
    def _send_keys(self, events: list[bytes]) -> None:
        for event in events:
            self.host.send(ev.KeyScancodes(event))
        try:
            self._poll_until(lambda: not self.host.pending_keys(),
                             "the guest to read the typed keys (the unread key presses "
                             "were dropped)", self.key_timeout)
        except AutomationTimeout:
            # Left queued they would make every later type/keys wait behind them.
            self.host.send(ev.DiscardKeys())
            raise

    def type_text(self, text: str, key_delay: float = 0.0) -> None:
        """Type ``text``; with ``key_delay``, wait that many seconds of guest time after
        each character (guests such as KolibriOS's SHELL drop keys that come faster
        than they handle them; the default sends each as soon as the guest read the
        last)."""
        delay = check_seconds(key_delay, "key delay")
        if delay <= 0:
            self._send_keys(keys.text(text))
            return
        keys.text(text)  # raises for a character it cannot type, before any key is sent
        for char in text:
            self._send_keys(keys.text(char))
            self.sleep(delay)

    def send_serial(self, text: str | bytes) -> None:
        """Send ``text`` (UTF-8) to the guest's COM1, as a terminal on its line would."""
        self.host.send(ev.SerialInput(text.encode() if isinstance(text, str) else bytes(text)))
        self.pump()

    def press(self, combo: str) -> None:
        self._send_keys(keys.combo(combo))

    def key_down(self, combo: str) -> None:
        self._send_keys(keys.press(combo))

    def key_up(self, combo: str) -> None:
        self._send_keys(keys.release(combo))

    def sleep(self, seconds: float) -> None:
        """Let the guest run for ``seconds`` (0 to :data:`MAX_SECONDS`)."""
        host = self.host
        end = host.now() + check_seconds(seconds, "sleep")
        while (remaining := end - host.now()) > 1e-6:
            self.pump()
            host.wait(min(POLL_S, remaining))

    # ------------------------------------------------------------------ machine
    @property
    def serial(self) -> bytes:
        return bytes(self.host.serial)

    def pause(self) -> None:
        self.host.send(ev.Pause())

    def resume(self) -> None:
        self.host.send(ev.Resume())

    def reset(self) -> None:
        self.host.send(ev.Reset())

    def power_off(self) -> None:
        self.host.power_off()


def load_picture(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError) as exc:
        raise AutomationError(f"{path}: not a readable picture ({exc})") from exc


class AsyncSession:
    """The same verbs as coroutines; each runs in a worker thread so the event loop (the
    GUI's, under qasync) stays responsive.  Use one verb at a time per session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def __getattr__(self, name: str):
        verb = getattr(self.session, name)
        if not callable(verb):
            return verb

        async def call(*args, **kwargs):
            return await asyncio.to_thread(verb, *args, **kwargs)

        return call
