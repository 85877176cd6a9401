"""Unit tests of one call's machine: version rules, every transition and derived action, both roles."""

from __future__ import annotations

from datetime import timedelta

import pytest

from softphone.api import Action, CallStatus, EndReason
from softphone.core import CallMachine, Marker, Outcome, Role, Source

from .snapshots import (
    CALL_ID,
    CALLEE_TERMINAL,
    CALLER_TERMINAL,
    SIBLING_TERMINAL,
    T0,
    accept,
    at,
    ended,
    media,
    start,
    state,
)

NOTHING: frozenset[Action] = frozenset()
RING = frozenset({Action.ACCEPT, Action.REJECT})
OUTGOING = frozenset({Action.CANCEL, Action.REPORT_MEDIA})
IN_CALL = frozenset({Action.HANGUP, Action.REPORT_MEDIA})


def caller() -> CallMachine:
    """The caller's terminal, which placed the call."""
    return CallMachine(CALL_ID, my_user_id=10001, my_terminal_id=CALLER_TERMINAL, role=Role.CALLER, peer_user_id=20002, peer_name="Bob")


def callee(terminal: str = CALLEE_TERMINAL) -> CallMachine:
    """One of the callee's terminals."""
    return CallMachine(CALL_ID, my_user_id=20002, my_terminal_id=terminal, role=Role.CALLEE, peer_user_id=10001, peer_name="Alice")


def placed() -> CallMachine:
    """A caller machine that has applied its own start response."""
    machine = caller()
    assert machine.apply(start(), Source.RESPONSE, at(0)) is Outcome.APPLIED
    return machine


def ringing(terminal: str = CALLEE_TERMINAL) -> CallMachine:
    """A callee terminal that learned of the call from a push."""
    machine = callee(terminal)
    assert machine.apply(state(1, "calling"), Source.PUSH, at(0)) is Outcome.APPLIED
    return machine


def answered_here() -> CallMachine:
    """A callee terminal that accepted, with its accept response applied."""
    machine = ringing()
    assert machine.apply(accept(2), Source.RESPONSE, at(5)) is Outcome.APPLIED
    return machine


# ---------------------------------------------------------------------------------- version rules


