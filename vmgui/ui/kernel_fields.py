"""The three fields of a direct Linux boot: kernel file, initrd file, command line.

Owns: :class:`KernelFields`, the widget the New-VM wizard's boot-media page and the
settings' Kernel page share: two file fields with Browse buttons and the command line
(:data:`DEFAULT_APPEND` to start with), and their problems (the files checked by
:mod:`vmgui.ui.media_files`, the command line by
:meth:`vmgui.config.schema.DirectBoot.validate`).  Relative paths (as a VM folder's files
store them) are resolved against the folder the caller gives.

Thread rule: GUI thread only.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from vmgui.config.schema import DirectBoot
from vmgui.ui.media_files import INITRD_FILTER, KERNEL_FILTER, initrd_problem, kernel_problem

#: the command line a new direct boot starts with: the kernel's messages and a console on
#: the screen and on COM1 (the serial dock); vmgui's machines have no APIC
DEFAULT_APPEND = "console=tty0 console=ttyS0 noapic nolapic"


class KernelFields(QWidget):
    """Kernel, initrd and command line; ``changed`` on every edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kernel = QLineEdit(self)
        self.kernel.setAccessibleName(self.tr("Linux kernel file"))
        self.kernel.setPlaceholderText(self.tr("a bzImage, e.g. vmlinuz"))
        self.kernel_browse = QPushButton(self.tr("Br&owse…"), self)
        self.kernel_browse.setAccessibleName(self.tr("Choose a Linux kernel"))
        self.initrd = QLineEdit(self)
        self.initrd.setAccessibleName(self.tr("Initrd file"))
        self.initrd.setPlaceholderText(self.tr("optional: an initramfs, e.g. initrd.img"))
        self.initrd_browse = QPushButton(self.tr("B&rowse…"), self)
        self.initrd_browse.setAccessibleName(self.tr("Choose an initrd"))
        self.append = QLineEdit(DEFAULT_APPEND, self)
        self.append.setAccessibleName(self.tr("Kernel command line"))
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        for row, (text, edit, button) in enumerate((
                (self.tr("&Kernel:"), self.kernel, self.kernel_browse),
                (self.tr("Initr&d:"), self.initrd, self.initrd_browse),
                (self.tr("Co&mmand line:"), self.append, None))):
            label = QLabel(text, self)
            label.setBuddy(edit)
            grid.addWidget(label, row, 0)
            grid.addWidget(edit, row, 1, 1, 1 if button else 2)
            if button is not None:
                grid.addWidget(button, row, 2)
        grid.setColumnStretch(1, 1)
        self.kernel_browse.clicked.connect(lambda: self._choose(self.kernel, KERNEL_FILTER,
                                                                self.tr("Choose a Linux kernel")))
        self.initrd_browse.clicked.connect(lambda: self._choose(self.initrd, INITRD_FILTER,
                                                                self.tr("Choose an initrd")))
        for edit in (self.kernel, self.initrd, self.append):
            edit.textChanged.connect(lambda _text: self.changed.emit())

    def _choose(self, edit: QLineEdit, filter_: str, title: str) -> None:
        typed = edit.text().strip()
        start = str(Path(typed).expanduser().parent) if typed else ""
        path, _filter = QFileDialog.getOpenFileName(self, title, start, self.tr(filter_))
        if path:
            edit.setText(path)

    def direct_boot(self) -> DirectBoot:
        """The fields as they are (paths stripped of surrounding blanks)."""
        return DirectBoot(self.kernel.text().strip(), self.initrd.text().strip(),
                          self.append.text().strip())

    def set_direct_boot(self, boot: DirectBoot) -> None:
        self.kernel.setText(boot.kernel)
        self.initrd.setText(boot.initrd)
        self.append.setText(boot.append if boot.enabled else DEFAULT_APPEND)

    def problems(self, folder: Path | None = None) -> list[str]:
        """What stops these fields from booting (relative paths: in ``folder``)."""
        boot = self.direct_boot()
        if not boot.enabled:
            return [self.tr("Choose a Linux kernel file.")]
        problems = boot.validate()
        if problems:
            return problems
        base = Path(folder) if folder is not None else Path.cwd()
        kernel, initrd, _append = boot.resolve(base)
        found = [kernel_problem(kernel)] + ([initrd_problem(initrd)] if initrd else [])
        return [problem for problem in found if problem]
