"""Composition root: what ``main.py`` and the ``vmgui`` command start.

Until the manager window lands, this is the command-line front end.
"""

from __future__ import annotations

from vmgui.cli.main import main

__all__ = ["main"]
