"""
End to end, in a real pseudo-terminal: the console polished from real use
(issue 16). Each test is one thing a newcomer tripped on, tried as they
tried it: safe hands (questions before anything is ended, no key acting
blind), plain words, sorting, whole figures, every kind of terminal, job
control and hang-ups.
"""

import fcntl
import os
import re
import struct
import subprocess
import sys
import termios
import threading

import pytest

from .helpers import wait_for
from .terminal import ROOT, Terminal
from .test_e2e import master, run_monitor, slave_rows  # noqa: F401


def test_a_double_enter_skips_nothing(master, run_monitor):  # noqa: F811
    term = run_monitor()
    term.wait_for(lambda t: len(slave_rows(t)) == 4, what="four slaves")
    term.key("enter")
    term.wait_for("Skip build")
    term.key("enter")
    term.wait_for("Skip the current build of slave")
    term.key("enter")   # No has the focus
    term.wait_for("Skip build: cancelled; nothing sent to slave")
    assert not any(c.message == "SKIP" for c in master.received)
    term.key("q")
    assert term.wait_exit() == 0


def test_keys_do_not_act_blind_on_a_tiny_terminal(master, run_monitor):  # noqa: F811
    term = run_monitor(6, 30)
    term.wait_for("too small")
    term.wait_for(lambda t: "50x8" in t.text.replace("\n", "")
                  and "30x6" in t.text.replace("\n", ""),
                  what="the sizes in the notice")
    for key in "ptykyrd":
        term.key(key)
    term.key("enter")
    term.resize(24, 80)
    term.wait_for(lambda t: len(slave_rows(t)) == 4, what="the list")
    # keys are read in order: once h shows the help, the ones before it
    # have been handled, and none reached the master or opened a question
    term.key("h")
    term.wait_for("Help (Esc closes)")
    assert {c.message for c in master.received} == {"HELLO"}
    term.key("esc")
    term.wait_for(lambda t: "Help (Esc closes)" not in t.text, what="no help")
    term.resize(6, 30)
    term.wait_for("too small")
    term.key("q")
    assert term.wait_exit() == 0
    assert term.restored() == []


def test_a_second_click_on_a_title_reverses_the_sort(master, run_monitor):  # noqa: F811
    term = run_monitor()
    term.wait_for(lambda t: len(slave_rows(t)) == 4, what="four slaves")
    col, row = term.find("Label")
    term.click(col + 1, row)
    term.wait_for("Label\u25b4")
    term.wait_for("Sorted by Label, A to Z.")
    labels = [r.split()[2] for r in slave_rows(term)]
    assert labels == sorted(labels)
    term.click(col + 1, row)
    term.wait_for("Label\u25be")
    term.wait_for("Sorted by Label, Z to A.")
    term.wait_for(lambda t: [r.split()[2] for r in slave_rows(t)]
                  == sorted(labels, reverse=True), what="Z to A")
    term.key("q")
    assert term.wait_exit() == 0


def _pane(term):
    """The details pane's lines (beside the list, or below it)."""
    top = next((i for i, line in enumerate(term.lines)
                if "Details" in line and "\u250c" in line), None)
    if top is None:
        return []
    left = term.lines[top].index("\u250c")
    return [line[left:] for line in term.lines[top:-2]]


@pytest.mark.parametrize("rows,cols", [(40, 120), (60, 100)])
def test_details_show_whole_figures(run_monitor, rows, cols):  # noqa: F811
    term = run_monitor(rows, cols, args=["--demo"])
    term.wait_for(lambda t: len(slave_rows(t)) >= 3, what="demo slaves")
    term.key("d")
    term.key("home")
    term.wait_for(lambda t: "Outlook" in "".join(_pane(t)),
                  what="the master's queue")
    # its counts come after the queue and its charts: ] scrolls to them
    # (the title says so while there is more below)
    def first_label(t):
        # the label of the pane's first line: what a scroll moves
        return _pane(t)[1][1:13]

    seen = []
    for _ in range(6):
        pane = "\n".join(_pane(term))
        seen.append(pane)
        title = _pane(term)[0]
        if "Downloads" in pane or not ("] for more" in title
                                       or "] to scroll" in title):
            break
        before = first_label(term)
        term.key("]")
        term.wait_for(lambda t, before=before: first_label(t) != before,
                      what="the pane scrolled")
    assert "Downloads" in pane, seen
    pane = "\n".join(seen)
    assert "\N{HORIZONTAL ELLIPSIS}" not in pane, pane
    assert re.search(r"\d+ last hour,", pane)
    assert re.search(r"[\d.]+ [KMGT]B used", pane), pane
    assert re.search(r"of [\d.]+ [KMGT]B, [\d.]+ [KMGT]B free", pane), pane
    term.key("down")
    term.wait_for(lambda t: "Python" in "".join(_pane(t)), what="a slave")
    python = next(line for line in _pane(term) if "Python" in line)
    assert re.search(r"Python\s+3\.\d+", python), python
    term.key("q")
    assert term.wait_exit() == 0


