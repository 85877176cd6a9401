"""The check's suite: which cases, in which order, for which users, and how each one is judged."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from softphone.check.cases import generated_cases
from softphone.scenario import (
    Credential,
    Credentials,
    Outcome,
    Scenario,
    ScenarioResult,
    library,
    load_scenario,
)

ROLES = ("alice", "bob", "carol")
"""Who the library's scenarios name: a caller, a callee and a stranger to their call."""
PRIVATE_RING_TIMEOUT = 3
"""The private simulator rings this long, so the ring-timeout case takes seconds, not half a minute."""


class Verdict(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


def verdict(result: ScenarioResult) -> Verdict:
    if result.outcome is Outcome.PASS:
        return Verdict.WARN if result.warnings else Verdict.PASS
    return Verdict(result.outcome.value)


def detail(result: ScenarioResult) -> str:
    """What to print beside a case: the first failure with what the server answered, the warnings, or why skipped."""
    if result.outcome is not Outcome.PASS:
        return result.reason
    return "; ".join(f"step {step.number} ({step.party} {step.text}): {f.words()}" for step, f in result.warnings)


def check_cases() -> list[tuple[Scenario, str]]:
    """Every case in the order they run: the library, then the check's own."""
    return [(load_scenario(path), str(path)) for path in library()] + generated_cases()


def role_credentials(names: list[str], known: Mapping[str, Credential], given: Credentials) -> Credentials:
    """The library's alice, bob and carol: played by given tokens (named by role), then by ``names`` in
    order, each with its known token (a profile's) or signed in by the simulator's dev login."""
    users = dict(given.users)
    logins: dict[str, str] = {}
    for role, name in zip([role for role in ROLES if role not in users], names, strict=False):
        if name in known:
            users[role] = known[name]
        else:
            logins[role] = name
    return Credentials(users=users, logins=logins, conversations=given.conversations, login_others=False)
