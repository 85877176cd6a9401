"""Ring timers on the running event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class LoopTimers:
    """Runs callbacks after a delay; ``cancel_all`` on shutdown so none fires after the app has stopped."""

    def __init__(self) -> None:
        self._handles: set[asyncio.TimerHandle] = set()

    def schedule(self, delay: float, callback: Callable[[], None]) -> None:
        def fire() -> None:
            self._handles.discard(handle)
            callback()

        handle = asyncio.get_running_loop().call_later(max(delay, 0.0), fire)
        self._handles.add(handle)

    def cancel_all(self) -> None:
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()
