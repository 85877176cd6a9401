"""The call-state timeline: every snapshot, action and error this terminal saw, newest last."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from softphone.core import CallMachine, Marker, Source, TimelineEntry

_SOURCE_SHORT = {
    Source.RESPONSE: "resp",
    Source.PUSH: "push",
    Source.POLL: "poll",
    Source.RESYNC: "sync",
    Source.LOCAL: "you",
}
_MARKER_SHORT = {Marker.DUPLICATE: "dup", Marker.STALE: "stale"}
_MARKER_STYLE = {
    Marker.STALE: "dim strike",
    Marker.DUPLICATE: "dim",
    Marker.GAP: "bold yellow",
    Marker.ERROR: "bold red",
}


def render_entry(entry: TimelineEntry) -> Text:
    """One entry in two short lines, so the sidebar stays readable at 80 columns."""
    line = Text()
    line.append(entry.at.strftime("%H:%M:%S "), style="dim")
    if entry.source is Source.LOCAL:
        line.append(f"→ {entry.detail}", style="italic cyan")
        return line
    line.append(f"v{entry.version} " if entry.version else "   ", style="bold")
    line.append(entry.status or "", style=_status_style(entry.status))
    line.append(f" {_SOURCE_SHORT[entry.source]}", style="dim")
    if entry.marker in (Marker.DUPLICATE, Marker.STALE):
        # Routine echoes of what we already hold: one dim line, no detail.
        line.stylize(_MARKER_STYLE[entry.marker])
        line.append(f" {_MARKER_SHORT[entry.marker]}", style=_MARKER_STYLE[entry.marker])
    elif entry.marker is not None:
        tag = entry.marker.value if entry.error_code is None else f"{entry.error_code}"
        line.append(f"\n  {tag} ", style=_MARKER_STYLE[entry.marker])
        line.append(entry.detail, style=_MARKER_STYLE[entry.marker])
    return line


def _status_style(status: str | None) -> str:
    return {
        "calling": "yellow",
        "accepted": "cyan",
        "ongoing": "green",
        "rejected": "red",
        "cancelled": "red",
        "ended": "magenta",
    }.get(status or "", "white")


class TimelineSidebar(VerticalScroll):
    """Shows one call's timeline; the screen decides which call."""

    DEFAULT_CSS = """
    TimelineSidebar { width: 38; }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.body = Static(id="timeline-body")

    def compose(self) -> ComposeResult:
        yield Static("Timeline", classes="sidebar-title")
        yield self.body

    def show(self, machine: CallMachine | None) -> None:
        body = self.body
        if machine is None:
            body.update(Text("No call yet.", style="dim"))
            return
        text = Text(f"call {machine.call_id}\n", style="bold")
        for entry in machine.timeline:
            text.append_text(render_entry(entry))
            text.append("\n")
        body.update(text)
        self.scroll_end(animate=False)
