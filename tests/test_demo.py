"""
The demo master over real 0MQ ipc sockets: what crosses the wire.

Each test attaches a tiny monitor of its own (a SUB and a PUSH socket) and
judges the demo only by the frames it publishes, decoded by the protocol
module, and by the control messages it says it received.
"""

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cbor2
import pytest
import zmq

from piw_monitor import __version__, protocol
from piw_monitor.demo import DemoError, DemoMaster, main
from piw_monitor.protocol import (
    Control, MasterHello, MasterStats, SlaveAck, SlaveBuild, SlaveDie,
    SlaveDone, SlaveEvent, SlaveHello, SlaveSend, SlaveSleep, SlaveStats,
)

from .helpers import wait_for

ROOT = Path(__file__).resolve().parents[1]
UTC = dt.timezone.utc

pytestmark = pytest.mark.timeout(60)


class Monitor:
    """A minimal monitor: subscribes to everything, pushes commands."""

    def __init__(self, status, control):
        self.ctx = zmq.Context()
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.RCVHWM, 0)
        self.sub.setsockopt(zmq.RECONNECT_IVL, 10)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.connect(status)
        self.push = self.ctx.socket(zmq.PUSH)
        self.push.setsockopt(zmq.LINGER, 0)
        self.push.setsockopt(zmq.RECONNECT_IVL, 10)
        self.push.connect(control)
        self.events = []        # decoded events, in arrival order
        self.arrived = []       # monotonic arrival time of each
        self.arrived_at = []    # and the wall-clock time (UTC)
        self.bad = []

    def pump(self, wait=0):
        """Read every frame that has arrived (waiting up to *wait* s for one)."""
        if wait and not self.sub.poll(int(wait * 1000)):
            return
        while True:
            try:
                frame = self.sub.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            now = dt.datetime.now(UTC)
            event = protocol.decode_status(frame, now)
            if isinstance(event, protocol.BadFrame):
                self.bad.append((event, frame))
            else:
                self.events.append(event)
                self.arrived.append(time.monotonic())
                self.arrived_at.append(now)

    def send(self, frame):
        self.push.send(frame)

    def wait(self, condition, timeout=10, message=None):
        """Pump frames until *condition()* is true; return its value."""
        def check():
            self.pump(wait=0.005)
            return condition()
        return wait_for(check, timeout=timeout, message=message)

    def attach(self, master=None, timeout=10):
        """
        Send HELLO until the master's HELLO comes back (the subscription was
        live); return its index. With *master* (in-process), each HELLO is
        sent only once the previous one was handled, so no replay but the
        last can follow.
        """
        deadline = time.monotonic() + timeout
        start = len(self.events)
        while time.monotonic() < deadline:
            if master is not None:
                handled = hellos(master)
                self.send(protocol.hello())
                wait_for(lambda n=handled: hellos(master) > n, timeout=5)
            else:
                self.send(protocol.hello())
            until = time.monotonic() + 0.25
            while time.monotonic() < until:
                self.pump(wait=0.01)
                found = [i for i in range(start, len(self.events))
                         if isinstance(self.events[i], MasterHello)]
                if found:
                    self.pump(wait=0.02)
                    return found[-1]
        raise AssertionError("the master never answered HELLO")

    def command(self, master, frame):
        """Send a command and wait until the master has acted on it."""
        count = len(master.received)
        self.send(frame)
        wait_for(lambda: len(master.received) > count, timeout=5)
        return len(self.events)

    def of(self, slave_id, start=0, end=None):
        """(index, event) for every SLAVE event about *slave_id*."""
        end = len(self.events) if end is None else end
        return [(i, e) for i, e in enumerate(self.events[start:end], start)
                if isinstance(e, SlaveEvent) and e.slave_id == slave_id]

    def joined(self, start=0):
        """Ids of the slaves seen joining live (HELLO then ACK) after *start*."""
        ids = []
        for i, e in enumerate(self.events[start:], start):
            if isinstance(e, SlaveHello):
                after = self.of(e.slave_id, i + 1)
                if after and isinstance(after[0][1], SlaveAck):
                    ids.append(e.slave_id)
        return ids

    def dead(self):
        """Ids of the slaves that were told DIE (or expired)."""
        return {e.slave_id for e in self.events if isinstance(e, SlaveDie)}

    def close(self):
        self.ctx.destroy(linger=0)


