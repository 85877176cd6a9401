"""The JSON line shapes: built from a call's timeline (as ``--json`` and the TUI's export do), and written."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from softphone.api import Action, CallStatusData, InvalidParams, ServerUnreachable, StartCallData
from softphone.core import CallMachine, Role, Source
from softphone.records import ErrorRecord, EventRecord, SummaryRecord, timeline_records

T0 = datetime(2026, 7, 5, 10, 5, 0, 123456, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def started() -> StartCallData:
    return StartCallData(
        call_id=17, conversation_id=1001, call_type="audio", biz_type="single", status="calling", timeout_seconds=30,
        version=1, channel_name="call_17_1001", app_id="app", caller_uid="10001", rtc_token="rtc-secret-0123456789",
    )  # fmt: skip


def test_a_timeline_becomes_events_and_errors_in_order() -> None:
    machine = CallMachine(17, my_user_id=10001, my_terminal_id="t", role=Role.CALLER, peer_user_id=20002)
    machine.apply(started(), Source.RESPONSE, at(0))
    machine.apply(started(), Source.PUSH, at(0.1))
    machine.record_action(Action.REPORT_MEDIA, at(0.2), "joined, good")
    machine.record_error(Action.REPORT_MEDIA, 40001, "参数错误: stage", at(0.3))
    machine.record_action(Action.HANGUP, at(1))
    ended = CallStatusData(call_id=17, status="ended", end_reason="local_hangup", version=5)
    machine.apply(ended, Source.RESPONSE, at(2))

    records = timeline_records(machine)
    assert [json.loads(r.line()) | {"at": None} for r in records] == [
        {"kind": "event", "at": None, "call_id": 17, "version": 1, "status": "calling", "source": "response",
         "changes": ["audio call", "rings 30s"]},
        {"kind": "event", "at": None, "call_id": 17, "version": 1, "status": "calling", "source": "push",
         "marker": "duplicate"},
        {"kind": "event", "at": None, "call_id": 17, "version": 1, "status": "calling", "source": "local",
         "action": "media-state", "detail": "joined, good"},
        {"kind": "error", "at": None, "code": 40001, "message": "参数错误: stage", "call_id": 17,
         "action": "media-state"},
        {"kind": "event", "at": None, "call_id": 17, "version": 1, "status": "calling", "source": "local",
         "action": "hangup"},
        {"kind": "event", "at": None, "call_id": 17, "version": 5, "status": "ended", "source": "response",
         "end_reason": "local_hangup", "marker": "gap", "detail": "missed v2..v4", "changes": ["local_hangup"]},
    ]  # fmt: skip
    assert [r.at for r in records] == [at(0), at(0.1), at(0.2), at(0.3), at(1), at(2)]
    assert timeline_records(machine, start=4) == records[4:]


def test_a_line_is_iso_utc_to_the_millisecond_unescaped_and_without_credentials() -> None:
    line = EventRecord.from_data(started(), at(0)).line()
    assert line.startswith('{"kind": "event", "at": "2026-07-05T10:05:00.123Z", "call_id": 17,')
    data = json.loads(line)
    assert data["source"] == "response" and data["expire_at"] is None  # a field the server sent as null stays
    assert data["rtc_token"] == "rtc-…"
    refused = ErrorRecord.from_error(InvalidParams("参数错误: 太长"), at(0), call_id=3, action="reject").line()
    assert "参数错误: 太长" in refused
    unreachable = json.loads(ErrorRecord.from_error(ServerUnreachable("no route"), at(0)).line())
    assert (unreachable["code"], unreachable["message"]) == (None, "no route")
    assert "call_id" not in unreachable and "action" not in unreachable
    assert json.loads(SummaryRecord(at=at(0), calls=2).line()) == {"kind": "summary", "at": "2026-07-05T10:05:00.123Z", "calls": 2}
