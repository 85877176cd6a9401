"""PushStream against a scripted WebSocket server and scripted HTTP: frames, keepalive, reconnects,
resync and the fall back to polling, all with intervals short enough to keep the tests fast."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from http import HTTPStatus
from typing import Any

import httpx
import pytest
from support.wire import state_payload
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from softphone.api import (
    LIVE_CALL_BACKOFF,
    Backoff,
    CallClient,
    CallNotFound,
    ConnectionChanged,
    InvalidParams,
    ProtocolError,
    PushStream,
    RouteNotFound,
    Unauthorized,
)
from softphone.launch import free_port

from .helpers import EventLog, Observed, envelope

MakeClient = Callable[..., CallClient]
Watch = Callable[[PushStream], EventLog]
Session = Callable[[ServerConnection], Awaitable[None]]

FAST: dict[str, Any] = {
    "poll_interval": 0.02,
    "ping_interval": 0.05,
    "pong_timeout": 0.1,
    "open_timeout": 1.0,
    "backoff": Backoff(initial=0.01, maximum=0.05, factor=2, jitter=0.5),
    "rng": random.Random(7),
}


class FakePushServer(Observed):
    """A WebSocket server on a free port that runs ``session`` for every connection it accepts."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.requests: list[Request] = []
        self.pings = 0
        self.refuse_with: tuple[int, str] | None = None
        self._server: Server | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def start(self) -> None:
        self._server = await serve(
            self._handle, "127.0.0.1", 0, process_request=self._handshake, ping_interval=None
        )

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def _handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        self.requests.append(request)
        self.changed()
        if self.refuse_with is None:
            return None
        status, body = self.refuse_with
        return connection.respond(HTTPStatus(status), body)

    async def _handle(self, connection: ServerConnection) -> None:
        await self.session(connection)

    async def answer_pings(self, connection: ServerConnection) -> None:
        """Answer pings until the client goes away, as the simulator does."""
        async for message in connection:
            if json.loads(message) == {"type": "ping"}:
                self.pings += 1
                self.changed()
                await connection.send('{"type": "pong"}')


StartPushServer = Callable[[Session], Awaitable[FakePushServer]]


async def no_session(connection: ServerConnection) -> None:
    """For servers that refuse every handshake: never runs."""
    raise AssertionError("the handshake was to be refused")


@pytest.fixture
async def push_server() -> AsyncIterator[StartPushServer]:
    servers: list[FakePushServer] = []

    async def start(session: Session) -> FakePushServer:
        server = FakePushServer(session)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


def hello(*calls: dict[str, Any]) -> str:
    return json.dumps(
        {"type": "hello", "data": {"user_id": 20002, "terminal_id": "term-a", "calls": list(calls)}}
    )


def updated(event_id: int, state: dict[str, Any]) -> str:
    return json.dumps({"type": "call.updated", "event_id": event_id, "data": state})


class ScriptedHttp(Observed):
    """HTTP answers keyed by path; a path without one answers 404 with the simulator's envelope."""

    def __init__(self, answers: dict[str, dict[str, Any]]) -> None:
        super().__init__()
        self.answers = answers
        self.paths: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        self.changed()
        body = self.answers.get(request.url.path)
        if body is None:
            return httpx.Response(404, json={"code": 40401, "message": "接口不存在", "data": None})
        return httpx.Response(200, json=body)


async def test_hello_then_resync_then_pushes_errors_and_pings(
    push_server: StartPushServer,
    mock_client: MakeClient,
    watch: Watch,
) -> None:
    pong_received = asyncio.Event()

    async def session(connection: ServerConnection) -> None:
        await connection.send(hello(state_payload(call_id=5, version=2)))
        await connection.send(updated(11, state_payload(call_id=5, version=3, status="accepted")))
        await connection.send('{"type": "error", "data": {"code": 40001, "message": "参数错误: type"}}')
        await connection.send("not json at all")
        await connection.send('{"type": "ping"}')
        if json.loads(await connection.recv()) == {"type": "pong"}:
            pong_received.set()
        await server.answer_pings(connection)

    server = await push_server(session)
    http = ScriptedHttp({"/api/calls/7/state": envelope(state_payload(call_id=7, version=4))})
    stream = PushStream(mock_client(http, base_url=server.base_url), **FAST)
    stream.track(5)
    stream.track(7)
    log = watch(stream)

    await log.until(lambda: len(log.errors()) == 2)
    assert log.connection_states() == ["connecting", "connected"]
    assert log.snapshots() == [(5, 2, "hello"), (7, 4, "resync"), (5, 3, "push")]
    assert http.paths == ["/api/calls/7/state", "/api/calls/history"], "the hello covered call 5; then the calls so far"
    protocol_error, frame_error = sorted(log.errors(), key=lambda error: type(error).__name__)
    assert isinstance(frame_error, ProtocolError) and "not json at all" in str(frame_error)
    assert isinstance(protocol_error, InvalidParams) and protocol_error.message == "参数错误: type"
    async with asyncio.timeout(5):
        await pong_received.wait()

    handshake = server.requests[0]
    assert handshake.path == "/api/ws?terminal_id=term-a"
    assert handshake.headers["Authorization"] == "Bearer tok-a"


