"""
The console's widgets: the master header, the column header, the slave list
and its rows, the status line and the button bar.

Widgets read the :class:`~piw_monitor.model.Farm`; they never change it.
Rows render from the model when drawn, and only rows that changed (or that
are on screen when the clock ticks) are invalidated, so a burst of frames
costs a handful of redraws of the rows in view, not a re-layout of the list.
"""

from __future__ import annotations

import urwid

from ..sanitize import printable
from . import format as fmt

__all__ = [
    "View", "Layout", "SlaveRow", "SlaveList", "ColumnHeader",
    "MasterHeader", "StatusLine", "ButtonBar", "BUTTONS", "STATE_MARKER",
]

#: The marker drawn in a row's first column, coloured by state.
STATE_MARKER = "\N{BLACK CIRCLE}"

#: The buttons at the bottom: (label before the hotkey, hotkey, label after
#: it, command name).
BUTTONS = (
    ("", "P", "ause", "pause"),
    ("", "R", "esume", "resume"),
    ("", "K", "ill slave", "kill"),
    ("", "T", "erminate master", "terminate"),
    ("", "Q", "uit", "quit"),
)


class View:
    """
    What every widget needs to draw besides the model: the current time, the
    master's state, and which rows were drawn since the last tick.
    """

    def __init__(self, farm, now):
        self.farm = farm
        self.now = now
        #: the rows are a stale picture (the master went quiet or away)
        self.stale = False
        #: rows drawn since the last tick: those on screen
        self.drawn = set()


