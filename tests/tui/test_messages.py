"""What the app is told, as messages: the adapter's translation, then the whole app driven end to end.

As Harlequin's functional tests do, these assert on exactly the messages that were posted, recorded
with ``run_test(message_hook=...)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from textual.app import App
from textual.message import Message

from softphone.api import Action, CallClient, ConnectionChanged, StreamError, Unauthorized
from softphone.session import CallsChanged, RequestFailed, SessionEvent
from softphone.tui.adapter import SessionAdapter
from softphone.tui.app import SoftphoneApp
from softphone.tui.screens.incoming import IncomingScreen

from .harness import SIZE, FakeClock, ThreadedSimulator, make_app, screen_text, signed_in, until

OURS = (SessionAdapter.CallsChanged, SessionAdapter.ConnectionChanged, SessionAdapter.RequestFailed,
        SessionAdapter.StreamErrored, SoftphoneApp.SignedIn, SoftphoneApp.SignInFailed)


def ours(seen: list[Message]) -> list[Message]:
    """The messages of the adapter and the sign-in, each once (the hook sees every dispatch)."""
    return list({id(message): message for message in seen if isinstance(message, OURS)}.values())


async def scripted(events: list[SessionEvent]) -> AsyncIterator[SessionEvent]:
    for event in events:
        yield event


async def test_each_controller_event_becomes_one_message() -> None:
    app: App[None] = App()
    seen: list[Message] = []
    refused = Unauthorized()
    events: list[SessionEvent] = [
        CallsChanged((1, 2, 3)),
        ConnectionChanged("unreachable", "connection lost", retry_at=12.5),
        RequestFailed(Action.HANGUP, 3, None, "hangup: 41007 通话已结束"),
        StreamError(refused),
    ]
    async with app.run_test(message_hook=seen.append) as pilot:
        await SessionAdapter(app).relay(scripted(events))
        await until(pilot, lambda: len(ours(seen)) == len(events), "every message handled")
    assert ours(seen) == [
        SessionAdapter.CallsChanged((1, 2, 3)),
        SessionAdapter.ConnectionChanged("unreachable", "connection lost", 12.5),
        SessionAdapter.RequestFailed(Action.HANGUP, 3, "hangup: 41007 通话已结束"),
        SessionAdapter.StreamErrored(refused, "40101 未登录或令牌无效"),
    ]


async def test_signing_in_then_a_refused_dial(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    carol = CallClient(simulator.url, terminal_id="carol-headless")
    await carol.login("carol")
    bob = next(u for u in (await carol.directory()).users if u.name == "bob")
    assert bob.conversation_id is not None
    await carol.start_call(bob.conversation_id, bob.user_id, "audio")  # bob is busy ringing
    seen: list[Message] = []
    app = make_app(simulator.url, clock, "alice", "alice-1")
    try:
        async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
            await signed_in(pilot)
            signed, *connection = ours(seen)
            assert isinstance(signed, SoftphoneApp.SignedIn)
            assert [m.state for m in connection] == ["connecting", "connected"]  # type: ignore[attr-defined]
            seen.clear()
            await pilot.press("enter")  # Bob
            await until(pilot, lambda: bool(ours(seen)), "the dial's outcome")
            await pilot.pause()
            assert ours(seen) == [SessionAdapter.RequestFailed(None, None, "Bob is busy on another call (41003 对方忙线)")]
    finally:
        await carol.aclose()


async def test_a_call_ringing_is_one_message_and_one_screen(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    seen: list[Message] = []
    app = make_app(simulator.url, clock, "bob", "bob-1")
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await signed_in(pilot)
        seen.clear()
        alice = CallClient(simulator.url, terminal_id="alice-headless")
        try:
            await alice.login("alice")
            me = next(u for u in (await alice.directory()).users if u.name == "bob")
            assert me.conversation_id is not None
            call_id = (await alice.start_call(me.conversation_id, me.user_id, "audio")).call_id
            await until(pilot, lambda: isinstance(app.screen, IncomingScreen) and "Alice" in screen_text(app), "ringing")
            assert ours(seen) == [SessionAdapter.CallsChanged((call_id,))]
            assert [type(screen).__name__ for screen in app.screen_stack[1:]] == ["HomeScreen", "IncomingScreen"]
        finally:
            await alice.aclose()
