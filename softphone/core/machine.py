"""One call as this terminal sees it: applies snapshots by ``version`` and derives what the user may do.

Pure: no I/O, no clock (every method that needs the time takes it), no Textual. Snapshots arrive from
responses, pushes, polls and resyncs in any order and any number of times; the server's ``version``
decides which one is the truth:

- newer by one       → applied;
- newer by more      → applied, marked as a gap, and the machine asks for a resync;
- same version       → a duplicate; it may only fill in fields we lacked (a partial response
                       followed by a full state of the same version), and a full state also
                       corrects what a partial answer of that version got wrong;
- older              → stale, ignored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from softphone.api import (
    IN_PROGRESS_STATUSES,
    RULES,
    TERMINAL_STATUSES,
    AcceptData,
    Action,
    CallMedia,
    CallState,
    CallStatus,
    CallStatusData,
    EndReason,
    MediaStateData,
    StartCallData,
    ring_deadline,
)
from softphone.core.timeline import Marker, Source, TimelineEntry

Snapshot = CallState | StartCallData | AcceptData | CallStatusData | MediaStateData
"""Anything the server says about a call: a full state or one of the actions' partial answers."""


class Role(StrEnum):
    CALLER = "caller"
    CALLEE = "callee"


class EndedBy(StrEnum):
    """Who ended a call, as far as this terminal knows: what it did itself, or what the server said."""

    THIS_TERMINAL = "this terminal"
    MY_OTHER_TERMINAL = "another terminal of this user"
    ME_SOMEWHERE = "this user, on a terminal not named"
    PEER = "the other party"
    SERVER = "the server"
    UNKNOWN = "unknown"


class Outcome(StrEnum):
    APPLIED = "applied"
    GAP = "gap"
    DUPLICATE = "duplicate"
    STALE = "stale"


USER_ACTIONS = (Action.ACCEPT, Action.REJECT, Action.CANCEL, Action.HANGUP, Action.REPORT_MEDIA)
"""The actions a person takes; ``state`` is only ever read."""
ENDING_ACTIONS = (Action.HANGUP, Action.CANCEL, Action.REJECT)
"""What ends a call from one end; the rules allow at most one of them in any status."""
_KNOWN_REASONS = {reason.value for reason in EndReason}


@dataclass(frozen=True, slots=True)
class _Parties:
    """The call as the transition rules read it, from this terminal's knowledge."""

    status: str
    caller_user_id: int
    callee_user_id: int
    accepted_terminal_id: str | None


@dataclass(frozen=True, slots=True)
class RtcCredentials:
    """What this terminal needs to join the RTC channel; only start and accept responses carry it."""

    channel_name: str
    app_id: str
    uid: str
    token: str
    expire_at: datetime | None


@dataclass(frozen=True, slots=True)
class CallFacts:
    """Everything known about the call at ``version``; ``None`` where no snapshot has said yet.

    Each field is a ``CallState`` field of the same name and meaning (a test keeps them in step).
    """

    call_id: int
    version: int = 0
    status: str | None = None
    call_type: str | None = None
    conversation_id: int | None = None
    channel_name: str | None = None
    caller_user_id: int | None = None
    callee_user_id: int | None = None
    accepted_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: str | None = None
    accepted_terminal_id: str | None = None
    created_at: datetime | None = None
    timeout_seconds: int | None = None
    caller_terminal_id: str | None = None
    ended_by_user_id: int | None = None
    ended_by_terminal_id: str | None = None
    media: CallMedia | None = None


_FACT_FIELDS = tuple(field.name for field in dataclasses.fields(CallFacts) if field.name != "call_id")


def _facts_from(snapshot: Snapshot) -> dict[str, object]:
    """The fields a snapshot states, whatever its shape (partial responses state only a few)."""
    return {name: getattr(snapshot, name) for name in _FACT_FIELDS if name in type(snapshot).model_fields}


def _says_who_ended(snapshot: Snapshot) -> bool:
    """Whether a full state names who ended the call (*ext*); then a null user means the server did.

    A server without the field (the documented API) says nothing either way, which is not a null.
    """
    return isinstance(snapshot, CallState) and "ended_by_user_id" in snapshot.model_fields_set


