"""
The farm model: the recorded scenario replayed through it as it arrived, and
its bookkeeping (row order, change tracking, master state) on made-up events.
"""

import datetime as dt

import pytest

from piw_monitor import model
from piw_monitor import protocol as p

from .helpers import (
    RECORDING_START, control_records, recorded_time, status_records)

UTC = dt.timezone.utc
SEC = dt.timedelta(seconds=1)
STATUS = status_records()
CONTROL = control_records()


# ------------------------------------------------------------ helpers

def check_invariants(farm, now):
    rows = farm.rows()
    assert sorted(s.slave_id for s in rows) == sorted(farm.slaves)
    assert [s.sort_key() for s in rows] == sorted(s.sort_key() for s in rows)
    for slave in rows:
        assert slave.state(now) in model.STATES
        assert isinstance(slave.task_text(), str)
    counts = farm.counts(now)
    assert list(counts) == list(model.STATES)
    assert sum(counts.values()) == len(farm.slaves)
    assert farm.master.state(now) in model.MASTER_STATES


class Scenario:
    """
    The recorded session, fed to a :class:`model.Farm` frame by frame at the
    time each frame arrived; with *commands*, the recorder's control
    messages go in too (as the link reports them: CommandSent), at the time
    they were sent; with *tick*, time passes between events.
    """

    def __init__(self, commands=False, tick=True):
        self.farm = model.Farm()
        self.tick = tick
        timeline = [(r["t"], i, r) for i, r in enumerate(STATUS)]
        if commands:
            timeline += [(c["t"], None, c) for c in CONTROL]
        self.timeline = sorted(timeline, key=lambda item: item[0])
        self.pos = 0
        self.now = None
        self.index = -1     # of the last status frame applied

    def step(self):
        t, index, record = self.timeline[self.pos]
        self.pos += 1
        self.now = recorded_time(record)
        if self.tick:
            self.farm.tick(self.now)
        if index is None:
            data = record["data"] if record["has_data"] else p.NO_DATA
            self.farm.apply(p.CommandSent(record["message"], data), self.now)
        else:
            event = p.decode_status(bytes.fromhex(record["hex"]), now=self.now)
            assert not isinstance(event, p.BadFrame), event
            self.farm.apply(event, self.now)
            self.index = index
        check_invariants(self.farm, self.now)
        return index

    def to(self, index):
        """Apply everything up to and including status frame *index*."""
        assert index > self.index
        while self.step() != index:
            pass
        return self.farm

    def at(self, t):
        """Apply everything that arrived up to *t* seconds."""
        while self.pos < len(self.timeline) and self.timeline[self.pos][0] <= t:
            self.step()
        self.now = RECORDING_START + dt.timedelta(seconds=t)
        if self.tick:
            self.farm.tick(self.now)
        return self.farm

    def slave(self, sid):
        return self.farm.slaves[sid]

    def ids(self):
        return [s.slave_id for s in self.farm.rows()]


def find(name, kind=None, sid=None, data=..., start=0):
    """The index of the first recorded status frame that matches."""
    for i in range(start, len(STATUS)):
        d = STATUS[i]["decoded"]
        if d[0] != name:
            continue
        if name == "SLAVE":
            if kind is not None and d[1][2] != kind:
                continue
            if sid is not None and d[1][0] != sid:
                continue
            if data is not ... and d[1][3] != data:
                continue
        return i
    raise LookupError((name, kind, sid, data, start))


def phase(index):
    return STATUS[index]["note"].split(":")[0]


def last_of_phase(name):
    return max(i for i, r in enumerate(STATUS)
               if r["note"].split(":")[0] == name)


T0 = dt.datetime(2026, 11, 28, 3, 0, 0, tzinfo=UTC)


def at(seconds):
    return T0 + dt.timedelta(seconds=seconds)


def hello(sid, seconds=0, abi="cp311", label=None, busy=300):
    return p.SlaveHello(
        sid, at(seconds), dt.timedelta(hours=3), dt.timedelta(seconds=busy),
        "311", abi, "linux_x86_64", label or f"slave-{sid}", "Debian", "12",
        "unknown", "unknown")


def joined(sid, seconds=0, **kwargs):
    """A slave joining live: its HELLO, then the ACK that always follows."""
    return (hello(sid, seconds, **kwargs),
            p.SlaveAck(sid, at(seconds), sid, "http://127.0.0.1/simple"))


def talking(farm, start, end, step=10):
    """The master sends its STATS every *step* seconds from *start* to *end*."""
    for t in range(start, end + 1, step):
        farm.apply(master_stats(t), at(t))


def stats(sid, seconds):
    return p.SlaveStats(sid, at(seconds), at(seconds), 10, 5, 10, 5, 0, 0,
                        0.5, 40.0)


def master_stats(seconds, built=0):
    return p.MasterStats(
        at(seconds), built, {"cp311": 0}, dt.timedelta(0), 0, {}, 0, 0, 0, 0,
        0, 1, 1, 1, 1, 0, 0, 0.1, 0.0)


MASTER_HELLO = p.MasterHello(at(-600), "vm", "Debian", "12", "unknown",
                             "unknown")


def farm_with(*events, now=None):
    farm = model.Farm()
    for event in events:
        farm.apply(event, now or event_time(event))
    return farm


def event_time(event):
    return getattr(event, "timestamp", T0)


