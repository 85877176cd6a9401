"""Two phones against ``softphone serve --documented-only``: a server with the documented API alone.

No push, no directory, no call lists, no extension fields. The testers' way through, with what the
server prints at start: sign in with ``--token`` and ``--user-id``, dial by ids, pass the call id on,
open it by id on the other phone, and let both poll the calls they know.
"""

from __future__ import annotations

import re
from contextlib import AsyncExitStack
from dataclasses import dataclass

import pytest
from support.server import ServerFactory, ServerProcess, wait_for
from textual.pilot import Pilot
from textual.widgets import Input, RadioButton

from softphone.tui.app import SoftphoneApp
from softphone.tui.screens.by_id import DialByIdScreen, OpenCallScreen
from softphone.tui.screens.ended import EndedScreen
from softphone.tui.screens.home import HomeScreen
from softphone.tui.screens.in_call import InCallScreen
from softphone.tui.screens.incoming import IncomingScreen
from softphone.tui.screens.login import TokenScreen
from softphone.tui.screens.outgoing import OutgoingScreen

from .harness import SIZE, FakeClock, make_app, screen_text, session_of, until, until_shows

ALICE, BOB = 10001, 20002


@dataclass(frozen=True)
class Sheet:
    """What ``serve --documented-only`` printed: each user's token, and the alice-bob conversation."""

    tokens: dict[str, str]
    alice_with_bob: int


async def read_sheet(server: ServerProcess) -> Sheet:
    await wait_for(lambda: "frank (Frank)" in server.log())
    log = server.log()
    tokens = dict(re.findall(r"^(\w+) \(\w+\): --user-id \d+ --token (\S+)$", log, re.MULTILINE))
    found = re.search(r"^alice .*\n(?:    .*\n)*?    with bob \(20002\): --conversation (\d+)$", log, re.MULTILINE)
    assert found is not None, log
    return Sheet(tokens, int(found[1]))


@pytest.fixture
async def documented(server_factory: ServerFactory) -> tuple[ServerProcess, Sheet]:
    server = server_factory(args=["--documented-only"])
    return server, await read_sheet(server)


def phone(server: ServerProcess, sheet: Sheet, name: str, user_id: int, **extra: object) -> SoftphoneApp:
    return make_app(
        server.base_url, FakeClock(), user=None, terminal_id=f"{name}-1", token=sheet.tokens[name], user_id=user_id, **extra
    )


async def start(stack: AsyncExitStack, app: SoftphoneApp) -> Pilot[None]:
    """Run ``app`` until it is signed in and polling, the only way it hears this server."""
    pilot = await stack.enter_async_context(app.run_test(size=SIZE))
    await until(pilot, lambda: app.session is not None and app.status.connection == "polling", "signed in, polling")
    return pilot


async def fill(pilot: Pilot[None], values: dict[str, str]) -> None:
    """Type into a dialog's fields (once it is composed: a pushed screen is current first) and submit."""
    first = next(iter(values))
    await until(pilot, lambda: bool(pilot.app.screen.query(first)), f"the dialog's {first}")
    for selector, value in values.items():
        pilot.app.screen.query_one(selector, Input).value = value
    pilot.app.screen.query_one(next(iter(values)), Input).focus()
    await pilot.press("enter")


async def test_dial_by_ids_open_by_id_accept_media_hang_up(documented: tuple[ServerProcess, Sheet]) -> None:
    server, sheet = documented
    alice = phone(server, sheet, "alice", ALICE, dial=str(BOB), conversation_id=sheet.alice_with_bob)
    async with AsyncExitStack() as stack:
        pa = await start(stack, alice)
        await until_shows(pa, OutgoingScreen, "Calling user 20002…", "rings for")
        assert "no push, no directory" in screen_text(alice)
        call_id = session_of(alice).phone.history()[0].call_id
        assert f"Call id {call_id}" in screen_text(alice), "the id to pass on is on the caller's screen"

        bob = phone(server, sheet, "bob", BOB, open_call=call_id)  # as `softphone ... --open-call ID`
        pb = await start(stack, bob)
        await until_shows(pb, IncomingScreen, "Incoming audio call from user 10001")
        await pb.press("a")
        await until_shows(pb, InCallScreen, "In call with user 10001")
        await until_shows(pa, InCallScreen, "In call with user 20002")  # learned by polling

        await pb.press("n")  # bob's network quality: a change alice polls too
        bob_call, alice_call = session_of(bob).phone.get(call_id), session_of(alice).phone.get(call_id)
        assert bob_call is not None and alice_call is not None
        await until(pa, lambda: alice_call.version == bob_call.version >= 4, "alice to poll bob's media report")

        await pa.press("h")
        await until_shows(pa, EndedScreen, "You hung up")
        await until_shows(pb, EndedScreen, "Ended · local_hangup")  # no ext field says who: no guess
        assert alice_call.status == bob_call.status == "ended"