class TestVersionRules:
    def test_fresh_machine_knows_nothing(self) -> None:
        machine = callee()
        assert (machine.version, machine.status) == (0, None)
        assert machine.allowed_actions() == NOTHING
        assert machine.headline() == "Waiting for the server"
        assert machine.ring_deadline() is None

    def test_first_snapshot_is_applied_whatever_its_version(self) -> None:
        """A terminal may first hear of a call late (hello after a reconnect): that is no gap."""
        machine = callee()
        assert machine.apply(state(4, "ongoing"), Source.RESYNC, at(0)) is Outcome.APPLIED
        assert (machine.version, machine.status, machine.needs_resync) == (4, "ongoing", False)

    def test_newer_by_one_is_applied(self) -> None:
        machine = ringing()
        assert machine.apply(state(2, "accepted", accepted_at=at(3)), Source.PUSH, at(3)) is Outcome.APPLIED
        assert machine.version == 2
        assert machine.status == "accepted"
        assert machine.facts.accepted_at == at(3)
        assert machine.timeline[-1].marker is None
        assert machine.needs_resync is False

    def test_same_version_is_a_duplicate_and_changes_nothing(self) -> None:
        machine = ringing()
        before = machine.facts
        assert machine.apply(state(1, "calling"), Source.POLL, at(1)) is Outcome.DUPLICATE
        assert machine.facts == before
        entry = machine.timeline[-1]
        assert (entry.marker, entry.source, entry.version) == (Marker.DUPLICATE, Source.POLL, 1)

    def test_duplicate_fills_fields_a_partial_response_lacked(self) -> None:
        """A hangup answer carries no ended_at; the push of the same version does."""
        machine = placed()
        machine.apply(state(2, "accepted", accepted_at=at(3)), Source.PUSH, at(3))
        machine.apply(media(3, "ongoing", started_at=at(4)), Source.RESPONSE, at(4))
        assert machine.apply(ended(4, "ended", "local_hangup"), Source.RESPONSE, at(60)) is Outcome.APPLIED
        assert machine.facts.ended_at is None
        full = state(
            4, "ended", accepted_at=at(3), started_at=at(4), ended_at=at(60), end_reason="local_hangup"
        )
        assert machine.apply(full, Source.PUSH, at(61)) is Outcome.DUPLICATE
        assert machine.facts.ended_at == at(60)
        assert machine.facts.caller_user_id == 10001
        assert machine.status == "ended"

    def test_partial_duplicate_does_not_erase_known_fields(self) -> None:
        """A media answer of the same version with ``started_at`` null must not forget the start time."""
        machine = ringing()
        machine.apply(state(2, "accepted", accepted_at=at(3)), Source.PUSH, at(3))
        machine.apply(state(3, "ongoing", accepted_at=at(3), started_at=at(4)), Source.PUSH, at(4))
        assert machine.apply(media(3, "ongoing", started_at=None), Source.RESPONSE, at(5)) is Outcome.DUPLICATE
        assert machine.facts.started_at == at(4)
        assert machine.facts.accepted_at == at(3)

    def test_older_is_stale_and_ignored(self) -> None:
        machine = ringing()
        machine.apply(state(2, "accepted"), Source.PUSH, at(3))
        machine.apply(state(3, "ongoing", started_at=at(4)), Source.PUSH, at(4))
        before = machine.facts
        assert machine.apply(state(1, "calling"), Source.POLL, at(5)) is Outcome.STALE
        assert machine.facts == before
        entry = machine.timeline[-1]
        assert (entry.marker, entry.version, entry.status) == (Marker.STALE, 1, "calling")
        assert "v1 < v3" in entry.detail

    def test_more_than_one_ahead_is_applied_as_a_gap_and_asks_for_resync(self) -> None:
        machine = ringing()
        outcome = machine.apply(ended(4, "ended", "local_hangup"), Source.PUSH, at(9))
        assert outcome is Outcome.GAP
        assert (machine.version, machine.status, machine.facts.end_reason) == (4, "ended", "local_hangup")
        assert machine.needs_resync is True
        entry = machine.timeline[-1]
        assert entry.marker is Marker.GAP
        assert entry.detail == "missed v2..v3"

    def test_a_full_state_that_skips_versions_is_still_a_gap(self) -> None:
        machine = ringing()
        assert machine.apply(state(3, "ongoing", started_at=at(4)), Source.PUSH, at(4)) is Outcome.GAP
        assert machine.needs_resync is True

    def test_duplicate_full_state_clears_the_resync_request(self) -> None:
        machine = ringing()
        machine.apply(ended(4, "ended", "local_hangup"), Source.PUSH, at(9))
        assert machine.apply(state(4, "ended", end_reason="local_hangup", ended_at=at(9)), Source.RESYNC, at(10)) is (
            Outcome.DUPLICATE
        )
        assert machine.needs_resync is False
        assert machine.facts.ended_at == at(9)

    def test_newer_full_state_clears_the_resync_request(self) -> None:
        machine = ringing()
        machine.apply(media(3, "accepted"), Source.RESPONSE, at(4))
        assert machine.needs_resync is True
        assert machine.apply(state(4, "ongoing", started_at=at(5)), Source.PUSH, at(5)) is Outcome.APPLIED
        assert machine.needs_resync is False

    def test_partial_or_stale_snapshots_do_not_clear_the_resync_request(self) -> None:
        machine = ringing()
        machine.apply(state(3, "accepted"), Source.PUSH, at(4))
        machine.apply(media(4, "ongoing", started_at=at(5)), Source.RESPONSE, at(5))
        assert machine.needs_resync is True
        machine.apply(state(2, "accepted"), Source.POLL, at(6))
        machine.apply(media(4, "ongoing", started_at=at(5)), Source.RESPONSE, at(6))
        assert machine.needs_resync is True
        machine.resynced()
        assert machine.needs_resync is False

    def test_stale_snapshot_does_not_move_the_version_back(self) -> None:
        machine = ringing()
        machine.apply(ended(3, "rejected", "user_reject"), Source.RESPONSE, at(2))
        machine.apply(state(2, "accepted"), Source.PUSH, at(3))
        machine.apply(state(1, "calling"), Source.PUSH, at(3))
        assert (machine.version, machine.status) == (3, "rejected")
        assert machine.allowed_actions() == NOTHING


# ---------------------------------------------------------------------------------- caller transitions


