"""The media stage and network quality panel of a call, with the RTC channel this terminal joined."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from softphone.api import NetworkQuality
from softphone.core import CallMachine
from softphone.session import Clock
from softphone.tui.widgets.ticking import Ticking

QUALITY_BARS = {
    NetworkQuality.EXCELLENT: ("▂▄▆█", "green"),
    NetworkQuality.GOOD: ("▂▄▆ ", "green"),
    NetworkQuality.POOR: ("▂▄  ", "yellow"),
    NetworkQuality.BAD: ("▂   ", "red"),
    NetworkQuality.VERY_BAD: ("▁   ", "red"),
    NetworkQuality.DOWN: ("✕   ", "bold red"),
}


class MediaPanel(Vertical):
    """What this terminal last reported, and the credentials it joined with; the token's expiry ticks."""

    def __init__(self, clock: Clock, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.facts = Static()
        self.expiry = Ticking(token_line, clock)

    def compose(self) -> ComposeResult:
        yield self.facts
        yield self.expiry

    def show(self, machine: CallMachine) -> None:
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
        self.facts.update(text)
        self.expiry.display = rtc is not None
        self.expiry.show(machine)


def token_line(machine: CallMachine, now: datetime) -> Text:
    """``Token until  12:05:00Z (1h59m)``: when the RTC token this terminal joined with runs out."""
    text = Text()
    text.append("Token until  ", style="dim")
    rtc = machine.rtc
    if rtc is not None:
        text.append(_expiry(rtc.expire_at, now))
    return text


def _expiry(expire_at: datetime | None, now: datetime) -> str:
    if expire_at is None:
        return "no expiry given"
    left = int((expire_at - now).total_seconds())
    stamp = expire_at.strftime("%H:%M:%SZ")
    if left <= 0:
        return f"{stamp} (expired)"
    return f"{stamp} ({left // 3600}h{left % 3600 // 60:02d}m)"
