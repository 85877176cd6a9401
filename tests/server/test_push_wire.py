"""A change's frame serialized once and written to each connection as bytes (``WRITE_FRAME``), and the
fall-backs when that cannot be done: over uvicorn with ``PushProtocol``, and in-process without it."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.types import ASGIApp
from starlette.websockets import WebSocket, WebSocketDisconnect
from support.inprocess import client_for, running_app
from support.server import ServerProcess
from websockets.asyncio.client import ClientConnection, connect
from websockets.protocol import State

from softphone.api._client import KEEPALIVE_EXPIRY
from softphone.launch import free_port
from softphone.server.app import create_app
from softphone.server.config import ServerConfig
from softphone.server.hub import PushFrame
from softphone.server.protocol import KEEP_ALIVE_SECONDS, UVICORN_ATTRIBUTES, PushProtocol, uvicorn_config
from softphone.server.push import WRITE_FRAME, WriteWire

from .conftest import BOB, CALLEE_TERMINAL, CALLER_TERMINAL, Api
from .test_push import FRAME_TIMEOUT, next_frame, open_terminal

Endpoint = Callable[[WebSocket, WriteWire], Awaitable[None]]


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


@asynccontextmanager
async def serving(app: ASGIApp, *, send_buffer: int | None = None) -> AsyncIterator[str]:
    """``app`` on uvicorn as ``softphone serve`` configures it, in this event loop; yields its URL.
    ``send_buffer``: the kernel's send buffer of every connection, in bytes (small: it fills soon)."""
    port = free_port()
    server = uvicorn.Server(uvicorn_config(app, ServerConfig(), host="127.0.0.1", port=port, log_level="warning"))
    serve = asyncio.create_task(server.serve())
    try:
        await until(lambda: server.started or serve.done())
        if send_buffer is not None:  # accepted sockets inherit it from the listening one
            for listening in server.servers:
                for sock in listening.sockets:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(serve, 10)


def one_endpoint(endpoint: Endpoint) -> Starlette:
    """An app whose one WebSocket route hands ``endpoint`` the connection and the extension's ``write``."""

    async def accepted(websocket: WebSocket) -> None:
        await websocket.accept()
        await endpoint(websocket, websocket.scope["extensions"][WRITE_FRAME]["write"])
        with suppress(WebSocketDisconnect, RuntimeError):  # until the peer goes, or after our own close
            while True:
                await websocket.receive_text()

    return Starlette(routes=[WebSocketRoute("/", accepted)])


async def test_uvicorn_still_has_what_push_protocol_reads_of_it() -> None:
    """``PushProtocol`` relies on uvicorn's private attributes: a uvicorn without them fails here, loudly."""
    seen: list[Any] = []

    async def endpoint(websocket: WebSocket, write: WriteWire) -> None:
        seen.append(getattr(write, "__self__", None))

    async with serving(one_endpoint(endpoint)) as host, connect(f"ws://{host}/") as ws:
        await until(lambda: bool(seen))
        await ws.close()
    (protocol,) = seen
    assert isinstance(protocol, PushProtocol)
    missing = [name for name in UVICORN_ATTRIBUTES if not hasattr(protocol, name)]
    assert not missing, f"uvicorn's WebSocketsSansIOProtocol no longer has {missing}: PushProtocol needs them"
    assert isinstance(protocol.writable, asyncio.Event) and isinstance(protocol.conn.state, State)
    assert isinstance(protocol.transport, asyncio.Transport)


@pytest.mark.parametrize("text", ["one", "x" * 200, "é" * 40_000], ids=["7-bit", "16-bit", "64-bit length"])
async def test_written_bytes_arrive_as_the_frame_and_keep_their_place_among_sends(text: str) -> None:
    written: list[bool] = []

    async def endpoint(websocket: WebSocket, write: WriteWire) -> None:
        written.append(write(PushFrame(text).wire()))
        await websocket.send_text("sent the usual way")
        written.append(write(PushFrame("after").wire()))

    async with serving(one_endpoint(endpoint)) as host, connect(f"ws://{host}/", max_size=None) as ws:
        received = [await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT) for _ in range(3)]
    assert written == [True, True]
    assert received == [text, "sent the usual way", "after"]


async def test_a_connection_paused_for_flow_control_says_no_and_the_usual_send_waits_its_turn() -> None:
    big = PushFrame("x" * 65_536)
    written = 0
    paused = asyncio.Event()

    async def endpoint(websocket: WebSocket, write: WriteWire) -> None:
        nonlocal written
        # All in one step: the client, in this same event loop, reads nothing meanwhile.
        while written < 2_000 and write(big.wire()):
            written += 1
        paused.set()
        await websocket.send_text("after the pause")  # waits until the peer has read enough

    async with serving(one_endpoint(endpoint)) as host, connect(f"ws://{host}/", max_size=None) as ws:
        await asyncio.wait_for(paused.wait(), FRAME_TIMEOUT)
        assert 0 < written < 2_000, "the transport was paused before 2,000 frames of 64 KiB"
        received = [await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT) for _ in range(written + 1)]
    assert received[:-1] == [big.text] * written
    assert received[-1] == "after the pause"


async def test_a_closed_connection_says_no() -> None:
    answers: list[bool] = []

    async def endpoint(websocket: WebSocket, write: WriteWire) -> None:
        await websocket.close(1000)
        answers.append(write(PushFrame("too late").wire()))

    async with serving(one_endpoint(endpoint)) as host, connect(f"ws://{host}/") as ws:
        await asyncio.wait_for(ws.wait_closed(), FRAME_TIMEOUT)
    assert answers == [False]


