"""The top line of every screen: who and where this terminal is, and how it hears the server."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

_CONNECTION_STYLE = {
    "connected": ("●", "green"),
    "polling": ("◐", "yellow"),
    "reconnecting": ("○", "yellow"),
    "connecting": ("○", "dim"),
    "closed": ("✕", "red"),
}


@dataclass(frozen=True, slots=True)
class Status:
    """What the status line says; ``connection`` is the push stream's state, or where sign-in stands."""

    who: str
    terminal_id: str
    server: str
    connection: str
    detail: str = ""


class StatusLine(Static):
    """``Alice (alice #10001) · tui-3f2a · http://127.0.0.1:8765 · ● connected``."""

    def show(self, status: Status) -> None:
        dot, style = _CONNECTION_STYLE.get(status.connection, ("?", "red"))
        text = Text()
        text.append(status.who, style="bold")
        text.append(f" · {status.terminal_id} · {status.server} · ", style="dim")
        text.append(f"{dot} {status.connection}", style=style)
        if status.detail and status.connection != "connected":
            text.append(f" ({status.detail})", style="dim")
        self.update(text)
