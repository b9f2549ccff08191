"""None's reference count survives thousands of paints of the manager and a console.

PySide6 6.12.0 on CPython 3.11 lowered None's reference count on every void QPainter
call (../shared/repro/none-refcount.py); the manager aborted after minutes of live
thumbnails with "Fatal Python error: none_dealloc".  pyproject.toml keeps PySide6 below
6.12; this test fails on a binding with that bug.  (From CPython 3.12 None is immortal
and its count does not move: the test then only checks the paints run.)
"""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication, QWidget

from tests.gui.test_manager import add_demo_vm, wait_running

ROUNDS = 2000
CHECK_EVERY = 100  # stop early, before a broken binding takes None's count to zero


def _paints_keep_none(widgets: list[QWidget]) -> None:
    for widget in widgets:
        before = sys.getrefcount(None)
        for done in range(1, ROUNDS + 1):
            widget.repaint()
            if done % CHECK_EVERY == 0:
                QApplication.processEvents()
                lost = before - sys.getrefcount(None)
                # a healthy binding moves None's count by a handful either way
                assert lost < 200, (f"{type(widget).__name__}: None lost {lost} "
                                    f"references in {done} paints")


def test_void_painter_calls_keep_none_alive(qapp):
    image = QImage(64, 64, QImage.Format.Format_RGB32)
    painter = QPainter(image)
    before = sys.getrefcount(None)
    for _ in range(ROUNDS):
        painter.save()
        painter.drawRect(QRect(0, 0, 5, 5))
        painter.restore()
    painter.end()
    assert before - sys.getrefcount(None) < 200


def test_list_thumbnails_details_and_console_paint_thousands_of_times(
        library, make_manager, qtbot):
    for name in ("One", "Two"):
        add_demo_vm(library, name)
    window = make_manager(library)
    window.select("One")  # the details pane previews the running VM's screen
    vm = window.start_vm("One")
    wait_running(qtbot, vm.host)
    qtbot.waitUntil(lambda: any(line.strip() for line in vm.host.text_lines()), timeout=8000)
    _paints_keep_none([window.list.viewport(), window.details, vm.console, vm.console.view])


def test_the_start_up_check_passes_on_the_installed_binding(qapp):
    from vmgui.ui.binding_check import binding_problem

    assert binding_problem() is None


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from 3.12")
def test_the_start_up_check_counts_lost_references():
    """A call that drops one reference to None per call, as the broken binding did."""
    import ctypes

    from vmgui.ui.binding_check import CALLS, none_references_lost

    dec = ctypes.pythonapi.Py_DecRef
    dec.argtypes = [ctypes.py_object]
    inc = ctypes.pythonapi.Py_IncRef
    inc.argtypes = [ctypes.py_object]
    try:
        assert none_references_lost(lambda: dec(None)) == CALLS
    finally:
        for _ in range(CALLS):
            inc(None)
    assert none_references_lost(lambda: None) == 0
