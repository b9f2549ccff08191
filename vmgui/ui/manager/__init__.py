"""The manager: the main window listing the VM library, with the VMs' run states.

Public entry: :class:`ManagerWindow` (see :mod:`vmgui.ui.manager.window`).
"""

from vmgui.ui.manager.running import RunError, VmRunner
from vmgui.ui.manager.window import ManagerWindow

__all__ = ["ManagerWindow", "RunError", "VmRunner"]
