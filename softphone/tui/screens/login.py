"""Who are you? Asked when the command line named no user."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class LoginScreen(ModalScreen[str]):
    """Returns the user name or id typed; the app logs in and asks again if the server says no."""

    def __init__(self, server_url: str, error: str = "") -> None:
        super().__init__()
        self.server_url = server_url
        self.error = error
        self.hint = Static(classes="subline")
        self.ready = False

    def compose(self) -> ComposeResult:
        with Vertical(id="login-dialog"):
            yield Static("Who are you?", classes="headline")
            yield self.hint
            yield Input(placeholder="user name or id, e.g. alice", id="login-user")
            yield Static(self.error, id="login-error")

    def on_mount(self) -> None:
        self.ready = True
        self.refresh_view()

    def refresh_view(self) -> None:
        self.hint.update(f"Signing in to {self.server_url}")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.dismiss(event.value.strip())
