"""The New-VM wizard's boot-media page: no disk, an ISO to install from, a Linux kernel and
initrd booted directly, an existing image, a new blank floppy or hard disk.

Owns: :class:`MediaPage` (a chosen file is checked by :mod:`vmgui.ui.media_files`).
"Install from an ISO" puts the image in
the CD/DVD drive with, by default, a new blank hard disk, and boots the CD first.  Only
machines with a CD drive take an ISO: choosing one moves a machine the user did not pick
(the default) to the first machine with a CD drive and says so; a machine picked on the
Machine page is left alone and the page says it has no CD drive (with a button to switch).
"Linux kernel + initrd" stores the files (where they are) and the command line in the VM's
direct-boot settings (:class:`vmgui.ui.kernel_fields.KernelFields`); a Linux kernel needs
more memory than a DOS machine, so a Memory page value below :data:`LINUX_MEMORY_MB` is
raised to it, and the page says so.

Fields (``wizard.field(name)``): ``media_none`` / ``media_iso`` / ``media_existing`` /
``media_floppy`` / ``media_disk`` / ``media_kernel`` (the choice), ``iso_path``,
``iso_disk`` (a new hard disk beside the ISO), ``iso_disk_mb``, ``image_path``,
``image_kind`` (0 floppy, 1 hard disk), ``floppy_size`` (a label of
``NEW_FLOPPY_LABELS``), ``disk_mb``, ``tryout``, ``kernel_path``, ``initrd_path``,
``kernel_append``.

Thread rule: GUI thread only.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QSpinBox,
    QWidget,
    QWizardPage,
)

from vmgui.storage import media
from vmgui.storage.cdimage import is_iso9660
from vmgui.storage.image import MAX_FLOPPY_BYTES
from vmgui.ui.kernel_fields import KernelFields
from vmgui.ui.machines import cd_profiles, has_cd_drive, no_cd_drive_text, profile_label
from vmgui.ui.media_files import IMAGE_FILTER, ISO_FILTER, cd_problem, image_problem

DEFAULT_DISK_MB = 32
DEFAULT_ISO_DISK_MB = 2048  # an installer's disk (sparse: costs what the guest writes)
ERROR_STYLE = "color: #c01c28;"
LINUX_MEMORY_MB = 128  # what a Linux kernel and a busybox initramfs get (QEMU's default)


class MediaPage(QWizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle(self.tr("Boot media"))
        self.setSubTitle(self.tr("What the virtual machine starts from. You can change "
                                 "the media later in the settings."))
        self.switched_from: str | None = None  # the machine an ISO moved away from
        self.raised_memory_from: int | None = None  # the memory a kernel raised
        self._build_choices()
        self._build_layout()
        self.floppy.setChecked(True)
        for name, widget in (("media_none", self.none), ("media_iso", self.iso),
                             ("media_existing", self.existing),
                             ("media_floppy", self.floppy), ("media_disk", self.disk),
                             ("iso_path", self.iso_path), ("iso_disk", self.iso_disk),
                             ("iso_disk_mb", self.iso_disk_mb),
                             ("image_path", self.path), ("image_kind", self.kind),
                             ("disk_mb", self.disk_mb), ("tryout", self.tryout),
                             ("media_kernel", self.linux),
                             ("kernel_path", self.kernel_fields.kernel),
                             ("initrd_path", self.kernel_fields.initrd),
                             ("kernel_append", self.kernel_fields.append)):
            self.registerField(name, widget)
        self.registerField("floppy_size", self.floppy_size, "currentText",
                           self.floppy_size.currentTextChanged)
        self.group.buttonToggled.connect(lambda *_: self._update())
        self.path.textChanged.connect(self._on_path)
        self.iso_path.textChanged.connect(lambda _text: self._update())
        self.iso_disk.toggled.connect(lambda _on: self._update())
        self.kind.currentIndexChanged.connect(lambda _index: self._update())
        self.kernel_fields.changed.connect(self._update)
        self.use_cd_machine.clicked.connect(self._use_cd_machine)
        self._update()

    def _build_choices(self) -> None:
        self.group = QButtonGroup(self)
        self.none = QRadioButton(self.tr("&No disk for now"), self)
        self.iso = QRadioButton(self.tr("Install from an &ISO image (CD/DVD):"), self)
        self.existing = QRadioButton(self.tr("Use an &existing disk image:"), self)
        self.floppy = QRadioButton(self.tr("Create a new blank &floppy:"), self)
        self.disk = QRadioButton(self.tr("Create a new &hard disk:"), self)
        self.linux = QRadioButton(self.tr("Boot a &Linux kernel + initrd directly:"), self)
        for button in (self.none, self.iso, self.linux, self.existing, self.floppy, self.disk):
            self.group.addButton(button)
        self.kernel_fields = KernelFields(self)
        self.iso_path = QLineEdit(self)
        self.iso_path.setAccessibleName(self.tr("ISO image file"))
        self.iso_path.setPlaceholderText(self.tr("an .iso file"))
        self.iso_browse = QPushButton(self.tr("Bro&wse…"), self)
        self.iso_browse.setAccessibleName(self.tr("Choose an ISO image"))
        self.iso_browse.clicked.connect(self.choose_iso)
        self.iso_disk = QCheckBox(self.tr("and a new blank hard disk to install to:"), self)
        self.iso_disk.setChecked(True)
        self.iso_disk_mb = self._size_spin(DEFAULT_ISO_DISK_MB, self.tr("Installation disk size"))
        self.path = QLineEdit(self)
        self.path.setAccessibleName(self.tr("Existing image file"))
        self.path.setPlaceholderText(self.tr("an .img file"))
        self.browse = QPushButton(self.tr("&Browse…"), self)
        self.browse.clicked.connect(self.choose_image)
        self.kind = QComboBox(self)
        self.kind.addItems([self.tr("as floppy A:"), self.tr("as hard disk C:")])
        self.kind.setAccessibleName(self.tr("Attach the existing image as"))
        self.floppy_size = QComboBox(self)
        self.floppy_size.addItems(list(media.NEW_FLOPPY_LABELS))
        self.floppy_size.setCurrentText("1.44M")
        self.floppy_size.setAccessibleName(self.tr("Floppy size"))
        self.disk_mb = self._size_spin(DEFAULT_DISK_MB, self.tr("Hard disk size"))
        self.machine_note = QLabel(self)
        self.machine_note.setWordWrap(True)
        self.machine_note.setAccessibleName(self.tr("Machine note"))
        self.use_cd_machine = QPushButton(self)
        self.use_cd_machine.setSizePolicy(QSizePolicy.Policy.Maximum,
                                          QSizePolicy.Policy.Fixed)
        self.problem = QLabel(self)
        self.problem.setStyleSheet(ERROR_STYLE)
        self.problem.setWordWrap(True)
        self.tryout = QCheckBox(self.tr("&Try-out mode"), self)
        self.tryout_note = QLabel(self.tr("Disk changes are thrown away at power-off unless "
                                          "you keep them as a snapshot. The settings change "
                                          "it later."), self)
        self.tryout_note.setWordWrap(True)
        self.tryout.setAccessibleDescription(self.tryout_note.text())

    def _size_spin(self, value: int, name: str) -> QSpinBox:
        spin = QSpinBox(self)
        spin.setRange(media.MIN_HARD_DISK_MB, media.MAX_HARD_DISK_MB)
        spin.setValue(value)
        spin.setSuffix(self.tr(" MB"))
        spin.setAccessibleName(name)
        return spin

    def _build_layout(self) -> None:
        grid = QGridLayout(self)
        grid.setColumnMinimumWidth(0, 24)
        grid.setVerticalSpacing(4)
        grid.setColumnStretch(1, 1)
        place = [  # (widget, row, column, column span); column 0 is the radio buttons'
            (self.none, 0, 0, 4), (self.iso, 1, 0, 4),
            (self.iso_path, 2, 1, 2), (self.iso_browse, 2, 3, 1),
            (self.iso_disk, 3, 1, 2), (self.iso_disk_mb, 3, 3, 1),
            (self.linux, 4, 0, 4), (self.kernel_fields, 5, 1, 3),
            (self.existing, 6, 0, 4), (self.path, 7, 1, 1), (self.kind, 7, 2, 1),
            (self.browse, 7, 3, 1), (self.floppy, 8, 0, 2), (self.floppy_size, 8, 2, 1),
            (self.disk, 9, 0, 2), (self.disk_mb, 9, 2, 1)]
        for widget, row, column, span in place:
            grid.addWidget(widget, row, column, 1, span)
        grid.addWidget(self.problem, 10, 0, 1, 4)
        note_row = QHBoxLayout()
        note_row.addWidget(self.machine_note, 1)
        note_row.addWidget(self.use_cd_machine, 0, Qt.AlignmentFlag.AlignLeft)
        grid.addLayout(note_row, 11, 0, 1, 4)
        grid.setRowStretch(12, 1)
        grid.addWidget(self.tryout, 13, 0, 1, 4)
        grid.addWidget(self.tryout_note, 14, 1, 1, 3)

    # ------------------------------------------------------------------ choosing files
    def choose_iso(self) -> None:
        typed = self.iso_path.text().strip()
        start = str(Path(typed).expanduser().parent) if typed else ""
        path, _filter = QFileDialog.getOpenFileName(
            self, self.tr("Choose an ISO image"), start, self.tr(ISO_FILTER))
        if path:
            self.set_iso(path)

    def set_iso(self, path: str) -> None:
        """Install from ``path`` (what choosing it in the file dialog does)."""
        self.iso_path.setText(path)
        self.iso.setChecked(True)

    def choose_image(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(
            self, self.tr("Choose a disk image"), "", self.tr(IMAGE_FILTER))
        if not path:
            return
        if is_iso9660(path):  # a CD image: it goes into the CD drive
            self.set_iso(path)
            return
        self.existing.setChecked(True)
        self.path.setText(path)

    def _on_path(self, text: str) -> None:
        path = Path(text.strip()).expanduser()
        if path.is_file():
            self.kind.setCurrentIndex(0 if path.stat().st_size <= MAX_FLOPPY_BYTES else 1)
        self._update()

    # ------------------------------------------------------------------ the machine
    def _profile_page(self):
        wizard = self.wizard()
        return None if wizard is None else wizard.profile_page

    def _cd_machine_name(self) -> str | None:
        machines = cd_profiles()
        return machines[0].name if machines else None

    def _check_machine(self) -> None:
        """An ISO needs a CD drive: move a machine the user did not pick (the default) to
        one that has it.  It is not moved back (the CD machine runs all the rest too):
        going Back resets this page's fields, and a machine switching under the Memory
        page would leave its range behind."""
        page = self._profile_page()
        if page is None:
            return
        current = page.profile_name()
        if self.iso.isChecked() and not has_cd_drive(current) and not page.explicit:
            target = self._cd_machine_name()
            if target is not None:
                page.set_profile(target)
                self.switched_from = current
        if self.switched_from is not None and (not self.iso.isChecked()
                                               or page.profile_name() != self._cd_machine_name()):
            self.switched_from = None  # nothing to explain any more

    def _check_memory(self) -> None:
        """A Linux kernel needs more RAM than the DOS default: raise a smaller value on
        the Memory page to LINUX_MEMORY_MB (not lowered back: the user may go Back)."""
        wizard = self.wizard()
        if wizard is None or not self.linux.isChecked():
            self.raised_memory_from = None
            return
        spin = wizard.memory_page.spin
        if spin.value() < LINUX_MEMORY_MB <= spin.maximum():
            self.raised_memory_from = spin.value()
            spin.setValue(LINUX_MEMORY_MB)

    def _show_machine_note(self) -> None:
        page = self._profile_page()
        name = page.profile_name() if page is not None else None
        target = self._cd_machine_name()
        needs_switch = (self.iso.isChecked() and name is not None
                        and not has_cd_drive(name) and target is not None)
        if needs_switch:
            self.machine_note.setText("")
        elif self.switched_from is not None and name is not None:
            self.machine_note.setText(self.tr("The machine is now “{0}”: an ISO needs a CD "
                                              "drive, and “{1}” has none.").format(
                profile_label(name), profile_label(self.switched_from)))
        elif self.raised_memory_from is not None:
            self.machine_note.setText(self.tr("Memory is now {0} MB: a Linux kernel needs "
                                              "more than {1} MB.").format(
                LINUX_MEMORY_MB, self.raised_memory_from))
        else:
            self.machine_note.setText("")
        self.machine_note.setVisible(bool(self.machine_note.text()))
        self.use_cd_machine.setVisible(needs_switch)
        if needs_switch:
            self.use_cd_machine.setText(self.tr("Use “{0}”").format(profile_label(target)))

    def _use_cd_machine(self) -> None:
        page, target = self._profile_page(), self._cd_machine_name()
        if page is not None and target is not None:
            page.set_profile(target, explicit=True)
        self._update()

    # ------------------------------------------------------------------ state
    def initializePage(self) -> None:  # noqa: N802 - Qt API
        self._update()  # the machine may have changed on the Machine page

    def problems(self) -> list[str]:
        if self.iso.isChecked():
            return self._iso_problems()
        if self.linux.isChecked():
            return self.kernel_fields.problems()
        if not self.existing.isChecked():
            return []
        text = self.path.text().strip()
        if not text:
            return [self.tr("Choose an image file.")]
        path = Path(text).expanduser()
        if not path.is_file():
            return [self.tr("{0} is not a file.").format(text)]
        problem = image_problem(path, "floppy" if self.kind.currentIndex() == 0 else "hdd")
        return [problem] if problem else []

    def _iso_problems(self) -> list[str]:
        problems = []
        page = self._profile_page()
        if page is not None and not has_cd_drive(page.profile_name()):
            problems.append(no_cd_drive_text(page.profile_name()))
        text = self.iso_path.text().strip()
        if not text:
            problems.append(self.tr("Choose an ISO image."))
        else:
            path = Path(text).expanduser()
            problem = (self.tr("{0}: no such file.").format(text) if not path.exists()
                       else cd_problem(path))
            if problem:
                problems.append(problem)
        return problems

    def _shown_problems(self) -> list[str]:
        """The problems worth showing now: not "choose a file" before anything is typed."""
        typed = (self.iso_path if self.iso.isChecked() else self.kernel_fields.kernel
                 if self.linux.isChecked() else self.path).text().strip()
        if typed:
            return self.problems()
        return [p for p in self.problems() if p not in (
            self.tr("Choose an ISO image."), self.tr("Choose an image file."),
            self.kernel_fields.tr("Choose a Linux kernel file."))]

    def _update(self) -> None:
        existing, iso = self.existing.isChecked(), self.iso.isChecked()
        for widget in (self.path, self.browse, self.kind):
            widget.setEnabled(existing)
        for widget in (self.iso_path, self.iso_browse, self.iso_disk):
            widget.setEnabled(iso)
        self.iso_disk_mb.setEnabled(iso and self.iso_disk.isChecked())
        self.floppy_size.setEnabled(self.floppy.isChecked())
        self.disk_mb.setEnabled(self.disk.isChecked())
        self.kernel_fields.setEnabled(self.linux.isChecked())
        self._check_machine()
        self._check_memory()
        self._show_machine_note()
        self.problem.setText("\n".join(self._shown_problems()))
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 - Qt API
        return not self.problems()
