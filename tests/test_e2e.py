"""
End to end: piw-monitor in a real pseudo-terminal, driven by keys and mouse
clicks, against the demo master on private ipc addresses. The tests read the
screen (pyte) and what the master received.
"""

import pytest

from piw_monitor import protocol as p
from piw_monitor.demo import DemoMaster

from .helpers import wait_for
from .terminal import Terminal

SIZES = [(24, 80), (40, 120)]


@pytest.fixture
def master(ipc_addrs):
    demo = DemoMaster(*ipc_addrs, slaves=4, seed=7, speed=4.0)
    demo.start()
    assert demo.ready.wait(5)
    yield demo
    demo.stop()


@pytest.fixture
def run_monitor(ipc_addrs):
    terminals = []

    def start(rows=24, cols=80, args=None, env=None):
        if args is None:
            args = ["--status-queue", ipc_addrs[0],
                    "--control-queue", ipc_addrs[1]]
        term = Terminal(args, rows=rows, cols=cols, env=env)
        terminals.append(term)
        return term

    yield start
    for term in terminals:
        term.close()


def received(master, message, data=p.NO_DATA):
    return p.Control(message, data) in master.received


def slave_rows(term):
    return [line for line in term.lines if "cp3" in line and "\u25cf" in line]


def assert_restored(term):
    assert term.restored() == []
    assert term.echo_on


@pytest.mark.parametrize("rows,cols", SIZES)
def test_demo_mode_runs_and_quits(run_monitor, tmp_path, rows, cols):
    term = run_monitor(rows, cols, args=["--demo"],
                       env={"TMPDIR": str(tmp_path)})
    term.wait_for(lambda t: len(slave_rows(t)) >= 3, what="demo slaves")
    term.wait_for("running")
    # the demo master's sockets live in a private temporary directory...
    assert [d.name.startswith("piw-monitor-demo-")
            for d in tmp_path.iterdir()] == [True]
    term.key("q")
    assert term.wait_exit() == 0
    assert_restored(term)
    # ...which is gone once the monitor has exited
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("rows,cols", SIZES)
def test_keys_buttons_and_mouse_reach_the_master(master, run_monitor,
                                                 rows, cols):
    term = run_monitor(rows, cols)
    term.wait_for(lambda t: len(slave_rows(t)) == 4, what="four slaves")
    assert received(master, "HELLO")

    # p and r
    term.key("p")
    wait_for(lambda: received(master, "SLEEP", None))
    term.wait_for("Paused: the master hands out no new builds")
    term.wait_for("paused")
    term.key("r")
    wait_for(lambda: received(master, "WAKE", None))
    term.wait_for("Resumed: the master hands out builds again")

    # Tab to the buttons, Enter presses the first one (Pause)
    before = master.received.count(p.Control("SLEEP", None))
    term.key("tab")
    term.settle()
    term.key("enter")
    wait_for(lambda: master.received.count(
        p.Control("SLEEP", None)) == before + 1)
    term.key("tab")  # back to the list

    # a mouse click on a button: Resume
    col, row = term.find("Resume >")
    before = master.received.count(p.Control("WAKE", None))
    term.click(col, row)
    wait_for(lambda: master.received.count(
        p.Control("WAKE", None)) == before + 1)

    # a mouse click on the third row selects it; k names it
    rows_now = slave_rows(term)
    third = rows_now[2]
    sid = int(third.split()[1])
    label = third.split()[2]
    col, row = term.find(third[:20])
    term.click(col + 10, row)
    term.settle()
    term.key("k")
    term.wait_for(f"Kill slave {sid} ({label})?")
    term.key("n")
    term.wait_for("cancelled")
    assert not any(c.message == "KILL" for c in master.received)

    term.key("k")
    term.wait_for(f"Kill slave {sid} ({label})?")
    term.key("y")
    wait_for(lambda: received(master, "KILL", sid))
    term.wait_for(f"Kill slave: slave {sid} ({label}) terminates")
    term.wait_for(lambda t: any(
        label in line and ("stopping" in line or "Terminating" in line)
        for line in t.lines), what="the row marked as stopping")

    # t answered No, then Yes
    term.key("t")
    term.wait_for("Terminate the master")
    term.key("esc")
    term.wait_for("Terminate master: cancelled")
    assert not received(master, "QUIT")
    term.key("t")
    term.wait_for("Terminate the master")
    term.key("y")
    wait_for(lambda: received(master, "QUIT"))
    assert term.wait_exit() == 0
    assert_restored(term)


def test_quit_leaves_the_master_alone(master, run_monitor):
    term = run_monitor()
    term.wait_for(lambda t: len(slave_rows(t)) == 4, what="four slaves")
    term.key("q")
    assert term.wait_exit() == 0
    assert_restored(term)
    assert {c.message for c in master.received} == {"HELLO"}


def test_killed_slave_terminates_and_leaves(master, run_monitor):
    term = run_monitor()
    term.wait_for(lambda t: len(slave_rows(t)) == 4, what="four slaves")
    first = slave_rows(term)[0]
    label = first.split()[2]
    term.key("home")  # the master's row
    term.key("down")  # the first slave
    term.key("k")
    term.wait_for("?")
    term.key("y")
    term.wait_for(lambda t: any(
        label in line and "Terminating" in line for line in t.lines),
        timeout=30, what="Terminating")
    term.wait_for(lambda t: not any(label in row for row in slave_rows(t)),
                  timeout=30, what="the row to leave")
    # and the status line says so
    term.wait_for(f"({label}) has left the list: it terminated.")
    term.key("q")
    assert term.wait_exit() == 0
