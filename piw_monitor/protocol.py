"""
The piwheels master's monitor protocol: decoding and encoding of frames.

This module turns the frames a piwheels master publishes on its *status
queue* into typed, validated events, and builds the frames a monitor pushes to
its *control queue*. It also holds the master's side of both (encoding status
events, decoding control frames), which the demo master uses, so that one
module defines the wire format in both directions.

It imports neither 0MQ nor urwid, and no exception leaves :func:`decode_status`
or :func:`decode_control`: a frame that is not valid becomes a
:class:`BadFrame` carrying a short reason.

The format, as recorded from a real master (piwheels 0.23):

* one message is one 0MQ frame holding one CBOR item;
* a message without data is a bare CBOR text string (``"HELLO"``);
* a message with data is a two-item array ``[message, data]``;
* datetimes are CBOR tag 0 (RFC 3339 text, UTC); durations are tag 2001
  around ``[days, seconds, microseconds]``; "no data" inside a SLAVE message
  is tag 2002 around null.

Both cbor2 5.4 (the piwheels master's) and cbor2 6 are supported: no decoder
hook is used, tags are resolved after decoding, so the hook signatures that
changed between the two do not matter.

Every frame is decoded by cbor2, the library the master itself encodes
with, and then checked here, once: there is no second decoder to keep in
step (an optional C accelerator for the commonest frames was retired
before the first release: see *Performance* in the documentation). The
link hands over the frames it reads at once to :func:`decode_statuses`,
which has cbor2 read them as one CBOR sequence (RFC 8742) rather than
make a decoder for each; what it makes of them is what
:func:`decode_status` makes of each alone, bad frames and their reasons
included.
"""

from __future__ import annotations

import datetime as dt
import inspect
import io
import threading
from dataclasses import dataclass, fields

import cbor2

__all__ = [
    "Event", "MasterHello", "MasterStats", "SlaveEvent", "SlaveHello",
    "SlaveStats", "SlaveAck", "SlaveSleep", "SlaveBuild", "SlaveCont",
    "SlaveSend", "SlaveDone", "SlaveDie", "BadFrame", "LinkEvent", "LinkUp",
    "LinkDown", "Overflow", "Unreachable", "TunnelUp", "TunnelDown",
    "CommandSent", "LinkProblem", "Control",
    "decode_status", "decode_statuses", "encode_status", "decode_control",
    "encode_control",
    "hello", "pause", "resume", "kill", "skip", "quit_master",
    "NO_DATA", "MAX_FRAME_SIZE", "CONTROL_MESSAGES", "NotSent",
]

#: The largest status frame accepted by default, in bytes. A real master's
#: largest frame (a STATS report with a few ABIs) is under 300 bytes.
MAX_FRAME_SIZE = 64 * 1024

#: Deepest container nesting in a valid frame is 4 (SLAVE -> data -> HELLO
#: data -> duration); anything much deeper is hostile.
MAX_DEPTH = 8

#: Longest text accepted inside a frame (labels, package names, file names).
MAX_TEXT = 1024

#: Most entries accepted in a per-ABI map.
MAX_MAP = 256

#: Largest integer accepted for counts and sizes (they are uint64 on the wire,
#: but a real value is far below this).
MAX_INT = 2 ** 62

#: Timestamps before this are absurd for a piwheels master.
MIN_TIME = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)

#: Timestamps this far ahead of the monitor's clock are absurd. Only the
#: absurd is refused here: a master whose clock is hours or days ahead of
#: the monitor's is judged on its own clock by the model
#: (:class:`piw_monitor.model.MasterClock`).
MAX_FUTURE = dt.timedelta(days=365)

#: Longest duration accepted (build and busy timeouts, total build time).
MAX_DURATION = dt.timedelta(days=100 * 365)

TAG_DATETIME = 0
TAG_TIMEDELTA = 2001
TAG_NODATA = 2002


class _NoData:
    """
    The marker for "this message carries no data" (CBOR tag 2002 inside a
    SLAVE message, or a control message sent as a bare string).
    """
    __slots__ = ()

    def __repr__(self):
        return "NO_DATA"

    def __reduce__(self):
        return "NO_DATA"


#: Singleton meaning "no data" (see :class:`_NoData`).
NO_DATA = _NoData()


class ProtocolError(ValueError):
    """Raised inside this module for a frame that breaks the protocol."""


class NotSent(Exception):
    """
    A control message was not sent (raised by a master link's ``send``).
    ``args[0]`` says why in a few words fit for the status line, e.g. ``not
    connected to the master: nothing was sent``.
    """


# ---------------------------------------------------------------- events
#
# Events are values: nothing changes one once it is built. They are plain
# slotted dataclasses all the same, not frozen ones: a frozen dataclass's
# __init__ sets each field through object.__setattr__, and that made
# building the event the dearest step of decoding a slave's STATS, the
# commonest frame (98 % of a replay).

