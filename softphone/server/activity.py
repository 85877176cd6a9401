"""Who has shown signs of life lately, per user: what the abandoned-call rule reads.

A user is active while any of its push connections is open, and was last active at its last
authenticated request or when its last push connection closed. It lives in memory only: after a
restart every user counts as last seen when the simulator came back, so calls left over from before
get the whole abandon timeout from then on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime


class Activity:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._started = clock()
        self._last_seen: dict[int, datetime] = {}
        self._open: Counter[int] = Counter()

    def seen(self, user_id: int) -> None:
        """The user made a request just now."""
        self._last_seen[user_id] = self._clock()

    @contextmanager
    def connected(self, user_id: int) -> Iterator[None]:
        """The user is active for as long as the block runs (one push connection), and seen as it ends."""
        self._open[user_id] += 1
        try:
            yield
        finally:
            self._open[user_id] -= 1
            if not self._open[user_id]:
                del self._open[user_id]
            self.seen(user_id)

    def quiet_since(self, *user_ids: int) -> datetime | None:
        """Since when none of ``user_ids`` has been active; ``None`` while one of them has a connection open."""
        if any(self._open[user_id] for user_id in user_ids):
            return None
        return max(self._last_seen.get(user_id, self._started) for user_id in user_ids)
