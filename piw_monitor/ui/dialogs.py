"""Confirmation dialogs: a question, an explanation, Yes and No."""

from __future__ import annotations

import urwid

from ..sanitize import printable

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
        body = urwid.Pile([
            # the caller makes any untrusted part of *text* printable
            urwid.Text(text),
            urwid.Divider(),
            urwid.Padding(self._buttons, "center",
                          len(yes) + len(no) + 11),
        ])
        body.focus_position = 2
        self.body_text = text
        super().__init__(urwid.AttrMap(
            urwid.LineBox(urwid.Padding(body, left=1, right=1),
                          title=self.title),
            "dialog"))

    @property
    def focused_answer(self):
        """True when Yes has the focus, False for No."""
        return self._buttons.focus_position == 0
