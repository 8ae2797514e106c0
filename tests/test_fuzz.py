"""
Fuzzing: well over 100,000 generated frames, good and bad, through
``protocol.decode_status`` and into one ``model.Farm``, which must never
raise and must stay consistent.

Everything is seeded (``SEED``, and hypothesis runs derandomized), so a
failure reproduces; its message carries the offending frame in hex.
"""

import datetime as dt
import math
import random
import time
import zlib

import cbor2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from piw_monitor import model
from piw_monitor import protocol as p

from .helpers import RECORDING_START, status_records

SEED = 20261128
UTC = dt.timezone.utc

RECORDS = status_records()
FRAMES = [bytes.fromhex(r["hex"]) for r in RECORDS]
RAW = [cbor2.loads(f) for f in FRAMES]  # datetimes and CBORTags as cbor2 has them
EVENTS = [p.decode_status(f) for f in FRAMES]
END = RECORDING_START + dt.timedelta(seconds=RECORDS[-1]["t"])

#: byte values that mean something to CBOR: headers of every major type with
#: 1/2/4/8-byte lengths, indefinite lengths, break, simple values, floats,
#: tags 0, 1, 2001 and 2002
INTERESTING = [
    0x00, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1f, 0x20, 0x3b, 0x40, 0x5b,
    0x5f, 0x60, 0x7b, 0x7f, 0x80, 0x81, 0x82, 0x84, 0x93, 0x9b, 0x9f, 0xa0,
    0xa1, 0xbb, 0xbf, 0xc0, 0xc1, 0xc2, 0xd8, 0xd9, 0xf4, 0xf5, 0xf6, 0xf7,
    0xf8, 0xf9, 0xfa, 0xfb, 0xff, 0x07, 0xd1, 0xd2,
]


# ------------------------------------------------------------ the harness

class Harness:
    """Feeds frames to the decoder and one farm; checks after every one."""

    def __init__(self, now=RECORDING_START):
        self.farm = model.Farm()
        self.now = now
        self.count = 0
        self.bad = 0
        self.good = 0
        self.kinds = {}

    def feed(self, frame, advance=0.05):
        self.count += 1
        self.now += dt.timedelta(seconds=advance)
        try:
            self._feed(frame)
        except Exception as exc:
            raise AssertionError(
                f"frame #{self.count} at {self.now.isoformat()}: "
                f"{frame.hex()}: {exc!r}") from exc

    def _feed(self, frame):
        event = p.decode_status(frame, now=self.now)
        assert isinstance(event, p.Event)
        kind = type(event).__name__
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        if isinstance(event, p.BadFrame):
            self.bad += 1
            reason = event.reason
            assert isinstance(reason, str) and 0 < len(reason) <= 100, reason
            assert reason.isprintable(), reason
            assert event.size == len(frame)
        else:
            self.good += 1
            assert not isinstance(event, p.LinkEvent)
            # what passed validation is what a master could have sent
            again = p.decode_status(p.encode_status(event), now=self.now)
            assert again == event, (again, event)
        self.farm.apply(event, self.now)
        assert self.farm.bad_frames == self.bad
        assert self.farm.frames == self.good
        if self.count % 250 == 0:
            self.check()

    def other(self, rng):
        """Now and then, something that is not a frame: time, link, command."""
        roll = rng.random()
        if roll < 0.3:
            self.now += dt.timedelta(seconds=rng.choice([1, 10, 60, 200, 400]))
            self.farm.tick(self.now)
        elif roll < 0.4:
            self.farm.apply(rng.choice([p.LinkUp(), p.LinkDown("x")]), self.now)
        else:
            message = rng.choice(list(p.CONTROL_MESSAGES))
            data = p.NO_DATA if not p.CONTROL_MESSAGES[message] else \
                rng.choice([None, 1, 2, 3, rng.randrange(1, 50)])
            self.farm.apply(p.CommandSent(message, data), self.now)
        self.check()

    def check(self):
        farm, now = self.farm, self.now
        rows = farm.rows()
        assert len(rows) == len(farm.slaves)
        assert {s.slave_id for s in rows} == set(farm.slaves)
        keys = [s.sort_key() for s in rows]
        assert keys == sorted(keys)
        for slave in rows:
            assert slave.state(now) in model.STATES
            assert slave.task in model.STATES
            assert isinstance(slave.task_text(), str)
            assert len(slave.history) <= model.SLAVE_HISTORY
            assert farm.slaves[slave.slave_id] is slave
        counts = farm.counts(now)
        assert set(counts) == set(model.STATES)
        assert sum(counts.values()) == len(farm.slaves)
        assert farm.master.state(now) in model.MASTER_STATES
        assert farm.bad_frames == self.bad
        assert len(farm.log) <= model.LOG_SIZE
        farm.take_changes()
        assert not farm.take_changes()


