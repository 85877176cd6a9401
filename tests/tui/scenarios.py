"""Scripted moments of the softphone, shared by the snapshot tests and ``make screenshots``.

Each scenario gets a live simulator and the shared fake clock, returns the app to show, and a
``run_before`` coroutine that drives it (and any headless peer) to the moment worth a picture. Each
is taken at every size of ``SIZES`` unless ``ONLY_AT`` names its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from support.wire import state
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Button, Input, Static

from softphone.api import (
    AcceptData,
    Action,
    CallClient,
    CallMedia,
    CallStatusData,
    CallType,
    FaultSettings,
    MediaStateData,
    PartyMedia,
)
from softphone.core import CallMachine, Role, Source
from softphone.demo import Cast, DemoGuide, guide_words
from softphone.launch import DEFAULT_PORT
from softphone.tui.adapter import SessionAdapter
from softphone.tui.app import SoftphoneApp
from softphone.tui.screens.by_id import DialByIdScreen, OpenCallScreen
from softphone.tui.screens.confirm import ConfirmScreen
from softphone.tui.screens.ended import EndedScreen
from softphone.tui.screens.faults import FaultsScreen
from softphone.tui.screens.in_call import InCallScreen
from softphone.tui.screens.incoming import IncomingScreen
from softphone.tui.screens.login import LoginScreen, TokenScreen
from softphone.tui.widgets.timeline import TimelineSidebar

from .harness import FakeClock, make_app, painted, screen_text, session_of, signed_in, until

RunBefore = Callable[[Pilot[None]], Awaitable[None]]
Size = tuple[int, int]

SIZES: list[Size] = [(60, 20), (80, 24), (120, 36)]
"""Every screen is a snapshot at each of these sizes."""


@dataclass(frozen=True)
class Scenario:
    name: str
    app: App[None]
    run_before: RunBefore
    # The timeline names the sources of a version in arrival order (resp+push or push+resp), which
    # races; regression snapshots hide it where that order could differ, screenshots always show it.
    deterministic_sidebar: bool


DEFAULT_SERVER = "http://127.0.0.1:8765"


async def ready(pilot: Pilot[None]) -> None:
    """Signed in; from then on the status line shows the default server, not this run's free port.

    Done before any modal opens: a screen under a modal may keep its old picture for a while.
    """
    await signed_in(pilot)
    app = pilot.app
    assert isinstance(app, SoftphoneApp)
    app.status = replace(app.status, server=DEFAULT_SERVER)


async def _peer(url: str, user: str) -> CallClient:
    client = CallClient(url, terminal_id=f"{user}-peer")
    await client.login(user)
    return client


async def _ring(caller: CallClient, callee_id: int) -> int:
    directory = await caller.directory()
    callee = next(u for u in directory.users if u.user_id == callee_id)
    assert callee.conversation_id is not None
    return (await caller.start_call(callee.conversation_id, callee.user_id, "audio")).call_id


def home(url: str, clock: FakeClock) -> Scenario:
    app = make_app(url, clock, "alice", "alice-laptop")
    return Scenario("home", app, ready, deterministic_sidebar=True)


def login(url: str, clock: FakeClock) -> Scenario:
    # Nothing is sent before the name is entered, so the default server can be named from the start.
    app = make_app(DEFAULT_SERVER, clock, None, "new-terminal")

    async def run_before(pilot: Pilot[None]) -> None:
        await until(pilot, lambda: isinstance(app.screen, LoginScreen) and bool(app.screen.query(Input)), "the login screen")
        field = app.screen.query_one(Input)
        field.cursor_blink = False
        await pilot.press(*"bob")

    return Scenario("login", app, run_before, deterministic_sidebar=True)


def outgoing(url: str, clock: FakeClock) -> Scenario:
    app = make_app(url, clock, "alice", "alice-laptop")

    async def run_before(pilot: Pilot[None]) -> None:
        await ready(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: "You  joined" in screen_text(app), "alice calling, channel joined")
        clock.advance(7)
        # Each line that depends on the time ticks by itself: wait for both.
        await until(
            pilot,
            lambda: "rings for 23s more" in screen_text(app) and "(1h59m)" in screen_text(app),
            "the ring countdown and the token's expiry",
        )

    return Scenario("outgoing", app, run_before, deterministic_sidebar=False)


def incoming(url: str, clock: FakeClock) -> Scenario:
    app = make_app(url, clock, "bob", "bob-desk")

    async def run_before(pilot: Pilot[None]) -> None:
        await ready(pilot)
        alice = await _peer(url, "alice")
        await _ring(alice, 20002)
        await until(pilot, lambda: isinstance(app.screen, IncomingScreen), "the incoming call")
        clock.advance(4)
        await until(pilot, lambda: "26s to answer" in screen_text(app), "the countdown")
        await alice.aclose()

    return Scenario("incoming", app, run_before, deterministic_sidebar=True)


async def _talk(pilot: Pilot[None], app: SoftphoneApp, url: str, clock: FakeClock) -> CallClient:
    """Alice (the app) calls Bob, a headless peer who answers and joins; a minute passes; Bob's network worsens."""
    await ready(pilot)
    bob = await _peer(url, "bob")
    await pilot.press("enter")
    await until(pilot, lambda: bool(session_of(app).phone.calls), "the call to start")
    call_id = next(iter(session_of(app).phone.calls))
    await bob.accept(call_id)
    await bob.report_media(call_id, "joined", "good")
    await until(pilot, lambda: isinstance(app.screen, InCallScreen) and "In call" in screen_text(app), "in call")
    clock.advance(83)
    await bob.report_media(call_id, "reconnecting", "bad")
    await until(pilot, lambda: "Bob  reconnecting" in screen_text(app), "both sides' media")
    await pilot.press("n")
    await until(
        pilot,
        lambda: all(words in screen_text(app) for words in ("poor", "01:23", "(1h58m)")),
        "quality, timer and token expiry",
    )
    return bob


