"""The help screen, generated from the key table that dispatches the keys."""

from __future__ import annotations

import urwid

from . import measure
from .keys import KEYS

__all__ = ["HelpDialog", "help_lines", "CONTEXT_TITLES"]

CONTEXT_TITLES = {
    "global": "Anywhere",
    "list": "In the slave list",
    "log": "In the event log",
    "buttons": "On the buttons",
    "filter": "Typing a filter",
    "dialog": "In a dialog",
}


def _key_name(key):
    return {" ": "space"}.get(key, key)


def help_lines():
    """(context title, [(keys, help)]) for every context of the key table."""
    sections = []
    for context, title in CONTEXT_TITLES.items():
        entries = {}
        order = []
        for binding in KEYS:
            if binding.context != context:
                continue
            # keys that do the same thing, said the same way, share a line
            entry = (binding.command, binding.help)
            if entry not in entries:
                entries[entry] = ([], binding.help)
                order.append(entry)
            entries[entry][0].append(_key_name(binding.key))
        sections.append((title, [
            (", ".join(entries[c][0]), entries[c][1]) for c in order]))
    return sections


class HelpDialog(urwid.WidgetWrap):
    """
    A scrollable list of every key and what it does; Esc closes it. Its
    title says when there is more below than the terminal shows.
    """

    TITLE = "Help (Esc closes)"
    #: the title while there is more below, and its short form for a box
    #: too narrow for it
    TITLE_MORE = "Help (Esc closes), Page Down for more"
    TITLE_MORE_SHORT = "Help (Esc closes), PgDn: more"

    def __init__(self, on_answer):
        self.title = "Help"
        self.on_answer = on_answer
        rows = []
        for title, entries in help_lines():
            rows.append(urwid.Text(("colhead", title)))
            for keys, text in entries:
                rows.append(urwid.Columns([
                    (14, urwid.Text(("hotkey-help", keys))),
                    urwid.Text(text),
                ], dividechars=1))
            rows.append(urwid.Divider())
        rows.append(urwid.Text(
            "The buttons at the bottom do the same as their hotkeys. With the "
            "mouse, click a slave to select it, a button to press it, a "
            "column's title to sort by it (again to reverse). While the "
            "terminal is too small to draw the console, only q and Ctrl-C "
            "act. Esc, q or h closes this help."))
        self._list = urwid.ListBox(urwid.SimpleFocusListWalker(rows))
        self._title = self.TITLE
        # the title laid out as it is written off UTF-8 too (cut, its
        # ellipsis can take two cells there)
        self._box = measure.line_box(
            urwid.Padding(self._list, left=1, right=1), self._title)
        super().__init__(urwid.AttrMap(self._box, "dialog"))

    def render(self, size, focus=False):
        if len(size) == 2:
            # the list inside the box's lines and its padding
            inner = (max(size[0] - 4, 1), max(size[1] - 2, 1))
            title = self.TITLE
            if "bottom" not in self._list.ends_visible(inner):
                # the title and a space either side of it, inside the box
                title = self.TITLE_MORE if len(self.TITLE_MORE) + 2 \
                    <= size[0] - 2 else self.TITLE_MORE_SHORT
            if title != self._title:
                self._title = title
                self._box.set_title(title)
        return super().render(size, focus)

    def selectable(self):
        return True

    def keypress(self, size, key):
        if key in ("up", "down", "page up", "page down", "home", "end"):
            return self._w.keypress(size, key)
        if key in ("esc", "q", "h", "?", "enter"):
            self.on_answer(False)
            return None
        return None
