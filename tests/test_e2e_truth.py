"""
End to end, the truth through other monitors' replays (issue 15): a console
open on the demo master while a monitoring system probes the same master
with ``piw-monitor --check`` every few seconds. Each probe's HELLO makes the
master replay everything to every monitor, the console included; the
console's task times must go on as if nothing had happened.
"""

import os
import re
import subprocess
import sys
import time

import pytest

from piw_monitor.demo import DemoMaster

from .terminal import ROOT, Terminal

#: a slave row: id, up time, task time (with its lower-bound mark), task
ROW = re.compile(
    r"^\S\s+(\d+) .*?(\d\d:\d\d:\d\d) +([\u2265>]?)(\d\d:\d\d:\d\d) (.+?)\s*$")


def seconds(text):
    h, m, s = (int(x) for x in text.split(":"))
    return 3600 * h + 60 * m + s


def rows(term):
    """{slave id: (task time in seconds, exact, task words)} on screen."""
    result = {}
    for line in term.lines:
        match = ROW.match(line)
        if match and "Master" not in line:
            sid, _up, mark, task_time, task = match.groups()
            result[int(sid)] = (seconds(task_time), not mark, task)
    return result


def up_times(term):
    """The slaves' up times on screen, in seconds (the screen's clock)."""
    return [seconds(m.group(2)) for m in map(ROW.match, term.lines) if m]


@pytest.fixture
def master(ipc_addrs):
    # slow builds (speed 1): tasks last long enough to be compared
    demo = DemoMaster(*ipc_addrs, slaves=4, seed=11, speed=1.0)
    demo.start()
    assert demo.ready.wait(5)
    yield demo
    demo.stop()


def probe(addrs, home):
    env = dict(os.environ, HOME=str(home), PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "piw_monitor", "--status-queue", addrs[0],
         "--control-queue", addrs[1], "--check"],
        env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=60)


def probed_round(term, addrs, home):
    """
    Probe the master three times and check every slave whose task did not
    change meanwhile: its task time went on as if nothing had happened.
    Returns how many slaves were compared.
    """
    before, t0 = rows(term), time.monotonic()
    for _ in range(3):
        result = probe(addrs, home)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.startswith("OK - piwheels demo-master running")
    # the console has read every replay and its clock has ticked twice
    # since: every row was redrawn after the last one
    term.pump(0.1)
    shown = max(up_times(term))
    term.wait_for(lambda t: max(up_times(t)) >= shown + 2, timeout=15,
                  what="two more ticks of the screen's clock")
    after, t1 = rows(term), time.monotonic()
    compared = 0
    for sid, (was, exact, task) in before.items():
        now, exact_now, task_now = after[sid]
        if task_now != task:
            continue  # the slave moved on meanwhile: nothing to compare
        compared += 1
        # what it would have been: the time before, plus what passed
        # (the screen shows whole seconds and redraws each second)
        expected = was + (t1 - t0)
        assert abs(now - expected) <= 1.5, (sid, task, was, now, expected)
        assert exact_now == exact, (sid, task)
    return compared


def test_probes_replays_leave_every_task_time_alone(master, ipc_addrs,
                                                    tmp_path):
    term = Terminal(["--status-queue", ipc_addrs[0], "--control-queue",
                     ipc_addrs[1]], rows=24, cols=100)
    try:
        term.wait_for(lambda t: len(rows(t)) == 4, timeout=30,
                      what="the four demo slaves")
        # tasks the console saw begin are exact; wait for two of them
        term.wait_for(lambda t: sum(exact for _, exact, _ in
                                    rows(t).values()) >= 2,
                      timeout=60, what="two tasks seen from their start")
        # a slave that moves on to another task meanwhile cannot be
        # compared: on a busy machine the probes take long enough for most
        # of them to, and the round is made again (up to three times)
        for _round in range(3):
            compared = probed_round(term, ipc_addrs, tmp_path)
            if compared >= 2:
                break
        assert compared >= 2, "slaves kept moving on to other tasks"
    finally:
        term.close()
