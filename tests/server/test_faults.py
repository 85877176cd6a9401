"""Faults on demand: the spec, seeded determinism, HTTP faults before any change, push faults per subscriber."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from support.inprocess import client_for, running_app
from support.server import ServerFactory, ServerProcess, login
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from softphone.api import CallState, FaultSettings, ServiceUnavailable, error_for
from softphone.cli import main
from softphone.server.config import ServerConfig
from softphone.server.faults import DELIVER, REORDER_HOLD_SECONDS, Faults, PushFate
from softphone.server.hub import CLOSE_UNAUTHORIZED, Delivery, Hub, PushFrame, Subscription
from softphone.server.push import run_push_connection

from .conftest import BOB, CALLEE_TERMINAL, CALLER_TERMINAL, Api, envelope

SPEC = "push-drop=0.3,push-dup=0.2,push-reorder=0.2,push-delay=50ms,push-disconnect=0.05,http-error=0.05,http-latency=20ms"
FRAME_TIMEOUT = 5.0


# --------------------------------------------------------------------------- the spec


def test_the_documented_spec_parses_and_prints_back() -> None:
    settings = FaultSettings.from_spec(SPEC)
    assert (settings.push_drop, settings.push_delay, settings.http_latency) == (0.3, 50.0, 20.0)
    assert FaultSettings.from_spec(settings.spec()) == settings
    assert FaultSettings.from_spec("push-delay=1s,http-latency=15").model_dump(mode="json")["push-delay"] == "1000ms"
    assert FaultSettings.from_spec("").spec() == ""


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("push-drop=2", "push-drop=2"),
        ("push-drop=0.3,push-dorp=0.1", "push-dorp=0.1"),
        ("push-drop", "push-drop"),
        ("push-delay=fast", "push-delay=fast"),
        ("push-delay=11s", "push-delay=11s"),
        ("http-latency=-5", "http-latency=-5"),
        ("http-error=lots", "http-error=lots"),
    ],
)
def test_a_bad_spec_is_a_one_line_usage_error_naming_the_item(spec: str, named: str) -> None:
    result = CliRunner().invoke(main, ["serve", "--faults", spec], prog_name="softphone")
    assert result.exit_code == 2
    (error,) = result.output.strip().splitlines()
    assert error.startswith("softphone serve: Invalid value for '--faults': ") and named in error, result.output


# --------------------------------------------------------------------------- seeded streams


def fates(faults: Faults, pushes: int = 200) -> list[PushFate]:
    return [faults.push() for _ in range(pushes)]


def test_the_same_seed_gives_the_same_faults_and_kinds_draw_apart() -> None:
    settings = FaultSettings.from_spec(SPEC).model_copy(update={"seed": 7})
    first, again = fates(Faults(settings)), fates(Faults(settings))
    assert first == again
    assert any(f.drop for f in first) and any(f.duplicate for f in first) and any(f.cut for f in first)
    assert fates(Faults(settings.model_copy(update={"seed": 8}))) != first
    # More duplicates do not move the drops: every kind has its own stream.
    drops = [f.drop or f.cut for f in first]
    more_dups = fates(Faults(settings.model_copy(update={"push_dup": 0.9})))
    assert [f.drop or f.cut for f in more_dups] == drops


def test_updating_restarts_the_streams_from_the_seed() -> None:
    faults = Faults(FaultSettings(http_error=0.5, seed=3))
    first = [faults.http_error() for _ in range(50)]
    assert faults.update(FaultSettings(http_error=0.5)).seed == 3, "the seed in force is kept"
    assert [faults.http_error() for _ in range(50)] == first
    assert Faults(FaultSettings()).settings.seed is not None, "a random seed is chosen, so a run can be replayed"


def test_every_fault_decided_is_counted_by_kind() -> None:
    faults = Faults(FaultSettings.from_spec(SPEC).model_copy(update={"seed": 7}))
    decided = fates(faults)
    counts = faults.injected()
    assert counts["push-disconnect"] == sum(f.cut for f in decided)
    assert counts["push-drop"] == sum(f.drop for f in decided)
    assert counts["push-dup"] == sum(f.duplicate for f in decided) > 0
    assert counts["push-reorder"] == sum(f.hold for f in decided)
    assert counts["push-delay"] == sum(f.delay > 0 for f in decided)
    errors = sum(faults.http_error() for _ in range(100))
    assert faults.injected()["http-error"] == errors > 0
    faults.update(FaultSettings())
    assert faults.injected() == {**counts, "http-error": errors}, "counted since the start, across updates"


# --------------------------------------------------------------------------- HTTP faults (in-process)


@pytest.fixture
async def faulty_api() -> AsyncIterator[Api]:
    config = ServerConfig(faults=FaultSettings(http_error=1.0, seed=1))
    async with running_app(config) as app, client_for(app) as client:
        yield Api(client)


async def test_an_injected_error_is_a_503_before_any_change(faulty_api: Api) -> None:
    api = faulty_api
    alice, bob = await api.login("alice"), await api.login("bob")
    conversation = await api.conversation(alice, BOB)  # /api/dev/* is never faulted
    body = {"conversation_id": conversation, "target_user_id": BOB, "call_type": "audio", "biz_type": "single",
            "terminal_id": CALLER_TERMINAL}  # fmt: skip
    refused = await api.request("POST", "/api/calls/session", alice, body)
    assert refused.status_code == 503
    assert refused.json() == {"code": 50300, "message": "服务暂不可用", "data": None}
    assert envelope(refused)["code"] == 50300
    assert isinstance(error_for(50300, "服务暂不可用"), ServiceUnavailable), "the client maps it, too"

    assert (await api.request("PUT", "/api/dev/faults", alice, {})).json()["data"]["http-error"] == 0.0
    assert (await api.get("/api/dev/simulator", ""))["data"]["faults_injected"]["http-error"] == 1
    assert (await api.get("/api/calls/active", bob))["data"]["calls"] == [], "nothing was half-applied"
    assert (await api.post("/api/calls/session", alice, body))["code"] == 0


@pytest.mark.parametrize("path", ["/healthz", "/docs", "/openapi.json", "/api/dev/directory", "/api/dev/faults"])
async def test_faults_never_touch_health_docs_or_dev_tools(faulty_api: Api, path: str) -> None:
    token = await faulty_api.login("alice")
    assert (await faulty_api.request("GET", path, token)).status_code == 200


async def test_latency_delays_call_requests_only() -> None:
    config = ServerConfig(faults=FaultSettings(http_latency=300))
    async with running_app(config) as app, client_for(app) as client:
        api = Api(client)
        token = await api.login("alice")
        started = time.monotonic()
        await api.get("/api/calls/active", token)
        assert time.monotonic() - started >= 0.3
        started = time.monotonic()
        await api.get("/api/dev/directory", token)
        assert time.monotonic() - started < 0.3


async def test_the_same_seed_fails_the_same_requests() -> None:
    async def pattern(seed: int) -> list[int]:
        config = ServerConfig(faults=FaultSettings(http_error=0.5, seed=seed))
        async with running_app(config) as app, client_for(app) as client:
            api = Api(client)
            token = await api.login("alice")
            return [(await api.request("GET", "/api/calls/active", token)).status_code for _ in range(40)]

    first = await pattern(11)
    assert set(first) == {200, 503}
    assert await pattern(11) == first
    assert await pattern(12) != first


# --------------------------------------------------------------------------- run-time control


async def test_faults_can_be_read_and_replaced_with_any_valid_token(api: Api) -> None:
    token = await api.login("carol")
    assert (await api.request("GET", "/api/dev/faults", None)).json()["code"] == 40101
    assert (await api.request("PUT", "/api/dev/faults", "forged", {})).json()["code"] == 40101
    try:
        changed = envelope(await api.request("PUT", "/api/dev/faults", token, {"push-drop": 0.3, "push-delay": "50ms", "seed": 5}))
        assert changed["data"] | {"push-drop": 0.3, "push-delay": "50ms", "seed": 5} == changed["data"]
        assert (await api.get("/api/dev/faults", token))["data"] == changed["data"]
        cleared = (await api.request("PUT", "/api/dev/faults", token, {})).json()["data"]
        assert cleared["push-drop"] == 0.0 and cleared["push-delay"] == "0ms" and cleared["seed"] == 5
    finally:
        await api.request("PUT", "/api/dev/faults", token, {})


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"push-drp": 0.3}, "push-drp"),
        ({"push-drop": 1.5}, "push-drop"),
        ({"push-drop": "0.3"}, "push-drop"),
        ({"push-delay": "50 ms"}, "push-delay"),
        ({"http-latency": 10001}, "http-latency"),
        ({"seed": -1}, "seed"),
        ([], "body"),
    ],
)
async def test_bad_fault_settings_are_40001_naming_the_key(api: Api, body: Any, named: str) -> None:
    token = await api.login("carol")
    refused = await api.request("PUT", "/api/dev/faults", token, body)
    assert refused.status_code == 400 and refused.json()["code"] == 40001
    assert refused.json()["message"].startswith(f"参数错误: {named}"), refused.json()


# --------------------------------------------------------------------------- the push writer, frame by frame


class FakeSocket:
    """What ``run_push_connection`` needs of a WebSocket; records what was sent and how it closed."""

    scope: dict[str, Any] = {"type": "websocket", "extensions": {}}
    """No server extensions: every frame goes through ``send_text``, as under the in-process test client."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def accept(self) -> None:
        pass

    async def send_text(self, text: str) -> None:
        self.sent.append(text)

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed = (code, reason or "")

    async def receive(self) -> dict[str, Any]:
        return await self.incoming.get()