@dataclass(slots=True)
class Event:
    """Base class of everything :func:`decode_status` returns."""


@dataclass(slots=True)
class MasterHello(Event):
    """The master introduced itself (``["HELLO", data]``)."""
    started: dt.datetime
    label: str
    os_name: str
    os_version: str
    board_revision: str
    board_serial: str


@dataclass(slots=True)
class MasterStats(Event):
    """The master's periodic statistics (``["STATS", data]``)."""
    timestamp: dt.datetime
    packages_built: int
    builds_last_hour: dict
    builds_time: dt.timedelta
    builds_size: int
    builds_pending: dict
    new_last_hour: int
    files_count: int
    downloads_last_hour: int
    downloads_last_month: int
    downloads_all: int
    disk_size: int
    disk_free: int
    mem_size: int
    mem_free: int
    swap_size: int
    swap_free: int
    load_average: float
    cpu_temp: float


@dataclass(slots=True)
class SlaveEvent(Event):
    """
    Base of the ``["SLAVE", [slave_id, timestamp, message, data]]`` events.
    *timestamp* is when the master last heard from the slave (for HELLO:
    when it first saw it).
    """
    slave_id: int
    timestamp: dt.datetime

    #: The inner message name on the wire.
    message = ""


@dataclass(slots=True)
class SlaveHello(SlaveEvent):
    """A slave (re)introduced itself: the start of its record."""
    build_timeout: dt.timedelta
    busy_timeout: dt.timedelta
    py_version: str
    abi: str
    platform: str
    label: str
    os_name: str
    os_version: str
    board_revision: str
    board_serial: str
    message = "HELLO"


@dataclass(slots=True)
class SlaveStats(SlaveEvent):
    """A slave's own health report (*stats_timestamp* is its own clock)."""
    stats_timestamp: dt.datetime
    disk_size: int
    disk_free: int
    mem_size: int
    mem_free: int
    swap_size: int
    swap_free: int
    load_average: float
    cpu_temp: float
    message = "STATS"


@dataclass(slots=True)
class SlaveAck(SlaveEvent):
    """The master accepted the slave and gave it its id and index URL."""
    assigned_id: int
    index_url: str
    message = "ACK"


@dataclass(slots=True)
class SlaveSleep(SlaveEvent):
    """The slave was told to wait: *paused* by an operator, or idle."""
    paused: bool
    message = "SLEEP"


@dataclass(slots=True)
class SlaveBuild(SlaveEvent):
    """The slave was told to build *package* *version*."""
    package: str
    version: str
    message = "BUILD"


@dataclass(slots=True)
class SlaveCont(SlaveEvent):
    """The slave was told to keep building."""
    message = "CONT"


@dataclass(slots=True)
class SlaveSend(SlaveEvent):
    """The slave is transferring *filename* to the master."""
    filename: str
    message = "SEND"


@dataclass(slots=True)
class SlaveDone(SlaveEvent):
    """The slave was told its build is over (cleaning up)."""
    message = "DONE"


@dataclass(slots=True)
class SlaveDie(SlaveEvent):
    """
    The slave was told to terminate, or said goodbye. *expired* is true when
    the master gave up on a silent slave (data is a plain null rather than the
    "no data" tag).
    """
    expired: bool = False
    message = "DIE"


@dataclass(slots=True)
class BadFrame(Event):
    """A frame that is not valid. *reason* is short and safe to display."""
    reason: str
    size: int = 0


# Events that do not come off the wire: the master link reports the state of
# its connection with these, and a command it sent, so that the model hears
# of them through the same single entry point as of everything else.

@dataclass(slots=True)
class LinkEvent(Event):
    """Base of the events the master link makes itself."""


@dataclass(slots=True)
class LinkUp(LinkEvent):
    """
    The link has a live connection to the master on both queues.
    *replay_in* is how many seconds the link waits before asking for the
    master's replay (0: at once), after replays that kept breaking the
    connection.
    """
    replay_in: float = 0.0


@dataclass(slots=True)
class LinkDown(LinkEvent):
    """
    The link lost its connection to the master. *broken_replays* counts the
    connections in a row, this one included, that ended soon after asking
    for the replay (0 when this one did not), the sign of a replay holding a
    frame over the size limit.
    """
    reason: str = ""
    broken_replays: int = 0


@dataclass(slots=True)
class Overflow(LinkEvent):
    """
    The link fell so far behind the master that waiting frames held more
    than its memory bound (*memory*, the process's resident size in bytes
    when it noticed): it read *dropped* frames without decoding them, and
    asked the master for a fresh replay (*asked*; a read-only link cannot
    ask, and waits for another monitor's).
    """
    dropped: int
    memory: int
    asked: bool = True


