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

The master sends no "end of replay" marker: the replay counts as complete
once a master HELLO has arrived and the stream has then been quiet for
:data:`REPLAY_QUIET` seconds.
"""

from __future__ import annotations

import json
import select
import sys
import time

from .model import STATES, Farm
from .protocol import MasterHello

__all__ = [
    "snapshot", "master_json", "slave_json", "run_once", "run_stream",
    "run_check", "judge", "REPLAY_QUIET", "OK", "WARNING", "CRITICAL",
    "UNKNOWN",
]

#: Quiet time after the master's HELLO that marks the end of its replay.
REPLAY_QUIET = 0.3

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATUS_WORDS = ("OK", "WARNING", "CRITICAL", "UNKNOWN")


def _iso(value):
    return None if value is None else value.isoformat()


def _seconds(value):
    return None if value is None else round(value.total_seconds(), 3)


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
            "disk_size": stats.disk_size,
            "disk_free": stats.disk_free,
            "mem_size": stats.mem_size,
            "mem_free": stats.mem_free,
            "swap_size": stats.swap_size,
            "swap_free": stats.swap_free,
            "load_average": stats.load_average,
            "cpu_temp": stats.cpu_temp,
        }
    return result


def slave_json(slave, now):
    """One slave's part of a snapshot, as plain JSON data."""
    return {
        "id": slave.slave_id,
        "label": slave.label,
        "abi": slave.abi,
        "python": slave.py_version,
        "platform": slave.platform,
        "os": f"{slave.os_name} {slave.os_version}".strip(),
        "state": slave.state(now),
        "task": slave.task_text(),
        "package": slave.package if slave.task == "building" else None,
        "version": slave.version if slave.task == "building" else None,
        "first_seen": _iso(slave.first_seen),
        "last_seen": _iso(slave.last_seen),
        "up_time": _seconds(slave.up_time(now)),
        "task_time": _seconds(slave.task_time(now)),
        "busy_timeout": _seconds(slave.busy_timeout),
        "build_timeout": _seconds(slave.build_timeout),
        "stopping": slave.stopping,
    }


def snapshot(farm, now, address=None):
    """The whole farm at *now*, as plain JSON data."""
    return {
        "time": now.isoformat(),
        "master": master_json(farm, now, address),
        "slaves": [slave_json(s, now) for s in farm.rows()],
        "counts": farm.counts(now),
        "frames": farm.frames,
        "bad_frames": farm.bad_frames,
        "last_bad_reason": farm.last_bad_reason or None,
    }


class _Feeder:
    """Pumps a link into a farm without a terminal."""

    def __init__(self, link, clock):
        self.link = link
        self.clock = clock
        self.farm = Farm()
        self.hello_at = None
        self.last_frame_at = None

    def pump(self, timeout):
        """Wait up to *timeout* seconds for frames; apply them."""
        fds = self.link.fds()
        if not self.link.pending:
            select.select(fds, [], [], max(timeout, 0))
        events = self.link.drain(limit=5000)
        if events:
            now = self.clock()
            mono = time.monotonic()
            for event in events:
                self.farm.apply(event, now)
                if isinstance(event, MasterHello):
                    self.hello_at = mono
            self.last_frame_at = mono
        return events

    def tick(self):
        now = self.clock()
        self.link.tick(now)
        self.farm.tick(now)

    def replay_done(self):
        return (self.hello_at is not None
                and time.monotonic() - self.last_frame_at >= REPLAY_QUIET)


def _wait_for_replay(feeder, timeout):
    deadline = time.monotonic() + timeout
    next_tick = time.monotonic() + 1
    while not feeder.replay_done():
        now = time.monotonic()
        if now >= deadline:
            return False
        if now >= next_tick:
            feeder.tick()
            next_tick = now + 1
        feeder.pump(min(0.1, deadline - now))
    return True


def run_once(link, clock, timeout, out=sys.stdout):
    """
    ``--once --json``: print one snapshot once the replay is complete.
    Returns 0, or 3 when the master did not answer within *timeout*.
    """
    feeder = _Feeder(link, clock)
    complete = _wait_for_replay(feeder, timeout)
    data = snapshot(feeder.farm, clock(), link.status_queue)
    data["complete"] = complete
    out.write(json.dumps(data) + "\n")
    out.flush()
    if not complete:
        print(f"piw-monitor: no answer from the master at "
              f"{link.status_queue} within {timeout:g} s", file=sys.stderr)
        return UNKNOWN
    return OK


