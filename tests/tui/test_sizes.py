"""Every size from 40×12 to 250 columns: nothing crashes, nothing important is cut, smaller says so.

Assertions read what the screen paints (``painted``), cell by cell, not what widgets hold.
"""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from softphone.api import CallClient
from softphone.tui.app import SoftphoneApp
from softphone.tui.screens.confirm import ConfirmScreen
from softphone.tui.screens.ended import EndedScreen
from softphone.tui.screens.home import HomeScreen
from softphone.tui.screens.in_call import InCallScreen
from softphone.tui.screens.incoming import IncomingScreen
from softphone.tui.screens.outgoing import OutgoingScreen
from softphone.tui.widgets.timeline import TimelineSidebar

from .harness import (
    FakeClock,
    ThreadedSimulator,
    call_from,
    make_app,
    painted,
    painted_lines,
    session_of,
    signed_in,
    until,
    until_shows,
)

SERVER_MESSAGE = "41006 已被其他终端接听 对方忙线 通话状态不允许此操作"


async def until_painted(pilot: Pilot[None], *words: str) -> None:
    app = pilot.app
    assert isinstance(app, SoftphoneApp)
    await until(pilot, lambda: all(word in painted(app) for word in words), f"the screen to show {words}")


async def talk(pilot: Pilot[None], app: SoftphoneApp, url: str) -> tuple[CallClient, int]:
    """Alice (the app) in a call with a headless Bob who answered and joined."""
    bob = CallClient(url, terminal_id="bob-headless")
    await bob.login("bob")
    await pilot.press("enter")
    await until(pilot, lambda: bool(session_of(app).phone.calls), "the call to start")
    call_id = next(iter(session_of(app).phone.calls))
    await bob.accept(call_id)
    await bob.report_media(call_id, "joined", "good")
    await until_shows(pilot, InCallScreen, "In call with Bob")
    return bob, call_id


@pytest.mark.parametrize("width", [80, 100, 120, 160])
async def test_chinese_messages_keep_every_character_where_a_toast_crosses_the_sidebar(
    simulator: ThreadedSimulator, clock: FakeClock, width: int
) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=(width, 24), notifications=True) as pilot:
        await signed_in(pilot)
        assert app.screen.query_one(TimelineSidebar).display
        app.show_error(SERVER_MESSAGE)
        await until(pilot, lambda: "41006" in painted(app), "the toast")
        toast = "".join(line.split("▌")[-1].strip() for line in painted_lines(app) if "▌" in line)
        for word in SERVER_MESSAGE.split():
            assert word in toast


async def test_chinese_messages_keep_every_character_over_a_dialog_too(
    simulator: ThreadedSimulator, clock: FakeClock
) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=(60, 12), notifications=True) as pilot:  # the toast crosses the question's edge
        await signed_in(pilot)
        app.push_screen(ConfirmScreen("Stop the background simulator?", "details", yes="Stop it", no="Keep it"))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        app.show_error(SERVER_MESSAGE)
        await until(pilot, lambda: "41006" in painted(app), "the toast")
        toast = "".join(line.split("▌")[-1].strip() for line in painted_lines(app) if "▌" in line)
        for word in SERVER_MESSAGE.split():
            assert word in toast


async def test_every_screen_at_40_by_12(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    """The smallest size drawn whole: each screen shows what it is for and its keys."""
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=(40, 12)) as pilot:
        await signed_in(pilot)
        await until_painted(pilot, "● connected", "Contacts", "Bob", "Audio call")
        bob = CallClient(simulator.url, terminal_id="bob-headless")
        await bob.login("bob")
        try:
            await pilot.press("enter")
            await until_shows(pilot, OutgoingScreen, "Calling Bob…")
            await until_painted(pilot, "Calling Bob…", "rings for 30s more", "You  joined", "Cancel  (c)")
            call_id = next(iter(session_of(app).phone.calls))
            await bob.accept(call_id)
            await bob.report_media(call_id, "joined", "good")
            await until_shows(pilot, InCallScreen, "In call with Bob")
            await until_painted(pilot, "In call with Bob", "You  joined", "Bob  joined", "Hang up (h)", "Quality (n)")
            await pilot.press("h")
            await until_shows(pilot, EndedScreen, "You hung up")
            await until_painted(pilot, "You hung up", "Back home")
            await pilot.press("enter")
            await until_shows(pilot, HomeScreen)
            await until_painted(pilot, "Recent calls")  # scrolled into view below the contacts if need be
        finally:
            await bob.aclose()
        caller, _ = await call_from(simulator.url, "carol", 10001)
        try:
            await until_shows(pilot, IncomingScreen, "Incoming audio call from Carol")
            await until_painted(pilot, "Incoming audio call from Carol", "Accept  (a)", "Reject  (r)")
        finally:
            await caller.aclose()


