"""
A real pseudo-terminal for end-to-end tests: pexpect runs the program, pyte
plays the terminal, and the test reads the screen as a user would.
"""

import os
import sys
import termios
import time
from pathlib import Path

import pexpect
import pyte

ROOT = Path(__file__).resolve().parents[1]


class Terminal:
    """
    Run ``python -m piw_monitor`` (or *argv*) in a pseudo-terminal of
    *rows* x *cols*, with ``TERM=xterm-256color``.
    """

    def __init__(self, args=(), rows=24, cols=80, argv=None, env=None):
        self.rows, self.cols = rows, cols
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()
        environ = dict(os.environ)
        environ.update({
            "TERM": "xterm-256color", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "PYTHONPATH": str(ROOT) + os.pathsep + environ.get("PYTHONPATH", ""),
        })
        environ.update(env or {})
        if argv is None:
            argv = [sys.executable, "-m", "piw_monitor", *args]
        self.child = pexpect.spawn(
            argv[0], list(argv[1:]), dimensions=(rows, cols), env=environ,
            cwd=str(ROOT))

    # ------------------------------------------------------------ reading

    def pump(self, timeout=0.05):
        """Read whatever the program wrote within *timeout* seconds."""
        got = False
        while True:
            try:
                data = self.child.read_nonblocking(65536, timeout=timeout)
            except pexpect.TIMEOUT:
                return got
            except pexpect.EOF:
                return got
            self.raw += data
            self.stream.feed(data)
            got = True
            timeout = 0.01

    @property
    def lines(self):
        """The screen's lines, as text."""
        return list(self.screen.display)

    @property
    def text(self):
        """The whole screen as one string."""
        return "\n".join(self.screen.display)

    def wait_for(self, predicate, timeout=15.0, what=None):
        """
        Read until *predicate* (a string to find on screen, or a callable
        taking this terminal) holds; fail with the screen after *timeout*.
        """
        check = (lambda t: predicate in t.text) if isinstance(
            predicate, str) else predicate
        deadline = time.monotonic() + timeout
        while True:
            if check(self):
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out waiting for {what or predicate!r}; "
                    f"screen:\n{self.text}")
            self.pump(0.05)

    def settle(self, quiet=0.15, timeout=5.0):
        """Read until the program has written nothing for *quiet* seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.pump(quiet):
                return

    # ------------------------------------------------------------ writing

    def send(self, data):
        """Send raw bytes or text to the program."""
        self.child.send(data)

    def key(self, name):
        """Send one named key."""
        self.send(KEYS.get(name, name))

    def click(self, col, row):
        """A left click at 0-based *col*, *row* (SGR mouse reporting)."""
        self.send(f"\x1b[<0;{col + 1};{row + 1}M")
        self.send(f"\x1b[<0;{col + 1};{row + 1}m")

    def resize(self, rows, cols):
        """Change the terminal's size, as a window manager would."""
        self.rows, self.cols = rows, cols
        self.screen.resize(rows, cols)
        self.child.setwinsize(rows, cols)

    def find(self, text):
        """(col, row) of the first place *text* is on screen."""
        for row, line in enumerate(self.lines):
            col = line.find(text)
            if col >= 0:
                return col, row
        raise AssertionError(f"{text!r} is not on screen:\n{self.text}")

    # ------------------------------------------------------------ ending

    def wait_exit(self, timeout=15.0):
        """Wait for the program to end; return its exit status."""
        deadline = time.monotonic() + timeout
        while self.child.isalive():
            if time.monotonic() > deadline:
                raise AssertionError(f"the program did not exit:\n{self.text}")
            self.pump(0.05)
        self.pump(0.01)
        try:
            # the terminal's modes as the program left them
            self.final_modes = termios.tcgetattr(self.child.child_fd)
        except termios.error:
            self.final_modes = None
        self.child.close()
        if self.child.signalstatus is not None:
            return -self.child.signalstatus
        return self.child.exitstatus

    def close(self):
        """Make sure the program is gone."""
        if self.child.isalive():
            self.child.terminate(force=True)
        self.child.close()

    final_modes = None

    @property
    def echo_on(self):
        """After exit: whether the terminal echoes typed keys again."""
        return bool(self.final_modes and
                    self.final_modes[3] & termios.ECHO)

    def restored(self):
        """
        Whether the program left the terminal as it found it: every mode it
        turned on (alternate screen, mouse reporting, hidden cursor) turned
        off again afterwards.
        """
        raw = bytes(self.raw)
        problems = []
        for on, off, what in (
            (b"\x1b[?1049h", b"\x1b[?1049l", "alternate screen"),
            (b"\x1b[?1000h", b"\x1b[?1000l", "mouse reporting (1000)"),
            (b"\x1b[?1002h", b"\x1b[?1002l", "mouse reporting (1002)"),
            (b"\x1b[?1006h", b"\x1b[?1006l", "mouse reporting (1006)"),
            (b"\x1b[?25l", b"\x1b[?25h", "cursor visibility"),
        ):
            if on in raw and raw.rfind(off) < raw.rfind(on):
                problems.append(what)
        return problems


KEYS = {
    "tab": "\t", "enter": "\r", "esc": "\x1b", "space": " ",
    "up": "\x1b[A", "down": "\x1b[B", "right": "\x1b[C", "left": "\x1b[D",
    "home": "\x1b[H", "end": "\x1b[F", "page up": "\x1b[5~",
    "page down": "\x1b[6~", "ctrl c": "\x03",
}
