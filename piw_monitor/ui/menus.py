"""
The action menu (Enter on a row) and the event log view.
"""

from __future__ import annotations

from collections import deque
from itertools import islice

import urwid

from ..actions import NAMES, slave_name
from ..sanitize import printable
from . import format as fmt
from . import measure

__all__ = [
    "ActionMenu", "LogView", "slave_actions", "farm_actions", "SLAVE_METHODS",
]

#: The methods of :func:`slave_actions`' entries: they act on the menu's
#: slave, so they are checked against it (the farm's only against the run).
SLAVE_METHODS = frozenset({"skip", "kill", "skip_and_kill"})


def slave_actions(slave):
    """
    The actions on one slave: (name, explanation, method name, asks first).
    Every one of them ends or abandons something: each asks first.
    """
    name = slave_name(slave)
    name = name[:1].upper() + name[1:]
    return [
        (NAMES["skip"], f"{name} abandons its current build at its next "
                        "contact, and carries on with another.", "skip",
         True),
        (NAMES["kill"], f"{name} terminates the next time it asks for "
                        "work; a build in progress is finished first.",
         "kill", True),
        (NAMES["skip_and_kill"], f"{name} abandons its build and terminates "
                                 "at its next contact.", "skip_and_kill",
         True),
    ]


#: The actions on the whole farm. (Today's master accepts SLEEP and WAKE for
#: one slave, and SKIP for all, but does nothing with them; they are not
#: offered. "Skip all builds" sends SKIP to each building slave instead.)
FARM_ACTIONS = [
    (NAMES["pause"], "The master hands out no new builds until resumed.",
     "pause", False),
    (NAMES["resume"], "The master hands out builds again.", "resume",
     False),
    (NAMES["skip_all"], "Every building slave abandons its current build "
                        "(all of them, whatever the filter shows).",
     "skip_all", True),
    (NAMES["kill_all"], "Every slave terminates the next time it asks for "
                        "work (all of them, whatever the filter shows).",
     "kill_all", True),
    (NAMES["terminate"], "The master shuts down; the monitor exits.",
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
    """
    The latest status messages, newest at the bottom, scrollable. A slave
    is named by its id and its label as it was when the message came
    (:meth:`collect`, on every refresh, notes the labels).
    """

    def __init__(self, farm):
        self.farm = farm
        self._walker = urwid.SimpleFocusListWalker([])
        self._seen = 0
        #: the farm's entries not yet shown, each with the slave's label
        self._entries = deque(maxlen=farm.log.maxlen)
        super().__init__(urwid.LineBox(urwid.ListBox(self._walker),
                                       title="Event log (l or Esc closes)"))

    @staticmethod
    def line(entry):
        """
        The widget for one log *entry*: (time, slave id or None, text), and
        the slave's label (optional).
        """
        when, sid, text, *rest = entry
        label = rest[0] if rest else ""
        if sid is None:
            who = "master"
        elif label:
            who = f"slave {sid} ({printable(label, 24)})"
        else:
            who = f"slave {sid}"
        attr = "text-silent" if text.startswith("bad frame") else None
        # wrapped, not cut: a long reason (an ssh error, why the master
        # cannot be reached) is read here in full
        return measure.text(
            [("dim", fmt.clock(when) + " "), (attr, f"{who:<10} "),
             (attr, printable(text, 300))], wrap="space")

    def collect(self, _changes=None):
        """
        Take the farm's new entries, with the label each slave has now
        (cheap: no widget is made until the log is shown).
        """
        farm = self.farm
        new = min(farm.logged - self._seen, len(farm.log))
        if new <= 0:
            return
        self._seen = farm.logged
        slaves = farm.slaves
        # the newest *new* entries, without copying the whole log
        for when, sid, text in reversed(list(islice(reversed(farm.log),
                                                    new))):
            slave = slaves.get(sid) if sid is not None else None
            self._entries.append(
                (when, sid, text, slave.label if slave is not None else ""))

    def update(self):
        """
        Catch up with the farm's log (only what was added since the last
        call), following the newest entry when it was selected.
        """
        self.collect()
        if not self._entries:
            return
        walker = self._walker
        at_end = not walker or walker.focus >= len(walker) - 1
        entries, self._entries = list(self._entries), deque(
            maxlen=self._entries.maxlen)
        walker.extend(self.line(e) for e in entries)
        excess = len(walker) - self.farm.log.maxlen
        if excess > 0:
            del walker[:excess]
        if at_end:
            walker.set_focus(len(walker) - 1)

    def selectable(self):
        return True
