"""
The slave list on a tick: a row whose timers alone moved is drawn by
replacing its time cells in the line drawn before (widgets._TimedLine).
Whatever the row shows must be what urwid lays out from the row's markup:
the screens are compared, text and attributes, with the full layout of
every row on every render.
"""

import itertools

import pytest
import urwid

from piw_monitor import protocol as p
from piw_monitor.ui import measure, symbols, widgets

from .test_ui import (
    T0, Harness, farm_of, master_hello, master_stats, slave_hello,
)

G = 10 ** 9
WIDE = (120, 30)


def slave_stats(sid, when, mem=0.2, disk_free=0.5):
    return p.SlaveStats(
        sid, when, when, 32 * G, int(32 * G * disk_free), 4 * G,
        int(4 * G * (1 - mem)), 2 * G, 2 * G, 0.5, 48.0)


def cells(canvas):
    """
    Every row of *canvas* as (attr, character set, byte) triples: equal
    for equal screens, however the runs are split.
    """
    return [[(attr, cs, byte) for attr, cs, text in row for byte in text]
            for row in canvas.content()]


def screen(h, size):
    return cells(h.console.render(size, focus=True))


@pytest.fixture
def h():
    return Harness()


def row_line(h, name, size=WIDE):
    return next(line for line in h.screen(size) if name in line)


class Twins:
    """
    The same story told to two consoles: one draws as it does, the other
    lays out every row in full on every render (the line a tick splices
    into is never kept). Their screens must be the same.
    """

    def __init__(self, monkeypatch):
        self.fast = Harness()
        self.full = Harness()
        self.monkeypatch = monkeypatch
        #: rows drawn by splicing timers (the test is about them)
        self.spliced = 0
        splice = widgets._TimedLine.canvas

        def counted(line, up, since):
            canvas = splice(line, up, since)
            self.spliced += canvas is not None
            return canvas
        monkeypatch.setattr(widgets._TimedLine, "canvas", counted)

    def both(self, method, *args, **kwargs):
        getattr(self.fast, method)(*args, **kwargs)
        with self.monkeypatch.context() as m:
            m.setattr(widgets._TimedLine, "read",
                      classmethod(lambda *_args: None))
            getattr(self.full, method)(*args, **kwargs)

    def feed(self, *events, **kwargs):
        self.both("feed", *events, **kwargs)

    def tick(self, seconds):
        self.both("tick", seconds)

    def talk(self, seconds):
        self.both("talk", seconds)

    def press(self, *keys, size):
        self.both("press", *keys, size=size)

    def check(self, size):
        fast = screen(self.fast, size)
        with self.monkeypatch.context() as m:
            m.setattr(widgets._TimedLine, "read",
                      classmethod(lambda *_args: None))
            full = screen(self.full, size)
        assert fast == full, size


LABELS = (
    "pi-01", "日本語のラベルです", "\u1019\u102b\u1014\u102b\u1019\u102b",
    "\x1b]0;pwned\x07\u202eevil", "a-very-long-label-that-will-be-cut-off",
    "\u0301starts-with-a-mark",
)


@pytest.mark.parametrize("size", [(50, 16), (80, 24), WIDE, (200, 40)])
def test_ticks_draw_what_a_full_layout_draws(monkeypatch, size):
    t = Twins(monkeypatch)
    t.feed(master_hello(), master_stats())
    for sid, label in enumerate(LABELS, 1):
        t.feed(slave_hello(sid, label), p.SlaveSleep(sid, T0, False))
    # met in the middle of its work: its task time is only a lower bound
    t.feed(p.SlaveBuild(len(LABELS) + 1, T0, "numpy", "1.26.4"))
    t.feed(slave_stats(1, T0, mem=0.97), slave_stats(2, T0))
    t.check(size)
    steps = itertools.cycle([
        lambda: t.tick(1),
        lambda: t.talk(10),
        lambda: t.press("down", size=size),
        lambda: t.feed(p.SlaveBuild(3, t.fast.now, "scipy", "1.0")),
        lambda: t.feed(slave_stats(1, t.fast.now, mem=0.1)),
        lambda: t.tick(1),
    ])
    for _ in range(18):
        next(steps)()
        t.check(size)
    # slaves late, then silent, while the master talks; then the master
    # goes quiet and the rows are a stale picture
    for _ in range(4):
        t.talk(100)
        t.check(size)
    t.tick(60)
    t.check(size)
    t.tick(1)
    t.check(size)
    assert t.spliced > 20


