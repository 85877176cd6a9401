"""A headless peer for demos and tests: answers calls after a while and joins the channel.

It stands on the same call controller as the TUI (:class:`~softphone.session.Session`), so it behaves
like any other terminal: it joins the channel it answers or places, and turns away a second call
with ``callee_busy`` while it is in one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from softphone.api import CallClient, CallType, PushStream
from softphone.core import Role
from softphone.session import CallsChanged, RequestFailed, Session

log = logging.getLogger(__name__)


class AutoAnswerPeer:
    """Signs in as ``user`` and answers every call that rings it, ``answer_after`` seconds later."""

    def __init__(self, base_url: str, user: str, *, answer_after: float, terminal_id: str = "demo-peer") -> None:
        self.client = CallClient(base_url, terminal_id=terminal_id)
        self.user = user
        self.answer_after = answer_after
        self._answering: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, *, call: str | None = None, call_after: float = 3.0) -> None:
        """Answer calls until cancelled; with ``call``, also ring that user once after ``call_after``."""
        try:
            session = await Session.sign_in(self.client, user=self.user)
            if call is not None:
                self._spawn(self._call_later(session, call, call_after))
            async for event in session.events(PushStream(self.client)):
                if isinstance(event, CallsChanged):
                    for call_id in event.call_ids:
                        self._consider(session, call_id)
                elif isinstance(event, RequestFailed):
                    log.info("%s", event.text)
        finally:
            for task in self._tasks:
                task.cancel()
            await self.client.aclose()

    def _consider(self, session: Session, call_id: int) -> None:
        machine = session.phone.get(call_id)
        if machine is None or call_id in self._answering:
            return
        if machine.role is Role.CALLEE and machine.is_ringing:
            self._answering.add(call_id)
            self._spawn(self._answer(session, call_id))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, session: Session, call_id: int) -> None:
        await asyncio.sleep(self.answer_after)
        machine = session.phone.get(call_id)
        if machine is not None and machine.is_ringing:
            await session.accept(call_id)

    async def _call_later(self, session: Session, user: str, delay: float) -> None:
        await asyncio.sleep(delay)
        await session.dial(user, CallType.AUDIO)
