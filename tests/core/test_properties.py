"""Hypothesis: real call histories, delivered duplicated, dropped and out of order, to one terminal.

A small reference model of SIMULATOR.md's transition table produces a call's history: the full state
object at every version, plus the partial answers each terminal got for its own requests. One
terminal's phone is then fed a random interleaving of what it could have received. Whatever the
order, the machine must end at the newest version it saw, never go backwards, flag every skipped
version, hold the server's status whenever it does not ask for a resync, and never offer an action
the server would refuse in the state the machine knows.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from softphone.api import (
    AcceptData,
    Action,
    CallState,
    CallStatusData,
    MediaStateData,
    StartCallData,
)
from softphone.core import CallFacts, CallMachine, Marker, Outcome, Phone, Role, Source
from softphone.core.machine import Snapshot

from .snapshots import (
    CALL_ID,
    CALLEE,
    CALLEE_TERMINAL,
    CALLER,
    CALLER_TERMINAL,
    SIBLING_TERMINAL,
    T0,
    accept,
    start,
    state,
)

CALLEE_TERMINALS = (CALLEE_TERMINAL, SIBLING_TERMINAL)
TERMINALS = (CALLER_TERMINAL, *CALLEE_TERMINALS)
LIVE = {"calling", "accepted", "ongoing"}
IN_PROGRESS = {"accepted", "ongoing"}
TIMEOUT = 30


@dataclass(frozen=True)
class Delivery:
    """Something one terminal may receive: a snapshot, where it came from, and who gets it."""

    snapshot: Snapshot
    source: Source
    to: str | None  # a terminal for a response; None for a state pushed or polled to every terminal


@dataclass
class ServerCall:
    """The simulator's rules for one call, as SIMULATOR.md's table states them."""

    full_states: bool  # simulator (ext fields present) or a real server (documented fields only)
    status: str = "calling"
    version: int = 1
    clock: int = 0
    accepted_terminal: str | None = None
    accepted_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: str | None = None
    media: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    states: dict[int, CallState] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)

    def __post_init__(self) -> None:
        response = start(timeout_seconds=TIMEOUT)
        self._publish()
        self.deliveries.insert(0, Delivery(response, Source.RESPONSE, CALLER_TERMINAL))

    def now(self) -> datetime:
        return T0 + timedelta(seconds=self.clock)

    def _publish(self) -> None:
        """Record the full state at the current version and push it to every terminal."""
        ext = {}
        if self.full_states:
            ext = {"accepted_terminal_id": self.accepted_terminal, "created_at": T0, "timeout_seconds": TIMEOUT}
        full = state(
            self.version,
            self.status,
            accepted_at=self.accepted_at,
            started_at=self.started_at,
            ended_at=self.ended_at,
            end_reason=self.end_reason,
            **ext,
        )
        # The model's own record always knows the accepting terminal, whatever it publishes.
        self.states[self.version] = full.model_copy(update={"accepted_terminal_id": self.accepted_terminal})
        self.deliveries.append(Delivery(full, Source.PUSH, None))

    def _change(self, status: str, **facts: object) -> None:
        self.version += 1
        self.status = status
        for name, value in facts.items():
            setattr(self, name, value)
        self._publish()

    def _end(self, status: str, reason: str, terminal: str | None) -> None:
        self._change(status, ended_at=self.now(), end_reason=reason)
        if terminal is not None:
            answer = CallStatusData(call_id=CALL_ID, status=status, end_reason=reason, version=self.version)
            self.deliveries.append(Delivery(answer, Source.RESPONSE, terminal))

    def step(self, request: tuple[str, ...]) -> None:
        """One request or server event; refused ones (any error code) change nothing and answer nothing."""
        self.clock += 1
        kind, *args = request
        if kind == "accept":
            (terminal,) = args
            if self.status == "calling":
                self._change("accepted", accepted_terminal=terminal, accepted_at=self.now())
                self.deliveries.append(Delivery(accept(self.version), Source.RESPONSE, terminal))
            elif self.status in IN_PROGRESS and self.accepted_terminal == terminal:
                # The accepting terminal again: success, "accepted", the current version, no change.
                self.deliveries.append(Delivery(accept(self.version), Source.RESPONSE, terminal))
        elif kind == "reject" and self.status == "calling":
            self._end("rejected", args[1], args[0])
        elif kind == "cancel" and self.status == "calling":
            self._end("cancelled", "caller_cancel", CALLER_TERMINAL)
        elif kind == "hangup" and self.status in IN_PROGRESS:
            self._end("ended", "local_hangup", args[0])
        elif kind == "timeout" and self.status == "calling":
            self._end("ended", "no_answer_timeout", None)
        elif kind == "media" and self.status in LIVE:
            terminal, stage, quality = args
            report = (stage, quality)
            if self.status in IN_PROGRESS and self.media.get(terminal) != report:
                if stage == "joined" and self.status == "accepted":
                    self._change("ongoing", started_at=self.now())
                else:
                    self._change(self.status)
            self.media[terminal] = report
            answer = MediaStateData(
                call_id=CALL_ID, status=self.status, started_at=self.started_at, version=self.version
            )
            self.deliveries.append(Delivery(answer, Source.RESPONSE, terminal))

    def received_by(self, terminal: str) -> list[Delivery]:
        """What one terminal could receive: every state, and the answers to its own requests."""
        return [d for d in self.deliveries if d.to in (None, terminal)]


def server_accepts(known: CallState, terminal: str) -> frozenset[Action]:
    """Actions the server answers with success from ``terminal`` when the call is as ``known`` says."""
    role_is_caller = terminal == CALLER_TERMINAL
    if known.status == "calling":
        if role_is_caller:
            return frozenset({Action.CANCEL, Action.REPORT_MEDIA})
        return frozenset({Action.ACCEPT, Action.REJECT, Action.REPORT_MEDIA})
    if known.status in IN_PROGRESS:
        accepts = {Action.HANGUP, Action.REPORT_MEDIA}
        if not role_is_caller and known.accepted_terminal_id == terminal:
            accepts.add(Action.ACCEPT)
        return frozenset(accepts)
    return frozenset()


ANSWERING = (CALLEE_TERMINAL, CALLEE_TERMINAL, SIBLING_TERMINAL)
MEDIA = st.tuples(
    st.just("media"),
    st.sampled_from(TERMINALS),
    st.sampled_from(["joining", "joined", "joined", "reconnecting"]),
    st.sampled_from([None, "good", "poor"]),
)
# Any request at any time: the model refuses what the server would, which exercises the refusals.
ANYTHING = st.one_of(
    MEDIA,
    st.tuples(st.just("accept"), st.sampled_from(ANSWERING)),
    st.sampled_from(
        [
            ("reject", CALLEE_TERMINAL, "user_reject"),
            ("reject", SIBLING_TERMINAL, "callee_busy"),
            ("cancel",),
            *[("hangup", terminal) for terminal in TERMINALS],
            ("timeout",),
        ]
    ),
)
RING_OUTCOMES = st.one_of(
    st.tuples(st.just("accept"), st.sampled_from(ANSWERING)),
    st.tuples(st.just("accept"), st.sampled_from(ANSWERING)),
    st.tuples(st.just("accept"), st.sampled_from(ANSWERING)),
    st.sampled_from([("reject", CALLEE_TERMINAL, "user_reject"), ("cancel",), ("timeout",)]),
)
IN_CALL = st.one_of(MEDIA, MEDIA, st.tuples(st.just("accept"), st.sampled_from(ANSWERING)), ANYTHING)


@st.composite
def histories(draw: st.DrawFn) -> ServerCall:
    """A real call: mostly ring, answer, talk and hang up, with stray requests the server refuses."""
    call = ServerCall(full_states=draw(st.booleans()))
    script = [
        *draw(st.lists(MEDIA, max_size=2)),
        draw(RING_OUTCOMES),
        *[draw(IN_CALL) for _ in range(draw(st.integers(0, 10)))],
        *draw(st.lists(st.tuples(st.just("hangup"), st.sampled_from(TERMINALS)), max_size=1)),
        *draw(st.lists(ANYTHING, max_size=2)),
    ]
    for request in script:
        call.step(request)
    return call


@st.composite
def interleavings(draw: st.DrawFn, items: list[Delivery]) -> list[Delivery]:
    """Drops, duplicates and reorderings; sometimes in order with only drops and repeats."""
    picks = draw(st.lists(st.integers(0, len(items) - 1), max_size=3 * len(items)))
    if draw(st.booleans()):
        picks.sort()
    # The same state may reach us by push, by a poll or by a resync.
    sources = st.sampled_from([Source.PUSH, Source.POLL, Source.RESYNC])
    return [
        dataclasses.replace(items[i], source=draw(sources)) if items[i].to is None else items[i] for i in picks
    ]


def check_step(machine: CallMachine, before: CallFacts | None, delivery: Delivery, outcome: Outcome) -> None:
    """The version rules for one apply, with ``before`` the facts the machine held before it."""
    incoming = delivery.snapshot.version
    previous = before.version if before is not None else 0
    assert machine.version >= previous, "the version went backwards"
    if incoming < previous:
        assert outcome is Outcome.STALE
        assert machine.facts == before
    elif incoming == previous:
        assert outcome is Outcome.DUPLICATE
        assert machine.version == previous
    elif previous > 0 and incoming > previous + 1:
        assert outcome is Outcome.GAP
        assert machine.needs_resync
    else:
        assert outcome is Outcome.APPLIED
    assert machine.version == max(previous, incoming)
    entry = machine.timeline[-1]
    assert (entry.source, entry.version) == (delivery.source, incoming)
    expected_marker = {Outcome.STALE: Marker.STALE, Outcome.DUPLICATE: Marker.DUPLICATE, Outcome.GAP: Marker.GAP}
    assert entry.marker is expected_marker.get(outcome)


def check_knowledge(machine: CallMachine, call: ServerCall, terminal: str) -> None:
    """Actions offered fit the server's rules at the version held; the status is right unless unsure."""
    known = call.states[machine.version]
    offered = machine.allowed_actions()
    assert offered <= server_accepts(known, terminal), (offered, known.status)
    if Action.ACCEPT in offered or Action.REJECT in offered or Action.CANCEL in offered:
        assert known.status == "calling"
    if Action.HANGUP in offered:
        assert known.status in IN_PROGRESS
    if known.status not in LIVE:
        assert offered == frozenset()
    if terminal != CALLER_TERMINAL and known.accepted_terminal_id not in (None, terminal):
        assert offered == frozenset(), "offered a call answered on another terminal"
    if not machine.needs_resync:
        assert machine.status == known.status, "holds a wrong status without asking for the state"


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_any_delivery_order_converges_without_offering_refused_actions(data: st.DataObject) -> None:
    """Pushes are at most once per connection and responses race them: order must not matter."""
    call = data.draw(histories(), label="history")
    terminal = data.draw(st.sampled_from(TERMINALS), label="terminal")
    items = call.received_by(terminal)
    delivered = data.draw(interleavings(items), label="delivered")

    user = CALLER if terminal == CALLER_TERMINAL else CALLEE
    phone = Phone(my_user_id=user, my_terminal_id=terminal)
    newest_seen = 0
    for tick, delivery in enumerate(delivered):
        at = T0 + timedelta(seconds=tick)
        machine = phone.get(CALL_ID)
        before = None if machine is None else machine.facts  # frozen: safe to keep
        if isinstance(delivery.snapshot, StartCallData):
            machine = phone.start_call(delivery.snapshot, CALLEE, at)
            outcome = _last_outcome(machine)
        else:
            routed = phone.apply(delivery.snapshot, delivery.source, at)
            if routed is None:
                # Only a full state or our own start may introduce a call to the phone.
                assert machine is None and not isinstance(delivery.snapshot, CallState)
                continue
            machine, outcome = routed
        newest_seen = max(newest_seen, delivery.snapshot.version)
        check_step(machine, before, delivery, outcome)
        check_knowledge(machine, call, terminal)

    machine = phone.get(CALL_ID)
    if machine is None:
        return
    assert machine.version == newest_seen
    assert machine.role is (Role.CALLER if terminal == CALLER_TERMINAL else Role.CALLEE)

    # A resync of the version held is a duplicate that leaves the machine exactly right.
    held = call.states[machine.version]
    assert machine.apply(_as_published(call, held), Source.RESYNC, T0) is Outcome.DUPLICATE
    assert machine.status == held.status and not machine.needs_resync
    # And a resync of the newest state brings it to the server's truth.
    # (A full state that skips versions still counts as a gap and asks once more; the answer to that
    # is a duplicate, which settles it.)
    newest = _as_published(call, call.states[call.version])
    machine.apply(newest, Source.RESYNC, T0)
    assert machine.apply(newest, Source.RESYNC, T0) is Outcome.DUPLICATE
    assert (machine.version, machine.status, machine.needs_resync) == (call.version, call.status, False)
    facts = machine.facts
    assert (facts.accepted_at, facts.started_at, facts.ended_at, facts.end_reason) == (
        newest.accepted_at,
        newest.started_at,
        newest.ended_at,
        newest.end_reason,
    )
    check_knowledge(machine, call, terminal)


