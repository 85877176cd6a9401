"""The ringing screens' lines: a countdown only while the server can act on it, and never below zero."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from support.wire import state

from softphone.core import CallMachine, Role, Source
from softphone.tui.screens.incoming import answer_line
from softphone.tui.screens.outgoing import ring_line

RANG_AT = datetime(2026, 7, 5, 10, 5, 0, tzinfo=UTC)


def ringing(role: Role) -> CallMachine:
    machine = CallMachine(5001, my_user_id=20002 if role is Role.CALLEE else 10001, my_terminal_id="t",
                          role=role, peer_user_id=10001 if role is Role.CALLEE else 20002)  # fmt: skip
    machine.apply(state(1, "calling", created_at="2026-07-05T10:05:00Z", timeout_seconds=30), Source.PUSH, RANG_AT)
    return machine


def test_the_callee_counts_down_then_waits_for_the_server_and_says_when_it_cannot_answer() -> None:
    machine = ringing(Role.CALLEE)
    assert answer_line(machine, RANG_AT + timedelta(seconds=4)) == "26s to answer"
    assert answer_line(machine, RANG_AT + timedelta(seconds=45)) == "ring time is up: waiting for the server"
    assert answer_line(machine, RANG_AT, reachable=False) == "server unreachable: cannot answer right now"


def test_the_caller_counts_down_then_waits_for_the_server_and_says_when_it_cannot_cancel() -> None:
    machine = ringing(Role.CALLER)
    assert ring_line(machine, RANG_AT + timedelta(seconds=7)) == "audio call · rings for 23s more"
    assert ring_line(machine, RANG_AT + timedelta(seconds=31)) == (
        "audio call · no answer yet: waiting for the server to end it"
    )
    assert ring_line(machine, RANG_AT, reachable=False) == "audio call · server unreachable: cannot cancel right now"
