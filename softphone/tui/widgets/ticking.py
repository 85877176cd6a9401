"""A line that depends on the time (a call timer, a ring countdown, a token's expiry): it ticks by itself.

Screens re-render when a message says a call changed; only these lines re-render every second, each
with its own interval, so nothing else is redrawn just because time passed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rich.console import RenderableType
from textual.widgets import Static

from softphone.core import CallMachine
from softphone.session import Clock
from softphone.tui.errors import guarded

TICK_SECONDS = 1.0

LineAt = Callable[[CallMachine, datetime], RenderableType]


class Ticking(Static):
    """Shows ``line(machine, now)`` for the call it was last shown, now and every second."""

    def __init__(self, line: LineAt, clock: Clock, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id, classes=classes)
        self.line = line
        self.clock = clock
        self.machine: CallMachine | None = None
        self._shown: RenderableType | None = None

    def on_mount(self) -> None:
        self.set_interval(TICK_SECONDS, guarded(lambda: self.app, self.tick, f"the ticking line #{self.id}"))

    def show(self, machine: CallMachine) -> None:
        self.machine = machine
        self.tick()

    def tick(self) -> None:
        """Redraw only when the words changed (most seconds, a countdown in minutes did not)."""
        if self.machine is None:
            return
        line = self.line(self.machine, self.clock())
        if line != self._shown:
            self._shown = line
            self.update(line)
