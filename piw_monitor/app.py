"""
The piw-monitor application: the urwid main loop hosting the console and
the master link.

The link's file descriptors are registered as urwid file watches on the
default select loop. When one is readable the link is drained (a bounded
amount at a time, rescheduled at once while more is waiting, since the
descriptors are edge-triggered), every event goes into the model, and one
refresh of the screen is scheduled, so that a burst of frames costs a handful
of redraws. While frames keep coming the loop never goes idle, which is where
urwid draws, so the screen is drawn between two batches instead (when a
refresh or a key changed it). A one-second tick moves the timers, lets the
model expire terminated slaves, and gives the link its chance to retry a
replay request.

Every exit path (q, Terminate, Ctrl-C, SIGTERM, SIGHUP, SIGQUIT, SIGINT,
the terminal going away, an unexpected exception) leaves through urwid's
screen stop, which restores the terminal, and then through :func:`run`'s
clean-up, which stops the SSH tunnel of ``--ssh`` and removes its private
directory (in the headless modes too, which with ``--ssh`` turn SIGTERM,
SIGHUP and SIGQUIT into :exc:`Signalled` for that). urwid's loop logs and swallows an
``Exception`` raised by an alarm callback, and the frame decoder turns one
into a bad frame: so a signal leaves the loop as :exc:`Signalled`, and an
error in one of the loop's callbacks as :exc:`_Crashed`, both
``BaseException`` subclasses that no ``except Exception`` on the way stops.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback

import urwid

from . import charts, cli
from .actions import Actions
from .model import Farm
from .ui.console import Console
from .ui.palette import PALETTE

__all__ = ["main", "Monitor", "refresh_delay", "terminfo_has_colours", "utcnow"]

#: Frames handled per wake-up before the loop gets a chance to serve keys and
#: draw (500 frames are a few milliseconds of work: with 2000 the worst key
#: took 152 ms to show while flooded, with 500 well under 50 ms).
DRAIN_LIMIT = 500

#: With this environment variable set, F12 injects an error, for the tests
#: that prove an unexpected error anywhere takes the clean crash path:
#: ``key`` (or ``1``) raises from the key's handler at once; ``drain``,
#: ``refresh`` or ``tick`` arms a fault that goes off the next time that
#: callback of the loop runs (``drain``: the next one with frames to read).
FAULT_VARIABLE = "PIW_MONITOR_TEST_FAULT"

#: The places :data:`FAULT_VARIABLE` can name, besides ``key`` and ``1``.
_FAULT_PLACES = ("drain", "refresh", "tick")

#: Shortest time between two refreshes of the screen while frames pour in
#: (a key is answered at once all the same).
REFRESH_DELAY = 0.1

#: A burst of at least this many frames is shown as soon as the last of it
#: is read, rather than at the next paced refresh.
BURST = 100

#: Longest time between two refreshes while frames pour in, however
#: expensive a refresh of a very large farm is.
REFRESH_DELAY_MAX = 0.5

#: A refresh and the draw after it may take this share of the time while
#: frames pour in: with thousands of slaves (sorting and counting them is
#: O(N)) the screen is refreshed less often, so that the frames are read at
#: the same cost each whatever the size of the farm.
REFRESH_SHARE = 0.1


#: Seconds between two full runs of the garbage collector when the monitor
#: settles its memory (see :meth:`Monitor.settle_memory`).
SETTLE_EVERY = 600

#: Frames read between two freezes of what survived them, while frames pour
#: in (see :meth:`Monitor.settle_memory`).
FREEZE_FRAMES = 20_000


def refresh_delay(cost):
    """
    How long to wait before the next refresh, when the last refresh and its
    draw took *cost* seconds: :data:`REFRESH_DELAY`, or longer for a farm so
    large that refreshing it that often would take more than
    :data:`REFRESH_SHARE` of the time, but never more than
    :data:`REFRESH_DELAY_MAX`.
    """
    return min(max(REFRESH_DELAY, cost / REFRESH_SHARE), REFRESH_DELAY_MAX)


def utcnow():
    """The current time, timezone-aware, in UTC."""
    return dt.datetime.now(dt.timezone.utc)


class CoalescingLoop(urwid.MainLoop):
    """
    A main loop that writes to the terminal only when the picture changed.

    urwid draws whenever its loop goes idle, that is after every wake-up;
    while frames pour in that would be once per batch of frames. Widgets are
    only invalidated by :meth:`Monitor._refresh` (at most every
    :data:`REFRESH_DELAY`, less often for a very large farm: see
    :func:`refresh_delay`) and by input, so when the rendered canvas is the
    very one drawn last time, there is nothing new to write.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        #: True once the loop has begun to stop (and to restore the
        #: terminal): a signal then must not interrupt it
        self.stopping = False
        self._drawn = (None, None)
        #: how many times the terminal was actually written to
        self.draws = 0
        #: how long the last draw of a new picture took, in seconds
        self.draw_cost = 0.0

    def stop(self):
        """Stop the loop and its screen (which restores the terminal)."""
        self.stopping = True
        super().stop()

    def draw_screen(self):
        start = time.perf_counter()
        if not self.screen_size:
            self.screen_size = self.screen.get_cols_rows()
        canvas = self._topmost_widget.render(self.screen_size, focus=True)
        changed = self._drawn != (canvas, self.screen_size)
        if changed:
            self._drawn = (canvas, self.screen_size)
            self.draws += 1
        # the screen itself writes nothing for the canvas it drew last, but
        # redraws in full after clear() or a resume (Ctrl-Z, fg)
        super().draw_screen()  # renders the same canvas again, from the cache
        if changed:
            self.draw_cost = time.perf_counter() - start