def hellos(master):
    return sum(1 for c in master.received if c.message == "HELLO")


KIND = {
    SlaveHello: "H", SlaveAck: "A", SlaveStats: "S", SlaveSleep: "Z",
    SlaveBuild: "B", SlaveSend: "X", SlaveDone: "D", SlaveDie: "K",
}

#: The life of a slave as a real master reports it: HELLO, ACK, then requests
#: for work (STATS + reply); a build reports STATS while it runs and ends
#: with SEND and DONE, or DONE alone; a killed slave gets DIE twice.
LIFE = re.compile(r"^HA(?:S(?:Z|BS*X?D))*(?:S(?:BS*X?|KK?)?)?$")


def kinds(events):
    return "".join(KIND[type(e)] for e in events)


@pytest.fixture
def farm(ipc_addrs):
    """Start a demo master (keyword arguments as DemoMaster's) and attach."""
    made = []

    def make(**kwargs):
        kwargs.setdefault("seed", 1)
        kwargs.setdefault("speed", 20)
        kwargs.setdefault("stats_period", 0.25)
        master = DemoMaster(*ipc_addrs, **kwargs)
        master.start()
        assert master.ready.is_set()
        monitor = Monitor(*ipc_addrs)
        made.append((master, monitor))
        return master, monitor, monitor.attach(master)

    yield make
    for master, monitor in made:
        master.stop()
        monitor.pump()
        monitor.close()
        assert not master._thread.is_alive()
        assert monitor.bad == [], "frames that do not decode"


def wheel(build, hello):
    name = re.sub(r"[-_.]+", "_", build.package)
    tag = f"{hello.abi}-{hello.abi}-{hello.platform}"
    return {f"{name}-{build.version}-{tag}.whl",
            f"{name}-{build.version}-py3-none-any.whl"}


# ------------------------------------------------------------- life cycle

def test_life_cycle_of_each_slave(farm):
    master, mon, attached = farm(speed=10, failures=0.3)
    assert mon.events[attached] == MasterHello(
        mon.events[attached].started, "demo-master", "Raspbian GNU/Linux",
        "12 (bookworm)", mon.events[attached].board_revision,
        mon.events[attached].board_serial)

    def cycles_seen():
        done = set()
        for sid in mon.joined(attached):
            seq = kinds(e for _, e in mon.of(sid))
            done |= set(re.findall(r"BS*XD|BS*D", seq))
        return any("X" in c for c in done) and any("X" not in c for c in done)
    mon.wait(cycles_seen, message="no build was seen to succeed and fail")
    mon.wait(lambda: sum(isinstance(e, MasterStats)
                         for e in mon.events[attached:]) >= 3)

    live = mon.joined(attached)
    assert live, "no slave joined after the monitor attached"
    assert live == sorted(live)
    for sid in live:
        events = [e for _, e in mon.of(sid)]
        seq = kinds(events)
        assert LIFE.match(seq), f"slave {sid}: {seq}"
        hello, ack = events[0], events[1]
        assert ack.assigned_id == sid and ack.index_url.startswith("http")
        assert hello.py_version == hello.abi[2:] and hello.abi in (
            "cp39", "cp311", "cp313")
        assert hello.platform in ("linux_armv7l", "linux_aarch64")
        assert re.fullmatch(r"pi[345]-\d\d", hello.label)
        assert hello.os_name == "Raspbian GNU/Linux"
        assert dt.timedelta(hours=1) <= hello.build_timeout <= dt.timedelta(hours=4)
        assert dt.timedelta(minutes=1) <= hello.busy_timeout <= dt.timedelta(minutes=10)
        assert hello.timestamp <= ack.timestamp
        stamps = [e.timestamp for e in events]
        assert stamps == sorted(stamps)
        for a, b in zip(events, events[1:], strict=False):
            if isinstance(a, SlaveStats):
                # a request for work: its report and the answer share a time
                assert a.stats_timestamp <= a.timestamp
                if isinstance(b, SlaveSleep | SlaveBuild | SlaveDie):
                    assert b.timestamp == a.timestamp
            if isinstance(a, SlaveBuild):
                build = a
                assert build.package and build.version
            if isinstance(b, SlaveSend):
                assert b.filename in wheel(build, hello)

    # the master's own STATS evolve with the builds
    def stats():
        return [e for e in mon.events[attached:] if isinstance(e, MasterStats)]
    mon.wait(lambda: stats()[-1].packages_built > stats()[0].packages_built)
    mon.wait(lambda: stats()[-1].files_count > stats()[0].files_count)
    seen = stats()
    assert all(set(s.builds_pending) == {"cp39", "cp311", "cp313"} for s in seen)
    assert [s.packages_built for s in seen] == sorted(
        s.packages_built for s in seen)
    assert [s.timestamp for s in seen] == sorted(s.timestamp for s in seen)
    assert seen[-1].builds_time > seen[0].builds_time


