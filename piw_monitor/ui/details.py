"""
The details pane: everything known about the selected row, the master's or
a slave's, with bars for the resources.
"""

from __future__ import annotations

import unicodedata

import urwid

from .. import charts
from ..model import abi_order
from ..model import python_version as model_python_version
from ..pressure import figures, outlook, outlook_words
from ..sanitize import printable
from . import format as fmt
from . import measure
from .symbols import SYM, UNICODE

__all__ = [
    "DetailsPane", "bar", "slave_details", "master_details", "wrap", "Chunks",
    "python_version", "skew", "slave_charts", "master_charts",
    "queue_outlook", "pressure_words",
]

#: Cells of a chart's sparkline in the details pane.
CHART_WIDTH = 20

#: The bar's cells (on a terminal that is not UTF-8, ASCII: see
#: :mod:`.symbols`).
BAR_FULL = UNICODE["full"]
BAR_EMPTY = UNICODE["empty"]


def bar(used, total, width=12):
    """A bar *width* cells wide showing *used* out of *total*."""
    if not total or total <= 0:
        return SYM.empty * width
    filled = round(width * min(max(used / total, 0.0), 1.0))
    return SYM.full * filled + SYM.empty * (width - filled)


class Chunks(tuple):
    """
    A value made of pieces that are never broken across lines (a figure
    and its unit, say): laid out a piece after another, on as many lines as
    the pane's width needs (see :func:`wrap`).
    """


