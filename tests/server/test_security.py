"""Security and limits: body size, push frame depth and size, string limits, tokens, Host check, push caps."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from support.inprocess import client_for, running_app
from support.server import ServerFactory, ServerProcess, login, wait_for
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from softphone.api import AcceptRequest, LoginRequest, StartCallRequest, TooManyConnections
from softphone.cli import main
from softphone.server.app import ACTION_ROUTES
from softphone.server.config import ServerConfig
from softphone.server.hub import Hub
from softphone.server.tokens import hash_login_token

from .conftest import BOB, Api
from .test_store import SCHEMA_0, SCHEMA_0_ALICE_TOKEN

FRAME_TIMEOUT = 5.0
TOO_LARGE = {"code": 40001, "message": "参数错误: 请求体过大", "data": None}
LIMIT = ServerConfig().max_body_bytes


async def open_ws(server: ServerProcess, token: str, terminal: str = "t") -> ClientConnection:
    ws = await connect(f"{server.ws_url}?terminal_id={terminal}", additional_headers={"Authorization": f"Bearer {token}"})
    assert json.loads(await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT))["type"] == "hello"
    return ws


async def close_code(ws: ClientConnection) -> int | None:
    """Read until the server closes; the close code it sent (``None``: no close frame)."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT)
    return closed.value.rcvd.code if closed.value.rcvd else None


def raw_request(server: ServerProcess, head: str, body: bytes = b"") -> str:
    """Send ``head`` and part of a body on a plain socket and return what the server answers, unfinished."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=FRAME_TIMEOUT) as conn:
        conn.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer.decode(errors="replace")


# --------------------------------------------------------------------------- request bodies


async def test_a_body_over_the_limit_is_413(api: Api) -> None:
    token = await api.login("alice")
    body = {"terminal_id": "t", "padding": "x" * LIMIT}
    refused = await api.request("POST", "/api/calls/999999999/accept", token, body)
    assert (refused.status_code, refused.json()) == (413, TOO_LARGE)
    at_limit = json.dumps({"terminal_id": "t", "pad": ""}).encode()
    at_limit = at_limit[:-2] + b"x" * (LIMIT - len(at_limit)) + b'"}'
    assert len(at_limit) == LIMIT
    answered = await api.client.post("/api/calls/999999999/accept", content=at_limit, headers={"Authorization": f"Bearer {token}"})
    assert answered.json()["code"] == 41001, "a body at the limit is read"


async def test_a_streamed_body_is_counted_as_it_comes(api: Api) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(LIMIT // 1000 + 2):
            yield b" " * 1000  # JSON whitespace: only the size is wrong

    refused = await api.client.post("/api/dev/login", content=chunks())
    assert (refused.status_code, refused.json()) == (413, TOO_LARGE)


def test_a_declared_length_is_refused_before_the_body_arrives(shared_server: ServerProcess) -> None:
    head = "POST /api/dev/login HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/json\nContent-Length: 10000000\n"
    answer = raw_request(shared_server, head, b'{"user": ')  # and never the rest
    assert answer.startswith("HTTP/1.1 413") and json.loads(answer.partition("\r\n\r\n")[2]) == TOO_LARGE


def test_a_chunked_body_is_refused_once_it_passes_the_limit(shared_server: ServerProcess) -> None:
    head = "POST /api/dev/login HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/json\nTransfer-Encoding: chunked\n"
    chunk = b" " * (LIMIT + 1)
    answer = raw_request(shared_server, head, f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")  # no last chunk
    assert answer.startswith("HTTP/1.1 413") and json.loads(answer.partition("\r\n\r\n")[2]) == TOO_LARGE


def test_a_small_declared_length_does_not_let_a_chunked_body_past_the_limit(shared_server: ServerProcess) -> None:
    """A declared length within the limit is trusted (the server reads no more); beside a chunked body,
    which would override it, the request is refused whole."""
    head = (
        "POST /api/dev/login HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/json\n"
        "Content-Length: 10\nTransfer-Encoding: chunked\n"
    )
    chunk = b" " * (LIMIT + 1)
    answer = raw_request(shared_server, head, f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n0\r\n\r\n")
    refused_whole = answer.startswith("HTTP/1.1 400") and "Invalid HTTP request" in answer  # uvicorn's, not a 40001
    counted = answer.startswith("HTTP/1.1 413") and json.loads(answer.partition("\r\n\r\n")[2]) == TOO_LARGE
    assert refused_whole or counted, answer[:300]


# --------------------------------------------------------------------------- push frames


async def test_a_deeply_nested_frame_gets_an_error_frame_and_no_traceback(shared_server: ServerProcess) -> None:
    depth = 30_000  # 60,000 bytes: under the frame limit, far over any recursion limit
    async with await open_ws(shared_server, login(shared_server.base_url, "bob")) as ws:
        await ws.send("[" * depth + "]" * depth)
        reply = json.loads(await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT))
        assert reply["type"] == "error" and reply["data"]["code"] == 40001
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT)) == {"type": "pong"}
    assert "Traceback" not in shared_server.log() and "RecursionError" not in shared_server.log()


async def test_a_frame_over_the_limit_closes_the_connection_cleanly(shared_server: ServerProcess) -> None:
    ws = await open_ws(shared_server, login(shared_server.base_url, "bob"))
    await ws.send(json.dumps({"type": "ping", "pad": "x" * LIMIT}))
    assert await close_code(ws) == 1009
    assert "Traceback" not in shared_server.log()


# --------------------------------------------------------------------------- string limits


def string_limits(model: type[Any]) -> list[tuple[str, int]]:
    """Every string field of a request model with its maximum length, read from the model's schema."""
    limits = []
    for name, prop in model.model_json_schema()["properties"].items():
        for variant in prop.get("anyOf", [prop]):
            if variant.get("type") == "string" and "maxLength" in variant:
                limits.append((name, variant["maxLength"]))
    return limits


