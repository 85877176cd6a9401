"""The call service: every rule of the simulated call API, and nothing about HTTP.

Each action on an existing call is a *rule*: a function from the stored call (and the current time)
to the call it becomes, raising the documented error in the documented order. ``_transition`` runs a
rule inside one store transaction, saves and numbers the result if it differs, and only then
publishes it, so a change is pushed exactly once and only after it is durable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial

from softphone.api import (
    AcceptData,
    AcceptRequest,
    AnsweredElsewhere,
    CallAlreadyEnded,
    CalleeBusy,
    CallList,
    CallNotFound,
    CallState,
    CallStateConflict,
    CallStatus,
    CallStatusData,
    CancelRequest,
    DirectoryData,
    DirectoryUser,
    EndReason,
    HangupRequest,
    HelloData,
    HelloFrame,
    InvalidParams,
    LoginData,
    MediaStage,
    MediaStateData,
    MediaStateRequest,
    NotCallee,
    NotCaller,
    NotParticipant,
    RejectRequest,
    StartCallData,
    StartCallRequest,
    Unauthorized,
)
from softphone.server.config import ServerConfig
from softphone.server.directory import Directory, User
from softphone.server.hub import Hub
from softphone.server.store import CallRecord, MediaReport, Store
from softphone.server.tokens import RtcSigner, new_login_token, new_secret

Clock = Callable[[], datetime]
Scheduler = Callable[[float, Callable[[], None]], None]
"""Run a callback after a delay in seconds: how the service arms ring timers."""

Rule = Callable[[CallRecord, datetime], CallRecord]


def system_clock() -> datetime:
    return datetime.now(UTC)


def ring_deadline(call: CallRecord) -> datetime:
    return call.created_at + timedelta(seconds=call.timeout_seconds)


def channel_name(call: CallRecord) -> str:
    return f"call_{call.call_id}_{call.conversation_id}"


def _ended(call: CallRecord, status: CallStatus, reason: str, at: datetime) -> CallRecord:
    return replace(call, status=status, end_reason=reason, ended_at=at, version=call.version + 1)


class CallService:
    def __init__(
        self,
        config: ServerConfig,
        store: Store,
        directory: Directory,
        hub: Hub,
        schedule: Scheduler,
        clock: Clock = system_clock,
    ) -> None:
        self._config = config
        self._store = store
        self._directory = directory
        self._hub = hub
        self._schedule = schedule
        self._clock = clock
        secret = store.setting("rtc_secret", new_secret)
        self.rtc = RtcSigner(config.app_id, secret, config.rtc_token_lifetime)

    # ------------------------------------------------------------------ users (ext)

    def login(self, key: str | int) -> LoginData:
        user = self._directory.find(key)
        if user is None:
            raise InvalidParams.because(f"user: no such user {key!r}")
        token = new_login_token()
        self._store.save_token(token, user.user_id, self._clock())
        return LoginData(token=token, user_id=user.user_id, name=user.name)

    def authenticate(self, token: str | None) -> User:
        user_id = self._store.token_user(token) if token else None
        user = self._directory.get(user_id) if user_id is not None else None
        if user is None:
            raise Unauthorized()
        return user

    def directory_for(self, user: User) -> DirectoryData:
        return DirectoryData(
            users=[
                DirectoryUser(
                    user_id=other.user_id,
                    name=other.name,
                    display_name=other.display_name,
                    conversation_id=None if other == user else Directory.conversation_id(user, other),
                )
                for other in self._directory.users
            ]
        )

    # ------------------------------------------------------------------ the documented actions

    def start(self, user: User, request: StartCallRequest) -> StartCallData:
        target = self._directory.get(request.target_user_id)
        if (
            target is None
            or target == user
            or request.conversation_id != Directory.conversation_id(user, target)
        ):
            raise NotParticipant.relationship()
        now = self._clock()
        with self._store.atomic():
            if self._store.live_calls_of(target.user_id):
                raise CalleeBusy()
            if self._store.live_calls_of(user.user_id):
                raise CallStateConflict()
            call = self._store.create_call(
                CallRecord(
                    call_id=0,
                    conversation_id=request.conversation_id,
                    call_type=request.call_type.value,
                    biz_type=request.biz_type,
                    caller_user_id=user.user_id,
                    callee_user_id=target.user_id,
                    caller_terminal_id=request.terminal_id,
                    status=CallStatus.CALLING,
                    version=1,
                    created_at=now,
                    timeout_seconds=self._config.ring_timeout,
                )
            )
            event_id = self._store.append_event(call, now)
        self._hub.publish(event_id, self.state_of(call))
        self._schedule(call.timeout_seconds, partial(self.ring_timeout, call.call_id))
        rtc_token, expire_at = self.rtc.issue(channel_name(call), str(user.user_id), now)
        return StartCallData(
            call_id=call.call_id,
            conversation_id=call.conversation_id,
            call_type=call.call_type,
            biz_type=call.biz_type,
            status=call.status.value,
            timeout_seconds=call.timeout_seconds,
            version=call.version,
            channel_name=channel_name(call),
            app_id=self._config.app_id,
            caller_uid=str(user.user_id),
            rtc_token=rtc_token,
            expire_at=expire_at,
        )

    def accept(self, user: User, call_id: int, request: AcceptRequest) -> AcceptData:
        def rule(call: CallRecord, now: datetime) -> CallRecord:
            if call.callee_user_id != user.user_id:
                raise NotCallee()
            if call.status.is_terminal:
                raise CallAlreadyEnded()
            if call.status is not CallStatus.CALLING:
                if call.accepted_terminal_id != request.terminal_id:
                    raise AnsweredElsewhere()
                return call  # the accepting terminal asking again: same answer, no change
            return replace(
                call,
                status=CallStatus.ACCEPTED,
                accepted_at=now,
                accepted_terminal_id=request.terminal_id,
                version=call.version + 1,
            )

        call = self._transition(call_id, rule)
        rtc_token, expire_at = self.rtc.issue(channel_name(call), str(user.user_id), self._clock())
        return AcceptData(
            call_id=call.call_id,
            status=CallStatus.ACCEPTED.value,
            channel_name=channel_name(call),
            app_id=self._config.app_id,
            callee_uid=str(user.user_id),
            rtc_token=rtc_token,
            expire_at=expire_at,
            version=call.version,
        )

    def reject(self, user: User, call_id: int, request: RejectRequest) -> CallStatusData:
        def rule(call: CallRecord, now: datetime) -> CallRecord:
            if call.callee_user_id != user.user_id:
                raise NotCallee()
            if call.status.is_terminal:
                raise CallAlreadyEnded()
            if call.status is not CallStatus.CALLING:
                if call.accepted_terminal_id != request.terminal_id:
                    raise AnsweredElsewhere()
                raise CallStateConflict()  # accepted here: hang up instead
            return _ended(call, CallStatus.REJECTED, request.reason, now)

        return self._status_data(self._transition(call_id, rule))

    def cancel(self, user: User, call_id: int, request: CancelRequest) -> CallStatusData:
        def rule(call: CallRecord, now: datetime) -> CallRecord:
            if call.caller_user_id != user.user_id:
                raise NotCaller()
            if call.status.is_terminal:
                raise CallAlreadyEnded()
            if call.status is not CallStatus.CALLING:
                raise CallStateConflict()
            return _ended(call, CallStatus.CANCELLED, request.reason, now)

        return self._status_data(self._transition(call_id, rule))

    def hangup(self, user: User, call_id: int, request: HangupRequest) -> CallStatusData:
        def rule(call: CallRecord, now: datetime) -> CallRecord:
            if not call.involves(user.user_id):
                raise NotParticipant()
            if call.status.is_terminal:
                raise CallAlreadyEnded()
            if call.status is CallStatus.CALLING:
                raise CallStateConflict()  # still ringing: cancel or reject instead
            return _ended(call, CallStatus.ENDED, request.reason, now)

        return self._status_data(self._transition(call_id, rule))

    def report_media(self, user: User, call_id: int, request: MediaStateRequest) -> MediaStateData:
        def rule(call: CallRecord, now: datetime) -> CallRecord:
            if not call.involves(user.user_id):
                raise NotParticipant()
            if call.status.is_terminal:
                raise CallAlreadyEnded()
            last = self._store.last_media(call.call_id, user.user_id, request.terminal_id)
            self._store.save_media(
                MediaReport(
                    call.call_id, user.user_id, request.terminal_id, request.stage, request.network_quality, now
                )
            )
            if call.status is CallStatus.CALLING:
                return call  # the caller joins early; recorded, but not a change of the call
            if call.status is CallStatus.ACCEPTED and request.stage == MediaStage.JOINED:
                return replace(call, status=CallStatus.ONGOING, started_at=now, version=call.version + 1)
            if last is not None and (last.stage, last.network_quality) == (request.stage, request.network_quality):
                return call
            return replace(call, version=call.version + 1)

        call = self._transition(call_id, rule)
        return MediaStateData(
            call_id=call.call_id, status=call.status.value, started_at=call.started_at, version=call.version
        )

    def state(self, user: User, call_id: int) -> CallState:
        call = self._store.get_call(call_id)
        if call is None:
            raise CallNotFound()
        if not call.involves(user.user_id):
            raise NotParticipant()
        return self.state_of(call)

    # ------------------------------------------------------------------ lists and push (ext)

    def active(self, user: User) -> CallList:
        return CallList(calls=[self.state_of(call) for call in self._store.live_calls_of(user.user_id)])

    def history(self, user: User, limit: int, before_id: int | None) -> CallList:
        calls = self._store.history_of(user.user_id, limit, before_id)
        return CallList(calls=[self.state_of(call) for call in calls])

    def hello(self, user: User, terminal_id: str) -> HelloFrame:
        return HelloFrame(data=HelloData(user_id=user.user_id, terminal_id=terminal_id, calls=self.active(user).calls))

    # ------------------------------------------------------------------ ring timeouts

    def ring_timeout(self, call_id: int) -> None:
        """A ring timer fired: the call ends unless something else moved it out of ``calling`` first."""

        def rule(call: CallRecord, now: datetime) -> CallRecord:
            if call.status is not CallStatus.CALLING:
                return call
            return _ended(call, CallStatus.ENDED, EndReason.NO_ANSWER_TIMEOUT.value, ring_deadline(call))

        self._transition(call_id, rule)

    def resume_ringing(self) -> None:
        """At start-up: end calls whose ring timeout passed while the server was down, re-arm the rest."""
        now = self._clock()
        for call in self._store.calls_with_status(CallStatus.CALLING):
            remaining = (ring_deadline(call) - now).total_seconds()
            if remaining <= 0:
                self.ring_timeout(call.call_id)
            else:
                self._schedule(remaining, partial(self.ring_timeout, call.call_id))

    # ------------------------------------------------------------------ helpers

    def state_of(self, call: CallRecord) -> CallState:
        return CallState(
            call_id=call.call_id,
            status=call.status.value,
            call_type=call.call_type,
            biz_type=call.biz_type,
            conversation_id=call.conversation_id,
            channel_name=channel_name(call),
            app_id=self._config.app_id,
            caller_user_id=call.caller_user_id,
            callee_user_id=call.callee_user_id,
            caller_uid=str(call.caller_user_id),
            callee_uid=str(call.callee_user_id),
            accepted_at=call.accepted_at,
            started_at=call.started_at,
            ended_at=call.ended_at,
            end_reason=call.end_reason,
            version=call.version,
            accepted_terminal_id=call.accepted_terminal_id,
            created_at=call.created_at,
            timeout_seconds=call.timeout_seconds,
        )

    @staticmethod
    def _status_data(call: CallRecord) -> CallStatusData:
        return CallStatusData(
            call_id=call.call_id, status=call.status.value, end_reason=call.end_reason, version=call.version
        )

    def _transition(self, call_id: int, rule: Rule) -> CallRecord:
        """Run ``rule`` on the stored call in one transaction; save, number and push it if it changed."""
        now = self._clock()
        with self._store.atomic():
            call = self._store.get_call(call_id)
            if call is None:
                raise CallNotFound()
            updated = rule(call, now)
            if updated == call:
                return call
            self._store.save_call(updated)
            event_id = self._store.append_event(updated, now)
        self._hub.publish(event_id, self.state_of(updated))
        return updated