def _as_published(call: ServerCall, full: CallState) -> CallState:
    """The state as the server would send it (a real server omits the ext fields)."""
    if call.full_states:
        return full
    return full.model_copy(update={"accepted_terminal_id": None, "created_at": None, "timeout_seconds": None})


def _last_outcome(machine: CallMachine) -> Outcome:
    """``start_call`` returns the machine, not the outcome: read it back from the timeline."""
    outcomes = {Marker.DUPLICATE: Outcome.DUPLICATE, Marker.STALE: Outcome.STALE, Marker.GAP: Outcome.GAP}
    return outcomes.get(machine.timeline[-1].marker, Outcome.APPLIED)


def test_reference_model_runs_the_documented_plain_call() -> None:
    """Guards the model itself: start v1, accept v2, joined v3 (ongoing), joined v4, hangup v5."""
    call = ServerCall(full_states=True)
    for request in [
        ("media", CALLER_TERMINAL, "joined", "good"),
        ("accept", CALLEE_TERMINAL),
        ("media", CALLEE_TERMINAL, "joined", "good"),
        ("media", CALLER_TERMINAL, "joined", "excellent"),
        ("accept", CALLEE_TERMINAL),
        ("accept", SIBLING_TERMINAL),
        ("cancel",),
        ("hangup", CALLER_TERMINAL),
        ("media", CALLER_TERMINAL, "left", None),
    ]:
        call.step(request)
    assert [call.states[v].status for v in range(1, call.version + 1)] == [
        "calling",
        "accepted",
        "ongoing",
        "ongoing",
        "ended",
    ]
    assert call.states[5].end_reason == "local_hangup"
    to_callee = [type(d.snapshot).__name__ for d in call.received_by(CALLEE_TERMINAL) if d.to is not None]
    assert to_callee == ["AcceptData", "MediaStateData", "AcceptData"]
    assert [d.snapshot.version for d in call.received_by(CALLEE_TERMINAL) if isinstance(d.snapshot, AcceptData)] == [2, 4]
    assert call.received_by(SIBLING_TERMINAL) == [d for d in call.deliveries if d.to is None]