async def serve(subscription: Subscription, socket: FakeSocket, expires_in: float = 60.0) -> asyncio.Task[None]:
    return asyncio.create_task(run_push_connection(socket, subscription, expires_in))  # type: ignore[arg-type]


async def until(condition: Any, timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


@pytest.mark.parametrize(
    ("fates_", "sent"),
    [
        ([DELIVER, DELIVER], ["a", "b"]),
        ([PushFate(drop=True), DELIVER], ["b"]),
        ([PushFate(duplicate=True), DELIVER], ["a", "a", "b"]),
        ([PushFate(hold=True), DELIVER], ["b", "a"]),
        ([PushFate(delay=0.05), DELIVER], ["a", "b"]),
    ],
)
async def test_each_fate_is_carried_out_in_order(fates_: list[PushFate], sent: list[str]) -> None:
    subscription, socket = Subscription(1, "h", capacity=10), FakeSocket()
    for frame, fate in zip(["a", "b"], fates_, strict=True):
        subscription.put(Delivery(PushFrame(frame), fate))
    task = await serve(subscription, socket)
    await until(lambda: len(socket.sent) == len(sent))
    assert socket.sent == sent
    task.cancel()


async def test_a_held_push_goes_out_alone_after_the_hold() -> None:
    subscription, socket = Subscription(1, "h", capacity=10), FakeSocket()
    subscription.put(Delivery(PushFrame("a"), PushFate(hold=True)))
    task = await serve(subscription, socket)
    started = asyncio.get_running_loop().time()
    await until(lambda: socket.sent == ["a"], timeout=2 + REORDER_HOLD_SECONDS)
    assert asyncio.get_running_loop().time() - started >= REORDER_HOLD_SECONDS * 0.9
    subscription.put(Delivery(PushFrame("pong")))  # answers are never held
    await until(lambda: socket.sent == ["a", "pong"])
    task.cancel()


async def idle_connection(socket: FakeSocket, capacity: int = 10) -> tuple[Subscription, asyncio.Task[None]]:
    """A served connection whose writer has sent its first frame and waits for the next."""
    subscription = Subscription(1, "h", capacity=capacity)
    subscription.put(Delivery(PushFrame("hello")))
    task = await serve(subscription, socket)
    await until(lambda: socket.sent == ["hello"])
    return subscription, task


async def test_a_push_to_an_idle_connection_is_written_by_the_publisher_at_once() -> None:
    socket = FakeSocket()
    subscription, task = await idle_connection(socket)
    subscription.put(Delivery(PushFrame("a"), DELIVER))
    assert socket.sent == ["hello", "a"], "on the wire before the publisher's step ends, no writer woken"
    task.cancel()


async def test_a_push_with_a_fate_to_carry_out_goes_through_the_writer() -> None:
    socket = FakeSocket()
    subscription, task = await idle_connection(socket)
    subscription.put(Delivery(PushFrame("a"), PushFate(duplicate=True)))
    assert socket.sent == ["hello"]
    await until(lambda: socket.sent == ["hello", "a", "a"])
    task.cancel()


class BrokenSocket(FakeSocket):
    """A connection whose sends fail in a way nobody planned for, after the first frame."""

    async def send_text(self, text: str) -> None:
        if self.sent:
            raise ValueError("broken")
        self.sent.append(text)


async def test_a_connection_that_fails_a_direct_write_is_closed_and_the_publisher_goes_on() -> None:
    socket = BrokenSocket()
    subscription, task = await idle_connection(socket)
    subscription.put(Delivery(PushFrame("a"), DELIVER))  # raises nothing: the publisher is another user's request
    await asyncio.wait_for(task, 2)
    assert socket.closed == (1011, "internal error")


class StalledSocket(FakeSocket):
    """A peer that stops taking data until ``resume`` is set: a send waits, as on a full connection."""

    def __init__(self) -> None:
        super().__init__()
        self.resume = asyncio.Event()

    async def send_text(self, text: str) -> None:
        if self.sent:  # the first frame (hello) goes through
            await self.resume.wait()
        self.sent.append(text)


async def test_a_direct_write_that_cannot_finish_keeps_its_place_and_its_slot() -> None:
    socket = StalledSocket()
    subscription, task = await idle_connection(socket, capacity=3)
    for frame in ("a", "b", "c"):
        subscription.put(Delivery(PushFrame(frame), DELIVER))
    assert socket.sent == ["hello"] and subscription.ending is None
    socket.resume.set()
    await until(lambda: socket.sent == ["hello", "a", "b", "c"])
    socket.resume.clear()
    for frame in ("d", "e", "f", "g"):  # d waits unfinished, e and f are queued: g is one too many
        subscription.put(Delivery(PushFrame(frame), DELIVER))
    assert subscription.ending is not None and subscription.ending.code == 1008
    await asyncio.wait_for(task, 2)
    assert socket.closed is not None and socket.closed[0] == 1008


async def test_a_direct_write_still_waiting_when_the_writer_takes_it_over_is_finished() -> None:
    """The writer resumes a send whose future is still pending (the publisher's step already awaited it once)."""
    socket = StalledSocket()
    subscription, task = await idle_connection(socket)
    subscription.put(Delivery(PushFrame("a"), DELIVER))
    await until(lambda: not subscription._outbox)  # the writer has taken the unfinished send over
    socket.resume.set()
    await until(lambda: socket.sent == ["hello", "a"])
    subscription.put(Delivery(PushFrame("b"), DELIVER))
    await until(lambda: socket.sent == ["hello", "a", "b"])
    task.cancel()


async def test_a_cut_ends_the_connection_without_a_close_frame() -> None:
    subscription, socket = Subscription(1, "h", capacity=10), FakeSocket()
    subscription.put(Delivery(PushFrame("a"), PushFate(cut=True)))
    subscription.put(Delivery(PushFrame("b")))
    await asyncio.wait_for(await serve(subscription, socket), 2)
    assert socket.sent == [] and socket.closed is None


async def test_an_expired_token_closes_an_open_connection_with_4401() -> None:
    subscription, socket = Subscription(1, "h", capacity=10), FakeSocket()
    await asyncio.wait_for(await serve(subscription, socket, expires_in=0.05), 2)
    assert socket.closed == (CLOSE_UNAUTHORIZED, "token expired")


async def test_a_subscriber_that_falls_behind_is_ended_not_buffered() -> None:
    hub = Hub(ServerConfig(push_outbox_frames=3))
    subscription = hub.subscribe(1, "h")
    state = CallState(call_id=1, status="calling", call_type="audio", biz_type="single", conversation_id=1,
                      channel_name="c", app_id="a", caller_user_id=1, callee_user_id=2, caller_uid="1",
                      callee_uid="2", version=1)  # fmt: skip
    for event_id in range(5):
        hub.publish(event_id, state)
    assert subscription.ending is not None and subscription.ending.code == 1008
    assert await subscription.next(0) == subscription.ending, "nothing queued is sent after the ending"


# --------------------------------------------------------------------------- push faults over a real WebSocket


async def open_ws(server: ServerProcess, token: str, terminal: str) -> ClientConnection:
    ws = await connect(f"{server.ws_url}?terminal_id={terminal}", additional_headers={"Authorization": f"Bearer {token}"})
    assert json.loads(await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT))["type"] == "hello"
    return ws


