"""The call state machine: pure, no I/O, no clock; applies snapshots by ``version``.

Importing it loads the wire layer of ``softphone.api`` (pydantic models and rules) and nothing that
talks to a network or draws a screen.
"""

from softphone.core.machine import (
    USER_ACTIONS,
    CallFacts,
    CallMachine,
    EndedBy,
    Outcome,
    Role,
    RtcCredentials,
    Snapshot,
    changes_between,
)
from softphone.core.phone import BUSY_REASON, Phone
from softphone.core.timeline import Marker, RowKind, Source, TimelineEntry, TimelineRow, timeline_rows
from softphone.core.words import failure_sentence, failure_text

__all__ = [
    "BUSY_REASON",
    "USER_ACTIONS",
    "CallFacts",
    "CallMachine",
    "EndedBy",
    "Marker",
    "Outcome",
    "Phone",
    "Role",
    "RowKind",
    "RtcCredentials",
    "Snapshot",
    "Source",
    "TimelineEntry",
    "TimelineRow",
    "changes_between",
    "failure_sentence",
    "failure_text",
    "timeline_rows",
]
