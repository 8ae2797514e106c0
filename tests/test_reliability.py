"""
Reliability: what piw-monitor promises when things go wrong, proved on what
the user sees (a real pseudo-terminal, read with pyte) and on what crosses
the wire (a demo master, in-process or as a process of its own, or a fake
master made of plain 0MQ sockets bound in a temporary directory).

Each group of tests below proves one guarantee of ``docs/reliability.rst``.
Nothing here sleeps to synchronise: every wait is on a condition.
"""

import datetime as dt
import os
import random
import re
import signal
import subprocess
import sys
import termios
import time

import cbor2
import pytest
import zmq
from urwid.testing import render_runs

from piw_monitor import link as link_module
from piw_monitor import protocol as p
from piw_monitor.demo import DemoMaster
from piw_monitor.model import MASTER_QUIET, MASTER_SILENCE

from .helpers import status_records, wait_for
from .terminal import ROOT, Terminal
from .test_ui import Harness, farm_of, master_hello, master_stats

pytestmark = pytest.mark.timeout(60)

#: The marker at the start of every slave row.
MARKER = "\N{BLACK CIRCLE}"

#: How soon the death of a master's process shows on ipc (the kernel closes
#: its sockets at once; 0MQ reports the disconnection).
DEATH_BOUND = 3.0

#: How soon a master that hangs with its sockets open shows: ZMTP heartbeats,
#: plus the interval of the first one and a margin for a busy machine.
HANG_BOUND = (link_module.HEARTBEAT_TIMEOUT + link_module.HEARTBEAT_IVL) / 1000 + 3

#: How soon a link that 0MQ dropped (an oversized frame) is up again: the
#: link's recovery delay, the one-second tick that applies it, a margin.
RECOVER_BOUND = link_module.RECOVER_DELAY.total_seconds() + 1 + 3

# the reason in brackets, up to what the link found out about the cause
# (": nothing listens on ..."), which may come at once and be cut at the
# screen's edge
SILENT_SINCE = re.compile(
    r"silent since (\d\d:\d\d:\d\d) \(([^):\u2026]*)[):\u2026]")


def utcnow():
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


# ------------------------------------------------------------ fixtures

@pytest.fixture
def monitor(ipc_addrs):
    """Start piw-monitor in a pseudo-terminal on the test's ipc addresses."""
    terminals = []

    def start(rows=24, cols=100, extra=(), env=None):
        args = ["--status-queue", ipc_addrs[0],
                "--control-queue", ipc_addrs[1], *extra]
        term = Terminal(args, rows=rows, cols=cols, env=env)
        terminals.append(term)
        return term

    yield start
    for term in terminals:
        term.close()


@pytest.fixture
def demo(ipc_addrs):
    """Start in-process demo masters on the test's addresses."""
    masters = []

    def start(**kwargs):
        kwargs.setdefault("seed", 7)
        kwargs.setdefault("speed", 4.0)
        master = DemoMaster(*ipc_addrs, **kwargs)
        master.start()
        assert master.ready.wait(5)
        masters.append(master)
        return master

    yield start
    for master in masters:
        master.stop()


@pytest.fixture
def demo_process(ipc_addrs, tmp_path):
    """Start ``python -m piw_monitor.demo`` processes on the test's addresses."""
    procs = []
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")

    def start(*extra):
        with open(tmp_path / f"demo-{len(procs)}.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "piw_monitor.demo",
                 "--status-queue", ipc_addrs[0],
                 "--control-queue", ipc_addrs[1], "--seed", "7", *extra],
                env=env, cwd=str(ROOT), stdin=subprocess.DEVNULL,
                stdout=log, stderr=log)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
        proc.wait(5)


class FakeMaster:
    """
    A master's two queues made of plain sockets: an XPUB for status (so the
    test sees when a subscription is live) and a PULL for control.
    """

    def __init__(self, status, control):
        self.ctx = zmq.Context()
        self.pub = self.ctx.socket(zmq.XPUB)
        self.pub.linger = 0
        self.pub.sndhwm = 0   # a burst is never dropped by the master itself
        self.pub.setsockopt(zmq.XPUB_VERBOSE, 1)
        self.pub.bind(status)
        self.pull = self.ctx.socket(zmq.PULL)
        self.pull.linger = 0
        self.pull.bind(control)
        #: every control frame received, in order
        self.received = []

    def close(self):
        self.pub.close(linger=0)
        self.pull.close(linger=0)
        self.ctx.term()

    def _read(self):
        while self.pull.poll(0):
            self.received.append(self.pull.recv(zmq.NOBLOCK))

    def wait_hellos(self, count, term, timeout=10.0):
        """Keep the screen read until *count* HELLOs have arrived."""
        def check(_term):
            self._read()
            return self.received.count(p.hello()) >= count
        term.wait_for(check, timeout=timeout, what=f"{count} HELLO(s)")

    def wait_subscribed(self, term, timeout=5.0):
        """Keep the screen read until a (new) subscription reaches the PUB."""
        def check(_term):
            while self.pub.poll(0):
                if self.pub.recv(zmq.NOBLOCK) == b"\x01":
                    return True
            return False
        term.wait_for(check, timeout=timeout, what="a subscription")

    def publish(self, frames):
        for frame in frames:
            if isinstance(frame, list):
                self.pub.send_multipart(frame)
            else:
                self.pub.send(frame)


