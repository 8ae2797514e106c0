"""
The console's widgets: the master header, the column header, the slave list
and its rows, the status line and the button bar.

Widgets read the :class:`~piw_monitor.model.Farm`; they never change it.
Rows render from the model when drawn, and only rows that changed (or that
are on screen when the clock ticks, and whose timers show another text)
are invalidated, so a burst of frames costs a handful of redraws of the
rows in view, not a re-layout of the list. A row whose timers alone moved
is not laid out again: its time cells are replaced in the line drawn last.
"""

from __future__ import annotations

import os
from collections import Counter

import urwid

from ..actions import NAMES
from ..model import STATES, Slave
from ..pressure import LEVELS, figures
from ..sanitize import printable
from . import format as fmt
from . import measure
from .symbols import SYM, UNICODE

__all__ = [
    "View", "Layout", "ListRow", "Responsive", "SlaveRow", "MasterRow",
    "EmptyRow", "SlaveList", "ColumnHeader", "MasterHeader", "FittedLine",
    "StatusLine",
    "ButtonBar", "BUTTONS", "COLUMNS", "COLUMN_NAMES", "ORDER_WORDS",
    "DESCENDING_FIRST", "STATE_MARKER", "sort_key", "column_at",
    "RESOURCE_COLUMNS", "RESOURCE_PRIORITY", "resource_texts",
]

#: The marker drawn in a row's first column, coloured by state (on a
#: terminal that is not UTF-8, its ASCII stand-in: see :mod:`.symbols`).
STATE_MARKER = UNICODE["marker"]

#: The buttons at the bottom: (label before the hotkey, hotkey, label after
#: it, command name).
#: The labels are the actions' names (:data:`~piw_monitor.actions.NAMES`).
BUTTONS = tuple(
    ("", NAMES[command][0], NAMES[command][1:], command)
    for command in ("pause", "resume", "kill", "terminate", "quit"))


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
        #: the widest label of the master and its slaves, in terminal cells
        #: (None: not measured; see :class:`Layout`)
        self.label_cells = None


#: The resource columns of the slave list: (name, title, width), in screen
#: order (between the task time and the task). Memory and swap used (%),
#: disk free (bytes), load average, CPU temperature (°C).
RESOURCE_COLUMNS = (
    ("mem", "Mem", 4), ("swap", "Swap", 5), ("disk", "Disk", 5),
    ("load", "Load", 5), ("temp", "Temp", 5),
)

#: The order in which the resource columns are given room as the list grows
#: wider; a narrower list drops them in the reverse order (load first,
#: memory last).
RESOURCE_PRIORITY = ("mem", "swap", "disk", "temp", "load")

#: The figure of each resource column: which of the slave's figures it
#: shows, and which resource's thresholds colour it.
_RESOURCE_OF = {"mem": "memory", "swap": "swap", "disk": "disk",
                "load": "load", "temp": "temp"}


