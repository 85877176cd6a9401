"""Signing in: who are you (the simulator's dev login), or which token (any server).

Each dialog shows why it is asked again (an unknown user, a refused token, a missing user id) in
words, inline; nothing is retried until the user answers.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.validation import Integer
from textual.widgets import Input, Static

from softphone.api import redact
from softphone.tui.compositor import KeepsWideCharacters
from softphone.tui.errors import KeepsRunning
from softphone.tui.widgets.too_small import TooSmall


class LoginScreen(KeepsWideCharacters, KeepsRunning, ModalScreen[str]):
    """Returns the user name or id typed; the app signs in and asks again if the server says no."""

    def __init__(self, server_url: str, error: str = "", user: str = "") -> None:
        super().__init__()
        self.server_url = server_url
        self.error = error
        self.user = user

    def compose(self) -> ComposeResult:
        with Vertical(id="login-dialog", classes="dialog"):
            yield Static("Who are you?", classes="headline")
            yield Static(f"Signing in to {redact(self.server_url)}", classes="subline")
            yield Input(self.user, placeholder="user name or id, e.g. alice", id="login-user")
            yield Static(self.error, id="login-error", classes="dialog-error")
        yield TooSmall()

    @on(Input.Submitted, "#login-user")
    def submit(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.dismiss(event.value.strip())


class TokenScreen(KeepsWideCharacters, KeepsRunning, ModalScreen[tuple[str, int | None]]):
    """Returns a token and, where the server has no directory to say whose it is, a user id.

    The token is typed masked and never shown again in full.
    """

    def __init__(self, server_url: str, error: str = "", user_id: int | None = None) -> None:
        super().__init__()
        self.server_url = server_url
        self.error = error
        self.user_id = user_id

    def compose(self) -> ComposeResult:
        with Vertical(id="token-dialog", classes="dialog"):
            yield Static("Sign in with a token", classes="headline")
            yield Static(f"Signing in to {redact(self.server_url)}", classes="subline")
            # Why the last token did not do, before the fields: on a short terminal it is what must show.
            yield Static(self.error, id="token-error", classes="dialog-error")
            yield Static("The user id is needed where the server has no directory.", classes="hint")
            yield Input(placeholder="bearer token", password=True, id="token-value")
            yield Input(
                "" if self.user_id is None else str(self.user_id),
                placeholder="your user id, e.g. 20002",
                validators=[Integer(minimum=1)],
                id="token-user-id",
            )
        yield TooSmall()

    @on(Input.Submitted)
    def submit(self, event: Input.Submitted) -> None:
        event.stop()
        token = self.query_one("#token-value", Input).value.strip()
        user_id = self.query_one("#token-user-id", Input)
        error = self.query_one("#token-error", Static)
        if not token:
            self.query_one("#token-value", Input).focus()
            error.update("Enter the token to sign in with.")
            return
        if user_id.value.strip() and not user_id.is_valid:
            user_id.focus()
            error.update("The user id is a whole number above 0.")
            return
        self.dismiss((token, int(user_id.value) if user_id.value.strip() else None))
