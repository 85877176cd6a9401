"""The call service on its own: injected clock and scheduler, start-up recovery, media as of a version,
abandoned calls, signed RTC tokens."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from softphone.api import (
    AcceptRequest,
    Action,
    CallType,
    CancelRequest,
    HangupRequest,
    MediaStateRequest,
    StartCallRequest,
)
from softphone.server.app import create_app
from softphone.server.config import ServerConfig
from softphone.server.directory import Directory, User
from softphone.server.hub import Delivery, Hub
from softphone.server.service import CallService
from softphone.server.store import SQLiteStore

T0 = datetime(2026, 7, 5, 10, 5, 0, tzinfo=UTC)


class Harness:
    """A service whose time only moves when the test says and whose timers only fire when asked."""

    def __init__(self, db: str) -> None:
        self.now = T0
        self.timers: list[tuple[float, Callable[[], None]]] = []
        self.directory = Directory.load()
        self.service = self.restart(db)

    def restart(self, db: str) -> CallService:
        self.timers.clear()
        config = ServerConfig(db=db, ring_timeout=30, abandon_timeout=60)
        self.hub = Hub(config)
        self.store = SQLiteStore(db)
        self.service = CallService(
            config, self.store, self.directory, self.hub,
            lambda delay, callback: self.timers.append((delay, callback)), lambda: self.now,
        )  # fmt: skip
        return self.service

    def user(self, user_id: int) -> User:
        user = self.directory.get(user_id)
        assert user is not None
        return user

    def request_by(self, user_id: int) -> None:
        """Any authenticated request of ``user_id``, now."""
        self.service.authenticate(self.service.login(user_id).token)

    def at(self, seconds: float) -> None:
        self.now = T0 + timedelta(seconds=seconds)

    def sweep(self) -> float:
        """Run the abandoned-call sweep now; the delay it re-armed itself with."""
        self.service.sweep_abandoned()
        delay, callback = self.timers[-1]
        assert callback == self.service.sweep_abandoned
        return delay

    def start(self, caller: int = 10001, callee: int = 20002) -> int:
        a, b = self.directory.get(caller), self.directory.get(callee)
        assert a and b
        request = StartCallRequest(
            conversation_id=Directory.conversation_id(a, b), target_user_id=callee, call_type=CallType.AUDIO,
            biz_type="single", terminal_id="t",
        )  # fmt: skip
        return self.service.start(a, request).call_id


def test_start_up_ends_overdue_calls_and_rearms_the_others(tmp_path: Path) -> None:
    db = str(tmp_path / "sim.db")
    harness = Harness(db)
    overdue = harness.start(10001, 20002)
    harness.now = T0 + timedelta(seconds=20)
    pending = harness.start(30003, 40004)
    assert [delay for delay, _ in harness.timers] == [30, 30]

    harness.now = T0 + timedelta(seconds=35)
    service = harness.restart(db)
    service.resume_ringing()

    alice, carol = harness.directory.get(10001), harness.directory.get(30003)
    assert alice and carol
    ended = service.state(alice, overdue)
    assert (ended.status, ended.end_reason, ended.version) == ("ended", "no_answer_timeout", 2)
    assert ended.ended_at == T0 + timedelta(seconds=30), "ended when the ring timeout passed, not at start-up"
    assert [delay for delay, _ in harness.timers] == [pytest.approx(15)]
    assert service.state(carol, pending).status == "calling"
    harness.timers[0][1]()
    assert service.state(carol, pending).end_reason == "no_answer_timeout"


def test_a_timer_firing_after_an_accept_changes_nothing() -> None:
    harness = Harness(":memory:")
    call_id = harness.start()
    bob = harness.directory.get(20002)
    assert bob
    harness.service.accept(bob, call_id, AcceptRequest(terminal_id="b"))
    transactions: list[None] = []
    atomic = harness.store.atomic
    harness.store.atomic = lambda: transactions.append(None) or atomic()  # type: ignore[method-assign]
    harness.timers[0][1]()
    assert transactions == [], "the call left calling through the service: the timer has nothing to look up"
    state = harness.service.state(bob, call_id)
    assert (state.status, state.version) == ("accepted", 2)


def test_rtc_tokens_are_signed_for_one_channel_and_uid_and_expire() -> None:
    harness = Harness(":memory:")
    rtc = harness.service.rtc
    token, expire_at = rtc.issue("call_1_2", "10001", T0)
    assert expire_at == T0 + timedelta(hours=2)
    assert rtc.verify(token, "call_1_2", "10001", T0)
    assert not rtc.verify(token, "call_1_3", "10001", T0)
    assert not rtc.verify(token, "call_1_2", "20002", T0)
    assert not rtc.verify(token, "call_1_2", "10001", expire_at)
    body, _, signature = token.partition(".")
    assert not rtc.verify(f"{body}.{signature[::-1]}", "call_1_2", "10001", T0)


def test_the_rtc_secret_survives_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "sim.db")
    harness = Harness(db)
    token, _ = harness.service.rtc.issue("c", "1", T0)
    assert harness.restart(db).rtc.verify(token, "c", "1", T0)
    assert not Harness(str(tmp_path / "other.db")).service.rtc.verify(token, "c", "1", T0)


def accepted_call(harness: Harness) -> int:
    """Alice calls Bob at T0 and Bob answers, both by request."""
    call_id = harness.start(10001, 20002)
    harness.service.accept(harness.user(20002), call_id, AcceptRequest(terminal_id="b"))
    harness.request_by(10001)
    harness.request_by(20002)
    return call_id


def test_a_repeated_report_is_stored_and_shows_up_at_the_next_change() -> None:
    harness = Harness(":memory:")
    alice, bob = harness.user(10001), harness.user(20002)
    call_id = harness.start()
    harness.at(1)
    harness.service.report_media(alice, call_id, MediaStateRequest(terminal_id="t", stage="joined"))
    harness.at(2)
    harness.service.accept(bob, call_id, AcceptRequest(terminal_id="b"))
    media = harness.service.state(bob, call_id).media
    assert media and media.caller and media.caller.reported_at == T0 + timedelta(seconds=1)

    harness.at(3)
    harness.service.report_media(bob, call_id, MediaStateRequest(terminal_id="b", stage="joined"))
    at_v3 = harness.service.state(bob, call_id)
    harness.at(10)
    harness.service.report_media(bob, call_id, MediaStateRequest(terminal_id="b", stage="joined"))
    assert harness.service.state(alice, call_id) == at_v3, "same version, same state"

    harness.at(12)
    harness.service.report_media(alice, call_id, MediaStateRequest(terminal_id="t", stage="joined", network_quality="good"))
    at_v4 = harness.service.state(alice, call_id)
    assert at_v4.version == 4 and at_v4.media and at_v4.media.callee
    assert at_v4.media.callee.reported_at == T0 + timedelta(seconds=10), "the repeat shows up with the next change"


def test_reports_kept_without_a_change_survive_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "sim.db")
    harness = Harness(db)
    alice, bob = harness.user(10001), harness.user(20002)
    call_id = harness.start()
    harness.at(1)
    harness.service.report_media(alice, call_id, MediaStateRequest(terminal_id="t", stage="joined"))
    harness.restart(db)
    harness.at(2)
    harness.service.accept(bob, call_id, AcceptRequest(terminal_id="b"))
    accepted = harness.service.state(bob, call_id)
    assert accepted.media and accepted.media.caller and accepted.media.caller.reported_at == T0 + timedelta(seconds=1)

    harness.at(3)
    harness.service.report_media(bob, call_id, MediaStateRequest(terminal_id="b", stage="joined", network_quality="good"))
    harness.restart(db)
    harness.at(4)
    said_again = harness.service.report_media(bob, call_id, MediaStateRequest(terminal_id="b", stage="joined", network_quality="good"))
    assert said_again.version == 3, "what the terminal said before the restart is what it says again"


def test_a_calls_media_is_written_with_the_changes_that_change_it_and_reads_the_same_after_a_restart(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "sim.db")
    harness = Harness(db)
    alice, bob = harness.user(10001), harness.user(20002)
    call_id = harness.start()
    updates: list[str] = []
    harness.store._db.set_trace_callback(lambda sql: updates.append(sql) if sql.startswith("UPDATE") else None)

    def sets_media(action: Callable[[], object]) -> bool:
        updates.clear()
        action()
        assert len(updates) == 1
        return "media = " in updates[0]

    harness.at(1)
    assert sets_media(lambda: harness.service.accept(bob, call_id, AcceptRequest(terminal_id="b"))) is False
    harness.at(2)
    assert sets_media(lambda: harness.service.report_media(bob, call_id, MediaStateRequest(terminal_id="b", stage="joined")))
    harness.at(3)
    assert sets_media(lambda: harness.service.report_media(alice, call_id, MediaStateRequest(terminal_id="t", stage="joined")))
    before = harness.service.state(alice, call_id).model_dump_json()
    harness.restart(db)
    assert harness.service.state(alice, call_id).model_dump_json() == before
    harness.at(4)
    ended = harness.service.end(Action.HANGUP, alice, call_id, HangupRequest(terminal_id="t"))
    harness.restart(db)
    after = harness.service.state(alice, call_id)
    assert after.version == ended.version == 5 and after.media and after.media.callee and after.media.caller
    assert after.media.callee.reported_at == T0 + timedelta(seconds=2) and after.media.caller.reported_at == T0 + timedelta(seconds=3)
    harness.store._db.set_trace_callback(lambda sql: updates.append(sql) if sql.startswith("UPDATE") else None)
    call_id = harness.start()
    harness.at(5)
    assert sets_media(lambda: harness.service.end(Action.CANCEL, alice, call_id, CancelRequest(terminal_id="t"))) is False


def test_a_second_simulator_on_the_same_database_never_acts_on_a_stale_call(tmp_path: Path) -> None:
    """A call started through one process and answered through another: the first one's ring timer
    finds it answered, not still ringing (it read the file again before deciding)."""
    db = str(tmp_path / "sim.db")
    first, second = Harness(db), Harness(db)
    call_id = first.start()
    second.service.accept(second.user(20002), call_id, AcceptRequest(terminal_id="b"))
    [(_, ring_timeout)] = first.timers
    ring_timeout()
    state = first.service.state(first.user(10001), call_id)
    assert (state.status, state.version) == ("accepted", 2)


def test_each_change_of_a_call_writes_only_the_pages_it_needs(tmp_path: Path) -> None:
    """A page a commit writes costs about 8 us (a frame of the log, its checksum, two writes): the budget
    per action is the call's row and its version, plus the live-calls list and the indexes where they change."""
    harness = Harness(str(tmp_path / "sim.db"))
    alice, bob = harness.user(10001), harness.user(20002)
    log = tmp_path / "sim.db-wal"
    with sqlite3.connect(tmp_path / "sim.db") as db:
        frame = db.execute("PRAGMA page_size").fetchone()[0] + 24

    def pages(action: Callable[[], object]) -> int:
        before = log.stat().st_size if log.exists() else 0
        action()
        return (log.stat().st_size - before) // frame

    written: dict[str, int] = {}
    for _ in range(2):  # the second call's, once the tables have their first pages
        started: list[int] = []
        written = {"start": pages(lambda: started.append(harness.start()))}
        call_id = started[0]
        written |= {
            "early report": pages(lambda: harness.service.report_media(alice, call_id, MediaStateRequest(terminal_id="t", stage="joined"))),
            "accept": pages(lambda: harness.service.accept(bob, call_id, AcceptRequest(terminal_id="b"))),
            "joined": pages(lambda: harness.service.report_media(bob, call_id, MediaStateRequest(terminal_id="b", stage="joined"))),
            "hangup": pages(lambda: harness.service.end(Action.HANGUP, alice, call_id, HangupRequest(terminal_id="t"))),
        }
    assert written == {"start": 6, "early report": 1, "accept": 2, "joined": 2, "hangup": 3}


