"""Outgoing: ringing the other party, with the ring countdown and the channel already joined."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Button, Static

from softphone.api import Action
from softphone.core import CallMachine
from softphone.session import Session
from softphone.tui.screens.base import FullScreen
from softphone.tui.widgets.buttons import MouseButton
from softphone.tui.widgets.call_id import CallIdLine
from softphone.tui.widgets.media import MediaPanel
from softphone.tui.widgets.ticking import Ticking

UNREACHABLE = "server unreachable: cannot cancel right now"
NO_ANSWER_YET = "no answer yet: waiting for the server to end it"


def ring_line(machine: CallMachine, now: datetime, reachable: bool = True) -> str:
    """``audio call · rings for 23s more`` (the call id, what a callee without push opens, has its own line)."""
    head = f"{machine.facts.call_type or 'audio'} call"
    if not reachable:
        return f"{head} · {UNREACHABLE}"
    remaining = machine.ring_remaining(now)
    if remaining is None:
        return head
    if remaining.total_seconds() < 1:
        return f"{head} · {NO_ANSWER_YET}"
    return f"{head} · rings for {int(remaining.total_seconds())}s more"


class OutgoingScreen(FullScreen):
    BINDINGS = [Binding("c", "cancel", "Cancel call")]
    SERVER_ACTIONS = frozenset({"cancel"})

    def compose_main(self) -> ComposeResult:
        self.headline = Static(id="headline", classes="headline")
        self.countdown = Ticking(self.ring_line, self.host.clock, id="countdown", classes="subline")
        self.media = MediaPanel(self.host.clock, id="media")
        self.cancel_button = MouseButton("Cancel  (c)", id="cancel", variant="error", compact=True)
        yield self.headline
        yield CallIdLine(self.call_id)
        yield self.countdown
        yield self.media
        yield self.cancel_button

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.offers(Action.CANCEL) if action == "cancel" else super().check_action(action, parameters)

    def render_main(self, session: Session) -> None:
        machine = self.machine()
        if machine is None:
            return
        self.headline.update(Text(machine.headline(), style="bold"))
        self.countdown.show(machine)
        self.media.show(machine)
        self.show_offered({"cancel": self.cancel_button})

    def ring_line(self, machine: CallMachine, now: datetime) -> str:
        return ring_line(machine, now, self.host.reachable)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.host.run_intent(self.session.cancel(self.call_id))
