"""The contract every answer is judged by, on hand-made answers: each difference named, with its basis."""

from __future__ import annotations

import json
from typing import Any

import pytest

from softphone.scenario import Basis
from softphone.scenario.contract import Answer, read_answer, review, review_version
from softphone.scenario.judge import judge_group
from softphone.scenario.model import GroupExpect
from softphone.scenario.transport import Exchange

STATE = {
    "call_id": 7, "status": "accepted", "call_type": "audio", "biz_type": "single", "conversation_id": 1001,
    "channel_name": "call_7_1001", "app_id": "app", "caller_user_id": 10001, "callee_user_id": 20002,
    "caller_uid": "10001", "callee_uid": "20002", "accepted_at": "2026-07-05T10:05:10Z", "started_at": None,
    "ended_at": None, "end_reason": None, "version": 2,
}  # fmt: skip


def exchange(body: Any, status: int = 200, text: str | None = None) -> Exchange:
    raw = text if text is not None else json.dumps(body, ensure_ascii=False)
    return Exchange("GET", "/api/calls/7/state", None, status, raw, body if text is None else None, text is None)


def findings(operation: str, body: Any, status: int = 200, sent: dict[str, Any] | None = None) -> list[tuple[Basis, str]]:
    answer, shape = read_answer(exchange(body, status))
    return [(f.basis, f.text) for f in shape + review(operation, answer, call_id=7, sent=sent)]


def test_a_documented_answer_has_nothing_to_say() -> None:
    assert findings("state", {"code": 0, "message": "success", "data": STATE}) == []
    assert findings("state", {"code": 0, "message": "success", "data": {**STATE, "media": None, "x": 1}}) == []


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ({k: v for k, v in STATE.items() if k != "ended_at"}, "state answer lacks ended_at"),
        ({**STATE, "call_id": "7"}, "state answer's call_id is \"7\": input should be a valid integer"),
        ({**STATE, "accepted_at": "2026-07-05 10:05:10"}, "state answer's accepted_at is '2026-07-05 10:05:10', not ISO 8601 UTC with Z"),
        ({**STATE, "rtc_token": "t"}, "the state object carries rtc_token; REFERENCE.md says it has none"),
        ({**STATE, "call_id": 8, "channel_name": "call_8_1001"}, "answer is about call 8, not 7"),
    ],
)
def test_a_documented_difference_is_named(data: dict[str, Any], said: str) -> None:
    assert (Basis.DOCUMENTED, said) in findings("state", {"code": 0, "message": "success", "data": data})


def test_simulator_choices_are_told_apart_from_documented_facts() -> None:
    odd = {**STATE, "channel_name": "room-7", "callee_uid": "u20002"}
    assert findings("state", {"code": 0, "message": "success", "data": odd}) == [
        (Basis.SIMULATOR, "channel_name 'room-7', not 'call_7_1001'"),
        (Basis.SIMULATOR, "callee_uid 'u20002' is not the user id 20002 in decimal"),
    ]
    assert findings("reject", {"code": 41002, "message": "状态不对", "data": None}, status=409) == [
        (Basis.SIMULATOR, "error 41002 says '状态不对'; SIMULATOR.md says '通话状态不允许此操作'"),
        (Basis.SIMULATOR, "error 41002 came with HTTP 409, not 200"),
    ]


def test_envelopes_messages_and_actions() -> None:
    assert findings("state", None, status=502) == [(Basis.DOCUMENTED, "answer is not the {code, message, data} envelope: null")]
    answer, shape = read_answer(exchange(None, 502, text="<html>Bad gateway</html>"))
    assert answer.code is None and shape[0].text == "HTTP 502 answer is not JSON: '<html>Bad gateway</html>'"
    assert findings("accept", {"code": 41004, "message": "非被叫方", "data": {}}) == [
        (Basis.DOCUMENTED, "error 41004 with data {}, not null")
    ]
    assert findings("dial", {"code": 41010, "message": "非参与方", "data": None}) == [
        (Basis.DOCUMENTED, "error 41010 says '非参与方'; REFERENCE.md says '权限或关系校验失败'")
    ]
    assert findings("state", {"code": 41010, "message": "权限或关系校验失败", "data": None}) == []
    ended = {"call_id": 7, "status": "ended", "end_reason": "local_hangup", "version": 5}
    assert findings("hangup", {"code": 0, "message": "ok", "data": ended}, sent={"reason": "gone"}) == [
        (Basis.DOCUMENTED, "success with message 'ok', not 'success'"),
        (Basis.DOCUMENTED, "hangup answered end_reason 'local_hangup', not 'gone'"),
    ]
    assert (Basis.DOCUMENTED, "cancel answered status 'ended', not 'cancelled'") in findings(
        "cancel", {"code": 0, "message": "success", "data": {**ended, "end_reason": "caller_cancel"}}
    )


def test_versions_only_grow_and_grow_with_every_change() -> None:
    def said(operation: str, version: int, status: str, seen: int, seen_status: str) -> list[tuple[Basis, str]]:
        answer = Answer(0, "success", {"call_id": 7, "status": status, "version": version}, 200)
        return [(f.basis, f.text) for f in review_version(operation, answer, seen=seen, seen_status=seen_status)]

    assert said("hangup", 3, "ended", 4, "ongoing") == [
        (Basis.DOCUMENTED, "hangup answered version 3, below version 4 seen before")
    ]
    assert said("reject", 1, "rejected", 1, "calling") == [
        (Basis.DOCUMENTED, "status changed calling → rejected but version stayed 1: not bumped")
    ]
    assert said("reject", 3, "rejected", 1, "calling") == [(Basis.SIMULATOR, "reject moved version 1 → 3, not by exactly 1")]
    assert said("accept", 3, "accepted", 3, "ongoing") == []  # the accepting terminal again: no change
    assert said("state", 4, "ended", 2, "accepted") == []  # unseen changes in between are fine


@pytest.mark.parametrize(
    ("codes", "got", "holds"),
    [
        ([0, 41006], [41006, 0], True),
        ([0, 41006], [0, 0], False),
        ([0, "error"], [41003, 0], True),
        ([0, "error"], [0, 0], False),
        (["error", "error"], [41003, None], False),
    ],
)
def test_a_group_is_judged_on_its_codes_in_any_order(codes: list[int | str], got: list[int | None], holds: bool) -> None:
    found = judge_group(GroupExpect(codes=codes), Basis.SIMULATOR, got)
    assert (found == []) is holds, found