def in_call(url: str, clock: FakeClock) -> Scenario:
    app = make_app(url, clock, "alice", "alice-laptop")

    async def run_before(pilot: Pilot[None]) -> None:
        bob = await _talk(pilot, app, url, clock)
        await bob.aclose()

    return Scenario("in_call", app, run_before, deterministic_sidebar=False)


def ended(url: str, clock: FakeClock) -> Scenario:
    app = make_app(url, clock, "alice", "alice-laptop")

    async def run_before(pilot: Pilot[None]) -> None:
        bob = await _talk(pilot, app, url, clock)
        clock.advance(12)
        await bob.hangup(next(iter(session_of(app).phone.calls)))
        await until(pilot, lambda: isinstance(app.screen, EndedScreen) and "Bob hung up" in screen_text(app), "ended")
        await bob.aclose()

    return Scenario("ended", app, run_before, deterministic_sidebar=False)


def answered_elsewhere(url: str, clock: FakeClock) -> Scenario:
    app = make_app(url, clock, "bob", "bob-phone")

    async def run_before(pilot: Pilot[None]) -> None:
        await ready(pilot)
        alice = await _peer(url, "alice")
        desk = CallClient(url, terminal_id="bob-desk")
        await desk.login("bob")
        call_id = await _ring(alice, 20002)
        await until(pilot, lambda: isinstance(app.screen, IncomingScreen), "the incoming call")
        await desk.accept(call_id)
        await until(pilot, lambda: "Answered on another terminal" in screen_text(app), "answered elsewhere")
        await alice.aclose()
        await desk.aclose()

    return Scenario("answered_elsewhere", app, run_before, deterministic_sidebar=True)


