"""The console window of one running VM: its screen, keyboard, menus and status bar.

Owns: :class:`ConsoleWindow`, which polls a host (``ThreadHost`` or any object with the
same interface: ``send``, ``poll_events``, ``display``, ``power_off``, ``alive``, ``state``)
from a GUI-thread timer at up to 60 Hz, draws the framebuffer through
:class:`FramebufferView`, feeds captured keys to the guest through :class:`GuestKeyboard`
and, captured with them, the pointer through :class:`GuestMouse` (PS/2 mouse),
and offers the Machine, Input, Devices and View menus (pause/resume, reset, power off,
screenshot, log; Ctrl+Alt+Del and friends, typing the clipboard; inserting and ejecting
the CD and floppies: :class:`DevicesMenu`; scaling, full screen, the COM1 terminal).
Closing the window powers the VM off (after asking, unless ``confirm=False``).

The window never starts the host: the caller calls ``host.start()``.  The status bar
shows the run state, the display mode, a disk-activity light per drive (from the host's
``Stats`` events) and how to capture or release the keyboard and mouse -- the release key
first, so that it stays visible however narrow the window (:class:`ElidedLabel`).

A ``GuestReset`` (the guest triple-faulted and the machine reset itself, as a PC does) is
shown in the status line and logged, without a dialog: the machine keeps running.
A ``GuestCrashed`` event is reported as a guest crash, unless the host says its VM
process ended (state ``ABORTED``: killed, or the engine died) or the VM could not start:
these are not the guest's doing and are worded so.

Thread rule: GUI thread only; the emulation thread is reached only through ``host.send``
and the host's read-only framebuffer view.
"""

from __future__ import annotations

import logging
import re
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QGuiApplication, QImage, QKeySequence
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QMessageBox, QWidget

from vmgui.core import events as ev
from vmgui.core import keys
from vmgui.devices.display import COLOURS, DisplayKind, DisplayState
from vmgui.devices.render import render, save_png
from vmgui.host.base import NoScreenYet
from vmgui.ui.console.devices import DevicesMenu
from vmgui.ui.console.framebuffer import MIN_FIT_SIZE, FramebufferView, ScaleMode, font_for
from vmgui.ui.console.keyboard import GuestKeyboard
from vmgui.ui.console.keymap import KeyTranslator
from vmgui.ui.console.logview import LogDialog, RecentLogHandler
from vmgui.ui.console.mouse import GuestMouse
from vmgui.ui.console.serial_dock import SerialDock
from vmgui.ui.console.statusbar import ElidedLabel

log = logging.getLogger(__name__)

FRAME_INTERVAL_MS = 16  # ~60 Hz polling; unchanged frames cost a VRAM compare only
IDLE_INTERVAL_MS = 33  # quiet screen: ~30 Hz polling (blink phases last 133 ms)
IDLE_ASK_EVERY = 3  # quiet screen: a fresh display state every 3rd tick (~10 Hz)
ACTIVE_S = 1.0  # after input or a changed frame: 60 Hz, a fresh display state every tick
LOGGER_NAME = "vmgui"
WINDOW_TITLE_ALLOWANCE = 32  # a title bar's height, before the window manager framed it
PROCESS_HOW = re.compile(r"\(([^()]*)\)\s*$")  # "... died (killed by signal 9)"


def default_screenshots_dir() -> Path:
    pictures = Path.home() / "Pictures"
    if pictures.is_dir():
        return pictures
    return Path(tempfile.gettempdir()) / "vmgui-screenshots"


