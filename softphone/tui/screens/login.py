"""Who are you? Asked when the command line named no user."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class LoginScreen(ModalScreen[str]):
    """Returns the user name or id typed; the app signs in and asks again if the server says no."""

    def __init__(self, server_url: str, error: str = "") -> None:
        super().__init__()
        self.server_url = server_url
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical(id="login-dialog"):
            yield Static("Who are you?", classes="headline")
            yield Static(f"Signing in to {self.server_url}", classes="subline")
            yield Input(placeholder="user name or id, e.g. alice", id="login-user")
            yield Static(self.error, id="login-error")

    @on(Input.Submitted, "#login-user")
    def submit(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.dismiss(event.value.strip())
