"""The VM list: a model of the library's entries and a delegate that draws each row.

Owns: :class:`VmListModel` (rows = :class:`~vmgui.config.library.VmEntry`, with the run
state and screen picture from a :class:`~vmgui.ui.manager.running.VmRunner`),
:class:`VmFilterModel` (the search box: name and notes, ignoring case) and
:class:`VmItemDelegate` (thumbnail or icon, bold name, state line; inaccessible VMs show
the reason).  A VM is inaccessible when its ``vm.toml`` cannot be used (``entry.config``
is None) or, while it is not running, when an attached image cannot be
(:func:`~vmgui.config.library.media_problems`: a FIFO or device as a disk, a damaged
snapshot layer) -- as ``vmgui list`` says.  Images are checked when the list is read and
when a row is refreshed, not on the once-a-second status probe (they read headers).

Thread rule: GUI thread only.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRect,
    QSize,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QIcon, QImage, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from vmgui.config.library import VmEntry, media_problems
from vmgui.core import events as ev
from vmgui.ui.manager.icons import icon
from vmgui.ui.manager.vmstatus import NOTHING, FolderStatus, probe

ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1
STATE_ROLE = Qt.ItemDataRole.UserRole + 2  # RunState, or None when not started
_STARTING = (ev.RunState.CREATED, ev.RunState.RUNNING)  # a thumbnail says "Starting..."
SCREEN_ROLE = Qt.ItemDataRole.UserRole + 3  # QImage or None
STATE_TEXT_ROLE = Qt.ItemDataRole.UserRole + 4
STATE_ICON_ROLE = Qt.ItemDataRole.UserRole + 5
TRYOUT_ROLE = Qt.ItemDataRole.UserRole + 6  # True: disk changes are thrown away
INACCESSIBLE_ROLE = Qt.ItemDataRole.UserRole + 7  # True: cannot be used (see reason())

THUMB = QSize(96, 72)  # 4:3, as a CRT shows every mode
MARGIN = 6

Index = QModelIndex | QPersistentModelIndex

log = logging.getLogger(__name__)


def state_icon_name(entry: VmEntry, state: ev.RunState | None,
                    status: FolderStatus = NOTHING, inaccessible: bool = False) -> str:
    """The state icon of a row; ``status`` matters only when this manager does not run it;
    ``inaccessible``: its images cannot be used (:meth:`VmListModel.reason`)."""
    if (entry.config is None or inaccessible
            or state in (ev.RunState.CRASHED, ev.RunState.ABORTED)):
        return "state-error"
    if state is ev.RunState.RUNNING or state is ev.RunState.CREATED:
        return "state-running"
    if state is ev.RunState.PAUSED:
        return "state-paused"
    if status.other_pid is not None:
        return "state-running"
    if status.saved:
        return "state-saved"
    return "state-off"


def tryout_label(name: str) -> str:
    """``Name (try-out)``: how lists and titles show a VM in try-out mode."""
    return QApplication.translate("VmListModel", "{0} (try-out)").format(name)


def elided_state(metrics: QFontMetrics, text: str, width: int) -> str:
    """A row's state line cut at the end to fit ``width`` (the start says what it is --
    "Inaccessible: ..." -- and the tooltip has it whole)."""
    return metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)


class VmListModel(QAbstractListModel):
    """The library's VMs in library order (by name).  ``runner`` supplies run states."""

    def __init__(self, runner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self._entries: list[VmEntry] = []
        self._status: dict[str, FolderStatus] = {}  # by name: what the VM folders say
        self._media: dict[str, str] = {}  # by name: why its images cannot be used

    def folder_status(self, entry: VmEntry) -> FolderStatus:
        """Saved state / running in another process, as last probed (see
        :meth:`refresh_status`); nothing for VMs this manager runs."""
        if entry.config is None or self.runner.is_running(entry.name):
            return NOTHING
        return self._status.get(entry.name, NOTHING)

    def reason(self, entry: VmEntry) -> str | None:
        """Why ``entry`` is inaccessible, None when it is not: its ``vm.toml``'s problem,
        or (not while it runs, here or in another process) its images' as last checked."""
        if entry.config is None:
            return entry.error or ""
        if self.runner.is_running(entry.name) or self.folder_status(entry).other_pid:
            return None
        return self._media.get(entry.name)

    def _check_media(self, entry: VmEntry) -> None:
        """Check ``entry``'s images again (never raises: one VM never breaks the list)."""
        if entry.config is None or self.runner.is_running(entry.name):
            self._media.pop(entry.name, None)
            return
        try:
            problems = media_problems(entry.config, entry.folder)
        except Exception as exc:  # noqa: BLE001 - shown as the VM's reason instead
            log.debug("checking the images of %s", entry.name, exc_info=True)
            problems = [f"cannot check its images: {exc!r}"]
        if problems:
            self._media[entry.name] = "; ".join(problems)
        else:
            self._media.pop(entry.name, None)

    def refresh_media(self) -> list[str]:
        """Check every VM's images again (a file in a VM folder changed); repaints the
        rows whose reason changed and returns their names."""
        changed = []
        for row, entry in enumerate(self._entries):
            before = self._media.get(entry.name)
            self._check_media(entry)
            if self._media.get(entry.name) != before:
                changed.append(entry.name)
                self.dataChanged.emit(self.index(row), self.index(row))
        return changed

    def shown_state(self, entry: VmEntry) -> ev.RunState | None:
        """The run state the row shows: this manager's VM's, else None."""
        return self.runner.state(entry.name) if entry.config is not None else None

    def state_text(self, entry: VmEntry) -> str:
        """The state line of a row and of the details pane."""
        reason = self.reason(entry)
        if reason is not None:
            prefix = f"{entry.folder / 'vm.toml'}: "
            return self.tr("Inaccessible: {0}").format(reason.removeprefix(prefix))
        state = self.shown_state(entry)
        status = self.folder_status(entry)
        if status.other_pid is not None:
            return self.tr("Running (process {0})").format(status.other_pid)
        if status.saved and state in (None, ev.RunState.POWERED_OFF):
            return self.tr("Saved")
        names = {ev.RunState.CREATED: self.tr("Starting"), ev.RunState.RUNNING: self.tr("Running"),
                 ev.RunState.PAUSED: self.tr("Paused"), ev.RunState.CRASHED: self.tr("Crashed"),
                 ev.RunState.POWERED_OFF: self.tr("Powered off"),
                 ev.RunState.ABORTED: self.tr("Aborted (the VM process ended unexpectedly)")}
        return names.get(state, self.tr("Powered off"))

    def set_entries(self, entries: list[VmEntry]) -> None:
        self.beginResetModel()
        self._entries = list(entries)
        self._status = {e.name: probe(e.folder) for e in self._entries if e.config is not None}
        self._media = {}
        for entry in self._entries:
            self._check_media(entry)
        self.endResetModel()

    def refresh_status(self) -> list[str]:
        """Probe every VM's folder again (the periodic refresh: a VM started or stopped
        by another process, a saved state made or discarded); repaints the rows that
        changed and returns their names."""
        changed = []
        for row, entry in enumerate(self._entries):
            if entry.config is None:
                continue
            now = probe(entry.folder)
            if now != self._status.get(entry.name, NOTHING):
                self._status[entry.name] = now
                changed.append(entry.name)
                self.dataChanged.emit(self.index(row), self.index(row))
        return changed

    def entries(self) -> list[VmEntry]:
        return list(self._entries)

    def row_of(self, name: str) -> int:
        for row, entry in enumerate(self._entries):
            if entry.name == name:
                return row
        return -1

    def refresh(self, name: str | None = None) -> None:
        """Repaint ``name``'s row (every row when None), its folder probed and its images
        checked again."""
        if not self._entries:
            return
        if name is None:
            first, last = 0, len(self._entries) - 1
        else:
            first = last = self.row_of(name)
            if first < 0:
                return
        for entry in self._entries[first:last + 1]:
            if entry.config is not None:
                self._status[entry.name] = probe(entry.folder)
            self._check_media(entry)
        self.dataChanged.emit(self.index(first), self.index(last))

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008,N802 - Qt API
        return 0 if parent.isValid() else len(self._entries)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._entries):
            return None
        entry = self._entries[index.row()]
        state = self.shown_state(entry)
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return entry.name
        if role == Qt.ItemDataRole.AccessibleTextRole:
            name = tryout_label(entry.name) if entry.config is not None \
                and entry.config.tryout else entry.name
            return f"{name}, {self.state_text(entry)}"
        if role == TRYOUT_ROLE:
            return entry.config is not None and entry.config.tryout
        if role == Qt.ItemDataRole.ToolTipRole:  # the full state line: rows elide it
            return f"{self.state_text(entry)}\n{entry.folder}"
        if role == ENTRY_ROLE:
            return entry
        if role == STATE_ROLE:
            return state
        if role == STATE_TEXT_ROLE:
            return self.state_text(entry)
        if role == STATE_ICON_ROLE:
            return icon(state_icon_name(entry, state, self.folder_status(entry),
                                        self.reason(entry) is not None))
        if role == INACCESSIBLE_ROLE:
            return self.reason(entry) is not None
        if role == SCREEN_ROLE:
            vm = self.runner.get(entry.name)
            return vm.screen if vm is not None and vm.host.alive else None
        if role == Qt.ItemDataRole.UserRole:
            return entry.config.notes if entry.config is not None else ""
        return None


