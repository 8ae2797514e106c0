"""
Charts in text: sparklines of a series of numbers, with their minimum,
maximum, time span and trend, for the details pane.

Plain Python (no urwid). The charts are drawn with the eight block elements
(``▁▂▃▄▅▆▇█``) by default; :func:`use_ascii` switches every chart to plain
ASCII (``_.-=+*#@``) for a terminal that cannot show them (the console does
so when the terminal's encoding is not UTF-8).
"""

from __future__ import annotations

import math

__all__ = [
    "BLOCKS", "ASCII_LEVELS", "use_ascii", "ascii_mode", "sparkline",
    "trend", "span_words", "chart", "chart_parts",
]

#: The levels of a sparkline, lowest first, in block elements and in ASCII.
BLOCKS = "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"
ASCII_LEVELS = "_.-=+*#@"

#: Drawn for a point that is not known (no figure in that report).
GAP = " "

_levels = BLOCKS
_arrows = {"rising": "\u2197", "falling": "\u2198", "steady": "\u2192"}
_ASCII_ARROWS = {"rising": "/", "falling": "\\", "steady": "-"}


def use_ascii(flag=True):
    """Draw every chart in ASCII (*flag* true) or in block elements."""
    global _levels, _arrows
    _levels = ASCII_LEVELS if flag else BLOCKS
    _arrows = _ASCII_ARROWS if flag else {
        "rising": "\u2197", "falling": "\u2198", "steady": "\u2192"}


def ascii_mode():
    """True when charts are drawn in ASCII."""
    return _levels is ASCII_LEVELS


def _known(value):
    return value is not None and isinstance(value, (int, float)) \
        and math.isfinite(value)


def _buckets(values, width):
    """
    *values* fitted to at most *width* points: when there are more, each
    point is the mean of the known values of a run of consecutive ones
    (None when none of the run is known).
    """
    if len(values) <= width:
        return list(values)
    out = []
    n = len(values)
    for i in range(width):
        run = [v for v in values[i * n // width:(i + 1) * n // width]
               if _known(v)]
        out.append(sum(run) / len(run) if run else None)
    return out


def sparkline(values, width=20, lo=None, hi=None):
    """
    *values* (numbers, None for a gap) as a line of at most *width* cells,
    one level of eight per point, oldest on the left. The scale runs from
    *lo* to *hi* (default: the least and the greatest known value); a value
    outside it is drawn at the nearest end. A flat series (every value the
    same, and no scale given) is drawn at the middle level. An empty series
    is an empty string.
    """
    points = _buckets(list(values), max(width, 0))
    known = [v for v in points if _known(v)]
    if not known:
        return GAP * len(points)
    low = min(known) if lo is None else lo
    high = max(known) if hi is None else hi
    levels = _levels
    top = len(levels) - 1
    out = []
    for v in points:
        if not _known(v):
            out.append(GAP)
        elif high <= low:
            out.append(levels[top // 2] if lo is None and hi is None
                       else levels[top if v >= high else 0])
        else:
            share = (min(max(v, low), high) - low) / (high - low)
            out.append(levels[round(share * top)])
    return "".join(out)


def trend(values):
    """
    The direction of *values*: ``rising``, ``falling`` or ``steady`` (the
    mean of the last quarter against the first, with a margin of 5 % of the
    range), or "" with fewer than two known values.
    """
    known = [v for v in values if _known(v)]
    if len(known) < 2:
        return ""
    part = max(len(known) // 4, 1)
    first = sum(known[:part]) / part
    last = sum(known[-part:]) / part
    spread = max(known) - min(known)
    margin = max(0.05 * spread, 1e-9 * max(abs(first), abs(last), 1.0))
    if last - first > margin:
        return "rising"
    if first - last > margin:
        return "falling"
    return "steady"


def arrow(direction):
    """The arrow of a :func:`trend` direction ("" for none)."""
    return _arrows.get(direction, "")


def span_words(seconds):
    """A time span for a chart: ``over 45 s``, ``over 16 min``, ``over 2 h``."""
    if seconds is None or seconds <= 0:
        return ""
    if seconds < 90:
        return f"over {seconds:.0f} s"
    if seconds < 5400:
        return f"over {seconds / 60:.0f} min"
    return f"over {seconds / 3600:.1f} h"


def chart(values, show, *, width=20, lo=None, hi=None, span=None):
    """
    One chart line: the sparkline of *values*, then the least and the
    greatest known value (each formatted by *show*), the time *span* in
    seconds, and the trend, as in ``▁▂▄▇█ 35%..92% over 4 min, rising ↗``.
    When they differ by less than *show* can tell (16.71 and 16.74 GB both
    show as ``16.7 GB``), one figure is given, marked as approximate:
    ``~16.7 GB``. A series with no known value says ``no figures yet``.
    The line is :func:`chart_parts` joined by spaces.
    """
    return " ".join(chart_parts(values, show, width=width, lo=lo, hi=hi,
                                span=span))


def chart_parts(values, show, *, width=20, lo=None, hi=None, span=None):
    """
    The pieces of :func:`chart`'s line that a narrow pane must not break
    (a tuple of strings): the sparkline, the range (``20.6 GB..21.3 GB``),
    the span (``over 4 min,``) and the trend with its arrow
    (``rising ↗``); pieces that do not apply are left out.
    """
    known = [v for v in values if _known(v)]
    if not known:
        return ("no figures yet",)
    least, greatest = min(known), max(known)
    low, high = f"{show(least)}", f"{show(greatest)}"
    if least == greatest:
        shown = low
    elif low == high:
        shown = f"~{low}"
    else:
        shown = f"{low}..{high}"
    parts = [sparkline(values, width, lo, hi), shown]
    words = span_words(span)
    if words:
        parts.append(words)
    direction = trend(values)
    if direction:
        parts[-1] += ","
        parts.append(f"{direction} {arrow(direction)}")
    return tuple(parts)
