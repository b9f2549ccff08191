"""The New-VM wizard: name, machine profile, memory, boot media, summary.

Owns: :class:`NewVmWizard` and its name, machine, memory and summary pages (the boot-media
page is :class:`vmgui.ui.wizards.media_page.MediaPage`).  Finish creates the VM with
``Library.create`` and, when asked for, a blank floppy (``floppy.img``) or hard disk
(``disk.img``) in the new VM's folder; existing images and ISOs are attached where they
are.  On success :attr:`NewVmWizard.created` is emitted with the new VM's name; on failure
the wizard stays open with the reason.

The machine page lists every profile of :mod:`vmgui.core.profiles` by its label, with
what it has (:func:`vmgui.ui.machines.profile_description`).  Installing from an ISO puts
it in the CD/DVD drive and boots the CD first (boot order ``d``, ``c``); a Linux kernel
and initrd go to the VM's direct-boot settings by their absolute paths.

Fields (``wizard.field(name)``; tests set them with ``setField``): ``name``, one per
machine (``profile_pc_at``, ``profile_pc_pci``: :func:`profile_field`), ``memory`` (MB),
and the media page's (see its module).

Thread rule: GUI thread only.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QRadioButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from vmgui.config.library import Library, LibraryError, VmEntry
from vmgui.config.schema import (
    MIN_MEMORY_MB,
    Attachment,
    ConfigError,
    DirectBoot,
    VmConfig,
    name_problems,
)
from vmgui.core.profiles import DEFAULT_PROFILE, all_profiles, get_profile
from vmgui.storage import media
from vmgui.storage.image import DiskImageError
from vmgui.ui.machines import CD_DRIVE, boot_order_text, profile_description, profile_label
from vmgui.ui.manager.icons import app_icon
from vmgui.ui.media_files import cd_problem, image_problem
from vmgui.ui.wizards.media_page import ERROR_STYLE, MediaPage

log = logging.getLogger(__name__)

DEFAULT_MEMORY_MB = 16
NEW_FLOPPY_FILE = "floppy.img"
NEW_DISK_FILE = "disk.img"
ISO_BOOT_ORDER = ["d", "c"]  # the CD first; once it is ejected, the installed disk


def _absolute(text: str) -> str:
    return str(Path(text).expanduser().resolve())


def profile_field(name: str) -> str:
    """The wizard field of machine ``name``'s radio button: ``profile_pc_pci``."""
    return "profile_" + name.replace("-", "_")


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
    """Every machine profile as a radio button with its label and, under it, what the
    machine has.  :attr:`explicit` turns True once the user clicks one (the media page
    then leaves the choice alone); :meth:`set_profile` chooses one from code."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle(self.tr("Machine"))
        self.setSubTitle(self.tr("The kind of computer to emulate."))
        self.explicit = False
        self.group = QButtonGroup(self)
        self.buttons: dict[str, QRadioButton] = {}
        self.descriptions: dict[str, QLabel] = {}
        layout = QVBoxLayout(self)
        for index, profile in enumerate(all_profiles()):
            button = QRadioButton(profile.label, self)
            about = QLabel(profile_description(profile), self)
            about.setWordWrap(True)
            about.setContentsMargins(24, 0, 0, 8)
            about.setBuddy(button)
            button.setAccessibleDescription(about.text())
            self.group.addButton(button, index)
            layout.addWidget(button)
            layout.addWidget(about)
            self.registerField(profile_field(profile.name), button)
            self.buttons[profile.name] = button
            self.descriptions[profile.name] = about
        layout.addStretch(1)
        self.buttons[DEFAULT_PROFILE].setChecked(True)
        self.group.buttonClicked.connect(self._on_clicked)

    def _on_clicked(self, _button: QRadioButton) -> None:
        self.explicit = True

    def profile_name(self) -> str:
        for name, button in self.buttons.items():
            if button.isChecked():
                return name
        return DEFAULT_PROFILE

    def set_profile(self, name: str, *, explicit: bool = False) -> None:
        """Choose ``name``; ``explicit``: as if the user had clicked it."""
        self.buttons[name].setChecked(True)
        self.explicit = self.explicit or explicit


class MemoryPage(QWizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle(self.tr("Memory"))
        self.setSubTitle(self.tr("How much RAM the virtual machine has. DOS programs rarely "
                                 "use more than 16 MB."))
        maximum = get_profile(DEFAULT_PROFILE).max_memory_mb
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
        config = wizard.build_config()
        rows = [(self.tr("Name"), config.name),
                (self.tr("Machine"), profile_label(config.profile)),
                (self.tr("Memory"), self.tr("{0} MB").format(config.memory_mb)),
                (self.tr("Boot media"), wizard.media_description()),
                (self.tr("Boot order"), boot_order_text(config.boot_order, config.profile)),
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
        self.resize(680, 580)

    def media_description(self) -> str:
        if self.field("media_iso"):
            text = self.tr("{0} in the {1}").format(self.field("iso_path").strip(), CD_DRIVE)
            if self.field("iso_disk"):
                text += self.tr(", and a new {0} MB hard disk ({1}) as C:").format(
                    self.field("iso_disk_mb"), NEW_DISK_FILE)
            return text
        if self.field("media_kernel"):
            boot = self.media_page.kernel_fields.direct_boot()
            text = self.tr("Linux kernel {0}").format(boot.kernel)
            if boot.initrd:
                text += self.tr(" with initrd {0}").format(boot.initrd)
            return text + self.tr(", command line “{0}”").format(boot.append)
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
        elif self.field("media_iso"):
            config.cdrom = Attachment(str(Path(self.field("iso_path").strip())
                                          .expanduser().resolve()), read_only=True)
            if self.field("iso_disk"):
                config.hard_disks = [Attachment(NEW_DISK_FILE)]
            config.boot_order = list(ISO_BOOT_ORDER)
        elif self.field("media_kernel"):
            boot = self.media_page.kernel_fields.direct_boot()
            config.direct_boot = DirectBoot(
                _absolute(boot.kernel), _absolute(boot.initrd) if boot.initrd else "",
                boot.append)
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
        if config.cdrom is not None and (problem := cd_problem(Path(config.cdrom.path))):
            raise DiskImageError(problem)
        if config.direct_boot.enabled and (problems := self.media_page.kernel_fields.problems()):
            raise DiskImageError(problems[0])
        entry = self.library.create(config)
        try:
            if self.field("media_floppy"):
                media.create_floppy(entry.folder / NEW_FLOPPY_FILE, self.field("floppy_size"))
            elif self.field("media_disk"):
                media.create_hard_disk(entry.folder / NEW_DISK_FILE, int(self.field("disk_mb")))
            elif self.field("media_iso") and self.field("iso_disk"):
                media.create_hard_disk(entry.folder / NEW_DISK_FILE,
                                       int(self.field("iso_disk_mb")))
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
