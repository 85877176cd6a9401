"""The call controller on its own: what it tells its listener, over scripted HTTP and a scripted push stream.

No Textual and no server here: the client's HTTP is a function of the request, and the push stream is
fed by hand, so each test states exactly what arrived and asserts exactly which events came out.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from softphone.api import (
    Action,
    CallAlreadyEnded,
    CallClient,
    CalleeBusy,
    CallState,
    CallType,
    ConnectionChanged,
    DirectoryUser,
    InvalidParams,
    ProtocolError,
    RouteNotFound,
    ServerUnreachable,
    ServiceUnavailable,
    SoftphoneError,
    StatesReceived,
    StreamError,
    StreamEvent,
    Unauthorized,
)
from softphone.session import (
    CallsChanged,
    Identity,
    NeedsUserId,
    RequestFailed,
    ServerOffers,
    Session,
    SessionEvent,
    SignInProblem,
    describe_sign_in_failure,
    sign_in_problem,
)

ALICE, BOB, CAROL = 10001, 20002, 30003
NOW = datetime(2026, 7, 5, 10, 5, 0, tzinfo=UTC)
WAIT = 5.0


class ScriptedStream:
    """A push stream the test feeds by hand; what the controller needs of ``PushStream``."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[StreamEvent | None] = asyncio.Queue()
        self._tracked: set[int] = set()
        self.closed = False
        self.call_live = False
        self.retries_asked = 0

    @property
    def tracked(self) -> frozenset[int]:
        return frozenset(self._tracked)

    def track(self, call_id: int) -> None:
        self._tracked.add(call_id)

    def untrack(self, call_id: int) -> None:
        self._tracked.discard(call_id)

    def set_call_live(self, live: bool) -> None:
        self.call_live = live

    def retry_now(self) -> None:
        self.retries_asked += 1

    def feed(self, event: StreamEvent) -> None:
        self._queue.put_nowait(event)

    async def events(self) -> AsyncIterator[StreamEvent]:
        while (event := await self._queue.get()) is not None:
            yield event

    async def close(self) -> None:
        self.closed = True
        self._queue.put_nowait(None)


Route = Callable[[dict[str, Any]], dict[str, Any]]


