"""Dialogs that take calls by their ids, for a server with no directory and no push channel.

Such a server (the documented API alone) tells a terminal nothing: the caller dials a user id in a
conversation id, and passes the call id it gets on; the callee opens that call by id.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.validation import Integer
from textual.widgets import Input, RadioButton, RadioSet, Static

from softphone.api import CallType
from softphone.tui.compositor import KeepsWideCharacters
from softphone.tui.errors import KeepsRunning

POSITIVE = [Integer(minimum=1, failure_description="a whole number above 0")]


@dataclass(frozen=True, slots=True)
class DialByIds:
    """What the dial-by-id dialog returns."""

    user_id: int
    conversation_id: int
    call_type: CallType


def _number(field: Input) -> int | None:
    value = field.value.strip()
    return int(value) if value and field.is_valid else None


class DialByIdScreen(KeepsWideCharacters, KeepsRunning, ModalScreen[DialByIds | None]):
    """Asks for the user id, the conversation id and the call type; ``None`` when dismissed."""

    BINDINGS = [Binding("escape", "dismiss_dialog", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="dial-by-id-dialog", classes="dialog"):
            yield Static("Dial by id", classes="headline")
            yield Input(placeholder="user id to call, e.g. 20002", validators=POSITIVE, id="dial-user-id")
            yield Input(placeholder="conversation id, e.g. 252487239", validators=POSITIVE, id="dial-conversation-id")
            with RadioSet(id="dial-call-type"):
                yield RadioButton("audio", value=True, id="dial-audio")
                yield RadioButton("video", id="dial-video")
            yield Static("enter to dial · esc to close", classes="hint")
            yield Static("", id="dial-error", classes="dialog-error")

    @on(Input.Submitted)
    def submit(self, event: Input.Submitted) -> None:
        event.stop()
        user_field = self.query_one("#dial-user-id", Input)
        conversation_field = self.query_one("#dial-conversation-id", Input)
        user_id, conversation_id = _number(user_field), _number(conversation_field)
        for field, value, what in ((user_field, user_id, "user id"), (conversation_field, conversation_id, "conversation id")):
            if value is None:
                field.focus()
                self.query_one("#dial-error", Static).update(f"The {what} is a whole number above 0.")
                return
        assert user_id is not None and conversation_id is not None
        video = self.query_one("#dial-video", RadioButton).value
        self.dismiss(DialByIds(user_id, conversation_id, CallType.VIDEO if video else CallType.AUDIO))

    def action_dismiss_dialog(self) -> None:
        self.dismiss(None)


class OpenCallScreen(KeepsWideCharacters, KeepsRunning, ModalScreen[int | None]):
    """Asks for a call id to open; ``None`` when dismissed."""

    BINDINGS = [Binding("escape", "dismiss_dialog", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="open-call-dialog", classes="dialog"):
            yield Static("Open a call by id", classes="headline")
            yield Static("The caller's screen shows the call id.", classes="subline")
            yield Input(placeholder="call id, e.g. 7", validators=POSITIVE, id="open-call-id")
            yield Static("", id="open-call-error", classes="dialog-error")

    @on(Input.Submitted, "#open-call-id")
    def submit(self, event: Input.Submitted) -> None:
        event.stop()
        call_id = _number(event.input)
        if call_id is None:
            self.query_one("#open-call-error", Static).update("The call id is a whole number above 0.")
            return
        self.dismiss(call_id)

    def action_dismiss_dialog(self) -> None:
        self.dismiss(None)