async def pushes_until_pong(ws: ClientConnection) -> list[int]:
    """Versions of the pushes queued before a ping's answer."""
    await ws.send(json.dumps({"type": "ping"}))
    versions = []
    while (frame := json.loads(await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT)))["type"] != "pong":
        versions.append(frame["data"]["version"])
    return versions


async def media_changes(api: Api, call_id: int, token: str, count: int) -> None:
    for index in range(count):
        quality = "good" if index % 2 else "poor"
        await api.act(call_id, "media-state", token, CALLEE_TERMINAL, stage="joined", network_quality=quality)


async def run_scenario(server: ServerProcess, changes: int = 30) -> list[int]:
    """Bob watches while a call is placed, accepted and its media reported ``changes`` times."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        api = Api(client)
        alice, bob = await api.login("alice"), await api.login("bob")
        async with await open_ws(server, bob, "bob-phone") as ws:
            call_id = (await api.start(alice, BOB))["data"]["call_id"]
            await api.act(call_id, "accept", bob, CALLEE_TERMINAL)
            await media_changes(api, call_id, bob, changes)
            return await pushes_until_pong(ws)


async def test_the_same_seed_drops_and_duplicates_the_same_pushes(server_factory: ServerFactory) -> None:
    def server(seed: int) -> ServerProcess:
        return server_factory(args=["--faults", "push-drop=0.3,push-dup=0.3", "--fault-seed", str(seed)])

    first = await run_scenario(server(21))
    assert len(first) != len(set(first)), "some pushes came twice"
    assert set(range(1, 33)) - set(first), "some never came"
    assert await run_scenario(server(21)) == first
    assert await run_scenario(server(22)) != first


async def test_push_disconnect_cuts_the_connection_instead_of_pushing(server_factory: ServerFactory) -> None:
    server = server_factory(args=["--faults", "push-disconnect=1"])
    bob = login(server.base_url, "bob")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        api = Api(client)
        ws = await open_ws(server, bob, "bob-phone")
        await api.start(await api.login("alice"), BOB)
        with pytest.raises(ConnectionClosed) as cut:
            await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT)
        assert cut.value.rcvd is None, "no close frame: the connection was cut"


async def test_a_subscriber_that_stops_reading_is_disconnected(server_factory: ServerFactory) -> None:
    """Ten-second delays stand in for a reader that never reads: the outbox fills and the server lets go."""
    server = server_factory(args=["--faults", "push-delay=10s"])
    bob = login(server.base_url, "bob")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        api = Api(client)
        ws = await open_ws(server, bob, "bob-phone")
        call_id = (await api.start(await api.login("alice"), BOB))["data"]["call_id"]
        await api.act(call_id, "accept", bob, CALLEE_TERMINAL)
        await media_changes(api, call_id, bob, ServerConfig().push_outbox_frames + 2)
        with pytest.raises(ConnectionClosed) as ended:
            await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT)
        assert ended.value.rcvd is not None and ended.value.rcvd.code == 1008
