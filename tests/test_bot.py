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


async def test_a_media_script_counts_from_the_answer_not_from_the_ring(live_server: ServerProcess) -> None:
    """Bob answers after 2 s; ``:poor@1.5`` must come 1.5 s after the answer (counted from the ring it would
    come before it). Seen twice: when alice's polls first show each change, and in the server's whole seconds."""
    policy = BotPolicy(answer_after=2.0, media_script=parse_media_script("joined:good@0,:poor@1.5"))
    running = asyncio.create_task(run_bot(live_server.base_url, "bob", policy, terminal_id="bob-bot"))
    loop = asyncio.get_running_loop()
    try:
        async with CallClient(live_server.base_url, terminal_id="alice-headless") as alice:
            await alice.login("alice")
            bob = next(u for u in (await alice.directory()).users if u.name == "bob")
            assert bob.conversation_id is not None
            call_id = (await alice.start_call(bob.conversation_id, bob.user_id, "audio")).call_id
            rang = loop.time()
            first_seen: dict[str, float] = {}

            async def poor() -> bool:
                state = await alice.call_state(call_id)
                if state.accepted_at is not None:
                    first_seen.setdefault("accepted", loop.time())
                callee = state.media.callee if state.media else None
                if callee is not None and callee.network_quality == "poor":
                    first_seen.setdefault("poor", loop.time())
                return "poor" in first_seen

            await wait_for(poor, timeout=15, interval=0.02)
            final = await alice.call_state(call_id)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert first_seen["accepted"] - rang >= 1.8, "bob let it ring for 2 s"
    assert 1.2 <= first_seen["poor"] - first_seen["accepted"] <= 2.2
    assert final.status == "ongoing" and final.accepted_at is not None and final.started_at is not None
    assert final.media is not None and final.media.callee is not None and final.media.callee.reported_at is not None
    assert (final.started_at - final.accepted_at).total_seconds() in (0, 1), "joined@0: at the answer"
    assert (final.media.callee.reported_at - final.accepted_at).total_seconds() in (1, 2), "whole seconds on the wire"
