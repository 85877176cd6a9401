"""One party's view of its calls: the push stream (or polling) feeding the newest state of each.

A ``wait`` step asks :meth:`Watcher.until` for a status; it looks once at the state right away and
then waits for the stream to bring it, so nothing is missed between a change and the wait, and
nothing sleeps for a fixed time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from softphone.api import (
    Backoff,
    CallClient,
    CallState,
    ConnectionChanged,
    ConnectionState,
    PushStream,
    StatesReceived,
)
from softphone.core import Source
from softphone.scenario.target import Unreachable

POLL_INTERVAL = 0.2
"""How often a party polls where the server has no push channel: a test tool may ask often."""
STREAM_BACKOFF = Backoff(initial=0.1, maximum=1.0)
READY_SECONDS = 10.0
STREAM_SOURCES = {
    "push": Source.PUSH,
    "hello": Source.PUSH,
    "poll": Source.POLL,
    "resync": Source.RESYNC,
    "check": Source.RESYNC,
}
"""How a state came: a hello is the push channel's too (a callee that connects while rung learns it so);
a check, like a resync, is a state fetched, not pushed."""
PREFERRED_SOURCES = (Source.PUSH, Source.POLL, Source.RESYNC)



class Watcher:
    """One party's view of its calls from the push stream (or polling): the newest state of each."""

    def __init__(self, client: CallClient, *, poll: bool) -> None:
        self.client = client
        self.stream = PushStream(
            client, mode="poll" if poll else "auto", poll_interval=POLL_INTERVAL, backoff=STREAM_BACKOFF
        )
        self.newest: dict[int, CallState] = {}
        self.sources: dict[tuple[int, int], set[Source]] = {}
        self.pushed: dict[int, list[int]] = {}
        """Versions of each call in the order pushes brought them."""
        self.connection: ConnectionState = "connecting"
        self._ready = asyncio.Event()
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Follow the stream, and return once it is connected or polling (so pushes are not missed)."""
        self._task = asyncio.create_task(self._follow(), name=f"scenario-watch-{self.client.terminal_id}")
        try:
            async with asyncio.timeout(READY_SECONDS):
                await self._ready.wait()
        except TimeoutError:
            raise Unreachable(f"the push stream of {self.client.terminal_id} did not connect within {READY_SECONDS:.0f}s")

    async def _follow(self) -> None:
        async for event in self.stream.events():
            if isinstance(event, ConnectionChanged):
                self.connection = event.state
                if event.state in ("connected", "polling"):
                    self._ready.set()
            elif isinstance(event, StatesReceived):
                for state in event.states:
                    await self.take(state, STREAM_SOURCES[event.source])

    async def take(self, state: CallState, source: Source) -> None:
        known = self.newest.get(state.call_id)
        if known is None or state.version >= known.version:
            self.newest[state.call_id] = state
        self.sources.setdefault((state.call_id, state.version), set()).add(source)
        if source is Source.PUSH:
            self.pushed.setdefault(state.call_id, []).append(state.version)
        async with self._changed:
            self._changed.notify_all()

    async def until(self, call_id: int, statuses: Sequence[str], timeout: float, *, pushed: bool) -> tuple[CallState, Source]:
        """The call's state once its newest known status is one of ``statuses`` (seen on the push channel
        if ``pushed``). Looks once right away; ``TimeoutError`` carries the last state seen."""
        self.stream.track(call_id)
        await self.take(await self.client.call_state(call_id), Source.POLL)

        def reached() -> bool:
            state = self.newest.get(call_id)
            if state is None or state.status not in statuses:
                return False
            return not pushed or Source.PUSH in self.sources[(call_id, state.version)]

        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(reached)
        except TimeoutError:
            state = self.newest.get(call_id)
            seen = f"{state.status} v{state.version}" if state else "nothing"
            how = " on the push channel" if pushed else ""
            raise TimeoutError(f"{' or '.join(statuses)}{how} not seen within {timeout:g}s (last seen: {seen})") from None
        state = self.newest[call_id]
        sources = self.sources[(call_id, state.version)]
        return state, next(source for source in PREFERRED_SOURCES if source in sources)

    async def close(self) -> None:
        await self.stream.close()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        await self.client.aclose()
