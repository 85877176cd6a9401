"""Ended: how the call went, in words, until the user goes back home."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Button, Static

from softphone.session import Session
from softphone.tui.screens.base import FullScreen
from softphone.tui.widgets.buttons import MouseButton
from softphone.tui.widgets.call_id import CallIdLine
from softphone.tui.widgets.formatting import clock_text


class EndedScreen(FullScreen):
    BINDINGS = [
        Binding("enter", "home", "Back home"),
        Binding("escape", "home", "Back home", show=False),
    ]

    def compose_main(self) -> ComposeResult:
        self.headline = Static(id="headline", classes="headline")
        self.details = Static(id="details", classes="subline")
        yield self.headline
        yield CallIdLine(self.call_id)
        yield self.details
        yield MouseButton("Back home  (enter)", id="home", compact=True)

    def render_main(self, session: Session) -> None:
        machine = self.machine()
        if machine is None:
            return
        self.headline.update(Text(machine.headline(), style="bold"))
        facts = machine.facts
        lines = [f"{facts.call_type or 'audio'} call with {machine.peer_name}"]
        if facts.status is not None:
            reason = f" ({facts.end_reason})" if facts.end_reason else ""
            lines.append(f"status {facts.status}{reason} · v{facts.version}")
        duration = machine.duration(session.clock())
        if machine.answered_elsewhere:
            lines.append(f"answered on {facts.accepted_terminal_id or 'another terminal'}, not here")
        elif duration is not None:
            lines.append(f"talk time {clock_text(duration)}")
        else:
            lines.append("never connected")
        self.details.update("\n".join(lines))

    @on(Button.Pressed, "#home")
    def action_home(self) -> None:
        self.host.dismiss_outcome(self.call_id)
