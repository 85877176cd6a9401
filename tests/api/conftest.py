"""Fixtures for the adapter's tests: wire payloads, and a client whose HTTP is a function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from softphone.api import Backoff, CallClient

NO_WAIT = Backoff(initial=0, maximum=0, factor=1, jitter=0)
MOCK_BASE_URL = "http://sim.test"

Handler = Callable[[httpx.Request], httpx.Response]


def _call_state_payload(
    call_id: int = 5001, version: int = 1, status: str = "calling"
) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "status": status,
        "call_type": "audio",
        "biz_type": "single",
        "conversation_id": 1001,
        "channel_name": f"call_{call_id}_1001",
        "app_id": "app",
        "caller_user_id": 10001,
        "callee_user_id": 20002,
        "caller_uid": "10001",
        "callee_uid": "20002",
        "accepted_at": None,
        "started_at": None,
        "ended_at": None,
        "end_reason": None,
        "version": version,
    }


def _envelope(data: Any, code: int = 0, message: str = "success") -> dict[str, Any]:
    return {"code": code, "message": message, "data": data}


@pytest.fixture
def state_payload() -> Callable[..., dict[str, Any]]:
    """``state_payload(call_id, version, status)``: a state object shaped like the documented one."""
    return _call_state_payload


@pytest.fixture
def envelope() -> Callable[..., dict[str, Any]]:
    """``envelope(data, code=0, message="success")``: a response body."""
    return _envelope


@pytest.fixture
def mock_client() -> Callable[..., CallClient]:
    """``mock_client(handler, **options)``: a CallClient whose every request ``handler`` answers."""

    def make(handler: Handler, *, base_url: str = MOCK_BASE_URL, **options: Any) -> CallClient:
        options.setdefault("retry_backoff", NO_WAIT)
        return CallClient(
            base_url,
            terminal_id="term-a",
            token="tok-a",
            transport=httpx.MockTransport(handler),
            **options,
        )

    return make