class TestCaller:
    def test_start_response_makes_a_ringing_outgoing_call(self) -> None:
        machine = placed()
        assert machine.placed_here is True
        assert (machine.version, machine.status) == (1, "calling")
        assert machine.is_ringing and not machine.is_over and not machine.is_in_progress
        assert machine.allowed_actions() == OUTGOING
        assert machine.headline() == "Calling Bob…"
        assert machine.facts.timeout_seconds == 30
        assert machine.rtc is not None
        assert (machine.rtc.uid, machine.rtc.token) == ("10001", "caller-token")
        assert machine.rtc.channel_name == f"call_{CALL_ID}_1001"

    def test_start_response_after_the_push_still_marks_the_call_placed_here(self) -> None:
        """The push of v1 may beat the HTTP answer; the answer is a duplicate but carries the RTC token."""
        machine = caller()
        machine.apply(state(1, "calling"), Source.PUSH, at(0))
        assert machine.allowed_actions() == NOTHING
        assert machine.apply(start(), Source.RESPONSE, at(0)) is Outcome.DUPLICATE
        assert machine.placed_here is True
        assert machine.rtc is not None and machine.rtc.token == "caller-token"
        assert machine.facts.timeout_seconds == 30
        assert machine.allowed_actions() == OUTGOING

    def test_accepted_then_ongoing_then_hung_up_by_me(self) -> None:
        machine = placed()
        machine.apply(state(2, "accepted", accepted_at=at(3)), Source.PUSH, at(3))
        assert machine.allowed_actions() == IN_CALL
        assert machine.headline() == "Connecting…"
        assert machine.answered_elsewhere is False
        assert machine.apply(media(3, "ongoing", started_at=at(4)), Source.RESPONSE, at(4)) is Outcome.APPLIED
        assert machine.allowed_actions() == IN_CALL
        assert machine.headline() == "In call with Bob"
        machine.record_ended_by_me()
        assert machine.apply(ended(4, "ended", "local_hangup"), Source.RESPONSE, at(60)) is Outcome.APPLIED
        assert machine.is_over
        assert machine.allowed_actions() == NOTHING
        assert machine.headline() == "You hung up"

    def test_cancel(self) -> None:
        machine = placed()
        machine.record_ended_by_me()
        assert machine.apply(ended(2, "cancelled", "caller_cancel"), Source.RESPONSE, at(4)) is Outcome.APPLIED
        assert machine.is_over and not machine.is_ringing
        assert machine.allowed_actions() == NOTHING
        assert machine.end_description() == "You cancelled the call"
        assert machine.ring_remaining(at(5)) is None

    def test_rejected_by_the_callee(self) -> None:
        machine = placed()
        machine.apply(state(2, "rejected", end_reason="user_reject", ended_at=at(4)), Source.PUSH, at(4))
        assert machine.allowed_actions() == NOTHING
        assert machine.end_description() == "Bob declined the call"

    def test_ring_timeout(self) -> None:
        machine = placed()
        machine.apply(state(2, "ended", end_reason="no_answer_timeout", ended_at=at(30)), Source.PUSH, at(30))
        assert machine.allowed_actions() == NOTHING
        assert machine.end_description() == "Bob did not answer"
        assert machine.duration(at(40)) is None

    def test_media_report_while_calling_changes_nothing(self) -> None:
        """The caller joins its channel early; the server records it without a new version."""
        machine = placed()
        assert machine.apply(media(1, "calling"), Source.RESPONSE, at(1)) is Outcome.DUPLICATE
        assert machine.allowed_actions() == OUTGOING

    def test_sibling_terminal_of_the_caller_is_only_a_spectator(self) -> None:
        """Another terminal of the caller sees the call but did not place it: it offers nothing."""
        machine = caller()
        machine.apply(state(1, "calling"), Source.PUSH, at(0))
        assert machine.allowed_actions() == NOTHING
        machine.apply(state(2, "accepted"), Source.PUSH, at(3))
        assert machine.allowed_actions() == NOTHING
        assert machine.answered_elsewhere is False
        assert machine.mine_in_progress is False

    def test_caller_is_never_answered_elsewhere(self) -> None:
        machine = placed()
        machine.apply(state(2, "accepted", accepted_terminal_id=SIBLING_TERMINAL), Source.PUSH, at(3))
        assert machine.answered_elsewhere is False
        assert machine.allowed_actions() == IN_CALL


# ---------------------------------------------------------------------------------- callee transitions