@pytest.mark.parametrize("env", [
    {"LANG": "C", "LC_ALL": ""},
    {"LANG": "C", "LC_ALL": "C"},
    {"LANG": "en_US.ISO-8859-1", "LC_ALL": ""},
])
def test_a_locale_other_than_utf8_gets_ascii_symbols(run_monitor, env):  # noqa: F811
    term = run_monitor(args=["--demo"], env=env)
    term.wait_for(" | running | ")
    term.wait_for(lambda t: len([line for line in t.lines
                                 if line.startswith("*     ")]) >= 3,
                  what="rows marked *")
    term.wait_for("ABI^")
    term.settle()
    screen = "\n".join(term.lines[:-2])
    assert screen.isascii(), screen
    assert "?" not in screen, screen
    term.key("q")
    assert term.wait_exit() == 0


def _has_terminfo(name):
    # in a process of its own: curses reads one entry per process
    check = f"import curses; curses.setupterm({name!r}, 1)"
    return subprocess.run([sys.executable, "-c", check],
                          capture_output=True).returncode == 0


@pytest.mark.parametrize("term_type", ["dumb", "", "glasstty"])
def test_a_terminal_without_cursor_addressing_is_refused(term_type):
    if term_type == "glasstty" and not _has_terminfo(term_type):
        pytest.skip("no terminfo entry for glasstty here")
    term = Terminal(["--demo"], env={"TERM": term_type})
    try:
        status = term.wait_exit()
    finally:
        term.close()
    assert status == 2
    # one line (the terminal may wrap it), and nothing drawn
    lines = bytes(term.raw).decode().strip().splitlines()
    assert len(lines) == 1, lines
    shown = term.text.replace("\n", "").replace("  ", "")
    assert "\x1b" not in lines[0]
    assert lines[0].startswith(
        f"piw-monitor: error: the terminal type (TERM={term_type or 'unset'})")
    assert "cannot move the cursor" in lines[0] and "--json" in lines[0]
    assert "Master" not in shown


def _sgr_params(raw):
    for match in re.finditer(rb"\x1b\[([0-9;]*)m", raw):
        params = match.group(1).split(b";")
        skip = 0
        for i, param in enumerate(params):
            if skip:
                skip -= 1
                continue
            if param in (b"38", b"48"):
                skip = 2 if params[i + 1:i + 2] == [b"5"] else 4
                continue
            yield param


def test_nothing_blinks_on_the_linux_console(run_monitor):  # noqa: F811
    term = run_monitor(args=["--demo"], env={"TERM": "linux"})
    term.wait_for(lambda t: len(slave_rows(t)) >= 3, what="demo slaves")
    term.key("tab")   # the buttons, focused
    term.key("enter")   # Pause: a status line, and the header changes
    term.wait_for("Paused")
    term.key("tab")
    term.settle()
    assert b"5" not in set(_sgr_params(bytes(term.raw)))
    term.key("q")
    assert term.wait_exit() == 0


def _colour_params(raw):
    """
    The colour parameters of *raw*'s SGRs: 30-38, 40-48, 90-97 and 100-107
    (39 and 49, the terminal's own colours, are none).
    """
    for match in re.finditer(rb"\x1b\[([0-9;]*)m", raw):
        for param in match.group(1).split(b";"):
            if param.isdigit() and int(param) not in (39, 49) and (
                    30 <= int(param) <= 48 or 90 <= int(param) <= 107):
                yield param


@pytest.mark.parametrize("env, coloured", [
    ({"TERM": "vt100"}, False), ({"TERM": "xterm"}, True),
    ({"TERM": "xterm-256color"}, True),
    ({"TERM": "vt100", "COLORTERM": "truecolor"}, True),
    ({"TERM": "vt100", "FORCE_COLOR": "1"}, True)])
def test_colours_only_for_a_terminal_that_has_them(
        run_monitor, env, coloured):  # noqa: F811
    # a vt100's terminfo entry has no colours: the selection and the
    # focused button are then in reverse video, as with NO_COLOR; what the
    # user or the terminal says outright stands
    # nothing of the terminal the tests run in
    quiet = {"COLORTERM": "", "FORCE_COLOR": "", "CLICOLOR_FORCE": "",
             "NO_COLOR": "", "CLICOLOR": ""}
    term = run_monitor(args=["--demo"], env={**quiet, **env})
    term.wait_for(lambda t: len(slave_rows(t)) >= 3, what="demo slaves")
    term.settle()
    assert bool(set(_colour_params(bytes(term.raw)))) == coloured
    if not coloured:
        assert re.search(rb"\x1b\[[0-9;]*\b7[;m]", bytes(term.raw))
    term.key("q")
    assert term.wait_exit() == 0


