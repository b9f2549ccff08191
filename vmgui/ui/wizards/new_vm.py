"""The New-VM wizard: name, machine profile, memory, boot media, summary.

Owns: :class:`NewVmWizard`.  Finish creates the VM with ``Library.create`` and, when asked
for, a blank floppy (``floppy.img``) or hard disk (``disk.img``) in the new VM's folder;
existing images are attached where they are.  On success :attr:`NewVmWizard.created` is
emitted with the new VM's name; on failure the wizard stays open with the reason.

Fields (``wizard.field(name)``; tests set them with ``setField``): ``name``, ``profile``
(index), ``memory`` (MB), ``media_none`` / ``media_existing`` / ``media_floppy`` /
``media_disk`` (the boot-media choice), ``image_path``, ``image_kind`` (0 floppy, 1 hard
disk), ``floppy_size`` (a label of ``NEW_FLOPPY_LABELS``), ``disk_mb``, ``tryout``
(try-out mode: ``VmConfig.tryout``).

Thread rule: GUI thread only.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from vmgui.config.library import Library, LibraryError, VmEntry
from vmgui.config.schema import MIN_MEMORY_MB, Attachment, ConfigError, VmConfig, name_problems
from vmgui.core.profiles import get_profile
from vmgui.storage import media
from vmgui.storage.image import MAX_FLOPPY_BYTES, DiskImage, DiskImageError
from vmgui.ui.manager.icons import app_icon

log = logging.getLogger(__name__)

DEFAULT_MEMORY_MB = 16
DEFAULT_DISK_MB = 32
PROFILE_LABELS = (("pc-at", "IBM PC/AT compatible, BIOS"),
                  ("pc-pci", "PC with PCI, VBE graphics and CD-ROM, BIOS"))
PROFILE_ABOUT = {
    "pc-at": "An IBM PC/AT compatible: x86 CPU, 8259 interrupt controllers, 8254 timer, 8042 "
             "keyboard controller, CMOS clock, VGA, floppy and hard-disk drives through the "
             "BIOS, a 16550 serial port. It runs DOS and other real-mode software.",
    "pc-pci": "A later PC (i440FX-class): the PC/AT's devices plus a PCI bus, VBE graphics and "
              "a CD-ROM drive, and up to 2 GB of memory. For bootloaders, Linux installers "
              "and other protected-mode systems.",
}
NEW_FLOPPY_FILE = "floppy.img"
NEW_DISK_FILE = "disk.img"
ERROR_STYLE = "color: #c01c28;"


def image_problem(path: Path, kind: str) -> str | None:
    """Why ``path`` cannot be attached as ``kind`` ("floppy"/"hdd"): the reason
    :meth:`DiskImage.open` gives, or None when it opens."""
    try:
        DiskImage.open(path, kind=kind, read_only=True).close()
    except DiskImageError as exc:
        return str(exc)
    except OSError as exc:
        return f"{path}: cannot open ({exc.strerror or exc})"
    return None


def name_issues(library: Library, name: str) -> list[str]:
    """Why ``name`` cannot name a new VM in ``library`` (empty: it can)."""
    problems = name_problems(name)
    if not problems and name in library:
        problems.append(f"a VM called {library.get(name).name!r} already exists")
    return problems


class NamePage(QWizardPage):
    def __init__(self, library: Library, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.setTitle(self.tr("Name"))
        self.setSubTitle(self.tr("Choose a name for the new virtual machine. It also names "
                                 "its folder in the library."))
        self.edit = QLineEdit(self)
        self.edit.setAccessibleName(self.tr("Name"))
        self.edit.setPlaceholderText(self.tr("for example: DOS 6.22"))
        self.problem = QLabel(self)
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(ERROR_STYLE)
        form = QFormLayout(self)
        form.addRow(self.tr("&Name:"), self.edit)
        form.addRow("", self.problem)
        self.registerField("name", self.edit)
        self.edit.textChanged.connect(self._on_changed)
        self._on_changed("")

    def problems(self) -> list[str]:
        return name_issues(self.library, self.edit.text())

    def _on_changed(self, _text: str) -> None:
        problems = self.problems()
        empty = not self.edit.text().strip()
        self.problem.setText("" if empty else "\n".join(problems))
        self.edit.setToolTip("\n".join(problems))
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 - Qt API
        return not self.problems()


class ProfilePage(QWizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle(self.tr("Machine"))
        self.setSubTitle(self.tr("The kind of computer to emulate."))
        self.combo = QComboBox(self)
        self.combo.setAccessibleName(self.tr("Machine profile"))
        for key, label in PROFILE_LABELS:
            self.combo.addItem(self.tr(label), key)
        self.about = QLabel(self)
        self.about.setWordWrap(True)
        self.combo.currentIndexChanged.connect(self._show_about)
        self._show_about()
        form = QFormLayout(self)
        form.addRow(self.tr("&Profile:"), self.combo)
        form.addRow(self.about)
        self.registerField("profile", self.combo)

    def _show_about(self) -> None:
        self.about.setText(self.tr(PROFILE_ABOUT.get(self.combo.currentData(), "")))

    def profile_name(self) -> str:
        return self.combo.currentData()


class MemoryPage(QWizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle(self.tr("Memory"))
        self.setSubTitle(self.tr("How much RAM the virtual machine has. DOS programs rarely "
                                 "use more than 16 MB."))
        maximum = get_profile(PROFILE_LABELS[0][0]).max_memory_mb
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(MIN_MEMORY_MB, maximum)
        self.slider.setPageStep(16)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setTickInterval(32)
        self.slider.setAccessibleName(self.tr("Memory in MB"))
        self.spin = QSpinBox(self)
        self.spin.setRange(MIN_MEMORY_MB, maximum)
        self.spin.setSuffix(self.tr(" MB"))
        self.spin.setAccessibleName(self.tr("Memory in MB"))
        self.slider.valueChanged.connect(self.spin.setValue)
        self.spin.valueChanged.connect(self.slider.setValue)
        self.spin.setValue(DEFAULT_MEMORY_MB)
        row = QHBoxLayout()
        row.addWidget(self.slider, 1)
        row.addWidget(self.spin)
        scale = QHBoxLayout()
        scale.addWidget(QLabel(self.tr("{0} MB").format(MIN_MEMORY_MB), self))
        scale.addStretch(1)
        self.max_label = QLabel(self.tr("{0} MB").format(maximum), self)
        scale.addWidget(self.max_label)
        label = QLabel(self.tr("&Memory:"), self)
        label.setBuddy(self.slider)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addLayout(row)
        layout.addLayout(scale)
        layout.addStretch(1)
        self.registerField("memory", self.spin)

    def initializePage(self) -> None:  # noqa: N802 - Qt API
        """The range is the chosen machine's (pc-at: 257 MB, pc-pci: 2048 MB)."""
        self.set_maximum(get_profile(self.wizard().profile_page.profile_name()).max_memory_mb)

    def set_maximum(self, maximum: int) -> None:
        self.slider.setRange(MIN_MEMORY_MB, maximum)
        self.slider.setTickInterval(32 if maximum <= 512 else 256)
        self.slider.setPageStep(16 if maximum <= 512 else 128)
        self.spin.setRange(MIN_MEMORY_MB, maximum)  # a larger value is clamped to it
        self.max_label.setText(self.tr("{0} MB").format(maximum))