@pytest.mark.parametrize("size", [(39, 24), (80, 11), (20, 5)])
async def test_below_the_minimum_the_screen_says_it_is_too_small(
    simulator: ThreadedSimulator, clock: FakeClock, size: tuple[int, int]
) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=size) as pilot:
        await signed_in(pilot)
        await until_painted(pilot, "Terminal too small")
        assert "Contacts" not in painted(app) and "connected" not in painted(app)
        await pilot.resize_terminal(80, 24)
        await until_painted(pilot, "Contacts", "● connected")
        assert "too small" not in painted(app)


async def test_a_ringing_call_on_a_too_small_terminal_says_so_too(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "bob", "bob-1")
    async with app.run_test(size=(36, 10)) as pilot:
        await signed_in(pilot)
        caller, _ = await call_from(simulator.url, "alice", 20002)
        try:
            await until(pilot, lambda: isinstance(app.screen, IncomingScreen), "the incoming call")
            await until_painted(pilot, "Terminal too small")
            assert "Accept" not in painted(app)
        finally:
            await caller.aclose()


async def test_the_timeline_collapses_by_itself_and_ctrl_b_still_toggles_it(
    simulator: ThreadedSimulator, clock: FakeClock
) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=(80, 24)) as pilot:
        await signed_in(pilot)
        sidebar = app.screen.query_one(TimelineSidebar)
        await until(pilot, lambda: sidebar.display and "Timeline" in painted(app), "the timeline beside the contacts")
        await pilot.resize_terminal(79, 24)
        await until(pilot, lambda: not sidebar.display, "the timeline to collapse by itself")
        await pilot.press("ctrl+b")  # asked for on a narrow terminal: it takes the whole width
        await until(pilot, lambda: sidebar.display and "Contacts" not in painted(app), "the timeline alone")
        await pilot.press("ctrl+b")
        await until(pilot, lambda: not sidebar.display and "Contacts" in painted(app), "the contacts back")
        await pilot.resize_terminal(160, 40)
        await pilot.pause()
        assert not sidebar.display  # the last ctrl+b holds at any width
        await pilot.press("ctrl+b")
        await until(pilot, lambda: sidebar.display and "Contacts" in painted(app), "both side by side")


@pytest.mark.parametrize("size", [(60, 20), (80, 24)])
async def test_in_call_buttons_and_both_sides_stay_in_view(
    simulator: ThreadedSimulator, clock: FakeClock, size: tuple[int, int]
) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=size) as pilot:
        await signed_in(pilot)
        bob, _ = await talk(pilot, app, simulator.url)
        try:
            await until_painted(pilot, "Hang up (h)", "Stage (m)", "Quality (n)", "You  joined", "Bob  joined")
        finally:
            await bob.aclose()


async def test_recent_calls_stay_one_line_each(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=(40, 16)) as pilot:
        await signed_in(pilot)
        bob, call_id = await talk(pilot, app, simulator.url)
        await bob.hangup(call_id)
        await bob.aclose()
        await until_shows(pilot, EndedScreen, "Bob hung up")
        await pilot.press("enter")
        await until_shows(pilot, HomeScreen)
        await until_painted(pilot, "↗ Bob")
        lines = painted_lines(app)
        (row,) = [index for index, line in enumerate(lines) if "↗ Bob" in line]
        assert "05 Jul 10:05" in lines[row] and lines[row].rstrip().endswith("…")
        assert "00:00" not in lines[row + 1]  # cut short, not wrapped onto the next line


async def test_250_columns(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=(250, 50)) as pilot:
        await signed_in(pilot)
        bob, _ = await talk(pilot, app, simulator.url)
        try:
            await until_painted(pilot, "Hang up (h)", "Bob  joined", "Timeline · call 1", "talk started")
        finally:
            await bob.aclose()


@pytest.mark.parametrize("size", [(120, 40), (60, 20)])
async def test_a_new_screen_is_styled_once_its_widgets_have_mounted(
    simulator: ThreadedSimulator, clock: FakeClock, size: tuple[int, int]
) -> None:
    """The classes of its size (breakpoints, whether the timeline shows) are there before its widgets mount.

    Textual styles a screen and all its widgets again on every class the screen gets afterwards; given
    once its widgets were styled, the size classes and the sidebar's cost two more passes over every
    widget of every new screen (a tenth of the CPU of showing a call). Only its resume restyles it.
    """
    app = make_app(simulator.url, clock, "alice", "alice-1")
    restyled: list[object] = []
    update_styles = app.update_styles

    def record(node: object, animate: bool = True) -> None:
        restyled.append(node)
        update_styles(node, animate)  # type: ignore[arg-type]

    app.update_styles = record  # type: ignore[method-assign]
    async with app.run_test(size=size) as pilot:
        await signed_in(pilot)
        home = app.screen
        assert isinstance(home, HomeScreen)
        assert sum(node is home for node in restyled) <= 1
        await pilot.press("enter")  # Bob, the first contact
        await until_shows(pilot, OutgoingScreen, "Calling Bob")
        await pilot.pause()
        outgoing = app.screen
        assert sum(node is outgoing for node in restyled) <= 1
        assert {"-with-sidebar", "-wide" if size[0] >= 120 else "-narrow"} & outgoing.classes
