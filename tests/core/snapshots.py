"""Builders of wire snapshots with the documented example values, so tests state only what matters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from softphone.api import AcceptData, CallState, CallStatusData, MediaStateData, StartCallData

CALL_ID = 5001
CONVERSATION_ID = 1001
CALLER = 10001
CALLEE = 20002
STRANGER = 30003
CALLER_TERMINAL = "alice-laptop"
CALLEE_TERMINAL = "bob-desk"
SIBLING_TERMINAL = "bob-phone"
T0 = datetime(2026, 7, 5, 10, 5, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """A moment ``seconds`` after the example call was placed."""
    return T0 + timedelta(seconds=seconds)


def state(version: int, status: str, call_id: int = CALL_ID, **fields: Any) -> CallState:
    """A full state object as ``GET state`` or a push would carry it."""
    values: dict[str, Any] = {
        "call_id": call_id,
        "status": status,
        "call_type": "audio",
        "biz_type": "single",
        "conversation_id": CONVERSATION_ID,
        "channel_name": f"call_{call_id}_{CONVERSATION_ID}",
        "app_id": "app-demo",
        "caller_user_id": CALLER,
        "callee_user_id": CALLEE,
        "caller_uid": str(CALLER),
        "callee_uid": str(CALLEE),
        "version": version,
    }
    values.update(fields)
    return CallState(**values)


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