# ------------------------------------------------------------ generators

def random_bytes(rng):
    size = rng.choice([0, 1, 2, 3, 5, 8, 16, 40, 100, 300, rng.randrange(2000)])
    data = bytes(rng.getrandbits(8) for _ in range(size))
    if rng.random() < 0.5:  # often behind a plausible start
        data = rng.choice([b"\x82\x65SLAVE\x84", b"\x82\x65STATS\x93",
                           b"\x82\x65HELLO\x86", b"\x82", b"\x82\x65SLAVE"
                           b"\x84\x01\xc0"]) + data
    return data


def mutate(rng, frame):
    """One to four random edits of *frame*."""
    data = bytearray(frame)
    for _ in range(rng.choice([1, 1, 1, 2, 3, 4])):
        op = rng.randrange(9)
        n = len(data)
        pos = rng.randrange(n + 1)
        if op == 0 and n:                           # bit flip
            i = rng.randrange(n)
            data[i] ^= 1 << rng.randrange(8)
        elif op == 1 and n:                         # a byte CBOR cares about
            data[rng.randrange(n)] = rng.choice(INTERESTING)
        elif op == 2:                               # truncation
            del data[pos:]
        elif op == 3:                               # insertion
            data[pos:pos] = bytes(rng.getrandbits(8)
                                  for _ in range(rng.choice([1, 1, 2, 9])))
        elif op == 4 and n:                         # deletion
            del data[pos:pos + rng.choice([1, 1, 2, 8])]
        elif op == 5:                               # splice with another frame
            other = rng.choice(FRAMES)
            data = data[:pos] + other[rng.randrange(len(other) + 1):]
        elif op == 6 and n:                         # a chunk repeated
            end = min(n, pos + rng.randrange(1, 16))
            data[pos:pos] = data[pos:end] * rng.choice([1, 2, 50])
        elif op == 7 and n:                         # a random byte
            data[rng.randrange(n)] = rng.getrandbits(8)
        else:                                       # a frame's tail appended
            data += rng.choice(FRAMES)[:rng.randrange(1, 12)]
    return bytes(data)


def some_time(rng):
    return RECORDING_START + dt.timedelta(
        seconds=rng.choice([0, 1, 600, rng.uniform(-3600, 3600)]))


def wrong_value(rng):
    """A well-formed CBOR value that is (most likely) wrong where it goes."""
    return rng.choice([
        None, True, False, 0, 1, -1, 2 ** 63, -(2 ** 64), 1.5, math.nan,
        math.inf, -0.0, 1e308, "", "x" * rng.choice([1, 30, 1025]), b"\x00",
        [], [1, 2, 3], {}, {"cp311": 1}, {"cp311": -1}, {"a": "b"},
        cbor2.CBORTag(2001, [0, rng.randrange(-5, 10 ** 6), 0]),
        cbor2.CBORTag(2001, [1, 2]), cbor2.CBORTag(2002, None),
        cbor2.CBORTag(2002, 1), cbor2.CBORTag(2003, None),
        cbor2.CBORTag(1, rng.uniform(-1e10, 4e9)),
        cbor2.CBORTag(0, "2026-11-28T02:50:38Z"),
        cbor2.CBORTag(0, "not a time"), some_time(rng),
        dt.datetime(1999, 1, 1, tzinfo=UTC),
        dt.datetime(2999, 1, 1, tzinfo=UTC),
        "HELLO", "SLAVE", "DIE", "\x1b[2J",
        cbor2.CBORSimpleValue(rng.randrange(32, 256)), cbor2.undefined,
    ])


