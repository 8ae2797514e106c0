"""
What the administrator can do: each action encodes one control message,
hands it to the master link, and says in words what happened.

This module knows nothing of urwid or of 0MQ: it takes any *link* with a
``send(message, data)`` method that raises :class:`~piw_monitor.protocol.NotSent`
when the message could not be handed to a connected master right now.
"""

from __future__ import annotations

from dataclasses import dataclass

from .protocol import NO_DATA, NotSent
from .sanitize import printable

__all__ = ["Actions", "Outcome", "NotSent"]


@dataclass(frozen=True)
class Outcome:
    """The result of an action: whether anything was sent, and what to say."""
    sent: bool
    text: str


def slave_name(slave):
    """How a slave is named in messages: its id and label."""
    label = printable(slave.label, 40) if slave.label else "no label"
    return f"slave {slave.slave_id} ({label})"


class Actions:
    """
    The actions of the spec (Pause, Resume, Kill slave, Terminate master) and
    the per-slave extras, sent through *link*. A *link* of None is a
    read-only console: nothing is ever sent.
    """

    def __init__(self, link, read_only_reason="read-only mode"):
        self._link = link
        self._read_only_reason = read_only_reason

    @property
    def read_only(self):
        """True when this console may not send anything."""
        return self._link is None

    def _refusal(self, message, data):
        """
        Send *message*; None when it went, else why not, in a few words
        (after "not sent"), e.g. ``(read-only mode)``.
        """
        if self._link is None:
            return f" ({self._read_only_reason})"
        try:
            self._link.send(message, data)
        except NotSent as exc:
            return f", {exc.args[0]}"
        return None

    def _read_only_outcome(self, what):
        """*what* refused for read-only mode (None when not read-only)."""
        if self._link is None:
            return Outcome(False, f"{what}: not sent ({self._read_only_reason}).")
        return None

    def _send(self, what, message, data, done):
        why = self._refusal(message, data)
        if why is not None:
            return Outcome(False, f"{what}: not sent{why}.")
        return Outcome(True, f"{what}: sent {done}")

    def pause(self):
        """Pause the master: ``["SLEEP", null]`` on today's master."""
        return self._send(
            "Pause", "SLEEP", None,
            "SLEEP to all; the master hands out no builds until resumed.")

    def resume(self):
        """Resume the master: ``["WAKE", null]``."""
        return self._send(
            "Resume", "WAKE", None,
            "WAKE to all; the master hands out builds again.")

    def kill(self, slave):
        """
        Retire *slave*: ``["KILL", id]``. The master tells it to terminate
        the next time it asks for work; a build in progress is finished first.
        """
        if self.read_only:  # the reason that holds whatever is selected
            return self._read_only_outcome("Kill slave")
        if slave is None:
            return Outcome(False, "Kill slave: no slave selected; nothing sent.")
        return self._send(
            "Kill slave", "KILL", slave.slave_id,
            f"KILL to {slave_name(slave)}; it terminates at its next "
            "request for work.")

    def skip(self, slave):
        """Abandon *slave*'s current build: ``["SKIP", id]``."""
        if self.read_only:
            return self._read_only_outcome("Skip build")
        if slave is None:
            return Outcome(False, "Skip build: no slave selected; nothing sent.")
        return self._send(
            "Skip build", "SKIP", slave.slave_id,
            f"SKIP to {slave_name(slave)}; its current build is abandoned at "
            "its next contact.")

    def kill_now(self, slave):
        """
        Stop *slave* as soon as possible: ``["SKIP", id]`` abandons its
        current build, then ``["KILL", id]`` retires it at its next request.
        """
        if self.read_only:
            return self._read_only_outcome("Kill now")
        if slave is None:
            return Outcome(False, "Kill now: no slave selected; nothing sent.")
        name = slave_name(slave)
        skipped = self._send("Kill now", "SKIP", slave.slave_id, "")
        if not skipped.sent:
            return skipped
        why = self._refusal("KILL", slave.slave_id)
        if why is not None:
            # the SKIP is out: say so, and that the slave carries on
            return Outcome(True, f"Kill now: sent SKIP to {name}; KILL not "
                                 f"sent{why}. It abandons its build and "
                                 "carries on.")
        return Outcome(True, f"Kill now: sent SKIP and KILL to {name}; it "
                             "abandons its build and terminates at its next "
                             "contact.")

    def skip_all(self, slaves):
        """
        Abandon every current build: ``["SKIP", id]`` to each slave that is
        building (today's master does nothing with ``["SKIP", null]``).
        """
        if self.read_only:
            return self._read_only_outcome("Skip all builds")
        building = [s for s in slaves if s.task == "building"]
        if not building:
            return Outcome(False, "Skip all builds: no slave is building; "
                                  "nothing sent.")
        sent = 0
        for slave in building:
            outcome = self._send("Skip all builds", "SKIP", slave.slave_id, "")
            if not outcome.sent:
                if not sent:
                    return outcome
                break
            sent += 1
        return Outcome(True, f"Skip all builds: sent SKIP to {sent} of "
                             f"{len(building)} building slaves.")

    def stop_all(self):
        """Retire every slave after its current build: ``["KILL", null]``."""
        return self._send(
            "Stop all slaves", "KILL", None,
            "KILL to all; each slave terminates at its next request for "
            "work.")

    def terminate(self):
        """Shut the master down: ``"QUIT"``."""
        return self._send(
            "Terminate master", "QUIT", NO_DATA,
            "QUIT; the master is shutting down.")