def run_stream(link, clock, timeout=None, out=sys.stdout):
    """
    ``--json``: one JSON object per change until interrupted (or until
    *timeout* seconds have passed, when given). Objects have a ``kind``:
    ``master`` (the master's state), ``slave`` (one slave's state),
    ``removed`` (a slave left the list) or ``bad-frame``.
    """
    feeder = _Feeder(link, clock)
    farm = feeder.farm
    deadline = None if timeout is None else time.monotonic() + timeout
    next_tick = time.monotonic() + 1
    bad_seen = 0
    last_master = None
    try:
        while deadline is None or time.monotonic() < deadline:
            feeder.pump(0.2)
            if time.monotonic() >= next_tick:
                feeder.tick()
                next_tick = time.monotonic() + 1
            changes = farm.take_changes()
            now = clock()
            lines = []
            master = master_json(farm, now, link.status_queue)
            if master != last_master and (changes.master or
                                          master["state"] != (last_master or {}).get("state")):
                lines.append({"kind": "master", "time": now.isoformat(),
                              **master})
                last_master = master
            for sid in sorted(changes.slaves):
                slave = farm.slaves.get(sid)
                if slave is None:
                    lines.append({"kind": "removed", "time": now.isoformat(),
                                  "id": sid})
                else:
                    lines.append({"kind": "slave", "time": now.isoformat(),
                                  **slave_json(slave, now)})
            if farm.bad_frames != bad_seen:
                lines.append({"kind": "bad-frame", "time": now.isoformat(),
                              "count": farm.bad_frames,
                              "reason": farm.last_bad_reason})
                bad_seen = farm.bad_frames
            if lines:
                out.write("".join(json.dumps(line) + "\n" for line in lines))
                out.flush()
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): that is the end
        pass
    return OK


def judge(farm, now, *, warn_silent=1, crit_silent=3, warn_disk=20.0,
          crit_disk=10.0, heard=True):
    """
    The probe's verdict: (status, summary, performance data). Disk
    thresholds are in percent free of the master's disk.
    """
    m = farm.master
    counts = farm.counts(now) if heard else dict.fromkeys(STATES, 0)
    slaves = sum(counts.values())
    silent = counts["silent"]
    perf = [f"slaves={slaves}", f"silent={silent};{warn_silent};{crit_silent}",
            f"building={counts['building']}", f"bad_frames={farm.bad_frames}"]
    if not heard:
        return CRITICAL, "master not reachable", perf
    status = OK
    reasons = []
    state = m.state(now)
    if state in ("silent", "lost"):
        status = CRITICAL
        reasons.append(f"master {state}")
    elif state == "paused":
        status = max(status, WARNING)
        reasons.append("master paused")
    if silent >= crit_silent:
        status = CRITICAL
        reasons.append(f"{silent} silent slaves")
    elif silent >= warn_silent:
        status = max(status, WARNING)
        reasons.append(f"{silent} silent slave{'s' if silent != 1 else ''}")
    stats = m.stats
    disk = ""
    if stats is not None and stats.disk_size:
        pct = 100.0 * stats.disk_free / stats.disk_size
        perf.append(f"disk_free={pct:.1f}%;{warn_disk:g};{crit_disk:g};0;100")
        disk = f", disk free {pct:.0f}%"
        if pct <= crit_disk:
            status = CRITICAL
            reasons.append(f"disk free {pct:.1f}%")
        elif pct <= warn_disk:
            status = max(status, WARNING)
            reasons.append(f"disk free {pct:.1f}%")
    label = m.label or "master"
    summary = (f"{label} {'paused' if m.paused else 'running'}, "
               f"{slaves} slaves ({silent} silent){disk}")
    if reasons:
        summary = "; ".join(reasons) + " - " + summary
    return status, summary, perf


def run_check(link, clock, timeout, out=sys.stdout, **thresholds):
    """``--check``: print the probe's line and return its exit status."""
    try:
        feeder = _Feeder(link, clock)
        heard = _wait_for_replay(feeder, timeout)
        status, summary, perf = judge(
            feeder.farm, clock(), heard=heard, **thresholds)
        if not heard and feeder.farm.master.known:
            status, summary = UNKNOWN, "replay from the master incomplete"
    except Exception as exc:  # a probe must always answer with a status
        status, summary, perf = UNKNOWN, f"probe failed: {exc}", []
    out.write(f"{STATUS_WORDS[status]} - piwheels {summary}"
              + (" | " + " ".join(perf) if perf else "") + "\n")
    out.flush()
    return status
