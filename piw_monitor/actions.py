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

__all__ = ["Actions", "Outcome", "NotSent", "Question", "NAMES"]


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


#: The administrator's actions, by method name: the one name each goes by
#: on the keys, the buttons, the menus, the help, the documentation and the
#: status line. The first five are the spec's.
NAMES = {
    "pause": "Pause",
    "resume": "Resume",
    "kill": "Kill slave",
    "terminate": "Terminate master",
    "quit": "Quit",
    "skip": "Skip build",
    "skip_and_kill": "Skip build and kill slave",
    "skip_all": "Skip all builds",
    "kill_all": "Kill all slaves",
}

#: The end of the link's reasons for a message that did not go out (e.g.
#: "not connected to the master: nothing was sent"): the status line says
#: "not sent" once, at its start.
_NOTHING_SENT = (": nothing was sent", "; nothing was sent",
                 "nothing was sent")


def _reason(text):
    """*text* (a :exc:`NotSent` reason) without its "nothing was sent"."""
    for tail in _NOTHING_SENT:
        if text.endswith(tail):
            text = text[:-len(tail)].rstrip(" :;,")
            break
    return text


class Actions:
    """
    The actions of the spec (Pause, Resume, Kill slave, Terminate master) and
    the extras (Skip build, Skip build and kill slave, Skip all builds, Kill
    all slaves), sent through *link*. A *link* of None is a read-only
    console: nothing is ever sent.

    Each returns an :class:`Outcome` whose text says, in the
    administrator's words, what will happen (or that nothing was sent, and
    why); the protocol's words (SLEEP, WAKE, KILL, SKIP, QUIT) are left to
    the event log and the details pane.
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
        to follow "not sent", e.g. ``" (read-only mode)"`` or ``"; not
        connected to the master"``.
        """
        if self._link is None:
            return f" ({self._read_only_reason})"
        try:
            self._link.send(message, data)
        except NotSent as exc:
            return f"; {_reason(str(exc.args[0]))}"
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
        return Outcome(True, done)

    def pause(self):
        """Pause the master: ``["SLEEP", null]`` on today's master."""
        return self._send(
            NAMES["pause"], "SLEEP", None,
            "Paused: the master hands out no new builds until resumed.")

    def resume(self):
        """Resume the master: ``["WAKE", null]``."""
        return self._send(
            NAMES["resume"], "WAKE", None,
            "Resumed: the master hands out builds again.")

    def _one_slave(self, method, slave):
        """
        The :class:`Outcome` refusing the action *method* on *slave* before
        anything is sent (read-only, or no slave), or None.
        """
        what = NAMES[method]
        if self.read_only:  # the reason that holds whatever is selected
            return self._read_only_outcome(what)
        if slave is None:
            return Outcome(False, f"{what}: no slave selected; nothing sent.")
        return None

    def kill(self, slave):
        """
        Retire *slave*: ``["KILL", id]``. The master tells it to terminate
        the next time it asks for work; a build in progress is finished first.
        """
        refused = self._one_slave("kill", slave)
        if refused is not None:
            return refused
        return self._send(
            NAMES["kill"], "KILL", slave.slave_id,
            f"Kill slave: {slave_name(slave)} terminates at its next "
            "request for work.")

    def skip(self, slave):
        """Abandon *slave*'s current build: ``["SKIP", id]``."""
        refused = self._one_slave("skip", slave)
        if refused is not None:
            return refused
        return self._send(
            NAMES["skip"], "SKIP", slave.slave_id,
            f"Skip build: {slave_name(slave)} abandons its build at its "
            "next contact.")

    def skip_and_kill(self, slave):
        """
        Stop *slave* as soon as possible: ``["SKIP", id]`` abandons its
        current build, then ``["KILL", id]`` retires it at its next request.
        """
        what = NAMES["skip_and_kill"]
        refused = self._one_slave("skip_and_kill", slave)
        if refused is not None:
            return refused
        name = slave_name(slave)
        skipped = self._send(what, "SKIP", slave.slave_id, "")
        if not skipped.sent:
            return skipped
        why = self._refusal("KILL", slave.slave_id)
        if why is not None:
            # the skip is out: say so, and that the slave carries on
            return Outcome(True, f"{what}: only the skip went out, the kill "
                                 f"was not sent{why}. {name} abandons its "
                                 "build and carries on.")
        return Outcome(True, f"{what}: {name} abandons its build and "
                             "terminates.")

    def skip_all(self, slaves):
        """
        Abandon every current build: ``["SKIP", id]`` to each slave that is
        building (today's master does nothing with ``["SKIP", null]``).
        """
        what = NAMES["skip_all"]
        if self.read_only:
            return self._read_only_outcome(what)
        building = [s for s in slaves if s.task == "building"]
        if not building:
            return Outcome(False, f"{what}: no slave is building; nothing "
                                  "sent.")
        sent = 0
        for slave in building:
            outcome = self._send(what, "SKIP", slave.slave_id, "")
            if not outcome.sent:
                if not sent:
                    return outcome
                break
            sent += 1
        if sent == len(building):
            return Outcome(True, f"{what}: {sent} building slave"
                                 f"{'s' if sent != 1 else ''} abandon"
                                 f"{'' if sent != 1 else 's'} their builds.")
        return Outcome(True, f"{what}: only {sent} of the {len(building)} "
                             "building slaves were told; they abandon "
                             "their builds at their next contact.")

    def kill_all(self):
        """Retire every slave after its current build: ``["KILL", null]``."""
        return self._send(
            NAMES["kill_all"], "KILL", None,
            "Kill all slaves: every slave terminates at its next request "
            "for work.")

    def terminate(self):
        """Shut the master down: ``"QUIT"``."""
        return self._send(
            NAMES["terminate"], "QUIT", NO_DATA,
            "Terminate master: the master is shutting down.")
