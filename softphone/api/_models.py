"""Wire models: one pydantic model per payload, used by the client to read and by the simulator to write.

Request models are strict (a string where an int belongs is a 40001, not a coercion) and carry the
documented length limits. Response models are lenient: they ignore unknown fields and keep
``status`` and ``end_reason`` as plain strings, because a real server may send values we have never
seen and the client must show them as they are. Fields marked *ext* are simulator extensions the
real service does not document; they are optional so the same models read a real server's answers,
and they are marked once, with ``ext()``, so a server that must look like the real one can drop them
(``documented_payload``) and its OpenAPI document can leave them out (``EXT_MARK``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)

from softphone.api._limits import NETWORK_QUALITY_MAX, REASON_MAX, STAGE_MAX, TERMINAL_ID_MAX, USER_KEY_MAX


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 UTC with a ``Z`` suffix and whole seconds, as in every documented example."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Timestamp = Annotated[datetime, PlainSerializer(format_timestamp, return_type=str)]


class CallStatus(StrEnum):
    CALLING = "calling"
    ACCEPTED = "accepted"
    ONGOING = "ongoing"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    ENDED = "ended"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({CallStatus.REJECTED, CallStatus.CANCELLED, CallStatus.ENDED})
"""Statuses a call never leaves; they set ``ended_at`` and ``end_reason``."""
IN_PROGRESS_STATUSES = frozenset({CallStatus.ACCEPTED, CallStatus.ONGOING})
"""Answered and not over: the statuses a hangup is for."""
LIVE_STATUSES = frozenset({CallStatus.CALLING}) | IN_PROGRESS_STATUSES
"""Not over: ringing or in progress. A user with a live call is busy."""


class CallType(StrEnum):
    AUDIO = "audio"
    VIDEO = "video"


class EndReason(StrEnum):
    """The documented "common values"; the list is open, so fields stay ``str``."""

    NO_ANSWER_TIMEOUT = "no_answer_timeout"
    CALLEE_BUSY = "callee_busy"
    USER_REJECT = "user_reject"
    CALLER_CANCEL = "caller_cancel"
    LOCAL_HANGUP = "local_hangup"


ABANDONED_REASON = "abandoned"
"""*ext* ``end_reason`` of a call the simulator ended because nobody could any more
(``--abandon-timeout``, ``softphone sim reset``)."""


class MediaStage(StrEnum):
    """Stages the softphone reports; the API takes any string up to 32 characters."""

    JOINING = "joining"
    JOINED = "joined"
    RECONNECTING = "reconnecting"
    LEFT = "left"


class NetworkQuality(StrEnum):
    """Qualities the softphone reports; the API takes any string up to 20 characters."""

    EXCELLENT = "excellent"
    GOOD = "good"
    POOR = "poor"
    BAD = "bad"
    VERY_BAD = "very_bad"
    DOWN = "down"


# --------------------------------------------------------------------------- the ext mark

EXT_MARK = "x-softphone-ext"
"""Key set on an *ext* field's JSON schema: the one mark every "documented only" rule reads."""


def ext(default: Any = None) -> Any:
    """An *ext* field: optional (a real server never sends it), marked in the model and its schema."""
    return Field(default, json_schema_extra={EXT_MARK: True})


@cache
def ext_fields(model: type[BaseModel]) -> frozenset[str]:
    """The names of ``model``'s fields declared with ``ext()``."""
    return frozenset(
        name
        for name, field in model.model_fields.items()
        if isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get(EXT_MARK)
    )


def documented_payload(data: BaseModel) -> dict[str, Any]:
    """``data`` as JSON without any *ext* field, at any depth: what the real service would send."""
    return _without_ext(data, data.model_dump(mode="json"))


def _without_ext(value: object, dumped: Any) -> Any:
    if isinstance(value, BaseModel):
        hidden = ext_fields(type(value))
        return {name: _without_ext(getattr(value, name), item) for name, item in dumped.items() if name not in hidden}
    if isinstance(value, list | tuple):
        return [_without_ext(item, dumped_item) for item, dumped_item in zip(value, dumped, strict=True)]
    return dumped


