"""Small text helpers the screens share."""

from __future__ import annotations

from datetime import datetime, timedelta


def clock_text(duration: timedelta) -> str:
    """``mm:ss`` (``h:mm:ss`` past an hour), as a phone's call timer shows it."""
    seconds = int(duration.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def local_clock(moment: datetime) -> str:
    """``10:05:03`` in this machine's time zone, as the person at it reads clocks."""
    return moment.astimezone().strftime("%H:%M:%S")


def local_day_and_time(moment: datetime) -> str:
    """``05 Jul 10:05`` in this machine's time zone: when a recent call happened."""
    return moment.astimezone().strftime("%d %b %H:%M")