class MediaPage(QWizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle(self.tr("Boot media"))
        self.setSubTitle(self.tr("The disk the virtual machine starts from. You can change "
                                 "the media later in the settings."))
        self.group = QButtonGroup(self)
        self.none = QRadioButton(self.tr("&No disk for now"), self)
        self.existing = QRadioButton(self.tr("Use an &existing disk image:"), self)
        self.floppy = QRadioButton(self.tr("Create a new blank &floppy:"), self)
        self.disk = QRadioButton(self.tr("Create a new &hard disk:"), self)
        for button in (self.none, self.existing, self.floppy, self.disk):
            self.group.addButton(button)
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
        self.disk_mb = QSpinBox(self)
        self.disk_mb.setRange(media.MIN_HARD_DISK_MB, media.MAX_HARD_DISK_MB)
        self.disk_mb.setValue(DEFAULT_DISK_MB)
        self.disk_mb.setSuffix(self.tr(" MB"))
        self.disk_mb.setAccessibleName(self.tr("Hard disk size"))
        self.problem = QLabel(self)
        self.problem.setStyleSheet(ERROR_STYLE)
        self.problem.setWordWrap(True)
        self.tryout = QCheckBox(self.tr("&Try-out mode"), self)
        tryout_note = QLabel(self.tr("Disk changes are thrown away at power-off unless you "
                                     "keep them as a snapshot. The settings change it later."),
                             self)
        tryout_note.setWordWrap(True)
        self.tryout.setAccessibleDescription(tryout_note.text())
        grid = QGridLayout(self)
        grid.setColumnMinimumWidth(0, 24)
        grid.addWidget(self.none, 0, 0, 1, 4)
        grid.addWidget(self.existing, 1, 0, 1, 4)
        grid.addWidget(self.path, 2, 1, 1, 2)
        grid.addWidget(self.browse, 2, 3)
        grid.addWidget(self.kind, 3, 1)
        grid.addWidget(self.floppy, 4, 0, 1, 4)
        grid.addWidget(self.floppy_size, 5, 1)
        grid.addWidget(self.disk, 6, 0, 1, 4)
        grid.addWidget(self.disk_mb, 7, 1)
        grid.addWidget(self.problem, 8, 0, 1, 4)
        grid.setRowStretch(9, 1)
        grid.addWidget(self.tryout, 10, 0, 1, 4)
        grid.addWidget(tryout_note, 11, 1, 1, 3)
        grid.setColumnStretch(2, 1)
        self.floppy.setChecked(True)
        for name, widget in (("media_none", self.none), ("media_existing", self.existing),
                             ("media_floppy", self.floppy), ("media_disk", self.disk),
                             ("image_path", self.path), ("image_kind", self.kind),
                             ("disk_mb", self.disk_mb), ("tryout", self.tryout)):
            self.registerField(name, widget)
        self.registerField("floppy_size", self.floppy_size, "currentText",
                           self.floppy_size.currentTextChanged)
        self.group.buttonToggled.connect(lambda *_: self._update())
        self.path.textChanged.connect(self._on_path)
        self.kind.currentIndexChanged.connect(lambda _index: self._update())
        self._update()

    def choose_image(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(
            self, self.tr("Choose a disk image"), "",
            self.tr("Disk images (*.img *.ima *.vfd *.flp *.dsk *.bin);;All files (*)"))
        if path:
            self.existing.setChecked(True)
            self.path.setText(path)

    def _on_path(self, text: str) -> None:
        path = Path(text.strip()).expanduser()
        if path.is_file():
            self.kind.setCurrentIndex(0 if path.stat().st_size <= MAX_FLOPPY_BYTES else 1)
        self._update()

    def problems(self) -> list[str]:
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

    def _update(self) -> None:
        existing = self.existing.isChecked()
        for widget in (self.path, self.browse, self.kind):
            widget.setEnabled(existing)
        self.floppy_size.setEnabled(self.floppy.isChecked())
        self.disk_mb.setEnabled(self.disk.isChecked())
        self.problem.setText("\n".join(self.problems()) if self.path.text().strip() else "")
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 - Qt API
        return not self.problems()


class SummaryPage(QWizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle(self.tr("Summary"))
        self.setSubTitle(self.tr("Press Finish to create the virtual machine."))
        self.text = QLabel(self)
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addStretch(1)

    def initializePage(self) -> None:  # noqa: N802 - Qt API
        wizard = self.wizard()
        rows = [(self.tr("Name"), wizard.field("name").strip()),
                (self.tr("Machine"), self.tr(PROFILE_LABELS[wizard.field("profile")][1])),
                (self.tr("Memory"), self.tr("{0} MB").format(wizard.field("memory"))),
                (self.tr("Boot media"), wizard.media_description()),
                (self.tr("Try-out mode"), self.tr("on: disk changes are thrown away at "
                                                  "power-off") if wizard.field("tryout")
                 else self.tr("off"))]
        self.text.setText("<table cellspacing=6>" + "".join(
            f"<tr><td><b>{k}:</b></td><td>{html.escape(v)}</td></tr>" for k, v in rows)
            + "</table>")


class NewVmWizard(QWizard):
    """Creates a VM in ``library``; emits :attr:`created` (the name) when it is on disk."""

    created = Signal(str)

    def __init__(self, library: Library, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.entry: VmEntry | None = None
        self.setWindowTitle(self.tr("New virtual machine"))
        self.setWindowIcon(app_icon())
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setPixmap(QWizard.WizardPixmap.LogoPixmap, app_icon().pixmap(48, 48))
        self.name_page = NamePage(library, self)
        self.profile_page = ProfilePage(self)
        self.memory_page = MemoryPage(self)
        self.media_page = MediaPage(self)
        self.summary_page = SummaryPage(self)
        for page in (self.name_page, self.profile_page, self.memory_page, self.media_page,
                     self.summary_page):
            self.addPage(page)
        self.resize(620, 460)

    def media_description(self) -> str:
        if self.field("media_existing"):
            kind = self.tr("floppy A:") if self.field("image_kind") == 0 \
                else self.tr("hard disk C:")
            return self.tr("{0} as {1}").format(self.field("image_path").strip(), kind)
        if self.field("media_floppy"):
            return self.tr("a new blank {0} floppy ({1}) as A:").format(
                self.field("floppy_size"), NEW_FLOPPY_FILE)
        if self.field("media_disk"):
            return self.tr("a new {0} MB hard disk ({1}) as C:").format(
                self.field("disk_mb"), NEW_DISK_FILE)
        return self.tr("none")

    def build_config(self) -> VmConfig:
        """The configuration the fields describe (new images not made yet)."""
        config = VmConfig(self.field("name").strip(),
                          profile=self.profile_page.profile_name(),
                          memory_mb=int(self.field("memory")),
                          tryout=bool(self.field("tryout")))
        if self.field("media_existing"):
            path = str(Path(self.field("image_path").strip()).expanduser().resolve())
            if self.field("image_kind") == 0:
                config.floppy_a = Attachment(path)
            else:
                config.hard_disks = [Attachment(path)]
                config.boot_order = ["c", "a"]
        elif self.field("media_floppy"):
            config.floppy_a = Attachment(NEW_FLOPPY_FILE)
        elif self.field("media_disk"):
            config.hard_disks = [Attachment(NEW_DISK_FILE)]
            config.boot_order = ["c", "a"]
        return config

    def create_vm(self) -> VmEntry:
        """Create the VM (and its new image) on disk; raises on failure, leaving nothing."""
        config = self.build_config()
        if self.field("media_existing"):
            att = config.floppy_a or config.hard_disks[0]
            problem = image_problem(Path(att.path), "floppy" if config.floppy_a else "hdd")
            if problem:
                raise DiskImageError(problem)
        entry = self.library.create(config)
        try:
            if self.field("media_floppy"):
                media.create_floppy(entry.folder / NEW_FLOPPY_FILE, self.field("floppy_size"))
            elif self.field("media_disk"):
                media.create_hard_disk(entry.folder / NEW_DISK_FILE, int(self.field("disk_mb")))
        except DiskImageError:
            self.library.delete(entry.name)
            raise
        return entry

    def accept(self) -> None:
        try:
            self.entry = self.create_vm()
        except (LibraryError, ConfigError, DiskImageError, OSError) as exc:
            log.warning("cannot create the VM: %s", exc)
            QMessageBox.warning(self, self.tr("Cannot create the virtual machine"), str(exc))
            return
        log.info("created VM %r", self.entry.name)
        super().accept()
        self.created.emit(self.entry.name)