# ------------------------------------------------------------ the recording

def test_phase_1_and_2_master_before_and_after_hello():
    s = Scenario()
    farm = s.to(0)
    # STATS even before any HELLO: the master is there, its name unknown
    assert farm.master.state(s.now) == "connected"
    assert farm.master.label == ""
    assert farm.master.stats.disk_size == 0
    assert farm.master.stats.builds_pending == {}
    farm = s.to(find("HELLO"))
    assert farm.master.label == "vm"
    assert farm.master.os_name == "Debian GNU/Linux"
    assert farm.master.os_version == "12 (bookworm)"
    assert farm.master.replays == 1
    farm = s.to(last_of_phase("phase 2"))
    # the replayed STATS history does not take the latest report back
    assert farm.master.stats.timestamp.isoformat() == \
        STATUS[last_of_phase("phase 2")]["decoded"][1][0]
    assert farm.master.stats.builds_pending == {"cp311": 3, "cp39": 0}
    assert farm.rows() == []
    assert not farm.master.paused


def test_master_paused_inferred_from_sleep_true():
    s = Scenario()
    first_sleep = find("SLAVE", "SLEEP", data=True)
    first_build = find("SLAVE", "BUILD")
    s.to(first_sleep - 1)
    # phase 3: nothing on the wire says the master is paused yet
    assert s.farm.master.state(s.now) == "connected"
    while s.index < first_build - 1:
        s.step()
        assert s.farm.master.state(s.now) == "paused", s.index
        # a paused master sends no STATS: quiet is not dead
        assert s.farm.master.state(s.now + dt.timedelta(hours=1)) == "paused"
    assert phase(s.index) == "phase 6"  # ...until the WAKE takes effect
    s.to(first_build)
    assert s.farm.master.state(s.now) == "connected"
    assert not s.farm.master.paused
    for _ in range(20):
        s.step()
        assert s.farm.master.state(s.now) == "connected"


def test_master_paused_from_the_command_sent():
    s = Scenario(commands=True)
    s.at(34.9)
    assert s.farm.master.state(s.now) == "connected"
    s.at(35)  # SLEEP None sent at 34.92: no frame arrives before slave-a
    assert s.farm.master.state(s.now) == "paused"
    assert s.farm.master.state(s.now + dt.timedelta(seconds=60)) == "paused"
    s.at(84.4)
    assert s.farm.master.state(s.now) == "paused"
    s.at(84.5)  # WAKE None sent
    assert s.farm.master.state(s.now) == "connected"
    # phases 8 to 10: SLEEP 1, WAKE 1 and SKIP None change nothing visible
    while s.timeline[s.pos][0] < 200:
        s.step()
        assert s.farm.master.state(s.now) == "connected"
        for slave in s.farm.rows():
            if phase(s.index) in ("phase 8", "phase 9", "phase 10"):
                assert slave.state(s.now) == "idle"
                assert slave.task_text() == "Waiting for jobs"


def test_phase_5b_replay_both_slaves_idle_and_paused():
    s = Scenario()
    replay = find("HELLO", start=find("SLAVE"))
    assert phase(replay) == "phase 5b"
    s.to(replay - 1)
    before = {sl.slave_id: (sl.task, sl.task_since, list(sl.history), sl.stats)
              for sl in s.farm.rows()}
    farm = s.to(replay)
    # another HELLO's replay changes nothing that was known
    assert s.ids() == [1, 2]
    end = max(i for i, r in enumerate(STATUS) if r["t"] < 76)
    farm = s.to(end)
    assert farm.master.replays == 2
    assert s.ids() == [1, 2]
    assert [sl.label for sl in farm.rows()] == ["slave-a", "slave-b"]
    for slave in farm.rows():
        assert slave.abi == "cp311"
        assert slave.py_version == "311"
        assert slave.platform == "linux_x86_64"
        assert slave.busy_timeout == dt.timedelta(minutes=5)
        assert slave.state(s.now) == "idle"
        assert slave.paused
        assert slave.task_text() == "Waiting for jobs (paused)"
    assert farm.slaves[1].build_timeout == dt.timedelta(hours=3)
    assert farm.slaves[2].build_timeout == dt.timedelta(hours=1)
    # first seen from the slave HELLO, last seen from the replayed STATS
    assert farm.slaves[1].first_seen.isoformat() == \
        STATUS[find("SLAVE", "HELLO", sid=1)]["decoded"][1][1]
    assert farm.slaves[2].last_seen.isoformat() == \
        STATUS[end]["decoded"][1][1]
    # the latest of the replayed STATS is kept, not the last replayed
    assert farm.slaves[1].stats.stats_timestamp.isoformat() == \
        "2026-11-28T02:51:48.787939+00:00"
    assert farm.master.state(s.now) == "paused"
    assert farm.counts(s.now) == {
        "idle": 2, "building": 0, "sending": 0, "cleaning": 0, "late": 0,
        "silent": 0, "terminating": 0}
    after = {sl.slave_id: (sl.task, sl.task_since, list(sl.history), sl.stats)
             for sl in farm.rows()}
    assert after == before


