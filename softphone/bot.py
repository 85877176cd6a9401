"""A headless peer for demos and tests: answers calls after a while and joins the channel.

It stands on the same client and core as the TUI, so it behaves like any other terminal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

from softphone.api import (
    CallClient,
    CallType,
    MediaStage,
    NetworkQuality,
    PushStream,
    SoftphoneError,
    StatesReceived,
)
from softphone.core import CallMachine, Phone, Role, Source

log = logging.getLogger(__name__)


class AutoAnswerPeer:
    """Signs in as ``user`` and answers every call that rings it, ``answer_after`` seconds later."""

    def __init__(self, base_url: str, user: str, *, answer_after: float, terminal_id: str = "demo-peer") -> None:
        self.client = CallClient(base_url, terminal_id=terminal_id)
        self.user = user
        self.answer_after = answer_after
        self._answering: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.phone: Phone | None = None

    async def run(self, *, call: str | None = None, call_after: float = 3.0) -> None:
        """Answer calls until cancelled; with ``call``, also ring that user once after ``call_after``."""
        login = await self.client.login(self.user)
        self.phone = Phone(my_user_id=login.user_id, my_terminal_id=self.client.terminal_id)
        if call is not None:
            self._spawn(self._call_later(call, call_after))
        try:
            async with PushStream(self.client) as stream:
                async for event in stream.events():
                    if isinstance(event, StatesReceived):
                        for state in event.states:
                            routed = self.phone.apply(state, Source.PUSH, datetime.now(UTC))
                            if routed is not None:
                                self._consider(routed[0])
        finally:
            for task in self._tasks:
                task.cancel()
            await self.client.aclose()

    def _consider(self, machine: CallMachine) -> None:
        if machine.role is Role.CALLEE and machine.is_ringing and machine.call_id not in self._answering:
            self._answering.add(machine.call_id)
            self._spawn(self._answer(machine))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, machine: CallMachine) -> None:
        await asyncio.sleep(self.answer_after)
        if not machine.is_ringing:
            return
        try:
            await self.client.accept(machine.call_id)
            await self.client.report_media(machine.call_id, MediaStage.JOINING.value)
            await self.client.report_media(machine.call_id, MediaStage.JOINED.value, NetworkQuality.GOOD.value)
        except SoftphoneError as error:
            log.info("could not answer call %s: %s", machine.call_id, error)

    async def _call_later(self, user: str, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            directory = await self.client.directory()
            target = next(u for u in directory.users if user in (u.name, str(u.user_id)))
            if target.conversation_id is None:
                return
            await self.client.start_call(target.conversation_id, target.user_id, CallType.AUDIO.value)
        except (SoftphoneError, StopIteration) as error:
            log.info("could not call %s: %s", user, error)
