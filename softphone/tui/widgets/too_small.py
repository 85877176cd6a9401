"""What a screen shows instead of itself when the terminal is smaller than the phone can be drawn in."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

MIN_WIDTH = 40
MIN_HEIGHT = 12
"""The smallest terminal every screen is drawn in whole; the app's breakpoints name anything smaller."""


class TooSmall(Static):
    """Hidden unless the screen carries a ``-too-narrow`` or ``-too-short`` breakpoint class (see the stylesheet)."""

    def render(self) -> Text:
        width, height = self.screen.size
        return Text.assemble(
            ("Terminal too small", "bold"),
            f"\n{width}×{height}: softphone needs at least {MIN_WIDTH}×{MIN_HEIGHT}.\nMake the window larger.",
            justify="center",
        )
