"""CallClient against scripted HTTP: error mapping, request shape, and which requests retry."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from support.wire import state_payload

from softphone.api import (
    AnsweredElsewhere,
    ApiError,
    CallAlreadyEnded,
    CallClient,
    CalleeBusy,
    CallError,
    CallNotFound,
    CallStateConflict,
    FaultSettings,
    InternalServerError,
    InvalidParams,
    MethodNotAllowed,
    NotCallee,
    NotCaller,
    NotParticipant,
    ProtocolError,
    RequestTimedOut,
    RouteNotFound,
    ServerUnreachable,
    Unauthorized,
)
from softphone.launch import free_port

from .helpers import envelope

MakeClient = Callable[..., CallClient]

DOCUMENTED_ERRORS: list[tuple[int, str, type[ApiError]]] = [
    (40001, "参数错误: terminal_id: String should have at most 64 characters", InvalidParams),
    (40101, "未登录或令牌无效", Unauthorized),
    (40401, "接口不存在", RouteNotFound),
    (40501, "方法不允许", MethodNotAllowed),
    (50000, "服务器内部错误", InternalServerError),
    (41001, "通话不存在", CallNotFound),
    (41002, "通话状态不允许此操作", CallStateConflict),
    (41003, "对方忙线", CalleeBusy),
    (41004, "非被叫方", NotCallee),
    (41005, "非主叫方", NotCaller),
    (41006, "已被其他终端接听", AnsweredElsewhere),
    (41007, "通话已结束", CallAlreadyEnded),
    (41010, "非参与方", NotParticipant),
    (41010, "权限或关系校验失败", NotParticipant),
]


def answer(status: int, body: Any) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, json=body)


@pytest.mark.parametrize("http_status", [200, 400, 409, 500])
@pytest.mark.parametrize(("code", "message", "error_type"), DOCUMENTED_ERRORS)
async def test_error_envelope_maps_by_code_whatever_the_http_status(
    mock_client: MakeClient,
    code: int,
    message: str,
    error_type: type[ApiError],
    http_status: int,
) -> None:
    client = mock_client(answer(http_status, envelope(None, code, message)))
    with pytest.raises(error_type) as raised:
        await client.call_state(5001)
    assert (raised.value.code, raised.value.message) == (code, message)


@pytest.mark.parametrize(("code", "expected_type"), [(41099, CallError), (42000, ApiError)])
async def test_unknown_code_keeps_code_and_message(
    mock_client: MakeClient, code: int, expected_type: type[ApiError]
) -> None:
    client = mock_client(answer(200, envelope(None, code, "新的错误")))
    with pytest.raises(expected_type) as raised:
        await client.hangup(5001)
    assert type(raised.value) is expected_type
    assert (raised.value.code, raised.value.message) == (code, "新的错误")


async def test_code_zero_is_success_even_under_an_error_status(
    mock_client: MakeClient
) -> None:
    client = mock_client(answer(500, envelope(state_payload(version=3))))
    assert (await client.call_state(5001)).version == 3


async def test_non_json_body_is_a_protocol_error_with_status_and_excerpt(
    mock_client: MakeClient,
) -> None:
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    client = mock_client(lambda request: httpx.Response(502, text=page))
    with pytest.raises(ProtocolError) as raised:
        await client.call_state(5001)
    assert raised.value.http_status == 502
    assert "HTTP 502" in str(raised.value) and "502 Bad Gateway" in str(raised.value)


@pytest.mark.parametrize("body", [{"detail": "Not Found"}, [1, 2], {"code": "zero", "message": 1}])
async def test_json_that_is_not_an_envelope_is_a_protocol_error(
    mock_client: MakeClient, body: Any
) -> None:
    client = mock_client(answer(404, body))
    with pytest.raises(ProtocolError) as raised:
        await client.active_calls()
    assert raised.value.http_status == 404
    assert "envelope" in str(raised.value)


async def test_data_not_matching_the_model_is_a_protocol_error_naming_it(
    mock_client: MakeClient
) -> None:
    client = mock_client(answer(200, envelope(state_payload() | {"version": "five"})))
    with pytest.raises(ProtocolError) as raised:
        await client.call_state(5001)
    assert "CallState (version:" in str(raised.value)


async def test_success_without_data_is_a_protocol_error(
    mock_client: MakeClient
) -> None:
    client = mock_client(answer(200, envelope(None)))
    with pytest.raises(ProtocolError):
        await client.accept(5001)


async def test_unknown_fields_and_statuses_are_read_as_they_are(
    mock_client: MakeClient
) -> None:
    payload = state_payload(status="on_hold") | {"end_reason": "moon_phase", "surprise": [1]}
    client = mock_client(answer(200, envelope(payload)))
    state = await client.call_state(5001)
    assert (state.status, state.end_reason) == ("on_hold", "moon_phase")


async def test_refused_connection_is_server_unreachable() -> None:
    port = free_port()
    async with CallClient(f"http://127.0.0.1:{port}", terminal_id="t", retries=0) as client:
        with pytest.raises(ServerUnreachable) as raised:
            await client.health()
    assert str(port) in str(raised.value)


async def test_silent_server_is_request_timed_out() -> None:
    async def hold_open(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and closes

    silent = await asyncio.start_server(hold_open, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    async with silent:
        client = CallClient(f"http://127.0.0.1:{port}", terminal_id="t", timeout=0.2, retries=0)
        async with client:
            with pytest.raises(RequestTimedOut):
                await client.call_state(5001)


class FlakyServer:
    """Fails the first ``failures`` requests with ``error``, then answers ``body``; counts requests."""

    def __init__(self, failures: int, error: Exception, body: dict[str, Any]) -> None:
        self.failures = failures
        self.error = error
        self.body = body
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if len(self.requests) <= self.failures:
            raise self.error
        return httpx.Response(200, json=self.body)


TRANSPORT_FAILURES = [
    (httpx.ConnectError("refused"), ServerUnreachable),
    (httpx.ReadTimeout("slow"), RequestTimedOut),
    (httpx.RemoteProtocolError("server vanished mid-answer"), ServerUnreachable),
]


@pytest.mark.parametrize(("failure", "error_type"), TRANSPORT_FAILURES)
async def test_reads_retry_transport_errors_then_succeed(
    mock_client: MakeClient,
    failure: Exception,
    error_type: type[Exception],
) -> None:
    server = FlakyServer(2, failure, envelope(state_payload(version=4)))
    client = mock_client(server, retries=2)
    assert (await client.call_state(5001)).version == 4
    assert len(server.requests) == 3


@pytest.mark.parametrize(("failure", "error_type"), TRANSPORT_FAILURES)
async def test_reads_give_up_after_the_retries(
    mock_client: MakeClient,
    failure: Exception,
    error_type: type[Exception],
) -> None:
    server = FlakyServer(99, failure, envelope(None))
    client = mock_client(server, retries=2)
    with pytest.raises(error_type):
        await client.history()
    assert len(server.requests) == 3


async def test_accept_retries_because_it_is_idempotent_for_this_terminal(
    mock_client: MakeClient
) -> None:
    accepted = {
        "call_id": 5001,
        "status": "accepted",
        "channel_name": "call_5001_1001",
        "app_id": "app",
        "callee_uid": "20002",
        "rtc_token": "rtc",
        "expire_at": None,
        "version": 2,
    }
    server = FlakyServer(1, httpx.ReadTimeout("lost answer"), envelope(accepted))
    client = mock_client(server, retries=2)
    assert (await client.accept(5001)).version == 2
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    "change",
    [
        lambda client: client.start_call(1001, 20002, "audio"),
        lambda client: client.hangup(5001),
        lambda client: client.reject(5001),
        lambda client: client.cancel(5001),
        lambda client: client.report_media(5001, "joined"),
    ],
    ids=["start", "hangup", "reject", "cancel", "media-state"],
)
@pytest.mark.parametrize(("failure", "error_type"), TRANSPORT_FAILURES)
async def test_requests_that_change_a_call_never_retry(
    mock_client: MakeClient,
    change: Callable[[CallClient], Any],
    failure: Exception,
    error_type: type[Exception],
) -> None:
    server = FlakyServer(1, failure, envelope(None))
    client = mock_client(server, retries=5)
    with pytest.raises(error_type):
        await change(client)
    assert len(server.requests) == 1


async def test_api_errors_are_not_retried(mock_client: MakeClient) -> None:
    server = FlakyServer(0, Exception("unused"), envelope(None, 41001, "通话不存在"))
    client = mock_client(server, retries=5)
    with pytest.raises(CallNotFound):
        await client.call_state(5001)
    assert len(server.requests) == 1


class RecordingServer:
    """Answers every request with ``body`` and keeps the requests to inspect."""

    def __init__(self, body: dict[str, Any], status: int = 200) -> None:
        self.body = body
        self.status = status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, json=self.body)

    def sent(self) -> tuple[str, str, dict[str, Any] | None]:
        last = self.requests[-1]
        return last.method, last.url.path, json.loads(last.content) if last.content else None


async def test_requests_carry_bearer_token_terminal_and_documented_defaults(
    mock_client: MakeClient
) -> None:
    server = RecordingServer(envelope({"call_id": 5001, "status": "ended", "version": 5}))
    client = mock_client(server)
    await client.hangup(5001)
    assert server.sent() == (
        "POST",
        "/api/calls/5001/hangup",
        {"terminal_id": "term-a", "reason": "local_hangup"},
    )
    await client.reject(5001, reason="callee_busy")
    assert server.sent()[2] == {"terminal_id": "term-a", "reason": "callee_busy"}
    await client.cancel(5001)
    assert server.sent()[2] == {"terminal_id": "term-a", "reason": "caller_cancel"}
    await client.report_media(5001, "joined")
    assert server.sent() == (
        "POST",
        "/api/calls/5001/media-state",
        {"terminal_id": "term-a", "stage": "joined"},
    )
    await client.report_media(5001, "joined", network_quality="good")
    assert server.sent()[2] == {"terminal_id": "term-a", "stage": "joined", "network_quality": "good"}
    assert {request.headers["Authorization"] for request in server.requests} == {"Bearer tok-a"}


async def test_start_call_sends_every_documented_field(
    mock_client: MakeClient
) -> None:
    started = {
        "call_id": 5001,
        "conversation_id": 1001,
        "call_type": "video",
        "biz_type": "single",
        "status": "calling",
        "timeout_seconds": 30,
        "version": 1,
        "channel_name": "call_5001_1001",
        "app_id": "app",
        "caller_uid": "10001",
        "rtc_token": "rtc",
        "expire_at": "2026-07-05T12:30:00Z",
    }
    server = RecordingServer(envelope(started))
    data = await mock_client(server).start_call(1001, 20002, "video")
    assert server.sent() == (
        "POST",
        "/api/calls/session",
        {
            "conversation_id": 1001,
            "target_user_id": 20002,
            "call_type": "video",
            "biz_type": "single",
            "terminal_id": "term-a",
        },
    )
    assert (data.call_id, data.timeout_seconds) == (5001, 30)
    assert data.expire_at is not None and data.expire_at.isoformat() == "2026-07-05T12:30:00+00:00"


async def test_history_pages_with_limit_and_before_id(
    mock_client: MakeClient
) -> None:
    server = RecordingServer(envelope({"calls": [state_payload(call_id=7)]}))
    client = mock_client(server)
    calls = await client.history(limit=5, before_id=9)
    assert [call.call_id for call in calls] == [7]
    assert dict(server.requests[-1].url.params) == {"limit": "5", "before_id": "9"}
    await client.history()
    assert dict(server.requests[-1].url.params) == {"limit": "20"}


async def test_login_keeps_the_token_for_later_requests(
    mock_client: MakeClient
) -> None:
    server = RecordingServer(envelope({"token": "fresh", "user_id": 10001, "name": "alice"}))
    client = mock_client(server)
    login = await client.login("alice")
    assert (login.user_id, client.token) == (10001, "fresh")
    assert server.sent()[2] == {"user": "alice"}
    server.body = envelope({"users": []})
    await client.directory()
    assert server.requests[-1].headers["Authorization"] == "Bearer fresh"


async def test_no_token_sends_no_authorization_header() -> None:
    server = RecordingServer(envelope({"status": "ok"}))
    async with CallClient("http://sim.test", terminal_id="t", transport=httpx.MockTransport(server)) as client:
        assert (await client.health()).status == "ok"
    assert "Authorization" not in server.requests[0].headers


@pytest.mark.parametrize(
    ("status", "body", "offers"),
    [
        (200, {"code": 0, "message": "success", "data": {"calls": []}}, True),
        (404, {"code": 40401, "message": "接口不存在", "data": None}, False),
        (405, {"code": 40501, "message": "方法不允许", "data": None}, False),
        (404, {"detail": "Not Found"}, False),
    ],
)
async def test_offers_ext_is_learned_from_the_active_endpoint(
    mock_client: MakeClient, status: int, body: dict[str, Any], offers: bool
) -> None:
    server = RecordingServer(body, status)
    client = mock_client(server)
    assert await client.offers_ext() is offers
    assert await client.offers_ext() is offers
    assert len(server.requests) == 1, "learned once, then remembered"


async def test_offers_ext_does_not_guess_when_the_server_is_down(mock_client: MakeClient) -> None:
    client = mock_client(FlakyServer(99, httpx.ConnectError("refused"), {}), retries=0)
    with pytest.raises(ServerUnreachable):
        await client.offers_ext()


async def test_faults_are_read_and_replaced_with_the_options_words(mock_client: MakeClient) -> None:
    """``set_faults`` sends only the kinds that are on (``{}`` turns all off); answers read like the option."""
    in_force = {"push-drop": 0.3, "push-dup": 0, "push-reorder": 0, "push-disconnect": 0, "http-error": 0,
                "push-delay": "50ms", "http-latency": "0ms", "seed": 7}  # fmt: skip
    server = RecordingServer(envelope(in_force))
    client = mock_client(server)
    settings = await client.faults()
    assert server.sent() == ("GET", "/api/dev/faults", None)
    assert (settings.push_drop, settings.push_delay, settings.seed, settings.spec()) == (
        0.3, 50.0, 7, "push-drop=0.3,push-delay=50ms"
    )
    assert await client.set_faults(FaultSettings.from_spec("push-drop=0.3,push-delay=50ms")) == settings
    assert server.sent() == ("PUT", "/api/dev/faults", {"push-drop": 0.3, "push-delay": "50ms"})
    await client.set_faults(FaultSettings())
    assert server.sent()[2] == {}
