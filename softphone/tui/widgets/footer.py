"""The key footer of every screen, rebuilt only when the keys it shows change.

Textual's ``Footer`` throws away and mounts again every one of its keys (a widget each, styled anew)
whenever its screen refreshes its bindings, and the phone's screens do that after every change of a
call, so that keys follow the server's rules. Most changes leave the keys as they were (a media report,
a push repeating a response), and rebuilding them took about half of the CPU an app spent on one call
ringing, on a busy machine enough to delay the ringing screen by a tenth of a second.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.reactive import Reactive
from textual.screen import Screen
from textual.widgets import Footer

ShownKeys = tuple[tuple[Binding, bool, str], ...]


class KeyFooter(Footer):
    """``Footer``, except that a refresh of the bindings rebuilds the keys only when what they show differs."""

    def __init__(self) -> None:
        super().__init__()
        self._shown: ShownKeys | None = None

    def bindings_changed(self, screen: Screen) -> None:
        """As ``Footer.bindings_changed``, with the recompose made conditional."""
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self._recompose_if_changed)

    def shown_keys(self) -> ShownKeys:
        """Everything ``Footer.compose`` reads of the bindings: each one, whether it is enabled, its tooltip."""
        palette = self.app.COMMAND_PALETTE_BINDING
        return tuple(
            (binding, enabled, tooltip)
            for key, (_, binding, enabled, tooltip) in self.screen.active_bindings.items()
            if binding.show or key == palette
        )

    async def _recompose_if_changed(self) -> None:
        if not self.is_attached:
            return
        keys = self.shown_keys()
        if keys != self._shown:
            self._shown = keys
            # Each key of Footer.compose watches the footer's ``compact`` (data_bind), and Textual drops
            # a watcher only when the attribute next changes: every key ever shown would stay in memory
            # with its drawn lines. Nothing else watches a footer, so the old keys' watchers all go.
            Reactive._clear_watchers(self)
            await self.recompose()
