"""Fixtures for the adapter's tests: a client whose HTTP is a function, and watched push streams."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from softphone.api import CallClient, PushStream

from .helpers import NO_WAIT, EventLog

MOCK_BASE_URL = "http://sim.test"

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def mock_client() -> Callable[..., CallClient]:
    """``mock_client(handler, **options)``: a CallClient whose every request ``handler`` answers."""

    def make(handler: Handler, *, base_url: str = MOCK_BASE_URL, **options: Any) -> CallClient:
        options.setdefault("retry_backoff", NO_WAIT)
        return CallClient(
            base_url,
            terminal_id="term-a",
            token="tok-a",
            transport=httpx.MockTransport(handler),
            **options,
        )

    return make


@pytest.fixture
async def watch() -> AsyncIterator[Callable[[PushStream], EventLog]]:
    """``watch(stream)``: start ``stream`` and an ``EventLog`` on it; both stop after the test."""
    streams: list[PushStream] = []

    def start(stream: PushStream) -> EventLog:
        streams.append(stream)
        stream.start()
        return EventLog(stream)

    yield start
    for stream in streams:
        await stream.close()
