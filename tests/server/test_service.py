"""The call service on its own: injected clock and scheduler, start-up recovery, signed RTC tokens."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from softphone.api import AcceptRequest, CallType, StartCallRequest
from softphone.server.config import ServerConfig
from softphone.server.directory import Directory
from softphone.server.hub import Hub
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
        config = ServerConfig(db=db, ring_timeout=30)
        self.service = CallService(
            config, SQLiteStore(db), self.directory, Hub(config),
            lambda delay, callback: self.timers.append((delay, callback)), lambda: self.now,
        )  # fmt: skip
        return self.service

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
    harness.timers[0][1]()
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
