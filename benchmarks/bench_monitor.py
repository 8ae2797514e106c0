#!/usr/bin/env python3
"""
Benchmarks of piw-monitor: the real :class:`~piw_monitor.app.Monitor` (master
link, model, console, urwid raw screen) drawing into a pseudo-terminal,
against a fake master publishing on real 0MQ ipc sockets from another
process.

Run from the repository root::

    python benchmarks/bench_monitor.py            # everything, about 5 minutes
    python benchmarks/bench_monitor.py --quick    # idle shortened to 20 s
    python benchmarks/bench_monitor.py --only replay --sizes 1000
    python benchmarks/bench_monitor.py --only stream --profile /tmp/prof
    python benchmarks/bench_monitor.py --only startup --repeat 5

Cases (each consumer runs in a fresh process, so that its peak RSS is its
own; the publisher is always another process):

replay
    a master with N slaves answers HELLO with its replay (its HELLO, 100
    STATS, and for every slave its HELLO, 100 STATS and its last status);
    time from the publisher getting HELLO to the whole replay consumed and
    the screen drawn.
stream
    1000 slaves, then frames at the fastest rate the publisher manages for
    10 s, then a sentinel; frames consumed per second, frames lost, draws per
    second, and the time from a key written into the terminal to its effect
    arriving from the terminal, measured while the monitor is flooded.
idle
    100 slaves and a master that only sends STATS every 10 s; CPU seconds
    over 60 s.
startup
    the installed ``piw-monitor`` command, started on a pseudo-terminal
    against a master with 100 slaves that answers HELLO at once; time from
    just before the spawn to the terminal showing the header's count of all
    100 slaves ("Slaves 100:"), then ``q`` and exit status 0. A second,
    instrumented run (a fresh interpreter of this script's own, which
    imports what the monitor imports before anything of the benchmark's)
    splits that time into interpreter start, imports, link (arguments,
    MasterLink.open and the Monitor's construction up to its first draw),
    replay (HELLO answered to every frame consumed) and draw (to the screen
    drawn with all slaves counted). Each runs --repeat times (3 by
    default); the best is kept and the range printed. Informational: there
    is no target.
floor
    the same frames through a bare ``SUB.recv`` + ``cbor2.loads`` loop, in
    the same run, for the ratios.

Nothing here is a test: it prints a table, with PASS or FAIL against the
targets (see :func:`print_report`; they are described in
``docs/performance.rst``). Timestamps are ``time.monotonic()``,
which is one clock for every process on Linux.
"""

from __future__ import annotations

import argparse
import fcntl
import gc
import json
import os
import queue
import resource
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import farm_frames as ff  # noqa: E402  (after the path set-up)

CASES = ("replay", "stream", "idle", "startup")
STREAM_SLAVES = 1000
IDLE_SLAVES = 100
STARTUP_SLAVES = 100
#: what the header says once every slave of the start-up case is counted
STARTUP_NEEDLE = f"Slaves {STARTUP_SLAVES}:".encode()
ROWS, COLS = 40, 120
#: keys alternate between p (Pause) and r (Resume); the status line says:
KEYS = ((b"p", b"Paused: the master"), (b"r", b"Resumed: the master"))


def now_utc():
    import datetime as dt
    return dt.datetime.now(dt.timezone.utc)


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def peak_rss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# ====================================================================
# the fake master (its own process)
# ====================================================================

def role_publisher(args):
    import datetime as dt

    import zmq

    t0 = now_utc()
    if args.scenario == "stream":
        replay = ff.replay(args.slaves, t0, stats_each=1, master_history=1)
        cycle = ff.stream_cycle(args.slaves, t0)
    else:
        replay = ff.replay(args.slaves, t0)
    ff.check({f[:40]: f for f in replay}.values(), t0)  # one of each kind
    ctx = zmq.Context()
    # an XPUB is a PUB that also reports subscriptions: the replay starts
    # only once the consumer's subscription is live (no slow-joiner loss)
    pub = ctx.socket(zmq.XPUB)
    pub.setsockopt(zmq.SNDHWM, 0)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind(args.status)
    pull = ctx.socket(zmq.PULL)
    pull.setsockopt(zmq.LINGER, 0)
    pull.bind(args.control)
    emit({"event": "ready", "frames": len(replay)})

    poller = zmq.Poller()
    poller.register(pub, zmq.POLLIN)
    poller.register(pull, zmq.POLLIN)
    subscribed = hello = False
    deadline = time.monotonic() + 60
    while not (subscribed and hello):
        ready = dict(poller.poll(1000))
        if pub in ready and pub.recv()[:1] == b"\x01":
            subscribed = True
        if pull in ready and pull.recv() == ff.HELLO:
            hello = True
        if time.monotonic() > deadline:
            emit({"event": "error", "error": "no subscription and HELLO"})
            return 1
    if args.hold:
        # answer when the driver says so: once the monitor's first screen
        # is drawn
        emit({"event": "hello"})
        sys.stdin.readline()
    t_hello = time.monotonic()
    send = pub.send
    for frame in replay:
        send(frame)
    t_replayed = time.monotonic()
    result = {"event": "sent", "t_hello": t_hello, "t_replayed": t_replayed,
              "replay_frames": len(replay)}

    if args.scenario == "stream":
        emit({"event": "streaming", "t": t_replayed})
        pack = struct.Struct(">I").pack
        seq = 0
        t_end = t_replayed + args.seconds
        done = False
        while not done:
            for prefix, suffix in cycle:
                if suffix is None:
                    send(prefix)
                else:
                    send(prefix + pack(seq) + suffix)
                seq += 1
                if not seq & 1023 and time.monotonic() >= t_end:
                    done = True
                    break
        send(ff.master_stats(t0 + dt.timedelta(milliseconds=1), ff.SENTINEL))
        seq += 1
        result.update(t_stream_end=time.monotonic(), stream_frames=seq)
    emit(result)

    # the idle master keeps sending its STATS every 10 s; every master
    # answers nothing else until told to stop (stdin)
    period = 10.0
    next_stats = time.monotonic() + period
    while True:
        timeout = max(next_stats - time.monotonic(), 0) \
            if args.scenario == "idle" else None
        ready, _, _ = select.select([sys.stdin], [], [], timeout)
        if ready:
            break
        if args.scenario == "idle":
            send(ff.master_stats(now_utc()))
            next_stats += period
        while pull.poll(0):  # commands from the console's keys
            pull.recv()
    pub.close()
    pull.close()
    ctx.term()
    return 0


# ====================================================================
# the monitor (its own process), drawing into the pty it was given
# ====================================================================