def structured_wrong(rng):
    """A recorded message with an item replaced, added or removed."""
    msg = cbor2.loads(rng.choice(FRAMES))
    # walk down to a random list
    target, depth = msg, 0
    while depth < 3 and rng.random() < 0.7:
        lists = [x for x in target if isinstance(x, list)]
        if not lists:
            break
        target, depth = rng.choice(lists), depth + 1
    if not target:
        target.append(wrong_value(rng))
    else:
        i = rng.randrange(len(target))
        op = rng.randrange(6)
        if op < 4:
            target[i] = wrong_value(rng)
        elif op == 4:
            del target[i]
        else:
            target.insert(i, wrong_value(rng))
    return cbor2.dumps(msg)


KINDS = ["HELLO", "STATS", "ACK", "SLEEP", "BUILD", "SEND", "DONE", "DIE",
         "CONT"]


def valid_event(rng, now):
    """A random but valid status event, for the model's sake."""
    ts = now - dt.timedelta(seconds=rng.choice([0, 0, 1, 100, 200, 400]))
    roll = rng.random()
    if roll < 0.03:
        return p.MasterHello(ts, rng.choice(["vm", "pi"]), "Debian", "12",
                             "unknown", "unknown")
    if roll < 0.12:
        return p.MasterStats(
            ts, rng.randrange(100), {"cp311": rng.randrange(9)},
            dt.timedelta(seconds=rng.randrange(10 ** 6)), rng.randrange(10 ** 9),
            {"cp39": rng.randrange(9)}, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
            rng.random(), rng.uniform(0, 90))
    sid = rng.randrange(1, 12)
    kind = rng.choice(KINDS)
    if kind == "HELLO":
        return p.SlaveHello(
            sid, ts, dt.timedelta(hours=rng.choice([1, 3])),
            dt.timedelta(seconds=rng.choice([60, 300])), "311",
            rng.choice(["cp311", "cp39", "cp313"]), "linux_armv7l",
            f"slave-{rng.randrange(5)}", "Raspbian", "11", "a02082", "1")
    if kind == "STATS":
        return p.SlaveStats(sid, ts, ts, 1, 1, 1, 1, 0, 0, 0.5, 45.0)
    if kind == "ACK":
        return p.SlaveAck(sid, ts, sid, "http://127.0.0.1/simple")
    if kind == "SLEEP":
        return p.SlaveSleep(sid, ts, rng.random() < 0.3)
    if kind == "BUILD":
        return p.SlaveBuild(sid, ts, rng.choice(["numpy", "x"]), "1.0")
    if kind == "SEND":
        return p.SlaveSend(sid, ts, "x-1.0-py3-none-any.whl")
    if kind == "DONE":
        return p.SlaveDone(sid, ts)
    if kind == "CONT":
        return p.SlaveCont(sid, ts)
    return p.SlaveDie(sid, ts, expired=rng.random() < 0.3)


# ------------------------------------------------------------ tests