@dataclass(slots=True)
class Unreachable(LinkEvent):
    """
    The link is not connected, and the way to the master says why:
    *reason* is one line (for example: a socket that accepts connections but
    closes them before any master answers, as a tunnel does whose far end
    has no master).
    """
    reason: str


@dataclass(slots=True)
class TunnelUp(LinkEvent):
    """The SSH tunnel to *destination* made its sockets (ssh is logged in)."""
    destination: str


@dataclass(slots=True)
class TunnelDown(LinkEvent):
    """
    ssh, which tunnels to *destination*, exited: *reason* is its own (the
    last line it wrote on standard error); it is started again in
    *retry_in* seconds. *advice* says what to do when the user must act
    ('' otherwise), and *fatal* is true for failures that trying again will
    not cure by itself (a refused key, an unknown host key).
    """
    destination: str
    reason: str
    retry_in: float = 0.0
    advice: str = ""
    fatal: bool = False


@dataclass(slots=True)
class CommandSent(LinkEvent):
    """
    The monitor handed a control message to the master. *data* is a slave
    id, None (all slaves), or NO_DATA for a message without data.
    """
    message: str
    data: object = NO_DATA


@dataclass(slots=True)
class LinkProblem(LinkEvent):
    """
    Why the link cannot reach the master, as found while it waits for it.
    *cause* is a keyword (the link's ``CAUSES`` lists them; empty: the
    problem reported before is no longer found, and the link still waits),
    *queue* the queue it is about (``"status queue"`` or ``"control
    queue"``), *address* that queue's address, *detail* one line naming the
    cause and the address (``"permission denied on ipc:///tmp/piw-status"``)
    and *hint* a short guess at the fix (may be empty).
    """
    cause: str = ""
    queue: str = ""
    address: str = ""
    detail: str = ""
    hint: str = ""

    def describe(self):
        """The detail and the hint in one line, as the monitor shows them."""
        return f"{self.detail} ({self.hint})" if self.hint else self.detail


@dataclass(frozen=True, slots=True)
class Control:
    """A control message: *message* and, when *data* is not NO_DATA, its data."""
    message: str
    data: object = NO_DATA


# ------------------------------------------------------------ validation
#
# One check per kind of value. Each takes the common case (exactly the type
# a master writes, in range) in its first comparison and only then looks
# closer, to say precisely what is wrong: a frame is decoded once, by cbor2,
# and checked once, here.

_DATETIME = dt.datetime


def _text(value, what):
    if type(value) is str and len(value) <= MAX_TEXT:
        return value
    if not isinstance(value, str):
        raise ProtocolError(f"{what} is not text")
    if len(value) > MAX_TEXT:
        raise ProtocolError(f"{what} is too long ({len(value)} chars)")
    return value


def _int(value, what, lo=0, hi=MAX_INT):
    if type(value) is int and lo <= value <= hi:
        return value
    # bool is an int subclass; it is never a valid count
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolError(f"{what} is not an integer")
    if not lo <= value <= hi:
        # a bignum can have more digits than str() allows: say less
        shown = value if -10 ** 30 < value < 10 ** 30 else "huge"
        raise ProtocolError(f"{what} out of range ({shown})")
    return value


def _float(value, what, lo=-1e6, hi=1e6):
    if type(value) is float and lo <= value <= hi:  # NaN fails this
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProtocolError(f"{what} is not a number")
    if isinstance(value, int) and not lo <= value <= hi:
        # before float(), which overflows on a bignum
        raise ProtocolError(f"{what} out of range")
    value = float(value)
    if not lo <= value <= hi:  # also rejects NaN
        raise ProtocolError(f"{what} out of range ({value!r})")
    return value


def _bool(value, what):
    if not isinstance(value, bool):
        raise ProtocolError(f"{what} is not a boolean")
    return value


def _time(value, what, limit):
    """
    *value* if it is an aware datetime from MIN_TIME to *limit* (a datetime,
    or None for no upper limit): see :func:`_future`.
    """
    if type(value) is _DATETIME and value.tzinfo is not None and \
            MIN_TIME <= value and (limit is None or value <= limit):
        return value
    if not isinstance(value, dt.datetime):
        raise ProtocolError(f"{what} is not a timestamp")
    if value.tzinfo is None:
        raise ProtocolError(f"{what} has no time zone")
    if value < MIN_TIME:
        raise ProtocolError(f"{what} is before 2000")
    if limit is not None and value > limit:
        raise ProtocolError(f"{what} is in the future")
    return value


# (now, now + MAX_FUTURE) for the last *now* seen: the link decodes a whole
# batch of frames with the same *now*
_last_future = (None, None)


def _future(now):
    """
    The latest timestamp accepted when the monitor's clock says *now*:
    ``now + MAX_FUTURE``, computed once per *now*; None for None.
    """
    global _last_future
    last, limit = _last_future
    if now is not last:
        limit = None if now is None else now + MAX_FUTURE
        _last_future = (now, limit)
    return limit