class TestCallee:
    def test_incoming_call_rings_with_accept_and_reject(self) -> None:
        machine = ringing()
        assert machine.allowed_actions() == RING
        assert machine.headline() == "Incoming call from Alice"
        assert machine.rtc is None
        assert machine.accepted_here is False

    def test_accept_response_gives_rtc_and_the_call(self) -> None:
        machine = answered_here()
        assert machine.accepted_here is True
        assert machine.status == "accepted"
        assert machine.rtc is not None
        assert (machine.rtc.uid, machine.rtc.token, machine.rtc.expire_at) == ("20002", "callee-token", at(7200))
        assert machine.allowed_actions() == IN_CALL
        assert machine.answered_elsewhere is False
        assert machine.headline() == "Connecting…"

    def test_accept_response_after_the_push_still_counts_as_accepted_here(self) -> None:
        """Real server: no accepted_terminal_id, the push of v2 arrives first; our answer decides."""
        machine = ringing()
        machine.apply(state(2, "accepted", accepted_at=at(3)), Source.PUSH, at(3))
        assert machine.answered_elsewhere is True
        assert machine.apply(accept(2), Source.RESPONSE, at(3)) is Outcome.DUPLICATE
        assert machine.answered_elsewhere is False
        assert machine.allowed_actions() == IN_CALL
        assert machine.rtc is not None and machine.rtc.token == "callee-token"

    def test_joined_makes_it_ongoing_then_peer_hangs_up(self) -> None:
        machine = answered_here()
        assert machine.apply(media(3, "ongoing", started_at=at(6)), Source.RESPONSE, at(6)) is Outcome.APPLIED
        assert machine.headline() == "In call with Alice"
        assert machine.allowed_actions() == IN_CALL
        hung_up = state(4, "ended", started_at=at(6), ended_at=at(66), end_reason="local_hangup",
                        ended_by_user_id=10001, ended_by_terminal_id=CALLER_TERMINAL)  # fmt: skip
        machine.apply(hung_up, Source.PUSH, at(66))
        assert machine.allowed_actions() == NOTHING
        assert machine.headline() == "Alice hung up"
        assert machine.duration(at(100)) == timedelta(seconds=60)

    def test_reject(self) -> None:
        machine = ringing()
        machine.record_ended_by_me()
        assert machine.apply(ended(2, "rejected", "user_reject"), Source.RESPONSE, at(2)) is Outcome.APPLIED
        assert machine.allowed_actions() == NOTHING
        assert machine.end_description() == "You declined the call"

    def test_reject_on_a_sibling_terminal_named_by_the_server(self) -> None:
        machine = ringing(SIBLING_TERMINAL)
        rejected = state(2, "rejected", end_reason="user_reject", ended_by_user_id=20002, ended_by_terminal_id=CALLEE_TERMINAL)
        machine.apply(rejected, Source.PUSH, at(2))
        assert machine.end_description() == "Declined on your other terminal"

    def test_reject_by_a_terminal_nobody_named(self) -> None:
        """A documented server says the callee rejected, not where: no guess at "another terminal"."""
        machine = ringing(SIBLING_TERMINAL)
        machine.apply(state(2, "rejected", end_reason="user_reject"), Source.POLL, at(2))
        assert machine.end_description() == "Rejected · user_reject"

    def test_cancelled_by_the_caller(self) -> None:
        machine = ringing()
        machine.apply(state(2, "cancelled", end_reason="caller_cancel", ended_at=at(3)), Source.PUSH, at(3))
        assert machine.allowed_actions() == NOTHING
        assert machine.end_description() == "Alice cancelled the call"

    def test_ring_timeout(self) -> None:
        machine = ringing()
        machine.apply(state(2, "ended", end_reason="no_answer_timeout", ended_at=at(30)), Source.PUSH, at(30))
        assert machine.allowed_actions() == NOTHING
        assert machine.answered_elsewhere is False
        assert machine.end_description() == "Missed call from Alice"

    def test_busy_rejection_by_my_own_client(self) -> None:
        machine = ringing()
        machine.record_ended_by_me()
        machine.apply(ended(2, "rejected", "callee_busy"), Source.RESPONSE, at(1))
        assert machine.end_description() == "Declined: busy"


class TestRepeatedAccept:
    """Accepting again from the accepting terminal answers "accepted" with the current version."""

    def test_repeat_at_the_current_version_does_not_move_status_back(self) -> None:
        machine = answered_here()
        machine.apply(media(3, "ongoing", started_at=at(6)), Source.RESPONSE, at(6))
        assert machine.apply(accept(3), Source.RESPONSE, at(7)) is Outcome.DUPLICATE
        assert machine.status == "ongoing"
        assert machine.allowed_actions() == IN_CALL

    def test_repeat_ahead_of_us_does_not_move_status_back(self) -> None:
        """We hold v2 accepted; the retried accept says v3 "accepted" though v3 may be ongoing."""
        machine = answered_here()
        assert machine.apply(accept(3), Source.RESPONSE, at(7)) is Outcome.APPLIED
        assert machine.version == 3
        assert machine.status == "accepted"
        assert machine.allowed_actions() == IN_CALL

    def test_repeat_ahead_of_us_once_ongoing_keeps_ongoing(self) -> None:
        machine = answered_here()
        machine.apply(media(3, "ongoing", started_at=at(6)), Source.RESPONSE, at(6))
        machine.apply(accept(4), Source.RESPONSE, at(7))
        assert (machine.version, machine.status) == (4, "ongoing")

    def test_repeat_ahead_of_us_leaves_the_status_unknown_until_a_full_state(self) -> None:
        """The accept data cannot tell accepted from ongoing at a later version: ask, then believe the state."""
        machine = answered_here()
        machine.apply(accept(3), Source.RESPONSE, at(7))
        assert machine.needs_resync is True
        assert "resync" in machine.timeline[-1].detail
        assert machine.apply(state(3, "ongoing", started_at=at(6)), Source.RESYNC, at(8)) is Outcome.DUPLICATE
        assert machine.status == "ongoing"
        assert machine.facts.started_at == at(6)
        assert machine.needs_resync is False

    def test_stale_accept_after_the_end_changes_nothing(self) -> None:
        machine = answered_here()
        machine.apply(ended(3, "ended", "local_hangup"), Source.PUSH, at(9))
        assert machine.apply(accept(2), Source.RESPONSE, at(10)) is Outcome.STALE
        assert machine.status == "ended"
        assert machine.allowed_actions() == NOTHING


# ---------------------------------------------------------------------------------- answered elsewhere


