"""
Making strings from the wire safe to show on a terminal.

Labels, package names, versions, file names and OS strings come from build
slaves that the monitor does not control. Before any of them reaches the
screen, :func:`printable` neutralises everything a terminal could act on:
C0 and C1 control characters (so no escape or OSC sequence can start),
bidirectional overrides and isolates, other format characters, surrogates,
private-use and unassigned code points; and it cuts over-long strings.
"""

import unicodedata

__all__ = ["printable", "REPLACEMENT", "MAX_LENGTH"]

#: What stands in for a character that is not safe to print.
REPLACEMENT = "\N{REPLACEMENT CHARACTER}"

#: The default limit on a displayed string, in characters.
MAX_LENGTH = 200

# Unicode categories that are never printed as they are: controls (Cc, which
# covers C0, DEL and C1), format characters (Cf: bidi overrides and isolates,
# zero-width joiners, ...), surrogates, private use, unassigned, and line and
# paragraph separators.
_UNSAFE = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))

_cache = {}


def _safe(char):
    try:
        return _cache[char]
    except KeyError:
        pass
    if unicodedata.category(char) in _UNSAFE:
        result = REPLACEMENT
    else:
        result = char
    if len(_cache) < 4096:
        _cache[char] = result
    return result


def printable(text, limit=MAX_LENGTH):
    """
    Return *text* with every character a terminal could act on replaced by
    :data:`REPLACEMENT`, a leading mark (combining, spacing or enclosing)
    given a dotted circle to stand on, and the result
    cut to *limit* characters (ending in an ellipsis when cut). Anything that
    is not a string is shown through :func:`repr`.
    """
    if not isinstance(text, str):
        text = repr(text)
    if len(text) > limit:
        text = text[:limit - 1] + "\N{HORIZONTAL ELLIPSIS}"
    if text.isascii() and text.isprintable():
        return text
    result = "".join(_safe(c) for c in text)
    if result and unicodedata.category(result[0])[0] == "M":
        # a mark would fuse with whatever is drawn before it, and urwid
        # measures a spacing mark wider after a space than alone
        result = "\N{DOTTED CIRCLE}" + result
    return result