def quit_question(url: str, clock: FakeClock) -> Scenario:
    app = make_app(url, clock, "alice", "alice-laptop")

    async def run_before(pilot: Pilot[None]) -> None:
        bob = await _talk(pilot, app, url, clock)
        # Hidden before the question: a screen under a modal may keep its old picture for a while, and
        # the sidebar's order of responses and pushes races.
        app.sidebar_choice = False
        await until(pilot, lambda: "Timeline ·" not in painted(app), "the sidebar hidden on screen")
        await pilot.press("ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and "Hang up and quit?" in screen_text(app), "the question")
        await bob.aclose()

    return Scenario("quit_question", app, run_before, deterministic_sidebar=True)


def network_faults(url: str, clock: FakeClock) -> Scenario:
    app = make_app(url, clock, "alice", "alice-laptop")

    async def run_before(pilot: Pilot[None]) -> None:
        await ready(pilot)
        carol = await _peer(url, "carol")
        await carol.set_faults(FaultSettings(seed=7))  # the seed the dialog shows
        await carol.aclose()
        app.action_network_faults()
        await until(pilot, lambda: isinstance(app.screen, FaultsScreen) and "(seed 7)" in screen_text(app), "the dialog")
        preset = app.screen.query_one("#preset-0", Button)
        preset.press()
        await until(pilot, lambda: "Now: push-drop=0.3" in screen_text(app), "the bad network on")
        # A pressed button looks pressed for a moment: picture it after that, or the shade races.
        await until(pilot, lambda: not preset.has_class("-active"), "the button to look released")

    return Scenario("network_faults", app, run_before, deterministic_sidebar=True)


def token_refused(url: str, clock: FakeClock) -> Scenario:
    app = make_app(url, clock, None, "new-terminal", token="expired-token-0123456789")

    async def run_before(pilot: Pilot[None]) -> None:
        await until(pilot, lambda: isinstance(app.screen, TokenScreen) and "refused" in screen_text(app), "asked again")
        # This run's free port, named twice, shown as the default server's.
        app.status = replace(app.status, server=DEFAULT_SERVER)
        app.screen.query_one(".subline", Static).update(f"Signing in to {DEFAULT_SERVER}")
        for field in app.screen.query(Input):
            field.cursor_blink = False

    return Scenario("token_refused", app, run_before, deterministic_sidebar=True)


def dial_by_id(url: str, clock: FakeClock) -> Scenario:
    app = make_app(url, clock, "alice", "alice-laptop")

    async def run_before(pilot: Pilot[None]) -> None:
        await ready(pilot)
        await pilot.press("i")
        await until(pilot, lambda: isinstance(app.screen, DialByIdScreen) and bool(app.screen.query(Input)), "the dialog")
        for field in app.screen.query(Input):
            field.cursor_blink = False
        await pilot.press(*"20002", "tab", *"252487239")

    return Scenario("dial_by_id", app, run_before, deterministic_sidebar=True)


def open_call_by_id(url: str, clock: FakeClock) -> Scenario:
    app = make_app(url, clock, "alice", "alice-laptop")

    async def run_before(pilot: Pilot[None]) -> None:
        await ready(pilot)
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, OpenCallScreen) and bool(app.screen.query(Input)), "the dialog")
        app.screen.query_one(Input).cursor_blink = False
        await pilot.press("0", "enter")  # not a call id: the dialog says so, inline
        await until(pilot, lambda: "whole number above 0" in screen_text(app), "the inline error")

    return Scenario("open_call_by_id", app, run_before, deterministic_sidebar=True)


def _simulator_question(name: str, ask: Callable[[SoftphoneApp], None], question: str) -> ScenarioFactory:
    """A phone on the local background simulator (the default port, so the status line is the same every
    run), asked from the palette to stop or reset it: the confirmation, before anything is done."""

    def make(url: str, clock: FakeClock) -> Scenario:
        app = make_app(url, clock, "alice", "alice-laptop", background_port=DEFAULT_PORT)

        async def run_before(pilot: Pilot[None]) -> None:
            await signed_in(pilot)
            ask(app)
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and question in screen_text(app), question)

        return Scenario(name, app, run_before, deterministic_sidebar=True)

    make.__name__ = name
    return make


sim_stop_question = _simulator_question("sim_stop_question", SoftphoneApp.action_sim_stop, "Stop the background simulator?")
sim_reset_question = _simulator_question(
    "sim_reset_question", SoftphoneApp.action_sim_reset, "End every live call on the simulator?"
)


def _incoming_then(app: SoftphoneApp, url: str, clock: FakeClock, *, unreachable: bool) -> RunBefore:
    async def run_before(pilot: Pilot[None]) -> None:
        await ready(pilot)
        alice = await _peer(url, "alice")
        await _ring(alice, 20002)
        await until(pilot, lambda: isinstance(app.screen, IncomingScreen), "the incoming call")
        clock.advance(4)
        await until(pilot, lambda: "26s to answer" in screen_text(app), "the countdown")
        await alice.aclose()
        if unreachable:
            # What the push stream says when the server stops answering (the outage tests kill a real one).
            app.post_message(SessionAdapter.ConnectionChanged("unreachable", "the server does not answer"))
            await until(pilot, lambda: "cannot answer right now" in screen_text(app), "the words for an outage")
            # The screen under the modal repaints its status line in a turn of its own: picture it after that.
            await until(pilot, lambda: "unreachable" in painted(app).splitlines()[0], "the status line under it")

    return run_before


def incoming_unreachable(url: str, clock: FakeClock) -> Scenario:
    app = make_app(url, clock, "bob", "bob-desk")
    return Scenario("incoming_unreachable", app, _incoming_then(app, url, clock, unreachable=True), deterministic_sidebar=True)


def incoming_narrow(url: str, clock: FakeClock) -> Scenario:
    app = make_app(url, clock, "bob", "bob-desk")
    run_before = _incoming_then(app, url, clock, unreachable=False)
    return Scenario("incoming_narrow", app, run_before, deterministic_sidebar=True)


