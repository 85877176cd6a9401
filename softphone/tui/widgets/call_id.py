"""The call's id on every call screen, with the key that copies it (the other party may need it)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

COPY_KEY = "y"


class CallIdLine(Static):
    """``Call id 42 · y copies it``: what a tester reads out or pastes to open the call elsewhere."""

    def __init__(self, call_id: int) -> None:
        super().__init__(
            Text.assemble(("Call id ", "dim"), (str(call_id), "bold"), (f" · {COPY_KEY} copies it", "dim")),
            id="call-id",
            classes="subline",
        )
