"""The simulator against a small model of SIMULATOR.md, step by step (Hypothesis stateful testing).

Random users on random terminals start, accept, reject, cancel, hang up, report media and ask for
state, while time passes and ring timers fire (the service's clock and scheduler are the test's).
After every step the server's answer (status, version, or error code) and every call's state equal
the model's, versions only grow, and a call that ended never changes again.

The model is written from the prose of SIMULATOR.md ("Call lifecycle" and its table), not from
``softphone.api.RULES``, so it checks the table the service reads instead of repeating it.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, multiple, rule, run_state_machine_as_test
from support.soak import record, scaled

from softphone.api import (
    LIVE_STATUSES,
    AcceptRequest,
    Action,
    CallError,
    CallMedia,
    CallState,
    CallType,
    CancelRequest,
    HangupRequest,
    MediaStateRequest,
    RejectRequest,
    StartCallRequest,
)
from softphone.server.config import ServerConfig
from softphone.server.directory import Directory, User
from softphone.server.hub import Hub
from softphone.server.service import CallService
from softphone.server.store import SQLiteStore

PROOF = "Model-based test of the simulator (Hypothesis state machine)"
T0 = datetime(2026, 7, 5, 10, 0, 0, tzinfo=UTC)
RING_TIMEOUT = 30
USERS = (10001, 20002, 30003, 40004)
STRANGER = 99_999
"""A user id the directory does not have."""
TERMINALS = ("t1", "t2")
CALLEE_MOSTLY = st.sampled_from(["callee"] * 4 + ["caller", "stranger"])
ANYONE = st.sampled_from(["caller", "callee", "stranger"])
EITHER_PARTY = st.sampled_from(["caller", "callee"] * 2 + ["stranger"])
"""Who acts on a call. Accepts come mostly from the callee, while rejects and cancels come as often
from the wrong user as from the right one, so calls often get answered before they end."""
MISSING_CALL = 987_654
STAGES = ("joined", "left")
QUALITIES = (None, "good", "poor")
LIVE = {"calling", "accepted", "ongoing"}
ANSWERED = {"accepted", "ongoing"}
OVER = {"rejected", "cancelled", "ended"}
DEFAULT_REASON = {"reject": "user_reject", "cancel": "caller_cancel", "hangup": "local_hangup"}
Report = tuple[str, str | None]


class Clockwork:
    """The service's clock and scheduler: time moves when a step says, and due timers fire in order."""

    def __init__(self) -> None:
        self.now = T0
        self._due: list[tuple[datetime, int, Callable[[], None]]] = []
        self._order = itertools.count()

    def schedule(self, delay: float, callback: Callable[[], None]) -> None:
        heapq.heappush(self._due, (self.now + timedelta(seconds=delay), next(self._order), callback))

    def advance(self, seconds: int) -> None:
        """Move time on, firing each timer at its own moment, as the event loop would."""
        until = self.now + timedelta(seconds=seconds)
        while self._due and self._due[0][0] <= until:
            moment, _, callback = heapq.heappop(self._due)
            self.now = max(self.now, moment)
            callback()
        self.now = until


@dataclass
class ModelCall:
    """One call as SIMULATOR.md describes it."""

    call_id: int
    caller: int
    callee: int
    created_at: datetime
    status: str = "calling"
    version: int = 1
    accepted_terminal: str | None = None
    end_reason: str | None = None
    terminal_reports: dict[tuple[int, str], Report] = field(default_factory=dict)
    """Each terminal's last report: what decides whether the next one is a change."""
    party_reports: dict[int, Report] = field(default_factory=dict)
    """Each participant's report saved last, by any of its terminals."""
    media: dict[str, Report | None] = field(default_factory=lambda: {"caller": None, "callee": None})
    """Each participant's last report as of this version: it moves only with a version bump."""

    def parties(self) -> tuple[int, int]:
        return self.caller, self.callee

    def change(self, **fields: object) -> None:
        """Every change adds exactly 1 to the version and takes the participants' last reports."""
        for name, value in fields.items():
            setattr(self, name, value)
        self.version += 1
        self.media = {"caller": self.party_reports.get(self.caller), "callee": self.party_reports.get(self.callee)}


