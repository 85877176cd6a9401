"""Incoming: a modal that rings until answered, declined, or ended by someone else."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static

from softphone.tui.routing import View
from softphone.tui.screens.base import phone_app_of

if TYPE_CHECKING:
    from softphone.tui.app import SoftphoneApp


class IncomingScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("a", "accept", "Accept"),
        Binding("r", "reject", "Reject"),
    ]

    def __init__(self, view: View) -> None:
        super().__init__()
        assert view.call_id is not None
        self.view = view
        self.call_id = view.call_id
        self.ready = False

    @property
    def phone_app(self) -> SoftphoneApp:
        return phone_app_of(self)

    def compose(self) -> ComposeResult:
        with Vertical(id="incoming-dialog"):
            self.headline = Static(id="headline", classes="headline")
            self.countdown = Static(id="countdown", classes="subline")
            yield self.headline
            yield self.countdown
            with Horizontal(id="incoming-buttons"):
                yield Button("Accept  (a)", id="accept", variant="success")
                yield Button("Reject  (r)", id="reject", variant="error")
        yield Footer()

    def on_mount(self) -> None:
        self.ready = True
        self.refresh_view()

    def refresh_view(self) -> None:
        session = self.phone_app.session
        machine = session.phone.get(self.call_id) if session else None
        if machine is None:
            return
        kind = machine.facts.call_type or "audio"
        self.headline.update(
            Text.assemble(f"Incoming {kind} call from ", (machine.peer_name, "bold"))
        )
        remaining = machine.ring_remaining(self.phone_app.clock())
        line = f"call {machine.call_id}"
        if remaining is not None:
            line += f" · {int(remaining.total_seconds())}s to answer"
        self.countdown.update(line)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "accept":
            self.action_accept()
        else:
            self.action_reject()

    def action_accept(self) -> None:
        self.phone_app.run_intent(self.phone_app.require_session().accept(self.call_id))

    def action_reject(self) -> None:
        self.phone_app.run_intent(self.phone_app.require_session().reject(self.call_id))
