"""
The console's commands, registered by name.

A command is a function taking the :class:`~piw_monitor.ui.console.Console`.
The key table (:mod:`piw_monitor.ui.keys`) and the buttons refer to commands
by name only, so that a test can check every binding names a real command.
"""

from __future__ import annotations

__all__ = ["COMMANDS", "command", "run"]

#: name -> (function, help)
COMMANDS = {}


def command(name, help):
    """Register the decorated function as the command *name*."""
    def register(func):
        if name in COMMANDS:
            raise ValueError(f"command {name!r} registered twice")
        COMMANDS[name] = (func, help)
        return func
    return register


def run(name, console):
    """Run the command *name* on *console*."""
    func, _ = COMMANDS[name]
    return func(console)


@command("pause", "Pause: the master hands out no new builds")
def _pause(console):
    console.act(console.actions.pause())


@command("resume", "Resume: the master hands out builds again")
def _resume(console):
    stopping = sum(1 for s in console.farm.slaves.values() if s.stopping)
    outcome = console.act(console.actions.resume())
    if outcome.sent and stopping:
        # the master's WAKE also clears a pending KILL: say so
        console.status.show(
            f"Resumed: builds go out again; the pending Kill slave of "
            f"{stopping} slave{'s' if stopping != 1 else ''} is cancelled.")


@command("kill", "Kill slave: ask, then retire the selected slave")
def _kill(console):
    console.confirm_kill()


@command("terminate", "Terminate master: ask, then shut the master down")
def _terminate(console):
    console.confirm_terminate()


@command("quit", "Quit: leave the monitor; the master is left alone")
def _quit(console):
    console.quit()


@command("help", "Show the help screen")
def _help(console):
    console.show_help()


@command("details", "Toggle the details pane")
def _details(console):
    console.toggle_details()


@command("details-down", "Scroll the details pane down")
def _details_down(console):
    console.scroll_details(1)


@command("details-up", "Scroll the details pane up")
def _details_up(console):
    console.scroll_details(-1)


@command("log", "Toggle the event log")
def _log(console):
    console.toggle_log()


@command("back", "Close the event log, else clear the filter, else "
                 "close the details pane")
def _back(console):
    console.back()


@command("sort-next", "Sort by the next column")
def _sort_next(console):
    console.sort_next()


@command("sort-reverse", "Reverse the sort order")
def _sort_reverse(console):
    console.sort_by(console.slave_list.sort_column,
                    not console.slave_list.reverse)


@command("filter", "Start typing a filter")
def _filter(console):
    console.start_filter()


@command("filter-done", "Keep the filter")
def _filter_done(console):
    console.end_filter()


@command("filter-clear", "Clear the filter")
def _filter_clear(console):
    console.end_filter(clear=True)


@command("menu", "Open the action menu of the selected row")
def _menu(console):
    console.open_menu()


@command("focus-next", "Focus the next area")
def _focus_next(console):
    console.cycle_focus(1)


@command("focus-prev", "Focus the previous area")
def _focus_prev(console):
    console.cycle_focus(-1)


@command("select-prev", "Select the row above")
def _select_prev(console):
    console.slave_list.move(-1)


@command("select-next", "Select the row below")
def _select_next(console):
    console.slave_list.move(1)


@command("select-page-up", "Select a page up")
def _select_page_up(console):
    console.slave_list.move_page(-1)


@command("select-page-down", "Select a page down")
def _select_page_down(console):
    console.slave_list.move_page(1)


@command("select-first", "Select the first row")
def _select_first(console):
    console.slave_list.move_to(0)


@command("select-last", "Select the last row")
def _select_last(console):
    console.slave_list.move_to(-1)


@command("press-button", "Press the focused button")
def _press_button(console):
    run(console.buttons.focused_command, console)


@command("button-prev", "Focus the previous button")
def _button_prev(console):
    console.buttons.move(-1)


@command("button-next", "Focus the next button")
def _button_next(console):
    console.buttons.move(1)


@command("dialog-yes", "Answer Yes to the open dialog")
def _dialog_yes(console):
    console.answer_dialog(True)


@command("dialog-no", "Answer No to the open dialog")
def _dialog_no(console):
    console.answer_dialog(False)