def _duration(value, what):
    if not isinstance(value, cbor2.CBORTag) or value.tag != TAG_TIMEDELTA:
        raise ProtocolError(f"{what} is not a duration")
    parts = value.value
    if not isinstance(parts, (list, tuple)) or len(parts) != 3:
        raise ProtocolError(f"{what} is not a duration")
    days, seconds, micros = (
        _int(p, what, -MAX_INT, MAX_INT) for p in parts)
    try:
        result = dt.timedelta(days=days, seconds=seconds, microseconds=micros)
    except OverflowError:
        raise ProtocolError(f"{what} out of range") from None
    if not dt.timedelta(0) <= result <= MAX_DURATION:
        raise ProtocolError(f"{what} out of range")
    return result


def _abi_map(value, what):
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} is not a map")
    if len(value) > MAX_MAP:
        raise ProtocolError(f"{what} has too many entries")
    return {
        _text(k, f"{what} key"): _int(v, f"{what} value")
        for k, v in value.items()
    }


def _array(value, length, what):
    if type(value) is list and len(value) == length:
        return value
    if not isinstance(value, (list, tuple)):
        raise ProtocolError(f"{what} is not an array")
    if len(value) != length:
        raise ProtocolError(
            f"{what} has {len(value)} items, expected {length}")
    return value


def _nodata(value, what):
    if not (isinstance(value, cbor2.CBORTag) and value.tag == TAG_NODATA
            and value.value is None):
        raise ProtocolError(f"{what} should carry no data")


# ---------------------------------------------------------------- decoding
#
# Every decoder below takes the message's data as cbor2 decoded it and
# *limit*, the latest timestamp accepted (see _future), and returns an event
# or raises ProtocolError.

def _master_hello(data, limit):
    started, label, os_name, os_version, rev, serial = _array(
        data, 6, "HELLO data")
    return MasterHello(
        _time(started, "start time", limit), _text(label, "label"),
        _text(os_name, "OS name"), _text(os_version, "OS version"),
        _text(rev, "board revision"), _text(serial, "board serial"))


#: The range of a load average and of a temperature.
_LOAD = (-1e6, 1e6)
_TEMPERATURE = (-300, 1000)

_STATS_INTS = (
    "packages built", None, None, "build size", None, "new packages",
    "file count", "downloads/hour", "downloads/month", "downloads",
    "disk size", "disk free", "memory size", "memory free", "swap size",
    "swap free")


def _master_stats(data, limit):
    data = _array(data, 19, "STATS data")
    values = [_time(data[0], "timestamp", limit)]
    for i, name in enumerate(_STATS_INTS, start=1):
        if i in (2, 5):
            values.append(_abi_map(data[i], "builds by ABI"))
        elif i == 3:
            values.append(_duration(data[i], "build time"))
        else:
            values.append(_int(data[i], name))
    values.append(_float(data[17], "load average", *_LOAD))
    values.append(_float(data[18], "temperature", *_TEMPERATURE))
    return MasterStats(*values)


def _slave_hello(sid, ts, data, limit):
    (build_to, busy_to, py, abi, plat, label, os_name, os_version, rev,
     serial) = _array(data, 10, "slave HELLO data")
    return SlaveHello(
        sid, ts, _duration(build_to, "build timeout"),
        _duration(busy_to, "busy timeout"), _text(py, "Python version"),
        _text(abi, "ABI"), _text(plat, "platform"), _text(label, "label"),
        _text(os_name, "OS name"), _text(os_version, "OS version"),
        _text(rev, "board revision"), _text(serial, "board serial"))


def _slave_stats(sid, ts, data, limit):
    # The commonest frame of all (98 % of a replay): its values are checked
    # in one expression, the same comparisons as _time, _int and _float
    # make, in the same order; anything else goes through those checks,
    # which accept it or say what is wrong (the reference decoder in the
    # tests holds both to the protocol).
    if type(data) is list and len(data) == 9:
        (stamp, disk_size, disk_free, mem_size, mem_free, swap_size,
         swap_free, load, temp) = data
        if (type(stamp) is _DATETIME and stamp.tzinfo is not None
                and MIN_TIME <= stamp and (limit is None or stamp <= limit)
                and type(disk_size) is int and 0 <= disk_size <= MAX_INT
                and type(disk_free) is int and 0 <= disk_free <= MAX_INT
                and type(mem_size) is int and 0 <= mem_size <= MAX_INT
                and type(mem_free) is int and 0 <= mem_free <= MAX_INT
                and type(swap_size) is int and 0 <= swap_size <= MAX_INT
                and type(swap_free) is int and 0 <= swap_free <= MAX_INT
                and type(load) is float and _LOAD[0] <= load <= _LOAD[1]
                and type(temp) is float
                and _TEMPERATURE[0] <= temp <= _TEMPERATURE[1]):
            return SlaveStats(
                sid, ts, stamp, disk_size, disk_free, mem_size, mem_free,
                swap_size, swap_free, load, temp)
    data = _array(data, 9, "slave STATS data")
    return SlaveStats(
        sid, ts, _time(data[0], "slave timestamp", limit),
        *(_int(v, "slave resource") for v in data[1:7]),
        _float(data[7], "load average", *_LOAD),
        _float(data[8], "temperature", *_TEMPERATURE))


