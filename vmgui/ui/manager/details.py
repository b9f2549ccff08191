"""The details pane: everything about the selected VM, with a preview of its screen.

Owns: :class:`DetailsPane` (name, state, a preview -- the live screen of a running VM --
and a form of machine (its profile's label), memory, boot order (letter d named for the
machine: the CD/DVD drive or hard disk D:), media with their formats (the CD/DVD drive
line only on machines with one), display, serial,
CPU limit, try-out mode, notes and folder; the reason for an inaccessible VM -- its
vm.toml cannot be used, or (form still shown) one of its images cannot; a note on the
state, e.g. a saved state waiting or a VM running in another process).

Thread rule: GUI thread only.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QFormLayout, QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from vmgui.config.library import VmEntry
from vmgui.config.schema import Attachment, VmConfig
from vmgui.storage import media
from vmgui.storage.image import DiskImageError
from vmgui.ui.machines import boot_order_text, has_cd_drive, profile_label
from vmgui.ui.manager.icons import icon

PREVIEW = QSize(256, 192)


def media_text(att: Attachment | None, folder: Path, kind: str) -> str:
    """``demo.img (raw floppy 1.44M, read-only)``; the problem when it cannot be read."""
    if att is None:
        return "—"
    try:
        what = media.describe(att.resolve(folder), kind=kind)
    except (DiskImageError, OSError) as exc:
        what = f"unusable: {exc}"
    flags = ", read-only" if att.read_only else ""
    return f"{att.path} ({what}{flags})"


class DetailsPane(QScrollArea):
    """Shows one :class:`VmEntry` (or nothing).  Call :meth:`show_entry` and
    :meth:`set_screen` whenever they change."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget(self)
        layout = QVBoxLayout(body)
        self.title = QLabel(body)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        self.title.setFont(font)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.preview = QLabel(body)
        self.preview.setFixedSize(PREVIEW)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setFrameShape(QFrame.Shape.StyledPanel)
        self.preview.setAccessibleName(self.tr("Screen preview"))
        self.preview.setStyleSheet("background: black; color: #c0c0c0;")
        self.error = QLabel(body)
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notice = QLabel(body)
        self.notice.setWordWrap(True)
        self.notice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notice.setAccessibleName(self.tr("State note"))
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.fields: dict[str, QLabel] = {}
        for key, label in (("state", self.tr("State:")), ("profile", self.tr("Machine:")),
                           ("memory", self.tr("Memory:")), ("boot", self.tr("Boot order:")),
                           ("kernel", self.tr("Linux kernel:")),
                           ("floppy_a", self.tr("Floppy A:")), ("floppy_b", self.tr("Floppy B:")),
                           ("hard_disks", self.tr("Hard disks:")),
                           ("cdrom", self.tr("CD/DVD drive:")),
                           ("display", self.tr("Display scale:")),
                           ("serial", self.tr("Serial (COM1):")), ("cpu", self.tr("CPU:")),
                           ("tryout", self.tr("Try-out mode:")),
                           ("notes", self.tr("Notes:")), ("folder", self.tr("Folder:"))):
            value = QLabel(body)
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.form.addRow(label, value)
            self.fields[key] = value
        layout.addWidget(self.title)
        layout.addWidget(self.preview)
        layout.addWidget(self.error)
        layout.addWidget(self.notice)
        layout.addLayout(self.form)
        layout.addStretch(1)
        self.setWidget(body)
        self._entry: VmEntry | None = None
        self.show_entry(None, "")

    def show_entry(self, entry: VmEntry | None, state_text: str, notice: str = "",
                   media_problem: str | None = None) -> None:
        """Show ``entry`` with ``state_text`` and, under it, ``notice`` (when not "");
        ``media_problem``: why its images make it inaccessible (a FIFO or device as a
        disk, a damaged snapshot layer), shown as an inaccessible VM's reason is."""
        self._entry = entry
        has_config = entry is not None and entry.config is not None
        self.preview.setVisible(has_config and media_problem is None)
        for row in range(self.form.rowCount()):
            self.form.setRowVisible(row, has_config)
        self.error.setVisible(entry is not None and (entry.config is None
                                                     or media_problem is not None))
        self.notice.setText(notice)
        self.notice.setVisible(bool(notice) and entry is not None)
        if entry is None:
            self.title.setText(self.tr("No virtual machine selected"))
            return
        tryout = entry.config is not None and entry.config.tryout
        self.title.setText(self.tr("{0} (try-out)").format(entry.name) if tryout
                           else entry.name)
        self.fields["state"].setText(state_text)
        if entry.config is None:
            self.error.setText(self.tr("<b>This virtual machine is inaccessible.</b><br>"
                                       "{0}<br><br>Fix or replace its vm.toml in {1}, "
                                       "or remove it.").format(html.escape(entry.error or ""),
                                                               html.escape(str(entry.folder))))
            return
        if media_problem is not None:
            self.error.setText(self.tr("<b>This virtual machine is inaccessible.</b><br>"
                                       "{0}<br><br>Attach another image in its settings, "
                                       "or remove it.").format(html.escape(media_problem)))
        self._fill(entry.config, entry.folder)
        self.set_screen(None)

    def _fill(self, config: VmConfig, folder: Path) -> None:
        f = self.fields
        f["profile"].setText(profile_label(config.profile))
        f["memory"].setText(self.tr("{0} MB").format(config.memory_mb))
        f["boot"].setText(boot_order_text(config.boot_order, config.profile))
        f["floppy_a"].setText(media_text(config.floppy_a, folder, "floppy"))
        f["floppy_b"].setText(media_text(config.floppy_b, folder, "floppy"))
        disks = [f"{'CD'[i]}: {media_text(att, folder, 'hdd')}"
                 for i, att in enumerate(config.hard_disks)]
        f["hard_disks"].setText("\n".join(disks) or "—")
        self._fill_cdrom(config, folder)
        self._fill_kernel(config)
        f["display"].setText(config.display_scale)
        serial = config.serial
        f["serial"].setText({"off": self.tr("Off"),
                             "file": self.tr("Log to {0}").format(serial.path),
                             "tcp": self.tr("TCP server on 127.0.0.1:{0}").format(serial.port)}
                            .get(serial.mode, serial.mode))
        f["cpu"].setText(self.tr("Unlimited") if not config.cpu_limit_percent
                         else self.tr("Limited to {0}%").format(config.cpu_limit_percent))
        f["tryout"].setText(self.tr("On: disk changes are thrown away at power-off unless "
                                    "you keep them as a snapshot") if config.tryout
                            else self.tr("Off"))
        f["notes"].setText(config.notes or "—")
        f["folder"].setText(str(folder))

    def _fill_cdrom(self, config: VmConfig, folder: Path) -> None:
        """The CD/DVD drive's line: on machines with one, or when a CD is attached to a
        machine without (then saying so)."""
        has_cd = has_cd_drive(config.profile)
        text = media_text(config.cdrom, folder, "cdrom") if config.cdrom else self.tr("empty")
        if config.cdrom is not None and not has_cd:
            text += self.tr(" — this machine has no CD drive")
        self.fields["cdrom"].setText(text)
        self.form.setRowVisible(self.fields["cdrom"], has_cd or config.cdrom is not None)

    def _fill_kernel(self, config: VmConfig) -> None:
        """The direct boot's line (only for a VM that boots a kernel): the kernel, its
        initrd and command line; the boot order's disks are then not booted."""
        boot = config.direct_boot
        lines = [boot.kernel]
        if boot.initrd:
            lines.append(self.tr("initrd {0}").format(boot.initrd))
        if boot.append:
            lines.append(self.tr("command line “{0}”").format(boot.append))
        self.fields["kernel"].setText("\n".join(lines))
        self.form.setRowVisible(self.fields["kernel"], boot.enabled)

    def set_screen(self, screen: QImage | None) -> None:
        """Show a running VM's screen, or the icon with "Powered off"."""
        if screen is not None and not screen.isNull():
            self.preview.setPixmap(QPixmap.fromImage(screen).scaled(
                PREVIEW, Qt.AspectRatioMode.IgnoreAspectRatio,
                Qt.TransformationMode.SmoothTransformation))
            return
        self.preview.setPixmap(icon("vmgui").pixmap(96, 96))
