"""The pages of the settings dialog: General, System, Storage, Display, Serial.

Owns: one widget per page.  Each page reads a :class:`~vmgui.config.schema.VmConfig` in
:meth:`load`, writes its part of one in :meth:`apply`, reports its invalid values in
:meth:`problems` (also shown on the page), emits ``changed`` on every edit, and disables
what cannot change while the VM runs (:meth:`set_running`, with a tooltip saying why).

Thread rule: GUI thread only.
"""

from __future__ import annotations

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
    SerialConfig,
    VmConfig,
    name_problems,
)
from vmgui.core.profiles import DEFAULT_PROFILE, all_profiles, get_profile
from vmgui.ui.machines import boot_name, profile_description, profile_label

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
    """Machine, memory, boot order, CPU limit.  The machine sets the memory range and what
    boot letter ``d`` is (the CD/DVD drive on a machine with one); ``profile_changed``
    tells the Storage page (its CD drive)."""

    profile_changed = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.profile = get_profile(DEFAULT_PROFILE)  # the VM's machine: its memory limit
        self.machine = QComboBox(self)
        self.machine.setAccessibleName(self.tr("Machine"))
        for profile in all_profiles():
            self.machine.addItem(profile.label, profile.name)
            self.machine.setItemData(self.machine.count() - 1, profile_description(profile),
                                     Qt.ItemDataRole.ToolTipRole)
        self.machine_about = QLabel(self)
        self.machine_about.setWordWrap(True)
        self.machine.currentIndexChanged.connect(lambda _i: self._machine_chosen())
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
        machine_label = QLabel(self.tr("M&achine:"), self)
        machine_label.setBuddy(self.machine)
        form.addRow(machine_label, self.machine)
        form.addRow("", self.machine_about)
        memory_label = QLabel(self.tr("&Memory:"), self)
        memory_label.setBuddy(self.memory)
        boot_label = QLabel(self.tr("&Boot order:"), self)
        boot_label.setBuddy(self.boot)
        form.addRow(memory_label, memory_row)
        form.addRow(boot_label, boot_row)
        form.addRow(self.tr("CPU speed:"), cpu_row)
        self.layout_.addLayout(form)
        self.finish_layout()
        self.locked = [self.machine, self.slider, self.memory, self.boot, self.up, self.down,
                       self.unlimited, self.limited, self.cpu]

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

    def _machine_chosen(self) -> None:
        name = self.machine.currentData()
        if name in PROFILES:
            self._set_profile(name)
            self.changed.emit()
            self.profile_changed.emit(name)

    def _set_profile(self, name: str) -> None:
        """The memory range and the boot names follow the machine ``name``."""
        self.profile = get_profile(name)
        self.machine_about.setText(profile_description(self.profile))
        self.slider.blockSignals(True)
        self.slider.setRange(MIN_MEMORY_MB, self.profile.max_memory_mb)
        self.slider.setPageStep(16 if self.profile.max_memory_mb <= 512 else 128)
        self.slider.setValue(self.memory.value())
        self.slider.blockSignals(False)
        for row in range(self.boot.count()):
            item = self.boot.item(row)
            item.setText(boot_name(item.data(Qt.ItemDataRole.UserRole), name))

    def load(self, config: VmConfig) -> None:
        self.machine.blockSignals(True)
        index = self.machine.findData(config.profile)
        if index < 0:  # a machine this vmgui does not know: shown, not chosen
            self.machine.addItem(profile_label(config.profile), config.profile)
            index = self.machine.count() - 1
        self.machine.setCurrentIndex(index)
        self.machine.blockSignals(False)
        self.memory.setValue(config.memory_mb)
        order = list(config.boot_order) + [d for d in "acbd" if d not in config.boot_order]
        self.boot.blockSignals(True)
        self.boot.clear()
        for letter in order:
            item = QListWidgetItem(boot_name(letter, config.profile), self.boot)
            item.setData(Qt.ItemDataRole.UserRole, letter)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = letter in config.boot_order
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.boot.blockSignals(False)
        self.boot.setCurrentRow(0)
        if config.profile in PROFILES:
            self._set_profile(config.profile)
        limit = config.cpu_limit_percent
        (self.limited if limit else self.unlimited).setChecked(True)
        self.cpu.setValue(limit or 50)
        self._cpu_toggled()

    def boot_order(self) -> list[str]:
        items = [self.boot.item(i) for i in range(self.boot.count())]
        return [item.data(Qt.ItemDataRole.UserRole) for item in items
                if item.checkState() == Qt.CheckState.Checked]

    def apply(self, config: VmConfig) -> None:
        config.profile = self.machine.currentData()
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
