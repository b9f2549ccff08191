"""Strategies for damaging files: byte-level mutations of a valid file, TOML documents
with random values in place of valid ones, and nesting deep enough to exhaust a
recursive parser.  Shared by the parser fuzz tests.
"""

from __future__ import annotations

import json
import os
import traceback
from collections.abc import Callable
from pathlib import Path

import tomli_w
from hypothesis import assume, event
from hypothesis import strategies as st

NASTY_TEXT = ("", "../outside.img", "../../x", "/etc/passwd", "/dev/zero", "a\x00b",
              "x" * 5000, "C:\\evil.img", "disk.img/..", ".", "~", "\udcff", "💾", "\n",
              "snapshots/../../x.cow")
NASTY_NUMBERS = (0, -1, 2**31, 2**63 - 1, -(2**63), 10**18)

toml_scalars = st.one_of(
    st.text(max_size=20), st.sampled_from(NASTY_TEXT), st.integers(-(2**63), 2**63 - 1),
    st.sampled_from(NASTY_NUMBERS), st.floats(), st.booleans(),
    st.datetimes(), st.dates(), st.times())
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=4)),
    max_leaves=12)


@st.composite
def byte_mutations(draw, valid: bytes) -> bytes:
    """``valid`` with a few random edits: flips, overwrites, cuts, insertions, truncation."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(("flip", "set", "cut", "insert", "truncate", "repeat")))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[at] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, draw(st.integers(0, 255))]))
        elif kind == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        elif kind == "truncate":
            del data[at:]
        elif kind == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 256))]
    return bytes(data)


def _paths(d: object, prefix: tuple = ()) -> list[tuple]:
    """Every key path in nested dicts/lists (dict keys and list indexes)."""
    out = [prefix] if prefix else []
    if isinstance(d, dict):
        for key, value in d.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(d, list):
        for i, value in enumerate(d):
            out += _paths(value, (*prefix, i))
    return out


@st.composite
def toml_mutations(draw, valid: dict) -> bytes:
    """``valid`` re-serialised after replacing, deleting or adding values at random."""
    doc = json.loads(json.dumps(valid))  # a deep copy of plain data
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(doc)
        kind = draw(st.sampled_from(("replace", "replace", "delete", "add")))
        if kind == "add" or not paths:
            doc[draw(st.text(min_size=1, max_size=10))] = draw(toml_values)
            continue
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if kind == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(toml_values)
    if not isinstance(doc, dict):
        doc = {"x": doc}
    try:
        return tomli_w.dumps(doc).encode("utf-8")
    except (TypeError, ValueError):  # a value TOML cannot hold (e.g. a lone surrogate)
        assume(False)
        raise


@st.composite
def deep_toml(draw, key: str) -> bytes:
    """``key`` set to arrays or inline tables nested thousands deep."""
    depth = draw(st.sampled_from([100, 1000, 5000, 50000]))
    if draw(st.booleans()):
        value = "[" * depth + "]" * depth
    else:
        value = "{a = " * depth + "1" + "}" * depth
    return f"{key} = {value}\n".encode()


def deep_json(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def check_raises_only(fn: Callable[[], object], allowed: tuple[type[BaseException], ...],
                      what: str) -> object:
    """Call ``fn``: its result, or one of the ``allowed`` (vmgui's named) exceptions;
    any other exception fails the test with its type named.  With VMGUI_FUZZ_COLLECT=FILE
    such an exception is appended to FILE (one line, where it was raised) instead, so
    that one long run lists every distinct failure rather than stopping at the first."""
    try:
        result = fn()
    except allowed as exc:
        event(f"{what}: {type(exc).__name__}")
        return None
    except Exception as exc:
        collect = os.environ.get("VMGUI_FUZZ_COLLECT")
        if collect:
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            with open(collect, "a", encoding="utf-8") as f:
                f.write(f"{what} raised {type(exc).__name__} at "
                        f"{Path(frame.filename).name}:{frame.lineno}: {exc!r:.160}\n")
            return None
        raise AssertionError(f"{what} raised {type(exc).__name__}: {exc!r:.300} -- only "
                             f"{', '.join(a.__name__ for a in allowed)} are expected") from exc
    event(f"{what}: accepted")
    return result