def _slave_ack(sid, ts, data, limit):
    assigned, url = _array(data, 2, "ACK data")
    return SlaveAck(sid, ts, _int(assigned, "slave id"), _text(url, "URL"))


def _slave_sleep(sid, ts, data, limit):
    return SlaveSleep(sid, ts, _bool(data, "SLEEP data"))


def _slave_build(sid, ts, data, limit):
    package, version = _array(data, 2, "BUILD data")
    return SlaveBuild(sid, ts, _text(package, "package"),
                      _text(version, "version"))


def _slave_cont(sid, ts, data, limit):
    _nodata(data, "CONT")
    return SlaveCont(sid, ts)


def _slave_send(sid, ts, data, limit):
    return SlaveSend(sid, ts, _text(data, "file name"))


def _slave_done(sid, ts, data, limit):
    _nodata(data, "DONE")
    return SlaveDone(sid, ts)


def _slave_die(sid, ts, data, limit):
    if data is None:
        return SlaveDie(sid, ts, expired=True)
    _nodata(data, "DIE")
    return SlaveDie(sid, ts)


_SLAVE_DECODERS = {
    "HELLO": _slave_hello,
    "STATS": _slave_stats,
    "ACK": _slave_ack,
    "SLEEP": _slave_sleep,
    "BUILD": _slave_build,
    "CONT": _slave_cont,
    "SEND": _slave_send,
    "DONE": _slave_done,
    "DIE": _slave_die,
}


def _slave(data, limit):
    # every SLAVE message: its id and timestamp checked in one expression
    # (as _int and _time check them), else by those checks
    if type(data) is list and len(data) == 4:
        sid, ts, message, inner = data
        if (type(sid) is int and 0 <= sid <= MAX_INT
                and type(ts) is _DATETIME and ts.tzinfo is not None
                and MIN_TIME <= ts and (limit is None or ts <= limit)
                and type(message) is str):
            decoder = _SLAVE_DECODERS.get(message)
            if decoder is not None:
                return decoder(sid, ts, inner, limit)
    sid, ts, message, inner = _array(data, 4, "SLAVE data")
    sid = _int(sid, "slave id")
    ts = _time(ts, "slave timestamp", limit)
    decoder = _SLAVE_DECODERS.get(message) if type(message) is str else None
    if decoder is None:
        message = _text(message, "slave message")
        raise ProtocolError(f"unknown slave message {_short(message)}")
    return decoder(sid, ts, inner, limit)


_STATUS_DECODERS = {
    "HELLO": _master_hello,
    "STATS": _master_stats,
    "SLAVE": _slave,
}

#: The CBOR tags a piwheels master writes: datetimes (0), durations (2001)
#: and "no data" (2002). cbor2 gives the last two back as plain tags.
WIRE_TAGS = (TAG_DATETIME, TAG_TIMEDELTA, TAG_NODATA)

#: Tags that cbor2 would otherwise decode into Python objects at a cost out
#: of all proportion to their size, none of which a master writes: the
#: decoder refuses them on sight (see :func:`_refuser`). Measured on a 64 KB
#: frame with cbor2 6.3: a decimal fraction (4) or bigfloat (5) with a huge
#: mantissa 0.33 s, a regular expression (35) 65 ms, a MIME message (36)
#: 55 ms, a rational (30) 2 ms; every other tag cbor2 knows costs well under
#: a millisecond and is refused by the checks afterwards.
REFUSED_TAGS = frozenset({4, 5, 30, 35, 36})

#: Frames up to this size (bytes) decoded alone (:func:`decode_status`) are
#: decoded without the refusal of :data:`REFUSED_TAGS`: there the costly
#: tags cost a quarter of a millisecond at most (a regular expression; the
#: cost grows with the size, for some with its square), and cbor2 6 makes
#: every frame decoded with tag decoders of its own 0.3 us slower (15 %).
#: Frames up to this size are also those :func:`decode_statuses` joins into
#: one CBOR sequence, and there the refusal is always made: an item can run
#: on from its frame into all those after it.
SMALL_FRAME = 256


class _RefusedTag(Exception):
    """Raised inside cbor2 for a tag in :data:`REFUSED_TAGS`."""


