"""Unit tests of the phone: routing snapshots to machines and the questions the screens ask of it."""

from __future__ import annotations

import pytest

from softphone.api import Action
from softphone.core import BUSY_REASON, Outcome, Phone, Role, Source

from .snapshots import (
    CALLEE,
    CALLEE_TERMINAL,
    CALLER,
    CALLER_TERMINAL,
    SIBLING_TERMINAL,
    STRANGER,
    accept,
    at,
    ended,
    media,
    start,
    state,
)

NAMES = {CALLER: "Alice", CALLEE: "Bob", STRANGER: "Carol"}


def phone_of(user_id: int, terminal: str) -> Phone:
    return Phone(my_user_id=user_id, my_terminal_id=terminal, name_of=NAMES.__getitem__)


@pytest.fixture
def alice() -> Phone:
    return phone_of(CALLER, CALLER_TERMINAL)


@pytest.fixture
def bob() -> Phone:
    return phone_of(CALLEE, CALLEE_TERMINAL)


class TestRouting:
    def test_own_start_creates_a_caller_machine(self, alice: Phone) -> None:
        machine = alice.start_call(start(), CALLEE, at(0))
        assert alice.get(5001) is machine
        assert (machine.role, machine.peer_name, machine.placed_here) == (Role.CALLER, "Bob", True)
        assert (machine.version, machine.status) == (1, "calling")

    def test_full_state_creates_a_callee_machine(self, bob: Phone) -> None:
        routed = bob.apply(state(1, "calling"), Source.PUSH, at(0))
        assert routed is not None
        machine, outcome = routed
        assert outcome is Outcome.APPLIED
        assert (machine.role, machine.peer_name, machine.my_terminal_id) == (Role.CALLEE, "Alice", CALLEE_TERMINAL)

    def test_full_state_of_my_own_call_from_another_terminal_creates_a_caller_spectator(self) -> None:
        phone = phone_of(CALLER, "alice-phone")
        routed = phone.apply(state(1, "calling"), Source.PUSH, at(0))
        assert routed is not None
        machine, _ = routed
        assert machine.role is Role.CALLER and machine.placed_here is False
        assert phone.live_call() is None

    def test_push_before_own_start_answer_keeps_one_machine(self, alice: Phone) -> None:
        routed = alice.apply(state(1, "calling"), Source.PUSH, at(0))
        assert routed is not None
        machine = alice.start_call(start(), CALLEE, at(0))
        assert machine is routed[0]
        assert len(alice.calls) == 1
        assert machine.placed_here is True
        assert machine.timeline[-1].source is Source.RESPONSE
        assert alice.live_call() is machine

    @pytest.mark.parametrize(
        "snapshot", [accept(2), ended(3, "ended", "local_hangup"), media(3, "ongoing")], ids=type
    )
    def test_partial_snapshot_of_an_unknown_call_is_dropped(self, bob: Phone, snapshot: object) -> None:
        """A partial answer does not say who the parties are, so it cannot create a machine."""
        assert bob.apply(snapshot, Source.RESPONSE, at(0)) is None  # type: ignore[arg-type]
        assert bob.calls == {}

    def test_calls_of_strangers_are_ignored(self) -> None:
        carol = phone_of(STRANGER, "carol-desk")
        assert carol.apply(state(1, "calling"), Source.PUSH, at(0)) is None
        assert carol.calls == {}

    def test_later_partial_snapshots_reach_the_known_machine(self, bob: Phone) -> None:
        bob.apply(state(1, "calling"), Source.PUSH, at(0))
        routed = bob.apply(accept(2), Source.RESPONSE, at(1))
        assert routed is not None
        machine, outcome = routed
        assert outcome is Outcome.APPLIED
        assert machine.accepted_here is True
        assert bob.apply(state(1, "calling"), Source.POLL, at(2)) == (machine, Outcome.STALE)

    def test_snapshots_go_to_their_own_call(self, bob: Phone) -> None:
        bob.apply(state(1, "calling", call_id=1), Source.PUSH, at(0))
        bob.apply(state(1, "calling", call_id=2), Source.PUSH, at(0))
        bob.apply(ended(2, "cancelled", "caller_cancel", call_id=1), Source.PUSH, at(1))
        assert bob.calls[1].status == "cancelled"
        assert bob.calls[2].status == "calling"


