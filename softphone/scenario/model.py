"""What a scenario file says, as pydantic models: parties, steps, expectations; and how to read one.

A scenario is data, so that a tester can write one without Python and ``softphone check`` can build its
own cases the same way. Reading a file either gives a valid :class:`Scenario` or raises
:class:`ScenarioFileError` with one line naming the file, the step and the field.

Expectations come in two tables with the same fields: ``expect`` (facts of REFERENCE.md, true of any
server that follows the documentation) and ``simulator`` (decisions of SIMULATOR.md, such as exact +1
version steps or which of two errors comes first). A miss of the second kind is a warning unless the
run is strict.
"""

from __future__ import annotations

import re
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    NonNegativeFloat,
    PlainValidator,
    PositiveFloat,
    PositiveInt,
    Tag,
    ValidationError,
    model_validator,
)

DEFAULT_WAIT_SECONDS = 10.0


class Basis(StrEnum):
    """Where an expectation comes from, which decides whether missing it fails a run."""

    DOCUMENTED = "documented"
    """REFERENCE.md says so: a server that differs is wrong."""
    SIMULATOR = "simulator"
    """SIMULATOR.md decided it where the documentation is silent: a warning unless strict."""


class Capability(StrEnum):
    """What a scenario may need beyond the documented API; a server without it skips the scenario."""

    PUSH = "push"
    LISTS = "lists"
    """The simulator's ``GET /api/calls/active`` and ``/api/calls/history``."""


def _statuses(value: object) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(item, str) and item for item in items):
        raise ValueError("expected a status or a list of statuses")
    return items


def _code(value: object) -> int | str:
    if value == ANY_ERROR or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    raise ValueError(f'expected 0 (success), an error code or "{ANY_ERROR}", got {value!r}')


def _codes(value: object) -> list[int | str]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValueError("expected at least one code")
    return [_code(item) for item in items]


def _version_rule(value: object) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and VERSION_RULE.fullmatch(value):
        return value
    raise ValueError(f'expected a version (1, 2...), "+N" (N more than the last one seen) or ">", got {value!r}')


VERSION_RULE = re.compile(r"\+(\d+)|>")
ANY_ERROR = "error"
"""An expected ``code`` that any refusal satisfies (a non-zero code), whichever it is."""
Code = Annotated[int | str, PlainValidator(_code)]
Codes = Annotated[list[int | str], PlainValidator(_codes)]
Statuses = Annotated[list[str], PlainValidator(_statuses)]
VersionRule = Annotated[int | str, PlainValidator(_version_rule)]
"""An exact version, ``"+N"`` (N more than the last version seen of this call) or ``">"`` (more than it)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Expect(_Strict):
    """What must be true of a step's outcome; every field is optional, and only given ones are checked.

    ``code`` is the envelope's code: 0 for success (the default for action steps), an error code, a list
    of acceptable codes, or ``"error"`` for any refusal.
    """

    code: Codes | None = None
    message: str | None = None
    status: Statuses | None = None
    version: VersionRule | None = None
    end_reason: str | None = None
    started_at: bool | None = None
    """Whether ``started_at`` is set (true) or null (false)."""
    fields: dict[str, str | int | bool] | None = None
    """Any other fields of the answer's data and the values they must have (``call_type = "video"``)."""
    includes: list[str] | None = None
    """For ``active``/``history``: the calls (by their names in this scenario) that must be listed."""
    excludes: list[str] | None = None


class GroupExpect(_Strict):
    """What must be true of a ``together`` group: its members' codes, in any order."""

    codes: Codes


class Party(_Strict):
    """A user on one terminal. ``user`` is a name the credentials know (or the simulator's dev login)."""

    user: str
    terminal: Annotated[str, Field(min_length=1)] | None = None
    """The terminal id; default: the party's name and a random suffix, unique per run."""


def _party(value: object) -> object:
    return {"user": value} if isinstance(value, str) else value


class _Step(_Strict):
    party: str
    after: NonNegativeFloat = 0.0
    """Seconds to wait before this step: the scenario's pace (a ring before answering), never a sync."""
    expect: Expect | None = None
    simulator: Expect | None = None

    @property
    def calls_used(self) -> tuple[str, ...]:
        return ()

    @property
    def calls_bound(self) -> tuple[str, ...]:
        return ()


