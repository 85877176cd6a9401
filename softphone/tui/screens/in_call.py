"""In call: the peer, the talk timer, both sides' media stage and network quality, hang up."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, Static

from softphone.api import Action, MediaStage, NetworkQuality
from softphone.core import CallMachine
from softphone.session import Session
from softphone.tui.screens.base import FullScreen
from softphone.tui.widgets.buttons import MouseButton
from softphone.tui.widgets.call_id import CallIdLine
from softphone.tui.widgets.formatting import clock_text
from softphone.tui.widgets.media import MediaPanel
from softphone.tui.widgets.ticking import Ticking

# What the user can switch the simulated media to; joining is the app's own first step.
STAGE_CYCLE = [MediaStage.JOINED, MediaStage.RECONNECTING, MediaStage.LEFT]
QUALITY_CYCLE = list(NetworkQuality)
UNREACHABLE = "server unreachable: cannot hang up or report media right now"


def next_in(cycle: list[str], current: str | None) -> str:
    """The value after ``current``, wrapping; the first one when ``current`` is not in the cycle."""
    if current not in cycle:
        return cycle[0]
    return cycle[(cycle.index(current) + 1) % len(cycle)]


def talk_time(machine: CallMachine, now: datetime) -> str:
    """``01:23`` since the call was answered; ``--:--`` before."""
    duration = machine.duration(now)
    return clock_text(duration) if duration is not None else "--:--"


class InCallScreen(FullScreen):
    BINDINGS = [
        Binding("h", "hangup", "Hang up"),
        Binding("m", "next_stage", "Media stage"),
        Binding("n", "next_quality", "Network quality"),
    ]
    SERVER_ACTIONS = frozenset({"hangup", "next_stage", "next_quality"})

    def compose_main(self) -> ComposeResult:
        self.headline = Static(id="headline", classes="headline")
        self.server_note = Static(UNREACHABLE, id="server-note", classes="warning")
        self.timer = Ticking(talk_time, self.host.clock, id="timer", classes="timer")
        self.media = MediaPanel(self.host.clock, id="media")
        self.buttons = {
            "hangup": MouseButton("Hang up (h)", id="hangup", variant="error", compact=True),
            "next_stage": MouseButton("Stage (m)", id="stage", compact=True),
            "next_quality": MouseButton("Quality (n)", id="quality", compact=True),
        }
        yield self.headline
        yield CallIdLine(self.call_id)
        yield self.server_note
        yield self.timer
        yield self.media
        with Horizontal(id="call-buttons"):
            yield from self.buttons.values()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hang up and report media while the rules allow; no quality once this terminal has left the channel."""
        if action == "hangup":
            return self.offers(Action.HANGUP)
        if action == "next_stage":
            return self.offers(Action.REPORT_MEDIA)
        if action == "next_quality":
            machine = self.machine()
            if machine is None or machine.media_stage == MediaStage.LEFT:
                return False
            return self.offers(Action.REPORT_MEDIA)
        return super().check_action(action, parameters)

    def render_main(self, session: Session) -> None:
        machine = self.machine()
        if machine is None:
            return
        self.headline.update(
            Text.assemble((machine.headline(), "bold"), f"  ·  {machine.facts.call_type or ''} call")
        )
        self.server_note.display = not self.host.reachable
        self.timer.show(machine)
        self.media.show(machine)
        self.show_offered(self.buttons)

    @on(Button.Pressed, "#hangup")
    def action_hangup(self) -> None:
        self.host.run_intent(self.session.hangup(self.call_id))

    @on(Button.Pressed, "#stage")
    def action_next_stage(self) -> None:
        machine = self.machine()
        if machine is None:
            return
        stage = next_in([s.value for s in STAGE_CYCLE], machine.media_stage)
        self.host.run_intent(self.session.report_media(self.call_id, stage, machine.network_quality))

    @on(Button.Pressed, "#quality")
    def action_next_quality(self) -> None:
        machine = self.machine()
        if machine is None or machine.media_stage == MediaStage.LEFT:
            return
        quality = next_in([q.value for q in QUALITY_CYCLE], machine.network_quality)
        stage = machine.media_stage or MediaStage.JOINED.value
        self.host.run_intent(self.session.report_media(self.call_id, stage, quality))