@pytest.fixture
def fake_master(ipc_addrs):
    master = FakeMaster(*ipc_addrs)
    yield master
    master.close()


# ------------------------------------------------------------ helpers

def slave_rows(term):
    return [line for line in term.lines if MARKER in line and "cp3" in line]


def row_of(term, text):
    """The screen row (index) of the slave row showing *text*."""
    for row, line in enumerate(term.lines):
        if MARKER in line and text in line:
            return row
    raise AssertionError(f"no slave row shows {text!r}:\n{term.text}")


def column_of(term, row, text):
    """
    The terminal column where *text* starts on screen row *row*, counted in
    cells (a wide character takes two, a combining mark none).
    """
    line = term.screen.buffer[row]
    cells = [line[x].data for x in range(term.cols)]
    for x in range(term.cols - len(text) + 1):
        if all(cells[x + i] == ch for i, ch in enumerate(text)):
            return x
    raise AssertionError(f"{text!r} is not on row {row}:\n{term.text}")


def colours(term, row):
    """The foreground colours used on screen row *row*, left to right."""
    line = term.screen.buffer[row]
    return [line[x].fg for x in range(term.cols) if line[x].data.strip()]


def stale(term, text):
    """Whether the row showing *text* is drawn all in dark grey (stale)."""
    return set(colours(term, row_of(term, text))) == {"brightblack"}


def printed_after_exit(term):
    """
    The lines the program printed once it had left the alternate screen,
    escape sequences removed.
    """
    raw = bytes(term.raw)
    tail = raw[raw.rfind(b"\x1b[?1049l"):]
    tail = re.sub(rb"\x1b\[[0-9;?<>=]*[A-Za-z~]|\x1b[()][A-Za-z0-9]|\x1b[=>78]",
                  b"", tail)
    text = tail.decode("utf-8", "replace").replace("\r", "")
    return [line.strip() for line in text.split("\n") if line.strip()]


def assert_restored(term):
    assert term.restored() == []
    assert term.echo_on
    # Ctrl-C interrupts again (the monitor takes it as a key while it runs)
    assert term.final_modes[6][termios.VINTR] == b"\x03"


def quit_cleanly(term):
    """q ends the monitor with status 0 and a restored terminal."""
    assert term.child.isalive(), f"the monitor died:\n{term.text}"
    term.key("q")
    assert term.wait_exit() == 0
    assert_restored(term)


def local_clock(when):
    return when.astimezone().strftime("%H:%M:%S")


def assert_silent_since(term, between):
    """The header says the master is silent since a time in *between*."""
    match = SILENT_SINCE.search(term.text)
    assert match, term.text
    start, end = between
    candidates = set()
    t = start.replace(microsecond=0) - dt.timedelta(seconds=1)
    while t <= end + dt.timedelta(seconds=1):
        candidates.add(local_clock(t))
        t += dt.timedelta(seconds=1)
    assert match.group(1) in candidates, (match.group(1), candidates)
    return match.group(2)


def status_frames(*events):
    return [p.encode_status(e) for e in events]


def fake_slave(sid, label, *, ts=None, busy=300, abi="cp311", os_name="Raspbian"):
    return p.SlaveHello(
        sid, ts or utcnow(), dt.timedelta(hours=3), dt.timedelta(seconds=busy),
        abi[2:], abi, "linux_armv7l", label, os_name, "12", "c03111", "1234")


def fake_master_hello(label="fake-master"):
    return p.MasterHello(utcnow(), label, "Linux", "6.1", "unknown", "unknown")


# ======================================================= 1. no master at start

def test_monitor_waits_for_a_master_and_comes_alive_by_itself(
        monitor, demo, ipc_addrs):
    term = monitor(cols=160)
    term.wait_for(f"Waiting for the master at {ipc_addrs[0]}")
    term.wait_for("No build slaves")
    assert term.child.isalive()
    master = demo(slaves=3, label="late-master")
    # the replay: the master's own HELLO only ever comes in answer to ours
    term.wait_for("Master late-master")
    term.wait_for(lambda t: len(slave_rows(t)) == 3, what="three slaves")
    assert p.Control("HELLO") in master.received
    assert "Waiting for the master" not in term.text
    quit_cleanly(term)
    assert {c.message for c in master.received} == {"HELLO"}


# ======================================================= 2. master stops