# --------------------------------------------------------------------------- the push channel, end to end


async def updates_of(ws: ClientConnection, call_id: int, count: int) -> list[str]:
    """The raw text of this call's next ``count`` frames (others skipped), as the server wrote it."""
    texts = []
    while len(texts) < count:
        text = await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT)
        assert isinstance(text, str)
        frame = json.loads(text)
        if frame["type"] == "call.updated" and frame["data"]["call_id"] == call_id:
            texts.append(text)
    return texts


async def test_every_subscriber_of_a_user_gets_each_change_in_order_byte_for_byte(
    shared_server: ServerProcess, http_api: Api
) -> None:
    alice, bob = await http_api.login("alice"), await http_api.login("bob")
    async with AsyncExitStack() as stack:
        sockets = [
            await stack.enter_async_context(await open_terminal(shared_server, bob, f"bob-{index}")) for index in range(40)
        ]
        for ws in sockets:
            assert (await next_frame(ws))["type"] == "hello"
        call_id = (await http_api.start(alice, BOB))["data"]["call_id"]
        await http_api.act(call_id, "accept", bob, CALLEE_TERMINAL)
        await http_api.act(call_id, "hangup", alice, CALLER_TERMINAL)
        received = [await updates_of(ws, call_id, 3) for ws in sockets]
    assert all(texts == received[0] for texts in received), "the same bytes for every subscriber"
    frames = [json.loads(text) for text in received[0]]
    assert [(frame["data"]["status"], frame["data"]["version"]) for frame in frames] == [
        ("calling", 1), ("accepted", 2), ("ended", 3),
    ]  # fmt: skip


async def test_a_subscriber_that_reads_slowly_falls_back_and_still_gets_every_change_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Small socket buffers on both ends and a client that queues one frame: while the test reads nothing,
    the server's transport is soon paused, ``write_frame`` says no, and the outbox takes over."""
    answers: list[bool] = []
    write_frame = PushProtocol.write_frame

    def noting_answers(protocol: PushProtocol, wire: bytes) -> bool:
        answers.append(write_frame(protocol, wire))
        return answers[-1]

    monkeypatch.setattr(PushProtocol, "write_frame", noting_answers)
    changes = ServerConfig().push_outbox_frames - 10
    async with (
        serving(create_app(ServerConfig()), send_buffer=4096) as host,
        httpx.AsyncClient(base_url=f"http://{host}", timeout=10) as http,
    ):
        api = Api(http)
        alice, bob = await api.login("alice"), await api.login("bob")
        sock = socket.create_connection(tuple(host.split(":")))  # type: ignore[arg-type]
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        url = f"ws://{host}/api/ws?terminal_id=bob-slow"
        async with connect(url, sock=sock, max_queue=1, additional_headers={"Authorization": f"Bearer {bob}"}) as slow:
            assert (await next_frame(slow))["type"] == "hello"
            call_id = (await api.start(alice, BOB))["data"]["call_id"]
            await api.act(call_id, "accept", bob, CALLEE_TERMINAL)
            for index in range(changes):
                quality = "good" if index % 2 else "poor"
                await api.act(call_id, "media-state", bob, CALLEE_TERMINAL, stage="joined", network_quality=quality)
            await api.act(call_id, "hangup", alice, CALLER_TERMINAL)
            frames = [json.loads(text) for text in await updates_of(slow, call_id, changes + 3)]
    assert True in answers and False in answers, "some frames were written directly, some after a pause"
    assert [frame["data"]["version"] for frame in frames] == list(range(1, changes + 4))
    assert frames[-1]["data"]["status"] == "ended"


async def test_in_process_there_is_no_write_frame_and_pushes_go_the_usual_way() -> None:
    """Driven as an ASGI server without the extension would (the test client, another server): text sends."""
    async with running_app() as app, client_for(app) as http:
        api = Api(http)
        alice, bob = await api.login("alice"), await api.login("bob")
        scope = {
            "type": "websocket", "asgi": {"version": "3.0"}, "http_version": "1.1", "scheme": "ws",
            "server": ("testserver", 80), "client": ("127.0.0.1", 50000), "root_path": "",
            "path": "/api/ws", "raw_path": b"/api/ws", "query_string": b"terminal_id=bob-1",
            "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {bob}".encode())],
            "subprotocols": [], "extensions": {"websocket.http.response": {}},
        }  # fmt: skip
        incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        incoming.put_nowait({"type": "websocket.connect"})
        connection = asyncio.create_task(app(scope, incoming.get, outgoing.put))

        async def sent() -> dict[str, Any]:
            return await asyncio.wait_for(outgoing.get(), FRAME_TIMEOUT)

        assert (await sent())["type"] == "websocket.accept"
        assert json.loads((await sent())["text"])["type"] == "hello"
        call_id = (await api.start(alice, BOB))["data"]["call_id"]
        pushed = json.loads((await sent())["text"])
        incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(connection, FRAME_TIMEOUT)
    assert (pushed["type"], pushed["data"]["call_id"], pushed["data"]["status"]) == ("call.updated", call_id, "calling")


def test_the_client_lets_go_of_an_idle_connection_before_the_simulator_closes_it() -> None:
    """At equal times a request can be sent on a connection as the server closes it, and fail unsent:
    a hang up lost that way once in a soak of 500 runs of two apps."""
    served = uvicorn_config(create_app(ServerConfig()), ServerConfig(), host="127.0.0.1", port=0)
    assert served.timeout_keep_alive == KEEP_ALIVE_SECONDS
    assert KEEPALIVE_EXPIRY < KEEP_ALIVE_SECONDS
