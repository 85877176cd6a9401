"""Every screen and key of the softphone, driven by Pilot against a live simulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from softphone.tui.screens.ended import EndedScreen
from softphone.tui.screens.home import HomeScreen
from softphone.tui.screens.in_call import InCallScreen
from softphone.tui.screens.incoming import IncomingScreen
from softphone.tui.screens.login import LoginScreen
from softphone.tui.screens.outgoing import OutgoingScreen
from softphone.tui.widgets.timeline import TimelineSidebar

from .harness import SIZE, FakeClock, ThreadedSimulator, call_from, make_app, screen_text, signed_in, until, until_shows


async def test_home_shows_who_and_where_and_the_contacts(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        assert isinstance(app.screen, HomeScreen)
        text = screen_text(app)
        assert "Alice (alice #10001)" in text
        assert "alice-1" in text and simulator.url in text and "connected" in text
        options = app.screen.query_one("#contacts")
        names = [str(option.prompt) for option in options.options]  # type: ignore[attr-defined]
        assert [name.split()[0] for name in names] == ["Bob", "Carol", "Dave", "Erin", "Frank"]
        assert "No calls yet." in text


async def test_login_screen_asks_again_after_an_unknown_user(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, user=None, terminal_id="who-1")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, LoginScreen), "the login screen")
        await pilot.press(*"mallory", "enter")
        await until(
            pilot,
            lambda: isinstance(app.screen, LoginScreen) and "40001" in screen_text(app),
            "the server's refusal shown on a new login screen",
        )
        await pilot.press(*"carol", "enter")
        await signed_in(pilot)
        assert app.session is not None and app.session.identity.name == "carol"
        assert isinstance(app.screen, HomeScreen)


async def test_dial_then_cancel_with_c_shows_the_outcome_then_home(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        await pilot.press("enter")
        await until_shows(pilot, OutgoingScreen, "Media stage  joined", "Calling Bob…", "rings for 30s more")
        clock.advance(12)
        await until(pilot, lambda: "rings for 18s more" in screen_text(app), "the countdown to move")
        await pilot.press("c")
        await until_shows(pilot, EndedScreen, "You cancelled the call")
        await pilot.press("enter")
        await until_shows(pilot, HomeScreen, "You cancelled the call")  # in recent calls


async def test_escape_cancels_a_video_call_placed_from_the_v_key(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        await pilot.press("down", "v")  # Carol, video
        await until(pilot, lambda: "Calling Carol…" in screen_text(app), "the outgoing screen")
        assert "video call" in screen_text(app)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, EndedScreen), "the ended screen")


async def test_incoming_accept_media_keys_and_hang_up(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "bob", "bob-1")
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        caller, call_id = await call_from(simulator.url, "alice", 20002, "alice-bob")
        try:
            await until(pilot, lambda: "Incoming audio call from Alice" in screen_text(app), "the incoming call")
            assert isinstance(app.screen, IncomingScreen)
            assert "30s to answer" in screen_text(app)
            await pilot.press("a")
            await until(pilot, lambda: isinstance(app.screen, InCallScreen), "the in-call screen")
            await until(pilot, lambda: "In call with Alice" in screen_text(app), "ongoing")
            clock.advance(65)
            await until(pilot, lambda: "01:05" in screen_text(app), "the call timer")
            await pilot.press("n")
            await until(pilot, lambda: "poor" in screen_text(app), "the new network quality")
            await pilot.press("m")
            await until(pilot, lambda: "reconnecting" in screen_text(app), "the new media stage")
            state = await caller.call_state(call_id)
            assert state.status == "ongoing"
            await pilot.press("h")
            await until_shows(pilot, EndedScreen, "You hung up", "talk time 01:05")
            final = await caller.call_state(call_id)
            assert (final.status, final.end_reason) == ("ended", "local_hangup")
        finally:
            await caller.aclose()


async def test_reject_with_r(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "bob", "bob-1")
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        caller, call_id = await call_from(simulator.url, "alice", 20002, "alice-bob")
        try:
            await until(pilot, lambda: isinstance(app.screen, IncomingScreen), "the incoming call")
            await pilot.press("r")
            await until_shows(pilot, EndedScreen, "You declined the call")
            state = await caller.call_state(call_id)
            assert (state.status, state.end_reason) == ("rejected", "user_reject")
        finally:
            await caller.aclose()


async def test_incoming_closes_by_itself_when_the_caller_cancels(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "bob", "bob-1")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await signed_in(pilot)
        caller, call_id = await call_from(simulator.url, "alice", 20002, "alice-bob")
        try:
            await until(pilot, lambda: isinstance(app.screen, IncomingScreen), "the incoming call")
            await caller.cancel(call_id)
            await until_shows(pilot, EndedScreen, "Alice cancelled the call")
            await until(
                pilot,
                lambda: any("Alice cancelled the call" in n.message for n in app._notifications),
                "a notification saying why the incoming call closed",
            )
        finally:
            await caller.aclose()


async def test_sidebar_shows_the_timeline_and_ctrl_b_hides_it(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, OutgoingScreen), "the outgoing screen")
        sidebar = app.screen.query_one(TimelineSidebar)
        await until(pilot, lambda: "v1 calling resp" in screen_text(app), "the start response in the timeline")
        assert sidebar.display
        await pilot.press("ctrl+b")
        await until(pilot, lambda: not sidebar.display, "the sidebar to hide")
        await pilot.press("ctrl+b")
        await until(pilot, lambda: sidebar.display, "the sidebar to come back")


async def test_export_timeline_writes_a_file(
    simulator: ThreadedSimulator, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, OutgoingScreen), "the outgoing screen")
        await pilot.press("ctrl+e")
        exported = tmp_path / "softphone-timeline-call1-alice-1.txt"
        await until(pilot, exported.exists, "the exported file")
        lines = exported.read_text(encoding="utf-8").splitlines()
        # The push of v1 and the start response race; both are there, one marked duplicate.
        assert {"10:05:00 v1 calling response", "10:05:00 v1 calling push"} & set(lines)
        assert any(line.endswith("[duplicate] already applied") for line in lines)
        assert all(line.startswith("10:05:00 ") for line in lines)


async def test_busy_callee_is_a_readable_error(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    busy, _ = await call_from(simulator.url, "carol", 20002, "carol-bob")  # bob is ringing
    app = make_app(simulator.url, clock, "alice", "alice-1")
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await signed_in(pilot)
            await pilot.press("enter")  # Bob
            await until(
                pilot,
                lambda: any("41003 对方忙线" in n.message for n in app._notifications),
                "the server's code and message",
            )
            assert isinstance(app.screen, HomeScreen)
    finally:
        await busy.aclose()


async def test_unreachable_server_is_a_message_not_a_crash(clock: FakeClock) -> None:
    from .harness import free_port

    app = make_app(f"http://127.0.0.1:{free_port()}", clock, "alice", "alice-1")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: "cannot sign in" in screen_text(app), "the sign-in failure on the status line")
        assert any("cannot reach the server" in n.message for n in app._notifications)
        assert isinstance(app.screen, HomeScreen)


async def test_dial_option_places_a_call_at_start(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1", dial="dave", video=True)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "Calling Dave…" in screen_text(app), "the call placed by --dial")
        assert isinstance(app.screen, OutgoingScreen) and "video call" in screen_text(app)


async def test_palette_offers_dial_export_and_sidebar(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Dial Bob (audio)" in titles and "Dial Dave (video)" in titles
        assert "Export timeline" in titles and "Toggle timeline sidebar" in titles
        assert {"Dial by id", "Open a call by id", "Retry now"} <= set(titles)
        assert not any("Alice" in title for title in titles)
        dial_carol = next(c for c in app.get_system_commands(app.screen) if c.title == "Dial Carol (audio)")
        dial_carol.callback()
        await until(pilot, lambda: "Calling Carol…" in screen_text(app), "the palette's call")
        assert isinstance(app.screen, OutgoingScreen)


async def test_recent_calls_include_calls_from_before_this_run(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    earlier, call_id = await call_from(simulator.url, "dave", 10001, "dave-alice")
    await earlier.cancel(call_id)
    await earlier.aclose()
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        await until(pilot, lambda: "Dave cancelled the call" in screen_text(app), "the earlier call in recent calls")
        assert isinstance(app.screen, HomeScreen)