async def test_an_answered_call_nobody_uses_ends_as_abandoned_and_is_pushed() -> None:
    harness = Harness(":memory:")
    call_id = accepted_call(harness)
    listener = harness.hub.subscribe(20002, "listener")  # a subscriber of the hub: not a push connection of Bob's
    assert harness.sweep() == 60

    harness.at(59)
    assert harness.sweep() == pytest.approx(1)
    assert harness.service.state(harness.user(10001), call_id).status == "accepted"

    harness.at(60)
    harness.sweep()
    state = harness.service.state(harness.user(10001), call_id)
    assert (state.status, state.end_reason, state.version) == ("ended", "abandoned", 3)
    assert state.ended_at == T0 + timedelta(seconds=60)
    assert (state.ended_by_user_id, state.ended_by_terminal_id) == (None, None)
    delivery = await listener.next(timeout=0)
    assert isinstance(delivery, Delivery)
    pushed = json.loads(delivery.frame.text)
    assert (pushed["type"], pushed["data"]["end_reason"], pushed["data"]["version"]) == ("call.updated", "abandoned", 3)


def test_a_request_or_an_open_push_connection_keeps_the_call() -> None:
    harness = Harness(":memory:")
    call_id = accepted_call(harness)
    alice, bob = harness.user(10001), harness.user(20002)
    harness.at(30)
    harness.request_by(20002)
    harness.at(60)
    assert harness.sweep() == pytest.approx(30), "one party's request counts for the call"

    with harness.service.connected(bob):
        harness.at(500)
        assert harness.sweep() == 60
        assert harness.service.state(alice, call_id).status == "accepted"
    harness.at(559)
    harness.sweep()
    assert harness.service.state(alice, call_id).status == "accepted", "quiet since the connection closed"
    harness.at(560)
    harness.sweep()
    state = harness.service.state(alice, call_id)
    assert (state.end_reason, state.ended_at) == ("abandoned", T0 + timedelta(seconds=560))


