"""The pages of the settings dialog: General, System, Storage, Display, Serial.

Owns: one widget per page.  Each page reads a :class:`~vmgui.config.schema.VmConfig` in
:meth:`load`, writes its part of one in :meth:`apply`, reports its invalid values in
:meth:`problems` (also shown on the page), emits ``changed`` on every edit, and disables
what cannot change while the VM runs (:meth:`set_running`, with a tooltip saying why).

Thread rule: GUI thread only.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from vmgui.config.library import Library
from vmgui.config.schema import (
    MAX_TCP_PORT,
    MIN_MEMORY_MB,
    PROFILES,
    Attachment,
    SerialConfig,
    VmConfig,
    name_problems,
)
from vmgui.core.profiles import DEFAULT_PROFILE, get_profile
from vmgui.storage import media

ERROR_STYLE = "color: #c01c28;"
DEFAULT_TCP_PORT = 4555


class Page(QWidget):
    """Base: a problem label at the bottom and the running-VM lock."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layout_ = QVBoxLayout(self)
        self.problem = QLabel(self)
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(ERROR_STYLE)
        self.problem.setAccessibleName(self.tr("Problems on this page"))
        self.locked: list[QWidget] = []

    def finish_layout(self) -> None:
        self.layout_.addWidget(self.problem)
        self.layout_.addStretch(1)

    def refresh_problems(self) -> list[str]:
        problems = self.problems()
        self.problem.setText("\n".join(problems))
        return problems

    def problems(self) -> list[str]:
        return []

    def set_running(self, running: bool) -> None:
        why = self.tr("Power off the virtual machine to change this.") if running else ""
        for widget in self.locked:
            widget.setEnabled(not running)
            widget.setToolTip(why)


class GeneralPage(Page):
    """Name, notes and try-out mode (``VmConfig.tryout``).  Try-out mode is chosen when the
    VM starts (its throw-away overlays are made then), so it cannot change while the VM
    runs: the box is locked like the name."""

    def __init__(self, library: Library, current_name: str, parent=None) -> None:
        super().__init__(parent)
        self.library, self.current_name = library, current_name
        self.name = QLineEdit(self)
        self.name.setAccessibleName(self.tr("Name"))
        self.notes = QPlainTextEdit(self)
        self.notes.setAccessibleName(self.tr("Notes"))
        self.notes.setTabChangesFocus(True)
        self.tryout = QCheckBox(self.tr("&Try-out mode"), self)
        self.tryout_note = QLabel(self.tr("Disk changes are thrown away at power-off unless "
                                          "you keep them as a snapshot."), self)
        self.tryout_note.setWordWrap(True)
        self.tryout.setAccessibleDescription(self.tryout_note.text())
        form = QFormLayout()
        form.addRow(self.tr("&Name:"), self.name)
        form.addRow(self.tr("N&otes:"), self.notes)
        form.addRow(self.tryout)
        form.addRow(self.tryout_note)
        self.layout_.addLayout(form)
        self.finish_layout()
        self.locked = [self.name, self.tryout]
        self.name.textChanged.connect(self.changed)
        self.notes.textChanged.connect(self.changed)
        self.tryout.toggled.connect(self.changed)

    def load(self, config: VmConfig) -> None:
        self.name.setText(config.name)
        self.notes.setPlainText(config.notes)
        self.tryout.setChecked(config.tryout)

    def apply(self, config: VmConfig) -> None:
        config.name = self.name.text()
        config.notes = self.notes.toPlainText()
        config.tryout = self.tryout.isChecked()

    def set_running(self, running: bool) -> None:
        super().set_running(running)
        if running:
            self.tryout.setToolTip(self.tr("Try-out mode is chosen when the virtual machine "
                                           "starts: power it off to change it."))

    def problems(self) -> list[str]:
        name = self.name.text()
        problems = name_problems(name)
        if not problems and name.casefold() != self.current_name.casefold() \
                and name in self.library:
            problems.append(self.tr("A VM called {0} already exists.").format(repr(name)))
        return problems