def test_killed_master_goes_stale_then_restarted_master_replaces_it(
        monitor, demo_process):
    first = demo_process("--slaves", "3", "--speed", "4", "--label", "first-run")
    term = monitor()
    term.wait_for("Master first-run")
    term.wait_for(lambda t: len(slave_rows(t)) == 3, what="three slaves")
    labels = [row.split()[2] for row in slave_rows(term)]
    assert not any(stale(term, label) for label in labels)

    before = dt.datetime.now(dt.timezone.utc)
    first.kill()   # SIGKILL: no goodbye, the kernel closes its sockets
    start = time.monotonic()
    term.wait_for("silent since", timeout=DEATH_BOUND)
    took = time.monotonic() - start
    why = assert_silent_since(term, (before, dt.datetime.now(dt.timezone.utc)))
    assert why == "connection lost"
    # the status line says so, or at once why (the more precise news wins)
    term.wait_for(lambda t: "Lost the connection to the master" in t.text
                  or "Cannot reach the master: nothing listens" in t.text,
                  what="the status line's news of the lost connection")
    # the rows stay, as the last known picture, drawn as stale (the selected
    # row keeps its highlight)
    selected = [label for label in labels if not stale(term, label)]
    assert len(selected) <= 1, term.text
    assert len(slave_rows(term)) == 3
    first.wait(5)

    # the same addresses, a different master: a new run with one slave
    demo_process("--slaves", "1", "--speed", "4", "--label", "second-run")
    term.wait_for("is back", timeout=10)
    term.wait_for("Master second-run")      # its replay: HELLO was re-sent
    term.wait_for(lambda t: len(slave_rows(t)) == 1, what="the new farm only")
    assert "silent since" not in term.text
    (row,) = slave_rows(term)
    assert not stale(term, row.split()[2])
    assert took < DEATH_BOUND
    quit_cleanly(term)


def test_hung_master_is_noticed_by_heartbeats(monitor, demo_process):
    proc = demo_process("--slaves", "2", "--speed", "4", "--label", "hangs")
    term = monitor()
    term.wait_for("Master hangs")
    term.wait_for(lambda t: len(slave_rows(t)) == 2, what="two slaves")
    before = dt.datetime.now(dt.timezone.utc)
    proc.send_signal(signal.SIGSTOP)   # its sockets stay open
    start = time.monotonic()
    term.wait_for("silent since", timeout=HANG_BOUND)
    took = time.monotonic() - start
    assert_silent_since(term, (before - dt.timedelta(seconds=1),
                               dt.datetime.now(dt.timezone.utc)))
    term.wait_for("Lost the connection to the master")
    # not noticed before the heartbeat timeout could have expired
    assert took >= link_module.HEARTBEAT_TIMEOUT / 1000 - 1.5, took
    # the master wakes up: the monitor asks for a replay by itself
    proc.send_signal(signal.SIGCONT)
    term.wait_for("is back", timeout=10)
    term.wait_for(lambda t: "silent since" not in t.text, what="running again")
    quit_cleanly(term)


def test_paused_shows_after_p(monitor, demo):
    master = demo(slaves=2)
    term = monitor()
    term.wait_for(lambda t: len(slave_rows(t)) == 2, what="two slaves")
    term.key("p")
    wait_for(lambda: p.Control("SLEEP", None) in master.received)
    term.wait_for(lambda t: "paused" in t.lines[0], what="paused in the header")
    assert "silent since" not in term.text
    quit_cleanly(term)


def header(h):
    return h.screen()[0]


def test_paused_master_is_paused_not_silent_however_long():
    h = Harness()
    farm_of(h, 2)
    h.press("p")
    assert h.link.sent == [("SLEEP", None)]
    h.feed(p.CommandSent("SLEEP", None))   # what the link reports
    assert "paused" in header(h)
    # a paused master sends no STATS: an hour of silence is still "paused"
    for _ in range(60):
        h.tick(60)
        assert "paused" in header(h) and "silent" not in header(h)
    # and its rows are not drawn as stale
    assert not h.console.view.stale


def test_master_paused_by_another_monitor_is_paused_not_silent():
    h = Harness()
    farm_of(h, 2)
    # another monitor paused it: the slaves are told SLEEP true
    h.feed(p.SlaveSleep(1, h.now, True))
    h.tick(MASTER_SILENCE.total_seconds() * 10)
    assert "paused" in header(h) and "silent" not in header(h)
    # its first STATS after the pause: running again, and heard from
    h.feed(master_stats(h.now + dt.timedelta(seconds=1)))
    assert "running" in header(h)