class ConsoleWindow(QMainWindow):
    """One VM's console.  ``host_key`` (with ``host_key_side``: "right", "left" or "any")
    releases the keyboard capture; ``confirm=False`` skips every question (tests).
    ``media``: the machine's removable drives and what they hold at the start
    (:func:`~vmgui.ui.console.devices.media_of_machine`; None: no drives known);
    ``tryout``: the VM runs in try-out mode (floppies go in write-protected)."""

    powered_off = Signal()

    def __init__(self, host, title: str, *, screenshots_dir: Path | None = None,
                 host_key: int = Qt.Key.Key_Control, host_key_side: str = "right",
                 confirm: bool = True, parent: QWidget | None = None,
                 saved_state: Path | None = None,
                 media: Mapping[str, str | None] | None = None, tryout: bool = False) -> None:
        super().__init__(parent)
        self.host = host
        self._media, self._tryout = media or {}, tryout
        self.last_guest_reset: str | None = None
        self.saved_state = saved_state  # where "Save state" on closing writes the machine
        self.title = title
        self.confirm = confirm
        self.screenshots_dir = Path(screenshots_dir or default_screenshots_dir())
        self._closed = False
        self._saved_scale = ScaleMode.X1
        self.translator = KeyTranslator(QGuiApplication.platformName())
        self._active_until = 0.0
        self._ticks = 0
        self.keyboard = GuestKeyboard(self._send_input, self.translator, host_key,
                                      host_key_side, self)
        self.keyboard.grab_changed.connect(self._on_grab_changed)
        self.view = FramebufferView(host.display, self)
        self.view.key_handler = self.keyboard.key_event
        self.mouse = GuestMouse(self._send_input, self.view)
        self.view.mouse_handler = self.mouse.mouse_event
        self.view.clicked.connect(lambda: self.set_keyboard_grab(True))
        self.view.frame_changed.connect(self._update_mode_label)
        self.view.size_hint_changed.connect(self._fit_window_to_view)
        self.view.room = self._room_for_view
        self.setCentralWidget(self.view)
        self.serial = SerialDock(host.send, self)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.serial)
        self.serial.hide()
        self.log_handler = RecentLogHandler()
        logging.getLogger(LOGGER_NAME).addHandler(self.log_handler)
        self._log_dialog: LogDialog | None = None
        self._build_menus()
        self._build_status_bar()
        self._update_title()
        self.timer = QTimer(self)
        self.timer.setInterval(FRAME_INTERVAL_MS)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    # ------------------------------------------------------------------ menus
    def _action(self, text: str, slot, shortcut: str | None = None) -> QAction:
        action = QAction(text, self)
        action.triggered.connect(slot)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            self.addAction(action)  # still works with the menu bar hidden (full screen)
        return action

    def _build_menus(self) -> None:
        self._build_machine_menu()
        self._build_input_menu()
        self.devices_menu = self.menuBar().addMenu(self.tr("&Devices"))
        self.devices = DevicesMenu(self, self.devices_menu, self.host.send, self._media,
                                   tryout=self._tryout)
        self._build_view_menu()

    def _build_machine_menu(self) -> None:
        menu = self.menuBar().addMenu(self.tr("&Machine"))
        self.pause_action = self._action(self.tr("&Pause"), self._on_pause_toggled, "Ctrl+P")
        self.pause_action.setCheckable(True)
        menu.addAction(self.pause_action)
        menu.addAction(self._action(self.tr("&Reset"), self.reset, "Ctrl+R"))
        menu.addAction(self._action(self.tr("Power &off"), self.close, "Ctrl+Q"))
        menu.addSeparator()
        menu.addAction(self._action(self.tr("Take &screenshot"), self._on_screenshot,
                                    "Ctrl+E"))
        menu.addAction(self._action(self.tr("Show &log"), self.show_log))

    def _build_input_menu(self) -> None:
        menu = self.menuBar().addMenu(self.tr("&Input"))
        for label, spec in ((self.tr("Send Ctrl+Alt+&Del"), "ctrl+alt+del"),
                            (self.tr("Send Ctrl+Alt+&Backspace"), "ctrl+alt+backspace")):
            menu.addAction(self._action(label, lambda _=False, s=spec: self.send_combo(s)))
        fkeys = menu.addMenu(self.tr("Send Ctrl+Alt+&F1-F12"))
        for n in range(1, 13):
            fkeys.addAction(self._action(self.tr("Ctrl+Alt+F{0}").format(n),
                                         lambda _=False, s=f"ctrl+alt+f{n}": self.send_combo(s)))
        menu.addSeparator()
        menu.addAction(self._action(self.tr("&Type clipboard text"), self._on_type_clipboard))

    def _build_view_menu(self) -> None:
        menu = self.menuBar().addMenu(self.tr("&View"))
        group = QActionGroup(self)
        self.scale_actions: dict[ScaleMode, QAction] = {}
        for mode, label, shortcut in ((ScaleMode.X1, self.tr("Scale &1x"), "Ctrl+1"),
                                      (ScaleMode.X2, self.tr("Scale &2x"), "Ctrl+2"),
                                      (ScaleMode.FIT, self.tr("&Fit to window"), "Ctrl+0")):
            action = self._action(label, lambda _=False, m=mode: self.set_scale_mode(m), shortcut)
            action.setCheckable(True)
            group.addAction(action)
            menu.addAction(action)
            self.scale_actions[mode] = action
        self.scale_actions[ScaleMode.X1].setChecked(True)
        self.integer_action = self._action(self.tr("&Integer scaling"), self._on_integer)
        self.integer_action.setCheckable(True)
        menu.addAction(self.integer_action)
        menu.addSeparator()
        self.full_screen_action = self._action(self.tr("F&ull screen"),
                                               self.toggle_full_screen, "F11")
        self.full_screen_action.setCheckable(True)
        menu.addAction(self.full_screen_action)
        serial_action = self.serial.toggleViewAction()
        serial_action.setText(self.tr("&Serial console (COM1)"))
        menu.addAction(serial_action)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.state_label = QLabel(self)
        self.mode_label = ElidedLabel(self)
        self.grab_label = ElidedLabel(self)
        self.disk_label = QLabel(self)
        self.disk_label.setToolTip(self.tr("Disk activity: a drive is lit while the guest "
                                           "reads or writes it"))
        for label in (self.state_label, self.mode_label, self.disk_label, self.grab_label):
            bar.addPermanentWidget(label)
        self._update_state_label()
        self._on_grab_changed(False)

    # ------------------------------------------------------------------ polling
    def tick(self) -> None:
        """One timer step: drain host events, redraw if the frame changed.  While the
        screen is quiet the host is asked for a new display state (registers: cursor,
        mode, palette) only every :data:`IDLE_ASK_EVERY` ticks; in between the view
        compares video memory alone."""
        for event in self.host.poll_events():
            self._on_event(event)
        self._ticks += 1
        now = time.monotonic()
        active = now < self._active_until
        before = self.view.content_changes
        try:
            self.view.refresh(ask=active or self._ticks % IDLE_ASK_EVERY == 0)
        except NoScreenYet:  # a VM process still starting: the view says so
            return
        if self.view.content_changes != before:
            self._active_until = now + ACTIVE_S
            active = True
        self._set_interval(FRAME_INTERVAL_MS if active else IDLE_INTERVAL_MS)

    def _set_interval(self, ms: int) -> None:
        if self.timer.interval() != ms and not self._closed:
            self.timer.start(ms)

    def _send_input(self, command: ev.Command) -> None:
        """Keys and mouse movements: the screen will likely change, so poll closely."""
        self._active_until = time.monotonic() + ACTIVE_S
        self._set_interval(FRAME_INTERVAL_MS)
        self.host.send(command)

    def _on_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.StateChanged):
            self._update_state_label()
            self._update_title()
            self.pause_action.blockSignals(True)
            self.pause_action.setChecked(event.state is ev.RunState.PAUSED)
            self.pause_action.blockSignals(False)
            self.devices.set_enabled(event.state in (ev.RunState.RUNNING, ev.RunState.PAUSED)
                                     and self.host.alive)
        elif isinstance(event, ev.SerialOutput) and event.port == 0:
            self.serial.append_output(event.data)
        elif isinstance(event, ev.GuestCrashed):
            self.devices.set_enabled(False)
            self._on_crash(event)
        elif isinstance(event, ev.GuestReset):
            self._on_guest_reset(event)
        elif isinstance(event, ev.MediaChanged):
            self.statusBar().showMessage(self.devices.on_media_changed(event), 8000)
        elif isinstance(event, ev.Stats):
            self._on_stats(event)

    def _on_guest_reset(self, event: ev.GuestReset) -> None:
        """The machine reset itself (a triple fault): said in the status line, logged; no
        dialog -- the guest starts again, as a PC does."""
        text = self.tr("Reset by the guest: {0}").format(event.reason)
        self.last_guest_reset = text
        log.warning("%s: %s", self.title, text)
        self.statusBar().showMessage(text)  # until the next message

    def _on_stats(self, stats: ev.Stats) -> None:
        lights = [f"{letter}:{'●' if count else '○'}" for letter, count in stats.disk_transfers]
        self.disk_label.setText(" ".join(lights))
        self.disk_label.setAccessibleName(self.tr("Disk activity {0}").format(" ".join(
            f"{letter} {'busy' if count else 'idle'}" for letter, count in stats.disk_transfers)))

    def crash_message(self, crash: ev.GuestCrashed) -> tuple[str, str]:
        """(title, text) for the stop ``crash`` reports; only a real guest crash says
        the guest crashed."""
        if self.host.state is ev.RunState.ABORTED:  # the VM process died, not the guest
            how = PROCESS_HOW.search(crash.reason)
            return (self.tr("{0}: VM process ended").format(self.title),
                    self.tr("The VM process ended unexpectedly{0}. The guest itself did not "
                            "crash, but its unsaved work is lost; you can start it again.")
                    .format(f" ({how.group(1)})" if how else ""))
        if getattr(self.host, "start_error", None) is not None:
            return (self.tr("{0}: cannot start").format(self.title),
                    self.tr("The virtual machine could not start: {0}").format(
                        self.host.start_error))
        return (self.tr("Guest crashed"),
                self.tr("The virtual machine stopped: {0}").format(crash.reason))

    def _on_crash(self, crash: ev.GuestCrashed) -> None:
        title, text = self.crash_message(crash)
        log.error("%s: %s\n%s", title, text, crash.report)
        self.set_keyboard_grab(False)
        self._update_state_label()
        if self.confirm:
            box = QMessageBox(QMessageBox.Icon.Critical, title, text,
                              QMessageBox.StandardButton.Close, self)
            box.setDetailedText(crash.report)
            box.setModal(False)
            box.show()

    # ------------------------------------------------------------------ status
    def _state_text(self) -> str:
        state = self.host.state
        if self.host.crash is not None and state not in (ev.RunState.POWERED_OFF,
                                                         ev.RunState.ABORTED):
            state = ev.RunState.CRASHED
        names = {ev.RunState.CREATED: self.tr("Starting"), ev.RunState.RUNNING: self.tr("Running"),
                 ev.RunState.PAUSED: self.tr("Paused"), ev.RunState.CRASHED: self.tr("Crashed"),
                 ev.RunState.POWERED_OFF: self.tr("Powered off"),
                 ev.RunState.ABORTED: self.tr("Aborted")}
        return names.get(state, str(state))

    def _update_state_label(self) -> None:
        text = self._state_text()
        self.state_label.setText(text)
        # shown until the first frame: "Starting", or why there will be none
        self.view.placeholder = (self.tr("Starting...") if self.host.state in (
            ev.RunState.CREATED, ev.RunState.RUNNING) else text)
        self.view.update()

    def _update_title(self) -> None:
        self.setWindowTitle(self.tr("{0} [{1}] - vmgui").format(self.title, self._state_text()))

    def mode_text(self, state: DisplayState | None) -> str:
        if state is None:
            return ""
        if state.kind is DisplayKind.BLANK:
            return self.tr("Display off")
        if state.kind is DisplayKind.TEXT:
            return self.tr("Text {0}x{1}, mode {2:02X}h ({3}x{4})").format(
                state.cols, state.rows, state.mode, state.width, state.height)
        return self.tr("{0}x{1}, {2} colours, mode {3:02X}h").format(
            state.width, state.height, COLOURS.get(state.kind, "?"), state.mode)

    def _update_mode_label(self) -> None:
        text = self.mode_text(self.view.state)
        if self.mode_label.text() != text:
            self.mode_label.set_text(text)

    def _on_grab_changed(self, grabbed: bool) -> None:
        self.view.captures_keys = grabbed
        self.view.captures_mouse = grabbed
        key = self.host_key_name()
        if grabbed:
            self.view.setFocus(Qt.FocusReason.MouseFocusReason)
            self.view.grabKeyboard()
            keep = self.tr("{0} releases").format(key)
            text = self.tr("{0} releases the captured keyboard and mouse").format(key)
        else:
            self.view.releaseKeyboard()
            keep = self.tr("Click to capture")
            text = self.tr("Click to capture the keyboard and mouse ({0} releases them)"
                           ).format(key)
        self.mouse.set_captured(grabbed)
        self.grab_label.set_text(text, keep)

    def host_key_name(self) -> str:
        name = QKeySequence(self.keyboard.host_key).toString(
            QKeySequence.SequenceFormat.NativeText)
        sides = {"right": self.tr("Right {0}"), "left": self.tr("Left {0}"), "any": "{0}"}
        return sides[self.keyboard.host_key_side].format(name)

    # ------------------------------------------------------------------ keyboard
    @property
    def grabbed(self) -> bool:
        return self.keyboard.grabbed

    def set_keyboard_grab(self, grabbed: bool) -> None:
        self.keyboard.set_grabbed(grabbed and not self._closed)

    def send_combo(self, spec: str) -> None:
        for data in keys.combo(spec):
            self.host.send(ev.KeyScancodes(data))

    def type_text(self, text: str) -> str:
        """Type ``text`` into the guest (US layout); returns the characters skipped
        because no key types them."""
        text = text.replace("\r\n", "\n")
        skipped = "".join(dict.fromkeys(c for c in text if c not in keys.CHARS))
        for data in keys.text("".join(c for c in text if c in keys.CHARS)):
            self.host.send(ev.KeyScancodes(data))
        return skipped

    def _on_type_clipboard(self) -> None:
        skipped = self.type_text(QGuiApplication.clipboard().text())
        if not skipped:
            return
        message = self.tr("These characters cannot be typed on a US keyboard and were "
                          "left out: {0}").format(" ".join(repr(c) for c in skipped))
        if self.confirm:
            QMessageBox.warning(self, self.tr("Type clipboard text"), message)
        else:
            self.statusBar().showMessage(message, 5000)

    # ------------------------------------------------------------------ machine
    def _on_pause_toggled(self, checked: bool) -> None:
        self.host.send(ev.Pause() if checked else ev.Resume())

    def reset(self) -> None:
        if self._ask(self.tr("Reset the virtual machine? Unsaved work in the guest is lost.")):
            self.host.send(ev.Reset())

    def _warn(self, message: str) -> None:
        log.warning("%s: %s", self.title, message)
        if self.confirm:
            QMessageBox.warning(self, self.title, message)

    def _ask(self, question: str) -> bool:
        if not self.confirm:
            return True
        answer = QMessageBox.question(self, self.title, question,
                                      QMessageBox.StandardButton.Yes
                                      | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def take_screenshot(self) -> Path:
        """Save the screen as PNG at native resolution (and copy it to the clipboard);
        :class:`NoScreenYet` while the VM is starting."""
        state = self.host.display()
        width, height, rgb = render(state, font_for(state))
        self.screenshots_dir.mkdir(parents=True, exist_ok=True)
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in self.title) or "vm"
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.screenshots_dir / f"{stem}-{stamp}.png"
        n = 1
        while path.exists():
            n += 1
            path = self.screenshots_dir / f"{stem}-{stamp}-{n}.png"
        save_png(path, width, height, rgb)
        image = QImage(rgb, width, height, width * 3, QImage.Format.Format_RGB888).copy()
        QGuiApplication.clipboard().setImage(image)
        log.info("screenshot saved to %s", path)
        return path

    def _on_screenshot(self) -> None:
        try:
            path = self.take_screenshot()
        except NoScreenYet:
            self.statusBar().showMessage(self.tr("No screenshot: the VM is still starting"),
                                         5000)
            return
        except OSError as exc:
            QMessageBox.warning(self, self.tr("Take screenshot"),
                                self.tr("Could not save the screenshot: {0}").format(exc))
            return
        self.statusBar().showMessage(self.tr("Screenshot saved to {0}").format(path), 5000)

    def show_log(self) -> LogDialog:
        if self._log_dialog is None:
            self._log_dialog = LogDialog(self.log_handler, self)
        self._log_dialog.reload()
        self._log_dialog.show()
        self._log_dialog.raise_()
        return self._log_dialog

    # ------------------------------------------------------------------ view
    def set_scale_mode(self, mode: ScaleMode) -> None:
        self.scale_actions[mode].setChecked(True)
        self.view.set_scale_mode(mode)

    def _on_integer(self, checked: bool) -> None:
        self.view.set_scale_mode(self.view.scale_mode, integer=checked)

    def _room_for_view(self) -> QSize:
        """The screen's free area less what the window puts around the view (frame,
        menu bar, status bar, docks): the largest view that keeps the window on screen."""
        screen = self.screen()
        if screen is None:
            return QSize()
        free = screen.availableGeometry().size()
        frame = self.frameGeometry().size() - self.geometry().size()
        if self.isVisible():
            around = self.size() - self.view.size()
        else:  # not laid out yet; no frame yet either: allow for a typical title bar
            bars = [bar for bar in (self.menuBar(), self.statusBar()) if not bar.isHidden()]
            around = QSize(0, sum(bar.sizeHint().height() for bar in bars))
            frame = frame.expandedTo(QSize(0, WINDOW_TITLE_ALLOWANCE))
        return QSize(max(MIN_FIT_SIZE.width(), free.width() - frame.width() - around.width()),
                     max(MIN_FIT_SIZE.height(),
                         free.height() - frame.height() - around.height()))

    def _fit_window_to_view(self) -> None:
        self.layout().activate()  # apply the view's new minimum size now, not on next event
        if self.view.scale_mode is not ScaleMode.FIT and not self.isFullScreen():
            self.adjustSize()
            self._keep_on_screen()

    def _keep_on_screen(self) -> None:
        """A window that grew (a mode change) past the screen's edge moves back in, as
        far as it fits; one the user put partly off screen on purpose stays if it is
        not larger than before."""
        screen = self.screen()
        if screen is None or not self.isVisible():
            return
        free = screen.availableGeometry()
        frame = self.frameGeometry()
        x = max(free.left(), min(frame.left(), free.right() + 1 - frame.width()))
        y = max(free.top(), min(frame.top(), free.bottom() + 1 - frame.height()))
        if (x, y) != (frame.left(), frame.top()):
            self.move(x, y)

    def toggle_full_screen(self) -> None:
        full = not self.isFullScreen()
        self.menuBar().setVisible(not full)
        self.statusBar().setVisible(not full)
        if full:
            self._saved_scale = self.view.scale_mode
            self.view.set_scale_mode(ScaleMode.FIT)
            self.showFullScreen()
        else:
            self.showNormal()
            self.set_scale_mode(self._saved_scale)
        self.full_screen_action.setChecked(full)

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if self._closed:
            event.accept()
            return
        if self.host.alive and self.saved_state is not None and self.confirm:
            choice = self._ask_close()
            if choice is None:
                event.ignore()
                return
            if choice == "save" and not self.save_state_and_power_off():
                event.ignore()
                return
        elif self.host.alive and not self._ask(self.tr("Power off the virtual machine?")):
            event.ignore()
            return
        self.shut_down()
        event.accept()

    def _ask_close(self) -> str | None:
        """VirtualBox's close question: save the machine state, power off, or cancel."""
        box = QMessageBox(QMessageBox.Icon.Question, self.tr("Close virtual machine"),
                          self.tr("Save the machine state (resume it exactly there next "
                                  "time), or power it off?"), parent=self)
        save = box.addButton(self.tr("&Save state"), QMessageBox.ButtonRole.AcceptRole)
        off = box.addButton(self.tr("&Power off"), QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(save)
        box.exec()
        clicked = box.clickedButton()
        return "save" if clicked is save else "off" if clicked is off else None

    def save_state_and_power_off(self, timeout: float = 15.0) -> bool:
        """Write the machine state to :attr:`saved_state`, then power off.  False (and a
        message) if saving failed: the machine keeps running and nothing is lost."""
        import time as _time

        path = str(self.saved_state)
        seen = len(self.host.state_files)
        self.host.send(ev.SaveState(path, power_off=True))  # nothing runs after the save
        deadline = _time.monotonic() + timeout
        while _time.monotonic() < deadline:
            for event in self.host.poll_events():
                self._on_event(event)
            # the host's record, not the events drained here: the timer's tick (run by
            # processEvents below) may drain the StateSaved first
            for result in self.host.state_files[seen:]:
                if isinstance(result, ev.StateSaved) and result.path == path:
                    if result.error is None:
                        self.shut_down()
                        return True
                    self._warn(self.tr("Could not save the machine state: {0}").format(
                        result.error))
                    return False
            QApplication.processEvents()
            _time.sleep(0.01)
        self._warn(self.tr("Saving the machine state did not finish in time."))
        return False

    def shut_down(self) -> None:
        """Power the VM off and stop polling (no questions)."""
        if self._closed:
            return
        self.set_keyboard_grab(False)
        self._closed = True
        self.timer.stop()
        self.devices.set_enabled(False)
        self.host.power_off()
        self.tick_events_only()
        logging.getLogger(LOGGER_NAME).removeHandler(self.log_handler)
        log.info("console of %s closed", self.title)
        self.powered_off.emit()

    def tick_events_only(self) -> None:
        for event in self.host.poll_events():
            self._on_event(event)