class SystemPage(Page):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.profile = get_profile(DEFAULT_PROFILE)  # the VM's machine: its memory limit
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(MIN_MEMORY_MB, self.profile.max_memory_mb)
        self.slider.setPageStep(16)
        self.slider.setAccessibleName(self.tr("Memory in MB"))
        self.memory = QSpinBox(self)
        self.memory.setRange(0, 65536)  # out-of-range values are shown as problems
        self.memory.setSuffix(self.tr(" MB"))
        self.memory.setAccessibleName(self.tr("Memory in MB"))
        self.slider.valueChanged.connect(self._slider_moved)
        self.memory.valueChanged.connect(self._memory_typed)
        memory_row = QHBoxLayout()
        memory_row.addWidget(self.slider, 1)
        memory_row.addWidget(self.memory)
        self.boot = QListWidget(self)
        self.boot.setAccessibleName(self.tr("Boot order"))
        self.boot.setMaximumHeight(110)
        self.up = QPushButton(self.tr("Move &up"), self)
        self.down = QPushButton(self.tr("Move &down"), self)
        self.up.clicked.connect(lambda: self._move(-1))
        self.down.clicked.connect(lambda: self._move(1))
        self.boot.itemChanged.connect(lambda _item: self.changed.emit())
        buttons = QVBoxLayout()
        buttons.addWidget(self.up)
        buttons.addWidget(self.down)
        buttons.addStretch(1)
        boot_row = QHBoxLayout()
        boot_row.addWidget(self.boot, 1)
        boot_row.addLayout(buttons)
        self.unlimited = QRadioButton(self.tr("&Unlimited"), self)
        self.limited = QRadioButton(self.tr("&Limit to"), self)
        self.cpu_group = QButtonGroup(self)
        self.cpu_group.addButton(self.unlimited)
        self.cpu_group.addButton(self.limited)
        self.cpu = QSpinBox(self)
        self.cpu.setRange(1, 100)
        self.cpu.setSuffix(self.tr(" % of one host CPU"))
        self.cpu.setAccessibleName(self.tr("CPU limit in percent"))
        self.cpu_group.buttonToggled.connect(lambda *_: self._cpu_toggled())
        self.cpu.valueChanged.connect(self.changed)
        cpu_row = QHBoxLayout()
        cpu_row.addWidget(self.unlimited)
        cpu_row.addWidget(self.limited)
        cpu_row.addWidget(self.cpu)
        cpu_row.addStretch(1)
        form = QFormLayout()
        memory_label = QLabel(self.tr("&Memory:"), self)
        memory_label.setBuddy(self.memory)
        boot_label = QLabel(self.tr("&Boot order:"), self)
        boot_label.setBuddy(self.boot)
        form.addRow(memory_label, memory_row)
        form.addRow(boot_label, boot_row)
        form.addRow(self.tr("CPU speed:"), cpu_row)
        self.layout_.addLayout(form)
        self.finish_layout()
        self.locked = [self.slider, self.memory, self.boot, self.up, self.down, self.unlimited,
                       self.limited, self.cpu]

    def _slider_moved(self, value: int) -> None:
        if self.memory.value() != value:
            self.memory.setValue(value)

    def _memory_typed(self, value: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(value)
        self.slider.blockSignals(False)
        self.changed.emit()

    def _cpu_toggled(self) -> None:
        self.cpu.setEnabled(self.limited.isChecked() and self.limited.isEnabled())
        self.changed.emit()

    def _move(self, step: int) -> None:
        row = self.boot.currentRow()
        target = row + step
        if row < 0 or not 0 <= target < self.boot.count():
            return
        item = self.boot.takeItem(row)
        self.boot.insertItem(target, item)
        self.boot.setCurrentRow(target)
        self.changed.emit()

    def load(self, config: VmConfig) -> None:
        if config.profile in PROFILES:
            self.profile = get_profile(config.profile)
        self.slider.blockSignals(True)
        self.slider.setRange(MIN_MEMORY_MB, self.profile.max_memory_mb)
        self.slider.setPageStep(16 if self.profile.max_memory_mb <= 512 else 128)
        self.slider.blockSignals(False)
        self.memory.setValue(config.memory_mb)
        labels = {"a": self.tr("Floppy A:"), "b": self.tr("Floppy B:"),
                  "c": self.tr("Hard disk C:"), "d": self.tr("Hard disk D:")}
        order = list(config.boot_order) + [d for d in "acbd" if d not in config.boot_order]
        self.boot.blockSignals(True)
        self.boot.clear()
        for letter in order:
            item = QListWidgetItem(labels.get(letter, letter), self.boot)
            item.setData(Qt.ItemDataRole.UserRole, letter)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = letter in config.boot_order
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.boot.blockSignals(False)
        self.boot.setCurrentRow(0)
        limit = config.cpu_limit_percent
        (self.limited if limit else self.unlimited).setChecked(True)
        self.cpu.setValue(limit or 50)
        self._cpu_toggled()

    def boot_order(self) -> list[str]:
        items = [self.boot.item(i) for i in range(self.boot.count())]
        return [item.data(Qt.ItemDataRole.UserRole) for item in items
                if item.checkState() == Qt.CheckState.Checked]

    def apply(self, config: VmConfig) -> None:
        config.memory_mb = self.memory.value()
        config.boot_order = self.boot_order()
        config.cpu_limit_percent = self.cpu.value() if self.limited.isChecked() else 0

    def problems(self) -> list[str]:
        problems = []
        maximum = self.profile.max_memory_mb
        if not MIN_MEMORY_MB <= self.memory.value() <= maximum:
            problems.append(self.tr("Memory must be {0}-{1} MB (the most the {2} machine "
                                    "takes).").format(MIN_MEMORY_MB, maximum, self.profile.name))
        if not self.boot_order():
            problems.append(self.tr("Tick at least one boot drive."))
        return problems

    def set_running(self, running: bool) -> None:
        super().set_running(running)
        self._cpu_toggled()


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

    def load(self, att: Attachment | None) -> None:
        self.path.setText(att.path if att else "")
        self.read_only.setChecked(bool(att and att.read_only))

    def attachment(self) -> Attachment | None:
        text = self.path.text().strip()
        return Attachment(text, self.read_only.isChecked()) if text else None

    def problem(self, folder: Path) -> str | None:
        att = self.attachment()
        if att is not None and not att.resolve(folder).is_file():
            return self.page.tr("{0} {1} does not exist.").format(self.label.text(), att.path)
        return None

    def choose_image(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(
            self.page, self.page.tr("Choose a disk image"), str(self.page.folder),
            self.page.tr("Disk images (*.img *.ima *.vfd *.flp *.dsk *.bin);;All files (*)"))
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
        box = QGroupBox(self.tr("Drives"), self)
        grid = QGridLayout(box)
        grid.setColumnStretch(1, 1)
        self.floppy_a = DriveRow(self, grid, 0, self.tr("Floppy A:"), "floppy")
        self.floppy_b = DriveRow(self, grid, 1, self.tr("Floppy B:"), "floppy")
        self.disk_c = DriveRow(self, grid, 2, self.tr("Hard disk C:"), "hdd")
        self.disk_d = DriveRow(self, grid, 3, self.tr("Hard disk D:"), "hdd")
        hint = QLabel(self.tr("Relative paths are inside the VM folder: {0}").format(self.folder),
                      self)
        hint.setWordWrap(True)
        self.layout_.addWidget(box)
        self.layout_.addWidget(hint)
        self.finish_layout()
        self.rows = (self.floppy_a, self.floppy_b, self.disk_c, self.disk_d)
        self.locked = [w for row in self.rows for w in row.widgets()]

    def load(self, config: VmConfig) -> None:
        self.floppy_a.load(config.floppy_a)
        self.floppy_b.load(config.floppy_b)
        disks = list(config.hard_disks) + [None, None]
        self.disk_c.load(disks[0])
        self.disk_d.load(disks[1])

    def apply(self, config: VmConfig) -> None:
        config.floppy_a = self.floppy_a.attachment()
        config.floppy_b = self.floppy_b.attachment()
        config.hard_disks = [a for a in (self.disk_c.attachment(), self.disk_d.attachment())
                             if a is not None]

    def problems(self) -> list[str]:
        return [p for row in self.rows if (p := row.problem(self.folder)) is not None]


class DisplayPage(Page):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.scale = QComboBox(self)
        self.scale.setAccessibleName(self.tr("Display scale"))
        for key, label in (("1x", self.tr("1x (native size)")), ("2x", self.tr("2x")),
                           ("fit", self.tr("Fit to window"))):
            self.scale.addItem(label, key)
        self.scale.currentIndexChanged.connect(lambda _i: self.changed.emit())
        form = QFormLayout()
        form.addRow(self.tr("&Scale:"), self.scale)
        note = QLabel(self.tr("Used when the console window opens; the console's View menu "
                              "changes it while the VM runs."), self)
        note.setWordWrap(True)
        form.addRow(note)
        self.layout_.addLayout(form)
        self.finish_layout()

    def load(self, config: VmConfig) -> None:
        index = self.scale.findData(config.display_scale)
        self.scale.setCurrentIndex(max(index, 0))

    def apply(self, config: VmConfig) -> None:
        config.display_scale = self.scale.currentData()


class SerialPage(Page):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.off = QRadioButton(self.tr("&Off"), self)
        self.file = QRadioButton(self.tr("&Log output to a file:"), self)
        self.tcp = QRadioButton(self.tr("&TCP server on 127.0.0.1, port:"), self)
        self.group = QButtonGroup(self)
        for button in (self.off, self.file, self.tcp):
            self.group.addButton(button)
        self.path = QLineEdit(self)
        self.path.setAccessibleName(self.tr("Serial log file"))
        self.browse = QPushButton(self.tr("&Browse…"), self)
        self.browse.clicked.connect(self._browse)
        self.port = QSpinBox(self)
        self.port.setRange(0, MAX_TCP_PORT)
        self.port.setAccessibleName(self.tr("TCP port"))
        grid = QGridLayout()
        grid.addWidget(self.off, 0, 0, 1, 3)
        grid.addWidget(self.file, 1, 0)
        grid.addWidget(self.path, 1, 1)
        grid.addWidget(self.browse, 1, 2)
        grid.addWidget(self.tcp, 2, 0)
        grid.addWidget(self.port, 2, 1)
        grid.setColumnStretch(1, 1)
        self.layout_.addWidget(QLabel(self.tr("COM1 of the virtual machine:"), self))
        self.layout_.addLayout(grid)
        self.finish_layout()
        self.group.buttonToggled.connect(lambda *_: self._update())
        self.path.textChanged.connect(self.changed)
        self.port.valueChanged.connect(self.changed)
        self.locked = [self.off, self.file, self.tcp, self.path, self.browse, self.port]
        self._running = False

    def _browse(self) -> None:
        path, _filter = QFileDialog.getSaveFileName(self, self.tr("Log COM1 output to"),
                                                    self.path.text() or "com1.log")
        if path:
            self.path.setText(path)

    def _update(self) -> None:
        if not self._running:
            self.path.setEnabled(self.file.isChecked())
            self.browse.setEnabled(self.file.isChecked())
            self.port.setEnabled(self.tcp.isChecked())
        self.changed.emit()

    def load(self, config: VmConfig) -> None:
        serial = config.serial
        {"file": self.file, "tcp": self.tcp}.get(serial.mode, self.off).setChecked(True)
        self.path.setText(serial.path or "com1.log")
        self.port.setValue(serial.port or DEFAULT_TCP_PORT)
        self._update()

    def serial(self) -> SerialConfig:
        mode = "file" if self.file.isChecked() else "tcp" if self.tcp.isChecked() else "off"
        return SerialConfig(mode, self.path.text().strip() if mode == "file" else "",
                            self.port.value() if mode == "tcp" else 0)

    def apply(self, config: VmConfig) -> None:
        config.serial = self.serial()

    def problems(self) -> list[str]:
        return self.serial().validate()

    def set_running(self, running: bool) -> None:
        self._running = running
        super().set_running(running)
        self._update()