async def test_a_server_without_hello_still_gets_resync_and_pushes(
    push_server: StartPushServer,
    mock_client: MakeClient,
    watch: Watch,
) -> None:
    async def session(connection: ServerConnection) -> None:
        await connection.send(updated(1, state_payload(call_id=5, version=3)))
        await server.answer_pings(connection)

    server = await push_server(session)
    http = ScriptedHttp({"/api/calls/5/state": envelope(state_payload(call_id=5, version=2))})
    stream = PushStream(mock_client(http, base_url=server.base_url), **FAST)
    stream.track(5)
    log = watch(stream)

    await log.until(lambda: len(log.snapshots()) == 2)
    assert log.connection_states() == ["connecting", "connected"]
    assert log.snapshots() == [(5, 2, "resync"), (5, 3, "push")]


async def test_answered_pings_keep_one_connection(
    push_server: StartPushServer,
    mock_client: MakeClient,
    watch: Watch,
) -> None:
    async def session(connection: ServerConnection) -> None:
        await connection.send(hello())
        await server.answer_pings(connection)

    server = await push_server(session)
    stream = PushStream(mock_client(ScriptedHttp({}), base_url=server.base_url), **FAST)
    log = watch(stream)
    await server.until(lambda: server.pings >= 5)  # a ping goes out only once the last was answered
    assert log.connection_states() == ["connecting", "connected"]
    assert len(server.requests) == 1


async def test_missing_pongs_count_as_a_dead_connection_and_reconnect(
    push_server: StartPushServer,
    mock_client: MakeClient,
    watch: Watch,
) -> None:
    async def session(connection: ServerConnection) -> None:
        await connection.send(hello())
        await connection.wait_closed()  # reads nothing, so never answers a ping

    server = await push_server(session)
    http = ScriptedHttp({"/api/calls/5/state": envelope(state_payload(call_id=5, version=6))})
    stream = PushStream(mock_client(http, base_url=server.base_url), **FAST)
    stream.track(5)
    log = watch(stream)

    await log.until(lambda: log.connection_states().count("connected") == 2)
    lost = next(e for e in log.events if isinstance(e, ConnectionChanged) and e.state == "reconnecting")
    assert "no pong" in lost.detail
    assert log.snapshots() == [(5, 6, "resync"), (5, 6, "resync")], "resync after every connect"


async def test_closed_connection_reconnects_with_backoff_and_resyncs(
    push_server: StartPushServer,
    mock_client: MakeClient,
    watch: Watch,
) -> None:
    async def session(connection: ServerConnection) -> None:
        version = len(server.requests)
        await connection.send(hello(state_payload(call_id=5, version=version)))
        if version < 3:
            await connection.close()
        else:
            await server.answer_pings(connection)

    server = await push_server(session)
    http = ScriptedHttp({"/api/calls/9/state": envelope(state_payload(call_id=9, version=1))})
    stream = PushStream(mock_client(http, base_url=server.base_url), **FAST)
    stream.track(9)
    log = watch(stream)

    await log.until(lambda: log.connection_states().count("connected") == 3)
    assert log.snapshots("hello") == [(5, 1, "hello"), (5, 2, "hello"), (5, 3, "hello")]
    assert log.snapshots("resync") == [(9, 1, "resync")] * 3
    assert log.connection_states() == [
        "connecting",
        "connected",
        "reconnecting",
        "connected",
        "reconnecting",
        "connected",
    ]


