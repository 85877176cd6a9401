"""Timeline entries: what happened to a call, in the order this terminal learned it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Source(StrEnum):
    """Where a snapshot or event came from."""

    RESPONSE = "response"
    PUSH = "push"
    POLL = "poll"
    RESYNC = "resync"
    LOCAL = "local"


class Marker(StrEnum):
    """Why an entry deserves attention; ``None`` on an entry means an ordinary applied change."""

    STALE = "stale"
    DUPLICATE = "duplicate"
    GAP = "gap"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    source: Source
    version: int | None = None
    status: str | None = None
    marker: Marker | None = None
    detail: str = ""
    error_code: int | None = None

    def as_text(self) -> str:
        """One line, used for exports and logs."""
        parts = [self.at.strftime("%H:%M:%S"), f"v{self.version}" if self.version else "--"]
        parts.append(self.status or "")
        parts.append(self.source.value)
        if self.marker is not None:
            parts.append(f"[{self.marker.value}]")
        if self.error_code is not None:
            parts.append(str(self.error_code))
        if self.detail:
            parts.append(self.detail)
        return " ".join(part for part in parts if part)