def test_phase_6_builds():
    s = Scenario()
    s.to(find("SLAVE", "BUILD", sid=1))
    one = s.slave(1)
    assert one.state(s.now) == "building"
    assert one.task_text() == "Building demo-pkg 0.1"
    assert not one.paused
    assert one.task_since.isoformat() == \
        STATUS[s.index]["decoded"][1][1]
    s.to(find("SLAVE", "BUILD", sid=2))
    assert s.slave(2).task_text() == "Building broken-pkg 0.1"
    assert s.farm.counts(s.now)["building"] == 2
    # broken-pkg fails: DONE, then the next build at once
    s.to(find("SLAVE", "DONE", sid=2))
    assert s.slave(2).state(s.now) == "cleaning"
    assert s.slave(2).task_text() == "Cleaning up after build"
    s.to(find("SLAVE", "BUILD", sid=2, start=s.index))
    assert s.slave(2).task_text() == "Building slow-pkg 0.1"
    since = s.slave(2).task_since
    s.to(find("SLAVE", "STATS", sid=2, start=s.index + 1))
    assert s.slave(2).task_since == since  # STATS do not restart the task
    # demo-pkg succeeds: SEND, DONE, then nothing to build
    s.to(find("SLAVE", "SEND", sid=1))
    assert s.slave(1).state(s.now) == "sending"
    assert s.slave(1).task_text() == \
        "Transferring demo_pkg-0.1-py3-none-any.whl"
    s.to(find("SLAVE", "DONE", sid=1))
    assert s.slave(1).task_text() == "Cleaning up after build"
    s.to(find("SLAVE", "SLEEP", sid=1, start=s.index))
    assert s.slave(1).state(s.now) == "idle"
    assert s.slave(1).task_text() == "Waiting for jobs"
    assert s.slave(2).task_text() == "Building slow-pkg 0.1"
    counts = s.farm.counts(s.now)
    assert (counts["idle"], counts["building"]) == (1, 1)
    s.to(next(i for i in range(s.index, len(STATUS))
              if STATUS[i]["decoded"][0] == "STATS"
              and STATUS[i]["decoded"][1][1] == 1))
    st = s.farm.master.stats
    assert (st.packages_built, st.files_count, st.builds_size) == (1, 1, 1236)
    assert st.builds_last_hour == {"cp311": 2, "cp39": 0}
    assert st.builds_time == dt.timedelta(seconds=33.945084)


def test_phase_7_skip():
    s = Scenario(commands=True)
    s.at(130.7)  # SKIP 2 sent: nothing visible until slave 2's next contact
    assert s.slave(2).task_text() == "Building slow-pkg 0.1"
    done = find("SLAVE", "DONE", sid=2, start=find("SLAVE", "SEND"))
    assert phase(done) == "phase 7"
    s.to(done)
    assert s.slave(2).task_text() == "Cleaning up after build"
    s.to(find("SLAVE", "SLEEP", sid=2, start=done))
    assert s.slave(2).state(s.now) == "idle"
    assert s.slave(2).task_text() == "Waiting for jobs"


def test_phase_11_replay_with_two_slaves_running():
    s = Scenario()
    start = find("HELLO", start=last_of_phase("phase 10"))
    s.to(start)
    assert s.ids() == [1, 2]  # another HELLO's replay removes nobody
    farm = s.to(last_of_phase("phase 11"))
    assert farm.master.replays == 3
    assert s.ids() == [1, 2]
    for slave in farm.rows():
        assert slave.state(s.now) == "idle"
        assert slave.task_text() == "Waiting for jobs"
        assert len(slave.history) <= model.SLAVE_HISTORY
    assert farm.master.state(s.now) == "connected"
    assert farm.master.stats.packages_built == 1


def test_phases_12_to_15_slave_3_joins_slave_4_comes_and_goes():
    s = Scenario()
    s.to(find("SLAVE", "SLEEP", sid=3))
    assert s.ids() == [1, 2, 3]
    assert s.slave(3).label == "slave-c"
    assert s.slave(3).build_timeout == dt.timedelta(hours=2)
    s.to(find("SLAVE", "HELLO", sid=4))
    assert s.ids() == [1, 2, 3, 4]
    die = find("SLAVE", "DIE", sid=4)
    s.to(die)
    four = s.slave(4)
    assert four.state(s.now) == "terminating"
    assert four.task_text() == "Terminating"
    assert not four.expired
    # it stays listed for a while, then goes
    assert not s.farm.tick(s.now + model.TERMINATED_LINGER - SEC)
    assert 4 in s.farm.slaves
    s.farm.take_changes()
    assert s.farm.tick(s.now + model.TERMINATED_LINGER + SEC)
    assert s.ids() == [1, 2, 3]
    changes = s.farm.take_changes()
    assert changes.order and changes.slaves == {4}


def test_slave_4_removed_in_the_normal_course_of_ticks():
    s = Scenario()
    die = find("SLAVE", "DIE", sid=4)
    s.to(die)
    died = s.now
    while s.now - died <= model.TERMINATED_LINGER:
        assert 4 in s.farm.slaves
        s.step()
    assert 4 not in s.farm.slaves


