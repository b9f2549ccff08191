"""A start-up check of the Qt binding: does it keep None's reference count?

PySide6 6.12.0 on CPython 3.11 lowers None's reference count on every void QPainter
call; a manager with live thumbnails then dies within minutes ("Fatal Python error:
none_dealloc"), taking every VM it runs with it.  pyproject.toml keeps such releases
out, but a binding installed another way (a distribution package, ``--no-deps``) is
checked here once, before any window opens, so the user gets a message instead of an
abort.  From CPython 3.12 None is immortal and the bug cannot hurt.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

CALLS = 64


def none_references_lost(void_call: Callable[[], object], calls: int = CALLS) -> int:
    """References None lost over ``calls`` calls of ``void_call`` (0 when healthy)."""
    before = sys.getrefcount(None)
    for _ in range(calls):
        void_call()
    return max(0, before - sys.getrefcount(None))


def binding_problem() -> str | None:
    """A sentence for the user when the installed PySide6 has the None bug, else None.
    Needs a QGuiApplication (or QApplication) to exist."""
    if sys.version_info >= (3, 12):
        return None
    import PySide6
    from PySide6.QtGui import QImage, QPainter

    image = QImage(8, 8, QImage.Format.Format_RGB32)
    painter = QPainter(image)
    try:
        lost = none_references_lost(painter.save) + none_references_lost(painter.restore)
    finally:
        painter.end()
    if lost < CALLS:
        return None
    python = ".".join(map(str, sys.version_info[:3]))
    return (f"PySide6 {PySide6.__version__} on Python {python} corrupts None's reference "
            f"count ({lost} references lost in {2 * CALLS} painter calls): the manager "
            "would abort within minutes.  Install a release below 6.12: "
            "pip install 'PySide6-Essentials<6.12'")