def test_a_ringing_call_keeps_its_ring_timeout_and_a_hangup_is_not_abandoned() -> None:
    harness = Harness(":memory:")
    alice, bob = harness.user(10001), harness.user(20002)
    ringing = harness.start(10001, 20002)
    hung_up = harness.start(30003, 40004)
    harness.service.accept(harness.user(40004), hung_up, AcceptRequest(terminal_id="d"))
    harness.service.end(Action.HANGUP, harness.user(30003), hung_up, HangupRequest(terminal_id="c"))
    harness.at(1000)
    harness.sweep()
    assert harness.service.state(alice, ringing).status == "calling"
    assert harness.service.state(bob, ringing).version == 1
    assert harness.service.state(harness.user(30003), hung_up).end_reason == "local_hangup"


def test_calls_from_before_a_restart_get_the_whole_timeout_from_the_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "sim.db")
    harness = Harness(db)
    call_id = accepted_call(harness)
    harness.at(1000)
    service = harness.restart(db)
    assert harness.sweep() == 60
    alice = harness.user(10001)
    assert service.state(alice, call_id).status == "accepted"
    harness.at(1060)
    harness.sweep()
    state = service.state(alice, call_id)
    assert (state.status, state.end_reason, state.ended_at) == ("ended", "abandoned", T0 + timedelta(seconds=1060))


def test_thousands_of_generated_users_cost_no_conversation_work_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    computed: list[tuple[User, User]] = []
    original = Directory.conversation_id
    monkeypatch.setattr(Directory, "conversation_id", lambda a, b: computed.append((a, b)) or original(a, b))
    app = create_app(ServerConfig(generated_users=20_000))
    directory: Directory = app.state.service.directory
    assert len(directory.users) == 6 + 20_000 and computed == []
    first, last = directory.find("u0001"), directory.find(120_000)
    assert first and last and (first.user_id, last.name, last.display_name) == (100_001, "u20000", "User 20000")
    assert Directory.conversation_id(first, last) == Directory.conversation_id(last, first) > 0
