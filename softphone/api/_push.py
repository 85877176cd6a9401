"""Call changes as one stream of typed events, pushed over the simulator's WebSocket or polled.

The documented API has no push channel; the simulator offers one (*ext*). ``PushStream`` uses it when
it is there and polls when it is not, so the caller reads the same events either way::

    async with PushStream(client) as stream:
        stream.track(call_id)                 # calls whose end the caller must see
        async for event in stream.events():   # StatesReceived | ConnectionChanged | StreamError
            ...

Every retry waits its backoff (``Backoff``); while a call is live (``set_call_live``) the wait is
capped low (``live_backoff``, at most 2 s by design) so a restarted server hears from the phone at
once. Between attempts the stream probes ``/healthz`` (one cheap request, no retries): while nothing
answers it says ``unreachable``, and it tries the push channel as soon as the server answers again.
Each wait is announced with ``retry_at``, and ``retry_now()`` cuts it short.

Delivery is at most once per connection and states may repeat or arrive out of order across a
reconnect: the caller keeps per-call versions (``softphone.core`` does) and drops what is not newer.
After every (re)connect the stream resynchronises: the hello's states, then ``GET state`` for each
tracked call the hello did not cover. A push can also be lost while the connection stays up (the
last one of a call, or every one of a call that rang and ended unseen), and then no gap ever shows
it; so while connected the stream checks every ``check_interval``: the tracked calls, and where the
server lists the user's recent calls, the live ones and those that began after the stream first
connected (not the whole history of a user), delivered as ``"check"`` states.
While polling, a state is delivered only when its version differs from the last one delivered for
that call. States that arrive together (a hello, a resync, a check, one polling round) come as one
event, so a listener updates once for all of them.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Self

import httpx
from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from softphone.api._backoff import Backoff
from softphone.api._client import CallClient
from softphone.api._errors import (
    InvalidParams,
    ProtocolError,
    SoftphoneError,
    TransportError,
    Unauthorized,
    error_for,
    is_missing_route,
)
from softphone.api._models import (
    TERMINAL_STATUSES,
    CallState,
    CallUpdatedFrame,
    Envelope,
    ErrorFrame,
    HelloFrame,
    PingFrame,
    PongFrame,
    ServerFrame,
    authorization,
    server_frame_adapter,
)

ConnectionState = Literal["connecting", "connected", "reconnecting", "unreachable", "polling", "closed"]
"""``unreachable``: the server does not answer HTTP at all, so no request can reach it now."""
SnapshotSource = Literal["push", "poll", "resync", "hello", "check"]
StreamMode = Literal["auto", "push", "poll"]

WS_PATH = "/api/ws"
PING_FRAME = '{"type": "ping"}'
PONG_FRAME = '{"type": "pong"}'
# Close codes the simulator uses instead of an HTTP refusal once the socket is open.
CLOSE_UNAUTHORIZED = 4401
CLOSE_INVALID_PARAMS = 4400
CHECK_HISTORY = 10
"""How many of the user's most recent calls a check asks for: enough for every call a lost push hid."""

LIVE_CALL_BACKOFF = Backoff(initial=0.25, maximum=2.0, factor=2.0, jitter=0.5)
"""Retries while a call is live: never more than 2 s apart, so the phone is back within 2 s of the server."""


@dataclass(frozen=True)
class StatesReceived:
    """Full call states that arrived together (one push, a hello, a resync, a check, a polling round).

    A ``"check"`` repeats what the listener most likely holds already: keep only what is newer.
    """

    states: tuple[CallState, ...]
    source: SnapshotSource


@dataclass(frozen=True)
class ConnectionChanged:
    """The stream's link to the server changed; ``detail`` says why, for display.

    ``retry_at`` is when the next attempt is due, on the event loop's clock (``loop.time()``), while
    the stream waits to retry; ``None`` otherwise.
    """

    state: ConnectionState
    detail: str
    retry_at: float | None = None


@dataclass(frozen=True)
class StreamError:
    """Something worth showing that does not end the stream (refused token, bad frame, 41001...)."""

    error: SoftphoneError


StreamEvent = StatesReceived | ConnectionChanged | StreamError


