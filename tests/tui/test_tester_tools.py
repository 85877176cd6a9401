"""What a tester needs at hand: the call id (seen and copied), the bell, and the background simulator."""

from __future__ import annotations

import os

import pytest
from support.server import ServerFactory

from softphone import background
from softphone.api import SimulatorInfo
from softphone.tui.app import SoftphoneApp
from softphone.tui.screens.base import PhoneScreen
from softphone.tui.screens.confirm import ConfirmScreen
from softphone.tui.screens.ended import EndedScreen
from softphone.tui.screens.home import HomeScreen
from softphone.tui.screens.in_call import InCallScreen
from softphone.tui.screens.incoming import IncomingScreen
from softphone.tui.screens.outgoing import OutgoingScreen
from softphone.tui.simulator import LocalSimulator

from .harness import (
    FROZEN_AT,
    SIZE,
    FakeClock,
    ThreadedSimulator,
    call_from,
    make_app,
    run_from_palette,
    screen_text,
    signed_in,
    until,
    until_shows,
)


def _notified(app: SoftphoneApp, words: str) -> bool:
    return any(words in notification.message for notification in app._notifications)


def _call_id_line(app: SoftphoneApp) -> str:
    return str(app.screen.query_one("#call-id").render())


def _footer_keys(app: SoftphoneApp) -> set[str]:
    return {binding.key for (_, binding, enabled, _) in app.screen.active_bindings.values() if enabled}


async def test_every_call_screen_shows_the_call_id_and_y_copies_it(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "bob", "bob-1")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await signed_in(pilot)
        assert "y" not in _footer_keys(app)  # Home has no call to copy
        alice, call_id = await call_from(simulator.url, "alice", 20002, "alice-bob")
        try:
            await until(pilot, lambda: isinstance(app.screen, IncomingScreen), "the incoming call")
            assert f"Call id {call_id}" in _call_id_line(app) and "y" in _footer_keys(app)
            await pilot.press("y")
            await until(pilot, lambda: _notified(app, f"Call id {call_id} copied"), "the confirmation")
            assert app.clipboard == str(call_id)
            app.copy_to_clipboard("")
            await pilot.press("a")
            await until(pilot, lambda: isinstance(app.screen, InCallScreen), "the in-call screen")
            assert f"Call id {call_id}" in _call_id_line(app)
            await run_from_palette(pilot, "copy call", "Copy call id")
            await until(pilot, lambda: app.clipboard == str(call_id), "the id copied from the palette")
            await pilot.press("h")
            await until(pilot, lambda: isinstance(app.screen, EndedScreen), "the ended screen")
            assert f"Call id {call_id}" in _call_id_line(app)
        finally:
            await alice.aclose()


async def test_the_outgoing_screen_shows_the_call_id(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        await pilot.press("enter")
        await until_shows(pilot, OutgoingScreen, "Calling Bob…")
        screen = app.screen
        assert isinstance(screen, PhoneScreen)
        assert f"Call id {screen.call_id}" in _call_id_line(app)
        titles = [command.title for command in app.get_system_commands(screen)]
        assert "Copy call id" in titles


@pytest.mark.parametrize("bell", [True, False], ids=["bell", "no-bell"])
async def test_an_incoming_call_rings_the_bell_once_unless_silenced(
    simulator: ThreadedSimulator, clock: FakeClock, bell: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(simulator.url, clock, "bob", "bob-1", bell=bell)
    rang: list[str] = []
    monkeypatch.setattr(app, "bell", lambda: rang.append(type(app.screen).__name__))
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        await pilot.press("enter")  # an outgoing call never rings here
        await until(pilot, lambda: isinstance(app.screen, OutgoingScreen), "the outgoing screen")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, EndedScreen), "the ended screen")
        await pilot.press("enter")
        assert rang == []
        alice, _ = await call_from(simulator.url, "alice", 20002, "alice-bob")
        try:
            await until(pilot, lambda: isinstance(app.screen, IncomingScreen), "the incoming call")
            await pilot.pause()
            assert rang == (["HomeScreen"] if bell else [])
        finally:
            await alice.aclose()


