"""
The main loop in-process: the real urwid raw screen on a pseudo-terminal,
the real master link on ipc sockets, and a fake master publishing bursts.
"""

import datetime as dt
import fcntl
import gc
import os
import struct
import termios
import threading
import time

import pytest
import urwid
import zmq

from piw_monitor import protocol as p
from piw_monitor import app
from piw_monitor.app import (
    REFRESH_DELAY, REFRESH_DELAY_MAX, Monitor, refresh_delay)
from piw_monitor.link import MasterLink

T0 = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


class PtyScreen:
    """A raw urwid screen drawing into a pseudo-terminal nobody looks at."""

    def __init__(self, rows=24, cols=80):
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ,
                    struct.pack("HHHH", rows, cols, 0, 0))
        self.input = os.fdopen(slave, "rb", buffering=0)
        self.output = os.fdopen(os.dup(slave), "w", encoding="utf-8")
        self.screen = urwid.display.raw.Screen(
            input=self.input, output=self.output)
        self.written = 0
        self._stop = False
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self):
        # keep the pty's buffer from filling up, as a terminal would
        while not self._stop:
            try:
                self.written += len(os.read(self.master, 65536))
            except OSError:
                return

    def close(self):
        self._stop = True
        self.output.close()
        self.input.close()
        os.close(self.master)


@pytest.fixture
def fake_master(ipc_addrs):
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, 0)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind(ipc_addrs[0])
    pull = ctx.socket(zmq.PULL)
    pull.setsockopt(zmq.LINGER, 0)
    pull.bind(ipc_addrs[1])
    yield pub, pull
    pub.close()
    pull.close()
    ctx.term()


def burst(n_slaves, stats_each):
    """A replay as the real master sends it: HELLO, then each slave's life."""
    frames = [p.encode_status(p.MasterHello(
        T0, "burst", "Debian", "12", "unknown", "unknown"))]
    for sid in range(1, n_slaves + 1):
        frames.append(p.encode_status(p.SlaveHello(
            sid, T0, dt.timedelta(hours=3), dt.timedelta(minutes=5), "311",
            "cp311", "linux_armv7l", f"pi-{sid:03d}", "Raspbian", "12",
            "c03111", "1234")))
        for i in range(stats_each):
            frames.append(p.encode_status(p.SlaveStats(
                sid, T0, T0 + dt.timedelta(seconds=i), 10**10, 5 * 10**9,
                4 * 10**9, 2 * 10**9, 0, 0, 0.5, 50.0)))
        frames.append(p.encode_status(p.SlaveBuild(sid, T0, "numpy", "1.26.4")))
    return frames


def run_monitor_until(monitor, done, timeout=20):
    """Run the monitor's loop until *done()* holds (checked every 10 ms)."""
    deadline = time.monotonic() + timeout

    def check(loop, _data):
        if done() or time.monotonic() > deadline:
            raise urwid.ExitMainLoop()
        loop.set_alarm_in(0.01, check)

    monitor.loop.set_alarm_in(0.01, check)
    monitor.run()
    assert done(), "the monitor did not get there in time"


def test_a_burst_costs_a_handful_of_redraws(ipc_addrs, fake_master):
    pub, pull = fake_master
    pty = PtyScreen()
    link = MasterLink(*ipc_addrs)
    link.open()
    try:
        monitor = Monitor(link, screen=pty.screen)
        frames = burst(10, 100)  # 1,021 frames

        sent = []

        def publish_on_hello():
            if not sent and pull.poll(0):
                pull.recv()
                for frame in frames:
                    pub.send(frame)
                sent.append(True)
            return False

        def done():
            publish_on_hello()
            return (monitor.farm.frames >= len(frames)
                    and not monitor._refresh_due)

        run_monitor_until(monitor, done)
        assert monitor.farm.frames == len(frames)
        assert len(monitor.farm.slaves) == 10
        # the whole burst drew the screen a handful of times, not a thousand
        assert monitor.loop.draws <= 15, monitor.loop.draws
        assert monitor.refreshes <= 10, monitor.refreshes
    finally:
        link.close()
        pty.close()