class Probe:
    """
    Watches a running Monitor from the outside: wraps its drain and its
    loop's draw_screen (instance attributes, so the classes are untouched)
    to note when the frames are in and when they were drawn.
    """

    def __init__(self, monitor, target=None, sentinel=False):
        self.monitor = monitor
        self.target = target
        self.sentinel = sentinel
        self.t_first = None
        self.t_consumed = None
        self.t_drawn = None
        self.on_drawn = None
        #: (time, frames received) after each drain while flooded
        self.drains = []
        #: times the terminal was written to
        self.draw_times = []
        link = monitor.link
        farm = monitor.farm
        loop = monitor.loop
        drain = monitor.drain
        draw = loop.draw_screen

        #: the longest drain, refresh and draw, and the time in refreshes
        #: and draws altogether, in seconds
        self.longest = {"drain": 0.0, "refresh": 0.0, "draw": 0.0}
        self.spent = {"refresh": 0.0, "draw": 0.0}
        refresh = monitor._refresh

        def probed_refresh():
            before = time.perf_counter()
            refresh()
            took = time.perf_counter() - before
            self.longest["refresh"] = max(self.longest["refresh"], took)
            self.spent["refresh"] += took

        monitor._refresh = probed_refresh

        def probed_drain(*args):
            before = time.monotonic()
            drain(*args)
            self.longest["drain"] = max(self.longest["drain"],
                                        time.monotonic() - before)
            if self.t_first is None and link.frames_received:
                # the drain that found the first frame started here
                self.t_first = before
            if self.t_consumed is None:
                now = time.monotonic()
                self.drains.append((now, link.frames_received))
                if self.target is not None and \
                        link.frames_received >= self.target:
                    self.t_consumed = now
                elif self.sentinel and farm.master.stats is not None and \
                        farm.master.stats.packages_built == ff.SENTINEL:
                    self.t_consumed = now

        def probed_draw():
            before = loop.draws
            start = time.monotonic()
            draw()
            now = time.monotonic()
            self.longest["draw"] = max(self.longest["draw"], now - start)
            self.spent["draw"] += now - start
            if loop.draws != before:
                self.draw_times.append(now)
            if (self.t_drawn is None and self.t_consumed is not None
                    and not monitor._refresh_due):
                self.t_drawn = now
                if self.on_drawn is not None:
                    self.on_drawn()

        monitor.drain = probed_drain
        loop.draw_screen = probed_draw

        # generation -> [runs, longest pause (s), unreachable objects freed]
        self.gc_pauses = {0: [0, 0.0, 0], 1: [0, 0.0, 0], 2: [0, 0.0, 0]}
        self.gc_full = []   # each full collection's pause, ms
        started = {}

        def gc_watch(phase, info):
            if phase == "start":
                started[0] = time.perf_counter()
            elif 0 in started:
                pause = self.gc_pauses[info["generation"]]
                took = time.perf_counter() - started.pop(0)
                pause[0] += 1
                pause[1] = max(pause[1], took)
                pause[2] += info["collected"]
                if info["generation"] == 2:
                    self.gc_full.append(round(took * 1000, 1))

        gc.callbacks.append(gc_watch)

        # count the link's ups and downs (a lost connection loses frames)
        from piw_monitor import protocol
        self.link_events = {"up": 0, "down": 0}
        for kind, name in ((protocol.LinkUp, "up"), (protocol.LinkDown, "down")):
            # the farm keeps the link's events apart from the wire's
            table = farm._link_handlers
            handler = table[kind]

            def counted(event, now, handler=handler, name=name):
                self.link_events[name] += 1
                return handler(event, now)
            table[kind] = counted


def deep_size(root):
    """Bytes held by *root* and everything it references (not types)."""
    import types
    from collections import deque

    seen = set()
    stack = [root]
    total = 0
    skip = (type, types.ModuleType, types.FunctionType, types.MethodType,
            types.BuiltinFunctionType)
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, skip):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset, deque)):
            stack.extend(obj)
        if hasattr(obj, "__dict__"):
            stack.append(vars(obj))
        for cls in type(obj).__mro__:
            for name in getattr(cls, "__slots__", ()):
                if hasattr(obj, name) and name != "__weakref__":
                    stack.append(getattr(obj, name))
    return total


