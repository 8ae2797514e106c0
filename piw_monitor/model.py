"""
The farm model: what a monitor knows about a piwheels master and its slaves.

The model is plain Python. It is changed only by :meth:`Farm.apply`, which
takes one event (from :mod:`piw_monitor.protocol`) and the current time, and
by :meth:`Farm.tick`, which takes the time alone. It never reads a clock
itself, so tests control time completely. Each event costs O(1) however many
slaves there are (a new slave is put in its place in the sorted rows by a
binary search), and asking for the rows costs nothing: a refresh during a
replay of thousands of slaves never sorts them.

The truth about the farm is decided here, once:

* **Time.** Every duration (up time, time in a task, silence) and every
  late or silent verdict is judged on the *master's* clock, which the model
  estimates from the master's own timestamps (:class:`MasterClock`): a
  master whose clock is minutes behind or days ahead of the monitor's shows
  the same screen as one in step. When the master has gone, time stops at
  the moment it was last heard.
* **Replays.** Any monitor's HELLO (a ``--check`` probe's included) makes
  the master replay its whole state to every monitor. A replay only adds
  what was not known: a slave already known (same id, same first-seen time)
  keeps its task and its start, its history, its statistics and its state;
  older replayed entries never replace newer ones; and whether the master
  is paused is never inferred from replayed replies. Only a replay the
  monitor asked for on a new connection rebuilds the list (slaves that are
  not in it have gone), and even then a slave that comes back unchanged
  keeps what was known of it.
* **Unknowns.** A slave first met in a replay has a task whose start the
  master does not say: its task time is a lower bound
  (:attr:`Slave.task_exact` is False). Statistics that a master reports as
  zero before it measured them (its first STATS) are not known
  (:meth:`Master.disk_known`).
* **Pauses.** While the master is paused, or says nothing at all (a paused
  master stops its STATS and the slaves' pings), a slave's silence is not
  counted against it.

A screen asks it for :meth:`Farm.rows` (slaves in a stable order),
:meth:`Slave.state` (idle, building, sending, cleaning, late, silent,
terminating), :meth:`Farm.counts`, and :meth:`Farm.take_changes` (what changed
since the last look, so that only those rows are redrawn).
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
from collections import deque
from dataclasses import dataclass, field

from . import protocol as p
from .pressure import History, Thresholds, figures

__all__ = [
    "Farm", "Master", "MasterClock", "Slave", "Changes", "STATES",
    "MASTER_STATES", "STATS_PERIOD", "MASTER_SILENCE", "MASTER_QUIET",
    "TERMINATED_LINGER", "MAX_SLAVES", "abi_order", "python_version",
]

#: A slave's states, in the order a screen would list them.
STATES = (
    "idle", "building", "sending", "cleaning", "late", "silent",
    "terminating",
)

#: The master's states.
MASTER_STATES = ("waiting", "connected", "paused", "quiet", "silent", "lost")

#: How often a running master sends STATS (its only heartbeat).
STATS_PERIOD = dt.timedelta(seconds=10)

#: A master that has said nothing for this long is *quiet*: one STATS
#: report missed, and a margin. A paused master is quiet (it stops its STATS
#: and the building slaves' pings); so is a hung one. Slaves are not blamed
#: for the time the master is quiet or paused.
MASTER_QUIET = STATS_PERIOD + dt.timedelta(seconds=5)

#: A running master that has said nothing for this long is presumed silent:
#: three missed STATS reports and a margin for a busy master.
MASTER_SILENCE = 3 * STATS_PERIOD + dt.timedelta(seconds=5)

#: What the task of a slave that was sent KILL starts with: it stops after
#: its current task.
STOPPING = "[stopping] "

#: How long a terminated slave stays listed (as "Terminating") before it is
#: removed from the rows.
TERMINATED_LINGER = dt.timedelta(seconds=5)

#: Default busy timeout when a slave's HELLO was never seen.
DEFAULT_BUSY_TIMEOUT = dt.timedelta(minutes=5)

#: How many recent messages each slave keeps for a details view.
SLAVE_HISTORY = 10

#: How many messages the farm-wide event log keeps.
LOG_SIZE = 5000

#: The most slaves the model keeps. piwheels' own farm has a few dozen; a
#: master reporting more than this is broken or hostile (90,000 slave ids
#: once cost 262 MB). Past it, new slaves are not listed, the screen and the
#: log say so, and :meth:`Farm.take_resync` asks for a fresh replay.
MAX_SLAVES = 10_000

#: A fresh replay is asked for, when a bound is hit, at most this often.
RESYNC_EVERY = dt.timedelta(minutes=10)

_ZERO = dt.timedelta(0)


@dataclass(slots=True)
class Changes:
    """What changed since the last :meth:`Farm.take_changes`."""
    #: the master's header (state, label, statistics) changed
    master: bool = False
    #: ids of slaves whose row changed (including added and removed ones)
    slaves: set = field(default_factory=set)
    #: the set of rows or their order changed
    order: bool = False
    #: the slaves (records) that left the list once terminated (not those
    #: a replay takes out and puts back)
    left: list = field(default_factory=list)

    def __bool__(self):
        return self.master or self.order or bool(self.slaves)


class MasterClock:
    """
    The master's clock, as the monitor estimates it, and the time that does
    not count against the slaves.

    *Skew* is the master's clock minus the monitor's (a timedelta). Every
    master timestamp ``ts`` received at monitor time ``now`` says ``skew >=
    ts - now`` (a frame cannot be read before it was written), so the
    estimate is the largest such difference; it is kept per
    :attr:`BUCKET` of the monitor's time for the last :attr:`BUCKETS`
    buckets, so that it follows a master whose clock is set back, and a
    bucket that stands out by more than :attr:`TOLERANCE` over all the
    others is ignored until another agrees with it, so that one mistaken
    timestamp cannot move every timer.

    *Excused* time is time, in seconds, during which the master was paused
    or quiet (see :data:`MASTER_QUIET`): a slave's silence leaves it out.
    """

    BUCKET = dt.timedelta(seconds=10)
    BUCKETS = 7
    TOLERANCE = dt.timedelta(seconds=2)

    __slots__ = (
        "master", "skew", "_buckets", "_bucket_start", "_bucket_max",
        "_excused", "_excuse_start", "_excused_until", "_cache",
    )

    def __init__(self, master):
        #: the :class:`Master` whose clock this is
        self.master = master
        #: the estimated skew (master minus monitor), None before any sample
        self.skew = None
        self._buckets = deque(maxlen=self.BUCKETS)
        self._bucket_start = None
        self._bucket_max = None
        # excused time closed so far (a timedelta), and when (monitor time)
        # the current pause began, if the master is paused
        self._excused = _ZERO
        self._excuse_start = None
        # the monitor time up to which excused time was counted: a quiet
        # spell is not counted again where a pause covered it
        self._excused_until = None
        # (now, master time, excused) for the last *now* asked about: a
        # refresh asks once per slave with the same *now*
        self._cache = (None, None, None)

    # ------------------------------------------------------------ samples

    def observe(self, timestamp, now):
        """A master *timestamp* (aware datetime) was read at monitor *now*."""
        delta = timestamp - now
        start = self._bucket_start
        if start is None or now - start >= self.BUCKET:
            if self._bucket_max is not None:
                self._buckets.append(self._bucket_max)
            self._bucket_start = now
            self._bucket_max = delta
        elif delta > self._bucket_max:
            self._bucket_max = delta
        else:
            return
        self._estimate()

    def _estimate(self):
        values = sorted((*self._buckets, self._bucket_max), reverse=True)
        if len(values) >= 2 and values[0] - values[1] > self.TOLERANCE:
            self.skew = values[1]
        else:
            self.skew = values[0]
        self._cache = (None, None, None)

    # ------------------------------------------------------------ pauses

    def pause_began(self, now):
        """The master was paused at monitor time *now*."""
        if self._excuse_start is None:
            last = self.master.last_seen
            # quiet already: the excuse runs from when it was last heard
            if last is not None and now - last > MASTER_QUIET:
                now = last if self._excused_until is None else \
                    max(last, self._excused_until)
            self._excuse_start = now
            self._cache = (None, None, None)

    def pause_ended(self, now):
        """The master is running again, as known at monitor time *now*."""
        if self._excuse_start is not None:
            self._excused += max(now - self._excuse_start, _ZERO)
            self._excuse_start = None
            self._excused_until = now
            self._cache = (None, None, None)

    def heard(self, last, now):
        """
        The master was heard at *now* after *last* (monitor times): a gap
        longer than :data:`MASTER_QUIET` outside a pause is excused.
        """
        if last is not None and self._excuse_start is None and \
                now - last > MASTER_QUIET:
            start = last if self._excused_until is None else \
                max(last, self._excused_until)
            self._excused += max(now - start, _ZERO)
            self._excused_until = now
            self._cache = (None, None, None)

    # ------------------------------------------------------------ reading

    def at(self, now):
        """
        ``(master_time, excused)`` at monitor time *now*: the master's
        clock (an aware datetime) and the excused time so far (a
        timedelta). When the connection to the master is lost, both stop
        at the moment it was last heard.
        """
        cache = self._cache
        if cache[0] is now:
            return cache[1], cache[2]
        master = self.master
        when = now
        if not master.connected and master.lost_at is not None and \
                master.last_seen is not None:
            when = min(now, master.last_seen)
        excused = self._excused
        if self._excuse_start is not None:
            excused += max(when - self._excuse_start, _ZERO)
        elif master.last_seen is not None and \
                when - master.last_seen > MASTER_QUIET:
            start = master.last_seen if self._excused_until is None else \
                max(master.last_seen, self._excused_until)
            excused += max(when - start, _ZERO)
        mtime = when + (self.skew or _ZERO)
        self._cache = (now, mtime, excused)
        return mtime, excused

    def master_time(self, now):
        """The master's clock at monitor time *now* (see :meth:`at`)."""
        return self.at(now)[0]


