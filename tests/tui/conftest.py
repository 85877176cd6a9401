"""Fixtures for the TUI tests: a shared fake clock and a live simulator that uses it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .harness import FakeClock, ThreadedSimulator


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def simulator(clock: FakeClock) -> Iterator[ThreadedSimulator]:
    sim = ThreadedSimulator(clock)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def quick_ring_simulator(clock: FakeClock) -> Iterator[ThreadedSimulator]:
    """Rings for one second, for ring-timeout scenarios."""
    sim = ThreadedSimulator(clock, ring_timeout=1)
    sim.start()
    yield sim
    sim.stop()