class TestQuestions:
    def test_nothing_live_on_an_idle_phone(self, bob: Phone) -> None:
        assert bob.live_call() is None
        assert bob.ringing_calls() == []
        assert bob.busy_rejections() == []
        assert bob.tracked_ids() == []
        assert bob.history() == []

    def test_outgoing_call_is_live_until_over(self, alice: Phone) -> None:
        machine = alice.start_call(start(), CALLEE, at(0))
        assert alice.live_call() is machine
        assert alice.tracked_ids() == [5001]
        alice.apply(ended(2, "cancelled", "caller_cancel"), Source.RESPONSE, at(3))
        assert alice.live_call() is None
        assert alice.tracked_ids() == []

    def test_ringing_incoming_call_is_not_live(self, bob: Phone) -> None:
        bob.apply(state(1, "calling"), Source.PUSH, at(0))
        assert bob.live_call() is None
        assert [m.call_id for m in bob.ringing_calls()] == [5001]

    def test_call_accepted_here_is_live_and_no_longer_ringing(self, bob: Phone) -> None:
        bob.apply(state(1, "calling"), Source.PUSH, at(0))
        bob.apply(accept(2), Source.RESPONSE, at(1))
        live = bob.live_call()
        assert live is not None and live.call_id == 5001
        assert bob.ringing_calls() == []

    def test_call_answered_on_a_sibling_is_not_live(self) -> None:
        phone = phone_of(CALLEE, SIBLING_TERMINAL)
        phone.apply(state(1, "calling"), Source.PUSH, at(0))
        phone.apply(state(2, "accepted", accepted_terminal_id=CALLEE_TERMINAL), Source.PUSH, at(1))
        assert phone.live_call() is None
        assert phone.ringing_calls() == []
        assert phone.tracked_ids() == [5001]

    def test_ringing_calls_oldest_first_whatever_the_order_learned(self, bob: Phone) -> None:
        """A hello may list calls in any order; the screen shows the oldest ringing call first."""
        for call_id in (9, 3, 7):
            bob.apply(state(1, "calling", call_id=call_id), Source.RESYNC, at(0))
        assert [m.call_id for m in bob.ringing_calls()] == [3, 7, 9]

    def test_outgoing_ringing_calls_are_not_incoming(self, alice: Phone) -> None:
        alice.start_call(start(), CALLEE, at(0))
        assert alice.ringing_calls() == []

    def test_busy_rejections_while_in_a_call(self, bob: Phone) -> None:
        bob.apply(state(1, "calling", call_id=1), Source.PUSH, at(0))
        bob.apply(accept(2, call_id=1), Source.RESPONSE, at(1))
        bob.apply(state(1, "calling", call_id=2, caller_user_id=STRANGER), Source.PUSH, at(2))
        bob.apply(state(1, "calling", call_id=3), Source.PUSH, at(3))
        assert [m.call_id for m in bob.busy_rejections()] == [2, 3]
        assert bob.calls[2].peer_name == "Carol"
        assert BUSY_REASON == "callee_busy"

    def test_no_busy_rejections_without_a_live_call(self, bob: Phone) -> None:
        bob.apply(state(1, "calling", call_id=1), Source.PUSH, at(0))
        bob.apply(state(1, "calling", call_id=2), Source.PUSH, at(0))
        assert bob.busy_rejections() == []

    def test_busy_while_calling_out(self) -> None:
        """A terminal that is calling someone is busy for anyone who calls it."""
        phone = phone_of(CALLEE, CALLEE_TERMINAL)
        phone.start_call(start(call_id=1), STRANGER, at(0))
        phone.apply(state(1, "calling", call_id=2), Source.PUSH, at(1))
        assert [m.call_id for m in phone.busy_rejections()] == [2]

    def test_tracked_ids_keep_unknown_statuses(self, bob: Phone) -> None:
        bob.apply(state(1, "calling", call_id=1), Source.PUSH, at(0))
        bob.apply(state(4, "transferred", call_id=2), Source.PUSH, at(0))
        bob.apply(state(3, "rejected", call_id=3), Source.PUSH, at(0))
        assert sorted(bob.tracked_ids()) == [1, 2]

    def test_history_newest_first(self, bob: Phone) -> None:
        for call_id in (4, 12, 8):
            bob.apply(state(3, "ended", call_id=call_id), Source.RESYNC, at(0))
        assert [m.call_id for m in bob.history()] == [12, 8, 4]