def test_running_master_silent_past_master_silence_goes_stale():
    h = Harness()
    farm_of(h, 2)
    quiet = MASTER_QUIET.total_seconds()
    h.tick(quiet - 1)
    assert "running" in header(h)
    h.tick(2)
    # quiet first: paused by someone else, or stuck
    assert "quiet since" in header(h)
    assert not h.console.view.stale
    h.tick(MASTER_SILENCE.total_seconds() - quiet - 2)
    assert "quiet since" in header(h)
    h.tick(2)
    line = header(h)
    assert "silent since" in line and "(no word)" in line
    # every slave row is drawn with the stale attribute
    runs = render_runs(h.console, (80, 24))
    rows = [r for r in runs if any("pi-0" in text for _attr, text in r)]
    assert len(rows) == 2
    for row in rows:
        attrs = {attr for attr, _text in row}
        assert "stale" in attrs or attrs & {"focus", "selected"}, row
    # the master speaks again
    h.feed(master_stats(h.now))
    assert "running" in header(h)


def test_restarted_master_does_not_inherit_the_old_pause():
    h = Harness()
    farm_of(h, 1)
    h.feed(p.LinkUp(), p.CommandSent("SLEEP", None))
    assert "paused" in header(h)
    h.feed(p.LinkDown("status queue disconnected"))
    h.tick(5)
    # a new run of the master (another start time) starts unpaused; its
    # replay may hold no STATS yet
    h.feed(p.LinkUp(), master_hello(h.now))
    assert "is back" in h.screen()[-2]
    assert "running" in header(h) and "paused" not in header(h)
    # and, not being paused, it is judged by its silence again
    h.tick(MASTER_SILENCE.total_seconds() + 1)
    assert "silent since" in header(h)


def test_paused_master_that_goes_away_is_lost_not_paused():
    h = Harness()
    farm_of(h, 1)
    h.feed(p.LinkUp(), p.CommandSent("SLEEP", None))
    assert "paused" in header(h)
    h.feed(p.LinkDown("status queue disconnected"))
    assert "silent since" in header(h) and "(connection lost)" in header(h)


# ======================================================= 3. no queued commands

@pytest.mark.parametrize("history", ["never-connected", "master-went-away"])
def test_commands_refused_without_a_master_never_reach_a_later_one(
        monitor, demo, history):
    term = monitor()
    if history == "master-went-away":
        gone = demo(slaves=1, label="gone")
        term.wait_for("Master gone")
        gone.stop()
        term.wait_for("silent since")
    else:
        term.wait_for("Waiting for the master")
    # what cannot be sent is said at once, before any question (issue 15)
    term.key("t")
    term.wait_for("Terminate master: not sent")
    assert "not connected" in term.text
    assert "Terminate the master" not in term.text
    term.key("y")   # no question was asked: y does nothing
    term.key("p")
    term.wait_for("Pause: not sent")
    assert term.child.isalive()

    master = demo(slaves=1, label="later")
    term.wait_for("Master later")
    # a marker: control frames on one connection arrive in order, so a
    # command queued earlier would have reached the master before it
    term.key("r")
    term.wait_for("Resumed: the master hands out builds again")
    wait_for(lambda: p.Control("WAKE", None) in master.received)
    before_marker = master.received[:master.received.index(
        p.Control("WAKE", None))]
    assert before_marker and {c.message for c in before_marker} == {"HELLO"}
    assert all(c.message != "QUIT" for c in master.received)
    quit_cleanly(term)


# ======================================================= 4. quiet slaves

def test_late_and_silent_slaves_in_colour_and_words():
    h = Harness()
    farm_of(h, 2)
    h.talk(200)   # past half the 300 s busy timeout, the master talking
    h.feed(p.SlaveSleep(2, h.now, False))   # slave 2 is heard from again
    runs = render_runs(h.console, (80, 24))

    def row(label):
        return next(r for r in runs if any(label in t for _a, t in r))

    late = row("pi-01")
    assert "quiet for 3m" in "".join(t for _a, t in late)
    assert ("state-late", MARKER) in late or late[0][0] in ("focus", "selected")
    fresh = row("pi-02")
    assert "quiet" not in "".join(t for _a, t in fresh)
    h.talk(200)
    runs = render_runs(h.console, (80, 24))
    silent = row("pi-01")
    text = "".join(t for _a, t in silent)
    assert "Silent for 6m" in text
    attrs = [a for a, _t in silent]
    assert "text-silent" in attrs or attrs[0] in ("focus", "selected")


