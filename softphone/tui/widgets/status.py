"""The top line of every screen: who and where this terminal is, and how it hears the server."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

_CONNECTION_STYLE = {
    "connected": ("●", "green"),
    "polling": ("◐", "yellow"),
    "reconnecting": ("○", "yellow"),
    "connecting": ("○", "dim"),
    "closed": ("✕", "red"),
}


class StatusLine(Static):
    """``Alice (alice #10001) · tui-3f2a · http://127.0.0.1:8765 · ● connected``."""

    def show(self, who: str, terminal_id: str, server: str, connection: str, detail: str = "") -> None:
        dot, style = _CONNECTION_STYLE.get(connection, ("?", "red"))
        text = Text()
        text.append(who, style="bold")
        text.append(f" · {terminal_id} · {server} · ", style="dim")
        text.append(f"{dot} {connection}", style=style)
        if detail and connection != "connected":
            text.append(f" ({detail})", style="dim")
        self.update(text)
