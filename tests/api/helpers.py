"""Helpers for the adapter's tests: wire payloads shaped like the documented ones, and an event log."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from softphone.api import (
    Backoff,
    ConnectionChanged,
    PushStream,
    SoftphoneError,
    StatesReceived,
    StreamError,
    StreamEvent,
)

NO_WAIT = Backoff(initial=0, maximum=0, factor=1, jitter=0)


def envelope(data: Any, code: int = 0, message: str = "success") -> dict[str, Any]:
    return {"code": code, "message": message, "data": data}


class Observed:
    """Something a test waits on: it calls ``changed()`` after every update; ``until`` re-checks."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def changed(self) -> None:
        self._changed.set()

    async def until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` holds; fail saying what was seen after ``timeout``."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"condition not met within {timeout}s; seen: {self!r}") from None


class EventLog(Observed):
    """Reads a stream's events in the background so a test can wait for a condition on them."""

    def __init__(self, stream: PushStream) -> None:
        super().__init__()
        self.events: list[StreamEvent] = []
        self._reader = asyncio.create_task(self._read(stream))

    def __repr__(self) -> str:
        return f"EventLog({self.events!r})"

    async def _read(self, stream: PushStream) -> None:
        async for event in stream.events():
            self.events.append(event)
            self.changed()

    def snapshots(self, source: str | None = None) -> list[tuple[int, int, str]]:
        """``(call_id, version, source)`` of every snapshot so far, optionally of one source."""
        return [
            (state.call_id, state.version, event.source)
            for event in self.events
            if isinstance(event, StatesReceived) and source in (None, event.source)
            for state in event.states
        ]

    def connection_states(self) -> list[str]:
        return [event.state for event in self.events if isinstance(event, ConnectionChanged)]

    def state_changes(self) -> list[str]:
        """The connection states in order, each run of one state (a wait announced again) as one."""
        states = self.connection_states()
        return [state for index, state in enumerate(states) if index == 0 or states[index - 1] != state]

    def errors(self) -> list[SoftphoneError]:
        return [event.error for event in self.events if isinstance(event, StreamError)]

    async def finish(self) -> None:
        """After the stream closed: wait for the reader, re-raising what stopped the stream."""
        async with asyncio.timeout(5):
            await self._reader