def test_quiet_slaves_on_a_real_screen(monitor, fake_master):
    term = monitor(cols=120)
    fake_master.wait_hellos(1, term)
    fake_master.wait_subscribed(term)
    now = utcnow()
    fake_master.publish(status_frames(
        fake_master_hello(),
        fake_slave(1, "fresh", ts=now),
        fake_slave(2, "late-one", ts=now - dt.timedelta(seconds=200)),
        fake_slave(3, "silent-one", ts=now - dt.timedelta(seconds=400)),
    ))
    term.wait_for(lambda t: len(slave_rows(t)) == 3, what="three slaves")
    late = term.lines[row_of(term, "late-one")]
    assert "quiet for 3m" in late
    silent = term.lines[row_of(term, "silent-one")]
    assert "Silent for 6m" in silent
    fresh = term.lines[row_of(term, "fresh")]
    assert "quiet" not in fresh and "Silent" not in fresh
    # the colours: the marker and the task in yellow for late (pyte calls
    # it bright brown), in light red for silent
    for label, colour in (("late-one", "brightbrown"),
                          ("silent-one", "brightred")):
        line = term.screen.buffer[row_of(term, label)]
        assert line[0].fg == colour, (label, line[0])
        task = term.lines[row_of(term, label)].index(
            "Waiting" if label == "late-one" else "Silent")
        assert line[task].fg == colour, (label, line[task])
    assert "late" in term.lines[1] and "silent" in term.lines[1]
    quit_cleanly(term)


# ======================================================= 5. bad frames

def bad_frames(rng):
    """Thousands of frames that are not valid status messages."""
    real = [bytes.fromhex(r["hex"]) for r in status_records()]
    frames = []
    for _ in range(1500):   # random bytes
        frames.append(rng.randbytes(rng.randint(1, 64)))
    for _ in range(1500):   # real frames, cut short
        frame = rng.choice(real)
        frames.append(frame[:rng.randint(1, len(frame) - 1)])
    for i in range(500):    # well-formed CBOR, unknown messages
        frames.append(cbor2.dumps([f"NOPE{i}", [1, 2, 3]]))
    for _ in range(200):    # nonsense inside a known message
        frames.append(b"\x82\x65SLAVE\x84\x01\x02\x03\x04")
    frames.append(b"")
    frames.append([b"two", b"parts"])
    return frames


def test_bad_frames_are_counted_and_the_monitor_lives_on(monitor, fake_master):
    max_frame = 4096
    term = monitor(cols=160, extra=["--max-frame-size", str(max_frame)])
    fake_master.wait_hellos(1, term)
    fake_master.wait_subscribed(term)
    fake_master.publish(status_frames(fake_master_hello("fake-master")))
    term.wait_for("Master fake-master")

    frames = bad_frames(random.Random(20261128))
    fake_master.publish(frames)
    # valid frames afterwards still show
    fake_master.publish(status_frames(
        fake_slave(7, "after-bad"), p.SlaveSleep(7, utcnow(), False)))
    term.wait_for("after-bad", timeout=20)
    term.wait_for(f"{len(frames)} bad frames (latest: ", timeout=10)
    assert term.child.isalive()

    # one frame over --max-frame-size: 0MQ drops the connection, the link
    # connects again by itself and asks for a replay
    fake_master.publish([b"\x82\x65SLAVE" + b"\x00" * (2 * max_frame)])
    fake_master.wait_hellos(2, term, timeout=RECOVER_BOUND)
    term.wait_for("is back", timeout=5)
    fake_master.wait_subscribed(term)
    fake_master.publish(status_frames(
        fake_master_hello("fake-again"), fake_slave(8, "after-reconnect")))
    term.wait_for("Master fake-again")
    term.wait_for("after-reconnect")
    assert "after-bad" not in term.text   # replaced by the replay
    # the oversized frame never reached the decoder
    assert f"{len(frames)} bad frames" in term.text
    quit_cleanly(term)


# ======================================================= 6. hostile strings

HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202eevil\u2066x\u2069"


def test_hostile_strings_never_reach_the_terminal(monitor, fake_master):
    term = monitor(cols=120)
    fake_master.wait_hellos(1, term)
    fake_master.wait_subscribed(term)
    ts = utcnow()
    fake_master.publish(status_frames(
        fake_master_hello("m" + HOSTILE),
        fake_slave(1, HOSTILE, os_name=HOSTILE),
        p.SlaveBuild(1, ts, "pkg" + HOSTILE, "1.0" + HOSTILE),
        fake_slave(2, "H" * 1024),                   # the longest accepted
        p.SlaveSend(2, ts, "file" + HOSTILE + ".whl"),
        fake_slave(3, "plain"),
    ))
    # a label over the protocol's limit is refused as a bad frame
    fake_master.publish(status_frames(fake_slave(4, "X" * 50_000)))
    term.wait_for(lambda t: len(slave_rows(t)) == 3, what="three slaves")
    term.wait_for("1 bad frames")
    term.settle()

    raw = bytes(term.raw)
    assert b"\x1b]0;pwned" not in raw
    assert b"]0;pwned" in raw          # shown, harmless
    for char in ("\u202e", "\u2066", "\u2069", "\x9b"):
        assert char.encode() not in raw, repr(char)
    assert b"\x07" not in raw
    assert "pwned" not in term.screen.title
    # the screen was not cleared by the label: the header is still there
    assert "Master m" in term.lines[0]
    # every row still lines up
    cols = {column_of(term, row_of(term, label), "cp311")
            for label in ("]0;pwned", "HHHH", "plain")}
    assert len(cols) == 1, term.text
    quit_cleanly(term)


