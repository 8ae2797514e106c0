"""
The headless modes: ``--once --json``, ``--json`` (NDJSON) and ``--check``.

The snapshot and the probe's verdict are checked in-process on hand-built
farms with a made-up clock; the modes themselves on the real program, run as
``python -m piw_monitor`` in a subprocess against an in-process demo master
on private ipc addresses, judged only by what they print and their exit
status. A tiny monitor of the test's own (SUB + PUSH) says when the demo is
ready (its slaves have joined, or all of them have been told the master is
paused), so no test sleeps for a fixed time.
"""

import datetime as dt
import io
import json
import math
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zmq

from piw_monitor import headless, model, protocol
from piw_monitor import protocol as p
from piw_monitor.demo import DemoMaster
from piw_monitor.link import MasterLink

from .helpers import wait_for

ROOT = Path(__file__).resolve().parents[1]
UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SEC = dt.timedelta(seconds=1)
KINDS = {"master", "slave", "removed", "bad-frame"}

pytestmark = pytest.mark.timeout(60)


# ------------------------------------------------------------ helpers

def master_hello(started=T0, label="farm-master"):
    return p.MasterHello(started, label, "Raspbian GNU/Linux",
                         "12 (bookworm)", "d03114", "1000000012345678")


def master_stats(when, disk_free=250, disk_size=1000):
    return p.MasterStats(
        when, 650_000, {"cp311": 40}, dt.timedelta(days=2, seconds=30),
        3_000_000, {"cp311": 12}, 300, 1_300_000, 60_000, 40_000_000,
        1_200_000_000, disk_size, disk_free, 8_000, 4_000, 2_000, 1_900,
        1.25, 50.5)


def slave_hello(sid, when, label, abi="cp311", busy=300):
    return p.SlaveHello(
        sid, when, dt.timedelta(hours=3), dt.timedelta(seconds=busy),
        abi[2:], abi, "linux_aarch64", label,
        "Raspbian GNU/Linux", "12 (bookworm)", "c03114", "10000000abcdef01")


def farm_at(events):
    """A farm fed (event, time) pairs in order."""
    farm = model.Farm()
    for event, when in events:
        farm.apply(event, when)
    return farm


def healthy_farm(slaves=3, disk_free=250):
    """A running master (label farm-master) and *slaves* idle slaves."""
    events = [(p.LinkUp(), T0), (master_hello(), T0),
              (master_stats(T0, disk_free), T0)]
    for sid in range(1, slaves + 1):
        events.append((slave_hello(sid, T0, f"pi-{sid:02d}"), T0))
        events.append((p.SlaveSleep(sid, T0 + SEC, False), T0 + SEC))
    return farm_at(events)


PERF_VALUE = re.compile(r"(-?\d+(?:\.\d+)?)(%|s|ms|us|B|KB|MB|TB|c)?\Z")
PERF_RANGE = re.compile(
    r"@?(?:(?:~|-?\d+(?:\.\d+)?)?:)?(?:-?\d+(?:\.\d+)?)?\Z")
PERF_NUMBER = re.compile(r"(-?\d+(?:\.\d+)?)?\Z")


def parse_perf(text):
    """
    The performance data of a plugin line (``label=value[UOM];[warn];
    [crit];[min];[max]``, space separated): {label: (value, uom, warn,
    crit, min, max)}. Fails the test on anything else.
    """
    result = {}
    for item in text.split(" "):
        label, sep, rest = item.partition("=")
        assert sep and label and "'" not in label, item
        fields = rest.split(";")
        assert 1 <= len(fields) <= 5, item
        fields += [""] * (5 - len(fields))
        value = PERF_VALUE.match(fields[0])
        assert value, item
        assert PERF_RANGE.match(fields[1]) and PERF_RANGE.match(fields[2]), item
        assert PERF_NUMBER.match(fields[3]) and PERF_NUMBER.match(fields[4]), item
        assert label not in result, item
        result[label] = (float(value.group(1)), value.group(2) or "",
                         *fields[1:])
    return result