async def test_while_connected_a_check_brings_what_a_lost_push_would_have(
    push_server: StartPushServer,
    mock_client: MakeClient,
    watch: Watch,
) -> None:
    """Regression (convergence under faults): with the connection up, a lost push was never made up for.

    A check brings the tracked calls, and of the others only those live or new since the stream first
    connected: a phone learns a call that rang and ended unseen, not the user's whole history.
    """

    async def session(connection: ServerConnection) -> None:
        await connection.send(hello())
        await server.answer_pings(connection)  # and never a push: every one was lost

    server = await push_server(session)
    old = state_payload(call_id=4, version=2, status="rejected")
    tracked = state_payload(call_id=8, version=2, status="cancelled")
    http = ScriptedHttp({
        "/api/calls/history": envelope({"calls": [tracked, old]}),
        "/api/calls/5/state": envelope(state_payload(call_id=5, version=3, status="ongoing")),
    })
    stream = PushStream(mock_client(http, base_url=server.base_url), **FAST, check_interval=0.05)
    stream.track(5)
    stream.track(8)
    log = watch(stream)

    await http.until(lambda: http.paths.count("/api/calls/history") >= 1)
    missed = state_payload(call_id=9, version=2, status="cancelled")  # rang and ended unseen
    ringing = state_payload(call_id=10, version=1, status="calling")  # its one push lost
    http.answers["/api/calls/history"] = envelope({"calls": [ringing, missed, tracked, old]})
    await log.until(lambda: len(log.snapshots("check")) >= 8)
    first, second = log.snapshots("check")[:4], log.snapshots("check")[4:8]
    assert sorted(first) == sorted(second) == [(5, 3, "check"), (8, 2, "check"), (9, 2, "check"), (10, 1, "check")]
    assert http.paths[:4] == ["/api/calls/5/state", "/api/calls/8/state", "/api/calls/history", "/api/calls/history"]
    assert log.connection_states() == ["connecting", "connected"]


async def test_a_check_on_a_server_without_call_lists_asks_for_tracked_calls_only(
    push_server: StartPushServer,
    mock_client: MakeClient,
    watch: Watch,
) -> None:
    async def session(connection: ServerConnection) -> None:
        await connection.send(hello())
        await server.answer_pings(connection)

    server = await push_server(session)
    http = ScriptedHttp({"/api/calls/5/state": envelope(state_payload(call_id=5, version=3))})
    stream = PushStream(mock_client(http, base_url=server.base_url), **FAST, check_interval=0.05)
    stream.track(5)
    log = watch(stream)

    await log.until(lambda: len(log.snapshots("check")) >= 3)
    assert http.paths.count("/api/calls/history") == 1, "a 404 says the server has no call lists: not asked again"
    assert log.errors() == [], "a check is quiet about what it could not fetch"


@pytest.mark.parametrize("status", [404, 405])
async def test_auto_mode_polls_a_server_without_push_channel(
    push_server: StartPushServer,
    mock_client: MakeClient,
    watch: Watch,
    status: int,
) -> None:
    server = await push_server(no_session)
    server.refuse_with = (status, "Not Found")
    http = ScriptedHttp(
        {
            "/api/calls/active": envelope({"calls": [state_payload(call_id=5, version=1)]}),
            "/api/calls/7/state": envelope(None, 41001, "通话不存在"),
        }
    )
    stream = PushStream(mock_client(http, base_url=server.base_url), **FAST)
    stream.track(7)
    log = watch(stream)

    await http.until(lambda: http.paths.count("/api/calls/active") >= 3)
    http.answers["/api/calls/active"] = envelope({"calls": [state_payload(call_id=5, version=2)]})
    await log.until(lambda: (5, 2, "poll") in log.snapshots())

    assert log.connection_states() == ["connecting", "polling"]
    assert log.snapshots() == [(5, 1, "poll"), (5, 2, "poll")], "unchanged polls are not repeated"
    [not_found] = log.errors()
    assert isinstance(not_found, CallNotFound) and not_found.message == "通话不存在"
    assert len(server.requests) == 1


async def test_push_mode_keeps_trying_the_push_channel(
    push_server: StartPushServer,
    mock_client: MakeClient,
    watch: Watch,
) -> None:
    server = await push_server(no_session)
    server.refuse_with = (404, '{"code": 40401, "message": "接口不存在", "data": null}')
    stream = PushStream(mock_client(ScriptedHttp({}), base_url=server.base_url), mode="push", **FAST)
    log = watch(stream)

    await server.until(lambda: len(server.requests) >= 3)
    assert "polling" not in log.connection_states()
    assert all(isinstance(error, RouteNotFound) for error in log.errors())


async def test_refused_handshake_shows_the_servers_error(
    push_server: StartPushServer,
    mock_client: MakeClient,
    watch: Watch,
) -> None:
    server = await push_server(no_session)
    server.refuse_with = (401, '{"code": 40101, "message": "未登录或令牌无效", "data": null}')
    stream = PushStream(mock_client(ScriptedHttp({}), base_url=server.base_url), **FAST)
    log = watch(stream)

    await log.until(lambda: len(log.errors()) >= 2)
    first = log.errors()[0]
    assert isinstance(first, Unauthorized) and first.message == "未登录或令牌无效"
    assert "polling" not in log.connection_states()