# --------------------------------------------------------------------------- requests


def _integral(value: object) -> object:
    """A JSON number with no fractional part (``30109.0``) is an integer, as JSON Schema says."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# Constraints before the validator, or pydantic leaves them out of the JSON schema.
WireInt = Annotated[int, Field(gt=0), BeforeValidator(_integral)]
"""A positive integer field of a request: ``30109`` or ``30109.0``, never ``"30109"`` or ``true``."""


class _Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


TerminalId = Annotated[str, Field(min_length=1, max_length=TERMINAL_ID_MAX)]


class StartCallRequest(_Request):
    conversation_id: WireInt
    target_user_id: WireInt
    call_type: CallType
    biz_type: Literal["single"]
    terminal_id: TerminalId


class AcceptRequest(_Request):
    terminal_id: TerminalId


class RejectRequest(_Request):
    terminal_id: TerminalId
    reason: Annotated[str, Field(max_length=REASON_MAX)] = EndReason.USER_REJECT.value


class CancelRequest(_Request):
    terminal_id: TerminalId
    reason: Annotated[str, Field(max_length=REASON_MAX)] = EndReason.CALLER_CANCEL.value


class HangupRequest(_Request):
    terminal_id: TerminalId
    reason: Annotated[str, Field(max_length=REASON_MAX)] = EndReason.LOCAL_HANGUP.value


class MediaStateRequest(_Request):
    terminal_id: TerminalId
    stage: Annotated[str, Field(min_length=1, max_length=STAGE_MAX)]
    network_quality: Annotated[str, Field(max_length=NETWORK_QUALITY_MAX)] | None = None


class LoginRequest(_Request):
    """*ext* ``POST /api/dev/login``: a user name or a user id."""

    user: Annotated[str, Field(min_length=1, max_length=USER_KEY_MAX)] | WireInt


# --------------------------------------------------------------------------- responses


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore")


class StartCallData(_Response):
    call_id: int
    conversation_id: int
    call_type: str
    biz_type: str
    status: str
    timeout_seconds: int
    version: int
    channel_name: str
    app_id: str
    caller_uid: str
    rtc_token: str
    expire_at: Timestamp | None = None


class AcceptData(_Response):
    call_id: int
    status: str
    channel_name: str
    app_id: str
    callee_uid: str
    rtc_token: str
    expire_at: Timestamp | None = None
    version: int


class CallStatusData(_Response):
    """What reject, cancel and hangup answer with."""

    call_id: int
    status: str
    end_reason: str | None = None
    version: int


class MediaStateData(_Response):
    call_id: int
    status: str
    started_at: Timestamp | None = None
    version: int


class PartyMedia(_Response):
    """*ext* One participant's last media report: what it said, and when."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    stage: str
    network_quality: str | None = None
    reported_at: Timestamp | None = None


