"""The call service: every rule of the simulated call API, and nothing about HTTP.

Which action is allowed from which status, and which error refuses it in which order, is the
transition table of ``softphone.api`` (``RULES``); this module applies it. Each action says what it
changes (a ``Change``: the fields it sets); ``_transition`` alone checks, numbers (version + 1),
saves and publishes, inside one store transaction, so a change is pushed exactly once and only after
it is committed; it also takes the participants' media as of the new version, so ``media`` changes only
with a version bump. With SQLite's ``synchronous=NORMAL`` in WAL mode a committed change survives a
crash of the process (not a power loss before the next checkpoint).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from softphone.api import (
    ABANDONED_REASON,
    IN_PROGRESS_STATUSES,
    LIVE_STATUSES,
    RULES,
    AcceptData,
    AcceptRequest,
    Action,
    CalleeBusy,
    CallList,
    CallMedia,
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
    NotParticipant,
    PartyMedia,
    RejectRequest,
    ResetData,
    SimulatorInfo,
    StartCallData,
    StartCallRequest,
    Unauthorized,
    ring_deadline,
)
from softphone.server.activity import Activity
from softphone.server.config import ServerConfig
from softphone.server.directory import Directory, User
from softphone.server.hub import Hub
from softphone.server.store import CallRecord, MediaReport, MediaReports, Store
from softphone.server.tokens import RtcSigner, hash_login_token, new_login_token, new_secret

Clock = Callable[[], datetime]
Scheduler = Callable[[float, Callable[[], None]], None]
"""Run a callback after a delay in seconds: how the service arms ring timers."""

Change = dict[str, Any]
"""The fields of a call an action sets (never ``version``: ``_transition`` numbers every change)."""
Decide = Callable[[CallRecord | None, datetime], Change | None]
"""Given the stored call (``None`` if there is none) and the time: a change, ``None`` for no change, or an error."""
EndRequest = RejectRequest | CancelRequest | HangupRequest
ActionRequest = AcceptRequest | EndRequest | MediaStateRequest
ActionData = AcceptData | CallStatusData | MediaStateData

DERIVED_STATE_FIELDS = frozenset({"channel_name", "app_id", "caller_uid", "callee_uid"})
"""``CallState`` fields computed from the record rather than stored; every other one is a ``CallRecord`` field."""
STORED_STATE_FIELDS = tuple(name for name in CallState.model_fields if name not in DERIVED_STATE_FIELDS)


def system_clock() -> datetime:
    return datetime.now(UTC)


def channel_name(call: CallRecord) -> str:
    return f"call_{call.call_id}_{call.conversation_id}"


@dataclass(frozen=True)
class Credential:
    """A valid login token's user, what the store knows it by, and when it stops being valid."""

    user: User
    token_hash: str
    expires_at: datetime


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
        self._activity = Activity(clock)
        self._ringing: set[int] = set()
        """Calls in ``calling`` with a ring timer armed: a timer for any other call has nothing to do."""
        self.started_at = clock()
        secret = store.setting("rtc_secret", new_secret)
        self.rtc = RtcSigner(config.app_id, secret, config.rtc_token_lifetime)

    @property
    def directory(self) -> Directory:
        return self._directory

    # ------------------------------------------------------------------ users (ext)

    def login(self, key: str | int) -> LoginData:
        user = self._directory.find(key)
        if user is None:
            raise InvalidParams.because(f"user: no such user {key!r}")
        token = new_login_token()
        self._store.save_token(hash_login_token(token), user.user_id, self._clock())
        return LoginData(token=token, user_id=user.user_id, name=user.name)

    def authenticate(self, token: str | None) -> Credential:
        """The token's credential; ``Unauthorized`` for a missing, unknown, revoked or expired token."""
        if not token:
            raise Unauthorized()
        token_hash = hash_login_token(token)
        owner = self._store.token_owner(token_hash)
        user = self._directory.get(owner[0]) if owner is not None else None
        if owner is None or user is None:
            raise Unauthorized()
        expires_at = owner[1] + self._config.token_ttl
        if expires_at <= self._clock():
            self._store.revoke_token(token_hash)
            raise Unauthorized()
        self._activity.seen(user.user_id)
        return Credential(user, token_hash, expires_at)

    def logout(self, credential: Credential) -> None:
        """Revoke the token: refused from now on, and its open push connections are closed."""
        self._store.revoke_token(credential.token_hash)
        self._hub.revoke(credential.token_hash)

    def seconds_left(self, credential: Credential) -> float:
        """How long the credential stays valid: open push connections close when it runs out."""
        return max(0.0, (credential.expires_at - self._clock()).total_seconds())

    @contextmanager
    def connected(self, user: User) -> Iterator[None]:
        """One open push connection of ``user``: keeps the user's calls from being abandoned."""
        with self._activity.connected(user.user_id):
            yield

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
        """Refusals in the order of ``START_REFUSALS``: relationship, callee busy, caller busy."""
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
        self._publish(event_id, call)
        self._arm_ring_timer(call.call_id, call.timeout_seconds)
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

    def act(self, action: Action, user: User, call_id: int, request: ActionRequest) -> ActionData:
        """Any action on an existing call, by its name in the table: the routes' one way in."""
        match action, request:
            case Action.ACCEPT, AcceptRequest():
                return self.accept(user, call_id, request)
            case Action.REPORT_MEDIA, MediaStateRequest():
                return self.report_media(user, call_id, request)
            case (Action.REJECT, RejectRequest()) | (Action.CANCEL, CancelRequest()) | (Action.HANGUP, HangupRequest()):
                return self.end(action, user, call_id, request)
        raise TypeError(f"{action} does not take a {type(request).__name__}")

    def accept(self, user: User, call_id: int, request: AcceptRequest) -> AcceptData:
        """The accepting terminal asking again gets the same answer with the current version."""

        def change(_: CallRecord, now: datetime) -> Change:
            return {"accepted_at": now, "accepted_terminal_id": request.terminal_id}

        call = self._transition(call_id, self._by_rule(Action.ACCEPT, user, request.terminal_id, change))
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

    def end(self, action: Action, user: User, call_id: int, request: EndRequest) -> CallStatusData:
        """Reject, cancel and hang up: the table decides which is allowed; each records who ended it."""

        def change(_: CallRecord, now: datetime) -> Change:
            return {
                "end_reason": request.reason,
                "ended_at": now,
                "ended_by_user_id": user.user_id,
                "ended_by_terminal_id": request.terminal_id,
            }

        call = self._transition(call_id, self._by_rule(action, user, request.terminal_id, change))
        return CallStatusData(
            call_id=call.call_id, status=call.status.value, end_reason=call.end_reason, version=call.version
        )

    def report_media(self, user: User, call_id: int, request: MediaStateRequest) -> MediaStateData:
        """Recorded per terminal; a change of the call only from ``accepted`` on, and only when it differs."""

        def change(call: CallRecord, now: datetime) -> Change | None:
            last = call.media_reports.last_of(user.user_id, request.terminal_id)
            report = MediaReport(user.user_id, request.terminal_id, request.stage, request.network_quality, now)
            recorded: Change = {"media_reports": call.media_reports.with_report(report)}
            if call.status is CallStatus.ACCEPTED and request.stage == MediaStage.JOINED:
                return {**recorded, "status": CallStatus.ONGOING, "started_at": now}
            said_before = last is not None and (last.stage, last.network_quality) == (report.stage, report.network_quality)
            if call.status is not CallStatus.CALLING and not said_before:
                return recorded
            # The caller joining early, or a terminal saying again what it said: recorded, not a change.
            self._store.save_call(call.but(**recorded), recorded)
            return None

        call = self._transition(call_id, self._by_rule(Action.REPORT_MEDIA, user, request.terminal_id, change))
        return MediaStateData(
            call_id=call.call_id, status=call.status.value, started_at=call.started_at, version=call.version
        )

    def state(self, user: User, call_id: int) -> CallState:
        call = self._store.get_call(call_id)
        refusal = RULES[Action.STATE].refusal(call, user.user_id, terminal_id="")
        if refusal is not None:
            raise refusal.error()
        assert call is not None
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

    def _arm_ring_timer(self, call_id: int, delay: float) -> None:
        self._ringing.add(call_id)
        self._schedule(delay, partial(self.ring_timeout, call_id))

    def ring_timeout(self, call_id: int) -> None:
        """A ring timer fired: the call ends unless something else moved it out of ``calling`` first.

        Most calls are answered, rejected or cancelled before their timer fires; those are known to
        have left ``calling`` (``_transition`` said so), so no transaction is opened for them.
        """
        if call_id not in self._ringing:
            return

        def decide(call: CallRecord | None, _: datetime) -> Change | None:
            if call is None or call.status is not CallStatus.CALLING:
                return None
            return {
                "status": CallStatus.ENDED,
                "end_reason": EndReason.NO_ANSWER_TIMEOUT.value,
                "ended_at": ring_deadline(call.created_at, call.timeout_seconds),
            }

        self._transition(call_id, decide)

    def resume_ringing(self) -> None:
        """At start-up: end calls whose ring timeout passed while the server was down, re-arm the rest."""
        now = self._clock()
        for call in self._store.live_calls_with_status(CallStatus.CALLING):
            remaining = (ring_deadline(call.created_at, call.timeout_seconds) - now).total_seconds()
            if remaining <= 0:
                self._ringing.add(call.call_id)
                self.ring_timeout(call.call_id)
            else:
                self._arm_ring_timer(call.call_id, remaining)

    # ------------------------------------------------------------------ abandoned calls

    def sweep_abandoned(self) -> None:
        """End answered calls whose parties have both been quiet for the abandon timeout.

        A ringing call is left to its ring timer. Run once at start-up; it re-arms itself for the
        next deadline it can see (at the latest one timeout away, for parties still connected).
        """
        now = self._clock()
        limit = timedelta(seconds=self._config.abandon_timeout)
        next_check = limit
        for call in self._store.live_calls_with_status(*IN_PROGRESS_STATUSES):
            quiet_since = self._activity.quiet_since(call.caller_user_id, call.callee_user_id)
            if quiet_since is None:
                continue
            deadline = quiet_since + limit
            if deadline <= now:
                self._transition(call.call_id, _abandoned_at(deadline, IN_PROGRESS_STATUSES))
            else:
                next_check = min(next_check, deadline - now)
        self._schedule(next_check.total_seconds(), self.sweep_abandoned)

    # ------------------------------------------------------------------ the simulator itself (ext, loopback)

    def simulator_info(self, faults_injected: dict[str, int]) -> SimulatorInfo:
        """The process and its calls; the faults' counts come from the faults, which the service does not hold."""
        live = Counter(call.status.value for call in self._store.live_calls_with_status(*LIVE_STATUSES))
        return SimulatorInfo(
            pid=os.getpid(),
            database=self._config.db,
            started_at=self.started_at,
            live_calls={status.value: live[status.value] for status in CallStatus if status in LIVE_STATUSES},
            faults_injected=faults_injected,
        )

    def abandon_live_calls(self) -> ResetData:
        """``softphone sim reset``: every live call ends as ``abandoned`` now, pushed like any change."""
        calls = self._store.live_calls_with_status(*LIVE_STATUSES)
        now = self._clock()
        for call in calls:
            self._transition(call.call_id, _abandoned_at(now, LIVE_STATUSES))
        return ResetData(ended=len(calls))

    # ------------------------------------------------------------------ the one path of every change

    def state_of(self, call: CallRecord) -> CallState:
        """The wire state of a stored call: stored fields by name, the rest derived."""
        return CallState(
            **{name: getattr(call, name) for name in STORED_STATE_FIELDS},
            channel_name=channel_name(call),
            app_id=self._config.app_id,
            caller_uid=str(call.caller_user_id),
            callee_uid=str(call.callee_user_id),
        )

    @staticmethod
    def _by_rule(
        action: Action, user: User, terminal_id: str, change: Callable[[CallRecord, datetime], Change | None]
    ) -> Decide:
        """The table's checks for ``action`` in their order, then (unless a repeat) the action's change."""
        rule = RULES[action]

        def decide(call: CallRecord | None, now: datetime) -> Change | None:
            refusal = rule.refusal(call, user.user_id, terminal_id)
            if refusal is not None:
                raise refusal.error()
            assert call is not None
            if not rule.changes(call):
                return None
            made = change(call, now)
            if made is None:
                return None
            return made if rule.result is None else {"status": rule.result, **made}

        return decide

    def _transition(self, call_id: int, decide: Decide) -> CallRecord:
        """Decide on the stored call in one transaction; save, number and push it if it changed."""
        now = self._clock()
        with self._store.atomic():
            call = self._store.get_call(call_id)
            change = decide(call, now)
            if call is None:
                raise CallNotFound()
            if change is None:
                return call
            media = self._media_of(call, change.get("media_reports", call.media_reports))
            updated = call.but(**change, version=call.version + 1, media=media)
            self._store.save_call(updated, [*change, "version"] if media is call.media else [*change, "version", "media"])
            event_id = self._store.append_event(updated, now)
        if updated.status is not CallStatus.CALLING:
            self._ringing.discard(call_id)
        self._publish(event_id, updated)
        return updated

    def _publish(self, event_id: int, call: CallRecord) -> None:
        """Push a committed change to the parties' connections; its wire state is built only for listeners."""
        if self._hub.listening(call.caller_user_id, call.callee_user_id):
            self._hub.publish(event_id, self.state_of(call))

    @staticmethod
    def _media_of(call: CallRecord, media_reports: MediaReports) -> CallMedia:
        """Each participant's last report, whatever it changed: what the next version shows. The call's own
        media (the same object) when that is what it shows already: nothing to build, nor to write."""
        reports = media_reports.last_by_user()
        caller, callee = reports.get(call.caller_user_id), reports.get(call.callee_user_id)
        if _shows(call.media.caller, caller) and _shows(call.media.callee, callee):
            return call.media
        return CallMedia(caller=_party_media(caller), callee=_party_media(callee))


def _shows(media: PartyMedia | None, report: MediaReport | None) -> bool:
    """Whether a party's media is what ``report`` says, to the microsecond."""
    if media is None or report is None:
        return media is report
    return (media.stage, media.network_quality, media.reported_at) == (report.stage, report.network_quality, report.reported_at)


def _party_media(report: MediaReport | None) -> PartyMedia | None:
    if report is None:
        return None
    return PartyMedia(stage=report.stage, network_quality=report.network_quality, reported_at=report.reported_at)


def _abandoned_at(moment: datetime, statuses: frozenset[CallStatus]) -> Decide:
    """End a call still in one of ``statuses`` as ``abandoned`` at ``moment``; ended by nobody."""

    def decide(call: CallRecord | None, _: datetime) -> Change | None:
        if call is None or call.status not in statuses:
            return None
        return {"status": CallStatus.ENDED, "end_reason": ABANDONED_REASON, "ended_at": moment}

    return decide
