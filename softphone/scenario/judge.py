"""A step's answer against what its ``expect`` and ``simulator`` tables say, as findings in words.

Each miss says what was expected and what came: ``expected 41004 非被叫方, got 41005 非主叫方``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from softphone.api import error_for
from softphone.scenario.contract import Answer, Finding, documented_message
from softphone.scenario.model import ANY_ERROR, Basis, Expect, GroupExpect


def describe_codes(codes: Sequence[int | str], operation: str = "") -> str:
    """``41004 非被叫方``, ``success or 41003 对方忙线``, ``an error``."""

    def one(code: int | str) -> str:
        if code == ANY_ERROR:
            return "an error"
        if code == 0:
            return "success"
        assert isinstance(code, int)
        message = documented_message(operation, code) or type(error_for(code, "")).MESSAGE
        return f"{code} {message}".rstrip()

    return " or ".join(one(code) for code in codes)


def code_matches(code: int | None, wanted: Sequence[int | str]) -> bool:
    return code is not None and (code in wanted or (ANY_ERROR in wanted and code != 0))


def judge(
    expect: Expect | None,
    basis: Basis,
    operation: str,
    answer: Answer,
    before: int | None,
    call_ids: Callable[[list[str]], set[int]],
) -> list[Finding]:
    if expect is None:
        return []
    if expect.code is not None and not code_matches(answer.code, expect.code):
        return [Finding(basis, f"expected {describe_codes(expect.code, operation)}, got {answer.summary()}")]
    findings: list[Finding] = []
    if expect.message is not None and answer.message != expect.message:
        findings.append(Finding(basis, f"expected message {expect.message!r}, got {answer.message!r}"))
    if not answer.ok:
        return findings
    status, version = answer.field("status"), answer.field("version")
    if expect.status is not None and status not in expect.status:
        findings.append(Finding(basis, f"expected status {' or '.join(expect.status)}, got {status!r}"))
    if expect.version is not None:
        wanted = _wanted_version(expect.version, before)
        if wanted is None:
            findings.append(Finding(basis, f"version {expect.version!r}: no version of this call was seen before"))
        elif not wanted[0](version):
            findings.append(Finding(basis, f"expected version {wanted[1]}, got {version!r}"))
    if expect.end_reason is not None and answer.field("end_reason") != expect.end_reason:
        findings.append(
            Finding(basis, f"expected end_reason {expect.end_reason!r}, got {answer.field('end_reason')!r}")
        )
    if expect.started_at is not None and (answer.field("started_at") is not None) != expect.started_at:
        wanted_text = "set" if expect.started_at else "null"
        findings.append(Finding(basis, f"expected started_at {wanted_text}, got {answer.field('started_at')!r}"))
    for name, value in (expect.fields or {}).items():
        if answer.field(name) != value:
            findings.append(Finding(basis, f"expected {name} {value!r}, got {answer.field(name)!r}"))
    listed = {call.get("call_id") for call in answer.field("calls") or [] if isinstance(call, dict)}
    if expect.includes is not None and not call_ids(expect.includes) <= listed:
        findings.append(Finding(basis, f"expected {', '.join(expect.includes)} listed, got call ids {sorted(listed)}"))
    if expect.excludes is not None and call_ids(expect.excludes) & listed:
        findings.append(Finding(basis, f"expected {', '.join(expect.excludes)} not listed, got {sorted(listed)}"))
    return findings


def _wanted_version(rule: int | str, before: int | None) -> tuple[Callable[[object], bool], str] | None:
    """A test for the answered version and how to say it; ``None`` when it needs a version not seen."""
    if isinstance(rule, int):
        return (lambda version: version == rule), str(rule)
    if before is None:
        return None
    if rule == ">":
        return (lambda version: isinstance(version, int) and version > before), f"above {before}"
    wanted = before + int(rule.removeprefix("+"))
    return (lambda version: version == wanted), f"{wanted} ({rule} from {before})"


def judge_group(expect: GroupExpect | None, basis: Basis, codes: list[int | None]) -> list[Finding]:
    """The members' codes against the expected ones, in any order; ``"error"`` stands for any refusal."""
    if expect is None:
        return []
    remaining = Counter(code for code in codes if code is not None)
    unmatched = len(codes) - sum(remaining.values())
    wildcards = 0
    for wanted in expect.codes:
        if wanted == ANY_ERROR:
            wildcards += 1
        elif remaining[wanted] > 0:
            remaining[wanted] -= 1
        else:
            unmatched += 1
    leftover = [code for code, count in remaining.items() for _ in range(count)]
    if unmatched or len(leftover) != wildcards or 0 in leftover:
        got = ", ".join("none" if code is None else str(code) for code in codes)
        return [Finding(basis, f"expected codes {', '.join(map(str, expect.codes))} in any order, got {got}")]
    return []