class DialStep(_Step):
    """``party`` starts a call to ``target`` (a party, or a user the credentials know) and names it ``call``."""

    action: Literal["dial"]
    target: str
    call: str
    call_type: str = "audio"
    biz_type: str = "single"
    conversation: PositiveInt | None = None
    """The conversation id to send; default: the one caller and target share."""
    terminal: str | None = None
    auth: Literal["token", "none", "bogus"] = "token"

    @property
    def calls_bound(self) -> tuple[str, ...]:
        return (self.call,)


CallAction = Literal["accept", "reject", "cancel", "hangup", "state"]


class _OnCall(_Step):
    call: str | None = None
    """The call's name, bound by the ``dial`` that started it."""
    call_id: PositiveInt | None = None
    """A literal call id instead (a call that does not exist, say)."""
    terminal: str | None = None
    """Send this terminal id instead of the party's (an over-long one, say)."""
    auth: Literal["token", "none", "bogus"] = "token"
    """``none`` sends no Authorization header, ``bogus`` a token the server never issued."""

    @model_validator(mode="after")
    def _one_call(self) -> Self:
        if (self.call is None) == (self.call_id is None):
            raise ValueError("give either call (a name from a dial) or call_id")
        return self

    @property
    def calls_used(self) -> tuple[str, ...]:
        return () if self.call is None else (self.call,)


class CallStep(_OnCall):
    """``accept``, ``reject``, ``cancel``, ``hangup`` or ``state`` on a call."""

    action: CallAction
    reason: str | None = None
    """For reject, cancel and hangup; default: the documented default reason."""

    @model_validator(mode="after")
    def _reason_fits(self) -> Self:
        if self.reason is not None and self.action not in ("reject", "cancel", "hangup"):
            raise ValueError("reason is only for reject, cancel and hangup")
        return self


class MediaStep(_OnCall):
    """A media-state report: ``stage`` and, optionally, ``quality`` (``network_quality``)."""

    action: Literal["media"]
    stage: str
    quality: str | None = None


class WaitStep(_Step):
    """``party`` waits until it sees ``call`` in one of ``status`` (pushed, or polled), or fails at ``timeout``."""

    action: Literal["wait"]
    call: str
    status: Statuses
    timeout: PositiveFloat = DEFAULT_WAIT_SECONDS
    via: Literal["any", "push"] = "any"
    """``push``: the state must arrive on the push channel (the scenario then needs one)."""

    @property
    def calls_used(self) -> tuple[str, ...]:
        return (self.call,)


class ListStep(_Step):
    """*ext* The party's ``active`` calls or its call ``history``: check which calls are listed."""

    action: Literal["active", "history"]

    @property
    def calls_used(self) -> tuple[str, ...]:
        listed = self.expect or Expect()
        decided = self.simulator or Expect()
        return tuple((listed.includes or []) + (listed.excludes or []) + (decided.includes or []) + (decided.excludes or []))


ACTIONS = ("dial", "accept", "reject", "cancel", "hangup", "state", "media", "wait", "active", "history")
_KIND_OF_ACTION = {
    "dial": "dial",
    **{action: "call" for action in ("accept", "reject", "cancel", "hangup", "state")},
    "media": "media",
    "wait": "wait",
    "active": "list",
    "history": "list",
}


def _action_kind(value: Any) -> str | None:
    action = value.get("action") if isinstance(value, dict) else getattr(value, "action", None)
    return _KIND_OF_ACTION.get(action) if isinstance(action, str) else None


ActionStep = Annotated[
    Annotated[DialStep, Tag("dial")]
    | Annotated[CallStep, Tag("call")]
    | Annotated[MediaStep, Tag("media")]
    | Annotated[WaitStep, Tag("wait")]
    | Annotated[ListStep, Tag("list")],
    Discriminator(
        _action_kind,
        custom_error_type="invalid_action",
        custom_error_message=f"action must be one of {', '.join(ACTIONS)}",
    ),
]


class TogetherStep(_Strict):
    """Steps of different parties started at the same instant (for races); the next step waits for all."""

    together: Annotated[list[ActionStep], Field(min_length=2)]
    after: NonNegativeFloat = 0.0
    expect: GroupExpect | None = None
    simulator: GroupExpect | None = None

    @model_validator(mode="after")
    def _distinct_parties(self) -> Self:
        parties = [member.party for member in self.together]
        if len(set(parties)) != len(parties):
            raise ValueError("together: each party may appear once (a party does one thing at a time)")
        return self