class SimulatorModel(RuleBasedStateMachine):
    calls = Bundle("calls")
    examples = 0
    steps = 0

    def __init__(self) -> None:
        super().__init__()
        SimulatorModel.examples += 1
        self.clock = Clockwork()
        self.directory = Directory.load()
        config = ServerConfig(db=":memory:", ring_timeout=RING_TIMEOUT)
        self.store = SQLiteStore(":memory:")
        self.service = CallService(config, self.store, self.directory, Hub(config), self.clock.schedule, lambda: self.clock.now)
        self.model: dict[int, ModelCall] = {}
        self.seen_versions: dict[int, int] = {}
        self.frozen: dict[int, CallState] = {}

    def user(self, user_id: int) -> User:
        user = self.directory.get(user_id)
        assert user is not None
        return user

    def who(self, call_id: int, role: str) -> int:
        call = self.model[call_id]
        if role == "stranger":
            return next(u for u in USERS if u not in call.parties())
        return call.caller if role == "caller" else call.callee

    def live_call_of(self, user_id: int) -> ModelCall | None:
        return next((c for c in self.model.values() if c.status in LIVE and user_id in c.parties()), None)

    def attempt(self, expected: int | None, act: Callable[[], object]) -> object | None:
        """Run one request; it must fail with ``expected`` (a code) or succeed when ``expected`` is None."""
        SimulatorModel.steps += 1
        try:
            answer = act()
        except CallError as error:
            assert error.code == expected, f"server refused with {error.code}, the model expected {expected}"
            return None
        assert expected is None, f"server accepted, the model expected {expected}"
        return answer

    # ------------------------------------------------------------------ start

    @rule(
        target=calls,
        caller=st.sampled_from(USERS),
        offset=st.sampled_from([1, 1, 2, 2, 3, 3, 0, 4]),
        wrong_conversation=st.sampled_from([False] * 7 + [True]),
        terminal=st.sampled_from(TERMINALS),
    )
    def start(self, caller: int, offset: int, wrong_conversation: bool, terminal: str) -> object:
        """``offset`` picks the callee: another user (1-3), the caller (0) or a stranger (4)."""
        index = USERS.index(caller)
        callee = STRANGER if offset == 4 else USERS[(index + offset) % len(USERS)]
        other = next(u for u in USERS if u not in (caller, callee))
        target = self.directory.get(callee)
        conversation = Directory.conversation_id(self.user(caller), self.user(other) if wrong_conversation else target or self.user(other))
        if target is None or callee == caller or wrong_conversation:
            expected: int | None = 41010
        elif self.live_call_of(callee) is not None:
            expected = 41003
        elif self.live_call_of(caller) is not None:
            expected = 41002
        else:
            expected = None
        request = StartCallRequest(
            conversation_id=conversation, target_user_id=callee, call_type=CallType.AUDIO, biz_type="single",
            terminal_id=terminal,
        )  # fmt: skip
        answer = self.attempt(expected, lambda: self.service.start(self.user(caller), request))
        if answer is None:
            return multiple()
        call_id: int = answer.call_id  # type: ignore[attr-defined]
        assert (answer.status, answer.version) == ("calling", 1)  # type: ignore[attr-defined]
        self.model[call_id] = ModelCall(call_id, caller, callee, self.clock.now)
        return call_id

    # ------------------------------------------------------------------ the actions on a call

    @rule(call_id=calls, who=CALLEE_MOSTLY, terminal=st.sampled_from(TERMINALS))
    def accept(self, call_id: int, who: str, terminal: str) -> None:
        call, user = self.model[call_id], self.who(call_id, who)
        change = False
        expected: int | None
        if user != call.callee:
            expected = 41004
        elif call.status in OVER:
            expected = 41007
        elif call.status in ANSWERED:
            expected = None if call.accepted_terminal == terminal else 41006  # the same terminal again: no change
        else:
            expected, change = None, True
        answer = self.attempt(expected, lambda: self.service.accept(self.user(user), call_id, AcceptRequest(terminal_id=terminal)))
        if answer is None:
            return
        if change:
            call.change(status="accepted", accepted_terminal=terminal)
        assert (answer.status, answer.version) == ("accepted", call.version)  # type: ignore[attr-defined]

    @rule(
        call_id=calls,
        who=ANYONE,
        terminal=st.sampled_from(TERMINALS),
        reason=st.sampled_from([None, "callee_busy", "custom reason"]),
    )
    def reject(self, call_id: int, who: str, terminal: str, reason: str | None) -> None:
        call, user = self.model[call_id], self.who(call_id, who)
        expected: int | None
        if user != call.callee:
            expected = 41004
        elif call.status in OVER:
            expected = 41007
        elif call.status in ANSWERED:
            expected = 41006 if call.accepted_terminal != terminal else 41002  # this terminal answered: hang up
        else:
            expected = None
        request = RejectRequest(terminal_id=terminal, **({"reason": reason} if reason else {}))
        self.end(call, expected, "rejected", reason or DEFAULT_REASON["reject"],
                 lambda: self.service.end(Action.REJECT, self.user(user), call_id, request))  # fmt: skip

    @rule(
        call_id=calls,
        who=ANYONE,
        terminal=st.sampled_from(TERMINALS),
        reason=st.sampled_from([None, "changed my mind"]),
    )
    def cancel(self, call_id: int, who: str, terminal: str, reason: str | None) -> None:
        call, user = self.model[call_id], self.who(call_id, who)
        expected: int | None
        if user != call.caller:
            expected = 41005
        elif call.status in OVER:
            expected = 41007
        elif call.status in ANSWERED:
            expected = 41002  # already answered: hang up instead
        else:
            expected = None
        request = CancelRequest(terminal_id=terminal, **({"reason": reason} if reason else {}))
        self.end(call, expected, "cancelled", reason or DEFAULT_REASON["cancel"],
                 lambda: self.service.end(Action.CANCEL, self.user(user), call_id, request))  # fmt: skip

    @rule(
        call_id=calls,
        who=EITHER_PARTY,
        terminal=st.sampled_from(TERMINALS),
        reason=st.sampled_from([None, "network_lost"]),
    )
    def hangup(self, call_id: int, who: str, terminal: str, reason: str | None) -> None:
        call, user = self.model[call_id], self.who(call_id, who)
        expected: int | None
        if user not in call.parties():
            expected = 41010
        elif call.status in OVER:
            expected = 41007
        elif call.status == "calling":
            expected = 41002  # still ringing: cancel or reject instead
        else:
            expected = None
        request = HangupRequest(terminal_id=terminal, **({"reason": reason} if reason else {}))
        self.end(call, expected, "ended", reason or DEFAULT_REASON["hangup"],
                 lambda: self.service.end(Action.HANGUP, self.user(user), call_id, request))  # fmt: skip

    def end(self, call: ModelCall, expected: int | None, status: str, reason: str, act: Callable[[], object]) -> None:
        answer = self.attempt(expected, act)
        if answer is None:
            return
        call.change(status=status, end_reason=reason)
        assert (answer.status, answer.end_reason, answer.version) == (status, reason, call.version)  # type: ignore[attr-defined]

    @rule(
        call_id=calls,
        who=EITHER_PARTY,
        terminal=st.sampled_from(TERMINALS),
        stage=st.sampled_from(STAGES),
        quality=st.sampled_from(QUALITIES),
    )
    def report_media(self, call_id: int, who: str, terminal: str, stage: str, quality: str | None) -> None:
        call, user = self.model[call_id], self.who(call_id, who)
        expected: int | None
        if user not in call.parties():
            expected = 41010
        elif call.status in OVER:
            expected = 41007
        else:
            expected = None
        request = MediaStateRequest(terminal_id=terminal, stage=stage, network_quality=quality)
        answer = self.attempt(expected, lambda: self.service.report_media(self.user(user), call_id, request))
        if answer is None:
            return
        previous = call.terminal_reports.get((user, terminal))
        call.terminal_reports[(user, terminal)] = call.party_reports[user] = (stage, quality)
        if call.status == "calling":
            pass  # recorded (the caller joins early), but not a change of the call
        elif call.status == "accepted" and stage == "joined":
            call.change(status="ongoing")  # the first joined from accepted: the call is on
        elif previous != (stage, quality):
            call.change()
        assert (answer.status, answer.version) == (call.status, call.version)  # type: ignore[attr-defined]

    @rule(call_id=calls, who=EITHER_PARTY)
    def state(self, call_id: int, who: str) -> None:
        call, user = self.model[call_id], self.who(call_id, who)
        answer = self.attempt(None if user in call.parties() else 41010, lambda: self.service.state(self.user(user), call_id))
        if answer is not None:
            assert (answer.status, answer.version) == (call.status, call.version)  # type: ignore[attr-defined]

    @rule(user=st.sampled_from(USERS), terminal=st.sampled_from(TERMINALS))
    def act_on_a_call_that_does_not_exist(self, user: int, terminal: str) -> None:
        """Every action on a missing call is 41001, checked before anything else."""
        me = self.user(user)
        for act in (
            lambda: self.service.accept(me, MISSING_CALL, AcceptRequest(terminal_id=terminal)),
            lambda: self.service.end(Action.REJECT, me, MISSING_CALL, RejectRequest(terminal_id=terminal)),
            lambda: self.service.end(Action.CANCEL, me, MISSING_CALL, CancelRequest(terminal_id=terminal)),
            lambda: self.service.end(Action.HANGUP, me, MISSING_CALL, HangupRequest(terminal_id=terminal)),
            lambda: self.service.report_media(me, MISSING_CALL, MediaStateRequest(terminal_id=terminal, stage="joined")),
            lambda: self.service.state(me, MISSING_CALL),
        ):
            self.attempt(41001, act)

    @rule(seconds=st.sampled_from([1, 2, 5, 29, 30, 31]))
    def time_passes(self, seconds: int) -> None:
        """Ring timers fire at their deadlines: a call still ringing ends as ``no_answer_timeout``."""
        SimulatorModel.steps += 1
        until = self.clock.now + timedelta(seconds=seconds)
        self.clock.advance(seconds)
        deadline = timedelta(seconds=RING_TIMEOUT)
        for call in sorted(self.model.values(), key=lambda c: c.created_at):
            if call.status == "calling" and call.created_at + deadline <= until:
                call.change(status="ended", end_reason="no_answer_timeout")

    # ------------------------------------------------------------------ after every step

    @invariant()
    def every_call_is_as_the_model_says(self) -> None:
        for call_id, call in self.model.items():
            server = self.service.state(self.user(call.caller), call_id)
            media = server.media
            assert media is not None
            held = {
                "caller": (media.caller.stage, media.caller.network_quality) if media.caller else None,
                "callee": (media.callee.stage, media.callee.network_quality) if media.callee else None,
            }
            assert (server.status, server.version, server.end_reason, server.accepted_terminal_id, held) == (
                call.status, call.version, call.end_reason, call.accepted_terminal, call.media,
            ), f"call {call_id}"  # fmt: skip
            assert server.version >= self.seen_versions.get(call_id, 1), "versions only grow"
            self.seen_versions[call_id] = server.version
            if call.status in OVER:
                assert self.frozen.setdefault(call_id, server) == server, "an ended call never changes"
                assert server.ended_at is not None
                if call.end_reason == "no_answer_timeout":
                    assert server.ended_at == call.created_at + timedelta(seconds=RING_TIMEOUT)

    @invariant()
    def the_live_calls_remembered_are_those_in_the_database(self) -> None:
        """The store reads live calls from memory: the same calls, fields and media as its tables hold."""
        remembered = self.store.live_calls_with_status(*LIVE_STATUSES)
        stored = self.store._calls("WHERE call_id IN (SELECT call_id FROM live_calls) ORDER BY call_id", ())
        # The media as built has microseconds, the stored one the wire's whole seconds: compared on the wire.
        assert [replace(call, media=CallMedia()) for call in remembered] == [replace(call, media=CallMedia()) for call in stored]
        assert [call.media.model_dump_json() for call in remembered] == [call.media.model_dump_json() for call in stored]

    @invariant()
    def nobody_is_in_two_live_calls(self) -> None:
        for user_id in USERS:
            assert len(self.service.active(self.user(user_id)).calls) <= 1


@pytest.mark.soak
@pytest.mark.timeout(scaled(120, 1200))
def test_the_simulator_behaves_as_its_model(request: pytest.FixtureRequest) -> None:
    SimulatorModel.examples = SimulatorModel.steps = 0
    try:
        run_state_machine_as_test(
            SimulatorModel,
            settings=settings(
                max_examples=scaled(100, 1000),
                stateful_step_count=scaled(40, 50),
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        record(
            request.node.nodeid,
            PROOF,
            examples=SimulatorModel.examples,
            notes=f"{SimulatorModel.steps:,} steps checked against the model, 4 users, 2 terminals each",
        )
