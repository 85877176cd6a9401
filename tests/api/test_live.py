"""The adapter against the simulator as a real process: every endpoint, every error type the
simulator can produce, and the push stream through a crash, a restart, and in polling mode."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from support.server import ServerProcess

from softphone.api import (
    AnsweredElsewhere,
    ApiError,
    Backoff,
    CallAlreadyEnded,
    CallClient,
    CalleeBusy,
    CallNotFound,
    CallState,
    CallStateConflict,
    InvalidParams,
    MethodNotAllowed,
    NotCallee,
    NotCaller,
    NotParticipant,
    PushStream,
    RouteNotFound,
    StatesReceived,
    StreamMode,
    Unauthorized,
)

from .helpers import EventLog

Connect = Callable[..., Awaitable[CallClient]]
Watch = Callable[[PushStream], EventLog]
ServerFactory = Callable[..., ServerProcess]

LIVE_STREAM: dict[str, Any] = {
    "poll_interval": 0.05,
    "ping_interval": 0.1,
    "pong_timeout": 2.0,
    "open_timeout": 2.0,
    "backoff": Backoff(initial=0.05, maximum=0.2, factor=2, jitter=0.5),
    "rng": random.Random(3),
}


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """``await connect(server, user, terminal)``: a CallClient logged in as ``user``."""
    clients: list[CallClient] = []

    async def login(server: ServerProcess, user: str, terminal: str) -> CallClient:
        client = CallClient(server.base_url, terminal_id=terminal, timeout=5.0)
        clients.append(client)
        await client.login(user)
        return client

    yield login
    for client in clients:
        await client.aclose()


def stream_for(client: CallClient, mode: StreamMode = "auto") -> PushStream:
    return PushStream(client, mode=mode, **LIVE_STREAM)


async def conversation_with(client: CallClient, name: str) -> tuple[int, int]:
    """``(conversation_id, user_id)`` of ``name`` in ``client``'s directory."""
    [user] = [user for user in (await client.directory()).users if user.name == name]
    assert user.conversation_id is not None
    return user.conversation_id, user.user_id


async def start_call(caller: CallClient, callee: str, call_type: str = "audio") -> int:
    conversation_id, user_id = await conversation_with(caller, callee)
    return (await caller.start_call(conversation_id, user_id, call_type)).call_id


def versions_of(log: EventLog, call_id: int) -> list[int]:
    return [version for (seen_id, version, _) in log.snapshots() if seen_id == call_id]


def latest(log: EventLog, call_id: int) -> CallState | None:
    states = [s for e in log.events if isinstance(e, StatesReceived) for s in e.states if s.call_id == call_id]
    return states[-1] if states else None


async def test_health_login_and_directory(live_server: ServerProcess, connect: Connect) -> None:
    alice = await connect(live_server, "alice", "alice-desk")
    assert (await alice.health()).status == "ok"
    assert alice.token
    users = {user.name: user for user in (await alice.directory()).users}
    assert set(users) == {"alice", "bob", "carol", "dave", "erin", "frank"}
    assert users["alice"].conversation_id is None
    assert users["bob"].user_id == 20002 and users["bob"].conversation_id
    assert await alice.offers_ext() is True


async def test_a_whole_call_through_every_call_endpoint(
    live_server: ServerProcess, connect: Connect
) -> None:
    alice = await connect(live_server, "alice", "alice-desk")
    bob = await connect(live_server, "bob", "bob-desk")
    conversation_id, bob_id = await conversation_with(alice, "bob")

    started = await alice.start_call(conversation_id, bob_id, "video")
    call_id = started.call_id
    assert (started.status, started.version, started.call_type) == ("calling", 1, "video")
    assert started.channel_name == f"call_{call_id}_{conversation_id}"
    assert [call.call_id for call in await bob.active_calls()] == [call_id]

    accepted = await bob.accept(call_id)
    assert (accepted.status, accepted.version, accepted.callee_uid) == ("accepted", 2, "20002")
    again = await bob.accept(call_id)
    assert (again.status, again.version) == ("accepted", 2), "the same terminal again: no change"

    joined = await alice.report_media(call_id, "joined", network_quality="good")
    assert (joined.status, joined.version) == ("ongoing", 3) and joined.started_at is not None
    assert (await bob.report_media(call_id, "joined")).version == 4

    state = await bob.call_state(call_id)
    assert (state.status, state.version, state.accepted_terminal_id) == ("ongoing", 4, "bob-desk")

    ended = await bob.hangup(call_id)
    assert (ended.status, ended.end_reason, ended.version) == ("ended", "local_hangup", 5)
    assert await alice.active_calls() == []

    rejected_id = await start_call(alice, "bob")
    rejected = await bob.reject(rejected_id, reason="callee_busy")
    assert (rejected.status, rejected.end_reason) == ("rejected", "callee_busy")
    cancelled_id = await start_call(alice, "bob")
    cancelled = await alice.cancel(cancelled_id)
    assert (cancelled.status, cancelled.end_reason) == ("cancelled", "caller_cancel")

    newest_first = [call.call_id for call in await alice.history()]
    assert newest_first == [cancelled_id, rejected_id, call_id]
    page = await alice.history(limit=1, before_id=cancelled_id)
    assert [call.call_id for call in page] == [rejected_id]


