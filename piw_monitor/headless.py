"""
Headless modes, for scripts and monitoring systems: no terminal, no urwid.

``--once --json``
    print one JSON snapshot of the farm once the master's replay is complete,
    then exit;
``--json``
    stream one JSON object per change (NDJSON) until interrupted;
``--check``
    a monitoring-plugin probe: one summary line beginning with the status
    word, with performance data, and the exit status 0 (OK), 1 (WARNING),
    2 (CRITICAL) or 3 (UNKNOWN).

The master sends no "end of replay" marker. The replay arrives as a burst
(as fast as the master can send it) right after the master's HELLO; the live
traffic of a farm is a trickle by comparison. The replay therefore counts as
complete once a master HELLO has arrived, no frame is known to be waiting,
and the last :data:`REPLAY_QUIET` seconds (all after the HELLO) brought at
most :data:`REPLAY_TRICKLE` frames: a farm whose live traffic never pauses
for that long is still judged complete.

Through an SSH tunnel (``--ssh``) the modes work the same; ``--once`` and
``--check`` stop waiting at once when ssh fails in a way that only the user
can cure (a refused key, an unknown host key), and say ssh's reason.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import select
import signal
import sys
import threading
import time
from collections import deque

from .model import MASTER_QUIET, Farm
from .pressure import SERIES, Thresholds, figures, outlook
from .protocol import MasterHello, MasterStats

__all__ = [
    "snapshot", "master_json", "slave_json", "run_once", "run_stream",
    "run_check", "judge", "REPLAY_QUIET", "REPLAY_TRICKLE", "OK", "WARNING",
    "CRITICAL", "UNKNOWN",
]

#: The window, in seconds, that must pass after the master's HELLO with at
#: most :data:`REPLAY_TRICKLE` frames in it for the replay to count as complete.
REPLAY_QUIET = 0.3

#: The most frames the last :data:`REPLAY_QUIET` seconds may bring for the
#: replay to count as complete (a replay comes far faster; a live farm far
#: slower).
REPLAY_TRICKLE = 50

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATUS_WORDS = ("OK", "WARNING", "CRITICAL", "UNKNOWN")


def _iso(value):
    return None if value is None else value.isoformat()


def _seconds(value):
    return None if value is None else round(value.total_seconds(), 3)


def _round(value, digits=2):
    return None if value is None else round(value, digits)


def _levels(thresholds, values):
    return {name: LEVEL_WORDS[level]
            for name, level in thresholds.levels(values).items()}


#: The level words of the JSON (see :data:`piw_monitor.pressure.LEVELS`).
LEVEL_WORDS = ("ok", "careful", "warning", "critical")


def slave_resources(slave, thresholds):
    """
    A slave's latest figures (memory and swap used and disk free in %,
    sizes in bytes, load, temperature in °C) and their levels; None before
    its first STATS.
    """
    stats = slave.stats
    if stats is None:
        return None
    values = slave.figures or figures(stats)
    return {
        "timestamp": _iso(stats.stats_timestamp),
        "mem_size": stats.mem_size, "mem_free": stats.mem_free,
        "swap_size": stats.swap_size, "swap_free": stats.swap_free,
        "disk_size": stats.disk_size, "disk_free": stats.disk_free,
        "load_average": stats.load_average, "cpu_temp": stats.cpu_temp,
        "mem_used_pct": _round(values["memory"]),
        "swap_used_pct": _round(values["swap"]),
        "disk_free_pct": _round(values["disk"]),
        "levels": _levels(thresholds, values),
    }


def slave_history(slave):
    """
    A slave's recent STATS as series, oldest first (at most 100 points):
    ``time`` (ISO 8601, the slave's own clock), ``memory`` and ``swap``
    (used, %), ``disk_free`` (bytes), ``load``, ``temp`` (°C); null for a
    figure not known.
    """
    history = slave.stats_history
    result = {}
    for name in SERIES:
        if name == "disk":
            continue
        values = history.series(name)
        if name == "time":
            result[name] = [
                dt.datetime.fromtimestamp(v, dt.timezone.utc).isoformat()
                for v in values]
        elif name == "disk_free":
            result[name] = [None if v is None else int(v) for v in values]
        else:
            result[name] = [_round(v) for v in values]
    return result


def master_history(master):
    """
    The master's recent STATS as series, oldest first (at most 100 points):
    ``time``, ``builds_last_hour``, ``builds_pending``,
    ``downloads_last_hour``, ``disk_free`` (bytes), ``memory`` (used, %),
    ``load``, ``temp`` (°C).
    """
    history = list(master.stats_history)
    return {
        "time": [_iso(s.timestamp) for s in history],
        "builds_last_hour": [sum(s.builds_last_hour.values())
                             for s in history],
        "builds_pending": [sum(s.builds_pending.values())
                           if s.builds_pending else None for s in history],
        "downloads_last_hour": [s.downloads_last_hour for s in history],
        "disk_free": [s.disk_free if s.disk_size else None for s in history],
        "memory": [_round(figures(s)["memory"]) for s in history],
        "load": [s.load_average for s in history],
        "temp": [s.cpu_temp for s in history],
    }


def master_json(farm, now, address=None):
    """The master's part of a snapshot, as plain JSON data."""
    m = farm.master
    stats = m.stats
    result = {
        "state": m.state(now),
        "address": address,
        "label": m.label or None,
        "started": _iso(m.started),
        "last_seen": _iso(m.last_seen),
        "paused": m.paused,
        "up_time": _seconds(m.up_time(now)),
        "clock_skew": _seconds(m.skew),
        "os": f"{m.os_name} {m.os_version}".strip() or None,
        "stats": None,
    }
    if stats is not None:
        result["stats"] = {
            "timestamp": _iso(stats.timestamp),
            "packages_built": stats.packages_built,
            "builds_last_hour": dict(stats.builds_last_hour),
            "builds_time": _seconds(stats.builds_time),
            "builds_size": stats.builds_size,
            "builds_pending": dict(stats.builds_pending),
            "new_last_hour": stats.new_last_hour,
            "files_count": stats.files_count,
            "downloads_last_hour": stats.downloads_last_hour,
            "downloads_last_month": stats.downloads_last_month,
            "downloads_all": stats.downloads_all,
            # a master reports zeros before it has measured its disk
            "disk_size": stats.disk_size if m.disk_known() else None,
            "disk_free": stats.disk_free if m.disk_known() else None,
            "mem_size": stats.mem_size,
            "mem_free": stats.mem_free,
            "swap_size": stats.swap_size,
            "swap_free": stats.swap_free,
            "load_average": stats.load_average,
            "cpu_temp": stats.cpu_temp,
        }
        result["outlook"] = [
            {"abi": abi, "pending": pending, "builds_last_hour": rate,
             "empty_in": None if seconds is None else round(seconds)}
            for abi, pending, rate, seconds in outlook(
                stats.builds_pending, stats.builds_last_hour)]
    else:
        result["outlook"] = []
    result["slaves_under_pressure"] = farm.under_pressure()
    result["history"] = master_history(m)
    return result


def slave_json(slave, now, thresholds=None):
    """One slave's part of a snapshot, as plain JSON data."""
    if thresholds is None:
        thresholds = Thresholds()
    return {
        "id": slave.slave_id,
        "label": slave.label or None,
        "abi": slave.abi or None,
        "python": slave.py_version or None,
        "platform": slave.platform or None,
        "os": f"{slave.os_name} {slave.os_version}".strip() or None,
        "state": slave.state(now),
        "task": slave.task_text(),
        "package": slave.package if slave.task == "building" else None,
        "version": slave.version if slave.task == "building" else None,
        "first_seen": _iso(slave.first_seen),
        "last_seen": _iso(slave.last_seen),
        "up_time": _seconds(slave.up_time(now)),
        # a task learnt from a replay began at an unknown time: its time is
        # not known, only a lower bound
        "task_time": _seconds(slave.task_time(now))
        if slave.task_exact else None,
        "task_time_at_least": _seconds(slave.task_time(now)),
        "busy_timeout": _seconds(slave.busy_timeout),
        "build_timeout": _seconds(slave.build_timeout),
        "stopping": slave.stopping,
        "resources": slave_resources(slave, thresholds),
        "pressure": list(slave.pressure),
        "history": slave_history(slave),
    }


def snapshot(farm, now, address=None):
    """The whole farm at *now*, as plain JSON data."""
    return {
        "time": now.isoformat(),
        "master": master_json(farm, now, address),
        "slaves": [slave_json(s, now, farm.thresholds) for s in farm.rows()],
        "counts": farm.counts(now),
        "frames": farm.frames,
        "bad_frames": farm.bad_frames,
        "last_bad_reason": farm.last_bad_reason or None,
    }


class _Feeder:
    """Pumps a link into a farm without a terminal."""

    def __init__(self, link, clock, thresholds=None):
        self.link = link
        self.clock = clock
        self.farm = Farm()
        if thresholds is not None:
            self.farm.set_thresholds(thresholds)
        #: when (monotonic) the latest master HELLO was applied
        self.hello_at = None
        #: (monotonic, frames) of each batch applied since that HELLO
        self.recent = deque()
        #: a master STATS came after the replay (the master is not quiet)
        self.live_stats = False

    def pump(self, timeout):
        """Wait up to *timeout* seconds for frames; apply them."""
        fds = self.link.fds()
        if not self.link.pending:
            select.select(fds, [], [], max(timeout, 0))
        events = self.link.drain(limit=5000)
        if events:
            now = self.clock()
            after_hello = None
            for index, event in enumerate(events):
                self.farm.apply(event, now)
                if isinstance(event, MasterHello):
                    after_hello = len(events) - index
            if self.farm.take_resync():
                self.link.ask_replay()
            # stamped once applied: a slow batch must not look like quiet
            mono = time.monotonic()
            if after_hello is not None:
                self.hello_at = mono
                self.live_stats = False
                self.recent.clear()
                self.recent.append((mono, after_hello))
            elif self.hello_at is not None:
                self.recent.append((mono, len(events)))
                if mono - self.hello_at > REPLAY_QUIET and any(
                        isinstance(e, MasterStats) for e in events):
                    self.live_stats = True
        return events

    def tick(self):
        now = self.clock()
        self.link.tick(now)
        self.farm.tick(now)

    def replay_done(self):
        """See the module's description of a complete replay."""
        if self.hello_at is None or self.link.pending:
            return False
        mono = time.monotonic()
        if mono - self.hello_at < REPLAY_QUIET:
            return False
        while self.recent and self.recent[0][0] <= mono - REPLAY_QUIET:
            self.recent.popleft()
        return sum(n for _, n in self.recent) <= REPLAY_TRICKLE


def _where(link):
    """
    Where *link*'s master is, for people (with ``--ssh``, the remote queue
    and the destination); a link without ``address`` gives its status queue.
    """
    return getattr(link, "address", None) or link.status_queue


def _wait_for_replay(feeder, timeout):
    """
    Pump until the master's replay is complete: True, or False at the
    *timeout* (seconds). A replay without slaves may be a paused master's,
    which sends its slaves only once it resumes: then it also waits (up to
    the timeout) for the master's next STATS, and without one the farm is
    judged *quiet* (see :func:`judge`).
    """
    deadline = time.monotonic() + timeout
    next_tick = time.monotonic() + 1

    def until(done):
        nonlocal next_tick
        while not done():
            now = time.monotonic()
            # a refused key or an unknown host key: waiting cures nothing
            if now >= deadline or feeder.farm.master.trouble_fatal:
                return False
            if now >= next_tick:
                feeder.tick()
                next_tick = now + 1
            feeder.pump(min(0.1, deadline - now))
        return True

    if not until(feeder.replay_done):
        return False
    m = feeder.farm.master
    if not feeder.farm.slaves and not m.paused:
        until(lambda: feeder.live_stats)
    return True


def quiet_master(feeder):
    """
    True when the master replayed no slaves and has sent nothing since for
    longer than a running master ever waits between two STATS
    (:data:`~piw_monitor.model.MASTER_QUIET`): paused (a paused master holds
    its slaves' part of the replay back) or stuck. A shorter wait (a
    ``--timeout`` under 15 s) proves nothing, and says nothing.
    """
    m = feeder.farm.master
    if feeder.hello_at is None or feeder.farm.slaves or m.paused \
            or feeder.live_stats:
        return False
    return time.monotonic() - feeder.hello_at > MASTER_QUIET.total_seconds()


def _one_line(text):
    """*text* with control characters replaced, for one line of output."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _reader_gone(out):
    """
    The reader of *out* went away (``| head``): point its descriptor at
    /dev/null, so that the interpreter's last flush on the way out cannot
    fail again and print a complaint.
    """
    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def run_once(link, clock, timeout, out=None, thresholds=None):
    """
    ``--once --json``: print one snapshot once the replay is complete.
    Returns 0, or 3 when the replay was not complete within *timeout* (the
    snapshot is printed all the same, with ``"complete": false``), or 130
    when interrupted (Ctrl-C) before (nothing is printed on stdout then).
    *out* is standard output (the one of the time of the call) by default.
    """
    out = sys.stdout if out is None else out
    feeder = _Feeder(link, clock, thresholds)
    try:
        complete = _wait_for_replay(feeder, timeout)
    except KeyboardInterrupt:
        print("piw-monitor: interrupted", file=sys.stderr)
        return 130
    data = snapshot(feeder.farm, clock(), _where(link))
    data["complete"] = complete
    try:
        out.write(json.dumps(data) + "\n")
        out.flush()
    except BrokenPipeError:
        _reader_gone(out)
    if not complete:
        trouble = feeder.farm.master.trouble
        if trouble and not feeder.farm.master.connected:
            print(f"piw-monitor: {trouble}", file=sys.stderr)
            if feeder.farm.master.trouble_fatal:
                return UNKNOWN
        problem = feeder.farm.master.problem
        if feeder.hello_at is not None:
            why = "the master's replay did not settle"
        elif feeder.farm.master.known:
            why = "the master did not answer HELLO"
        else:
            why = "no answer from the master"
        print(f"piw-monitor: {why} at {_where(link)} within "
              f"{timeout:g} s" + (f": {_one_line(problem.describe())}"
                                  if problem is not None else ""),
              file=sys.stderr)
        return UNKNOWN
    return OK


def run_stream(link, clock, timeout=None, out=None, thresholds=None):
    """
    ``--json``: one JSON object per change until interrupted (SIGINT or
    SIGTERM: the line being written is finished first) or until *timeout*
    seconds have passed, when given. Objects have a ``kind``: ``master``
    (the master's state), ``slave`` (one slave's state), ``removed`` (a
    slave left the list) or ``bad-frame``. Each time the link finds a new
    reason the master cannot be reached, one line on standard error names
    it. Returns 0, also when the reader goes away (``| head``).
    """
    out = sys.stdout if out is None else out
    stop = []
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(
                signum, lambda signum, _frame: stop.append(signum))
    try:
        _stream(link, clock, timeout, out, stop, thresholds)
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): that is the end
        _reader_gone(out)
    except KeyboardInterrupt:  # before the handlers were in place
        pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return OK


def _stream(link, clock, timeout, out, stop, thresholds=None):
    feeder = _Feeder(link, clock, thresholds)
    farm = feeder.farm
    deadline = None if timeout is None else time.monotonic() + timeout
    next_tick = time.monotonic() + 1
    bad_seen = 0
    last_master = None
    # slave id -> the state last printed for it
    shown = {}
    problem = None
    while not stop and (deadline is None or time.monotonic() < deadline):
        wait = 0.2 if deadline is None else min(
            0.2, deadline - time.monotonic())
        feeder.pump(wait)
        ticked = time.monotonic() >= next_tick
        if ticked:
            feeder.tick()
            next_tick = time.monotonic() + 1
        changes = farm.take_changes()
        if farm.master.problem is not problem:
            problem = farm.master.problem
            if problem is not None:
                # for the person running it: the stream itself (stdout)
                # keeps its schema
                print("piw-monitor: cannot reach the master: "
                      f"{_one_line(problem.describe())}", file=sys.stderr,
                      flush=True)
        now = clock()
        stamp = now.isoformat()
        lines = []
        master = master_json(farm, now, _where(link))
        if master != last_master and (changes.master or master["state"] != (
                last_master or {}).get("state")):
            lines.append({"kind": "master", "time": stamp, **master})
            last_master = master
        changed = set(changes.slaves)
        if ticked:
            # time alone turns a slave late, then silent
            changed.update(sid for sid, slave in farm.slaves.items()
                           if shown.get(sid) != slave.state(now))
        for sid in sorted(changed):
            slave = farm.slaves.get(sid)
            if slave is None:
                if shown.pop(sid, None) is not None:
                    lines.append({"kind": "removed", "time": stamp,
                                  "id": sid})
            else:
                line = slave_json(slave, now, farm.thresholds)
                shown[sid] = line["state"]
                lines.append({"kind": "slave", "time": stamp, **line})
        if farm.bad_frames != bad_seen:
            lines.append({"kind": "bad-frame", "time": stamp,
                          "count": farm.bad_frames,
                          "reason": farm.last_bad_reason or None})
            bad_seen = farm.bad_frames
        if lines:
            out.write("".join(json.dumps(line) + "\n" for line in lines))
            out.flush()


def judge(farm, now, *, warn_silent=1, crit_silent=3, warn_disk=20.0,
          crit_disk=10.0, heard=True, quiet=False, warn_memory_pressure=1,
          crit_memory_pressure=3, warn_disk_pressure=1,
          crit_disk_pressure=3):
    """
    The probe's verdict on *farm* at *now*: (status, summary, performance
    data). *heard* says whether the master's replay was complete; when it
    was not, nothing is known of the farm and the verdict is CRITICAL, with
    the reason the master cannot be reached when the link found one
    (UNKNOWN when the way to the master failed in a way that only the user
    can cure, such as an SSH key that the master's host refuses: the probe
    could not look).
    WARNING and CRITICAL come from *warn_silent* and *crit_silent* silent
    slaves or more, and when the master's free disk is at most *warn_disk*
    or *crit_disk* percent. *quiet* (see :func:`quiet_master`) is a
    WARNING: the master replayed no slave and sent nothing since.
    *warn_memory_pressure* and *crit_memory_pressure* (and the same for
    disk) slaves or more under memory (disk) pressure (see
    :mod:`piw_monitor.pressure`) are a WARNING and a CRITICAL.

    The performance data's thresholds use the monitoring plugins' range
    notation, so that they mean exactly what the options mean: ``silent``
    alerts above ``warn_silent - 1`` (that is, from *warn_silent*), and
    ``disk_free`` inside ``@0:warn_disk`` (at most *warn_disk*).
    """
    m = farm.master
    if not heard:
        if m.connected:
            return CRITICAL, "master not answering", []
        if m.trouble_fatal:
            # the probe could not look: the farm may be fine
            return UNKNOWN, f"master not reachable: {m.trouble}", []
        if m.trouble:
            return CRITICAL, f"master not reachable: {m.trouble}", []
        if m.problem is not None:
            return (CRITICAL, "master not reachable: "
                    f"{_one_line(m.problem.describe())}", [])
        return CRITICAL, "master not reachable", []
    counts = farm.counts(now)
    slaves = sum(counts.values())
    silent = counts["silent"]
    perf = [f"slaves={slaves};;;0",
            f"silent={silent};{warn_silent - 1};{crit_silent - 1};0;{slaves}",
            f"building={counts['building']};;;0;{slaves}",
            f"bad_frames={farm.bad_frames};;;0"]
    status = OK
    reasons = []
    state = m.state(now)
    if state in ("silent", "lost"):
        status = CRITICAL
        reasons.append(f"master {state}")
    elif state == "paused":
        status = max(status, WARNING)
        reasons.append("master paused")
    elif quiet or state == "quiet":
        status = max(status, WARNING)
        since = m.stats.timestamp.strftime("%H:%M:%S") \
            if m.stats is not None else "its HELLO"
        reasons.append(f"master quiet since {since} (paused? its slaves "
                       "are listed when it resumes)")
    if silent >= crit_silent:
        status = CRITICAL
        reasons.append(f"{silent} silent slaves")
    elif silent >= warn_silent:
        status = max(status, WARNING)
        reasons.append(f"{silent} silent slave{'s' if silent != 1 else ''}")
    pressure = farm.pressure_counts()
    for kind, warn, crit in (
            ("memory", warn_memory_pressure, crit_memory_pressure),
            ("disk", warn_disk_pressure, crit_disk_pressure)):
        n = pressure[kind]
        perf.append(f"{kind}_pressure={n};{warn - 1};{crit - 1};0;{slaves}")
        words = (f"{n} slave{'s' if n != 1 else ''} under {kind} "
                 "pressure")
        if n >= crit:
            status = CRITICAL
            reasons.append(words)
        elif n >= warn:
            status = max(status, WARNING)
            reasons.append(words)
    stats = m.stats
    disk = ""
    if stats is not None and m.disk_known():
        pct = 100.0 * stats.disk_free / stats.disk_size
        perf.append(f"disk_free={pct:.2f}%;@{warn_disk:g};@{crit_disk:g};0;100")
        disk = f", disk free {pct:.0f}%"
        if pct <= crit_disk:
            status = CRITICAL
            reasons.append(f"disk free {pct:.1f}%")
        elif pct <= warn_disk:
            status = max(status, WARNING)
            reasons.append(f"disk free {pct:.1f}%")
    under = farm.under_pressure()
    pressed = f", {under} under pressure" if under else ""
    label = m.label or "master"
    word = "paused" if m.paused else "quiet" if quiet or state == "quiet" \
        else "running"
    summary = (f"{label} {word}, "
               f"{slaves} slave{'s' if slaves != 1 else ''} "
               f"({silent} silent{pressed}){disk}")
    if reasons:
        summary = "; ".join(reasons) + " - " + summary
    return status, summary, perf


def run_check(link, clock, timeout, out=None, thresholds=None,
              **limits):
    """
    ``--check``: print the probe's line (on *out*, by default standard
    output) and return its exit status (3, UNKNOWN, when the probe fails or
    is interrupted with Ctrl-C).
    """
    out = sys.stdout if out is None else out
    try:
        feeder = _Feeder(link, clock, thresholds)
        heard = _wait_for_replay(feeder, timeout)
        status, summary, perf = judge(
            feeder.farm, clock(), heard=heard,
            quiet=heard and quiet_master(feeder), **limits)
        if not heard and feeder.hello_at is not None:
            status, summary = UNKNOWN, "replay from the master incomplete"
        elif not heard and feeder.farm.master.known:
            # it speaks (STATS), but no replay came
            status, summary = UNKNOWN, "no replay from the master"
    except KeyboardInterrupt:
        status, summary, perf = UNKNOWN, "probe interrupted", []
    except Exception as exc:  # a probe must always answer with a status
        reason = " ".join(str(exc).split()) or type(exc).__name__
        status, summary, perf = UNKNOWN, f"probe failed: {reason}", []
    try:
        out.write(f"{STATUS_WORDS[status]} - piwheels {summary}"
                  + (" | " + " ".join(perf) if perf else "") + "\n")
        out.flush()
    except BrokenPipeError:
        _reader_gone(out)
    return status