def _refuser(tag):
    def refuse(*_args):
        raise _RefusedTag(f"tag {tag} is not used by a piwheels master")
    return refuse


# cbor2 6 takes limits and tag decoders in the decoder; cbor2 5.4 does not
# (it relies on the interpreter's recursion limit, which we catch, and its
# C decoder's fixed tag decoders: see docs/reliability.rst)
try:
    _LOADS_PARAMS = inspect.signature(cbor2.CBORDecoder).parameters
except (TypeError, ValueError):  # pragma: no cover
    _LOADS_PARAMS = {}
_LOADS_KW = {
    k: v for k, v in {
        "max_depth": MAX_DEPTH,
        "allow_indefinite": False,
        "allow_duplicate_keys": False,
        "strict_hashable_types": True,
    }.items() if k in _LOADS_PARAMS
}
_LOADS_LARGE_KW = dict(_LOADS_KW)
if "semantic_decoders" in _LOADS_PARAMS:
    _LOADS_LARGE_KW["semantic_decoders"] = {
        tag: _refuser(tag) for tag in REFUSED_TAGS}


def _printable(text):
    return "".join(c if c.isprintable() else "?" for c in text)


def _short(text, limit=24):
    """A printable, bounded rendering of *text* for a reason string."""
    return repr(_printable(str(text)[:limit]))


# cbor2 5's marker for a "break" code outside an indefinite container
_BREAK_MARKER = getattr(cbor2, "break_marker", object())


def _decoders_start_afresh():
    """
    Whether a decoder given a new stream forgets everything it decoded
    before: cbor2 6's does; cbor2 5's keeps the values shared with tag 28,
    which a later frame could then refer to (tag 29).
    """
    try:
        decoder = cbor2.CBORDecoder(io.BytesIO(b"\xd8\x1c\x01"))  # 28(1)
        decoder.decode()
        decoder.fp = io.BytesIO(b"\xd8\x1d\x00")  # 29(0): that 1
    except Exception:  # pragma: no cover
        return False
    return _refuses_next(decoder)


def _refuses_next(decoder):
    """
    Whether cbor2 refuses the item *decoder* reads next (a reference to a
    value it must not know): True for a :exc:`cbor2.CBORDecodeError`.
    """
    try:
        decoder.decode()
    except cbor2.CBORDecodeError:
        return True
    except Exception:  # pragma: no cover
        return False
    return False


# Making a decoder costs almost half as much as decoding a frame with it, so
# where decoders start afresh each thread keeps one and gives it each frame in
# turn; one that raised or rejected its frame is never used again.
_REUSE_DECODERS = _decoders_start_afresh()
# thread id -> its decoder, for frames up to SMALL_FRAME bytes and for
# larger ones (the link's thread and the demo master's each decode): plain
# dicts, cheaper per frame than a threading.local
_decoders = ({}, {})
_thread_id = threading.get_ident


def _loads(frame):
    """
    Decode *frame*, which must hold exactly one CBOR item: bytes left over
    after it make the frame invalid (``cbor2.loads`` ignores them). Raises
    :class:`ProtocolError` with a short reason for anything cbor2 refuses.
    """
    fp = io.BytesIO(frame)
    large = len(frame) > SMALL_FRAME
    decoders = _decoders[large]
    # taken out while in use, put back only after a clean decode
    decoder = decoders.pop(_thread_id(), None)
    try:
        if decoder is None:
            decoder = cbor2.CBORDecoder(
                fp, **(_LOADS_LARGE_KW if large else _LOADS_KW))
        else:
            decoder.fp = fp
        msg = decoder.decode()
    except RecursionError:
        raise ProtocolError("nesting too deep") from None
    except MemoryError:
        raise ProtocolError("frame too large to decode") from None
    except Exception as exc:  # cbor2 raises many kinds, by version
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, _RefusedTag):
            raise ProtocolError(str(cause)) from None
        reason = _printable(str(exc).split("\n")[0])
        if "depth" in reason:
            raise ProtocolError("nesting too deep") from None
        raise ProtocolError(f"invalid CBOR: {reason[:60]}") from None
    if msg is _BREAK_MARKER:
        # cbor2 5 returns a stray "break" code as a value; 6 raises
        raise ProtocolError("invalid CBOR: unexpected break code")
    # cbor2 6 leaves the stream just past the item even though it reads
    # ahead; should a version not, this check lets trailing bytes through
    # but never rejects a valid frame
    if fp.tell() < len(frame):
        raise ProtocolError(
            f"{len(frame) - fp.tell()} bytes after the message")
    if _REUSE_DECODERS:
        decoders[_thread_id()] = decoder
    return msg