async def test_reject_a_call_opened_with_the_o_key(documented: tuple[ServerProcess, Sheet]) -> None:
    server, sheet = documented
    alice, bob = phone(server, sheet, "alice", ALICE), phone(server, sheet, "bob", BOB)
    async with AsyncExitStack() as stack:
        pa, pb = await start(stack, alice), await start(stack, bob)
        assert isinstance(alice.screen, HomeScreen) and "This server has no directory" in screen_text(alice)
        await pa.press("i")
        await until(pa, lambda: isinstance(alice.screen, DialByIdScreen), "the dial-by-id dialog")
        alice.screen.query_one("#dial-video", RadioButton).value = True
        await fill(pa, {"#dial-user-id": str(BOB), "#dial-conversation-id": str(sheet.alice_with_bob)})
        await until_shows(pa, OutgoingScreen, "Calling user 20002…", "video call")
        call_id = session_of(alice).phone.history()[0].call_id

        await pb.press("o")
        await until(pb, lambda: isinstance(bob.screen, OpenCallScreen), "the open-call dialog")
        await fill(pb, {"#open-call-id": str(call_id)})
        await until_shows(pb, IncomingScreen, "Incoming video call from user 10001")
        await pb.press("r")
        await until_shows(pb, EndedScreen, "You declined the call")
        await until_shows(pa, EndedScreen, "user 20002 declined the call")  # only the callee can reject


async def test_cancel_a_call_opened_from_the_palette(documented: tuple[ServerProcess, Sheet]) -> None:
    server, sheet = documented
    alice = phone(server, sheet, "alice", ALICE, dial=str(BOB), conversation_id=sheet.alice_with_bob)
    bob = phone(server, sheet, "bob", BOB)
    async with AsyncExitStack() as stack:
        pa, pb = await start(stack, alice), await start(stack, bob)
        await until_shows(pa, OutgoingScreen, "Calling user 20002…")
        call_id = session_of(alice).phone.history()[0].call_id
        (open_by_id,) = [c for c in bob.get_system_commands(bob.screen) if c.title == "Open a call by id"]
        open_by_id.callback()
        await until(pb, lambda: isinstance(bob.screen, OpenCallScreen), "the open-call dialog")
        await fill(pb, {"#open-call-id": str(call_id)})
        await until_shows(pb, IncomingScreen, "Incoming audio call from user 10001")
        await pa.press("c")
        await until_shows(pa, EndedScreen, "You cancelled the call")
        await until_shows(pb, EndedScreen, "user 10001 cancelled the call")  # only the caller can cancel


async def test_opening_a_call_that_is_not_there_says_the_servers_words(documented: tuple[ServerProcess, Sheet]) -> None:
    server, sheet = documented
    bob = phone(server, sheet, "bob", BOB, open_call=424242)
    async with AsyncExitStack() as stack:
        pb = await stack.enter_async_context(bob.run_test(size=SIZE, notifications=True))
        await until(
            pb,
            lambda: any("Opening call 424242: The server has no such call (41001 通话不存在)" in n.message for n in bob._notifications),
            "the refusal in the server's words",
        )
        assert isinstance(bob.screen, HomeScreen)


async def test_a_wrong_token_is_refused_in_words_even_without_a_directory(documented: tuple[ServerProcess, Sheet]) -> None:
    """Nothing there checks a token before it is used: the phone asks for a call that cannot exist."""
    server, _ = documented
    app = make_app(server.base_url, FakeClock(), user=None, terminal_id="x-1", token="not-a-token", user_id=BOB)
    async with app.run_test(size=SIZE) as pilot:
        await until_shows(pilot, TokenScreen, "the server refused this token (40101 未登录或令牌无效)")
        assert app.session is None
