"""Every key: nothing irreversible by accident, one request per intent, only what is possible offered."""

from __future__ import annotations

import time

from textual import events
from textual.pilot import Pilot

from softphone.api import Action, CallClient
from softphone.core import Marker, Source
from softphone.tui.app import SoftphoneApp
from softphone.tui.screens.ended import EndedScreen
from softphone.tui.screens.home import HomeScreen
from softphone.tui.screens.in_call import InCallScreen
from softphone.tui.screens.incoming import IncomingScreen
from softphone.tui.screens.outgoing import OutgoingScreen

from .harness import (
    SIZE,
    FakeClock,
    ThreadedSimulator,
    call_from,
    make_app,
    painted,
    screen_text,
    session_of,
    signed_in,
    until,
    until_shows,
)


def requests_sent(app: SoftphoneApp, call_id: int, action: Action) -> int:
    """How many times this terminal sent ``action`` for the call (its timeline notes each before sending)."""
    return sum(entry.detail.split(" ")[0] == action.value for entry in session_of(app).phone.calls[call_id].timeline
               if entry.source is Source.LOCAL)


def errors(app: SoftphoneApp, call_id: int) -> list[str]:
    return [entry.detail for entry in session_of(app).phone.calls[call_id].timeline if entry.marker is Marker.ERROR]


async def in_call_with_bob(pilot: Pilot[None], app: SoftphoneApp, url: str) -> tuple[CallClient, int]:
    """Alice (the app) calls Bob, a headless peer who answers and joins."""
    await signed_in(pilot)
    bob = CallClient(url, terminal_id="bob-headless")
    await bob.login("bob")
    await pilot.press("enter")
    await until(pilot, lambda: bool(session_of(app).phone.calls), "the call to start")
    call_id = next(iter(session_of(app).phone.calls))
    await bob.accept(call_id)
    await bob.report_media(call_id, "joined", "good")
    await until_shows(pilot, InCallScreen, "In call with Bob", "Bob  joined")
    return bob, call_id


async def test_a_key_pressed_before_a_call_popped_up_does_not_answer_it(
    simulator: ThreadedSimulator, clock: FakeClock
) -> None:
    app = make_app(simulator.url, clock, "bob", "bob-1")
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        typed_before = events.Key("a", "a")  # stamped now, while Home is showing
        caller, call_id = await call_from(simulator.url, "alice", 20002)
        try:
            await until_shows(pilot, IncomingScreen, "Incoming audio call from Alice")
            app.post_message(typed_before)  # delivered only once the call has popped up
            await pilot.pause()
            assert requests_sent(app, call_id, Action.ACCEPT) == 0
            assert (await caller.call_state(call_id)).status == "calling"
            await pilot.press("a")  # pressed after it appeared: it answers
            await until_shows(pilot, InCallScreen, "In call with Alice")
        finally:
            await caller.aclose()


