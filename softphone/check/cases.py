"""The conformance check's own cases, built as scenarios: sign-in, field limits, values, extensions.

The transitions, error codes, busy, races, ring timeout and version arithmetic are the bundled library
(``softphone/scenarios``), which the check runs as they are. What a scenario file cannot say without
copying a number is built here from the wire layer's constants: the length limits
(``TERMINAL_ID_MAX``...) and the request's enums. Each case is data in the scenario file's shape, so
it reads like one and runs on the same engine.
"""

from __future__ import annotations

from typing import Any

from softphone.api import (
    NETWORK_QUALITY_MAX,
    REASON_MAX,
    STAGE_MAX,
    TERMINAL_ID_MAX,
    CallType,
    InvalidParams,
    Unauthorized,
)
from softphone.scenario import Scenario, parse_scenario

WIDE = "话"
"""A character of three UTF-8 bytes: REFERENCE.md's limits are in characters, so a value of exactly the
limit made of these must pass, whatever the server counts in bytes."""

PARTIES = {"alice": "alice", "bob": "bob"}
REFUSED_PARAMS = {"code": InvalidParams.CODE}
REFUSED = {"code": "error"}


def text_of(length: int) -> str:
    return WIDE * length


def dial(call: str = "c", **extra: Any) -> dict[str, Any]:
    return {"party": "alice", "action": "dial", "target": "bob", "call": call, **extra}


def on_call(party: str, action: str, call: str = "c", **extra: Any) -> dict[str, Any]:
    return {"party": party, "action": action, "call": call, **extra}


def state_unchanged(status: str, call: str = "c") -> dict[str, Any]:
    return on_call("bob", "state", call, expect={"status": status, "version": "+0"})


def _auth_case(auth: str, words: str, simulator: dict[str, Any]) -> dict[str, Any]:
    """Every documented endpoint refuses a request without a valid bearer token, and changes nothing."""
    refused = {"auth": auth, "expect": REFUSED, "simulator": simulator}
    return {
        "name": f"auth-{words.replace(' ', '-')}",
        "description": f"Every endpoint refuses a request with {words} (every endpoint requires a bearer token)",
        "parties": PARTIES,
        "steps": [
            dial("refused", **refused),
            dial(),
            on_call("bob", "accept", **refused),
            on_call("bob", "reject", **refused),
            on_call("alice", "cancel", **refused),
            on_call("alice", "hangup", **refused),
            on_call("alice", "media", stage="joined", **refused),
            on_call("alice", "state", **refused),
            state_unchanged("calling"),
        ],
    }


def _terminal_id_case() -> dict[str, Any]:
    at_limit, over = text_of(TERMINAL_ID_MAX), text_of(TERMINAL_ID_MAX + 1)
    refused = {"expect": REFUSED, "simulator": REFUSED_PARAMS}
    return {
        "name": "limit-terminal-id",
        "description": f"terminal_id takes up to {TERMINAL_ID_MAX} characters on every endpoint, and no more",
        "parties": PARTIES,
        "steps": [
            dial("refused", terminal=over, **refused),
            dial(terminal=at_limit),
            on_call("bob", "accept", terminal=over, **refused),
            state_unchanged("calling"),
            on_call("bob", "accept", terminal=at_limit),
            on_call("bob", "media", stage="joined", terminal=over, **refused),
            on_call("bob", "media", stage="joined", terminal=at_limit),
            on_call("bob", "hangup", terminal=over, **refused),
            state_unchanged("ongoing"),
            on_call("bob", "hangup", terminal=at_limit),
            dial("rejected"),
            on_call("bob", "reject", "rejected", terminal=over, **refused),
            on_call("bob", "reject", "rejected", terminal=at_limit),
            dial("cancelled"),
            on_call("alice", "cancel", "cancelled", terminal=over, **refused),
            on_call("alice", "cancel", "cancelled", terminal=at_limit),
        ],
    }


