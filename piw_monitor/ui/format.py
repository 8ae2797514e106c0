"""Formatting of durations, sizes and fixed-width cells for the screen."""

import datetime as dt

from ..sanitize import printable
from . import measure

__all__ = ["duration", "size", "fit", "clock", "ago", "since"]

ELLIPSIS = "\N{HORIZONTAL ELLIPSIS}"


def duration(value):
    """
    A :class:`~datetime.timedelta` as ``HH:MM:SS``; from 100 hours up as
    ``Nd HH:MM``; ``-`` for None.
    """
    if value is None:
        return "-"
    total = max(int(value.total_seconds()), 0)
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours < 100:
        return f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}:{minutes:02d}"


def ago(value):
    """A short 'time since' for a header: ``5s``, ``3m``, ``2h``, ``4d``."""
    total = max(int(value.total_seconds()), 0)
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if total >= length:
            return f"{total // length}{unit}"
    return f"{total}s"


def size(value):
    """A byte count in human units: ``512 B``, ``1.5 KB``, ``79.2 GB``."""
    if value is None:
        return "-"
    value = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if abs(value) < 1000 or unit == "PB":
            break
        value /= 1000
    if unit == "B":
        return f"{int(value)} B"
    return f"{value:.1f} {unit}"


def clock(value):
    """A datetime as local ``HH:MM:SS``."""
    if value is None:
        return "--:--:--"
    return value.astimezone().strftime("%H:%M:%S")


def fit(text, width, align="left"):
    """
    *text* made safe (see :func:`~piw_monitor.sanitize.printable`) and cut
    or padded to a str of exactly *width* terminal columns, measured as
    urwid's canvas measures a whole line (:func:`.measure.width`), as the
    terminal draws it (:func:`.measure.drawable`); cut text ends in an
    ellipsis. *align* is ``"left"`` or ``"right"``.
    """
    if width <= 0:
        return ""
    text = measure.drawable(printable(text))
    used = measure.width(text)
    if used > width:
        tail = measure.drawable(ELLIPSIS)
        pos = measure.cut(text, width, tail=tail)[0]
        text = text[:pos] + tail
        used = measure.width(text)
    pad = " " * (width - used)
    return pad + text if align == "right" else text + pad


def since(now, then):
    """The duration from *then* to *now*, never negative; None if unknown."""
    if then is None:
        return None
    return max(now - then, dt.timedelta(0))

