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

from ..actions import NAMES, Question, slave_name
from ..sanitize import printable
from . import commands, measure
from .details import DetailsPane
from .dialogs import ConfirmDialog
from .help import HelpDialog
from .keys import lookup
from .menus import (
    SLAVE_METHODS, ActionMenu, LogView, farm_actions, slave_actions,
)
from .widgets import (
    COLUMN_NAMES, COLUMNS, DESCENDING_FIRST, ORDER_WORDS, ButtonBar,
    ColumnHeader, Layout, MasterHeader, Responsive, SlaveList, StatusLine,
    View,
)

__all__ = ["Console", "MIN_COLS", "MIN_ROWS"]

#: Below this size the console shows a notice instead of its layout.
MIN_COLS = 50
MIN_ROWS = 8

#: From this width on, the details pane goes beside the list, not below.
WIDE = 120

#: Rows of the details pane when it is below the list.
DETAILS_ROWS = 12


class ListAndDetails(Responsive):
    """The list with the details pane beside it (wide screens) or below."""

    def __init__(self, list_pane, details, list_rows=None):
        # list_rows(cols, limit): the lines the list needs, its titles
        # included, or limit when it needs as many or more
        self._list_rows = list_rows
        self._beside = urwid.Columns(
            [("weight", 3, list_pane), ("weight", 2, details)],
            dividechars=1, focus_column=0)
        self._below = urwid.Pile(
            [("weight", 1, list_pane), (DETAILS_ROWS, details)], focus_item=0)
        super().__init__(self._beside)

    def pick(self, size):
        if size[0] >= WIDE:
            return self._beside
        if len(size) == 2:
            # leave the list its titles and a few rows on a short terminal,
            # and the pane at least one line inside its frame; on a tall
            # one, the pane takes up to half the body
            rows = max(3, min(max(DETAILS_ROWS, size[1] // 2 - 2),
                              size[1] - 4))
            if self._list_rows is not None:
                # a short list (a small farm, a filter) leaves the pane
                # the lines it does not need
                rows = max(rows, min(
                    size[1] - self._list_rows(size[0], size[1]),
                    size[1] - 4))
            widget, options = self._below.contents[1]
            if options != self._below.options("given", rows):
                self._below.contents[1] = (
                    widget, self._below.options("given", rows))
        return self._below


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
        self.header.slave_list = self.slave_list
        self.column_header = ColumnHeader(on_click=self.sort_by,
                                          view=self.view)
        self.list_pane = urwid.Frame(self.slave_list,
                                     header=self.column_header)
        self.details = DetailsPane(farm, self.view, self.slave_list)
        self.log_view = LogView(farm)
        self.show_details = False
        self.show_log = False
        self.filtering = False
        self.filter_edit = urwid.Edit(("filter", "Filter: "),
                                      layout=measure.LAYOUT)
        self.status = StatusLine()
        self.buttons = ButtonBar(self._button_pressed,
                                 read_only=actions.read_only)
        self.footer = urwid.Pile([self.status, self.buttons])
        self.frame = urwid.Frame(
            body=self.list_pane,
            header=self.header,
            footer=self.footer,
            focus_part="body",
        )
        self.dialog = None
        self._was_connected = False
        self._links_lost = 0
        self._trouble = ""
        self._tunnel = None
        self._problem_shown = None
        if actions.read_only:
            self.status.show(
                "Read-only: watching only; no command can be sent. "
                "h: help  q: quit")
        self._too_small_text = urwid.Text("", align="center")
        self._too_small = urwid.Filler(self._too_small_text)
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
        if self.slave_list.sync(changes):
            self.column_header._invalidate()
        self.log_view.collect(changes)
        if changes.left:
            self._note_left(changes.left)
        stale = self.farm.master.state(now) in ("silent", "lost")
        if stale != view.stale:
            view.stale = stale
            self.slave_list.invalidate_all()
        if tick:
            self.slave_list.tick()
        if tick or changes:
            self.header.update()
            if not tick:
                # the header's up time is the master's at *now*: its row in
                # the list says the same, not what it said at the last tick
                self.slave_list.master_row._invalidate()
        if self.show_details:
            self.details.update()
        if self.show_log:
            self.log_view.update()

    def _note_left(self, slaves):
        """Say on the status line which slaves left the list, and why."""
        if len(slaves) > 1:
            names = ", ".join(slave_name(s) for s in slaves[:3])
            more = f" and {len(slaves) - 3} more" if len(slaves) > 3 else ""
            self.status.show(f"Left the list, terminated: {names}{more}.")
            return
        slave = slaves[0]
        why = ("the master gave up on it after its silence"
               if slave.expired else "it terminated")
        name = slave_name(slave)
        self.status.show(f"{name[:1].upper()}{name[1:]} has left the list: "
                         f"{why}.")

    def _note_connection(self):
        """
        Say on the status line when the master comes and goes, and why it
        cannot be reached: an SSH tunnel down (in ssh's own words), or the
        cause the link found (no socket file, permission denied, ...).
        """
        self._note_link()
        master = self.farm.master
        if master.trouble != self._trouble:
            self._trouble = master.trouble
            if master.trouble:
                # more precise than "lost the connection": it wins
                retry = master.trouble_retry
                self.status.show(master.trouble + (
                    f"; trying again in {retry:.0f} s" if retry else "."),
                    error=True)
        if master.tunnel != self._tunnel:
            self._tunnel = master.tunnel
            if master.tunnel == "up" and not master.connected:
                self.status.show(
                    f"SSH tunnel up; waiting for the master at "
                    f"{self.header.status_queue}.")
        problem = master.problem
        if problem is self._problem_shown or master.connected \
                or master.trouble:
            # the tunnel's reason, when there is one, stays on the line
            self._problem_shown = problem
            return
        self._problem_shown = problem
        if problem is not None:
            self.status.show(
                f"Cannot reach the master: {problem.describe()}", error=True)
        elif not master.trouble:
            self.status.show(
                "The cause found before is gone; waiting for the master at "
                f"{self.header.status_queue}.")

    def _note_link(self):
        master = self.farm.master
        if master.connected == self._was_connected:
            return
        self._was_connected = master.connected
        if master.connected:
            where = self.header.status_queue
            if master.replay_in:
                # the most useful words first: the line is cut at its end
                self.status.show(
                    f"Connected; replay asked for in {master.replay_in:.0f} "
                    f"s, as the last ones broke the connection ({where}).",
                    error=True)
            elif self._links_lost:
                self.status.show(
                    f"The master at {where} is back: its replay replaces "
                    "the stale picture.")
            else:
                # short enough that the hint at h survives 80 columns
                self.status.show(
                    ("Read-only: connected" if self.actions.read_only
                     else "Connected") + f" to the master at {where}."
                    "  h: help")
        else:
            self._links_lost += 1
            if master.broken_replays:
                self.status.show(
                    f"{master.broken_replays} replays in a row broke the "
                    f"connection: a frame over --max-frame-size? "
                    f"Reconnecting by itself.", error=True)
                return
            self.status.show(
                "Lost the connection to the master; reconnecting by itself. "
                "Commands cannot be sent meanwhile.", error=True)

    # ------------------------------------------------------------ focus

    @property
    def focus_area(self):
        """
        Where the keyboard focus is: 'list', 'log' (the event log replaces
        the list), 'filter' (typing a filter) or 'buttons'.
        """
        if self.filtering:
            return "filter"
        if self.frame.focus_position == "body":
            return "log" if self.show_log else "list"
        return "buttons"

    # ------------------------------------------------------------ views

    def _layout_body(self):
        if self.show_log:
            body = self.log_view
        elif self.show_details:
            body = ListAndDetails(
                self.list_pane, self.details,
                lambda cols, limit: self.column_header.rows((cols,))
                + self.slave_list.lines_needed(cols, limit))
        else:
            body = self.list_pane
        self.frame.body = body

    def toggle_details(self):
        """
        Show or hide the details pane (from the event log: close the log
        and show the pane). It opens at the top of the selected row's
        details.
        """
        self.show_details = self.show_log or not self.show_details
        self.show_log = False
        if self.show_details:
            self.details.to_top()
        self.details.update()
        self._layout_body()

    #: what the status line says when the details pane cannot move up,
    #: and down
    SCROLL_ENDS = ("The details pane shows its first lines.",
                   "The details pane shows its last lines.")

    def scroll_details(self, pages):
        """
        Scroll the details pane by *pages* (down when positive); the
        status line says why nothing moved.
        """
        if self.show_log:
            self.status.show("The event log is open: l closes it, d shows "
                             "the details.")
        elif not self.show_details:
            self.status.show("The details pane is not open: d opens it.")
        else:
            moved = self.details.scroll(pages)
            if moved:
                # what was said when it could not move is no longer true
                if self.status.text in self.SCROLL_ENDS:
                    self.status.show(StatusLine.HINT)
            elif moved is not None:   # (None: not drawn yet)
                self.status.show(self.SCROLL_ENDS[pages > 0])

    def back(self):
        """
        Go back one step from what is on screen (Esc in the list or the
        event log): close the event log; else clear the filter if there is
        one; else close the details pane.
        """
        if self.show_log:
            self.toggle_log()
        elif self.slave_list.filter_text:
            self.end_filter(clear=True)
        elif self.show_details:
            self.toggle_details()

    def toggle_log(self):
        """Show or hide the event log (in place of the list)."""
        self.show_log = not self.show_log
        self.log_view.update()
        self._layout_body()
        self.frame.focus_position = "body"

    def sort_by(self, column, reverse=None):
        """
        Sort the list by *column* (one of :data:`~.widgets.COLUMNS`),
        descending when *reverse*. With *reverse* None: the column's usual
        order (:data:`~.widgets.DESCENDING_FIRST`), or, for the column
        already sorted by (a second click on its title), the other one.
        """
        listed = self.slave_list
        if reverse is None:
            if column == listed.sort_column:
                reverse = not listed.reverse
            else:
                reverse = column in DESCENDING_FIRST
        listed.set_sort(column, reverse)
        self.column_header.set_sort(column, reverse)
        words = ORDER_WORDS[column][1 if reverse else 0]
        self.status.show(f"Sorted by {COLUMN_NAMES[column]}, {words}. "
                         "S or a click on the title reverses; s: next column.")

    def sort_next(self):
        """
        Sort by the next column shown (a resource column the width leaves
        out is skipped), in the order of :data:`~.widgets.COLUMNS`: the
        columns of the spec's list first, left to right, then the resource
        columns; each in its usual order.
        """
        width = self.column_header.width
        shown = {name for name, _width in Layout.for_width(
            width, self.column_header.label_drawn).columns()} \
            if width else None
        names = [name for name, _title in COLUMNS
                 if shown is None or name in shown]
        current = self.slave_list.sort_column
        order = [name for name, _title in COLUMNS]
        # the next shown column after the current one, in the full order
        start = order.index(current)
        column = next((order[(start + i) % len(order)]
                       for i in range(1, len(order) + 1)
                       if order[(start + i) % len(order)] in names), current)
        self.sort_by(column, column in DESCENDING_FIRST)

    def start_filter(self):
        """Start typing a filter at the bottom of the screen."""
        self.filtering = True
        self.filter_edit.set_edit_text(self.slave_list.filter_text)
        self.filter_edit.set_edit_pos(len(self.slave_list.filter_text))
        self.footer.contents[0] = (self.filter_edit, ("pack", None))
        self.footer.focus_position = 0
        self.frame.focus_position = "footer"

    def end_filter(self, clear=False):
        """Stop typing the filter; with *clear*, show every slave again."""
        had_filter = bool(self.slave_list.filter_text)
        if clear:
            self.slave_list.set_filter("")
        if self.filtering:
            self.filtering = False
            self.footer.contents[0] = (self.status, ("pack", None))
            self.footer.focus_position = 1
            self.frame.focus_position = "body"
        text = self.slave_list.filter_text
        if text:
            self.status.show(
                f"Showing {self.slave_list.shown} of {self.slave_list.total} "
                f"slaves matching '{text}'; Esc clears.")
        elif clear and had_filter:
            self.status.show("Filter cleared: every slave is shown.")

    def _type_filter(self, size, key):
        self.filter_edit.keypress((max(size[0], 10),), key)
        self.slave_list.set_filter(self.filter_edit.edit_text)
        self.header.update()

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
        self._w = measure.MeasuredOverlay(
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

    def confirm_kill(self, question=None):
        """
        Ask before killing the selected slave, or the slave of *question*
        (a :class:`~piw_monitor.actions.Question` already asked, by the
        action menu). Yes sends only if that slave is still the same one on
        the same master run.
        """
        self.ask("kill", question)

    def confirm_terminate(self, question=None):
        """
        Ask before telling the master to shut down; Yes sends only to the
        master run the question was asked on (*question*, when the action
        menu asked it first).
        """
        self.ask("terminate", question)

    def _scope(self):
        """
        For a farm-wide question: which slaves it means when a filter hides
        some (all of them: the master knows nothing of the filter).
        """
        listed = self.slave_list
        if not listed.filter_text or listed.shown == listed.total:
            return ""
        return (f"\n\nThis means all {listed.total} slaves, not only the "
                f"{listed.shown} the filter '{printable(listed.filter_text, 20)}'"
                " shows.")

    def _question_text(self, method, question):
        """The words of the confirmation of the action *method*."""
        name = question.name
        farm = self.farm
        if method == "kill":
            return (f"Kill {name}?\n\nIt terminates the next time it asks "
                    "the master for work. A build in progress is not "
                    "interrupted: the slave finishes it first.")
        if method == "skip":
            return (f"Skip the current build of {name}?\n\nIt abandons the "
                    "build at its next contact with the master (the work "
                    "done on it is lost) and carries on with another.")
        if method == "skip_and_kill":
            return (f"Skip the current build of {name} and kill it?\n\nIt "
                    "abandons the build and terminates at its next contact "
                    "with the master.")
        if method == "skip_all":
            n = sum(1 for s in farm.rows() if s.task == "building")
            return (f"Skip the builds of all {n} building slave"
                    f"{'s' if n != 1 else ''}?\n\nEach abandons its current "
                    "build at its next contact with the master (the work "
                    "done on it is lost)." + self._scope())
        if method == "kill_all":
            n = len(farm.slaves)
            return (f"Kill all {n} slave{'s' if n != 1 else ''}?\n\nEach "
                    "terminates the next time it asks the master for work; "
                    "builds in progress are finished first." + self._scope())
        if method == "terminate":
            label = printable(farm.master.label, 40) if farm.master.label \
                else ""
            return ("Terminate the master" + (f" {label}" if label else "")
                    + "?\n\nIt shuts itself down; its build slaves are not "
                    "stopped. The monitor exits once the command is sent.")
        raise ValueError(f"no question for {method!r}")

    def _run(self, method):
        """The action *method* as a function of the slave asked about."""
        action = getattr(self.actions, method)
        if method == "skip_all":
            return lambda _slave: action(self.farm.rows())
        if method in SLAVE_METHODS:
            return action
        return lambda _slave: action()

    def ask(self, method, question=None):
        """
        Ask before the action *method* (one that ends, skips or stops
        something), naming what it acts on; No has the focus. *question* is
        the :class:`~piw_monitor.actions.Question` already asked (by the
        action menu), else it is asked now about the selected slave (for a
        slave's action) or the whole farm. Yes sends only if the slave and
        the master run are still the ones asked about.
        """
        label = NAMES[method]
        # what cannot be sent is said at once, before any question
        unable = self.actions.unable(label)
        if unable is not None:
            self.act(unable)
            return
        if question is None:
            slave = None
            if method in SLAVE_METHODS:
                slave = self.slave_list.selected
                if slave is None:
                    self.status.show(
                        f"{label}: no slave selected; nothing sent.",
                        error=True)
                    return
            question = Question.ask(self.farm, slave)
        run = self._run(method)
        if method == "skip_all" and not any(
                s.task == "building" for s in self.farm.rows()):
            # nothing to ask about: the action says so
            self.act(run(None))
            return
        name = question.name

        def answer(yes):
            self.close_dialog()
            if not yes:
                self.status.show(f"{label}: cancelled; nothing sent"
                                 + (f" to {name}." if name else "."))
                return
            outcome = self.act(self.actions.confirmed(
                question, self.farm, label, run))
            if outcome.sent and method == "terminate":
                self.quit(outcome.text)

        self.open_dialog(ConfirmDialog(
            label, self._question_text(method, question), answer))

    def show_help(self):
        """Open the help screen."""
        self.open_dialog(HelpDialog(lambda _yes: self.close_dialog()),
                         height=("relative", 90))

    def open_menu(self):
        """
        Open the actions for the selected row (the master's: farm-wide).
        The menu is the question: a choice acts only on the slave and the
        master run it was opened on.
        """
        slave = self.slave_list.selected
        if slave is None:
            title, entries = "The whole farm", farm_actions()
        else:
            name = slave_name(slave)
            title = name[:1].upper() + name[1:]
            entries = slave_actions(slave) + farm_actions()
        question = Question.ask(self.farm, slave)

        def choose(entry):
            self.close_dialog()
            if entry is not None:
                self._perform(entry, question)

        note = ("Read-only mode: nothing can be sent to the master."
                if self.actions.read_only else None)
        self.open_dialog(ActionMenu(title, entries, choose, note),
                         height=("relative", 90))

    def _perform(self, entry, question):
        label, _text, method, asks = entry
        if method not in SLAVE_METHODS:
            # a farm-wide entry does not depend on the menu's slave
            question = question.farm_wide()
        if self.actions.read_only:
            # no question first, the answer could only be "no" (an action
            # says read-only before it looks at the slave)
            self.act(self._run(method)(None))
            return
        # the farm may have moved on while the menu was open: refuse now
        # rather than ask about (or act on) another slave or run
        refusal = self.actions.refused(question, self.farm, label)
        if refusal is not None:
            self.act(refusal)
            return
        if asks:
            self.ask(method, question)
            return
        # Pause and Resume: the same command as the key and the button
        # (Resume says when it also cancels a pending Kill slave)
        commands.run(method, self)

    def quit(self, message=None):
        """End the monitor; the master is left alone."""
        self.on_quit(message)

    # ------------------------------------------------------------ urwid

    def keypress(self, size, key):
        if self._small(size):
            # nothing on screen says what a key would do to: only leaving
            # acts (a resize is the loop's business, not a key's)
            if key in ("q", "ctrl c"):
                commands.run("quit", self)
            return None
        if key == "ctrl c":
            # the terminal sends no SIGINT (Ctrl-C is the Quit key): it must
            # quit from a dialog, the help, a menu or the filter line too
            commands.run("quit", self)
            return None
        if self.dialog is not None:
            key = self._w.keypress(size, key)
            if key is not None:
                binding = lookup(key, "dialog")
                if binding is not None:
                    commands.run(binding.command, self)
            return None
        if self.filtering:
            binding = lookup(key, "filter")
            if binding is not None:
                commands.run(binding.command, self)
            else:
                self._type_filter(size, key)
            if self.show_details:
                # the filter may have moved the selection
                self.details.update()
            return None
        binding = lookup(key, "global")
        if binding is None:
            binding = lookup(key, self.focus_area)
        if binding is not None:
            commands.run(binding.command, self)
            key = None
        else:
            key = self._w.keypress(size, key)
        if self.show_details:
            self.details.update()
        return key

    def _small(self, size):
        return len(size) == 2 and (size[0] < MIN_COLS or size[1] < MIN_ROWS)

    def render(self, size, focus=False):
        if self._small(size):
            self._too_small_text.set_text(
                f"Terminal too small for piw-monitor: it needs at least "
                f"{MIN_COLS}x{MIN_ROWS}, this one is {size[0]}x{size[1]}. "
                "Enlarge it, or q to quit.")
            return self._too_small.render(size, focus)
        fit = getattr(self.dialog, "fit", None)
        if fit is not None:
            # the overlay is 80% of the width
            fit(max(size[0] * 8 // 10, 24), size[1])
        return super().render(size, focus)

    def mouse_event(self, size, event, button, col, row, focus):
        if self._small(size):
            return False
        handled = super().mouse_event(size, event, button, col, row, focus)
        if handled and self.show_details:
            self.details.update()
            if button in (4, 5) and self.status.text in self.SCROLL_ENDS:
                # the wheel moved the pane: no longer at an end
                self.status.show(StatusLine.HINT)
        return handled
