"""
The operator's views in a real pseudo-terminal, against the demo master:
details, sort, filter, the action menu, the event log, help, read-only.
"""

import pytest

from piw_monitor import protocol as p

from .helpers import wait_for
from .test_e2e import master, run_monitor, slave_rows  # noqa: F401

pytestmark = pytest.mark.usefixtures("master")


def test_details_sort_filter_log_and_help(master, run_monitor):  # noqa: F811
    term = run_monitor(40, 120)
    term.wait_for(lambda t: len(slave_rows(t)) == 4, what="four slaves")

    term.key("d")
    term.wait_for("Details")
    term.wait_for("Clock skew")  # a slave is selected at start
    term.key("home")
    term.wait_for("Builds/hour")  # the master's details

    term.key("s")
    term.wait_for("Sorted by Up time, longest first")
    term.key("S")
    term.wait_for("Sorted by Up time, shortest first")

    label = slave_rows(term)[0].split()[2]
    term.key("/")
    term.wait_for("Filter:")
    term.send(label)
    term.wait_for(lambda t: len(slave_rows(t)) == 1, what="one row")
    term.key("enter")
    term.wait_for(f"matching '{label}'")
    term.key("esc")  # a lone Esc: wait before the next key (see pitfalls)
    term.wait_for(lambda t: len(slave_rows(t)) == 4, what="four rows again")

    term.key("d")
    term.key("l")
    term.wait_for("Event log")
    term.wait_for("HELLO")
    term.key("l")
    term.wait_for(lambda t: "Event log" not in t.text, what="the list back")

    term.key("h")
    term.wait_for("In the slave list")
    term.key("esc")
    term.wait_for(lambda t: "In the slave list" not in t.text,
                  what="help closed")
    term.key("q")
    assert term.wait_exit() == 0
    assert term.restored() == []


def test_action_menu_skips_a_build(master, run_monitor):  # noqa: F811
    term = run_monitor()
    term.wait_for(lambda t: len(slave_rows(t)) == 4, what="four slaves")
    row = slave_rows(term)[0]
    sid = int(row.split()[1])
    label = row.split()[2]
    term.key("home")
    term.key("down")
    # a double Enter opens the menu and picks Skip build, which asks
    term.key("enter")
    term.wait_for("Skip build")
    term.key("enter")
    term.wait_for(f"Skip the current build of slave {sid} ({label})?")
    term.key("y")
    wait_for(lambda: p.Control("SKIP", sid) in master.received)
    term.wait_for(f"Skip build: slave {sid} ({label}) abandons")
    term.key("q")
    assert term.wait_exit() == 0


def test_read_only_sends_nothing(master, run_monitor, ipc_addrs):  # noqa: F811
    term = run_monitor(args=["--status-queue", ipc_addrs[0],
                             "--control-queue", ipc_addrs[1], "--read-only"])
    term.wait_for("Read-only")
    term.key("p")
    term.wait_for("Pause: not sent (read-only mode)")
    # no question first: the answer could only be "not sent"
    term.key("t")
    term.wait_for("Terminate master: not sent (read-only mode)")
    assert "Tell the master" not in term.text
    term.key("k")
    term.wait_for("Kill slave: not sent (read-only mode)")
    term.key("q")
    assert term.wait_exit() == 0
    assert master.received == []
