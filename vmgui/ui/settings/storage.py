"""The settings dialog's Storage page: floppy A: and B:, hard disks C: and D:, the CD/DVD
drive.

Owns: :class:`DriveRow` (one drive: image path, Choose / New / Eject, read-only) and
:class:`StoragePage`.  The CD/DVD drive row is shown on machines that have one
(:attr:`vmgui.core.profiles.MachineProfile.cdrom`); on others a note says where to get
one, and a CD still attached (the machine was changed on the System page) stays shown
with the problem, so it can be ejected.  A chosen CD image is checked as the VM would open
it: what :class:`~vmgui.storage.cdimage.CdImage` says about a file that is not an ISO 9660
image, a truncated one or a folder is shown on the page and blocks Save.  A CD is always
read-only (no New…, no read-only box).

Thread rule: GUI thread only.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from vmgui.config.schema import Attachment, VmConfig
from vmgui.core.profiles import DEFAULT_PROFILE
from vmgui.storage import media
from vmgui.ui.machines import CD_DRIVE, has_cd_drive, no_cd_drive_text
from vmgui.ui.media_files import IMAGE_FILTER, ISO_FILTER, cd_problem
from vmgui.ui.settings.pages import Page


class DriveRow:
    """One drive's widgets: image path, Choose / New / Eject buttons, read-only box."""

    def __init__(self, page: StoragePage, grid: QGridLayout, row: int, label: str,
                 kind: str) -> None:
        self.page, self.kind = page, kind
        self.label = QLabel(label, page)
        self.path = QLineEdit(page)
        self.path.setPlaceholderText(page.tr("empty"))
        self.path.setAccessibleName(label)
        self.label.setBuddy(self.path)
        self.choose = QPushButton(page.tr("Choose…"), page)
        self.choose.setAccessibleName(page.tr("Choose an image for {0}").format(label))
        self.new = QPushButton(page.tr("New…"), page)
        self.new.setAccessibleName(page.tr("Create a blank image for {0}").format(label))
        self.eject = QPushButton(page.tr("Eject"), page)
        self.eject.setAccessibleName(page.tr("Eject {0}").format(label))
        self.read_only = QCheckBox(page.tr("Read-only"), page)
        buttons = QHBoxLayout()
        for widget in (self.choose, self.new, self.eject, self.read_only):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        if kind == "cdrom":  # nothing to create, never written
            self.new.hide()
            self.read_only.hide()
        grid.addWidget(self.label, 2 * row, 0)
        grid.addWidget(self.path, 2 * row, 1)
        grid.addLayout(buttons, 2 * row + 1, 1)
        self.choose.clicked.connect(self.choose_image)
        self.new.clicked.connect(self.create_image)
        self.eject.clicked.connect(lambda: self.path.clear())
        self.path.textChanged.connect(page.changed)
        self.read_only.toggled.connect(page.changed)

    def widgets(self) -> list[QWidget]:
        return [self.path, self.choose, self.new, self.eject, self.read_only]

    def set_visible(self, visible: bool) -> None:
        self.label.setVisible(visible)
        for widget in (self.path, self.choose, self.eject):
            widget.setVisible(visible)
        if self.kind != "cdrom":
            self.new.setVisible(visible)
            self.read_only.setVisible(visible)

    def load(self, att: Attachment | None) -> None:
        self.path.setText(att.path if att else "")
        self.read_only.setChecked(bool(att and att.read_only))

    def attachment(self) -> Attachment | None:
        text = self.path.text().strip()
        if not text:
            return None
        return Attachment(text, self.kind == "cdrom" or self.read_only.isChecked())

    def problem(self, folder: Path) -> str | None:
        att = self.attachment()
        if att is None:
            return None
        path = att.resolve(folder)
        if not path.exists():
            return self.page.tr("{0} {1} does not exist.").format(self.label.text(), att.path)
        if self.kind == "cdrom":
            return cd_problem(path)  # not ISO 9660, truncated, a folder...
        if not path.is_file():
            return self.page.tr("{0} {1} does not exist.").format(self.label.text(), att.path)
        return None

    def choose_image(self) -> None:
        cd = self.kind == "cdrom"
        path, _filter = QFileDialog.getOpenFileName(
            self.page, self.page.tr("Choose an ISO image" if cd else "Choose a disk image"),
            str(self.page.folder), self.page.tr(ISO_FILTER if cd else IMAGE_FILTER))
        if path:
            self.set_image(Path(path))

    def set_image(self, path: Path) -> None:
        """Insert ``path``; images inside the VM folder are stored relative to it."""
        try:
            path = path.resolve().relative_to(self.page.folder.resolve())
        except ValueError:
            pass
        self.path.setText(str(path))

    def create_image(self) -> None:
        page = self.page
        stem = "floppy" if self.kind == "floppy" else "disk"
        target, n = page.folder / f"{stem}.img", 1
        while target.exists():
            n += 1
            target = page.folder / f"{stem}-{n}.img"
        try:
            if self.kind == "floppy":
                label, ok = QInputDialog.getItem(page, page.tr("New floppy"), page.tr("Size:"),
                                                 list(media.NEW_FLOPPY_LABELS), 3, False)
                if not ok:
                    return
                media.create_floppy(target, label)
            else:
                size, ok = QInputDialog.getInt(page, page.tr("New hard disk"),
                                               page.tr("Size in MB:"), 32,
                                               media.MIN_HARD_DISK_MB, media.MAX_HARD_DISK_MB)
                if not ok:
                    return
                media.create_hard_disk(target, size)
        except media.DiskImageError as exc:
            page.problem.setText(str(exc))
            return
        self.set_image(target)