def test_hello_replays_master_and_live_slaves(farm):
    master, mon, attached = farm(slaves=4)
    mon.wait(lambda: len({e.slave_id for e in mon.events
                          if isinstance(e, SlaveHello)}) == 4)
    mon.wait(lambda: sum(isinstance(e, MasterStats)
                         for e in mon.events[attached:]) >= 2)
    first_seen = {e.slave_id: e.timestamp for e in mon.events
                  if isinstance(e, SlaveHello)}
    seen_stats = [e for e in mon.events[attached + 1:]
                  if isinstance(e, MasterStats)]

    mon.command(master, protocol.hello())
    mon.wait(lambda: isinstance(mon.events[-1], SlaveEvent) and any(
        isinstance(e, MasterHello) for e in mon.events[attached + 1:]))
    mon.pump(wait=0.05)
    r = max(i for i, e in enumerate(mon.events) if isinstance(e, MasterHello))
    assert mon.events[r] == mon.events[attached]          # same master
    # interleaved as a real master does: its history, then slaves' entries
    assert isinstance(mon.events[r + 1], MasterStats)
    assert isinstance(mon.events[r + 2], SlaveHello)
    assert mon.events[r + 2].slave_id == 1
    replayed_stats = [e for e in mon.events[r + 1:]
                      if isinstance(e, MasterStats)]
    for stats in seen_stats:
        assert stats in replayed_stats

    order = []
    for sid, started in first_seen.items():
        events = [e for _, e in mon.of(sid, r + 1)]
        hello = events[0]
        assert isinstance(hello, SlaveHello) and hello.timestamp == started
        order.append(mon.events.index(hello, r))
        n = 1
        while isinstance(events[n], SlaveStats):
            n += 1
        assert n >= 2, "no STATS history replayed"
        last = events[n]
        assert isinstance(last, SlaveSleep | SlaveBuild | SlaveSend | SlaveDone)
        seen = {e.timestamp for e in events[1:n + 1]}
        assert len(seen) == 1, "replayed entries carry the last-seen time"
        stats = events[1:n]
        assert [s.stats_timestamp for s in stats] == sorted(
            s.stats_timestamp for s in stats)
        assert all(s.stats_timestamp < s.timestamp for s in stats)
    assert order == sorted(order)
    assert not any(isinstance(e, SlaveAck) for e in mon.events[r:])


# ---------------------------------------------------------------- commands

def test_pause_and_resume_the_farm(farm):
    master, mon, attached = farm(slaves=4, stats_period=0.2)
    mon.wait(lambda: len({e.slave_id for e in mon.events
                          if isinstance(e, SlaveHello)}) == 4)
    mon.wait(lambda: any(isinstance(e, MasterStats)
                         for e in mon.events[attached + 1:]))

    mon.command(master, protocol.pause())
    assert master.received[-1] == Control("SLEEP", None)

    def paused_sleeps():
        return [e for e in mon.events
                if isinstance(e, SlaveSleep) and e.paused]
    # every slave is told SLEEP true (the builders once their build is over)
    mon.wait(lambda: len({e.slave_id for e in paused_sleeps()}) == 4)
    first = next(i for i, e in enumerate(mon.events)
                 if isinstance(e, SlaveSleep) and e.paused)
    # quiet for a few of the master's STATS periods
    t0 = mon.arrived[first]
    mon.wait(lambda: mon.arrived[-1] - t0 > 4 * master.stats_period)
    after = mon.events[first:]
    assert not [e for e in after if isinstance(e, SlaveBuild | MasterStats)]
    assert not [e for e in after if isinstance(e, SlaveSleep) and not e.paused]

    woken = mon.command(master, protocol.resume())
    mon.wait(lambda: any(isinstance(e, SlaveBuild) for e in mon.events[woken:]))
    mon.wait(lambda: any(isinstance(e, MasterStats) for e in mon.events[woken:]))


