"""
What the administrator can do: each action encodes one control message,
hands it to the master link, and says in words what happened.

This module knows nothing of urwid or of 0MQ: it takes any *link* with a
``send(message, data)`` method that raises :class:`~piw_monitor.protocol.NotSent`
when the message could not be handed to a connected master right now.

A question put to the administrator (a confirmation, an action menu) is
answered later, and meanwhile the farm moves on: :class:`Question` records
which slave and which master run it was about, and
:meth:`Actions.confirmed` sends the answer only if they are still the same.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from .protocol import NO_DATA, NotSent
from .sanitize import printable

__all__ = ["Actions", "Outcome", "NotSent", "Question"]


@dataclass(frozen=True)
class Outcome:
    """The result of an action: whether anything was sent, and what to say."""
    sent: bool
    text: str


def slave_name(slave):
    """How a slave is named in messages: its id and label."""
    label = printable(slave.label, 40) if slave.label else "no label"
    return f"slave {slave.slave_id} ({label})"


@dataclass(frozen=True)
class Question:
    """
    What a question was about when it was asked: the master run on screen
    and, for a slave's action, that slave's identity (id, first-seen time,
    label). Taken by :meth:`ask`; :meth:`why_not` tells whether an answer may
    still act on it.

    The farm is anything shaped like :class:`~piw_monitor.model.Farm`: a
    ``master`` (``started``, ``link_ups``, ``run_known``) and ``slaves`` (a
    mapping id -> record with ``slave_id``, ``first_seen`` and ``label``).
    """
    #: the master's start time (its HELLO), None when unknown
    started: dt.datetime | None
    #: the master's ``link_ups`` and ``run_known`` at the time
    link_ups: int
    run_known: bool
    #: the slave asked about (None: the whole farm), and its identity
    slave_id: int | None = None
    first_seen: dt.datetime | None = None
    label: str = ""

    @classmethod
    def ask(cls, farm, slave=None):
        """The question about *slave* (None: the whole farm) on *farm* now."""
        m = farm.master
        question = cls(m.started, m.link_ups, m.run_known)
        if slave is not None:
            question = replace(question, slave_id=slave.slave_id,
                               first_seen=slave.first_seen, label=slave.label)
        return question

    def farm_wide(self):
        """The same question about the whole farm (the master run only)."""
        return replace(self, slave_id=None, first_seen=None, label="")

    @property
    def name(self):
        """The slave asked about, as messages name it (None: the farm)."""
        if self.slave_id is None:
            return None
        return slave_name(self)

    def why_not(self, farm):
        """
        None when an answer may act on *farm* now; else why not, in a few
        words for a status line (no capital, no full stop), e.g. ``the
        master restarted since you asked``.
        """
        why = self._run_changed(farm.master)
        if why is None and self.slave_id is not None:
            why = self._slave_changed(farm.slaves.get(self.slave_id))
        return why

    def _run_changed(self, m):
        if self.started is not None and m.started is not None \
                and m.started != self.started:
            # a restarted master numbers its slaves from 1 again
            return "the master restarted since you asked"
        if m.link_ups == self.link_ups and (
                self.run_known or self.started is None):
            # one connection, one master: the one the question saw
            return None
        if m.run_known and self.started is not None:
            # reconnected, and the master's HELLO since gave the same start
            return None
        # reconnected (or asked in the gap) and the master has not said
        # which run it is yet: the list on screen may be the old run's
        return ("the connection to the master broke since you asked, and "
                "it has not said yet whether it restarted")

    def _slave_changed(self, slave):
        name = self.name
        if slave is None:
            return f"{name} has left"
        if slave.label != self.label:
            label = printable(slave.label, 40) if slave.label else "unlabelled"
            return f"{name} has left; slave {self.slave_id} is now {label}"
        if slave.first_seen != self.first_seen:
            return f"{name} has restarted since you asked"
        return None


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

    def unable(self, what):
        """
        None when the action named *what* could be sent now; else the
        :class:`Outcome` saying why not (read-only, or no connection to the
        master), for the console to show before it asks any question.
        """
        if self._link is None:
            return Outcome(False, f"{what}: not sent ({self._read_only_reason}).")
        if not getattr(self._link, "connected", True):
            return Outcome(False, f"{what}: not sent; the master is not "
                                  "connected, so nothing can reach it.")
        return None

    def refused(self, question, farm, what):
        """
        None when *question* (a :class:`Question`) still holds on *farm*;
        else the :class:`Outcome` of the action named *what*: nothing sent,
        and why.
        """
        why = question.why_not(farm)
        if why is None:
            return None
        return Outcome(False, f"{what}: not sent, {why}.")

    def confirmed(self, question, farm, what, action):
        """
        Answer Yes to *question* (a :class:`Question`) about the action named
        *what* (e.g. ``"Kill slave"``): the :class:`Outcome` of *action*,
        called with the slave's current record (None for the whole farm),
        if the slave and the master run are still the ones asked about on
        *farm*; else an Outcome saying that nothing was sent, and why.
        """
        refusal = self.refused(question, farm, what)
        if refusal is not None:
            return refusal
        slave = None
        if question.slave_id is not None:
            slave = farm.slaves[question.slave_id]
        return action(slave)

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