def _step_kind(value: Any) -> str:
    together = "together" in value if isinstance(value, dict) else isinstance(value, TogetherStep)
    return "together" if together else "action"


Step = Annotated[
    Annotated[ActionStep, Tag("action")] | Annotated[TogetherStep, Tag("together")],
    Discriminator(_step_kind),
]
AnyStep = DialStep | CallStep | MediaStep | WaitStep | ListStep


class Scenario(_Strict):
    """One scenario: who takes part, and the steps between them in order."""

    name: str = ""
    """Default: the file's name without ``.toml``."""
    description: str = ""
    requires: list[Capability] = []
    ring_timeout: PositiveInt | None = None
    """The scenario needs the server to ring at most this many seconds (it waits for a ring timeout)."""
    parties: dict[str, Annotated[Party, BeforeValidator(_party)]] = Field(min_length=1)
    steps: Annotated[list[Step], Field(min_length=1)]

    @model_validator(mode="after")
    def _references_resolve(self) -> Self:
        """Every party a step names exists, and every call it names was dialled before it."""
        bound: set[str] = set()
        for number, step in enumerate(self.steps, start=1):
            members: list[AnyStep] = step.together if isinstance(step, TogetherStep) else [step]
            for member in members:
                where = f"step {number} ({member.action})"
                if member.party not in self.parties:
                    known = ", ".join(self.parties)
                    raise ValueError(f"{where}, field party: {member.party!r} is not one of the parties ({known})")
                for call in member.calls_used:
                    if call not in bound:
                        raise ValueError(f"{where}: call {call!r} is not started by an earlier dial")
            for member in members:
                bound.update(member.calls_bound)
        return self

    def numbered(self) -> list[tuple[str, AnyStep]]:
        """Every action step with its number as printed: ``3``, or ``4.1`` for a member of group 4."""
        out: list[tuple[str, AnyStep]] = []
        for number, step in enumerate(self.steps, start=1):
            if isinstance(step, TogetherStep):
                out += [(f"{number}.{index}", member) for index, member in enumerate(step.together, start=1)]
            else:
                out.append((str(number), step))
        return out


class ScenarioFileError(Exception):
    """A scenario file that cannot be run; the message is one line naming the file, step and field."""


def load_scenario(path: Path) -> Scenario:
    """Read and validate one scenario file."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ScenarioFileError(f"{path}: cannot read it ({error.strerror or error})") from None
    except tomllib.TOMLDecodeError as error:
        raise ScenarioFileError(f"{path}: not valid TOML: {error}") from None
    return parse_scenario(raw, source=str(path), default_name=path.stem)


def parse_scenario(raw: dict[str, Any], *, source: str, default_name: str) -> Scenario:
    """A scenario from already-parsed data (a TOML file's, or one built by ``softphone check``)."""
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as error:
        raise ScenarioFileError(f"{source}: {describe_error(error, raw)}") from None
    return scenario if scenario.name else scenario.model_copy(update={"name": default_name})


def describe_error(error: ValidationError, raw: dict[str, Any]) -> str:
    """The first problem as ``step 3 (accept), field reasn: extra inputs are not permitted``."""
    first = error.errors(include_url=False)[0]
    message = first["msg"].removeprefix("Value error, ")
    location = list(first["loc"])
    where: list[str] = []
    if location[:1] == ["steps"] and len(location) > 1 and isinstance(location[1], int):
        step = raw["steps"][location[1]]
        where.append(f"step {location[1] + 1} ({_label(step)})")
        location = location[3:]  # past the index and the step's kind
        if location[:1] == ["together"] and len(location) > 1 and isinstance(location[1], int):
            member = step["together"][location[1]]
            where.append(f"member {location[1] + 1} ({_label(member)})")
            location = location[3:]
    field = ".".join(str(part) for part in location if part not in _TAGS)
    place = ", ".join(where + ([f"field {field}"] if field else []))
    return f"{place}: {message[:1].lower()}{message[1:]}" if place else message


_TAGS = frozenset(_KIND_OF_ACTION.values())


def _label(step: object) -> str:
    if isinstance(step, dict):
        return "together" if "together" in step else str(step.get("action", "no action"))
    return "not a table"