def test_kill_one_slave(farm):
    master, mon, attached = farm(slaves=3, speed=40)
    mon.wait(lambda: len({e.slave_id for e in mon.events
                          if isinstance(e, SlaveHello)}) == 3)
    victim = 2
    sent = mon.command(master, protocol.kill(victim))
    mon.wait(lambda: len([e for _, e in mon.of(victim)
                          if isinstance(e, SlaveDie)]) == 2)
    events = mon.of(victim)
    (i1, die1), (i2, die2) = [(i, e) for i, e in events
                              if isinstance(e, SlaveDie)]
    assert not die1.expired and not die2.expired
    assert dt.timedelta(0) < die2.timestamp - die1.timestamp < dt.timedelta(seconds=0.1)
    # the first DIE answers a request for work (with its STATS) ...
    before = [e for i, e in events if i < i1]
    assert isinstance(before[-1], SlaveStats)
    assert before[-1].timestamp == die1.timestamp
    # ... so a build in progress was never cut short
    answers = [e for e in before if not isinstance(e, SlaveStats)]
    assert not isinstance(answers[-1], SlaveBuild | SlaveSend)
    assert events[-1][0] == i2 and i1 >= sent

    # the others live on, and the dead one is not replayed
    mon.wait(lambda: len(mon.of(1, i2)) >= 4 and len(mon.of(3, i2)) >= 4)
    mon.command(master, protocol.hello())
    mon.pump(wait=0.05)
    r = max(i for i, e in enumerate(mon.events) if isinstance(e, MasterHello))
    replayed = {e.slave_id for e in mon.events[r:] if isinstance(e, SlaveHello)}
    assert replayed == {1, 3}
    assert mon.of(victim, i2 + 1) == []


def test_kill_all_slaves(farm):
    master, mon, attached = farm(slaves=3)
    mon.wait(lambda: len({e.slave_id for e in mon.events
                          if isinstance(e, SlaveHello)}) == 3)
    mon.command(master, protocol.kill(None))
    for sid in (1, 2, 3):
        mon.wait(lambda sid=sid: len([e for _, e in mon.of(sid)
                                      if isinstance(e, SlaveDie)]) == 2)
    mon.command(master, protocol.hello())
    mon.pump(wait=0.05)
    r = max(i for i, e in enumerate(mon.events) if isinstance(e, MasterHello))
    assert isinstance(mon.events[r + 1], MasterStats)
    assert not any(isinstance(e, SlaveEvent) for e in mon.events[r:])


def test_skip_abandons_the_current_build(farm):
    master, mon, attached = farm(slaves=4, speed=20, failures=0)

    def building(mark=attached + 1):
        """(index, BUILD) of a slave building now, if any."""
        for sid in range(1, 5):
            events = mon.of(sid, mark)
            if events and isinstance(events[-1][1], SlaveBuild):
                return events[-1]
        return None

    mark = attached + 1
    for _ in range(5):
        start, build = mon.wait(lambda mark=mark: building(mark))
        sid = build.slave_id
        mon.command(master, protocol.skip(sid))
        mon.wait(lambda: any(isinstance(e, SlaveDone)
                             for _, e in mon.of(sid, start)))  # noqa: B023
        after = [e for _, e in mon.of(sid, start + 1)]
        if isinstance(after[0], SlaveSend):     # it had just finished: retry
            mark = len(mon.events)
            continue
        done = next(e for e in after if isinstance(e, SlaveDone))
        assert all(isinstance(e, SlaveStats) for e in after[:after.index(done)])
        # and it asks for work again, as after any build
        mon.wait(lambda: re.fullmatch(
            r"BS*DS[ZB].*", kinds(e for _, e in mon.of(sid, start))))  # noqa: B023
        break
    else:
        pytest.fail("SKIP never abandoned a build")

    # SKIP None is accepted and, as on today's master, changes nothing
    mon.wait(lambda: building() is not None)
    sent = len(mon.events)
    runners = [sid for sid in range(1, 5)
               if mon.of(sid) and isinstance(mon.of(sid)[-1][1], SlaveBuild)]
    mon.command(master, protocol.skip(None))
    assert master.received[-1] == Control("SKIP", None)
    for sid in runners:
        mon.wait(lambda sid=sid: any(isinstance(e, SlaveDone)
                                     for _, e in mon.of(sid, sent)))
        ends = [e for _, e in mon.of(sid, sent) if not isinstance(e, SlaveStats)]
        assert isinstance(ends[0], SlaveSend)