def _reason_case() -> dict[str, Any]:
    at_limit, over = text_of(REASON_MAX), text_of(REASON_MAX + 1)
    refused = {"expect": REFUSED, "simulator": REFUSED_PARAMS}
    return {
        "name": "limit-reason",
        "description": f"reason takes up to {REASON_MAX} characters on reject, cancel and hangup, and becomes end_reason",
        "parties": PARTIES,
        "steps": [
            dial("rejected"),
            on_call("bob", "reject", "rejected", reason=over, **refused),
            state_unchanged("calling", "rejected"),
            on_call("bob", "reject", "rejected", reason=at_limit, expect={"end_reason": at_limit}),
            dial("cancelled"),
            on_call("alice", "cancel", "cancelled", reason=over, **refused),
            on_call("alice", "cancel", "cancelled", reason=at_limit, expect={"end_reason": at_limit}),
            dial("ended"),
            on_call("bob", "accept", "ended"),
            on_call("alice", "hangup", "ended", reason=over, **refused),
            state_unchanged("accepted", "ended"),
            on_call("alice", "hangup", "ended", reason=at_limit, expect={"end_reason": at_limit}),
        ],
    }


def _media_fields_case() -> dict[str, Any]:
    refused = {"expect": REFUSED, "simulator": REFUSED_PARAMS}
    return {
        "name": "limit-media-fields",
        "description": f"stage takes up to {STAGE_MAX} characters and network_quality up to {NETWORK_QUALITY_MAX}",
        "parties": PARTIES,
        "steps": [
            dial(),
            on_call("bob", "accept"),
            on_call("bob", "media", stage=text_of(STAGE_MAX + 1), **refused),
            on_call("bob", "media", stage="joined", quality=text_of(NETWORK_QUALITY_MAX + 1), **refused),
            state_unchanged("accepted"),
            on_call("bob", "media", stage=text_of(STAGE_MAX), quality=text_of(NETWORK_QUALITY_MAX)),
        ],
    }


def _values_case() -> dict[str, Any]:
    video = CallType.VIDEO.value
    return {
        "name": "start-values",
        "description": "call_type is audio or video; biz_type single is the only documented value",
        "parties": PARTIES,
        "steps": [
            dial("fax", call_type="fax", expect=REFUSED, simulator=REFUSED_PARAMS),
            dial(call_type=video),
            on_call("bob", "state", expect={"status": "calling", "version": 1, "fields": {"call_type": video}}),
            on_call("alice", "cancel"),
            dial("group", biz_type="group", simulator=REFUSED_PARAMS),
        ],
    }


def _push_case() -> dict[str, Any]:
    def pushed(party: str, status: str) -> dict[str, Any]:
        return on_call(party, "wait", status=status, via="push", simulator={"version": "+0"})

    return {
        "name": "push-every-change",
        "description": "The simulator's push channel brings both sides every change, in version order",
        "requires": ["push"],
        "parties": PARTIES,
        "steps": [
            dial(),
            pushed("bob", "calling"),
            on_call("bob", "accept"),
            pushed("alice", "accepted"),
            on_call("bob", "media", stage="joined"),
            pushed("alice", "ongoing"),
            on_call("alice", "hangup"),
            pushed("bob", "ended"),
        ],
    }


def _lists_case() -> dict[str, Any]:
    return {
        "name": "call-lists",
        "description": "The simulator's active calls list a live call for both sides; history keeps it once over",
        "requires": ["lists"],
        "parties": PARTIES,
        "steps": [
            dial(),
            {"party": "alice", "action": "active", "simulator": {"includes": ["c"]}},
            {"party": "bob", "action": "active", "simulator": {"includes": ["c"]}},
            on_call("alice", "cancel"),
            {"party": "bob", "action": "active", "simulator": {"excludes": ["c"]}},
            {"party": "bob", "action": "history", "simulator": {"includes": ["c"]}},
        ],
    }


def generated_cases() -> list[tuple[Scenario, str]]:
    """The check's own cases, each validated like a scenario file (a bad one is a bug here)."""
    built = [
        _auth_case("none", "no token", {"code": Unauthorized.CODE}),
        _auth_case("bogus", "an unknown token", {"code": Unauthorized.CODE}),
        _terminal_id_case(),
        _reason_case(),
        _media_fields_case(),
        _values_case(),
        _push_case(),
        _lists_case(),
    ]
    return [(parse_scenario(raw, source="softphone check", default_name=raw["name"]), "softphone check") for raw in built]
