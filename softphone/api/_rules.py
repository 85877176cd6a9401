"""The transition rules of the call API as one table, read by the simulator and by the client.

Each row says from which statuses an action is allowed, which status it leads to, and what refuses
it, in the order the checks run (REFERENCE.md's codes, in the order SIMULATOR.md gives). The
simulator enforces the table (``softphone.server.service``); the client offers exactly the actions
the table would let through (``softphone.core``), so the two cannot disagree.

    action       allowed from        result     refused with, in this order
    accept       calling             accepted   41001 41004 41007 41006   (same terminal again: no change)
    reject       calling             rejected   41001 41004 41007 41006 41002
    cancel       calling             cancelled  41001 41005 41007 41002
    hangup       accepted, ongoing   ended      41001 41010 41007 41002
    media-state  live                (same)     41001 41010 41007
    state        any                 (same)     41001 41010

Starting a call is not a transition of an existing call: its refusals (41010, 41003, 41002) are in
``START_REFUSALS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from softphone.api._errors import (
    AnsweredElsewhere,
    CallAlreadyEnded,
    CalleeBusy,
    CallError,
    CallNotFound,
    CallStateConflict,
    NotCallee,
    NotCaller,
    NotParticipant,
)
from softphone.api._models import (
    IN_PROGRESS_STATUSES,
    LIVE_STATUSES,
    TERMINAL_STATUSES,
    CallStatus,
)


class Action(StrEnum):
    """What a participant can ask the server to do with an existing call; the value is the path segment."""

    ACCEPT = "accept"
    REJECT = "reject"
    CANCEL = "cancel"
    HANGUP = "hangup"
    REPORT_MEDIA = "media-state"
    STATE = "state"


class Refusal(StrEnum):
    """One reason to refuse an action on a call; ``error()`` is the documented answer."""

    NO_SUCH_CALL = "no such call"
    NOT_CALLEE = "not the callee"
    NOT_CALLER = "not the caller"
    NOT_PARTICIPANT = "not a participant"
    CALL_OVER = "the call is over"
    ANSWERED_ELSEWHERE = "accepted by another terminal"
    WRONG_STATUS = "not allowed in this status"

    def error(self) -> CallError:
        return _REFUSAL_ERRORS[self]()


_REFUSAL_ERRORS: dict[Refusal, type[CallError]] = {
    Refusal.NO_SUCH_CALL: CallNotFound,
    Refusal.NOT_CALLEE: NotCallee,
    Refusal.NOT_CALLER: NotCaller,
    Refusal.NOT_PARTICIPANT: NotParticipant,
    Refusal.CALL_OVER: CallAlreadyEnded,
    Refusal.ANSWERED_ELSEWHERE: AnsweredElsewhere,
    Refusal.WRONG_STATUS: CallStateConflict,
}

START_REFUSALS: tuple[type[CallError], ...] = (NotParticipant, CalleeBusy, CallStateConflict)
"""Start: 41010 target unknown, self or wrong conversation; 41003 callee busy; 41002 caller busy."""


class CallParties(Protocol):
    """What the rules read of a call: the server's record and the client's view both have it."""

    @property
    def status(self) -> str: ...

    @property
    def caller_user_id(self) -> int: ...

    @property
    def callee_user_id(self) -> int: ...

    @property
    def accepted_terminal_id(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Rule:
    action: Action
    allowed_from: frozenset[CallStatus]
    result: CallStatus | None
    """The status the call moves to; ``None`` keeps it (a media report may still change the call)."""
    refusals: tuple[Refusal, ...]
    repeat_from: frozenset[CallStatus] = frozenset()
    """Statuses where the action is answered again without a change (the accepting terminal's accept)."""

    def refusal(self, call: CallParties | None, user_id: int, terminal_id: str) -> Refusal | None:
        """The first check that refuses ``user_id`` on ``terminal_id``, or ``None`` when allowed."""
        for check in self.refusals:
            if call is None:
                if check is Refusal.NO_SUCH_CALL:
                    return check
                continue
            if _refuses(check, self, call, user_id, terminal_id):
                return check
        return None

    def changes(self, call: CallParties) -> bool:
        """Whether an allowed action changes the call (not a repeat)."""
        return call.status in self.allowed_from


def _refuses(check: Refusal, rule: Rule, call: CallParties, user_id: int, terminal_id: str) -> bool:
    match check:
        case Refusal.NO_SUCH_CALL:
            return False
        case Refusal.NOT_CALLEE:
            return user_id != call.callee_user_id
        case Refusal.NOT_CALLER:
            return user_id != call.caller_user_id
        case Refusal.NOT_PARTICIPANT:
            return user_id not in (call.caller_user_id, call.callee_user_id)
        case Refusal.CALL_OVER:
            return call.status in TERMINAL_STATUSES
        case Refusal.ANSWERED_ELSEWHERE:
            return call.status in IN_PROGRESS_STATUSES and call.accepted_terminal_id != terminal_id
        case Refusal.WRONG_STATUS:
            return call.status not in rule.allowed_from | rule.repeat_from


_ANY_STATUS = frozenset(CallStatus)
_R = Refusal

RULES: dict[Action, Rule] = {
    rule.action: rule
    for rule in (
        Rule(
            Action.ACCEPT,
            allowed_from=frozenset({CallStatus.CALLING}),
            result=CallStatus.ACCEPTED,
            refusals=(_R.NO_SUCH_CALL, _R.NOT_CALLEE, _R.CALL_OVER, _R.ANSWERED_ELSEWHERE),
            repeat_from=IN_PROGRESS_STATUSES,
        ),
        Rule(
            Action.REJECT,
            allowed_from=frozenset({CallStatus.CALLING}),
            result=CallStatus.REJECTED,
            refusals=(_R.NO_SUCH_CALL, _R.NOT_CALLEE, _R.CALL_OVER, _R.ANSWERED_ELSEWHERE, _R.WRONG_STATUS),
        ),
        Rule(
            Action.CANCEL,
            allowed_from=frozenset({CallStatus.CALLING}),
            result=CallStatus.CANCELLED,
            refusals=(_R.NO_SUCH_CALL, _R.NOT_CALLER, _R.CALL_OVER, _R.WRONG_STATUS),
        ),
        Rule(
            Action.HANGUP,
            allowed_from=IN_PROGRESS_STATUSES,
            result=CallStatus.ENDED,
            refusals=(_R.NO_SUCH_CALL, _R.NOT_PARTICIPANT, _R.CALL_OVER, _R.WRONG_STATUS),
        ),
        Rule(
            Action.REPORT_MEDIA,
            allowed_from=LIVE_STATUSES,
            result=None,
            refusals=(_R.NO_SUCH_CALL, _R.NOT_PARTICIPANT, _R.CALL_OVER),
        ),
        Rule(
            Action.STATE,
            allowed_from=_ANY_STATUS,
            result=None,
            refusals=(_R.NO_SUCH_CALL, _R.NOT_PARTICIPANT),
        ),
    )
}


def ring_deadline(created_at: datetime, timeout_seconds: int) -> datetime:
    """When a ringing call ends with ``no_answer_timeout``."""
    return created_at + timedelta(seconds=timeout_seconds)
