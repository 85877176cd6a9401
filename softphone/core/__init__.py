"""The call state machine: pure, no I/O, no clock; applies snapshots by ``version``."""

from softphone.core.machine import Action, CallFacts, CallMachine, Outcome, RtcCredentials, Role, Snapshot
from softphone.core.phone import BUSY_REASON, Phone
from softphone.core.timeline import Marker, Source, TimelineEntry

__all__ = [
    "BUSY_REASON",
    "Action",
    "CallFacts",
    "CallMachine",
    "Marker",
    "Outcome",
    "Phone",
    "Role",
    "RtcCredentials",
    "Snapshot",
    "Source",
    "TimelineEntry",
]