VALID = {"terminal_id": "t", "stage": "joined", "conversation_id": 1, "target_user_id": BOB, "call_type": "audio",
         "biz_type": "single", "user": "alice"}  # fmt: skip
ROUTES = [
    ("/api/dev/login", LoginRequest),
    ("/api/calls/session", StartCallRequest),
    *[(f"/api/calls/1/{route.action.value}", route.request) for route in ACTION_ROUTES],
]
LIMITED_FIELDS = [(path, field, limit) for path, model in ROUTES for field, limit in string_limits(model)]


def test_every_route_with_a_body_has_its_limits_listed() -> None:
    assert {path for path, _, _ in LIMITED_FIELDS} == {path for path, _ in ROUTES}
    assert string_limits(AcceptRequest) == [("terminal_id", 64)]


@pytest.mark.parametrize(("path", "field", "limit"), LIMITED_FIELDS)
async def test_every_string_limit_holds_on_every_route(api: Api, path: str, field: str, limit: int) -> None:
    token = await api.login("alice")
    over = await api.request("POST", path, token, {**VALID, field: "字" * (limit + 1)})
    message = over.json()["message"]
    assert over.status_code == 400 and message.startswith(f"参数错误: {field}: ") and str(limit) in message, message
    at = await api.request("POST", path, token, {**VALID, field: "字" * limit})
    assert str(limit) not in at.json()["message"], "at the limit the length passes (an unknown user may still not)"


# --------------------------------------------------------------------------- integers


async def test_a_whole_number_with_a_fraction_part_is_an_integer_and_strings_are_not(api: Api) -> None:
    alice = await api.login("alice")
    conversation = await api.conversation(alice, BOB)
    body = {"conversation_id": float(conversation), "target_user_id": float(BOB), "call_type": "audio",
            "biz_type": "single", "terminal_id": "t"}  # fmt: skip
    refused = await api.request("POST", "/api/calls/session", alice, {**body, "target_user_id": str(BOB)})
    assert refused.json()["message"].startswith("参数错误: target_user_id")
    refused = await api.request("POST", "/api/calls/session", alice, {**body, "target_user_id": True})
    assert refused.json()["code"] == 40001
    assert (await api.post("/api/calls/session", alice, body))["code"] == 0
    assert (await api.client.post("/api/dev/login", json={"user": 20002.0})).json()["data"]["user_id"] == BOB


# --------------------------------------------------------------------------- tokens


async def test_tokens_are_stored_only_as_hashes(shared_server: ServerProcess) -> None:
    token = login(shared_server.base_url, "alice")
    with sqlite3.connect(shared_server.db_path) as db:
        stored = [row[0] for row in db.execute("SELECT token_hash FROM login_tokens")]
    assert hash_login_token(token) in stored and token not in stored


def authenticated_operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method.upper(), path.replace("{call_id}", "1"))
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if operation.get("security")
    ]


async def test_a_revoked_token_is_refused_on_every_route(api: Api) -> None:
    token, other = await api.login("alice"), await api.login("alice")
    assert (await api.post("/api/dev/logout", token, None)) == {"code": 0, "message": "success", "data": None}
    operations = authenticated_operations((await api.client.get("/openapi.json")).json())
    assert len(operations) >= 12
    for method, path in operations:
        refused = await api.request(method, path, token, {"terminal_id": "t"} if method != "GET" else None)
        assert (refused.status_code, refused.json()["code"]) == (401, 40101), (method, path)
    assert (await api.get("/api/dev/directory", other))["code"] == 0, "only the token that logged out"


