"""The top line of every screen: who and where this terminal is, and how it hears the server."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from softphone.api import redact
from softphone.tui.errors import guarded

_CONNECTION_STYLE = {
    "connected": ("●", "green"),
    "polling": ("◐", "yellow"),
    "reconnecting": ("○", "yellow"),
    "unreachable": ("✕", "red"),
    "connecting": ("○", "dim"),
    "closed": ("✕", "red"),
    "cannot sign in": ("✕", "red"),
}
TICK_SECONDS = 1.0
COMPACT_BELOW = 80
"""Below this width the line leaves out the terminal id and the server: the connection matters more."""


@dataclass(frozen=True, slots=True)
class Status:
    """What the status line says; ``connection`` is the push stream's state, or where sign-in stands.

    ``retry_at`` (event-loop time) is when the next attempt is due while one waits; ``missing`` says
    what this server lacks (``no push, no directory``), empty on the full simulator.
    """

    who: str
    terminal_id: str
    server: str
    connection: str
    detail: str = ""
    retry_at: float | None = None
    missing: str = ""


def retry_words(retry_at: float | None, now: float) -> str:
    """``retrying in 3s`` (whole seconds, rounded up, so it never says 0 before it tries); empty when none waits."""
    if retry_at is None:
        return ""
    left = math.ceil(retry_at - now)
    return f"retrying in {left}s" if left > 0 else "retrying now"


class StatusLine(Static):
    """``Alice (alice #10001) · tui-3f2a · http://127.0.0.1:8765 · ● connected``.

    While a retry waits it counts down to it, redrawing once a second and only when the words change.
    On a narrow terminal it leaves out the terminal id and the server, so the connection still shows;
    at any width it stays one line, cut short at the end rather than wrapped.
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.status: Status | None = None
        self._shown: Text | None = None

    def on_mount(self) -> None:
        self.set_interval(TICK_SECONDS, guarded(lambda: self.app, self.tick, "the status line"))

    def show(self, status: Status) -> None:
        self.status = status
        self.tick()

    def on_resize(self) -> None:
        self.tick()

    def tick(self) -> None:
        if self.status is None:
            return
        width = self.content_size.width
        compact = 0 < self.size.width < COMPACT_BELOW
        text = status_text(self.status, asyncio.get_running_loop().time(), compact=compact)
        if width:
            text.truncate(width, overflow="ellipsis")
        if text != self._shown:
            self._shown = text
            self.update(text)


def status_text(status: Status, now: float, *, compact: bool = False) -> Text:
    dot, style = _CONNECTION_STYLE.get(status.connection, ("?", "red"))
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(status.who, style="bold")
    where = " · " if compact else f" · {status.terminal_id} · {redact(status.server)} · "
    text.append(where, style="dim")
    text.append(f"{dot} {status.connection}", style=style)
    retry = retry_words(status.retry_at, now)
    if retry:
        text.append(f" · {retry}", style=style)
    if status.missing:
        text.append(f" · {status.missing}", style="yellow")
    if status.detail and status.connection != "connected":
        text.append(f" ({redact(status.detail)})", style="dim")
    return text