async def test_keys_too_soon_after_a_call_pops_up_do_nothing(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    """A person cannot read a new screen and decide within the guard: keys that soon were meant for the last one."""
    app = make_app(simulator.url, clock, "bob", "bob-1", key_guard_seconds=1.5)
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        caller, call_id = await call_from(simulator.url, "alice", 20002)
        try:
            await until_shows(pilot, IncomingScreen, "Incoming audio call from Alice")
            screen = app.screen
            for key, character in (("enter", "\r"), ("r", "r"), ("a", "a")):
                soon = events.Key(key, character)
                soon.time = screen.keys_open_at - 0.5  # a second after it appeared, however slow this machine is
                app.post_message(soon)
            await pilot.pause()
            assert requests_sent(app, call_id, Action.ACCEPT) == requests_sent(app, call_id, Action.REJECT) == 0
            await until(pilot, lambda: time.monotonic() > screen.keys_open_at, "the guard to pass", timeout=5)
            await pilot.press("r")
            await until_shows(pilot, EndedScreen, "You declined the call")
        finally:
            await caller.aclose()


async def test_enter_on_a_ringing_call_does_nothing(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "bob", "bob-1")
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        caller, call_id = await call_from(simulator.url, "alice", 20002)
        try:
            await until_shows(pilot, IncomingScreen, "Incoming audio call from Alice")
            await pilot.press("enter", "enter", "space", "tab", "enter")
            await pilot.pause()
            assert isinstance(app.screen, IncomingScreen)
            assert requests_sent(app, call_id, Action.ACCEPT) == requests_sent(app, call_id, Action.REJECT) == 0
        finally:
            await caller.aclose()


async def test_enter_twice_on_home_places_one_call_and_keeps_it(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await signed_in(pilot)
        await pilot.press("enter", "enter")
        await until_shows(pilot, OutgoingScreen, "Calling Bob…", "You  joined")
        await pilot.press("enter", "escape")
        await pilot.pause()
        assert list(session_of(app).phone.calls) == [1]
        assert session_of(app).phone.calls[1].status == "calling"
        assert requests_sent(app, 1, Action.CANCEL) == 0
        assert not app._notifications  # the second Enter was no second call, refused or not


async def test_enter_in_a_call_does_not_hang_up(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=SIZE) as pilot:
        bob, call_id = await in_call_with_bob(pilot, app, simulator.url)
        try:
            await pilot.press("enter", "space", "tab", "enter", "n")  # the quality change shows the keys were read
            await until(pilot, lambda: "poor" in screen_text(app), "the new quality")
            assert isinstance(app.screen, InCallScreen)
            assert requests_sent(app, call_id, Action.HANGUP) == 0
            assert (await bob.call_state(call_id)).status == "ongoing"
        finally:
            await bob.aclose()


async def test_h_twice_sends_one_hangup(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        bob, call_id = await in_call_with_bob(pilot, app, simulator.url)
        try:
            await pilot.press("h", "h")
            await until_shows(pilot, EndedScreen, "You hung up")
            await pilot.press("h")
            await pilot.pause()
            assert requests_sent(app, call_id, Action.HANGUP) == 1
            assert errors(app, call_id) == [] and not app._notifications  # no spurious 41007
        finally:
            await bob.aclose()


async def test_footer_and_palette_offer_only_what_is_possible(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        await until(pilot, lambda: all(words in painted(app) for words in ("Audio call", "Video call", "^q Quit")),
                    "the footer offering calls and quit")
        home_keys = set(app.screen.active_bindings)
        assert {"enter", "v", "ctrl+q", "ctrl+b"} <= home_keys
        assert "g" not in home_keys and "ctrl+e" not in home_keys  # no demo here; no call to export yet
        bob, call_id = await in_call_with_bob(pilot, app, simulator.url)
        try:
            shown = {key for key, active in app.screen.active_bindings.items() if active.binding.show and active.enabled}
            assert {"h", "m", "n", "ctrl+q", "ctrl+e"} <= shown and "enter" not in shown and "v" not in shown
            await until(pilot, lambda: "Hang up" in painted(app) and "Video call" not in painted(app), "the call's keys")
            assert not any(c.title.startswith("Dial ") for c in app.get_system_commands(app.screen))
        finally:
            await bob.aclose()


async def test_no_network_quality_after_leaving_the_channel(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=SIZE) as pilot:
        bob, call_id = await in_call_with_bob(pilot, app, simulator.url)
        try:
            await pilot.press("m")
            await until(pilot, lambda: "You  reconnecting" in screen_text(app), "reconnecting")
            await pilot.press("m")
            await until(pilot, lambda: "You  left" in screen_text(app), "left")
            screen = app.screen
            assert isinstance(screen, InCallScreen)
            assert screen.check_action("next_quality", ()) is False
            assert screen.query_one("#quality").disabled
            assert "n" not in screen.active_bindings
            sent = requests_sent(app, call_id, Action.REPORT_MEDIA)
            await pilot.press("n")
            await pilot.pause()
            assert requests_sent(app, call_id, Action.REPORT_MEDIA) == sent
            await pilot.press("m")  # joining again is allowed, and with it the quality
            await until(pilot, lambda: "You  joined" in screen_text(app), "joined again")
            assert screen.check_action("next_quality", ()) is True
        finally:
            await bob.aclose()


async def test_call_screens_replace_each_other_without_home_between(
    simulator: ThreadedSimulator, clock: FakeClock
) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        shown: list[str] = []
        app.screen_change_signal.subscribe(app, lambda screen: shown.append(type(screen).__name__), immediate=True)
        bob, call_id = await in_call_with_bob(pilot, app, simulator.url)
        try:
            await bob.hangup(call_id)
            await until_shows(pilot, EndedScreen, "Bob hung up")
            assert shown == ["OutgoingScreen", "InCallScreen", "EndedScreen"]
            assert [type(screen).__name__ for screen in app.screen_stack[1:]] == ["HomeScreen", "EndedScreen"]
            await pilot.press("enter")
            await until_shows(pilot, HomeScreen, "Bob hung up")
        finally:
            await bob.aclose()
