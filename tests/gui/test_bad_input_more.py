"""Environment bad input that docs/bad-input.md lists and no other test covered: a Qt
binding that corrupts None's reference count (PySide6 6.12.0 on CPython 3.11, installed
around pyproject's range) makes the manager refuse to start with a message, exit status
3 and a message box -- before any window or VM exists (vmgui.app.run_gui,
vmgui.ui.binding_check)."""

from __future__ import annotations

import types

import pytest
from PySide6.QtWidgets import QMessageBox

from vmgui import app
from vmgui.ui import binding_check


@pytest.fixture
def app_identity(qapp):
    """run_gui names the application; put the test session's names back afterwards."""
    saved = (qapp.applicationName(), qapp.applicationDisplayName(),
             qapp.organizationName(), qapp.desktopFileName(), qapp.windowIcon())
    yield qapp
    qapp.setApplicationName(saved[0])
    qapp.setApplicationDisplayName(saved[1])
    qapp.setOrganizationName(saved[2])
    qapp.setDesktopFileName(saved[3])
    qapp.setWindowIcon(saved[4])


def test_a_binding_that_loses_none_references_is_refused_at_start(app_identity, monkeypatch,
                                                                  capsys):
    import PySide6

    # Python 3.11 (where the bug bites) and a painter call that loses one reference to
    # None per call, as the broken binding's did; the real check composes the message.
    monkeypatch.setattr(binding_check, "sys", types.SimpleNamespace(version_info=(3, 11, 9)))
    monkeypatch.setattr(binding_check, "none_references_lost",
                        lambda call, calls=binding_check.CALLS: calls)
    boxes: list[tuple[str, str]] = []
    monkeypatch.setattr(QMessageBox, "critical",
                        lambda _parent, title, text, *a: boxes.append((title, text)))

    def no_manager(*args, **kwargs):
        raise AssertionError("the manager window must not open on a broken binding")

    monkeypatch.setattr("vmgui.ui.manager.ManagerWindow", no_manager)
    assert app.run_gui(["vmgui"]) == 3
    problem = (f"PySide6 {PySide6.__version__} on Python 3.11.9 corrupts None's reference "
               f"count ({2 * binding_check.CALLS} references lost in "
               f"{2 * binding_check.CALLS} painter calls): the manager would abort within "
               "minutes.  Install a release below 6.12: pip install 'PySide6-Essentials<6.12'")
    assert boxes == [("vmgui", problem)]
    assert capsys.readouterr().err == f"vmgui: {problem}\n"
