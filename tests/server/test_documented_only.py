"""``serve --documented-only``: the simulator as a real server looks from outside."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from support import wire
from support.inprocess import client_for, running_app
from support.server import ServerFactory, wait_for
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from softphone.api import EXT_MARK, CallList, CallMedia, CallState, PartyMedia, documented_payload, ext_fields
from softphone.server.app import Tag, router
from softphone.server.config import ServerConfig
from softphone.server.directory import Directory

from .conftest import BOB, CALLEE_TERMINAL, CALLER_TERMINAL, Api
from .test_transitions import STATE_KEYS

# REFERENCE.md's state object, written out here on purpose: the ext marks must leave exactly these.
DOCUMENTED_STATE_KEYS = {
    "call_id", "status", "call_type", "biz_type", "conversation_id", "channel_name", "app_id",
    "caller_user_id", "callee_user_id", "caller_uid", "callee_uid", "accepted_at", "started_at",
    "ended_at", "end_reason", "version",
}  # fmt: skip
DOCUMENTED_PATHS = {
    ("post", "/api/calls/session"), ("post", "/api/calls/{call_id}/accept"), ("post", "/api/calls/{call_id}/reject"),
    ("post", "/api/calls/{call_id}/cancel"), ("post", "/api/calls/{call_id}/hangup"),
    ("post", "/api/calls/{call_id}/media-state"), ("get", "/api/calls/{call_id}/state"),
}  # fmt: skip
MEDIA = CallMedia(caller=PartyMedia(stage="joined"), callee=None)
NOT_SERVED = [
    "/api/ws", "/api/dev/directory", "/api/calls/active", "/api/calls/history", "/api/dev/simulator",
    "/api/dev/simulator/reset",
]  # fmt: skip


def conversation(caller: int, callee: int) -> int:
    directory = Directory.load()
    first, second = directory.get(caller), directory.get(callee)
    assert first and second
    return Directory.conversation_id(first, second)


@pytest.fixture
async def documented_api() -> AsyncIterator[Api]:
    async with running_app(ServerConfig(documented_only=True)) as app, client_for(app) as client:
        yield Api(client)


def test_the_ext_marks_leave_exactly_the_documented_state() -> None:
    assert set(CallState.model_fields) - ext_fields(CallState) == DOCUMENTED_STATE_KEYS
    assert set(CallState.model_fields) == STATE_KEYS


def test_ext_fields_are_dropped_at_any_depth() -> None:
    state = wire.state(2, "accepted", accepted_terminal_id="b", caller_terminal_id="a", media=MEDIA)
    assert set(state.model_dump()) == STATE_KEYS
    assert set(documented_payload(state)) == DOCUMENTED_STATE_KEYS
    assert [set(call) for call in documented_payload(CallList(calls=[state, state]))["calls"]] == [
        DOCUMENTED_STATE_KEYS
    ] * 2


@pytest.mark.parametrize("path", NOT_SERVED)
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_every_other_route_is_missing(documented_api: Api, path: str, method: str) -> None:
    token = await documented_api.login("alice")
    response = await documented_api.request(method, path, token)
    assert response.status_code == 404
    assert response.json() == {"code": 40401, "message": "接口不存在", "data": None}


async def test_a_whole_call_answers_without_any_ext_field(documented_api: Api) -> None:
    api = documented_api
    alice, bob = await api.login("alice"), await api.login("bob")
    body = {"conversation_id": conversation(10001, BOB), "target_user_id": BOB, "call_type": "audio",
            "biz_type": "single", "terminal_id": CALLER_TERMINAL}  # fmt: skip
    call_id = (await api.post("/api/calls/session", alice, body))["data"]["call_id"]
    await api.act(call_id, "accept", bob, CALLEE_TERMINAL)
    await api.act(call_id, "media-state", bob, CALLEE_TERMINAL, stage="joined")
    state = (await api.state(call_id, alice))["data"]
    assert set(state) == DOCUMENTED_STATE_KEYS
    assert (state["status"], state["version"]) == ("ongoing", 3)
    assert (await api.act(call_id, "hangup", alice, CALLER_TERMINAL))["data"]["version"] == 4
    assert (await api.get("/healthz", ""))["data"] == {"status": "ok"}


async def test_the_openapi_document_describes_only_what_is_served(documented_api: Api) -> None:
    document: dict[str, Any] = (await documented_api.client.get("/openapi.json")).json()
    operations = {(method, path) for path, item in document["paths"].items() for method in item}
    dev_tools = {
        (method.lower(), route.path)
        for route in router.routes
        if isinstance(route, APIRoute) and Tag.DEV_TOOLS in route.tags
        for method in route.methods
    }
    assert ("post", "/api/dev/login") in dev_tools
    assert operations == DOCUMENTED_PATHS | dev_tools | {("get", "/healthz")}
    schemas = document["components"]["schemas"]
    assert set(schemas["CallState"]["properties"]) == DOCUMENTED_STATE_KEYS
    assert EXT_MARK not in json.dumps(document)
    assert not {"CallMedia", "CallList", "DirectoryData", "SimulatorInfo"} & set(schemas)
    assert "/api/ws" not in document["info"]["description"]
    assert (await documented_api.client.get("/docs")).status_code == 200


async def test_the_full_document_marks_the_ext_fields(api: Api) -> None:
    properties = (await api.client.get("/openapi.json")).json()["components"]["schemas"]["CallState"]["properties"]
    assert {name for name, value in properties.items() if value.get(EXT_MARK)} == ext_fields(CallState)


async def test_a_real_process_prints_what_a_tester_needs_and_has_no_push_channel(server_factory: ServerFactory) -> None:
    server = server_factory(args=["--documented-only"])
    await wait_for(lambda: "frank (Frank)" in server.log())
    sheet = server.log()
    assert "printed in full only here" in sheet
    tokens = dict(re.findall(r"^(\w+) \(\w+\): --user-id \d+ --token (\S+)$", sheet, re.MULTILINE))
    assert set(tokens) == {"alice", "bob", "carol", "dave", "erin", "frank"}
    alice_with_bob = re.search(r"^alice .*\n(?:    .*\n)*?    with bob \(20002\): --conversation (\d+)$", sheet, re.MULTILINE)
    assert alice_with_bob is not None
    assert int(alice_with_bob[1]) == conversation(10001, BOB)

    async with httpx.AsyncClient(base_url=server.base_url) as client:
        api = Api(client)
        body = {"conversation_id": int(alice_with_bob[1]), "target_user_id": BOB, "call_type": "audio",
                "biz_type": "single", "terminal_id": CALLER_TERMINAL}  # fmt: skip
        call_id = (await api.post("/api/calls/session", tokens["alice"], body))["data"]["call_id"]
        assert set((await api.state(call_id, tokens["bob"]))["data"]) == DOCUMENTED_STATE_KEYS
        await api.act(call_id, "cancel", tokens["alice"], CALLER_TERMINAL)
    with pytest.raises(InvalidStatus) as refused:
        await connect(f"{server.ws_url}?terminal_id=t", additional_headers={"Authorization": f"Bearer {tokens['bob']}"})
    assert refused.value.response.status_code == 404
    assert json.loads(refused.value.response.body)["code"] == 40401