def test_wide_and_combining_characters_keep_columns_aligned(
        monitor, fake_master):
    term = monitor(cols=100)
    fake_master.wait_hellos(1, term)
    fake_master.wait_subscribed(term)
    labels = {
        "plain": "plain",
        "wide": "\u65e5\u672c\u8a9e\u306e\u30e9\u30d9\u30eb\u3067\u3059\u3088",
        "combining": "cafe\u0301\u0301\u0301-x",
        "leading": "\u0301abc",
    }
    fake_master.publish(status_frames(
        fake_master_hello(),
        *(fake_slave(i, label) for i, label in enumerate(labels.values(), 1))))
    term.wait_for(lambda t: len(slave_rows(t)) == 4, what="four slaves")
    term.settle()
    columns = {}
    for i in range(1, 5):
        row = next(r for r, line in enumerate(term.lines)
                   if MARKER in line and line.split()[1] == str(i))
        columns[i] = column_of(term, row, "cp311")
    assert len(set(columns.values())) == 1, (columns, term.text)
    quit_cleanly(term)


# ======================================================= 7. exit paths

EXITS = {
    "q": 0, "terminate": 0, "ctrl c": 0, "SIGTERM": 143, "SIGHUP": 129,
    "SIGQUIT": 131, "ctrl backslash": 131, "fault": 1,
}


@pytest.mark.parametrize("how", list(EXITS))
def test_every_exit_path_restores_the_terminal(monitor, demo, tmp_path, how):
    master = demo(slaves=2)
    state = tmp_path / "state"
    term = monitor(env={"PIW_MONITOR_TEST_FAULT": "1",
                        "XDG_STATE_HOME": str(state)})
    term.wait_for(lambda t: len(slave_rows(t)) == 2, what="two slaves")
    assert term.restored() != []   # it did switch modes on
    if how == "q":
        term.key("q")
    elif how == "terminate":
        term.key("t")
        term.wait_for("Terminate the master")
        term.key("y")
    elif how == "ctrl c":
        term.key("ctrl c")
    elif how == "ctrl backslash":
        term.send("\x1c")   # the terminal's QUIT character: SIGQUIT
    elif how == "fault":
        term.send("\x1b[24~")   # F12
    else:
        term.child.kill(getattr(signal, how))
    assert term.wait_exit() == EXITS[how]
    assert_restored(term)
    printed = printed_after_exit(term)
    if how == "terminate":
        assert p.Control("QUIT") in master.received
        assert printed == ["Terminate master: the master is shutting down."]
    else:
        assert p.Control("QUIT") not in master.received
    if how.startswith("SIG") or how == "ctrl backslash":
        name = "SIGQUIT" if how == "ctrl backslash" else how
        assert printed == [f"piw-monitor: stopped by {name}"]
    if how == "fault":
        assert len(printed) == 1, printed
        match = re.fullmatch(
            r"piw-monitor: unexpected error: RuntimeError: fault injected "
            r"for a test.*; full traceback in (\S+)", printed[0])
        assert match, printed
        log = match.group(1)
        assert log.startswith(str(state))
        text = open(log, encoding="utf-8").read()
        assert text.startswith("Traceback (most recent call last)")
        assert "RuntimeError: fault injected for a test" in text


def test_ctrl_c_still_quits_after_a_suspend(monitor, demo):
    # urwid stops the screen around Ctrl-Z (which gives the terminal its
    # own settings back, Ctrl-C as SIGINT included) and starts it again on
    # resume: Ctrl-C must still be the Quit key then
    demo(slaves=2)
    term = monitor()
    term.wait_for(lambda t: len(slave_rows(t)) == 2, what="two slaves")
    enter = b"\x1b[?1049h"
    starts = bytes(term.raw).count(enter)
    term.send("\x1a")  # Ctrl-Z
    # the screen is stopped and started again; fg's SIGCONT when stopped
    deadline = time.monotonic() + 15
    while bytes(term.raw).count(enter) == starts:
        assert time.monotonic() < deadline, "the screen did not come back"
        if process_state(term.child.pid) == "T":
            os.kill(term.child.pid, signal.SIGCONT)
        term.pump(0.05)
    term.settle()
    term.key("ctrl c")
    assert term.wait_exit() == 0
    assert_restored(term)
    assert not any("interrupted" in line for line in printed_after_exit(term))