class TestAnsweredElsewhere:
    def test_simulator_names_the_accepting_terminal(self) -> None:
        machine = ringing(SIBLING_TERMINAL)
        machine.apply(state(2, "accepted", accepted_terminal_id=CALLEE_TERMINAL), Source.PUSH, at(3))
        assert machine.answered_elsewhere is True
        assert machine.mine_in_progress is False
        assert machine.allowed_actions() == NOTHING
        assert machine.headline() == "Answered on another terminal"

    def test_our_own_terminal_named_is_not_elsewhere(self) -> None:
        """After a restart we lost accepted_here, but the state says this terminal accepted."""
        machine = callee()
        machine.apply(state(3, "ongoing", accepted_terminal_id=CALLEE_TERMINAL), Source.RESYNC, at(3))
        assert machine.answered_elsewhere is False
        assert machine.allowed_actions() == IN_CALL

    @pytest.mark.parametrize("status", ["accepted", "ongoing"])
    def test_real_server_without_terminal_id(self, status: str) -> None:
        machine = ringing(SIBLING_TERMINAL)
        machine.apply(state(2, status, accepted_at=at(3)), Source.POLL, at(3))
        assert machine.answered_elsewhere is True
        assert machine.allowed_actions() == NOTHING

    def test_real_server_ended_after_being_answered_elsewhere(self) -> None:
        machine = ringing(SIBLING_TERMINAL)
        machine.apply(state(2, "accepted", accepted_at=at(3)), Source.POLL, at(3))
        machine.apply(state(4, "ended", accepted_at=at(3), end_reason="local_hangup"), Source.POLL, at(9))
        assert machine.answered_elsewhere is True
        assert machine.end_description() == "Answered, not here"  # which terminal did is not known
        assert machine.headline() == "Answered, not here"

    def test_ended_without_being_answered_is_not_elsewhere(self) -> None:
        machine = ringing(SIBLING_TERMINAL)
        machine.apply(state(2, "ended", end_reason="no_answer_timeout"), Source.PUSH, at(30))
        assert machine.answered_elsewhere is False

    def test_ringing_is_not_elsewhere(self) -> None:
        assert ringing(SIBLING_TERMINAL).answered_elsewhere is False


# ---------------------------------------------------------------------------------- opened by id, restarts


class TestOpenedById:
    """A server with only the documented API tells no terminal of its calls: the user opens one by id."""

    def test_the_caller_opening_a_ringing_call_may_cancel_it(self) -> None:
        machine = caller()
        machine.record_opened()
        machine.apply(state(1, "calling"), Source.RESYNC, at(0))
        assert machine.is_my_end and machine.allowed_actions() == OUTGOING

    def test_the_callee_opening_a_ringing_call_may_answer_it(self) -> None:
        machine = callee()
        machine.record_opened()
        machine.apply(state(1, "calling"), Source.RESYNC, at(0))
        assert machine.allowed_actions() == RING

    def test_the_callee_opening_an_answered_call_no_terminal_named_may_hang_up(self) -> None:
        machine = callee()
        machine.record_opened()
        machine.apply(state(3, "ongoing"), Source.RESYNC, at(0))
        assert machine.answered_elsewhere is False
        assert machine.allowed_actions() == IN_CALL

    def test_a_terminal_the_server_names_still_wins(self) -> None:
        machine = callee()
        machine.record_opened()
        machine.apply(state(3, "ongoing", accepted_terminal_id=SIBLING_TERMINAL), Source.RESYNC, at(0))
        assert machine.answered_elsewhere is True
        assert machine.allowed_actions() == NOTHING

    def test_without_opening_a_sibling_caller_terminal_offers_nothing(self) -> None:
        machine = caller()
        machine.apply(state(1, "calling"), Source.RESYNC, at(0))
        assert machine.allowed_actions() == NOTHING


def test_the_server_naming_this_terminal_as_the_caller_makes_the_call_placed_here() -> None:
    """After a restart with the same ``--terminal-id``, the ringing call is still this terminal's to cancel."""
    machine = caller()
    machine.apply(state(1, "calling", caller_terminal_id=CALLER_TERMINAL), Source.RESYNC, at(0))
    assert machine.placed_here is True
    assert machine.allowed_actions() == OUTGOING
    other = caller()
    other.apply(state(1, "calling", caller_terminal_id=ALICE_ELSEWHERE), Source.RESYNC, at(0))
    assert other.allowed_actions() == NOTHING


# ---------------------------------------------------------------------------------- allowed actions table


