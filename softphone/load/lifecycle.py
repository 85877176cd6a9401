"""The one call lifecycle every load mode runs: a Locust user that owns a caller/callee pair.

Only load processes import this (Locust monkey-patches the standard library with gevent on import).
Requests go through the user's Locust client (``FastHttpUser``, gevent-friendly) and are read with the
wire layer's ``Envelope`` and ``error_for``, so an error here is the same ``SoftphoneError`` the
softphone shows. The push channel, with ``--push``, is read with ``websocket-client``, whose blocking
socket calls gevent makes cooperative.

Besides one row per request, each call adds rows of its own to Locust's statistics (and so to its
console table, web UI and CSV files):

- ``CALL <outcome>``: the whole lifecycle, failed if anything in it went wrong or it ended otherwise;
- ``SETUP answer``: from the call's *scheduled* start to the callee's accept being answered, so a
  generator that falls behind shows up as latency rather than as a quietly lower rate;
- ``PUSH ring`` / ``PUSH answer`` (with ``--push``): from the start (accept) request leaving the
  caller (callee) to the frame reaching the other party.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

import gevent
import gevent.event
import websocket
from gevent.event import AsyncResult
from locust import FastHttpUser, task
from locust.contrib.fasthttp import FastHttpSession
from locust.env import Environment
from locust.exception import StopUser
from locust.rpc import Message
from locust.runners import MasterRunner, WorkerRunner
from pydantic import BaseModel, ValidationError

from softphone.api import (
    AcceptData,
    AcceptRequest,
    ApiError,
    CallState,
    CallStateConflict,
    CallStatus,
    CallStatusData,
    CallType,
    CallUpdatedFrame,
    CancelRequest,
    DirectoryData,
    EndReason,
    Envelope,
    HangupRequest,
    InvalidParams,
    LoginData,
    LoginRequest,
    MediaStage,
    MediaStateData,
    MediaStateRequest,
    NetworkQuality,
    ProtocolError,
    RejectRequest,
    RequestTimedOut,
    ServerUnreachable,
    SoftphoneError,
    StartCallData,
    StartCallRequest,
    authorization,
    error_for,
    is_missing_route,
    server_frame_adapter,
)
from softphone.load.plan import LoadPlan, Outcome

ModelT = TypeVar("ModelT", bound=BaseModel)
PUSH_WAIT_S = 10.0
"""How long a party waits for a frame that must come (ring, answer) before the call counts as failed."""
POLL_INTERVAL_S = 0.2
"""Without push, how often the caller asks for the state of a call that should have timed out."""
PLAN_OPTION = "softphone_plan"
"""The Locust option carrying the plan as JSON: Locust hands custom options to every worker with each spawn."""
CLAIM_MESSAGE = "softphone_claim"
PAIR_MESSAGE = "softphone_pair"
SIGNED_IN_MESSAGE = "softphone_signed_in"
BEGIN_MESSAGE = "softphone_begin"
CLAIM_WAIT_S = 30.0


class UnexpectedOutcome(SoftphoneError):
    """The call ended, but not as the mix asked (a timeout call that was answered, say)."""


def describe(error: BaseException) -> str:
    """How a failure is listed in Locust's error table: ``code message`` for API errors."""
    return str(error) if isinstance(error, ApiError) else f"{type(error).__name__}: {error}"


@lru_cache(maxsize=4)
def plan_from(options_json: str) -> LoadPlan:
    return LoadPlan.model_validate_json(options_json)