def split_line(line):
    """A probe's line: (status word, summary, performance data or None)."""
    assert "\n" not in line
    word, sep, rest = line.partition(" - ")
    assert sep and word in headless.STATUS_WORDS, line
    summary, sep, perf = rest.partition(" | ")
    return word, summary, parse_perf(perf) if sep else None


def alerts(spec, value):
    """Whether *value* alerts under the plugin range *spec* ('' never)."""
    if not spec:
        return False
    inside = spec.startswith("@")
    spec = spec.lstrip("@")
    low, sep, high = spec.rpartition(":")
    if not sep:
        low, high = "0", spec
    low = -math.inf if low == "~" else float(low or 0)
    high = math.inf if high == "" else float(high)
    within = low <= value <= high
    return within if inside else not within


def run(args, home, timeout=30):
    """Run ``python -m piw_monitor *args*``; no stdin, HOME=*home*."""
    return subprocess.run(
        monitor_command(args), env=environment(home),
        stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=timeout)


def monitor_command(args):
    return [sys.executable, "-m", "piw_monitor", *args]


def environment(home):
    env = dict(os.environ)
    env["HOME"] = str(home)     # no user configuration file
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + [x for x in [env.get("PYTHONPATH")] if x])
    return env


def queues(addrs):
    return ["--status-queue", addrs[0], "--control-queue", addrs[1]]


class Watcher:
    """
    A tiny monitor of the test's own: what the demo says to each slave
    (the last message, STATS aside), from a replay and then live.
    """

    def __init__(self, status, control):
        self.ctx = zmq.Context()
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.connect(status)
        self.push = self.ctx.socket(zmq.PUSH)
        self.push.setsockopt(zmq.LINGER, 0)
        self.push.connect(control)
        self.hello = False
        self.last = {}          # slave id -> last SLAVE message but STATS

    def pump(self, wait=0.01):
        if not self.sub.poll(int(wait * 1000)):
            return
        while True:
            try:
                frame = self.sub.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            event = protocol.decode_status(frame, dt.datetime.now(UTC))
            if isinstance(event, p.MasterHello):
                self.hello = True
            elif isinstance(event, p.SlaveDie):
                self.last.pop(event.slave_id, None)
            elif isinstance(event, p.SlaveEvent) and not isinstance(
                    event, p.SlaveStats):
                self.last[event.slave_id] = event

    def wait(self, condition, timeout=10, message=None):
        def check():
            self.pump()
            return condition()
        return wait_for(check, timeout=timeout, message=message)

    def attach(self):
        """Ask for replays until one comes (the subscription is live)."""
        def answered():
            self.push.send(protocol.hello())
            for _ in range(10):
                self.pump()
            return self.hello
        wait_for(answered, timeout=10, message="the demo never answered HELLO")

    def close(self):
        self.ctx.destroy(linger=0)