class _PushUnavailable(Exception):
    """The server has no push channel: in ``auto`` mode, poll instead."""


class _ConnectionDead(Exception):
    """The socket is open but the server stopped answering pings."""


class PushStream:
    """Events about the user's calls from ``client``'s server, until ``close``.

    ``mode``: ``"push"`` uses only the WebSocket and reconnects forever; ``"poll"`` only polls;
    ``"auto"`` uses the WebSocket and falls back to polling for good when the server has none (the
    handshake is answered 404/405, or the very first connection is refused while HTTP answers).
    Reconnects wait ``backoff.delay(attempt, rng)``, or ``live_backoff``'s while a call is live;
    pass a seeded ``rng`` and short backoffs in tests. While connected, the calls are checked every
    ``check_interval`` seconds (a failed check is simply tried again at the next one). The token is
    read from ``client`` at every connect, so a new token takes effect at the next attempt
    (``retry_now`` makes that now). A refused token always waits the long ``backoff``: asking again
    soon would be refused again. One consumer iterates ``events()``.
    """

    def __init__(
        self,
        client: CallClient,
        *,
        mode: StreamMode = "auto",
        ws_url: str | None = None,
        poll_interval: float = 2.0,
        ping_interval: float = 15.0,
        pong_timeout: float = 10.0,
        open_timeout: float = 10.0,
        check_interval: float = 5.0,
        backoff: Backoff = Backoff(),
        live_backoff: Backoff = LIVE_CALL_BACKOFF,
        rng: random.Random | None = None,
    ) -> None:
        self.mode = mode
        self.poll_interval = poll_interval
        self.ping_interval = ping_interval
        self.pong_timeout = pong_timeout
        self.open_timeout = open_timeout
        self.check_interval = check_interval
        self.backoff = backoff
        self.live_backoff = live_backoff
        self.call_live = False
        self._client = client
        self._ws_url = ws_url
        self._rng = rng or random.Random()
        self._tracked: set[int] = set()
        self._queue: asyncio.Queue[StreamEvent | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self._closed = False
        self._pushed_before = False
        self._session_connected = False
        self._poll_active = True
        self._check_history = True
        self._calls_before: set[int] | None = None
        """The user's recent calls when the stream first connected: a check does not bring them up again."""
        self._polled_versions: dict[int, int] = {}
        self._poll_errors: dict[int, str] = {}
        self._wake = asyncio.Event()
        self._retry_requested = False
        self._token_refused = False

    @property
    def ws_url(self) -> str:
        """The push endpoint: ``ws_url`` if given, else the client's base URL with ``ws``/``wss``."""
        base = httpx.URL(self._ws_url or self._client.base_url)
        if self._ws_url is None:
            scheme = "wss" if base.scheme == "https" else "ws"
            base = base.copy_with(scheme=scheme, path=base.path.rstrip("/") + WS_PATH)
        return str(base.copy_merge_params({"terminal_id": self._client.terminal_id}))

    @property
    def tracked(self) -> frozenset[int]:
        return frozenset(self._tracked)

    def track(self, call_id: int) -> None:
        """Resync this call after every reconnect and poll it while polling, until ``untrack``."""
        self._tracked.add(call_id)

    def untrack(self, call_id: int) -> None:
        self._tracked.discard(call_id)
        self._polled_versions.pop(call_id, None)
        self._poll_errors.pop(call_id, None)

    def set_call_live(self, live: bool) -> None:
        """Whether a call is live: then retries wait at most ``live_backoff`` (a waiting retry is shortened)."""
        if live and not self.call_live:
            self._wake.set()
        self.call_live = live

    def retry_now(self) -> None:
        """Cut the current wait short: reconnect, or poll, at once (the user asked, or the token changed)."""
        self._retry_requested = True
        self._token_refused = False
        self._wake.set()

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def start(self) -> None:
        """Begin connecting (``events()`` and ``async with`` call this); once only."""
        if self._task is None and not self._closed:
            self._task = asyncio.create_task(self._main(), name="softphone-push-stream")

    async def close(self) -> None:
        """Stop; ``events()`` ends after a final ``ConnectionChanged("closed", ...)``."""
        self._closed = True
        if self._task is None or self._task.done():
            return
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass

    async def events(self) -> AsyncIterator[StreamEvent]:
        """Every event in order, until the stream is closed; re-raises a bug that stopped it."""
        self.start()
        if self._task is None:
            return
        while (event := await self._queue.get()) is not None:
            yield event
        self._queue.put_nowait(None)  # a later events() call ends at once too
        if self._failure is not None:
            raise self._failure

    def _emit(self, event: StreamEvent) -> None:
        self._queue.put_nowait(event)

    async def _main(self) -> None:
        why = "closed by the caller"
        try:
            await self._run()
        except asyncio.CancelledError:
            raise
        except Exception as failure:
            self._failure = failure
            why = f"stopped by an unexpected error: {failure!r}"
        finally:
            self._emit(ConnectionChanged("closed", why))
            self._queue.put_nowait(None)

    # ------------------------------------------------------------------ push

    async def _run(self) -> None:
        if self.mode == "poll":
            await self._poll_forever("configured to poll")
            return
        self._emit(ConnectionChanged("connecting", self.ws_url))
        attempt = 0
        while True:
            self._session_connected = False
            self._retry_requested = False
            try:
                why_ended = await self._connect_and_serve()
            except _PushUnavailable as unavailable:
                await self._poll_forever(str(unavailable))
                return
            if self._session_connected:
                attempt = 0
            attempt = await self._back_off(attempt, why_ended, "reconnecting")

    def _backoff_now(self) -> Backoff:
        if self.call_live and not self._token_refused:
            return self.live_backoff
        return self.backoff

    async def _pause(self, attempt: int, state: ConnectionState, why: str) -> None:
        """Wait retry number ``attempt``'s delay, announced with its ``retry_at``.

        ``retry_now`` ends the wait at once; a call going live shortens it to the live backoff.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._backoff_now().delay(attempt, self._rng)
        while True:
            self._emit(ConnectionChanged(state, why, retry_at=deadline))
            if not await self._sleep_until(deadline):
                return
            if self._retry_requested:
                self._retry_requested = False
                return
            deadline = min(deadline, loop.time() + self._backoff_now().delay(attempt, self._rng))

    async def _sleep_until(self, deadline: float) -> bool:
        """Sleep until ``deadline`` on the loop's clock; ``True`` if woken early (``retry_now``, a live call)."""
        self._wake.clear()
        try:
            async with asyncio.timeout_at(deadline):
                await self._wake.wait()
        except TimeoutError:
            return False
        return True

    async def _back_off(self, attempt: int, why: str, state: ConnectionState) -> int:
        """After failed attempt number ``attempt``: wait at least once, and return the next number.

        A server that answers ``/healthz`` is waited for in ``state``, then asked again; one that does
        not is ``unreachable`` and probed after every wait, and asked again as soon as it answers.
        """
        if await self._http_answers():
            await self._pause(attempt, state, why)
            return attempt + 1
        while True:
            await self._pause(attempt, "unreachable", f"the server does not answer ({why})")
            attempt += 1
            if await self._http_answers():
                return attempt

    async def _connect_and_serve(self) -> str:
        """One WebSocket connection, from handshake to its end; returns why it ended."""
        headers = authorization(self._client.token)
        try:
            async with connect(
                self.ws_url,
                additional_headers=headers,
                open_timeout=self.open_timeout,
                close_timeout=self.pong_timeout,
                ping_interval=None,  # the app-level ping below is the one the server answers
            ) as websocket:
                await self._serve(websocket)
        except InvalidStatus as refusal:
            return self._refused(refusal)
        except ConnectionClosed as closed:
            close = closed.rcvd
            if close is None:
                return "connection lost without a close frame"
            # The reason carries no message worth more than the documented one.
            if close.code == CLOSE_UNAUTHORIZED:
                self._token_refused = True
                self._emit(StreamError(Unauthorized()))
            elif close.code == CLOSE_INVALID_PARAMS:
                self._emit(StreamError(InvalidParams()))
            return f"connection closed ({close.code} {close.reason})".rstrip()
        except _ConnectionDead as dead:
            return str(dead)
        except ConnectionRefusedError as refused:
            if self.mode == "auto" and not self._pushed_before and await self._http_answers():
                raise _PushUnavailable(
                    f"no push channel at {self.ws_url} (refused) but HTTP answers"
                ) from refused
            return f"cannot connect: {refused}"
        except (OSError, TimeoutError, InvalidHandshake) as failure:
            return f"cannot connect: {failure!r}"
        return "connection ended"

    def _refused(self, refusal: InvalidStatus) -> str:
        """A handshake answered with an HTTP status: no channel, or an error worth showing."""
        status = refusal.response.status_code
        if self.mode == "auto" and status in (404, 405):
            raise _PushUnavailable(f"the server has no push channel (HTTP {status})")
        body = refusal.response.body or b""
        try:
            envelope = Envelope[object].model_validate_json(body)
        except ValidationError:
            error: SoftphoneError = ProtocolError(
                f"push handshake refused with HTTP {status}", http_status=status
            )
        else:
            error = error_for(envelope.code, envelope.message)
        self._token_refused = isinstance(error, Unauthorized)
        self._emit(StreamError(error))
        return f"handshake refused (HTTP {status})"

    async def _http_answers(self) -> bool:
        """Whether the HTTP side is up: any answer, even a 404 for ``/healthz``, counts. One request."""
        try:
            await self._client.health(retry=False)
        except TransportError:
            return False
        except SoftphoneError:
            return True
        return True

    async def _serve(self, websocket: ClientConnection) -> None:
        """Hello, resync, then frames until the socket closes or stops answering pings."""
        async with asyncio.timeout(self.open_timeout):
            first = self._parse(await websocket.recv())
        self._pushed_before = self._session_connected = True
        self._token_refused = False
        hello = first if isinstance(first, HelloFrame) else None
        as_user = f" as user {hello.data.user_id}" if hello else ""
        self._emit(ConnectionChanged("connected", f"{self.ws_url}{as_user}"))
        greeted = tuple(hello.data.calls) if hello else ()
        if greeted:
            self._emit(StatesReceived(greeted, "hello"))
        await self._resync(skip={state.call_id for state in greeted})
        if first is not None and hello is None:
            await self._handle(websocket, first)
        checks = asyncio.create_task(self._check_every_interval(), name="softphone-push-checks")
        try:
            await self._receive(websocket)
        finally:
            checks.cancel()
            await asyncio.gather(checks, return_exceptions=True)

    async def _receive(self, websocket: ClientConnection) -> None:
        """Frames until the socket closes, pinging when it is quiet; ``_ConnectionDead`` without a pong."""
        loop = asyncio.get_running_loop()
        next_ping_at = loop.time() + self.ping_interval
        pong_due: float | None = None
        while True:
            try:
                async with asyncio.timeout_at(pong_due if pong_due is not None else next_ping_at):
                    raw = await websocket.recv()
            except TimeoutError:
                if pong_due is not None:
                    raise _ConnectionDead(f"no pong within {self.pong_timeout}s") from None
                await websocket.send(PING_FRAME)
                pong_due = loop.time() + self.pong_timeout
                continue
            frame = self._parse(raw)
            if isinstance(frame, PongFrame):
                pong_due = None
                next_ping_at = loop.time() + self.ping_interval
            elif frame is not None:
                await self._handle(websocket, frame)

    async def _handle(self, websocket: ClientConnection, frame: ServerFrame) -> None:
        if isinstance(frame, CallUpdatedFrame):
            self._emit(StatesReceived((frame.data,), "push"))
        elif isinstance(frame, HelloFrame):
            if frame.data.calls:
                self._emit(StatesReceived(tuple(frame.data.calls), "hello"))
        elif isinstance(frame, PingFrame):
            await websocket.send(PONG_FRAME)
        elif isinstance(frame, ErrorFrame):
            self._emit(StreamError(error_for(frame.data.code, frame.data.message)))

    def _parse(self, raw: str | bytes) -> ServerFrame | None:
        try:
            return server_frame_adapter.validate_json(raw)
        except ValidationError:
            text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
            self._emit(StreamError(ProtocolError(f"push frame not understood: {text[:200]!r}")))
            return None

    async def _resync(self, skip: set[int]) -> None:
        fetched: list[CallState] = []
        for call_id in sorted(self._tracked - skip):
            try:
                fetched.append(await self._client.call_state(call_id))
            except SoftphoneError as error:
                self._emit(StreamError(error))
        if fetched:
            self._emit(StatesReceived(tuple(fetched), "resync"))

    async def _check_every_interval(self) -> None:
        """While connected: what a lost push would have said comes with the next check.

        First, once, the calls there are now: the baseline of what is not new (asked beside the frames,
        so pushes are read meanwhile).
        """
        if self._calls_before is None:
            recent = await self._recent_calls()
            self._calls_before = None if recent is None else {state.call_id for state in recent}
        while True:
            await asyncio.sleep(self.check_interval)
            checked = await self._check()
            if checked:
                self._emit(StatesReceived(tuple(checked), "check"))

    async def _check(self) -> list[CallState]:
        """Of the user's recent calls, the tracked, the live and the new ones; then tracked calls not listed.

        Quiet on failure: the connection's pings tell an outage, and the next check asks again.
        """
        recent = await self._recent_calls() or []
        if self._calls_before is None:
            self._calls_before = {state.call_id for state in recent}
        checked = {
            state.call_id: state
            for state in recent
            if state.call_id in self._tracked
            or state.status not in TERMINAL_STATUSES
            or state.call_id not in self._calls_before
        }
        for call_id in sorted(self._tracked - checked.keys()):
            try:
                checked[call_id] = await self._client.call_state(call_id)
            except SoftphoneError:
                continue
        return list(checked.values())

    async def _recent_calls(self) -> list[CallState] | None:
        """The user's latest calls where the server lists them (an *ext* route); ``None`` when it did not."""
        if not self._check_history:
            return None
        try:
            return await self._client.history(limit=CHECK_HISTORY)
        except SoftphoneError as error:
            self._check_history = not is_missing_route(error)
            return None

    # ------------------------------------------------------------------ polling

    async def _poll_forever(self, why: str) -> None:
        self._emit(ConnectionChanged("polling", f"{why}; polling every {self.poll_interval}s"))
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            self._retry_requested = False
            try:
                await self._poll_once()
            except TransportError as error:
                attempt = await self._back_off(attempt, str(error), "polling")
                continue
            except Unauthorized as refused:
                # Every call would be refused alike: say it once, then ask again only after the long backoff.
                if not self._token_refused:
                    self._emit(StreamError(refused))
                self._token_refused = True
                await self._pause(attempt, "polling", "the server refused this token")
                attempt += 1
                continue
            if attempt:
                self._emit(ConnectionChanged("polling", "the server answers again"))
            self._token_refused = False
            attempt = 0
            await self._sleep_until(loop.time() + self.poll_interval)

    async def _poll_once(self) -> None:
        """One round: active calls (where the server lists them), then tracked calls not listed."""
        listed: set[int] = set()
        changed: list[CallState] = []
        if self._poll_active:
            try:
                active = await self._client.active_calls()
            except (TransportError, Unauthorized):
                raise
            except SoftphoneError as error:
                if is_missing_route(error):
                    self._poll_active = False
                else:
                    self._emit(StreamError(error))
            else:
                for state in active:
                    listed.add(state.call_id)
                    changed += self._if_changed(state)
        for call_id in sorted(self._tracked - listed):
            try:
                state = await self._client.call_state(call_id)
            except (TransportError, Unauthorized):
                self._emit_polled(changed)
                raise
            except SoftphoneError as error:
                self._report_poll_error(call_id, error)
            else:
                self._poll_errors.pop(call_id, None)
                changed += self._if_changed(state)
        self._emit_polled(changed)

    def _if_changed(self, state: CallState) -> list[CallState]:
        if self._polled_versions.get(state.call_id) == state.version:
            return []
        self._polled_versions[state.call_id] = state.version
        return [state]

    def _emit_polled(self, states: list[CallState]) -> None:
        if states:
            self._emit(StatesReceived(tuple(states), "poll"))

    def _report_poll_error(self, call_id: int, error: SoftphoneError) -> None:
        """Once per call and error, not every round: the caller untracks what it gave up on."""
        if self._poll_errors.get(call_id) != str(error):
            self._poll_errors[call_id] = str(error)
            self._emit(StreamError(error))