def wrap(value, width):
    """
    The lines of *value* (a string, or :class:`Chunks`) at *width* columns:
    whole pieces a line, broken at spaces between them; a piece longer than
    a line is broken at its own spaces, and only a single word wider than
    the whole line is cut.
    """
    width = max(width, 1)
    pieces = list(value) if isinstance(value, Chunks) else [value]
    # (word, begins a line): a piece that fits a line is one word; a piece
    # wider than the pane is broken at its own spaces, from a line of its own
    words = []
    for piece in pieces:
        # measured as it will be written (off UTF-8 a character may take
        # another width than it measures), so that no line is clipped
        piece = measure.drawable(_stand(piece))
        if _width(piece) <= width:
            words.append((piece, False))
        else:
            words += [(measure.drawable(_stand(word)), i == 0)
                      for i, word in enumerate(piece.split(" "))]
    lines, line = [], ""
    for word, fresh in words:
        candidate = f"{line} {word}" if line else word
        if not fresh and _width(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while _width(word) > width:
            # a single word wider than the pane (a long label): cut
            cut = _cut(word, width)
            lines.append(word[:cut])
            # (one column: no room for the circle, and no end to it)
            word = _stand(word[cut:]) if width > 1 else word[cut:]
        line = word
    if line or not lines:
        lines.append(line)
    return lines


def _stand(word):
    """
    *word*, given a dotted circle to stand on when it begins with a mark
    (as :func:`~piw_monitor.sanitize.printable` does for a whole text): a
    line may begin with it, and a mark alone is measured otherwise than
    drawn.
    """
    if word and unicodedata.category(word[0])[0] == "M":
        return "\N{DOTTED CIRCLE}" + word
    return word


def _width(text):
    return measure.width(text)


def _cut(word, width):
    """
    How many characters of *word* fit in *width* columns, cut at a cluster
    boundary by the measure the canvas checks (at least 1).
    """
    pos, _used = measure.cut(word, width)
    return max(pos, 1)


def _resource(name, size, free):
    """A resource's bar and figures: the bar and the first figure say used."""
    if not size:
        return (name, "-")
    used = max(size - free, 0)
    return (name, Chunks((bar(used, size), f"{fmt.size(used)} used",
                          f"of {fmt.size(size)},", f"{fmt.size(free)} free")))


def _load_and_temp(stats):
    return [
        ("Load", Chunks((bar(stats.load_average, 4.0),
                         f"{stats.load_average:.2f}"))),
        ("Temperature", Chunks((bar(stats.cpu_temp, 85.0),
                                f"{stats.cpu_temp:.1f}{SYM.degrees}"))),
    ]


def python_version(text):
    """
    A slave's Python version as people write it, printable: ``3.11`` for
    the ``311`` the protocol carries (anything else as it came; see
    :func:`piw_monitor.model.python_version`).
    """
    return model_python_version(printable(text))


def skew(delta, suffix=""):
    """A clock skew in seconds, signed, and never ``-0.0``."""
    if delta is None:
        return "-"
    seconds = round(delta.total_seconds(), 1)
    if seconds == 0:
        return f"0.0 s{suffix}"
    return f"{seconds:+.1f} s{suffix}"


def slave_details(slave, now):
    """
    (label, value) pairs describing *slave*, what to act on first: its
    state, pressure and build, then its charts and resources (below the
    list, on a terminal under 120 columns, the pane shows only its first
    lines), then what does not change.
    """
    p = printable
    pairs = [
        ("Slave", f"{slave.slave_id} {p(slave.label)}"),
        ("State", Chunks((f"{slave.state(now)}:", p(slave.task_text())))),
        *pressure_words(slave),
        *([("Kill slave", "sent (KILL): it terminates the next time it "
                          "asks for work")] if slave.stopping else []),
    ]
    if slave.task == "building" or slave.build_started is not None:
        # a build learnt from a replay began at a time the master does not
        # say
        took = fmt.duration(slave.build_time(now)) \
            if slave.build_started is not None else "a time not known"
        pairs.append(("Build", Chunks((
            f"{p(slave.package)} {p(slave.version)}", f"for {took}"))))
    stats = slave.stats
    if stats is not None:
        pairs += [
            *slave_charts(slave),
            _resource("Disk", stats.disk_size, stats.disk_free),
            _resource("Memory", stats.mem_size, stats.mem_free),
            _resource("Swap", stats.swap_size, stats.swap_free),
            *_load_and_temp(stats),
        ]
    pairs += [
        ("ABI", p(slave.abi)),
        ("Python", python_version(slave.py_version)),
        ("Platform", p(slave.platform)),
        ("OS", p(f"{slave.os_name} {slave.os_version}".strip())),
        ("Board", p(f"{slave.board_revision} (serial {slave.board_serial})")),
        ("First seen", fmt.clock(slave.first_seen)),
        ("Last seen", f"{fmt.clock(slave.last_seen)} "
                      f"({fmt.ago(slave.silence(now))} ago)"),
        ("Clock skew", skew(slave.clock_skew)),
        ("Timeouts", f"build {fmt.duration(slave.build_timeout)}, "
                     f"busy {fmt.duration(slave.busy_timeout)}"),
    ]
    for when, text in list(slave.history)[-5:]:
        pairs.append((fmt.clock(when), p(text)))
    return pairs


def _by_abi(mapping):
    if not mapping:
        return "-"
    # in the order of the Outlook and of the list: cp39 before cp311
    items = sorted(mapping.items(), key=lambda item: abi_order(item[0]))
    last = len(items) - 1
    return Chunks(f"{printable(abi, 16)} {n:,}" + ("," if i < last else "")
                  for i, (abi, n) in enumerate(items))


def master_details(farm, now):
    """(label, value) pairs describing the master."""
    m = farm.master
    pairs = [
        ("Master", printable(m.label) or "-"),
        # in the header's word: a master heard from lately is running
        ("State", {"connected": "running"}.get(m.state(now), m.state(now))),
        ("Up", fmt.duration(m.up_time(now))),
        ("Frames", f"{farm.frames:,} received, {farm.bad_frames:,} bad"
                   + (f" (latest: {printable(farm.last_bad_reason, 60)})"
                      if farm.bad_frames else "")),
    ]
    stats = m.stats
    if stats is None:
        pairs.append(("Statistics", "none yet"))
    else:
        # what changes and what to act on first: the queue and its charts
        # (below the list, on a terminal under 120 columns, the pane shows
        # only its first lines; ] shows the rest)
        pairs += [
            ("Builds/hour", _by_abi(stats.builds_last_hour)),
            ("Pending", _by_abi(stats.builds_pending)),
            *queue_outlook(stats),
            *master_charts(m),
            _resource("Disk", stats.disk_size, stats.disk_free),
            _resource("Memory", stats.mem_size, stats.mem_free),
            _resource("Swap", stats.swap_size, stats.swap_free),
            *_load_and_temp(stats),
            ("Built", Chunks((f"{stats.packages_built:,} packages,",
                              f"{stats.files_count:,} files"))),
            ("Build time", fmt.duration(stats.builds_time)),
            ("Build size", fmt.size(stats.builds_size)),
            ("Downloads", Chunks((
                f"{stats.downloads_last_hour:,} last hour,",
                f"{stats.downloads_last_month:,} last month,",
                f"{stats.downloads_all:,} in all"))),
        ]
    pairs += [
        ("OS", printable(f"{m.os_name} {m.os_version}".strip()) or "-"),
        ("Board", printable(f"{m.board_revision} (serial {m.board_serial})")),
        ("Started", fmt.clock(m.started)),
        # the master's clock minus ours, from its timestamps: every time on
        # screen is judged on the master's clock
        ("Clock skew", "-" if m.skew is None else
         Chunks((skew(m.skew), "(master minus monitor)"))),
    ]
    return pairs


def pressure_words(slave):
    """
    A "Pressure" line for a slave under pressure: which figures are
    critical, and what to do about a build that eats the machine.
    """
    if not slave.pressure or slave.figures is None:
        return []
    f = slave.figures
    said = []
    for word in slave.pressure:
        if word == "memory":
            said.append("memory " + (
                f"{f['memory']:.0f}% used" if f["memory"] is not None
                else "full") + (
                f", swap {f['swap']:.0f}% used" if f["swap"] is not None
                else ", no swap"))
        elif word == "disk":
            said.append(f"disk {f['disk']:.0f}% free")
        elif word == "load":
            said.append(f"load {f['load']:.2f}")
        elif word == "hot":
            said.append(f"{f['temp']:.1f}{SYM.degrees}")
    # Kill slave lets the build finish first: a runaway build is stopped
    # by skipping it as well (the action menu)
    # in clauses: a narrow pane breaks between them, never inside a figure
    # ("load" / "8.49") or the action's name
    pieces = list(_clauses(", ".join(said)))
    if slave.task == "building":
        pieces[-1] += ";"
        pieces += ["a runaway build?", "Enter: Skip build and kill slave"]
    return [("Pressure", Chunks(pieces))]


def _pct(value):
    return f"{value:.0f}%"


def _count(value):
    return f"{value:,.0f}"


def _load(value):
    return f"{value:.2f}"


def _temp(value):
    # as the Temperature line writes it (" C" off UTF-8)
    return f"{value:.1f}{SYM.degrees}"


def _bytes(value):
    return fmt.size(value)


def slave_charts(slave):
    """
    Charts of *slave*'s recent STATS (memory and swap used, disk free, load,
    temperature), with their span and trend; [] before any STATS.
    """
    history = slave.stats_history
    if not len(history):
        return []
    span = history.span()
    n = len(history)
    return [
        ("History", f"{n} report{'s' if n != 1 else ''}"
                    + (f" {charts.span_words(span)}" if span else "")),
        _chart("  memory", history.series("memory"), _pct, span, 0, 100),
        _chart("  swap", history.series("swap"), _pct, span, 0, 100),
        # on the disk's own scale, as memory and swap are on 0..100 %: a
        # few hundred MB must not draw as a full disk emptied
        _chart("  disk free", history.series("disk_free"), _bytes, span, 0,
               slave.stats.disk_size if slave.stats is not None
               and slave.stats.disk_size > 0 else None),
        _chart("  load", history.series("load"), _load, span),
        _chart("  temp", history.series("temp"), _temp, span),
    ]


def _chart(name, values, show, span, lo=None, hi=None):
    # in pieces: a narrow pane breaks the line between a figure and the
    # next, never inside one (20.6 / GB..21.3 GB) or before a lone arrow
    return (name, Chunks(charts.chart_parts(
        values, show, width=CHART_WIDTH, lo=lo, hi=hi, span=span)))


def master_charts(master):
    """
    Charts of the master's recent STATS: builds per hour, pending builds,
    downloads per hour, disk free, memory used, load and temperature.
    """
    history = list(master.stats_history)
    if not history:
        return []
    span = (history[-1].timestamp - history[0].timestamp).total_seconds()
    # a new master reports zeros before it has measured its disk
    disk = [s.disk_free if s.disk_size else None for s in history]
    memory = [figures(s)["memory"] for s in history]
    n = len(history)
    return [
        ("History", f"{n} report{'s' if n != 1 else ''}"
                    + (f" {charts.span_words(span)}" if span > 0 else "")),
        _chart("  builds/h", [sum(s.builds_last_hour.values())
                              for s in history], _count, span),
        _chart("  pending", [sum(s.builds_pending.values())
                             if s.builds_pending else None
                             for s in history], _count, span),
        _chart("  downloads", [s.downloads_last_hour for s in history],
               lambda v: f"{v:,.0f}/h", span),
        _chart("  disk free", disk, _bytes, span, 0,
               max((s.disk_size for s in history), default=0) or None),
        _chart("  memory", memory, _pct, span, 0, 100),
        _chart("  load", [s.load_average for s in history], _load, span),
        _chart("  temp", [s.cpu_temp for s in history], _temp, span),
    ]


def queue_outlook(stats):
    """
    The queue's outlook by ABI: pending builds beside the build rate, and
    when the queue should be empty at that rate.
    """
    rows = outlook(stats.builds_pending, stats.builds_last_hour)
    return [("Outlook" if i == 0 else "",
             _clauses(printable(outlook_words(*row), 80)))
            for i, row in enumerate(rows)]


def _clauses(text):
    """
    *text* as :class:`Chunks` of its comma-separated clauses (each keeps
    its comma), so that a narrow pane breaks ``about 3 h 40 min`` between
    clauses, not inside one.
    """
    parts = text.split(", ")
    return Chunks([part + "," for part in parts[:-1]] + parts[-1:])


class DetailsPane(urwid.WidgetWrap):
    """
    The details of the selected row, refreshed with the screen. What does
    not fit is reached with ``]`` and ``[`` (:meth:`scroll`), a pane at a
    time, line by line (a value taller than the pane too); the title says
    when there is more below or above.
    """

    TITLE = "Details"
    #: the titles while there is more below, above, or both (the pane is
    #: always wide enough for them: 47 columns beside the list at 120,
    #: the terminal's 50 or more below it)
    TITLES = {
        (True, False): "Details (] for more)",
        (False, True): "Details ([ back up)",
        (True, True): "Details ([ ] to scroll)",
    }

    def __init__(self, farm, view, slave_list):
        self.farm = farm
        self.view = view
        self.slave_list = slave_list
        self._pairs = []
        self._labels = []
        # whose details they are (another row's start at the top), and the
        # line at the top of the view: (its pair's index, its line within
        # the pair)
        self._subject = None
        self._top = (0, 0)
        # as last drawn: the lines, as (pair index, line in pair, widget),
        # the width and the room inside the box, and the first line shown
        self._lines = []
        self._drawn = None
        self._stale = True
        self._first = 0
        self._walker = urwid.SimpleListWalker([])
        self._title = self.TITLE
        # the title laid out as it is written off UTF-8 too
        self._box = measure.line_box(urwid.ListBox(self._walker), self.TITLE)
        super().__init__(urwid.AttrMap(self._box, "details"))

    def selectable(self):
        return False

    def to_top(self):
        """Show the details from their first line at the next draw."""
        self._top = (0, 0)
        self._stale = True
        self._invalidate()

    def update(self):
        """Show the selected row's details as they are now."""
        slave = self.slave_list.selected
        if slave is not None:
            pairs = slave_details(slave, self.view.now)
            subject = slave.identity
        else:
            pairs = master_details(self.farm, self.view.now)
            subject = None
        labels = [k for k, _ in pairs]
        index, line = self._top
        if subject != self._subject:
            self._subject = subject
            index, line = 0, 0
        elif 0 < index < len(self._labels):
            # the line read at the top stays there when lines above it
            # come or go (a Pressure line, a Kill slave sent)
            anchor = self._labels[index]
            if index >= len(labels) or labels[index] != anchor:
                near = [i for i, k in enumerate(labels) if k == anchor]
                if near:
                    index = min(near, key=lambda i: abs(i - index))
        self._top = (index, line)
        self._pairs = pairs
        self._labels = labels
        self._stale = True  # laid out again before it is drawn or scrolled
        # (urwid would otherwise draw the canvas it keeps)
        self._invalidate()

    def _layout(self, cols):
        """The lines of the pairs at *cols* columns (see :attr:`_lines`)."""
        lines = []
        width = max(cols - 13, 1)  # the key's 12 columns and a space
        for index, (key, value) in enumerate(self._pairs):
            for line, text in enumerate(wrap(value, width)):
                lines.append((index, line, urwid.Columns([
                    (12, urwid.Text(("details-key", key if not line
                                     else ""), wrap="clip")),
                    measure.text(text, wrap="clip")], dividechars=1)))
        return lines

    def _lay_out(self, cols, room):
        """
        Lay the lines out for *cols* columns and *room* rows, when the
        details or the size changed since they were last laid out.
        """
        if not self._stale and self._drawn == (cols, room):
            return
        self._stale = False
        self._drawn = (cols, room)
        self._lines = self._layout(cols)
        # the line that was at the top (or the nearest before it: a value
        # now on fewer lines), but no blank room at the bottom while lines
        # above are hidden
        first = 0
        for number, (index, line, _w) in enumerate(self._lines):
            if (index, line) > self._top:
                break
            first = number
        self._show(min(first, self._last()))

    def _show(self, first):
        """Show the lines from *first* on; note where the top line is."""
        self._first = first
        if self._lines:
            index, line, _widget = self._lines[first]
            self._top = (index, line)
        self._walker[:] = [widget for _i, _l, widget in self._lines[first:]]

    def _last(self):
        """The first line of the last, full view."""
        return max(len(self._lines) - self._drawn[1], 0)

    def scroll(self, pages):
        """
        Move the pane's view down (*pages* > 0) or up a pane at a time, as
        last drawn: the bottom line of one view is the top line of the
        next, so nothing is missed, and the last view is a full one.
        Returns False when it cannot move that way, None before the pane
        was drawn.
        """
        if self._drawn is None:
            return None
        self._lay_out(*self._drawn)
        return self._move(max(self._drawn[1] - 1, 1) * pages)

    def _move(self, lines):
        """
        Move the view *lines* down (up when negative), within the first
        and the last, full view; False when it does not move.
        """
        first = max(min(self._first + lines, self._last()), 0)
        if first == self._first:
            return False
        self._show(first)
        return True

    #: lines a turn of the mouse wheel scrolls
    WHEEL_LINES = 3

    def mouse_event(self, size, event, button, col, row, focus):
        if event == "mouse press" and button in (4, 5) and len(size) == 2:
            # the wheel: up (4) or down (5) a few lines, within the lines
            self._lay_out(max(size[0] - 2, 1), max(size[1] - 2, 1))
            # (fewer on a pane of a few lines, so that none is skipped)
            step = max(min(self.WHEEL_LINES, self._drawn[1] - 1), 1)
            self._move(step if button == 5 else -step)
            return True
        return False

    def render(self, size, focus=False):
        if len(size) == 2:
            # the list inside the box's lines
            cols, room = max(size[0] - 2, 1), max(size[1] - 2, 1)
            self._lay_out(cols, room)
            below = len(self._lines) - self._first > room
            above = self._first > 0
            title = self.TITLES.get((below, above), self.TITLE)
            if title != self._title:
                self._title = title
                self._box.set_title(title)
        return super().render(size, focus)
