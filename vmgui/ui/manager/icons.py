"""Icons of the manager, wizard and settings: SVGs in ``resources/icons``.

Owns: finding ``resources/icons`` (next to the package, as :mod:`vmgui.devices.fonts`
finds ``resources/fonts``) and loading an icon by name, falling back to a QStyle standard
icon when the SVG is missing or cannot be loaded (no SVG plug-in).
"""

from __future__ import annotations

import functools
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QStyle

RESOURCES = Path(__file__).resolve().parent.parent.parent.parent / "resources"
ICON_DIR = RESOURCES / "icons"
DEMO_IMAGE = RESOURCES / "guests" / "demo.img"

SP = QStyle.StandardPixmap
#: icon name -> the standard icon used when the SVG is missing
FALLBACKS: dict[str, QStyle.StandardPixmap] = {
    "vmgui": SP.SP_ComputerIcon,
    "new": SP.SP_FileDialogNewFolder,
    "add": SP.SP_DialogOpenButton,
    "settings": SP.SP_FileDialogDetailedView,
    "start": SP.SP_MediaPlay,
    "pause": SP.SP_MediaPause,
    "reset": SP.SP_BrowserReload,
    "poweroff": SP.SP_MediaStop,
    "clone": SP.SP_FileLinkIcon,
    "remove": SP.SP_TrashIcon,
    "folder": SP.SP_DirOpenIcon,
    "state-running": SP.SP_MediaPlay,
    "state-paused": SP.SP_MediaPause,
    "state-off": SP.SP_MediaStop,
    "state-error": SP.SP_MessageBoxWarning,
    "state-saved": SP.SP_DialogSaveButton,
    "discard": SP.SP_DialogDiscardButton,
    "general": SP.SP_MessageBoxInformation,
    "system": SP.SP_ComputerIcon,
    "storage": SP.SP_DriveFDIcon,
    "display": SP.SP_DesktopIcon,
    "serial": SP.SP_DriveNetIcon,
    "kernel": SP.SP_FileIcon,
}


@functools.cache
def _svg_icon(name: str) -> QIcon | None:
    path = ICON_DIR / f"{name}.svg"
    if not path.is_file():
        return None
    icon = QIcon(str(path))
    return None if icon.isNull() or icon.pixmap(16).isNull() else icon


def icon(name: str) -> QIcon:
    """The icon called ``name`` (an SVG file stem); a standard icon if it is missing.

    GUI thread only, after the QApplication exists."""
    found = _svg_icon(name)
    if found is not None:
        return found
    style = QApplication.style()
    return style.standardIcon(FALLBACKS.get(name, SP.SP_FileIcon))


def app_icon() -> QIcon:
    return icon("vmgui")