class Layout:
    """Column widths of the slave list for one screen width."""

    ID = 5
    ABI = 6
    TIME = 9
    GAP = 1

    def __init__(self, width):
        self.width = width
        fixed = 2 + self.ID + self.ABI + 2 * self.TIME + 5 * self.GAP
        self.label = max(8, min(24, (width - fixed) // 4))
        self.task = max(width - fixed - self.label, 0)

    def cells(self, marker, sid, label, abi, up, task_time, task):
        """The text of one row, cut and padded into its columns."""
        gap = " " * self.GAP
        return (
            marker + gap
            + fmt.fit(sid, self.ID, "right") + gap
            + fmt.fit(label, self.label) + gap
            + fmt.fit(abi, self.ABI) + gap
            + fmt.fit(up, self.TIME, "right") + gap
            + fmt.fit(task_time, self.TIME, "right") + gap
        ), fmt.fit(task, self.task)

    _cache = {}

    @classmethod
    def for_width(cls, width):
        """The (cached) layout for *width* columns."""
        try:
            return cls._cache[width]
        except KeyError:
            layout = cls._cache[width] = cls(width)
            return layout


def _task_words(slave, state, now):
    text = slave.task_text()
    if state == "late":
        return f"{text} (quiet for {fmt.ago(slave.silence(now))})"
    if state == "silent":
        return (f"Silent for {fmt.ago(slave.silence(now))}; "
                f"last: {text}")
    return text


class SlaveRow(urwid.Widget):
    """One row of the slave list; it draws itself from its slave's record."""

    _sizing = frozenset([urwid.Sizing.FLOW])
    _selectable = True
    ignore_focus = False

    def __init__(self, slave, view):
        super().__init__()
        self.slave = slave
        self.view = view
        #: the row is the list's selection (drawn even without focus)
        self.selected = False

    def rows(self, size, focus=False):
        return 1

    def keypress(self, size, key):
        return key

    def mouse_event(self, size, event, button, col, row, focus):
        # the list has already selected the row on a left press
        return urwid.util.is_mouse_press(event) and button == 1

    def markup(self, width, focus=False):
        """The row's text and attributes at *width* columns."""
        view = self.view
        slave = self.slave
        now = view.now
        state = slave.state(now)
        layout = Layout.for_width(width)
        left, task = layout.cells(
            STATE_MARKER, str(slave.slave_id), slave.label or "?",
            slave.abi or "?", fmt.duration(slave.up_time(now)),
            fmt.duration(slave.task_time(now)),
            _task_words(slave, state, now))
        if focus:
            base = "focus"
        elif self.selected:
            base = "selected"
        elif view.stale:
            base = "stale"
        else:
            base = None
        marker_attr = "stale" if view.stale else f"state-{state}"
        if focus or self.selected:
            marker_attr = base
        text_attr = base
        if base is None and state in ("late", "silent", "terminating"):
            text_attr = f"text-{state}"
        return [(marker_attr, left[:1]), (base, left[1:]), (text_attr, task)]

    def render(self, size, focus=False):
        (maxcol,) = size
        self.view.drawn.add(self)
        text = urwid.Text(self.markup(maxcol, focus), wrap="clip")
        return text.render((maxcol,))


class ColumnHeader(urwid.Widget):
    """The titles above the slave list's columns."""

    _sizing = frozenset([urwid.Sizing.FLOW])

    def rows(self, size, focus=False):
        return 1

    def render(self, size, focus=False):
        (maxcol,) = size
        layout = Layout.for_width(maxcol)
        left, task = layout.cells(
            "S", "#", "Label", "ABI", "Up time", "Task time", "Task")
        return urwid.Text(
            ("colhead", left + task), wrap="clip").render((maxcol,))


class SlaveList(urwid.WidgetWrap):
    """
    The slave list: a :class:`urwid.ListBox` of :class:`SlaveRow`, in the
    model's row order, keeping the selection on a sensible row as rows come
    and go.
    """

    def __init__(self, farm, view):
        self.farm = farm
        self.view = view
        self._rows = {}
        self._walker = urwid.SimpleFocusListWalker([])
        self._listbox = urwid.ListBox(self._walker)
        self._empty = urwid.Filler(urwid.Text(
            ("dim", "No build slaves known yet."), align="center"), "top")
        self._height = 10
        urwid.connect_signal(self._walker, "modified", self._focus_moved)
        self._selected = None
        super().__init__(self._empty)

    # --------------------------------------------------------------- queries

    @property
    def selected(self):
        """The selected slave, or None when the list is empty."""
        if not self._walker:
            return None
        return self._walker.get_focus()[0].slave

    @property
    def row_widgets(self):
        """The row widgets in display order."""
        return list(self._walker)

    def selectable(self):
        return bool(self._walker)

    # --------------------------------------------------------------- updates

    def sync(self, changes):
        """Bring the list up to date with the model's *changes*."""
        if changes.order:
            self._rebuild()
        rows = self._rows
        for sid in changes.slaves:
            row = rows.get(sid)
            if row is not None:
                row._invalidate()

    def tick(self):
        """The clock moved: redraw the rows on screen (their timers)."""
        drawn, self.view.drawn = self.view.drawn, set()
        for row in drawn:
            row._invalidate()

    def invalidate_all(self):
        """Redraw every row (the master's state changed their look)."""
        for row in self._walker:
            row._invalidate()

    def _rebuild(self):
        old = self._selected
        old_index = self._walker.focus if self._walker else 0
        farm_rows = self.farm.rows()
        rows = {}
        widgets = []
        for slave in farm_rows:
            row = self._rows.get(slave.slave_id)
            if row is None or row.slave is not slave:
                row = SlaveRow(slave, self.view)
            rows[slave.slave_id] = row
            widgets.append(row)
        self._rows = rows
        self._walker[:] = widgets
        if widgets:
            index = None
            if old is not None and old.slave.slave_id in rows:
                index = widgets.index(rows[old.slave.slave_id])
            if index is None:
                index = min(old_index or 0, len(widgets) - 1)
            self._walker.set_focus(index)
            self._w = self._listbox
        else:
            self._w = self._empty
        self._focus_moved()

    def _focus_moved(self):
        new = self._walker.get_focus()[0] if self._walker else None
        old = self._selected
        if old is new:
            return
        if old is not None:
            old.selected = False
            old._invalidate()
        if new is not None:
            new.selected = True
            new._invalidate()
        self._selected = new

    # --------------------------------------------------------------- moving

    def move(self, delta):
        """Move the selection *delta* rows."""
        if self._walker:
            index = self._walker.focus + delta
            self.move_to(max(0, min(index, len(self._walker) - 1)))

    def move_page(self, direction):
        """Move the selection a page up (-1) or down (1)."""
        self.move(direction * max(self._height - 1, 1))

    def move_to(self, index):
        """Select row *index* (negative counts from the end)."""
        if self._walker:
            if index < 0:
                index += len(self._walker)
            index = max(0, min(index, len(self._walker) - 1))
            self._walker.set_focus(index)
            self._invalidate()

    def select_slave(self, slave_id):
        """Select the row of *slave_id*, if it is listed."""
        row = self._rows.get(slave_id)
        if row is not None:
            self.move_to(self._walker.index(row))

    def render(self, size, focus=False):
        if len(size) == 2:
            self._height = size[1]
        return super().render(size, focus)


class MasterHeader(urwid.WidgetWrap):
    """The top lines: the master's state, its statistics and the counts."""

    def __init__(self, farm, view, status_queue):
        self.farm = farm
        self.view = view
        self.status_queue = status_queue
        self._line1 = urwid.Text("", wrap="ellipsis")
        self._line2 = urwid.Text("", wrap="ellipsis")
        super().__init__(urwid.AttrMap(
            urwid.Pile([self._line1, self._line2]), "header"))
        self.update()

    def master_line(self):
        """The first line: who and how the master is."""
        farm = self.farm
        m = farm.master
        now = self.view.now
        state = m.state(now)
        label = printable(m.label, 40) if m.label else "?"
        if state == "waiting":
            return ("header-warn",
                    f"Waiting for the master at "
                    f"{printable(self.status_queue, 120)}")
        if state in ("silent", "lost"):
            since = fmt.clock(m.last_seen or m.lost_at)
            why = "connection lost" if state == "lost" else "no word"
            return ("header-bad",
                    f"Master {label} silent since {since} ({why}); "
                    "showing the last known state")
        word = "paused" if state == "paused" else "running"
        parts = [f"Master {label}", word]
        if m.started is not None:
            parts.append(f"up {fmt.duration(fmt.since(now, m.started))}")
        if m.last_seen is not None:
            parts.append(f"last word {fmt.ago(fmt.since(now, m.last_seen))} ago")
        attr = "header-warn" if state == "paused" else "header"
        return (attr, " \N{BOX DRAWINGS LIGHT VERTICAL} ".join(parts))

    def stats_line(self):
        """The second line: builds, disk, slave counts and bad frames."""
        farm = self.farm
        stats = farm.master.stats
        parts = []
        if stats is not None:
            parts.append(
                f"Builds/h {sum(stats.builds_last_hour.values())}")
            parts.append(f"Pending {sum(stats.builds_pending.values())}")
            parts.append(f"Disk free {fmt.size(stats.disk_free)}")
        counts = farm.counts(self.view.now)
        total = sum(counts.values())
        detail = ", ".join(
            f"{n} {state}" for state, n in counts.items() if n)
        parts.append(f"Slaves {total}" + (f": {detail}" if detail else ""))
        markup = [("header", " \N{MIDDLE DOT} ".join(parts))]
        if farm.bad_frames:
            markup.append(("header-bad",
                           f"  {farm.bad_frames} bad frames (latest: "
                           f"{printable(farm.last_bad_reason, 60)})"))
        return markup

    def update(self):
        """Recompute both lines from the model and the clock."""
        self._line1.set_text(self.master_line())
        self._line2.set_text(self.stats_line())


class StatusLine(urwid.WidgetWrap):
    """One line of feedback: what was sent, or why nothing was."""

    HINT = "h: help  Tab: list/buttons  p r k t q: actions"

    def __init__(self):
        self._text = urwid.Text(("status", self.HINT), wrap="ellipsis")
        super().__init__(urwid.AttrMap(self._text, "status"))

    @property
    def text(self):
        """The message shown."""
        return self._text.text

    def show(self, text, error=False):
        """Show *text*, as an error when *error*."""
        self._text.set_text(
            ("status-error" if error else "status", printable(text, 300)))


class ButtonBar(urwid.WidgetWrap):
    """
    The buttons of the spec's actions, each with its hotkey highlighted.
    When the full labels do not fit the width, shorter ones are drawn.
    """

    def __init__(self, on_press, read_only=False):
        self.buttons = {}
        self.read_only = read_only
        self._full = self._row(on_press, short=False)
        self._short = self._row(on_press, short=True)
        self._full_width = self._width(short=False)
        super().__init__(self._full)

    @staticmethod
    def _width(short):
        return sum(len(SHORT.get(c, b + h + a) if short else b + h + a) + 5
                   for b, h, a, c in BUTTONS) - 1

    def _row(self, on_press, short):
        cells = []
        for before, hot, after, command in BUTTONS:
            text = before + hot + after
            if short and command in SHORT:
                text = SHORT[command]
                label = [("hotkey", text[0]), text[1:]]
            else:
                label = [before, ("hotkey", hot), after]
            button = urwid.Button(label, on_press, user_data=command)
            if not short:
                self.buttons[command] = button
            disabled = self.read_only and command != "quit"
            cells.append((len(text) + 4, urwid.AttrMap(
                button, "button-disabled" if disabled else "button",
                focus_map={None: "button-focus", "hotkey": "hotkey-focus",
                           "button": "button-focus"})))
        return urwid.AttrMap(urwid.Columns(cells, dividechars=1), "footer")

    @property
    def _columns(self):
        return self._w.original_widget

    def _pick(self, size):
        want = self._full if size[0] >= self._full_width else self._short
        if want is not self._w:
            position = self._columns.focus_position
            self._w = want
            self._columns.focus_position = position

    def render(self, size, focus=False):
        self._pick(size)
        return super().render(size, focus)

    def keypress(self, size, key):
        self._pick(size)
        return super().keypress(size, key)

    def mouse_event(self, size, event, button, col, row, focus):
        self._pick(size)
        return super().mouse_event(size, event, button, col, row, focus)

    def focus_first(self):
        """Put the focus on the first button."""
        self._columns.focus_position = 0

    def move(self, delta):
        """Move the focus *delta* buttons, stopping at either end."""
        position = self._columns.focus_position + delta
        self._columns.focus_position = max(0, min(position, len(BUTTONS) - 1))

    def focus_last(self):
        """Put the focus on the last button."""
        self._columns.focus_position = len(BUTTONS) - 1

    @property
    def focused_command(self):
        """The command of the focused button."""
        return BUTTONS[self._columns.focus_position][3]


#: Shorter button labels for narrow terminals (the hotkey stays first).
SHORT = {"kill": "Kill", "terminate": "Term"}