@pytest.fixture(params=["ascii", "latin-1", "euc-jp"])
def narrow_terminal(request):
    """urwid drawing for a terminal that is not UTF-8, as setup_charset sets it."""
    urwid.set_encoding(request.param)
    urwid.util.set_ascii_fallbacks(symbols.FALLBACKS)
    measure.forget_drawn()
    symbols.use_ascii(True)
    try:
        yield request.param
    finally:
        urwid.set_encoding("utf-8")
        measure.forget_drawn()
        symbols.use_ascii(False)


@pytest.mark.parametrize("size", [(50, 16), (80, 24), WIDE])
def test_labels_off_utf8_draw_aligned_and_as_a_full_layout(
        monkeypatch, narrow_terminal, size):
    # a label starting with a combining mark once made its row a column
    # wider than the screen off UTF-8: its "?" takes the column the mark
    # does not (urwid's CanvasError, a crash)
    t = Twins(monkeypatch)
    t.feed(master_hello(), master_stats())
    for sid, label in enumerate(LABELS, 1):
        t.feed(slave_hello(sid, label), p.SlaveSleep(sid, T0, False))
    t.check(size)
    for _ in range(3):
        t.tick(1)
        t.check(size)
    lines = [line for line in t.fast.screen(size) if "cp311" in line]
    assert len(lines) == len(LABELS)
    # every row's ABI and up time in the same columns
    for cell in ("cp311", "00:00:03"):
        assert len({measure.width(line[:line.index(cell)])
                    for line in lines}) == 1, (cell, lines)


def test_timers_past_100_hours_draw_what_a_full_layout_draws(monkeypatch):
    t = Twins(monkeypatch)
    farm_of(t.fast, 3)
    farm_of(t.full, 3)
    t.talk(100 * 3600)
    for _ in range(3):
        t.talk(10)
        t.check(WIDE)
        t.tick(1)
        t.check(WIDE)
    assert t.spliced


def test_a_changed_cell_shows_after_the_next_refresh_and_timers_move(h):
    farm_of(h, 3)
    h.feed(slave_stats(2, T0, mem=0.25))
    h.tick(1)
    before = row_line(h, "pi-02")
    assert "Waiting for jobs" in before and " 25% " in before
    assert "00:00:01" in before
    # the task and the memory column change in the model: the row says so
    # at the next refresh, with no tick
    h.feed(p.SlaveBuild(2, h.now, "numpy", "1.26.4"),
           slave_stats(2, h.now, mem=0.75))
    after = row_line(h, "pi-02")
    assert "Building numpy 1.26.4" in after and " 75% " in after
    assert " 25% " not in after and "Waiting" not in after
    # a tick moves both timers and leaves the other cells as they were
    h.tick(1)
    ticked = row_line(h, "pi-02")
    assert "00:00:02   00:00:01" in ticked
    assert ticked.replace("00:00:02   00:00:01", "") == \
        after.replace("00:00:01   00:00:00", "")
    # the rows around it are right too
    assert "00:00:02  \u226500:00:02" in row_line(h, "pi-01")
    assert "Waiting for jobs" in row_line(h, "pi-03")


def test_a_row_whose_texts_did_not_change_is_not_redrawn(h):
    farm_of(h, 2)
    h.talk(100 * 3600 + 5)
    # the second row: the first is the selection, drawn with the focus
    row = h.console.slave_list.row_widgets[1]
    assert "4d 04:00  \u22654d 04:00" in row_line(h, "pi-02")

    def cached():
        return urwid.CanvasCache.fetch(row, widgets.SlaveRow, (WIDE[0],),
                                       False) is not None

    # urwid caches a canvas while the screen drawn holds it
    drawn = h.console.render(WIDE, focus=True)
    assert cached()
    # timers past 100 hours show minutes: a tick within the minute leaves
    # the row's canvas in urwid's cache
    h.tick(1)
    assert cached()
    drawn = h.console.render(WIDE, focus=True)
    # ... and it is still looked at on the next ticks: the minute turns
    # (the master talking, so that nothing else redraws the rows)
    h.talk(60)
    assert not cached()
    assert "4d 04:01  \u22654d 04:01" in row_line(h, "pi-02")
    del drawn