async def test_the_status_line_names_the_simulator(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    background = make_app(simulator.url, clock, "alice", "alice-1", background_port=simulator.port)
    async with background.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        assert f"background simulator 127.0.0.1:{simulator.port}" in screen_text(background)
        assert simulator.url not in screen_text(background)
    other = make_app(simulator.url, clock, "alice", "alice-2")
    async with other.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        assert simulator.url in screen_text(other) and "background simulator" not in screen_text(other)
        titles = [command.title for command in other.get_system_commands(other.screen)]
        assert not any(title.startswith("Simulator:") for title in titles)  # not the local one: hands off


async def test_the_palette_shows_the_background_simulator_and_resets_it(
    simulator: ThreadedSimulator, clock: FakeClock
) -> None:
    app = make_app(simulator.url, clock, "bob", "bob-1", background_port=simulator.port)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await signed_in(pilot)
        await run_from_palette(pilot, "simulator status", "Simulator: status")
        await until(pilot, lambda: _notified(app, f"A simulator is running at {simulator.url}"), "the status")
        assert _notified(app, "live calls  0")
        alice, call_id = await call_from(simulator.url, "alice", 20002, "alice-bob")
        try:
            await until(pilot, lambda: isinstance(app.screen, IncomingScreen), "the incoming call")
            await run_from_palette(pilot, "simulator reset", "Simulator: reset")
            await until_shows(pilot, ConfirmScreen, "End every live call on the simulator?")
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.screen, IncomingScreen), "the question gone, nothing changed")
            assert (await alice.call_state(call_id)).status == "calling"
            await run_from_palette(pilot, "simulator reset", "Simulator: reset")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question again")
            await pilot.press("y")
            await until(pilot, lambda: _notified(app, "Ended 1 live call(s) as abandoned."), "the reset's answer")
            await until(pilot, lambda: isinstance(app.screen, EndedScreen), "the call ended, pushed")
            state = await alice.call_state(call_id)
            assert (state.status, state.end_reason) == ("ended", "abandoned")
        finally:
            await alice.aclose()


async def test_the_palette_stops_the_background_simulator_after_asking(
    server_factory: ServerFactory, clock: FakeClock
) -> None:
    """A real process: stopping sends it SIGTERM (the threaded simulator shares the test's pid)."""
    server = server_factory()
    app = make_app(server.base_url, clock, "alice", "alice-1", background_port=server.port)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await signed_in(pilot)
        await run_from_palette(pilot, "simulator stop", "Simulator: stop")
        await until_shows(pilot, ConfirmScreen, "Stop the background simulator?")
        await pilot.press("y")
        await until(pilot, lambda: _notified(app, f"Stopped the simulator at {server.base_url}"), "the answer", 20)
        # It stops answering before its process has exited: wait for that too.
        await until(pilot, lambda: not server.running, "the simulator's process to end")
        await until(pilot, lambda: app.status.connection != "connected", "the phone to notice")
        assert isinstance(app.screen, HomeScreen)


async def test_copy_is_offered_only_where_there_is_a_call(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Copy call id" not in titles and "Network faults…" in titles
        await pilot.press("y")
        assert app.clipboard == ""



def test_a_simulator_gone_before_it_could_be_stopped_is_said_in_words(monkeypatch: pytest.MonkeyPatch) -> None:
    info = SimulatorInfo(pid=4242, database="softphone.db", started_at=FROZEN_AT, live_calls={})
    monkeypatch.setattr(background, "find", lambda url, port: background.RunningSimulator(url, port, info, None))
    monkeypatch.setattr(background, "stop", lambda running: os.kill(2**22 + 1, 0))  # no such process
    words = LocalSimulator(8799).stop()
    assert words == "Could not stop the simulator at http://127.0.0.1:8799 (pid 4242): No such process."
