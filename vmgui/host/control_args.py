"""The control protocol's requests: which commands there are and their checked arguments.

Owns: :data:`COMMANDS`, :func:`arguments` (every argument of a request checked before
anything is done; a bad one is a :class:`Reply` with reason "usage" naming it) and
:class:`Reply`, the error a request is answered with.  :mod:`vmgui.host.control` serves
the protocol (described there).  Nothing here keeps state.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from vmgui.core import events as ev

MAX_WAIT_S = 3600.0  # the longest wait-text timeout
DEFAULT_WAIT_S = 30.0


class Reply(Exception):
    """A request answered with an error: ``reason`` as the protocol names them."""

    def __init__(self, error: str, reason: str = "failed") -> None:
        super().__init__(error)
        self.reason = reason


COMMANDS = frozenset({"status", "pause", "resume", "reset", "poweroff", "screenshot", "type",
                      "keys", "wait-text", "text", "savestate", "media"})


def arguments(cmd: str, request: dict) -> dict:
    """The command's arguments, each checked (:class:`Reply` "usage" names the bad one)."""
    if cmd == "screenshot":
        return {"path": _abs_path(request)}
    if cmd == "type":
        return {"text": _str_arg(request, "text")}
    if cmd == "keys":
        return {"keys": _str_arg(request, "keys")}
    if cmd == "wait-text":
        return {"text": _str_arg(request, "text"),
                "timeout": _seconds(request, "timeout", DEFAULT_WAIT_S)}
    if cmd == "media":
        return _media_arguments(request)
    if cmd == "savestate":
        power_off = request.get("poweroff", False)
        if not isinstance(power_off, bool):
            raise Reply(f'"poweroff": true or false, not {short(json.dumps(power_off))}',
                        "usage")
        return {"path": _abs_path(request), "poweroff": power_off}
    return {}


def _media_arguments(request: dict) -> dict:
    drive = request.get("drive")
    if drive not in ev.MEDIA_DRIVES:
        raise Reply(f'"drive": one of {", ".join(ev.MEDIA_DRIVES)}, not '
                    f"{short(json.dumps(drive))}", "usage")
    read_only = request.get("readonly", False)
    if not isinstance(read_only, bool):
        raise Reply(f'"readonly": true or false, not {short(json.dumps(read_only))}',
                    "usage")
    path = None if request.get("path") is None else _abs_path(request)
    return {"drive": drive, "path": path, "readonly": read_only}


def short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _seconds(request: dict, key: str, default: float) -> float:
    """A finite number of seconds from 0 to :data:`MAX_WAIT_S` (NaN, infinities, huge and
    negative numbers would make a wait that never ends, or ends at once by accident)."""
    value = request.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Reply(f'"{key}": a number of seconds is required, not '
                    f'{short(json.dumps(value))}', "usage")
    if (isinstance(value, float) and not math.isfinite(value)) or not 0 <= value <= MAX_WAIT_S:
        raise Reply(f'"{key}": {short(json.dumps(value))} is not a number of seconds '
                    f"from 0 to {MAX_WAIT_S:g}", "usage")
    return float(value)


def _str_arg(request: dict, key: str) -> str:
    value = request.get(key)
    if not isinstance(value, str):
        raise Reply(f'"{key}": a string is required', "usage")
    return value


def _abs_path(request: dict) -> Path:
    path = Path(_str_arg(request, "path"))
    if not path.is_absolute():
        raise Reply(f"path {short(str(path))}: must be absolute", "usage")
    return path
