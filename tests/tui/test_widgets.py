"""The timeline sidebar and the media panel on their own, fed by a call machine built by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from support.wire import state
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets._footer import FooterKey

from softphone.api import AcceptData, CallMedia, PartyMedia
from softphone.core import CallMachine, Role, Source
from softphone.tui.widgets.footer import KeyFooter
from softphone.tui.widgets.media import MediaPanel
from softphone.tui.widgets.timeline import TimelineSidebar

from .harness import until

T0 = datetime(2026, 7, 5, 10, 5, 0, tzinfo=UTC)


def callee() -> CallMachine:
    return CallMachine(5001, my_user_id=20002, my_terminal_id="bob-1", role=Role.CALLEE, peer_user_id=10001, peer_name="Alice")


def answered(media: CallMedia | None) -> CallMachine:
    machine = callee()
    machine.apply(state(1, "calling"), Source.PUSH, T0)
    accept = AcceptData(call_id=5001, status="accepted", channel_name="call_5001_1001", app_id="app",
                        callee_uid="20002", rtc_token="t", version=2)
    machine.apply(accept, Source.RESPONSE, T0)
    fields = {"media": media.model_dump(mode="json")} if media is not None else {}
    machine.apply(state(3, "ongoing", accepted_terminal_id="bob-1", **fields), Source.PUSH, T0)
    machine.record_media("joined", "good")
    return machine


class One(App[None]):
    def __init__(self, widget: TimelineSidebar | MediaPanel) -> None:
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget


def text_of(panel: MediaPanel) -> str:
    return str(panel.sides.render())


async def test_the_media_panel_shows_both_sides_from_the_servers_media() -> None:
    machine = answered(CallMedia(caller=PartyMedia(stage="reconnecting", network_quality="poor"),
                                 callee=PartyMedia(stage="joined", network_quality="good")))
    panel = MediaPanel(lambda: T0)
    async with One(panel).run_test() as pilot:
        panel.show(machine)
        await pilot.pause()
        lines = text_of(panel).splitlines()
        assert lines[0].startswith("You") and "joined · ▂▄▆  good" in lines[0]
        assert lines[1].startswith("Alice") and "reconnecting · ▂▄   poor" in lines[1]


async def test_the_peer_who_has_not_reported_is_not_joined_yet() -> None:
    panel = MediaPanel(lambda: T0)
    async with One(panel).run_test() as pilot:
        panel.show(answered(CallMedia()))
        await pilot.pause()
        assert text_of(panel).splitlines()[1].split() == ["Alice", "not", "joined", "yet"]


async def test_without_the_servers_media_the_panel_shows_yours_alone() -> None:
    """A server with only the documented fields says nothing of the other side."""
    panel = MediaPanel(lambda: T0)
    async with One(panel).run_test() as pilot:
        panel.show(answered(None))
        await pilot.pause()
        (line,) = text_of(panel).splitlines()
        assert line.startswith("You") and "joined" in line


def long_call() -> CallMachine:
    machine = callee()
    machine.apply(state(1, "calling"), Source.PUSH, T0)
    for version in range(2, 40):
        machine.apply(state(version, "ongoing"), Source.PUSH, T0 + timedelta(seconds=version))
    return machine


async def test_the_timeline_follows_the_newest_row_only_while_at_the_end() -> None:
    sidebar = TimelineSidebar()
    machine = long_call()
    async with One(sidebar).run_test(size=(40, 12)) as pilot:
        sidebar.show(machine)
        await until(pilot, lambda: sidebar.max_scroll_y > 0 and sidebar.is_vertical_scroll_end, "following the end")
        sidebar.scroll_home(animate=False)
        await until(pilot, lambda: sidebar.scroll_y == 0, "scrolled back to the first row")
        machine.apply(state(40, "ongoing"), Source.PUSH, T0 + timedelta(seconds=40))
        sidebar.show(machine)
        await pilot.pause()
        assert sidebar.scroll_y == 0  # reading older rows: it stays put
        sidebar.scroll_end(animate=False)
        await until(pilot, lambda: sidebar.is_vertical_scroll_end, "back at the end")
        before = sidebar.max_scroll_y
        machine.apply(state(41, "ended", end_reason="local_hangup"), Source.PUSH, T0 + timedelta(seconds=41))
        sidebar.show(machine)
        await until(pilot, lambda: sidebar.max_scroll_y > before and sidebar.is_vertical_scroll_end, "following again")


class OneKey(App[None]):
    """A footer with one key, offered, greyed (``None``) or not offered as ``offered`` says."""

    BINDINGS = [Binding("x", "go", "Go")]
    offered: bool | None = True

    def compose(self) -> ComposeResult:
        yield KeyFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.offered if action == "go" else True

    def action_go(self) -> None:
        """Never pressed here: the footer only shows it."""


def footer_keys(app: App[None]) -> list[FooterKey]:
    return list(app.screen.query(FooterKey))


async def test_the_footer_rebuilds_its_keys_only_when_what_they_show_changes() -> None:
    app = OneKey()
    async with app.run_test() as pilot:
        await until(pilot, lambda: any(key.key == "x" for key in footer_keys(app)), "the x key shown")
        shown = footer_keys(app)
        for _ in range(3):
            app.screen.refresh_bindings()  # what the phone's screens do after every change of a call
            await pilot.pause()
        assert footer_keys(app) == shown, "the same key widgets: nothing was rebuilt"
        app.offered = None
        app.screen.refresh_bindings()
        await until(pilot, lambda: any(key.key == "x" and key.has_class("-disabled") for key in footer_keys(app)), "x greyed")
        app.offered = False
        app.screen.refresh_bindings()
        await until(pilot, lambda: all(key.key != "x" for key in footer_keys(app)), "x no longer offered")