async def test_close_code_4401_is_unauthorized_and_the_stream_retries(
    push_server: StartPushServer,
    mock_client: MakeClient,
    watch: Watch,
) -> None:
    async def session(connection: ServerConnection) -> None:
        await connection.close(4401, "40101")

    server = await push_server(session)
    stream = PushStream(mock_client(ScriptedHttp({}), base_url=server.base_url), **FAST)
    log = watch(stream)

    await server.until(lambda: len(server.requests) >= 2)
    first = log.errors()[0]
    assert isinstance(first, Unauthorized) and first.message == "未登录或令牌无效"


async def test_auto_mode_polls_when_only_the_push_address_refuses(
    mock_client: MakeClient, watch: Watch
) -> None:
    http = ScriptedHttp({"/healthz": envelope({"status": "ok"}), "/api/calls/active": envelope({"calls": []})})
    stream = PushStream(mock_client(http), ws_url=f"ws://127.0.0.1:{free_port()}/push", **FAST)
    log = watch(stream)

    await log.until(lambda: "polling" in log.connection_states())
    assert log.events[-1] == ConnectionChanged(
        "polling",
        f"no push channel at {stream.ws_url} (refused) but HTTP answers; polling every 0.02s",
    )


async def test_poll_mode_stops_asking_for_active_calls_a_server_lacks(
    mock_client: MakeClient, watch: Watch
) -> None:
    http = ScriptedHttp({"/api/calls/5/state": envelope(state_payload(call_id=5, version=1))})
    stream = PushStream(mock_client(http), mode="poll", **FAST)
    stream.track(5)
    log = watch(stream)

    await http.until(lambda: http.paths.count("/api/calls/5/state") >= 3)
    assert http.paths.count("/api/calls/active") == 1
    assert log.snapshots() == [(5, 1, "poll")]
    assert log.errors() == []


async def test_polling_reports_an_outage_once_and_the_recovery(
    mock_client: MakeClient, watch: Watch
) -> None:
    outage = asyncio.Event()
    answers = ScriptedHttp({"/api/calls/active": envelope({"calls": [state_payload(version=1)]})})

    def server(request: httpx.Request) -> httpx.Response:
        if outage.is_set():
            raise httpx.ConnectError("refused")
        return answers(request)

    stream = PushStream(mock_client(server, retries=0), mode="poll", **FAST)
    log = watch(stream)
    await log.until(lambda: log.snapshots() == [(5001, 1, "poll")])
    outage.set()
    await log.until(lambda: "unreachable" in log.connection_states())
    outage.clear()
    await log.until(lambda: log.connection_states()[-1] == "polling")
    assert log.state_changes() == ["polling", "unreachable", "polling"]


async def test_close_ends_the_events_with_closed(
    mock_client: MakeClient, watch: Watch
) -> None:
    stream = PushStream(mock_client(ScriptedHttp({})), mode="poll", **FAST)
    log = watch(stream)
    await log.until(lambda: "polling" in log.connection_states())
    await stream.close()
    await log.finish()
    assert log.events[-1] == ConnectionChanged("closed", "closed by the caller")


def test_ws_url_follows_the_base_url_scheme_and_terminal() -> None:
    secure = CallClient("https://api.example.com/prefix/", terminal_id="t 1")
    assert PushStream(secure).ws_url == "wss://api.example.com/prefix/api/ws?terminal_id=t+1"
    plain = CallClient("http://127.0.0.1:8765", terminal_id="t")
    assert PushStream(plain).ws_url == "ws://127.0.0.1:8765/api/ws?terminal_id=t"