@pytest.mark.parametrize(
    ("role", "here", "status", "accepted_terminal_id", "expected"),
    [
        (Role.CALLEE, False, "calling", None, RING),
        (Role.CALLEE, True, "accepted", None, IN_CALL),
        (Role.CALLEE, True, "ongoing", None, IN_CALL),
        (Role.CALLEE, False, "accepted", SIBLING_TERMINAL, NOTHING),
        (Role.CALLEE, False, "ongoing", CALLEE_TERMINAL, IN_CALL),
        (Role.CALLEE, False, "ongoing", None, NOTHING),
        (Role.CALLER, True, "calling", None, OUTGOING),
        (Role.CALLER, False, "calling", None, NOTHING),
        (Role.CALLER, True, "accepted", CALLEE_TERMINAL, IN_CALL),
        (Role.CALLER, True, "ongoing", None, IN_CALL),
        (Role.CALLER, False, "ongoing", None, NOTHING),
        *[(role, True, over, None, NOTHING) for role in Role for over in ("rejected", "cancelled", "ended")],
        *[(role, True, "transferred", None, NOTHING) for role in Role],
    ],
)
def test_allowed_actions(
    role: Role, here: bool, status: str, accepted_terminal_id: str | None, expected: frozenset[Action]
) -> None:
    """What each terminal may do, for every status and role; "here" is placed or accepted here."""
    machine = caller() if role is Role.CALLER else callee()
    if here:
        machine.apply(start() if role is Role.CALLER else accept(), Source.RESPONSE, at(0))
    machine.apply(state(7, status, accepted_terminal_id=accepted_terminal_id), Source.PUSH, at(1))
    assert machine.allowed_actions() == expected


def test_unknown_status_is_shown_as_it_is_and_offers_nothing() -> None:
    machine = placed()
    machine.apply(state(2, "transferred"), Source.PUSH, at(3))
    assert machine.allowed_actions() == NOTHING
    assert not (machine.is_over or machine.is_ringing or machine.is_in_progress)
    assert machine.headline() == "Status: transferred"


# ---------------------------------------------------------------------------------- end descriptions


@pytest.mark.parametrize(
    ("role", "status", "reason", "by_me", "expected"),
    [
        (Role.CALLER, "ended", "no_answer_timeout", False, "Bob did not answer"),
        (Role.CALLEE, "ended", "no_answer_timeout", False, "Missed call from Alice"),
        (Role.CALLER, "rejected", "callee_busy", False, "Bob is busy"),
        (Role.CALLEE, "rejected", "callee_busy", True, "Declined: busy"),
        (Role.CALLER, "rejected", "user_reject", False, "Bob declined the call"),
        (Role.CALLEE, "rejected", "user_reject", True, "You declined the call"),
        (Role.CALLEE, "rejected", "user_reject", False, "Rejected · user_reject"),
        (Role.CALLEE, "cancelled", "caller_cancel", False, "Alice cancelled the call"),
        (Role.CALLER, "cancelled", "caller_cancel", True, "You cancelled the call"),
        (Role.CALLER, "cancelled", "caller_cancel", False, "Cancelled · caller_cancel"),
        (Role.CALLER, "ended", "local_hangup", True, "You hung up"),
        (Role.CALLER, "ended", "local_hangup", False, "Ended · local_hangup"),
        (Role.CALLEE, "ended", "local_hangup", True, "You hung up"),
        (Role.CALLEE, "ended", "local_hangup", False, "Ended · local_hangup"),
        (Role.CALLER, "ended", "network_lost", False, "Ended · network_lost"),
        (Role.CALLER, "ended", "network_lost", True, "You hung up (network_lost)"),
        (Role.CALLEE, "ended", None, False, "Ended"),
        (Role.CALLER, "rejected", None, False, "Bob declined the call"),
    ],
)
def test_end_description_from_a_documented_server(
    role: Role, status: str, reason: str | None, by_me: bool, expected: str
) -> None:
    """Without the ext fields: this terminal's own action, the rules (only the callee rejects, only the
    caller cancels) and the end reason say who; where they do not, the server's words as they are."""
    machine = caller() if role is Role.CALLER else callee()
    if by_me:
        machine.record_ended_by_me()
    machine.apply(state(3, status, end_reason=reason), Source.PUSH, at(9))
    assert machine.end_description() == expected
    assert machine.headline() == expected


ALICE_ELSEWHERE = "alice-phone"


@pytest.mark.parametrize(
    ("role", "status", "reason", "ended_by", "expected"),
    [
        (Role.CALLER, "ended", "local_hangup", (10001, CALLER_TERMINAL), "You hung up"),
        (Role.CALLER, "ended", "local_hangup", (10001, ALICE_ELSEWHERE), "Hung up on your other terminal"),
        (Role.CALLER, "ended", "local_hangup", (20002, CALLEE_TERMINAL), "Bob hung up"),
        (Role.CALLEE, "ended", "local_hangup", (20002, SIBLING_TERMINAL), "Hung up on your other terminal"),
        (Role.CALLEE, "ended", "local_hangup", (10001, CALLER_TERMINAL), "Alice hung up"),
        (Role.CALLER, "cancelled", "caller_cancel", (10001, CALLER_TERMINAL), "You cancelled the call"),
        (Role.CALLER, "cancelled", "caller_cancel", (10001, ALICE_ELSEWHERE), "Cancelled on your other terminal"),
        (Role.CALLEE, "rejected", "user_reject", (20002, CALLEE_TERMINAL), "You declined the call"),
        (Role.CALLEE, "rejected", "user_reject", (20002, SIBLING_TERMINAL), "Declined on your other terminal"),
        (Role.CALLER, "rejected", "user_reject", (20002, CALLEE_TERMINAL), "Bob declined the call"),
        (Role.CALLER, "ended", "no_answer_timeout", (None, None), "Bob did not answer"),
        (Role.CALLER, "ended", "abandoned", (None, None), "Ended · abandoned"),
        (Role.CALLER, "ended", "local_hangup", (10001, None), "Ended · local_hangup"),
    ],
)
def test_end_description_from_who_the_server_says_ended_it(
    role: Role, status: str, reason: str, ended_by: tuple[int | None, str | None], expected: str
) -> None:
    """After a restart this terminal remembers nothing it did: the ext fields alone say who, truthfully."""
    machine = caller() if role is Role.CALLER else callee()
    user_id, terminal_id = ended_by
    over = state(3, status, end_reason=reason, ended_by_user_id=user_id, ended_by_terminal_id=terminal_id)
    machine.apply(over, Source.RESYNC, at(9))
    assert machine.end_description() == expected


