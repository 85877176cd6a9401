"""Snapshot tests of each screen at 60×20, 80×24 and 120×36 (plain ``def`` tests, as pytest-textual-snapshot wants)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.pilot import Pilot

from softphone.tui.app import SoftphoneApp

from . import scenarios
from .harness import FakeClock, ThreadedSimulator

CASES = [
    pytest.param(make, size, id=f"{make.__name__}-{size[0]}x{size[1]}")
    for make in scenarios.ALL
    for size in scenarios.sizes_of(make)
]


@pytest.mark.parametrize(("make", "size"), CASES)
def test_screen(
    make: scenarios.ScenarioFactory,
    size: scenarios.Size,
    simulator: ThreadedSimulator,
    clock: FakeClock,
    snap_compare: Callable[..., bool],
) -> None:
    scenario = make(simulator.url, clock)

    async def run_before(pilot: Pilot[None]) -> None:
        await scenario.run_before(pilot)
        if not scenario.deterministic_sidebar:
            assert isinstance(scenario.app, SoftphoneApp)
            scenario.app.sidebar_choice = False
        await pilot.pause()

    assert snap_compare(scenario.app, run_before=run_before, terminal_size=size)
