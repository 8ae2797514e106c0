"""
The farm model: what a monitor knows about a piwheels master and its slaves.

The model is plain Python. It is changed only by :meth:`Farm.apply`, which
takes one event (from :mod:`piw_monitor.protocol`) and the current time, and
by :meth:`Farm.tick`, which takes the time alone. It never reads a clock
itself, so tests control time completely. Each event costs O(1) however many
slaves there are (a new slave is put in its place in the sorted rows by a
binary search), and asking for the rows costs nothing: a refresh during a
replay of thousands of slaves never sorts them.

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

__all__ = [
    "Farm", "Master", "Slave", "Changes", "STATES", "MASTER_STATES",
    "STATS_PERIOD", "MASTER_SILENCE", "TERMINATED_LINGER",
]

#: A slave's states, in the order a screen would list them.
STATES = (
    "idle", "building", "sending", "cleaning", "late", "silent",
    "terminating",
)

#: The master's states.
MASTER_STATES = ("waiting", "connected", "paused", "silent", "lost")

#: How often a running master sends STATS (its only heartbeat).
STATS_PERIOD = dt.timedelta(seconds=10)

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


@dataclass(slots=True)
class Changes:
    """What changed since the last :meth:`Farm.take_changes`."""
    #: the master's header (state, label, statistics) changed
    master: bool = False
    #: ids of slaves whose row changed (including added and removed ones)
    slaves: set = field(default_factory=set)
    #: the set of rows or their order changed
    order: bool = False

    def __bool__(self):
        return self.master or self.order or bool(self.slaves)


class Master:
    """What the monitor knows about the master."""

    __slots__ = (
        "label", "started", "os_name", "os_version", "board_revision",
        "board_serial", "first_seen", "last_seen", "stats", "paused",
        "paused_since", "connected", "lost_at", "broken_replays",
        "replay_in", "replays", "link_ups", "hello_link_up", "problem",
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
        #: the latest :class:`~piw_monitor.protocol.MasterStats`
        self.stats = None
        #: the master is known to be paused
        self.paused = False
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

    def state(self, now):
        """
        One of :data:`MASTER_STATES`: *waiting* (never heard from), *connected*
        (heard recently), *paused* (known paused: it sends no STATS then),
        *silent* (running but quiet for longer than :data:`MASTER_SILENCE`),
        *lost* (the connection went away).
        """
        if self.last_seen is None and not self.connected:
            return "lost" if self.lost_at is not None else "waiting"
        if not self.connected and self.lost_at is not None:
            return "lost"
        if self.paused:
            return "paused"
        if self.last_seen is None:
            return "waiting"
        if now - self.last_seen > MASTER_SILENCE:
            return "silent"
        return "connected"


class Slave:
    """What the monitor knows about one build slave."""

    __slots__ = (
        "slave_id", "label", "abi", "py_version", "platform", "os_name",
        "os_version", "board_revision", "board_serial", "build_timeout",
        "busy_timeout", "first_seen", "last_seen", "task", "task_since",
        "package", "version", "filename", "build_started", "paused", "stats",
        "stopping", "terminated_at", "expired", "history", "index_url",
        "row_key", "_late_after", "_silent_after",
    )

    def __init__(self, slave_id):
        self.slave_id = slave_id
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
        #: what it is doing: idle, building, sending, cleaning or terminating
        self.task = "idle"
        #: when that task began (the master's clock)
        self.task_since = None
        self.package = ""
        self.version = ""
        self.filename = ""
        self.build_started = None
        #: the master told it to sleep because the master is paused
        self.paused = False
        #: its latest :class:`~piw_monitor.protocol.SlaveStats`
        self.stats = None
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
        """How long since the master last heard from this slave."""
        if self.last_seen is None:
            return dt.timedelta(0)
        return max(now - self.last_seen, dt.timedelta(0))

    def state(self, now):
        """
        One of :data:`STATES`. A slave silent for more than half its busy
        timeout is *late*, past its busy timeout *silent*.
        """
        if self.task == "terminating":
            return "terminating"
        # called for every slave on every refresh: one subtraction, and the
        # thresholds worked out once, when the busy timeout came
        last = self.last_seen
        if last is None:
            return self.task
        quiet = now - last
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
        elif self.paused:
            text = "Waiting for jobs (paused)"
        else:
            text = "Waiting for jobs"
        if self.stopping:
            # first, so that a narrow column never cuts it off
            text = STOPPING + text
        return text

    def up_time(self, now):
        """How long since the master first saw the slave."""
        if self.first_seen is None:
            return None
        return max(now - self.first_seen, dt.timedelta(0))

    def task_time(self, now):
        """How long the slave has been at its current task."""
        if self.task_since is None:
            return None
        return max(now - self.task_since, dt.timedelta(0))


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


def _describe(event):
    """A one-line description of a slave event, for histories and the log."""
    if isinstance(event, p.SlaveHello):
        return (f"HELLO {event.label} {event.abi} {event.platform} "
                f"Python {event.py_version}")
    if isinstance(event, p.SlaveBuild):
        return f"BUILD {event.package} {event.version}"
    if isinstance(event, p.SlaveSend):
        return f"SEND {event.filename}"
    if isinstance(event, p.SlaveSleep):
        return "SLEEP (paused)" if event.paused else "SLEEP (no work)"
    if isinstance(event, p.SlaveDie):
        return "DIE (expired)" if event.expired else "DIE"
    if isinstance(event, p.SlaveAck):
        return f"ACK {event.assigned_id}"
    return event.message


class Farm:
    """
    The whole farm: a :class:`Master` and its :class:`Slave` records, plus
    counters of bad frames and a bounded log of recent messages.
    """

    def __init__(self):
        self.master = Master()
        #: slave id -> :class:`Slave`
        self.slaves = {}
        #: frames received and frames rejected
        self.frames = 0
        self.bad_frames = 0
        self.last_bad_reason = ""
        #: recent messages: (monitor time, slave id or None, text)
        self.log = deque(maxlen=LOG_SIZE)
        #: how many entries were ever added to the log
        self.logged = 0
        # the live slaves in their sorted order, and their sort keys
        self._rows = []
        self._keys = []
        self._changes = Changes(master=True, order=True)
        self._terminating = set()
        # ids of slaves we sent KILL for, carried across a replay
        self._stopping_carry = set()
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
            p.BadFrame: self._bad_frame,
            p.LinkUp: self._link_up,
            p.LinkDown: self._link_down,
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
        for slave in self.slaves.values():
            result[slave.state(now)] += 1
        return result

    def take_changes(self):
        """Return what changed since the last call, and start afresh."""
        changes, self._changes = self._changes, Changes()
        return changes

    # ------------------------------------------------------------ updates

    def apply(self, event, now):
        """Update the model from one *event* received at *now*."""
        handler = self._handlers.get(type(event))
        if handler is None:
            raise TypeError(f"not an event: {event!r}")
        if not isinstance(event, (p.BadFrame, p.LinkEvent)):
            self.frames += 1
            master = self.master
            if master.first_seen is None:
                master.first_seen = now
            last = master.last_seen
            # a batch of events comes with one *now*: compare it once
            if last is not now:
                if last is None or now - last > MASTER_SILENCE:
                    # the header goes from waiting or silent to connected
                    self._changes.master = True
                master.last_seen = now
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
        self._changes.slaves.add(sid)

    def _slave(self, event, now):
        """The record for *event*'s slave, created if unknown."""
        sid = event.slave_id
        slave = self.slaves.get(sid)
        if slave is None:
            slave = self.slaves[sid] = Slave(sid)
            slave.first_seen = event.timestamp
            slave.task_since = event.timestamp
            self._place(slave)
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
        self._changes.slaves.add(sid)
        return slave

    def _log(self, now, sid, text):
        self.log.append((now, sid, text))
        self.logged += 1

    def _set_task(self, slave, task, event, now):
        if slave.task != task:
            slave.task = task
            slave.task_since = event.timestamp
        text = _describe(event)
        slave.history.append((event.timestamp, text))
        self._log(now, slave.slave_id, text)

    def _master_hello(self, ev, now):
        m = self.master
        # a different start time: the master was restarted, and the new one
        # knows nothing of the old one's KILLs, slave ids or clock
        same_run = m.started is None or ev.started == m.started
        if not same_run:
            m.stats = None
            # a new run starts unpaused, whatever the old one was
            m.paused = False
            m.paused_since = None
        m.started = ev.started
        m.label = ev.label
        m.os_name = ev.os_name
        m.os_version = ev.os_version
        m.board_revision = ev.board_revision
        m.board_serial = ev.board_serial
        m.replays += 1
        m.hello_link_up = m.link_ups
        self._changes.master = True
        # A master HELLO always opens a full replay of the live slaves:
        # start the picture afresh, keeping what only we know (KILLs sent).
        self._stopping_carry = {
            sid for sid, s in self.slaves.items() if s.stopping and same_run}
        for sid in list(self.slaves):
            self._remove(sid)
        self._log(now, None, f"master HELLO {ev.label}")

    def _master_stats(self, ev, now):
        m = self.master
        if m.stats is None or ev.timestamp >= m.stats.timestamp:
            m.stats = ev
            if m.paused and (m.paused_since is None
                             or ev.timestamp > m.paused_since):
                # a paused master sends no STATS: it is running again
                m.paused = False
        self._changes.master = True

    def _slave_hello(self, ev, now):
        slave = self._slave(ev, now)
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
        if slave.slave_id in self._stopping_carry:
            slave.stopping = True
        if slave.sort_key() != slave.row_key:
            self._unplace(slave)
            self._place(slave)
        text = _describe(ev)
        slave.history.append((ev.timestamp, text))
        self._log(now, slave.slave_id, text)

    def _slave_stats(self, ev, now):
        slave = self._slave(ev, now)
        if slave.stats is None or \
                ev.stats_timestamp >= slave.stats.stats_timestamp:
            slave.stats = ev

    def _slave_ack(self, ev, now):
        slave = self._slave(ev, now)
        slave.index_url = ev.index_url
        slave.history.append((ev.timestamp, _describe(ev)))

    def _slave_sleep(self, ev, now):
        slave = self._slave(ev, now)
        slave.paused = ev.paused
        self._set_task(slave, "idle", ev, now)
        m = self.master
        if ev.paused:
            if not m.paused:
                m.paused = True
                m.paused_since = ev.timestamp
                self._changes.master = True
        elif m.paused and (m.paused_since is None
                           or ev.timestamp > m.paused_since):
            m.paused = False
            self._changes.master = True

    def _slave_build(self, ev, now):
        slave = self._slave(ev, now)
        # only a slave that was told to sleep for the pause and is now given
        # a build proves a resume: a replayed BUILD may predate the pause
        resumed = slave.paused
        slave.paused = False
        slave.package = ev.package
        slave.version = ev.version
        slave.build_started = ev.timestamp
        slave.task = "idle"  # a new build always starts a new task
        self._set_task(slave, "building", ev, now)
        m = self.master
        if resumed and m.paused and (m.paused_since is None
                                     or ev.timestamp > m.paused_since):
            m.paused = False
            self._changes.master = True

    def _slave_cont(self, ev, now):
        slave = self._slave(ev, now)
        if slave.task == "idle":
            self._set_task(slave, "building", ev, now)

    def _slave_send(self, ev, now):
        slave = self._slave(ev, now)
        slave.filename = ev.filename
        self._set_task(slave, "sending", ev, now)

    def _slave_done(self, ev, now):
        slave = self._slave(ev, now)
        self._set_task(slave, "cleaning", ev, now)

    def _slave_die(self, ev, now):
        slave = self._slave(ev, now)
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

    def _link_up(self, ev, now):
        m = self.master
        m.connected = True
        m.lost_at = None
        m.replay_in = ev.replay_in
        m.link_ups += 1
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
        why = [ev.reason] if ev.reason else []
        if ev.broken_replays:
            why.append(f"{ev.broken_replays} replays in a row broke it")
        self._log(now, None, "connection to the master lost" + (
            f" ({'; '.join(why)})" if why else ""))

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
            m.paused = True
            m.paused_since = now
            self._changes.master = True
        elif ev.message == "WAKE" and ev.data is None:
            m.paused = False
            self._changes.master = True
            # WAKE also cancels a pending KILL (for every slave with None)
            for sid in self.slaves:
                self._cancel_kill(sid)
            self._stopping_carry.clear()
        elif ev.message == "WAKE":
            self._cancel_kill(ev.data)
            self._stopping_carry.discard(ev.data)
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
