"""The virtual media list (File > Virtual Media): every disk image the library uses.

Owns: :class:`MediaDialog`, a table of each image referenced by any VM with its size,
format and the VMs using it (from :meth:`vmgui.config.library.Library.media`); an
unusable image shows why.  Read-only: media are created in the wizard and the settings.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from vmgui.config.library import Library


def human_size(size: int | None) -> str:
    if size is None:
        return "—"
    for unit, factor in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}".replace(".0 ", " ")
    return f"{size} bytes"


class MediaDialog(QDialog):
    COLUMNS = ("Image", "Size", "Format", "Used by")

    def __init__(self, library: Library, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Virtual Media"))
        self.table = QTableWidget(0, len(self.COLUMNS), self)
        self.table.setHorizontalHeaderLabels([self.tr(c) for c in self.COLUMNS])
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setAccessibleName(self.tr("Disk images used by the virtual machines"))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(760, 360)
        self.fill(library)

    def fill(self, library: Library) -> None:
        media = library.media()
        self.table.setRowCount(len(media))
        for row, info in enumerate(media):
            cells = (str(info.path), human_size(info.size),
                     info.format if info.error is None else self.tr("unusable: {0}").format(
                         info.error),
                     ", ".join(info.used_by))
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if column == 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)
