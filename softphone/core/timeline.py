"""Timeline entries: what happened to a call, in the order this terminal learned it; and the rows a person reads.

A call's timeline keeps every delivery as its own entry (the raw record an export needs). A person
reads rows instead: one row per version, naming every source that delivered it and what changed,
so the same version pushed after its response does not take a second row. Stale deliveries, errors
and this terminal's own requests keep rows of their own, in the order they happened.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
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


SOURCE_SHORT = {
    Source.RESPONSE: "resp",
    Source.PUSH: "push",
    Source.POLL: "poll",
    Source.RESYNC: "sync",
    Source.LOCAL: "you",
}
"""Sources as a timeline names them."""


class Marker(StrEnum):
    """Why an entry deserves attention; ``None`` on an entry means an ordinary applied change."""

    STALE = "stale"
    DUPLICATE = "duplicate"
    GAP = "gap"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One delivery, request or error; ``changes`` says in words what it taught (see ``changes_between``)."""

    at: datetime
    source: Source
    version: int | None = None
    status: str | None = None
    marker: Marker | None = None
    detail: str = ""
    error_code: int | None = None
    changes: tuple[str, ...] = ()

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
        if self.changes:
            parts.append("· " + " · ".join(self.changes))
        return " ".join(part for part in parts if part)


class RowKind(StrEnum):
    """What a timeline row stands for."""

    CHANGE = "change"  # a version this terminal applied, with every delivery of it
    STALE = "stale"  # a delivery older than what was held, ignored
    ERROR = "error"  # a request refused or never answered
    ACTION = "action"  # a request this terminal sent


@dataclass(frozen=True, slots=True)
class TimelineRow:
    """One line of a call's story: a version and how it arrived, or a stale delivery, an error, a request.

    ``deliveries`` lists each source that delivered the version, with how many times, in the order
    they first arrived (``((RESPONSE, 1), (PUSH, 2))`` reads ``resp+push×2``). ``note`` says how the
    phone caught up (a gap, then a resync), why a delivery was ignored, the request, or the error.
    """

    at: datetime
    kind: RowKind
    version: int | None = None
    status: str | None = None
    deliveries: tuple[tuple[Source, int], ...] = ()
    changes: tuple[str, ...] = ()
    note: str = ""
    error_code: int | None = None

    @property
    def sources_text(self) -> str:
        """``resp+push×2``: every source that delivered the version, and how often when more than once."""
        return "+".join(SOURCE_SHORT[source] + (f"×{count}" if count > 1 else "") for source, count in self.deliveries)


def timeline_rows(entries: Iterable[TimelineEntry]) -> list[TimelineRow]:
    """Merge deliveries of the same version into that version's row; everything else keeps its own row."""
    rows: list[TimelineRow] = []
    row_of_version: dict[int, int] = {}
    for entry in entries:
        if entry.marker is Marker.DUPLICATE and entry.version in row_of_version:
            index = row_of_version[entry.version]
            rows[index] = _delivered_again(rows[index], entry)
            continue
        row = _row(entry)
        if row.kind is RowKind.CHANGE and row.version is not None:
            row_of_version[row.version] = len(rows)
        rows.append(row)
    return rows


def _row(entry: TimelineEntry) -> TimelineRow:
    if entry.source is Source.LOCAL:
        return TimelineRow(entry.at, RowKind.ACTION, note=entry.detail)
    if entry.marker is Marker.ERROR:
        return TimelineRow(
            entry.at, RowKind.ERROR, entry.version, entry.status, note=entry.detail, error_code=entry.error_code
        )
    deliveries = ((entry.source, 1),)
    if entry.marker is Marker.STALE:
        return TimelineRow(entry.at, RowKind.STALE, entry.version, entry.status, deliveries, note=entry.detail)
    note = f"gap: {entry.detail} → resync" if entry.marker is Marker.GAP else entry.detail
    return TimelineRow(entry.at, RowKind.CHANGE, entry.version, entry.status, deliveries, entry.changes, note)


def _delivered_again(row: TimelineRow, entry: TimelineEntry) -> TimelineRow:
    """The row of a version, once more delivered by ``entry`` (which may have filled in what a partial answer lacked)."""
    counts = dict(row.deliveries)
    counts[entry.source] = counts.get(entry.source, 0) + 1
    changes = row.changes + tuple(word for word in entry.changes if word not in row.changes)
    return dataclasses.replace(row, deliveries=tuple(counts.items()), changes=changes)