def role_monitor(args):
    import urwid

    from piw_monitor import model
    from piw_monitor.app import Monitor
    from piw_monitor.link import MasterLink

    if args.scenario == "stream":
        # the stream measures how fast frames are decoded and shown: the
        # memory bound (which reads a backlog without decoding it, to stay
        # within 512 MB) would let frames through undecoded
        from piw_monitor import link as link_module
        link_module.MAX_MEMORY = 2 ** 40
    tty_in = os.fdopen(args.pty_fd, "rb", buffering=0)
    tty_out = os.fdopen(os.dup(args.pty_fd), "w", encoding="utf-8")
    screen = urwid.display.raw.Screen(input=tty_in, output=tty_out)
    link = MasterLink(args.status, args.control)
    link.open()
    # as the piw-monitor command makes it
    monitor = Monitor(link, screen=screen, settle_memory=True)
    loop = monitor.loop
    probe = Probe(monitor, target=args.frames or None,
                  sentinel=args.scenario == "stream")
    result = {}

    def stop(*_args):
        raise urwid.ExitMainLoop()

    if args.scenario == "idle":
        def start_idle(*_args):
            result.update(idle_cpu0=cpu_seconds(), idle_t0=time.monotonic(),
                          idle_draws0=loop.draws)
            loop.set_alarm_in(args.seconds, end_idle)

        def end_idle(*_args):
            result.update(idle_cpu1=cpu_seconds(), idle_t1=time.monotonic(),
                          idle_draws1=loop.draws)
            raise urwid.ExitMainLoop()

        # let the replay settle for a second, then measure
        probe.on_drawn = lambda: loop.set_alarm_in(1.0, start_idle)
    elif args.scenario == "stream":
        # a second more, for the effect of a key pressed at the very end
        probe.on_drawn = lambda: loop.set_alarm_in(1.0, stop)
    else:
        probe.on_drawn = lambda: loop.set_alarm_in(0, stop)
    loop.set_alarm_in(args.deadline, stop)

    profiler = None
    if args.profile:
        from pyinstrument import Profiler
        profiler = Profiler(interval=0.0005)
        profiler.start()
    cpu0 = cpu_seconds()
    try:
        monitor.run()
    finally:
        cpu1 = cpu_seconds()
        if profiler is not None:
            profiler.stop()
        link.close()
    farm = monitor.farm
    result.update(
        t_first=probe.t_first, t_consumed=probe.t_consumed,
        t_drawn=probe.t_drawn,
        frames_received=link.frames_received, farm_frames=farm.frames,
        frames_dropped=link.frames_dropped,
        bad_frames=farm.bad_frames, bad_reason=farm.last_bad_reason,
        slaves=len(farm.slaves), draws=loop.draws,
        refreshes=monitor.refreshes, draw_times=probe.draw_times,
        link_ups=probe.link_events["up"], link_downs=probe.link_events["down"],
        drains=probe.drains[:: max(len(probe.drains) // 2000, 1)],
        gc_pauses=probe.gc_pauses, gc_full=probe.gc_full,
        longest=probe.longest, spent=probe.spent,
        cpu=cpu1 - cpu0, peak_rss_kb=peak_rss_kb(),
        max_history=max((len(s.history) for s in farm.slaves.values()),
                        default=0),
        history_limit=model.SLAVE_HISTORY, log_len=len(farm.log),
        log_limit=model.LOG_SIZE)
    if args.scenario == "replay":
        result["model_bytes"] = deep_size(farm)
    if profiler is not None:
        path = f"{args.profile}-{args.scenario}-{args.slaves}"
        with open(path + ".txt", "w", encoding="utf-8") as f:
            f.write(profiler.output_text(unicode=False, color=False,
                                         show_all=False))
        result["profile"] = path + ".txt"
    emit(result)
    return 0


# ====================================================================
# the start-up probe (its own, fresh interpreter)
# ====================================================================

#: The program of the start-up probe (``python -c``; argv: this folder, then
#: this script's options). It notes the time at its first line and once it
#: has imported what ``piw-monitor`` imports, before anything of the
#: benchmark's own (argparse, json, threading, farm_frames and cbor2, ...)
#: is imported, so that none of that is taken for the monitor's imports.
STARTUP_BOOT = """\
import time
t_first = time.monotonic()
import urwid, piw_monitor.app, piw_monitor.link, piw_monitor.model
t_imported = time.monotonic()
import sys
sys.path.insert(0, sys.argv[1])
import bench_monitor
bench_monitor.BOOT_TIMES = (t_first, t_imported)
sys.exit(bench_monitor.main(sys.argv[2:]))
"""

#: (first line, imports done), set by :data:`STARTUP_BOOT`
BOOT_TIMES = None


def role_startup(args):
    """
    What ``piw-monitor --status-queue ... --control-queue ...`` does up to
    its first screen with every slave, timed: the arguments (with the
    configuration files), the link opened, the Monitor built on the
    terminal it was given, then its loop until the replay is drawn.
    """
    if BOOT_TIMES is None:
        emit({"event": "error", "error": "not started by STARTUP_BOOT"})
        return 1
    t_first, t_imported = BOOT_TIMES
    # from here on, the benchmark's own imports are behind us
    t_start = time.monotonic()
    import urwid

    from piw_monitor import cli
    from piw_monitor.app import Monitor, _Screen
    from piw_monitor.link import MasterLink

    parsed = cli.parse_args(["--status-queue", args.status,
                             "--control-queue", args.control])
    link = MasterLink(parsed.status_queue, parsed.control_queue,
                      max_frame=parsed.max_frame_size)
    link.open()
    tty_in = os.fdopen(args.pty_fd, "rb", buffering=0)
    tty_out = os.fdopen(os.dup(args.pty_fd), "w", encoding="utf-8")
    # the command's own screen class (Ctrl-C unmapped), on the pty
    monitor = Monitor(link, screen=_Screen(input=tty_in, output=tty_out),
                      settle_memory=True)
    loop = monitor.loop
    probe = Probe(monitor, target=args.frames)

    def stop(*_args):
        raise urwid.ExitMainLoop()

    probe.on_drawn = lambda: loop.set_alarm_in(0, stop)
    loop.set_alarm_in(args.deadline, stop)
    try:
        monitor.run()
    finally:
        link.close()
    emit({"t_spawn": args.t_spawn, "t_first_line": t_first,
          "t_imported": t_imported, "t_start": t_start,
          "t_first_draw": probe.draw_times[0] if probe.draw_times else None,
          "t_first": probe.t_first, "t_consumed": probe.t_consumed,
          "t_drawn": probe.t_drawn, "frames_received": link.frames_received,
          "bad_frames": monitor.farm.bad_frames,
          "slaves": len(monitor.farm.slaves), "draws": loop.draws,
          "modules": len(sys.modules), "peak_rss_kb": peak_rss_kb()})
    return 0


# ====================================================================
# the floor: a bare receive + decode loop (its own process)
# ====================================================================

def role_floor(args):
    import cbor2
    import zmq

    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 1_000_000)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(args.status)
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 0)
    push.connect(args.control)
    push.send(ff.HELLO)
    recv = sub.recv
    loads = cbor2.loads
    cpu0 = cpu_seconds()
    n = 0
    if args.scenario == "stream":
        while True:
            msg = loads(recv())
            n += 1
            if msg[0] == "STATS" and msg[1][1] == ff.SENTINEL:
                break
    else:
        for _ in range(args.frames):
            loads(recv())
            n += 1
    t_consumed = time.monotonic()
    cpu = cpu_seconds() - cpu0
    sub.close()
    push.close()
    ctx.term()
    emit({"t_consumed": t_consumed, "frames_received": n, "cpu": cpu,
          "peak_rss_kb": peak_rss_kb()})
    return 0


# ====================================================================
# the driver: the terminal, the processes, the keys and the table
# ====================================================================

class Terminal:
    """A pseudo-terminal whose output is read (and searched) by a thread."""

    def __init__(self, rows=ROWS, cols=COLS):
        self.master, self.slave = os.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ,
                    struct.pack("HHHH", rows, cols, 0, 0))
        self.bytes = 0
        #: the last few KB that came out (for a failure's report)
        self.tail = b""
        self._lock = threading.Lock()
        self._needle = None
        self._seen = bytearray()
        self._found = threading.Event()
        self.found_at = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        while True:
            try:
                data = os.read(self.master, 1 << 16)
            except OSError:
                return
            if not data:
                return
            t = time.monotonic()
            self.bytes += len(data)
            self.tail = (self.tail + data)[-4096:]
            with self._lock:
                if self._needle is not None:
                    self._seen += data
                    if self._needle in self._seen:
                        self.found_at = t
                        self._needle = None
                        self._found.set()
                    else:
                        del self._seen[:-len(self._needle)]

    def expect(self, needle):
        """Search what comes out from now on for *needle*."""
        with self._lock:
            self._needle = needle
            self._seen = bytearray()
            self._found.clear()
            self.found_at = None

    def wait(self, timeout):
        """Whether the expected needle came out within *timeout* seconds."""
        if self._found.wait(timeout):
            return True
        with self._lock:
            self._needle = None
        return False

    def press(self, key, needle, timeout):
        """Write *key*; return seconds until *needle* came out, or None."""
        self.expect(needle)
        t = time.monotonic()
        os.write(self.master, key)
        if not self.wait(timeout):
            return t, None
        return t, self.found_at - t

    def close_slave(self):
        os.close(self.slave)

    def close(self):
        try:
            os.close(self.master)
        except OSError:
            pass


class CaseFailed(Exception):
    """A process of a case died or went quiet: (what, its stderr)."""


