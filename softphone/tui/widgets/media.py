"""The media stage and network quality panel of a call, with the RTC channel this terminal joined."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from softphone.api import NetworkQuality
from softphone.core import CallMachine

QUALITY_BARS = {
    NetworkQuality.EXCELLENT: ("▂▄▆█", "green"),
    NetworkQuality.GOOD: ("▂▄▆ ", "green"),
    NetworkQuality.POOR: ("▂▄  ", "yellow"),
    NetworkQuality.BAD: ("▂   ", "red"),
    NetworkQuality.VERY_BAD: ("▁   ", "red"),
    NetworkQuality.DOWN: ("✕   ", "bold red"),
}


class MediaPanel(Static):
    """Renders what this terminal last reported, and the credentials it joined with."""

    def show(self, machine: CallMachine, now: datetime) -> None:
        text = Text()
        text.append("Media stage  ", style="dim")
        text.append(machine.media_stage or "not joined", style="bold")
        text.append("\nNetwork      ", style="dim")
        quality = machine.network_quality
        bars, style = QUALITY_BARS.get(quality or "", ("", "white"))
        text.append(f"{bars} {quality or 'unknown'}", style=style)
        rtc = machine.rtc
        if rtc is not None:
            text.append("\nChannel      ", style="dim")
            text.append(rtc.channel_name)
            text.append("\nRTC uid      ", style="dim")
            text.append(rtc.uid)
            text.append("\nToken until  ", style="dim")
            text.append(_expiry(rtc.expire_at, now))
        self.update(text)


def _expiry(expire_at: datetime | None, now: datetime) -> str:
    if expire_at is None:
        return "no expiry given"
    left = int((expire_at - now).total_seconds())
    stamp = expire_at.strftime("%H:%M:%SZ")
    if left <= 0:
        return f"{stamp} (expired)"
    return f"{stamp} ({left // 3600}h{left % 3600 // 60:02d}m)"