async def test_every_error_type_the_simulator_sends(
    live_server: ServerProcess, connect: Connect
) -> None:
    alice = await connect(live_server, "alice", "alice-desk")
    bob_desk = await connect(live_server, "bob", "bob-desk")
    bob_phone = await connect(live_server, "bob", "bob-phone")
    carol = await connect(live_server, "carol", "carol-desk")
    expected: list[tuple[type[ApiError], int, str, Callable[[], Awaitable[Any]]]] = []

    def expect(
        error: type[ApiError], code: int, message: str, request: Callable[[], Awaitable[Any]]
    ) -> None:
        expected.append((error, code, message, request))

    call_id = await start_call(alice, "bob")
    conversation_id, bob_id = await conversation_with(alice, "bob")
    expect(CallNotFound, 41001, "通话不存在", lambda: alice.call_state(999_999))
    expect(CallStateConflict, 41002, "通话状态不允许此操作", lambda: alice.hangup(call_id))
    expect(NotCallee, 41004, "非被叫方", lambda: alice.accept(call_id))
    expect(NotCaller, 41005, "非主叫方", lambda: bob_desk.cancel(call_id))
    expect(NotParticipant, 41010, "非参与方", lambda: carol.call_state(call_id))
    expect(
        NotParticipant,
        41010,
        "权限或关系校验失败",
        lambda: carol.start_call(conversation_id, bob_id, "audio"),
    )
    expect(CalleeBusy, 41003, "对方忙线", lambda: start_call(carol, "bob"))
    for error, code, message, request in expected:
        with pytest.raises(error) as raised:
            await request()
        assert (raised.value.code, raised.value.message) == (code, message)

    await bob_desk.accept(call_id)
    with pytest.raises(AnsweredElsewhere) as elsewhere:
        await bob_phone.accept(call_id)
    assert elsewhere.value.message == "已被其他终端接听"
    await alice.hangup(call_id)
    with pytest.raises(CallAlreadyEnded) as over:
        await bob_desk.accept(call_id)
    assert over.value.message == "通话已结束"

    with pytest.raises(InvalidParams) as invalid:
        await alice.report_media(call_id, "x" * 33)
    assert invalid.value.message.startswith("参数错误")
    with pytest.raises(InvalidParams):
        await alice.login("nobody")

    stranger = CallClient(live_server.base_url, terminal_id="t", token="forged")
    async with stranger:
        with pytest.raises(Unauthorized) as refused:
            await stranger.call_state(call_id)
    assert refused.value.message == "未登录或令牌无效"

    nowhere = CallClient(f"{live_server.base_url}/no-such-prefix", terminal_id="t", token=alice.token)
    async with nowhere:
        with pytest.raises(RouteNotFound):
            await nowhere.call_state(call_id)
        assert await nowhere.offers_ext() is False
    with pytest.raises(MethodNotAllowed):
        # No public method uses a wrong verb; the one request path still maps the answer.
        await alice._request("DELETE", f"/api/calls/{call_id}/state", CallState)


async def test_push_stream_delivers_hello_and_every_change_to_both_parties(
    live_server: ServerProcess, connect: Connect, watch: Watch
) -> None:
    alice = await connect(live_server, "alice", "alice-desk")
    bob = await connect(live_server, "bob", "bob-desk")
    alice_log, bob_log = watch(stream_for(alice)), watch(stream_for(bob))
    for log in (alice_log, bob_log):
        await log.until(lambda: "connected" in log.connection_states())

    call_id = await start_call(alice, "bob")
    await bob_log.until(lambda: versions_of(bob_log, call_id) == [1])
    bob_phone_log = watch(stream_for(await connect(live_server, "bob", "bob-phone")))
    await bob_phone_log.until(lambda: bob_phone_log.snapshots() == [(call_id, 1, "hello")])

    await bob.accept(call_id)
    await alice.report_media(call_id, "joined")
    await bob.report_media(call_id, "joined")
    await alice.hangup(call_id)
    for log in (alice_log, bob_log, bob_phone_log):
        await log.until(lambda: 5 in versions_of(log, call_id))
    assert alice_log.snapshots() == [(call_id, version, "push") for version in range(1, 6)]
    assert bob_log.snapshots() == alice_log.snapshots()
    ended = latest(bob_log, call_id)
    assert ended is not None and (ended.status, ended.end_reason) == ("ended", "local_hangup")
    for log in (alice_log, bob_log):
        assert log.connection_states() == ["connecting", "connected"], "pings kept it open"
        assert log.errors() == []


