"""Outgoing: ringing the other party, with the ring countdown and the channel already joined."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Button, Static

from softphone.tui.screens.base import CallScreen
from softphone.tui.session import Session
from softphone.tui.widgets.media import MediaPanel


class OutgoingScreen(CallScreen):
    BINDINGS = [
        Binding("c", "cancel", "Cancel"),
        Binding("escape", "cancel", "Cancel", show=False),
    ]

    def compose_main(self) -> ComposeResult:
        self.headline = Static(id="headline", classes="headline")
        self.countdown = Static(id="countdown", classes="subline")
        self.media = MediaPanel(id="media")
        yield self.headline
        yield self.countdown
        yield self.media
        yield Button("Cancel  (c)", id="cancel", variant="error")

    def render_main(self, session: Session) -> None:
        machine = self.machine(session)
        if machine is None:
            return
        now = self.phone_app.clock()
        self.headline.update(Text(machine.headline(), style="bold"))
        remaining = machine.ring_remaining(now)
        kind = f"{machine.facts.call_type or 'audio'} call"
        ring = f" · rings for {int(remaining.total_seconds())}s more" if remaining is not None else ""
        self.countdown.update(f"{kind}{ring}")
        self.media.show(machine, now)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel()

    def action_cancel(self) -> None:
        self.phone_app.run_intent(self.phone_app.require_session().cancel(self.call_id))