def test_sleep_and_wake_with_an_id_change_nothing(farm):
    master, mon, attached = farm(slaves=2, speed=40)
    mon.wait(lambda: len({e.slave_id for e in mon.events
                          if isinstance(e, SlaveHello)}) == 2)
    sent = mon.command(master, protocol.encode_control("SLEEP", 1))
    assert master.received[-1] == Control("SLEEP", 1)

    def requests(sid):
        return [e for _, e in mon.of(sid, sent)
                if isinstance(e, SlaveSleep | SlaveBuild)]
    mon.wait(lambda: len(requests(1)) >= 3)
    mon.wait(lambda: sum(isinstance(e, MasterStats)
                         for e in mon.events[sent:]) >= 2)
    assert not any(e.paused for e in requests(1) if isinstance(e, SlaveSleep))
    mon.command(master, protocol.encode_control("WAKE", 1))
    assert master.received[-1] == Control("WAKE", 1)
    assert not any(isinstance(e, SlaveDie) for e in mon.events)


def test_silent_slave_is_expired_after_its_busy_timeout(farm):
    master, mon, attached = farm(slaves=3, silent=1, speed=400, stats_period=1)
    mon.wait(lambda: any(isinstance(e, SlaveDie) for e in mon.events))
    i, die = next((i, e) for i, e in enumerate(mon.events)
                  if isinstance(e, SlaveDie))
    assert die.expired
    (_, last), = mon.of(die.slave_id, 0, i)[-1:]
    assert die.timestamp == last.timestamp        # stamped with last seen
    hello = next(e for e in mon.events if isinstance(e, SlaveHello)
                 and e.slave_id == die.slave_id)
    # given up on no sooner than its busy timeout (at the demo's speed)
    silence = mon.arrived_at[i] - last.timestamp
    assert silence >= hello.busy_timeout / master.speed
    mon.command(master, protocol.hello())
    mon.pump(wait=0.05)
    r = max(i for i, e in enumerate(mon.events) if isinstance(e, MasterHello))
    replayed = {e.slave_id for e in mon.events[r:] if isinstance(e, SlaveHello)}
    assert die.slave_id not in replayed and len(replayed) == 2


def test_bad_control_frames_are_ignored(farm):
    master, mon, attached = farm(slaves=0)
    for frame in (b"\xff", b"", cbor2.dumps(["FOO", 1]),
                  cbor2.dumps(["KILL", "x"]), cbor2.dumps("SLEEP")):
        mon.send(frame)
    mon.command(master, protocol.hello())
    assert master.bad_frames == 5
    mon.pump(wait=0.05)
    assert sum(isinstance(e, MasterHello) for e in mon.events) >= 2
    assert not any(isinstance(e, SlaveEvent) for e in mon.events)


# ------------------------------------------------------ running and stopping

def test_quit_makes_run_return_zero(ipc_addrs):
    master = DemoMaster(*ipc_addrs, slaves=2, speed=20)
    result = []
    thread = threading.Thread(target=lambda: result.append(master.run()))
    thread.start()
    try:
        assert master.ready.wait(5)
        mon = Monitor(*ipc_addrs)
        try:
            mon.attach(master)
            mon.send(protocol.quit_master())
            thread.join(5)
        finally:
            mon.close()
    finally:
        master.stop()
        thread.join(5)
    assert result == [0]
    assert master.received[-1] == Control("QUIT")
    with pytest.raises(RuntimeError):
        master.run()


