"""The envelope for every kind of bad request, and the order of checks: route, token, path, body."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from softphone.api import NETWORK_QUALITY_MAX, REASON_MAX, STAGE_MAX, TERMINAL_ID_MAX

from .conftest import BOB, CALLEE_TERMINAL, Api, Parties, envelope

ACTIONS = ["accept", "reject", "cancel", "hangup", "media-state"]
MEDIA = {"stage": "joined"}


async def bad_params(response: httpx.Response, field: str) -> str:
    body = envelope(response)
    assert response.status_code == 400 and body["code"] == 40001, body
    message: str = body["message"]
    assert message.startswith(f"参数错误: {field}: "), message
    return message


async def start_body(api: Api, token: str) -> dict[str, Any]:
    return {"conversation_id": await api.conversation(token, BOB), "target_user_id": BOB, "call_type": "audio",
            "biz_type": "single", "terminal_id": "t"}  # fmt: skip


@pytest.mark.parametrize(
    ("action", "field", "limit", "extra"),
    [
        *[(action, "terminal_id", TERMINAL_ID_MAX, MEDIA if action == "media-state" else {}) for action in ACTIONS],
        *[(action, "reason", REASON_MAX, {}) for action in ("reject", "cancel", "hangup")],
        ("media-state", "stage", STAGE_MAX, {}),
        ("media-state", "network_quality", NETWORK_QUALITY_MAX, MEDIA),
    ],
)
async def test_length_limits_at_max_and_max_plus_one(parties: Parties, action: str, field: str, limit: int, extra: dict[str, Any]) -> None:
    """At the limit the request gets past validation (to a business code); one more is 40001."""
    api = parties.api
    body = {"terminal_id": CALLEE_TERMINAL, "stage": "joined", **extra}
    at_limit = await api.post("/api/calls/999999/" + action, parties.bob, {**body, field: "字" * limit})
    assert at_limit["code"] == 41001
    over = await api.request("POST", "/api/calls/999999/" + action, parties.bob, {**body, field: "字" * (limit + 1)})
    message = await bad_params(over, field)
    assert str(limit) in message


async def test_start_terminal_id_limit(parties: Parties) -> None:
    body = await start_body(parties.api, parties.alice)
    over = await parties.api.request("POST", "/api/calls/session", parties.alice, {**body, "terminal_id": "x" * 65})
    await bad_params(over, "terminal_id")
    at_limit = await parties.api.post("/api/calls/session", parties.alice, {**body, "terminal_id": "x" * 64})
    assert at_limit["code"] == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("call_type", "fax"), ("call_type", "AUDIO"), ("biz_type", "group"), ("biz_type", ""),
        ("conversation_id", "1"), ("conversation_id", 0), ("conversation_id", -3), ("conversation_id", 1.5),
        ("target_user_id", "20002"), ("target_user_id", None), ("terminal_id", 7), ("terminal_id", ""),
        ("call_type", None),
    ],
)  # fmt: skip
async def test_start_rejects_bad_values(parties: Parties, field: str, value: Any) -> None:
    body = await start_body(parties.api, parties.alice)
    await bad_params(await parties.api.request("POST", "/api/calls/session", parties.alice, {**body, field: value}), field)


@pytest.mark.parametrize("call_type", ["audio", "video"])
async def test_start_accepts_every_call_type(parties: Parties, call_type: str) -> None:
    assert (await parties.api.start(parties.alice, BOB, call_type=call_type))["data"]["call_type"] == call_type


@pytest.mark.parametrize("field", ["conversation_id", "target_user_id", "call_type", "biz_type", "terminal_id"])
async def test_start_requires_every_field(parties: Parties, field: str) -> None:
    body = await start_body(parties.api, parties.alice)
    del body[field]
    message = await bad_params(await parties.api.request("POST", "/api/calls/session", parties.alice, body), field)
    assert message.endswith("Field required")


@pytest.mark.parametrize("action", ACTIONS)
async def test_call_actions_require_terminal_id(parties: Parties, action: str) -> None:
    response = await parties.api.request("POST", f"/api/calls/1/{action}", parties.bob, {"stage": "joined"})
    await bad_params(response, "terminal_id")


async def test_media_state_requires_stage(parties: Parties) -> None:
    response = await parties.api.request("POST", "/api/calls/1/media-state", parties.bob, {"terminal_id": "t"})
    await bad_params(response, "stage")


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b"not json", b"[]", b'"terminal_id"', b"null", b"{'terminal_id': 't'}"],
)
async def test_malformed_or_missing_bodies(parties: Parties, content: bytes) -> None:
    response = await parties.api.client.post(
        "/api/calls/1/accept", content=content, headers={"Authorization": f"Bearer {parties.bob}"}
    )
    await bad_params(response, "body")


@pytest.mark.parametrize(
    ("call_id", "why"),
    [("abc", "valid integer"), ("1.5", "valid integer"), ("0", "greater than 0"), ("-7", "greater than 0"),
     ("99999999999999999999", "less than or equal to")],
)  # fmt: skip
async def test_non_integer_and_non_positive_call_ids(parties: Parties, call_id: str, why: str) -> None:
    for method, path, body in (("GET", "state", None), ("POST", "accept", {"terminal_id": "t"})):
        response = await parties.api.request(method, f"/api/calls/{call_id}/{path}", parties.bob, body)
        assert why in await bad_params(response, "call_id")


async def test_path_is_checked_before_body(parties: Parties) -> None:
    response = await parties.api.client.post("/api/calls/abc/accept", content=b"{", headers={"Authorization": f"Bearer {parties.bob}"})
    await bad_params(response, "call_id")


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=x", "before_id=0", "before_id=abc"])
async def test_history_query_limits(parties: Parties, query: str) -> None:
    response = await parties.api.request("GET", f"/api/calls/history?{query}", parties.alice)
    await bad_params(response, query.split("=")[0])


@pytest.mark.parametrize("limit", [1, 100])
async def test_history_limit_bounds_are_accepted(parties: Parties, limit: int) -> None:
    assert (await parties.api.get(f"/api/calls/history?limit={limit}", parties.alice))["code"] == 0


@pytest.mark.parametrize("login", [{}, {"user": ""}, {"user": 0}, {"user": None}, {"user": "x" * 65}])
async def test_login_validation(api: Api, login: dict[str, Any]) -> None:
    await bad_params(await api.request("POST", "/api/dev/login", json=login), "user")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/dev/directory", None), ("GET", "/api/calls/active", None), ("GET", "/api/calls/history", None),
        ("GET", "/api/calls/1/state", None), ("POST", "/api/calls/session", {}),
        *[("POST", f"/api/calls/1/{action}", {"terminal_id": "t"}) for action in ACTIONS],
    ],
)  # fmt: skip
@pytest.mark.parametrize("authorization", [None, "Bearer nonsense", "Basic YWxpY2U6eA==", "Bearer", "bearer unknown-token"])
async def test_every_protected_route_wants_a_token(api: Api, method: str, path: str, body: Any, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await api.client.request(method, path, json=body, headers=headers)
    assert response.status_code == 401
    assert envelope(response) == {"code": 40101, "message": "未登录或令牌无效", "data": None}


@pytest.mark.parametrize(
    ("path", "content"), [("/api/calls/abc/accept", b"{"), ("/api/calls/-1/hangup", b""), ("/api/calls/session", b"[")]
)
async def test_token_is_checked_before_path_and_body(api: Api, path: str, content: bytes) -> None:
    response = await api.client.post(path, content=content)
    assert (response.status_code, response.json()["code"]) == (401, 40101)


@pytest.mark.parametrize(
    ("method", "path", "status", "code", "message"),
    [
        ("GET", "/nope", 404, 40401, "接口不存在"),
        ("POST", "/api/calls/1/explode", 404, 40401, "接口不存在"),
        ("GET", "/api/calls", 404, 40401, "接口不存在"),
        ("GET", "/api/calls/1/accept", 405, 40501, "方法不允许"),
        ("DELETE", "/api/calls/1/state", 405, 40501, "方法不允许"),
        ("PUT", "/api/calls/session", 405, 40501, "方法不允许"),
        ("POST", "/healthz", 405, 40501, "方法不允许"),
    ],
)
async def test_unknown_routes_and_methods_before_the_token(api: Api, method: str, path: str, status: int, code: int, message: str) -> None:
    response = await api.client.request(method, path)
    assert response.status_code == status
    assert envelope(response) == {"code": code, "message": message, "data": None}


async def test_extra_fields_are_ignored(parties: Parties) -> None:
    body = await start_body(parties.api, parties.alice)
    assert (await parties.api.post("/api/calls/session", parties.alice, {**body, "unexpected": [1]}))["code"] == 0


async def test_unexpected_errors_are_a_500_envelope_without_a_traceback(
    asgi_app: FastAPI, asgi_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_: Any) -> None:
        raise RuntimeError("secret internals /home/x/file.py line 3")

    service = asgi_app.state.service
    monkeypatch.setattr(service, "state", explode)
    token = (await asgi_client.post("/api/dev/login", json={"user": "alice"})).json()["data"]["token"]
    response = await asgi_client.get("/api/calls/1/state", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 500
    assert response.json() == {"code": 50000, "message": "服务器内部错误", "data": None}
    assert "Traceback" not in response.text and "secret" not in response.text