def test_fuzz_100k_frames():
    rng = random.Random(SEED)
    harness = Harness()
    # the recording first, so the farm has a master and slaves to upset
    for frame in FRAMES:
        harness.feed(frame)
    plan = (
        [random_bytes] * 20 + [lambda r: mutate(r, r.choice(FRAMES))] * 55
        + [structured_wrong] * 15
        + [lambda r: p.encode_status(valid_event(r, harness.now))] * 10)
    start = time.perf_counter()
    while harness.count < 100_500:
        frame = rng.choice(plan)(rng)
        harness.feed(frame)
        if rng.random() < 0.002:
            harness.other(rng)
        if rng.random() < 0.0005:  # a replay of the recording, now and then
            for frame in FRAMES[352:360]:
                harness.feed(frame, advance=0)
    harness.check()
    elapsed = time.perf_counter() - start
    assert harness.count >= 100_000
    # every kind of outcome was reached, not just rejections
    kinds = harness.kinds
    assert kinds["BadFrame"] > 50_000
    for name in ("MasterHello", "MasterStats", "SlaveHello", "SlaveStats",
                 "SlaveAck", "SlaveSleep", "SlaveBuild", "SlaveSend",
                 "SlaveDone", "SlaveDie", "SlaveCont"):
        assert kinds.get(name, 0) > 50, (name, kinds)
    assert elapsed < 50, elapsed


def test_fuzz_decode_control_never_raises():
    rng = random.Random(SEED + 1)
    controls = [p.encode_control(m, None if takes else p.NO_DATA)
                for m, takes in p.CONTROL_MESSAGES.items()]
    for _ in range(5_000):
        frame = mutate(rng, rng.choice(controls)) if rng.random() < 0.7 \
            else random_bytes(rng)
        result = p.decode_control(frame)
        assert isinstance(result, (p.Control, p.BadFrame)), frame.hex()
        if isinstance(result, p.Control):
            # what the master accepts, a monitor could have sent
            assert p.decode_control(
                p.encode_control(result.message, result.data)) == result


# hypothesis: well-formed CBOR, wrong in shape or in detail

scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30), st.binary(max_size=10),
    st.datetimes(min_value=dt.datetime(1990, 1, 1),
                 max_value=dt.datetime(2040, 1, 1), timezones=st.just(UTC)),
    st.builds(cbor2.CBORTag, st.sampled_from([0, 1, 2001, 2002, 2003]),
              st.one_of(st.none(), st.integers(-5, 10 ** 6), st.text(max_size=30),
                        st.lists(st.integers(-5, 10 ** 6), max_size=4))),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5),
                            st.dictionaries(st.text(max_size=6), inner,
                                            max_size=4)),
    max_leaves=12)
NAMES = st.sampled_from(["HELLO", "STATS", "SLAVE", "BYE", "hello", ""])
INNER = st.sampled_from(KINDS + ["BUSY", "IDLE", "BYE", ""])


@st.composite
def messages(draw):
    shape = draw(st.integers(0, 3))
    if shape == 0:      # anything under a message name
        return [draw(NAMES), draw(values)]
    if shape == 1:      # a SLAVE envelope around anything
        return ["SLAVE", [draw(st.one_of(st.integers(-1, 20), values)),
                          draw(st.one_of(st.just(some_time(random.Random(0))),
                                         values)),
                          draw(INNER), draw(values)]]
    # a recorded message, each of its items kept or replaced
    template = RAW[draw(st.integers(0, len(RAW) - 1))]
    name, data = template
    if name == "SLAVE" and shape == 3 and isinstance(data[3], list):
        inner = [x if draw(st.integers(0, 4)) else draw(values)
                 for x in data[3]]
        return [name, data[:3] + [inner]]
    return [name, [x if draw(st.integers(0, 4)) else draw(values)
                   for x in data]]


@settings(max_examples=300, derandomize=True, database=None, deadline=None,
          suppress_health_check=list(HealthCheck))
@given(messages())
def test_fuzz_hypothesis_messages(msg):
    frame = cbor2.dumps(msg)
    harness = Harness(now=END)
    for event in EVENTS:
        harness.farm.apply(event, END)
    harness.good = harness.farm.frames
    harness.feed(frame)
    # and twenty deterministic variants of it
    rng = random.Random(zlib.crc32(frame))
    for _ in range(20):
        harness.feed(mutate(rng, frame))
    harness.check()