def decode_status(frame, now=None, max_size=MAX_FRAME_SIZE):
    """
    Decode one status-queue *frame* (bytes, or any buffer of at most
    *max_size* bytes) into an :class:`Event`.

    *now* (a timezone-aware datetime), when given, is used to reject
    timestamps absurdly far in the future. Never raises: an invalid frame
    becomes a :class:`BadFrame` with a short reason and the frame's size.
    Every frame goes the same way: cbor2 decodes it (:func:`_loads`), then
    the checks of this module make it an event or say what is wrong.
    """
    try:
        size = len(frame)
    except TypeError:
        return BadFrame("not a byte string")
    try:
        if size == 0:
            raise ProtocolError("empty frame")
        if size > max_size:
            raise ProtocolError(f"frame too large ({size} bytes)")
        msg = _loads(frame)
    except ProtocolError as exc:
        return BadFrame(str(exc), size)
    except Exception as exc:  # a bug here must not take the monitor down
        return BadFrame(f"undecodable ({type(exc).__name__})", size)
    return _event(msg, _future(now), size)


def _event(msg, limit, size):
    """
    The event a decoded status message *msg* stands for, checked (*limit*:
    see :func:`_future`), or a :class:`BadFrame` saying what is wrong with
    it (*size*: the frame's, in bytes). Never raises.
    """
    try:
        if type(msg) is list and len(msg) == 2:
            name, data = msg
        elif isinstance(msg, str):
            raise ProtocolError(f"{_short(msg)} without data")
        elif not isinstance(msg, (list, tuple)):
            raise ProtocolError("not a message")
        elif len(msg) != 2:
            raise ProtocolError(f"message has {len(msg)} items, expected 2")
        else:
            name, data = msg
        decoder = _STATUS_DECODERS.get(name) if type(name) is str else None
        if decoder is None:
            if not isinstance(name, str):
                raise ProtocolError("message name is not text")
            raise ProtocolError(f"unknown message {_short(name)}")
        return decoder(data, limit)
    except ProtocolError as exc:
        return BadFrame(str(exc), size)
    except Exception as exc:  # a bug here must not take the monitor down
        return BadFrame(f"undecodable ({type(exc).__name__})", size)


def _sequences_start_afresh():
    """
    Whether one cbor2 decoder reading a CBOR sequence (RFC 8742) decodes
    each item as if it were alone, as :func:`decode_statuses` needs: a
    value shared with tag 28 in one item is unknown to the next (tag 29),
    and the stream is left just past each item.
    """
    try:
        fp = io.BytesIO(b"\xd8\x1c\x01\xd8\x1d\x00\x01")  # 28(1) 29(0) 1
        # made as decode_statuses makes its decoder
        decoder = cbor2.CBORDecoder(fp, **_LOADS_LARGE_KW)
        if decoder.decode() != 1 or fp.tell() != 3:
            return False  # pragma: no cover
    except Exception:  # pragma: no cover
        return False
    return _refuses_next(decoder)


# cbor2 6: a batch of frames is decoded as one CBOR sequence; cbor2 5 keeps
# shared values from one item to the next, and decodes frame by frame
_SEQUENCES = _sequences_start_afresh()


def decode_statuses(frames, now=None, max_size=MAX_FRAME_SIZE):
    """
    :func:`decode_status` of each of *frames* (a list of bytes-like
    objects: bytes, or the ``zmq.Frame`` of a receive), as a list of events
    in their order: the same events and the same reasons, for less per
    frame. Never raises.

    cbor2 decodes the frames of up to :data:`SMALL_FRAME` bytes, joined, as
    one CBOR sequence (RFC 8742) with one decoder, which makes a decoder and
    a stream once per batch instead of once per frame; the position of the
    stream after each item proves that it ended exactly where its frame
    does, and the costly tags of :data:`REFUSED_TAGS` are refused on sight
    (an item that runs on past its frame reads the frames after it). A
    frame that fails anything here (cbor2 refuses it, or its item ends
    before or after its frame's end) and every larger frame are decoded
    alone by :func:`decode_status`, which says what is wrong. (Should a
    buffer's ``len`` not be its size in bytes, the frames after it fail
    that check too, and are decoded alone: the results are the same.)
    """
    frames = list(frames)
    if not _SEQUENCES or len(frames) < 2:
        return [decode_status(frame, now, max_size) for frame in frames]
    try:
        sizes = [len(frame) for frame in frames]
        small = min(SMALL_FRAME, max_size)
        fp = io.BytesIO(b"".join(
            frame for frame, size in zip(frames, sizes, strict=True)
            if 0 < size <= small))
    except Exception:  # not bytes-like: each is told so on its own
        return [decode_status(frame, now, max_size) for frame in frames]
    limit = _future(now)
    tell = fp.tell
    decoder = None
    end = 0
    events = []
    append = events.append
    for frame, size in zip(frames, sizes, strict=True):
        if not 0 < size <= small:
            append(decode_status(frame, now, max_size))
            continue
        end += size
        if decoder is None:
            # costly tags refused: an item that runs on into the frames
            # after its own can be as large as the whole batch
            decoder = cbor2.CBORDecoder(fp, **_LOADS_LARGE_KW)
        try:
            msg = decoder.decode()
            whole = tell() == end and msg is not _BREAK_MARKER
        except Exception:
            whole = False
        if whole:
            append(_event(msg, limit, size))
        else:
            # the frame alone, for the reason; the sequence goes on after
            # it, with a decoder that has not seen the trouble
            append(decode_status(frame, now, max_size))
            fp.seek(end)
            decoder = None
    return events


