"""``api``: one test body, run over real HTTP against a simulator process and in-process via ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from support.inprocess import client_for, running_app
from support.server import ServerProcess

from softphone.api import EndReason

CALLER_TERMINAL = "caller-term"
CALLEE_TERMINAL = "callee-term"
ALICE, BOB, CAROL, DAVE, ERIN, FRANK = 10001, 20002, 30003, 40004, 50005, 60006
SEEDED_USERS = (ALICE, BOB, CAROL, DAVE, ERIN, FRANK)


@dataclass
class Api:
    """A thin client that returns raw responses, so tests see status codes and envelopes as sent."""

    client: httpx.AsyncClient

    async def login(self, user: str | int) -> str:
        token: str = (await self.client.post("/api/dev/login", json={"user": user})).json()["data"]["token"]
        return token

    async def request(
        self, method: str, path: str, token: str | None = None, json: Any = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.client.request(method, path, headers=headers, json=json, **kwargs)

    async def post(self, path: str, token: str, body: Any) -> dict[str, Any]:
        """The envelope of a POST, asserting it is one."""
        return envelope(await self.request("POST", path, token, body))

    async def get(self, path: str, token: str) -> dict[str, Any]:
        return envelope(await self.request("GET", path, token))

    async def conversation(self, token: str, other: int) -> int:
        users = (await self.get("/api/dev/directory", token))["data"]["users"]
        conversation_id: int = next(user["conversation_id"] for user in users if user["user_id"] == other)
        return conversation_id

    async def start(self, caller: str, callee: int, *, call_type: str = "audio") -> dict[str, Any]:
        body = {
            "conversation_id": await self.conversation(caller, callee),
            "target_user_id": callee,
            "call_type": call_type,
            "biz_type": "single",
            "terminal_id": CALLER_TERMINAL,
        }
        return await self.post("/api/calls/session", caller, body)

    async def act(self, call_id: int, action: str, token: str, terminal: str, **extra: Any) -> dict[str, Any]:
        return await self.post(f"/api/calls/{call_id}/{action}", token, {"terminal_id": terminal, **extra})

    async def state(self, call_id: int, token: str) -> dict[str, Any]:
        return await self.get(f"/api/calls/{call_id}/state", token)


async def end_live_calls(api: Api) -> None:
    tokens = {user: await api.login(user) for user in SEEDED_USERS}
    for token in tokens.values():
        for call in (await api.get("/api/calls/active", token))["data"]["calls"]:
            if call["status"] == "calling":
                await api.act(call["call_id"], "cancel", tokens[call["caller_user_id"]], CALLER_TERMINAL)
            else:
                await api.act(call["call_id"], "hangup", token, "cleanup")


def envelope(response: httpx.Response) -> dict[str, Any]:
    """The body, checked to be exactly the envelope; the status must match the code family."""
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "data"}, body
    expected_status = 200 if body["code"] == 0 or 41000 <= body["code"] < 42000 else body["code"] // 100
    assert response.status_code == expected_status, (response.status_code, body)
    if body["code"]:
        assert body["data"] is None
    else:
        assert body["message"] == "success"
    return body


@dataclass
class Parties:
    """Alice calls Bob; Carol is a stranger to the call."""

    api: Api
    alice: str
    bob: str
    carol: str


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One process for every ``api[http]`` test: starting one per test would dominate the suite."""
    server = ServerProcess(db=tmp_path_factory.mktemp("shared") / "simulator.db").start()
    yield server
    server.close()


@asynccontextmanager
async def api_on(server: ServerProcess) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        yield Api(client)
        await end_live_calls(Api(client))


@pytest.fixture
async def http_api(shared_server: ServerProcess) -> AsyncIterator[Api]:
    async with api_on(shared_server) as shared:
        yield shared


@pytest.fixture(params=["http", "asgi"])
async def api(request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    """On the shared server every call a test leaves live is ended afterwards, so no one stays busy."""
    if request.param == "http":
        async with api_on(request.getfixturevalue("shared_server")) as shared:
            yield shared
    else:
        async with running_app() as app, client_for(app) as client:
            yield Api(client)


@pytest.fixture
async def parties(api: Api) -> Parties:
    return Parties(api, await api.login("alice"), await api.login("bob"), await api.login("carol"))


DEFAULT_REASONS = {
    "reject": EndReason.USER_REJECT.value,
    "cancel": EndReason.CALLER_CANCEL.value,
    "hangup": EndReason.LOCAL_HANGUP.value,
}