class Master:
    """What the monitor knows about the master."""

    __slots__ = (
        "label", "started", "os_name", "os_version", "board_revision",
        "board_serial", "first_seen", "last_seen", "stats", "paused",
        "paused_since", "connected", "lost_at", "broken_replays",
        "replay_in", "replays", "link_ups", "hello_link_up", "clock",
        "hello_at", "replayed_slaves", "stats_history", "trouble",
        "trouble_fatal", "trouble_retry", "tunnel", "problem",
    )

    def __init__(self):
        self.label = ""
        self.started = None
        self.os_name = ""
        self.os_version = ""
        self.board_revision = ""
        self.board_serial = ""
        #: when the monitor first / last received anything from the master
        #: (the monitor's clock)
        self.first_seen = None
        self.last_seen = None
        #: the latest :class:`~piw_monitor.protocol.MasterStats`, by arrival
        self.stats = None
        #: the master is known to be paused (from a command we sent, or a
        #: live SLEEP that said so; never from a replay)
        self.paused = False
        #: since when (the monitor's clock)
        self.paused_since = None
        #: the link's view: a connection to the master is up
        self.connected = False
        #: when the link said the connection went away
        self.lost_at = None
        #: connections in a row that ended soon after asking for the replay
        #: (counted from the third: a frame over the size limit?)
        self.broken_replays = 0
        #: seconds the link waits before asking for the replay, after such
        #: connections (0: it asks at once)
        self.replay_in = 0.0
        #: how many replays (master HELLOs) have been received
        self.replays = 0
        #: how many times the link came up, and that count when the master
        #: last said HELLO: while they differ, the master on the current
        #: connection has not said which run it is (*started* may be the
        #: previous connection's)
        self.link_ups = 0
        self.hello_link_up = 0
        #: the master's clock as estimated from its frames
        self.clock = MasterClock(self)
        #: when (the monitor's clock) the last master HELLO came: the STATS
        #: that follow it are its history
        self.hello_at = None
        #: slaves in the replay that followed the last master HELLO (a
        #: paused master sends them only once it resumes)
        self.replayed_slaves = 0
        #: its recent STATS, oldest first (bounded)
        self.stats_history = deque(maxlen=100)
        #: why the master cannot be reached, while the link is down and the
        #: way to it says ('' otherwise): an SSH tunnel that is down, a
        #: socket closed before any master answers
        self.trouble = ""
        #: the trouble is one that only the user can fix (a refused key)
        self.trouble_fatal = False
        #: seconds until the way to the master is tried again (None: 0MQ
        #: retries by itself)
        self.trouble_retry = None
        #: the SSH tunnel: None (none), 'up' or 'down'
        self.tunnel = None
        #: why the link cannot reach the master (the latest
        #: :class:`~piw_monitor.protocol.LinkProblem` naming a cause), or
        #: None: not known, or connected
        self.problem = None

    @property
    def run_known(self):
        """
        True when *started* is the current connection's: the master said
        HELLO since the link last came up (or the link never came up).
        """
        return self.hello_link_up == self.link_ups

    @property
    def known(self):
        """The master has said something."""
        return self.last_seen is not None

    @property
    def skew(self):
        """The master's clock minus the monitor's (timedelta), or None."""
        return self.clock.skew

    def disk_known(self):
        """
        True when the latest STATS has measured the master's disk: a master
        reports zeros before its first measurement (recording 1, t=2.84).
        """
        return self.stats is not None and self.stats.disk_size > 0

    def pending_known(self):
        """
        True when the latest STATS has counted the pending builds: the
        first STATS of a new master carries an empty map (recording 1).
        """
        return self.stats is not None and bool(self.stats.builds_pending)

    def up_time(self, now):
        """How long the master has run, on its own clock; None if unknown."""
        if self.started is None:
            return None
        return max(self.clock.master_time(now) - self.started, _ZERO)

    def state(self, now):
        """
        One of :data:`MASTER_STATES`: *waiting* (never heard from), *connected*
        (heard recently), *paused* (known paused: it sends no STATS then),
        *quiet* (nothing for longer than :data:`MASTER_QUIET`: paused by
        someone else, or busy), *silent* (nothing for longer than
        :data:`MASTER_SILENCE`), *lost* (the connection went away).
        """
        if not self.connected and self.lost_at is not None:
            return "lost"
        if self.paused:
            return "paused"
        if self.last_seen is None:
            return "waiting"
        quiet = now - self.last_seen
        if quiet > MASTER_SILENCE:
            return "silent"
        if quiet > MASTER_QUIET:
            return "quiet"
        return "connected"


