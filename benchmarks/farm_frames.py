"""
Status frames of a simulated piwheels farm, encoded as a real master encodes
them (CBOR, tag 0 timestamps with six fraction digits, tag 2001 durations,
tag 2002 for "no data"), for the benchmarks in this folder.

Frames are built with :func:`cbor2.dumps` directly rather than through
:func:`piw_monitor.protocol.encode_status` so that half a million of them are
ready in a couple of seconds; :func:`check` proves that the monitor's decoder
accepts every kind.
"""

from __future__ import annotations

import datetime as dt

import cbor2

__all__ = [
    "HELLO", "SENTINEL", "replay", "stream_cycle", "master_stats",
    "slave_count_frames", "check",
]

#: The monitor's HELLO on the control queue.
HELLO = cbor2.dumps("HELLO")

#: ``packages built`` of the master STATS that ends a stream.
SENTINEL = 2 ** 31 - 1

#: Sequence-number placeholder in a slave STATS frame (its ``disk free``
#: field), encoded as a 4-byte unsigned integer.
_SEQ_MARK = 0xF0F0F0F0
_SEQ_BYTES = b"\x1a" + _SEQ_MARK.to_bytes(4, "big")

_ABIS = (("cp39", "39"), ("cp311", "311"), ("cp312", "312"), ("cp313", "313"))


def _td(seconds):
    days, seconds = divmod(int(seconds), 86400)
    return cbor2.CBORTag(2001, [days, seconds, 0])


_NO_DATA = cbor2.CBORTag(2002, None)


def master_hello(t0):
    return cbor2.dumps(["HELLO", [
        t0 - dt.timedelta(days=3), "bench-master", "Debian GNU/Linux", "12",
        "unknown", "unknown"]])


def master_stats(ts, packages_built=123_456):
    return cbor2.dumps(["STATS", [
        ts, packages_built, {"cp311": 40, "cp39": 12}, _td(7 * 86400 + 5),
        512 * 10 ** 9, {"cp311": 1200, "cp39": 300}, 85, 2_000_000, 4000,
        3_000_000, 900_000_000, 10 ** 13, 4 * 10 ** 12, 8 * 10 ** 9,
        3 * 10 ** 9, 2 * 10 ** 9, 2 * 10 ** 9, 1.75, 52.5]])


def _slave(sid, ts, message, data):
    return cbor2.dumps(["SLAVE", [sid, ts, message, data]])


def slave_hello(sid, ts):
    abi, py = _ABIS[sid % len(_ABIS)]
    return _slave(sid, ts, "HELLO", [
        _td(3 * 3600), _td(300), py, abi, "linux_armv7l", f"pi{sid:05d}",
        "Raspbian GNU/Linux", "12", "c03111", f"{sid:08x}"])


def slave_stats(sid, ts, stats_ts, disk_free=17 * 10 ** 9):
    return _slave(sid, ts, "STATS", [
        stats_ts, 32 * 10 ** 9, disk_free, 4 * 10 ** 9, 2 * 10 ** 9,
        10 ** 8, 10 ** 8, 0.5, 48.25])


def slave_status(sid, ts, kind):
    """The last thing the master told slave *sid*: one of four kinds."""
    kind %= 4
    if kind == 0:
        return _slave(sid, ts, "BUILD", ["numpy", "1.26.4"])
    if kind == 1:
        abi = _ABIS[sid % len(_ABIS)][0]
        return _slave(sid, ts, "SEND",
                      f"numpy-1.26.4-{abi}-{abi}-linux_armv7l.whl")
    if kind == 2:
        return _slave(sid, ts, "DONE", _NO_DATA)
    return _slave(sid, ts, "SLEEP", False)


def slave_count_frames(n_slaves, stats_each=100, master_history=100):
    """How many frames :func:`replay` returns."""
    return 1 + master_history + n_slaves * (stats_each + 2)


def replay(n_slaves, t0, stats_each=100, master_history=100):
    """
    What a master with *n_slaves* live slaves answers to HELLO: its HELLO,
    its STATS history interleaved with the slaves' entries (not in a block),
    and for every slave its HELLO, *stats_each* STATS reports and the last
    message the master sent it. Timestamps are at most a few minutes before
    *t0*, so every slave is fresh.
    """
    frames = [master_hello(t0)]
    before = {}
    for i in range(master_history):
        k = i * n_slaves // master_history
        before[k] = before.get(k, 0) + 1
    done = 0
    step = dt.timedelta(seconds=2)
    for k in range(n_slaves):
        for _ in range(before.get(k, 0)):
            done += 1
            frames.append(master_stats(
                t0 - (master_history - done) * dt.timedelta(seconds=10)))
        sid = k + 1
        first = t0 - dt.timedelta(hours=2, seconds=sid)
        frames.append(slave_hello(sid, first))
        for i in range(stats_each):
            ts = t0 - (stats_each - i) * step
            frames.append(slave_stats(sid, ts, ts + dt.timedelta(seconds=0.25)))
        frames.append(slave_status(sid, t0 - dt.timedelta(seconds=1), k))
    return frames


def stream_cycle(n_slaves, t0):
    """
    The repeating pattern of a sustained stream over *n_slaves* slaves, as a
    list of (prefix, suffix) pairs: a frame is ``prefix + seq + suffix``
    where *seq* is a 4-byte big-endian sequence number (carried in a slave
    STATS report's ``disk free``), or just ``prefix`` when *suffix* is None
    (status messages carry no sequence number). One pass visits every slave
    eight times: four STATS reports and BUILD, SEND, DONE, SLEEP between
    them; one frame in 1000 is a master STATS instead.
    """
    cycle = []
    stats = {}
    for phase in range(8):
        for k in range(n_slaves):
            sid = k + 1
            if len(cycle) % 1000 == 999:
                cycle.append((master_stats(t0), None))
                continue
            if phase % 2 == 0:
                if sid not in stats:
                    frame = slave_stats(sid, t0, t0, _SEQ_MARK)
                    at = frame.index(_SEQ_BYTES)
                    assert frame.count(_SEQ_BYTES) == 1
                    stats[sid] = (frame[:at + 1], frame[at + 5:])
                cycle.append(stats[sid])
            else:
                cycle.append((slave_status(sid, t0, phase // 2), None))
    return cycle


def check(frames, now):
    """Raise if the monitor's decoder rejects any kind of *frames*."""
    from piw_monitor import protocol

    for frame in frames:
        event = protocol.decode_status(frame, now=now)
        if isinstance(event, protocol.BadFrame):
            raise AssertionError(f"bad frame {frame!r}: {event.reason}")