class Child:
    """A role of this script in a subprocess, talking JSON lines."""

    def __init__(self, role, argv, pass_fds=(), stdin=False, stderr=None,
                 prefix=(), cmd=None, env=None, cwd=None):
        self.role = role
        if cmd is None:
            cmd = [*prefix, sys.executable, os.path.abspath(__file__), "--role",
                   role, *argv]
        if env is None:
            env = dict(os.environ, TERM="xterm-256color",
                       PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.stderr = stderr or tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=self.stderr, pass_fds=pass_fds,
            env=env, cwd=cwd, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith("{"):  # a profiler may talk too
                self.lines.put(json.loads(line))
        self.lines.put(None)

    def next(self, timeout):
        try:
            msg = self.lines.get(timeout=timeout)
        except queue.Empty:
            msg = None
        if msg is None or msg.get("event") == "error":
            self.fail(f"no answer ({msg})")
        return msg

    def fail(self, why):
        self.kill()
        self.stderr.seek(0)
        err = self.stderr.read().decode(errors="replace")[-3000:]
        code = self.proc.returncode
        raise CaseFailed(f"{self.role} {why}, exit status {code}", err)

    def stop(self, timeout=30):
        if self.proc.stdin:
            try:
                self.proc.stdin.write("stop\n")
                self.proc.stdin.flush()
            except OSError:
                pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def run_case(scenario, consumer, slaves, opts):
    """Run one case; return the consumer's and the publisher's reports."""
    tmp = tempfile.mkdtemp(prefix="piw-bench-")
    status, control = f"ipc://{tmp}/status", f"ipc://{tmp}/control"
    common = ["--scenario", scenario, "--slaves", str(slaves),
              "--status", status, "--control", control]
    seconds = opts.stream_seconds if scenario == "stream" else opts.idle_seconds
    # the master answers a monitor's HELLO once the monitor has drawn its
    # first screen: that draw is the program starting, not the replay
    hold = scenario == "replay" and consumer == "monitor"
    pub = Child("publisher", [*common, "--seconds", str(seconds),
                              *(["--hold"] if hold else [])], stdin=True)
    term = None
    consumer_proc = None
    try:
        ready = pub.next(timeout=180)
        frames = ready["frames"] if scenario != "stream" else 0
        argv = [*common, "--frames", str(frames), "--seconds", str(seconds),
                "--deadline", str(opts.deadline + seconds)]
        if consumer == "monitor":
            term = Terminal()
            prefix = ()
            spy = None
            if opts.profile and scenario in opts.profile_cases:
                if opts.profiler == "py-spy":
                    spy = f"{opts.profile}-{scenario}-{slaves}.collapsed"
                    prefix = (os.path.join(os.path.dirname(sys.executable), "py-spy"),
                              "record", "--format", "raw", "--rate", "1000",
                              "--function", "--nonblocking", "--output", spy, "--")
                else:
                    argv += ["--profile", opts.profile]
            if hold:
                term.expect(b"master at")  # on its first screen
            consumer_proc = Child("monitor", [*argv, "--pty-fd", str(term.slave)],
                                  pass_fds=(term.slave,), prefix=prefix)
            term.close_slave()
            if hold:
                # its HELLO came, and its screen says where it is connected
                msg = pub.next(timeout=120)
                while msg.get("event") != "hello":
                    msg = pub.next(timeout=120)
                if not term.wait(60):
                    consumer_proc.fail("drew no screen")
                pub.proc.stdin.write("go\n")
                pub.proc.stdin.flush()
        else:
            consumer_proc = Child("floor", argv)
        keys = []
        if scenario == "stream" and consumer == "monitor":
            keys = press_keys_while_flooded(pub, consumer_proc, term)
        report = consumer_proc.next(timeout=opts.deadline + seconds + 60)
        consumer_proc.proc.wait(30)
        pub_report = None
        while pub_report is None or pub_report.get("event") != "sent":
            pub_report = pub.next(timeout=30)
        report["publisher"] = pub_report
        report["keys"] = keys
        report["pty_bytes"] = term.bytes if term else 0
        if consumer == "monitor" and spy:
            consumer_proc.proc.wait(30)
            summary = spy[:-len(".collapsed")] + ".txt"
            with open(summary, "w", encoding="utf-8") as f:
                f.write(summarize_collapsed(spy))
            report["profile"] = summary
        return report
    finally:
        if consumer_proc is not None:
            consumer_proc.kill()
        pub.stop()
        if term is not None:
            term.close()
        shutil.rmtree(tmp, ignore_errors=True)


def run_startup(opts, probed):
    """
    Start a monitor against a fresh 100-slave master that answers HELLO at
    once, on a pseudo-terminal; return when (and what) its screen showed.

    Not *probed*: the installed ``piw-monitor`` command of this interpreter's
    environment, quit with ``q`` once every slave is counted on its screen.
    *probed*: :data:`STARTUP_BOOT` in a fresh interpreter, which reports its
    milestones and stops by itself.
    """
    tmp = tempfile.mkdtemp(prefix="piw-bench-")
    status, control = f"ipc://{tmp}/status", f"ipc://{tmp}/control"
    pub = Child("publisher", ["--scenario", "replay", "--slaves",
                              str(STARTUP_SLAVES), "--status", status,
                              "--control", control], stdin=True)
    term = child = proc = None
    try:
        ready = pub.next(timeout=180)
        # the environment of the command as a user would run it: no
        # PYTHONPATH added, a terminal type, and not this folder as cwd
        env = dict(os.environ, TERM="xterm-256color")
        term = Terminal()
        term.expect(STARTUP_NEEDLE)
        if probed:
            argv = ["--role", "startup", "--status", status, "--control",
                    control, "--frames", str(ready["frames"]),
                    "--pty-fd", str(term.slave), "--deadline",
                    str(opts.deadline)]
            cmd = [sys.executable, "-c", STARTUP_BOOT, HERE, *argv, "--t-spawn"]
            stderr = tempfile.TemporaryFile()  # made before the clock starts
            t_spawn = time.monotonic()
            child = Child("startup probe", (), cmd=[*cmd, repr(t_spawn)],
                          env=env, cwd=tmp, pass_fds=(term.slave,),
                          stderr=stderr)
        else:
            cmd = [os.path.join(os.path.dirname(sys.executable), "piw-monitor"),
                   "--status-queue", status, "--control-queue", control]
            t_spawn = time.monotonic()
            proc = subprocess.Popen(cmd, stdin=term.slave, stdout=term.slave,
                                    stderr=term.slave, env=env, cwd=tmp,
                                    start_new_session=True)
        term.close_slave()
        shown = term.wait(60)
        result = {"t_spawn": t_spawn, "t_shown": term.found_at,
                  "frames": ready["frames"]}
        if probed:
            result.update(child.next(timeout=opts.deadline + 60))
            child.proc.wait(30)
            result["exit_status"] = child.proc.returncode
        else:
            if shown:
                os.write(term.master, b"q")
            try:
                result["exit_status"] = proc.wait(15)
            except subprocess.TimeoutExpired:
                result["exit_status"] = None
        if not shown:
            tail = term.tail.decode(errors="replace")
            raise CaseFailed(
                f"{'startup probe' if probed else 'piw-monitor'} never showed "
                f"{STARTUP_NEEDLE.decode()!r} within 60 s, exit status "
                f"{result['exit_status']}", tail)
        msg = pub.next(timeout=30)
        while msg.get("event") != "sent":
            msg = pub.next(timeout=30)
        result["publisher"] = msg
        return result
    finally:
        if child is not None:
            child.kill()
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        pub.stop()
        if term is not None:
            term.close()
        shutil.rmtree(tmp, ignore_errors=True)


def press_keys_while_flooded(pub, monitor, term):
    """
    Once the stream has started, press p and r in turn (every 0.25 s after
    the previous one showed) until the monitor has consumed the whole stream;
    return (time written, latency or None) pairs.
    """
    msg = pub.next(timeout=120)
    while msg.get("event") != "streaming":
        msg = pub.next(timeout=120)
    presses = []
    time.sleep(0.5)
    i = 0
    while monitor.proc.poll() is None and monitor.lines.empty():
        key, needle = KEYS[i % 2]
        presses.append(term.press(key, needle, timeout=5.0))
        i += 1
        time.sleep(0.25)
    return presses


# -------------------------------------------------------------- analysis

def summarize_collapsed(path, top=25):
    """
    The top entries of a py-spy "raw" (collapsed stacks) profile: by total
    time (the function is anywhere on the stack) and by own time (it is the
    innermost Python frame), as percentages of the samples.
    """
    own = {}
    total = {}
    samples = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            count = int(count)
            frames = [fr.strip() for fr in stack.split(";")]
            # only the main loop's work: not start-up, imports nor reporting
            for i, fr in enumerate(frames):
                if fr.startswith("Monitor.run "):
                    frames = frames[i:]
                    break
            else:
                continue
            samples += count
            if frames:
                own[frames[-1]] = own.get(frames[-1], 0) + count
            for fr in set(frames):
                total[fr] = total.get(fr, 0) + count
    out = [f"{samples} samples (1 ms each) of the monitor's main loop "
           "(Monitor.run), idle time excluded", "",
           f"{'total':>7} {'own':>7}  function (file:line)"]
    for name, n in sorted(total.items(), key=lambda kv: -kv[1])[:top]:
        out.append(f"{100 * n / samples:6.1f}% {100 * own.get(name, 0) / samples:6.1f}%"
                   f"  {name}")
    out += ["", f"{'own':>7}  function (file:line)"]
    for name, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        out.append(f"{100 * n / samples:6.1f}%  {name}")
    return "\n".join(out) + "\n"


def fmt_s(x):
    return "-" if x is None else f"{x:.3f}"


def _since_hello(report, key):
    t = report[key]
    return None if t is None else t - report["publisher"]["t_hello"]


def _best(values):
    values = [v for v in values if v is not None]
    return min(values) if values else None


def replay_row(n, mons, floors):
    """
    One line of the replay table from *mons* and *floors*, the reports of
    the repeated runs: each time is the best of its runs (the machine is
    shared: what is slower than the best run is someone else's work).
    """
    mon = min(mons, key=lambda r: _since_hello(r, "t_drawn") or 1e18)
    floor_t = _best(_since_hello(r, "t_consumed") for r in floors)
    frames = mon["publisher"]["replay_frames"]
    consumed = _best(_since_hello(r, "t_consumed") for r in mons)
    drawn = _best(_since_hello(r, "t_drawn") for r in mons)
    steady = _best(r["t_consumed"] - r["t_first"] for r in mons
                   if r["t_consumed"] and r["t_first"])
    return {
        "slaves": n, "frames": frames, "runs": len(mons),
        "consumed_s": consumed, "drawn_s": drawn, "floor_s": floor_t,
        "ratio": drawn / floor_t if drawn else None,
        "us_per_frame": consumed / frames * 1e6 if consumed else None,
        # without the fixed part: from the drain that met the first frame
        "first_s": _best(_since_hello(r, "t_first") for r in mons),
        "us_per_frame_steady": steady / frames * 1e6 if steady else None,
        "us_per_frame_drawn": drawn / frames * 1e6 if drawn else None,
        "floor_us_per_frame": floor_t / frames * 1e6,
        "received": min(r["frames_received"] for r in mons),
        "bad": max(r["bad_frames"] for r in mons),
        "draws": mon["draws"],
        "peak_rss_mb": max(r["peak_rss_kb"] for r in mons) / 1024,
        "floor_rss_mb": max(r["peak_rss_kb"] for r in floors) / 1024,
        "model_mb": mon.get("model_bytes", 0) / 2 ** 20,
        "max_history": max(r["max_history"] for r in mons),
        "history_limit": mon["history_limit"],
        "log_len": max(r["log_len"] for r in mons), "log_limit": mon["log_limit"],
        "slaves_seen": min(r["slaves"] for r in mons),
    }


def stream_row(mon, floor):
    pub = mon["publisher"]
    t0 = pub["t_replayed"]
    sent = pub["stream_frames"]
    replayed = pub["replay_frames"]
    # frames read without decoding (the memory bound) count as lost
    got = mon["frames_received"] - replayed - mon.get("frames_dropped", 0)
    # the sentinel may be lost with a dropped connection: then the end is
    # the last time a drain found frames
    end = mon["t_consumed"]
    if end is None:
        end, last = t0, None
        for t, c in mon["drains"]:
            if c != last:
                end, last = t, c
    elapsed = end - t0
    window = (t0, pub["t_stream_end"])
    draws = [t for t in mon["draw_times"] if window[0] <= t <= end]
    fpub = floor["publisher"]
    f_sent = fpub["stream_frames"]
    f_got = floor["frames_received"] - fpub["replay_frames"]
    f_elapsed = floor["t_consumed"] - fpub["t_replayed"]
    # only the presses made while the monitor still had frames to read
    flooded = [(t, lt) for t, lt in mon["keys"] if t < end]
    lat = sorted(lt for _, lt in flooded if lt is not None)
    missed = sum(1 for _, lt in flooded if lt is None)
    # frames consumed inside the publisher's 10 s window
    in_window = [c for t, c in mon["drains"] if t <= window[1]]
    return {
        "pub_fps": sent / (window[1] - window[0]),
        "sent": sent, "received": got, "dropped": sent - got,
        "fps": got / elapsed if elapsed else None,
        "fps_window": ((in_window[-1] - replayed) / (window[1] - window[0])
                       if in_window else None),
        # once the publisher has stopped: the monitor alone with its backlog
        "fps_after": ((mon["frames_received"] - in_window[-1])
                      / (end - max(t for t, c in mon["drains"]
                                   if t <= window[1]))
                      if in_window and end > window[1] else None),
        "elapsed": elapsed, "floor_fps": f_got / f_elapsed,
        "floor_dropped": f_sent - f_got, "floor_sent": f_sent, "floor_elapsed": f_elapsed,
        "draws_per_s": len(draws) / elapsed if elapsed else None,
        "sentinel": mon["t_consumed"] is not None,
        "refreshes": mon["refreshes"],
        "keys": len(flooded), "keys_missed": missed,
        "key_median_ms": statistics.median(lat) * 1000 if lat else None,
        "key_p95_ms": lat[int(0.95 * (len(lat) - 1))] * 1000 if lat else None,
        "key_max_ms": lat[-1] * 1000 if lat else None,
        # when the worst press was made (seconds after the stream began),
        # and the worst of those made after the publisher had stopped (the
        # monitor alone on the machine, reading its backlog)
        "key_worst_at": max(((lt, t - t0) for t, lt in flooded
                             if lt is not None), default=(None, None))[1],
        "key_max_after_ms": max((lt * 1000 for t, lt in flooded
                                 if lt is not None and t > window[1]),
                                default=None),
        "peak_rss_mb": mon["peak_rss_kb"] / 1024,
        "gc_pauses": mon.get("gc_pauses"),
        "gc_full": mon.get("gc_full"),
        "longest": mon.get("longest"),
        "spent": mon.get("spent"),
        "bad": mon["bad_frames"], "link_downs": mon["link_downs"],
        "link_ups": mon["link_ups"],
    }


def idle_row(mon, seconds):
    cpu = mon["idle_cpu1"] - mon["idle_cpu0"]
    span = mon["idle_t1"] - mon["idle_t0"]
    return {"seconds": span, "cpu": cpu, "percent": 100 * cpu / span,
            "draws": mon["idle_draws1"] - mon["idle_draws0"]}


#: the phases of a start-up, in order: (key, name, what it spans)
STARTUP_PHASES = (
    ("interpreter_s", "interpreter start", "spawn to the first line"),
    ("imports_s", "imports", "urwid, piw_monitor.app, .link, .model"),
    ("link_s", "link", "arguments, MasterLink.open, Monitor(...) to its "
                       "first draw"),
    ("replay_s", "replay", "HELLO answered to every frame consumed"),
    ("draw_s", "draw", "last frame consumed to all slaves drawn"),
)


def startup_phases(probe):
    """The phases of one instrumented start-up, in seconds."""
    t_hello = probe["publisher"]["t_hello"]
    # the benchmark's own imports, between the monitor's and its start
    bench = probe["t_start"] - probe["t_imported"]
    return {
        "interpreter_s": probe["t_first_line"] - probe["t_spawn"],
        "imports_s": probe["t_imported"] - probe["t_first_line"],
        "link_s": probe["t_first_draw"] - probe["t_start"],
        "replay_s": probe["t_consumed"] - t_hello,
        "draw_s": probe["t_drawn"] - probe["t_consumed"],
        # > 0: the HELLO was answered before the first draw, so the link
        # and the replay overlap by that much; < 0: a wait between them
        "hello_before_draw_s": probe["t_first_draw"] - t_hello,
        "bench_imports_s": bench,
        # end to end, without the benchmark's own imports
        "total_s": probe["t_drawn"] - probe["t_spawn"] - bench,
        "shown_s": probe["t_shown"] - probe["t_spawn"],
        "modules": probe["modules"],
        "complete": (probe["frames_received"] == probe["frames"]
                     and probe["bad_frames"] == 0
                     and probe["slaves"] == STARTUP_SLAVES),
    }


def startup_row(commands, probes):
    """
    The start-up results from the runs of the command and of the probe: the
    best of each (the machine is shared), with the range over the runs.
    """
    totals = [r["t_shown"] - r["t_spawn"] for r in commands]
    best_cmd = commands[totals.index(min(totals))]
    phases = [startup_phases(p) for p in probes]
    best = min(phases, key=lambda ph: ph["total_s"])
    keys = [k for k, _, _ in STARTUP_PHASES] + ["total_s"]
    return {
        "slaves": STARTUP_SLAVES, "frames": best_cmd["frames"],
        "runs": len(commands), "total_s": min(totals),
        "total_range": [min(totals), max(totals)],
        "hello_s": best_cmd["publisher"]["t_hello"] - best_cmd["t_spawn"],
        "exit_statuses": [r["exit_status"] for r in commands],
        "probe": best,
        "probe_ranges": {k: [min(ph[k] for ph in phases),
                             max(ph[k] for ph in phases)] for k in keys},
        "probe_complete": all(ph["complete"] for ph in phases),
    }


def fmt_range(lo_hi):
    lo, hi = lo_hi
    return f"[{lo:.3f}-{hi:.3f}]"


def failed(exc):
    what, err = exc.args
    lines = [ln for ln in err.splitlines() if ln.strip()]
    print(f"  FAILED: {what}\n    " + "\n    ".join(lines[-5:]), flush=True)
    return {"error": f"{what}: {lines[-1] if lines else 'no message'}"}


def verdict(ok):
    return "PASS" if ok else "FAIL"


def print_report(results, opts):
    out = []
    w = out.append
    replay = results.get("replay", [])
    if replay:
        w("Replay burst (HELLO -> whole replay consumed -> screen drawn; each time "
          f"the best of {opts.repeat} runs, of {3 * opts.repeat} up to 100 slaves)")
        w(f"{'slaves':>6} {'frames':>8} {'1st':>6} {'consumed':>9} {'drawn':>8} "
          f"{'floor':>7} {'ratio':>6} {'us/frame':>8} {'steady':>6} {'floor':>5} "
          f"{'draws':>5} {'peak RSS':>9} {'floor RSS':>9} {'model':>8}")
        for r in replay:
            w(f"{r['slaves']:>6} {r['frames']:>8} {fmt_s(r['first_s']):>5}s "
              f"{fmt_s(r['consumed_s']):>8}s "
              f"{fmt_s(r['drawn_s']):>7}s {r['floor_s']:>6.3f}s "
              f"{r['ratio'] or 0:>5.2f}x {r['us_per_frame'] or 0:>8.1f} "
              f"{r['us_per_frame_steady'] or 0:>6.1f} "
              f"{r['floor_us_per_frame']:>5.1f} {r['draws']:>5} "
              f"{r['peak_rss_mb']:>7.1f}MB {r['floor_rss_mb']:>7.1f}MB "
              f"{r['model_mb']:>6.2f}MB")
        w("")
    stream = results.get("stream")
    if stream and "error" in stream:
        w(f"Sustained stream: the monitor died: {stream['error']}")
        w("")
    elif stream:
        s = stream
        w(f"Sustained stream ({STREAM_SLAVES} slaves, {opts.stream_seconds:g} s "
          "at the publisher's fastest rate)")
        w(f"  publisher sent      {s['sent']:>10} frames ({s['pub_fps']:,.0f}/s)")
        w(f"  monitor consumed    {s['received']:>10} frames, {s['dropped']} lost, "
          f"{s['fps'] or 0:,.0f}/s ("
          + ("all" if s["sentinel"] else "the end never came; last frames")
          + f" drained after {fmt_s(s['elapsed'])} s; "
          f"{s['fps_window'] or 0:,.0f}/s inside the window"
          + (f", {s['fps_after']:,.0f}/s after it" if s.get("fps_after")
             else "") + ")")
        w(f"  link                {s['link_ups']:>10} up, {s['link_downs']} down "
          "(a lost connection loses what was in flight)")
        w(f"  floor               {s['floor_sent']:>10} frames sent, "
          f"{s['floor_fps']:,.0f}/s consumed, {s['floor_dropped']} lost")
        w(f"  draws per second    {s['draws_per_s'] or 0:>10.1f}"
          f"   (refreshes {s['refreshes']})")
        w(f"  key -> screen       {s['keys']} presses while flooded, "
          f"{s['keys_missed']} not shown within 5 s; median "
          f"{fmt_s((s['key_median_ms'] or 0) / 1000)} s, "
          f"p95 {fmt_s((s['key_p95_ms'] or 0) / 1000)} s, "
          f"max {fmt_s((s['key_max_ms'] or 0) / 1000)} s")
        if s.get("key_worst_at") is not None:
            after = s.get("key_max_after_ms")
            w(f"                      worst press {s['key_worst_at']:.1f} s "
              "into the stream; worst once the publisher had stopped: "
              + ("-" if after is None else f"{after / 1000:.3f} s"))
        if s.get("gc_pauses"):
            w("  garbage collector   " + ", ".join(
                f"generation {gen}: {count} runs, longest "
                f"{longest * 1000:.1f} ms, {freed} freed"
                for gen, (count, longest, freed) in sorted(
                    s["gc_pauses"].items())))
        if s.get("longest"):
            w("  longest             " + ", ".join(
                f"{name} {took * 1000:.1f} ms"
                for name, took in s["longest"].items()))
        if s.get("spent") and s.get("elapsed"):
            w("  screen              " + ", ".join(
                f"{name} {took:.2f} s ({100 * took / s['elapsed']:.1f} %)"
                for name, took in s["spent"].items())
              + " of the time the stream took to read (the probe's until "
              "the end of the run)")
        w(f"  peak RSS            {s['peak_rss_mb']:>10.1f} MB")
        w("")
    idle = results.get("idle")
    if idle and "error" in idle:
        w(f"Idle: the monitor died: {idle['error']}")
        w("")
    elif idle:
        w(f"Idle ({IDLE_SLAVES} slaves, master STATS every 10 s): "
          f"{idle['cpu']:.3f} CPU s in {idle['seconds']:.1f} s = "
          f"{idle['percent']:.3f}% of one core, {idle['draws']} draws")
        w("")
    startup = results.get("startup")
    if startup and "error" in startup:
        w(f"Start-up: failed: {startup['error']}")
        w("")
    elif startup:
        st = startup
        ph = st["probe"]
        ranges = st["probe_ranges"]
        statuses = st["exit_statuses"]
        w(f"Start-up (piw-monitor started -> its screen counts all "
          f"{st['slaves']} slaves, {st['frames']} frames replayed; best of "
          f"{st['runs']} runs, [range])")
        w(f"  {'piw-monitor command':<20} {st['total_s']:.3f} s "
          f"{fmt_range(st['total_range'])}  {STARTUP_NEEDLE.decode()!r} on "
          f"screen (HELLO answered at {st['hello_s']:.3f} s); exit status "
          + ("0 after q" if set(statuses) == {0} else
             "after q: " + ", ".join(str(x) for x in statuses)))
        w(f"  {'instrumented run':<20} {ph['total_s']:.3f} s "
          f"{fmt_range(ranges['total_s'])}  end to end, the benchmark's own "
          f"imports ({ph['bench_imports_s']:.3f} s) left out")
        for key, name, what in STARTUP_PHASES:
            w(f"    {name:<18} {ph[key]:.3f} s {fmt_range(ranges[key])}  {what}")
        overlap = ph["hello_before_draw_s"]
        w(f"  (the HELLO was answered {abs(overlap):.3f} s "
          + ("before the first draw: link and replay overlap by that much"
             if overlap >= 0 else "after the first draw: a wait between "
             "link and replay")
          + f"; {ph['modules']} modules loaded)")
        w("")

    w("Targets")
    rows = []
    if stream and "error" in stream:
        for name in ("sustained >= 30% of the floor's frames/s",
                     "no frame lost in the stream",
                     "key -> screen < 50 ms while flooded (worst press)"):
            rows.append((name, "the monitor died", False))
    elif stream:
        ratio = (stream["fps"] or 0) / stream["floor_fps"]
        rows.append(("sustained >= 30% of the floor's frames/s",
                     f"{stream['fps'] or 0:,.0f} / {stream['floor_fps']:,.0f} "
                     f"= {100 * ratio:.0f}%", ratio >= 0.3))
        rows.append(("no frame lost in the stream", f"{stream['dropped']} lost",
                     stream["dropped"] == 0))
        worst = stream["key_max_ms"]
        ok = worst is not None and worst < 50 and stream["keys_missed"] == 0
        rows.append(("key -> screen < 50 ms while flooded (worst press)",
                     f"{worst or 0:.0f} ms over {stream['keys']} presses, "
                     f"{stream['keys_missed']} missed", ok))
    by_n = {r["slaves"]: r for r in replay}
    if 1000 in by_n:
        r = by_n[1000]
        rows.append(("replay 1000 slaves <= 3x floor",
                     f"{r['ratio'] or 0:.2f}x", (r["ratio"] or 99) <= 3))
        rows.append(("replay 1000 slaves < 1.5 s", f"{fmt_s(r['drawn_s'])} s",
                     r["drawn_s"] is not None and r["drawn_s"] < 1.5))
    if 5000 in by_n:
        r = by_n[5000]
        rows.append(("replay 5000 slaves < 8 s", f"{fmt_s(r['drawn_s'])} s",
                     r["drawn_s"] is not None and r["drawn_s"] < 8))
    if len(replay) >= 2:
        per = [r["us_per_frame"] for r in replay if r["us_per_frame"]]
        spread = max(per) / min(per) if per else 99
        rows.append(("time per frame flat in N (max/min <= 1.5)",
                     " / ".join(f"{x:.1f}" for x in per) + f" us = {spread:.2f}",
                     spread <= 1.5 and len(per) == len(replay)))
        steady = [r["us_per_frame_steady"] for r in replay
                  if r["us_per_frame_steady"]]
        if steady:
            rows.append(("  (the same from the first frame on)",
                         " / ".join(f"{x:.1f}" for x in steady)
                         + f" us = {max(steady) / min(steady):.2f}", None))
        ok_all = all(r["received"] == r["frames"] and r["bad"] == 0
                     and r["slaves_seen"] == r["slaves"] for r in replay)
        rows.append(("every replay frame received and valid",
                     f"{sum(r['received'] for r in replay)} frames", ok_all))
    big = [r for r in replay if r["slaves"] >= 100]
    if len(big) >= 2:
        lo, hi = big[0], big[-1]
        model_per = [(r["model_mb"] * 2 ** 20) / r["slaves"] for r in big]
        model_spread = max(model_per) / min(model_per)
        rss_slope = ((hi["peak_rss_mb"] - lo["peak_rss_mb"]) * 2 ** 20
                     / (hi["slaves"] - lo["slaves"]))
        bounded = all(r["max_history"] <= r["history_limit"]
                      and r["log_len"] <= r["log_limit"] for r in replay)
        rows.append(("memory linear in slaves, bounded history",
                     f"model {min(model_per) / 1024:.1f}-"
                     f"{max(model_per) / 1024:.1f} KB/slave; peak RSS "
                     f"{rss_slope / 1024:.0f} KB/slave; history <= "
                     f"{max(r['max_history'] for r in replay)}",
                     model_spread <= 1.2 and bounded))
    if idle and "error" in idle:
        rows.append(("idle CPU <= 0.5% of a core", "the monitor died", False))
    elif idle:
        rows.append((f"idle CPU <= 0.5% of a core over {idle['seconds']:.0f} s "
                     f"({IDLE_SLAVES} slaves, master STATS)",
                     f"{idle['percent']:.3f}%", idle["percent"] <= 0.5))
    if startup and "error" in startup:
        rows.append(("start-up: all slaves shown, q exits 0", "failed", False))
    elif startup:
        rows.append((f"start-up to all {startup['slaves']} slaves on screen "
                     "(no target)",
                     f"{startup['total_s']:.3f} s "
                     f"{fmt_range(startup['total_range'])}", None))
        ok = set(startup["exit_statuses"]) == {0} and startup["probe_complete"]
        rows.append(("start-up: all slaves shown, q exits 0",
                     f"{startup['runs']} + {startup['runs']} runs, exit "
                     "statuses " + ", ".join(str(x) for x in
                                             startup["exit_statuses"]), ok))
    width = max(len(r[0]) for r in rows) if rows else 10
    for name, value, ok in rows:
        w(f"  {'    ' if ok is None else verdict(ok)}  {name:<{width}}  {value}")
    text = "\n".join(out)
    print(text)
    return text


def drive(opts):
    results = {}
    raw = {}
    cases = opts.only.split(",")
    print(f"piw-monitor benchmarks; load average {os.getloadavg()[0]:.2f}, "
          f"{os.cpu_count()} CPUs", flush=True)
    if "replay" in cases:
        results["replay"] = []
        # best of --repeat runs each (three times that for the short ones,
        # where a hiccup of a few milliseconds is the whole cost); the sizes
        # take turns, so that a slow spell of the machine (which lasts
        # seconds to minutes) does not fall on one size only
        runs = {n: opts.repeat * (3 if n <= 100 else 1) for n in opts.sizes}
        floors = {n: [] for n in opts.sizes}
        mons = {n: [] for n in opts.sizes}
        for turn in range(max(runs.values(), default=0)):
            for n in opts.sizes:
                if turn < runs[n]:
                    floors[n].append(run_case("replay", "floor", n, opts))
                    mons[n].append(run_case("replay", "monitor", n, opts))
        for n in opts.sizes:
            raw[f"replay-{n}"] = {"monitor": mons[n], "floor": floors[n]}
            row = replay_row(n, mons[n], floors[n])
            results["replay"].append(row)
            print(f"  replay {n}: drawn in {fmt_s(row['drawn_s'])} s, floor "
                  f"{row['floor_s']:.3f} s", flush=True)
    if "stream" in cases:
        floor = run_case("stream", "floor", STREAM_SLAVES, opts)
        try:
            mon = run_case("stream", "monitor", STREAM_SLAVES, opts)
        except CaseFailed as exc:
            results["stream"] = failed(exc)
        else:
            raw["stream"] = {"monitor": mon, "floor": floor}
            results["stream"] = stream_row(mon, floor)
            print(f"  stream: {results['stream']['fps'] or 0:,.0f} frames/s",
                  flush=True)
    if "idle" in cases:
        try:
            mon = run_case("idle", "monitor", IDLE_SLAVES, opts)
        except CaseFailed as exc:
            results["idle"] = failed(exc)
        else:
            raw["idle"] = {"monitor": mon}
            results["idle"] = idle_row(mon, opts.idle_seconds)
            print(f"  idle: {results['idle']['percent']:.3f}%", flush=True)
    if "startup" in cases:
        # the command and the probe take turns, like the replay's sizes
        commands, probes = [], []
        try:
            for _ in range(opts.startup_runs):
                commands.append(run_startup(opts, probed=False))
                probes.append(run_startup(opts, probed=True))
        except CaseFailed as exc:
            results["startup"] = failed(exc)
        else:
            raw["startup"] = {"command": commands, "probe": probes}
            results["startup"] = startup_row(commands, probes)
            print(f"  startup: {results['startup']['total_s']:.3f} s",
                  flush=True)
    print()
    print_report(results, opts)
    if opts.json:
        for case in raw.values():
            for reps in case.values():
                for rep in reps if isinstance(reps, list) else [reps]:
                    rep.pop("draw_times", None)
                    rep.pop("drains", None)
        with open(opts.json, "w", encoding="utf-8") as f:
            json.dump({"results": results, "raw": raw}, f, indent=1)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(CASES),
                        help="comma-separated cases: " + ", ".join(CASES))
    parser.add_argument("--sizes", default="10,100,1000,5000",
                        help="slave counts of the replay case")
    parser.add_argument("--repeat", type=int,
                        help="run each replay (default 1) and each start-up "
                             "measurement (default 3) this many times, keep "
                             "the best")
    parser.add_argument("--stream-seconds", type=float, default=10.0)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--quick", action="store_true",
                        help="idle for 20 s instead of 60 s")
    parser.add_argument("--deadline", type=float, default=180.0,
                        help="give up on a consumer after this many seconds")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--profile", metavar="PREFIX",
                        help="profile the monitor; write "
                             "PREFIX-<case>-<slaves>.txt")
    parser.add_argument("--profiler", choices=("py-spy", "pyinstrument"),
                        default="py-spy", help="with --profile (default py-spy)")
    parser.add_argument("--profile-cases", default="replay,stream",
                        help=argparse.SUPPRESS)
    # the roles of the subprocesses
    parser.add_argument("--role", default="driver", help=argparse.SUPPRESS)
    parser.add_argument("--scenario", help=argparse.SUPPRESS)
    parser.add_argument("--slaves", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--status", help=argparse.SUPPRESS)
    parser.add_argument("--control", help=argparse.SUPPRESS)
    parser.add_argument("--frames", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--pty-fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--hold", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--t-spawn", type=float, help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    if opts.role == "publisher":
        return role_publisher(opts)
    if opts.role == "monitor":
        return role_monitor(opts)
    if opts.role == "floor":
        return role_floor(opts)
    if opts.role == "startup":
        return role_startup(opts)
    unknown = set(opts.only.split(",")) - set(CASES)
    if unknown:
        parser.error(f"--only: no such case: {', '.join(sorted(unknown))} "
                     f"(choose from {', '.join(CASES)})")
    if opts.repeat is not None and opts.repeat < 1:
        parser.error("--repeat: at least 1")
    opts.startup_runs = opts.repeat or 3
    opts.repeat = opts.repeat or 1
    opts.sizes = [int(s) for s in opts.sizes.split(",")]
    if opts.quick:
        opts.idle_seconds = min(opts.idle_seconds, 20.0)
    return drive(opts)


if __name__ == "__main__":
    sys.exit(main())
