"""Signing in as a new user would, against servers that say no: refused tokens, unknown users, outages.

Each case was seen to loop, retry with no pause or leave a dead Home screen; here the phone asks in
a dialog with the server's words inline, or backs off, and the scripted server counts what it got.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.scripted_http import NOT_FOUND, REFUSED_TOKEN, UNAVAILABLE, Answer, ScriptedHttpServer
from support.server import login
from textual.widgets import Input

from softphone.api import Backoff, Unauthorized
from softphone.session import describe_sign_in_failure
from softphone.tui.app import SIGN_IN_BACKOFF
from softphone.tui.screens.home import HomeScreen
from softphone.tui.screens.login import LoginScreen, TokenScreen

from .harness import (
    SIZE,
    FakeClock,
    ThreadedSimulator,
    make_app,
    run_from_palette,
    screen_text,
    session_of,
    signed_in,
    until,
    until_shows,
)

GOOD_TOKEN = "good-token-0123456789"
REFUSED_WORDS = "the server refused this token (40101 未登录或令牌无效)"


def ok(data: dict[str, Any]) -> Answer:
    return 200, {"code": 0, "message": "success", "data": data}


def documented_server(method: str, path: str, token: str | None) -> Answer:
    """A server with the documented API only, that knows one token: no directory, no lists, no push."""
    if token != GOOD_TOKEN:
        return REFUSED_TOKEN
    if path == "/api/calls/0/state":
        return 400, {"code": 40001, "message": "参数错误: call_id", "data": None}
    return NOT_FOUND


@pytest.fixture
def scripted() -> Iterator[list[ScriptedHttpServer]]:
    """``scripted.append(ScriptedHttpServer(script).start())``; all stopped after the test."""
    servers: list[ScriptedHttpServer] = []
    yield servers
    for server in servers:
        server.stop()


async def type_into(pilot: Any, selector: str, text: str) -> None:
    field = pilot.app.screen.query_one(selector, Input)
    field.focus()
    field.value = text
    await pilot.pause()


async def test_a_refused_token_stops_says_so_and_asks_for_another(
    scripted: list[ScriptedHttpServer], clock: FakeClock
) -> None:
    server = ScriptedHttpServer(documented_server).start()
    scripted.append(server)
    app = make_app(server.url, clock, user=None, terminal_id="t-1", token="wrong-token-abcdef")
    async with app.run_test(size=SIZE) as pilot:
        await until_shows(pilot, TokenScreen, REFUSED_WORDS)
        await pilot.pause(1.5)  # a window to count in: nothing more may be asked until the user answers
        assert server.paths() == ["GET /api/dev/directory"]
        # The right token, but this server has no directory to say whose it is: asked inline too.
        await type_into(pilot, "#token-value", GOOD_TOKEN)
        await pilot.press("enter")
        await until_shows(pilot, TokenScreen, "no directory to say who the token belongs to")
        await type_into(pilot, "#token-value", GOOD_TOKEN)
        await type_into(pilot, "#token-user-id", "20002")
        await pilot.press("enter")
        await until(pilot, lambda: app.session is not None and app.status.connection == "polling", "signed in, polling")
        session = session_of(app)
        assert (session.identity.user_id, session.contacts) == (20002, [])
        assert isinstance(app.screen, HomeScreen)
        await until(pilot, lambda: "no push, no directory" in screen_text(app), "the status line says what is missing")
        assert GOOD_TOKEN not in screen_text(app)


@pytest.mark.parametrize("size", [(40, 12), (80, 24)])
async def test_the_refusal_and_both_fields_fit_a_small_terminal(
    scripted: list[ScriptedHttpServer], clock: FakeClock, size: tuple[int, int]
) -> None:
    """Why the token was refused is the dialog's news: on 40×12 it shows above the fields, nothing cut."""
    server = ScriptedHttpServer(documented_server).start()
    scripted.append(server)
    app = make_app(server.url, clock, user=None, terminal_id="t-1", token="wrong-token-abcdef", user_id=10001)
    async with app.run_test(size=size) as pilot:
        await until_shows(pilot, TokenScreen, REFUSED_WORDS)
        screen = app.screen
        for selector in ("#token-error", "#token-value", "#token-user-id"):
            region = screen.query_one(selector).region
            assert region.height > 0 and region.bottom <= size[1], f"{selector} is cut: {region}"


async def test_a_token_and_user_id_sign_in_where_there_is_no_directory(
    scripted: list[ScriptedHttpServer], clock: FakeClock
) -> None:
    server = ScriptedHttpServer(documented_server).start()
    scripted.append(server)
    app = make_app(server.url, clock, user=None, terminal_id="t-1", token=GOOD_TOKEN, user_id=20002)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session is not None, "signed in")
        await until(pilot, lambda: "polling · no push, no directory" in screen_text(app), "the status line")
        assert "This server has no directory" in screen_text(app)
        assert "/api/ws" not in server.paths() and "GET /api/calls/0/state" in server.paths()