class CallMedia(_Response):
    """*ext* Each participant's last media report as of a version; ``None`` for one that has not reported."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    caller: PartyMedia | None = None
    callee: PartyMedia | None = None


class CallState(_Response):
    """The full state object of ``GET /api/calls/{callId}/state``, pushes and lists. No ``rtc_token``."""

    call_id: int
    status: str
    call_type: str
    biz_type: str
    conversation_id: int
    channel_name: str
    app_id: str
    caller_user_id: int
    callee_user_id: int
    caller_uid: str
    callee_uid: str
    accepted_at: Timestamp | None = None
    started_at: Timestamp | None = None
    ended_at: Timestamp | None = None
    end_reason: str | None = None
    version: int
    # ext: which terminal of the callee accepted; lets a client say "answered on another terminal".
    accepted_terminal_id: str | None = ext()
    # ext: when the call started ringing and for how long, so the callee can show the ring deadline.
    created_at: Timestamp | None = ext()
    timeout_seconds: int | None = ext()
    # ext: which terminal placed the call, and who ended it (user and terminal; null when the server
    # did, as on a ring timeout), so a client can say "you hung up" truthfully after a restart.
    caller_terminal_id: str | None = ext()
    ended_by_user_id: int | None = ext()
    ended_by_terminal_id: str | None = ext()
    # ext: both sides' media as of this version; it changes only with a version bump.
    media: CallMedia | None = ext()


class LoginData(_Response):
    token: str
    user_id: int
    name: str


class DirectoryUser(_Response):
    user_id: int
    name: str
    display_name: str
    conversation_id: int | None = None


class DirectoryData(_Response):
    users: list[DirectoryUser]


class CallList(_Response):
    """*ext* ``/api/calls/active`` and ``/api/calls/history``."""

    calls: list[CallState]


class HealthData(_Response):
    status: str


class SimulatorInfo(_Response):
    """*ext* ``GET /api/dev/simulator`` (loopback only): the process behind the API, for ``softphone sim``."""

    pid: int
    database: str
    started_at: Timestamp
    live_calls: dict[str, int]
    """How many calls are in each live status."""
    faults_injected: dict[str, int] = Field(default_factory=dict)
    """How many faults of each kind (``push-drop``...) were injected since the simulator started
    (absent from a background simulator started by an older softphone)."""


class ResetData(_Response):
    """*ext* ``POST /api/dev/simulator/reset`` (loopback only)."""

    ended: int
    """How many live calls were ended as ``abandoned``."""


DataT = TypeVar("DataT")


class Envelope(BaseModel, Generic[DataT]):
    """Every response, success or error: ``{"code", "message", "data"}``."""

    model_config = ConfigDict(extra="ignore")

    code: int
    message: str
    data: DataT | None = None


SUCCESS_MESSAGE = "success"
BEARER = "Bearer"
_ANY_ENVELOPE = Envelope[Any]
"""Parametrised once: ``Envelope[Any]`` looks its class up again on every use (a few us per answer)."""


def authorization(token: str | None) -> dict[str, str]:
    """The ``Authorization`` header every request carries; none without a token."""
    return {"Authorization": f"{BEARER} {token}"} if token else {}


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive), else ``None``."""
    scheme, _, token = (header or "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == BEARER.lower() and token else None


def success_body(data: BaseModel | None, *, documented_only: bool = False) -> bytes:
    """The JSON body of a success envelope, as sent; ``documented_only`` leaves every *ext* field out.

    Pydantic writes it straight from the models, with no dict and no ``json.dumps`` in between
    (except in documented-only mode, whose data is the dict left once the *ext* fields are out).
    """
    payload = documented_payload(data) if documented_only and data is not None else data
    return _ANY_ENVELOPE(code=0, message=SUCCESS_MESSAGE, data=payload).model_dump_json().encode()


def failure(code: int, message: str) -> dict[str, Any]:
    """The JSON body of an error envelope: ``data`` is always null."""
    return {"code": code, "message": message, "data": None}


# --------------------------------------------------------------------------- push channel (ext)


class HelloData(_Response):
    user_id: int
    terminal_id: str
    calls: list[CallState]


class HelloFrame(_Response):
    type: Literal["hello"] = "hello"
    data: HelloData


class CallUpdatedFrame(_Response):
    type: Literal["call.updated"] = "call.updated"
    event_id: int
    data: CallState


class PingFrame(_Response):
    type: Literal["ping"] = "ping"


class PongFrame(_Response):
    type: Literal["pong"] = "pong"


class ErrorFrameData(_Response):
    code: int
    message: str


class ErrorFrame(_Response):
    type: Literal["error"] = "error"
    data: ErrorFrameData


# --------------------------------------------------------------------------- faults (ext)

FAULT_PROBABILITIES = ("push-drop", "push-dup", "push-reorder", "push-disconnect", "http-error")
FAULT_DURATIONS = ("push-delay", "http-latency")
FAULT_DURATION_MAX_MS = 10_000
# Whole milliseconds up to 10000 or whole seconds up to 10: the schema states the limit itself, so
# anything it allows is accepted and anything else is refused.
FAULT_DURATION_PATTERN = r"^(?:(?:[0-9]|[1-9][0-9]{1,3}|10000)ms|(?:[0-9]|10)s)$"
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)?")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def duration_seconds(text: str, default_unit: str = "s") -> float:
    """``50ms``, ``1s``, ``30m``, ``12h``, ``1d``, or a bare number in ``default_unit``: for options."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r}: expected a duration such as 50ms, 1s, 30m, 12h or 1d")
    return float(match[1]) * _DURATION_UNITS[match[2] or default_unit]


def _milliseconds(value: object) -> object:
    if isinstance(value, str):
        if re.fullmatch(FAULT_DURATION_PATTERN, value) is None:
            raise ValueError(f"expected whole ms up to {FAULT_DURATION_MAX_MS}ms or whole seconds (50ms, 1s)")
        return duration_seconds(value, "ms") * 1000
    return value


Probability = Annotated[float, Field(ge=0, le=1)]
Milliseconds = Annotated[
    float,
    BeforeValidator(_milliseconds),
    Field(ge=0, le=FAULT_DURATION_MAX_MS),
    # As the option reads when it can be written so ("50ms"), else the number of milliseconds.
    PlainSerializer(lambda ms: f"{ms:.0f}ms" if float(ms).is_integer() else ms, return_type=str | float),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": FAULT_DURATION_PATTERN},
                {"type": "number", "minimum": 0, "maximum": FAULT_DURATION_MAX_MS},
            ],
            "description": "A duration: '50ms', '1s', or a number of milliseconds.",
        }
    ),
]


class FaultSettings(BaseModel):
    """*ext* ``GET``/``PUT /api/dev/faults`` and ``serve --faults``: the keys are the option's words.

    Probabilities are numbers from 0 to 1, durations ``"50ms"``, ``"1s"`` or numbers of milliseconds;
    a missing key is no fault of that kind, so ``{}`` turns every fault off. ``seed`` (as
    ``--fault-seed``) restarts the random streams; the server answers with the seed in force.
    """

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        alias_generator=lambda name: name.replace("_", "-"),
        validate_by_name=True,
        serialize_by_alias=True,
    )

    push_drop: Probability = 0.0
    push_dup: Probability = 0.0
    push_reorder: Probability = 0.0
    push_disconnect: Probability = 0.0
    http_error: Probability = 0.0
    push_delay: Milliseconds = 0.0
    http_latency: Milliseconds = 0.0
    seed: Annotated[int, Field(ge=0, le=2**63 - 1), BeforeValidator(_integral)] | None = None

    @classmethod
    def from_spec(cls, spec: str) -> FaultSettings:
        """``push-drop=0.3,push-delay=50ms``; a ``ValueError`` names the first bad item."""
        values: dict[str, object] = {}
        given: dict[str, str] = {}
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            key, equals, value = item.partition("=")
            if not equals or key not in FAULT_PROBABILITIES + FAULT_DURATIONS:
                known = ", ".join(FAULT_PROBABILITIES + FAULT_DURATIONS)
                raise ValueError(f"{item}: expected KIND=VALUE with KIND one of {known}")
            given[key] = value
            values[key] = float(value) if _NUMBER.fullmatch(value) else value
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            first = error.errors()[0]
            key = str(first["loc"][0])
            raise ValueError(f"{key}={given.get(key)}: {first['msg']}") from None

    def spec(self) -> str:
        """The faults in force in the option's syntax, e.g. for the log; empty when there are none."""
        dumped = self.model_dump(exclude={"seed"})
        return ",".join(f"{key}={value}" for key, value in dumped.items() if value not in (0.0, "0ms"))


ServerFrame = Annotated[
    HelloFrame | CallUpdatedFrame | PongFrame | PingFrame | ErrorFrame,
    Field(discriminator="type"),
]
server_frame_adapter: TypeAdapter[ServerFrame] = TypeAdapter(ServerFrame)
