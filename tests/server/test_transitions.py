"""Every row of the transition table and every business code, over real HTTP and in-process."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .conftest import ALICE, BOB, CALLEE_TERMINAL, CALLER_TERMINAL, CAROL, DEFAULT_REASONS, Parties

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
START_KEYS = {
    "call_id", "conversation_id", "call_type", "biz_type", "status", "timeout_seconds", "version",
    "channel_name", "app_id", "caller_uid", "rtc_token", "expire_at",
}  # fmt: skip
ACCEPT_KEYS = {"call_id", "status", "channel_name", "app_id", "callee_uid", "rtc_token", "expire_at", "version"}
STATUS_KEYS = {"call_id", "status", "end_reason", "version"}
MEDIA_KEYS = {"call_id", "status", "started_at", "version"}
STATE_KEYS = {
    "call_id", "status", "call_type", "biz_type", "conversation_id", "channel_name", "app_id",
    "caller_user_id", "callee_user_id", "caller_uid", "callee_uid", "accepted_at", "started_at",
    "ended_at", "end_reason", "version", "accepted_terminal_id", "created_at", "timeout_seconds",
    "caller_terminal_id", "ended_by_user_id", "ended_by_terminal_id", "media",
}  # fmt: skip


def parse(timestamp: str) -> datetime:
    assert TIMESTAMP.match(timestamp), timestamp
    return datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def error(body: dict[str, Any], code: int, message: str) -> None:
    assert (body["code"], body["message"], body["data"]) == (code, message, None)


async def ringing(p: Parties) -> int:
    started = await p.api.start(p.alice, BOB)
    assert started["code"] == 0, started
    call_id: int = started["data"]["call_id"]
    return call_id


async def accepted(p: Parties) -> int:
    call_id = await ringing(p)
    assert (await p.api.act(call_id, "accept", p.bob, CALLEE_TERMINAL))["code"] == 0
    return call_id


async def ongoing(p: Parties) -> int:
    call_id = await accepted(p)
    assert (await p.api.act(call_id, "media-state", p.bob, CALLEE_TERMINAL, stage="joined"))["data"]["status"] == "ongoing"
    return call_id


async def cancelled(p: Parties) -> int:
    call_id = await ringing(p)
    assert (await p.api.act(call_id, "cancel", p.alice, CALLER_TERMINAL))["code"] == 0
    return call_id


async def test_a_plain_call_runs_v1_to_v5_as_documented(parties: Parties) -> None:
    api, alice, bob = parties.api, parties.alice, parties.bob
    conversation = await api.conversation(alice, BOB)
    started = (await api.start(alice, BOB, call_type="video"))["data"]
    call_id = started["call_id"]
    assert set(started) == START_KEYS
    assert started["status"] == "calling" and started["version"] == 1 and started["timeout_seconds"] == 30
    assert (started["conversation_id"], started["call_type"], started["biz_type"]) == (conversation, "video", "single")
    assert started["channel_name"] == f"call_{call_id}_{conversation}"
    assert started["caller_uid"] == str(ALICE) and started["rtc_token"]
    expires_in = parse(started["expire_at"]) - datetime.now(UTC)
    assert timedelta(hours=2) - timedelta(minutes=1) < expires_in <= timedelta(hours=2)

    # The caller joins its channel right away: recorded, but not a change while ringing.
    early = (await api.act(call_id, "media-state", alice, CALLER_TERMINAL, stage="joining"))["data"]
    assert early == {"call_id": call_id, "status": "calling", "started_at": None, "version": 1}

    answer = (await api.act(call_id, "accept", bob, CALLEE_TERMINAL))["data"]
    assert set(answer) == ACCEPT_KEYS
    assert (answer["status"], answer["version"], answer["callee_uid"]) == ("accepted", 2, str(BOB))
    assert answer["channel_name"] == started["channel_name"] and answer["app_id"] == started["app_id"]
    assert answer["rtc_token"] != started["rtc_token"]
    state = (await api.state(call_id, alice))["data"]
    assert state["accepted_terminal_id"] == CALLEE_TERMINAL and parse(state["accepted_at"])

    joined = (await api.act(call_id, "media-state", bob, CALLEE_TERMINAL, stage="joined"))["data"]
    assert set(joined) == MEDIA_KEYS
    assert (joined["status"], joined["version"]) == ("ongoing", 3) and parse(joined["started_at"])
    caller_joined = await api.act(call_id, "media-state", alice, CALLER_TERMINAL, stage="joined", network_quality="good")
    assert (caller_joined["data"]["status"], caller_joined["data"]["version"]) == ("ongoing", 4)
    repeat = await api.act(call_id, "media-state", alice, CALLER_TERMINAL, stage="joined", network_quality="good")
    assert repeat["data"]["version"] == 4, "an identical repeat is not a change"
    poorer = await api.act(call_id, "media-state", alice, CALLER_TERMINAL, stage="joined", network_quality="poor")
    assert poorer["data"]["version"] == 5
    assert poorer["data"]["started_at"] == joined["started_at"]

    ended = (await api.act(call_id, "hangup", bob, CALLEE_TERMINAL))["data"]
    assert ended == {"call_id": call_id, "status": "ended", "end_reason": "local_hangup", "version": 6}

    final = (await api.state(call_id, bob))["data"]
    assert set(final) == STATE_KEYS
    assert final["call_id"] == call_id and final["status"] == "ended" and final["version"] == 6
    assert (final["caller_user_id"], final["callee_user_id"]) == (ALICE, BOB)
    assert (final["caller_uid"], final["callee_uid"]) == (str(ALICE), str(BOB))
    assert (final["call_type"], final["biz_type"], final["conversation_id"]) == ("video", "single", conversation)
    assert final["end_reason"] == "local_hangup" and final["timeout_seconds"] == 30
    assert (final["caller_terminal_id"], final["accepted_terminal_id"]) == (CALLER_TERMINAL, CALLEE_TERMINAL)
    assert (final["ended_by_user_id"], final["ended_by_terminal_id"]) == (BOB, CALLEE_TERMINAL)
    assert parse(final["created_at"]) <= parse(final["accepted_at"]) <= parse(final["started_at"]) <= parse(final["ended_at"])
    assert "rtc_token" not in final
    # Terminal: nothing moves it again.
    error(await api.act(call_id, "media-state", alice, CALLER_TERMINAL, stage="left"), 41007, "通话已结束")
    error(await api.act(call_id, "hangup", alice, CALLER_TERMINAL), 41007, "通话已结束")
    assert (await api.state(call_id, alice))["data"] == final


@pytest.mark.parametrize("action", ["reject", "cancel"])
@pytest.mark.parametrize("reason", [None, "changed_my_mind"])
async def test_reject_and_cancel_end_a_ringing_call(parties: Parties, action: str, reason: str | None) -> None:
    api = parties.api
    call_id = await ringing(parties)
    token, terminal = (parties.bob, CALLEE_TERMINAL) if action == "reject" else (parties.alice, CALLER_TERMINAL)
    extra = {} if reason is None else {"reason": reason}
    data = (await api.act(call_id, action, token, terminal, **extra))["data"]
    status = {"reject": "rejected", "cancel": "cancelled"}[action]
    assert data == {"call_id": call_id, "status": status, "end_reason": reason or DEFAULT_REASONS[action], "version": 2}
    state = (await api.state(call_id, parties.alice))["data"]
    assert state["status"] == status and parse(state["ended_at"]) and state["accepted_at"] is None
    # Both parties are free again.
    assert (await api.start(parties.bob, ALICE))["code"] == 0


async def test_hangup_from_the_caller_with_a_reason(parties: Parties) -> None:
    call_id = await accepted(parties)
    data = (await parties.api.act(call_id, "hangup", parties.alice, "another-alice-terminal", reason="network"))["data"]
    assert data == {"call_id": call_id, "status": "ended", "end_reason": "network", "version": 3}


async def test_start_errors_in_order(parties: Parties) -> None:
    api, alice = parties.api, parties.alice
    body = {"conversation_id": await api.conversation(alice, BOB), "target_user_id": BOB, "call_type": "audio",
            "biz_type": "single", "terminal_id": CALLER_TERMINAL}  # fmt: skip
    relationship = "权限或关系校验失败"
    error(await api.post("/api/calls/session", alice, {**body, "target_user_id": 99999}), 41010, relationship)
    error(await api.post("/api/calls/session", alice, {**body, "target_user_id": ALICE}), 41010, relationship)
    wrong_conversation = await api.conversation(alice, CAROL)
    error(await api.post("/api/calls/session", alice, {**body, "conversation_id": wrong_conversation}), 41010, relationship)

    assert (await api.start(parties.carol, BOB))["code"] == 0  # Bob is now busy
    error(await api.start(alice, BOB), 41003, "对方忙线")
    error(await api.start(parties.bob, ALICE), 41002, "通话状态不允许此操作")  # Alice free, Bob (caller) busy
    error(await api.start(parties.carol, ALICE), 41002, "通话状态不允许此操作")


async def test_busy_covers_accepted_and_ongoing_calls(parties: Parties) -> None:
    await ongoing(parties)
    error(await parties.api.start(parties.carol, ALICE), 41003, "对方忙线")
    error(await parties.api.start(parties.carol, BOB), 41003, "对方忙线")


async def test_accept_errors_in_order(parties: Parties) -> None:
    api = parties.api
    error(await api.act(999_999, "accept", parties.bob, CALLEE_TERMINAL), 41001, "通话不存在")
    call_id = await cancelled(parties)
    error(await api.act(call_id, "accept", parties.carol, CALLEE_TERMINAL), 41004, "非被叫方")
    error(await api.act(call_id, "accept", parties.alice, CALLER_TERMINAL), 41004, "非被叫方")
    error(await api.act(call_id, "accept", parties.bob, CALLEE_TERMINAL), 41007, "通话已结束")

    call_id = await accepted(parties)
    error(await api.act(call_id, "accept", parties.bob, "other-bob-terminal"), 41006, "已被其他终端接听")


async def test_the_accepting_terminal_may_accept_again_without_a_change(parties: Parties) -> None:
    api = parties.api
    call_id = await accepted(parties)
    again = (await api.act(call_id, "accept", parties.bob, CALLEE_TERMINAL))["data"]
    assert (again["status"], again["version"]) == ("accepted", 2)
    await api.act(call_id, "media-state", parties.bob, CALLEE_TERMINAL, stage="joined")
    once_ongoing = (await api.act(call_id, "accept", parties.bob, CALLEE_TERMINAL))["data"]
    assert (once_ongoing["status"], once_ongoing["version"]) == ("accepted", 3)
    assert (await api.state(call_id, parties.bob))["data"]["status"] == "ongoing"


async def test_reject_errors_in_order(parties: Parties) -> None:
    api = parties.api
    error(await api.act(999_999, "reject", parties.bob, CALLEE_TERMINAL), 41001, "通话不存在")
    call_id = await cancelled(parties)
    error(await api.act(call_id, "reject", parties.alice, CALLER_TERMINAL), 41004, "非被叫方")
    error(await api.act(call_id, "reject", parties.bob, CALLEE_TERMINAL), 41007, "通话已结束")

    call_id = await accepted(parties)
    error(await api.act(call_id, "reject", parties.bob, "other-bob-terminal"), 41006, "已被其他终端接听")
    error(await api.act(call_id, "reject", parties.bob, CALLEE_TERMINAL), 41002, "通话状态不允许此操作")
    assert (await api.state(call_id, parties.bob))["data"]["version"] == 2


async def test_cancel_errors_in_order(parties: Parties) -> None:
    api = parties.api
    error(await api.act(999_999, "cancel", parties.alice, CALLER_TERMINAL), 41001, "通话不存在")
    call_id = await cancelled(parties)
    error(await api.act(call_id, "cancel", parties.bob, CALLEE_TERMINAL), 41005, "非主叫方")
    error(await api.act(call_id, "cancel", parties.alice, CALLER_TERMINAL), 41007, "通话已结束")

    call_id = await accepted(parties)
    error(await api.act(call_id, "cancel", parties.alice, CALLER_TERMINAL), 41002, "通话状态不允许此操作")


async def test_hangup_errors_in_order(parties: Parties) -> None:
    api = parties.api
    error(await api.act(999_999, "hangup", parties.alice, CALLER_TERMINAL), 41001, "通话不存在")
    call_id = await ringing(parties)
    error(await api.act(call_id, "hangup", parties.carol, "carol-term"), 41010, "非参与方")
    error(await api.act(call_id, "hangup", parties.alice, CALLER_TERMINAL), 41002, "通话状态不允许此操作")
    error(await api.act(call_id, "hangup", parties.bob, CALLEE_TERMINAL), 41002, "通话状态不允许此操作")
    await api.act(call_id, "cancel", parties.alice, CALLER_TERMINAL)
    error(await api.act(call_id, "hangup", parties.carol, "carol-term"), 41010, "非参与方")
    error(await api.act(call_id, "hangup", parties.alice, CALLER_TERMINAL), 41007, "通话已结束")


async def test_media_state_errors_in_order(parties: Parties) -> None:
    api = parties.api
    error(await api.act(999_999, "media-state", parties.alice, CALLER_TERMINAL, stage="joined"), 41001, "通话不存在")
    call_id = await cancelled(parties)
    error(await api.act(call_id, "media-state", parties.carol, "carol-term", stage="joined"), 41010, "非参与方")
    error(await api.act(call_id, "media-state", parties.alice, CALLER_TERMINAL, stage="joined"), 41007, "通话已结束")


async def test_state_errors(parties: Parties) -> None:
    api = parties.api
    error(await api.state(999_999, parties.alice), 41001, "通话不存在")
    call_id = await ringing(parties)
    error(await api.state(call_id, parties.carol), 41010, "非参与方")
    state = (await api.state(call_id, parties.bob))["data"]
    assert set(state) == STATE_KEYS
    assert (state["status"], state["version"], state["accepted_at"], state["ended_at"]) == ("calling", 1, None, None)
    assert state["timeout_seconds"] == 30 and parse(state["created_at"])


async def test_a_joined_from_accepted_is_a_change_even_after_an_early_joined(parties: Parties) -> None:
    api = parties.api
    call_id = await ringing(parties)
    await api.act(call_id, "media-state", parties.alice, CALLER_TERMINAL, stage="joined")
    await api.act(call_id, "accept", parties.bob, CALLEE_TERMINAL)
    data = (await api.act(call_id, "media-state", parties.alice, CALLER_TERMINAL, stage="joined"))["data"]
    assert (data["status"], data["version"]) == ("ongoing", 3)


async def test_active_and_history(parties: Parties) -> None:
    api = parties.api
    first = await cancelled(parties)
    second = await ringing(parties)
    assert [call["call_id"] for call in (await api.get("/api/calls/active", parties.bob))["data"]["calls"]] == [second]
    assert (await api.get("/api/calls/active", parties.carol))["data"]["calls"] == []
    history = (await api.get("/api/calls/history", parties.alice))["data"]["calls"]
    assert [call["call_id"] for call in history][:2] == [second, first]
    assert set(history[0]) == STATE_KEYS
    page = (await api.get(f"/api/calls/history?limit=1&before_id={second}", parties.alice))["data"]["calls"]
    assert [call["call_id"] for call in page] == [first]
    assert len((await api.get("/api/calls/history?limit=1", parties.alice))["data"]["calls"]) == 1
    assert {first, second}.isdisjoint(call["call_id"] for call in (await api.get("/api/calls/history", parties.carol))["data"]["calls"])


async def test_login_and_directory(parties: Parties) -> None:
    api = parties.api
    for key in ("bob", "Bob", BOB, str(BOB)):  # "Bob": the display name the phone shows
        login = (await api.post("/api/dev/login", "", {"user": key}))["data"]
        assert set(login) == {"token", "user_id", "name"} and (login["user_id"], login["name"]) == (BOB, "bob")
    error(await api.post("/api/dev/login", "", {"user": "mallory"}), 40001, "参数错误: user: no such user 'mallory'")
    error(await api.post("/api/dev/login", "", {"user": "BOB"}), 40001, "参数错误: user: no such user 'BOB'")
    users = (await api.get("/api/dev/directory", parties.alice))["data"]["users"]
    assert [(u["user_id"], u["name"], u["display_name"]) for u in users] == [
        (10001, "alice", "Alice"), (20002, "bob", "Bob"), (30003, "carol", "Carol"), (40004, "dave", "Dave"),
        (50005, "erin", "Erin"), (60006, "frank", "Frank"),
    ]  # fmt: skip
    assert users[0]["conversation_id"] is None
    assert all(user["conversation_id"] > 0 for user in users[1:])
    from_bob = {u["user_id"]: u["conversation_id"] for u in (await api.get("/api/dev/directory", parties.bob))["data"]["users"]}
    assert from_bob[ALICE] == users[1]["conversation_id"], "one conversation per pair, the same from both sides"
    health = await api.request("GET", "/healthz")
    assert health.json() == {"code": 0, "message": "success", "data": {"status": "ok"}}
