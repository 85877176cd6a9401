"""A yes/no question before something that cannot be undone (quitting mid-call, resetting the simulator)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from softphone.tui.compositor import KeepsWideCharacters
from softphone.tui.widgets.footer import KeyFooter


class ConfirmScreen(KeepsWideCharacters, ModalScreen[bool]):
    """Dismissed with ``True`` for yes. "No" has the focus, so a stray enter changes nothing."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    #confirm-dialog { width: 60; height: auto; border: thick $warning; background: $surface; padding: 1 2; }
    #confirm-question { text-style: bold; margin-bottom: 1; }
    #confirm-details { color: $text-muted; margin-bottom: 1; }
    #confirm-buttons { height: auto; }
    #confirm-buttons Button { margin-right: 1; }
    """

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, details: str, *, yes: str, no: str) -> None:
        super().__init__()
        self.question = question
        self.details = details
        self.yes = yes
        self.no = no

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):
            yield Static(self.question, id="confirm-question")
            yield Static(self.details, id="confirm-details")
            with Horizontal(id="confirm-buttons"):
                yield Button(f"{self.yes} (y)", id="yes", variant="error")
                yield Button(f"{self.no} (n)", id="no")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed, "#yes")
    def yes_pressed(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def no_pressed(self) -> None:
        self.dismiss(False)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