def start_demo(folder, slaves=3, speed=10.0):
    """A demo master on ipc addresses in *folder*, with its slaves joined."""
    addrs = f"ipc://{folder}/status", f"ipc://{folder}/control"
    demo = DemoMaster(*addrs, slaves=slaves, speed=speed, seed=7)
    demo.start()
    watcher = Watcher(*addrs)
    watcher.attach()
    watcher.wait(lambda: len(watcher.last) >= slaves,
                 message="the demo's slaves did not join")
    return demo, watcher, addrs


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A healthy demo farm, shared by the tests that only watch it."""
    demo, watcher, addrs = start_demo(tmp_path_factory.mktemp("hl"))
    yield addrs
    watcher.close()
    demo.stop()


@pytest.fixture
def home(tmp_path):
    return tmp_path


@pytest.fixture
def nobody(tmp_path):
    """Addresses where no master listens."""
    return f"ipc://{tmp_path}/no-status", f"ipc://{tmp_path}/no-control"


# ------------------------------------------------------------ snapshot

def test_snapshot_of_a_hand_built_farm():
    now = T0 + 10 * SEC
    farm = farm_at([
        (p.LinkUp(), T0),
        (master_hello(), T0),
        (master_stats(T0 + SEC, disk_free=100), T0 + SEC),
        (slave_hello(2, T0, "pi-02", abi="cp39"), T0),
        (p.SlaveBuild(2, T0 + 2 * SEC, "numpy", "2.0.2"), T0 + 2 * SEC),
        (slave_hello(1, T0, "pi-01"), T0),
        (p.SlaveSleep(1, T0 + 3 * SEC, False), T0 + 3 * SEC),
        # a slave known only from a STATS report: nothing else is known
        (p.SlaveStats(9, T0 + 4 * SEC, T0 + 4 * SEC, 10, 5, 10, 5, 10, 5,
                      0.5, 40.0), T0 + 4 * SEC),
        (p.BadFrame("not CBOR", 3), T0 + 5 * SEC),
    ])
    data = headless.snapshot(farm, now, "ipc:///tmp/x")
    assert json.loads(json.dumps(data)) == data     # plain JSON data
    assert data["time"] == now.isoformat()
    master = data["master"]
    assert master == {
        "state": "connected", "address": "ipc:///tmp/x",
        "label": "farm-master", "started": T0.isoformat(),
        "last_seen": (T0 + 4 * SEC).isoformat(), "paused": False,
        "up_time": 10.0, "clock_skew": 0.0,
        "os": "Raspbian GNU/Linux 12 (bookworm)",
        "stats": master["stats"], "outlook": master["outlook"],
        "slaves_under_pressure": 0, "history": master["history"]}
    assert master["outlook"] == [
        {"abi": "cp311", "pending": 12, "builds_last_hour": 40,
         "empty_in": 1080}]
    assert master["history"]["builds_pending"] == [12]
    assert master["history"]["time"] == [(T0 + SEC).isoformat()]
    stats = master["stats"]
    assert stats["disk_free"] == 100 and stats["disk_size"] == 1000
    assert stats["builds_time"] == 2 * 86400 + 30
    assert stats["builds_pending"] == {"cp311": 12}
    assert stats["timestamp"] == (T0 + SEC).isoformat()
    # ordered by ABI (cp39 first), then label; 9 has no ABI: first
    assert [s["id"] for s in data["slaves"]] == [9, 2, 1]
    unknown, building, idle = data["slaves"]
    assert unknown["label"] is None and unknown["abi"] is None
    assert unknown["python"] is None and unknown["os"] is None
    assert unknown["busy_timeout"] is None and unknown["package"] is None
    assert building == {
        "id": 2, "label": "pi-02", "abi": "cp39", "python": "39",
        "platform": "linux_aarch64", "os": "Raspbian GNU/Linux 12 (bookworm)",
        "state": "building", "task": "Building numpy 2.0.2",
        "package": "numpy", "version": "2.0.2",
        "first_seen": T0.isoformat(),
        "last_seen": (T0 + 2 * SEC).isoformat(), "up_time": 10.0,
        # learnt from the replay: when the build began is not known
        "task_time": None, "task_time_at_least": 8.0,
        "busy_timeout": 300.0, "build_timeout": 10800.0,
        "stopping": False, "resources": None, "pressure": [],
        "history": {"time": [], "memory": [], "swap": [], "disk_free": [],
                    "load": [], "temp": []}}
    assert idle["state"] == "idle" and idle["package"] is None
    assert idle["task"] == "Waiting for jobs"
    assert data["counts"] == {
        "idle": 2, "building": 1, "sending": 0, "cleaning": 0, "late": 0,
        "silent": 0, "terminating": 0}
    assert data["frames"] == 7 and data["bad_frames"] == 1
    assert data["last_bad_reason"] == "not CBOR"


def test_snapshot_before_the_master_said_anything():
    data = headless.snapshot(model.Farm(), T0)
    assert data["master"] == {
        "state": "waiting", "address": None, "label": None, "started": None,
        "last_seen": None, "paused": False, "up_time": None,
        "clock_skew": None, "os": None, "stats": None, "outlook": [],
        "slaves_under_pressure": 0, "history": {
            "time": [], "builds_last_hour": [], "builds_pending": [],
            "downloads_last_hour": [], "disk_free": [], "memory": [],
            "load": [], "temp": []}}
    assert data["slaves"] == [] and data["last_bad_reason"] is None
    assert set(data["counts"]) == set(model.STATES)


# ------------------------------------------------------------ judge

def test_judge_a_healthy_farm():
    farm = healthy_farm()
    status, summary, perf = headless.judge(farm, T0 + 5 * SEC)
    assert status == headless.OK
    assert summary == "farm-master running, 3 slaves (0 silent), disk free 25%"
    line = headless.STATUS_WORDS[status] + " - " + summary + " | " + \
        " ".join(perf)
    word, _, data = split_line(line)
    assert word == "OK"
    assert data["slaves"][0] == 3 and data["silent"][0] == 0
    assert data["building"][0] == 0 and data["bad_frames"][0] == 0
    assert data["disk_free"][:2] == (25.0, "%")


def silent_farm(silent, total=5):
    """*total* slaves (busy timeout 60 s), of which *silent* went quiet."""
    events = [(p.LinkUp(), T0), (master_hello(), T0),
              (master_stats(T0), T0)]
    for sid in range(1, total + 1):
        events.append((slave_hello(sid, T0, f"pi-{sid:02d}", busy=60), T0))
    later = T0 + 100 * SEC
    # the master talks all along (slaves are not blamed while it is quiet)
    for t in range(10, 100, 10):
        events.append((master_stats(T0 + t * SEC), T0 + t * SEC))
    for sid in range(silent + 1, total + 1):
        events.append((p.SlaveSleep(sid, later, False), later))
    events.append((master_stats(later), later))
    return farm_at(events), later + SEC


@pytest.mark.parametrize("silent, status", [
    (0, headless.OK), (1, headless.WARNING), (2, headless.WARNING),
    (3, headless.CRITICAL), (5, headless.CRITICAL)])
def test_judge_counts_silent_slaves_with_a_made_up_clock(silent, status):
    farm, now = silent_farm(silent)
    assert farm.counts(now)["silent"] == silent
    got, summary, perf = headless.judge(farm, now)
    assert got == status, summary
    if silent:
        assert summary.startswith(
            f"{silent} silent slave{'s' if silent > 1 else ''} - ")
    assert f"({silent} silent)" in summary
    assert parse_perf(" ".join(perf))["silent"][0] == silent


def test_judge_silent_thresholds_are_options():
    farm, now = silent_farm(2)
    assert headless.judge(farm, now, warn_silent=3, crit_silent=4)[0] == \
        headless.OK
    assert headless.judge(farm, now, warn_silent=1, crit_silent=2)[0] == \
        headless.CRITICAL


def test_judge_a_paused_master():
    farm = healthy_farm()
    farm.apply(p.SlaveSleep(1, T0 + 2 * SEC, True), T0 + 2 * SEC)
    status, summary, _ = headless.judge(farm, T0 + 3 * SEC)
    assert status == headless.WARNING
    assert summary.startswith("master paused - farm-master paused, ")


def test_judge_a_master_gone_silent_or_lost():
    farm = healthy_farm()
    later = T0 + model.MASTER_SILENCE + 2 * SEC
    status, summary, _ = headless.judge(farm, later)
    assert (status, summary.split(" - ")[0]) == (
        headless.CRITICAL, "master silent")
    farm.apply(p.LinkDown("status queue disconnected"), T0 + 3 * SEC)
    status, summary, _ = headless.judge(farm, T0 + 4 * SEC)
    assert (status, summary.split(" - ")[0]) == (
        headless.CRITICAL, "master lost")


@pytest.mark.parametrize("free, status", [
    (500, headless.OK), (201, headless.OK), (200, headless.WARNING),
    (101, headless.WARNING), (100, headless.CRITICAL), (0, headless.CRITICAL)])
def test_judge_disk_free(free, status):
    got, summary, _ = headless.judge(healthy_farm(disk_free=free), T0 + SEC)
    assert got == status, summary
    if status != headless.OK:
        assert summary.startswith(f"disk free {free / 10:.1f}% - ")


def test_judge_when_nothing_was_heard():
    status, summary, perf = headless.judge(model.Farm(), T0, heard=False)
    assert (status, summary, perf) == (
        headless.CRITICAL, "master not reachable", [])
    farm = farm_at([(p.LinkUp(), T0)])
    assert headless.judge(farm, T0, heard=False)[:2] == (
        headless.CRITICAL, "master not answering")


@pytest.mark.parametrize("warn, crit", [(1, 3), (2, 2), (4, 9)])
def test_silent_thresholds_in_perf_data_mean_what_the_options_mean(warn, crit):
    for silent in range(6):
        farm, now = silent_farm(silent)
        status, _, perf = headless.judge(
            farm, now, warn_silent=warn, crit_silent=crit)
        value, _, w, c, low, high = parse_perf(" ".join(perf))["silent"]
        from_perf = (headless.CRITICAL if alerts(c, value) else
                     headless.WARNING if alerts(w, value) else headless.OK)
        assert from_perf == status, (silent, perf)
        assert (low, high) == ("0", "5")


@pytest.mark.parametrize("warn, crit", [(20.0, 10.0), (50.0, 50.0), (100, 5)])
def test_disk_thresholds_in_perf_data_mean_what_the_options_mean(warn, crit):
    for free in (0, 49, 50, 51, 100, 101, 199, 200, 201, 499, 500, 501, 1000):
        status, _, perf = headless.judge(
            healthy_farm(disk_free=free), T0 + SEC, warn_disk=warn,
            crit_disk=crit)
        value, uom, w, c, low, high = parse_perf(" ".join(perf))["disk_free"]
        from_perf = (headless.CRITICAL if alerts(c, value) else
                     headless.WARNING if alerts(w, value) else headless.OK)
        assert from_perf == status, (free, perf)
        assert (uom, low, high) == ("%", "0", "100")


# ------------------------------------------------------------ replay

class FakeLink:
    """A link whose drains return scripted batches, one per call."""

    status_queue = "ipc:///fake"

    def __init__(self, batches=(), pending=False):
        self.batches = list(batches)
        self.pending = pending

    def fds(self):
        return []

    def drain(self, limit=None):
        return self.batches.pop(0) if self.batches else []

    def tick(self, now):
        pass


def test_replay_is_not_complete_while_frames_are_waiting():
    feeder = headless._Feeder(FakeLink([[master_hello()]]), lambda: T0)
    feeder.pump(0)
    feeder.link.pending = True
    feeder.hello_at -= 10       # long ago
    assert not feeder.replay_done()
    feeder.link.pending = False
    assert feeder.replay_done()


def test_a_stream_that_never_pauses_still_completes_the_replay():
    # a frame every 20 ms, well under REPLAY_QUIET apart, forever
    stats = master_stats(T0)
    link = FakeLink([[p.LinkUp(), master_hello()] + [stats] * 500])
    link.drain = lambda limit=None, batches=link.batches: (
        batches.pop(0) if batches else [stats])
    feeder = headless._Feeder(link, lambda: T0)
    start = time.monotonic()
    assert headless._wait_for_replay(feeder, timeout=5)
    assert time.monotonic() - start < 2


def test_stream_reports_slaves_and_master_going_silent_with_time():
    now = [T0]
    link = FakeLink([[p.LinkUp(), master_hello(), master_stats(T0),
                      slave_hello(1, T0, "pi-01", busy=60),
                      p.SlaveSleep(1, T0, False)]])
    real_drain = link.drain

    def drain(limit=None):
        events = real_drain(limit)
        if not events:
            now[0] = T0 + 10 * 60 * SEC     # ten minutes of silence
        return events

    link.drain = drain
    out = io.StringIO()
    assert headless.run_stream(link, lambda: now[0], timeout=1.6,
                               out=out) == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {line["kind"] for line in lines} <= KINDS
    slave = [(x["id"], x["state"]) for x in lines if x["kind"] == "slave"]
    # the master said nothing either: the slave is not blamed for it
    assert slave == [(1, "idle")]
    master = [x["state"] for x in lines if x["kind"] == "master"]
    assert master[-2:] == ["connected", "silent"]


def test_a_failing_probe_still_answers_on_one_line():
    link = FakeLink()

    def drain(limit=None):
        raise RuntimeError("the socket\nbroke")

    link.drain = drain
    out = io.StringIO()
    assert headless.run_check(link, lambda: T0, 5, out=out) == \
        headless.UNKNOWN
    assert out.getvalue() == "UNKNOWN - piwheels probe failed: the socket broke\n"


def test_run_once_in_process_against_the_demo(demo):
    with MasterLink(*demo, read_only=False) as link:
        out = io.StringIO()
        assert headless.run_once(
            link, lambda: dt.datetime.now(UTC), 10, out=out) == 0
    data = json.loads(out.getvalue())
    assert data["complete"] is True and len(data["slaves"]) == 3


def test_once_completes_against_a_busy_farm(tmp_path, home):
    # 20 slaves at 10 times the pace: the stream is never quiet for long
    demo, watcher, addrs = start_demo(tmp_path, slaves=20, speed=10)
    try:
        start = time.monotonic()
        result = run([*queues(addrs), "--once", "--json", "--timeout", "8"],
                     home)
        elapsed = time.monotonic() - start
    finally:
        watcher.close()
        demo.stop()
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["complete"] is True
    assert len(data["slaves"]) == 20
    assert elapsed < 5


# ------------------------------------------------------------ --once --json

def test_once_json_against_the_demo(demo, home):
    result = run([*queues(demo), "--once", "--json"], home)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.endswith("\n") and result.stdout.count("\n") == 1
    data = json.loads(result.stdout)
    assert data["complete"] is True
    assert data["master"]["label"] == "demo-master"
    assert data["master"]["state"] == "connected"
    assert data["master"]["address"] == demo[0]
    assert data["master"]["stats"]["disk_size"] > 0
    assert len(data["slaves"]) == 3
    assert all(s["state"] in model.STATES for s in data["slaves"])
    assert all(s["label"] and s["abi"] for s in data["slaves"])
    assert sum(data["counts"].values()) == 3
    assert data["bad_frames"] == 0


def test_once_json_without_a_master(nobody, home):
    start = time.monotonic()
    result = run([*queues(nobody), "--once", "--json", "--timeout", "1"],
                 home)
    elapsed = time.monotonic() - start
    assert result.returncode == 3
    # it waited the timeout, no less; the upper bound only catches a wait
    # that does not end (start-up on a busy machine takes seconds)
    assert 1 <= elapsed < 30
    data = json.loads(result.stdout)
    assert data["complete"] is False
    assert data["master"]["state"] == "waiting"
    assert data["slaves"] == []
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    # and why: the link found it out meanwhile
    assert lines[0] == (
        f"piw-monitor: no answer from the master at {nobody[0]} within 1 s: "
        f"no socket file at {nobody[0]}, and the same at the control queue "
        "(is the master running? is the path right?)")


# ------------------------------------------------------------ --json

def ndjson(text):
    lines = text.splitlines()
    assert text.endswith("\n") and lines
    records = [json.loads(line) for line in lines]
    for record in records:
        assert record["kind"] in KINDS, record
        assert dt.datetime.fromisoformat(record["time"])
    return records


def test_json_streams_ndjson_until_the_timeout(demo, home):
    start = time.monotonic()
    result = run([*queues(demo), "--json", "--timeout", "2"], home)
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    # ends by itself at the timeout, never before it; the upper bound only
    # catches a stream that does not end (start-up on a busy machine took
    # over 4 s)
    assert 2 <= elapsed < 30, elapsed
    records = ndjson(result.stdout)
    assert records[0]["kind"] == "master", records[0]
    masters = [r for r in records if r["kind"] == "master"]
    assert masters[-1]["label"] == "demo-master", masters[-1]
    assert masters[-1]["state"] == "connected", masters[-1]
    slaves = [r for r in records if r["kind"] == "slave"]
    assert {r["id"] for r in slaves} >= {1, 2, 3}
    assert all(r["state"] in model.STATES for r in slaves)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_json_stops_cleanly_on_a_signal(demo, home, signum):
    proc = subprocess.Popen(
        monitor_command([*queues(demo), "--json"]), env=environment(home),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()      # it is streaming
        assert json.loads(first)["kind"] == "master"
        proc.send_signal(signum)
        rest, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert err == ""
    if rest:
        ndjson(rest)        # every line whole


def test_json_into_a_reader_that_goes_away(demo, home):
    # what `piw-monitor --json | head -1` does
    proc = subprocess.Popen(
        monitor_command([*queues(demo), "--json", "--timeout", "20"]),
        env=environment(home), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        json.loads(proc.stdout.readline())
        proc.stdout.close()
        start = time.monotonic()
        proc.wait(timeout=15)
        assert time.monotonic() - start < 10    # not the --timeout
        err = proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert proc.returncode == 0
    assert err == ""


def test_json_through_a_shell_pipe_into_head(demo, home):
    command = shlex.join(monitor_command(
        [*queues(demo), "--json", "--timeout", "20"]))
    result = subprocess.run(
        ["bash", "-c", command + ' | head -1; exit "${PIPESTATUS[0]}"'],
        env=environment(home), stdin=subprocess.DEVNULL, capture_output=True,
        text=True, timeout=30)
    assert result.returncode == 0       # piw-monitor's own
    assert result.stderr == ""
    assert json.loads(result.stdout)["kind"] == "master"


# ------------------------------------------------------------ --check

def check_line(result):
    assert result.stderr == ""
    assert result.stdout.endswith("\n") and result.stdout.count("\n") == 1
    return split_line(result.stdout[:-1])


def test_check_ok_against_a_healthy_demo(demo, home):
    result = run([*queues(demo), "--check"], home)
    word, summary, perf = check_line(result)
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("OK - ")
    assert summary.startswith("piwheels demo-master running, 3 slaves ")
    assert perf["slaves"][0] == 3
    assert perf["silent"][0] == 0
    assert 0 < perf["disk_free"][0] < 100
    assert set(perf) == {"slaves", "silent", "building", "bad_frames",
                         "disk_free", "memory_pressure", "disk_pressure"}
    assert perf["memory_pressure"][0] == 0


def test_check_without_a_master(nobody, home):
    start = time.monotonic()
    result = run([*queues(nobody), "--check", "--timeout", "1"], home)
    assert time.monotonic() - start < 4
    assert result.returncode == 2
    assert result.stdout == (
        f"CRITICAL - piwheels master not reachable: no socket file at "
        f"{nobody[0]}, and the same at the control queue (is the master "
        "running? is the path right?)\n")
    assert result.stderr == ""


def test_json_stream_names_the_cause_on_stderr(tmp_path, home):
    # a socket file left over at the status queue (the control queue is
    # missing too: the first queue is named); the stream is unchanged
    status = f"ipc://{tmp_path}/status"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "status"))   # left over: nobody listens
        result = run(["--status-queue", status, "--control-queue",
                      f"ipc://{tmp_path}/control", "--json", "--timeout",
                      "2"], home)
    assert result.returncode == 0
    assert ndjson(result.stdout)[0]["state"] == "waiting"
    assert result.stderr == (
        f"piw-monitor: cannot reach the master: nothing listens on {status} "
        "(connection refused): its socket file is left over (from a master "
        "that stopped: is the master running?)\n")


def test_judge_names_the_cause_when_nothing_was_heard():
    farm = model.Farm()
    farm.apply(p.LinkProblem(
        "permission", "status queue", "ipc:///tmp/piw-status",
        "permission denied on ipc:///tmp/piw-status",
        "the master runs as another user?"), T0)
    assert headless.judge(farm, T0, heard=False) == (
        headless.CRITICAL, "master not reachable: permission denied on "
        "ipc:///tmp/piw-status (the master runs as another user?)", [])


@pytest.mark.parametrize("options, status, word", [
    (["--warn-disk", "100"], 1, "WARNING"),
    (["--warn-disk", "100", "--crit-disk", "100"], 2, "CRITICAL"),
])
def test_check_disk_thresholds(demo, home, options, status, word):
    result = run([*queues(demo), "--check", *options], home)
    _, summary, perf = check_line(result)
    assert result.returncode == status, result.stdout
    assert result.stdout.startswith(word + " - piwheels disk free ")
    assert perf["disk_free"][2] == "@100"


def test_check_a_paused_master(tmp_path, home):
    demo, watcher, addrs = start_demo(tmp_path)
    try:
        count = len(demo.received)
        watcher.push.send(protocol.pause())
        wait_for(lambda: len(demo.received) > count)
        # every slave is told SLEEP true at its next request for work
        watcher.wait(lambda: all(
            isinstance(e, p.SlaveSleep) and e.paused
            for e in watcher.last.values()),
            message="the slaves were not all told the master is paused")
        result = run([*queues(addrs), "--check"], home)
    finally:
        watcher.close()
        demo.stop()
    _, summary, perf = check_line(result)
    assert result.returncode == 1, result.stdout
    # a paused master replays no slaves (they come once it resumes): the
    # probe knows it is paused from the live SLEEP its idle slaves are told,
    # and lists only those
    assert result.stdout.startswith(
        "WARNING - piwheels master paused - demo-master paused, "), \
        result.stdout
    assert perf["slaves"][0] <= 3


# ------------------------------------------------------------ bad combinations

@pytest.mark.parametrize("args, message", [
    (["--once"], "--once goes with --json"),
    (["--check", "--json"], "--check and --json cannot be used together"),
    (["--check", "--once"], "--once goes with --json"),
])
def test_bad_combinations(home, nobody, args, message):
    result = run([*queues(nobody), *args], home)
    # a probe that cannot run is UNKNOWN, not CRITICAL, and says so on
    # the line a monitoring system reads
    assert result.returncode == (3 if "--check" in args else 2)
    assert result.stdout == (f"UNKNOWN - {message}\n" if "--check" in args
                             else "")
    assert result.stderr == f"piw-monitor: error: {message}\n"


# ------------------------------------------------------------ a mute master

@pytest.fixture
def mute(tmp_path):
    """
    A "master" that binds both queues and never says a word: a monitor
    connects (its HELLO arrives on the control queue) and waits in vain.
    Yields the addresses and the control socket.
    """
    addrs = f"ipc://{tmp_path}/status", f"ipc://{tmp_path}/control"
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.bind(addrs[0])
    pull = ctx.socket(zmq.PULL)
    pull.bind(addrs[1])
    yield addrs, pull
    ctx.destroy(linger=0)


def test_check_against_a_master_that_does_not_answer(mute, home):
    addrs, _ = mute
    result = run([*queues(addrs), "--check", "--timeout", "1"], home)
    assert result.returncode == 2
    assert result.stdout == "CRITICAL - piwheels master not answering\n"
    assert result.stderr == ""


@pytest.mark.parametrize("mode, status, out, err", [
    (["--check"], 3, "UNKNOWN - piwheels probe interrupted\n", ""),
    (["--once", "--json"], 130, "", "piw-monitor: interrupted\n"),
])
def test_ctrl_c_while_waiting_for_the_replay(mute, home, mode, status, out,
                                             err):
    addrs, control = mute
    proc = subprocess.Popen(
        monitor_command([*queues(addrs), *mode, "--timeout", "30"]),
        env=environment(home), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # as from an interactive shell: a suite started in the background
        # (cmd &) passes SIGINT on ignored, and Python then leaves it so
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        # its HELLO has come: it is waiting for the replay
        assert control.poll(15_000), "no HELLO from the monitor"
        assert control.recv() == protocol.hello()
        proc.send_signal(signal.SIGINT)
        got_out, got_err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert (proc.returncode, got_out, got_err) == (status, out, err)
