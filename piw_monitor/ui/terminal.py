"""
What the console needs of the terminal, checked before it starts.

* Cursor addressing: a terminal type without it (``TERM=dumb``, or one
  whose terminfo entry has no ``cup``) cannot show a full screen; the
  console refuses it with one line pointing at the headless modes.
* The character set: on a locale that is not UTF-8 the console draws
  ASCII stand-ins for its symbols (:mod:`piw_monitor.ui.symbols`) rather
  than letting them come out as ``?``.
"""

from __future__ import annotations

import os

import urwid

from . import measure, symbols

__all__ = ["unusable", "locale_is_utf8", "setup_charset"]


def unusable(environ=None, fd=None):
    """
    Why the terminal of *environ* (default: this process's) on output *fd*
    cannot run the console, in a few words; None when it can.

    Only a type that is known to lack cursor addressing is refused: an
    unknown type (no terminfo entry here) gets the benefit of the doubt,
    as urwid speaks the ANSI sequences every emulator understands.
    """
    environ = os.environ if environ is None else environ
    term = environ.get("TERM", "")
    if term in ("", "dumb"):
        return (f"the terminal type (TERM={term or 'unset'}) cannot move the "
                "cursor, which the console needs")
    try:
        import curses
        curses.setupterm(term, fd if fd is not None else 1)
        cup = curses.tigetstr("cup")
    except Exception:  # no curses, or no terminfo entry: assume ANSI
        return None
    if not cup:
        return (f"the terminal type (TERM={term}) cannot move the cursor, "
                "which the console needs")
    return None


def locale_is_utf8(environ=None):
    """
    Whether the locale the user set in *environ* (default: this process's)
    is a UTF-8 one.

    Python turns a C or POSIX locale into C.UTF-8 (PEP 538) and says so by
    setting ``LC_CTYPE=C.UTF-8`` in the environment; that is not the
    terminal's character set, so it is seen through.
    """
    environ = os.environ if environ is None else environ
    lc_all = environ.get("LC_ALL", "")
    if lc_all:
        return _utf8(lc_all)
    lang = environ.get("LANG", "")
    ctype = environ.get("LC_CTYPE", "")
    if ctype == "C.UTF-8":
        # most likely Python's own coercion of a C locale (LANG=C, unset,
        # or naming a locale this machine lacks): LANG says what was meant
        return _utf8(lang)
    return _utf8(ctype or lang)


def _utf8(name):
    name = name.lower().replace("-", "")
    return "utf8" in name


def setup_charset(environ=None):
    """
    Choose the console's symbols for the locale of *environ*: on anything
    but UTF-8, ASCII stand-ins, and urwid encodes for that locale (ASCII
    when Python made a C locale UTF-8), with :data:`~.symbols.FALLBACKS`
    for what it cannot encode. Returns True when ASCII was chosen.
    """
    if locale_is_utf8(environ) and urwid.util.get_encoding_mode() == "utf8":
        symbols.use_ascii(False)
        return False
    if urwid.util.get_encoding_mode() == "utf8":
        # the interpreter's UTF-8, not the terminal's
        urwid.set_encoding("ascii")
    urwid.util.set_ascii_fallbacks(symbols.FALLBACKS)
    measure.forget_drawn()
    symbols.use_ascii(True)
    return True
