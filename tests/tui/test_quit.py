"""Quitting mid-call leaves no call behind: ctrl+q and the palette's Quit ask, then end the call and quit.

The server's state is the judge: each test reads the call from the other party's side after the app
has gone. (SIGTERM and SIGHUP on a real process: ``tests/test_quit_signals.py``.)
"""

from __future__ import annotations

from softphone.api import CallClient, CallState
from softphone.tui.app import SoftphoneApp
from softphone.tui.screens.confirm import ConfirmScreen
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
    record_screens,
    run_from_palette,
    signed_in,
    until,
    until_shows,
)


async def _peer(url: str, user: str) -> CallClient:
    client = CallClient(url, terminal_id=f"{user}-headless")
    await client.login(user)
    return client


async def _until_over(peer: CallClient, call_id: int) -> CallState:
    """Poll the peer's view of the call until it is over; the app has quit, so no pilot to pause."""
    from support.server import wait_for

    final: list[CallState] = []

    async def over() -> bool:
        final[:] = [await peer.call_state(call_id)]
        return final[0].status in ("ended", "cancelled", "rejected")

    await wait_for(over, timeout=10)
    return final[0]


async def _answer(peer: CallClient, call_id: int) -> None:
    """Accept and join, as a phone does: the call is ``ongoing``."""
    await peer.accept(call_id)
    await peer.report_media(call_id, "joined", "good")


def _exited(app: SoftphoneApp) -> bool:
    return not app.is_running


async def test_ctrl_q_in_a_call_asks_and_no_keeps_the_call(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    bob = await _peer(simulator.url, "bob")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await signed_in(pilot)
            await pilot.press("enter")  # Bob
            await until(pilot, lambda: isinstance(app.screen, OutgoingScreen), "the outgoing screen")
            call_id = app.screen.call_id  # type: ignore[attr-defined]
            await _answer(bob, call_id)
            await until_shows(pilot, InCallScreen, "In call with Bob")
            await pilot.press("ctrl+q")
            await until_shows(pilot, ConfirmScreen, "Hang up and quit?", f"Quitting hangs up call {call_id} with Bob (ongoing).")
            await pilot.press("enter")  # "Stay" has the focus: a stray enter changes nothing
            await until(pilot, lambda: isinstance(app.screen, InCallScreen), "back in the call")
            await pilot.press("ctrl+q", "n")
            await until(pilot, lambda: isinstance(app.screen, InCallScreen), "back in the call again")
            assert app.is_running
            assert (await bob.call_state(call_id)).status == "ongoing"
    finally:
        await bob.aclose()


async def test_ctrl_q_then_yes_hangs_up_then_quits(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    bob = await _peer(simulator.url, "bob")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await signed_in(pilot)
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, OutgoingScreen), "the outgoing screen")
            call_id = app.screen.call_id  # type: ignore[attr-defined]
            await _answer(bob, call_id)
            await until_shows(pilot, InCallScreen, "In call with Bob")
            await pilot.press("ctrl+q")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
            await pilot.press("y")
            final = await _until_over(bob, call_id)
            await until(pilot, lambda: _exited(app), "the app to quit")
        assert (final.status, final.end_reason) == ("ended", "local_hangup")
        assert (final.ended_by_user_id, final.ended_by_terminal_id) == (10001, "alice-1")
    finally:
        await bob.aclose()


async def test_the_palettes_quit_while_ringing_cancels_then_quits(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    bob = await _peer(simulator.url, "bob")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await signed_in(pilot)
            await pilot.press("enter")
            await until_shows(pilot, OutgoingScreen, "Calling Bob…")
            call_id = app.screen.call_id  # type: ignore[attr-defined]
            await run_from_palette(pilot, "quit", "Quit")
            await until_shows(pilot, ConfirmScreen, f"Quitting cancels call {call_id} with Bob (calling).")
            await pilot.press("y")
            final = await _until_over(bob, call_id)
            await until(pilot, lambda: _exited(app), "the app to quit")
        assert (final.status, final.end_reason) == ("cancelled", "caller_cancel")
    finally:
        await bob.aclose()


async def test_quitting_while_a_call_rings_in_rejects_it(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "bob", "bob-1")
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        alice, call_id = await call_from(simulator.url, "alice", 20002, "alice-bob")
        try:
            await until(pilot, lambda: isinstance(app.screen, IncomingScreen), "the incoming call")
            await pilot.press("ctrl+q")
            await until_shows(pilot, ConfirmScreen, f"Quitting rejects call {call_id} with Alice (calling).")
            await pilot.press("y")
            final = await _until_over(alice, call_id)
            await until(pilot, lambda: _exited(app), "the app to quit")
        finally:
            await alice.aclose()
    assert (final.status, final.end_reason) == ("rejected", "user_reject")


async def test_ctrl_q_with_no_call_quits_at_once(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        assert isinstance(app.screen, HomeScreen)
        shown = record_screens(app)
        await pilot.press("ctrl+q")
        await until(pilot, lambda: _exited(app), "the app to quit")
    assert "ConfirmScreen" not in shown
