"""The phone while its server is down: what the screens say and offer, the countdown, and ``ctrl+r``.

The simulator runs as a real process that is SIGKILLed and restarted on the same port and database.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

from support.server import ServerFactory
from textual.widgets import Button

from softphone.api import CallClient
from softphone.tui.screens.ended import EndedScreen
from softphone.tui.screens.home import HomeScreen
from softphone.tui.screens.incoming import IncomingScreen

from .harness import SIZE, FakeClock, make_app, screen_text, session_of, signed_in, until, until_shows


async def test_a_ringing_call_says_it_cannot_be_answered_while_the_server_is_away(server_factory: ServerFactory) -> None:
    server = server_factory()
    bob = make_app(server.base_url, FakeClock(datetime.now(UTC)), "bob", "bob-1")  # the server's clock is real
    async with bob.run_test(size=SIZE) as pilot, CallClient(server.base_url, terminal_id="alice-headless") as alice:
        await signed_in(pilot)
        await alice.login("alice")
        target = next(u for u in (await alice.directory()).users if u.name == "bob")
        assert target.conversation_id is not None
        call_id = (await alice.start_call(target.conversation_id, target.user_id, "audio")).call_id
        await until_shows(pilot, IncomingScreen, "Incoming audio call from Alice", "s to answer")

        await asyncio.to_thread(server.kill)
        await until_shows(pilot, IncomingScreen, "server unreachable: cannot answer right now")
        assert "to answer" not in screen_text(bob), "no countdown the server cannot act on"
        accept = bob.screen.query_one("#accept", Button)
        assert accept.disabled and bob.screen.query_one("#reject", Button).disabled
        await pilot.press("a")  # unavailable: nothing is sent
        await pilot.pause(0.3)
        assert session_of(bob).phone.calls[call_id].accepted_here is False

        await asyncio.to_thread(server.restart)
        await until_shows(pilot, IncomingScreen, "s to answer")  # what the server says: still ringing
        assert not accept.disabled
        await alice.cancel(call_id)
        await until_shows(pilot, EndedScreen, "Alice cancelled the call")


def retry_seconds(text: str) -> int | None:
    found = re.search(r"retrying in (\d+)s", text)
    return int(found[1]) if found else None


async def test_the_countdown_ticks_and_ctrl_r_reconnects_at_once(server_factory: ServerFactory) -> None:
    """With no call live the waits grow long; the status line counts them down, and ctrl+r cuts one short."""
    server = server_factory()
    alice = make_app(server.base_url, FakeClock(), "alice", "alice-1")
    async with alice.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        await asyncio.to_thread(server.kill)
        loop = asyncio.get_running_loop()
        await until(
            pilot,
            lambda: alice.status.retry_at is not None and alice.status.retry_at - loop.time() > 4,
            "a wait of more than four seconds",
            timeout=30,
        )
        assert alice.status.connection == "unreachable" and isinstance(alice.screen, HomeScreen)
        first = retry_seconds(screen_text(alice))
        assert first is not None and first > 3
        await until(pilot, lambda: (retry_seconds(screen_text(alice)) or first) < first, "the countdown to tick")

        await asyncio.to_thread(server.restart)
        due = alice.status.retry_at
        assert due is not None
        await pilot.press("ctrl+r")
        await until(pilot, lambda: alice.status.connection == "connected", "connected at once")
        assert loop.time() < due, "before the wait would have ended by itself"
        assert "retrying" not in screen_text(alice)
