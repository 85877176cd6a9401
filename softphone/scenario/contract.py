"""What every answer of the call API must look like, judged on the bytes the server sent.

A scenario's steps say what they expect; these checks run on every answer besides, so a missing
field or a wrong message fails a run even where no step asked about it. Each finding has a basis:
facts of REFERENCE.md (the envelope, the documented fields and their types, the documented codes with
their messages, the status each action answers with, the start's version 1, versions that grow with
every change) are ``DOCUMENTED``; what SIMULATOR.md decides (HTTP statuses, messages of undocumented
codes, exact +1 steps, channel names and uids as in the examples) is ``SIMULATOR``.

The field lists, statuses, default reasons and messages are read from the wire models, the rules
table and the error tree of ``softphone.api``: they are written once, there.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from softphone.api import (
    RULES,
    SUCCESS_MESSAGE,
    AcceptData,
    Action,
    AnsweredElsewhere,
    ApiError,
    CallAlreadyEnded,
    CalleeBusy,
    CallList,
    CallNotFound,
    CallState,
    CallStatus,
    CallStatusData,
    CancelRequest,
    HangupRequest,
    MediaStateData,
    NotCallee,
    NotCaller,
    NotParticipant,
    RejectRequest,
    StartCallData,
    error_for,
    ext_fields,
)
from softphone.scenario.model import Basis
from softphone.scenario.transport import Exchange

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")
"""ISO 8601 UTC with a ``Z`` suffix, as REFERENCE.md gives every timestamp."""

ACTION_OF = {
    "accept": Action.ACCEPT,
    "reject": Action.REJECT,
    "cancel": Action.CANCEL,
    "hangup": Action.HANGUP,
    "media": Action.REPORT_MEDIA,
    "state": Action.STATE,
}
"""A scenario's action words for the actions of the rules table (``dial`` starts a call: no action)."""

DATA_MODEL: dict[str, type[BaseModel]] = {
    "dial": StartCallData,
    "accept": AcceptData,
    "reject": CallStatusData,
    "cancel": CallStatusData,
    "hangup": CallStatusData,
    "media": MediaStateData,
    "state": CallState,
    "active": CallList,
    "history": CallList,
}

ANSWERED_STATUS: dict[str, str] = {
    "dial": CallStatus.CALLING.value,
    **{word: str(RULES[action].result) for word, action in ACTION_OF.items() if RULES[action].result is not None},
}
"""The status a successful answer carries: REFERENCE.md gives one for start, accept, reject, cancel, hangup."""

DEFAULT_REASON: dict[str, str] = {
    word: str(model.model_fields["reason"].default)
    for word, model in (("reject", RejectRequest), ("cancel", CancelRequest), ("hangup", HangupRequest))
}

DOCUMENTED_ERRORS: dict[int, type[ApiError]] = {
    cls.CODE: cls
    for cls in (CallNotFound, CalleeBusy, NotCallee, NotCaller, AnsweredElsewhere, CallAlreadyEnded, NotParticipant)
}
"""The error codes REFERENCE.md documents; 41002 and every 4xxxx/5xxxx code are the simulator's."""

DOCUMENTED_CODES_OF: dict[str, frozenset[int]] = {
    "dial": frozenset({NotParticipant.CODE, CalleeBusy.CODE}),
    "accept": frozenset({NotCallee.CODE, AnsweredElsewhere.CODE, CallAlreadyEnded.CODE}),
    "reject": frozenset({NotCallee.CODE}),
    "cancel": frozenset({NotCaller.CODE}),
    "hangup": frozenset({NotParticipant.CODE}),
    "media": frozenset({NotParticipant.CODE}),
    "state": frozenset({CallNotFound.CODE}),
}
"""Which codes REFERENCE.md names under which endpoint."""

def documented_fields(model: type[BaseModel]) -> frozenset[str]:
    """The fields REFERENCE.md lists for an answer: the model's, less those marked *ext*."""
    return frozenset(model.model_fields) - ext_fields(model)


def documented_message(operation: str, code: int) -> str | None:
    """The message REFERENCE.md gives ``code`` on this endpoint (41010 has one for start, one elsewhere)."""
    if code == NotParticipant.CODE and operation == "dial":
        return NotParticipant.RELATIONSHIP_MESSAGE
    cls = DOCUMENTED_ERRORS.get(code)
    return None if cls is None else cls.MESSAGE


@dataclass(frozen=True)
class Finding:
    """One thing that differs from what was expected, and on what the expectation rests."""

    basis: Basis
    text: str

    def words(self) -> str:
        """The text, tagged when it is only SIMULATOR.md's: a reader must know which kind failed."""
        return self.text if self.basis is Basis.DOCUMENTED else f"{self.text} [SIMULATOR.md]"