class TestLeaving:
    """What quitting ends: each call this terminal is an end of, with the one action its state allows."""

    def test_a_ringing_outgoing_call_is_cancelled(self, alice: Phone) -> None:
        machine = alice.start_call(start(), CALLEE, at(0))
        assert machine.ending_action() is Action.CANCEL
        assert alice.calls_to_leave() == [machine]

    def test_a_ringing_incoming_call_is_rejected(self, bob: Phone) -> None:
        bob.apply(state(1, "calling"), Source.PUSH, at(0))
        assert [(m.call_id, m.ending_action()) for m in bob.calls_to_leave()] == [(5001, Action.REJECT)]

    @pytest.mark.parametrize("status", ["accepted", "ongoing"])
    def test_a_call_in_progress_here_is_hung_up(self, bob: Phone, status: str) -> None:
        bob.apply(state(1, "calling"), Source.PUSH, at(0))
        bob.apply(state(2, status, accepted_terminal_id=CALLEE_TERMINAL), Source.PUSH, at(1))
        assert [m.ending_action() for m in bob.calls_to_leave()] == [Action.HANGUP]

    def test_nothing_to_leave_of_a_call_another_terminal_holds_or_one_that_is_over(self, alice: Phone) -> None:
        sibling = phone_of(CALLEE, SIBLING_TERMINAL)
        sibling.apply(state(2, "ongoing", accepted_terminal_id=CALLEE_TERMINAL), Source.PUSH, at(1))
        watching = phone_of(CALLER, "alice-phone")  # alice's call, placed on her laptop
        watching.apply(state(1, "calling"), Source.PUSH, at(0))
        alice.start_call(start(), CALLEE, at(0))
        alice.apply(ended(2, "cancelled", "caller_cancel"), Source.RESPONSE, at(3))
        assert sibling.calls_to_leave() == watching.calls_to_leave() == alice.calls_to_leave() == []
        assert alice.calls[5001].ending_action() is None
class TestLiveCalls:
    """Whether the stream must come back fast: a call this terminal is an end of, or one to answer."""

    def test_a_call_placed_here_or_ringing_here_is_live(self, alice: Phone, bob: Phone) -> None:
        assert not alice.has_live_calls() and not bob.has_live_calls()
        alice.start_call(start(), CALLEE, at(0))
        bob.apply(state(1, "calling"), Source.PUSH, at(0))
        assert alice.has_live_calls() and bob.has_live_calls()

    def test_a_sibling_watching_or_a_call_over_is_not(self, bob: Phone) -> None:
        sibling = phone_of(CALLEE, SIBLING_TERMINAL)
        sibling.apply(state(2, "accepted", accepted_terminal_id=CALLEE_TERMINAL), Source.PUSH, at(1))
        assert not sibling.has_live_calls()
        bob.apply(state(3, "ended", end_reason="local_hangup"), Source.RESYNC, at(2))
        assert not bob.has_live_calls()

    def test_a_call_opened_as_the_caller_is_this_terminals_live_call(self, alice: Phone) -> None:
        routed = alice.apply(state(1, "calling"), Source.RESYNC, at(0))
        assert routed is not None and alice.live_call() is None
        routed[0].record_opened()
        assert alice.live_call() is routed[0] and alice.has_live_calls()