class Coordinator:
    """What the users of a load share: which pair each user gets, and when calls begin.

    Pairs are counted here in one process and by the master for workers: Locust spreads users over
    workers as it likes (all users of a small class may land on one), so workers cannot split the pairs
    among themselves. Calls begin once every user has signed in (the master counts the workers' users
    and tells them), so sign-ins, whose cost grows with the server's directory, never overlap the
    measured calls, and every user's schedule counts from the same moment.
    """

    def __init__(self) -> None:
        self._next: defaultdict[Outcome, itertools.count[int]] = defaultdict(itertools.count)
        self._waiting: dict[str, AsyncResult] = {}
        self._signed_in = 0
        self._go = gevent.event.Event()
        self.calls_begin = 0.0
        """``perf_counter`` time at which calls began in this process."""

    def serve(self, master: MasterRunner) -> None:
        master.register_message(CLAIM_MESSAGE, self._on_claim)
        master.register_message(SIGNED_IN_MESSAGE, lambda environment, **_: self._count(environment))

    def attach(self, worker: WorkerRunner) -> None:
        worker.register_message(PAIR_MESSAGE, self._on_pair)
        worker.register_message(BEGIN_MESSAGE, lambda **_: self._begin())

    def claim(self, environment: Environment, outcome: Outcome) -> int:
        runner = environment.runner
        if not isinstance(runner, WorkerRunner):
            return next(self._next[outcome])
        ticket = uuid.uuid4().hex
        result = self._waiting[ticket] = AsyncResult()
        runner.send_message(CLAIM_MESSAGE, {"outcome": outcome.value, "ticket": ticket})
        slot: int = result.get(timeout=CLAIM_WAIT_S)
        return slot

    def signed_in(self, environment: Environment) -> None:
        """A user is ready for its first call (or gave up trying): count it where the count is kept."""
        if isinstance(environment.runner, WorkerRunner):
            environment.runner.send_message(SIGNED_IN_MESSAGE, None)
        else:
            self._count(environment)

    def begin(self, environment: Environment) -> None:
        """Calls begin now, everywhere (also when not every user signed in in time)."""
        if isinstance(environment.runner, MasterRunner):
            environment.runner.send_message(BEGIN_MESSAGE, None)
        self._begin()

    def wait(self, timeout: float | None = None) -> bool:
        """Until calls begin; false if ``timeout`` passed first."""
        return self._go.wait(timeout)

    def _count(self, environment: Environment) -> None:
        self._signed_in += 1
        if self._signed_in == plan_from(getattr(environment.parsed_options, PLAN_OPTION)).concurrency:
            self.begin(environment)

    def _begin(self) -> None:
        if not self._go.is_set():
            self.calls_begin = time.perf_counter()
            self._go.set()

    def _on_claim(self, environment: Environment, msg: Message) -> None:
        slot = next(self._next[Outcome(msg.data["outcome"])])
        assert environment.runner is not None
        environment.runner.send_message(PAIR_MESSAGE, {"ticket": msg.data["ticket"], "slot": slot}, client_id=msg.node_id)

    def _on_pair(self, environment: Environment, msg: Message) -> None:
        self._waiting.pop(msg.data["ticket"]).set(msg.data["slot"])


COORDINATOR = Coordinator()
"""The one coordinator of this load process."""


# --------------------------------------------------------------------------- the wire, through Locust


class Wire:
    """Every request of a user: through its Locust client, read as the envelope, failures as ``SoftphoneError``."""

    def __init__(self, client: FastHttpSession) -> None:
        self._client = client

    def send(
        self, method: str, path: str, model: type[ModelT], *, name: str, token: str | None, body: BaseModel | None = None
    ) -> ModelT:
        headers = authorization(token)
        if body is not None:
            headers["Content-Type"] = "application/json"
        data = body.model_dump_json() if body is not None else None
        with self._client.request(method, path, name=name, data=data, headers=headers, catch_response=True) as response:
            try:
                result = self._read(response, model)
            except SoftphoneError as error:
                response.failure(describe(error))
                raise
            response.success()
            return result

    @staticmethod
    def _read(response: Any, model: type[ModelT]) -> ModelT:
        if not response.status_code:  # Locust's stand-in response for a request that got no answer
            raise ServerUnreachable(str(getattr(response, "error", "no answer")))
        try:
            envelope = Envelope[Any].model_validate_json(response.content or b"")
        except ValidationError:
            raise ProtocolError(f"HTTP {response.status_code}, not the envelope", http_status=response.status_code) from None
        if envelope.code != 0:
            raise error_for(envelope.code, envelope.message)
        try:
            return model.model_validate(envelope.data)
        except ValidationError:
            raise ProtocolError(f"data is not a {model.__name__}", http_status=response.status_code) from None