@dataclass(frozen=True)
class Answer:
    """An answer read as the envelope: what the expectations of a step are checked against."""

    code: int | None
    message: str
    data: dict[str, Any] | None
    http_status: int

    @property
    def ok(self) -> bool:
        return self.code == 0

    def field(self, name: str) -> Any:
        return None if self.data is None else self.data.get(name)

    def summary(self) -> str:
        """``accepted v2``, ``41004 非被叫方``, or what was wrong with the answer."""
        if self.code is None:
            return self.message
        if self.code != 0:
            return f"{self.code} {self.message}"
        status, version = self.field("status"), self.field("version")
        if status is None and version is None:
            calls = self.field("calls")
            return f"{len(calls)} calls" if isinstance(calls, list) else "success"
        reason = self.field("end_reason")
        return f"{status} v{version}" + (f" ({reason})" if reason else "")


def read_answer(exchange: Exchange) -> tuple[Answer, list[Finding]]:
    """The envelope of an exchange, and what is wrong with its shape (always documented)."""
    status = exchange.http_status
    if not exchange.is_json:
        excerpt = " ".join(exchange.text.split())[:120]
        return Answer(None, f"HTTP {status}, not JSON: {excerpt!r}", None, status), [
            Finding(Basis.DOCUMENTED, f"HTTP {status} answer is not JSON: {excerpt!r}")
        ]
    body = exchange.body
    if not isinstance(body, dict) or not {"code", "message", "data"} <= set(body):
        shown = json.dumps(body, ensure_ascii=False)[:120]
        return Answer(None, f"HTTP {status}, not the envelope: {shown}", None, status), [
            Finding(Basis.DOCUMENTED, f"answer is not the {{code, message, data}} envelope: {shown}")
        ]
    code, message, data = body["code"], body["message"], body["data"]
    findings: list[Finding] = []
    if not isinstance(code, int) or isinstance(code, bool) or not isinstance(message, str):
        findings.append(Finding(Basis.DOCUMENTED, f"envelope code {code!r} / message {message!r}: not an int and a string"))
        return Answer(None, f"HTTP {status}, envelope with code {code!r}", None, status), findings
    if data is not None and not isinstance(data, dict):
        findings.append(Finding(Basis.DOCUMENTED, f"data is {json.dumps(data)[:60]}, not an object or null"))
        data = None
    return Answer(code, message, data, status), findings


def review(operation: str, answer: Answer, *, call_id: int | None, sent: dict[str, Any] | None) -> list[Finding]:
    """Every documented and simulator fact about one answer that does not need the call's history."""
    if answer.code is None:
        return []
    if answer.code != 0:
        return _review_error(operation, answer)
    findings: list[Finding] = []
    if answer.message != SUCCESS_MESSAGE:
        findings.append(Finding(Basis.DOCUMENTED, f"success with message {answer.message!r}, not {SUCCESS_MESSAGE!r}"))
    if answer.http_status != 200:
        findings.append(Finding(Basis.SIMULATOR, f"success with HTTP {answer.http_status}, not 200"))
    data = answer.data
    if data is None:
        return [*findings, Finding(Basis.DOCUMENTED, f"{operation}: success with data null")]
    findings += _review_fields(DATA_MODEL[operation], data, operation)
    expected_status = ANSWERED_STATUS.get(operation)
    if expected_status is not None and data.get("status") != expected_status:
        findings.append(
            Finding(Basis.DOCUMENTED, f"{operation} answered status {data.get('status')!r}, not {expected_status!r}")
        )
    if call_id is not None and "call_id" in data and data["call_id"] != call_id:
        findings.append(Finding(Basis.DOCUMENTED, f"answer is about call {data['call_id']}, not {call_id}"))
    if operation == "dial" and data.get("version") != 1:
        findings.append(Finding(Basis.DOCUMENTED, f"a new call has version {data.get('version')!r}, not 1"))
    if operation in DEFAULT_REASON:
        reason = (sent or {}).get("reason") or DEFAULT_REASON[operation]
        if data.get("end_reason") != reason:
            findings.append(
                Finding(Basis.DOCUMENTED, f"{operation} answered end_reason {data.get('end_reason')!r}, not {reason!r}")
            )
    if operation == "state" and "rtc_token" in data:
        findings.append(Finding(Basis.DOCUMENTED, "the state object carries rtc_token; REFERENCE.md says it has none"))
    findings += _review_example_formats(data)
    return findings