def process_state(pid):
    """The one-letter state of process *pid* (``T`` when stopped)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


def test_a_hangup_ends_the_monitor_quietly(monitor, demo, tmp_path):
    # the terminal goes away under the monitor, as when an SSH connection
    # drops: SIGHUP, and nowhere left to print; no crash, no crash log
    demo(slaves=2)
    state = tmp_path / "state"
    term = monitor(env={"XDG_STATE_HOME": str(state)})
    term.wait_for(lambda t: len(slave_rows(t)) == 2, what="two slaves")
    child = term.child
    child.ptyproc.fileobj.close()   # the last handle on the terminal
    wait_for(lambda: not child.isalive(), timeout=15,
             message="the monitor outlived its terminal")
    assert child.exitstatus == 128 + signal.SIGHUP, child.signalstatus
    assert not state.exists() or not any(state.rglob("*"))


# ======================================================= 8. terminal size

@pytest.mark.parametrize("rows,cols", [(3, 10), (7, 60), (20, 49), (100, 300)])
def test_any_terminal_size(monitor, demo, rows, cols):
    demo(slaves=2)
    term = monitor(rows=rows, cols=cols)
    if rows < 8 or cols < 50:
        # the notice, wrapped to the width
        term.wait_for(lambda t: "Terminal" in t.text and "too small" in t.text,
                      what="the notice")
        if cols >= 40:
            term.wait_for("Terminal too small for piw-monitor")
    else:
        term.wait_for(lambda t: len(slave_rows(t)) == 2, what="two slaves")
        term.wait_for("< Quit >")
    # keys at that size (no Esc: with a key right behind it, it makes "meta")
    for key in ("down", "page down", "end", "k", "n", "tab", "tab", "home"):
        term.key(key)
    term.settle()
    quit_cleanly(term)


def test_resize_storm(monitor, demo):
    demo(slaves=4)
    term = monitor()
    term.wait_for(lambda t: len(slave_rows(t)) == 4, what="four slaves")
    rng = random.Random(42)
    # keys that send nothing to the master and leave no dialog open for long
    safe_keys = ["down", "up", "page down", "home", "end", "tab", "k", "n"]
    for i in range(40):
        term.resize(rng.randint(1, 100), rng.randint(1, 300))
        if i % 3 == 0:
            term.key(rng.choice(safe_keys))
        term.pump(0)
    term.key("n")   # a Kill dialog the storm may have left open
    term.resize(24, 80)
    term.settle()
    assert term.child.isalive(), term.text
    # the last size wins: the whole screen is drawn for 80x24
    term.wait_for(lambda t: "< Quit >" in t.lines[-1], what="the buttons")
    term.wait_for(lambda t: len(slave_rows(t)) == 4, what="four slaves")
    quit_cleanly(term)


@pytest.mark.parametrize("rows,cols", [(12, 60), (8, 50)])
def test_dialogs_fit_small_terminals(monitor, demo, rows, cols):
    demo(slaves=2)
    term = monitor(rows=rows, cols=cols)
    term.wait_for(lambda t: len(slave_rows(t)) == 2, what="two slaves")
    row = slave_rows(term)[0]
    sid, label = row.split()[1], row.split()[2]
    col, line = term.find(row[:12])
    term.click(col + 8, line)
    term.settle()
    term.key("k")
    term.wait_for(f"Kill slave {sid} ({label})?")
    if rows >= 12:
        term.wait_for("< Yes >")
    term.key("n")
    term.wait_for("cancelled")
    term.key("t")
    term.wait_for("Terminate the master")
    term.key("esc")
    term.wait_for("Terminate master: cancelled")
    quit_cleanly(term)


def test_output_lost_with_the_terminal_does_not_change_the_exit_status():
    # after a hang-up, what is still buffered for the terminal cannot be
    # written; the interpreter's flush at exit must not fail on it (that
    # would make the exit status 120 instead of 129)
    code = (
        "import os, sys\n"
        "from piw_monitor.app import _say\n"
        "r, w = os.pipe(); os.close(r)\n"   # a reader that has gone
        "sys.stdout = open(w, 'w', buffering=8192)\n"
        "sys.stdout.write('still buffered')\n"
        "_say('piw-monitor: stopped by SIGHUP')\n"
        "sys.exit(129)\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run([sys.executable, "-c", code], env=env,
                            capture_output=True, timeout=60)
    assert result.returncode == 129, result


# ======================================================= 7b. ways out under load

#: A frame that is valid CBOR but no valid message, and costs the decoder
#: about a millisecond (20,000 empty maps in 20 kB): a flood of these keeps
#: the monitor reading, inside its decoder and its drain, nearly all the time.
EXPENSIVE_FRAME = cbor2.dumps(["SLAVE", [{}] * 20000])

BAD_COUNT = re.compile(r"(\d+) bad frames")


class Flood:
    """
    Keeps a monitor busy: expensive bad frames, published as fast as it
    reads them. The count of bad frames on its screen says how far it has
    read; the backlog is kept between *low* and *high* frames, so that work
    is always waiting (the count on screen lags by up to half a second of
    reading) but the monitor's queue cannot grow without bound.
    """

    def __init__(self, master, term, low=800, high=2000):
        self.master, self.term = master, term
        self.low, self.high = low, high
        self.sent = 0

    def read(self):
        """How many bad frames the monitor says it has read."""
        match = BAD_COUNT.search(self.term.text)
        return int(match.group(1)) if match else 0

    def step(self, blind=False):
        """
        Top the backlog up and read the screen once. With *blind* (the
        screen can no longer be read) publish a small batch at a time.
        """
        if blind:
            for _ in range(50):
                self.master.pub.send(EXPENSIVE_FRAME)
            self.sent += 50
            time.sleep(0.02)   # pacing a producer, not a wait on the monitor
            return
        if self.sent - self.read() < self.low:
            for _ in range(self.high - self.low):
                self.master.pub.send(EXPENSIVE_FRAME)
            self.sent += self.high - self.low
        self.term.pump(0.02)

    def until(self, condition, timeout=30.0, what=None, blind=False):
        """Flood until *condition()* holds; fail after *timeout* seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, (
                f"timed out waiting for {what or condition}; "
                f"screen:\n{self.term.text}")
            self.step(blind)