class Slave:
    """What the monitor knows about one build slave."""

    __slots__ = (
        "slave_id", "label", "abi", "py_version", "platform", "os_name",
        "os_version", "board_revision", "board_serial", "build_timeout",
        "busy_timeout", "first_seen", "last_seen", "task", "task_since",
        "task_exact", "package", "version", "filename", "build_started",
        "paused", "stats", "stopping", "terminated_at", "expired", "history",
        "index_url", "row_key", "replaying", "clock", "_excused_mark",
        "_late_after", "_silent_after", "stats_history", "_figures",
        "pressure", "judged", "caught_up", "replay_last",
    )

    def __init__(self, slave_id, clock=None):
        self.slave_id = slave_id
        #: the :class:`MasterClock` its times are judged on
        self.clock = clock if clock is not None else MasterClock(Master())
        self.label = ""
        self.abi = ""
        self.py_version = ""
        self.platform = ""
        self.os_name = ""
        self.os_version = ""
        self.board_revision = ""
        self.board_serial = ""
        self.index_url = ""
        self.build_timeout = None
        self.busy_timeout = None
        # silences past which it is late and silent: see state()
        self._late_after = DEFAULT_BUSY_TIMEOUT / 2
        self._silent_after = DEFAULT_BUSY_TIMEOUT
        #: when the master first saw the slave / last heard from it
        #: (the master's clock)
        self.first_seen = None
        self.last_seen = None
        # the excused time (MasterClock.at) when last_seen was last moved
        self._excused_mark = _ZERO
        #: what it is doing: idle, building, sending, cleaning or terminating
        self.task = "idle"
        #: when that task began (the master's clock); when *task_exact* is
        #: False it began at or before then (a task learnt from a replay)
        self.task_since = None
        self.task_exact = True
        self.package = ""
        self.version = ""
        self.filename = ""
        self.build_started = None
        #: the master told it to sleep because the master is paused
        self.paused = False
        #: its latest :class:`~piw_monitor.protocol.SlaveStats`, by arrival
        self.stats = None
        #: its recent STATS reports, as numbers (a
        #: :class:`~piw_monitor.pressure.History` of at most 100, O(1) each)
        self.stats_history = History()
        # (STATS, its figures) for the figures property: worked out when
        # something shows them, not for every STATS
        self._figures = (None, None)
        #: why it is under pressure: words of
        #: :data:`~piw_monitor.pressure.FLAGS` (empty when it is not)
        self.pressure = ()
        #: the STATS the figures and pressure were worked out from
        self.judged = None
        # in a replay of a known slave: whether its STATS history has come
        # to the report known last, and the latest replayed one meanwhile
        self.caught_up = True
        self.replay_last = None
        #: a KILL was sent for it: it stops after its current task
        self.stopping = False
        #: when (the monitor's clock) it was told to terminate
        self.terminated_at = None
        #: the master gave up on it (silent past its busy timeout)
        self.expired = False
        #: its latest messages: (timestamp, text) pairs, newest last
        self.history = deque(maxlen=SLAVE_HISTORY)
        #: its sort key when it was put in the farm's rows
        self.row_key = None
        #: between its replayed HELLO and the replayed reply that ends its
        #: part of a replay
        self.replaying = False

    @property
    def identity(self):
        """``(slave_id, first_seen, label)``: what tells one slave from another."""
        return (self.slave_id, self.first_seen, self.label)

    @property
    def figures(self):
        """
        The figures of the STATS its pressure was judged on (see
        :func:`~piw_monitor.pressure.figures`: memory and swap used in %,
        disk free in %, load, temperature in °C), None before one came.
        """
        stats, values = self._figures
        judged = self.judged
        if stats is not judged:
            values = None if judged is None else figures(judged)
            self._figures = (judged, values)
        return values

    @property
    def clock_skew(self):
        """
        Its own clock minus the master's (a timedelta), from its latest
        STATS; None before one came.
        """
        stats = self.stats
        if stats is None:
            return None
        return stats.stats_timestamp - stats.timestamp

    def set_busy_timeout(self, busy_timeout):
        """Take the busy timeout (a timedelta) from the slave's HELLO."""
        self.busy_timeout = busy_timeout
        busy = busy_timeout or DEFAULT_BUSY_TIMEOUT
        self._late_after = busy / 2
        self._silent_after = busy

    def sort_key(self):
        """
        Rows are ordered by ABI (in Python version order: cp39 before
        cp311), then label, then id.
        """
        return (abi_order(self.abi), self.label, self.slave_id)

    def silence(self, now):
        """
        How long (a timedelta) the master has not heard from this slave at
        monitor time *now*, on the master's clock, leaving out the time the
        master itself was paused or quiet.
        """
        last = self.last_seen
        if last is None:
            return _ZERO
        mtime, excused = self.clock.at(now)
        return max(mtime - last - (excused - self._excused_mark), _ZERO)

    def state(self, now):
        """
        One of :data:`STATES`. A slave silent (see :meth:`silence`) for more
        than half its busy timeout is *late*, past its busy timeout *silent*.
        """
        if self.task == "terminating":
            return "terminating"
        # called for every slave on every refresh: the thresholds were
        # worked out once, when the busy timeout came
        quiet = self.silence(now)
        if quiet > self._late_after:
            return "silent" if quiet > self._silent_after else "late"
        return self.task

    def task_text(self):
        """The current task in words, for a screen."""
        task = self.task
        if task == "building":
            text = f"Building {self.package} {self.version}"
        elif task == "sending":
            text = f"Transferring {self.filename}"
        elif task == "cleaning":
            text = "Cleaning up after build"
        elif task == "terminating":
            return "Terminated by the master (silent)" if self.expired \
                else "Terminating"
        elif self.paused and self.clock.master.paused:
            # only while the master is paused: a resume ends it at once
            text = "Waiting for jobs (paused)"
        else:
            text = "Waiting for jobs"
        if self.stopping:
            # first, so that a narrow column never cuts it off
            text = STOPPING + text
        return text

    def up_time(self, now):
        """How long since the master first saw the slave (master's clock)."""
        if self.first_seen is None:
            return None
        return max(self.clock.master_time(now) - self.first_seen, _ZERO)

    def build_time(self, now):
        """How long its build has run (master's clock); None if unknown."""
        if self.build_started is None:
            return None
        return max(self.clock.master_time(now) - self.build_started, _ZERO)

    def task_time(self, now):
        """
        How long the slave has been at its current task (master's clock):
        exactly when :attr:`task_exact`, else at least that long.
        """
        if self.task_since is None:
            return None
        return max(self.clock.master_time(now) - self.task_since, _ZERO)