def changes_between(before: CallFacts, after: CallFacts) -> tuple[str, ...]:
    """What a snapshot taught this terminal about the call, in words for its timeline.

    The status is shown beside these words, so they say what else moved: the first sight names the
    call and its ring timeout; later ones who answered where, when talk started, each party's media,
    and why it ended. Empty when nothing but the version moved.
    """
    words: list[str] = []
    if before.version == 0:
        if after.call_type:
            words.append(f"{after.call_type} call")
        if after.timeout_seconds:
            words.append(f"rings {after.timeout_seconds}s")
    if after.accepted_terminal_id and after.accepted_terminal_id != before.accepted_terminal_id:
        words.append(f"answered on {after.accepted_terminal_id}")
    if after.started_at is not None and before.started_at is None:
        words.append("talk started")
    words.extend(_media_changes(before.media, after.media))
    if after.end_reason and after.end_reason != before.end_reason:
        words.append(after.end_reason + _by_whom(after))
    return tuple(words)


def _by_whom(facts: CallFacts) -> str:
    """`` by callee`` when the server names the party that ended the call (*ext* ``ended_by_user_id``)."""
    parties = {facts.caller_user_id: Role.CALLER, facts.callee_user_id: Role.CALLEE}
    party = parties.get(facts.ended_by_user_id) if facts.ended_by_user_id is not None else None
    return f" by {party.value}" if party is not None else ""


def _media_changes(before: CallMedia | None, after: CallMedia | None) -> list[str]:
    """``callee joined (good)`` for a new stage, ``caller quality poor`` for a new quality alone."""
    if after is None:
        return []
    words = []
    for party in Role:
        now = getattr(after, party.value)
        was = getattr(before, party.value) if before is not None else None
        if now is None:
            continue
        quality = now.network_quality
        if was is None or now.stage != was.stage:
            words.append(f"{party.value} {now.stage}" + (f" ({quality})" if quality else ""))
        elif quality and quality != was.network_quality:
            words.append(f"{party.value} quality {quality}")
    return words


