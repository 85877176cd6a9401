"""Buttons for the mouse: never focused, so Enter cannot press one by accident; each has its own key too."""

from __future__ import annotations

from textual.widgets import Button


class MouseButton(Button, can_focus=False):
    """A button that only a click presses; the screen binds a key of its own to the same action."""
