"""
Resources (issue 18): thresholds and pressure flags, the bounded history of
STATS, the charts drawn in text, the queue's outlook, the resource columns
of the list at several widths, the options, and the demo's hungry slave
seen end to end in a pseudo-terminal.
"""

import datetime as dt
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from urwid.testing import click

from piw_monitor import charts, cli, headless
from piw_monitor import protocol as p
from piw_monitor.model import Farm
from piw_monitor.pressure import (
    HISTORY, History, Thresholds, about, figures, outlook, outlook_words,
    parse_thresholds,
)
from piw_monitor.ui import format as fmt
from piw_monitor.ui import measure
from piw_monitor.ui.details import master_details, slave_details, wrap
from piw_monitor.ui.widgets import Layout

from .terminal import Terminal
from .test_ui import (
    T0, Harness, farm_of, master_hello, master_stats, slave_hello,
)

G = 10**9
SEC = dt.timedelta(seconds=1)


def stats(sid, when, *, mem=0.3, swap=0.0, disk_free=0.6, load=1.0,
          temp=50.0, swap_size=G // 10, stamp=None):
    """A slave's STATS with memory and swap *used* and disk *free* shares."""
    return p.SlaveStats(
        sid, when, stamp or when, 32 * G, int(32 * G * disk_free), 4 * G,
        int(4 * G * (1 - mem)), swap_size, int(swap_size * (1 - swap)),
        load, temp)


@pytest.fixture(autouse=True)
def blocks():
    charts.use_ascii(False)
    yield
    charts.use_ascii(False)


# ------------------------------------------------------------ thresholds

def test_levels_on_the_default_scale():
    t = Thresholds()
    assert [t.level("memory", v) for v in (10, 50, 69.9, 70, 90, 100)] == \
        [0, 1, 1, 2, 3, 3]
    # disk: free space, less is worse
    assert [t.level("disk", v) for v in (80, 30, 20, 10, 0)] == [0, 1, 2, 3, 3]
    assert [t.level("temp", v) for v in (40, 60, 75, 85)] == [0, 1, 2, 3]
    assert t.level("load", None) == 0 and t.level("load", float("nan")) == 0


def test_pressure_flags_say_which():
    t = Thresholds()

    def flags(**kw):
        return t.flags(figures(stats(1, T0, **kw)))
    assert flags() == ()
    # memory nearly full but swap barely used: caches, not yet trouble
    assert flags(mem=0.95, swap=0.1) == ()
    assert flags(mem=0.95, swap=0.75) == ("memory",)
    assert flags(mem=0.75, swap=0.95) == ("memory",)
    # without swap, memory nearly full is the whole story
    assert flags(mem=0.95, swap_size=0) == ("memory",)
    assert flags(mem=0.8, swap_size=0) == ()
    assert flags(disk_free=0.05) == ("disk",)
    assert flags(load=9.0, temp=82.0) == ("load", "hot")


@pytest.mark.parametrize("text, resource, reason", [
    ("50,70", "memory", "three numbers"),
    ("a,b,c", "memory", "not three numbers"),
    ("90,70,50", "memory", "must not fall"),
    ("10,20,30", "disk", "must not rise"),
    ("50,70,190", "swap", "at most 100"),
    ("-1,2,3", "load", "at least 0"),
])
def test_bad_thresholds_are_refused_with_a_reason(text, resource, reason):
    with pytest.raises(ValueError, match=reason):
        parse_thresholds(text, resource)


def test_thresholds_from_the_command_line_and_a_file(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    conf = tmp_path / "piw.conf"
    conf.write_text("[monitor]\nmemory-thresholds = 40,60,80\n"
                    "temp-thresholds = 55, 65, 75\n")
    args = cli.parse_args(["-c", str(conf), "--load-thresholds", "2,3,4"])
    t = cli.thresholds(args)
    assert t.memory == (40, 60, 80) and t.temp == (55, 65, 75)
    assert t.load == (2, 3, 4) and t.disk == (30, 20, 10)
    # the command line beats the file
    args = cli.parse_args(["-c", str(conf), "--memory-thresholds", "1,2,3"])
    assert cli.thresholds(args).memory == (1, 2, 3)


def test_a_bad_threshold_in_a_file_names_the_file(tmp_path, capsys,
                                                  monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    conf = tmp_path / "piw.conf"
    conf.write_text("disk-thresholds = 10,20,30\n")
    with pytest.raises(SystemExit) as exc:
        cli.parse_args(["-c", str(conf)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(conf) in err and "must not rise" in err


# ------------------------------------------------------------ the model

def test_the_model_keeps_a_bounded_history_and_flags_in_o1():
    farm = Farm()
    farm.apply(master_hello(), T0)
    for i in range(HISTORY + 20):
        t = T0 + i * SEC
        farm.apply(stats(1, t, mem=min(0.3 + i / 100, 0.99),
                         swap=min(i / 100, 0.99)), t)
    slave = farm.slaves[1]
    assert len(slave.stats_history) == HISTORY
    # the oldest went first
    assert slave.stats_history.series("time")[0] == (T0 + 20 * SEC).timestamp()
    assert slave.pressure == ("memory",) and farm.under_pressure() == 1
    assert farm.pressure_counts()["memory"] == 1
    # the slave leaves: it no longer counts
    farm.apply(p.SlaveDie(1, T0 + 200 * SEC), T0 + 200 * SEC)
    farm.tick(T0 + 300 * SEC)
    assert farm.under_pressure() == 0


def test_a_replay_does_not_duplicate_the_history():
    farm = Farm()
    farm.apply(p.LinkUp(), T0)
    farm.apply(master_hello(), T0)
    hello = p.SlaveHello(1, T0, dt.timedelta(hours=3),
                         dt.timedelta(seconds=300), "311", "cp311",
                         "linux_aarch64", "pi-01", "os", "1", "b", "s")
    reports = [stats(1, T0 + i * SEC) for i in range(5)]
    replay = [hello, *reports, p.SlaveSleep(1, T0 + 5 * SEC, False)]
    for event in replay:
        farm.apply(event, T0 + 5 * SEC)
    assert len(farm.slaves[1].stats_history) == 5
    # another monitor's HELLO: the master replays it all again (restamped)
    later = T0 + 20 * SEC
    farm.apply(master_hello(), later)
    for event in replay:
        if isinstance(event, p.SlaveStats):
            event = stats(1, later, stamp=event.stats_timestamp)
        farm.apply(event, later)
    assert len(farm.slaves[1].stats_history) == 5
    farm.apply(stats(1, later + SEC), later + SEC)
    assert len(farm.slaves[1].stats_history) == 6


def test_thresholds_set_later_judge_every_slave_again():
    farm = Farm()
    farm.apply(stats(1, T0, load=5.0), T0)
    assert farm.slaves[1].pressure == ()
    farm.set_thresholds(Thresholds(load=(1.0, 2.0, 3.0)))
    assert farm.slaves[1].pressure == ("load",)
    assert farm.under_pressure() == 1


def test_history_ring_keeps_unknown_figures_as_gaps():
    h = History(capacity=3)
    assert h.series("memory") == [] and h.span() == 0
    h.append(stats(1, T0, swap_size=0))
    assert h.series("swap") == [None]
    for i in range(1, 5):
        h.append(stats(1, T0 + i * 10 * SEC))
    assert len(h) == 3 and h.span() == 20.0


# ------------------------------------------------------------ charts

def test_sparkline_of_a_rising_series():
    assert charts.sparkline([0, 1, 2, 3, 4, 5, 6, 7], 8) == charts.BLOCKS
    charts.use_ascii()
    assert charts.sparkline([0, 1, 2, 3, 4, 5, 6, 7], 8) == "_.-=+*#@"
    assert charts.ascii_mode()


def test_sparkline_of_empty_flat_gappy_and_out_of_range_series():
    assert charts.sparkline([], 10) == ""
    assert charts.sparkline([None, None], 10) == "  "
    # flat: the middle level; on a fixed scale, where it stands
    assert charts.sparkline([5, 5, 5], 10) == "\u2584" * 3
    assert charts.sparkline([100, 100], 10, 0, 100) == "\u2588" * 2
    # out of range: drawn at the nearest end; a gap for a missing figure
    assert charts.sparkline([-50, None, 250], 10, 0, 100) == \
        "\u2581 \u2588"
    assert charts.sparkline([float("nan"), float("inf"), 1.0], 5) == \
        "  \u2584"


def test_a_range_finer_than_its_figures_is_one_approximate_figure():
    # disk free moving by 40 MB: both ends read 16.7 GB
    size = fmt.size
    text = charts.chart([16.74e9, 16.72e9, 16.70e9], size, width=3,
                        span=240)
    assert " ~16.7 GB over 4 min, falling" in text
    assert ".." not in text
    # a range the figures can tell, and a flat series, are as ever
    assert " 16.7 GB..16.9 GB," in charts.chart([16.7e9, 16.9e9], size)
    assert " 16.7 GB," in charts.chart([16.7e9, 16.7e9], size)


def test_a_long_series_is_fitted_to_the_width():
    line = charts.sparkline(list(range(100)), 20)
    assert len(line) == 20 and line[0] == "\u2581" and line[-1] == "\u2588"


def test_chart_line_with_range_span_and_trend():
    text = charts.chart([35, 40, 60, 92], lambda v: f"{v:.0f}%", width=8,
                        lo=0, hi=100, span=240)
    assert text.endswith("35%..92% over 4 min, rising \u2197")
    assert charts.chart([], str) == "no figures yet"
    assert charts.chart([None], str) == "no figures yet"
    assert charts.chart([3, 3], lambda v: f"{v:.0f}") .endswith(
        " 3, steady \u2192")
    assert charts.trend([9, 8, 2, 1]) == "falling"
    assert charts.trend([1]) == ""
    charts.use_ascii()
    assert charts.chart([1, 9], str, width=2).endswith("rising /")


def test_a_narrow_pane_breaks_a_chart_between_its_pieces_only():
    # the details pane beside the list is narrow: its chart lines broke
    # inside a range ("20.6 GB..21.3" / "GB over 3 min,") and left the
    # arrow alone on a line
    farm = Farm()
    farm.apply(slave_hello(1, T0), T0)
    for i, free in enumerate((0.65, 0.64, 0.66, 0.67)):
        farm.apply(stats(1, T0 + i * 60 * SEC, disk_free=free, load=1 + i),
                   T0 + i * 60 * SEC)
    value = dict(slave_details(farm.slaves[1], T0 + 240 * SEC))["  disk free"]
    whole = value if isinstance(value, str) else " ".join(value)
    assert re.search(r" 20\.\d GB\.\.21\.\d GB over 3 min, rising ", whole)
    counts = set()
    for width in range(8, len(whole) + 2):
        lines = wrap(value, width)
        assert all(measure.width(line) <= width for line in lines)
        # the arrow always with its word
        assert not any(line.strip() in ("\u2197", "/") for line in lines)
        if width >= 20:
            # what the user reads: the range whole on one line
            assert any(re.search(r"20\.\d GB\.\.21\.\d GB", line)
                       for line in lines), (width, lines)
            assert any("rising \u2197" in line for line in lines)
        counts.add(len(lines))
    assert {1, 2, 3, 4} <= counts


# ------------------------------------------------------------ outlook

def test_the_queues_outlook_by_abi():
    rows = outlook({"cp311": 44, "cp39": 5, "cp313": 0},
                   {"cp311": 12, "cp39": 0})
    assert [outlook_words(*row) for row in rows] == [
        "cp39: 5 pending, 0/h, not draining",
        "cp311: 44 pending, 12/h, about 3 h 40 min",
        "cp313: 0 pending, 0/h, empty",
    ]
    assert about(20) == "under a minute" and about(3 * 86400) == "about 3 days"
    # large counts grouped by thousands, as the rest of the details
    assert outlook_words("cp311", 12000, 1500, 28800).startswith(
        "cp311: 12,000 pending, 1,500/h, ")


# ------------------------------------------------------------ the screen

def hungry_harness():
    h = Harness()
    farm_of(h, 3)
    for i in range(12):
        t = h.now + 10 * SEC
        h.feed(master_stats(t, pending={"cp311": 44}),
               stats(1, t, mem=0.4 + i * 0.05, swap=i * 0.08,
                     load=3 + i * 0.5, temp=60 + i),
               stats(2, t, mem=0.3, disk_free=0.5), now=t)
    h.feed(p.SlaveBuild(1, h.now, "opencv-python", "4.10.0.84"))
    return h


ALL_FIVE = ["Mem", "Swap", "Disk", "Load", "Temp"]


@pytest.mark.parametrize("label, width, columns", [
    # labels as short as "pi-01": the Label column takes its title's six
    # cells, and the rest goes to the figures
    (None, 80, []), (None, 90, ["Mem"]), (None, 95, ["Mem", "Swap"]),
    (None, 100, ["Mem", "Swap", "Disk"]),
    (None, 105, ["Mem", "Swap", "Disk", "Temp"]),
    (None, 110, ALL_FIVE), (None, 160, ALL_FIVE),
    # a label of 24 cells or more: the column takes a quarter of the room
    ("x" * 30, 80, []), ("x" * 30, 100, ["Mem", "Swap"]),
    ("x" * 30, 110, ["Mem", "Swap", "Disk"]),
    ("x" * 30, 120, ["Mem", "Swap", "Disk", "Temp"]),
    ("x" * 30, 125, ALL_FIVE), ("x" * 30, 160, ALL_FIVE),
])
def test_resource_columns_at_several_widths(label, width, columns):
    h = hungry_harness()
    if label is not None:
        h.feed(slave_hello(3, label), p.SlaveSleep(3, h.now, False))
    screen = h.screen((width, 12))
    titles = screen[2]
    shown = [t for t in ("Mem", "Swap", "Disk", "Load", "Temp")
             if t in titles.split()]
    assert shown == columns
    row = next(line for line in screen if "pi-01" in line)
    # the flag is in the row whatever the width, and the header counts it
    assert "[memory,load] Building" in row
    assert screen[1].startswith("1 under pressure")
    if "Mem" in columns:
        # every figure whole, under its title
        col = titles.index("Mem")
        assert row[col - 1:col + 3].strip() == "95%"
    if "Temp" in columns:
        col = titles.index("Temp")
        assert row[col:col + 4] == "71\N{DEGREE SIGN}C"
    assert len(Layout(width, h.console.view.label_cells).columns()) \
        == 7 + len(columns)


def _lines(canvas):
    return [b"".join(t for _a, _cs, t in row).decode()
            for row in canvas.content()]


def _lined_up(lines):
    """
    Every row of *lines* has its ABI and up time under their titles; returns
    the titles.
    """
    titles = lines[2]
    abi = titles.index("ABI")
    up = titles.index("Up time") + len("Up time")
    rows = [line for line in lines[3:] if line.startswith((
        "\N{BLACK SQUARE}", "\N{BLACK CIRCLE}"))]
    assert len(rows) >= 3, lines  # the master and two slaves at least
    for row in rows:
        assert re.fullmatch(r"\d\d:\d\d:\d\d", row[up - 8:up]), (row, titles)
    for row in rows[1:]:  # the master's row has no ABI
        assert row[abi:abi + 4] == "cp31", (row, titles)
    return titles


def test_a_sort_by_a_column_the_width_leaves_out_is_still_shown():
    h = hungry_harness()
    h.console.sort_by("load")
    wide = h.screen((140, 12))[2]
    assert "\N{BLACK DOWN-POINTING SMALL TRIANGLE}Load" in wide
    assert "sorted by" not in wide
    titles = h.screen((80, 12))[2]
    assert "Mem" not in titles  # no resource column at 80
    assert titles.rstrip().endswith(
        "Task (sorted by \N{BLACK DOWN-POINTING SMALL TRIANGLE}Load)")
    # and still sorted so: the busiest first
    assert h.screen((80, 12))[4].split()[2] == "pi-01"
    # narrower, in fewer words, never cut
    assert h.screen((60, 12))[2].rstrip().endswith(
        "Task (\N{BLACK DOWN-POINTING SMALL TRIANGLE}Load)")
    assert h.screen((50, 12))[2].rstrip().endswith(" Task")


def test_the_label_column_follows_the_widest_label():
    h = hungry_harness()
    size = (110, 12)
    short = h.screen(size)
    assert short[2].split()[2:4] == [
        "Label", "ABI\N{BLACK UP-POINTING SMALL TRIANGLE}"]
    assert "Load" in short[2].split()
    # a click on a title finds the column where it is drawn, and "s" goes
    # through the columns shown
    assert click(h.console, size, short[2].index("Load") + 1, 2)
    assert "\N{BLACK DOWN-POINTING SMALL TRIANGLE}Load" in h.screen(size)[2]
    h.press("s", size=size)
    assert "\N{BLACK DOWN-POINTING SMALL TRIANGLE}Temp" in h.screen(size)[2]
    h.console.sort_by("abi")
    # the screen drawn is kept, as a real one is: urwid then draws every
    # widget not invalidated from its cache, so a row, title or master row
    # left at the old layout would show
    drawn = h.console.render(size, focus=True)
    assert _lined_up(_lines(drawn)) == short[2]
    # a slave with a long label says HELLO: the column grows for it (up to
    # a quarter of the room), and every row and the titles move with it
    h.feed(slave_hello(3, "a-much-longer-label"),
           p.SlaveSleep(3, h.now, False))
    drawn = h.console.render(size, focus=True)
    wide = _lines(drawn)
    titles = _lined_up(wide)
    assert titles.index("ABI") > short[2].index("ABI")
    assert "Load" not in titles.split()
    long_row = next(line for line in wide if " a-much-longer" in line)
    assert long_row.index("a-much-longer") < titles.index("ABI")
    # the timers of a tick are spliced into lines drawn at the new layout
    h.tick(1)
    drawn = h.console.render(size, focus=True)
    assert _lined_up(_lines(drawn)) == titles
    # and it shrinks back once that slave is gone
    h.feed(p.SlaveDie(3, h.now), now=h.now)
    h.tick(300)
    drawn = h.console.render(size, focus=True)
    again = _lines(drawn)
    assert not any(" 3 a-much" in line for line in again)
    assert _lined_up(again) == short[2]
    # the master's label counts too: a (new) master with a longer one, and
    # its replay
    h.feed(master_hello(h.now, label="a-master-with-a-long-label"),
           *(e for sid in (1, 2) for e in (
               slave_hello(sid, f"pi-{sid:02d}", ts=h.now),
               p.SlaveSleep(sid, h.now, False))))
    drawn = h.console.render(size, focus=True)
    master = _lines(drawn)
    assert _lined_up(master).index("ABI") > short[2].index("ABI")
    assert any(" a-master-with" in line for line in master)


def test_resource_cells_are_coloured_by_level():
    h = hungry_harness()
    h.press("home")  # the master's row: a selected row has one colour
    (canvas,) = [h.console.slave_list.row_widgets[0].render((140,))]
    attrs = [a for row in canvas.content() for a, _cs, _t in row]
    assert "res-critical" in attrs and "pressure" in attrs
    (canvas,) = [h.console.slave_list.row_widgets[1].render((140,))]
    attrs = [a for row in canvas.content() for a, _cs, _t in row]
    assert "res-critical" not in attrs and "pressure" not in attrs


def test_a_narrow_statistics_line_leaves_out_the_least_needed_first():
    h = hungry_harness()
    line = {w: h.screen((w, 12))[1].rstrip() for w in (160, 80, 70, 50)}
    # (narrower than 50, the console shows only that it is too small)
    line[40] = h.console.header._line2.render((40,)).text[0].decode()
    assert line[160] == ("1 under pressure \N{MIDDLE DOT} Builds/h 3 "
                         "\N{MIDDLE DOT} Pending 44 \N{MIDDLE DOT} Disk free "
                         "42.0 GB \N{MIDDLE DOT} Slaves 3: 2 idle, 1 building")
    # the master's disk free goes first, then its builds an hour, then its
    # pending builds: the slave counts stay whole
    assert line[80] == ("1 under pressure \N{MIDDLE DOT} Builds/h 3 "
                        "\N{MIDDLE DOT} Pending 44 \N{MIDDLE DOT} "
                        "Slaves 3: 2 idle, 1 building")
    assert line[70] == ("1 under pressure \N{MIDDLE DOT} Pending 44 "
                        "\N{MIDDLE DOT} Slaves 3: 2 idle, 1 building")
    assert line[50] == ("1 under pressure \N{MIDDLE DOT} "
                        "Slaves 3: 2 idle, 1 building")
    # the pressure count and the slave counts are never left out: cut
    assert line[40].startswith("1 under pressure \N{MIDDLE DOT} Slaves 3:")
    assert line[40].endswith("\N{HORIZONTAL ELLIPSIS}")
    # a warning's count is never left out either; its explanation (the
    # latest reason, which the event log keeps too) goes first
    h.farm.apply(p.BadFrame("not a message", 3), h.now)
    h.console.refresh(h.now)
    warned = {w: h.screen((w, 12))[1].rstrip() for w in (140, 120, 80)}
    assert warned[140] == line[160] + "  1 bad frames (latest: not a message)"
    assert warned[120] == line[160] + "  1 bad frames"
    assert warned[80] == line[70] + "  1 bad frames"


def test_the_statistics_line_fits_with_a_filter_off_utf8_and_before_stats():
    from piw_monitor.ui import symbols
    h = hungry_harness()
    h.press("/", *"pi-0", "enter")
    assert h.screen((80, 12))[1].rstrip() == (
        "1 under pressure \N{MIDDLE DOT} Builds/h 3 \N{MIDDLE DOT} Pending "
        "44 \N{MIDDLE DOT} 3 of 3 slaves (filter 'pi-0')")
    assert h.screen((60, 12))[1].rstrip() == (
        "1 under pressure \N{MIDDLE DOT} 3 of 3 slaves (filter 'pi-0')")
    symbols.use_ascii(True)
    try:
        h.console.header._line2._invalidate()
        assert h.screen((60, 12))[1].rstrip() == (
            "1 under pressure - 3 of 3 slaves (filter 'pi-0')")
    finally:
        symbols.use_ascii(False)
    # a master that has sent no STATS: the counts alone
    fresh = Harness()
    fresh.feed(master_hello())
    assert fresh.screen((50, 12))[1].rstrip() == "Slaves 0"


def test_the_flag_stays_red_on_the_selected_row_and_when_cut():
    h = hungry_harness()
    # the hungry slave is the first: selected, and drawn with the focus
    (row,) = [r for r in h.console.slave_list.row_widgets
              if r.slave.slave_id == 1]
    assert row.selected

    def attr_of(text, canvas):
        for run in canvas.content():
            for attr, _cs, chunk in run:
                if text.encode() in chunk:
                    return attr
        raise AssertionError((text, canvas.text))

    assert attr_of("[memory,load]", row.render((140,), focus=True)) \
        == "pressure"
    assert attr_of("[memory,load]", row.render((140,))) == "pressure"
    # whole in a column of exactly its width (no room for the space after
    # it), and as far as it shows in a narrower one, before the ellipsis
    for width, words in ((60, "[memory,load]"), (58, "[memory,load]"),
                         (55, "[memory,lo"), (50, "[memo")):
        canvas = row.render((width,))
        assert words in canvas.text[0].decode()
        assert attr_of(words, canvas) == "pressure", width
    # the master gone silent: the rows are the old picture, in its colours;
    # the selected row keeps the selection's, flag and all
    h.feed(stats(2, h.now, mem=0.99, swap=0.99), now=h.now)
    h.tick(300)
    assert h.console.view.stale
    (other,) = [r for r in h.console.slave_list.row_widgets
                if r.slave.slave_id == 2]
    assert other.slave.pressure and not other.selected
    assert attr_of("[memory]", other.render((140,))) == "stale"
    assert attr_of("[memory,load]", row.render((140,))) == "selected"
    assert attr_of("[memory,load]", row.render((140,), focus=True)) \
        == "focus"


def test_sorting_by_memory_puts_the_worst_first():
    h = hungry_harness()
    # chosen, a resource column sorts the worst first: the fullest memory
    # (descending, marked so), the least free disk (ascending)
    h.console.sort_by("mem")
    rows = [line for line in h.screen((140, 12)) if "pi-0" in line]
    assert "pi-01" in rows[0]
    assert "\u25beMem" in h.screen((140, 12))[2]
    assert "Sorted by Mem, most used first." in h.text((140, 12))
    h.console.sort_by("disk")
    rows = [line for line in h.screen((140, 12)) if "pi-0" in line]
    assert "pi-02" in rows[0] and "pi-03" in rows[-1]  # no figures: last
    assert "\u25b4Disk" in h.screen((140, 12))[2]
    assert "Sorted by Disk, least free first." in h.text((140, 12))


def test_details_draw_charts_and_the_pressure():
    h = hungry_harness()
    slave = h.farm.slaves[1]
    pairs = {k: v if isinstance(v, str) else " ".join(v)
             for k, v in slave_details(slave, h.now)}
    assert pairs["Pressure"].startswith("memory 95% used, swap 88% used")
    assert pairs["Pressure"].endswith("Enter: Skip build and kill slave")
    assert pairs["History"] == "12 reports over 2 min"
    assert pairs["  memory"].endswith("40%..95% over 2 min, rising \u2197")
    assert pairs["  memory"][0] == "\u2584"   # 40% of 0..100
    assert "\u2588" in pairs["  load"]
    master = {k: v if isinstance(v, str) else " ".join(v)
              for k, v in master_details(h.farm, h.now)}
    assert master["Outlook"] == "cp311: 44 pending, 3/h, about 14 h 40 min"
    outlook = dict(master_details(h.farm, h.now))["Outlook"]
    for width in range(17, 30):
        # broken between its clauses, the time to empty whole
        lines = wrap(outlook, width)
        assert any("about 14 h 40 min" in line for line in lines), lines
    assert master["  pending"].endswith("7..44 over 2 min, rising \u2197")
    # the pane beside the list shows them, wrapped rather than cut
    h.press("d")
    text = h.text((160, 40))
    assert "Pressure" in text and "rising" in text


# ------------------------------------------------------------ headless

def test_json_carries_resources_pressure_and_history():
    h = hungry_harness()
    data = json.loads(json.dumps(headless.snapshot(h.farm, h.now)))
    one = data["slaves"][0]
    assert one["pressure"] == ["memory", "load"]
    res = one["resources"]
    assert res["mem_used_pct"] == 95.0 and res["mem_size"] == 4 * G
    assert res["levels"] == {"memory": "critical", "swap": "warning",
                             "disk": "ok", "load": "critical",
                             "temp": "warning"}
    assert len(one["history"]["memory"]) == 12
    assert one["history"]["time"][0] == (T0 + 10 * SEC).isoformat()
    assert data["slaves"][2]["resources"] is None
    assert data["master"]["slaves_under_pressure"] == 1
    assert data["master"]["outlook"][0]["empty_in"] == 52800


def test_check_counts_slaves_under_memory_pressure():
    h = hungry_harness()
    status, summary, perf = headless.judge(h.farm, h.now)
    assert status == headless.WARNING
    assert summary.startswith("1 slave under memory pressure - ")
    assert "(0 silent, 1 under pressure)" in summary
    assert "memory_pressure=1;0;2;0;3" in perf
    assert "disk_pressure=0;0;2;0;3" in perf
    status, _summary, _perf = headless.judge(
        h.farm, h.now, warn_memory_pressure=1, crit_memory_pressure=1)
    assert status == headless.CRITICAL


# ------------------------------------------------------------ end to end

def test_the_demos_hungry_slave_end_to_end(tmp_path):
    """
    A newcomer's ``--demo``: the hungry slave is flagged, counted in the
    header, and its details chart its memory filling up.
    """
    term = Terminal(["--demo", "--demo-speed", "20"], rows=40, cols=160,
                    env={"TMPDIR": str(tmp_path)})
    try:
        term.wait_for(lambda t: any("[memory" in line for line in t.lines),
                      timeout=40, what="a slave flagged under memory pressure")
        term.wait_for("under pressure")
        row = next(line for line in term.lines if "[memory" in line)
        assert "Building opencv-python" in row
        # the hungry slave is the first row (cp39), selected at start
        term.key("d")
        term.wait_for("Pressure")
        term.wait_for(lambda t: "rising" in t.text and "History" in t.text,
                      what="the history charts")
        assert "Skip build and kill slave" in term.text
        term.key("q")
        assert term.wait_exit() == 0
        assert term.restored() == []
    finally:
        term.close()


def test_the_charts_show_below_the_list_on_an_80_column_terminal():
    # below the list (under 120 columns) the pane shows only its first
    # lines: the pressure and the charts come before what does not change
    h = hungry_harness()
    h.press("d", size=(80, 24))   # the hungry slave is selected first
    text = h.text((80, 24))
    assert "Pressure" in text
    for chart in ("memory", "swap", "disk free", "load"):
        assert f"  {chart} " in text, (chart, text)


def test_the_details_pane_scrolls_to_what_does_not_fit():
    # at 80x24 the pane below the list shows ten lines: the master's charts
    # and the slave's identity were out of reach, and nothing said so
    h = hungry_harness()
    size = (80, 24)
    h.press("]", size=size)
    assert "The details pane is not open: d opens it." in h.text(size)
    h.press("d", "home", size=size)
    first = h.text(size)
    assert "Details (] for more)" in first
    # the master's state in the header's word
    assert "State        running" in first
    # what to act on first: the queue, then its charts
    assert "Outlook" in first and "  temp" not in first
    pages = [first]
    for _ in range(10):
        h.press("]", size=size)
        text = h.text(size)
        if text == pages[-1]:
            break
        pages.append(text)
    whole = "\n".join(pages)
    for line in ("History", "  builds/h", "  pending", "  downloads",
                 "  disk free", "  memory", "  load", "  temp", "Downloads",
                 "OS", "Clock skew"):
        assert line in whole, line
    last = pages[-1]
    assert "Details ([ back up)" in last
    assert "The details pane shows its last lines." in last
    # a pane at a time, with a line in common, so that none is missed
    assert len(pages) >= 3
    h.press("[", size=size)
    assert "Details ([ ] to scroll)" in h.text(size)
    for _ in range(len(pages)):
        h.press("[", size=size)
    text = h.text(size)
    assert "Details (] for more)" in text and "Outlook" in text
    assert "The details pane shows its first lines." in text
    # another row's details start at their top
    h.press("]", size=size)
    h.press("down", size=size)
    text = h.text(size)
    assert "Details (] for more)" in text and "State" in text
    # a wide pane that holds everything has a plain title
    h.press("[", size=(200, 80))
    assert "Details (" not in h.text((200, 80))
    assert "Details" in h.text((200, 80))


def _pane_lines(h, size):
    """The details pane's title line and its lines, as drawn at *size*."""
    screen = h.screen(size)
    top = next(i for i, line in enumerate(screen) if "Details" in line)
    left = screen[top].index("\u250c")
    right = screen[top].index("\u2510", left)
    bottom = next(i for i in range(top + 1, len(screen))
                  if screen[i][left] == "\u2514")
    return screen[top], [line[left + 1:right].rstrip()
                         for line in screen[top + 1:bottom]]


def test_the_details_scroll_stays_true_as_things_change():
    h = hungry_harness()
    size = (80, 18)   # eight lines inside the pane
    h.press("d", "down", "down", size=size)   # slave 3, no pressure
    h.text(size)   # drawn, as a terminal shows it before the next key
    h.press("[", size=size)
    assert "The details pane shows its first lines." in h.text(size)
    h.press("]", size=size)
    title, lines = _pane_lines(h, size)
    # moved: what was said at the top is no longer said
    assert "shows its first lines" not in h.text(size)
    assert "h: help" in h.text(size)
    top = lines[0]
    # a line above the one read at the top comes: the view stays on it
    t = h.now + SEC
    h.feed(stats(3, t, mem=0.97, swap=0.9), now=t)
    title, lines = _pane_lines(h, size)
    assert lines[0].split()[0] == top.split()[0], (top, lines)
    # the last view is a full one
    for _ in range(6):
        h.press("]", size=size)
    title, lines = _pane_lines(h, size)
    assert "Details ([ back up)" in title and lines[-1].strip(), lines
    # a taller terminal: nothing is left hidden above a blank bottom
    title, lines = _pane_lines(h, (80, 60))
    assert "Details (" not in title, title
    assert lines[0].startswith("Slave        3"), lines
    # in the event log, ] says what to do; d there shows the details
    h.press("]", size=size)
    h.press("l", size=size)
    h.press("]", size=size)
    assert "The event log is open: l closes it, d shows the details." in \
        h.text(size)
    h.press("d", size=size)
    title, lines = _pane_lines(h, size)
    # and a pane opened again starts at the top
    assert lines[0].startswith("Slave        3"), lines
    h.press("]", size=size)
    h.press("d", "d", size=size)
    title, lines = _pane_lines(h, size)
    assert lines[0].startswith("Slave        3"), lines


@pytest.mark.parametrize("size", [(50, 8), (50, 9), (50, 12), (80, 8), (80, 24),
                                  (120, 8)])
@pytest.mark.parametrize("row", ["home", None])
def test_every_line_of_the_details_is_reached_a_pane_at_a_time(size, row):
    # a value taller than a small pane (the hungry slave's Pressure at
    # 50x12) had lines no key could reach
    h = hungry_harness()
    h.press("d", size=size)   # the hungry slave is selected first
    if row:
        h.press(row, size=size)
    # everything, as a pane tall enough for it draws it at this width
    whole = _pane_lines(h, (size[0], 200))[1]
    while whole and not whole[-1].strip():
        whole.pop()
    _title, view = _pane_lines(h, size)
    assert whole[:len(view)] == view
    at, shown = 0, len(view)   # where the view starts; lines seen so far
    for _ in range(len(whole)):
        h.press("]", size=size)
        text = h.text(size)
        if "The details pane shows its last lines." in text:
            break
        _title, view = _pane_lines(h, size)
        start = next(i for i in range(at + 1, len(whole))
                     if whole[i:i + len(view)] == view)
        # the bottom line of one view is the top of the next (the last,
        # full view may go back further); a pane of one line steps a line
        assert start == shown - 1 or (len(view) == 1 and start == shown) \
            or start + len(view) == len(whole), (at, shown, start)
        at, shown = start, start + len(view)
    else:
        raise AssertionError("] never reached the end")
    assert shown == len(whole)
    assert "Details ([ back up)" in _pane_lines(h, size)[0]
    if row is None:
        assert any("Enter: Skip build and kill slave" in line
                   for line in whole), whole


def test_the_mouse_wheel_scrolls_the_details_pane():
    h = hungry_harness()
    size = (80, 24)
    h.press("d", "home", size=size)
    screen = h.screen(size)
    top = next(i for i, line in enumerate(screen) if "Details" in line)
    first = _pane_lines(h, size)[1]
    # a turn down over the pane: three lines
    assert click(h.console, size, 20, top + 3, button=5)
    lines = _pane_lines(h, size)[1]
    assert lines[:len(lines) - 3] == first[3:]
    assert "Details ([ ] to scroll)" in _pane_lines(h, size)[0]
    assert click(h.console, size, 20, top + 3, button=4)
    assert _pane_lines(h, size)[1] == first
    # not past the top
    click(h.console, size, 20, top + 3, button=4)
    assert _pane_lines(h, size)[1] == first
    # what the status line said at an end is gone once the wheel moves it
    h.press("[", size=size)
    assert "shows its first lines" in h.text(size)
    click(h.console, size, 20, top + 3, button=5)
    assert "shows its first lines" not in h.text(size)


def test_details_that_shrink_while_scrolled_fill_the_pane():
    h = hungry_harness()
    size = (80, 24)
    h.press("d", "home", size=size)
    h.text(size)
    h.press("]", "]", "]", size=size)
    assert "back up" in _pane_lines(h, size)[0]
    # the master restarts: a short picture, no statistics yet
    later = h.now + 60 * SEC
    h.feed(master_hello(later), now=later)
    title, lines = _pane_lines(h, size)
    assert lines[0].startswith("Master"), lines
    assert "Details (" not in title


def test_the_masters_details_order_abis_and_scale_the_disk():
    h = hungry_harness()
    t = h.now + SEC
    h.feed(p.MasterStats(
        t, 642902, {"cp311": 3000, "cp39": 2000, "cp313": 1000},
        dt.timedelta(days=2), 3 * 10**12, {"cp311": 12, "cp39": 20},
        17, 1298675, 54149, 44723426, 987654321, 100 * 10**9, 16 * 10**9,
        8 * 10**9, 4 * 10**9, 2 * 10**9, 10**9, 1.73, 52.0), now=t)
    pairs = {k: v if isinstance(v, str) else " ".join(v)
             for k, v in master_details(h.farm, t)}
    # Python's order, as the Outlook and the list
    assert pairs["Builds/hour"] == "cp39 2,000, cp311 3,000, cp313 1,000"
    assert pairs["Pending"] == "cp39 20, cp311 12"
    # disk free on the disk's scale: 42 % of it free, then 16 %, is not
    # a full disk emptied (as its own range drew it)
    bars = pairs["  disk free"].split(" ")[0]
    assert bars[0] == "\u2584" and bars[-1] == "\u2582", bars


def test_the_pane_below_a_short_list_takes_the_lines_it_leaves():
    # at 80x40 the pane took half the body, with blank lines above it
    # under a list of four rows
    h = hungry_harness()
    h.press("d", size=(80, 40))
    screen = h.screen((80, 40))
    top = next(i for i, line in enumerate(screen) if "Details" in line)
    assert screen[top - 1].startswith("\u25cf     3 pi-03"), screen
    assert "Details (" not in screen[top]   # all of it shows
    # a list too long for that gives the pane half, as before
    h2 = Harness()
    farm_of(h2, 30)
    h2.press("d", size=(80, 40))
    screen = h2.screen((80, 40))
    top = next(i for i, line in enumerate(screen) if "Details" in line)
    assert 15 <= top <= 22, top


def test_disk_free_is_charted_on_the_disks_own_scale():
    # 40 MB of a 32 GB disk drew as a full disk emptied (own-range bars)
    farm = Farm()
    farm.apply(slave_hello(1, T0), T0)
    for i, free in enumerate((0.6, 0.5995, 0.599, 0.5985)):
        farm.apply(stats(1, T0 + i * 60 * SEC, disk_free=free),
                   T0 + i * 60 * SEC)
    value = " ".join(dict(slave_details(farm.slaves[1], T0 + 240 * SEC))[
        "  disk free"])
    bars = value.split(" ")[0]
    assert bars == "\u2585" * 4, value   # 60 % of the disk, four times
    assert "~19.2 GB" in value and "falling" in value


def test_the_pane_below_the_list_leaves_a_wrapped_row_whole():
    # "no slave matches" wraps at 50 columns: the list needs its lines,
    # not one a row
    h = Harness()
    farm_of(h, 3)
    size = (50, 30)
    h.press("/", *"a-long-filter-nothing-matches-xxxxxxxxxxxxxxxxxxxxxx",
            "enter", "d", size=size)
    text = h.text(size)
    assert "clears the filter." in text, text


def test_the_help_lists_the_details_keys():
    h = hungry_harness()
    h.press("h", "end", size=(100, 60))
    text = h.text((100, 60))
    assert "Scroll the details pane down a pane" in text
    assert "Scroll the details pane up a pane" in text


_sizes = st.one_of(st.just(0), st.integers(-5, 5), st.integers(0, 2 ** 40),
                   st.just(2 ** 62))
_floats = st.floats(allow_nan=True, allow_infinity=True)


_limits = st.tuples(*[st.floats(allow_nan=True, allow_infinity=True)] * 3)


@settings(max_examples=2000, deadline=None)
@given(sizes=st.tuples(*[_sizes] * 6), load=_floats, temp=_floats,
       limits=st.one_of(st.sampled_from([Thresholds(), Thresholds(
           memory=(1.0, 2.0, 3.0), swap=(0.0, 0.0, 0.0),
           disk=(100.0, 99.0, 98.0), load=(0.1, 0.2, 0.3),
           temp=(0.0, 1.0, 2.0))]), st.builds(
               Thresholds, memory=_limits, swap=_limits, disk=_limits,
               load=_limits, temp=_limits)),
       master=st.booleans())
def test_judging_a_report_flags_what_its_figures_flag(sizes, load, temp,
                                                       limits, master):
    # the model judges each STATS straight from the report (Thresholds.
    # judge, written out for speed); the figures the screens show must say
    # the same, for a slave's report and for the master's
    disk_size, disk_free, mem_size, mem_free, swap_size, swap_free = sizes
    if master:
        stats = p.MasterStats(
            T0, 1, {}, dt.timedelta(0), 0, {}, 0, 0, 0, 0, 0, disk_size,
            disk_free, mem_size, mem_free, swap_size, swap_free, load, temp)
    else:
        stats = p.SlaveStats(1, T0, T0, *sizes, load, temp)
    assert limits.judge(stats) == limits.flags(figures(stats))
