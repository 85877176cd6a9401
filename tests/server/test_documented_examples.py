"""The reference's curl examples, with a dev-login token, get the documented response shapes."""

from __future__ import annotations

from typing import Any

from .conftest import BOB, Api

ANDROID, IOS = "client-android-abc123", "client-ios-xyz789"


def same_shape(actual: dict[str, Any], documented: dict[str, Any], constants: set[str]) -> None:
    """Same keys; the documented values of ``constants`` exactly; ids, tokens and times may differ."""
    assert set(actual) == set(documented), (actual, documented)
    assert {key: actual[key] for key in constants} == {key: documented[key] for key in constants}


async def test_the_curl_examples(api: Api) -> None:
    alice, bob = await api.login("alice"), await api.login("bob")
    started = await api.start(alice, BOB)
    call_id, conversation = started["data"]["call_id"], started["data"]["conversation_id"]
    channel = f"call_{call_id}_{conversation}"

    accepted = await api.post(f"/api/calls/{call_id}/accept", bob, {"terminal_id": IOS})
    assert set(accepted) == {"code", "message", "data"} and (accepted["code"], accepted["message"]) == (0, "success")
    same_shape(
        accepted["data"],
        {"call_id": call_id, "status": "accepted", "channel_name": channel, "app_id": "x", "callee_uid": "20002",
         "rtc_token": "x", "expire_at": "x", "version": 2},
        {"call_id", "status", "channel_name", "callee_uid", "version"},
    )  # fmt: skip
    await api.post(f"/api/calls/{call_id}/media-state", bob, {"terminal_id": IOS, "stage": "joined"})
    media = await api.post(
        f"/api/calls/{call_id}/media-state", alice, {"terminal_id": ANDROID, "stage": "joined", "network_quality": "good"}
    )
    same_shape(media["data"], {"call_id": call_id, "status": "ongoing", "started_at": "x", "version": 4},
               {"call_id", "status", "version"})  # fmt: skip
    hangup = await api.post(f"/api/calls/{call_id}/hangup", alice, {"terminal_id": ANDROID, "reason": "local_hangup"})
    assert hangup["data"] == {"call_id": call_id, "status": "ended", "end_reason": "local_hangup", "version": 5}
    # Documented 41004 / 41010 answers, byte for byte apart from the call id in the URL.
    assert await api.post(f"/api/calls/{call_id}/accept", alice, {"terminal_id": ANDROID}) == {
        "code": 41004, "message": "非被叫方", "data": None}  # fmt: skip
    carol = await api.login("carol")
    assert await api.post(f"/api/calls/{call_id}/hangup", carol, {"terminal_id": ANDROID}) == {
        "code": 41010, "message": "非参与方", "data": None}  # fmt: skip

    # Reject and cancel: the documented status objects. Their examples say version 3 after some earlier
    # change; here a ringing call has version 1, so the next change is 2.
    for action, token, terminal, status, reason in (
        ("reject", bob, IOS, "rejected", "user_reject"),
        ("cancel", alice, ANDROID, "cancelled", "caller_cancel"),
    ):
        ringing = (await api.start(alice, BOB))["data"]["call_id"]
        answer = await api.post(f"/api/calls/{ringing}/{action}", token, {"terminal_id": terminal, "reason": reason})
        assert answer == {"code": 0, "message": "success",
                          "data": {"call_id": ringing, "status": status, "end_reason": reason, "version": 2}}  # fmt: skip
    assert await api.post(f"/api/calls/{ringing}/cancel", bob, {"terminal_id": IOS}) == {
        "code": 41005, "message": "非主叫方", "data": None}  # fmt: skip