async def test_logout_closes_the_push_connections_of_that_token_only(shared_server: ServerProcess) -> None:
    token, other = login(shared_server.base_url, "bob"), login(shared_server.base_url, "bob")
    revoked, kept = await open_ws(shared_server, token, "a"), await open_ws(shared_server, other, "b")
    httpx.post(f"{shared_server.base_url}/api/dev/logout", headers={"Authorization": f"Bearer {token}"})
    assert await close_code(revoked) == 4401
    await kept.send(json.dumps({"type": "ping"}))
    assert json.loads(await asyncio.wait_for(kept.recv(), FRAME_TIMEOUT)) == {"type": "pong"}
    await kept.close()
    with pytest.raises(InvalidStatus) as refused:
        await open_ws(shared_server, token)
    assert refused.value.response.status_code == 401


async def test_an_expired_token_is_refused_and_its_push_connection_closed(server_factory: ServerFactory) -> None:
    server = server_factory(args=["--token-ttl", "2s"])
    token = login(server.base_url, "bob")
    ws = await open_ws(server, token)
    assert await close_code(ws) == 4401
    refused = httpx.get(f"{server.base_url}/api/calls/active", headers={"Authorization": f"Bearer {token}"})
    assert (refused.status_code, refused.json()["code"]) == (401, 40101)


async def test_a_token_expires_after_its_lifetime_by_the_servers_clock() -> None:
    class Clock:
        now = ServerConfig().token_ttl  # any start; only the difference counts

        def __call__(self) -> Any:
            from datetime import UTC, datetime

            return datetime(2026, 7, 5, tzinfo=UTC) + self.now

    clock = Clock()
    async with running_app(ServerConfig(token_ttl=timedelta(hours=1)), clock) as app, client_for(app) as client:
        api = Api(client)
        token = await api.login("alice")
        clock.now += timedelta(minutes=59)
        assert (await api.get("/api/dev/directory", token))["code"] == 0
        clock.now += timedelta(minutes=1)
        assert (await api.request("GET", "/api/dev/directory", token)).json()["code"] == 40101


async def test_an_old_database_keeps_its_sessions(server_factory: ServerFactory, tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    shutil.copy(SCHEMA_0, db)
    server = server_factory(db=db)
    answer = httpx.get(f"{server.base_url}/api/dev/directory", headers={"Authorization": f"Bearer {SCHEMA_0_ALICE_TOKEN}"})
    assert answer.json()["code"] == 0


# --------------------------------------------------------------------------- Host header


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:8765", "127.0.0.1", "127.0.0.1:1", "127.9.8.7:80", "[::1]:8765", "[::1]",
             "app.localhost", "LOCALHOST.", "testserver"],
)  # fmt: skip
async def test_loopback_hosts_pass(asgi_client: httpx.AsyncClient, host: str) -> None:
    assert (await asgi_client.get("/healthz", headers={"Host": host})).status_code == 200


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8765", "127.0.0.1.evil.example", "localhost.evil.example", "10.0.0.1",
             "[::2]:80", ""],
)  # fmt: skip
async def test_other_hosts_are_refused_while_on_loopback(asgi_client: httpx.AsyncClient, host: str) -> None:
    refused = await asgi_client.get("/healthz", headers={"Host": host})
    assert refused.status_code == 400
    assert refused.json()["code"] == 40001 and refused.json()["message"].startswith("参数错误: Host: ")


async def test_allow_remote_lets_any_host_through() -> None:
    async with running_app(ServerConfig(allow_remote=True)) as app, client_for(app) as client:
        assert (await client.get("/healthz", headers={"Host": "evil.example"})).status_code == 200


def test_a_rebound_name_is_refused_over_http_and_websocket(shared_server: ServerProcess) -> None:
    refused = httpx.get(f"{shared_server.base_url}/healthz", headers={"Host": "evil.example:8765"})
    assert refused.status_code == 400 and refused.json()["code"] == 40001
    token = login(shared_server.base_url, "alice")
    upgrade = (
        f"GET /api/ws?terminal_id=t&token={token} HTTP/1.1\nHost: evil.example\nUpgrade: websocket\n"
        "Connection: Upgrade\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n"
    )
    answer = raw_request(shared_server, upgrade)
    assert answer.startswith("HTTP/1.1 400") and json.loads(answer.partition("\r\n\r\n")[2])["code"] == 40001


def test_a_remote_host_needs_allow_remote() -> None:
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "--allow-remote" in result.output.strip().splitlines()[-1]


