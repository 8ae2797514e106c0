"""
Resources under pressure: thresholds, levels, flags, a bounded history of a
machine's figures, and the outlook of the master's queue.

Plain Python, free of urwid and zmq: the model uses it to judge each STATS
report once, when it arrives (O(1)), and the screens and the headless modes
read what it decided.

**Levels.** Each resource figure is judged on a four-step scale, in the
manner of glances: *ok*, *careful*, *warning*, *critical* (0 to 3). A
figure reaches a level when it is at or past that level's threshold:

========== ============================ ===================
resource   figure                       default thresholds
========== ============================ ===================
memory     memory used, % of its size   50, 70, 90
swap       swap used, % of its size     50, 70, 90
disk       disk free, % of its size     30, 20, 10 (less is worse)
load       load average (1 minute)      4, 6, 8 (a Pi has 4 cores)
temp       CPU temperature, °C          60, 70, 80
========== ============================ ===================

**Pressure.** A machine is *under pressure* when one of these holds; the
word in brackets is what its row says:

* memory and swap nearly full (``memory``): memory critical and swap at
  least at warning, or swap critical and memory at least at warning (for
  a machine without swap: memory critical);
* disk nearly full (``disk``): disk critical;
* load high (``load``): load critical;
* temperature high (``hot``): temperature critical.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

__all__ = [
    "RESOURCES", "LEVELS", "DEFAULT_THRESHOLDS", "FLAGS", "Thresholds",
    "figures", "History", "HISTORY", "SERIES", "outlook", "outlook_words",
    "parse_thresholds",
]

#: The resources judged, in the order a row shows them.
RESOURCES = ("memory", "swap", "disk", "load", "temp")

#: The names of the levels 0 to 3.
LEVELS = ("ok", "careful", "warning", "critical")

#: careful, warning and critical thresholds of each resource: memory and
#: swap used (%), disk free (%, less is worse), load average, CPU temperature
#: (°C).
DEFAULT_THRESHOLDS = {
    "memory": (50.0, 70.0, 90.0),
    "swap": (50.0, 70.0, 90.0),
    "disk": (30.0, 20.0, 10.0),
    "load": (4.0, 6.0, 8.0),
    "temp": (60.0, 70.0, 80.0),
}

#: The words that flag a machine under pressure, in the order they are
#: listed.
FLAGS = ("memory", "disk", "load", "hot")

#: How many STATS reports a history keeps: as many as a master replays.
HISTORY = 100

#: The series of a :class:`History`, in its order: the report's time
#: (seconds since the epoch), memory used (%), swap used (%), disk free
#: (bytes), disk free (%), load average, CPU temperature (°C).
SERIES = ("time", "memory", "swap", "disk_free", "disk", "load", "temp")


def _pct(part, whole):
    return 100.0 * part / whole if whole and whole > 0 else None


def figures(stats):
    """
    The figures judged, from a :class:`~piw_monitor.protocol.SlaveStats` or
    :class:`~piw_monitor.protocol.MasterStats`: a dict of memory and swap
    used (%), disk free (%), load and temp (°C); a figure whose size is
    reported as zero (not measured, or no swap) is None.
    """
    return dict(zip(RESOURCES, _values(stats), strict=True))


def _values(stats):
    # the figures of :func:`figures`, in the order of RESOURCES: the sums of
    # _pct written out, as the model judges every STATS on them
    size = stats.mem_size
    memory = 100.0 * (size - stats.mem_free) / size if size > 0 else None
    size = stats.swap_size
    swap = 100.0 * (size - stats.swap_free) / size if size > 0 else None
    size = stats.disk_size
    disk = 100.0 * stats.disk_free / size if size > 0 else None
    return (memory, swap, disk, float(stats.load_average),
            float(stats.cpu_temp))


def parse_thresholds(text, resource):
    """
    Three thresholds (careful, warning, critical) from *text* such as
    ``"50,70,90"``, for *resource*: rising for every resource but disk,
    whose thresholds (free %) fall. Raises :exc:`ValueError` with the reason.
    """
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 3:
        raise ValueError("expected three numbers, CAREFUL,WARNING,CRITICAL")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise ValueError(f"{text!r} is not three numbers") from None
    if not all(math.isfinite(v) and v >= 0 for v in values):
        raise ValueError("thresholds must be numbers of at least 0")
    if resource in ("memory", "swap", "disk") and max(values) > 100:
        raise ValueError("percentages must be at most 100")
    if resource == "disk":
        if not values[0] >= values[1] >= values[2]:
            raise ValueError("disk thresholds (free %) must not rise, "
                             "as in 30,20,10")
    elif not values[0] <= values[1] <= values[2]:
        raise ValueError("thresholds must not fall, as in 50,70,90")
    return values


@dataclass(frozen=True)
class Thresholds:
    """
    The careful, warning and critical thresholds of each resource (see
    :data:`DEFAULT_THRESHOLDS` for the units).
    """
    memory: tuple = DEFAULT_THRESHOLDS["memory"]
    swap: tuple = DEFAULT_THRESHOLDS["swap"]
    disk: tuple = DEFAULT_THRESHOLDS["disk"]
    load: tuple = DEFAULT_THRESHOLDS["load"]
    temp: tuple = DEFAULT_THRESHOLDS["temp"]

    def level(self, resource, value):
        """
        The level (0 ok, 1 careful, 2 warning, 3 critical) of *value* for
        *resource*; 0 for None (not known) and for a value that is not a
        number.
        """
        if value is None or value != value:
            return 0
        limits = getattr(self, resource)
        if resource == "disk":
            # free space: less is worse
            for level in (3, 2, 1):
                if value <= limits[level - 1]:
                    return level
            return 0
        for level in (3, 2, 1):
            if value >= limits[level - 1]:
                return level
        return 0

    def levels(self, values):
        """The level of each resource in *values* (see :func:`figures`)."""
        return {name: self.level(name, values[name]) for name in RESOURCES}

    def flags(self, values):
        """
        The words (of :data:`FLAGS`) saying why a machine with *values*
        (see :func:`figures`) is under pressure; an empty tuple when it is
        not.
        """
        return self._words(values["memory"], values["swap"], values["disk"],
                           values["load"], values["temp"])

    def judge(self, stats):
        """
        :meth:`flags` of a STATS report (a
        :class:`~piw_monitor.protocol.SlaveStats` or
        :class:`~piw_monitor.protocol.MasterStats`): the same words, from the
        same figures, without building their dict (the model judges every
        STATS as it comes).
        """
        return self._words(*_values(stats))

    def _words(self, memory, swap, disk, load, temp):
        words = []
        if memory is not None:
            mem_t = self.memory
            if swap is None:
                # no swap: memory nearly full is the whole story
                if memory >= mem_t[2]:
                    words.append("memory")
            else:
                swap_t = self.swap
                if (memory >= mem_t[2] and swap >= swap_t[1]) or \
                        (swap >= swap_t[2] and memory >= mem_t[1]):
                    words.append("memory")
        if disk is not None and disk <= self.disk[2]:
            words.append("disk")
        if load is not None and load >= self.load[2]:
            words.append("load")
        if temp is not None and temp >= self.temp[2]:
            words.append("hot")
        return tuple(words) if words else ()


#: One record of a :class:`History`: the report's time (seconds since the
#: epoch, UTC), disk size and free, memory size and free, swap size and free
#: (bytes), load average and temperature (°C).
_RECORD = struct.Struct("<d6qdd")
_RECORD_SIZE = _RECORD.size
_pack_record = _RECORD.pack_into


class History:
    """
    The latest :data:`HISTORY` STATS reports of one machine, packed as
    numbers in a ring (72 bytes a record, so that ten thousand slaves with a
    full history take about 72 MB): appending is O(1), one
    :func:`struct.pack_into` (this runs for each of the hundred STATS a
    replay brings for every slave), and the figures of :data:`SERIES` are
    worked out when asked for, by the details pane and the headless modes.
    """

    __slots__ = ("_data", "_start", "_len", "capacity")

    def __init__(self, capacity=HISTORY):
        self.capacity = capacity
        self._data = None  # allocated with the first record
        self._start = 0
        self._len = 0

    def __len__(self):
        return self._len

    def clear(self):
        """Forget every record."""
        self._start = self._len = 0

    def append(self, stats):
        """
        Record a STATS report (its own timestamp, ``stats_timestamp``, when
        it has one: a replay restamps ``timestamp`` with the last-seen time).
        """
        try:
            when = stats.stats_timestamp
        except AttributeError:  # the master's STATS: one clock
            when = stats.timestamp
        data = self._data
        if data is None:
            data = self._data = bytearray(_RECORD_SIZE * self.capacity)
        length, capacity = self._len, self.capacity
        if length < capacity:
            index = self._start + length
            if index >= capacity:
                index -= capacity
            self._len = length + 1
        else:
            index = self._start
            self._start = index + 1 if index + 1 < capacity else 0
        _pack_record(
            data, index * _RECORD_SIZE, when.timestamp(), stats.disk_size,
            stats.disk_free, stats.mem_size, stats.mem_free, stats.swap_size,
            stats.swap_free, stats.load_average, stats.cpu_temp)

    def _records(self):
        data, cap, size = self._data, self.capacity, _RECORD.size
        for i in range(self._len):
            yield _RECORD.unpack_from(data, ((self._start + i) % cap) * size)

    def series(self, name):
        """
        The series *name* (of :data:`SERIES`), oldest first; None where a
        figure is not known (a size reported as zero).
        """
        column = SERIES.index(name)
        out = []
        for (when, disk_size, disk_free, mem_size, mem_free, swap_size,
             swap_free, load, temp) in self._records():
            if column == 0:
                value = when
            elif column == 1:
                value = _pct(mem_size - mem_free, mem_size)
            elif column == 2:
                value = _pct(swap_size - swap_free, swap_size)
            elif column == 3:
                value = disk_free if disk_size else None
            elif column == 4:
                value = _pct(disk_free, disk_size)
            elif column == 5:
                value = load
            else:
                value = temp
            out.append(None if value != value else value)
        return out

    def span(self):
        """Seconds from the oldest record to the newest (0 with fewer than 2)."""
        if self._len < 2:
            return 0.0
        times = self.series("time")
        return max(times[-1] - times[0], 0.0)


def outlook(pending, rate):
    """
    The queue's outlook by ABI: a list of ``(abi, pending, rate, seconds)``
    from *pending* builds by ABI and the build *rate* by ABI (builds in the
    last hour). *seconds* is how long the pending builds take at that rate
    (0 when none is pending; None when some are pending and the rate is
    zero: the queue is not draining). Ordered by ABI.
    """
    from .model import abi_order
    result = []
    for abi in sorted(set(pending) | set(rate), key=abi_order):
        waiting = max(int(pending.get(abi, 0) or 0), 0)
        per_hour = max(int(rate.get(abi, 0) or 0), 0)
        if not waiting:
            seconds = 0
        elif not per_hour:
            seconds = None
        else:
            seconds = waiting / per_hour * 3600
        result.append((abi, waiting, per_hour, seconds))
    return result


def about(seconds):
    """A rough duration for people: ``about 3 h 40 min``, ``under a minute``."""
    minutes = round(seconds / 60)
    if minutes < 1:
        return "under a minute"
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:
        return f"about {round(hours / 24)} days"
    if hours:
        return f"about {hours} h {minutes} min" if minutes else \
            f"about {hours} h"
    return f"about {minutes} min"


def outlook_words(abi, pending, rate, seconds):
    """One ABI's outlook in words: ``cp311: 44 pending, 12/h, about 3 h 40 min``."""
    head = f"{abi}: {pending:,} pending, {rate:,}/h"
    if seconds is None:
        return head + ", not draining"
    if not pending:
        return head + ", empty"
    return f"{head}, {about(seconds)}"
