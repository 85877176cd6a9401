"""What a load run does, as plain data: the mix of outcomes, the rate, and how many users that takes.

This module imports neither Locust nor gevent, so ``softphone load`` can check its options (and exit 2
on a bad one) in the command's own process; the load itself runs in a process of its own
(``python -m softphone.load``) where Locust is imported first.

Users sign in with the simulator's dev login, or with the tokens a profile gives (``--profile``): the
plan carries those tokens and each pair's conversation from the profile, so a worker needs nothing but
the plan, and a server without a directory (a real one, ``serve --documented-only``) can be loaded.

Arrivals are paced per Locust user: every user places one call every ``pacing_s`` seconds. A user
owns one caller/callee pair, and a pair can hold one call at a time, so a user's pacing must be longer
than its calls last. Outcomes last very differently (a ring timeout keeps a pair busy for the whole
ring timeout), so each outcome gets its own user class with its own pacing and as many users as the
asked rate needs: ``users = ceil(rate * share * shortest_pacing)``, then the pacing is stretched so
that ``users / pacing`` is exactly the asked rate of that outcome.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from softphone.load import LOCUST_MASTER_PORT

LAUNCH_VARIABLE = "SOFTPHONE_LOAD_LAUNCH"
"""Where a load process finds its :class:`Launch` (JSON): in its environment, not on its command line,
which any local user can read (``ps``), because a plan may carry a profile's tokens."""

SHORT_CALL_PACING_S = 1.0
"""Shortest pacing of an answered, rejected or cancelled call: a handful of requests fit in it with room."""
TIMEOUT_MARGIN_S = 2.0
"""Beyond the ring timeout: how long a timed-out call may take to be seen as ended."""


class Outcome(StrEnum):
    """How a generated call ends; each is a user class of its own."""

    ANSWER = "answer"
    REJECT = "reject"
    CANCEL = "cancel"
    TIMEOUT = "timeout"


class PlanError(ValueError):
    """An option that cannot make a load; its message is the one-line usage error."""


def parse_mix(text: str) -> dict[Outcome, float]:
    """``"answer=80,reject=10"`` as shares that sum to 1; weights need not add up to 100."""
    known = ", ".join(outcome.value for outcome in Outcome)
    weights: dict[Outcome, float] = {}
    for item in text.split(","):
        name, _, value = item.strip().partition("=")
        try:
            outcome, weight = Outcome(name.strip()), float(value)
        except ValueError:
            raise PlanError(f"--mix: {item.strip()!r} is not OUTCOME=WEIGHT with OUTCOME one of {known}") from None
        if not math.isfinite(weight) or weight < 0:
            raise PlanError(f"--mix: the weight of {outcome.value} must be a number of at least 0")
        if outcome in weights:
            raise PlanError(f"--mix: {outcome.value} is given twice")
        weights[outcome] = weight
    total = sum(weights.values())
    if total <= 0:
        raise PlanError("--mix: the weights add up to 0")
    return {outcome: weight / total for outcome, weight in weights.items() if weight > 0}


def generated_user_names(count: int) -> tuple[str, ...]:
    """The names ``softphone serve --users N`` seeds: ``u0001``, ``u0002``, ..."""
    return tuple(f"u{index:04d}" for index in range(1, count + 1))


class UserToken(BaseModel):
    """How a profile's user signs in on its server: a token and whose it is; no dev login for it."""

    model_config = ConfigDict(frozen=True)

    user_id: int = Field(gt=0)
    token: str = Field(min_length=1)
    terminal_id: str | None = None


@dataclass(frozen=True)
class ProfileUsers:
    """What a profile says about the load's users: who they are, in order, their tokens and conversations."""

    profile: str
    users: tuple[str, ...]
    tokens: Mapping[str, UserToken] = field(default_factory=dict)
    conversations: Mapping[frozenset[str], int] = field(default_factory=dict)
    """By the pair of names, in either order, as ``[profiles.NAME.conversations]`` keys them."""


class Pair(NamedTuple):
    """The caller and callee one Locust user drives, its first call's offset, and their conversation."""

    caller: str
    callee: str
    offset_s: float
    conversation_id: int | None
    """From the profile; ``None``: the caller's directory (the simulator's) finds it."""


class OutcomeLoad(BaseModel):
    """One user class of a run: its outcome, how many users run it, and each user's pacing."""

    model_config = ConfigDict(frozen=True)

    outcome: Outcome
    users: int
    pacing_s: float
    first_pair: int
    """Pairs ``first_pair .. first_pair + users - 1`` of the user list belong to this class."""

    @property
    def rate(self) -> float:
        return self.users / self.pacing_s


class LoadPlan(BaseModel):
    """Everything a worker needs to run its share; the master hands it to every worker."""

    model_config = ConfigDict(frozen=True)

    server: str
    rate: float = Field(gt=0)
    duration_s: float = Field(gt=0)
    mix: dict[Outcome, float]
    ring_timeout_s: float = Field(gt=0)
    push: bool = False
    workers: int = Field(default=1, ge=1)
    """Processes that run users: 1 in a single process, else the number of Locust workers."""
    loads: tuple[OutcomeLoad, ...]
    users: tuple[str, ...]
    """User names (or ids) in pairs: pair ``p`` is ``users[2p]`` calling ``users[2p + 1]``."""
    tokens: dict[str, UserToken] = {}
    """The users of ``users`` that sign in with a profile's token; the others use the dev login."""
    conversations: tuple[int | None, ...] = ()
    """Per pair, its conversation id from the profile (``None`` or missing: ask the directory)."""

    @property
    def concurrency(self) -> int:
        return sum(load.users for load in self.loads)

    @property
    def stop_timeout_s(self) -> float:
        """How long a stopping user may take to finish the call it is in: the longest call."""
        return self.ring_timeout_s + TIMEOUT_MARGIN_S + 10.0

    @property
    def ws_url(self) -> str:
        scheme, _, rest = self.server.partition("://")
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest.rstrip('/')}/api/ws"

    def load_of(self, outcome: Outcome) -> OutcomeLoad:
        return next(load for load in self.loads if load.outcome is outcome)

    def pair_for(self, outcome: Outcome, slot: int) -> Pair:
        """The pair of the ``slot``-th user of a class.

        Slots are handed out by whoever runs the users (the master, on workers' request), so no two
        users share a pair. The offsets spread the class's first calls evenly over one pacing period.
        """
        load = self.load_of(outcome)
        if not 0 <= slot < load.users:
            raise PlanError(f"{outcome.value}: more than the {load.users} users the plan has")
        pair = load.first_pair + slot
        conversation = self.conversations[pair] if pair < len(self.conversations) else None
        return Pair(self.users[2 * pair], self.users[2 * pair + 1], load.pacing_s * slot / load.users, conversation)