@pytest.mark.parametrize("user", ["nobody", "ALICE"])
async def test_an_unknown_user_opens_the_sign_in_dialog_with_the_error_inline(
    simulator: ThreadedSimulator, clock: FakeClock, user: str
) -> None:
    app = make_app(simulator.url, clock, user=user, terminal_id="who-1")
    async with app.run_test(size=SIZE) as pilot:
        await until_shows(pilot, LoginScreen, f"no such user (40001 参数错误: user: no such user '{user}')")
        assert app.screen.query_one("#login-user", Input).value == user, "what was typed, to correct"
        await type_into(pilot, "#login-user", "carol")
        await pilot.press("enter")
        await signed_in(pilot)
        assert session_of(app).identity.name == "carol" and isinstance(app.screen, HomeScreen)


async def test_the_display_name_the_phone_shows_signs_in(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, user="Alice", terminal_id="alice-1")
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        assert session_of(app).identity.user_id == 10001


async def test_a_server_that_keeps_failing_gets_a_few_requests_a_minute(
    scripted: list[ScriptedHttpServer], clock: FakeClock
) -> None:
    """Measured over the first seconds with the real backoff; the rest of the minute follows from it."""
    server = ScriptedHttpServer(lambda method, path, token: UNAVAILABLE).start()
    scripted.append(server)
    app = make_app(server.url, clock, user="alice", terminal_id="alice-1", sign_in_backoff=SIGN_IN_BACKOFF)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: len(server.requests) >= 3, "three tries", timeout=20)
        first, second, third = (seen.at for seen in server.requests[:3])
        assert second - first >= SIGN_IN_BACKOFF.initial * (1 - SIGN_IN_BACKOFF.jitter) - 0.05
        assert third - second >= 2 * SIGN_IN_BACKOFF.initial * (1 - SIGN_IN_BACKOFF.jitter) - 0.05
        assert "retrying in" in screen_text(app) and "50300 服务暂不可用" in screen_text(app)
        toasts = [n for n in app._notifications if "Cannot sign in" in n.message]
        assert len(toasts) == 1, "one notification for the failure, not one per try"
        # ctrl+r tries at once rather than after the (now 8 s or so) wait.
        asked = len(server.requests)
        await pilot.press("ctrl+r")
        await until(pilot, lambda: len(server.requests) > asked, "a try at once", timeout=2)


async def test_the_palette_offers_retry_now_while_sign_in_waits_and_it_tries_at_once(
    scripted: list[ScriptedHttpServer], clock: FakeClock
) -> None:
    """A minute to wait before the next try: "Retry now" from the palette makes it at once."""
    server = ScriptedHttpServer(lambda method, path, token: UNAVAILABLE).start()
    scripted.append(server)
    app = make_app(server.url, clock, user="alice", terminal_id="alice-1", sign_in_backoff=Backoff(60, 60, jitter=0))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.status.retry_at is not None, "a wait before the next try")
        assert "Retry now" in [command.title for command in app.get_system_commands(app.screen)]
        asked = len(server.requests)
        await run_from_palette(pilot, "retry", "Retry now")
        await until(pilot, lambda: len(server.requests) > asked, "a try at once", timeout=5)
        await until(pilot, lambda: app.status.retry_at is not None, "waiting again after the failed try")


def test_the_sign_in_backoff_allows_only_a_few_requests_a_minute() -> None:
    """The shortest waits the backoff can draw: at most 6 tries in the first minute, then 2 a minute."""
    shortest = random.Random()
    shortest.random = lambda: 1.0  # type: ignore[method-assign] - the full jitter: the shortest wait
    elapsed, tries = 0.0, 1
    while True:
        elapsed += SIGN_IN_BACKOFF.delay(tries - 1, shortest)
        if elapsed > 60:
            break
        tries += 1
    assert tries <= 6
    assert SIGN_IN_BACKOFF.maximum * (1 - SIGN_IN_BACKOFF.jitter) >= 20


async def test_a_token_revoked_mid_session_is_said_in_words_and_another_asked(
    simulator: ThreadedSimulator, clock: FakeClock
) -> None:
    token = login(simulator.url, "bob")
    app = make_app(simulator.url, clock, user=None, terminal_id="bob-1", token=token)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await signed_in(pilot)
        async with httpx.AsyncClient() as http:
            revoked = await http.post(f"{simulator.url}/api/dev/logout", headers={"Authorization": f"Bearer {token}"})
            assert revoked.json()["code"] == 0
        await until_shows(pilot, TokenScreen, "The server refused this token (40101 未登录或令牌无效)")
        # The notification is a message to the app, the dialog another screen's: either may come first.
        await until(pilot, lambda: any("refused this token" in n.message for n in app._notifications), "a notification")
        await type_into(pilot, "#token-value", login(simulator.url, "bob"))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, HomeScreen), "the dialog closed")
        await signed_in(pilot)


def test_the_words_for_a_refused_token() -> None:
    assert describe_sign_in_failure(Unauthorized()) == REFUSED_WORDS