class VmFilterModel(QSortFilterProxyModel):
    """Keeps the rows whose name or notes contain the search text (ignoring case)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._needle = ""

    def set_search(self, text: str) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt 6.9+: invalidateFilter is deprecated
            self.beginFilterChange()
            self._needle = text.strip().casefold()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self._needle = text.strip().casefold()
            self.invalidateFilter()

    def filterAcceptsRow(self, row: int, parent: Index) -> bool:  # noqa: N802 - Qt API
        if not self._needle:
            return True
        index = self.sourceModel().index(row, 0, parent)
        name = index.data(Qt.ItemDataRole.DisplayRole) or ""
        notes = index.data(Qt.ItemDataRole.UserRole) or ""
        return self._needle in name.casefold() or self._needle in notes.casefold()


class VmItemDelegate(QStyledItemDelegate):
    """Draws a row: the screen thumbnail (running) or the VM icon, name, state line."""

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:  # noqa: N802
        lines = option.fontMetrics.height() * 2 + MARGIN
        return QSize(THUMB.width() + 200, max(THUMB.height(), lines) + 2 * MARGIN)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        opt.icon = QIcon()
        style = opt.widget.style() if opt.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        painter.save()
        rect = option.rect.adjusted(MARGIN, MARGIN, -MARGIN, -MARGIN)
        thumb = QRect(rect.left(), rect.top() + (rect.height() - THUMB.height()) // 2,
                      THUMB.width(), THUMB.height())
        self._paint_picture(painter, thumb, index)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        group = QPalette.ColorGroup.Normal if option.state & QStyle.StateFlag.State_Enabled \
            else QPalette.ColorGroup.Disabled
        text_role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        left = thumb.right() + 1 + 2 * MARGIN
        text_rect = QRect(left, rect.top(), rect.right() - left, rect.height())
        name_font = QFont(option.font)
        name_font.setBold(True)
        name_font.setPointSizeF(option.font.pointSizeF() * 1.1)
        line = option.fontMetrics.height()
        top = text_rect.top() + (text_rect.height() - 2 * line - MARGIN) // 2
        painter.setFont(name_font)
        painter.setPen(option.palette.color(group, text_role))
        name = index.data() or ""
        entry: VmEntry = index.data(ENTRY_ROLE)
        if entry is not None and entry.config is not None and entry.config.tryout:
            name = tryout_label(name)
        name = painter.fontMetrics().elidedText(name, Qt.TextElideMode.ElideRight,
                                                text_rect.width())
        painter.drawText(QRect(left, top, text_rect.width(), line + 4),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
        painter.setFont(option.font)
        state_icon: QIcon = index.data(STATE_ICON_ROLE)
        icon_rect = QRect(left, top + line + MARGIN, 16, 16)
        state_icon.paint(painter, icon_rect)
        colour = option.palette.color(group, text_role)
        if index.data(INACCESSIBLE_ROLE) and not selected:
            colour = QColor("#c01c28")
        painter.setPen(colour)
        text_left = icon_rect.right() + 1 + MARGIN
        state_text = elided_state(option.fontMetrics, index.data(STATE_TEXT_ROLE) or "",
                                  text_rect.right() - text_left)
        painter.drawText(QRect(text_left, icon_rect.top() - 2, text_rect.right() - text_left,
                               line + 4),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, state_text)
        painter.restore()

    @staticmethod
    def _paint_picture(painter: QPainter, rect: QRect, index: Index) -> None:
        screen: QImage | None = index.data(SCREEN_ROLE)
        if screen is not None and not screen.isNull():
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(rect, screen)
            painter.setPen(QColor(0, 0, 0, 120))
            painter.drawRect(rect.adjusted(0, 0, -1, -1))
            return
        if index.data(STATE_ROLE) in _STARTING:  # runs, but no screen to show yet
            painter.fillRect(rect, Qt.GlobalColor.black)
            painter.setPen(Qt.GlobalColor.lightGray)
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter,
                             QApplication.translate("VmItemDelegate", "Starting..."))
            return
        broken = bool(index.data(INACCESSIBLE_ROLE))
        side = min(rect.width(), rect.height()) - (32 if broken else 8)
        name = "state-error" if broken else "vmgui"
        icon(name).paint(painter, QRect(rect.center().x() - side // 2,
                                        rect.center().y() - side // 2, side, side))