def size_loads(
    rate: float, mix: dict[Outcome, float], ring_timeout_s: float, concurrency: int | None
) -> tuple[OutcomeLoad, ...]:
    """Users and pacing per outcome for ``rate`` calls/s; ``concurrency`` fixes the total number of users."""
    shortest = {
        outcome: ring_timeout_s + TIMEOUT_MARGIN_S if outcome is Outcome.TIMEOUT else SHORT_CALL_PACING_S
        for outcome in mix
    }
    if concurrency is None:
        counts = {outcome: max(1, math.ceil(rate * share * shortest[outcome])) for outcome, share in mix.items()}
    else:
        if concurrency < len(mix):
            raise PlanError(f"--concurrency {concurrency}: the mix has {len(mix)} outcomes, each needs a user")
        need = {outcome: rate * share * shortest[outcome] for outcome, share in mix.items()}
        total = sum(need.values())
        counts = {outcome: max(1, round(concurrency * value / total)) for outcome, value in need.items()}
        largest = max(counts, key=lambda outcome: counts[outcome])
        counts[largest] += concurrency - sum(counts.values())
    loads: list[OutcomeLoad] = []
    first_pair = 0
    for outcome in Outcome:
        if outcome not in mix:
            continue
        users = counts[outcome]
        loads.append(OutcomeLoad(outcome=outcome, users=users, pacing_s=users / (rate * mix[outcome]), first_pair=first_pair))
        first_pair += users
    return tuple(loads)


def make_plan(
    *,
    server: str,
    rate: float,
    duration_s: float,
    mix: str,
    ring_timeout_s: float,
    concurrency: int | None,
    users: str | None,
    push: bool,
    workers: int,
    profile: ProfileUsers | None = None,
) -> LoadPlan:
    """The plan for the options of ``softphone load``; ``PlanError`` names the option that is wrong.

    ``users`` is a count (generated names ``u0001``...) or a comma-separated list of names or ids;
    by default the ``profile``'s users, or without any as many generated users as the load needs.
    A name with a token in the profile signs in with it, and a pair the profile names a conversation
    for calls in it.
    """
    if not rate > 0:
        raise PlanError("--rate must be more than 0 calls per second")
    if not duration_s > 0:
        raise PlanError("--duration must be more than 0 seconds")
    if concurrency is not None and concurrency < 1:
        raise PlanError("--concurrency must be at least 1")
    loads = size_loads(rate, parse_mix(mix), ring_timeout_s, concurrency)
    needed = 2 * sum(load.users for load in loads)
    where = "--users"
    if users is None and profile is not None and profile.users:
        names, where = profile.users, f"profile {profile.profile}"
    elif users is None:
        names = generated_user_names(needed)
    elif users.strip().isdecimal():
        names = generated_user_names(int(users))
    else:
        names = tuple(name.strip() for name in users.split(",") if name.strip())
    if len(names) < needed:
        raise PlanError(
            f"{where}: {len(names)} users are too few; {needed // 2} concurrent calls need {needed}"
            " (a caller and a callee each)"
        )
    names = names[:needed]
    known = profile or ProfileUsers(profile="", users=())
    return LoadPlan(
        server=server.rstrip("/"),
        rate=rate,
        duration_s=duration_s,
        mix=parse_mix(mix),
        ring_timeout_s=ring_timeout_s,
        push=push,
        workers=workers,
        loads=loads,
        users=names,
        tokens={name: known.tokens[name] for name in names if name in known.tokens},
        conversations=tuple(known.conversations.get(frozenset(names[i : i + 2])) for i in range(0, needed, 2)),
    )


Role = Literal["local", "master", "worker"]


class Launch(BaseModel):
    """What ``python -m softphone.load`` is to be: one process doing it all, a master, or a worker."""

    model_config = ConfigDict(frozen=True)

    role: Role
    plan: LoadPlan | None = None
    """None for a worker: the master sends the plan with the first spawn."""
    master_host: str = "127.0.0.1"
    master_port: int = LOCUST_MASTER_PORT
    local_workers: int = 0
    """Worker processes the master starts itself (``--workers N``); 0 with ``--master``."""
    web_port: int | None = None
    csv_prefix: str | None = None
    json_summary: bool = False


def launch_environment(launch: Launch) -> dict[str, str]:
    """This process's environment plus ``launch``, for a load process (``python -m softphone.load``)."""
    return {**os.environ, LAUNCH_VARIABLE: launch.model_dump_json()}


def load_process_command() -> list[str]:
    return [sys.executable, "-m", "softphone.load"]


def become_load_process(launch: Launch) -> None:
    """Replace this process by the load process ``launch`` describes; it imports Locust first."""
    os.execve(sys.executable, load_process_command(), launch_environment(launch))