def test_rows_scrolled_away_leave_the_rows_a_tick_looks_at(h):
    # frozen timers (a lost master) change no text: a row scrolled away is
    # still looked at on every tick, until STILL_TICKS ticks redraw it
    farm_of(h, 40)
    h.talk(60)
    small = (120, 12)
    h.screen(small)
    for _ in range(40):
        h.press("down", size=small)
        h.screen(small)
    h.feed(p.LinkDown("status queue disconnected"))
    h.screen(small)
    view = h.console.slave_list.view
    seen = len(view.drawn)
    assert seen > 15  # rows from the top and the bottom of the list
    for _ in range(widgets.STILL_TICKS + 1):
        h.tick(1)
        h.screen(small)
    # only the rows on screen (and the master's) are left
    assert len(view.drawn) <= small[1]
    assert "pi-40" in "\n".join(h.screen(small))


def test_a_master_going_quiet_restyles_rows_the_tick_would_leave(h):
    farm_of(h, 2)
    h.talk(100 * 3600)
    h.screen(WIDE)
    h.tick(50)  # the master has said nothing for a minute
    canvas = h.console.render(WIDE, focus=True)
    rows = [row for row in canvas.content()
            if b"pi-02" in b"".join(text for _a, _c, text in row)]
    assert rows and all(attr == "stale" for attr, _cs, text in rows[0]
                        if text.strip())


@pytest.mark.parametrize("text", [
    "-", "00:00:00", "99:59:59", "4d 04:00", "123d 04:00", "12345d 04:00",
    "\u226500:00:00", "\u22654d 04:00", "\u2265123d 04:00", ">=00:00:01",
    "\u2265\u2265", "日本", "\u0301x",
])
def test_a_time_cell_is_what_fit_makes_of_it(text):
    from piw_monitor.ui import format as fmt

    cell = fmt.fit(text, widgets.Layout.TIME, "right")
    data, cs = urwid.util.apply_target_encoding(cell)
    got = widgets._time_cell(text)
    # None only where the cell is not one column a character, or needs a
    # character set shift (the mark drawn from DEC graphics off UTF-8)
    assert got == data or got is None and (
        not widgets._plain(cell) or any(c is not None for c, _n in cs))


def test_text_typed_or_wrapped_off_utf8_is_measured_as_written(
        narrow_terminal):
    # the filter's words name what was typed; a details value is wrapped
    # as it will be written, so that no line is clipped
    from piw_monitor.ui import measure
    from piw_monitor.ui.details import wrap

    empty = widgets.EmptyRow()
    empty.explain("\u03b1\u03b2", total=3)
    for cols in (23, 40):
        canvas = empty.render((cols,))
        assert canvas.cols() == cols
    # each line as the details pane draws it
    lines = [measure.text(line, wrap="clip").render((12,)).text[0]
             .decode(urwid.util.get_encoding()).rstrip()
             for line in wrap("Zoe\u0308 Zoe\u0308 Zoe\u0308 Zoe\u0308 end",
                              12)]
    assert lines[-1].endswith("end")
    assert sum(line.count("Zoe") for line in lines) == 4, lines
    # an ellipsis written wider than it measures is its ASCII stand-in
    assert widgets.fmt.fit("buildslave-01", 8) in ("buildsl\u2026",
                                                     "buildsl~", "buildsl?")


@pytest.mark.parametrize("size", [(50, 8), (50, 16), (60, 24), (80, 24)])
def test_the_help_and_its_title_fit_off_utf8(narrow_terminal, size):
    # the help's longer title, cut at 50 columns, once ended in an ellipsis
    # written two cells wide in EUC-JP: urwid's CanvasError, a crash
    h = Harness()
    farm_of(h)
    h.press("h", size=size)
    screen = h.screen(size)
    assert all(len(line) == size[0] for line in screen)
    title = next(line for line in screen if "Help (Esc closes)" in line)
    assert "more" in title
    h.press("end", size=size)
    h.press("page down", size=size)
    assert all(len(line) == size[0] for line in h.screen(size))
