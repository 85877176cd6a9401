"""Both sides of a call's media: each party's stage and network quality, and the RTC channel this terminal joined.

This terminal's line is what it last reported and the server accepted. The other party's comes from
the simulator's ``media`` extension (their last report as of the version held); a server without it
says nothing about the other side, and the panel then shows this terminal's line alone.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from softphone.api import NetworkQuality
from softphone.core import CallMachine, Role
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


def side_line(label: str, width: int, stage: str | None, quality: str | None) -> Text:
    """``You    joined · ▂▄▆  good``: one party's stage, then its quality as bars and a word."""
    text = Text()
    text.append(label.ljust(width), style="dim")
    text.append(stage or "not joined", style="bold")
    if quality is not None:
        bars, style = QUALITY_BARS.get(quality, ("", "white"))
        text.append(" · ")
        text.append(f"{bars} {quality}".strip(), style=style)
    return text


class MediaPanel(Vertical):
    """Both sides' media, then the channel and credentials this terminal joined with; the token's expiry ticks."""

    def __init__(self, clock: Clock, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.sides = Static(classes="media-sides")
        self.channel = Static(classes="media-channel")
        self.expiry = Ticking(token_line, clock, classes="media-channel")

    def compose(self) -> ComposeResult:
        yield self.sides
        yield self.channel
        yield self.expiry

    def show(self, machine: CallMachine) -> None:
        media = machine.facts.media  # None: the server does not tell about the other side
        width = max(len("You"), len(machine.peer_name) if media is not None else 0) + 2
        sides = side_line("You", width, machine.media_stage, machine.network_quality)
        if media is not None:
            peer = media.callee if machine.role is Role.CALLER else media.caller
            sides.append("\n")
            sides.append_text(
                side_line(machine.peer_name, width, peer.stage, peer.network_quality)
                if peer is not None
                else side_line(machine.peer_name, width, "not joined yet", None)
            )
        self.sides.update(sides)
        rtc = machine.rtc
        channel = Text()
        if rtc is not None:
            channel.append("Channel      ", style="dim")
            channel.append(rtc.channel_name)
            channel.append("\nRTC uid      ", style="dim")
            channel.append(rtc.uid)
        self.channel.update(channel)
        self.set_class(rtc is None, "-no-channel")  # a class, so short screens can hide these lines too
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
