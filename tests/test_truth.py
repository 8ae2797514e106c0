"""
The model tells the truth (issue 15): replays caused by other monitors, a
master on another clock, a paused master and a master that has gone, judged
on the second recording (replays-by-other-monitors.jsonl) and on made-up
events; and the bounds that keep it true (issue 14: a STATS dated in the
future, more slave ids than a farm has).
"""

import datetime as dt

import pytest

from piw_monitor import model
from piw_monitor import protocol as p

from .helpers import read_jsonl

UTC = dt.timezone.utc
SEC = dt.timedelta(seconds=1)
REPLAYS = read_jsonl("replays-by-other-monitors.jsonl")
#: when the recorder of the second recording started
START = dt.datetime(2026, 11, 29, 22, 58, 7, 780000, tzinfo=UTC)


def arrival(record, offset=dt.timedelta(0)):
    """When the monitor read *record*, on a monitor clock *offset* off."""
    return START + dt.timedelta(seconds=record["t"]) + offset


def phase(record):
    return record["note"].split(":")[0]


def first_of(name):
    return next(i for i, r in enumerate(REPLAYS) if phase(r) == name)


def last_of(name):
    return max(i for i, r in enumerate(REPLAYS) if phase(r) == name)


#: what monitor A sent (the recording's README): its Pause and Resume
COMMANDS = [(46.59, p.CommandSent("SLEEP", None)),
            (81.68, p.CommandSent("WAKE", None))]


class Monitor:
    """
    The second recording fed to a Farm as monitor A saw it: its link came
    up, the first replay answered its own HELLO, and its Pause and Resume
    went out when they did. *offset* is how far the monitor's clock is from
    the master's.
    """

    def __init__(self, offset=dt.timedelta(0), start=0):
        self.offset = offset
        self.farm = model.Farm()
        self.now = arrival(REPLAYS[start], offset)
        self.farm.apply(p.LinkUp(), self.now)
        self.next = start
        self.commands = list(COMMANDS)

    def to(self, index):
        """Apply every frame up to and including *index*."""
        while self.next <= index:
            record = REPLAYS[self.next]
            while self.commands and self.commands[0][0] <= record["t"]:
                t, command = self.commands.pop(0)
                self.farm.apply(command, START + dt.timedelta(seconds=t)
                                + self.offset)
            self.now = arrival(record, self.offset)
            event = p.decode_status(bytes.fromhex(record["hex"]), self.now)
            assert not isinstance(event, p.BadFrame), event
            self.farm.apply(event, self.now)
            self.farm.tick(self.now)
            self.next += 1
        return self.farm

    def at(self, t):
        """Apply what arrived up to *t* seconds; the clock then says *t*."""
        while self.next < len(REPLAYS) and REPLAYS[self.next]["t"] <= t:
            self.to(self.next)
        self.now = START + dt.timedelta(seconds=t) + self.offset
        self.farm.tick(self.now)
        return self.farm


def shown(value):
    """A duration as a screen shows it: to the second (None as it is)."""
    if isinstance(value, dt.timedelta):
        return round(value.total_seconds())
    return value


def screen(farm, now):
    """
    What a screen shows of *farm* at *now*, but the last-seen times;
    durations to the nearest second (the estimate of the master's clock
    moves by microseconds as its samples come and go).
    """
    m = farm.master
    return {
        "master": (m.state(now), m.paused, m.label, shown(m.up_time(now)),
                   m.stats),
        "slaves": [
            (s.slave_id, s.label, s.abi, s.state(now), s.task_text(),
             shown(s.up_time(now)), shown(s.task_time(now)), s.task_exact,
             s.stats, list(s.history), s.stopping)
            for s in farm.rows()],
    }


# ------------------------------------------------ replays by other monitors

