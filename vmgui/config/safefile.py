"""Files and paths of a VM folder that may come from anywhere (an imported archive, a
hand edit, a damaged disk): read them without hanging or crashing, check the paths they
name.

Owns: :func:`read_small` (a regular file of bounded size, opened so that a FIFO cannot
block and a link at the last component can be refused), :func:`parse_toml` and
:func:`parse_json` (every failure, nesting deep enough to exhaust the parser's recursion
included, becomes a :class:`ValueError` with a message), :func:`path_problem` (a stored
path the OS cannot use: NUL or other control characters, longer than
:data:`MAX_PATH_CHARS`, a component longer than :data:`MAX_NAME_BYTES`) and
:func:`escape_problem` (a stored path that leads out of the folder it is relative to:
absolute, ``~``, or ``..``).

Thread rules: none; nothing here keeps state.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tomllib
from collections.abc import Iterator
from pathlib import Path, PurePath, PurePosixPath
from typing import Any

from vmgui.storage.image import open_regular

MAX_PATH_CHARS = 4096  # Linux's PATH_MAX
MAX_NAME_BYTES = 255  # one path component (NAME_MAX)


def read_small(path: Path, limit: int, *, follow: bool = True) -> bytes:
    """The contents of the regular file ``path``, at most ``limit`` bytes.  OSError
    (``strerror`` says why) for a file that is missing, not regular (a FIFO is never
    waited on), bigger than ``limit``, or -- with ``follow`` False -- a symbolic link."""
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0)
    if not follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = open_regular(path, flags, what="file")
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow:
            raise OSError(errno.ELOOP, "is a symbolic link (not followed)") from None
        raise
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit} bytes (not a file vmgui wrote)")
    return data


@contextlib.contextmanager
def _parse_errors(kind: str, syntax_error: type[Exception]) -> Iterator[None]:
    """Every way a ``kind`` document (TOML, JSON) fails to parse as a ValueError."""
    try:
        yield
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text (corrupt?)") from None
    except syntax_error as exc:
        raise ValueError(f"not valid {kind} ({exc})") from None
    except RecursionError:
        raise ValueError("nested too deeply to be read (corrupt or crafted?)") from None


def parse_toml(raw: bytes) -> dict[str, Any]:
    """A TOML document as a table; ValueError with a message for anything else."""
    with _parse_errors("TOML", tomllib.TOMLDecodeError):
        return tomllib.loads(raw.decode("utf-8"))


def parse_json(raw: bytes) -> Any:
    """A JSON document; ValueError with a message when it cannot be read."""
    with _parse_errors("JSON", json.JSONDecodeError):
        return json.loads(raw)


def path_problem(stored: str) -> str | None:
    """Why the OS could not use ``stored`` as a path; None when it could."""
    if not isinstance(stored, str):
        return f"is {type(stored).__name__}, not text"
    bad = sorted({c for c in stored if ord(c) < 32 or ord(c) == 127})
    if bad:
        codes = ", ".join(f"U+{ord(c):04X}" for c in bad[:3])
        return f"contains control characters ({codes})"
    if len(stored) > MAX_PATH_CHARS:
        return f"is {len(stored)} characters long (at most {MAX_PATH_CHARS})"
    for part in PurePath(stored).parts:
        if len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
            return f"has a name longer than {MAX_NAME_BYTES} bytes"
    return None


def escape_problem(stored: str) -> str | None:
    """Why the relative path ``stored`` does not stay inside the folder it is relative
    to (it is absolute, starts with ``~`` or goes up with ``..``); None when it does."""
    if not stored:
        return "is empty"
    if Path(stored).is_absolute() or PurePosixPath(stored.replace("\\", "/")).is_absolute():
        return "is absolute"
    if stored.startswith("~"):
        return "starts with ~ (a home folder)"
    if ".." in PurePosixPath(stored.replace("\\", "/")).parts:
        return "goes up with .."
    return None


def shown(stored: str, limit: int = 80) -> str:
    """``stored`` for a message: quoted, control characters escaped, long ones cut."""
    text = repr(stored[:limit])
    return text[:-1] + "...'" if len(stored) > limit else text