def test_phase_16_kill_2_two_dies():
    s = Scenario(commands=True)
    s.at(241.2)  # KILL 2 sent
    two = s.slave(2)
    assert two.stopping
    assert two.task_text() == "[stopping] Waiting for jobs"
    assert two.state(s.now) == "idle"
    first_die = find("SLAVE", "DIE", sid=2)
    s.to(first_die - 1)
    assert s.slave(2).stopping
    s.to(first_die)
    assert s.slave(2).task_text() == "Terminating"
    assert not s.slave(2).stopping
    terminated_at = s.slave(2).terminated_at
    assert terminated_at == s.now
    s.to(first_die + 1)  # the goodbye, a millisecond later
    assert STATUS[first_die + 1]["decoded"][1][:3:2] == [2, "DIE"]
    two = s.slave(2)
    assert two.task_text() == "Terminating"
    assert two.terminated_at == terminated_at
    assert [text for _, text in two.history][-2:] == ["DIE", "DIE"]
    assert s.ids() == [1, 2, 3]
    s.at(STATUS[first_die]["t"] + 6)
    assert s.ids() == [1, 3]


def test_phase_17_slave_3_late_then_silent_then_expired():
    s = Scenario()
    s.to(find("SLAVE", "SLEEP", sid=3))
    last_seen = s.slave(3).last_seen
    busy = s.slave(3).busy_timeout
    assert busy == dt.timedelta(seconds=300)
    expiry = find("SLAVE", "DIE", sid=3)
    states = []
    while s.index < expiry - 1:
        s.step()
        quiet = s.now - last_seen
        state = s.slave(3).state(s.now)
        if quiet > busy:
            assert state == "silent", quiet
        elif quiet > busy / 2:
            assert state == "late", quiet
        else:
            assert state == "idle", quiet
        if not states or states[-1] != state:
            states.append(state)
        # slave 1 keeps polling and is never late
        assert s.slave(1).state(s.now) == "idle"
        assert s.slave(3).task_text() == "Waiting for jobs"
    assert states == ["idle", "late", "silent"]
    assert s.farm.counts(s.now)["silent"] == 1
    s.to(expiry)
    three = s.slave(3)
    assert three.state(s.now) == "terminating"
    assert three.expired
    assert three.task_text() == "Terminated by the master (silent)"
    # stamped with its last-seen time, which does not move
    assert three.last_seen == last_seen
    s.at(STATUS[expiry]["t"] + 6)
    assert s.ids() == [1]


def test_phase_18_kill_all():
    s = Scenario(commands=True)
    s.at(533.3)  # KILL None sent
    assert s.ids() == [1]
    assert s.slave(1).stopping
    assert s.slave(1).task_text().startswith("[stopping] ")
    die = find("SLAVE", "DIE", sid=1)
    s.to(die + 1)
    assert s.slave(1).task_text() == "Terminating"
    s.at(STATUS[die]["t"] + 6)
    assert s.ids() == []
    assert s.farm.master.state(s.now) == "connected"


def test_phase_19_our_replay_without_slaves_empties_the_rows():
    s = Scenario(tick=False)   # without ticks, the dead are still listed
    replay = find("HELLO", start=find("SLAVE", "DIE", sid=1))
    assert phase(replay) == "phase 19"
    s.to(replay - 1)
    assert s.ids() == [1, 2, 3, 4]
    assert {sl.state(s.now) for sl in s.farm.rows()} == {"terminating"}
    # the replay answers our HELLO on a new connection: the whole picture
    s.farm.apply(p.LinkUp(), s.now)
    s.farm.take_changes()
    s.to(replay)
    assert s.farm.rows() == []
    changes = s.farm.take_changes()
    assert changes.order and changes.master
    assert changes.slaves == {1, 2, 3, 4}
    s.to(len(STATUS) - 1)
    assert s.farm.rows() == []
    assert s.farm.master.replays == 4
    assert s.farm.master.stats.timestamp.isoformat() == \
        STATUS[-1]["decoded"][1][0]


def test_phase_20_after_quit_the_master_falls_silent():
    s = Scenario(commands=True)
    s.at(10_000)
    last = s.farm.master.last_seen
    assert last == recorded_time(STATUS[-1])
    assert s.farm.master.state(last + model.MASTER_QUIET) == "connected"
    assert s.farm.master.state(last + model.MASTER_QUIET + SEC) == "quiet"
    assert s.farm.master.state(last + model.MASTER_SILENCE) == "quiet"
    assert s.farm.master.state(last + model.MASTER_SILENCE + SEC) == "silent"


def test_whole_recording_counts():
    s = Scenario(commands=True)
    s.at(10_000)
    assert s.farm.frames == len(STATUS)
    assert s.farm.bad_frames == 0
    assert s.farm.master.first_seen == recorded_time(STATUS[0])


# ------------------------------------------------------------ rows and changes

def test_rows_ordered_by_abi_label_id():
    farm = farm_with(
        hello(9, abi="cp39", label="aaa"),
        hello(7, label="beta"), hello(5, label="alpha"),
        hello(2, label="alpha"), hello(3, abi="cp311", label="Zed"))
    key = [(s.abi, s.label, s.slave_id) for s in farm.rows()]
    # ABIs in Python version order: cp39 comes before cp311
    assert key == [("cp39", "aaa", 9), ("cp311", "Zed", 3),
                   ("cp311", "alpha", 2), ("cp311", "alpha", 5),
                   ("cp311", "beta", 7)]
    # stable: the same list as long as nothing moves
    rows = farm.rows()
    farm.apply(stats(5, 10), at(10))
    farm.apply(p.SlaveBuild(2, at(11), "x", "1"), at(11))
    assert farm.rows() is rows
    # a re-introduction with a new label moves the row
    farm.take_changes()
    farm.apply(hello(2, 12, label="omega"), at(12))
    assert farm.take_changes().order
    assert [s.slave_id for s in farm.rows()] == [9, 3, 5, 7, 2]


