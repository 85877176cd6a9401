"""The demo: a cast of bots covering every outcome against a real simulator, and a phone that says what it offers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.server import ServerFactory, wait_for
from support.terminal import open_in_terminal
from tui.harness import FakeClock, make_app, painted, screen_text, signed_in, until, until_shows

from softphone.api import CallClient, CalleeBusy, CallState
from softphone.demo import Cast, DemoCast, DemoGuide, guide_words
from softphone.launch import is_healthy
from softphone.tui.screens.home import HomeScreen
from softphone.tui.screens.incoming import IncomingScreen


def test_the_cast_is_everyone_but_me_in_the_directorys_order() -> None:
    cast = Cast.around("alice")
    assert [u.name for u in (cast.answers, cast.declines, cast.busy, cast.busy_with, cast.never_answers)] == [
        "bob", "carol", "dave", "erin", "frank",
    ]
    assert Cast.around("carol").answers.name == "alice"
    with pytest.raises(ValueError, match="mallory"):
        Cast.around("mallory")


def test_the_guide_says_what_each_person_does_and_how_to_get_a_call() -> None:
    banner, roles = guide_words(Cast.around("alice"), answer_after=2)
    assert "Press g and Bob calls you" in banner
    assert roles == {
        "bob": "answers in 2s, hangs up at 20s",
        "carol": "declines",
        "dave": "busy (in a call with Erin)",
        "erin": "busy (in a call with Dave)",
        "frank": "never answers (rings 20s)",
    }


@contextlib.asynccontextmanager
async def cast_running(url: str) -> AsyncIterator[DemoCast]:
    demo_cast = DemoCast(url, Cast.around("alice"), answer_after=0.2, hangup_after=1.0)
    task = asyncio.create_task(demo_cast.run())
    try:
        yield demo_cast
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def outcome(client: CallClient, call_id: int, *statuses: str) -> CallState:
    async def reached() -> bool:
        return (await client.call_state(call_id)).status in statuses

    await wait_for(reached, timeout=10)
    return await client.call_state(call_id)


async def ring(client: CallClient, name: str) -> int:
    peer = next(u for u in (await client.directory()).users if u.name == name)
    assert peer.conversation_id is not None
    return (await client.start_call(peer.conversation_id, peer.user_id, "audio")).call_id


async def test_every_outcome_has_its_peer(server_factory: ServerFactory) -> None:
    server = server_factory(ring_timeout=2)
    async with cast_running(server.base_url), CallClient(server.base_url, terminal_id="alice-t") as alice:
        await alice.login("alice")
        async with CallClient(server.base_url, terminal_id="dave-watch") as dave:
            await dave.login("dave")

            async def dave_talks_with_erin() -> bool:
                return any(call.status == "ongoing" and call.callee_user_id == 50005 for call in await dave.active_calls())

            await wait_for(dave_talks_with_erin, timeout=10)
        with pytest.raises(CalleeBusy):
            await ring(alice, "dave")
        declined = await outcome(alice, await ring(alice, "carol"), "rejected", "accepted", "ongoing", "ended")
        assert (declined.status, declined.end_reason) == ("rejected", "user_reject")
        unanswered = await outcome(alice, await ring(alice, "frank"), "ended", "accepted", "ongoing", "rejected")
        assert unanswered.end_reason == "no_answer_timeout"
        answered = await ring(alice, "bob")
        await outcome(alice, answered, "ongoing")
        hung_up = await outcome(alice, answered, "ended")
        assert (hung_up.end_reason, hung_up.ended_by_user_id) == ("local_hangup", 20002)


async def test_the_demo_phone_says_what_it_offers_and_g_gets_a_call_in(server_factory: ServerFactory) -> None:
    server = server_factory()
    cast = Cast.around("alice")
    banner, roles = guide_words(cast, answer_after=0.2)
    async with cast_running(server.base_url) as demo_cast:
        guide = DemoGuide(banner, roles, "Bob", lambda: asyncio.get_running_loop().create_task(demo_cast.ring("alice")))
        app = make_app(server.base_url, FakeClock(), "alice", "alice-demo", demo=guide)
        async with app.run_test(size=(100, 30)) as pilot:
            await signed_in(pilot)
            await until(
                pilot,
                lambda: all(words in painted(app) for words in ("Press g and Bob calls you", "Carol  declines",
                                                                "Frank  never answers")),
                "the demo's offer on the home screen",
            )
            for _ in range(2):  # as often as you like
                await pilot.press("g")
                await until_shows(pilot, IncomingScreen, "Incoming audio call from Bob")
                await pilot.press("r")
                await until(pilot, lambda: "You declined the call" in screen_text(app), "declined")
                await pilot.press("enter")
                await until_shows(pilot, HomeScreen)
            titles = [command.title for command in app.get_system_commands(app.screen)]
            assert "Demo: Bob calls you now" in titles


def _private_simulator_url(tmp: Path) -> str:
    """The demo's private simulator, read from its log in the demo's work directory (under ``TMPDIR``)."""
    for log in tmp.glob("softphone-demo-*/simulator.log"):
        found = re.search(r"Uvicorn running on (http://\S+)", log.read_text(errors="replace"))
        if found:
            return found[1]
    raise AssertionError(f"no simulator log in {tmp} says where it runs")


async def test_softphone_demo_in_a_terminal_offers_its_cast_rings_on_g_and_quits_with_its_simulator(
    tmp_path: Path,
) -> None:
    """``softphone demo`` as a person runs it: a real process on a pty, keys typed, the screen read."""
    env = {
        **os.environ,
        "TMPDIR": str(tmp_path),
        **{name: str(tmp_path / name.lower()) for name in ("XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME")},
    }
    demo = open_in_terminal([sys.executable, "-m", "softphone", "demo", "--answer-after", "1"], env=env)
    try:
        for words in ("Press g and Bob calls you", "answers in 1s, hangs up at 20s", "declines",
                      "busy (in a call with Erin)", "never answers (rings 20s)", "connected"):  # fmt: skip
            await asyncio.to_thread(demo.wait_for_text, words, 30)
        url = _private_simulator_url(tmp_path)

        async def bob_calls() -> bool:
            if "Incoming audio call from Bob" in demo.text():
                return True
            demo.type(b"g")  # again if need be: a key this soon after Home showed is held back (a second
            return False  # g while Bob's call is on its way only has Bob told that alice is busy)

        await wait_for(bob_calls, timeout=20, interval=3)
        async with CallClient(url, terminal_id="alice-check") as alice:
            await alice.login("alice")
            (ringing,) = await alice.active_calls()
        assert (ringing.status, ringing.caller_user_id) == ("calling", 20002)

        demo.type(b"\x11")  # ctrl+q: a call rings, so it asks first
        await asyncio.to_thread(demo.wait_for_text, "Hang up and quit?", 15)

        async def quit_confirmed() -> bool:
            if demo.process.poll() is None:
                demo.type(b"y")  # again until it goes: a key this soon after the question may be held back
            return demo.process.poll() is not None

        await wait_for(quit_confirmed, timeout=15, interval=0.5)
        assert demo.process.returncode == 0, demo.text()[-1500:]
        assert not is_healthy(url), "the private simulator stops with the demo"
    finally:
        demo.stop()
