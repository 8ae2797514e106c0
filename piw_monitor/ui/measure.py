"""
Measuring and cutting text by the measure urwid's canvas checks.

urwid has two measures of a string. :func:`urwid.calc_width` measures a
whole string at once, and a :class:`~urwid.TextCanvas` refuses a line that
this measure finds wider than its columns (``CanvasError``, which ends the
program). :func:`urwid.str_util.calc_text_pos`, which urwid's own text
layout cuts and wraps lines with, adds up grapheme clusters measured one by
one. The two disagree where a character's width depends on its neighbour:
Myanmar's tall AA (U+102B) and the thirty other spacing marks that start a
cluster of their own measure nothing alone but one column after a letter,
so ordinary Burmese text is wider as a whole than its clusters add up to.

Everything here cuts at cluster boundaries found with urwid's own
functions, and checks every piece with the whole-string measure, so a line
never measures more than its columns, whatever it holds. A cluster here is
urwid's, extended over any marks that follow it: a piece never starts with
a mark, which would take another width after a space or the padding of an
aligned line.

:data:`LAYOUT` lays out every :class:`urwid.Text` that may show text from
the wire, and :class:`MeasuredOverlay` draws the dialogs, whose sides urwid
would otherwise cut from the rows below by the sum.
"""

from __future__ import annotations

import itertools
import unicodedata

import urwid
from urwid import calc_width
from urwid.canvas import (
    CanvasCombine, CanvasJoin, CanvasOverlay, CompositeCanvas, SolidCanvas,
    TextCanvas,
)
from urwid.str_util import calc_text_pos, move_next_char, move_prev_char
from urwid.text_layout import CanNotDisplayText, get_ellipsis_string
from urwid.util import get_encoding

__all__ = [
    "width", "cut", "MeasuredLayout", "LAYOUT", "drawable", "forget_drawn",
    "MeasuredText", "text", "line_box", "MeasuredOverlay",
]


def width(text):
    """The columns *text* (a str) takes, measured whole as a canvas does."""
    return calc_width(text, 0, len(text))


def _is_mark(char):
    return unicodedata.category(char)[0] == "M"


def _next(text, pos, end):
    pos = move_next_char(text, pos, end)
    while pos < end and _is_mark(text[pos]):
        pos = move_next_char(text, pos, end)
    return pos


def _prev(text, start, pos):
    pos = move_prev_char(text, start, pos)
    while pos > start and _is_mark(text[pos]):
        pos = move_prev_char(text, start, pos)
    return pos


def cut(text, cols, start=0, end=None, tail=""):
    """
    The longest piece ``text[start:pos]`` ending at a cluster boundary that,
    followed by *tail*, measures at most *cols* columns as a whole.

    Returns ``(pos, used)``: the end offset (a str index) and the columns
    the piece with its tail takes; ``(start, 0)`` when not even one cluster
    fits.
    """
    if end is None:
        end = len(text)
    if cols <= 0:
        return start, 0
    used = width(text[start:end] + tail)
    if used <= cols:
        return end, used
    # urwid's sum over clusters is only a first guess: the whole measure
    # decides, and it may be more or less than the sum
    pos = calc_text_pos(text, start, end, max(cols - width(tail), 0))[0]
    if start < pos < end and _is_mark(text[pos]):
        pos = _prev(text, start, pos)
    while pos > start and width(text[start:pos] + tail) > cols:
        pos = _prev(text, start, pos)
    used = width(text[start:pos] + tail) if pos > start else 0
    while pos < end:
        nxt = _next(text, pos, end)
        more = width(text[start:nxt] + tail)
        if more > cols:
            break
        pos, used = nxt, more
    return pos, used


