"""Confirmation dialogs: a question, an explanation, Yes and No."""

from __future__ import annotations

import urwid

from ..sanitize import printable
from . import measure

__all__ = ["ConfirmDialog"]


class ConfirmDialog(urwid.WidgetWrap):
    """
    A framed question with Yes and No buttons. *on_answer* is called with
    True or False; No has the focus at first, so Enter alone never confirms a
    dangerous action by accident.
    """

    def __init__(self, title, text, on_answer, yes="Yes", no="No"):
        self.title = printable(title, 80)
        self.on_answer = on_answer
        self.yes = urwid.Button([("hotkey", yes[0]), yes[1:]],
                                lambda _b: on_answer(True))
        self.no = urwid.Button([("hotkey", no[0]), no[1:]],
                               lambda _b: on_answer(False))
        focus_map = {None: "button-focus", "hotkey": "hotkey-focus"}
        self._buttons = urwid.Columns([
            (len(yes) + 4, urwid.AttrMap(self.yes, "button", focus_map)),
            (len(no) + 4, urwid.AttrMap(self.no, "button", focus_map)),
        ], dividechars=3)
        self._buttons.focus_position = 1
        # the caller makes any untrusted part of *text* printable
        self._text = measure.text(text)
        self._question = measure.text(text.split("\n\n")[0], wrap="ellipsis")
        self._button_row = urwid.Padding(self._buttons, "center",
                                         len(yes) + len(no) + 11)
        self._body = urwid.Pile([
            self._text, urwid.Divider(), self._button_row])
        self._body.focus_position = 2
        self.body_text = text
        super().__init__(urwid.AttrMap(
            measure.line_box(urwid.Padding(self._body, left=1, right=1),
                             self.title),
            "dialog"))

    def fit(self, maxcol, maxrow):
        """
        Keep the buttons on screen: on a screen too short for the whole
        explanation, show only the question (its first paragraph).
        """
        compact = self._body.contents[0][0] is self._question
        full = self._text.rows((max(maxcol - 4, 1),)) + 4
        want_compact = full > maxrow
        if want_compact != compact:
            parts = [self._question] if want_compact else [
                self._text, urwid.Divider()]
            parts.append(self._button_row)
            self._body.contents = [(w, ("pack", None)) for w in parts]
            self._body.focus_position = len(parts) - 1

    @property
    def focused_answer(self):
        """True when Yes has the focus, False for No."""
        return self._buttons.focus_position == 0
