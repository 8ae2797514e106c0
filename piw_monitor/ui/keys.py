"""
The key table: every key the console answers, in one place.

Each :class:`Binding` names a key, the command it runs (a name registered in
:mod:`piw_monitor.ui.commands`), the context in which it applies, and a line
of help. The console dispatches keys from this table and the help screen is
generated from it, so the two cannot disagree.

Contexts:

``global``
    anywhere, unless a dialog is open (the hotkeys of the spec live here);
``list``
    while the slave list has the focus;
``log``
    while the event log (in place of the list) has the focus;
``buttons``
    while the button bar has the focus;
``filter``
    while the filter is being typed (other keys are typed into it);
``dialog``
    while a dialog is open (it takes every other key for itself).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Binding", "KEYS", "CONTEXTS", "lookup"]

CONTEXTS = ("global", "list", "log", "buttons", "filter", "dialog")


@dataclass(frozen=True)
class Binding:
    """One entry of the key table."""
    key: str
    command: str
    context: str
    help: str


KEYS = (
    # the spec's hotkeys: each help line starts with the action's name
    # (actions.NAMES), as on its button, in the menus and in the manual
    Binding("p", "pause", "global",
            "Pause: the master hands out no new builds"),
    Binding("r", "resume", "global",
            "Resume: the master hands out builds again"),
    Binding("k", "kill", "global",
            "Kill slave: retire the selected slave after its build (asks)"),
    Binding("t", "terminate", "global",
            "Terminate master: shut the master down (asks)"),
    Binding("q", "quit", "global",
            "Quit: leave the monitor; the master keeps running"),
    Binding("ctrl c", "quit", "global",
            "Quit: leave the monitor; the master keeps running"),
    Binding("h", "help", "global", "Show every key and action"),
    Binding("?", "help", "global", "Show every key and action"),
    Binding("d", "details", "global",
            "Show or hide the details of the selected row"),
    Binding("]", "details-down", "global",
            "Scroll the details pane down a pane"),
    Binding("[", "details-up", "global", "Scroll the details pane up a pane"),
    Binding("l", "log", "global", "Show or hide the event log"),
    Binding("s", "sort-next", "global", "Sort by the next column"),
    Binding("S", "sort-reverse", "global", "Reverse the sort order"),
    Binding("/", "filter", "global",
            "Filter the slaves by label, ABI or task"),
    Binding("tab", "focus-next", "global",
            "Move between the slave list and the buttons"),
    Binding("shift tab", "focus-prev", "global",
            "Move between the buttons and the slave list"),
    # moving in the list
    Binding("up", "select-prev", "list", "Select the slave above"),
    Binding("down", "select-next", "list", "Select the slave below"),
    Binding("page up", "select-page-up", "list", "Move up a page"),
    Binding("page down", "select-page-down", "list", "Move down a page"),
    Binding("home", "select-first", "list",
            "Select the top row (the master's)"),
    Binding("end", "select-last", "list", "Select the last slave"),
    Binding("enter", "menu", "list",
            "Open the actions for the selected row"),
    Binding("esc", "back", "list",
            "Clear the filter, else close the details pane"),
    # the event log (in place of the list)
    Binding("esc", "back", "log", "Close the event log"),
    # typing a filter
    Binding("enter", "filter-done", "filter", "Keep the filter, back to the list"),
    Binding("esc", "filter-clear", "filter", "Clear the filter"),
    # the button bar
    Binding("enter", "press-button", "buttons", "Press the focused button"),
    Binding(" ", "press-button", "buttons", "Press the focused button"),
    Binding("left", "button-prev", "buttons", "Focus the button on the left"),
    Binding("right", "button-next", "buttons",
            "Focus the button on the right"),
    # dialogs
    Binding("y", "dialog-yes", "dialog", "Answer Yes"),
    Binding("n", "dialog-no", "dialog", "Answer No"),
    Binding("esc", "dialog-no", "dialog", "Close the dialog; nothing is sent"),
)

_INDEX = {(b.key, b.context): b for b in KEYS}


def lookup(key, context):
    """The :class:`Binding` for *key* in *context*, or None."""
    if not isinstance(key, str):
        return None
    return _INDEX.get((key, context))