class StoragePage(Page):
    def __init__(self, folder: Path, parent=None) -> None:
        super().__init__(parent)
        self.folder = Path(folder)
        self.profile_name = DEFAULT_PROFILE
        box = QGroupBox(self.tr("Drives"), self)
        grid = QGridLayout(box)
        grid.setColumnStretch(1, 1)
        self.floppy_a = DriveRow(self, grid, 0, self.tr("Floppy A:"), "floppy")
        self.floppy_b = DriveRow(self, grid, 1, self.tr("Floppy B:"), "floppy")
        self.disk_c = DriveRow(self, grid, 2, self.tr("Hard disk C:"), "hdd")
        self.disk_d = DriveRow(self, grid, 3, self.tr("Hard disk D:"), "hdd")
        self.cdrom = DriveRow(self, grid, 4, self.tr(CD_DRIVE), "cdrom")
        self.no_cd = QLabel(box)
        self.no_cd.setWordWrap(True)
        self.no_cd.setAccessibleName(self.tr("CD/DVD drive note"))
        grid.addWidget(self.no_cd, 10, 0, 1, 2)
        hint = QLabel(self.tr("Relative paths are inside the VM folder: {0}").format(self.folder),
                      self)
        hint.setWordWrap(True)
        self.layout_.addWidget(box)
        self.layout_.addWidget(hint)
        self.finish_layout()
        self.rows = (self.floppy_a, self.floppy_b, self.disk_c, self.disk_d, self.cdrom)
        self.locked = [w for row in self.rows for w in row.widgets()]
        self.cdrom.path.textChanged.connect(lambda _text: self._show_cd_drive())
        self._show_cd_drive()

    def set_profile(self, name: str) -> None:
        """The VM's machine is ``name`` (loaded, or chosen on the System page)."""
        self.profile_name = name
        self._show_cd_drive()
        self.changed.emit()

    def _show_cd_drive(self) -> None:
        has_cd = has_cd_drive(self.profile_name)
        attached = bool(self.cdrom.path.text().strip())  # then the problem says it
        self.cdrom.set_visible(has_cd or attached)
        self.no_cd.setText("" if has_cd else self.tr(
            "{0} To boot an ISO image, choose that machine on the System page.").format(
            no_cd_drive_text(self.profile_name)))
        self.no_cd.setVisible(not has_cd and not attached)

    def load(self, config: VmConfig) -> None:
        self.floppy_a.load(config.floppy_a)
        self.floppy_b.load(config.floppy_b)
        disks = list(config.hard_disks) + [None, None]
        self.disk_c.load(disks[0])
        self.disk_d.load(disks[1])
        self.cdrom.load(config.cdrom)
        self.profile_name = config.profile
        self._show_cd_drive()

    def apply(self, config: VmConfig) -> None:
        config.floppy_a = self.floppy_a.attachment()
        config.floppy_b = self.floppy_b.attachment()
        config.hard_disks = [a for a in (self.disk_c.attachment(), self.disk_d.attachment())
                             if a is not None]
        config.cdrom = self.cdrom.attachment()

    def problems(self) -> list[str]:
        problems = [p for row in self.rows if (p := row.problem(self.folder)) is not None]
        if self.cdrom.attachment() is not None and not has_cd_drive(self.profile_name):
            problems.append(self.tr("{0} Eject the CD, or choose that machine on the System "
                                    "page.").format(no_cd_drive_text(self.profile_name)))
        return problems