def _bash(tmp_path):
    return Terminal(argv=["bash", "--norc", "--noprofile", "-i"],
                    env={"PS1": "$ ", "HOME": str(tmp_path),
                         "TMPDIR": str(tmp_path)})


def test_ctrl_z_and_fg_under_a_wrapper_script(tmp_path):
    if subprocess.run(["bash", "-c", "true"]).returncode != 0:
        pytest.skip("no bash for job control")
    wrap = tmp_path / "wrap.sh"
    wrap.write_text(f"{sys.executable} -m piw_monitor --demo\n")
    term = _bash(tmp_path)
    try:
        term.wait_for("$ ")
        term.send(f"sh {wrap}\r")
        term.wait_for(lambda t: len(slave_rows(t)) >= 3, what="demo slaves")
        for _round in (1, 2):
            term.send("\x1a")   # Ctrl-Z
            term.wait_for("Stopped", what="the shell's Stopped")
            term.send("fg\r")
            # after one fg the console draws itself again, whole (which
            # wipes the shell's Stopped), and listens: the help answers
            term.wait_for(lambda t: "Stopped" not in t.text
                          and len(slave_rows(t)) >= 3,
                          what="the console drawn again after fg")
            term.key("h")
            term.wait_for("Help (Esc closes)")
            term.key("esc")
            term.wait_for(lambda t: "Help (Esc closes)" not in t.text,
                          what="help closed")
        term.key("q")
        term.send("exit\r")
        assert term.wait_exit() == 0
    finally:
        term.close()


def _read_into(fd, sink, stop):
    while not stop.is_set():
        try:
            data = os.read(fd, 65536)
        except OSError:
            return
        if not data:
            return
        sink += data


def test_input_gone_without_sighup_is_a_hang_up(tmp_path):
    """
    The terminal's input goes away and no SIGHUP reaches the monitor (its
    keyboard is a terminal of its own, which is not its controlling one):
    one line, status 129, no crash log, the demo's directory removed.
    """
    in_master, in_slave = os.openpty()
    out_master, out_slave = os.openpty()
    size = struct.pack("HHHH", 24, 80, 0, 0)
    for fd in (in_slave, out_slave):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, size)
    env = dict(os.environ, TERM="xterm-256color", LANG="C.UTF-8",
               LC_ALL="C.UTF-8", TMPDIR=str(tmp_path),
               XDG_STATE_HOME=str(tmp_path / "state"),
               PYTHONPATH=os.pathsep.join(
                   filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen(
        [sys.executable, "-m", "piw_monitor", "--demo"], stdin=in_slave,
        stdout=out_slave, stderr=subprocess.PIPE, env=env, cwd=ROOT,
        start_new_session=True)
    os.close(in_slave)
    os.close(out_slave)
    screen = bytearray()
    stop = threading.Event()
    reader = threading.Thread(target=_read_into,
                              args=(out_master, screen, stop), daemon=True)
    reader.start()
    try:
        wait_for(lambda: b"running" in screen, timeout=20,
                 message="the console never drew")
        assert [d.name.startswith("piw-monitor-demo-")
                for d in tmp_path.iterdir()] == [True]
        os.close(in_master)   # the keyboard side goes away
        in_master = None
        _out, err = proc.communicate(timeout=20)
    finally:
        stop.set()
        if in_master is not None:
            os.close(in_master)
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        os.close(out_master)
    assert proc.returncode == 129
    assert err.decode().splitlines() == [
        "piw-monitor: the terminal went away (hang-up)"]
    assert not (tmp_path / "state").exists() or not any(
        (tmp_path / "state").rglob("crash-*"))
    assert list(tmp_path.glob("piw-monitor-demo-*")) == []


def test_a_newcomers_small_things(master, run_monitor):  # noqa: F811
    term = run_monitor(40, 120)
    term.wait_for(lambda t: len(slave_rows(t)) == 4, what="four slaves")
    top = slave_rows(term)[0].split()
    # the first selected row is the top slave
    term.key("d")
    term.wait_for(f"Slave        {top[1]} {top[2]}")
    # Home selects the master's row, as its help says; Up stays there
    term.key("home")
    term.wait_for("Builds/hour")
    term.key("up")
    term.key("up")
    term.key("h")
    term.wait_for("Help (Esc closes)")
    term.wait_for("Select the top row (the master's)")
    term.key("esc")
    term.wait_for(lambda t: "Help (Esc closes)" not in t.text, what="no help")
    assert "Builds/hour" in term.text
    # the event log names slaves by label as well as id
    term.key("l")
    term.wait_for(f"slave {top[1]} ({top[2]})")
    term.key("l")
    term.key("q")
    assert term.wait_exit() == 0
