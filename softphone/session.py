"""The call controller: one signed-in terminal, its intents sent to the API, its news told as events.

It imports no Textual, so the TUI, the demo's bot and headless commands all stand on it. Intents
(``dial``, ``accept``, ``hangup``...) await the server; every answer and every state the push stream
brings goes into :class:`~softphone.core.Phone` with its source and the time. The controller never
decides what a call's state is, and nobody above it sees JSON.

Whoever listens reads what happened from ``events()``, an async stream of the typed events below::

    session = await Session.sign_in(client, user="alice")
    await session.load_history()
    async for event in session.events(PushStream(client)):
        match event:
            case CallsChanged(call_ids): ...        # read them from session.phone
            case RequestFailed(text=text): ...
            case ConnectionChanged() | StreamError(): ...

Events wait in order until read, so what happens before anyone listens (a history load, an intent) is
not lost. States that arrive together (a hello, a resync, one polling round) give one ``CallsChanged``.

Signing in never retries by itself: :func:`sign_in_problem` says whether a failure is worth asking the
user about (a refused token, an unknown user) or worth trying again later, with backoff, because the
server could not be reached or answered badly; the caller chooses.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Protocol

from softphone.api import (
    Action,
    ApiError,
    CallClient,
    CalleeBusy,
    CallState,
    CallType,
    ConnectionChanged,
    ConnectionState,
    DirectoryUser,
    InvalidParams,
    MediaStage,
    NetworkQuality,
    RouteNotFound,
    SoftphoneError,
    StatesReceived,
    StreamError,
    StreamEvent,
    Unauthorized,
    redact,
)
from softphone.core import BUSY_REASON, CallMachine, Phone, Snapshot, Source, failure_text
from softphone.terminal import Clock, new_terminal_id, utc_now

log = logging.getLogger(__name__)

PROBE_CALL_ID = 0
"""Never a call: asking for its state checks a token on a server with nothing else to ask (see ``sign_in``)."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Who this terminal is: the logged-in user on one terminal id."""

    user_id: int
    name: str
    display_name: str
    terminal_id: str


@dataclass(frozen=True, slots=True)
class ServerOffers:
    """What this server has beyond the documented API: the simulator has both, a real server neither."""

    directory: bool
    """Users and conversations to dial by name (``/api/dev/directory``); else dial by ids."""
    call_lists: bool
    """Active calls and history (``/api/calls/active``, ``/history``), and so, likely, a push channel."""

    def missing(self) -> str:
        """What is missing, in words for the status line: ``no push, no directory``; empty when nothing is."""
        gaps = [] if self.call_lists else ["no push"]
        gaps += [] if self.directory else ["no directory"]
        return ", ".join(gaps)


class NeedsUserId(SoftphoneError):
    """A token was given without ``user_id`` to a server with no directory to say whose it is."""

    def __init__(self) -> None:
        super().__init__("this server has no directory to say who the token belongs to: give the user id")


class SignInProblem(StrEnum):
    """Why signing in failed, as far as what to do next goes."""

    TOKEN_REFUSED = "token refused"
    """40101: this token will not do; ask for another."""
    USER_UNKNOWN = "user unknown"
    """The dev login does not know that user (40001); ask who again."""
    NO_DEV_LOGIN = "no dev login"
    """The server has no dev login (a real one): ask for a token."""
    NEEDS_USER_ID = "needs user id"
    """A token on a server without a directory: ask whose it is."""
    UNAVAILABLE = "unavailable"
    """Not reached, timed out, or answered with a server error or garbage: try again later, with backoff."""


def sign_in_problem(error: SoftphoneError) -> SignInProblem:
    match error:
        case Unauthorized():
            return SignInProblem.TOKEN_REFUSED
        case RouteNotFound():
            return SignInProblem.NO_DEV_LOGIN
        case InvalidParams():
            return SignInProblem.USER_UNKNOWN
        case NeedsUserId():
            return SignInProblem.NEEDS_USER_ID
    return SignInProblem.UNAVAILABLE