class CallMachine:
    """The state of one call for one terminal of one user."""

    def __init__(
        self,
        call_id: int,
        *,
        my_user_id: int,
        my_terminal_id: str,
        role: Role,
        peer_user_id: int,
        peer_name: str = "the other party",
    ) -> None:
        self.my_user_id = my_user_id
        self.my_terminal_id = my_terminal_id
        self.role = role
        self.peer_user_id = peer_user_id
        self.peer_name = peer_name
        self.facts = CallFacts(call_id=call_id)
        self.rtc: RtcCredentials | None = None
        self.timeline: list[TimelineEntry] = []
        self.needs_resync = False
        self.accepted_here = False
        self.placed_here = False
        self.opened_here = False
        self.ended_by_me = False
        self.ender_stated = False
        self.crossed = False
        self.media_stage: str | None = None
        self.network_quality: str | None = None
        self._first_seen_at: datetime | None = None
        self._over_seen_at: datetime | None = None

    # ------------------------------------------------------------------ applying what we learn

    @property
    def call_id(self) -> int:
        return self.facts.call_id

    @property
    def version(self) -> int:
        return self.facts.version

    @property
    def status(self) -> str | None:
        return self.facts.status

    def apply(self, snapshot: Snapshot, source: Source, at: datetime) -> Outcome:
        """Take a snapshot from anywhere; the version decides whether it changes anything."""
        if self._first_seen_at is None:
            self._first_seen_at = at
        self._take_rtc(snapshot)
        self._take_terminals(snapshot)
        incoming = snapshot.version
        current = self.facts.version
        if incoming < current:
            self._note(at, source, snapshot, Marker.STALE, f"v{incoming} < v{current}, ignored")
            return Outcome.STALE
        before = self.facts
        if incoming == current:
            self._fill_missing(snapshot)
            self._note_over(at)
            self._note(at, source, snapshot, Marker.DUPLICATE, "already applied", changes_between(before, self.facts))
            return Outcome.DUPLICATE
        gap = current > 0 and incoming > current + 1
        detail = self._replace_facts(snapshot)
        self._note_over(at)
        changes = changes_between(before, self.facts)
        if gap:
            self.needs_resync = True
            self._note(at, source, snapshot, Marker.GAP, f"missed v{current + 1}..v{incoming - 1}", changes)
            return Outcome.GAP
        self._note(at, source, snapshot, None, detail, changes)
        return Outcome.APPLIED

    def _replace_facts(self, snapshot: Snapshot) -> str:
        """Take a newer snapshot's fields; returns a note for the timeline when it left us unsure."""
        stated = _facts_from(snapshot)
        detail = ""
        if isinstance(snapshot, AcceptData) and self.facts.status in IN_PROGRESS_STATUSES | TERMINAL_STATUSES:
            # A repeated accept answers "accepted" with the current version even once ongoing, so at
            # a newer version it cannot tell accepted from ongoing: keep ours and ask for the state.
            stated.pop("status")
            self.needs_resync = True
            detail = "repeated accept: status unknown, resync"
        if isinstance(snapshot, CallState):
            self.needs_resync = False
        self.facts = dataclasses.replace(self.facts, **stated)
        return detail

    def _fill_missing(self, snapshot: Snapshot) -> None:
        """Same version means same server state, so a fuller snapshot may complete a partial one.

        The full state object is the server's own record at that version, so it also corrects what a
        partial answer of the same version got wrong (a repeated accept's "accepted" once ongoing).
        """
        stated = _facts_from(snapshot)
        authoritative = isinstance(snapshot, CallState)
        update = {
            name: value
            for name, value in stated.items()
            if value is not None
            and (getattr(self.facts, name) is None or (authoritative and getattr(self.facts, name) != value))
        }
        if update:
            self.facts = dataclasses.replace(self.facts, **update)
        if authoritative:
            self.needs_resync = False

    def _note_over(self, at: datetime) -> None:
        """Remember when we learned the call was over, to stop its clock when ``ended_at`` is unknown."""
        if self._over_seen_at is None and self.is_over:
            self._over_seen_at = at

    def _take_terminals(self, snapshot: Snapshot) -> None:
        """What a full state says about terminals (*ext*): that this one placed the call, who ended it."""
        if not isinstance(snapshot, CallState):
            return
        if self.role is Role.CALLER and snapshot.caller_terminal_id == self.my_terminal_id:
            self.placed_here = True  # also after a restart with the same terminal id
        if _says_who_ended(snapshot) and snapshot.status in TERMINAL_STATUSES:
            self.ender_stated = True

    def _take_rtc(self, snapshot: Snapshot) -> None:
        if isinstance(snapshot, StartCallData):
            uid = snapshot.caller_uid
            self.placed_here = True
        elif isinstance(snapshot, AcceptData):
            uid = snapshot.callee_uid
            self.accepted_here = True
        else:
            return
        self.rtc = RtcCredentials(
            channel_name=snapshot.channel_name,
            app_id=snapshot.app_id,
            uid=uid,
            token=snapshot.rtc_token,
            expire_at=snapshot.expire_at,
        )

    def _note(
        self,
        at: datetime,
        source: Source,
        snapshot: Snapshot,
        marker: Marker | None,
        detail: str,
        changes: tuple[str, ...] = (),
    ) -> None:
        self.timeline.append(
            TimelineEntry(
                at=at,
                source=source,
                version=snapshot.version,
                status=snapshot.status,
                marker=marker,
                detail=detail,
                changes=changes,
            )
        )

    def record_action(self, action: Action, at: datetime, detail: str = "") -> None:
        """A request this terminal is about to send, so the timeline shows cause before effect."""
        self.timeline.append(
            TimelineEntry(at=at, source=Source.LOCAL, detail=f"{action.value} {detail}".strip())
        )

    def record_error(self, action: Action, code: int | None, message: str, at: datetime) -> None:
        """A refused or failed request, with the server's code and message as given."""
        self.timeline.append(
            TimelineEntry(
                at=at,
                source=Source.RESPONSE,
                marker=Marker.ERROR,
                detail=f"{action.value}: {message}",
                error_code=code,
                version=self.facts.version or None,
                status=self.facts.status,
            )
        )

    def record_ended_by_me(self) -> None:
        """Our own reject, cancel or hangup ended the call: the words say "you"."""
        self.ended_by_me = True

    def record_opened(self) -> None:
        """The user opened this call by its id: this terminal takes it up as its own end of the call.

        Where nothing tells a terminal of its calls (a server with only the documented API), opening
        one is how it becomes this terminal's: the caller's to cancel or hang up, the callee's to
        answer, reject or hang up, unless the server names another terminal that answered it.
        """
        self.opened_here = True

    def record_crossing(self) -> None:
        """This incoming call crossed a call I placed to the same peer at the same time (glare), and won."""
        self.crossed = True

    def record_media(self, stage: str, network_quality: str | None) -> None:
        """What this terminal last reported successfully."""
        self.media_stage = stage
        if network_quality is not None:
            self.network_quality = network_quality

    def resynced(self) -> None:
        """A full state was fetched after a gap or reconnect."""
        self.needs_resync = False

    # ------------------------------------------------------------------ what it means

    @property
    def is_over(self) -> bool:
        return self.facts.status in TERMINAL_STATUSES

    @property
    def is_ringing(self) -> bool:
        return self.facts.status == CallStatus.CALLING

    @property
    def is_in_progress(self) -> bool:
        return self.facts.status in IN_PROGRESS_STATUSES

    @property
    def answered_elsewhere(self) -> bool:
        """Accepted, but by another terminal of this user (only a callee can be answered elsewhere)."""
        if self.role is not Role.CALLEE or self.accepted_here:
            return False
        if self.facts.accepted_terminal_id is not None:
            return self.facts.accepted_terminal_id != self.my_terminal_id
        if self.opened_here:
            return False  # the user took the call up here; the server did not say who answered
        return self.facts.status in IN_PROGRESS_STATUSES or (
            self.facts.status == CallStatus.ENDED and self.facts.accepted_at is not None
        )

    @property
    def mine_in_progress(self) -> bool:
        """This terminal is a live end of the call (not a sibling terminal watching)."""
        if self.role is Role.CALLER:
            return self.is_in_progress and self.is_my_end
        return self.is_in_progress and not self.answered_elsewhere

    @property
    def is_my_end(self) -> bool:
        """This terminal is (or may become) an end of the call, not a sibling terminal watching.

        The caller's end is the terminal that placed it (or opened it by id); any terminal of the
        callee may answer a ringing call, and the one that accepted it is the callee's end from then on.
        """
        if self.role is Role.CALLER:
            return self.placed_here or self.opened_here
        return self.is_ringing or not self.answered_elsewhere

    def allowed_actions(self) -> frozenset[Action]:
        """What the server's rules let this terminal do now, and so what the UI offers.

        Read from the transition table, for this terminal's end of the call; a callee reports media
        only once it has answered (it has no channel before).
        """
        status = self.facts.status
        if status is None or not self.is_my_end:
            return frozenset()
        me, peer = self.my_user_id, self.peer_user_id
        caller, callee = (me, peer) if self.role is Role.CALLER else (peer, me)
        accepted_by = self.facts.accepted_terminal_id or (self.my_terminal_id if self.accepted_here else None)
        call = _Parties(status, caller, callee, accepted_by)
        allowed = {
            action
            for action in USER_ACTIONS
            if RULES[action].refusal(call, me, self.my_terminal_id) is None and RULES[action].changes(call)
        }
        if self.role is Role.CALLEE and self.is_ringing:
            allowed.discard(Action.REPORT_MEDIA)
        return frozenset(allowed)

    def ending_action(self) -> Action | None:
        """How this terminal ends its part in the call now: hang up, cancel or reject, as the rules allow.

        ``None`` when it has no part to end (over, or another terminal's call). Quitting uses it, so
        that no call is left ``ongoing`` with nobody on it.
        """
        allowed = self.allowed_actions()
        return next((action for action in ENDING_ACTIONS if action in allowed), None)

    @property
    def placed_at(self) -> datetime | None:
        """When the call started ringing: the server's ``created_at``, else when this terminal first heard of it."""
        return self.facts.created_at or self._first_seen_at

    def ring_deadline(self) -> datetime | None:
        """When the server will give up ringing, from ``timeout_seconds``."""
        if self.facts.timeout_seconds is None:
            return None
        start = self.placed_at
        if start is None:
            return None
        return ring_deadline(start, self.facts.timeout_seconds)

    def ring_remaining(self, now: datetime) -> timedelta | None:
        """Time left to answer, while ringing; never negative."""
        deadline = self.ring_deadline()
        if deadline is None or not self.is_ringing:
            return None
        return max(deadline - now, timedelta(0))

    def duration(self, now: datetime) -> timedelta | None:
        """Talk time from ``started_at`` to ``ended_at`` (or now, while the call goes on)."""
        if self.facts.started_at is None:
            return None
        end = now
        if self.is_over:
            # A reject/cancel/hangup answer has no ended_at, and an over call is no longer polled.
            end = self.facts.ended_at or self._over_seen_at or now
        return max(end - self.facts.started_at, timedelta(0))

    def headline(self) -> str:
        """The call's state in a few words, from this terminal's point of view."""
        status = self.facts.status
        if status is None:
            return "Waiting for the server"
        if self.is_over:
            return self.end_description()
        if self.answered_elsewhere:
            return "Answered on another terminal"
        if status == CallStatus.CALLING:
            return f"Calling {self.peer_name}…" if self.role is Role.CALLER else (
                f"Incoming call from {self.peer_name}"
            )
        if status == CallStatus.ACCEPTED:
            return "Connecting…"
        if status == CallStatus.ONGOING:
            return f"In call with {self.peer_name}"
        return f"Status: {status}"

    def ended_by(self) -> EndedBy | None:
        """Who ended the call, from what is known; ``None`` while it is not over.

        Known means: this terminal did it (in this run), the server said so (*ext*
        ``ended_by_user_id``/``ended_by_terminal_id``; a null user is the server itself), the end
        reason is the server's (a ring timeout), or the documented rules leave one party (only the
        callee rejects, only the caller cancels; not from which terminal).
        """
        if not self.is_over:
            return None
        if self.ended_by_me:
            return EndedBy.THIS_TERMINAL
        facts = self.facts
        if self.ender_stated:
            if facts.ended_by_user_id is None:
                return EndedBy.SERVER
            if facts.ended_by_user_id == self.peer_user_id:
                return EndedBy.PEER
            if facts.ended_by_user_id != self.my_user_id:
                return EndedBy.UNKNOWN
            if facts.ended_by_terminal_id is None:
                return EndedBy.ME_SOMEWHERE
            if facts.ended_by_terminal_id == self.my_terminal_id:
                return EndedBy.THIS_TERMINAL
            return EndedBy.MY_OTHER_TERMINAL
        if facts.end_reason == EndReason.NO_ANSWER_TIMEOUT:
            return EndedBy.SERVER
        acting_role = _ONLY_ROLE_THAT_ENDS.get(facts.status or "")
        if acting_role is None:
            return EndedBy.UNKNOWN
        return EndedBy.ME_SOMEWHERE if acting_role is self.role else EndedBy.PEER

    def end_description(self) -> str:
        """Who ended the call and why, in words that claim only what ``ended_by`` knows.

        Where nobody is known, the server's status and reason as they are: ``Ended · local_hangup``.
        """
        reason = self.facts.end_reason
        status = self.facts.status or "ended"
        if self.answered_elsewhere:
            return "Answered on another terminal" if self.facts.accepted_terminal_id else "Answered, not here"
        if reason == EndReason.NO_ANSWER_TIMEOUT:
            return f"Missed call from {self.peer_name}" if self.role is Role.CALLEE else f"{self.peer_name} did not answer"
        who = self.ended_by()
        if reason == EndReason.CALLEE_BUSY and who is EndedBy.PEER and self.role is Role.CALLER:
            return f"{self.peer_name} is busy"
        if reason == EndReason.CALLEE_BUSY and who in _MINE and self.role is Role.CALLEE:
            return "Declined: busy"
        words = _END_WORDS.get(status)
        if words is None or who not in (EndedBy.THIS_TERMINAL, EndedBy.PEER, EndedBy.MY_OTHER_TERMINAL):
            return _neutral(status, reason)
        mine, peers, elsewhere = words
        sentence = {EndedBy.THIS_TERMINAL: mine, EndedBy.PEER: peers, EndedBy.MY_OTHER_TERMINAL: elsewhere}[who]
        # A reason we have no words for is shown as it is, after the words we do have.
        unknown = f" ({reason})" if reason and reason not in _KNOWN_REASONS else ""
        return sentence.format(peer=self.peer_name) + unknown


_ONLY_ROLE_THAT_ENDS = {CallStatus.REJECTED.value: Role.CALLEE, CallStatus.CANCELLED.value: Role.CALLER}
"""The documented rules: only the callee rejects (41004 otherwise), only the caller cancels (41005)."""
_MINE = frozenset({EndedBy.THIS_TERMINAL, EndedBy.MY_OTHER_TERMINAL, EndedBy.ME_SOMEWHERE})
_END_WORDS: dict[str, tuple[str, str, str]] = {
    # status: (this terminal did it, the other party did, another terminal of mine did)
    CallStatus.REJECTED.value: ("You declined the call", "{peer} declined the call", "Declined on your other terminal"),
    CallStatus.CANCELLED.value: ("You cancelled the call", "{peer} cancelled the call", "Cancelled on your other terminal"),
    CallStatus.ENDED.value: ("You hung up", "{peer} hung up", "Hung up on your other terminal"),
}


def _neutral(status: str, reason: str | None) -> str:
    """The server's own words for an end nobody is named for: ``Ended · local_hangup``."""
    return f"{status.capitalize()} · {reason}" if reason else status.capitalize()