def test_a_trickle_is_drawn_at_the_refresh_rate_not_per_wakeup(
        ipc_addrs, fake_master):
    pub, pull = fake_master
    pty = PtyScreen()
    link = MasterLink(*ipc_addrs)
    link.open()
    try:
        monitor = Monitor(link, screen=pty.screen)
        frames = burst(10, 100)
        queue = []

        def done():
            # ten frames every 10 ms: about a hundred wake-ups
            if not queue and pull.poll(0):
                pull.recv()
                queue.extend(reversed(frames))
            for _ in range(10):
                if queue:
                    pub.send(queue.pop())
            return (monitor.farm.frames >= len(frames)
                    and not monitor._refresh_due)

        start = time.monotonic()
        run_monitor_until(monitor, done)
        elapsed = time.monotonic() - start
        assert monitor.farm.frames == len(frames)
        # at most one refresh per REFRESH_DELAY, and a draw only after one
        # (or after a tick), however many times the loop woke up
        ticks = int(elapsed) + 2
        assert monitor.refreshes <= elapsed / REFRESH_DELAY + 2
        assert monitor.loop.draws <= monitor.refreshes + ticks + 1, (
            monitor.loop.draws, monitor.refreshes)
    finally:
        link.close()
        pty.close()


def test_a_settling_monitor_freezes_what_it_keeps_and_frees_cycles(
        ipc_addrs, fake_master, monkeypatch):
    # the command's monitor keeps full collections short: what a replay
    # built is frozen after FREEZE_FRAMES frames, a settling collects
    # cycles that became garbage meanwhile, and run() unfreezes on its way
    # out (a test's process, like a library user's, is left as it was)
    monkeypatch.setattr(app, "FREEZE_FRAMES", 500)
    pub, pull = fake_master
    pty = PtyScreen()
    link = MasterLink(*ipc_addrs)
    link.open()
    frozen = []
    try:
        monitor = Monitor(link, screen=pty.screen, settle_memory=True)
        frames = burst(10, 100)  # 1,021 frames
        sent = []

        class Cycle:
            pass

        def done():
            if not sent and pull.poll(0):
                # what start-up made is frozen already
                frozen.append(gc.get_freeze_count())
                pull.recv()
                for frame in frames:
                    pub.send(frame)
                sent.append(True)
            if monitor.farm.frames < len(frames) or monitor._refresh_due:
                return False
            if len(frozen) == 1:
                frozen.append(gc.get_freeze_count())
                # garbage made of cycles, frozen before it became garbage
                cycle = Cycle()
                cycle.me = cycle
                gc.freeze()
                frozen.append(gc.get_freeze_count())
                del cycle
                monitor.settle_memory()
                frozen.append(gc.get_freeze_count())
            return True

        run_monitor_until(monitor, done)
        assert monitor.farm.frames == len(frames)
        assert not any(isinstance(o, Cycle) for o in gc.get_objects())
    finally:
        link.close()
        pty.close()
    # start-up's objects were frozen, then the replay's records and rows
    # as the frames came in
    assert frozen[0] > 1000, frozen
    assert frozen[1] > frozen[0] + 100, frozen
    # settling unfroze and collected: the cycle went, the rest froze again
    assert frozen[3] < frozen[2], frozen
    assert gc.get_freeze_count() == 0


def test_refresh_delay_follows_the_cost_of_a_refresh():
    assert refresh_delay(0.0) == REFRESH_DELAY
    assert refresh_delay(0.001) == REFRESH_DELAY
    assert refresh_delay(0.02) == pytest.approx(0.2)
    assert refresh_delay(5.0) == REFRESH_DELAY_MAX


def test_an_expensive_refresh_is_made_less_often(ipc_addrs, fake_master):
    # as with thousands of slaves: each refresh takes 20 ms, so while frames
    # trickle in the screen is refreshed about every 200 ms, not every 50
    pub, pull = fake_master
    pty = PtyScreen()
    link = MasterLink(*ipc_addrs)
    link.open()
    try:
        monitor = Monitor(link, screen=pty.screen)
        refresh = monitor.console.refresh

        def slow_refresh(now, **kwargs):
            end = time.perf_counter() + 0.02
            refresh(now, **kwargs)
            while time.perf_counter() < end:
                pass

        monitor.console.refresh = slow_refresh
        frames = burst(10, 100)
        queue = []

        def done():
            if not queue and pull.poll(0):
                pull.recv()
                queue.extend(reversed(frames))
            for _ in range(5):
                if queue:
                    pub.send(queue.pop())
            return (monitor.farm.frames >= len(frames)
                    and not monitor._refresh_due)

        start = time.monotonic()
        run_monitor_until(monitor, done)
        elapsed = time.monotonic() - start
        assert monitor.farm.frames == len(frames)
        assert elapsed > 1.0, elapsed   # long enough to tell the rates apart
        assert 1 <= monitor.refreshes <= elapsed / 0.2 + 2, (
            monitor.refreshes, elapsed)
    finally:
        link.close()
        pty.close()


