"""Incoming: a modal that rings until answered, declined, or ended by someone else."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from softphone.api import Action
from softphone.core import CallMachine
from softphone.session import Session
from softphone.tui.routing import View
from softphone.tui.screens.base import PhoneScreen
from softphone.tui.widgets.buttons import MouseButton
from softphone.tui.widgets.call_id import CallIdLine
from softphone.tui.widgets.footer import KeyFooter
from softphone.tui.widgets.ticking import Ticking
from softphone.tui.widgets.too_small import TooSmall

UNREACHABLE = "server unreachable: cannot answer right now"
RING_TIME_UP = "ring time is up: waiting for the server"


def answer_line(machine: CallMachine, now: datetime, reachable: bool = True) -> str:
    """``26s to answer``; never below zero, never a countdown the server cannot act on, empty without a ring timeout.

    The call id has its own line (``CallIdLine``), so it is not repeated here.
    """
    if not reachable:
        return UNREACHABLE
    remaining = machine.ring_remaining(now)
    if remaining is None:
        return ""
    if remaining.total_seconds() < 1:
        return RING_TIME_UP
    return f"{int(remaining.total_seconds())}s to answer"


class IncomingScreen(ModalScreen[None], PhoneScreen):
    """A phone screen that is modal: the screen under it stays in view, dimmed, and keeps updating."""

    BINDINGS = [
        Binding("a", "accept", "Accept"),
        Binding("r", "reject", "Reject"),
    ]
    SERVER_ACTIONS = frozenset({"accept", "reject"})

    def __init__(self, view: View) -> None:
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        self.take_size_classes()
        with Vertical(id="incoming-dialog", classes="dialog"):
            self.headline = Static(id="headline", classes="headline")
            self.crossing = Static(id="crossing")
            self.countdown = Ticking(self.answer_line, self.host.clock, id="countdown", classes="subline")
            self.buttons = {
                "accept": MouseButton("Accept  (a)", id="accept", variant="success", compact=True),
                "reject": MouseButton("Reject  (r)", id="reject", variant="error", compact=True),
            }
            yield self.headline
            yield self.crossing
            yield CallIdLine(self.call_id)
            yield self.countdown
            with Horizontal(id="incoming-buttons"):
                yield from self.buttons.values()
        yield KeyFooter()
        yield TooSmall()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "accept":
            return self.offers(Action.ACCEPT)
        if action == "reject":
            return self.offers(Action.REJECT)
        return super().check_action(action, parameters)

    def render_session(self, session: Session | None) -> None:
        machine = self.machine()
        if machine is None:
            return
        kind = machine.facts.call_type or "audio"
        self.headline.update(Text.assemble(f"Incoming {kind} call from ", (machine.peer_name, "bold")))
        # Glare: my call to them was refused because theirs was already ringing here.
        self.crossing.display = machine.crossed
        self.crossing.update(f"{machine.peer_name} is calling you at the same time: your call was not placed.")
        self.countdown.show(machine)
        self.show_offered(self.buttons)

    def answer_line(self, machine: CallMachine, now: datetime) -> str:
        return answer_line(machine, now, self.host.reachable)

    @on(Button.Pressed, "#accept")
    def action_accept(self) -> None:
        self.host.run_intent(self.session.accept(self.call_id))

    @on(Button.Pressed, "#reject")
    def action_reject(self) -> None:
        self.host.run_intent(self.session.reject(self.call_id))
