"""The timeline a tester reads: what changed at each version, in words, and one row per version."""

from __future__ import annotations

from typing import Any

from softphone.api import Action, CallMedia, PartyMedia
from softphone.core import CallFacts, CallMachine, Role, RowKind, Source, changes_between, timeline_rows

from .snapshots import CALL_ID, CALLEE_TERMINAL, accept, at, ended, start, state


def facts(version: int, **fields: Any) -> CallFacts:
    return CallFacts(call_id=CALL_ID, version=version, **fields)


def both(caller: tuple[str, str | None] | None = None, callee: tuple[str, str | None] | None = None) -> CallMedia:
    def party(report: tuple[str, str | None] | None) -> PartyMedia | None:
        return None if report is None else PartyMedia(stage=report[0], network_quality=report[1])

    return CallMedia(caller=party(caller), callee=party(callee))


def caller() -> CallMachine:
    return CallMachine(CALL_ID, my_user_id=10001, my_terminal_id="alice-laptop", role=Role.CALLER, peer_user_id=20002, peer_name="Bob")


class TestChangesBetween:
    def test_first_sight_names_the_call_and_its_ring(self) -> None:
        first = facts(1, status="calling", call_type="video", timeout_seconds=30)
        assert changes_between(facts(0), first) == ("video call", "rings 30s")

    def test_answer_talk_and_media_of_each_party(self) -> None:
        before = facts(2, status="accepted", accepted_terminal_id=CALLEE_TERMINAL, media=both(("joined", "good")))
        after = facts(3, status="ongoing", accepted_terminal_id=CALLEE_TERMINAL, started_at=at(5),
                      media=both(("joined", "good"), ("joined", "good")))
        assert changes_between(before, after) == ("talk started", "callee joined (good)")

    def test_a_new_quality_alone_and_a_new_stage(self) -> None:
        before = facts(3, media=both(("joined", "good"), ("joined", "good")))
        after = facts(4, media=both(("joined", "poor"), ("reconnecting", "good")))
        assert changes_between(before, after) == ("caller quality poor", "callee reconnecting (good)")

    def test_who_answered_where_and_why_it_ended(self) -> None:
        assert changes_between(facts(1), facts(2, accepted_terminal_id="bob-phone")) == ("answered on bob-phone",)
        assert changes_between(facts(4), facts(5, status="ended", end_reason="local_hangup")) == ("local_hangup",)

    def test_nothing_but_the_version(self) -> None:
        assert changes_between(facts(4, status="ongoing"), facts(5, status="ongoing")) == ()


class TestRows:
    def test_a_version_delivered_twice_is_one_row_naming_both_sources(self) -> None:
        machine = caller()
        machine.apply(start(), Source.RESPONSE, at(0))
        machine.apply(state(1, "calling"), Source.PUSH, at(0))
        machine.apply(state(1, "calling"), Source.PUSH, at(1))
        (row,) = timeline_rows(machine.timeline)
        assert (row.kind, row.version, row.status) == (RowKind.CHANGE, 1, "calling")
        assert row.deliveries == ((Source.RESPONSE, 1), (Source.PUSH, 2))
        assert row.changes == ("audio call", "rings 30s")

    def test_a_duplicate_that_fills_in_a_partial_answer_adds_its_words_to_the_row(self) -> None:
        machine = CallMachine(CALL_ID, my_user_id=20002, my_terminal_id=CALLEE_TERMINAL, role=Role.CALLEE,
                              peer_user_id=10001, peer_name="Alice")
        machine.apply(state(1, "calling"), Source.PUSH, at(0))
        machine.apply(accept(2), Source.RESPONSE, at(3))
        full = state(2, "accepted", accepted_terminal_id=CALLEE_TERMINAL, media=both(("joined", "good")).model_dump())
        machine.apply(full, Source.PUSH, at(3))
        rows = timeline_rows(machine.timeline)
        assert [(row.version, row.status) for row in rows] == [(1, "calling"), (2, "accepted")]
        assert rows[1].deliveries == ((Source.RESPONSE, 1), (Source.PUSH, 1))
        assert rows[1].changes == ("answered on bob-desk", "caller joined (good)")

    def test_requests_errors_stale_and_gaps_keep_rows_of_their_own(self) -> None:
        machine = caller()
        machine.apply(start(), Source.RESPONSE, at(0))
        machine.apply(state(3, "ongoing"), Source.PUSH, at(4))  # v2 never arrived
        machine.apply(state(3, "ongoing"), Source.RESYNC, at(4))  # the resync the gap asked for
        machine.apply(state(2, "accepted"), Source.POLL, at(5))  # late, and older
        machine.record_action(Action.HANGUP, at(6))
        machine.record_error(Action.HANGUP, 41007, "通话已结束", at(6))
        machine.apply(ended(4, "ended", "local_hangup"), Source.PUSH, at(6))
        rows = timeline_rows(machine.timeline)
        assert [row.kind for row in rows] == [
            RowKind.CHANGE, RowKind.CHANGE, RowKind.STALE, RowKind.ACTION, RowKind.ERROR, RowKind.CHANGE,
        ]
        gap = rows[1]
        assert gap.note == "gap: missed v2..v2 → resync"
        assert gap.deliveries == ((Source.PUSH, 1), (Source.RESYNC, 1))
        assert (rows[2].version, rows[2].note) == (2, "v2 < v3, ignored")
        assert rows[3].note == "hangup"
        assert (rows[4].error_code, rows[4].note) == (41007, "hangup: 通话已结束")
        assert rows[5].changes == ("local_hangup",)

    def test_every_delivery_stays_in_the_raw_timeline(self) -> None:
        machine = caller()
        machine.apply(start(), Source.RESPONSE, at(0))
        machine.apply(state(1, "calling"), Source.PUSH, at(0))
        assert len(machine.timeline) == 2 and len(timeline_rows(machine.timeline)) == 1
