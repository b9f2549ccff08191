"""The console window of a running VM: framebuffer, keyboard capture, menus, status bar.

Public entry: :class:`ConsoleWindow` (see :mod:`vmgui.ui.console.window`).  A launcher
for manual testing: ``python -m vmgui.ui.console IMAGE``.
"""

from vmgui.ui.console.framebuffer import FramebufferView, ScaleMode
from vmgui.ui.console.window import ConsoleWindow

__all__ = ["ConsoleWindow", "FramebufferView", "ScaleMode"]
