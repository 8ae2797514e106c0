"""
The action menu (Enter on a row) and the event log view.
"""

from __future__ import annotations

import urwid

from ..actions import slave_name
from ..sanitize import printable
from . import format as fmt
from . import measure

__all__ = [
    "ActionMenu", "LogView", "slave_actions", "farm_actions", "SLAVE_METHODS",
]

#: The methods of :func:`slave_actions`' entries: they act on the menu's
#: slave, so they are checked against it (the farm's only against the run).
SLAVE_METHODS = frozenset({"skip", "kill", "kill_now"})


def slave_actions(slave):
    """
    The actions on one slave: (label, explanation, method name, dangerous).
    """
    name = slave_name(slave)
    return [
        ("Skip build", f"Abandon {name}'s current build at its next contact "
                       "(SKIP).", "skip", False),
        ("Stop after build", f"Terminate {name} at its next request for "
                             "work; a running build is finished (KILL).",
         "kill", True),
        ("Kill now", f"Abandon {name}'s build and terminate it at its next "
                     "contact (SKIP, then KILL).", "kill_now", True),
    ]


#: The actions on the whole farm. (Today's master accepts SLEEP and WAKE for
#: one slave, and SKIP for all, but does nothing with them; they are not
#: offered. "Skip all builds" sends SKIP to each building slave instead.)
FARM_ACTIONS = [
    ("Pause", "Hand out no new builds until resumed (SLEEP to all).",
     "pause", False),
    ("Resume", "Hand out builds again (WAKE to all).", "resume", False),
    ("Skip all builds", "Abandon every current build (SKIP to each building "
                        "slave).", "skip_all", True),
    ("Stop all slaves", "Terminate every slave at its next request for work "
                        "(KILL to all).", "stop_all", True),
    ("Terminate master", "Shut the master down (QUIT); the monitor exits.",
     "terminate", True),
]


def farm_actions():
    """The actions on the whole farm, as :func:`slave_actions` gives them."""
    return list(FARM_ACTIONS)


class ActionMenu(urwid.WidgetWrap):
    """
    A menu of actions, each on a line with its explanation. *on_choose* is
    called with the chosen entry, or None when the menu is closed.
    """

    def __init__(self, title, entries, on_choose, note=None):
        self.title = title
        self.entries = entries
        self.on_answer = lambda _yes: on_choose(None)
        items = []
        for entry in entries:
            label, text, _method, _danger = entry
            button = urwid.Button(label, lambda _b, e=entry: on_choose(e))
            items.append(urwid.AttrMap(button, "button", "button-focus"))
            items.append(urwid.Padding(measure.text(("dim-dialog", text)),
                                       left=4))
        items.append(urwid.Divider())
        items.append(urwid.Text(("dim-dialog", "Enter chooses; Esc closes.")))
        # a box: on a short screen the list scrolls with the focus
        self._list = urwid.ListBox(urwid.SimpleFocusListWalker(items))
        body = self._list
        if note:
            # above the list, so it is seen whatever the list's scroll
            body = urwid.Pile([("pack", measure.text(("dim-dialog", note))),
                               ("pack", urwid.Divider()), body],
                              focus_item=2)
        body = urwid.Padding(body, left=1, right=1)
        super().__init__(urwid.AttrMap(
            measure.line_box(body, printable(title, 60)), "dialog"))

    def keypress(self, size, key):
        if key == "esc":
            self.on_answer(False)
            return None
        return super().keypress(size, key)


class LogView(urwid.WidgetWrap):
    """The latest status messages, newest at the bottom, scrollable."""

    def __init__(self, farm):
        self.farm = farm
        self._walker = urwid.SimpleFocusListWalker([])
        self._seen = 0
        super().__init__(urwid.LineBox(urwid.ListBox(self._walker),
                                       title="Event log (l closes)"))

    @staticmethod
    def line(entry):
        """The widget for one log *entry*: (time, slave id or None, text)."""
        when, sid, text = entry
        who = "master" if sid is None else f"slave {sid}"
        attr = "text-silent" if text.startswith("bad frame") else None
        return measure.text(
            [("dim", fmt.clock(when) + " "), (attr, f"{who:<10} "),
             (attr, printable(text, 300))], wrap="ellipsis")

    def update(self):
        """
        Catch up with the farm's log (only what was added since the last
        call), following the newest entry when it was selected.
        """
        farm = self.farm
        new = min(farm.logged - self._seen, len(farm.log))
        if new <= 0:
            return
        self._seen = farm.logged
        walker = self._walker
        at_end = not walker or walker.focus >= len(walker) - 1
        entries = list(farm.log)[-new:]
        walker.extend(self.line(e) for e in entries)
        excess = len(walker) - farm.log.maxlen
        if excess > 0:
            del walker[:excess]
        if at_end:
            walker.set_focus(len(walker) - 1)

    def selectable(self):
        return True