def describe_sign_in_failure(error: SoftphoneError) -> str:
    """The failure in words, with the server's code and message where it sent them."""
    match sign_in_problem(error):
        case SignInProblem.TOKEN_REFUSED:
            return f"the server refused this token ({describe_error(error)})"
        case SignInProblem.USER_UNKNOWN:
            return f"no such user ({describe_error(error)})"
        case SignInProblem.NO_DEV_LOGIN:
            return f"this server has no dev login: sign in with a token ({describe_error(error)})"
        case SignInProblem.NEEDS_USER_ID:
            return str(error)
    return describe_error(error)


@dataclass(frozen=True, slots=True)
class CallsChanged:
    """These calls changed (states arrived, a request was sent or answered): read them from ``phone``."""

    call_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RequestFailed:
    """A request was refused or never answered, or was refused here before it was sent.

    ``action`` is ``None`` for starting a call (which is not an action on an existing call), and
    ``error`` is ``None`` when nothing was sent (no such contact). ``text`` says it in words.
    """

    action: Action | None
    call_id: int | None
    error: SoftphoneError | None
    text: str


# The push stream's own events pass through as they are: the connection's state, and problems
# worth showing that do not end the stream.
SessionEvent = CallsChanged | RequestFailed | ConnectionChanged | StreamError


class CallStream(Protocol):
    """What the controller needs of a push stream; :class:`~softphone.api.PushStream` is the real one."""

    @property
    def tracked(self) -> frozenset[int]: ...

    def track(self, call_id: int) -> None: ...

    def untrack(self, call_id: int) -> None: ...

    def set_call_live(self, live: bool) -> None: ...

    def retry_now(self) -> None: ...

    def events(self) -> AsyncIterator[StreamEvent]: ...

    async def close(self) -> None: ...


_STREAM_SOURCES = {
    "push": Source.PUSH,
    "poll": Source.POLL,
    "resync": Source.RESYNC,
    "hello": Source.RESYNC,
    "check": Source.RESYNC,
}