class Layout:
    """
    Column widths of the slave list for one screen width, and for labels
    of at most *label_cells* cells (None: not known). The Label column
    takes what the widest label needs (and its title, with the sort mark
    beside it), up to a quarter of the room the fixed columns leave, 8 to
    24 cells: the rest goes to the resource columns and the task. Without
    *label_cells* it takes that quarter.
    """

    ID = 5
    ABI = 6
    # "Task time" and a sort mark beside it, or "100d 04:00"
    TIME = 10
    GAP = 1
    #: the task column keeps at least this many cells: a resource column
    #: is only shown when the task keeps this much room beside it
    MIN_TASK = 36
    #: the narrowest Label column: its title and the sort mark
    MIN_LABEL = 6
    #: the widest Label column
    MAX_LABEL = 24

    def __init__(self, width, label_cells=None):
        self.width = width
        fixed = 2 + self.ID + self.ABI + 2 * self.TIME + 5 * self.GAP
        self.label = max(8, min(self.MAX_LABEL, (width - fixed) // 4))
        if label_cells is not None:
            self.label = min(self.label, max(self.MIN_LABEL, label_cells))
        self.task = max(width - fixed - self.label, 0)
        widths = {name: w for name, _title, w in RESOURCE_COLUMNS}
        shown = set()
        for name in RESOURCE_PRIORITY:
            need = widths[name] + self.GAP
            if self.task - need < self.MIN_TASK:
                break
            self.task -= need
            shown.add(name)
        #: the resource columns shown: (name, width), in screen order
        self.resources = tuple((name, w) for name, _t, w in RESOURCE_COLUMNS
                               if name in shown)

    def columns(self):
        """The columns shown: (name, width) pairs, in screen order."""
        return [("state", 1), ("id", self.ID), ("label", self.label),
                ("abi", self.ABI), ("up", self.TIME),
                ("task-time", self.TIME), *self.resources,
                ("task", self.task)]

    def resource_cells(self, texts):
        """
        The resource cells, each right-aligned in its column and followed by
        the gap: *texts* maps a column name to its text. A figure never
        needs cutting (see :func:`resource_texts`).
        """
        gap = " " * self.GAP
        return [fmt.fit(texts.get(name, ""), w, "right") + gap
                for name, w in self.resources]

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
    def for_width(cls, width, label_cells=None):
        """The (cached) layout for *width* columns and *label_cells*."""
        key = (width, label_cells)
        try:
            return cls._cache[key]
        except KeyError:
            layout = cls._cache[key] = cls(width, label_cells)
            return layout


def _task_words(slave, state, now):
    text = slave.task_text()
    if state == "late":
        return f"{text} (quiet for {fmt.ago(slave.silence(now))})"
    if state == "silent":
        return (f"Silent for {fmt.ago(slave.silence(now))}; "
                f"last: {text}")
    return text


class ListRow(urwid.Widget):
    """A one-line, selectable row of the list that draws itself."""

    _sizing = frozenset([urwid.Sizing.FLOW])
    _selectable = True

    def __init__(self, view, slave=None):
        super().__init__()
        self.view = view
        #: the slave shown, None for the master's row
        self.slave = slave
        #: the row is the list's selection (drawn even without focus)
        self.selected = False

    def rows(self, size, focus=False):
        return 1

    def keypress(self, size, key):
        return key

    def mouse_event(self, size, event, button, col, row, focus):
        # the list has already selected the row on a left press
        return urwid.util.is_mouse_press(event) and button == 1


#: Marks a task time that is only a lower bound: the task was learnt from
#: a replay, which does not say when it began.
AT_LEAST = UNICODE["at_least"]


def task_duration(slave, now):
    """
    The slave's time in its task, for its row: ``00:12:34``, or
    ``≥00:12:34`` when only a lower bound is known.
    """
    text = fmt.duration(slave.task_time(now))
    if not slave.task_exact and slave.task_since is not None:
        return SYM.at_least + text
    return text


def _time_cell(text):
    """
    The bytes (in the screen's encoding) of the timer *text* right-aligned
    in a time column, as ``fmt.fit`` cuts and pads it; None when the cell
    is not plain (see :func:`_plain`) or needs a character set shift there
    (the lower-bound mark off UTF-8, drawn from DEC graphics).
    """
    if len(text) <= Layout.TIME and text.isascii() and text.isprintable():
        # the common case: printable ASCII is the same bytes in every
        # encoding urwid writes, one column a character
        return text.rjust(Layout.TIME).encode("ascii")
    rest = text[1:]
    if text[:1] == AT_LEAST and len(text) <= Layout.TIME and rest.isascii() \
            and rest.isprintable():
        # a task time after a replay (all of them, then): the mark and
        # printable ASCII, the mark's bytes looked up once per encoding
        mark = _mark_bytes()
        if mark is not None:
            return (b" " * (Layout.TIME - len(text)) + mark
                    + rest.encode("ascii"))
    cell = fmt.fit(text, Layout.TIME, "right")
    return _encode(cell) if _plain(cell) else None


#: the bytes of :data:`AT_LEAST` by screen encoding (None: not plain)
_MARK_BYTES = {}


def _mark_bytes():
    """
    The bytes of the lower-bound mark in the screen's encoding when it is
    a plain character there (see :func:`_plain`), else None.
    """
    encoding = urwid.util.get_encoding()
    try:
        return _MARK_BYTES[encoding]
    except KeyError:
        data = _encode(AT_LEAST) if _plain(AT_LEAST) else None
        _MARK_BYTES[encoding] = data
        return data


class _TimedLine:
    """
    A row's rendered line (one canvas row, as bytes with its attribute
    runs) and where its two time cells lie in it, so that a canvas for
    other timer texts is this line with only their bytes replaced: what
    urwid would lay out for the whole row, at a fraction of the cost.

    *key* is everything but the timers the line was drawn from; the line
    serves only while the row's key is the same.
    """

    __slots__ = ("key", "maxcol", "line", "attr", "cs", "up", "since",
                 "start", "middle")

    def __init__(self, key, maxcol, line, attr, up, since, start):
        self.key = key
        self.maxcol = maxcol
        self.line = line
        #: the line's attribute runs (attr, bytes); no character set shift
        self.attr = attr
        self.cs = [(None, len(line))]
        #: the bytes of the two time cells, and the offset of the first in
        #: the line: the second follows it after a gap
        self.up = up
        self.since = since
        self.start = start
        self.middle = start + len(up) + Layout.GAP

    @classmethod
    def read(cls, key, canvas, prefix, up, since):
        """
        The line of *canvas*, a row urwid rendered from markup whose text
        begins with the str *prefix* and then the time cells whose bytes
        are *up* and *since* (see :func:`_time_cell`), each followed by a
        gap. None when the line cannot be spliced safely: a cell that is
        not plain, any character set shift, or a time cell cut off or not
        where expected.
        """
        if up is None or since is None:
            return None
        [row] = canvas.content()
        if any(cs is not None for _attr, cs, _text in row):
            return None
        head = _encode(prefix)
        if head is None:
            return None
        line = b"".join(text for _attr, _cs, text in row)
        start = len(head)
        middle = start + len(up) + Layout.GAP
        if not line.startswith(head) \
                or line[start:start + len(up)] != up \
                or line[middle:middle + len(since)] != since:
            return None
        attr = []
        for at, _cs, text in row:
            urwid.util.rle_append_modify(attr, (at, len(text)))
        return cls(key, canvas.cols(), line, attr, up, since, start)

    def canvas(self, up, since):
        """
        A canvas of the line with the time cells of bytes *up* and *since*
        (see :func:`_time_cell`), or None when they cannot take the place of
        the cells drawn (not plain, or another length in bytes).
        """
        if up is None or since is None or len(up) != len(self.up) \
                or len(since) != len(self.since):
            return None
        line = self.line
        start, middle = self.start, self.middle
        line = (line[:start] + up + line[start + len(up):middle]
                + since + line[middle + len(since):])
        # the line measures what the one urwid laid out measures: the cells
        # are as wide as theirs (each character one column), between the
        # same gaps
        return urwid.TextCanvas([line], [list(self.attr)], [list(self.cs)],
                                maxcol=self.maxcol, check_width=False)


def _plain(cell):
    """
    True when every character of the str *cell* is one column wide
    whatever stands beside it (printable ASCII, or the lower-bound mark),
    so that it measures its length wherever it is spliced.
    """
    return all(c.isascii() and c.isprintable() or c == AT_LEAST
               for c in cell) and measure.width(cell) == len(cell)


def _encode(text):
    """*text* in the screen's encoding, None if it needs a character set."""
    data, cs = urwid.util.apply_target_encoding(text)
    if any(c is not None for c, _n in cs):
        return None
    return data


#: Ticks in a row that change none of a slave row's texts after which it
#: is redrawn all the same (see :meth:`SlaveRow.ticked`).
STILL_TICKS = 60


class SlaveRow(ListRow):
    """
    One row of the slave list; it draws itself from its slave's record.

    urwid lays out the whole row only when something other than its timers
    changed; a tick that only moves the timers replaces their cells in the
    line drawn last (see :class:`_TimedLine`), and a tick that leaves every
    text of the row as it was does not redraw it at all (:meth:`ticked`).
    """

    def __init__(self, slave, view):
        super().__init__(view, slave)
        #: the line drawn last, whose time cells a tick may replace
        self._line = None
        #: (now, what the clock decides in the row at now): see _clocked
        self._clock = (None, None)
        #: what the clock decided in the row last drawn
        self._shown = None
        #: ticks in a row that changed none of its texts
        self._still = 0

    def _clocked(self):
        """
        What the clock decides in the row at the view's time: (state, task
        words, up time text, task time text).
        """
        now = self.view.now
        when, values = self._clock
        if when is not now:
            slave = self.slave
            state = slave.state(now)
            values = (state, _task_words(slave, state, now),
                      fmt.duration(slave.up_time(now)),
                      task_duration(slave, now))
            self._clock = (now, values)
        return values

    def _invalidate(self):
        # the model changed (or the look: selection, a stale master): what
        # the clock decided at this time may be different now
        self._clock = (None, None)
        super()._invalidate()

    def ticked(self):
        """
        The clock moved: invalidate the row if any of its texts changed
        (a timer showing days and minutes changes once a minute), or after
        :data:`STILL_TICKS` ticks that changed none. Returns True when it
        did.
        """
        clock = self._clocked()
        if clock == self._shown:
            self._still += 1
            if self._still < STILL_TICKS:
                return False
            # a minute of ticks that changed nothing (timers showing
            # minutes, or frozen with a lost master): redrawn all the same,
            # which takes a row scrolled away off the list of rows on
            # screen (urwid draws one on screen from its cache, unasked)
        self._still = 0
        self._invalidate()
        self._clock = (self.view.now, clock)
        return True

    def _key(self, width, focus, state, words):
        # everything but the timers a row's look depends on; the model's
        # objects by identity first (a new STATS is a new object)
        slave = self.slave
        view = self.view
        return (width, view.label_cells, focus, self.selected, view.stale,
                state, words, slave.slave_id, slave.label, slave.abi,
                slave.pressure, slave.figures, slave.stats,
                view.farm.thresholds, SYM.marker)

    def markup(self, width, focus=False):
        """The row's text and attributes at *width* columns."""
        return self._markup(width, focus, *self._clocked())[0]

    def _markup(self, width, focus, state, words, up, since):
        """
        The row's markup and the str of its columns before the up time
        (see :class:`_TimedLine`).
        """
        view = self.view
        slave = self.slave
        layout = Layout.for_width(width, view.label_cells)
        flag = ""
        if slave.pressure:
            # first, so that a narrow column never cuts it off
            flag = "[" + ",".join(slave.pressure) + "] "
        left, task = layout.cells(
            SYM.marker, str(slave.slave_id), slave.label or "?",
            slave.abi or "?", up, since, flag + words)
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
        markup = [(marker_attr, left[:1]), (base, left[1:])]
        _resource_markup(markup, layout, *resource_texts(
            slave, view.farm.thresholds), base)
        if flag:
            # the words as far as the column shows them (cut, they end in
            # an ellipsis), in red on the selected row too (the demo starts
            # with its hungry slave selected); a stale picture keeps its
            # own colours, the selection's on the selected row
            words = flag[:-1]
            shown = len(os.path.commonprefix([task, words]))
            if shown:
                markup.append((base if view.stale else "pressure",
                               task[:shown]))
                task = task[shown:]
        markup.append((text_attr, task))
        times = 2 * (Layout.TIME + Layout.GAP)
        return markup, left[:-times] if len(left) >= times else None

    def render(self, size, focus=False):
        (maxcol,) = size
        self.view.drawn.add(self)
        clocked = self._clocked()
        self._shown = clocked
        state, words, up, since = clocked
        key = self._key(maxcol, focus, state, words)
        line = self._line
        up, since = _time_cell(up), _time_cell(since)
        if line is not None and line.key == key:
            canvas = line.canvas(up, since)
            if canvas is not None:
                return canvas
        markup, prefix = self._markup(maxcol, focus, *clocked)
        canvas = measure.text(markup, wrap="clip").render((maxcol,))
        self._line = None if prefix is None else _TimedLine.read(
            key, canvas, prefix, up, since)
        return canvas


def _load_text(value):
    if value < 10:
        return f"{value:.2f}"
    if value < 100:
        return f"{value:.1f}"
    return f"{min(value, 9999):.0f}"


def _size_text(value):
    """Bytes in at most 5 cells: ``980M``, ``14.2G``, ``3.9T``."""
    for unit in ("B", "K", "M", "G", "T", "P"):
        if value < 1000 or unit == "P":
            break
        value /= 1000
    if unit == "B":
        return f"{int(value)}B"
    return f"{value:.1f}{unit}" if value < 100 else f"{value:.0f}{unit}"


def _resource_markup(markup, layout, texts, levels, base):
    """Add the resource cells of a row to *markup*, coloured by level."""
    for (name, _w), cell in zip(layout.resources,
                                layout.resource_cells(texts), strict=True):
        level = levels.get(name, 0)
        attr = base if base is not None or not level else \
            f"res-{LEVELS[level]}"
        markup.append((attr, cell))


def resource_texts(slave, thresholds):
    """
    ``(texts, levels)``: the text of each resource column for *slave*
    (memory and swap used in %, disk free in bytes, load, temperature in
    °C; ``-`` for a figure not known, nothing before any STATS), and the
    level (0 to 3) each is coloured by.
    """
    return _texts(slave.figures, slave.stats, thresholds)


def _texts(figs, stats, thresholds):
    if figs is None:
        return {}, {}
    texts = {}
    levels = {}
    for name, resource in _RESOURCE_OF.items():
        value = figs[resource]
        if value is None:
            texts[name] = "-"
            continue
        if name in ("mem", "swap"):
            texts[name] = f"{min(max(value, 0), 100):.0f}%"
        elif name == "disk":
            texts[name] = _size_text(max(stats.disk_free, 0))
        elif name == "load":
            texts[name] = _load_text(max(value, 0.0))
        else:
            value = max(min(value, 999), -99)
            texts[name] = f"{value:.0f}\N{DEGREE SIGN}C" \
                if -10 < value < 100 else f"{value:.0f}\N{DEGREE SIGN}"
        levels[name] = thresholds.level(resource, value)
    return texts, levels


#: The list's columns: (name, title), in the order ``s`` cycles through
#: them (the screen's order, the resource columns last: on screen they
#: stand before the task).
COLUMNS = (
    ("state", "S"), ("id", "#"), ("label", "Label"), ("abi", "ABI"),
    ("up", "Up time"), ("task-time", "Task time"), ("task", "Task"),
    *((name, title) for name, title, _w in RESOURCE_COLUMNS),
)


def _figure(slave, resource):
    """*slave*'s figure for *resource* (see the pressure module), or None."""
    figures = slave.figures
    return None if figures is None else figures[resource]


def _by_figure(resource):
    """
    A sort key for a resource column: the figure in ascending order
    (memory, swap used; disk free; load; temperature), an unknown one last.
    """
    def key(slave):
        figures = slave.figures
        value = None if figures is None else figures[resource]
        if value is None:
            return (1, 0.0, slave.slave_id)
        return (0, value, slave.slave_id)
    return key


#: How messages name a column: its title (the one-letter ones explained).
COLUMN_NAMES = {name: title for name, title in COLUMNS}
COLUMN_NAMES["state"] = "S (state)"

#: Columns whose values are drawn right-aligned (their sort mark goes
#: before the title, so that the title stays over its values).
RIGHT_ALIGNED = frozenset({"id", "up", "task-time", "mem", "swap", "disk",
                           "load", "temp"})

#: Columns first sorted in descending order when chosen: the longest up
#: or in its task first reads naturally, and so does the fullest memory or
#: swap, the busiest and the hottest first (the worst first; for the disk,
#: whose figure is the free share, that is ascending).
DESCENDING_FIRST = frozenset({"up", "task-time", "mem", "swap", "load",
                              "temp"})

#: What each order means, in words: (ascending, descending).
ORDER_WORDS = {
    "state": ("idle first, terminating last", "terminating first"),
    "id": ("lowest first", "highest first"),
    "label": ("A to Z", "Z to A"),
    "abi": ("oldest Python first", "newest Python first"),
    "up": ("shortest first", "longest first"),
    "task-time": ("shortest first", "longest first"),
    "task": ("A to Z", "Z to A"),
    "mem": ("least used first", "most used first"),
    "swap": ("least used first", "most used first"),
    "disk": ("least free first", "most free first"),
    "load": ("lowest first", "highest first"),
    "temp": ("coolest first", "hottest first"),
}

_STATE_ORDER = {state: i for i, state in enumerate(STATES)}


def sort_key(column, now):
    """
    A key function ordering slaves by *column* at time *now*, in ascending
    order of what the column shows (shortest time first, A to Z, ...).
    """
    def ago(when):
        # a longer time is an earlier start; unknown counts as no time
        return float("-inf") if when is None else -when.timestamp()

    keys = {
        "state": lambda s: (_STATE_ORDER[s.state(now)], s.sort_key()),
        "id": lambda s: s.slave_id,
        "label": lambda s: (s.label, s.slave_id),
        "abi": Slave.sort_key,
        "up": lambda s: (ago(s.first_seen), s.slave_id),
        "task-time": lambda s: (ago(s.task_since), s.slave_id),
        "task": lambda s: (s.task_text(), s.slave_id),
        "mem": _by_figure("memory"),
        "swap": _by_figure("swap"),
        "disk": _by_figure("disk"),
        "load": _by_figure("load"),
        "temp": _by_figure("temp"),
    }
    return keys[column]


def column_at(width, col, label_cells=None):
    """
    The name of the list column under screen column *col*, or None, for
    the :class:`Layout` of *width* and *label_cells*.
    """
    layout = Layout.for_width(width, label_cells)
    x = 0
    for name, w in layout.columns():
        if x <= col < x + w + layout.GAP:
            return name
        x += w + layout.GAP
    return "task" if col >= x else None


class ColumnHeader(urwid.Widget):
    """
    The titles above the slave list's columns. The sorted column is marked
    ``▴`` (ascending: A to Z, shortest first) or ``▾`` (descending) beside
    its title, never over a letter of it; a click on a title sorts by it,
    and a second click reverses the order.
    """

    _sizing = frozenset([urwid.Sizing.FLOW])

    def __init__(self, on_click=None, view=None):
        super().__init__()
        self.on_click = on_click
        #: the :class:`View` whose label width the columns follow
        self.view = view
        self.sort_column = "abi"
        self.reverse = False
        self.width = self.label_drawn = None

    @property
    def label_cells(self):
        """The view's label width (see :class:`Layout`), None without one."""
        return None if self.view is None else self.view.label_cells

    def set_sort(self, column, reverse):
        """Show that the list is sorted by *column* (descending: *reverse*)."""
        self.sort_column, self.reverse = column, reverse
        self._invalidate()

    def rows(self, size, focus=False):
        return 1

    def render(self, size, focus=False):
        (maxcol,) = size
        #: the width and label width last drawn at: which columns the list
        #: shows, and where (a click finds the title drawn, even when the
        #: next refresh has already moved the columns)
        self.width, self.label_drawn = maxcol, self.label_cells
        layout = Layout.for_width(maxcol, self.label_drawn)
        mark = SYM.down if self.reverse else SYM.up
        names = dict(COLUMNS)
        titles = {}
        for name, _width in layout.columns():
            title = names[name]
            if name == self.sort_column and name != "state":
                # every column is wide enough for its title and the mark
                title = mark + title if name in RIGHT_ALIGNED else title + mark
            titles[name] = title
        if self.sort_column not in titles:
            # sorted by a resource column this width leaves out (chosen at
            # a wider one): the Task title says so, the mark before its
            # name as in its own title, in as many words as fit
            hidden = mark + names[self.sort_column]
            titles["task"] = next(
                (title for title in (f"Task (sorted by {hidden})",
                                     f"Task ({hidden})")
                 if measure.width(measure.drawable(title)) <= layout.task),
                "Task")
        left, task = layout.cells(*(titles[name] for name in (
            "state", "id", "label", "abi", "up", "task-time", "task")))
        if self.sort_column == "state":
            # the state column is one cell wide: the mark takes the gap
            # after it (the "#" title is right-aligned, far from it)
            left = left[:1] + mark + left[2:]
        resources = "".join(layout.resource_cells(titles))
        return measure.text(
            ("colhead", left + resources + task), wrap="clip").render((maxcol,))

    def mouse_event(self, size, event, button, col, row, focus):
        if self.on_click is None or not urwid.util.is_mouse_press(event) \
                or button != 1:
            return False
        column = column_at(size[0], col, self.label_drawn)
        if column is None:
            return False
        self.on_click(column)
        return True


class MasterRow(ListRow):
    """The master's own row, at the top of the list."""

    def render(self, size, focus=False):
        (maxcol,) = size
        self.view.drawn.add(self)
        view = self.view
        m = view.farm.master
        now = view.now
        state = m.state(now)
        words = {
            "waiting": "Waiting for the master", "connected": "Running",
            "paused": "Paused", "quiet": "Quiet: paused by someone?",
            "silent": "Silent", "lost": "Connection lost",
        }[state]
        if m.pending_known() and state in ("connected", "paused"):
            words += (f"; {sum(m.stats.builds_pending.values())} builds "
                      "pending")
        layout = Layout.for_width(maxcol, view.label_cells)
        left, task = layout.cells(
            SYM.master, "", m.label or "master", "",
            fmt.duration(m.up_time(now)),
            "", words)
        base = "focus" if focus else "selected" if self.selected else \
            "master-row"
        markup = [(base, left)]
        stats = m.stats
        figs = None
        if stats is not None:
            figs = figures(stats)
            if not m.disk_known():
                figs["disk"] = None
        _resource_markup(markup, layout, *_texts(
            figs, stats, view.farm.thresholds),
            None if base == "master-row" else base)
        markup.append((base, task))
        return measure.text(markup, wrap="clip").render((maxcol,))


class EmptyRow(measure.MeasuredText):
    """Stands below the master's row while no slave is shown."""

    slave = None
    selected = False

    def __init__(self):
        # measured as it is written: the filter it names was typed
        super().__init__("", layout=measure.LAYOUT)
        self.explain("")

    def explain(self, filter_text, total=0):
        """Say why no slave is shown: none known, or none matching."""
        if filter_text and total:
            words = (f"  No slave matches '{printable(filter_text, 40)}'; "
                     f"Esc clears the filter.")
        else:
            # a paused master replays no slave until it resumes: the list
            # may be empty for that reason alone
            words = ("  No build slaves known yet (a paused master lists "
                     "them when it resumes).")
        self.set_text(("dim", words))


class SlaveList(urwid.WidgetWrap):
    """
    The list: the master's row, then a :class:`SlaveRow` per slave, in the
    model's order or sorted by a column, optionally filtered; the selection
    stays on a sensible row as rows come and go.
    """

    def __init__(self, farm, view):
        self.farm = farm
        self.view = view
        self._rows = {}
        self.master_row = MasterRow(view)
        self._empty = EmptyRow()
        self._walker = urwid.SimpleFocusListWalker(
            [self.master_row, self._empty])
        self._listbox = urwid.ListBox(self._walker)
        self._height = 10
        self._user_moved = False
        #: the column the rows are sorted by ("abi" is the model's order)
        self.sort_column = "abi"
        self.reverse = False
        #: only slaves whose label, ABI or task contains this are shown
        self.filter_text = ""
        #: how many slaves are shown (after the filter)
        self.shown = 0
        urwid.connect_signal(self._walker, "modified", self._focus_moved)
        self._selected = None
        # the label of each slave in the model (None: the master's) and
        # its width in cells, and how many labels have each width: the
        # Label column is as wide as the widest (see Layout)
        self._labels = {}
        self._label_widths = Counter()
        #: the id of a selected slave that left the rows (a replay removes
        #: every slave, then brings them back): selected again on its return
        self._want = None
        super().__init__(self._listbox)
        self._focus_moved()
        self.measure_labels(farm.slaves, True)

    # --------------------------------------------------------------- queries

    @property
    def selected(self):
        """The selected slave, or None (the master's row, or no rows)."""
        return self._walker.get_focus()[0].slave

    @property
    def master_selected(self):
        """True when the master's row is selected."""
        return self._walker.get_focus()[0] is self.master_row

    def lines_needed(self, cols, limit):
        """
        The screen lines the list's rows take at *cols* columns (a row that
        says why none matches may wrap), or *limit* when they are at least
        that many (the rows are not measured then: a farm of thousands).
        """
        if len(self._walker) >= limit:
            return limit
        return min(sum(row.rows((cols,)) for row in self._walker), limit)

    @property
    def row_widgets(self):
        """The slave rows in display order."""
        return [w for w in self._walker if isinstance(w, SlaveRow)]

    # --------------------------------------------------------------- updates

    @property
    def _dynamic(self):
        # with a filter or another order, any change may move rows
        return bool(self.filter_text) or self.sort_column != "abi" \
            or self.reverse

    def sync(self, changes):
        """
        Bring the list up to date with the model's *changes*. Returns True
        when the columns moved (the widest label changed): the column
        header must be drawn again too.
        """
        if changes.order or (self._dynamic and changes.slaves):
            self._rebuild()
        rows = self._rows
        for sid in changes.slaves:
            row = rows.get(sid)
            if row is not None:
                row._invalidate()
        if changes.master:
            self.master_row._invalidate()
        if self.measure_labels(changes.slaves, changes.master):
            self.invalidate_all()
            return True
        return False

    def measure_labels(self, slave_ids, master=False):
        """
        Measure the labels of the slaves *slave_ids* (and the master's,
        with *master*) that changed, and set the view's
        :attr:`~View.label_cells`; O(1) for each label that did not change.
        Returns True when the widest label's width changed.
        """
        labels, widths = self._labels, self._label_widths
        slaves = self.farm.slaves
        changed = False
        for sid in (*slave_ids, *((None,) if master else ())):
            if sid is None:
                label = self.farm.master.label or "master"
            else:
                slave = slaves.get(sid)
                label = None if slave is None else slave.label or "?"
            old = labels.get(sid)
            if old is None and label is None:
                continue
            if old is not None and (old[0] is label or old[0] == label):
                continue
            if old is not None:
                widths[old[1]] -= 1
                if not widths[old[1]]:
                    del widths[old[1]]
            if label is None:
                labels.pop(sid, None)
            else:
                # measured as fmt.fit draws it, for the terminal's encoding
                # (set up before the console is made, once)
                cells = measure.width(measure.drawable(printable(label)))
                labels[sid] = (label, cells)
                widths[cells] += 1
            changed = True
        if not changed:
            return False
        widest = max(widths, default=None)
        if widest is not None:
            # the layouts for widths past these bounds are the same: the
            # rows are not drawn again for them
            widest = max(Layout.MIN_LABEL, min(widest, Layout.MAX_LABEL))
        if widest == self.view.label_cells:
            return False
        self.view.label_cells = widest
        return True

    def tick(self):
        """
        The clock moved: redraw the rows on screen whose texts it changed
        (their timers, a late or silent slave's words), and the master's.
        """
        drawn, self.view.drawn = self.view.drawn, set()
        rows = self._rows
        for row in drawn:
            slave = row.slave
            if slave is None:
                row._invalidate()
            elif rows.get(slave.slave_id) is row and not row.ticked():
                # not redrawn: on screen still, or scrolled away (see
                # SlaveRow.ticked); the next tick looks at it again
                self.view.drawn.add(row)
        # only the state moves with the clock alone (late, silent); up and
        # task times all grow alike, and a new task arrives as a change
        if self.sort_column == "state":
            self._rebuild()

    def invalidate_all(self):
        """Redraw every row (the master's state changed their look)."""
        for row in self._walker:
            row._invalidate()

    def set_sort(self, column, reverse=False):
        """Order the rows by *column* (see :data:`COLUMNS`)."""
        self.sort_column, self.reverse = column, reverse
        self._rebuild()

    def set_filter(self, text):
        """Show only slaves whose label, ABI or task contains *text*."""
        self.filter_text = text
        self._rebuild()

    def _matches(self, slave, needle):
        return (needle in slave.label.lower() or needle in slave.abi.lower()
                or needle in slave.task_text().lower())

    def _rebuild(self):
        old = self._selected
        old_index = self._walker.focus
        slaves = self.farm.rows()
        total = len(slaves)
        if self.filter_text:
            needle = self.filter_text.lower()
            slaves = [s for s in slaves if self._matches(s, needle)]
        if self.sort_column != "abi" or self.reverse:
            slaves = sorted(slaves, key=sort_key(self.sort_column,
                                                 self.view.now),
                            reverse=self.reverse)
            resource = _RESOURCE_OF.get(self.sort_column)
            if resource is not None:
                # slaves without the figure last, whichever the order
                slaves = [s for s in slaves if _figure(s, resource) is not None] \
                    + [s for s in slaves if _figure(s, resource) is None]
        self.shown, self.total = len(slaves), total
        rows = {}
        widgets = [self.master_row]
        for slave in slaves:
            row = self._rows.get(slave.slave_id)
            if row is None or row.slave is not slave:
                row = SlaveRow(slave, self.view)
            rows[slave.slave_id] = row
            widgets.append(row)
        self._rows = rows
        if len(widgets) == 1:
            self._empty.explain(self.filter_text, total)
            widgets.append(self._empty)
        self._walker[:] = widgets
        index = None
        want = self._want
        if not self._user_moved:
            # until the user moves, the selection is the first slave, at
            # the top of the list, however the slaves arrive
            want = None
            index = 1 if rows else 0
        else:
            if want is None and old is not None and old.slave is not None:
                # wanted back should it leave (a replay takes it out)
                want = old.slave.slave_id
            index = self._moved_index(old, old_index, want, rows, widgets)
            if want in rows:
                want = None
        self._want = want
        self._walker.set_focus(index)
        self._focus_moved()

    def _moved_index(self, old, old_index, want, rows, widgets):
        """
        Where the selection goes after the user moved it: the slave wanted
        back after a replay, else the same slave, else the same place.
        """
        if want is not None and want in rows:
            return widgets.index(rows[want])
        if old is self.master_row or not rows:
            return 0
        # the selected slave went: stay at the same place in the list
        return max(0, min(old_index, len(widgets) - 1))

    def _focus_moved(self):
        new = self._walker.get_focus()[0]
        old = self._selected
        if old is new:
            return
        if old is not None:
            old.selected = False
            old._invalidate()
        new.selected = True
        new._invalidate()
        self._selected = new

    # --------------------------------------------------------------- moving

    def move(self, delta):
        """Move the selection *delta* rows, stopping at the top and bottom."""
        self.move_to(max(self._walker.focus + delta, 0))

    def move_page(self, direction):
        """Move the selection a page up (-1) or down (1)."""
        self.move(direction * max(self._height - 1, 1))

    def move_to(self, index):
        """Select row *index* (negative counts from the end; 0 is the master)."""
        last = len(self._rows)  # the master's row is 0, slaves 1 to last
        if index < 0:
            index += last + 1
        index = max(0, min(index, last))
        self._user_moved = True
        self._want = None
        self._walker.set_focus(index)
        self._invalidate()

    def select_slave(self, slave_id):
        """Select the row of *slave_id*, if it is listed."""
        row = self._rows.get(slave_id)
        if row is not None:
            self.move_to(self._walker.index(row))

    def keypress(self, size, key):
        return key

    def mouse_event(self, size, event, button, col, row, focus):
        handled = super().mouse_event(size, event, button, col, row, focus)
        if handled:
            self._user_moved = True
            self._want = None
        return handled

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
        #: the list, when it is filtered the counts say how many are shown
        self.slave_list = None
        self._line1 = measure.text("", wrap="ellipsis")
        self._line2 = FittedLine()
        #: the markup the first line was last given
        self._master_shown = None
        super().__init__(urwid.AttrMap(
            urwid.Pile([self._line1, self._line2]), "header"))
        self.update()

    def master_line(self):
        """The first line: who and how the master is."""
        farm = self.farm
        m = farm.master
        now = self.view.now
        state = m.state(now)
        # no label before the master's HELLO (read-only: until a replay)
        name = f"Master {printable(m.label, 40)}" if m.label else "Master"
        problem = m.problem
        if state == "waiting":
            if m.connected:
                # connected to the socket, but the master has not spoken:
                # the status line says the same
                return ("header-warn",
                        f"Connected to {printable(self.status_queue, 120)}; "
                        "waiting for the master to answer")
            if m.trouble:
                # the way to the master (an SSH tunnel) says why: it comes
                # first, as in --check's summary
                return ("header-bad", "Cannot reach the master: "
                        f"{printable(m.trouble, 200)}")
            if problem is not None:
                # the cause first: the line is cut at the terminal's width
                return ("header-bad", "Cannot reach the master: "
                        f"{printable(problem.describe(), 200)}")
            return ("header-warn",
                    f"Waiting for the master at "
                    f"{printable(self.status_queue, 120)}")
        if state in ("silent", "lost"):
            since = fmt.clock(m.last_seen or m.lost_at)
            why = "connection lost" if state == "lost" else "no word"
            if state == "lost" and m.trouble:
                why += f": {printable(m.trouble, 200)}"
            elif state == "lost" and problem is not None:
                why += f": {printable(problem.describe(), 200)}"
            return ("header-bad",
                    f"{name} silent since {since} ({why}); "
                    "showing the last known state")
        if state == "quiet":
            since = fmt.clock(m.last_seen)
            text = (f"{name} quiet since {since}: paused by someone, or "
                    "stuck")
            if not farm.slaves:
                text += "; its slaves are listed when it resumes"
            return ("header-warn", text)
        word = "paused" if state == "paused" else "running"
        parts = [name, word]
        if m.started is not None:
            parts.append(f"up {fmt.duration(m.up_time(now))}")
        if m.last_seen is not None:
            parts.append(f"last word {fmt.ago(fmt.since(now, m.last_seen))} ago")
        attr = "header-warn" if state == "paused" else "header"
        return (attr, f" {SYM.vbar} ".join(parts))

    def stats_parts(self):
        """
        The parts of the second line, in screen order, for a
        :class:`FittedLine`: ``(priority, dot, markup)``. On a narrow
        terminal the parts of the highest priority number are left out
        first: a warning's explanation (the count of bad frames stays,
        their latest reason goes), then the master's disk free, then its
        builds an hour, then its pending builds; never the count of slaves
        under pressure, the slave counts or a warning's count.
        """
        farm = self.farm
        stats = farm.master.stats
        parts = []
        pressed = farm.under_pressure()
        if pressed:
            # first: the line is cut at its end on a very narrow terminal
            parts.append((1, True,
                          [("header-bad", f"{pressed} under pressure")]))
        if stats is not None:
            parts.append((3, True, [("header", "Builds/h "
                               f"{sum(stats.builds_last_hour.values())}")]))
            master = farm.master
            # a new master's first STATS holds zeros it has not measured
            parts.append((2, True, [("header",
                               f"Pending {sum(stats.builds_pending.values())}"
                               if master.pending_known()
                               else "Pending not known yet")]))
            parts.append((4, True, [("header",
                               f"Disk free {fmt.size(stats.disk_free)}"
                               if master.disk_known()
                               else "Disk free not known yet")]))
        counts = farm.counts(self.view.now)
        total = sum(counts.values())
        detail = ", ".join(
            f"{n} {state}" for state, n in counts.items() if n)
        listed = self.slave_list
        if listed is not None and listed.filter_text:
            slaves = (f"{listed.shown} of {total} slaves "
                      f"(filter '{printable(listed.filter_text, 20)}')")
        else:
            slaves = f"Slaves {total}" + (f": {detail}" if detail else "")
        parts.append((1, True, [("header", slaves)]))
        # after the counts, without a dot, as they always were: each count
        # stays, its explanation goes first on a narrow terminal
        if farm.overflows:
            parts.append((1, False, [("header-bad",
                          f"  {farm.frames_dropped} frames dropped")]))
            parts.append((5, False, [("header-bad",
                          " to stay within memory; fresh replay asked")]))
        if farm.slaves_refused:
            parts.append((1, False, [("header-bad",
                          f"  {farm.slaves_refused} slaves not listed")]))
            parts.append((5, False, [("header-bad", " (over the limit)")]))
        if farm.bad_frames:
            parts.append((1, False, [("header-bad",
                          f"  {farm.bad_frames} bad frames")]))
            parts.append((5, False, [("header-bad", " (latest: "
                          f"{printable(farm.last_bad_reason, 60)})")]))
        return parts

    def update(self):
        """Recompute both lines from the model and the clock."""
        # a line whose text is the same keeps its layout and canvas (the
        # statistics change every 10 s, not at every tick)
        markup = self.master_line()
        if markup != self._master_shown:
            self._master_shown = markup
            self._line1.set_text(markup)
        self._line2.set_parts(self.stats_parts())


class FittedLine(urwid.Widget):
    """
    One line of parts joined by a dot (drawn in *dot_attr*: the header's
    statistics line), which leaves out its least needed parts when the
    width cannot hold them all: each part is ``(priority, dot, markup)``,
    and the parts of the highest priority number go first, the last of
    them first. Parts of priority 1 or less are never left out; what they
    do not fit is cut at the end, with an ellipsis. A part without *dot*
    follows the one before it with no dot between them.
    """

    _sizing = frozenset([urwid.Sizing.FLOW])

    def __init__(self, parts=(), dot_attr="header"):
        super().__init__()
        self.dot_attr = dot_attr
        self._parts = list(parts)
        self._text = measure.text("", wrap="ellipsis")
        self._fitted = None

    def set_parts(self, parts):
        """Show *parts* (see the class); the same parts again change nothing."""
        parts = list(parts)
        if parts != self._parts:
            self._parts = parts
            self._fitted = None
            self._invalidate()

    def join(self, parts):
        """The markup of *parts*, every one of them, joined."""
        markup = []
        for _priority, dot, items in parts:
            if dot and markup:
                markup.append((self.dot_attr, f" {SYM.dot} "))
            markup.extend(items)
        return markup

    def _width(self, parts):
        # the parts meet at spaces: their widths add up to the line's
        return sum(measure.width(measure.drawable(text))
                   for _attr, text in self.join(parts))

    def fit(self, maxcol):
        """The markup shown at *maxcol* columns (before any cutting)."""
        parts = self._parts
        while self._width(parts) > maxcol:
            lowest = max(priority for priority, _dot, _items in parts)
            if lowest <= 1:
                break
            # the last of the least needed goes first
            index = max(i for i, (priority, _dot, _items)
                        in enumerate(parts) if priority == lowest)
            parts = parts[:index] + parts[index + 1:]
        return self.join(parts)

    def rows(self, size, focus=False):
        return 1

    def render(self, size, focus=False):
        (maxcol,) = size
        fitted = self.fit(maxcol)
        if fitted != self._fitted:
            self._fitted = fitted
            self._text.set_text(fitted or "")
        return self._text.render((maxcol,), focus)


class StatusLine(urwid.WidgetWrap):
    """One line of feedback: what was sent, or why nothing was."""

    HINT = "h: help  Tab: list/buttons  p r k t q: actions"

    def __init__(self):
        self._text = measure.text(("status", self.HINT), wrap="ellipsis")
        super().__init__(urwid.AttrMap(self._text, "status"))

    @property
    def text(self):
        """The message shown."""
        return self._text.text

    def show(self, text, error=False):
        """Show *text*, as an error when *error*."""
        self._text.set_text(
            ("status-error" if error else "status", printable(text, 300)))


class Responsive(urwid.WidgetWrap):
    """
    A wrapper that picks which of its layouts to show from the size it is
    given, before every render, key and click (:meth:`pick`).
    """

    def pick(self, size):
        """Return the layout for *size*."""
        raise NotImplementedError

    def _pick(self, size):
        want = self.pick(size)
        if want is not self._w:
            self._switch(want)

    def _switch(self, layout):
        self._w = layout

    def render(self, size, focus=False):
        self._pick(size)
        return super().render(size, focus)

    def keypress(self, size, key):
        self._pick(size)
        return super().keypress(size, key)

    def mouse_event(self, size, event, button, col, row, focus):
        self._pick(size)
        return super().mouse_event(size, event, button, col, row, focus)


class ButtonBar(Responsive):
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

    def pick(self, size):
        return self._full if size[0] >= self._full_width else self._short

    def _switch(self, layout):
        position = self._columns.focus_position
        self._w = layout
        self._columns.focus_position = position

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