class PushListener:
    """One terminal's push connection: when each (call, status) frame arrived, for the lifecycle to wait on."""

    def __init__(self, ws_url: str, token: str, terminal_id: str) -> None:
        self._ws = websocket.create_connection(
            f"{ws_url}?terminal_id={quote(terminal_id)}",
            header=[f"{key}: {value}" for key, value in authorization(token).items()],
            timeout=PUSH_WAIT_S,
        )
        self._ws.settimeout(None)  # idle between calls is normal; the server's pings keep it alive
        self._arrivals: defaultdict[int, defaultdict[str, AsyncResult]] = defaultdict(lambda: defaultdict(AsyncResult))
        self._done_up_to = 0
        self._lost: ServerUnreachable | None = None
        self._reader = gevent.spawn(self._read)

    def arrival(self, call_id: int, status: CallStatus, timeout: float = PUSH_WAIT_S) -> tuple[float, CallState]:
        """When the frame saying ``call_id`` is ``status`` arrived (``perf_counter``), and its state; waits for it."""
        if self._lost is not None and not self._arrivals[call_id][status.value].ready():
            raise self._lost
        try:
            arrived: tuple[float, CallState] = self._arrivals[call_id][status.value].get(timeout=timeout)
        except gevent.Timeout:
            raise RequestTimedOut(f"no {status.value} frame for call {call_id} within {timeout:.0f}s") from None
        return arrived

    def forget(self, call_id: int) -> None:
        """A pair's calls are sequential and ids grow: later frames of this call or older ones are dropped."""
        self._done_up_to = max(self._done_up_to, call_id)
        for done in [known for known in self._arrivals if known <= call_id]:
            del self._arrivals[done]

    def close(self) -> None:
        self._reader.kill(block=False)
        self._ws.close()

    def _read(self) -> None:
        try:
            while True:
                text = self._ws.recv()
                arrived = time.perf_counter()
                frame = server_frame_adapter.validate_json(text)
                if isinstance(frame, CallUpdatedFrame) and frame.data.call_id > self._done_up_to:
                    self._arrivals[frame.data.call_id][frame.data.status].set((arrived, frame.data))
        except (websocket.WebSocketException, OSError, ValidationError) as error:
            self._lost = ServerUnreachable(f"push connection lost: {error!r}")
            for statuses in self._arrivals.values():
                for result in statuses.values():
                    if not result.ready():
                        result.set_exception(self._lost)


# --------------------------------------------------------------------------- the parties


@dataclass
class Party:
    """One side of the pair: who, with which token and terminal, and its push connection if any."""

    wire: Wire
    name: str
    token: str
    user_id: int
    terminal_id: str
    push: PushListener | None = None

    @classmethod
    def sign_in(cls, wire: Wire, plan: LoadPlan, name: str) -> Party:
        """With the profile's token where the plan has one (no request), else the simulator's dev login."""
        given = plan.tokens.get(name)
        if given is not None:
            party = cls(wire, name, given.token, given.user_id, given.terminal_id or cls.new_terminal_id(name))
        else:
            user: str | int = int(name) if name.isdecimal() else name
            try:
                data = wire.send(
                    "POST", "/api/dev/login", LoginData, name="/api/dev/login", token=None, body=LoginRequest(user=user)
                )
            except InvalidParams as error:
                raise InvalidParams(f"{error.message} (seed load users with `softphone serve --users N`)") from None
            except SoftphoneError as error:
                if not is_missing_route(error):
                    raise
                raise ProtocolError(
                    f"the server has no dev login: give {name} a token and user_id in the profile,"
                    f" [profiles.NAME.users.{name}]"
                ) from None
            party = cls(wire, name, data.token, data.user_id, cls.new_terminal_id(name))
        if plan.push:
            party.push = PushListener(plan.ws_url, party.token, party.terminal_id)
        return party

    @staticmethod
    def new_terminal_id(name: str) -> str:
        return f"load-{name}-{uuid.uuid4().hex[:8]}"

    def send(self, method: str, path: str, model: type[ModelT], name: str, body: BaseModel | None = None) -> ModelT:
        return self.wire.send(method, path, model, name=name, token=self.token, body=body)

    def conversation_with(self, other: Party) -> int:
        """The 1:1 conversation of the two, from the simulator's directory (*ext*): the profile named none."""
        try:
            entries = self.send("GET", "/api/dev/directory", DirectoryData, "/api/dev/directory").users
        except SoftphoneError as error:
            if not is_missing_route(error):
                raise
            raise ProtocolError(
                f"the server has no directory: give the conversation of {self.name} and {other.name} in the profile,"
                f' [profiles.NAME.conversations] "{self.name},{other.name}" = ID'
            ) from None
        found = next((entry.conversation_id for entry in entries if entry.user_id == other.user_id), None)
        if found is None:
            raise ProtocolError(f"{self.name} and {other.name} share no conversation in the directory")
        return found

    def act(self, call_id: int, action: str, model: type[ModelT], body: BaseModel) -> ModelT:
        return self.send("POST", f"/api/calls/{call_id}/{action}", model, f"/api/calls/{{call_id}}/{action}", body)

    def joined(self, call_id: int) -> MediaStateData:
        body = MediaStateRequest(terminal_id=self.terminal_id, stage=MediaStage.JOINED, network_quality=NetworkQuality.GOOD)
        return self.act(call_id, "media-state", MediaStateData, body)

    def state(self, call_id: int) -> CallState:
        return self.send("GET", f"/api/calls/{call_id}/state", CallState, "/api/calls/{call_id}/state")