class MeasuredLayout(urwid.StandardTextLayout):
    """
    urwid's standard layout (align, wrap at spaces, anywhere, clip or end in
    an ellipsis), but every line it gives measures, as a whole, exactly the
    columns it claims and no more than the width: lines that urwid's own
    layout would make too wide are laid out again with :func:`cut`.
    """

    def calculate_text_segments(self, text, width, wrap):
        segs = super().calculate_text_segments(text, width, wrap)
        if not isinstance(text, str) or text.isascii() and \
                urwid.util.get_encoding_mode() == "utf8":
            # (off UTF-8, even an ASCII line may end in an ellipsis that
            # is written wider than urwid claims: see _fits)
            return segs
        # a line that clip or ellipsis left whole was measured whole
        whole = wrap in ("clip", "ellipsis") and "\t" not in text
        if all(self._fits(text, line, width, whole) for line in segs):
            return segs
        return self._lay_out(text, width, wrap)

    @staticmethod
    def _fits(text, line, cols, whole):
        parts = []
        claimed = 0
        for seg in line:
            claimed += seg[0]
            if len(seg) == 3:
                if isinstance(seg[2], int):
                    parts.append(text[seg[1]:seg[2]])
                else:
                    # an ellipsis: the text before it was cut by the sum,
                    # and off UTF-8 it may be written wider than it claims
                    if calc_width(seg[2], 0, len(seg[2])) != seg[0]:
                        return False
                    whole = False
                    parts.append(seg[2].decode(get_encoding()))
            else:
                parts.append(" " * seg[0])
        if claimed > cols:
            return False
        drawn = "".join(parts)
        if drawn[:1] and _is_mark(drawn[0]):
            # alignment would put spaces in front, which it then widens
            return False
        return whole or width(drawn) == claimed

    def _lay_out(self, text, cols, wrap):
        lines = []
        start = 0
        while start <= len(text):
            end = text.find("\n", start)
            if end == -1:
                end = len(text)
            lines += self._paragraph(text, start, end, cols, wrap)
            start = end + 1
        return lines

    def _paragraph(self, text, start, end, cols, wrap):
        if wrap in ("clip", "ellipsis"):
            pos, used = cut(text, cols, start, end)
            if pos == end or wrap == "clip":
                return [self._piece(start, pos, used)]
            tail = drawable(get_ellipsis_string(get_encoding()))
            pos, used = cut(text, cols, start, end, tail)
            if pos == start:
                # not one cluster fits beside the ellipsis: the ellipsis alone
                used = width(tail)
                if used > cols:
                    return [[(0, start)]]
                return [[(used, start, tail.encode(get_encoding())),
                         (0, start)]]
            cols_before = width(text[start:pos])
            return [[(cols_before, start, pos),
                     (used - cols_before, pos, tail.encode(get_encoding())),
                     (0, pos)]]
        lines = []
        while True:
            pos, used = cut(text, cols, start, end)
            if pos == end:
                lines.append(self._piece(start, end, used))
                return lines
            if pos == start:
                raise CanNotDisplayText(
                    "a character does not fit into an empty line")
            resume = pos
            if wrap == "space":
                # break at the last space that is not the base of a mark
                space = pos if text[pos] == " " else text.rfind(" ", start, pos)
                while space > start and space + 1 < end \
                        and _is_mark(text[space + 1]):
                    space = text.rfind(" ", start, space)
                if space > start:
                    pos, resume = space, space + 1
                    used = width(text[start:pos])
            lines.append(self._piece(start, pos, used))
            start = resume

    @staticmethod
    def _piece(start, pos, used):
        # a zero-width segment holds the offset, for the cursor of an Edit
        if pos > start and used:
            return [(used, start, pos), (0, pos)]
        return [(0, pos)]


#: The layout of every widget that may show text from the wire.
LAYOUT = MeasuredLayout()


# (encoding, character) -> what urwid writes for it there, as a str; at
# most as many as there are characters, and forgotten when the encoding
# or the stand-ins are set again (forget_drawn)
_DRAWN = {}


def forget_drawn():
    """Forget what :func:`drawable` learnt: the stand-ins were set again."""
    _DRAWN.clear()


def drawable(text):
    """
    *text* (a str) as a terminal that is not UTF-8 shows it: each character
    its encoding cannot take, and that urwid does not draw from the
    terminal's line-drawing set, becomes what urwid writes in its place
    (its ASCII stand-in, else ``?``), which is what it measures then; one
    it writes in another width than it measures becomes its ASCII stand-in
    (``~`` for the ellipsis), else as many ``?`` as columns it takes. On
    UTF-8, *text* itself. What each character becomes is kept per
    encoding and stand-in table (see :func:`forget_drawn`).

    Without it a character and what is written for it differ in width: a
    combining mark measures no column, its ``?`` takes one, and a row
    holding one is wider than the screen (urwid's ``CanvasError``).
    """
    if text.isascii() or urwid.util.get_encoding_mode() == "utf8":
        return text
    encoding = get_encoding()
    out = []
    for char in text:
        if char.isascii():
            out.append(char)
            continue
        key = (encoding, char)
        drawn = _DRAWN.get(key)
        if drawn is None:
            data, charsets = urwid.util.apply_target_encoding(char)
            if any(cs is not None for cs, _n in charsets):
                drawn = char
            else:
                drawn = data.decode(encoding, "replace")
                cols = calc_width(data, 0, len(data))
                if drawn == char and cols != width(char):
                    # written in another width than it measures (an
                    # ellipsis in a double-byte encoding takes two): its
                    # ASCII stand-in where it has one, else "?"s
                    stand_in = urwid.util.get_ascii_fallbacks().get(char)
                    drawn = stand_in if stand_in and stand_in.isascii() \
                        else "?" * cols
            _DRAWN[key] = drawn
        out.append(drawn)
    return "".join(out)


def _drawable_markup(markup):
    if isinstance(markup, str):
        return drawable(markup)
    if isinstance(markup, tuple):
        return (markup[0], _drawable_markup(markup[1]))
    if isinstance(markup, list):
        return [_drawable_markup(part) for part in markup]
    return markup


class MeasuredText(urwid.Text):
    """
    A :class:`urwid.Text` laid out with :data:`LAYOUT`, whose text is
    :func:`drawable` on a terminal that is not UTF-8.
    """

    def set_text(self, markup):
        if urwid.util.get_encoding_mode() != "utf8":
            markup = _drawable_markup(markup)
        super().set_text(markup)


