"""
The symbols the console draws, and the plain ASCII that stands in for them
on a terminal whose locale is not UTF-8.

Widgets read the symbols from :data:`SYM` when they draw, so that
:func:`use_ascii` (called once at start, see
:mod:`piw_monitor.ui.terminal`) changes every one of them. A character
urwid cannot encode and that is not in this table would otherwise be drawn
as ``?``: :data:`FALLBACKS` also gives urwid a stand-in for the few that
come from elsewhere (the ellipsis of a cut cell, the replacement character
of an unsafe one).
"""

from __future__ import annotations

__all__ = ["SYM", "UNICODE", "ASCII", "FALLBACKS", "use_ascii"]

#: name -> (Unicode symbol, ASCII stand-in); each stand-in is as wide as its
#: symbol, so that columns line up either way.
_TABLE = {
    "marker": ("\N{BLACK CIRCLE}", "*"),           # a slave's row
    "master": ("\N{BLACK SQUARE}", "#"),           # the master's row
    "up": ("\N{BLACK UP-POINTING SMALL TRIANGLE}", "^"),    # ascending
    "down": ("\N{BLACK DOWN-POINTING SMALL TRIANGLE}", "v"),  # descending
    "vbar": ("\N{BOX DRAWINGS LIGHT VERTICAL}", "|"),
    "dot": ("\N{MIDDLE DOT}", "-"),
    "at_least": ("\N{GREATER-THAN OR EQUAL TO}", ">"),
    "full": ("\N{FULL BLOCK}", "#"),
    "empty": ("\N{LIGHT SHADE}", "."),
    "degrees": (" \N{DEGREE SIGN}C", " C"),
}

UNICODE = {name: pair[0] for name, pair in _TABLE.items()}
ASCII = {name: pair[1] for name, pair in _TABLE.items()}

#: Stand-ins urwid uses for characters its target encoding lacks.
FALLBACKS = {
    **{pair[0]: pair[1] for pair in _TABLE.values() if len(pair[0]) == 1},
    "\N{HORIZONTAL ELLIPSIS}": "~",
    "\N{REPLACEMENT CHARACTER}": "?",
    "\N{DOTTED CIRCLE}": "o",
    "\N{DEGREE SIGN}": " ",
}


class _Symbols:
    """The symbols in use: attribute access by name (``SYM.marker``)."""

    def __init__(self):
        self.ascii = False
        self.__dict__.update(UNICODE)


#: The symbols in use.
SYM = _Symbols()


def use_ascii(plain=True):
    """Draw ASCII stand-ins (*plain*) or the Unicode symbols from now on."""
    SYM.__dict__.update(ASCII if plain else UNICODE)
    SYM.ascii = plain