def _review_error(operation: str, answer: Answer) -> list[Finding]:
    code = answer.code
    assert code is not None
    findings: list[Finding] = []
    if answer.data is not None:
        findings.append(Finding(Basis.DOCUMENTED, f"error {code} with data {json.dumps(answer.data)[:60]}, not null"))
    documented = documented_message(operation, code)
    if documented is not None:
        # 41010 has two documented messages; away from start, either is the documentation's own.
        allowed = {documented} | (
            {NotParticipant.MESSAGE, NotParticipant.RELATIONSHIP_MESSAGE}
            if code == NotParticipant.CODE and operation not in ("dial", "hangup", "media")
            else set()
        )
        if answer.message not in allowed:
            findings.append(
                Finding(Basis.DOCUMENTED, f"error {code} says {answer.message!r}; REFERENCE.md says {documented!r}")
            )
    known = error_for(code, answer.message)
    if documented is None and type(known) is not ApiError and not _message_fits(known, answer.message):
        findings.append(
            Finding(Basis.SIMULATOR, f"error {code} says {answer.message!r}; SIMULATOR.md says {type(known).MESSAGE!r}")
        )
    if type(known) is not ApiError and answer.http_status != known.HTTP_STATUS:
        findings.append(
            Finding(Basis.SIMULATOR, f"error {code} came with HTTP {answer.http_status}, not {known.HTTP_STATUS}")
        )
    return findings


def _message_fits(known: ApiError, message: str) -> bool:
    """A 40001's message names the field after the documented prefix; other codes say exactly theirs."""
    return message.startswith(type(known).MESSAGE) if known.CODE == 40001 else message == type(known).MESSAGE


def _review_fields(model: type[BaseModel], data: dict[str, Any], operation: str) -> list[Finding]:
    findings: list[Finding] = []
    if model is CallList:
        calls = data.get("calls")
        if not isinstance(calls, list):
            return [Finding(Basis.SIMULATOR, f"{operation} answered without a list of calls")]
        for state in calls:
            findings += [
                Finding(Basis.SIMULATOR, f"{operation}: {finding.text}")
                for finding in _review_fields(CallState, state if isinstance(state, dict) else {}, "state")
            ]
        return findings
    missing = sorted(documented_fields(model) - set(data))
    if missing:
        findings.append(Finding(Basis.DOCUMENTED, f"{operation} answer lacks {', '.join(missing)}"))
    try:
        model.model_validate_json(json.dumps(data), strict=True)
    except ValidationError as error:
        for problem in error.errors(include_url=False):
            name = ".".join(str(part) for part in problem["loc"])
            if problem["type"] != "missing":
                got = json.dumps(problem.get("input"), ensure_ascii=False)[:40]
                findings.append(Finding(Basis.DOCUMENTED, f"{operation} answer's {name} is {got}: {problem['msg'].lower()}"))
    findings += _review_timestamps(model, data, operation)
    return findings


def _review_timestamps(model: type[BaseModel], data: dict[str, Any], operation: str) -> list[Finding]:
    """Every timestamp field (those the model reads as a datetime) as ISO 8601 UTC with ``Z``."""
    try:
        read = model.model_validate(data)
    except ValidationError:
        return []  # the type problems are reported already
    return [
        Finding(Basis.DOCUMENTED, f"{operation} answer's {name} is {data[name]!r}, not ISO 8601 UTC with Z")
        for name in sorted(documented_fields(model) & set(data))
        if isinstance(getattr(read, name), datetime) and not TIMESTAMP.fullmatch(str(data[name]))
    ]


def _review_example_formats(data: dict[str, Any]) -> list[Finding]:
    """What every documented example shows and SIMULATOR.md keeps: channel names and uids."""
    findings: list[Finding] = []
    call_id, conversation_id = data.get("call_id"), data.get("conversation_id")
    channel = data.get("channel_name")
    if channel is not None and call_id is not None and conversation_id is not None:
        if channel != f"call_{call_id}_{conversation_id}":
            findings.append(Finding(Basis.SIMULATOR, f"channel_name {channel!r}, not 'call_{call_id}_{conversation_id}'"))
    for uid, user in (("caller_uid", "caller_user_id"), ("callee_uid", "callee_user_id")):
        if uid in data and user in data and data[uid] != str(data[user]):
            findings.append(Finding(Basis.SIMULATOR, f"{uid} {data[uid]!r} is not the user id {data[user]} in decimal"))
    return findings


def review_version(operation: str, answer: Answer, *, seen: int | None, seen_status: str | None) -> list[Finding]:
    """Versions only grow, and grow with every change: judged against the call as known before the request."""
    version, status = answer.field("version"), answer.field("status")
    if not answer.ok or seen is None or not isinstance(version, int):
        return []
    if version < seen:
        return [Finding(Basis.DOCUMENTED, f"{operation} answered version {version}, below version {seen} seen before")]
    if operation == "accept" and seen_status != CallStatus.CALLING:
        return []  # an accept answers "accepted" whatever the status (documented): a repeat changes nothing
    if status != seen_status and status is not None and seen_status is not None:
        if version == seen:
            return [
                Finding(
                    Basis.DOCUMENTED,
                    f"status changed {seen_status} → {status} but version stayed {version}: not bumped",
                )
            ]
        if operation != "state" and version != seen + 1:
            return [Finding(Basis.SIMULATOR, f"{operation} moved version {seen} → {version}, not by exactly 1")]
    return []