def text(markup, **kwargs):
    """A :class:`MeasuredText` of *markup* (see :data:`LAYOUT`)."""
    return MeasuredText(markup, layout=LAYOUT, **kwargs)


def line_box(widget, title):
    """A :class:`urwid.LineBox` whose *title* is laid out with :data:`LAYOUT`."""
    box = urwid.LineBox(widget, title=drawable(title))
    title_widget = box.title_widget
    title_widget.set_layout(title_widget.align, title_widget.wrap, LAYOUT)
    return box


class MeasuredOverlay(urwid.Overlay):
    """
    An :class:`urwid.Overlay` that cuts the rows of the widget below beside
    the one on top by :func:`cut`. urwid's overlay cuts them with the sum
    over clusters, which puts the rest of a row with a spacing mark in the
    wrong columns, and makes it too short or too long for the screen.
    """

    def render(self, size, focus=False):
        left, right, top, bottom = self.calculate_padding_filler(size, focus)
        bottom_c = self.bottom_w.render(size)
        if not bottom_c.cols() or not bottom_c.rows():
            return CompositeCanvas(bottom_c)
        top_c = CompositeCanvas(self.top_w.render(
            self.top_w_size(size, left, right, top, bottom), focus))
        if left < 0 or right < 0:
            top_c.pad_trim_left_right(min(0, left), min(0, right))
        if top < 0 or bottom < 0:
            top_c.pad_trim_top_bottom(min(0, top), min(0, bottom))
        left, top = max(left, 0), max(top, 0)
        bottom_c = _split(bottom_c, left, top, top_c.cols(), top_c.rows())
        return CanvasOverlay(top_c, bottom_c, left, top)


def _split(canvas, left, top, cols, rows):
    """
    *canvas* with its rows *top* to *top* + *rows* made of three canvases:
    the columns before *left*, *cols* blank columns (to be covered), and the
    columns after them, each cut by :func:`cut`. urwid then covers the blank
    one whole, and never cuts a row of text itself.
    """
    maxcol, maxrow = canvas.cols(), canvas.rows()
    rows = min(rows, maxrow - top)
    right = maxcol - left - cols
    if rows <= 0 or cols <= 0:
        return canvas
    encoding = get_encoding()
    lefts, rights = [], []
    # a composite canvas gives all its rows, whatever it is asked for
    for row in itertools.islice(canvas.content(), top, top + rows):
        runs = [(a, c, b.decode(encoding, "replace")) for a, c, b in row]
        text = "".join(r[2] for r in runs)
        pos, used = cut(text, left)
        lefts.append(_slice(runs, 0, pos) + [_pad(runs, pos, left - used)])
        # the first cluster ending at or after the right part's first column
        start = left + cols
        pos, used = cut(text, start)
        if used < start and pos < len(text):
            pos = _next(text, pos, len(text))
            used = width(text[:pos])
        lead = min(max(used - start, 0), right)
        end, fill = cut(text, right - lead, pos)
        rights.append([_pad(runs, pos, lead)] + _slice(runs, pos, end)
                      + [_pad(runs, end, right - lead - fill)])
    parts = []
    if left:
        parts.append((_canvas(lefts, left), None, False, left))
    parts.append((SolidCanvas(" ", cols, rows), None, False, cols))
    if right:
        parts.append((_canvas(rights, right), None, False, right))
    stack = []
    if top:
        above = CompositeCanvas(canvas)
        above.trim_end(maxrow - top)
        stack.append((above, None, False))
    stack.append((CanvasJoin(parts), None, False))
    if top + rows < maxrow:
        below = CompositeCanvas(canvas)
        below.trim(top + rows)
        stack.append((below, None, False))
    return CanvasCombine(stack)


def _slice(runs, start, end):
    """The (attr, cs, str) runs of the text between offsets start and end."""
    out = []
    offset = 0
    for attr, cs, piece in runs:
        lo, hi = max(start - offset, 0), min(end - offset, len(piece))
        if lo < hi:
            out.append((attr, cs, piece[lo:hi]))
        offset += len(piece)
    return out


def _pad(runs, pos, count):
    """*count* spaces, in the attribute of the text at offset *pos*."""
    attr = runs[-1][0] if runs else None
    offset = 0
    for run_attr, _cs, piece in runs:
        if pos < offset + len(piece):
            attr = run_attr
            break
        offset += len(piece)
    return (attr, None, " " * count)


def _canvas(rows, cols):
    encoding = get_encoding()
    texts, attrs, charsets = [], [], []
    for runs in rows:
        line, attr, charset = [], [], []
        for a, c, piece in runs:
            data = piece.encode(encoding, "replace")
            if data:
                line.append(data)
                attr.append((a, len(data)))
                charset.append((c, len(data)))
        texts.append(b"".join(line))
        attrs.append(attr)
        charsets.append(charset)
    return TextCanvas(texts, attrs, charsets, maxcol=cols)