def _td(value):
    return cbor2.CBORTag(TAG_TIMEDELTA, [
        value.days, value.seconds, value.microseconds])


def _wire_value(value):
    if isinstance(value, dt.timedelta):
        return _td(value)
    return value


def encode_status(event):
    """
    Encode a status *event* as a real master would (the demo master's side).
    Decoding the result gives back an equal event.
    """
    if isinstance(event, MasterHello):
        return cbor2.dumps(["HELLO", [
            getattr(event, f.name) for f in fields(event)]])
    if isinstance(event, MasterStats):
        return cbor2.dumps(["STATS", [
            _wire_value(getattr(event, f.name)) for f in fields(event)]])
    if isinstance(event, SlaveEvent):
        extra = [f.name for f in fields(event)][2:]
        if isinstance(event, SlaveDie):
            data = None if event.expired else cbor2.CBORTag(TAG_NODATA, None)
        elif isinstance(event, (SlaveDone, SlaveCont)):
            data = cbor2.CBORTag(TAG_NODATA, None)
        elif len(extra) == 1:
            data = getattr(event, extra[0])
        else:
            data = [_wire_value(getattr(event, name)) for name in extra]
        return cbor2.dumps(["SLAVE", [
            event.slave_id, event.timestamp, event.message, data]])
    raise TypeError(f"cannot encode {event!r}")


# ------------------------------------------------------------ control queue

#: Control messages and whether they carry data (a slave id or null).
CONTROL_MESSAGES = {
    "HELLO": False,
    "QUIT": False,
    "SLEEP": True,
    "WAKE": True,
    "KILL": True,
    "SKIP": True,
}


def encode_control(message, data=NO_DATA):
    """
    Encode a control *message*: a bare string without data, else
    ``[message, data]`` where *data* is a slave id or None (all slaves).
    """
    try:
        takes_data = CONTROL_MESSAGES[message]
    except KeyError:
        raise ValueError(f"unknown control message {message!r}") from None
    if not takes_data:
        if data is not NO_DATA:
            raise ValueError(f"{message} takes no data")
        return cbor2.dumps(message)
    if data is NO_DATA:
        raise ValueError(f"{message} needs a slave id or None")
    if data is not None:
        _int(data, "slave id")
    return cbor2.dumps([message, data])


def decode_control(frame):
    """
    Decode a control-queue *frame* (the master's side) into a
    :class:`Control`, or a :class:`BadFrame`. Never raises.
    """
    try:
        size = len(frame)
    except TypeError:
        return BadFrame("not a byte string")
    try:
        if size == 0:
            raise ProtocolError("empty frame")
        if size > 1024:
            raise ProtocolError("frame too large")
        msg = _loads(frame)
        if isinstance(msg, str):
            name, data = msg, NO_DATA
        elif isinstance(msg, (list, tuple)) and len(msg) == 2:
            name, data = msg
        else:
            raise ProtocolError("not a control message")
        if not isinstance(name, str) or name not in CONTROL_MESSAGES:
            raise ProtocolError(f"unknown control message {_short(name)}")
        if CONTROL_MESSAGES[name] != (data is not NO_DATA):
            raise ProtocolError(f"{name} with wrong data")
        if data is not NO_DATA and data is not None:
            _int(data, "slave id")
        return Control(name, data)
    except ProtocolError as exc:
        return BadFrame(str(exc), size)
    except Exception as exc:
        return BadFrame(f"undecodable ({type(exc).__name__})", size)


def hello():
    """Ask the master for a replay of everything it knows."""
    return encode_control("HELLO")


def pause():
    """Pause the master and every slave (today's master: SLEEP for all)."""
    return encode_control("SLEEP", None)


def resume():
    """Resume the master and every slave (WAKE for all)."""
    return encode_control("WAKE", None)


def kill(slave_id=None):
    """Tell a slave (or all, with None) to terminate at its next request."""
    return encode_control("KILL", slave_id)


def skip(slave_id=None):
    """
    Abandon a slave's current build at its next contact. With None (all
    slaves) today's master accepts it and changes nothing.
    """
    return encode_control("SKIP", slave_id)


def quit_master():
    """Tell the master to shut down."""
    return encode_control("QUIT")
