"""
The console: the root widget that lays out the header, the slave list, the
status line and the button bar, dispatches keys through the key table, and
opens the confirmation dialogs.

It reads the :class:`~piw_monitor.model.Farm` and calls
:class:`~piw_monitor.actions.Actions`; it changes neither the model nor the
sockets itself. The main loop (:mod:`piw_monitor.app`) tells it when the
model changed (:meth:`Console.refresh`).
"""

from __future__ import annotations

import urwid

from ..actions import slave_name
from . import commands
from .dialogs import ConfirmDialog
from .help import HelpDialog
from .keys import lookup
from .widgets import (
    ButtonBar, ColumnHeader, MasterHeader, SlaveList, StatusLine, View,
)

__all__ = ["Console", "MIN_COLS", "MIN_ROWS"]

#: Below this size the console shows a notice instead of its layout.
MIN_COLS = 50
MIN_ROWS = 8


class Console(urwid.WidgetWrap):
    """
    The whole screen. *farm* is the model, *actions* the
    :class:`~piw_monitor.actions.Actions` to call, *clock* a callable
    returning the current aware datetime, *on_quit* is called (with an
    optional message to print after exit) when the monitor should end, and
    *on_sent* after any control message was sent.
    """

    def __init__(self, farm, actions, *, status_queue, clock, on_quit,
                 on_sent=None):
        self.farm = farm
        self.actions = actions
        self.clock = clock
        self.on_quit = on_quit
        self.on_sent = on_sent
        self.view = View(farm, clock())
        self.header = MasterHeader(farm, self.view, status_queue)
        self.slave_list = SlaveList(farm, self.view)
        self.status = StatusLine()
        self.buttons = ButtonBar(self._button_pressed,
                                 read_only=actions.read_only)
        self.frame = urwid.Frame(
            body=self.slave_list,
            header=urwid.Pile([self.header, ColumnHeader()]),
            footer=urwid.Pile([self.status, self.buttons]),
            focus_part="body",
        )
        self.dialog = None
        self._was_connected = False
        self._links_lost = 0
        if actions.read_only:
            self.status.show(
                "Read-only: watching only; no command can be sent. "
                "h: help  q: quit")
        self._too_small = urwid.Filler(urwid.Text(
            "Terminal too small for piw-monitor", align="center"))
        super().__init__(self.frame)
        self.refresh(self.view.now)

    # ------------------------------------------------------------ model

    def refresh(self, now, tick=False):
        """
        Bring the screen up to date with the model at time *now*; with
        *tick*, also redraw the timers of the rows on screen.
        """
        view = self.view
        view.now = now
        changes = self.farm.take_changes()
        if changes.master:
            self._note_connection()
        self.slave_list.sync(changes)
        stale = self.farm.master.state(now) in ("silent", "lost")
        if stale != view.stale:
            view.stale = stale
            self.slave_list.invalidate_all()
        if tick:
            self.slave_list.tick()
        if tick or changes:
            self.header.update()

    def _note_connection(self):
        """Say on the status line when the master comes and goes."""
        master = self.farm.master
        if master.connected == self._was_connected:
            return
        self._was_connected = master.connected
        if master.connected:
            where = self.header.status_queue
            if self._links_lost:
                self.status.show(
                    f"The master at {where} is back: its replay replaces "
                    "the stale picture.")
            else:
                self.status.show(f"Connected to the master at {where}." + (
                    " Read-only: no command can be sent."
                    if self.actions.read_only else ""))
        else:
            self._links_lost += 1
            self.status.show(
                "Lost the connection to the master; reconnecting by itself. "
                "Commands cannot be sent meanwhile.", error=True)

    # ------------------------------------------------------------ focus

    @property
    def focus_area(self):
        """'list' or 'buttons': where the keyboard focus is."""
        return "list" if self.frame.focus_position == "body" else "buttons"

    def cycle_focus(self, direction):
        """Move the focus between the slave list and the buttons."""
        if self.frame.focus_position == "body":
            self.frame.focus_position = "footer"
            if direction < 0:
                self.buttons.focus_last()
            else:
                self.buttons.focus_first()
        else:
            self.frame.focus_position = "body"

    # ------------------------------------------------------------ actions

    def act(self, outcome):
        """Report an action's *outcome* on the status line."""
        self.status.show(outcome.text, error=not outcome.sent)
        if outcome.sent and self.on_sent is not None:
            self.on_sent()
        return outcome

    def _button_pressed(self, _button, command):
        commands.run(command, self)

    def open_dialog(self, dialog, height="pack"):
        """Show *dialog* over the screen; it takes the keys until answered."""
        self.dialog = dialog
        self._w = urwid.Overlay(
            dialog, self.frame,
            align="center", width=("relative", 80),
            valign="middle", height=height,
            min_width=24, min_height=3)

    def close_dialog(self):
        """Remove the dialog."""
        self.dialog = None
        self._w = self.frame

    def answer_dialog(self, yes):
        """Answer the open dialog, as its Yes or No button would."""
        if self.dialog is not None:
            self.dialog.on_answer(yes)

    def confirm_kill(self):
        """Ask before killing the selected slave."""
        slave = self.slave_list.selected
        if slave is None:
            self.status.show(
                "Kill slave: no slave selected; nothing sent.", error=True)
            return
        name = slave_name(slave)

        def answer(yes):
            self.close_dialog()
            if yes:
                self.act(self.actions.kill(slave))
            else:
                self.status.show(f"Kill slave: cancelled; nothing sent to {name}.")

        self.open_dialog(ConfirmDialog(
            "Kill slave",
            f"Kill {name}?\n\n"
            "The master tells it to terminate the next time it asks for "
            "work. A build in progress is not interrupted: the slave "
            "finishes it first.",
            answer))

    def confirm_terminate(self):
        """Ask before telling the master to shut down."""
        def answer(yes):
            self.close_dialog()
            if not yes:
                self.status.show("Terminate master: cancelled; nothing sent.")
                return
            outcome = self.act(self.actions.terminate())
            if outcome.sent:
                self.quit(outcome.text)

        self.open_dialog(ConfirmDialog(
            "Terminate master",
            "Tell the master to shut itself down?\n\n"
            "Its build slaves are not stopped. The monitor exits once the "
            "command is sent.",
            answer))

    def show_help(self):
        """Open the help screen."""
        self.open_dialog(HelpDialog(lambda _yes: self.close_dialog()),
                         height=("relative", 90))

    def quit(self, message=None):
        """End the monitor; the master is left alone."""
        self.on_quit(message)

    # ------------------------------------------------------------ urwid

    def keypress(self, size, key):
        if self.dialog is not None:
            key = self._w.keypress(size, key)
            if key is not None:
                binding = lookup(key, "dialog")
                if binding is not None:
                    commands.run(binding.command, self)
            return None
        binding = lookup(key, "global")
        if binding is None:
            binding = lookup(key, self.focus_area)
        if binding is not None:
            commands.run(binding.command, self)
            return None
        return self._w.keypress(size, key)

    def _small(self, size):
        return len(size) == 2 and (size[0] < MIN_COLS or size[1] < MIN_ROWS)

    def render(self, size, focus=False):
        if self._small(size):
            return self._too_small.render(size, focus)
        return super().render(size, focus)

    def mouse_event(self, size, event, button, col, row, focus):
        if self._small(size):
            return False
        return super().mouse_event(size, event, button, col, row, focus)
