"""The headless peer on the call controller, against a real simulator process, and its media scripts."""

from __future__ import annotations

import asyncio
import contextlib
import re

import pytest
from support.server import ServerProcess, wait_for

from softphone.api import CallClient
from softphone.bot import BotPolicy, MediaStep, OnRing, parse_media_script, run_bot


async def test_the_bot_answers_a_call_and_joins_the_channel(live_server: ServerProcess) -> None:
    running = asyncio.create_task(run_bot(live_server.base_url, "bob", BotPolicy(), terminal_id="bob-bot"))
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


async def test_the_bot_stops_by_itself_after_its_calls(live_server: ServerProcess) -> None:
    """``calls=1``: one call rejected, and ``run_bot`` returns (no cancel needed)."""
    policy = BotPolicy(calls=1, on_ring=OnRing.REJECT)
    running = asyncio.create_task(run_bot(live_server.base_url, "carol", policy, terminal_id="carol-bot"))
    async with CallClient(live_server.base_url, terminal_id="dave-headless") as dave:
        await dave.login("dave")
        carol = next(u for u in (await dave.directory()).users if u.name == "carol")
        assert carol.conversation_id is not None
        call_id = (await dave.start_call(carol.conversation_id, carol.user_id, "audio")).call_id
        assert await asyncio.wait_for(running, timeout=10) == 1
        state = await dave.call_state(call_id)
    assert (state.status, state.end_reason) == ("rejected", "user_reject")


def test_a_media_script_reads_stages_qualities_and_times() -> None:
    assert parse_media_script("joined:good@0,:poor@5,reconnecting@8,joined:good@10") == (
        MediaStep(0, "joined", "good"),
        MediaStep(5, "joined", "poor"),
        MediaStep(8, "reconnecting", None),
        MediaStep(10, "joined", "good"),
    )
    assert parse_media_script("joining@0.5") == (MediaStep(0.5, "joining", None),)


@pytest.mark.parametrize(
    ("script", "says"),
    [
        ("joined", "expected STAGE[:QUALITY]@SECONDS"),
        ("joined@soon", "expected STAGE[:QUALITY]@SECONDS"),
        ("joined@-1", "expected STAGE[:QUALITY]@SECONDS"),
        (":good@0", "the first item names a stage"),
        ("joined@0,poor@5", "poor is a network quality; write :poor@5"),
        ("joined:@0", "followed by a network quality"),
        ("joined@5,left@1", "time order"),
        ("x" * 33 + "@0", "at most 32 characters"),
        ("joined:" + "q" * 21 + "@0", "a quality 20"),
    ],
)
def test_a_bad_media_script_names_the_item(script: str, says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        parse_media_script(script)