@functools.lru_cache(maxsize=256)  # a farm has a handful of ABIs
def abi_order(abi):
    """
    A sort key for an ABI tag that puts Python versions in their natural
    order: ``cp39`` < ``cp310`` < ``cp311``; anything else sorts as text.
    """
    prefix = abi.rstrip("0123456789")
    digits = abi[len(prefix):]
    if prefix.isalpha() and len(digits) >= 2:
        return (prefix, int(digits[0]), int(digits[1:]), abi)
    return (abi, 0, 0, abi)


def python_version(text):
    """
    A Python version as people write it: ``3.11`` for the ``311`` a
    slave's HELLO carries (anything else as it came).
    """
    if text.isdigit() and len(text) >= 2:
        return f"{text[0]}.{text[1:]}"
    return text


# how each kind of slave event reads in histories and the log; a kind not
# here reads as its message name (a dict: one lookup a frame, where a chain
# of isinstance tests took six for a DONE)
_DESCRIPTIONS = {
    p.SlaveHello: lambda e: (f"HELLO {e.label} {e.abi} {e.platform} "
                             f"Python {python_version(e.py_version)}"),
    p.SlaveBuild: lambda e: f"BUILD {e.package} {e.version}",
    p.SlaveSend: lambda e: f"SEND {e.filename}",
    p.SlaveSleep: lambda e: "SLEEP (paused)" if e.paused else
    "SLEEP (no work)",
    p.SlaveDie: lambda e: "DIE (expired)" if e.expired else "DIE",
    p.SlaveAck: lambda e: f"ACK {e.assigned_id}",
}


def _describe(event):
    """A one-line description of a slave event, for histories and the log."""
    describe = _DESCRIPTIONS.get(type(event))
    return event.message if describe is None else describe(event)