def test_stop_ends_the_thread(ipc_addrs):
    master = DemoMaster(*ipc_addrs, slaves=1)
    master.start()
    assert master.ready.is_set()
    master.stop()
    assert not master._thread.is_alive()


def test_start_raises_on_a_bad_address(tmp_path):
    master = DemoMaster("nonsense", f"ipc://{tmp_path}/control")
    with pytest.raises(DemoError, match="status queue.*nonsense"):
        master.start()
    assert not master.ready.is_set()


def test_version_and_bad_options(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"piw-demo-master {__version__}"
    with pytest.raises(SystemExit) as exc:
        main(["--slaves", "-1"])
    assert exc.value.code == 2
    assert "--slaves" in capsys.readouterr().err


def spawn(*args):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, "-m", "piw_monitor.demo", *args], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_script_with_a_bad_address(tmp_path):
    proc = spawn("--status-queue", "tcp://no such host:1",
                 "--control-queue", f"ipc://{tmp_path}/control")
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("piw-demo-master: error: ")
    assert "status queue" in lines[0] and "no such host" in lines[0]


@pytest.mark.parametrize("how", ["QUIT", "SIGTERM", "SIGINT"])
def test_script_runs_and_exits_cleanly(ipc_addrs, how):
    proc = spawn("--status-queue", ipc_addrs[0],
                 "--control-queue", ipc_addrs[1], "--slaves", "3",
                 "--speed", "20", "--seed", "7")
    mon = Monitor(*ipc_addrs)
    try:
        mon.attach()
        mon.wait(lambda: any(isinstance(e, SlaveHello) for e in mon.events))
        if how == "QUIT":
            mon.send(protocol.quit_master())
        else:
            proc.send_signal(getattr(signal, how))
        out, err = proc.communicate(timeout=20)
    finally:
        mon.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    assert err == ""
    assert mon.bad == []


def _read_until(stream, text, timeout=20):
    """Lines of *stream* read until one contains *text*."""
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"{text!r} never came; got {lines!r}")


def test_script_says_what_it_runs_goodbye_and_tidies_up(tmp_path):
    status, control = f"ipc://{tmp_path}/status", f"ipc://{tmp_path}/control"
    proc = spawn("--status-queue", status, "--control-queue", control,
                 "--slaves", "3", "--speed", "20", "--seed", "7")
    try:
        lines = _read_until(proc.stdout, "Stop it:")
        text = "".join(lines)
        assert "a simulated piwheels master (demo-master) with 3 build " \
            "slaves" in text
        assert f"status queue:  {status}" in text
        assert f"control queue: {control}" in text
        assert (f"piw-monitor --status-queue {status} --control-queue "
                f"{control}") in text
        assert "Ctrl-C" in text
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            "control", "status"]
        # a second master on the same addresses is refused, and the first
        # keeps them
        second = spawn("--status-queue", status, "--control-queue", control)
        out, err = second.communicate(timeout=20)
        assert second.returncode == 2
        assert err.splitlines() == [
            f"piw-demo-master: error: a master already answers on {status}: "
            "stop it first, or give other addresses (--status-queue, "
            "--control-queue)"]
        assert out == ""
        mon = Monitor(status, control)
        try:
            mon.attach()
            mon.wait(lambda: any(isinstance(e, SlaveHello)
                                 for e in mon.events))
        finally:
            mon.close()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0 and err == ""
    assert out.strip().splitlines()[-1] == \
        "piw-demo-master: stopped (Ctrl-C); goodbye."
    # its socket files are gone with it
    assert list(tmp_path.iterdir()) == []


def test_a_stale_socket_file_is_no_obstacle(tmp_path):
    import socket as socket_
    path = tmp_path / "status"
    stale = socket_.socket(socket_.AF_UNIX, socket_.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()   # the file stays, nobody listens
    master = DemoMaster(f"ipc://{path}", f"ipc://{tmp_path}/control",
                        slaves=0)
    master.start()
    assert master.ready.is_set()
    master.stop()
    assert list(tmp_path.iterdir()) == []