async def test_push_stream_with_a_forged_token_reports_unauthorized(
    live_server: ServerProcess, watch: Watch
) -> None:
    async with CallClient(live_server.base_url, terminal_id="t", token="forged") as stranger:
        log = watch(stream_for(stranger))
        await log.until(lambda: len(log.errors()) >= 1)
        assert isinstance(log.errors()[0], Unauthorized)
        assert "connected" not in log.connection_states()


async def test_push_stream_survives_a_crash_and_resyncs_what_changed_meanwhile(
    server_factory: ServerFactory, connect: Connect, watch: Watch
) -> None:
    ring_timeout = 2
    server = server_factory(ring_timeout=ring_timeout)
    alice = await connect(server, "alice", "alice-desk")
    bob = await connect(server, "bob", "bob-desk")
    carol = await connect(server, "carol", "carol-desk")
    dave = await connect(server, "dave", "dave-desk")
    alice_stream, dave_stream = stream_for(alice, mode="push"), stream_for(dave, mode="push")
    alice_log, dave_log = watch(alice_stream), watch(dave_stream)

    ongoing = await start_call(alice, "bob")
    await bob.accept(ongoing)
    loop = asyncio.get_running_loop()
    ringing = await start_call(carol, "dave")
    ringing_until = loop.time() + ring_timeout
    alice_stream.track(ongoing)
    dave_stream.track(ringing)
    await alice_log.until(lambda: 2 in versions_of(alice_log, ongoing))
    await dave_log.until(lambda: 1 in versions_of(dave_log, ringing))

    await asyncio.to_thread(server.kill)
    assert loop.time() < ringing_until, "the ring timeout must pass while the server is down"
    for log in (alice_log, dave_log):
        await log.until(lambda: "unreachable" in log.connection_states())
    await asyncio.sleep(ringing_until - loop.time())  # the scenario: time passes while it is down
    await asyncio.to_thread(server.start)

    for log in (alice_log, dave_log):
        await log.until(lambda: log.connection_states().count("connected") == 2, timeout=10)
    await dave_log.until(lambda: (ringing, 2, "resync") in dave_log.snapshots())
    timed_out = latest(dave_log, ringing)
    assert timed_out is not None
    assert (timed_out.status, timed_out.end_reason) == ("ended", "no_answer_timeout")
    assert alice_log.snapshots()[-1] == (ongoing, 2, "hello"), "a live call comes back in the hello"

    await bob.hangup(ongoing)
    await alice_log.until(lambda: (ongoing, 3, "push") in alice_log.snapshots())
    assert (await alice.call_state(ongoing)).version == 3


async def test_polling_only_follows_a_whole_call(
    live_server: ServerProcess, connect: Connect, watch: Watch
) -> None:
    alice = await connect(live_server, "alice", "alice-desk")
    bob = await connect(live_server, "bob", "bob-desk")
    alice_stream, bob_stream = stream_for(alice, mode="poll"), stream_for(bob, mode="poll")
    alice_log, bob_log = watch(alice_stream), watch(bob_stream)

    call_id = await start_call(alice, "bob")
    alice_stream.track(call_id)
    await bob_log.until(lambda: versions_of(bob_log, call_id) == [1])  # found via active calls
    await alice_log.until(lambda: versions_of(alice_log, call_id) == [1])  # so both see every version
    bob_stream.track(call_id)

    steps: list[Callable[[], Awaitable[Any]]] = [
        lambda: bob.accept(call_id),
        lambda: alice.report_media(call_id, "joined"),
        lambda: bob.report_media(call_id, "joined"),
        lambda: alice.hangup(call_id),
    ]
    for version, step in enumerate(steps, start=2):
        await step()
        for log in (alice_log, bob_log):
            await log.until(lambda: versions_of(log, call_id)[-1:] == [version])

    for log in (alice_log, bob_log):
        assert log.snapshots() == [(call_id, version, "poll") for version in range(1, 6)]
        assert log.connection_states() == ["polling"]
        ended = latest(log, call_id)
        assert ended is not None and (ended.status, ended.end_reason) == ("ended", "local_hangup")
