"""
The demo master: a simulated piwheels build farm on real 0MQ sockets.

:class:`DemoMaster` binds a status queue (PUB) and a control queue (PULL) and
speaks on them exactly what a real piwheels master (0.23) speaks, as recorded
in the shared fixtures: its own ``HELLO`` and periodic ``STATS``, and
``SLAVE`` news for a handful of simulated build slaves that join, build
packages, send wheels, idle, and die. Every control message is honoured the
way the real master honours it. It is what ``piw-monitor --demo`` runs
in-process, and what the ``piw-demo-master`` console script runs on its own.

The life of a simulated slave, as the status queue reports it:

* it joins: ``HELLO`` (stamped with the time it was first seen), ``ACK`` and
  at once its first request for work;
* each request for work carries a ``STATS`` report and is answered
  ``SLEEP false`` (nothing to build), ``SLEEP true`` (the master is paused),
  ``BUILD [package, version]`` or ``DIE`` (it was killed);
* while it builds it reports ``STATS`` every 5 to 10 seconds (the master's
  ``CONT`` answers are not forwarded, as on a real master); a finished build
  gives ``SEND wheel-file-name`` then ``DONE``, a failed one ``DONE`` alone;
* a slave that falls silent (see *silent*) is expired after its busy timeout
  with a ``DIE`` carrying a plain null, stamped with its last-seen time.

Choices where the real master leaves room:

* ``SKIP`` with a slave id abandons that slave's current build at its next
  contact (a progress report or the report of the finished build): it is told
  ``DONE`` without any ``SEND`` and the build is not counted. Sent while the
  slave is not building (idle, or already sending its wheel), it does nothing.
* ``SKIP`` with null is accepted and does nothing, as on today's master.
* *hungry* slaves (``--demo`` has one) start with a huge build
  (``opencv-python``, an hour long) whose memory grows for a simulated
  minute, then fills its swap over the next: its load climbs with it. It
  is under memory pressure in the monitor after about 100 simulated
  seconds, and goes back to normal once the build is abandoned (``SKIP``,
  or the monitor's "Skip build and kill slave"). The other slaves' figures
  wander within plausible bounds.
* ``SLEEP`` and ``WAKE`` with a slave id are accepted and change nothing
  visible, as on today's master; but ``WAKE`` (with an id, or null for all)
  clears a pending ``KILL`` or ``SKIP``, as the protocol description says.
* ``KILL`` with null marks every slave the master knows at that moment; slaves
  that join later are not affected. Killed and expired slaves do not come back.
* A slave keeps building through a pause; it is told ``SLEEP true`` at its
  next request for work. No build is handed out and no master ``STATS`` is
  sent while paused, and no new package versions "arrive".

*speed* multiplies the pace of the whole simulation (joins, builds, requests,
transfers and the busy timeouts used for expiry); the master's ``STATS``
period is *stats_period* seconds of real time whatever the speed.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime as dt
import heapq
import itertools
import math
import os
import random
import re
import signal
import socket
import stat
import sys
import threading
import time

import zmq

from . import __version__
from .protocol import (
    BadFrame, MasterHello, MasterStats, SlaveAck, SlaveBuild, SlaveDie,
    SlaveDone, SlaveHello, SlaveSend, SlaveSleep, SlaveStats, decode_control,
    encode_status,
)

__all__ = [
    "DemoMaster", "DemoError", "main", "wheel_filename",
    "DEFAULT_STATUS_QUEUE", "DEFAULT_CONTROL_QUEUE", "INDEX_URL",
]

#: Where the demo master binds when told nothing else (a real master's
#: defaults).
DEFAULT_STATUS_QUEUE = "ipc:///tmp/piw-status"
DEFAULT_CONTROL_QUEUE = "ipc:///tmp/piw-control"

#: The package index URL the master hands every slave in its ``ACK``.
INDEX_URL = "http://127.0.0.1/simple"

#: How many STATS reports are kept (and replayed) for the master and for each
#: slave, like a real master.
HISTORY = 100

#: The most slaves a demo farm may have.
MAX_SLAVES = 999

#: Frames the status socket queues for a slow monitor before dropping (a
#: replay is up to about a hundred frames per slave).
SNDHWM = 200_000

_UTC = dt.timezone.utc

#: The ABIs the demo master builds for (whether or not a slave has them).
_ABIS = ("cp39", "cp311", "cp313")

_OS_NAME = "Raspbian GNU/Linux"
_OS_VERSION = {
    "cp39": "11 (bullseye)",
    "cp311": "12 (bookworm)",
    "cp313": "13 (trixie)",
}


@dataclasses.dataclass(frozen=True)
class _Board:
    family: str
    abi: str
    platform: str
    revision: str
    memory: int
    build_timeout: dt.timedelta
    busy_timeout: dt.timedelta
    idle_temp: float
    busy_temp: float


def _board(family, abi, platform, revision, memory, build_h, busy_s):
    idle, busy = {"pi3": (49.0, 71.0), "pi4": (44.0, 63.0),
                  "pi5": (46.0, 66.0)}[family]
    return _Board(family, abi, platform, revision, memory,
                  dt.timedelta(hours=build_h), dt.timedelta(seconds=busy_s),
                  idle, busy)


#: The farm, in the order slaves join; more slaves cycle through it.
_BOARDS = (
    _board("pi4", "cp311", "linux_aarch64", "c03114", 3_978_911_744, 3, 300),
    _board("pi3", "cp39", "linux_armv7l", "a02082", 959_315_968, 3, 300),
    _board("pi5", "cp313", "linux_aarch64", "d04170", 8_454_356_992, 3, 120),
    _board("pi4", "cp311", "linux_armv7l", "c03115", 3_978_911_744, 3, 300),
    _board("pi3", "cp311", "linux_armv7l", "a020d3", 959_315_968, 2, 300),
    _board("pi4", "cp39", "linux_armv7l", "d03114", 8_190_758_912, 3, 180),
    _board("pi5", "cp311", "linux_aarch64", "c04170", 4_241_588_224, 3, 300),
    _board("pi4", "cp313", "linux_aarch64", "b03114", 1_963_196_416, 3, 300),
)

_SD_CARD = 31_914_983_424
_SWAP = {"pi3": 104_853_504, "pi4": 104_853_504, "pi5": 209_711_104}


@dataclasses.dataclass(frozen=True)
class _Package:
    name: str
    versions: tuple
    size_kb: tuple       # range of the wheel's size
    build_s: tuple       # range of the build's duration (simulated seconds)
    pure: bool = False


_PACKAGES = (
    _Package("numpy", ("1.26.4", "2.0.2"), (9_000, 15_000), (14, 20)),
    _Package("pillow", ("10.4.0", "11.0.0"), (3_000, 4_500), (8, 15)),
    _Package("cryptography", ("43.0.3", "44.0.0"), (3_500, 4_200), (12, 20)),
    _Package("pandas", ("2.2.3",), (11_000, 14_000), (15, 20)),
    _Package("lxml", ("5.3.0",), (4_500, 5_200), (10, 18)),
    _Package("psutil", ("6.1.0",), (280, 300), (3, 6)),
    _Package("pyyaml", ("6.0.2",), (700, 760), (3, 7)),
    _Package("markupsafe", ("3.0.2",), (20, 24), (3, 5)),
    _Package("cffi", ("1.17.1",), (440, 470), (4, 8)),
    _Package("regex", ("2024.9.11", "2024.11.6"), (760, 800), (5, 10)),
    _Package("ujson", ("5.10.0",), (50, 60), (3, 6)),
    _Package("msgpack", ("1.1.0",), (370, 400), (4, 7)),
    _Package("frozenlist", ("1.5.0",), (270, 290), (3, 6)),
    _Package("multidict", ("6.1.0",), (125, 135), (3, 6)),
    _Package("aiohttp", ("3.11.7", "3.11.9"), (1_600, 1_700), (8, 14)),
    _Package("grpcio", ("1.68.0",), (5_500, 6_000), (17, 20)),
    _Package("pydantic-core", ("2.27.1",), (1_900, 2_100), (14, 20)),
    _Package("gpiozero", ("2.0.1",), (150, 160), (3, 4), pure=True),
    _Package("rpi-lgpio", ("0.6",), (11, 13), (3, 4), pure=True),
)

#: Mean simulated length of a build cycle (build, transfer, requests), used to
#: pace the arrival of new package versions so the farm stays mostly busy.
_MEAN_CYCLE = 12.0

#: Share of the farm's capacity that new versions keep busy.
_LOAD = 0.8


def wheel_filename(package, version, abi, platform, pure=False):
    """
    The wheel file name a build of *package* *version* produces on a slave
    with *abi* and *platform* (``numpy-1.26.4-cp311-cp311-linux_armv7l.whl``).
    """
    name = re.sub(r"[-_.]+", "_", package)
    if pure:
        return f"{name}-{version}-py3-none-any.whl"
    return f"{name}-{version}-{abi}-{abi}-{platform}.whl"


class DemoError(RuntimeError):
    """The demo master could not start (an address could not be bound)."""


# ---------------------------------------------------------------- scheduler

class _Scheduler:
    """Timers on the monotonic clock: a heap of cancellable calls."""

    def __init__(self):
        self._heap = []
        self._seq = itertools.count()

    def call_at(self, when, func, *args):
        entry = [when, next(self._seq), func, args]
        heapq.heappush(self._heap, entry)
        return entry

    @staticmethod
    def cancel(entry):
        if entry is not None:
            entry[2] = None

    def next_due(self):
        while self._heap and self._heap[0][2] is None:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def run_due(self, now):
        while self._heap and self._heap[0][0] <= now:
            _, _, func, args = heapq.heappop(self._heap)
            if func is not None:
                func(*args)


# ------------------------------------------------------------------- slaves

@dataclasses.dataclass
class _Build:
    package: str
    version: str
    filename: str
    size: int
    fails: bool
    started: float       # monotonic
    ends: float          # monotonic
    huge: bool = False   # a hungry slave's runaway build


class _Slave:
    """One simulated build slave and what the master knows of it."""

    def __init__(self, index, board, label, serial, rng):
        self.index = index
        self.board = board
        self.label = label
        self.serial = serial
        self.rng = rng
        self.slave_id = None
        self.state = "waiting"      # waiting, idle, building, sending, dying, gone
        self.hello = None
        self.first_seen = None
        self.last_seen = None
        self.last_seen_mono = None
        self.stats = collections.deque(maxlen=HISTORY)
        self.last = None            # the last message the master sent it
        self.kill = False
        self.skip = False
        self.build = None
        self.timer = None
        self.silent_at = None       # monotonic time it falls silent, if ever
        self.silent = False
        self.load = rng.uniform(0.05, 0.3)
        self.temp = board.idle_temp + rng.uniform(-2, 2)
        self.disk_free = int(_SD_CARD * rng.uniform(0.45, 0.75))
        self.mem_free = int(board.memory * rng.uniform(0.7, 0.85))
        self.swap_used = rng.randrange(0, 20_000_000, 4096)
        #: it starts with a huge build that eats its memory, then its swap
        self.hungry = False
        #: the pace of the simulation (the master's *speed*)
        self.speed = 1.0

    @property
    def abi(self):
        return self.board.abi

    def health(self, now):
        """A fresh STATS report (the slave's own clock runs a hair behind)."""
        rng = self.rng
        busy = self.state in ("building", "sending")
        build = self.build
        if busy and build is not None and build.huge:
            return self._hungry_health(now, build)
        target = rng.uniform(2.5, 3.9) if busy else 0.1
        self.load = max(0.0, self.load + (target - self.load) * 0.35
                        + rng.uniform(-0.05, 0.05))
        target = self.board.busy_temp if busy else self.board.idle_temp
        self.temp += (target - self.temp) * 0.4 + rng.uniform(-0.8, 0.8)
        mem = self.board.memory
        target = mem * (0.35 if busy else 0.8)
        self.mem_free = int(min(mem * 0.95, max(
            mem * 0.05, self.mem_free + (target - self.mem_free) * 0.3
            + rng.uniform(-0.01, 0.01) * mem)))
        self.disk_free = max(0, min(
            _SD_CARD, self.disk_free + rng.randrange(-2_000_000, 2_000_000, 4096)))
        swap = _SWAP[self.board.family]
        if self.swap_used > 0.3 * swap:
            # after a huge build: the swap is given back little by little
            self.swap_used = int(self.swap_used * 0.7)
        self.swap_used = max(0, min(
            int(0.3 * swap),
            self.swap_used + rng.randrange(-1_000_000, 1_000_000, 4096)))
        return self._stats(now)

    def _hungry_health(self, now, build):
        """The figures of a slave whose build eats its memory, then swap."""
        rng = self.rng
        elapsed = (time.monotonic() - build.started) * self.speed
        mem = self.board.memory
        swap = _SWAP[self.board.family]
        used = 0.35 + 0.63 * min(elapsed / 60, 1.0)
        self.mem_free = int(mem * max(0.01, 1 - used + rng.uniform(
            -0.005, 0.005)))
        swapped = 0.02 + 0.96 * min(max((elapsed - 60) / 60, 0.0), 1.0)
        self.swap_used = int(swap * min(swapped, 1.0))
        self.load = 3.6 + 5.0 * swapped + rng.uniform(-0.1, 0.1)
        self.temp = self.board.busy_temp + 6 * min(elapsed / 120, 1.0) \
            + rng.uniform(-0.5, 0.5)
        self.disk_free = max(0, self.disk_free - rng.randrange(
            20_000_000, 60_000_000, 4096))
        return self._stats(now)

    def _stats(self, now):
        rng = self.rng
        mem = self.board.memory
        swap = _SWAP[self.board.family]
        return SlaveStats(
            self.slave_id, now,
            now - dt.timedelta(microseconds=rng.randint(300, 1200)),
            _SD_CARD, self.disk_free, mem, self.mem_free, swap,
            swap - self.swap_used, round(self.load * 2048) / 2048,
            round(self.temp, 1))


# ------------------------------------------------------------------- master

def _ipc_path(address):
    """The file of an ``ipc://`` address, or None (tcp, abstract socket)."""
    if not isinstance(address, str) or not address.startswith("ipc://"):
        return None
    path = address[len("ipc://"):]
    return path if path and not path.startswith("@") else None


def _refuse_taken(address):
    """
    Raise :class:`DemoError` when a program already listens on the ipc
    *address* (a stale socket file, with nobody behind it, is fine).
    """
    path = _ipc_path(address)
    if path is None or not os.path.exists(path):
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(path)
    except OSError:
        return   # nobody answers: 0MQ replaces the stale file
    finally:
        probe.close()
    raise DemoError(
        f"a master already answers on {address}: stop it first, or give "
        "other addresses (--status-queue, --control-queue)")


def _remove_socket_file(address):
    """Remove the socket file of the ipc *address* this master bound."""
    path = _ipc_path(address)
    if path is None:
        return
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except OSError:
        pass


class DemoMaster:
    """
    A simulated piwheels master with its build slaves.

    It binds *status_queue* (PUB) and *control_queue* (PULL), any 0MQ
    addresses, when :meth:`run` starts. *slaves* simulated slaves (mixed
    ABIs and boards) join over the first few seconds. *seed* makes the farm
    reproducible (names, boards, packages; timings still depend on the
    clock). *speed* multiplies the pace of the simulation; *stats_period* is
    the period, in real seconds, of the master's own ``STATS``. *context* is a
    0MQ context to use (default: a private one, terminated at the end).
    *label* is the master's label in its ``HELLO``.

    *silent* slaves (default none) fall silent some time after they join, as
    if their power had been cut, and are expired after their busy timeout.
    *failures* is the share of builds that fail (they end with ``DONE``
    without ``SEND``). *hungry* slaves (default none) start with a huge
    build that fills their memory, then their swap (see the module's
    description).

    A master runs once: after :meth:`run` returns it cannot be run again.
    """

    def __init__(self, status_queue, control_queue, *, slaves=8, seed=None,
                 speed=1.0, stats_period=10.0, context=None,
                 label="demo-master", silent=0, failures=0.12, hungry=0):
        if isinstance(slaves, bool) or not isinstance(slaves, int) \
                or not 0 <= slaves <= MAX_SLAVES:
            raise ValueError(f"slaves must be an integer from 0 to {MAX_SLAVES}")
        if not speed > 0 or math.isinf(speed):
            raise ValueError("speed must be a positive number")
        if not stats_period > 0 or math.isinf(stats_period):
            raise ValueError("stats_period must be a positive number")
        if not 0 <= failures <= 1:
            raise ValueError("failures must be between 0 and 1")
        self.status_queue = status_queue
        self.control_queue = control_queue
        self.label = label
        self.speed = float(speed)
        self.stats_period = float(stats_period)
        self.failures = float(failures)
        #: Every valid control message received, in order, appended once it
        #: has been acted upon (a replay is published by then).
        self.received = []
        #: How many control frames were not valid (they are ignored).
        self.bad_frames = 0
        self._context = context
        self._rng = random.Random(seed)
        self._ready = threading.Event()
        self._settled = threading.Event()   # ready, or failed to start
        self._error = None
        self._thread = None
        self._ran = False
        self._stop_requested = False
        self._quit = False
        self._lock = threading.RLock()
        self._wake_r, self._wake_w = os.pipe()
        self._pub = None
        self._sched = _Scheduler()
        self._slaves = self._make_farm(slaves, min(max(0, int(silent)), slaves))
        # the second slave first (a Pi 3 with 1 GB): the first is the one
        # the list selects at start
        for slave in (self._slaves[1:] + self._slaves[:1])[:max(0, int(hungry))]:
            slave.hungry = True
        for slave in self._slaves:
            slave.speed = self.speed
        self._live = {}                     # slave id -> _Slave
        self._next_id = 1
        self._paused = False
        # a replay asked for while paused owes its slaves' part
        self._replay_deferred = False
        self._init_master_state()

    # ------------------------------------------------------------ public API

    @property
    def ready(self):
        """A :class:`threading.Event` set once both sockets are bound."""
        return self._ready

    def run(self):
        """
        Bind the sockets and simulate the farm until ``QUIT`` arrives on the
        control queue or :meth:`stop` is called; return 0. Blocks. Raises
        :class:`DemoError` when an address cannot be bound. The sockets are
        closed with no linger whichever way it ends.
        """
        with self._lock:
            if self._ran:
                raise RuntimeError("a DemoMaster runs only once")
            self._ran = True
        ctx = self._context if self._context is not None else zmq.Context()
        pub = pull = None
        bound = []
        try:
            pub = ctx.socket(zmq.PUB)
            pub.setsockopt(zmq.LINGER, 0)
            pub.setsockopt(zmq.SNDHWM, SNDHWM)
            pull = ctx.socket(zmq.PULL)
            pull.setsockopt(zmq.LINGER, 0)
            # 0MQ binds an ipc address over a live one, stranding the
            # master there: refuse instead, before binding either
            for address in (self.status_queue, self.control_queue):
                _refuse_taken(address)
            self._bind(pub, self.status_queue, "status")
            bound.append(self.status_queue)
            self._bind(pull, self.control_queue, "control")
            bound.append(self.control_queue)
            self._pub = pub
            self._start_simulation()
            self._ready.set()
            self._settled.set()
            self._loop(pull)
            return 0
        finally:
            self._pub = None
            for sock in (pub, pull):
                if sock is not None:
                    sock.close(linger=0)
            # 0MQ leaves the socket files of ipc addresses behind
            for address in bound:
                _remove_socket_file(address)
            if self._context is None:
                ctx.term()
            with self._lock:
                fds, self._wake_r, self._wake_w = (
                    (self._wake_r, self._wake_w), None, None)
            for fd in fds:
                if fd is not None:
                    os.close(fd)

    def start(self):
        """
        Run :meth:`run` in a daemon thread, and return once the sockets are
        bound. Raises :class:`DemoError` (from the caller's thread) when they
        cannot be.
        """
        if self._thread is not None:
            raise RuntimeError("this DemoMaster was already started")
        self._thread = threading.Thread(
            target=self._thread_main, name="piw-demo-master", daemon=True)
        self._thread.start()
        self._settled.wait(10)
        if self._error is not None:
            self._thread.join(1)
            raise self._error

    def stop(self, timeout=5):
        """
        Make :meth:`run` return (from any thread, or a signal handler), and
        wait up to *timeout* seconds for the thread :meth:`start` began.
        """
        self._request_stop()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # ------------------------------------------------------------- internals

    def _thread_main(self):
        try:
            self.run()
        except DemoError as exc:  # reported to start()
            self._error = exc
        finally:
            self._settled.set()

    def _request_stop(self):
        self._stop_requested = True
        with self._lock:
            fd = self._wake_w
            if fd is not None:
                try:
                    os.write(fd, b"x")
                except OSError:  # the pipe is full: a wake-up is pending anyway
                    pass

    @staticmethod
    def _bind(sock, address, what):
        try:
            sock.bind(address)
        except (zmq.ZMQError, TypeError, ValueError) as exc:
            reason = (zmq.strerror(exc.errno) if isinstance(exc, zmq.ZMQError)
                      else str(exc))
            raise DemoError(
                f"cannot bind the {what} queue to {address!r}: {reason}") from None

    def _loop(self, pull):
        poller = zmq.Poller()
        poller.register(pull, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        while not (self._stop_requested or self._quit):
            due = self._sched.next_due()
            if due is None:
                timeout = None
            else:
                timeout = max(0, math.ceil((due - time.monotonic()) * 1000))
            events = dict(poller.poll(timeout))
            if self._wake_r in events:
                os.read(self._wake_r, 4096)
            if pull in events:
                for _ in range(1000):
                    try:
                        frame = pull.recv(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    self._control(frame)
                    if self._quit:
                        return
            self._sched.run_due(time.monotonic())

    def _after(self, delay, func, *args):
        """Call *func* after *delay* simulated seconds."""
        return self._sched.call_at(
            time.monotonic() + delay / self.speed, func, *args)

    @staticmethod
    def _utcnow():
        return dt.datetime.now(_UTC)

    def _publish(self, event):
        if self._pub is not None:
            self._pub.send(encode_status(event))

    # ---------------------------------------------------------------- farm

    def _make_farm(self, count, silent):
        rng = self._rng
        families = collections.Counter()
        slaves = []
        for i in range(count):
            board = _BOARDS[i % len(_BOARDS)]
            families[board.family] += 1
            label = f"{board.family}-{families[board.family]:02d}"
            prefix = "00000000" if board.family == "pi3" else "10000000"
            serial = f"{prefix}{rng.getrandbits(32):08x}"
            slaves.append(_Slave(i, board, label, serial,
                                 random.Random(rng.getrandbits(64))))
        for slave in rng.sample(slaves, silent):
            slave.silent_at = rng.uniform(10, 60)   # after joining, simulated
        return slaves

    def _init_master_state(self):
        rng = self._rng
        self._serial = f"10000000{rng.getrandbits(32):08x}"
        self._pending = {abi: rng.randint(4, 25) for abi in _ABIS}
        per_abi = collections.Counter(s.abi for s in self._slaves)
        # new versions per simulated second, by ABI
        self._arrival_rate = {
            abi: max(0.01, _LOAD * per_abi[abi] / _MEAN_CYCLE) for abi in _ABIS}
        self._arrival_acc = dict.fromkeys(_ABIS, 0.0)
        self._arrivals = collections.deque()        # (monotonic, count)
        self._builds = collections.deque()          # (monotonic, abi)
        self._base_builds = {abi: rng.randint(20, 150) for abi in _ABIS}
        self._base_new = rng.randint(150, 450)
        built = rng.randint(640_000, 660_000)
        self._totals = {
            "packages_built": built,
            "builds_time": dt.timedelta(days=rng.randint(2_500, 3_000),
                                        seconds=rng.randint(0, 86_399)),
            "builds_size": rng.randint(3_000_000_000_000, 3_400_000_000_000),
            "files_count": built * 2 + rng.randint(0, 100_000),
            "downloads_last_hour": rng.randint(45_000, 65_000),
            "downloads_last_month": rng.randint(38_000_000, 46_000_000),
            "downloads_all": rng.randint(1_100_000_000, 1_300_000_000),
        }
        self._disk_size = 3_998_614_552_576
        self._disk_free = int(self._disk_size * rng.uniform(0.2, 0.3))
        self._mem_size = 8_454_356_992
        self._mem_free = int(self._mem_size * rng.uniform(0.35, 0.55))
        self._swap_size = 2_147_479_552
        self._swap_free = int(self._swap_size * rng.uniform(0.85, 0.95))
        self._load = rng.uniform(0.8, 1.6)
        self._temp = rng.uniform(48.0, 54.0)
        self._stats_history = collections.deque(maxlen=HISTORY)
        self._hello = None
        self._start_mono = None
        self._pypi_mono = None

    def _start_simulation(self):
        now = time.monotonic()
        self._start_mono = self._pypi_mono = now
        self._hello = MasterHello(
            self._utcnow(), self.label, _OS_NAME, _OS_VERSION["cp311"],
            "d03114", self._serial)
        join = 0.5
        for slave in self._slaves:
            self._after(join, self._join, slave)
            join += self._rng.uniform(0.3, 0.7)
        self._stats_tick()

    # -------------------------------------------------------------- master

    def _refill(self, now):
        """New package versions turn up while the master is not paused."""
        elapsed = (now - self._pypi_mono) * self.speed
        self._pypi_mono = now
        if self._paused or elapsed <= 0:
            return
        rng = self._rng
        total = 0
        for abi in _ABIS:
            acc = self._arrival_acc[abi] + (
                self._arrival_rate[abi] * elapsed * rng.uniform(0.5, 1.5))
            count = int(acc)
            self._arrival_acc[abi] = acc - count
            self._pending[abi] = min(5_000, self._pending[abi] + count)
            total += count
        if total:
            self._arrivals.append((now, total))

    def _take_job(self, slave):
        if slave.hungry:
            slave.hungry = False   # one huge build is enough
            now = time.monotonic()
            version = "4.10.0.84"
            self._pending[slave.abi] = max(0, self._pending[slave.abi] - 1)
            return _Build(
                "opencv-python", version,
                wheel_filename("opencv-python", version, slave.abi,
                               slave.board.platform),
                48_000_000, False, now, now + 3600 / self.speed, huge=True)
        self._refill(time.monotonic())
        if self._pending[slave.abi] <= 0:
            return None
        self._pending[slave.abi] -= 1
        rng = slave.rng
        package = rng.choice(_PACKAGES)
        version = rng.choice(package.versions)
        duration = rng.uniform(*package.build_s)
        now = time.monotonic()
        return _Build(
            package.name, version,
            wheel_filename(package.name, version, slave.abi,
                           slave.board.platform, package.pure),
            rng.randint(*package.size_kb) * 1024 + rng.randint(0, 1023),
            rng.random() < self.failures, now, now + duration / self.speed)

    def _stats_tick(self):
        self._sched.call_at(
            time.monotonic() + self.stats_period, self._stats_tick)
        if self._paused:
            return
        stats = self._master_stats()
        self._stats_history.append(stats)
        self._publish(stats)

    def _master_stats(self):
        rng = self._rng
        now = time.monotonic()
        self._refill(now)
        hour_ago = now - 3600
        while self._arrivals and self._arrivals[0][0] < hour_ago:
            self._arrivals.popleft()
        while self._builds and self._builds[0][0] < hour_ago:
            self._builds.popleft()
        fade = max(0.0, 1 - (now - self._start_mono) / 3600)
        recent = collections.Counter(abi for _, abi in self._builds)
        last_hour = {abi: round(self._base_builds[abi] * fade) + recent[abi]
                     for abi in _ABIS}
        new = round(self._base_new * fade) + sum(n for _, n in self._arrivals)
        t = self._totals
        t["downloads_last_hour"] = max(1_000, int(
            t["downloads_last_hour"] * rng.uniform(0.97, 1.03)))
        got = int(t["downloads_last_hour"] * self.stats_period / 3600)
        t["downloads_all"] += got
        t["downloads_last_month"] += got - int(got * rng.uniform(0.8, 1.2))
        self._mem_free = int(min(self._mem_size * 0.7, max(
            self._mem_size * 0.2,
            self._mem_free + rng.uniform(-0.02, 0.02) * self._mem_size)))
        self._swap_free = int(min(self._swap_size, max(
            0, self._swap_free + rng.randrange(-4_000_000, 4_000_000, 4096))))
        self._load = min(6.0, max(0.2, self._load + rng.uniform(-0.25, 0.25)))
        self._temp = min(70.0, max(42.0, self._temp + rng.uniform(-0.8, 0.8)))
        return MasterStats(
            self._utcnow(), t["packages_built"], last_hour, t["builds_time"],
            t["builds_size"], dict(self._pending), new, t["files_count"],
            t["downloads_last_hour"], t["downloads_last_month"],
            t["downloads_all"], self._disk_size, self._disk_free,
            self._mem_size, self._mem_free, self._swap_size, self._swap_free,
            round(self._load * 2048) / 2048, round(self._temp, 1))

    def _count_build(self, slave, build, success):
        now = time.monotonic()
        self._builds.append((now, slave.abi))
        t = self._totals
        t["builds_time"] += dt.timedelta(seconds=round(now - build.started, 6))
        if success:
            t["packages_built"] += 1
            t["files_count"] += 1
            t["builds_size"] += build.size
            self._disk_free = max(0, self._disk_free - build.size)

    # -------------------------------------------------------- slave lives

    def _touch(self, slave):
        """The master hears from *slave*: its last-seen time is now."""
        now = self._utcnow()
        slave.last_seen = now
        slave.last_seen_mono = time.monotonic()
        return now

    def _tell(self, slave, event):
        """Publish what the master said to *slave* (remembered for replays)."""
        slave.last = event
        self._publish(event)

    def _report(self, slave, now):
        stats = slave.health(now)
        slave.stats.append(stats)
        self._publish(stats)

    def _schedule(self, slave, delay, func):
        slave.timer = self._after(delay, func, slave)

    def _fell_silent(self, slave):
        """True when *slave* has just gone (or was already) silent."""
        if slave.silent:
            return True
        if slave.silent_at is None or time.monotonic() < slave.silent_at:
            return False
        slave.silent = True
        slave.timer = self._sched.call_at(
            slave.last_seen_mono
            + slave.board.busy_timeout.total_seconds() / self.speed,
            self._expire, slave)
        return True

    def _join(self, slave):
        slave.slave_id = self._next_id
        self._next_id += 1
        self._live[slave.slave_id] = slave
        now = self._touch(slave)
        slave.first_seen = now
        if slave.silent_at is not None:
            slave.silent_at = time.monotonic() + slave.silent_at / self.speed
        board = slave.board
        slave.hello = SlaveHello(
            slave.slave_id, now, board.build_timeout, board.busy_timeout,
            board.abi[2:], board.abi, board.platform, slave.label, _OS_NAME,
            _OS_VERSION[board.abi], board.revision, slave.serial)
        self._publish(slave.hello)
        self._tell(slave, SlaveAck(
            slave.slave_id, self._touch(slave), slave.slave_id, INDEX_URL))
        slave.state = "idle"
        self._idle(slave)

    def _idle(self, slave):
        """The slave asks for work (with a STATS report)."""
        if self._fell_silent(slave):
            return
        now = self._touch(slave)
        self._report(slave, now)
        if slave.kill:
            slave.state = "dying"
            self._tell(slave, SlaveDie(slave.slave_id, now))
            # its goodbye follows the answer about a millisecond later
            slave.timer = self._sched.call_at(
                time.monotonic() + 0.001, self._bye, slave)
            return
        build = None if self._paused else self._take_job(slave)
        if build is None:
            self._tell(slave, SlaveSleep(slave.slave_id, now, self._paused))
            self._schedule(slave, slave.rng.uniform(5, 10), self._idle)
            return
        slave.state = "building"
        slave.build = build
        slave.skip = False
        self._tell(slave, SlaveBuild(
            slave.slave_id, now, build.package, build.version))
        self._next_busy(slave)

    def _next_busy(self, slave):
        when = time.monotonic() + slave.rng.uniform(5, 10) / self.speed
        if when >= slave.build.ends:
            slave.timer = self._sched.call_at(
                slave.build.ends, self._built, slave)
        else:
            slave.timer = self._sched.call_at(when, self._busy, slave)

    def _busy(self, slave):
        """The building slave reports progress (answered CONT, not sent)."""
        if self._fell_silent(slave):
            return
        now = self._touch(slave)
        if self._paused:
            # a real master publishes nothing of a building slave while it
            # is paused (replays-by-other-monitors.jsonl, phase 4)
            slave.stats.append(slave.health(now))
        else:
            self._report(slave, now)
        if slave.skip:
            self._abandon(slave, now)
        else:
            self._next_busy(slave)

    def _abandon(self, slave, now):
        slave.skip = False
        slave.build = None
        slave.state = "idle"
        self._tell(slave, SlaveDone(slave.slave_id, now))
        self._schedule(slave, slave.rng.uniform(0.5, 1.5), self._idle)

    def _built(self, slave):
        """The slave reports the end of its build."""
        if self._fell_silent(slave):
            return
        now = self._touch(slave)
        build = slave.build
        if slave.skip:
            self._abandon(slave, now)
        elif build.fails:
            self._count_build(slave, build, False)
            slave.build = None
            slave.state = "idle"
            self._tell(slave, SlaveDone(slave.slave_id, now))
            self._schedule(slave, slave.rng.uniform(0.005, 0.02), self._idle)
        else:
            slave.state = "sending"
            self._tell(slave, SlaveSend(slave.slave_id, now, build.filename))
            transfer = build.size / 8_000_000 + slave.rng.uniform(0.02, 0.2)
            self._schedule(slave, transfer, self._sent)

    def _sent(self, slave):
        """The slave's wheel has arrived and checks out."""
        if self._fell_silent(slave):
            return
        now = self._touch(slave)
        self._count_build(slave, slave.build, True)
        slave.build = None
        slave.skip = False
        slave.state = "idle"
        self._tell(slave, SlaveDone(slave.slave_id, now))
        self._schedule(slave, slave.rng.uniform(0.005, 0.02), self._idle)

    def _bye(self, slave):
        """A killed slave says goodbye and is forgotten."""
        now = self._touch(slave)
        self._tell(slave, SlaveDie(slave.slave_id, now))
        self._forget(slave)

    def _expire(self, slave):
        """The master gives up on a silent slave."""
        if self._live.get(slave.slave_id) is slave:
            self._tell(slave, SlaveDie(
                slave.slave_id, slave.last_seen, expired=True))
            self._forget(slave)

    def _forget(self, slave):
        self._sched.cancel(slave.timer)
        slave.timer = None
        slave.state = "gone"
        self._live.pop(slave.slave_id, None)

    # ------------------------------------------------------------- control

    def _control(self, frame):
        msg = decode_control(frame)
        if isinstance(msg, BadFrame):
            self.bad_frames += 1
            return
        name, data = msg.message, msg.data
        if name == "HELLO":
            self._replay()
        elif name == "QUIT":
            self._quit = True
        elif data is None:
            if name == "SLEEP":
                self._pause()
            elif name == "WAKE":
                self._resume()
            elif name == "KILL":
                for slave in self._live.values():
                    slave.kill = True
            # SKIP None: accepted, nothing happens (as on today's master)
        else:
            slave = self._live.get(data)
            if slave is not None:
                if name == "KILL":
                    slave.kill = True
                elif name == "SKIP":
                    slave.skip = slave.state == "building"
                elif name == "WAKE":
                    slave.kill = slave.skip = False
                # SLEEP id: accepted, nothing visible (as on today's master)
        self.received.append(msg)

    def _pause(self):
        if not self._paused:
            self._refill(time.monotonic())
            self._paused = True

    def _resume(self):
        if self._paused:
            self._paused = False
            self._pypi_mono = time.monotonic()
        for slave in self._live.values():
            slave.kill = slave.skip = False
        if self._replay_deferred:
            self._replay_deferred = False
            for event in self._slave_entries():
                self._publish(event)

    def _replay(self):
        """
        Everything the master knows, for a monitor that just attached. A
        paused master sends its own HELLO and STATS history only, and the
        slaves' part once it resumes (replays-by-other-monitors.jsonl,
        phases 5 and 6).
        """
        self._publish(self._hello)
        if self._paused:
            self._replay_deferred = True
            for event in self._stats_history:
                self._publish(event)
            return
        # the master's history and the slaves' entries come interleaved
        for pair in itertools.zip_longest(self._stats_history,
                                          self._slave_entries()):
            for event in pair:
                if event is not None:
                    self._publish(event)

    def _slave_entries(self):
        """The slaves' part of a replay: HELLO, STATS history, last reply."""
        entries = []
        for slave_id in sorted(self._live):
            slave = self._live[slave_id]
            seen = slave.last_seen
            entries.append(slave.hello)
            entries.extend(dataclasses.replace(s, timestamp=seen)
                           for s in slave.stats)
            if slave.last is not None:
                entries.append(dataclasses.replace(slave.last, timestamp=seen))
        return entries


# ---------------------------------------------------------------- command line

def _count(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 0 <= value <= MAX_SLAVES:
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_SLAVES}")
    return value


def _speed(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value <= 1000:
        raise argparse.ArgumentTypeError("must be above 0 and at most 1000")
    return value


def _parser():
    parser = argparse.ArgumentParser(
        prog="piw-demo-master",
        description="Simulate a piwheels master and its build slaves on the "
                    "master's status and control queues, for piw-monitor to "
                    "attach to. Stops on QUIT from a monitor, Ctrl-C or "
                    "SIGTERM.")
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--status-queue", metavar="ADDR", default=DEFAULT_STATUS_QUEUE,
        help="the 0MQ address to publish status on (default: %(default)s)")
    parser.add_argument(
        "--control-queue", metavar="ADDR", default=DEFAULT_CONTROL_QUEUE,
        help="the 0MQ address to take control messages on "
             "(default: %(default)s)")
    parser.add_argument(
        "--slaves", metavar="N", type=_count, default=8,
        help="how many build slaves to simulate (default: %(default)s)")
    parser.add_argument(
        "--seed", metavar="N", type=int, default=None,
        help="seed the simulation, for a reproducible farm")
    parser.add_argument(
        "--speed", metavar="X", type=_speed, default=1.0,
        help="run the simulation X times faster (default: %(default)s)")
    parser.add_argument(
        "--silent", metavar="N", type=_count, default=0,
        help="let N slaves fall silent after a while, to be expired after "
             "their busy timeout (default: %(default)s)")
    parser.add_argument(
        "--hungry", metavar="N", type=_count, default=1,
        help="let N slaves start with a huge build that fills their memory, "
             "then their swap (default: %(default)s)")
    parser.add_argument(
        "--label", default="demo-master",
        help="the master's label (default: %(default)s)")
    return parser


def _banner(args):
    """What ``piw-demo-master`` says when it starts: what, where, how."""
    default = (args.status_queue == DEFAULT_STATUS_QUEUE
               and args.control_queue == DEFAULT_CONTROL_QUEUE)
    attach = "piw-monitor" if default else (
        f"piw-monitor --status-queue {args.status_queue} "
        f"--control-queue {args.control_queue}")
    return "\n".join([
        f"piw-demo-master: a simulated piwheels master ({args.label}) with "
        f"{args.slaves} build slave{'s' if args.slaves != 1 else ''}",
        f"  status queue:  {args.status_queue}",
        f"  control queue: {args.control_queue}",
        f"Attach a console: {attach}",
        "Stop it: Ctrl-C here, or Terminate master (t) in a console.",
    ])


def _say(text):
    """Print *text* on standard output at once (it may be a pipe)."""
    try:
        print(text, flush=True)
    except OSError:  # nobody reads any more: nothing to tell
        pass


def main(argv=None):
    """
    The ``piw-demo-master`` console script: run a :class:`DemoMaster` until
    a monitor sends ``QUIT`` or the process gets Ctrl-C or SIGTERM (exit
    status 0), saying on standard output what it runs, how to attach and
    stop, and goodbye. An address that cannot be bound, or on which a
    master already answers, gives one line on standard error and exit
    status 2.
    """
    args = _parser().parse_args(argv)
    master = DemoMaster(
        args.status_queue, args.control_queue, slaves=args.slaves,
        seed=args.seed, speed=args.speed, label=args.label,
        silent=args.silent, hungry=args.hungry)
    previous = {}
    stopped_by = []

    def stop(signum, _frame):
        stopped_by.append(signum)
        master._request_stop()

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, stop)
    try:
        try:
            master.start()   # returns once bound (or raises)
        except DemoError as exc:
            print(f"piw-demo-master: error: {exc}", file=sys.stderr)
            return 2
        _say(_banner(args))
        # a signal handler runs while the main thread waits here
        master._thread.join()
        if stopped_by:
            name = "Ctrl-C" if stopped_by[0] == signal.SIGINT else \
                signal.Signals(stopped_by[0]).name
            _say(f"piw-demo-master: stopped ({name}); goodbye.")
        else:
            _say("piw-demo-master: a monitor sent QUIT; goodbye.")
        return 0
    except KeyboardInterrupt:  # pragma: no cover (the handler stops it first)
        return 0
    finally:
        master.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


if __name__ == "__main__":
    sys.exit(main())
