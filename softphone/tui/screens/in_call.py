"""In call: the peer, the talk timer, this terminal's media stage and network quality, hang up."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, Static

from softphone.api import MediaStage, NetworkQuality
from softphone.tui.screens.base import CallScreen
from softphone.tui.session import Session
from softphone.tui.widgets.formatting import clock_text
from softphone.tui.widgets.media import MediaPanel

# What the user can switch the simulated media to; joining is the app's own first step.
STAGE_CYCLE = [MediaStage.JOINED, MediaStage.RECONNECTING, MediaStage.LEFT]
QUALITY_CYCLE = list(NetworkQuality)


def next_in(cycle: list[str], current: str | None) -> str:
    """The value after ``current``, wrapping; the first one when ``current`` is not in the cycle."""
    if current not in cycle:
        return cycle[0]
    return cycle[(cycle.index(current) + 1) % len(cycle)]


class InCallScreen(CallScreen):
    BINDINGS = [
        Binding("h", "hangup", "Hang up"),
        Binding("m", "next_stage", "Media stage"),
        Binding("n", "next_quality", "Network quality"),
    ]

    def compose_main(self) -> ComposeResult:
        self.headline = Static(id="headline", classes="headline")
        self.timer = Static(id="timer", classes="timer")
        self.media = MediaPanel(id="media")
        yield self.headline
        yield self.timer
        yield self.media
        with Horizontal(id="call-buttons"):
            # Compact, so all three fit beside the sidebar at 80 columns.
            yield Button("Hang up (h)", id="hangup", variant="error", compact=True)
            yield Button("Stage (m)", id="stage", compact=True)
            yield Button("Quality (n)", id="quality", compact=True)

    def render_main(self, session: Session) -> None:
        machine = self.machine(session)
        if machine is None:
            return
        now = self.phone_app.clock()
        self.headline.update(
            Text.assemble((machine.headline(), "bold"), f"  ·  {machine.facts.call_type or ''} call")
        )
        duration = machine.duration(now)
        self.timer.update(
            clock_text(duration) if duration is not None else "--:--"
        )
        self.media.show(machine, now)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        {"hangup": self.action_hangup, "stage": self.action_next_stage, "quality": self.action_next_quality}[
            event.button.id or "hangup"
        ]()

    def action_hangup(self) -> None:
        self.phone_app.run_intent(self.phone_app.require_session().hangup(self.call_id))

    def action_next_stage(self) -> None:
        session = self.phone_app.require_session()
        machine = self.machine(session)
        if machine is None:
            return
        stage = next_in([s.value for s in STAGE_CYCLE], machine.media_stage)
        self.phone_app.run_intent(session.report_media(self.call_id, stage, machine.network_quality))

    def action_next_quality(self) -> None:
        session = self.phone_app.require_session()
        machine = self.machine(session)
        if machine is None:
            return
        quality = next_in([q.value for q in QUALITY_CYCLE], machine.network_quality)
        stage = machine.media_stage or MediaStage.JOINED.value
        self.phone_app.run_intent(session.report_media(self.call_id, stage, quality))
