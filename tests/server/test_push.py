"""The push channel over a real WebSocket: hello, call.updated fan-out and order, ping, refusals."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any
from urllib.parse import urlencode

import pytest
from support.server import ServerProcess
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from .conftest import ALICE, BOB, CALLEE_TERMINAL, CALLER_TERMINAL, Api

FRAME_TIMEOUT = 5.0


def ws_url(server: ServerProcess, **query: str) -> str:
    return f"{server.ws_url}?{urlencode(query)}" if query else server.ws_url


async def open_terminal(server: ServerProcess, token: str, terminal: str) -> ClientConnection:
    return await connect(ws_url(server, terminal_id=terminal), additional_headers={"Authorization": f"Bearer {token}"})


async def next_frame(ws: ClientConnection) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT))
    return frame


async def frames_until_pong(ws: ClientConnection) -> list[dict[str, Any]]:
    """Everything queued for this connection so far: the server answers a ping after earlier frames."""
    await ws.send(json.dumps({"type": "ping"}))
    frames = []
    while (frame := await next_frame(ws))["type"] != "pong":
        frames.append(frame)
    return frames


@pytest.fixture
async def terminals(shared_server: ServerProcess) -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as stack:
        yield stack


async def test_hello_lists_the_users_live_calls(shared_server: ServerProcess, http_api: Api, terminals: AsyncExitStack) -> None:
    alice, bob, carol = [await http_api.login(name) for name in ("alice", "bob", "carol")]
    call_id = (await http_api.start(alice, BOB))["data"]["call_id"]
    state = (await http_api.state(call_id, bob))["data"]

    bob_ws = await terminals.enter_async_context(await open_terminal(shared_server, bob, "bob-phone"))
    assert await next_frame(bob_ws) == {"type": "hello", "data": {"user_id": BOB, "terminal_id": "bob-phone", "calls": [state]}}
    carol_ws = await terminals.enter_async_context(await open_terminal(shared_server, carol, "carol-phone"))
    assert (await next_frame(carol_ws))["data"]["calls"] == []

    await http_api.act(call_id, "cancel", alice, CALLER_TERMINAL)
    again = await terminals.enter_async_context(await open_terminal(shared_server, bob, "bob-tablet"))
    assert (await next_frame(again))["data"]["calls"] == [], "ended calls are not in hello"


async def test_every_change_reaches_every_terminal_of_both_parties_once_in_order(
    shared_server: ServerProcess, http_api: Api, terminals: AsyncExitStack
) -> None:
    tokens = {name: await http_api.login(name) for name in ("alice", "bob", "carol")}
    sockets = {
        (name, terminal): await terminals.enter_async_context(await open_terminal(shared_server, tokens[name], terminal))
        for name, terminal in [("alice", "a1"), ("alice", "a2"), ("bob", "b1"), ("bob", "b2"), ("carol", "c1")]
    }
    for ws in sockets.values():
        assert (await next_frame(ws))["type"] == "hello"

    alice, bob = tokens["alice"], tokens["bob"]
    call_id = (await http_api.start(alice, BOB))["data"]["call_id"]
    await http_api.act(call_id, "media-state", alice, CALLER_TERMINAL, stage="joined")  # ringing: not a change
    await http_api.act(call_id, "accept", bob, CALLEE_TERMINAL)
    await http_api.act(call_id, "media-state", bob, CALLEE_TERMINAL, stage="joined")
    await http_api.act(call_id, "media-state", bob, CALLEE_TERMINAL, stage="joined", network_quality="good")
    await http_api.act(call_id, "media-state", bob, CALLEE_TERMINAL, stage="joined", network_quality="good")  # repeat
    await http_api.act(call_id, "accept", bob, CALLEE_TERMINAL)  # idempotent: no change
    await http_api.act(call_id, "hangup", alice, CALLER_TERMINAL)
    final = (await http_api.state(call_id, alice))["data"]

    received = {key: await frames_until_pong(ws) for key, ws in sockets.items()}
    assert received[("carol", "c1")] == [], "a stranger hears nothing"
    for key in [("alice", "a1"), ("alice", "a2"), ("bob", "b1"), ("bob", "b2")]:
        frames = received[key]
        assert [frame["type"] for frame in frames] == ["call.updated"] * 5, key
        assert [frame["data"]["version"] for frame in frames] == [1, 2, 3, 4, 5]
        assert [frame["data"]["status"] for frame in frames] == ["calling", "accepted", "ongoing", "ongoing", "ended"]
        assert all(frame["data"]["call_id"] == call_id for frame in frames)
        event_ids = [frame["event_id"] for frame in frames]
        assert event_ids == sorted(set(event_ids)), "event ids grow"
        assert frames[-1]["data"] == final
    assert received[("alice", "a1")] == received[("bob", "b2")], "everyone gets the same frames"


async def test_event_ids_grow_across_calls(shared_server: ServerProcess, http_api: Api, terminals: AsyncExitStack) -> None:
    alice, bob = await http_api.login("alice"), await http_api.login("bob")
    ws = await terminals.enter_async_context(await open_terminal(shared_server, alice, "a"))
    await next_frame(ws)
    for _ in range(2):
        call_id = (await http_api.start(alice, BOB))["data"]["call_id"]
        await http_api.act(call_id, "reject", bob, CALLEE_TERMINAL)
    event_ids = [frame["event_id"] for frame in await frames_until_pong(ws)]
    assert len(event_ids) == 4 and event_ids == sorted(set(event_ids))


async def test_token_may_come_as_a_query_parameter(shared_server: ServerProcess, http_api: Api, terminals: AsyncExitStack) -> None:
    token = await http_api.login("alice")
    ws = await terminals.enter_async_context(await connect(ws_url(shared_server, terminal_id="t", token=token)))
    assert (await next_frame(ws))["data"]["user_id"] == ALICE


@pytest.mark.parametrize(
    ("query", "headers", "status", "code"),
    [
        ({"terminal_id": "t"}, {}, 401, 40101),
        ({"terminal_id": "t", "token": "forged"}, {}, 401, 40101),
        ({"terminal_id": "t"}, {"Authorization": "Bearer forged"}, 401, 40101),
        ({}, {"Authorization": "Bearer forged"}, 401, 40101),  # the token is checked first
        ({}, {"Authorization": "Bearer {alice}"}, 400, 40001),
        ({"terminal_id": ""}, {"Authorization": "Bearer {alice}"}, 400, 40001),
        ({"terminal_id": "x" * 65}, {"Authorization": "Bearer {alice}"}, 400, 40001),
    ],
)
async def test_bad_handshakes_are_refused(
    shared_server: ServerProcess, http_api: Api, query: dict[str, str], headers: dict[str, str], status: int, code: int
) -> None:
    alice = await http_api.login("alice")
    headers = {name: value.format(alice=alice) for name, value in headers.items()}
    with pytest.raises(InvalidStatus) as refused:
        await connect(ws_url(shared_server, **query), additional_headers=headers)
    assert refused.value.response.status_code == status
    body = json.loads(refused.value.response.body)
    assert body["code"] == code and body["data"] is None


@pytest.mark.parametrize("bad", ["not json", "[1, 2]", '{"type": "dance"}', '{"no": "type"}', '{"type": 5}', b"\x00\x01"])
async def test_malformed_frames_get_an_error_frame_and_the_connection_stays(
    shared_server: ServerProcess, http_api: Api, terminals: AsyncExitStack, bad: str | bytes
) -> None:
    ws = await terminals.enter_async_context(await open_terminal(shared_server, await http_api.login("bob"), "b"))
    await next_frame(ws)
    await ws.send(bad)
    reply = await next_frame(ws)
    assert reply["type"] == "error" and reply["data"]["code"] == 40001
    assert reply["data"]["message"].startswith("参数错误: ")
    assert await frames_until_pong(ws) == []