class Farm:
    """
    The whole farm: a :class:`Master` and its :class:`Slave` records, plus
    counters of bad frames and a bounded log of recent messages.
    """

    def __init__(self):
        self.master = Master()
        #: the master's clock, shared by every slave record
        self.clock = self.master.clock
        #: slave id -> :class:`Slave`
        self.slaves = {}
        #: frames received and frames rejected
        self.frames = 0
        self.bad_frames = 0
        self.last_bad_reason = ""
        #: slaves not listed because :data:`MAX_SLAVES` were listed already
        self.slaves_refused = 0
        #: times the link fell behind past its memory bound, and the frames
        #: it dropped unread then (see :class:`~piw_monitor.protocol.Overflow`)
        self.overflows = 0
        self.frames_dropped = 0
        #: recent messages: (monitor time, slave id or None, text)
        self.log = deque(maxlen=LOG_SIZE)
        #: the thresholds each STATS is judged on (see :meth:`set_thresholds`)
        self.thresholds = Thresholds()
        # ids of listed slaves under pressure: the header counts them in O(1)
        self._pressed = set()
        #: how many entries were ever added to the log
        self.logged = 0
        # the live slaves in their sorted order, and their sort keys
        self._rows = []
        self._keys = []
        self._changes = Changes(master=True, order=True)
        self._terminating = set()
        # the next master HELLO answers a HELLO of ours on a new connection
        # (or after a bound was hit): its replay is the whole picture
        self._fresh = True
        # slaves known before such a replay, by id: one replayed unchanged
        # (same first-seen time) comes back with all that was known of it
        self._previous = {}
        # a fresh replay is wanted (see take_resync), and when (monitor
        # time) one was last wanted
        self._resync = ""
        self._resync_at = None
        # the latest master timestamp in the current batch of events
        self._batch_max = None
        self._handlers = {
            p.MasterHello: self._master_hello,
            p.MasterStats: self._master_stats,
            p.SlaveHello: self._slave_hello,
            p.SlaveStats: self._slave_stats,
            p.SlaveAck: self._slave_ack,
            p.SlaveSleep: self._slave_sleep,
            p.SlaveBuild: self._slave_build,
            p.SlaveCont: self._slave_cont,
            p.SlaveSend: self._slave_send,
            p.SlaveDone: self._slave_done,
            p.SlaveDie: self._slave_die,
        }
        self._link_handlers = {
            p.BadFrame: self._bad_frame,
            p.LinkUp: self._link_up,
            p.LinkDown: self._link_down,
            p.Overflow: self._overflow,
            p.Unreachable: self._unreachable,
            p.TunnelUp: self._tunnel_up,
            p.TunnelDown: self._tunnel_down,
            p.CommandSent: self._command_sent,
            p.LinkProblem: self._link_problem,
        }

    # ------------------------------------------------------------ queries

    def rows(self):
        """
        The live slaves (a list of :class:`Slave`), ordered by ABI, then
        label, then id. The list is the model's own, kept in order as
        slaves come and go: read it, do not change it.
        """
        return self._rows

    def counts(self, now):
        """A mapping of each state in :data:`STATES` to how many slaves are in it."""
        result = dict.fromkeys(STATES, 0)
        for slave in self._rows:
            result[slave.state(now)] += 1
        return result

    def under_pressure(self):
        """How many listed slaves are under pressure (O(1))."""
        return len(self._pressed)

    def pressure_counts(self):
        """
        How many listed slaves are under pressure for each word of
        :data:`~piw_monitor.pressure.FLAGS` (a slave may count under more
        than one).
        """
        counts = dict.fromkeys(("memory", "disk", "load", "hot"), 0)
        for sid in self._pressed:
            for word in self.slaves[sid].pressure:
                counts[word] += 1
        return counts

    def set_thresholds(self, thresholds):
        """
        Judge every slave again on *thresholds* (a
        :class:`~piw_monitor.pressure.Thresholds`), and every STATS after.
        """
        self.thresholds = thresholds
        for slave in self.slaves.values():
            self._judge(slave)
        self._changes.master = True
        self._changes.order = True

    def take_changes(self):
        """Return what changed since the last call, and start afresh."""
        changes, self._changes = self._changes, Changes()
        return changes

    def take_resync(self):
        """
        Why a fresh replay should be asked for (a bound was hit), or ""; the
        reason is given once. The caller asks the master (its link's HELLO).
        """
        reason, self._resync = self._resync, ""
        if reason:
            self._fresh = True
        return reason

    # ------------------------------------------------------------ updates

    def apply(self, event, now):
        """Update the model from one *event* received at *now*."""
        self.apply_all((event,), now)

    def apply_all(self, events, now):
        """
        Update the model from *events* (an iterable of
        :class:`~piw_monitor.protocol.Event`), all received at monitor time
        *now* (an aware datetime, UTC), in their order. Raises
        :exc:`TypeError` for anything that is not an event (the events
        before it are applied).
        """
        handlers = self._handlers
        master = self.master
        for event in events:
            handler = handlers.get(type(event))
            if handler is None:
                handler = self._link_handlers.get(type(event))
                if handler is None:
                    raise TypeError(f"not an event: {event!r}")
                handler(event, now)
                continue
            self.frames += 1
            last = master.last_seen
            # a batch of events comes with one *now*: compare it once
            if last is not now:
                if last is None:
                    master.first_seen = now
                    self._changes.master = True
                elif now - last > MASTER_QUIET:
                    # the header goes from quiet or silent to connected
                    self._changes.master = True
                    self.clock.heard(last, now)
                master.last_seen = now
                self._batch_max = None
            # the master's clock: the latest of its timestamps in the batch
            try:
                stamp = event.timestamp
            except AttributeError:  # the master's HELLO: when it started
                stamp = event.started
            batch_max = self._batch_max
            if batch_max is None or stamp > batch_max:
                self._batch_max = stamp
                self.clock.observe(stamp, now)
            handler(event, now)

    def tick(self, now):
        """
        Let time pass: remove slaves that have been terminating for longer
        than :data:`TERMINATED_LINGER`. Returns True if any row went.
        """
        gone = [
            sid for sid in self._terminating
            if now - self.slaves[sid].terminated_at > TERMINATED_LINGER
        ]
        for sid in gone:
            self._changes.left.append(self.slaves[sid])
            self._remove(sid)
        return bool(gone)

    def note_kill_sent(self, slave_id):
        """A KILL was sent for *slave_id*: mark it as stopping."""
        slave = self.slaves.get(slave_id)
        if slave is not None and slave.task != "terminating":
            slave.stopping = True
            self._changes.slaves.add(slave_id)

    # ------------------------------------------------------------ internals

    def _cancel_kill(self, slave_id):
        slave = self.slaves.get(slave_id)
        if slave is not None and slave.stopping:
            slave.stopping = False
            self._changes.slaves.add(slave_id)

    def _place(self, slave):
        """Put *slave* in the rows, in its order."""
        key = slave.row_key = slave.sort_key()
        index = bisect.bisect_left(self._keys, key)
        self._keys.insert(index, key)
        self._rows.insert(index, slave)
        self._changes.order = True

    def _unplace(self, slave):
        """Take *slave* out of the rows."""
        index = bisect.bisect_left(self._keys, slave.row_key)
        del self._keys[index]
        del self._rows[index]
        slave.row_key = None
        self._changes.order = True

    def _remove(self, sid):
        self._unplace(self.slaves.pop(sid))
        self._terminating.discard(sid)
        if sid in self._pressed:
            self._pressed.discard(sid)
            self._changes.master = True
        self._changes.slaves.add(sid)

    def _add(self, slave):
        self.slaves[slave.slave_id] = slave
        self._place(slave)
        if slave.pressure:
            self._pressed.add(slave.slave_id)
            self._changes.master = True

    def _judge(self, slave):
        """Judge *slave*'s latest STATS on the thresholds (O(1))."""
        stats = slave.judged = slave.stats
        words = () if stats is None else self.thresholds.judge(stats)
        if words != slave.pressure:
            slave.pressure = words
            sid = slave.slave_id
            if words:
                self._pressed.add(sid)
            else:
                self._pressed.discard(sid)
            self._changes.master = True

    def _slave(self, event, now):
        """
        The record for *event*'s slave, created if unknown; None when
        :data:`MAX_SLAVES` are listed already.
        """
        sid = event.slave_id
        slave = self.slaves.get(sid)
        if slave is None:
            if len(self.slaves) >= MAX_SLAVES:
                self._refuse_slave(sid, now)
                return None
            slave = Slave(sid, self.clock)
            slave.first_seen = event.timestamp
            slave.task_since = event.timestamp
            # met in the middle of something: when that began is unknown
            slave.task_exact = False
            self._add(slave)
        elif slave.task == "terminating" and not isinstance(
                event, (p.SlaveDie, p.SlaveHello)):
            # news from a slave we saw die: it is back (ids are not reused by
            # a running master, but a restarted one starts again at 1)
            slave.task = "idle"
            slave.terminated_at = None
            slave.expired = False
            self._terminating.discard(sid)
        if slave.last_seen is None or event.timestamp > slave.last_seen:
            slave.last_seen = event.timestamp
            slave._excused_mark = self.clock.at(now)[1]
        self._changes.slaves.add(sid)
        return slave

    def _refuse_slave(self, sid, now):
        self.slaves_refused += 1
        if self.slaves_refused == 1:
            self._changes.master = True
            # a replay goes to every monitor: a master that really has this
            # many slaves is not asked again and again
            ask = self._resync_at is None or \
                now - self._resync_at >= RESYNC_EVERY
            self._log(now, None, (
                f"more than {MAX_SLAVES} slaves: slave {sid} and any other "
                "new one are not listed" + (
                    "; asking the master for a fresh replay" if ask else "")))
            if ask:
                self._resync = f"more than {MAX_SLAVES} slaves"
                self._resync_at = now

    def _end_replay(self, slave):
        """The slave's part of a replay is over: judge its latest STATS."""
        slave.replaying = False
        last, slave.replay_last = slave.replay_last, None
        if not slave.caught_up and last is not None:
            # the report known last was not in the replay (older than its
            # hundred): the replay's newest is the latest there is
            slave.stats = last
            slave.stats_history.append(last)
        slave.caught_up = True
        if slave.stats is not slave.judged:
            self._judge(slave)

    def _log(self, now, sid, text):
        self.log.append((now, sid, text))
        self.logged += 1

    def _set_task(self, slave, task, event, now, same=None):
        """
        Apply a reply that sets *slave*'s *task*. Returns False for a
        replayed reply that says what was known already (nothing changes).
        *same* says whether it does, when the caller worked it out before
        changing the slave's record.
        """
        if slave.replaying:
            # the reply that ends the slave's part of a replay: its
            # timestamp is when the master last heard from the slave, not
            # when the task began
            self._end_replay(slave)
            if same is None:
                same = slave.task == task and _same_task(slave, event)
            if same:
                return False
            slave.task = task
            slave.task_since = event.timestamp
            slave.task_exact = False
        elif slave.task != task:
            slave.task = task
            slave.task_since = event.timestamp
            slave.task_exact = True
        text = _describe(event)
        slave.history.append((event.timestamp, text))
        self._log(now, slave.slave_id, text)
        return True

    def _master_hello(self, ev, now):
        m = self.master
        # a different start time: the master was restarted, and the new one
        # knows nothing of the old one's KILLs, slave ids or clock
        same_run = m.started is None or ev.started == m.started
        fresh = self._fresh or not same_run
        self._fresh = False
        if fresh:
            self.slaves_refused = 0
        if not same_run:
            m.stats = None
            m.stats_history.clear()
            # a new run starts unpaused, whatever the old one was
            if m.paused:
                m.paused = False
                self.clock.pause_ended(now)
            m.paused_since = None
        m.started = ev.started
        m.label = ev.label
        m.os_name = ev.os_name
        m.os_version = ev.os_version
        m.board_revision = ev.board_revision
        m.board_serial = ev.board_serial
        m.replays += 1
        m.hello_link_up = m.link_ups
        m.hello_at = now
        m.replayed_slaves = 0
        self._changes.master = True
        if fresh:
            # the replay we asked for on a new connection is the whole
            # picture: slaves not in it have gone. Those of the same run are
            # kept aside, to come back with all that was known of them if
            # the replay shows them unchanged.
            self._previous = dict(self.slaves) if same_run else {}
            for sid in list(self.slaves):
                self._remove(sid)
            for slave in self._previous.values():
                slave.replaying = False
        self._log(now, None, f"master HELLO {ev.label}" + (
            "" if fresh else " (a replay another monitor asked for)"))

    def _master_stats(self, ev, now):
        m = self.master
        # The STATS history follows a master HELLO at once (interleaved
        # with the slaves' part of the replay); after that, STATS are taken
        # by arrival, so that one dated in the future cannot hold the
        # figures.
        replaying = m.hello_at is not None and \
            now - m.hello_at <= STATS_PERIOD
        if replaying and m.stats is not None and \
                ev.timestamp <= m.stats.timestamp:
            return  # replayed history we have seen
        m.stats = ev
        m.stats_history.append(ev)
        if m.paused and not replaying and self._after_pause(ev):
            # a paused master sends no STATS: it is running again
            self._resumed(now, "its STATS came again")
        self._changes.master = True

    def _after_pause(self, event):
        """True when *event* was sent after the master was paused."""
        since = self.master.paused_since
        return since is None or \
            event.timestamp > since + (self.clock.skew or _ZERO)

    def _slave_hello(self, ev, now):
        self.master.replayed_slaves += 1
        sid = ev.slave_id
        known = self.slaves.get(sid)
        if known is None:
            previous = self._previous.pop(sid, None)
            if previous is not None and previous.first_seen == ev.timestamp \
                    and previous.label == ev.label:
                if len(self.slaves) >= MAX_SLAVES:
                    self._refuse_slave(sid, now)
                    return
                self._add(previous)
                known = previous
        if known is not None and known.first_seen == ev.timestamp and \
                known.label == ev.label and known.task != "terminating":
            # a replay of a slave we know: it changes nothing we know
            slave = self._slave(ev, now)
            slave.replaying = True
            slave.caught_up = slave.stats is None
            return
        slave = self._slave(ev, now)
        if slave is None:
            return
        if slave.first_seen != ev.timestamp or slave.label != ev.label:
            # another slave behind a known id: nothing of the old one holds
            slave.history.clear()
            slave.stats = None
            slave.stats_history.clear()
            self._judge(slave)
            slave.stopping = False
        slave.first_seen = ev.timestamp
        slave.build_timeout = ev.build_timeout
        slave.set_busy_timeout(ev.busy_timeout)
        slave.py_version = ev.py_version
        slave.abi = ev.abi
        slave.platform = ev.platform
        slave.label = ev.label
        slave.os_name = ev.os_name
        slave.os_version = ev.os_version
        slave.board_revision = ev.board_revision
        slave.board_serial = ev.board_serial
        if slave.task == "terminating":
            slave.terminated_at = None
            slave.expired = False
            self._terminating.discard(slave.slave_id)
        slave.task = "idle"
        slave.task_since = ev.timestamp
        # a live HELLO is followed by ACK; a replayed one by its STATS and
        # the last reply, which says what it is doing (since an unknown time)
        slave.replaying = True
        slave.task_exact = False
        if slave.sort_key() != slave.row_key:
            self._unplace(slave)
            self._place(slave)
        text = _describe(ev)
        slave.history.append((ev.timestamp, text))
        self._log(now, slave.slave_id, text)

    def _slave_stats(self, ev, now):
        slave = self._slave(ev, now)
        if slave is None:
            return
        # by arrival, so that one STATS dated in the future cannot hold the
        # figures: only a replay's history up to the report known last is
        # passed over (found by its own time, not by comparing times: a
        # slave whose clock was set back sends earlier times later)
        if slave.replaying and not slave.caught_up:
            if ev.stats_timestamp == slave.stats.stats_timestamp:
                slave.caught_up = True
            slave.replay_last = ev
            return
        slave.stats = ev
        slave.stats_history.append(ev)
        if not slave.replaying:
            self._judge(slave)
        # in a replay, the slave is judged once its part is over (a
        # hundred STATS each): see _set_task

    def _slave_ack(self, ev, now):
        slave = self._slave(ev, now)
        if slave is None:
            return
        slave.index_url = ev.index_url
        if slave.replaying:
            # a live HELLO: it has been idle since then, exactly
            self._end_replay(slave)
            slave.task_exact = True
        slave.history.append((ev.timestamp, _describe(ev)))

    def _live_reply(self, slave):
        """True for a reply the master just sent (not a replayed one)."""
        return not slave.replaying

    def _slave_sleep(self, ev, now):
        slave = self._slave(ev, now)
        if slave is None:
            return
        live = self._live_reply(slave)
        self._set_task(slave, "idle", ev, now)
        slave.paused = ev.paused
        if not live:
            return  # a replayed SLEEP says nothing of the master now
        m = self.master
        if ev.paused:
            if not m.paused:
                m.paused = True
                m.paused_since = now
                self.clock.pause_began(now)
                self._changes.master = True
                self._log(now, None, "the master is paused (a live SLEEP "
                          f"to slave {slave.slave_id} says so)")
        elif m.paused and self._after_pause(ev):
            self._resumed(now, f"a live SLEEP (no work) to slave "
                               f"{slave.slave_id}")

    def _resumed(self, now, why):
        m = self.master
        m.paused = False
        self.clock.pause_ended(now)
        self._changes.master = True
        self._log(now, None, f"the master is running again ({why})")

    def _slave_build(self, ev, now):
        slave = self._slave(ev, now)
        if slave is None:
            return
        live = self._live_reply(slave)
        # worked out before the record changes: a replay after an outage
        # may bring another build than the one known
        same = slave.task == "building" and _same_task(slave, ev)
        if live or not same:
            slave.package = ev.package
            slave.version = ev.version
        if live:
            slave.build_started = ev.timestamp
            slave.task = "idle"  # a new build always starts a new task
        if self._set_task(slave, "building", ev, now, same) and not live:
            slave.build_started = None
        slave.paused = False
        if live and self.master.paused and self._after_pause(ev):
            # a live build proves the master hands out work again
            self._resumed(now, f"a build for slave {slave.slave_id}")

    def _slave_cont(self, ev, now):
        slave = self._slave(ev, now)
        if slave is None:
            return
        if slave.task == "idle" or slave.replaying:
            self._set_task(slave, "building", ev, now)

    def _slave_send(self, ev, now):
        slave = self._slave(ev, now)
        if slave is None:
            return
        if self._set_task(slave, "sending", ev, now):
            slave.filename = ev.filename

    def _slave_done(self, ev, now):
        slave = self._slave(ev, now)
        if slave is None:
            return
        self._set_task(slave, "cleaning", ev, now)

    def _slave_die(self, ev, now):
        slave = self._slave(ev, now)
        if slave is None:
            return
        self._end_replay(slave)
        if slave.task != "terminating":
            slave.terminated_at = now
            slave.expired = ev.expired
            slave.stopping = False
            self._terminating.add(slave.slave_id)
        self._set_task(slave, "terminating", ev, now)

    def _bad_frame(self, ev, now):
        self.bad_frames += 1
        self.last_bad_reason = ev.reason
        self._changes.master = True
        self._log(now, None, f"bad frame: {ev.reason}")

    def _overflow(self, ev, now):
        self.overflows += 1
        self.frames_dropped += ev.dropped
        # what was dropped is lost: the next replay is the whole picture
        self._fresh = True
        self._changes.master = True
        self._log(now, None, (
            f"fell behind the master: {ev.dropped} frames dropped unread "
            f"at {ev.memory // 2 ** 20} MB; " + (
                "asked the master for a fresh replay" if ev.asked else
                "the list is incomplete until the master replays")))

    def _link_up(self, ev, now):
        m = self.master
        m.connected = True
        m.lost_at = None
        m.replay_in = ev.replay_in
        m.link_ups += 1
        # our HELLO on this connection will bring the whole picture
        self._fresh = True
        m.trouble = ""
        m.trouble_fatal = False
        m.trouble_retry = None
        m.problem = None
        self._changes.master = True
        self._log(now, None, "connected to the master" + (
            f"; asking for its replay in {ev.replay_in:.0f} s"
            if ev.replay_in else ""))

    def _link_down(self, ev, now):
        m = self.master
        m.connected = False
        m.lost_at = now
        m.broken_replays = ev.broken_replays
        self._changes.master = True
        # every row shows its figures as they were when the master was last
        # heard
        self._changes.order = True
        why = [ev.reason] if ev.reason else []
        if ev.broken_replays:
            why.append(f"{ev.broken_replays} replays in a row broke it")
        self._log(now, None, "connection to the master lost" + (
            f" ({'; '.join(why)})" if why else ""))

    def _unreachable(self, ev, now):
        m = self.master
        if not m.connected:
            m.trouble = ev.reason
            m.trouble_fatal = False
            m.trouble_retry = None
            self._changes.master = True
        self._log(now, None, f"master unreachable: {ev.reason}")

    def _tunnel_up(self, ev, now):
        m = self.master
        m.tunnel = "up"
        m.trouble = ""
        m.trouble_fatal = False
        m.trouble_retry = None
        self._changes.master = True
        self._log(now, None, f"SSH tunnel to {ev.destination} up")

    def _tunnel_down(self, ev, now):
        m = self.master
        m.tunnel = "down"
        if ev.advice and ev.fatal:
            # what to do first: the status line is cut at its end
            m.trouble = f"{ev.advice} (ssh: {ev.reason})"
        elif ev.advice:
            m.trouble = (f"SSH tunnel to {ev.destination} down: {ev.reason} "
                         f"({ev.advice})")
        else:
            m.trouble = f"SSH tunnel to {ev.destination} down: {ev.reason}"
        m.trouble_fatal = ev.fatal
        m.trouble_retry = ev.retry_in
        self._changes.master = True
        self._log(now, None, f"{m.trouble}; trying again in "
                  f"{ev.retry_in:.0f} s")

    def _link_problem(self, ev, now):
        m = self.master
        m.problem = ev if ev.cause else None
        self._changes.master = True
        self._log(now, None, f"cannot reach the master: {ev.describe()}"
                  if ev.cause else "the cause found before is gone; still "
                  "waiting for the master")

    def _command_sent(self, ev, now):
        m = self.master
        if ev.message == "SLEEP" and ev.data is None:
            if not m.paused:
                m.paused = True
                m.paused_since = now
                self.clock.pause_began(now)
            self._changes.master = True
        elif ev.message == "WAKE" and ev.data is None:
            if m.paused:
                m.paused = False
                self.clock.pause_ended(now)
            self._changes.master = True
            # WAKE also cancels a pending KILL (for every slave with None)
            for sid in self.slaves:
                self._cancel_kill(sid)
        elif ev.message == "WAKE":
            self._cancel_kill(ev.data)
        elif ev.message == "KILL":
            if ev.data is None:
                for sid in self.slaves:
                    self.note_kill_sent(sid)
            else:
                self.note_kill_sent(ev.data)
        self._log(now, ev.data if isinstance(ev.data, int) else None,
                  f"sent {ev.message}"
                  + ("" if ev.data is p.NO_DATA else
                     " to all" if ev.data is None else f" to {ev.data}"))


def _same_task(slave, event):
    """True when a replayed reply *event* says what *slave* was doing."""
    if isinstance(event, p.SlaveBuild):
        return (slave.package, slave.version) == (event.package,
                                                  event.version)
    if isinstance(event, p.SlaveSend):
        return slave.filename == event.filename
    return True