def test_recent_calls_after_a_restart_never_blame_the_other_party() -> None:
    """The issue's case: alice hung up and cancelled in an earlier run (another terminal id)."""
    for status, reason, guessed in [("ended", "local_hangup", "Bob hung up"), ("cancelled", "caller_cancel", "Cancelled on another terminal")]:
        documented, with_ext = caller(), caller()
        documented.apply(state(3, status, end_reason=reason), Source.RESYNC, at(9))
        with_ext.apply(state(3, status, end_reason=reason, ended_by_user_id=10001, ended_by_terminal_id="tui-earlier"),
                       Source.RESYNC, at(9))  # fmt: skip
        assert guessed not in (documented.end_description(), with_ext.end_description())
        assert with_ext.end_description().endswith("on your other terminal")


def test_every_documented_end_reason_has_its_own_words() -> None:
    """No documented reason falls through to the neutral "Status · reason" form once the ender is known."""
    ends = {
        EndReason.NO_ANSWER_TIMEOUT: ("ended", None),
        EndReason.CALLEE_BUSY: ("rejected", 20002),
        EndReason.USER_REJECT: ("rejected", 20002),
        EndReason.CALLER_CANCEL: ("cancelled", 10001),
        EndReason.LOCAL_HANGUP: ("ended", 20002),
    }
    assert set(ends) == set(EndReason)
    for reason, (status, ender) in ends.items():
        machine = caller() if ender != 10001 else callee()
        machine.apply(state(3, status, end_reason=reason.value, ended_by_user_id=ender), Source.PUSH, at(9))
        assert reason.value not in machine.end_description()


@pytest.mark.parametrize(("status", "role"), [("rejected", Role.CALLER), ("cancelled", Role.CALLEE)])
def test_unknown_reason_on_rejected_or_cancelled_is_still_shown(status: str, role: Role) -> None:
    """A reject or cancel may carry any reason up to 50 characters; an unfamiliar one must not vanish."""
    machine = caller() if role is Role.CALLER else callee()
    machine.apply(state(3, status, end_reason="do_not_disturb"), Source.PUSH, at(9))
    assert "do_not_disturb" in machine.end_description()


# ---------------------------------------------------------------------------------- time


class TestRingDeadline:
    def test_from_created_at_and_timeout(self) -> None:
        machine = callee()
        machine.apply(state(1, "calling", created_at=at(-10), timeout_seconds=30), Source.PUSH, at(0))
        assert machine.ring_deadline() == at(20)
        assert machine.ring_remaining(at(5)) == timedelta(seconds=15)

    def test_from_first_seen_when_the_server_gives_no_created_at(self) -> None:
        machine = caller()
        machine.apply(start(timeout_seconds=45), Source.RESPONSE, at(2))
        machine.apply(state(1, "calling"), Source.POLL, at(10))
        assert machine.ring_deadline() == at(47)
        assert machine.ring_remaining(at(10)) == timedelta(seconds=37)

    def test_created_at_learned_later_wins_over_first_seen(self) -> None:
        machine = placed()
        machine.apply(state(1, "calling", created_at=at(-1), timeout_seconds=30), Source.PUSH, at(1))
        assert machine.ring_deadline() == at(29)

    def test_unknown_without_timeout(self) -> None:
        """A real server's state object has no timeout_seconds: the callee cannot know the deadline."""
        machine = ringing()
        assert machine.ring_deadline() is None
        assert machine.ring_remaining(at(1)) is None

    def test_never_negative(self) -> None:
        machine = placed()
        assert machine.ring_remaining(at(30)) == timedelta(0)
        assert machine.ring_remaining(at(3600)) == timedelta(0)

    def test_none_once_not_ringing(self) -> None:
        machine = placed()
        machine.apply(state(2, "accepted", created_at=at(0), timeout_seconds=30), Source.PUSH, at(3))
        assert machine.ring_deadline() == at(30)
        assert machine.ring_remaining(at(4)) is None