def test_slave_events_for_an_unknown_slave_create_a_row():
    farm = farm_with(p.SlaveBuild(9, at(0), "numpy", "2.0"))
    (row,) = farm.rows()
    assert row.slave_id == 9
    assert row.state(at(1)) == "building"
    assert row.task_text() == "Building numpy 2.0"
    assert row.label == "" and row.abi == ""
    farm.apply(stats(4, 1), at(1))
    assert [s.slave_id for s in farm.rows()] == [4, 9]
    assert farm.slaves[4].state(at(1)) == "idle"
    # a HELLO later fills it in
    farm.apply(hello(9, 2, label="pi"), at(2))
    assert farm.slaves[9].label == "pi"
    # even a DIE for a slave never seen lists it, briefly
    farm.apply(p.SlaveDie(11, at(3)), at(3))
    assert farm.slaves[11].state(at(3)) == "terminating"
    farm.tick(at(3) + model.TERMINATED_LINGER + SEC)
    assert 11 not in farm.slaves


def test_take_changes_reports_only_what_was_touched():
    farm = model.Farm()
    first = farm.take_changes()
    assert first.master and first.order  # a new farm must be drawn whole
    assert not farm.take_changes()
    farm.apply(master_stats(0), at(0))
    changes = farm.take_changes()
    assert changes.master and not changes.order and not changes.slaves
    farm.apply(hello(1, 1), at(1))
    farm.apply(hello(2, 1), at(1))
    changes = farm.take_changes()
    assert changes.order and changes.slaves == {1, 2}
    farm.apply(stats(2, 2), at(2))
    changes = farm.take_changes()
    assert changes.slaves == {2}
    assert not changes.order and not changes.master
    farm.apply(p.SlaveSleep(1, at(3), False), at(3))
    assert farm.take_changes().slaves == {1}
    farm.apply(p.BadFrame("junk", 4), at(4))
    changes = farm.take_changes()
    assert changes.master and not changes.slaves
    assert farm.bad_frames == 1 and farm.last_bad_reason == "junk"
    farm.apply(p.CommandSent("KILL", 2), at(5))
    assert farm.take_changes().slaves == {2}
    farm.apply(p.CommandSent("HELLO", p.NO_DATA), at(6))
    assert not farm.take_changes()
    assert not farm.tick(at(7))
    assert not farm.take_changes()


def test_first_frame_after_a_silence_redraws_the_header():
    farm = farm_with(master_stats(0), hello(1, 1))
    farm.take_changes()
    farm.apply(stats(1, 10), at(10))
    assert not farm.take_changes().master
    quiet = 10 + model.MASTER_SILENCE.total_seconds() + 1
    assert farm.master.state(at(quiet)) == "silent"
    farm.apply(stats(1, quiet), at(quiet))
    assert farm.take_changes().master
    assert farm.master.state(at(quiet)) == "connected"


def test_one_event_among_5000_slaves_is_o1(monkeypatch):
    farm = model.Farm()
    for sid in range(1, 5001):
        farm.apply(hello(sid, label=f"s{sid % 97:02d}"), at(0))
    rows = farm.rows()
    assert len(rows) == 5000
    farm.take_changes()
    before = {sid: (s.last_seen, s.stats, s.task) for sid, s in
              farm.slaves.items()}
    calls = []
    original = model.Slave.sort_key
    monkeypatch.setattr(model.Slave, "sort_key",
                        lambda self: calls.append(1) or original(self))
    farm.apply(stats(2500, 5), at(5))
    farm.apply(p.SlaveBuild(2500, at(6), "x", "1"), at(6))
    farm.apply(p.SlaveSleep(17, at(7), False), at(7))
    assert farm.rows() is rows
    assert not calls  # nothing sorted, no sort key even looked at
    changes = farm.take_changes()
    assert changes.slaves == {2500, 17}
    assert not changes.order
    for sid, slave in farm.slaves.items():
        if sid not in (2500, 17):
            assert (slave.last_seen, slave.stats, slave.task) == before[sid]
    assert farm.slaves[2500].stats.timestamp == at(5)
    assert farm.slaves[2500].state(at(6)) == "building"


def test_counts():
    # slaves are judged while the master talks (its STATS every 10 s)
    farm = farm_with(*sorted([
        *joined(1), *joined(2), *joined(3), *joined(4, busy=60),
        *joined(5, busy=60),
        p.SlaveBuild(2, at(1), "a", "1"), p.SlaveSend(3, at(1), "a.whl"),
        p.SlaveDone(4, at(1)), p.SlaveDie(5, at(1)),
        *joined(6, 100), *joined(7, 100),
        *(master_stats(t) for t in range(0, 401, 10))], key=event_time))
    assert farm.counts(at(40)) == {
        "idle": 3, "building": 1, "sending": 1, "cleaning": 0, "late": 1,
        "silent": 0, "terminating": 1}
    assert farm.counts(at(400)) == {
        "idle": 0, "building": 0, "sending": 0, "cleaning": 0, "late": 2,
        "silent": 4, "terminating": 1}


