"""The one builder of call state objects for tests, with the documented example's values.

Every test that needs a state (as JSON or as ``CallState``) builds it here, so a field added to or
renamed in ``CallState`` is changed in one place (``tests/test_shape.py`` checks this stays complete).
"""

from __future__ import annotations

from typing import Any

from softphone.api import CallState

CALL_ID = 5001
CONVERSATION_ID = 1001
CALLER = 10001
CALLEE = 20002


def state_payload(call_id: int = CALL_ID, version: int = 1, status: str = "calling", **fields: Any) -> dict[str, Any]:
    """A state object as JSON, shaped like the documented example; ``fields`` override or add."""
    payload: dict[str, Any] = {
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
        "accepted_at": None,
        "started_at": None,
        "ended_at": None,
        "end_reason": None,
        "version": version,
    }
    return payload | fields


def state(version: int, status: str, call_id: int = CALL_ID, **fields: Any) -> CallState:
    """A full state object as ``GET state`` or a push would carry it."""
    return CallState.model_validate(state_payload(call_id, version, status, **fields))