@pytest.fixture
def flooded(monitor, fake_master, tmp_path):
    """
    A monitor (its crash logs under ``tmp_path/state``) busy reading a
    flood from a fake master; returns ``(term, flood, state)``.
    """
    def start(env=None):
        state = tmp_path / "state"
        term = monitor(cols=160, env={"XDG_STATE_HOME": str(state),
                                      **(env or {})})
        fake_master.wait_hellos(1, term)
        fake_master.wait_subscribed(term)
        fake_master.publish(status_frames(fake_master_hello("flooder")))
        term.wait_for("Master flooder")
        flood = Flood(fake_master, term)
        # busy: it has read thousands of frames, and more are waiting
        flood.until(lambda: flood.read() >= 3000, what="3000 frames read")
        return term, flood, state
    return start


def crash_logs(state):
    return list(state.rglob("*.log")) if state.exists() else []


@pytest.mark.parametrize("signame, status, says", [
    ("SIGTERM", 143, "piw-monitor: stopped by SIGTERM"),
    ("SIGHUP", 129, "piw-monitor: stopped by SIGHUP"),
    ("SIGQUIT", 131, "piw-monitor: stopped by SIGQUIT"),
    ("SIGINT", 130, "piw-monitor: interrupted"),
])
def test_signals_end_the_monitor_under_a_flood(flooded, signame, status, says):
    # a signal lands wherever the monitor is, and under a flood that is in
    # the decoder or in a callback of urwid's loop: neither may swallow it
    term, flood, state = flooded()
    term.child.kill(getattr(signal, signame))
    flood.until(lambda: not term.child.isalive(), timeout=20,
                what=f"the monitor to end on {signame}")
    assert term.wait_exit() == status
    assert_restored(term)
    assert b"Traceback" not in term.raw
    assert printed_after_exit(term) == [says]
    assert crash_logs(state) == []


@pytest.mark.parametrize("where", ["refresh", "tick", "drain", "key"])
def test_an_error_in_any_callback_takes_the_crash_path(flooded, where):
    # F12 arms a fault in one of the loop's callbacks; it goes off the next
    # time that callback runs (the key's own handler at once)
    term, flood, state = flooded(env={"PIW_MONITOR_TEST_FAULT": where})
    term.send("\x1b[24~")   # F12
    flood.until(lambda: not term.child.isalive(), timeout=20,
                what=f"the monitor to end on a fault in {where}")
    assert term.wait_exit() == 1
    assert_restored(term)
    # nothing was printed over the screen, one line after it
    assert b"Traceback" not in term.raw
    assert b"Unhandled exception" not in term.raw
    printed = printed_after_exit(term)
    assert len(printed) == 1, printed
    match = re.fullmatch(
        r"piw-monitor: unexpected error: RuntimeError: fault injected for a "
        rf"test \({where}\) in app\.py:\d+; full traceback in (\S+)",
        printed[0])
    assert match, printed
    assert crash_logs(state) == [state / "piw-monitor" /
                                 os.path.basename(match.group(1))]
    text = open(match.group(1), encoding="utf-8").read()
    assert f"RuntimeError: fault injected for a test ({where})" in text


def test_closing_the_terminal_while_flooded_is_a_hangup(flooded):
    # as when an SSH connection drops while the master pours out frames:
    # SIGHUP, status 129, and no crash log, whatever the monitor was doing
    term, flood, state = flooded()
    child = term.child
    child.ptyproc.fileobj.close()   # the last handle on the terminal
    flood.until(lambda: not child.isalive(), timeout=20, blind=True,
                what="the monitor to end with its terminal")
    assert child.exitstatus == 128 + signal.SIGHUP, child.signalstatus
    assert crash_logs(state) == []
