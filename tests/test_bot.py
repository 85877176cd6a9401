"""The demo's headless Bob, on the call controller, against a real simulator process."""

from __future__ import annotations

import asyncio
import contextlib

from support.server import ServerProcess, wait_for

from softphone.api import CallClient
from softphone.bot import AutoAnswerPeer


async def test_the_bot_answers_a_call_and_joins_the_channel(live_server: ServerProcess) -> None:
    bot = AutoAnswerPeer(live_server.base_url, "bob", answer_after=0, terminal_id="bob-bot")
    running = asyncio.create_task(bot.run())
    try:
        async with CallClient(live_server.base_url, terminal_id="alice-headless") as alice:
            await alice.login("alice")
            bob = next(u for u in (await alice.directory()).users if u.name == "bob")
            assert bob.conversation_id is not None
            call_id = (await alice.start_call(bob.conversation_id, bob.user_id, "audio")).call_id

            async def answered() -> bool:
                state = await alice.call_state(call_id)
                return state.status == "ongoing" and state.accepted_terminal_id == "bob-bot"

            await wait_for(answered, timeout=10)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