def test_allow_remote_warns_and_serves_any_host(server_factory: ServerFactory) -> None:
    server = server_factory(args=["--host", "0.0.0.0", "--allow-remote"])
    assert "anyone who can reach it can sign in as anyone" in server.log()
    assert httpx.get(f"{server.base_url}/healthz", headers={"Host": "softphone.lab.example"}).status_code == 200


# --------------------------------------------------------------------------- push connection caps


async def test_push_connections_are_capped_per_user_and_per_server(server_factory: ServerFactory) -> None:
    server = server_factory(args=["--max-push-per-user", "2", "--max-push-per-server", "3"])
    alice, bob, carol = (login(server.base_url, name) for name in ("alice", "bob", "carol"))
    first, _second = await open_ws(server, alice, "a1"), await open_ws(server, alice, "a2")

    async def refused(token: str) -> tuple[int, int]:
        with pytest.raises(InvalidStatus) as refusal:
            await open_ws(server, token)
        return refusal.value.response.status_code, json.loads(refusal.value.response.body)["code"]

    assert await refused(alice) == (429, 42901), "per user"
    await open_ws(server, bob, "b1")
    assert await refused(carol) == (429, 42901), "per server"

    await first.close()

    async def carol_gets_in() -> bool:
        try:
            await open_ws(server, carol, "c1")
        except InvalidStatus:
            return False
        return True

    await wait_for(carol_gets_in, timeout=FRAME_TIMEOUT)


# --------------------------------------------------------------------------- option errors


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--token-ttl", "0"], "--token-ttl"),
        (["--token-ttl", "soon"], "--token-ttl"),
        (["--max-push-per-user", "0"], "--max-push-per-user"),
        (["--max-push-per-server", "many"], "--max-push-per-server"),
        (["--fault-seed", "-1"], "--fault-seed"),
    ],
)
def test_every_new_option_has_a_one_line_error(args: list[str], named: str) -> None:
    result = CliRunner().invoke(main, ["serve", *args], prog_name="softphone")
    assert result.exit_code == 2
    (error,) = result.output.strip().splitlines()
    assert error.startswith(f"softphone serve: Invalid value for '{named}'"), result.output


# --------------------------------------------------------------------------- documented defaults


def served_config(monkeypatch: pytest.MonkeyPatch, *args: str) -> ServerConfig:
    """The configuration ``softphone serve ARGS`` would run the simulator with (nothing is started)."""
    import softphone.server.runner

    started: list[ServerConfig] = []
    monkeypatch.setattr(softphone.server.runner, "run_server", lambda config, **_: started.append(config))
    result = CliRunner().invoke(main, ["serve", "--db", ":memory:", *args])
    assert result.exit_code == 0, result.output
    (config,) = started
    return config


async def test_a_login_token_lives_one_day_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "How long a login token stays valid" in (help_text := CliRunner().invoke(main, ["serve", "--help"]).output)
    assert "[default: 1d]" in " ".join(help_text.split())
    assert served_config(monkeypatch).token_ttl == ServerConfig().token_ttl == timedelta(days=1)

    class Clock:
        now = datetime(2026, 7, 5, tzinfo=UTC)

        def __call__(self) -> datetime:
            return self.now

    clock = Clock()
    async with running_app(ServerConfig(), clock) as app, client_for(app) as client:
        api = Api(client)
        token = await api.login("alice")
        clock.now += timedelta(days=1, seconds=-1)
        assert (await api.get("/api/dev/directory", token))["code"] == 0, "still valid a second before a day"
        clock.now += timedelta(seconds=1)
        assert (await api.request("GET", "/api/dev/directory", token)).json()["code"] == 40101, "refused after a day"


async def test_push_connections_are_capped_at_1000_per_user_and_10000_per_server_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    help_text = " ".join(CliRunner().invoke(main, ["serve", "--help"]).output.split())
    assert "more are refused at the handshake (42901). [default: 1000; x>=1]" in help_text
    assert "more are refused at the handshake (42901). [default: 10000; x>=1]" in help_text
    config = served_config(monkeypatch)
    assert (config.max_push_per_user, config.max_push_per_server) == (1_000, 10_000)
    assert (ServerConfig().max_push_per_user, ServerConfig().max_push_per_server) == (1_000, 10_000)

    hub = Hub(config)  # what the handshake asks; the caps themselves over a real WebSocket are tested above
    for _ in range(1_000):
        hub.subscribe(1, "alice")
    with pytest.raises(TooManyConnections):
        hub.subscribe(1, "alice")
    for user_id in range(2, 11):
        for _ in range(1_000):
            hub.subscribe(user_id, "someone")
    with pytest.raises(TooManyConnections):
        hub.subscribe(11, "one more user")
