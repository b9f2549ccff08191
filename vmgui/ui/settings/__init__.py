"""The settings dialog of a VM (:class:`SettingsDialog`)."""

from vmgui.ui.settings.dialog import SettingsDialog

__all__ = ["SettingsDialog"]