class TestDuration:
    def test_none_before_the_call_starts(self) -> None:
        machine = answered_here()
        assert machine.duration(at(10)) is None

    def test_runs_with_now_while_ongoing(self) -> None:
        machine = answered_here()
        machine.apply(media(3, "ongoing", started_at=at(6)), Source.RESPONSE, at(6))
        assert machine.duration(at(16)) == timedelta(seconds=10)
        assert machine.duration(at(76)) == timedelta(seconds=70)

    def test_from_started_at_to_ended_at_once_over(self) -> None:
        machine = answered_here()
        machine.apply(
            state(4, "ended", started_at=at(6), ended_at=at(96), end_reason="local_hangup"), Source.PUSH, at(96)
        )
        assert machine.duration(at(500)) == timedelta(seconds=90)

    def test_stops_when_the_end_is_learned_without_ended_at(self) -> None:
        """A hangup answer has no ended_at, and an over call is no longer polled: the clock must stop."""
        machine = answered_here()
        machine.apply(media(3, "ongoing", started_at=at(6)), Source.RESPONSE, at(6))
        machine.record_ended_by_me()
        machine.apply(ended(4, "ended", "local_hangup"), Source.RESPONSE, at(36))
        assert machine.duration(at(36)) == timedelta(seconds=30)
        assert machine.duration(at(3600)) == timedelta(seconds=30)

    def test_never_negative_under_clock_skew(self) -> None:
        machine = answered_here()
        machine.apply(media(3, "ongoing", started_at=at(60)), Source.RESPONSE, at(6))
        assert machine.duration(at(30)) == timedelta(0)


# ---------------------------------------------------------------------------------- timeline


class TestTimeline:
    def test_entries_carry_time_source_version_status(self) -> None:
        machine = caller()
        machine.apply(start(), Source.RESPONSE, at(0))
        machine.apply(state(2, "accepted"), Source.PUSH, at(3))
        machine.apply(state(2, "accepted"), Source.POLL, at(4))
        machine.apply(state(4, "ended", end_reason="local_hangup"), Source.RESYNC, at(9))
        machine.apply(state(3, "ongoing"), Source.PUSH, at(10))
        got = [(e.at, e.source, e.version, e.status, e.marker) for e in machine.timeline]
        assert got == [
            (at(0), Source.RESPONSE, 1, "calling", None),
            (at(3), Source.PUSH, 2, "accepted", None),
            (at(4), Source.POLL, 2, "accepted", Marker.DUPLICATE),
            (at(9), Source.RESYNC, 4, "ended", Marker.GAP),
            (at(10), Source.PUSH, 3, "ongoing", Marker.STALE),
        ]

    def test_local_action_precedes_its_effect(self) -> None:
        machine = ringing()
        machine.record_action(Action.ACCEPT, at(2))
        machine.apply(accept(), Source.RESPONSE, at(3))
        machine.record_action(Action.REPORT_MEDIA, at(4), "joined, good")
        local = machine.timeline[1]
        assert (local.source, local.detail, local.version, local.marker) == (Source.LOCAL, "accept", None, None)
        assert machine.timeline[2].source is Source.RESPONSE
        assert machine.timeline[3].detail == "media-state joined, good"

    def test_error_keeps_the_servers_code_and_message(self) -> None:
        machine = ringing(SIBLING_TERMINAL)
        machine.record_error(Action.ACCEPT, 41006, "已被其他终端接听", at(4))
        entry = machine.timeline[-1]
        assert entry.marker is Marker.ERROR
        assert entry.error_code == 41006
        assert entry.detail == "accept: 已被其他终端接听"
        assert (entry.version, entry.status) == (1, "calling")
        text = entry.as_text()
        assert "[error]" in text and "41006" in text and "已被其他终端接听" in text

    def test_transport_error_has_no_code_and_no_version_on_an_empty_machine(self) -> None:
        machine = callee()
        machine.record_error(Action.HANGUP, None, "connection refused", at(1))
        entry = machine.timeline[-1]
        assert (entry.error_code, entry.version, entry.status) == (None, None, None)
        assert entry.as_text() == "10:05:01 -- response [error] hangup: connection refused"

    def test_as_text_of_markers(self) -> None:
        machine = ringing()
        machine.apply(state(3, "ongoing"), Source.PUSH, T0 + timedelta(seconds=7))
        assert machine.timeline[-1].as_text() == "10:05:07 v3 ongoing push [gap] missed v2..v2"


def test_record_media_keeps_the_last_known_quality() -> None:
    machine = answered_here()
    machine.record_media("joined", "good")
    machine.record_media("reconnecting", None)
    assert (machine.media_stage, machine.network_quality) == ("reconnecting", "good")


def test_status_values_compare_with_the_wire_enum() -> None:
    """Statuses are plain strings from the wire; the derived flags must still match the enum."""
    machine = ringing()
    assert machine.status == CallStatus.CALLING
    assert machine.is_ringing
