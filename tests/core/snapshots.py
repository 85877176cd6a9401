"""Builders of wire snapshots with the documented example values, so tests state only what matters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from support.wire import CALL_ID, CALLEE, CALLER, CONVERSATION_ID, state

from softphone.api import AcceptData, CallStatusData, MediaStateData, StartCallData

__all__ = ["CALLEE", "CALLER", "STRANGER", "accept", "at", "ended", "media", "start", "state"]

STRANGER = 30003
CALLER_TERMINAL = "alice-laptop"
CALLEE_TERMINAL = "bob-desk"
SIBLING_TERMINAL = "bob-phone"
T0 = datetime(2026, 7, 5, 10, 5, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """A moment ``seconds`` after the example call was placed."""
    return T0 + timedelta(seconds=seconds)


def start(call_id: int = CALL_ID, *, version: int = 1, timeout_seconds: int = 30) -> StartCallData:
    """The caller's own start response."""
    return StartCallData(
        call_id=call_id,
        conversation_id=CONVERSATION_ID,
        call_type="audio",
        biz_type="single",
        status="calling",
        timeout_seconds=timeout_seconds,
        version=version,
        channel_name=f"call_{call_id}_{CONVERSATION_ID}",
        app_id="app-demo",
        caller_uid=str(CALLER),
        rtc_token="caller-token",
        expire_at=at(7200),
    )


def accept(version: int = 2, call_id: int = CALL_ID, *, status: str = "accepted") -> AcceptData:
    """The callee's accept response (also a repeated accept, which keeps saying "accepted")."""
    return AcceptData(
        call_id=call_id,
        status=status,
        channel_name=f"call_{call_id}_{CONVERSATION_ID}",
        app_id="app-demo",
        callee_uid=str(CALLEE),
        rtc_token="callee-token",
        expire_at=at(7200),
        version=version,
    )


def ended(version: int, status: str, end_reason: str | None, call_id: int = CALL_ID) -> CallStatusData:
    """What reject, cancel and hangup answer with."""
    return CallStatusData(call_id=call_id, status=status, end_reason=end_reason, version=version)


def media(
    version: int, status: str, started_at: datetime | None = None, call_id: int = CALL_ID
) -> MediaStateData:
    """What a media-state report answers with."""
    return MediaStateData(call_id=call_id, status=status, started_at=started_at, version=version)
