"""What happened, as JSON Lines: one shape per kind of line, written once for every command that prints them.

Every line has ``kind`` (``event``, ``error`` or ``summary``) and ``at`` (ISO 8601 UTC, milliseconds,
``Z``). An event is one thing this terminal learned or did about a call: ``call_id``, ``version``,
``status``, ``source`` (``response``, ``push``, ``poll``, ``resync``, ``local``) and ``end_reason``
where known; a one-shot command's event is the server's ``data`` fields plus ``kind``, ``at`` and
``source``. An error carries the server's ``code`` (``null`` when no envelope came back) and
``message``. A summary closes a command's output with what it amounted to. A delivery that taught
something also carries ``changes``, what it taught in words; a gap or stale one its ``detail``.

The same records serve ``--json`` output and the TUI's bug report (``data()`` for the objects):
build them from a call's timeline with :func:`timeline_records`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, PlainSerializer

from softphone.api import TERMINAL_STATUSES, ApiError, SoftphoneError, short_token
from softphone.core import CallMachine, Marker, Source, TimelineEntry


def iso_moment(moment: datetime) -> str:
    """``2026-07-05T10:05:30.123Z``: the wire's timestamps, to the millisecond."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Moment = Annotated[datetime, PlainSerializer(iso_moment, return_type=str)]

# Credentials the server hands out; records are shown and saved, so these are redacted.
SECRET_FIELDS = ("rtc_token", "token")


class Record(BaseModel):
    """One JSON line; fields named in ``OPTIONAL`` are left out when not given (a given ``null`` stays)."""

    model_config = ConfigDict(extra="allow")
    OPTIONAL: ClassVar[tuple[str, ...]] = ()

    kind: str
    at: Moment

    def data(self) -> dict[str, Any]:
        """The record as a JSON object: unknown optional fields left out, tokens cut short."""
        data = self.model_dump(mode="json")
        for name in self.OPTIONAL:
            if data.get(name) is None and name not in self.model_fields_set:
                data.pop(name, None)
        for name in SECRET_FIELDS:
            if isinstance(data.get(name), str):
                data[name] = short_token(data[name])
        return data

    def line(self) -> str:
        return json.dumps(self.data(), ensure_ascii=False)


class EventRecord(Record):
    """A call's state as learned (or an action taken) by this terminal, at ``at``."""

    OPTIONAL = ("end_reason", "marker", "action", "detail", "changes")

    kind: Literal["event"] = "event"
    call_id: int
    version: int | None = None
    status: str | None = None
    source: Source
    end_reason: str | None = None
    # duplicate, stale or gap: how this version compared with what was known (ordinary changes have none).
    marker: str | None = None
    # A request this terminal sent (source "local"): accept, reject, cancel, hangup, media-state.
    action: str | None = None
    detail: str | None = None
    # What this delivery taught about the call, in words (``callee joined (good)``, ``talk started``).
    changes: list[str] | None = None

    @classmethod
    def from_data(cls, data: BaseModel, at: datetime, source: Source = Source.RESPONSE) -> EventRecord:
        """The server's ``data`` fields as they came, plus ``kind``, ``at`` and ``source``."""
        return cls(at=at, source=source, **data.model_dump(mode="json"))


class ErrorRecord(Record):
    """A request refused (``code``, ``message`` as the server said) or never answered (``code`` null)."""

    OPTIONAL = ("call_id", "action")

    kind: Literal["error"] = "error"
    code: int | None
    message: str
    call_id: int | None = None
    action: str | None = None

    @classmethod
    def from_error(
        cls, error: SoftphoneError, at: datetime, *, call_id: int | None = None, action: str | None = None
    ) -> ErrorRecord:
        about = {name: value for name, value in (("call_id", call_id), ("action", action)) if value is not None}
        if isinstance(error, ApiError):
            return cls(at=at, code=error.code, message=error.message, **about)
        return cls(at=at, code=None, message=str(error), **about)


class SummaryRecord(Record):
    """The last line of a command: what it amounted to (the fields depend on the command)."""

    kind: Literal["summary"] = "summary"


def timeline_records(machine: CallMachine, start: int = 0) -> list[EventRecord | ErrorRecord]:
    """Records for ``machine.timeline[start:]``, in order.

    A local action carries the version and status known when it was sent; ``end_reason`` is given
    once the call is over (it never changes after that).
    """
    version: int | None = None
    status: str | None = None
    records: list[EventRecord | ErrorRecord] = []
    for index, entry in enumerate(machine.timeline):
        if entry.source is not Source.LOCAL and entry.marker in (None, Marker.GAP):
            version, status = entry.version, entry.status
        if index >= start:
            records.append(_record(machine, entry, version, status))
    return records


def _record(
    machine: CallMachine, entry: TimelineEntry, version: int | None, status: str | None
) -> EventRecord | ErrorRecord:
    call_id = machine.call_id
    if entry.marker is Marker.ERROR:
        action, _, message = entry.detail.partition(": ")
        return ErrorRecord(at=entry.at, code=entry.error_code, message=message, call_id=call_id, action=action)
    if entry.source is Source.LOCAL:
        action, _, detail = entry.detail.partition(" ")
        said = {"detail": detail} if detail else {}
        return EventRecord(
            at=entry.at, call_id=call_id, version=version, status=status, source=entry.source, action=action, **said
        )
    known: dict[str, Any] = {}
    if entry.status in TERMINAL_STATUSES and machine.facts.end_reason is not None:
        known["end_reason"] = machine.facts.end_reason
    if entry.marker is not None:
        known["marker"] = entry.marker.value
    if entry.marker in (Marker.GAP, Marker.STALE) and entry.detail:
        known["detail"] = entry.detail  # which versions were missed, or what was held instead
    if entry.changes:
        known["changes"] = list(entry.changes)
    return EventRecord(
        at=entry.at, call_id=call_id, version=entry.version, status=entry.status, source=entry.source, **known
    )