def test_late_and_silent_follow_the_busy_timeout():
    farm = farm_with(*joined(1, busy=60), p.SlaveBuild(1, at(0), "a", "1"),
                     stats(2, 0))
    talking(farm, 0, 400)
    slave = farm.slaves[1]
    assert slave.state(at(30)) == "building"
    assert slave.state(at(31)) == "late"
    assert slave.state(at(60)) == "late"
    assert slave.state(at(61)) == "silent"
    # the task text does not pretend to know
    assert slave.task_text() == "Building a 1"
    # without a HELLO: the default busy timeout
    default = model.DEFAULT_BUSY_TIMEOUT.total_seconds()
    assert farm.slaves[2].state(at(default / 2 + 1)) == "late"
    assert farm.slaves[2].state(at(default + 1)) == "silent"
    # a monitor clock behind the master's: no negative silence
    assert farm.slaves[2].state(at(-100)) == "idle"


def test_paused_slave_text():
    farm = farm_with(*joined(1), p.SlaveSleep(1, at(1), True))
    assert farm.slaves[1].task_text() == "Waiting for jobs (paused)"
    farm.apply(p.SlaveSleep(1, at(2), False), at(2))
    assert farm.slaves[1].task_text() == "Waiting for jobs"


def test_cont_keeps_building():
    farm = farm_with(hello(1), p.SlaveBuild(1, at(1), "a", "1"))
    since = farm.slaves[1].task_since
    farm.apply(p.SlaveCont(1, at(5)), at(5))
    assert farm.slaves[1].task_text() == "Building a 1"
    assert farm.slaves[1].task_since == since


# ------------------------------------------------------------ commands

def test_sleep_command_pauses_until_newer_stats():
    farm = farm_with(master_stats(0))
    farm.apply(p.CommandSent("SLEEP", None), at(5))
    assert farm.master.paused
    assert farm.master.state(at(500)) == "paused"
    # a report sent before the master saw the SLEEP does not un-pause it
    farm.apply(master_stats(4), at(5.1))
    assert farm.master.state(at(6)) == "paused"
    # a newer one does: the master runs again (another monitor resumed it)
    farm.apply(master_stats(20), at(20))
    assert farm.master.state(at(21)) == "connected"
    assert not farm.master.paused


def test_wake_command_resumes():
    farm = farm_with(master_stats(0))
    farm.apply(p.CommandSent("SLEEP", None), at(1))
    farm.take_changes()
    farm.apply(p.CommandSent("WAKE", None), at(2))
    assert farm.take_changes().master
    assert farm.master.state(at(3)) == "connected"


def test_per_slave_sleep_and_skip_change_nothing():
    farm = farm_with(master_stats(0), hello(1), p.SlaveSleep(1, at(0), False))
    farm.take_changes()
    for message, data in (("SLEEP", 1), ("WAKE", 1), ("SKIP", 1),
                          ("SKIP", None), ("QUIT", p.NO_DATA)):
        farm.apply(p.CommandSent(message, data), at(1))
    assert not farm.master.paused
    assert farm.slaves[1].task_text() == "Waiting for jobs"
    assert not farm.take_changes().slaves


def test_unpause_inferred_from_slaves():
    farm = farm_with(*joined(1), *joined(2), p.SlaveSleep(1, at(10), True))
    assert farm.master.paused
    # an older SLEEP false (reordered in a replay) does not resume it
    farm.apply(p.SlaveSleep(2, at(5), False), at(11))
    assert farm.master.paused
    farm.apply(p.SlaveSleep(2, at(12), False), at(12))
    assert not farm.master.paused
    farm.apply(p.SlaveSleep(1, at(20), True), at(20))
    # the slave told to sleep for the pause is given a build: resumed
    farm.apply(p.SlaveBuild(1, at(21), "a", "1"), at(21))
    assert not farm.master.paused


def test_a_replayed_build_from_before_a_pause_does_not_resume():
    # a paused master replays: one slave asleep for the pause, another
    # still on a build it was given before the pause (the master stamps
    # its last reply with the slave's last-seen time, after the pause)
    # (a replay of slaves that were told to sleep for a pause says nothing
    # of the master now: it may have resumed since)
    asleep = [hello(1), p.SlaveSleep(1, at(95), True)]
    busy = [hello(2), p.SlaveBuild(2, at(98), "numpy", "2.0")]
    for events in (asleep + busy, busy + asleep):
        farm = farm_with(*events, now=at(100))
        assert not farm.master.paused
        assert farm.master.state(at(101)) == "connected"
        assert farm.slaves[1].task_text() == "Waiting for jobs"
    # our own pause, then another monitor's HELLO replays a busy slave's
    # BUILD from before the pause with a later stamp
    farm = farm_with(hello(1), p.SlaveBuild(1, at(1), "numpy", "2.0"))
    farm.apply(p.CommandSent("SLEEP", None), at(10))
    assert farm.master.paused
    farm.apply(hello(1), at(41))
    farm.apply(p.SlaveBuild(1, at(40), "numpy", "2.0"), at(41))
    assert farm.master.state(at(42)) == "paused"