@pytest.mark.parametrize("name", ["phase 3", "phase 7"])
def test_another_monitors_replay_changes_nothing_but_last_seen(name):
    mon = Monitor()
    start, end = first_of(name), REPLAYS[first_of(name)]["t"]
    mon.to(start - 1)
    before = screen(mon.farm, mon.now)
    last_seen = {s.slave_id: s.last_seen for s in mon.farm.rows()}
    # the whole replay: every frame that arrived with its master HELLO
    mon.to(max(i for i, r in enumerate(REPLAYS) if r["t"] <= end + 0.01))
    assert REPLAYS[start]["decoded"][0] == "HELLO"
    after = screen(mon.farm, mon.now)
    # judged at the same moment, the screen is the same as without it
    mon_before = Monitor()
    mon_before.to(start - 1)
    assert screen(mon_before.farm, mon.now) == after
    assert before["slaves"] and [s[:5] for s in before["slaves"]] == \
        [s[:5] for s in after["slaves"]]
    # only the last-seen times moved, never back
    for slave in mon.farm.rows():
        assert slave.last_seen >= last_seen[slave.slave_id]


def test_a_build_keeps_its_start_through_every_replay():
    mon = Monitor()
    mon.to(last_of("phase 2"))
    one = mon.farm.slaves[1]
    # met mid-build in the first replay: only a lower bound is known
    assert one.task == "building" and not one.task_exact
    since = one.task_since
    for name in ("phase 3", "phase 5", "phase 6", "phase 7"):
        mon.to(last_of(name))
        assert mon.farm.slaves[1].task_since == since, name
        assert mon.farm.slaves[1].task_text() == "Building slow-pkg 0.1"
    # slave 3 was seen finishing live: exact from then on
    three = mon.farm.slaves[3]
    assert three.task == "idle" and three.task_exact


def test_the_master_is_never_paused_by_replayed_replies():
    # monitor B attached after the resume: phase 7's replay holds idle
    # slave 3's SLEEP false; a replay from the pause would hold SLEEP true
    farm = model.Farm()
    now = arrival(REPLAYS[first_of("phase 7")])
    farm.apply(p.LinkUp(), now)
    sleep_true = p.SlaveSleep(3, now - 5 * SEC, True)
    for record in REPLAYS[first_of("phase 7"):]:
        now = arrival(record)
        farm.apply(p.decode_status(bytes.fromhex(record["hex"])), now)
        if record["decoded"][0] == "SLAVE" and \
                record["decoded"][1][2] == "HELLO" and \
                record["decoded"][1][0] == 3:
            # as if the replay had said slave 3 was told to sleep for a
            # pause (its last reply before a resume)
            farm.apply(p.SlaveStats(3, now, now, 1, 1, 1, 1, 0, 0, 0.0,
                                    0.0), now)
            farm.apply(sleep_true, now)
    assert not farm.master.paused
    assert farm.master.state(now) == "connected"
    assert farm.slaves[3].task_text() == "Waiting for jobs"


# ------------------------------------------------------------ pauses

def test_slaves_are_not_blamed_for_the_masters_pause():
    mon = Monitor()
    # monitor A paused the master at t=46.6; the building slaves were then
    # quiet until the resume at t=81.7: at t=81 nobody is late, and their
    # silence stopped growing at the pause
    farm = mon.at(81.0)
    assert farm.master.state(mon.now) == "paused"
    for slave in farm.rows():
        assert slave.state(mon.now) in ("building", "sending", "cleaning"), \
            slave.slave_id
        assert slave.silence(mon.now) < 10 * SEC, slave.slave_id
    assert farm.master.state(mon.now + 60 * SEC) == "paused"


def test_without_knowing_of_a_pause_a_quiet_master_excuses_its_slaves():
    # monitor B never sent the pause: it sees only that nothing came
    farm = model.Farm()
    for record in REPLAYS[:first_of("phase 5")]:
        now = arrival(record)
        farm.apply(p.decode_status(bytes.fromhex(record["hex"])), now)
    later = now + 30 * SEC
    assert farm.master.state(later) == "quiet"
    for slave in farm.rows():
        assert slave.silence(later) < 25 * SEC, slave.slave_id