def test_backoff_grows_is_capped_and_jittered() -> None:
    backoff = Backoff(initial=1, maximum=10, factor=2, jitter=0.5)
    rng = random.Random(1)
    for attempt, ceiling in [(0, 1), (1, 2), (2, 4), (3, 8), (4, 10), (50, 10), (10_000, 10)]:
        delays = [backoff.delay(attempt, rng) for _ in range(200)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert max(delays) - min(delays) > ceiling / 4, "jitter spreads the delays"
    with pytest.raises(ValueError):
        Backoff(jitter=2)


async def test_the_documented_usage_starts_and_stops_with_the_block(mock_client: MakeClient) -> None:
    async with PushStream(mock_client(ScriptedHttp({})), mode="poll", **FAST) as stream:
        async for event in stream.events():
            assert event == ConnectionChanged("polling", "configured to poll; polling every 0.02s")
            break
    assert [event async for event in stream.events()] == [
        ConnectionChanged("closed", "closed by the caller")
    ]
    assert [event async for event in stream.events()] == [], "ended for good"


async def test_a_stream_closed_before_it_started_has_no_events(mock_client: MakeClient) -> None:
    stream = PushStream(mock_client(ScriptedHttp({})), mode="poll", **FAST)
    await stream.close()
    assert [event async for event in stream.events()] == []


# ---------------------------------------------------------------------------------- outages and retries


class Unreachable(Observed):
    """HTTP that never connects, counting the ``/healthz`` probes (with the time of each)."""

    def __init__(self) -> None:
        super().__init__()
        self.probes: list[float] = []
        self.other: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/healthz":
            self.probes.append(asyncio.get_running_loop().time())
        else:
            self.other.append(request.url.path)
        self.changed()
        raise httpx.ConnectError("refused")


def nowhere() -> str:
    """A WebSocket URL on a free port: every connection is refused at once."""
    return f"ws://127.0.0.1:{free_port()}/api/ws"


async def test_while_a_call_is_live_nothing_answering_is_probed_at_most_2s_apart(
    mock_client: MakeClient, watch: Watch
) -> None:
    http = Unreachable()
    stream = PushStream(mock_client(http, retries=0), mode="push", ws_url=nowhere(), rng=random.Random(7))
    stream.set_call_live(True)
    log = watch(stream)
    await http.until(lambda: len(http.probes) >= 6, timeout=15)
    gaps = [later - earlier for earlier, later in zip(http.probes, http.probes[1:], strict=False)]
    assert max(gaps) <= LIVE_CALL_BACKOFF.maximum + 0.3, gaps
    assert http.other == [], "only the cheap probe while nothing answers"
    waits = [event for event in log.events if isinstance(event, ConnectionChanged) and event.retry_at is not None]
    assert waits and {event.state for event in waits} == {"unreachable"}


def test_the_live_call_backoff_is_capped_at_two_seconds_by_design() -> None:
    rng = random.Random(1)
    assert LIVE_CALL_BACKOFF.maximum <= 2.0
    assert max(LIVE_CALL_BACKOFF.delay(attempt, rng) for attempt in range(200)) <= 2.0


async def test_a_call_going_live_shortens_a_long_wait(mock_client: MakeClient, watch: Watch) -> None:
    long_wait = Backoff(initial=60, maximum=60, factor=1, jitter=0)
    stream = PushStream(mock_client(Unreachable(), retries=0), mode="push", ws_url=nowhere(), backoff=long_wait)
    log = watch(stream)
    loop = asyncio.get_running_loop()

    def waits() -> list[float]:
        return [e.retry_at - loop.time() for e in log.events if isinstance(e, ConnectionChanged) and e.retry_at]

    await log.until(lambda: len(waits()) == 1)
    assert waits()[0] > 50
    stream.set_call_live(True)
    await log.until(lambda: len(waits()) == 2)
    assert waits()[1] <= LIVE_CALL_BACKOFF.maximum


async def test_retry_now_ends_a_wait_at_once(mock_client: MakeClient, watch: Watch) -> None:
    http = Unreachable()
    long_wait = Backoff(initial=60, maximum=60, factor=1, jitter=0)
    stream = PushStream(mock_client(http, retries=0), mode="push", ws_url=nowhere(), backoff=long_wait)
    log = watch(stream)
    await log.until(lambda: "unreachable" in log.connection_states())
    probes = len(http.probes)
    stream.retry_now()
    await http.until(lambda: len(http.probes) > probes, timeout=2)


async def test_polling_with_a_refused_token_says_so_once_and_waits_the_long_backoff(
    mock_client: MakeClient, watch: Watch
) -> None:
    """Every call would be refused alike: no tight loop of 40101s, one error to show."""
    refused = envelope(None, 40101, "未登录或令牌无效")
    asked: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return httpx.Response(401, json=refused)

    options = {**FAST, "backoff": Backoff(initial=60, maximum=60, factor=1, jitter=0)}
    stream = PushStream(mock_client(server), mode="poll", **options)
    stream.set_call_live(True)  # even with a call live: a refused token will not do better soon
    log = watch(stream)
    await log.until(lambda: any(isinstance(e, ConnectionChanged) and e.retry_at for e in log.events))
    await asyncio.sleep(0.3)  # a window in which a poll every 0.02 s would have asked 15 times
    assert asked == ["/api/calls/active"]
    assert [type(error) for error in log.errors()] == [Unauthorized]