class ScriptedServer:
    """Answers ``(method, path)`` with an envelope from ``routes``; remembers every request body."""

    def __init__(self, routes: dict[tuple[str, str], Route] | None = None) -> None:
        self.routes = routes or {}
        self.requests: list[tuple[str, str, dict[str, Any]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        key = (request.method, request.url.path)
        self.requests.append((*key, body))
        if key not in self.routes:
            return httpx.Response(404, json={"code": 40401, "message": "接口不存在", "data": None})
        return httpx.Response(200, json=self.routes[key](body))


def ok(data: dict[str, Any]) -> Route:
    return lambda body: {"code": 0, "message": "success", "data": data}


def refuse(code: int, message: str) -> Route:
    return lambda body: {"code": code, "message": message, "data": None}


def state(call_id: int, caller: int, callee: int, status: str = "calling", version: int = 1, **extra: Any) -> CallState:
    return CallState(
        call_id=call_id, status=status, call_type="audio", biz_type="single", conversation_id=1001,
        channel_name=f"call_{call_id}", app_id="app", caller_user_id=caller, callee_user_id=callee,
        caller_uid=str(caller), callee_uid=str(callee), version=version, **extra,
    )


def bob_session(server: ScriptedServer) -> Session:
    client = CallClient("http://sim.test", terminal_id="bob-1", token="tok", transport=httpx.MockTransport(server))
    return Session(client, Identity(BOB, "bob", "Bob", "bob-1"), [], clock=lambda: NOW)


async def next_event(events: AsyncIterator[SessionEvent]) -> SessionEvent:
    return await asyncio.wait_for(anext(events), WAIT)


async def rest(events: AsyncIterator[SessionEvent], stream: ScriptedStream) -> list[SessionEvent]:
    """Everything still queued, once the stream has ended."""
    await stream.close()
    return [event async for event in events]


async def test_a_hello_listing_three_calls_is_one_calls_changed() -> None:
    server = ScriptedServer()
    session, stream = bob_session(server), ScriptedStream()
    events = session.events(stream)
    stream.feed(StatesReceived(tuple(state(n, caller, BOB) for n, caller in [(1, ALICE), (2, CAROL), (3, 40004)]), "hello"))
    assert await next_event(events) == CallsChanged((1, 2, 3))
    assert stream.tracked == {1, 2, 3}
    assert await rest(events, stream) == []
    assert server.requests == []  # nothing in a hello of ringing calls asks for a request


async def test_a_refused_request_is_request_failed_then_what_the_server_holds() -> None:
    server = ScriptedServer({
        ("POST", "/api/calls/7/accept"): refuse(41007, "通话已结束"),
        ("GET", "/api/calls/7/state"): ok(state(7, ALICE, BOB, "cancelled", 2, end_reason="caller_cancel").model_dump(mode="json")),
    })
    session, stream = bob_session(server), ScriptedStream()
    events = session.events(stream)
    stream.feed(StatesReceived((state(7, ALICE, BOB),), "push"))
    assert await next_event(events) == CallsChanged((7,))
    await session.accept(7)
    sent, failure, noted, resynced = await rest(events, stream)
    assert sent == noted == resynced == CallsChanged((7,))  # the accept, its refusal, the server's state
    assert isinstance(failure, RequestFailed) and isinstance(failure.error, CallAlreadyEnded)
    assert (failure.action, failure.call_id, failure.text) == (Action.ACCEPT, 7, "This call is already over (41007 通话已结束)")
    assert session.phone.calls[7].status == "cancelled"  # learned by the resync the refusal caused
    assert [(method, path) for method, path, _ in server.requests] == [
        ("POST", "/api/calls/7/accept"), ("GET", "/api/calls/7/state"),
    ]


async def test_dialing_nobody_or_yourself_is_refused_before_any_request() -> None:
    server = ScriptedServer()
    session, stream = bob_session(server), ScriptedStream()
    session.contacts = [DirectoryUser(user_id=BOB, name="bob", display_name="Bob", conversation_id=None)]
    events = session.events(stream)
    assert await session.dial("mallory", CallType.AUDIO) is None
    assert await session.dial("bob", CallType.AUDIO) is None
    assert await rest(events, stream) == [
        RequestFailed(None, None, None, "No contact named 'mallory' in the directory."),
        RequestFailed(None, None, None, "Bob is you: pick someone else to call"),
    ]
    assert server.requests == []


async def test_a_refused_dial_says_whom_and_why() -> None:
    server = ScriptedServer({("POST", "/api/calls/session"): refuse(41003, "对方忙线")})
    session, stream = bob_session(server), ScriptedStream()
    session.contacts = [DirectoryUser(user_id=ALICE, name="alice", display_name="Alice", conversation_id=1001)]
    events = session.events(stream)
    assert await session.dial("Alice", CallType.VIDEO) is None
    (failure,) = await rest(events, stream)
    assert isinstance(failure, RequestFailed) and isinstance(failure.error, CalleeBusy)
    assert (failure.action, failure.call_id, failure.text) == (None, None, "Alice is busy on another call (41003 对方忙线)")


async def test_a_call_crossing_mine_is_glare_next_to_the_incoming_call() -> None:
    """Both dial at once: mine is refused busy because theirs rings here, and the words say so."""
    server = ScriptedServer({
        ("POST", "/api/calls/session"): refuse(41003, "对方忙线"),
        ("GET", "/api/calls/active"): ok({"calls": [state(9, ALICE, BOB).model_dump(mode="json")]}),
    })
    session, stream = bob_session(server), ScriptedStream()
    session.contacts = [DirectoryUser(user_id=ALICE, name="alice", display_name="Alice", conversation_id=1001)]
    events = session.events(stream)
    assert await session.dial("alice", CallType.AUDIO) is None
    learned, crossed, failure = await rest(events, stream)
    assert learned == crossed == CallsChanged((9,))  # her call, from the server's list; then marked crossed
    assert isinstance(failure, RequestFailed)
    assert (failure.call_id, failure.text) == (9, "Alice is calling you at the same time (41003 对方忙线)")
    assert session.phone.calls[9].crossed and session.phone.calls[9].is_ringing


async def test_busy_without_a_crossing_call_is_just_busy() -> None:
    server = ScriptedServer({
        ("POST", "/api/calls/session"): refuse(41003, "对方忙线"),
        ("GET", "/api/calls/active"): ok({"calls": [state(9, CAROL, BOB).model_dump(mode="json")]}),
    })
    session, stream = bob_session(server), ScriptedStream()
    session.contacts = [DirectoryUser(user_id=ALICE, name="alice", display_name="Alice", conversation_id=1001)]
    events = session.events(stream)
    await session.dial("alice", CallType.AUDIO)
    _, failure = await rest(events, stream)
    assert isinstance(failure, RequestFailed) and failure.text == "Alice is busy on another call (41003 对方忙线)"
    assert not session.phone.calls[9].crossed


async def test_an_action_in_flight_is_not_sent_twice() -> None:
    """Pressing hang up twice: one request; the second press is dropped while the first is on its way."""
    answered = asyncio.Event()

    async def slow_hangup(request: httpx.Request) -> httpx.Response:
        await answered.wait()
        data = {"call_id": 1, "status": "ended", "end_reason": "local_hangup", "version": 4}
        return httpx.Response(200, json={"code": 0, "message": "success", "data": data})

    sent: list[str] = []

    async def transport(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return await slow_hangup(request)

    client = CallClient("http://sim.test", terminal_id="bob-1", token="tok", transport=httpx.MockTransport(transport))
    session = Session(client, Identity(BOB, "bob", "Bob", "bob-1"), [], clock=lambda: NOW)
    stream = ScriptedStream()
    events = session.events(stream)
    stream.feed(StatesReceived((state(1, ALICE, BOB, "ongoing", 3, accepted_terminal_id="bob-1"),), "push"))
    assert await next_event(events) == CallsChanged((1,))
    first = asyncio.create_task(session.hangup(1))
    await asyncio.wait_for(_until(lambda: session.in_flight(1, Action.HANGUP)), WAIT)
    assert await session.hangup(1) is False  # dropped: the first is still on its way
    answered.set()
    await asyncio.wait_for(first, WAIT)
    assert sent == ["/api/calls/1/hangup"]
    assert not session.in_flight(1, Action.HANGUP)
    assert session.phone.calls[1].status == "ended"
    await rest(events, stream)


async def test_a_second_dial_while_the_first_is_being_placed_is_not_sent() -> None:
    answered = asyncio.Event()
    sent: list[str] = []

    async def transport(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        await answered.wait()
        return httpx.Response(200, json={"code": 41003, "message": "对方忙线", "data": None})

    client = CallClient("http://sim.test", terminal_id="bob-1", token="tok", transport=httpx.MockTransport(transport))
    session = Session(client, Identity(BOB, "bob", "Bob", "bob-1"),
                      [DirectoryUser(user_id=ALICE, name="alice", display_name="Alice", conversation_id=1001)],
                      clock=lambda: NOW)
    first = asyncio.create_task(session.dial("alice", CallType.AUDIO))
    await asyncio.wait_for(_until(lambda: session.dialing), WAIT)
    assert await session.dial("alice", CallType.AUDIO) is None
    answered.set()
    await asyncio.wait_for(first, WAIT)
    assert sent.count("/api/calls/session") == 1 and not session.dialing


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.01)


async def test_a_second_call_while_in_one_is_turned_away_busy() -> None:
    server = ScriptedServer({
        ("POST", "/api/calls/2/reject"): ok({"call_id": 2, "status": "rejected", "end_reason": "callee_busy", "version": 2}),
    })
    session, stream = bob_session(server), ScriptedStream()
    events = session.events(stream)
    talking = state(1, ALICE, BOB, "ongoing", 3, accepted_terminal_id="bob-1")
    stream.feed(StatesReceived((talking,), "push"))
    assert await next_event(events) == CallsChanged((1,))
    stream.feed(StatesReceived((state(2, CAROL, BOB),), "push"))
    assert await next_event(events) == CallsChanged((2,))
    assert await rest(events, stream) == [CallsChanged((2,)), CallsChanged((2,))]  # the reject sent, then answered
    assert server.requests == [("POST", "/api/calls/2/reject", {"terminal_id": "bob-1", "reason": "callee_busy"})]
    assert session.phone.calls[2].facts.end_reason == "callee_busy"
    assert stream.tracked == {1}


async def test_a_check_tells_only_what_the_phone_lacks() -> None:
    """A check repeats every recent call; only a newer version or a call never heard of is news.

    Regression (convergence under faults): the last push of a call was lost and nothing ever said so.
    """
    session, stream = bob_session(ScriptedServer()), ScriptedStream()
    events = session.events(stream)
    stream.feed(StatesReceived((state(1, ALICE, BOB),), "push"))
    assert await next_event(events) == CallsChanged((1,))
    ended = state(1, ALICE, BOB, "cancelled", 2, end_reason="caller_cancel")
    missed = state(2, CAROL, BOB, "cancelled", 2, end_reason="caller_cancel")
    old = state(3, ALICE, BOB, "rejected", 2, end_reason="user_reject")
    stream.feed(StatesReceived((old,), "push"))
    assert await next_event(events) == CallsChanged((3,))
    stream.feed(StatesReceived((ended, missed, old), "check"))
    assert await next_event(events) == CallsChanged((1, 2)), "call 3 is already known at v2"
    stream.feed(StatesReceived((ended, missed, old), "check"))
    assert await rest(events, stream) == [], "a check that brings nothing new is no event"
    assert [(entry.version, entry.source.value, entry.marker) for entry in session.phone.calls[1].timeline] == [
        (1, "push", None), (2, "resync", None),
    ]
    assert session.phone.calls[2].status == "cancelled", "a call that rang and ended unseen is in recent calls"


async def test_the_streams_connection_and_problems_pass_through() -> None:
    session, stream = bob_session(ScriptedServer()), ScriptedStream()
    events = session.events(stream)
    connected = ConnectionChanged("connected", "ws://sim.test/api/ws")
    refused = StreamError(Unauthorized())
    stream.feed(connected)
    stream.feed(refused)
    assert [await next_event(events), await next_event(events)] == [connected, refused]
    assert (session.connection, session.connection_detail) == ("connected", "ws://sim.test/api/ws")


async def test_events_wait_for_a_listener_and_leaving_closes_the_stream() -> None:
    """What happens before anyone listens (an intent, a history load) is told first, in order."""
    server = ScriptedServer({("POST", "/api/calls/session"): refuse(41003, "对方忙线")})
    session, stream = bob_session(server), ScriptedStream()
    await session.dial("nobody", CallType.AUDIO)
    events = session.events(stream)
    first = await next_event(events)
    assert isinstance(first, RequestFailed) and "nobody" in first.text
    await events.aclose()
    assert stream.closed


async def test_sign_in_takes_who_we_are_from_the_directory() -> None:
    directory = {"users": [
        {"user_id": ALICE, "name": "alice", "display_name": "Alice", "conversation_id": None},
        {"user_id": BOB, "name": "bob", "display_name": "Bob", "conversation_id": 1001},
    ]}
    server = ScriptedServer({
        ("POST", "/api/dev/login"): ok({"token": "t", "user_id": ALICE, "name": "alice"}),
        ("GET", "/api/dev/directory"): ok(directory),
    })
    client = CallClient("http://sim.test", terminal_id="alice-1", transport=httpx.MockTransport(server))
    session = await Session.sign_in(client, user="alice")
    assert session.identity == Identity(ALICE, "alice", "Alice", "alice-1")
    assert session.display_name_of(BOB) == "Bob" and session.contact("20002") is not None


async def test_sign_in_refused_raises_for_the_caller_to_decide() -> None:
    server = ScriptedServer({("POST", "/api/dev/login"): refuse(40001, "参数错误: unknown user")})
    client = CallClient("http://sim.test", terminal_id="x-1", transport=httpx.MockTransport(server))
    with pytest.raises(InvalidParams):
        await Session.sign_in(client, user="mallory")


async def test_leaving_ends_each_call_of_this_terminal_as_its_state_allows() -> None:
    """Quitting: the call in progress here is hung up, a ringing one rejected, another terminal's left alone."""
    server = ScriptedServer({
        ("POST", "/api/calls/1/hangup"): ok({"call_id": 1, "status": "ended", "end_reason": "local_hangup", "version": 4}),
        ("POST", "/api/calls/2/reject"): ok({"call_id": 2, "status": "rejected", "end_reason": "user_reject", "version": 2}),
    })
    session, stream = bob_session(server), ScriptedStream()
    events = session.events(stream)
    stream.feed(StatesReceived((
        state(1, ALICE, BOB, "ongoing", 3, accepted_terminal_id="bob-1"),
        state(3, 40004, BOB, "ongoing", 3, accepted_terminal_id="bob-phone"),
    ), "hello"))
    assert await next_event(events) == CallsChanged((1, 3))
    assert await session.leave() == [1]
    stream.feed(StatesReceived((state(2, CAROL, BOB),), "push"))  # rings once this terminal is free
    while await next_event(events) != CallsChanged((2,)):
        pass  # the hangup's own news first
    assert await session.leave() == [2]
    await rest(events, stream)
    assert [(method, path) for method, path, _ in server.requests] == [
        ("POST", "/api/calls/1/hangup"), ("POST", "/api/calls/2/reject"),
    ]
    assert session.phone.calls_to_leave() == []


# ---------------------------------------------------------------------------------- a documented-only server


def documented_server(token_ok: bool = True) -> ScriptedServer:
    """No directory, no call lists: the probe for a call that cannot exist is what checks the token."""
    probe = refuse(40001, "参数错误: call_id") if token_ok else refuse(40101, "未登录或令牌无效")
    return ScriptedServer({("GET", "/api/calls/0/state"): probe})


def token_client(server: ScriptedServer) -> CallClient:
    return CallClient("http://sim.test", terminal_id="bob-1", token="tok", transport=httpx.MockTransport(server))


async def test_a_token_and_user_id_sign_in_where_there_is_no_directory() -> None:
    server = documented_server()
    session = await Session.sign_in(token_client(server), user_id=BOB)
    assert session.identity == Identity(BOB, "user 20002", "user 20002", "bob-1")
    assert (session.contacts, session.offers) == ([], ServerOffers(directory=False, call_lists=False))
    assert session.offers.missing() == "no push, no directory"
    assert [(method, path) for method, path, _ in server.requests] == [
        ("GET", "/api/dev/directory"), ("GET", "/api/calls/0/state"), ("GET", "/api/calls/active"),
    ]


async def test_a_refused_token_is_told_apart_from_everything_else() -> None:
    with pytest.raises(Unauthorized) as refused:
        await Session.sign_in(token_client(documented_server(token_ok=False)), user_id=BOB)
    assert sign_in_problem(refused.value) is SignInProblem.TOKEN_REFUSED
    assert describe_sign_in_failure(refused.value) == "the server refused this token (40101 未登录或令牌无效)"


async def test_a_token_without_a_user_id_where_there_is_no_directory_asks_whose_it_is() -> None:
    with pytest.raises(NeedsUserId) as missing:
        await Session.sign_in(token_client(documented_server()))
    assert sign_in_problem(missing.value) is SignInProblem.NEEDS_USER_ID


@pytest.mark.parametrize(
    ("error", "problem"),
    [
        (InvalidParams("参数错误: user: no such user 'nobody'"), SignInProblem.USER_UNKNOWN),
        (RouteNotFound(), SignInProblem.NO_DEV_LOGIN),
        (ServiceUnavailable(), SignInProblem.UNAVAILABLE),
        (ServerUnreachable("refused"), SignInProblem.UNAVAILABLE),
        (ProtocolError("not JSON"), SignInProblem.UNAVAILABLE),
    ],
)
def test_what_a_sign_in_failure_asks_for(error: SoftphoneError, problem: SignInProblem) -> None:
    assert sign_in_problem(error) is problem


async def listening(session: Session, stream: ScriptedStream) -> AsyncIterator[SessionEvent]:
    """The session's events, once it follows ``stream`` (a generator starts at its first read)."""
    events = session.events(stream)
    stream.feed(ConnectionChanged("polling", "no push channel"))
    assert isinstance(await next_event(events), ConnectionChanged)
    return events


async def test_dial_by_ids_needs_no_directory() -> None:
    started = {"call_id": 9, "conversation_id": 252487239, "call_type": "video", "biz_type": "single",
               "status": "calling", "timeout_seconds": 30, "version": 1, "channel_name": "call_9_252487239",
               "app_id": "app", "caller_uid": "20002", "rtc_token": "rtc", "expire_at": None}  # fmt: skip
    server = ScriptedServer({
        ("POST", "/api/calls/session"): ok(started),
        ("POST", "/api/calls/9/media-state"): ok({"call_id": 9, "status": "calling", "version": 1}),
    })
    session, stream = bob_session(server), ScriptedStream()
    events = await listening(session, stream)
    machine = await session.dial_ids(ALICE, 252487239, CallType.VIDEO)
    assert machine is not None and machine.placed_here and machine.peer_name == "user 10001"
    assert server.requests[0] == ("POST", "/api/calls/session", {
        "conversation_id": 252487239, "target_user_id": ALICE, "call_type": "video", "biz_type": "single", "terminal_id": "bob-1",
    })  # fmt: skip
    assert stream.tracked == {9} and stream.call_live is True, "a call live: the stream must come back fast"
    assert await session.dial_ids(BOB, 1, CallType.AUDIO) is None  # yourself: refused before any request
    await rest(events, stream)


async def test_open_call_takes_up_a_call_by_its_id_and_follows_it() -> None:
    ringing = state(7, ALICE, BOB).model_dump(mode="json", exclude={"accepted_terminal_id", "created_at", "timeout_seconds",
                                                                     "caller_terminal_id", "ended_by_user_id",
                                                                     "ended_by_terminal_id", "media"})  # fmt: skip
    server = ScriptedServer({
        ("GET", "/api/calls/7/state"): ok(ringing),
        ("GET", "/api/calls/8/state"): refuse(41001, "通话不存在"),
    })
    session, stream = bob_session(server), ScriptedStream()
    events = await listening(session, stream)
    machine = await session.open_call(7)
    assert machine is not None and machine.opened_here and machine.allowed_actions() == {Action.ACCEPT, Action.REJECT}
    assert stream.tracked == {7} and stream.call_live
    assert await session.open_call(8) is None
    opened, refused = await rest(events, stream)
    assert opened == CallsChanged((7,))
    assert isinstance(refused, RequestFailed) and refused.text == "Opening call 8: The server has no such call (41001 通话不存在)"


async def test_reconnect_now_asks_the_stream() -> None:
    session, stream = bob_session(ScriptedServer()), ScriptedStream()
    events = session.events(stream)
    stream.feed(ConnectionChanged("unreachable", "refused", retry_at=99.0))
    assert await next_event(events) == ConnectionChanged("unreachable", "refused", retry_at=99.0)
    assert not session.reachable
    session.reconnect_now()
    assert stream.retries_asked == 1
    await rest(events, stream)




async def test_without_a_directory_the_known_contacts_say_who_we_are_and_whom_to_call() -> None:
    """A real server has no directory: a profile's users (``known_contacts``) stand in for it."""
    server = ScriptedServer({
        ("POST", "/api/calls/session"): ok({
            "call_id": 5, "conversation_id": 252, "call_type": "audio", "biz_type": "single", "status": "calling",
            "timeout_seconds": 30, "version": 1, "channel_name": "call_5_252", "app_id": "app", "caller_uid": "10001",
            "rtc_token": "rtc",
        }),
    })  # fmt: skip
    known = [
        DirectoryUser(user_id=ALICE, name="alice", display_name="alice", conversation_id=None),
        DirectoryUser(user_id=BOB, name="bob", display_name="bob", conversation_id=252),
    ]
    client = CallClient("http://sim.test", terminal_id="alice-1", token="t", transport=httpx.MockTransport(server))
    session = await Session.sign_in(client, user_id=ALICE, known_contacts=known)
    assert session.identity == Identity(ALICE, "alice", "alice", "alice-1")
    machine = await session.dial("bob", CallType.AUDIO, join=False)
    assert machine is not None and machine.peer_name == "bob"
    assert [(method, path) for method, path, _ in server.requests] == [
        ("GET", "/api/dev/directory"),  # none here, so the known contacts stand in
        ("GET", "/api/calls/0/state"),  # the token is checked by a call that cannot exist
        ("GET", "/api/calls/active"),  # no call lists either: the phone will poll
        ("POST", "/api/calls/session"),
    ]  # no media report: join=False leaves the channel to the caller
    assert server.requests[-1][2] | {"terminal_id": None} == {
        "conversation_id": 252, "target_user_id": BOB, "call_type": "audio", "biz_type": "single", "terminal_id": None,
    }  # fmt: skip


async def test_send_is_exactly_one_request_about_any_call_and_raises_a_refusal() -> None:
    accepted = {"call_id": 9, "status": "accepted", "channel_name": "call_9", "app_id": "app", "callee_uid": "20002",
                "rtc_token": "rtc", "version": 2}  # fmt: skip
    server = ScriptedServer({
        ("POST", "/api/calls/9/accept"): ok(accepted),
        ("POST", "/api/calls/9/media-state"): refuse(41007, "通话已结束"),
    })
    session = bob_session(server)
    answer = await session.send(Action.ACCEPT, 9)
    assert (answer.call_id, answer.status, answer.version) == (9, "accepted", 2)
    with pytest.raises(CallAlreadyEnded):
        await session.send(Action.REPORT_MEDIA, 9, stage="joined", network_quality="good")
    assert server.requests == [
        ("POST", "/api/calls/9/accept", {"terminal_id": "bob-1"}),
        ("POST", "/api/calls/9/media-state", {"terminal_id": "bob-1", "stage": "joined", "network_quality": "good"}),
    ]  # no channel join after the accept, no resync after the refusal


async def test_accept_without_joining_reports_no_media() -> None:
    accepted = {"call_id": 7, "status": "accepted", "channel_name": "call_7", "app_id": "app", "callee_uid": "20002",
                "rtc_token": "rtc", "version": 2}  # fmt: skip
    server = ScriptedServer({("POST", "/api/calls/7/accept"): ok(accepted)})
    session, stream = bob_session(server), ScriptedStream()
    events = session.events(stream)
    stream.feed(StatesReceived((state(7, ALICE, BOB),), "push"))
    assert await next_event(events) == CallsChanged((7,))
    assert await session.accept(7, join=False)
    await rest(events, stream)
    assert [path for _, path, _ in server.requests] == ["/api/calls/7/accept"]