def terminfo_has_colours():
    """
    False when the terminfo entry of ``TERM`` says the terminal has no
    colours (a ``vt100``); True when it has some, and when there is no
    telling (no ``TERM``, no entry, no curses). The stdlib's curses reads
    one entry a process: this is for the process's own terminal.
    """
    term = os.environ.get("TERM")
    if not term:
        return True
    try:
        import curses

        # the terminal is not touched: the entry is only looked up
        with open(os.devnull, "wb") as devnull:
            curses.setupterm(term, devnull.fileno())
        return curses.tigetnum("colors") > 0
    except Exception:
        return True


class _Screen(urwid.display.raw.Screen):
    """
    The raw screen with Ctrl-C unmapped from SIGINT (it is the Quit key)
    each time it starts: urwid stops and starts it again around a suspend
    (Ctrl-Z, fg), which gives the terminal its own settings back meanwhile.

    It also suspends once per Ctrl-Z whoever started the monitor. urwid
    restores the terminal and then stops the process itself; but when the
    monitor is not the leader of its job (started by a script, ``sh
    wrap.sh``), the shell takes the terminal back as soon as the script has
    stopped, and restoring it from the background stopped the monitor there
    (SIGTTOU), before it stopped itself: the ``fg`` that woke it only let it
    stop a second time, blank and deaf. So SIGTTOU is ignored while the
    terminal is restored: the restore goes through, and the one stop is
    the monitor's own.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._suspend_wanted = False
        forced = any(os.environ.get(name) for name in (
            "FORCE_COLOR", "CLICOLOR_FORCE", "COLORTERM"))
        if self.colors > 1 and not forced and not terminfo_has_colours():
            # urwid counts 16 colours for a terminal it does not know by
            # name, and lets its terminfo entry raise that count, never
            # lower it: a vt100 was sent colours it cannot show. What the
            # user or the terminal says outright (FORCE_COLOR, COLORTERM)
            # stands.
            self.set_terminal_properties(colors=1)

    def _start(self, *args, **kwargs):
        super()._start(*args, **kwargs)
        fd = self._input_fileno()
        if fd is not None and os.isatty(fd):
            self.tty_signal_keys(intr="undefined", fileno=fd)

    def _sigtstp_handler(self, signum, frame=None):
        # carried out by get_available_raw_input, as urwid does, but there
        # by this class (see above)
        self._suspend_wanted = True
        self._wake_input_loop()

    def get_available_raw_input(self):
        codes = super().get_available_raw_input()
        if self._suspend_wanted and self._started:
            self._suspend_wanted = False
            ttou = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
            try:
                self.stop()  # restores the terminal (and SIGTSTP's default)
            finally:
                signal.signal(signal.SIGTTOU, ttou)
            os.kill(os.getpid(), signal.SIGTSTP)
            # after fg: in the foreground again (a start from the
            # background waits there, stopped, for the fg)
            self.start()
            self._resized = True
        return codes


class Signalled(BaseException):
    """
    Raised from the signal handler to leave the main loop at once.

    A ``BaseException``, as :exc:`KeyboardInterrupt` is, because the signal
    lands wherever the monitor happens to be: under a flood of frames that
    is inside the frame decoder (whose ``except Exception`` would make it a
    bad frame) or inside an alarm callback (whose ``except Exception`` in
    urwid would print it over the screen and carry on).
    """

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


class _Crashed(BaseException):
    """
    Carries an unexpected error raised by one of the loop's callbacks out of
    urwid's loop, past the ``except Exception`` with which urwid would log
    it over the screen and go on; :meth:`Monitor.run` raises *error* again.
    """

    def __init__(self, error):
        super().__init__(error)
        self.error = error


def _guarded(callback):
    """
    *callback* (any arguments), with any ``Exception`` it raises other than
    :exc:`urwid.ExitMainLoop` wrapped in :exc:`_Crashed`.
    """
    def guarded(*args):
        try:
            return callback(*args)
        except urwid.ExitMainLoop:
            raise
        except Exception as exc:
            raise _Crashed(exc) from None
    guarded.__qualname__ = getattr(callback, "__qualname__", "callback")
    return guarded


class Monitor:
    """
    Ties a :class:`~piw_monitor.link.MasterLink`, a
    :class:`~piw_monitor.model.Farm` and a
    :class:`~piw_monitor.ui.console.Console` to an urwid main loop.
    """

    def __init__(self, link, *, read_only=False, screen=None, clock=utcnow,
                 thresholds=None, settle_memory=False):
        self.link = link
        # the monitor is the process's whole work (the command, not a test
        # or a library user): it may steer the garbage collector
        self._settle = settle_memory
        self._settled_at = None   # time.monotonic() of the last settling
        self._unfrozen = 0        # frames read since the last freeze
        self.clock = clock
        self.farm = Farm()
        if thresholds is not None:
            self.farm.set_thresholds(thresholds)
        # block elements need a UTF-8 terminal: ASCII charts otherwise
        charts.use_ascii(urwid.util.get_encoding() not in ("utf-8", "utf8"))
        self.actions = Actions(None if read_only else link)
        self.exit_message = None
        self.console = Console(
            self.farm, self.actions,
            status_queue=getattr(link, "address", link.status_queue),
            clock=clock, on_quit=self.quit, on_sent=self.drain)
        if screen is None:
            screen = _Screen()
        self.loop = CoalescingLoop(
            self.console, PALETTE, screen=screen, handle_mouse=True,
            unhandled_input=self._unhandled)
        self._refresh_due = False
        self._refresh_cost = 0.0   # how long the last refresh took
        self._refreshed_at = 0.0   # time.perf_counter() after the last one
        self._burst = 0   # frames read since the socket was last dry
        self._drain_due = False
        self.refreshes = 0
        self._fault = None   # where an injected fault goes off (tests only)

    # ------------------------------------------------------------ loop

    def run(self):
        """
        Run until the user quits; the terminal is restored however it ends.

        An unexpected error in any callback of the loop (drain, refresh,
        tick, a key's handler) ends the loop and is raised from here, with
        the traceback of where it happened; :exc:`Signalled` and
        :exc:`urwid.InputClosedError` (the terminal went away) go through.
        """
        try:
            if self._settle:
                # what start-up made lives as long as the monitor
                gc.freeze()
                self._settled_at = time.monotonic()
            for fd in self.link.fds():
                self.loop.watch_file(fd, _guarded(self.drain))
            # drain once after registering: frames queued before the watch
            # was set up raise no new edge
            self._alarm(0, self.drain)
            self._schedule_tick()
            self.loop.run()
        except _Crashed as crash:
            error = crash.error
        else:
            return
        finally:
            if self._settle:
                gc.unfreeze()
        # raised outside the except clause, so that the crash log does not
        # tell the story of the wrapper too
        raise error

    def _alarm(self, delay, callback):
        """Call *callback()* in *delay* seconds, guarded (see :func:`_guarded`)."""
        guarded = _guarded(callback)
        return self.loop.set_alarm_in(delay, lambda _loop, _data: guarded())

    def quit(self, message=None):
        """Leave the main loop; *message* is printed once the screen is gone."""
        self.exit_message = message
        raise urwid.ExitMainLoop()

    def _unhandled(self, key):
        # mouse releases and clicks on nothing end up here: ignore them
        if key == "f12":
            fault = os.environ.get(FAULT_VARIABLE)
            if fault in ("1", "key"):
                raise RuntimeError("fault injected for a test (key)")
            if fault in _FAULT_PLACES:
                self._fault = fault
        return True

    def _fault_point(self, where):
        """Raise the fault armed by F12 for *where*, once (tests only)."""
        if self._fault == where:
            self._fault = None
            raise RuntimeError(f"fault injected for a test ({where})")

    # ------------------------------------------------------------ link

    def drain(self, *_args):
        """Read what the link has, feed it to the model, schedule a refresh."""
        events = self.link.drain(limit=DRAIN_LIMIT)
        if events:
            if self._fault is not None:
                self._fault_point("drain")
            self.farm.apply_all(events, self.clock())
            if self.farm.take_resync():
                # a bound was hit: the model said so; ask for a replay
                self.link.ask_replay()
            self._schedule_refresh()
            self._burst += len(events)
            if self._settle:
                self._unfrozen += len(events)
                if self._unfrozen >= FREEZE_FRAMES:
                    self._unfrozen = 0
                    gc.freeze()
        if not self.link.pending:
            # the socket ran dry: a burst (a replay) is over, and showing it
            # now costs no frame any time
            if self._burst >= BURST and self._refresh_due:
                self._refresh()
            self._burst = 0
        if self.link.pending and not self._drain_due:
            # no new edge will come for what is left: come back at once
            self._drain_due = True
            self._alarm(0, self._drain_more)

    def _drain_more(self):
        # only this alarm clears the flag: a drain from elsewhere (a key's
        # command, the tick) must not start a second chain of alarms, which
        # would delay every other alarm (refresh, tick) once per chain
        self._drain_due = False
        # While frames keep coming the loop never goes idle, which is where
        # urwid draws: draw here what a refresh or a key changed (the loop
        # writes only when the picture changed), then read on.
        if self.loop.screen.started:
            self.loop.draw_screen()
        self.drain()

    def _schedule_refresh(self):
        if not self._refresh_due:
            self._refresh_due = True
            # paced from the last refresh, not from now: the first news
            # after a quiet spell shows at once, and a burst's last frames
            # wait at most one interval
            wait = refresh_delay(self._refresh_cost + self.loop.draw_cost) \
                - (time.perf_counter() - self._refreshed_at)
            self._alarm(max(wait, 0), self._refresh)

    def _refresh(self):
        if not self._refresh_due:
            return  # done already, at the end of a burst
        if self._fault is not None:
            self._fault_point("refresh")
        start = time.perf_counter()
        self._refresh_due = False
        self.refreshes += 1
        self.console.refresh(self.clock())
        self._refreshed_at = time.perf_counter()
        self._refresh_cost = self._refreshed_at - start

    def _schedule_tick(self):
        # tick on the wall clock's second, so timers move together
        delay = 1.0 - (time.time() % 1.0) + 0.005
        self._alarm(delay, self._tick)

    def _tick(self):
        if self._fault is not None:
            self._fault_point("tick")
        now = self.clock()
        self.link.tick(now)
        self.drain()
        self.farm.tick(now)
        self.console.refresh(now, tick=True)
        if self._settle:
            self._settle_when_due()
        self._schedule_tick()

    def _settle_when_due(self):
        if time.monotonic() - self._settled_at >= SETTLE_EVERY:
            self.settle_memory()
        else:
            gc.freeze()

    def settle_memory(self):
        """
        Keep the garbage collector's pauses short: collect everything once,
        then freeze what is left (:func:`gc.freeze`), so that the full
        collections that follow scan only what is newer. The rows, records
        and widgets of a thousand slaves are long-lived, and scanning them
        in every full collection took up to 70 ms at a time while frames
        poured in (50 times in 30 s, twice during the replay itself): a key
        pressed then waited for it.

        A monitor made with *settle_memory* (the command's) does this
        every :data:`SETTLE_EVERY` seconds; in between, and when it starts,
        it freezes without collecting (which costs nothing) what has
        survived each tick and each :data:`FREEZE_FRAMES` frames. Reference
        cycles among frozen objects that have since become garbage (rare:
        the monitor makes few cycles) are freed at the next settling.
        :meth:`run` unfreezes on its way out.
        """
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self._settled_at = time.monotonic()


def _crash_log_path():
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state")
    folder = os.path.join(base, "piw-monitor")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        folder = tempfile.gettempdir()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return os.path.join(folder, f"crash-{stamp}-{os.getpid()}.log")


def report_crash(exc):
    """
    Write the traceback of *exc* to a file and print one short line saying
    what happened and where the traceback went. Returns the exit status.
    """
    path = _crash_log_path()
    try:
        with open(path, "w", encoding="utf-8") as f:
            traceback.print_exception(exc, file=f)
    except OSError:
        path = None
    frame = traceback.extract_tb(exc.__traceback__)[-1:] or None
    where = f" in {os.path.basename(frame[0].filename)}:{frame[0].lineno}" \
        if frame else ""
    text = str(exc).splitlines()[0][:120] if str(exc) else ""
    line = f"piw-monitor: unexpected error: {type(exc).__name__}"
    line += f": {text}" if text else ""
    line += where
    line += f"; full traceback in {path}" if path else \
        "; the traceback could not be written"
    print(line, file=sys.stderr)
    return 1


def _say(text):
    """
    Print *text* on standard error. A terminal that has gone away (a
    hang-up) is not an error: what cannot be written is dropped, so that
    the interpreter's own flush at exit does not fail either (which would
    turn the exit status into 120).
    """
    try:
        print(text, file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            for stream in (sys.stdout, sys.stderr):
                try:
                    os.dup2(devnull, stream.fileno())
                except (OSError, ValueError):
                    pass
        finally:
            os.close(devnull)


#: The signals that end the console, each with exit status 128 + its number.
EXIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGINT)


class _SignalCatcher:
    """
    The handler of :data:`EXIT_SIGNALS` while the console runs: it raises
    :exc:`Signalled` to leave the loop at once, wherever the loop is, except
    once the loop has begun to stop (a second signal, or one that comes as
    the user quits), when it only records the signal, so that the terminal
    is restored whole.
    """

    def __init__(self, loop=None):
        #: the main loop (None without one: only the first signal raises)
        self.loop = loop
        #: the first signal received, or None
        self.signum = None

    def __call__(self, signum, _frame):
        first = self.signum is None
        if first:
            self.signum = signum
        if (not self.loop.stopping) if self.loop is not None else first:
            raise Signalled(signum)


def _stopped_by(signum):
    """Say which signal ended the console; return the exit status, 128 + N."""
    if signum == signal.SIGINT:
        _say("piw-monitor: interrupted")
    else:
        _say(f"piw-monitor: stopped by {signal.Signals(signum).name}")
    return 128 + signum


def run(args):
    """Run the monitor with parsed command-line *args*; return the exit status."""
    from .link import LinkError, MasterLink

    demo = demo_dir = tunnel = None
    # the console's signal handlers, and what they replaced
    console_signals = {}
    status_queue, control_queue = args.status_queue, args.control_queue
    read_only = getattr(args, "read_only", False)
    ssh = getattr(args, "ssh", None)
    link = None
    if not (args.json or args.check) and not (
            sys.stdin.isatty() and sys.stdout.isatty()):
        print("piw-monitor: error: the console needs a terminal on standard "
              "input and output (for scripts: --json or --check)",
              file=sys.stderr)
        return 2
    if not (args.json or args.check):
        from .ui import terminal
        why = terminal.unusable(fd=sys.stdout.fileno())
        if why is not None:
            print(f"piw-monitor: error: {why}; for a plain stream of the "
                  "farm's status, use --json", file=sys.stderr)
            return 2
        terminal.setup_charset()
    try:
        if args.demo:
            from .demo import DemoError, DemoMaster
            demo_dir = tempfile.mkdtemp(prefix="piw-monitor-demo-")
            status_queue = f"ipc://{demo_dir}/status"
            control_queue = f"ipc://{demo_dir}/control"
            demo = DemoMaster(status_queue, control_queue,
                              speed=getattr(args, "demo_speed", 1.0),
                              hungry=1)
            try:
                demo.start()  # returns once bound: no need to wait for ready
            except DemoError as exc:
                cli.report_error(exc, check=args.check)
                return 3 if args.check else 2
        if ssh is not None:
            from .tunnel import Tunnel, TunnelError
            try:
                # read-only: the control socket is not even forwarded
                tunnel = Tunnel(ssh, status_queue,
                                None if read_only else control_queue)
                tunnel.start()
            except (TunnelError, ValueError) as exc:
                cli.report_error(exc, check=args.check)
                return 3 if args.check else 2
            status_queue, control_queue = (
                tunnel.status_queue, tunnel.control_queue)
        link = MasterLink(
            status_queue, control_queue, read_only=read_only,
            max_frame=args.max_frame_size, tunnel=tunnel)
        try:
            link.open()
        except LinkError as exc:
            cli.report_error(exc, check=args.check)
            # a monitoring probe that cannot even start says UNKNOWN
            return 3 if args.check else 2
        if args.json or args.check:
            if tunnel is None:
                return _headless(args, link)
            # ssh must not outlive a monitor stopped by a signal: leave
            # through the clean-up below (the modes' own handlers of SIGINT
            # and SIGTERM, where they have them, take precedence)
            catcher = _SignalCatcher()
            signals = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
            old = {sig: signal.signal(sig, catcher) for sig in signals}
            try:
                return _headless(args, link)
            except Signalled:
                return _stopped_by(catcher.signum)
            finally:
                for sig, handler in old.items():
                    signal.signal(sig, handler)
        monitor = Monitor(link, read_only=read_only,
                          thresholds=cli.thresholds(args), settle_memory=True)
        catcher = _SignalCatcher(monitor.loop)
        # restored only once everything is cleaned up (below): until then
        # a further signal is only noted by the catcher
        console_signals.update(
            {sig: signal.signal(sig, catcher) for sig in EXIT_SIGNALS})
        try:
            monitor.run()
        except Signalled:
            pass   # the catcher has the first signal
        except urwid.InputClosedError:
            # the terminal went away (its input ended) before the SIGHUP
            # the kernel sends with that was handled, or under nohup, or
            # with no SIGHUP at all: a hang-up all the same
            if catcher.signum is None:
                _say("piw-monitor: the terminal went away (hang-up)")
                return 128 + signal.SIGHUP
        if catcher.signum is not None:
            return _stopped_by(catcher.signum)
        if monitor.exit_message:
            print(monitor.exit_message)
        return 0
    finally:
        # a second hang-up or TERM (closing a terminal may send both) must
        # not cut the clean-up short: the demo's and the tunnel's private
        # directories and the ssh process would be left behind
        held = {}
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
            try:
                held[sig] = signal.signal(sig, signal.SIG_IGN)
            except (OSError, ValueError):  # not the main thread
                pass
        try:
            if link is not None:
                link.close()
            if tunnel is not None:
                tunnel.close()
            if demo is not None:
                demo.stop()
        finally:
            if demo_dir is not None:
                shutil.rmtree(demo_dir, ignore_errors=True)
            for sig, handler in held.items():
                signal.signal(sig, handler)
            for sig, handler in console_signals.items():
                signal.signal(sig, handler)


def _headless(args, link):
    """Run one of the headless modes; return its exit status."""
    from . import headless

    timeout = args.timeout
    limits = cli.thresholds(args)
    if args.check:
        return headless.run_check(
            link, utcnow, timeout or cli.DEFAULT_TIMEOUT,
            warn_silent=args.warn_silent, crit_silent=args.crit_silent,
            warn_disk=args.warn_disk, crit_disk=args.crit_disk,
            warn_memory_pressure=args.warn_memory_pressure,
            crit_memory_pressure=args.crit_memory_pressure,
            warn_disk_pressure=args.warn_disk_pressure,
            crit_disk_pressure=args.crit_disk_pressure,
            thresholds=limits)
    if args.once:
        return headless.run_once(link, utcnow, timeout or cli.DEFAULT_TIMEOUT,
                                 thresholds=limits)
    return headless.run_stream(link, utcnow, timeout, thresholds=limits)


def main(argv=None):
    """The ``piw-monitor`` command. Returns the exit status."""
    args = cli.parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("piw-monitor: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the screen is already restored here
        status = report_crash(exc)
        if args.check:
            # a monitoring system reads 1 as WARNING: a probe that failed
            # is UNKNOWN
            cli.print_unknown(f"probe failed: unexpected error "
                              f"({type(exc).__name__})")
            return 3
        return status