# --------------------------------------------------------------------------- the user class


class CallLifecycle(FastHttpUser):
    """A caller/callee pair placing one call per pacing period, ending it as its class's outcome says.

    ``wait_time`` is constant pacing that catches up: each call has a scheduled start, ``pacing_s``
    after the previous one's, and a call that overran its slot is followed at once by the next, so
    arrivals stay open loop and ``SETUP`` latency counts from the schedule, not from when the user
    got round to it.
    """

    abstract = True
    outcome: ClassVar[Outcome]

    def on_start(self) -> None:
        self.parties: list[Party] = []  # for on_stop, which also runs when a stop interrupts this
        self.plan = plan_from(getattr(self.environment.parsed_options, PLAN_OPTION))
        pair = self.plan.pair_for(self.outcome, COORDINATOR.claim(self.environment, self.outcome))
        self.pacing_s = self.plan.load_of(self.outcome).pacing_s
        wire = Wire(self.client)
        try:
            self.caller = Party.sign_in(wire, self.plan, pair.caller)
            self.parties.append(self.caller)
            self.callee = Party.sign_in(wire, self.plan, pair.callee)
            self.parties.append(self.callee)
            self.conversation_id = pair.conversation_id or self.caller.conversation_with(self.callee)
        finally:
            COORDINATOR.signed_in(self.environment)  # a user that failed must not hold the others back
        COORDINATOR.wait()
        self.next_at = COORDINATOR.calls_begin + pair.offset_s
        gevent.sleep(max(0.0, self.next_at - time.perf_counter()))

    def on_stop(self) -> None:
        for party in self.parties:
            if party.push is not None:
                party.push.close()

    def wait_time(self) -> float:
        return max(0.0, self.next_at - time.perf_counter())

    @task
    def call(self) -> None:
        scheduled, self.next_at = self.next_at, self.next_at + self.pacing_s
        if scheduled >= COORDINATOR.calls_begin + self.plan.duration_s:
            raise StopUser()  # its calls are over: no call starts after the run's duration
        began = time.perf_counter()
        error: SoftphoneError | None = None
        try:
            self._place(scheduled)
        except SoftphoneError as failure:
            error = failure
        self._record("CALL", self.outcome.value, began, error)

    def _place(self, scheduled: float) -> None:
        caller, callee = self.caller, self.callee
        sent = time.perf_counter()
        body = StartCallRequest(
            conversation_id=self.conversation_id,
            target_user_id=callee.user_id,
            call_type=CallType.AUDIO,
            biz_type="single",
            terminal_id=caller.terminal_id,
        )
        started = caller.send("POST", "/api/calls/session", StartCallData, "/api/calls/session", body)
        call_id = started.call_id
        try:
            if callee.push is not None:
                self._record("PUSH", "ring", sent, arrived=callee.push.arrival(call_id, CallStatus.CALLING)[0])
            ended = self._finish(call_id, scheduled, started.timeout_seconds)
        except SoftphoneError:
            self._end_quietly(call_id)
            raise
        finally:
            for party in (caller, callee):
                if party.push is not None:
                    party.push.forget(call_id)
        expected = {
            Outcome.ANSWER: (CallStatus.ENDED, EndReason.LOCAL_HANGUP),
            Outcome.REJECT: (CallStatus.REJECTED, EndReason.USER_REJECT),
            Outcome.CANCEL: (CallStatus.CANCELLED, EndReason.CALLER_CANCEL),
            Outcome.TIMEOUT: (CallStatus.ENDED, EndReason.NO_ANSWER_TIMEOUT),
        }[self.outcome]
        if (ended.status, ended.end_reason) != expected:
            raise UnexpectedOutcome(f"call {call_id} ended {ended.status}/{ended.end_reason}, expected {'/'.join(expected)}")

    def _finish(self, call_id: int, scheduled: float, ring_timeout_s: float) -> CallStatusData | CallState:
        """The outcome's part of the call, after it rang; returns how the call ended."""
        caller, callee = self.caller, self.callee
        match self.outcome:
            case Outcome.ANSWER:
                sent = time.perf_counter()
                callee.act(call_id, "accept", AcceptData, AcceptRequest(terminal_id=callee.terminal_id))
                self._record("SETUP", "answer", scheduled)
                if caller.push is not None:
                    self._record("PUSH", "answer", sent, arrived=caller.push.arrival(call_id, CallStatus.ACCEPTED)[0])
                caller.joined(call_id)
                callee.joined(call_id)
                return caller.act(call_id, "hangup", CallStatusData, HangupRequest(terminal_id=caller.terminal_id))
            case Outcome.REJECT:
                return callee.act(call_id, "reject", CallStatusData, RejectRequest(terminal_id=callee.terminal_id))
            case Outcome.CANCEL:
                return caller.act(call_id, "cancel", CallStatusData, CancelRequest(terminal_id=caller.terminal_id))
            case Outcome.TIMEOUT:
                return self._await_timeout(call_id, ring_timeout_s)

    def _await_timeout(self, call_id: int, ring_timeout_s: float) -> CallState:
        """Nobody answers: the end comes by push, or by asking once the ring timeout has passed."""
        if self.caller.push is not None:
            return self.caller.push.arrival(call_id, CallStatus.ENDED, timeout=ring_timeout_s + PUSH_WAIT_S)[1]
        gevent.sleep(ring_timeout_s)  # the call rings this long: there is nothing to ask before
        deadline = time.perf_counter() + PUSH_WAIT_S
        while (state := self.caller.state(call_id)).status == CallStatus.CALLING and time.perf_counter() < deadline:
            gevent.sleep(POLL_INTERVAL_S)
        return state

    def _end_quietly(self, call_id: int) -> None:
        """After a failure, free the pair for its next call: cancel, or hang up if it was answered."""
        try:
            self.caller.act(call_id, "cancel", CallStatusData, CancelRequest(terminal_id=self.caller.terminal_id))
        except CallStateConflict:
            try:
                self.caller.act(call_id, "hangup", CallStatusData, HangupRequest(terminal_id=self.caller.terminal_id))
            except SoftphoneError:
                pass
        except SoftphoneError:
            pass

    def _record(
        self, kind: str, name: str, since: float, error: SoftphoneError | None = None, *, arrived: float | None = None
    ) -> None:
        """A row of our own in Locust's statistics: ``kind`` stands where the HTTP method would."""
        elapsed_ms = ((arrived if arrived is not None else time.perf_counter()) - since) * 1000
        self.environment.events.request.fire(
            request_type=kind,
            name=name,
            response_time=elapsed_ms,
            response_length=0,
            exception=describe(error) if error is not None else None,
            context={},
        )


class AnswerCalls(CallLifecycle):
    outcome = Outcome.ANSWER


class RejectCalls(CallLifecycle):
    outcome = Outcome.REJECT


class CancelCalls(CallLifecycle):
    outcome = Outcome.CANCEL


class TimeoutCalls(CallLifecycle):
    outcome = Outcome.TIMEOUT


USER_CLASSES: dict[Outcome, type[CallLifecycle]] = {
    Outcome.ANSWER: AnswerCalls,
    Outcome.REJECT: RejectCalls,
    Outcome.CANCEL: CancelCalls,
    Outcome.TIMEOUT: TimeoutCalls,
}