def test_paused_by_us_silence_stops_and_goes_on_after_the_resume():
    farm = model.Farm()
    t0 = dt.datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    at = lambda s: t0 + s * SEC  # noqa: E731
    farm.apply(p.LinkUp(), at(0))
    farm.apply(p.MasterHello(at(-60), "vm", "", "", "", ""), at(0))
    farm.apply(p.SlaveHello(1, at(0), dt.timedelta(hours=3), 60 * SEC,
                            "311", "cp311", "x", "a", "", "", "", ""), at(0))
    farm.apply(p.SlaveAck(1, at(0), 1, "http://x"), at(0))
    farm.apply(p.SlaveBuild(1, at(1), "numpy", "2.0"), at(1))
    farm.apply(p.CommandSent("SLEEP", None), at(10))
    # paused for ten minutes: the master says nothing, nor does the slave
    for t in (20, 100, 600):
        assert farm.slaves[1].state(at(t)) == "building"
        assert farm.slaves[1].silence(at(t)) == 9 * SEC
    assert farm.master.state(at(600)) == "paused"
    farm.apply(p.CommandSent("WAKE", None), at(610))
    for t in range(610, 650, 10):
        farm.apply(p.MasterStats(at(t), 0, {}, dt.timedelta(0), 0, {}, 0, 0,
                                 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0.0), at(t))
    # 9 s before the pause, 30 s after it: late (half of 60 s) only now
    assert farm.slaves[1].silence(at(640)) == 39 * SEC
    assert farm.slaves[1].state(at(640)) == "late"
    # the task time counts the pause: the build ran all along
    assert farm.slaves[1].task_time(at(640)) == 639 * SEC


def test_a_monitor_attaching_to_a_paused_master_says_so():
    # monitor B attached in phase 5, while the master was paused
    farm = model.Farm()
    start = first_of("phase 5")
    now = arrival(REPLAYS[start])
    farm.apply(p.LinkUp(), now)
    for record in REPLAYS[start:last_of("phase 5") + 1]:
        now = arrival(record)
        farm.apply(p.decode_status(bytes.fromhex(record["hex"])), now)
    assert farm.rows() == [] and farm.master.replayed_slaves == 0
    later = now + 16 * SEC
    assert farm.master.state(later) == "quiet"
    # the slaves come once the master resumes
    for record in REPLAYS[first_of("phase 6"):last_of("phase 6") + 1]:
        now = arrival(record)
        farm.apply(p.decode_status(bytes.fromhex(record["hex"])), now)
    assert [s.slave_id for s in farm.rows()] == [1, 2, 3]
    assert farm.master.state(now) == "connected"


# ------------------------------------------------------------ clocks

OFFSETS = [dt.timedelta(minutes=10), dt.timedelta(minutes=3),
           dt.timedelta(hours=-2), dt.timedelta(days=-2)]


@pytest.mark.parametrize("offset", OFFSETS, ids=str)
def test_a_master_on_another_clock_gives_the_same_screen(offset):
    # the monitor's clock minus the master's is *offset*: 10 and 3 minutes
    # ahead (the master behind), 2 hours and 2 days behind
    in_step, shifted = Monitor(), Monitor(offset)
    for t in (10.0, 30.0, 50.0, 70.0, 90.0, 110.0):
        a, b = in_step.at(t), shifted.at(t)
        assert screen(b, shifted.now) == screen(a, in_step.now), t
        assert b.frames == a.frames and b.bad_frames == 0
    skew = shifted.farm.master.skew
    assert abs(skew + offset - in_step.farm.master.skew) < SEC


def test_one_mistaken_timestamp_does_not_move_the_clock():
    mon = Monitor()
    farm = mon.at(30.0)
    skew = farm.master.skew
    # a frame stamped a day ahead, then the master as ever
    farm.apply(p.SlaveStats(1, mon.now + dt.timedelta(days=1), mon.now, 1, 1,
                            1, 1, 0, 0, 0.0, 0.0), mon.now)
    farm = mon.at(45.0)
    assert abs(farm.master.skew - skew) < SEC
    assert farm.slaves[2].up_time(mon.now) < dt.timedelta(minutes=1)


