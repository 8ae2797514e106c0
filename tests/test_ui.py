"""
The console's widgets, rendered to text: keys are sent to the root widget
and the 80x24 (or other) screen is read back, as a user would see it.
"""

import datetime as dt
import re
import subprocess
import sys

import pytest
import urwid
from urwid.testing import click, press, render_text

from piw_monitor import protocol as p
from piw_monitor.actions import Actions, NotSent
from piw_monitor.model import TERMINATED_LINGER, Farm
from piw_monitor.ui import commands, keys, widgets
from piw_monitor.ui.console import Console
from piw_monitor.ui.widgets import BUTTONS

from .helpers import recorded_time, status_records

SIZE = (80, 24)
T0 = dt.datetime(2026, 11, 28, 3, 0, 0, tzinfo=dt.timezone.utc)


class FakeLink:
    """Records what would cross the wire; can refuse like a dead master."""

    def __init__(self, refuse=None):
        self.sent = []
        self.refuse = refuse

    def send(self, message, data=p.NO_DATA):
        if self.refuse:
            raise NotSent(self.refuse)
        self.sent.append((message, data))


class Harness:
    """A console over a model, a fake link and a clock the test moves."""

    def __init__(self, link=None, read_only=False):
        self.farm = Farm()
        self.link = link if link is not None else FakeLink()
        self.now = T0
        self.quits = []
        self.console = Console(
            self.farm, Actions(None if read_only else self.link),
            status_queue="ipc:///tmp/piw-status", clock=lambda: self.now,
            on_quit=self.quits.append)

    def feed(self, *events, now=None):
        if now is not None:
            self.now = now
        for event in events:
            self.farm.apply(event, self.now)
        self.console.refresh(self.now)

    def tick(self, seconds):
        self.now += dt.timedelta(seconds=seconds)
        self.farm.tick(self.now)
        self.console.refresh(self.now, tick=True)

    def talk(self, seconds):
        """Let *seconds* pass with the master sending its STATS every 10 s."""
        for _ in range(seconds // 10):
            self.now += dt.timedelta(seconds=10)
            self.farm.apply(master_stats(self.now), self.now)
        self.tick(seconds % 10)

    def press(self, *keys, size=SIZE):
        return press(self.console, size, *keys)

    def screen(self, size=SIZE):
        # the drawn canvas is kept, as a terminal's main loop keeps it: urwid
        # then draws again from its cache whatever was not invalidated, so a
        # widget that forgets to say it changed shows stale here too
        self.canvas = self.console.render(size, focus=True)
        return list(self.canvas.decoded_text)

    def text(self, size=SIZE):
        return "\n".join(self.screen(size))


def master_hello(ts=T0, label="vm"):
    return p.MasterHello(ts, label, "Debian", "12", "unknown", "unknown")


def master_stats(ts=T0, pending=None):
    return p.MasterStats(
        ts, 10, {"cp311": 3}, dt.timedelta(hours=1), 1000,
        pending or {"cp311": 7}, 1, 5, 2, 3, 4, 100 * 10**9, 42 * 10**9,
        8 * 10**9, 4 * 10**9, 0, 0, 0.5, 45.0)


def slave_hello(sid, label, abi="cp311", ts=T0, busy=300):
    return p.SlaveHello(
        sid, ts, dt.timedelta(hours=3), dt.timedelta(seconds=busy), "311",
        abi, "linux_armv7l", label, "Raspbian", "12", "c03111", "1234")


def farm_of(h, n=3, at=T0):
    h.feed(master_hello(at), master_stats(at), now=at)
    for sid in range(1, n + 1):
        h.feed(slave_hello(sid, f"pi-{sid:02d}", ts=at),
               p.SlaveSleep(sid, at, False))


@pytest.fixture
def h():
    return Harness()


def test_every_binding_names_a_real_command():
    for binding in keys.KEYS:
        assert binding.command in commands.COMMANDS, binding
        assert binding.context in keys.CONTEXTS, binding
        assert binding.help


def test_every_button_names_a_real_command_and_has_its_hotkey():
    for _before, hot, _after, command in BUTTONS:
        assert command in commands.COMMANDS
        binding = keys.lookup(hot.lower(), "global")
        assert binding is not None and binding.command == command


def test_spec_hotkeys_are_bound():
    expected = {"p": "pause", "r": "resume", "k": "kill",
                "t": "terminate", "q": "quit"}
    for key, command in expected.items():
        assert keys.lookup(key, "global").command == command


def test_waiting_for_master(h):
    text = h.text()
    assert "Waiting for the master at ipc:///tmp/piw-status" in text
    assert "No build slaves known yet" in text
    # an empty list may be a paused master's: it says so
    assert "a paused master lists them when it resumes" in text
    assert h.console.slave_list.master_selected
    last = h.screen()[-1]
    for label in ("Pause", "Resume", "Kill slave", "Terminate master", "Quit"):
        assert label in last


def test_recorded_building_phase_renders():
    h = Harness()
    for rec in status_records():
        if rec["t"] > 110:
            break
        h.feed(p.decode_status(bytes.fromhex(rec["hex"])),
               now=recorded_time(rec))
    text = h.text()
    assert "Master vm" in text and "running" in text
    rows = [line for line in h.screen() if "slave-" in line]
    assert len(rows) == 2
    assert "1 slave-a" in rows[0] and "Waiting for jobs" in rows[0]
    assert "2 slave-b" in rows[1] and "Building slow-pkg 0.1" in rows[1]
    assert "Slaves 2: 1 idle, 1 building" in text


def test_task_words(h):
    farm_of(h, 4)
    t = T0 + dt.timedelta(seconds=5)
    h.feed(p.SlaveBuild(1, t, "numpy", "1.26.4"),
           p.SlaveBuild(2, t, "numpy", "1.26.4"),
           p.SlaveSend(2, t, "numpy-1.26.4-cp311-cp311-linux_armv7l.whl"),
           p.SlaveBuild(3, t, "x", "1"), p.SlaveDone(3, t),
           p.SlaveDie(4, t), now=t)
    # wide enough for the whole file name beside the resource columns
    screen = h.screen(size=(160, 24))
    row = {n: next(line for line in screen if f"pi-0{n}" in line)
           for n in range(1, 5)}
    assert "Building numpy 1.26.4" in row[1]
    assert "Transferring numpy-1.26.4-cp311-cp311-linux_armv7l.whl" in row[2]
    assert "Cleaning up after build" in row[3]
    assert "Terminating" in row[4]


def test_pause_and_resume_send_and_report(h):
    farm_of(h)
    h.press("p")
    assert h.link.sent == [("SLEEP", None)]
    # in the administrator's words: the protocol's are for the event log
    assert "Paused: the master hands out no new builds" in h.screen()[-2]
    assert "SLEEP" not in h.screen()[-2]
    h.press("r")
    assert h.link.sent[-1] == ("WAKE", None)
    assert "Resumed: the master hands out builds again" in h.screen()[-2]
    # the link reports what it sent: the event log names the messages
    h.feed(p.CommandSent("SLEEP", None), p.CommandSent("WAKE", None))
    h.press("l")
    assert "sent SLEEP to all" in h.text() and "sent WAKE to all" in h.text()


def test_command_not_sent_is_reported():
    # the link's own words end in "nothing was sent": said once, not twice
    h = Harness(FakeLink(
        refuse="not connected to the master: nothing was sent"))
    h.press("p")
    assert h.link.sent == []
    line = h.screen()[-2]
    assert "Pause: not sent; not connected to the master." in line
    assert "nothing was sent" not in line


def test_kill_asks_names_the_slave_and_no_sends_nothing(h):
    farm_of(h)
    h.press("down")
    h.press("k")
    text = h.text()
    assert "Kill slave 2 (pi-02)?" in text
    assert "next time it asks the master for work" in text
    h.press("n")
    assert h.link.sent == []
    assert "Kill slave 2" not in h.text()
    assert "cancelled" in h.screen()[-2]
    h.press("k")
    h.press("esc")
    assert h.link.sent == []
    assert h.console.dialog is None


def test_esc_goes_back_from_the_log_then_the_filter_then_the_details(h):
    farm_of(h, 3)
    h.press("d", "l", "/", "0", "2", "enter")
    assert h.console.slave_list.filter_text == "02"
    assert h.console.show_log and "Event log (l or Esc closes)" in h.text()
    # what is on screen goes first: the log, back to the filtered list and
    # the details pane, as before the log
    h.press("esc")
    assert not h.console.show_log and "Event log" not in h.text()
    assert h.console.slave_list.filter_text == "02"
    assert "Details" in h.text()
    assert [line.split()[2] for line in slave_lines(h)] == ["pi-02"]
    h.press("esc")
    assert h.console.slave_list.filter_text == ""
    assert "Details" in h.text()
    h.press("esc")
    assert not h.console.show_details and "Details" not in h.text()
    h.press("esc")  # nothing left to close: nothing happens
    assert [line.split()[2] for line in slave_lines(h)] == [
        "pi-01", "pi-02", "pi-03"]
    assert h.link.sent == []


def test_kill_yes_sends_and_marks_row_until_die(h):
    farm_of(h)
    h.press("down", "k", "y")
    assert h.link.sent == [("KILL", 2)]
    assert ("Kill slave: slave 2 (pi-02) terminates at its next request "
            "for work.") in h.screen()[-2]
    # the link reports what it sent; the row then says it is stopping
    h.feed(p.CommandSent("KILL", 2))
    row = next(line for line in h.screen() if "pi-02" in line)
    assert "[stopping] Waiting for jobs" in row
    h.feed(p.SlaveDie(2, h.now), p.SlaveDie(2, h.now))
    row = next(line for line in h.screen() if "pi-02" in line)
    assert "Terminating" in row and "stopping" not in row


def test_kill_with_no_slave_says_so(h):
    h.press("k")
    assert h.console.dialog is None
    assert h.link.sent == []
    assert "no slave selected" in h.screen()[-2]


def test_kill_dialog_enter_defaults_to_no(h):
    farm_of(h)
    h.press("k", "enter")
    assert h.link.sent == []
    h.press("k", "left", "enter")
    assert h.link.sent == [("KILL", 1)]


def test_terminate_no_then_yes(h):
    farm_of(h)
    h.press("t")
    assert "Terminate the master vm?" in h.text()
    h.press("n")
    assert h.link.sent == [] and h.quits == []
    h.press("t", "y")
    assert h.link.sent == [("QUIT", p.NO_DATA)]
    assert h.quits == ["Terminate master: the master is shutting down."]


def test_terminate_not_sent_does_not_quit():
    h = Harness(FakeLink(refuse="not connected to the master"))
    h.press("t", "y")
    assert h.quits == []
    assert "Terminate master: not sent" in h.screen()[-2]


def test_quit_leaves_the_master_alone(h):
    farm_of(h)
    h.press("q")
    assert h.quits == [None]
    assert h.link.sent == []


def test_hotkeys_do_nothing_while_a_dialog_is_open(h):
    farm_of(h)
    h.press("t", "p", "r", "k", "q")
    assert h.link.sent == [] and h.quits == []
    assert h.console.dialog is not None


def test_tab_and_enter_press_the_focused_button(h):
    farm_of(h)
    assert h.console.focus_area == "list"
    h.press("tab")
    assert h.console.focus_area == "buttons"
    h.press("enter")
    assert h.link.sent == [("SLEEP", None)]
    h.press("right", " ")
    assert h.link.sent[-1] == ("WAKE", None)
    h.press("tab")
    assert h.console.focus_area == "list"


def test_list_navigation(h):
    farm_of(h, 30)
    sel = lambda: h.console.slave_list.selected.slave_id  # noqa: E731
    assert sel() == 1
    h.press("down", "down")
    assert sel() == 3
    h.press("up")
    assert sel() == 2
    h.press("end")
    assert sel() == 30
    h.press("home")  # the master's own row is at the top
    assert h.console.slave_list.master_selected
    h.press("down")
    assert sel() == 1
    h.screen()  # the list learns its height when drawn
    h.press("page down")
    assert sel() > 10
    h.press("page up")
    assert sel() == 1


def test_mouse_click_selects_a_row_and_presses_a_button(h):
    farm_of(h, 5)
    screen = h.screen()
    row = next(i for i, line in enumerate(screen) if "pi-04" in line)
    assert click(h.console, SIZE, 10, row)
    assert h.console.slave_list.selected.slave_id == 4
    last = screen[-1]
    col = last.index("Resume")
    click(h.console, SIZE, col, SIZE[1] - 1)
    assert h.link.sent == [("WAKE", None)]


def test_terminated_slave_leaves_and_selection_stays_sensible(h):
    farm_of(h, 3)
    h.press("down", "down")
    assert h.console.slave_list.selected.slave_id == 3
    h.feed(p.SlaveDie(3, h.now))
    h.tick(1)
    assert "pi-03" in h.text()
    h.tick(TERMINATED_LINGER.total_seconds() + 1)
    assert not any("pi-03" in line for line in slave_lines(h))
    assert h.console.slave_list.selected.slave_id == 2
    # the status line says where it went
    assert "Slave 3 (pi-03) has left the list: it terminated." in \
        h.screen()[-2]


def test_selection_follows_the_slave_when_rows_are_reordered(h):
    farm_of(h, 3)
    h.press("down")  # pi-02
    h.feed(slave_hello(9, "pi-00"))  # sorts first
    assert h.console.slave_list.selected.slave_id == 2


def test_late_and_silent_slaves_in_words(h):
    farm_of(h, 2)
    h.talk(200)  # past half the 300 s busy timeout, the master talking
    row = next(line for line in h.screen() if "pi-01" in line)
    assert "quiet for 3m" in row
    assert "late" in h.screen()[1]
    h.talk(200)
    row = next(line for line in h.screen() if "pi-01" in line)
    assert "Silent for 6m" in row


def test_slaves_are_not_blamed_while_the_master_says_nothing(h):
    farm_of(h, 2)
    h.tick(400)  # past the busy timeout, but the master said nothing either
    row = next(line for line in h.screen() if "pi-01" in line)
    assert "Waiting for jobs" in row and "Silent" not in row
    assert "silent since" in h.screen()[0]


def test_master_silent_marks_header(h):
    farm_of(h, 2)
    h.tick(60)
    assert "silent since" in h.screen()[0]


def test_hostile_label_is_neutralised(h):
    h.feed(master_hello(), slave_hello(1, "\x1b]0;pwned\x07\x1b[2J\u202eevil"))
    text = h.text()
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    assert "]0;pwned" in text


def test_wide_labels_keep_columns_aligned(h):
    h.feed(master_hello(), slave_hello(1, "日本語のラベルです"),
           slave_hello(2, "plain"))
    screen = h.screen()
    rows = [line for line in screen if "cp311" in line]
    cols = [urwid.calc_width(r, 0, r.index("cp311")) for r in rows]
    assert cols[0] == cols[1]


def test_tiny_terminal_shows_a_notice(h):
    farm_of(h)
    for size in ((10, 3), (40, 24), (80, 5)):
        text = "\n".join(render_text(h.console, size))
        assert "too small" in text or len(text.strip()) < 40
    assert "Pause" in h.text((300, 100))


def test_help_lists_every_binding_and_closes(h):
    farm_of(h)
    h.press("h")
    text = h.text(size=(160, 60))
    assert "Help (Esc closes)" in text
    for binding in keys.KEYS:
        assert binding.help in text, binding
    h.press("p")  # not a hotkey while help is open
    assert h.link.sent == []
    h.press("esc")
    assert h.console.dialog is None
    h.press("?")
    assert "Help" in h.text()
    h.press("q")
    assert h.console.dialog is None and h.quits == []


def test_help_says_when_there_is_more_below(h):
    farm_of(h)
    h.press("h")
    # 80x24 holds a part of it: the title says how to see the rest
    assert "Help (Esc closes), Page Down for more" in h.text((80, 24))
    h.press("end", size=(80, 24))
    text = h.text((80, 24))
    assert "Help (Esc closes)" in text and "Page Down" not in text
    assert "closes this help" in text
    # a terminal tall enough shows it all, and says nothing more
    h.press("home", size=(160, 60))
    assert "Page Down" not in h.text((160, 60))


def test_status_line_hints_at_help(h):
    assert "h: help" in h.screen()[-2]


def test_read_only_console_says_why_nothing_is_sent():
    h = Harness(read_only=True)
    assert "Read-only" in h.screen()[-2]
    farm_of(h)
    for key, word in (("p", "Pause"), ("r", "Resume")):
        h.press(key)
        assert f"{word}: not sent (read-only mode)" in h.screen()[-2]
    h.press("k", "y")
    assert "Kill slave: not sent (read-only mode)" in h.screen()[-2]
    h.press("t", "y")
    assert h.quits == []
    assert h.link.sent == []
    h.press("q")
    assert h.quits == [None]


def test_status_line_follows_the_connection(h):
    h.feed(p.LinkUp())
    assert "Connected to the master at ipc:///tmp/piw-status" in h.screen()[-2]
    farm_of(h)
    h.feed(p.LinkDown("status queue disconnected"))
    assert "Lost the connection to the master" in h.screen()[-2]
    assert "silent since" in h.screen()[0]
    h.feed(p.LinkUp(), master_hello(h.now))
    assert "is back" in h.screen()[-2]
    assert "running" in h.screen()[0]


# ---------------------------------------------------------------- the views

def slave_lines(h, size=SIZE):
    return [line for line in h.screen(size)
            if line.startswith("\u25cf") and "cp3" in line]


def test_master_has_a_row_of_its_own_at_the_top(h):
    farm_of(h, 2)
    screen = h.screen()
    assert "vm" in screen[3] and "Running; 7 builds pending" in screen[3]
    h.press("home", "k")
    assert "no slave selected" in h.screen()[-2]


def test_the_headers_up_time_and_the_master_rows_agree_between_ticks(h):
    # news between two ticks redraws the header at its time: the master's
    # row, whose up time is the same figure, is redrawn with it
    farm_of(h, 2)
    h.talk(60)
    # the canvas drawn is kept, as a screen keeps it: urwid then draws an
    # unchanged row from its cache
    canvas = h.console.render(SIZE, focus=True)
    for tenths in range(1, 20):
        when = h.now + dt.timedelta(seconds=tenths / 10)
        h.feed(p.SlaveBuild(1, when, "numpy", str(tenths)), now=when)
        canvas = h.console.render(SIZE, focus=True)
        screen = [line.decode("utf-8") for line in canvas.text]
        header = re.search(r"up (\d\d:\d\d:\d\d)", screen[0]).group(1)
        row = re.search(r"(\d\d:\d\d:\d\d)", screen[3]).group(1)
        assert header == row, (tenths, screen[0], screen[3])


def test_sort_cycles_columns_and_clicking_a_title_sorts(h):
    farm_of(h, 3)
    t = h.now + dt.timedelta(seconds=1)
    h.feed(slave_hello(4, "aaa", abi="cp39", ts=t),
           p.SlaveBuild(2, t, "zz", "1"), now=t)
    assert [line.split()[2] for line in slave_lines(h)] == [
        "aaa", "pi-01", "pi-02", "pi-03"]
    assert "ABI\u25b4" in h.screen()[2]
    h.press("s")  # next column: up time, the longest first, marked so
    assert "\u25beUp time" in h.screen()[2]
    assert "Sorted by Up time, longest first." in h.screen()[-2]
    h.press("S")  # reversed: the shortest first
    assert "\u25b4Up time" in h.screen()[2]
    assert "Sorted by Up time, shortest first." in h.screen()[-2]
    assert slave_lines(h)[0].split()[2] == "aaa"   # the newest
    # a click on the Label title sorts by label; a second one reverses
    col = h.screen()[2].index("Label")
    assert click(h.console, SIZE, col + 1, 2)
    assert "Label\u25b4" in h.screen()[2]
    assert "Sorted by Label, A to Z." in h.screen()[-2]
    assert [line.split()[2] for line in slave_lines(h)] == [
        "aaa", "pi-01", "pi-02", "pi-03"]
    assert click(h.console, SIZE, col + 1, 2)
    assert "Label\u25be" in h.screen()[2]
    assert [line.split()[2] for line in slave_lines(h)] == [
        "pi-03", "pi-02", "pi-01", "aaa"]
    h.press("S")
    assert [line.split()[2] for line in slave_lines(h)] == [
        "aaa", "pi-01", "pi-02", "pi-03"]
    # sorted by task: the rows move when a task changes
    col = h.screen()[2].index("Task ")
    col = h.screen()[2].rindex("Task")
    click(h.console, SIZE, col + 1, 2)
    assert slave_lines(h)[0].split()[2] == "pi-02"  # "Building zz 1"


def test_filter_by_label_abi_and_task(h):
    farm_of(h, 3)
    h.feed(slave_hello(4, "other", abi="cp39"),
           p.SlaveBuild(2, h.now, "numpy", "2.0"))
    h.press("/")
    assert "Filter:" in h.screen()[-2]
    h.press("p", "i", "-", "0")  # letters are typed, not hotkeys
    assert h.link.sent == []
    assert len(slave_lines(h)) == 3
    assert "3 of 4 slaves (filter 'pi-0')" in h.screen()[1]
    h.press("enter")
    assert "Showing 3 of 4 slaves matching 'pi-0'" in h.screen()[-2]
    h.press("/", "backspace", "backspace", "backspace", "backspace")
    h.press("c", "p", "3", "9")
    assert [line.split()[2] for line in slave_lines(h)] == ["other"]
    h.press("esc")
    assert len(slave_lines(h)) == 4
    h.press("/", "n", "u", "m", "enter")  # matches the task
    assert [line.split()[2] for line in slave_lines(h)] == ["pi-02"]
    h.press("esc")  # in the list, Esc clears the filter too
    assert len(slave_lines(h)) == 4
    assert "Filter cleared" in h.screen()[-2]


def test_details_pane_below_and_beside(h):
    farm_of(h, 2)
    t = h.now + dt.timedelta(seconds=3)
    h.feed(p.SlaveStats(1, t, t + dt.timedelta(seconds=2), 100 * 10**9,
                        25 * 10**9, 4 * 10**9, 1 * 10**9, 0, 0, 1.5, 55.0),
           p.SlaveBuild(1, t, "numpy", "1.26.4"), now=t)
    h.press("d")
    text = h.text()
    assert "Details" in text
    assert "Slave        1 pi-01" in text
    # below the list, what to act on comes first: state, build, history
    assert "State        building" in text
    assert "Build        numpy 1.26.4" in text
    assert "History      1 report" in text
    # the rest, beside the list on a wide terminal
    wide = h.text((140, 40))
    assert "Python       3.11" in wide
    assert "Clock skew   +2.0 s" in wide
    # the pane follows the selection, and is beside the list when wide
    h.press("down")
    wide = h.text((140, 40))
    assert "Slave        2 pi-02" in wide
    assert any("pi-02" in line and "Slave        2 pi-02" in line
               for line in h.screen((140, 40)))
    h.press("home")
    text = h.text((140, 40))
    assert "Builds/hour  cp311 3" in text
    assert "Downloads    2 last hour, 3 last month, 4 in all" in text
    assert "Disk         " in text
    # wrapped between figures, never within one
    assert "58.0 GB used" in text and "of 100.0 GB," in text
    assert "42.0 GB free" in text
    h.press("d")
    assert "Details" not in h.text()


def test_slave_details_show_resources_and_history():
    from piw_monitor.ui.details import bar
    assert bar(1, 4, 8) == "\u2588\u2588" + "\u2591" * 6
    assert bar(5, 0, 4) == "\u2591" * 4


def test_action_menu_on_a_slave_and_on_the_master(h):
    farm_of(h, 2)
    t = h.now + dt.timedelta(seconds=1)
    h.feed(p.SlaveBuild(1, t, "numpy", "1.26.4"), now=t)
    h.press("enter")
    text = h.text()
    for label in ("Skip build", "Kill slave", "Skip build and kill slave",
                  "Pause", "Resume", "Skip all builds", "Kill all slaves",
                  "Terminate master"):
        assert label in text, label
    assert "Slave 1 (pi-01) abandons its current build" in text
    h.press("enter")  # the first entry, Skip build, asks first
    assert "Skip the current build of slave 1 (pi-01)?" in h.text()
    h.press("enter")  # No has the focus: a double Enter sends nothing
    assert h.link.sent == []
    assert "Skip build: cancelled; nothing sent to slave 1 (pi-01)." in \
        h.screen()[-2]
    h.press("enter", "enter", "y")
    assert h.link.sent == [("SKIP", 1)]
    h.press("enter", "down", "down", "enter")  # Skip build and kill slave
    assert "Skip the current build of slave 1 (pi-01) and kill it?" in \
        h.text()
    h.press("y")
    assert h.link.sent[-2:] == [("SKIP", 1), ("KILL", 1)]
    h.press("home", "enter")
    assert "The whole farm" in h.text()
    assert "Skip build" not in h.text()
    h.press("esc")
    assert h.console.dialog is None


def test_farm_actions_skip_all_and_kill_all(h):
    farm_of(h, 3)
    t = h.now + dt.timedelta(seconds=1)
    h.feed(p.SlaveBuild(1, t, "a", "1"), p.SlaveBuild(3, t, "b", "1"), now=t)
    h.press("home", "enter")
    # entries: Pause, Resume, Skip all builds, Stop all slaves, Terminate
    h.press("down", "down", "enter")
    assert "Skip the builds of all 2 building slaves?" in h.text()
    h.press("y")
    assert sorted(h.link.sent) == [("SKIP", 1), ("SKIP", 3)]
    assert "Skip all builds: 2 building slaves abandon their builds." in \
        h.screen()[-2]
    h.press("home", "enter", "down", "down", "down", "enter", "n")
    assert ("KILL", None) not in h.link.sent
    h.press("home", "enter", "down", "down", "down", "enter", "y")
    assert h.link.sent[-1] == ("KILL", None)


def test_event_log_view(h):
    farm_of(h, 2)
    h.feed(p.SlaveBuild(2, h.now, "numpy", "1.26.4"),
           p.BadFrame("invalid CBOR: junk", 3))
    h.press("l")
    text = h.text()
    assert "Event log" in text
    assert "slave 2" in text and "BUILD numpy 1.26.4" in text
    assert "bad frame: invalid CBOR: junk" in text
    h.feed(p.SlaveDone(2, h.now))
    assert "DONE" in h.text()
    h.press("l")
    assert "Event log" not in h.text()
    assert len(slave_lines(h)) == 2


def test_confirmation_keeps_its_buttons_on_a_short_screen(h):
    farm_of(h)
    h.press("k", size=(50, 8))
    small = h.text((50, 8))
    assert "Kill slave 1 (pi-01)?" in small
    assert "< Yes >" in small and "< No >" in small
    assert "next time it asks" not in small
    full = h.text()
    assert "next time it asks" in full and "< Yes >" in full


def test_selection_survives_a_replay_spread_over_refreshes(h):
    # another monitor's HELLO makes the master replay to everyone; the
    # replay can take more than one refresh to arrive
    farm_of(h, 6)
    h.console.slave_list.select_slave(4)
    later = T0 + dt.timedelta(seconds=30)
    h.feed(master_hello(), slave_hello(1, "pi-01"), slave_hello(2, "pi-02"),
           now=later)
    h.feed(*(slave_hello(sid, f"pi-{sid:02d}") for sid in range(3, 7)))
    assert h.console.slave_list.selected.slave_id == 4
    # once the user moves, the wish is forgotten
    h.press("down")
    assert h.console.slave_list.selected.slave_id == 5


def test_kill_is_not_sent_to_a_restarted_masters_slave(h):
    farm_of(h, 3)
    h.console.slave_list.select_slave(2)
    h.press("k")
    assert "Kill slave 2 (pi-02)?" in h.text()
    # the master restarts while the question is open: its slave 2 is
    # another machine
    later = T0 + dt.timedelta(minutes=5)
    h.feed(master_hello(later), slave_hello(1, "other-a", ts=later),
           slave_hello(2, "other-b", ts=later), now=later)
    h.press("y")
    assert h.link.sent == []
    assert ("Kill slave: not sent, the master restarted since you asked."
            in h.text())


def test_skip_and_kill_from_the_menu_checks_for_a_restart_too(h):
    farm_of(h, 2)
    h.console.slave_list.select_slave(1)
    h.press("enter", "down", "down", "enter")  # Skip build and kill slave
    assert "and kill it?" in h.text()
    later = T0 + dt.timedelta(minutes=5)
    h.feed(master_hello(later), slave_hello(1, "other", ts=later), now=later)
    h.press("y")
    assert h.link.sent == []
    assert "Skip build and kill slave: not sent, the master restarted" in \
        h.text()


def test_skip_and_kill_says_so_when_only_the_skip_went_out():
    class OneOnly(FakeLink):
        def send(self, message, data=p.NO_DATA):
            if self.sent:
                raise NotSent("not connected to the master: nothing was sent")
            super().send(message, data)

    link = OneOnly()
    outcome = Actions(link).skip_and_kill(
        type("S", (), {"slave_id": 3, "label": "pi-03"})())
    assert link.sent == [("SKIP", 3)]
    assert outcome.sent
    assert outcome.text == (
        "Skip build and kill slave: only the skip went out, the kill was "
        "not sent; not connected to the master. slave 3 (pi-03) abandons "
        "its build and carries on.")


# ---------------------------------------------------------------- review fixes

@pytest.mark.parametrize("opener", [("h",), ("k",), ("t",), ("/",), ("enter",)])
def test_ctrl_c_quits_from_dialogs_menus_and_the_filter(h, opener):
    farm_of(h)
    h.press(*opener)
    h.press("ctrl c")
    assert h.quits == [None]
    assert h.link.sent == []


@pytest.mark.parametrize("column", ["state", "id", "label", "abi", "up",
                                    "task-time", "task"])
def test_sort_mark_fits_its_column_and_shifts_nothing(h, column):
    farm_of(h)
    for reverse in (False, True):
        h.console.sort_by(column, reverse)
        titles = h.screen()[2]
        mark = "\u25be" if reverse else "\u25b4"
        assert titles.count(mark) == 1
        # no title loses a letter to the mark
        for title in ("S", "#", "Label", "ABI", "Up time", "Task time",
                      "Task"):
            assert title in titles
        # every title stays where the rows' columns are
        assert titles.index("Label") == h.screen()[4].index("pi-")
        assert titles.index("ABI") == h.screen()[4].index("cp311")


def test_details_pane_shows_on_a_short_terminal(h):
    farm_of(h)
    h.press("d")
    text = h.text(size=(80, 12))
    assert "Details" in text
    assert "│Slave " in text


def test_menu_title_keeps_the_labels_case(h):
    h.feed(master_hello(), slave_hello(1, "Pi4-BuildBox"),
           p.SlaveSleep(1, T0, False))
    h.press("enter")
    assert "Slave 1 (Pi4-BuildBox)" in h.text()


def test_read_only_kill_and_terminate_say_why_at_once():
    h = Harness(read_only=True)
    farm_of(h)
    h.press("k")
    assert h.console.dialog is None
    assert "Kill slave: not sent (read-only mode)" in h.screen()[-2]
    h.press("t")
    assert h.console.dialog is None
    assert "Terminate master: not sent (read-only mode)" in h.screen()[-2]


def test_hint_at_help_stays_once_connected(h):
    h.feed(p.LinkUp(), master_hello())
    assert "h: help" in h.screen()[-2]


def test_resume_says_it_cancels_pending_kills(h):
    farm_of(h)
    h.press("k", "y")
    h.feed(p.CommandSent("KILL", 1))
    h.press("r")
    assert ("the pending Kill slave of 1 slave is cancelled."
            in h.screen()[-2])


def test_read_only_menu_says_so_and_refuses_without_asking():
    h = Harness(read_only=True)
    farm_of(h, 2)
    h.press("enter")
    assert "Read-only mode: nothing can be sent to the master." in h.text()
    h.press("down", "down", "enter")  # Skip build and kill slave
    assert h.console.dialog is None
    assert "Skip build and kill slave: not sent (read-only mode)" in \
        h.screen()[-2]
    h.press("home", "enter", "down", "down", "down", "enter")  # Stop all
    assert h.console.dialog is None
    assert "not sent (read-only mode)" in h.screen()[-2]
    assert h.link.sent == []


def test_the_details_follow_the_selection_while_a_filter_is_typed(h):
    farm_of(h, 3)
    h.feed(slave_hello(4, "other", abi="cp39"))
    h.press("home", "down", "d")   # cp39 sorts first
    assert "Slave        4 other" in h.text((80, 40))
    # typing moves the selection off the row the filter hides: the pane
    # says so at once, not at the next refresh
    h.press("/", "p", "i")
    text = h.text((80, 40))
    assert "4 other" not in text and "Slave        " in text


def test_a_filter_matching_nothing_says_so(h):
    farm_of(h, 2)
    h.press("/", *"zzz", "enter")
    text = h.text()
    assert "No slave matches 'zzz'; Esc clears the filter." in text
    assert "No build slaves known yet" not in text
    h.press("esc")
    assert "Filter cleared: every slave is shown." in h.screen()[-2]
    assert "pi-01" in h.text()


def test_esc_without_a_filter_claims_nothing(h):
    farm_of(h, 2)
    h.press("esc")
    assert "Filter cleared" not in h.text()


def test_a_master_known_only_from_its_stats_is_not_called_question_mark():
    # read-only: no replay, so no HELLO from the master until another
    # monitor asks for one
    h = Harness(read_only=True)
    h.feed(p.LinkUp(), master_stats())
    assert h.screen()[0].startswith("Master │ running")
    assert "?" not in h.screen()[0]


def test_resume_from_the_menu_says_it_cancels_pending_kills(h):
    farm_of(h)
    h.press("k", "y")
    h.feed(p.CommandSent("KILL", 1))
    h.press("home", "enter", "down", "enter")  # the farm's menu: Resume
    assert h.link.sent[-1] == ("WAKE", None)
    assert ("the pending Kill slave of 1 slave is cancelled."
            in h.screen()[-2])


def test_hint_at_help_stays_once_connected_read_only():
    h = Harness(read_only=True)
    h.feed(p.LinkUp(), master_hello())
    assert "Read-only" in h.screen()[-2]
    assert "h: help" in h.screen()[-2]


def test_read_only_says_read_only_even_with_no_slave_selected():
    h = Harness(read_only=True)
    farm_of(h)
    h.press("home", "k")  # the master's row: no slave selected
    assert "Kill slave: not sent (read-only mode)" in h.screen()[-2]


def test_replays_that_keep_breaking_the_link_are_explained(h):
    h.feed(p.LinkUp(), master_hello())
    h.feed(p.LinkDown("status queue disconnected", 3))
    line = h.screen()[-2]
    assert line.startswith("3 replays in a row broke the connection: a "
                           "frame over --max-frame-size?")
    h.feed(p.LinkUp(2.0))
    assert h.screen()[-2].startswith(
        "Connected; replay asked for in 2 s, as the last ones broke the "
        "connection")
    h.press("l")
    text = h.text((140, 40))
    assert "connection to the master lost (status queue disconnected; 3 " \
        "replays in a row broke it)" in text
    assert "connected to the master; asking for its replay in 2 s" in text


# ------------------------------------------------ answers checked against the
# slave and the master run the question named (issue 14, finding 5)

LATER = T0 + dt.timedelta(minutes=5)


def status(h):
    return h.screen()[-2]


def test_kill_is_not_sent_to_a_new_slave_given_the_same_id(h):
    farm_of(h, 3)
    h.console.slave_list.select_slave(2)
    h.press("k")
    assert "Kill slave 2 (pi-02)?" in h.text()
    # slave 2 leaves; another machine arrives and is given id 2
    h.feed(p.SlaveDie(2, LATER), slave_hello(2, "beta", ts=LATER), now=LATER)
    h.press("y")
    assert h.link.sent == []
    assert h.console.dialog is None
    assert ("Kill slave: not sent, slave 2 (pi-02) has left; slave 2 is now "
            "beta.") in status(h)


def test_kill_is_not_sent_once_the_slave_has_gone(h):
    farm_of(h, 3)
    h.console.slave_list.select_slave(2)
    h.press("k")
    h.feed(p.SlaveDie(2, h.now))
    h.tick(TERMINATED_LINGER.total_seconds() + 1)   # its row goes
    assert 2 not in h.farm.slaves
    h.press("y")
    assert h.link.sent == []
    assert "Kill slave: not sent, slave 2 (pi-02) has left." in status(h)


def test_kill_is_not_sent_to_a_slave_that_said_hello_again(h):
    farm_of(h, 3)
    h.console.slave_list.select_slave(2)
    h.press("k")
    # the same machine, id and label, but a new life: it is not the slave
    # the question was about
    h.feed(slave_hello(2, "pi-02", ts=LATER), now=LATER)
    h.press("y")
    assert h.link.sent == []
    assert "slave 2 (pi-02) has restarted since you asked" in status(h)


def test_kill_is_sent_when_the_slave_is_still_the_same(h):
    farm_of(h, 3)
    h.console.slave_list.select_slave(2)
    h.press("k")
    # news from the slave, and a replay of the same master run (asked for
    # by another monitor) that lists it again with the same first-seen time
    t = T0 + dt.timedelta(seconds=30)
    h.feed(p.SlaveBuild(2, t, "numpy", "1.26.4"), master_hello(T0),
           slave_hello(1, "pi-01"), slave_hello(2, "pi-02"),
           slave_hello(3, "pi-03"), now=t)
    h.press("y")
    assert h.link.sent == [("KILL", 2)]
    assert "Kill slave: slave 2 (pi-02) terminates" in status(h)


def test_terminate_is_not_sent_to_a_restarted_master(h):
    farm_of(h)
    h.press("t")
    h.feed(master_hello(LATER), now=LATER)
    h.press("y")
    assert h.link.sent == [] and h.quits == []
    assert ("Terminate master: not sent, the master restarted since you "
            "asked.") in status(h)


def test_confirmation_not_sent_while_a_reconnected_master_is_unknown(h):
    h.feed(p.LinkUp())
    farm_of(h)
    h.console.slave_list.select_slave(2)
    h.press("k")
    # the connection breaks and comes back; the master has not said yet
    # whether it is the same run (its replay is not in)
    h.feed(p.LinkDown("status disconnected"), p.LinkUp())
    h.press("y")
    assert h.link.sent == []
    assert ("Kill slave: not sent, the connection to the master broke since "
            "you asked") in status(h)
    # once the same run has said HELLO again, the same question goes through
    h.press("t")
    h.feed(p.LinkDown("status disconnected"), p.LinkUp(), master_hello(T0))
    h.press("y")
    assert h.link.sent == [("QUIT", p.NO_DATA)]


def test_menu_skip_build_checks_the_slave_the_menu_named(h):
    farm_of(h, 3)
    h.console.slave_list.select_slave(2)
    h.press("enter")
    assert "Slave 2 (pi-02)" in h.text()
    h.feed(p.SlaveDie(2, LATER), slave_hello(2, "beta", ts=LATER), now=LATER)
    h.press("enter")   # Skip build: refused before any question
    assert h.console.dialog is None
    assert h.link.sent == []
    assert ("Skip build: not sent, slave 2 (pi-02) has left; slave 2 is now "
            "beta.") in status(h)


def test_menu_kill_slave_never_kills_another_row(h):
    farm_of(h, 3)
    h.console.slave_list.select_slave(2)
    h.press("enter")
    # the menu's slave goes away: the selection moves to another row
    h.feed(p.SlaveDie(2, h.now))
    h.tick(TERMINATED_LINGER.total_seconds() + 1)
    assert h.console.slave_list.selected.slave_id != 2
    h.press("down", "enter")   # Kill slave
    # refused at once: no question about whichever row is selected now
    assert h.console.dialog is None
    assert h.link.sent == []
    assert "not sent, slave 2 (pi-02) has left." in status(h)


def test_menu_skip_and_kill_checks_the_slave_at_the_answer(h):
    farm_of(h, 3)
    h.console.slave_list.select_slave(2)
    h.press("enter", "down", "down", "enter")  # Skip build and kill slave
    assert "and kill it?" in h.text()
    h.feed(p.SlaveDie(2, LATER), slave_hello(2, "beta", ts=LATER), now=LATER)
    h.press("y")
    assert h.link.sent == []
    assert ("Skip build and kill slave: not sent, slave 2 (pi-02) has left"
            in status(h))


def test_menu_kill_all_is_not_sent_to_a_restarted_master(h):
    farm_of(h, 3)
    # the farm's menu: Pause, Resume, Skip all builds, Kill all slaves, ...
    h.press("home", "enter", "down", "down", "down", "enter")
    assert "Kill all 3 slaves?" in h.text()
    h.feed(master_hello(LATER), now=LATER)
    h.press("y")
    assert h.link.sent == []
    assert ("Kill all slaves: not sent, the master restarted since you "
            "asked.") in status(h)


def test_menu_actions_still_go_out_on_the_same_slave_and_run(h):
    farm_of(h, 3)
    h.console.slave_list.select_slave(2)
    h.press("enter", "down", "enter", "y")   # Kill slave
    assert h.link.sent == [("KILL", 2)]
    h.press("home", "enter", "down", "down", "down", "enter", "y")
    assert h.link.sent[-1] == ("KILL", None)


PERMISSION = p.LinkProblem(
    "permission", "status queue", "ipc:///tmp/piw-status",
    "permission denied on ipc:///tmp/piw-status",
    "the master runs as another user?")


def test_the_reason_the_master_cannot_be_reached_is_shown(h):
    h.feed(PERMISSION)
    screen = h.screen()
    reason = ("permission denied on ipc:///tmp/piw-status (the master runs "
              "as another user?)")
    assert screen[0].startswith("Cannot reach the master: permission denied")
    assert screen[-2].startswith("Cannot reach the master: permission denied")
    h.press("l")
    assert f"cannot reach the master: {reason}" in h.text(size=(160, 24))
    h.press("l")
    # it connects: the reason goes, and the line says connected
    h.feed(p.LinkUp(), master_hello(h.now))
    assert "Cannot reach" not in h.text()
    assert "Connected to the master at ipc:///tmp/piw-status" in h.screen()[-2]


def test_the_reason_is_shown_after_the_connection_is_lost(h):
    h.feed(p.LinkUp())
    farm_of(h)
    h.feed(p.LinkDown("status queue disconnected"))
    assert "Lost the connection" in h.screen()[-2]
    h.feed(p.LinkProblem(
        "stale-socket", "status queue", "ipc:///tmp/piw-status",
        "nothing listens on ipc:///tmp/piw-status (connection refused): "
        "its socket file is left over", "from a master that stopped: is "
        "the master running?"))
    assert "silent since" in h.screen()[0]
    assert "connection lost: nothing listens on ipc:///tmp/piw-status" \
        in h.screen(size=(160, 24))[0]
    assert h.screen()[-2].startswith("Cannot reach the master: nothing listens")
    # a cause found gone: said so, waiting goes on
    h.feed(p.LinkProblem())
    assert "cause found before is gone" in h.screen()[-2]

# ------------------------------------------- safe hands and plain words
# (issue 16)

def test_every_action_has_one_name_on_keys_buttons_menus_and_help(h):
    from piw_monitor.actions import NAMES
    from piw_monitor.ui.help import help_lines
    from piw_monitor.ui.menus import farm_actions, slave_actions
    for before, hot, after, command in BUTTONS:
        name = NAMES[command]
        assert before + hot + after == name
        assert keys.lookup(hot.lower(), "global").help.startswith(name + ":")
    farm_of(h)
    entries = slave_actions(h.farm.slaves[1]) + farm_actions()
    for label, _text, method, _asks in entries:
        assert label == NAMES[method]
    helped = [text for _title, lines in help_lines() for _k, text in lines]
    for command in ("pause", "resume", "kill", "terminate", "quit"):
        assert any(t.startswith(NAMES[command] + ":") for t in helped)


@pytest.mark.parametrize("method,keys_,question", [
    ("skip", ("enter", "enter"), "Skip the current build of slave 1"),
    ("kill", ("enter", "down", "enter"), "Kill slave 1 (pi-01)?"),
    ("skip_and_kill", ("enter", "down", "down", "enter"),
     "Skip the current build of slave 1 (pi-01) and kill it?"),
])
def test_every_slave_action_asks_naming_the_slave_no_first(
        h, method, keys_, question):
    farm_of(h)
    h.feed(p.SlaveBuild(1, h.now, "numpy", "2.0"))
    h.press(*keys_)
    assert question in h.text()
    assert not h.console.dialog.focused_answer   # No has the focus
    h.press("enter")
    assert h.link.sent == []


def test_farm_wide_actions_say_they_mean_every_slave_behind_a_filter(h):
    farm_of(h, 4)
    h.feed(p.SlaveBuild(1, h.now, "numpy", "2.0"),
           p.SlaveBuild(2, h.now, "lxml", "5"))
    h.press("/", *"pi-01", "enter")
    h.press("home", "enter", "down", "down", "down", "enter")  # Kill all
    text = h.text((100, 30))
    assert "Kill all 4 slaves?" in text
    assert "This means all 4 slaves, not only the 1 the filter 'pi-01'" \
        in text
    h.press("n")
    h.press("home", "enter", "down", "down", "enter")  # Skip all builds
    assert "Skip the builds of all 2 building slaves?" in h.text((100, 30))
    assert "not only the 1 the filter" in h.text((100, 30))
    h.press("esc")
    assert h.link.sent == []


def test_too_small_a_screen_lets_only_q_and_ctrl_c_act(h):
    farm_of(h)
    small = (30, 6)
    text = "\n".join(render_text(h.console, small))
    assert "too small" in text
    assert "50x8" in text and "30x6" in text
    h.press("p", "t", "y", "k", "y", "enter", "r", size=small)
    assert h.link.sent == [] and h.console.dialog is None
    # a dialog opened on a big screen takes no key once the screen shrinks
    h.press("t")
    h.press("y", size=small)
    assert h.link.sent == [] and h.quits == []
    h.press("q", size=small)
    assert h.quits == [None]
    h.press("ctrl c", size=small)
    assert h.quits == [None, None]


def test_up_on_the_top_row_stays_there_and_home_selects_the_master(h):
    farm_of(h, 5)
    h.press("home")
    assert h.console.slave_list.master_selected
    h.press("up", "up")
    assert h.console.slave_list.master_selected
    h.press("end", "down")
    assert h.console.slave_list.selected.slave_id == 5
    binding = keys.lookup("home", "list")
    assert "master" in binding.help


def test_first_selection_is_the_top_slave_however_they_arrive(h):
    h.feed(master_hello(), slave_hello(5, "zz", abi="cp313"))
    assert h.console.slave_list.selected.slave_id == 5
    # slaves that sort above it arrive: the selection stays at the top
    h.feed(slave_hello(2, "aa", abi="cp39"), slave_hello(3, "bb"))
    assert h.console.slave_list.selected.slave_id == 2
    assert slave_lines(h)[0].split()[2] == "aa"


def test_event_log_names_slaves_by_id_and_label(h):
    farm_of(h, 2)
    h.feed(p.SlaveBuild(2, h.now, "numpy", "1.26.4"))
    h.press("l")
    assert "slave 2 (pi-02)" in h.text((100, 30))
    # the version as the details write it, not the protocol's 311
    assert "linux_armv7l Python 3.11" in h.text((100, 30))
    assert "Python 311" not in h.text((100, 30))


def test_details_figures_are_never_cut_at_100_columns_and_wider(h):
    farm_of(h, 2)
    t = h.now + dt.timedelta(seconds=3)
    h.feed(p.MasterStats(
        t, 642902, {"cp311": 3000, "cp39": 2000, "cp313": 1000},
        dt.timedelta(days=2977), 3 * 10**12, {"cp311": 12, "cp39": 20},
        17, 1298675, 54149, 44723426, 987654321, 31 * 10**9, 17 * 10**9,
        8 * 10**9, 4 * 10**9, 2 * 10**9, 10**9, 1.73, 52.0),
        p.SlaveStats(1, t, t, 31 * 10**9, 17 * 10**9, 8 * 10**9,
                     2 * 10**9, 10**9, 10**9, 1.5, 55.0), now=t)
    for size in ((100, 40), (120, 40), (160, 50)):
        for row in ("home", "down"):
            h.press("d")
            h.press(row)
            screen = h.screen(size)
            h.press("d")
            # the pane: below its title's corner, right of it when beside
            top = next(i for i, line in enumerate(screen)
                       if "Details" in line)
            left = screen[top].index("\u250c")
            pane = "\n".join(line[left:] for line in screen[top:-2])
            assert "\N{HORIZONTAL ELLIPSIS}" not in pane, (size, row, pane)
            assert "Frames" in pane or "State" in pane
    h.press("d", "home")
    # the master's details go on below the pane: ] shows the rest
    text = seen = h.text((120, 40))
    for _ in range(5):
        if "Details (] for more)" not in text and "Details ([ ] to" \
                not in text:
            break
        h.press("]")
        text = h.text((120, 40))
        seen += text
    assert "Details ([ back up)" in text
    for figure in ("54,149 last hour,", "44,723,426 last month,",
                   "987,654,321 in all", "17.0 GB free", "642,902 packages"):
        assert figure in seen
    h.press("down")
    assert "Python       3.11" in h.text((120, 40))


def test_a_skew_that_rounds_to_zero_has_no_sign():
    from piw_monitor.ui.details import python_version, skew
    assert skew(dt.timedelta(seconds=-0.04)) == "0.0 s"
    assert skew(dt.timedelta(seconds=-1.26)) == "-1.3 s"
    assert skew(None) == "-"
    assert python_version("311") == "3.11" and python_version("39") == "3.9"
    assert python_version("weird") == "weird"


def test_ascii_symbols_stand_in_off_utf8(h):
    from piw_monitor.ui import symbols
    farm_of(h)
    h.console.sort_by("abi", False)
    symbols.use_ascii(True)
    try:
        h.console.slave_list.invalidate_all()
        h.console.header.update()
        h.console.column_header._invalidate()
        screen = h.screen()
        body = "\n".join(screen[:7])
        assert body.isascii(), body
        assert screen[0].startswith("Master vm | running |")
        assert "ABI^" in screen[2]
        assert screen[4].startswith("*")
    finally:
        symbols.use_ascii(False)


def test_locale_and_terminal_type_checks():
    from piw_monitor.ui.terminal import locale_is_utf8, unusable
    assert locale_is_utf8({"LANG": "en_GB.UTF-8"})
    assert locale_is_utf8({"LC_ALL": "C.utf8", "LANG": "C"})
    assert not locale_is_utf8({"LANG": "C"})
    assert not locale_is_utf8({"LANG": "de_DE.ISO-8859-1"})
    # Python's own coercion of a C locale is seen through
    assert not locale_is_utf8({"LANG": "C", "LC_CTYPE": "C.UTF-8"})
    assert not locale_is_utf8({"LANG": "en_US.ISO-8859-1",
                               "LC_CTYPE": "C.UTF-8"})
    assert locale_is_utf8({"LANG": "en_US.UTF-8", "LC_CTYPE": "C.UTF-8"})
    assert not locale_is_utf8({"LC_ALL": "C", "LANG": "en_GB.UTF-8"})
    assert "TERM=dumb" in unusable({"TERM": "dumb"})
    assert "TERM=unset" in unusable({})
    # curses reads one terminfo entry per process: ask a fresh one
    check = ("import sys; from piw_monitor.ui.terminal import unusable; "
             "print(unusable({'TERM': sys.argv[1]}))")
    for term, want in (("xterm-256color", "None"), ("linux", "None"),
                       ("no-such-terminal-type", "None")):
        out = subprocess.run([sys.executable, "-c", check, term],
                             capture_output=True, text=True, check=True)
        assert out.stdout.strip() == want, term


def test_no_bright_background_on_sixteen_colours():
    from piw_monitor.ui.palette import PALETTE
    bright = {"dark gray", "light red", "light green", "yellow",
              "light blue", "light magenta", "light cyan", "white"}
    for entry in PALETTE:
        assert entry[2] not in bright, entry


def test_the_event_log_shows_a_long_reason_whole(h):
    # a reason longer than the screen is wide (an ssh error, why the master
    # cannot be reached) wraps in the log rather than being cut
    reason = ("SSH tunnel to pi@master.example down: ssh: connect to host "
              "master.example port 22: Connection refused (no SSH server "
              "answers on master.example (is it restarting?))")
    h.feed(p.TunnelDown("pi@master.example", reason.split(": ", 1)[1], 4.0,
                        "", False))
    h.press("l")
    text = " ".join(line.strip(" \u2502") for line in h.screen((80, 24)))
    # (the status line below is cut at its end: only the log has it all)
    assert "(is it restarting?))" in text


def test_s_skips_the_columns_the_width_leaves_out(h):
    # at 80 columns no resource column is shown: s goes from Task back to
    # the state column, never to a column there is no title for
    farm_of(h, 2)
    h.screen((80, 24))
    seen = []
    for _ in range(len(widgets.COLUMNS)):
        h.press("s", size=(80, 24))
        seen.append(h.console.slave_list.sort_column)
    assert set(seen) == {"state", "id", "label", "abi", "up", "task-time",
                         "task"}
    # at 140, all of them
    h.screen((140, 24))
    seen = set()
    for _ in range(len(widgets.COLUMNS)):
        h.press("s", size=(140, 24))
        seen.add(h.console.slave_list.sort_column)
    assert seen == {name for name, _title in widgets.COLUMNS}
