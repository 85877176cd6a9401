"""Fuzzing the push channel: random frames on one real WebSocket, and never a traceback.

SIMULATOR.md: a client may send ``{"type": "ping"}`` and gets ``{"type": "pong"}``; any other frame
gets an error frame (40001) and the connection stays open. Hypothesis sends text, JSON of any shape,
frames with every type name, deep nesting and binary frames; each must get exactly that answer, in
order, on the same connection, and the simulator's log must stay free of tracebacks.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.server import ServerProcess, login
from support.soak import record, scaled
from websockets.sync.client import ClientConnection, connect

PROOF = "Fuzzing the push channel"
EXAMPLES = scaled(150, 2000)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=16,
)
TYPE_NAMES = st.sampled_from(["ping", "pong", "hello", "call.updated", "error", "PING", ""]) | st.text(max_size=12)
FRAMES = st.one_of(
    st.text(max_size=300),
    JSON_VALUES.map(json.dumps),
    st.builds(lambda fields, kind: json.dumps({**fields, "type": kind}), st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=3), TYPE_NAMES),
    st.integers(1, 20_000).map(lambda depth: "[" * depth + "]" * depth),
    st.integers(1, 5_000).map(lambda depth: '{"a":' * depth + "1" + "}" * depth),
    st.binary(max_size=300),
)


def expected_answer(frame: str | bytes) -> str:
    """``pong`` for a ping object, ``error`` for anything else (a binary frame is not JSON text)."""
    if isinstance(frame, bytes):
        return "error"
    try:
        payload = json.loads(frame)
    except (ValueError, RecursionError):
        return "error"
    return "pong" if isinstance(payload, dict) and payload.get("type") == "ping" else "error"


@pytest.fixture(scope="module")
def channel(shared_server: ServerProcess) -> Iterator[ClientConnection]:
    """Frank's push connection on the session's simulator."""
    headers = {"Authorization": f"Bearer {login(shared_server.base_url, 'frank')}"}
    with connect(f"{shared_server.ws_url}?terminal_id=fuzz", additional_headers=headers) as websocket:
        assert json.loads(websocket.recv(timeout=10))["type"] == "hello"
        yield websocket


def answer_to(websocket: ClientConnection) -> dict[str, Any]:
    """The next frame that answers the client (pushes about Frank's calls, if other tests make any, pass by)."""
    while (frame := json.loads(websocket.recv(timeout=10)))["type"] == "call.updated":
        pass
    return frame  # type: ignore[no-any-return]


@pytest.mark.soak
@pytest.mark.timeout(scaled(120, 900))
def test_random_frames_get_a_pong_or_an_error_frame_and_never_a_traceback(
    shared_server: ServerProcess, channel: ClientConnection, request: pytest.FixtureRequest
) -> None:
    websocket = channel
    log_before = len(shared_server.log())
    answers: dict[str, int] = {"pong": 0, "error": 0}

    @given(frame=FRAMES)
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    def each_frame(frame: str | bytes) -> None:
        websocket.send(frame)
        answer = answer_to(websocket)
        want = expected_answer(frame)
        assert answer["type"] == want, (frame[:80], answer)
        if want == "error":
            assert answer["data"]["code"] == 40001 and answer["data"]["message"].startswith("参数错误")
        answers[want] += 1

    each_frame()
    websocket.send('{"type": "ping"}')
    assert answer_to(websocket) == {"type": "pong"}, "the same connection still answers"
    log = shared_server.log()[log_before:]
    assert "Traceback" not in log, log[-3000:]
    record(
        request.node.nodeid,
        PROOF,
        examples=sum(answers.values()),
        notes=f"{answers['error']:,} error frames and {answers['pong']:,} pongs on one connection; no traceback",
    )
