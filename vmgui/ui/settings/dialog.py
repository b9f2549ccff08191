"""The settings dialog of one VM: a page list on the left, the page on the right.

Owns: :class:`SettingsDialog`.  It edits a copy of the VM's configuration; invalid values
are shown on their page (the page's entry in the list gets a warning icon) and disable
Save.  Save writes ``vm.toml`` with ``Library.save`` and then renames the VM with
``Library.rename`` if the name changed; :attr:`SettingsDialog.saved` carries the (new)
name.  While the VM runs, what it cannot change live is disabled, with a tooltip saying
why (name, try-out mode, system, storage, kernel, serial; notes and display stay
editable).

Thread rule: GUI thread only.
"""

from __future__ import annotations

import copy
import logging

from PySide6.QtCore import QSize, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from vmgui.config.library import Library, LibraryError, VmEntry
from vmgui.config.schema import ConfigError, VmConfig
from vmgui.ui.manager.icons import app_icon, icon
from vmgui.ui.settings.kernel import KernelPage
from vmgui.ui.settings.pages import (
    ERROR_STYLE,
    DisplayPage,
    GeneralPage,
    Page,
    SerialPage,
    SystemPage,
)
from vmgui.ui.settings.storage import StoragePage

log = logging.getLogger(__name__)


class SettingsDialog(QDialog):
    """Edit ``entry``'s settings.  ``running``: the VM is running now."""

    saved = Signal(str)

    def __init__(self, library: Library, entry: VmEntry, *, running: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        if entry.config is None:
            raise ValueError(f"{entry.name} is inaccessible: {entry.error}")
        self.library, self.entry, self.running = library, entry, running
        self.original: VmConfig = copy.deepcopy(entry.config)
        self.setWindowTitle(self.tr("{0} - Settings").format(entry.name))
        self.setWindowIcon(app_icon())
        self.general = GeneralPage(library, entry.name, self)
        self.system = SystemPage(self)
        self.storage = StoragePage(entry.folder, self)
        self.kernel = KernelPage(entry.folder, self)
        self.display = DisplayPage(self)
        self.serial = SerialPage(self)
        self.pages: list[tuple[str, str, Page]] = [
            (self.tr("General"), "general", self.general),
            (self.tr("System"), "system", self.system),
            (self.tr("Storage"), "storage", self.storage),
            (self.tr("Kernel"), "kernel", self.kernel),
            (self.tr("Display"), "display", self.display),
            (self.tr("Serial port"), "serial", self.serial)]
        self._build()
        for _title, _icon, page in self.pages:
            page.load(self.original)
            page.set_running(running)
            page.changed.connect(self.validate)
        self.system.profile_changed.connect(self.storage.set_profile)
        self.validate()
        self.resize(760, 540)

    def _build(self) -> None:
        self.page_list = QListWidget(self)
        self.page_list.setAccessibleName(self.tr("Settings pages"))
        self.page_list.setIconSize(QSize(24, 24))
        self.page_list.setFixedWidth(160)
        self.stack = QStackedWidget(self)
        for title, icon_name, page in self.pages:
            QListWidgetItem(icon(icon_name), title, self.page_list)
            self.stack.addWidget(page)
        self.page_list.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.page_list.setCurrentRow(0)
        self.running_note = QLabel(self.tr("The virtual machine is running: some settings "
                                           "can only be changed after it is powered off."),
                                   self)
        self.running_note.setWordWrap(True)
        self.running_note.setVisible(self.running)
        self.problem = QLabel(self)
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(ERROR_STYLE)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel, self)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        top = QHBoxLayout()
        top.addWidget(self.page_list)
        top.addWidget(self.stack, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top, 1)
        layout.addWidget(self.running_note)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)

    def config(self) -> VmConfig:
        """The configuration as the pages show it."""
        config = copy.deepcopy(self.original)
        for _title, _icon, page in self.pages:
            page.apply(config)
        return config

    def _folder_gone(self) -> str | None:
        if self.entry.folder.is_dir():
            return None
        return self.tr("the folder of {0} ({1}) no longer exists: it was moved or deleted "
                       "outside vmgui").format(self.entry.name, self.entry.folder)

    def problems(self) -> list[str]:
        gone = self._folder_gone()
        problems: list[str] = [gone] if gone else []
        for row, (title, icon_name, page) in enumerate(self.pages):
            found = page.refresh_problems()
            self.page_list.item(row).setIcon(icon("state-error" if found else icon_name))
            problems += [f"{title}: {p}" for p in found]
        if not problems:  # anything the pages do not check themselves
            problems = self.config().validate()
        return problems

    def validate(self) -> bool:
        problems = self.problems()
        self.problem.setText(self.tr("Cannot save: {0}").format(problems[0]) if problems
                             else "")
        self.save_button.setEnabled(not problems)
        self.save_button.setToolTip("\n".join(problems))
        return not problems

    def save(self) -> str:
        """Write the settings (and rename); returns the VM's name.  Raises on failure."""
        config = self.config()
        new_name = config.name
        config.name = self.entry.name
        gone = self._folder_gone()
        if gone:
            raise LibraryError(gone)
        self.library.save(config, self.entry.folder)
        if new_name != self.entry.name:
            self.library.rename(self.entry.name, new_name)
        return new_name

    def accept(self) -> None:
        if not self.validate():
            return
        try:
            name = self.save()
        except (LibraryError, ConfigError, OSError) as exc:
            log.warning("cannot save the settings of %s: %s", self.entry.name, exc)
            QMessageBox.warning(self, self.tr("Cannot save the settings"), str(exc))
            return
        log.info("saved the settings of %s", name)
        super().accept()
        self.saved.emit(name)