def test_kill_marks_stopping_until_die():
    farm = farm_with(hello(3), p.SlaveBuild(3, at(1), "numpy", "2.0"),
                     hello(4))
    farm.take_changes()
    farm.apply(p.CommandSent("KILL", 3), at(2))
    assert farm.take_changes().slaves == {3}
    three = farm.slaves[3]
    assert three.task_text() == "[stopping] Building numpy 2.0"
    assert not farm.slaves[4].stopping
    farm.apply(p.SlaveSend(3, at(3), "numpy.whl"), at(3))
    farm.apply(p.SlaveDone(3, at(4)), at(4))
    assert three.task_text() == "[stopping] Cleaning up after build"
    farm.apply(p.SlaveDie(3, at(5)), at(5))
    assert three.task_text() == "Terminating"
    assert not three.stopping
    # KILL for a slave not listed, or a dying one: nothing to mark
    farm.apply(p.CommandSent("KILL", 99), at(6))
    farm.apply(p.CommandSent("KILL", 3), at(6))
    assert 99 not in farm.slaves and not three.stopping


def test_kill_all_and_wake_cancels():
    farm = farm_with(hello(1), hello(2), hello(3))
    farm.apply(p.CommandSent("KILL", None), at(1))
    assert all(s.stopping for s in farm.rows())
    # WAKE with an id clears that slave's pending KILL (protocol.md)
    farm.apply(p.CommandSent("WAKE", 2), at(2))
    assert [s.stopping for s in farm.rows()] == [True, False, True]
    assert farm.slaves[2].task_text() == "Waiting for jobs"
    # and Resume (WAKE None) clears them all
    farm.take_changes()
    farm.apply(p.CommandSent("WAKE", None), at(3))
    assert not any(s.stopping for s in farm.rows())
    assert farm.take_changes().slaves == {1, 3}


def test_master_hello_starts_afresh_and_carries_stopping():
    farm = farm_with(master_stats(0), hello(1), hello(2), hello(3),
                     p.SlaveBuild(2, at(1), "a", "1"))
    farm.apply(p.CommandSent("KILL", 2), at(2))
    farm.take_changes()
    farm.apply(MASTER_HELLO, at(3))
    assert farm.rows() == []
    changes = farm.take_changes()
    assert changes.order and changes.master and changes.slaves == {1, 2, 3}
    # the replay: slaves 1 and 2 only (3 died meanwhile)
    for event in (hello(1), p.SlaveSleep(1, at(2), False),
                  hello(2), p.SlaveBuild(2, at(2), "a", "1")):
        farm.apply(event, at(3))
    assert [s.slave_id for s in farm.rows()] == [1, 2]
    assert farm.slaves[2].stopping
    assert farm.slaves[2].task_text() == "[stopping] Building a 1"
    assert not farm.slaves[1].stopping
    assert farm.master.replays == 1


def test_master_hello_keeps_paused():
    farm = farm_with(*joined(1), p.SlaveSleep(1, at(1), True))
    farm.apply(MASTER_HELLO, at(2))
    assert farm.master.state(at(2)) == "paused"


def test_revived_slave_id():
    # a restarted master numbers its slaves from 1 again
    farm = farm_with(hello(1), p.SlaveDie(1, at(1), expired=True))
    assert farm.slaves[1].task_text() == "Terminated by the master (silent)"
    farm.apply(p.SlaveSleep(1, at(2), False), at(2))
    one = farm.slaves[1]
    assert one.state(at(2)) == "idle" and not one.expired
    assert not farm.tick(at(100))
    assert 1 in farm.slaves


def test_history_and_log_are_bounded():
    farm = farm_with(hello(1))
    for i in range(model.SLAVE_HISTORY * 3):
        farm.apply(p.SlaveBuild(1, at(i), "a", str(i)), at(i))
    assert len(farm.slaves[1].history) == model.SLAVE_HISTORY
    assert farm.slaves[1].history[-1][1] == f"BUILD a {i}"
    assert len(farm.log) <= model.LOG_SIZE


# ------------------------------------------------------------ master state

def test_master_state_waiting_connected_silent():
    farm = model.Farm()
    m = farm.master
    assert m.state(at(0)) == "waiting"
    farm.apply(p.LinkUp(), at(0))
    assert m.state(at(1)) == "waiting"  # connected, nothing heard yet
    assert farm.frames == 0
    farm.apply(master_stats(1), at(1))
    assert m.state(at(1)) == "connected"
    assert m.state(at(1) + model.MASTER_QUIET) == "connected"
    assert m.state(at(1) + model.MASTER_QUIET + SEC) == "quiet"
    edge = at(1) + model.MASTER_SILENCE
    assert m.state(edge) == "quiet"
    assert m.state(edge + SEC) == "silent"
    # any frame is a sign of life, a slave's too
    farm.apply(stats(1, 40), at(40))
    assert m.state(at(40)) == "connected"


def test_master_state_paused_is_never_silent():
    farm = farm_with(master_stats(0))
    farm.apply(p.CommandSent("SLEEP", None), at(1))
    assert farm.master.state(at(3600 * 24)) == "paused"