class Session:
    """One signed-in terminal: its client, its phone, the user's intents, and the events they cause."""

    def __init__(
        self,
        client: CallClient,
        identity: Identity,
        contacts: list[DirectoryUser],
        *,
        offers: ServerOffers = ServerOffers(directory=True, call_lists=True),
        clock: Clock = utc_now,
    ) -> None:
        self.client = client
        self.identity = identity
        self.contacts = contacts
        self.offers = offers
        self.clock = clock
        self.connection: ConnectionState = "connecting"
        self.connection_detail = ""
        self.phone = Phone(
            my_user_id=identity.user_id,
            my_terminal_id=identity.terminal_id,
            name_of=self.display_name_of,
        )
        self._queue: asyncio.Queue[SessionEvent | None] = asyncio.Queue()
        self._busy_rejected: set[int] = set()
        self._in_flight: set[tuple[int, Action]] = set()
        self._dialing = False
        self._stream: CallStream | None = None

    @classmethod
    async def sign_in(
        cls,
        client: CallClient,
        *,
        user: str | None = None,
        user_id: int | None = None,
        known_contacts: Sequence[DirectoryUser] = (),
        clock: Clock = utc_now,
    ) -> Session:
        """Log in as ``user`` (the simulator's dev login), or trust the client's token as ``user_id``.

        The directory, where the server has one, says who we are and whom we can call, and its answer
        shows the token was accepted; where it has none, ``known_contacts`` (a profile's users) name
        whom we can call. A server without a directory has nothing that checks a token, so the state
        of a call that cannot exist (``PROBE_CALL_ID``) is asked for: only a 40101 refuses it.
        Raises ``SoftphoneError`` (``NeedsUserId`` included) when the server cannot be reached or
        refuses; :func:`sign_in_problem` says which, and what to do is the caller's choice (the TUI
        asks the user; a bot or a headless command gives up).
        """
        if user is not None:
            login = await client.login(user)
            user_id, name = login.user_id, login.name
        directory = await _contacts(client)
        if directory is None and user is None:
            await _check_token(client)
        contacts = directory if directory is not None else list(known_contacts)
        me = next((c for c in contacts if c.conversation_id is None), None)
        if me is not None:
            user_id, name = me.user_id, me.name
        if user_id is None:
            raise NeedsUserId()
        if user is None and me is None:
            name = f"user {user_id}"
        offers = ServerOffers(directory=directory is not None, call_lists=await client.offers_ext())
        display = me.display_name if me is not None else name
        identity = Identity(user_id, name, display, client.terminal_id)
        log.info("signed in as %s (#%s) on %s; %s", name, user_id, client.base_url, offers.missing() or "full simulator")
        return cls(client, identity, contacts, offers=offers, clock=clock)

    def display_name_of(self, user_id: int) -> str:
        for contact in self.contacts:
            if contact.user_id == user_id:
                return contact.display_name
        return f"user {user_id}"

    def contact(self, user: str) -> DirectoryUser | None:
        """A contact by name, display name or id, as typed on the command line or palette."""
        wanted = user.strip().lower()
        for contact in self.contacts:
            if wanted in (contact.name.lower(), contact.display_name.lower(), str(contact.user_id)):
                return contact
        return None

    # ------------------------------------------------------------------ what happened

    async def events(self, stream: CallStream) -> AsyncIterator[SessionEvent]:
        """Follow ``stream`` and yield every event, in order, until it ends; one listener, once.

        Leaving the loop (or cancelling its task) closes ``stream``; a bug that stopped the stream is
        raised here after its last event.
        """
        self._stream = stream
        self._sync_tracking()
        follower = asyncio.create_task(self._follow(stream), name="softphone-session")
        try:
            while (event := await self._queue.get()) is not None:
                yield event
            await follower
        finally:
            follower.cancel()
            await stream.close()
            self._stream = None

    async def _follow(self, stream: CallStream) -> None:
        try:
            async for event in stream.events():
                if isinstance(event, StatesReceived):
                    states = self._news(event.states) if event.source == "check" else event.states
                    self._changed(self._take(states, _STREAM_SOURCES[event.source]))
                    await self._follow_up()
                    continue
                if isinstance(event, ConnectionChanged):
                    if event.state != self.connection:
                        log.info("connection %s: %s", event.state, redact(event.detail))
                    self.connection, self.connection_detail = event.state, event.detail
                elif isinstance(event, StreamError):
                    log.warning("push stream: %s", redact(describe_error(event.error)))
                self._emit(event)
        finally:
            self._queue.put_nowait(None)

    @property
    def reachable(self) -> bool:
        """Whether requests can reach the server now: not while the stream finds it ``unreachable``."""
        return self.connection != "unreachable"

    def reconnect_now(self) -> None:
        """Cut the stream's wait short: reconnect or poll now (the user asked)."""
        if self._stream is not None:
            self._stream.retry_now()

    async def load_history(self, limit: int = 20) -> None:
        """Recent calls from before this run, where the server keeps a history (the simulator does)."""
        if not self.offers.call_lists:
            return  # a real server has no history endpoint; recent calls then start empty
        try:
            calls = await self.client.history(limit=limit)
        except SoftphoneError:
            return  # a real server has no history endpoint; recent calls then start empty
        self._changed(self._take(calls, Source.RESYNC))
        await self._follow_up()

    # ------------------------------------------------------------------ user intents

    async def dial(self, user: str, call_type: CallType, *, join: bool = True) -> CallMachine | None:
        """Call a contact (by name, display name or id) and join the RTC channel right away, as callers do."""
        contact = self.contact(user)
        if contact is None:
            where = "in the directory" if self.offers.directory else "(this server has no directory: dial by ids)"
            self._emit(RequestFailed(None, None, None, f"No contact named {user!r} {where}."))
            return None
        return await self.dial_contact(contact, call_type, join=join)

    async def dial_contact(self, contact: DirectoryUser, call_type: CallType, *, join: bool = True) -> CallMachine | None:
        """Call ``contact`` in its conversation; also someone no directory lists (a user id and a conversation id).

        ``join=False`` leaves the channel to the caller (a bot's media script reports every stage itself).
        """
        if contact.conversation_id is None:
            self._emit(RequestFailed(None, None, None, f"{contact.display_name} is you: pick someone else to call"))
            return None
        return await self._start_call(
            contact.user_id, contact.conversation_id, call_type, contact.display_name, join=join
        )

    async def dial_ids(self, user_id: int, conversation_id: int, call_type: CallType) -> CallMachine | None:
        """Call a user by id in a conversation given by id: all a server without a directory needs."""
        if user_id == self.identity.user_id:
            self._emit(RequestFailed(None, None, None, f"User {user_id} is you: pick someone else to call"))
            return None
        return await self._start_call(user_id, conversation_id, call_type, self.display_name_of(user_id))

    async def _start_call(
        self, user_id: int, conversation_id: int, call_type: CallType, name: str, *, join: bool = True
    ) -> CallMachine | None:
        """Place the call; while one is being placed, another is not sent (a second Enter): ``None`` at once."""
        if self._dialing:
            return None
        self._dialing = True
        try:
            response = await self.client.start_call(conversation_id, user_id, call_type.value)
        except SoftphoneError as error:
            crossing = await self._crossing_call(user_id) if isinstance(error, CalleeBusy) else None
            text = failure_text(error, None, name, crossing=crossing is not None)
            self._fail(RequestFailed(None, crossing.call_id if crossing else None, error, text))
            return None
        finally:
            self._dialing = False
        machine = self.phone.start_call(response, user_id, self.clock())
        log.info("call %s placed to %s (#%s)", machine.call_id, name, user_id)
        self._changed([machine.call_id])
        await self._follow_up()
        if join:
            await self._join_channel(machine)
        return machine

    async def open_call(self, call_id: int) -> CallMachine | None:
        """Take up a call by its id, as this terminal's own end (see ``CallMachine.record_opened``).

        Where nothing tells a callee of a call (a server with only the documented API), the caller
        passes its id on and the callee opens it; the stream then polls it like any call it knows.
        """
        try:
            state = await self.client.call_state(call_id)
        except SoftphoneError as error:
            self._fail(RequestFailed(Action.STATE, call_id, error, f"Opening call {call_id}: {failure_text(error, Action.STATE, '')}"))
            return None
        routed = self.phone.apply(state, Source.RESYNC, self.clock())
        if routed is None:
            self._fail(RequestFailed(Action.STATE, call_id, None, f"Call {call_id} is not between you and someone else."))
            return None
        machine, _ = routed
        machine.record_opened()
        log.info("call %s opened by id as the %s", call_id, machine.role.value)
        self._changed([call_id])
        await self._follow_up()
        return machine

    async def accept(self, call_id: int, *, join: bool = True) -> bool:
        """Answer a ringing call and (unless ``join=False``) join its channel; whether the server accepted."""
        if not await self._act(call_id, Action.ACCEPT, self.client.accept):
            return False
        machine = self.phone.get(call_id)
        if join and machine is not None:
            await self._join_channel(machine)
        return True

    async def reject(self, call_id: int, reason: str | None = None) -> bool:
        return await self._act(
            call_id, Action.REJECT, partial(self.client.reject, reason=reason), then=CallMachine.record_ended_by_me
        )

    async def cancel(self, call_id: int) -> bool:
        return await self._act(call_id, Action.CANCEL, self.client.cancel, then=CallMachine.record_ended_by_me)

    async def hangup(self, call_id: int) -> bool:
        return await self._act(call_id, Action.HANGUP, self.client.hangup, then=CallMachine.record_ended_by_me)

    async def report_media(self, call_id: int, stage: str, network_quality: str | None = None) -> bool:
        """Report this terminal's media stage and quality; the core remembers what was accepted."""
        detail = stage if network_quality is None else f"{stage}, {network_quality}"
        return await self._act(
            call_id,
            Action.REPORT_MEDIA,
            lambda cid: self.client.report_media(cid, stage, network_quality),
            detail=detail,
            then=lambda machine: machine.record_media(stage, network_quality),
        )

    async def leave(self) -> list[int]:
        """End every call this terminal is an end of, as each call's state allows; the ids it tried.

        What quitting does (hang up, cancel or reject, whichever the core allows), so that no call is
        left ``ongoing`` with nobody on it. A refusal is told as a ``RequestFailed`` like any other.
        """
        left = []
        for machine in self.phone.calls_to_leave():
            if await self.end(machine) is not None:
                left.append(machine.call_id)
        return left

    async def end(self, machine: CallMachine) -> bool | None:
        """End this terminal's part in one call (hang up, cancel or reject, as the core allows).

        Whether the server agreed; ``None`` when there was nothing to end.
        """
        match machine.ending_action():
            case Action.HANGUP:
                return await self.hangup(machine.call_id)
            case Action.CANCEL:
                return await self.cancel(machine.call_id)
            case Action.REJECT:
                return await self.reject(machine.call_id)
            case _:
                return None

    async def send(
        self,
        action: Action,
        call_id: int,
        *,
        reason: str | None = None,
        stage: str = "",
        network_quality: str | None = None,
    ) -> Snapshot:
        """One request about any call, known here or not, exactly as asked; the server's answer.

        For tools that probe a server one step at a time (``softphone accept ID``): nothing is sent
        before or after it (no channel join, no resync), and a failure is raised, not emitted.
        """
        client = self.client
        if action is Action.ACCEPT:
            answer: Snapshot = await client.accept(call_id)
        elif action is Action.REJECT:
            answer = await client.reject(call_id, reason)
        elif action is Action.CANCEL:
            answer = await client.cancel(call_id, reason)
        elif action is Action.HANGUP:
            answer = await client.hangup(call_id, reason)
        elif action is Action.REPORT_MEDIA:
            answer = await client.report_media(call_id, stage, network_quality)
        else:
            answer = await client.call_state(call_id)
        self._changed(self._take([answer], Source.RESPONSE))
        return answer

    async def resync(self, call_id: int) -> None:
        """Fetch the full state of a call, after a gap or a refused request."""
        try:
            state = await self.client.call_state(call_id)
        except SoftphoneError as error:
            machine = self.phone.get(call_id)
            text = failure_text(error, Action.STATE, machine.peer_name if machine else "")
            self._fail(RequestFailed(Action.STATE, call_id, error, text))
            return
        self._changed(self._take([state], Source.RESYNC))

    # ------------------------------------------------------------------ internals

    async def _act(
        self,
        call_id: int,
        action: Action,
        request: Callable[[int], Awaitable[Snapshot]],
        *,
        detail: str = "",
        then: Callable[[CallMachine], None] | None = None,
    ) -> bool:
        """Send one request about a known call; ``then`` notes what its success means before its answer applies.

        An action already in flight for this call is not sent again (a second press of a key while the
        first request is on its way): it returns ``False`` at once, and the first one's answer counts.
        """
        machine = self.phone.get(call_id)
        if machine is None or (call_id, action) in self._in_flight:
            return False
        machine.record_action(action, self.clock(), detail)
        self._in_flight.add((call_id, action))
        self._changed([call_id])
        try:
            response = await request(call_id)
        except SoftphoneError as error:
            failure: SoftphoneError | None = error
        else:
            failure = None
        finally:
            self._in_flight.discard((call_id, action))
        if failure is not None:
            code = failure.code if isinstance(failure, ApiError) else None
            message = failure.message if isinstance(failure, ApiError) else str(failure)
            machine.record_error(action, code, message, self.clock())
            self._fail(RequestFailed(action, call_id, failure, failure_text(failure, action, machine.peer_name)))
            self._changed([call_id])
            if isinstance(failure, ApiError):
                # The server disagreed with what we believed: learn what it holds now.
                await self.resync(call_id)
            return False
        if then is not None:
            then(machine)
        self._changed(self._take([response], Source.RESPONSE))
        await self._follow_up()
        return True

    @property
    def dialing(self) -> bool:
        """A call is being placed: its start request has not been answered yet."""
        return self._dialing

    def in_flight(self, call_id: int, action: Action) -> bool:
        """Whether ``action`` was sent for this call and its answer has not come back yet."""
        return (call_id, action) in self._in_flight

    async def _crossing_call(self, peer_user_id: int) -> CallMachine | None:
        """The peer's call ringing here now, which a busy answer to my call to them crossed (glare).

        Its push may not have arrived yet, so the server's list of live calls is asked where it has one
        (a server without it cannot tell glare from busy).
        """
        ringing = self._ringing_from(peer_user_id)
        if ringing is None and self.offers.call_lists:
            try:
                calls = await self.client.active_calls()
            except SoftphoneError:
                return None
            self._changed(self._take(calls, Source.RESYNC))
            await self._follow_up()
            ringing = self._ringing_from(peer_user_id)
        if ringing is not None:
            ringing.record_crossing()
            self._changed([ringing.call_id])
        return ringing

    def _ringing_from(self, peer_user_id: int) -> CallMachine | None:
        return next((m for m in self.phone.ringing_calls() if m.peer_user_id == peer_user_id), None)

    async def _join_channel(self, machine: CallMachine) -> None:
        """There is no real RTC here: joining succeeds at once, and is reported like a real one."""
        for stage in (MediaStage.JOINING, MediaStage.JOINED):
            quality = NetworkQuality.GOOD.value if stage is MediaStage.JOINED else None
            if Action.REPORT_MEDIA not in machine.allowed_actions():
                return
            if not await self.report_media(machine.call_id, stage.value, quality):
                return

    def _news(self, states: Iterable[CallState]) -> list[CallState]:
        """Of the states a check brought, those the phone lacks: most repeat what it holds already."""
        return [
            state
            for state in states
            if (machine := self.phone.get(state.call_id)) is None or machine.version < state.version
        ]

    def _take(self, snapshots: Iterable[Snapshot], source: Source) -> list[int]:
        """Apply snapshots that arrived together; the ids of the calls they were about."""
        at = self.clock()
        routed = (self.phone.apply(snapshot, source, at) for snapshot in snapshots)
        return [machine.call_id for machine, _ in filter(None, routed)]

    def _changed(self, call_ids: Iterable[int]) -> None:
        """One ``CallsChanged`` for everything that changed together (none when nothing did)."""
        unique = tuple(dict.fromkeys(call_ids))
        if unique:
            self._emit(CallsChanged(unique))

    def _emit(self, event: SessionEvent) -> None:
        self._queue.put_nowait(event)

    def _fail(self, failure: RequestFailed) -> None:
        log.warning("%s", redact(failure.text))
        self._emit(failure)

    async def _follow_up(self) -> None:
        """Act on what a change implies: which calls the stream follows, busy rejections, resyncs."""
        self._sync_tracking()
        for machine in self.phone.busy_rejections():
            if machine.call_id not in self._busy_rejected:
                self._busy_rejected.add(machine.call_id)
                await self.reject(machine.call_id, BUSY_REASON)
        for machine in list(self.phone.calls.values()):
            if machine.needs_resync:
                machine.resynced()
                await self.resync(machine.call_id)

    def _sync_tracking(self) -> None:
        stream = self._stream
        if stream is None:
            return
        stream.set_call_live(self.phone.has_live_calls())
        tracked = set(self.phone.tracked_ids())
        for call_id in tracked - stream.tracked:
            stream.track(call_id)
        for call_id in stream.tracked - tracked:
            stream.untrack(call_id)


async def _contacts(client: CallClient) -> list[DirectoryUser] | None:
    """The simulator's directory; ``None`` from a server without one (a real server)."""
    try:
        return (await client.directory()).users
    except RouteNotFound:
        return None


async def _check_token(client: CallClient) -> None:
    """Raise ``Unauthorized`` if the server refuses the client's token; any other answer lets it pass."""
    try:
        await client.call_state(PROBE_CALL_ID)
    except Unauthorized:
        raise
    except SoftphoneError as answer:
        if isinstance(answer, ApiError):
            return  # the token got past the check; the question itself was never meant to succeed
        raise


def describe_error(error: SoftphoneError) -> str:
    """The server's code and message as given, or the transport problem in words."""
    if isinstance(error, ApiError):
        return f"{error.code} {error.message}"
    return str(error)


__all__ = [
    "CallStream",
    "CallsChanged",
    "Clock",
    "ConnectionChanged",
    "Identity",
    "NeedsUserId",
    "RequestFailed",
    "ServerOffers",
    "Session",
    "SessionEvent",
    "SignInProblem",
    "StreamError",
    "describe_error",
    "describe_sign_in_failure",
    "sign_in_problem",
    "new_terminal_id",
    "utc_now",
]
