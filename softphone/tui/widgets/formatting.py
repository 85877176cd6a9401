"""Small text helpers the screens share."""

from __future__ import annotations

from datetime import timedelta


def clock_text(duration: timedelta) -> str:
    """``mm:ss`` (``h:mm:ss`` past an hour), as a phone's call timer shows it."""
    seconds = int(duration.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
