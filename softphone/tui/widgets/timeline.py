"""The call-state timeline: the call's story, one row per version, newest last.

The rows come from the core (:func:`~softphone.core.timeline_rows`): a version delivered by several
sources is one row naming them all (``v1 calling resp+push``), with what changed at that version in
words; stale deliveries, errors and this terminal's own requests keep rows of their own. The sidebar
follows the newest row only while it is scrolled to the end, so older rows can be read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from softphone.tui.widgets.formatting import local_clock

if TYPE_CHECKING:
    from softphone.core import CallMachine, TimelineRow

_STATUS_STYLE = {
    "calling": "yellow",
    "accepted": "cyan",
    "ongoing": "green",
    "rejected": "red",
    "cancelled": "red",
    "ended": "magenta",
}


def row_text(row: TimelineRow) -> Text:
    """A row's words after its time: version, status, sources, then what changed or went wrong."""
    from softphone.core import RowKind  # the sidebar shows rows only once signed in: the core is loaded

    text = Text()
    if row.kind is RowKind.ACTION:
        text.append(f"→ {row.note}", style="italic cyan")
        return text
    if row.kind is RowKind.ERROR:
        code = f"{row.error_code} " if row.error_code is not None else ""
        text.append(f"✕ {code}{row.note}", style="bold red")
        return text
    text.append(f"v{row.version} ", style="bold")
    text.append(row.status or "", style=_STATUS_STYLE.get(row.status or "", "white"))
    text.append(f" {row.sources_text}", style="dim")
    if row.kind is RowKind.STALE:
        text.stylize("dim strike")
        text.append(f" stale: {row.note}", style="dim")
        return text
    if row.changes:
        text.append(" · " + " · ".join(row.changes))
    if row.note:
        text.append(f" · {row.note}", style="bold yellow")
    return text


def render_rows(machine: CallMachine) -> RenderableType:
    """The call's rows as a two-column grid, so a long row wraps under its own words, not under the time."""
    from softphone.core import timeline_rows

    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, style="dim")
    grid.add_column(overflow="fold")
    for row in timeline_rows(machine.timeline):
        grid.add_row(local_clock(row.at), row_text(row))
    return grid


class TimelineSidebar(VerticalScroll):
    """Shows one call's timeline; the screen decides which call."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.title = Static("Timeline", classes="sidebar-title")
        self.body = Static(id="timeline-body")
        self._shown: tuple[int, int] | None = None

    def compose(self) -> ComposeResult:
        yield self.title
        yield self.body

    def show(self, machine: CallMachine | None) -> None:
        """Redraw only when there is something new: another call, or more entries."""
        shown = None if machine is None else (machine.call_id, len(machine.timeline))
        if shown == self._shown and machine is not None:
            return
        self._shown = shown
        if machine is None:
            self.title.update("Timeline")
            self.body.update(Text("No call yet.", style="dim"))
            return
        # Follow the newest row only while scrolled to the end: a tester reading older rows stays there.
        following = self.is_vertical_scroll_end
        self.title.update(f"Timeline · call {machine.call_id}")
        self.body.update(render_rows(machine))
        if following:
            self.scroll_end(animate=False)