def test_idle_monitor_does_not_redraw_between_ticks(ipc_addrs, fake_master):
    pub, pull = fake_master
    pty = PtyScreen()
    link = MasterLink(*ipc_addrs)
    link.open()
    try:
        monitor = Monitor(link, screen=pty.screen)
        start = time.monotonic()
        cpu = time.process_time()
        run_monitor_until(monitor, lambda: time.monotonic() - start > 2.5)
        used = time.process_time() - cpu
        # a tick a second and the first picture: a few draws in 2.5 s, and
        # the process mostly asleep (generous bound for a busy CI machine)
        assert monitor.loop.draws <= 6, monitor.loop.draws
        assert used < 1.0, used
    finally:
        link.close()
        pty.close()


def slave_hello(sid, label, ts):
    return p.encode_status(p.SlaveHello(
        sid, ts, dt.timedelta(hours=3), dt.timedelta(minutes=5), "311",
        "cp311", "linux_armv7l", label, "Raspbian", "12", "c03111", "1234"))


@pytest.mark.parametrize("change", [
    "slave-replaced", "master-restarted", "unchanged"])
def test_a_stale_confirmation_sends_nothing_over_the_wire(
        ipc_addrs, fake_master, change):
    # Kill slave 2 (alpha) is asked; before Yes, alpha leaves and another
    # machine gets id 2, or the master restarts. Yes must put nothing on
    # the control socket: a Pause pressed afterwards is the marker, and
    # nothing but the monitor's HELLO may come before it. When nothing
    # changed (only news from alpha), the KILL goes before the marker.
    pub, pull = fake_master
    pty = PtyScreen()
    link = MasterLink(*ipc_addrs)
    link.open()
    later = T0 + dt.timedelta(minutes=5)
    try:
        monitor = Monitor(link, screen=pty.screen)
        console, farm = monitor.console, monitor.farm
        received = []
        said = []
        step = ["replay"]

        def press(key):
            console.keypress((80, 24), key)

        def arrived():
            """The change published after the question is in the model."""
            if change == "master-restarted":
                return farm.master.started == later
            slave = farm.slaves.get(2)
            if change == "unchanged":
                return slave is not None and slave.task == "building"
            return slave is not None and slave.label == "beta"

        def done():
            while pull.poll(0):
                received.append(p.decode_control(pull.recv()))
            if step[0] == "replay" and received:
                pub.send(p.encode_status(p.MasterHello(
                    T0, "fake", "Debian", "12", "unknown", "unknown")))
                pub.send(slave_hello(1, "pi-01", T0))
                pub.send(slave_hello(2, "alpha", T0))
                step[0] = "ask"
            elif step[0] == "ask" and 2 in farm.slaves and \
                    not monitor._refresh_due:   # the list shows it
                console.slave_list.select_slave(2)
                press("k")
                said.append(getattr(console.dialog, "body_text", None))
                if change == "slave-replaced":
                    pub.send(p.encode_status(p.SlaveDie(2, later)))
                    pub.send(slave_hello(2, "beta", later))
                elif change == "unchanged":
                    pub.send(p.encode_status(p.SlaveBuild(
                        2, later, "numpy", "1.26.4")))
                else:
                    pub.send(p.encode_status(p.MasterHello(
                        later, "fake", "Debian", "12", "unknown", "unknown")))
                step[0] = "answer"
            elif step[0] == "answer" and arrived():
                press("y")
                said.append(console.status.text)
                press("p")   # the marker
                step[0] = "marker"
            elif step[0] == "marker":
                return any(c.message == "SLEEP" for c in received)
            return False

        run_monitor_until(monitor, done)
        marker = next(i for i, c in enumerate(received)
                      if c.message == "SLEEP")
        assert said[0].startswith("Kill slave 2 (alpha)?")
        before_marker = [c for c in received[:marker] if c.message != "HELLO"]
        if change == "unchanged":
            assert before_marker == [p.Control("KILL", 2)]
            assert said[1].startswith("Kill slave: slave 2 (alpha) "
                                      "terminates")
            return
        assert before_marker == []
        assert all(c.message != "KILL" for c in received)
        why = ("the master restarted since you asked"
               if change == "master-restarted" else
               "slave 2 (alpha) has left; slave 2 is now beta")
        assert said[1:] == [f"Kill slave: not sent, {why}."]
    finally:
        link.close()
        pty.close()
