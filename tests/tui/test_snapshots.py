"""Snapshot tests of each screen (plain ``def`` tests, as pytest-textual-snapshot wants)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from support.wire import state
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from softphone.api import AcceptData, Action, CallStatusData, MediaStateData
from softphone.core import CallMachine, Role, Source
from softphone.tui.widgets.timeline import TimelineSidebar

from . import scenarios
from .harness import FakeClock, ThreadedSimulator


@pytest.mark.parametrize("make", scenarios.ALL, ids=lambda make: make.__name__)
def test_screen(
    make: scenarios.ScenarioFactory,
    simulator: ThreadedSimulator,
    clock: FakeClock,
    snap_compare: Callable[..., bool],
) -> None:
    scenario = make(simulator.url, clock)

    async def run_before(pilot: Pilot[None]) -> None:
        await scenario.run_before(pilot)
        if not scenario.deterministic_sidebar:
            await pilot.press("ctrl+b")
        await pilot.pause()

    assert snap_compare(scenario.app, run_before=run_before, terminal_size=scenario.size)


def _at(second: int) -> datetime:
    return datetime(2026, 7, 5, 10, 5, second, tzinfo=UTC)


class TimelineApp(App[None]):
    """One sidebar showing a callee's timeline with every kind of marker."""

    def compose(self) -> ComposeResult:
        yield TimelineSidebar()

    def on_mount(self) -> None:
        machine = CallMachine(5001, my_user_id=20002, my_terminal_id="bob-1", role=Role.CALLEE, peer_user_id=10001, peer_name="Alice")
        machine.apply(state(1, "calling"), Source.PUSH, _at(0))
        machine.record_action(Action.ACCEPT, _at(3))
        accept = AcceptData(call_id=5001, status="accepted", channel_name="call_5001_1001", app_id="app",
                            callee_uid="20002", rtc_token="t", version=2)
        machine.apply(accept, Source.RESPONSE, _at(3))
        machine.apply(state(2, "accepted"), Source.PUSH, _at(3))
        machine.apply(state(1, "calling"), Source.POLL, _at(4))
        machine.apply(MediaStateData(call_id=5001, status="ongoing", version=5), Source.PUSH, _at(5))
        machine.apply(state(5, "ongoing"), Source.RESYNC, _at(6))
        machine.record_error(Action.REJECT, 41002, "通话状态不允许此操作", _at(7))
        machine.apply(CallStatusData(call_id=5001, status="ended", end_reason="local_hangup", version=6),
                      Source.PUSH, _at(9))
        self.query_one(TimelineSidebar).show(machine)


def test_timeline_markers(snap_compare: Callable[..., bool]) -> None:
    assert snap_compare(TimelineApp(), terminal_size=(40, 24))