def glare(url: str, clock: FakeClock) -> Scenario:
    """Alice and Bob call each other at once; Alice's call got there first."""
    app = make_app(url, clock, "bob", "bob-desk")

    async def run_before(pilot: Pilot[None]) -> None:
        await ready(pilot)
        # Bob's phone may learn of Alice's call from its push or from asking the server why its own was
        # busy, so the timeline's order races: hidden before the modal opens over it.
        app.sidebar_choice = False
        await until(pilot, lambda: "No call yet." not in painted(app), "the sidebar hidden on screen")
        alice = await _peer(url, "alice")
        await _ring(alice, 20002)
        app.dial("alice", CallType.AUDIO)
        await until(pilot, lambda: "at the same time" in screen_text(app), "the crossing calls")
        await alice.aclose()

    return Scenario("glare", app, run_before, deterministic_sidebar=True)


def demo(url: str, clock: FakeClock) -> Scenario:
    """``make demo``'s home screen: what each simulated person does, and how to get a call in."""
    banner, roles = guide_words(Cast.around("alice"), answer_after=2)
    app = make_app(url, clock, "alice", "alice-laptop", demo=DemoGuide(banner, roles, "Bob", lambda: None))

    async def run_before(pilot: Pilot[None]) -> None:
        await ready(pilot)
        await until(pilot, lambda: "never answers" in painted(app), "the cast beside the contacts")

    return Scenario("demo", app, run_before, deterministic_sidebar=True)


def too_small(url: str, clock: FakeClock) -> Scenario:
    app = make_app(url, clock, "alice", "alice-laptop")

    async def run_before(pilot: Pilot[None]) -> None:
        await ready(pilot)
        await until(pilot, lambda: "Terminal too small" in painted(app), "the too-small message")

    return Scenario("too_small", app, run_before, deterministic_sidebar=True)


def _at(second: int) -> datetime:
    return datetime(2026, 7, 5, 10, 5, second, tzinfo=UTC)


class TimelineApp(App[None]):
    """One sidebar telling a callee's call with every kind of row: merged sources, a gap, stale, an error."""

    def compose(self) -> ComposeResult:
        yield TimelineSidebar()

    def on_mount(self) -> None:
        machine = CallMachine(5001, my_user_id=20002, my_terminal_id="bob-1", role=Role.CALLEE, peer_user_id=10001,
                              peer_name="Alice")
        joined = CallMedia(caller=PartyMedia(stage="joined", network_quality="good")).model_dump(mode="json")
        machine.apply(state(1, "calling", timeout_seconds=30), Source.PUSH, _at(0))
        machine.record_action(Action.ACCEPT, _at(3))
        accept = AcceptData(call_id=5001, status="accepted", channel_name="call_5001_1001", app_id="app",
                            callee_uid="20002", rtc_token="t", version=2)
        machine.apply(accept, Source.RESPONSE, _at(3))
        machine.apply(state(2, "accepted", accepted_terminal_id="bob-1", media=joined), Source.PUSH, _at(3))
        machine.apply(state(1, "calling"), Source.POLL, _at(4))
        machine.apply(MediaStateData(call_id=5001, status="ongoing", version=5), Source.PUSH, _at(5))
        machine.apply(state(5, "ongoing", accepted_terminal_id="bob-1", media=joined), Source.RESYNC, _at(6))
        machine.record_error(Action.REJECT, 41002, "通话状态不允许此操作", _at(7))
        machine.apply(CallStatusData(call_id=5001, status="ended", end_reason="local_hangup", version=6),
                      Source.PUSH, _at(9))
        machine.apply(CallStatusData(call_id=5001, status="ended", end_reason="local_hangup", version=6),
                      Source.PUSH, _at(9))
        self.query_one(TimelineSidebar).show(machine)


def timeline(url: str, clock: FakeClock) -> Scenario:
    async def run_before(pilot: Pilot[None]) -> None:
        await pilot.pause()

    return Scenario("timeline", TimelineApp(), run_before, deterministic_sidebar=True)


ScenarioFactory = Callable[[str, FakeClock], Scenario]

ALL: list[ScenarioFactory] = [
    home, login, outgoing, incoming, in_call, ended, answered_elsewhere, quit_question, network_faults,
    token_refused, dial_by_id, open_call_by_id, sim_stop_question, sim_reset_question, incoming_unreachable,
    incoming_narrow, glare, demo, too_small, timeline,
]  # fmt: skip
ONLY_AT: dict[ScenarioFactory, list[Size]] = {
    too_small: [(36, 10)],
    timeline: [(48, 24)],
    incoming_narrow: [(46, 20)],
}
"""Scenarios about one size: the too-small message, the timeline on its own, a narrow ringing call."""


def sizes_of(make: ScenarioFactory) -> list[Size]:
    return ONLY_AT.get(make, SIZES)