def test_link_down_and_up():
    farm = farm_with(master_stats(0))
    farm.apply(p.LinkUp(), at(0))
    farm.take_changes()
    farm.apply(p.LinkDown("gone"), at(5))
    assert farm.take_changes().master
    assert farm.master.state(at(5)) == "lost"
    # lost beats paused
    farm.apply(p.CommandSent("SLEEP", None), at(6))
    assert farm.master.state(at(6)) == "lost"
    farm.apply(p.LinkUp(), at(7))
    assert farm.take_changes().master
    assert farm.master.state(at(7)) == "paused"
    farm.apply(p.CommandSent("WAKE", None), at(8))
    assert farm.master.state(at(8)) == "connected"
    assert farm.master.state(at(100)) == "silent"
    # link events are not frames
    assert farm.frames == 1


def test_run_known_only_once_the_master_says_hello_on_the_connection():
    farm = model.Farm()
    m = farm.master
    assert m.run_known   # never connected: nothing to doubt
    farm.apply(p.LinkUp(), at(0))
    assert not m.run_known
    farm.apply(MASTER_HELLO, at(1))
    assert m.run_known and m.started == MASTER_HELLO.started
    # reconnected: the start time on record is the previous connection's
    # until the master says HELLO again
    farm.apply(p.LinkDown("gone"), at(2))
    farm.apply(p.LinkUp(), at(3))
    assert not m.run_known and m.started == MASTER_HELLO.started
    farm.apply(MASTER_HELLO, at(4))
    assert m.run_known


def test_link_down_before_anything():
    farm = model.Farm()
    farm.apply(p.LinkDown(), at(0))
    assert farm.master.state(at(0)) == "lost"
    farm.apply(p.LinkUp(), at(1))
    assert farm.master.state(at(1)) == "waiting"


def test_apply_refuses_what_is_not_an_event():
    with pytest.raises(TypeError):
        model.Farm().apply("HELLO", at(0))


def test_restarted_master_forgets_kills_and_stats():
    farm = farm_with(MASTER_HELLO, master_stats(100), hello(1), hello(2))
    farm.apply(p.CommandSent("KILL", 2), at(101))
    # the same master again (another monitor asked for a replay)
    farm.apply(MASTER_HELLO, at(102))
    farm.apply(hello(2), at(102))
    assert farm.slaves[2].stopping
    # a new run: its slave 2 is another slave, and its clock starts afresh
    restarted = p.MasterHello(at(200), "vm", "Debian", "12", "unknown",
                              "unknown")
    farm.apply(restarted, at(201))
    assert farm.master.started == at(200)
    farm.apply(hello(2, 201), at(201))
    assert not farm.slaves[2].stopping
    farm.apply(master_stats(50), at(202))  # a clock set back
    assert farm.master.stats.timestamp == at(50)


def test_log_is_in_monitor_time():
    farm = farm_with(hello(1))
    farm.apply(p.SlaveBuild(1, at(0), "a", "1"), at(100))
    farm.apply(p.BadFrame("junk"), at(101))
    assert [(when, sid) for when, sid, _ in farm.log][-2:] == [
        (at(100), 1), (at(101), None)]
    # the slave's own history keeps the master's timestamps
    assert farm.slaves[1].history[-1] == (at(0), "BUILD a 1")


def test_why_the_master_is_unreachable():
    """Tunnel and link troubles are kept until the link is up again."""
    farm = model.Farm()
    m = farm.master
    farm.apply(p.TunnelDown("pi@master", "ssh: connect to host master port "
                            "22: Connection refused", 2.0,
                            "no SSH server answers on master", False), T0)
    assert m.tunnel == "down" and not m.trouble_fatal
    assert m.trouble.startswith("SSH tunnel to pi@master down: ssh: connect")
    assert m.trouble_retry == 2.0
    assert farm.log[-1][2].endswith("; trying again in 2 s")
    farm.apply(p.TunnelDown("pi@master", "pi@master: Permission denied "
                            "(publickey).", 4.0, "load the key", True), T0)
    assert m.trouble == ("load the key (ssh: pi@master: Permission denied "
                         "(publickey).)") and m.trouble_fatal
    farm.apply(p.TunnelUp("pi@master"), T0)
    assert m.tunnel == "up" and m.trouble == "" and not m.trouble_fatal
    farm.apply(p.Unreachable("nothing answers"), T0)
    assert m.trouble == "nothing answers" and m.trouble_retry is None
    farm.apply(p.LinkUp(), T0)
    assert m.trouble == "" and m.connected
    # a late word of a closed connection does not hide a live master
    farm.apply(p.Unreachable("nothing answers"), T0)
    assert m.trouble == ""
    assert farm.frames == 0   # none of these came off the wire
def test_a_link_problem_is_kept_until_the_link_comes_up():
    farm = model.Farm()
    m = farm.master
    farm.take_changes()
    problem = p.LinkProblem(
        "permission", "status queue", "ipc:///tmp/piw-status",
        "permission denied on ipc:///tmp/piw-status",
        "the master runs as another user?")
    farm.apply(problem, at(1))
    assert farm.take_changes().master
    assert m.problem is problem
    assert m.state(at(1)) == "waiting"   # still waiting, now with a reason
    assert farm.frames == 0
    assert farm.log[-1][2] == (
        "cannot reach the master: permission denied on "
        "ipc:///tmp/piw-status (the master runs as another user?)")
    # the link found the cause gone, without a connection yet
    farm.apply(p.LinkProblem(), at(2))
    assert m.problem is None
    assert "still waiting" in farm.log[-1][2]
    farm.apply(problem, at(3))
    farm.apply(p.LinkUp(), at(4))
    assert m.problem is None