# ------------------------------------------------------------ a lost master

def test_when_the_master_has_gone_every_timer_stops():
    mon = Monitor()
    farm = mon.at(40.0)
    # the moment it was last heard
    frozen = screen(farm, farm.master.last_seen)
    lost_at = mon.now
    farm.apply(p.LinkDown("connection reset"), lost_at)
    for minutes in (1, 9, 60):
        later = lost_at + dt.timedelta(minutes=minutes)
        farm.tick(later)
        shown = screen(farm, later)
        assert shown["master"][0] == "lost"
        assert shown["slaves"] == [
            s[:3] + (s[3],) + s[4:] for s in frozen["slaves"]]
        assert shown["master"][3] == frozen["master"][3]  # up time


# ------------------------------------------------------------ first STATS

def test_the_zeros_of_a_new_masters_first_stats_are_not_known():
    farm = model.Farm()
    t = dt.datetime(2026, 11, 28, 2, 50, 38, tzinfo=UTC)
    farm.apply(p.MasterStats(t, 0, {"cp311": 0}, dt.timedelta(0), 0, {}, 0,
                             0, 0, 0, 0, 0, 0, 25 * 10 ** 9, 24 * 10 ** 9, 0,
                             0, 0.1, 0.0), t)
    assert not farm.master.disk_known() and not farm.master.pending_known()
    farm.apply(p.MasterStats(t + 10 * SEC, 0, {"cp311": 0}, dt.timedelta(0),
                             0, {"cp311": 3}, 0, 0, 0, 0, 0, 270 * 10 ** 9,
                             85 * 10 ** 9, 1, 1, 0, 0, 0.1, 0.0), t + 10 * SEC)
    assert farm.master.disk_known() and farm.master.pending_known()


# ------------------------------------------------------------ bounds

def test_a_stats_dated_in_the_future_cannot_hold_the_figures():
    farm = model.Farm()
    t = dt.datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    ahead = t + dt.timedelta(hours=23)

    def stats(when, stamp, free):
        return p.SlaveStats(1, when, stamp, 100, free, 100, 50, 0, 0, 0.5,
                            40.0)

    def master(when, built):
        return p.MasterStats(when, built, {}, dt.timedelta(0), 0, {}, 0, 0, 0,
                             0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0.0)

    farm.apply(master(t, 1), t)
    farm.apply(stats(t, ahead, 1), t)
    farm.apply(master(ahead, 2), t + SEC)
    for n in range(2, 5):
        when = t + n * 10 * SEC
        farm.apply(stats(when, when, n), when)
        farm.apply(master(when, n + 10), when)
        assert farm.slaves[1].stats.disk_free == n
        assert farm.master.stats.packages_built == n + 10


def test_more_slaves_than_the_limit_are_refused_and_a_replay_asked(
        monkeypatch):
    monkeypatch.setattr(model, "MAX_SLAVES", 5)
    farm = model.Farm()
    t = dt.datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    for sid in range(1, 9):
        farm.apply(p.SlaveSleep(sid, t, False), t)
    assert sorted(farm.slaves) == [1, 2, 3, 4, 5]
    assert farm.slaves_refused == 3
    assert any("more than 5 slaves" in text for _, _, text in farm.log)
    assert farm.take_resync() == "more than 5 slaves"
    assert farm.take_resync() == ""        # said once
    # the fresh replay is the whole picture: the flood's ids are gone
    farm.apply(p.MasterHello(t, "vm", "", "", "", ""), t + SEC)
    farm.apply(p.SlaveHello(2, t, dt.timedelta(hours=1), 60 * SEC, "311",
                            "cp311", "x", "real", "", "", "", ""), t + SEC)
    assert sorted(farm.slaves) == [2] and farm.slaves_refused == 0
