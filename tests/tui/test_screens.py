"""Every screen and key of the softphone, driven by Pilot against a live simulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import Input

from softphone.api import CallType
from softphone.core import Source
from softphone.tui.screens.ended import EndedScreen
from softphone.tui.screens.home import HomeScreen
from softphone.tui.screens.in_call import InCallScreen
from softphone.tui.screens.incoming import IncomingScreen
from softphone.tui.screens.login import LoginScreen
from softphone.tui.screens.outgoing import OutgoingScreen
from softphone.tui.widgets.timeline import TimelineSidebar

from .harness import (
    SIZE,
    FakeClock,
    ThreadedSimulator,
    call_from,
    make_app,
    screen_text,
    session_of,
    signed_in,
    until,
    until_shows,
)


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
        await until(pilot, lambda: isinstance(app.screen, LoginScreen) and bool(app.screen.query(Input)), "the login screen")
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
        await until_shows(pilot, OutgoingScreen, "You  joined", "Calling Bob…", "rings for 30s more")
        clock.advance(12)
        await until(pilot, lambda: "rings for 18s more" in screen_text(app), "the countdown to move")
        await pilot.press("c")
        await until_shows(pilot, EndedScreen, "You cancelled the call")
        await pilot.press("enter")
        await until_shows(pilot, HomeScreen, "You cancelled the call")  # in recent calls


async def test_only_c_cancels_a_video_call_placed_from_the_v_key(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    """Escape and Enter do nothing on a ringing call: cancelling is for ``c`` (or a click) alone."""
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        await pilot.press("down", "v")  # Carol, video
        await until_shows(pilot, OutgoingScreen, "Calling Carol…", "video call", "You    joined")
        await pilot.press("escape", "enter")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, EndedScreen), "the ended screen")
        timeline = session_of(app).phone.calls[1].timeline
        assert [entry.detail for entry in timeline if entry.source is Source.LOCAL][-1] == "cancel"
        assert sum(entry.detail == "cancel" for entry in timeline) == 1


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
        await until(
            pilot,
            lambda: all(words in screen_text(app) for words in ("v1 calling", "resp", "rings 30s")),
            "the start response in the timeline, with what it said",
        )
        assert sidebar.display
        await pilot.press("ctrl+b")
        await until(pilot, lambda: not sidebar.display, "the sidebar to hide")
        await pilot.press("ctrl+b")
        await until(pilot, lambda: sidebar.display, "the sidebar to come back")


async def test_export_writes_a_bug_report_as_markdown_and_json(
    simulator: ThreadedSimulator, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await signed_in(pilot)
        await pilot.press("enter")
        await until_shows(pilot, OutgoingScreen, "You  joined")
        await pilot.press("ctrl+e")
        await until(pilot, lambda: len(list(tmp_path.glob("softphone-call1-alice-1-*"))) == 2, "both files")
        markdown = next(tmp_path.glob("*.md")).read_text(encoding="utf-8")
        report = json.loads(next(tmp_path.glob("*.json")).read_text(encoding="utf-8"))
        machine = session_of(app).phone.calls[1]
        secrets = [machine.rtc.token if machine.rtc else "", session_of(app).client.token or ""]
    head = report["report"]
    assert (head["user"], head["terminal_id"], head["peer"], head["call_type"], head["call_id"]) == (
        "Alice (alice #10001)", "alice-1", "Bob (#20002)", "audio", 1,
    )
    assert head["server"] == simulator.url and head["app_version"] and head["written_at"][-6] in "+-"
    for name in ("user", "terminal", "server", "peer", "call type", "call id", "app version", "written"):
        assert f"| {name} |" in markdown
    events = [record for record in report["events"] if record["kind"] == "event"]
    assert {"kind", "at", "call_id", "version", "status", "source"} <= set(events[0])
    assert {(e["version"], e["status"], e["source"]) for e in events} >= {(1, "calling", "response"), (1, "calling", "push")}
    (first_row,) = [line for line in markdown.splitlines() if "| v1 | calling |" in line]
    assert "resp" in first_row and "push" in first_row and "audio call · rings 30s" in first_row
    assert report["server_state"]["status"] == "calling" and report["server_state"]["call_id"] == 1
    assert "## Server state when written" in markdown and '"status": "calling"' in markdown
    assert report["errors"] == [] and "## Errors" in markdown
    for secret in filter(None, secrets):
        assert secret not in markdown and secret not in json.dumps(report)


async def test_busy_callee_is_a_readable_error(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    busy, _ = await call_from(simulator.url, "carol", 20002, "carol-bob")  # bob is ringing
    app = make_app(simulator.url, clock, "alice", "alice-1")
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await signed_in(pilot)
            await pilot.press("enter")  # Bob
            await until(
                pilot,
                lambda: any(n.message == "Bob is busy on another call (41003 对方忙线)" for n in app._notifications),
                "a sentence, then the server's code and message",
            )
            assert isinstance(app.screen, HomeScreen)
    finally:
        await busy.aclose()


async def test_glare_the_loser_sees_the_peer_calling_at_the_same_time(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    """Both call each other at once: Alice's call got there first, so Bob's is refused busy, and says why."""
    app = make_app(simulator.url, clock, "bob", "bob-1")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await signed_in(pilot)
        alice, _ = await call_from(simulator.url, "alice", 20002)
        try:
            app.dial("alice", CallType.AUDIO)  # Bob's call to Alice, at the same moment
            await until_shows(pilot, IncomingScreen, "Incoming audio call from Alice", "Alice is calling you at the same time")
            await until(
                pilot,
                lambda: any(n.message == "Alice is calling you at the same time (41003 对方忙线)" for n in app._notifications),
                "the refusal in words",
            )
        finally:
            await alice.aclose()


async def test_unreachable_server_is_a_message_not_a_crash(clock: FakeClock) -> None:
    from .harness import free_port

    app = make_app(f"http://127.0.0.1:{free_port()}", clock, "alice", "alice-1")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: "cannot sign in" in screen_text(app), "the sign-in failure on the status line")
        await until(pilot, lambda: any("cannot reach the server" in n.message for n in app._notifications), "the failure in a notification")
        assert isinstance(app.screen, HomeScreen)


async def test_dial_option_places_a_call_at_start(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1", dial="dave", video=True)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "Calling Dave…" in screen_text(app), "the call placed by --dial")
        assert isinstance(app.screen, OutgoingScreen) and "video call" in screen_text(app)


async def test_palette_offers_only_what_is_possible_now(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        commands = {command.title: command for command in app.get_system_commands(app.screen)}
        assert {"Dial Bob (audio)", "Dial Dave (video)", "Toggle timeline sidebar", "Quit"} <= set(commands)
        assert {"Dial by id", "Open a call by id"} <= set(commands)
        assert "Export bug report" not in commands  # no call yet
        assert "Retry now" not in commands  # nothing waits to be retried
        assert not any("Alice" in title for title in commands)
        assert commands["Dial Bob (audio)"].help == "Start an audio call to bob #20002"
        assert commands["Dial Bob (video)"].help == "Start a video call to bob #20002"
        commands["Dial Carol (audio)"].callback()
        await until_shows(pilot, OutgoingScreen, "Calling Carol…")
        during = [command.title for command in app.get_system_commands(app.screen)]
        assert not any(title.startswith("Dial ") for title in during)  # not in the middle of a call
        assert "Export bug report" in during


async def test_recent_calls_include_calls_from_before_this_run(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    earlier, call_id = await call_from(simulator.url, "dave", 10001, "dave-alice")
    await earlier.cancel(call_id)
    await earlier.aclose()
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        await until(pilot, lambda: "Dave cancelled the call" in screen_text(app), "the earlier call in recent calls")
        assert isinstance(app.screen, HomeScreen)
