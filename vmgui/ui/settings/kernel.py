"""The settings dialog's Kernel page: boot a Linux kernel directly instead of a disk.

Owns: :class:`KernelPage` -- a check box "Boot a Linux kernel directly" and the kernel,
initrd and command-line fields (:class:`vmgui.ui.kernel_fields.KernelFields`), which
edit :attr:`vmgui.config.schema.VmConfig.direct_boot`.  Unticked, the VM boots from its
disks and the fields are forgotten when saved; the disks stay attached either way.
Relative paths (as the VM folder's files are stored) are checked in the VM's folder.
Locked while the VM runs (the kernel is loaded at power-on).

Thread rule: GUI thread only.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QCheckBox, QLabel

from vmgui.config.schema import DirectBoot, VmConfig
from vmgui.ui.kernel_fields import KernelFields
from vmgui.ui.settings.pages import Page


class KernelPage(Page):
    def __init__(self, folder: Path, parent=None) -> None:
        super().__init__(parent)
        self.folder = Path(folder)
        self.enabled = QCheckBox(self.tr("&Boot a Linux kernel directly (instead of the "
                                         "boot order's disks)"), self)
        self.fields = KernelFields(self)
        note = QLabel(self.tr("The kernel (a bzImage) and its initrd are loaded into memory "
                              "at power-on, as QEMU's -kernel does; the disks stay attached "
                              "and Linux sees them. console=ttyS0 shows the console in the "
                              "serial dock."), self)
        note.setWordWrap(True)
        self.layout_.addWidget(self.enabled)
        self.layout_.addWidget(self.fields)
        self.layout_.addWidget(note)
        self.finish_layout()
        self.locked = [self.enabled, self.fields]
        self._running = False
        self.enabled.toggled.connect(lambda _on: self._update())
        self.fields.changed.connect(self.changed)

    def _update(self) -> None:
        if not self._running:
            self.fields.setEnabled(self.enabled.isChecked())
        self.changed.emit()

    def load(self, config: VmConfig) -> None:
        boot = config.direct_boot
        self.fields.set_direct_boot(boot)
        self.enabled.setChecked(boot.enabled)
        self._update()

    def direct_boot(self) -> DirectBoot:
        return self.fields.direct_boot() if self.enabled.isChecked() else DirectBoot()

    def apply(self, config: VmConfig) -> None:
        config.direct_boot = self.direct_boot()

    def problems(self) -> list[str]:
        if not self.enabled.isChecked():
            return []
        return self.fields.problems(self.folder)

    def set_running(self, running: bool) -> None:
        self._running = running
        super().set_running(running)
        self._update()
