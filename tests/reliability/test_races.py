"""Races over real HTTP: requests that cannot all win, sent at once to a simulator process.

Five kinds of round: many terminals of the callee accepting one call; an accept against the caller's
cancel; an accept sent at the ring deadline against the ring timer; a reject from one terminal
against an accept from another; both parties hanging up. In every round exactly one request wins,
every other gets the documented refusal, the call ends in the winner's state, and every terminal of
both parties is pushed the same versions in order, ending with that state.

Rounds of one pair of users run one after another; pairs run side by side (no faults here, so a
seed only picks the terminals and the moment; ``SOFTPHONE_SEED=N`` replays one round of each kind).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.server import ServerProcess, login
from support.soak import SOAK, record, replay_hint, scaled, seed_range, seeds
from websockets.asyncio.client import ClientConnection, connect

from .harness import generated_user

PROOF = "Races over real HTTP: one winner"
SEEDS = seeds(quick=20, soak=200)
PAIRS = 10
CALLEE_TERMINALS = ("b1", "b2", "b3", "b4", "b5")
RING_TIMEOUT = 1
"""Seconds, on the server that races accepts against the ring timer."""
PUSHED_WITHIN = 10.0

OK = 0
OVER, ELSEWHERE, WRONG_STATUS = 41007, 41006, 41002


class Listener:
    """One terminal's push connection: every ``call.updated`` it is sent, by call."""

    def __init__(self, websocket: ClientConnection) -> None:
        self.pushed: dict[int, list[tuple[int, str]]] = {}
        self._websocket = websocket
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self._websocket:
            frame = json.loads(raw)
            if frame["type"] == "call.updated":
                state = frame["data"]
                self.pushed.setdefault(state["call_id"], []).append((state["version"], state["status"]))
                self._changed.set()

    async def until_version(self, call_id: int, version: int) -> bool:
        try:
            async with asyncio.timeout(PUSHED_WITHIN):
                while not any(v >= version for v, _ in self.pushed.get(call_id, [])):
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self._websocket.close()


@dataclass
class Pair:
    """A caller and a callee, the callee on five terminals, each terminal (and the caller's) listening."""

    http: httpx.AsyncClient
    caller: str
    callee: str
    callee_id: int
    conversation_id: int
    listeners: dict[str, Listener] = field(default_factory=dict)

    async def post(self, path: str, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        envelope = (await self.http.post(path, json=body, headers={"Authorization": f"Bearer {token}"})).json()
        return envelope["code"], envelope["data"]

    async def act(self, call_id: int, action: str, token: str, terminal: str) -> int:
        code, _ = await self.post(f"/api/calls/{call_id}/{action}", token, {"terminal_id": terminal})
        return code

    async def start(self) -> dict[str, Any]:
        body = {
            "conversation_id": self.conversation_id, "target_user_id": self.callee_id, "call_type": "audio",
            "biz_type": "single", "terminal_id": "a1",
        }  # fmt: skip
        code, data = await self.post("/api/calls/session", self.caller, body)
        assert code == OK and data is not None, (code, data)
        return data

    async def state(self, call_id: int) -> dict[str, Any]:
        response = await self.http.get(f"/api/calls/{call_id}/state", headers={"Authorization": f"Bearer {self.caller}"})
        data: dict[str, Any] = response.json()["data"]
        return data


@asynccontextmanager
async def pair_on(server: ServerProcess, http: httpx.AsyncClient, number: int) -> AsyncIterator[Pair]:
    caller_name, callee_name = generated_user(2 * number + 1), generated_user(2 * number + 2)
    caller, callee = login(server.base_url, caller_name), login(server.base_url, callee_name)
    users = (await http.get("/api/dev/directory", headers={"Authorization": f"Bearer {caller}"})).json()["data"]["users"]
    peer = next(user for user in users if user["name"] == callee_name)
    pair = Pair(http, caller, callee, peer["user_id"], peer["conversation_id"])
    for terminal, token in [("a1", caller), *((t, callee) for t in CALLEE_TERMINALS)]:
        websocket = await connect(
            f"{server.ws_url}?terminal_id={terminal}", additional_headers={"Authorization": f"Bearer {token}"}
        )
        await websocket.recv()  # the hello: from now on this terminal is pushed every change
        pair.listeners[terminal] = Listener(websocket)
    try:
        yield pair
    finally:
        await asyncio.gather(*(listener.close() for listener in pair.listeners.values()))


# --------------------------------------------------------------------------- the rounds
# Each returns its call and the outcome in words, or raises AssertionError saying what broke.


async def many_accept(pair: Pair, rng: random.Random) -> tuple[int, str]:
    call_id = (await pair.start())["call_id"]
    terminals = rng.sample(CALLEE_TERMINALS, rng.randint(2, len(CALLEE_TERMINALS)))
    codes = await asyncio.gather(*(pair.act(call_id, "accept", pair.callee, t) for t in terminals))
    assert sorted(codes) == [OK] + [ELSEWHERE] * (len(terminals) - 1), dict(zip(terminals, codes, strict=True))
    winner = terminals[codes.index(OK)]
    state = await pair.state(call_id)
    assert (state["status"], state["version"], state["accepted_terminal_id"]) == ("accepted", 2, winner), state
    return call_id, f"{len(terminals)} accepts: one won"


async def accept_against_cancel(pair: Pair, rng: random.Random) -> tuple[int, str]:
    call_id = (await pair.start())["call_id"]
    accept, cancel = await asyncio.gather(
        pair.act(call_id, "accept", pair.callee, rng.choice(CALLEE_TERMINALS)), pair.act(call_id, "cancel", pair.caller, "a1")
    )
    state = await pair.state(call_id)
    outcome = {(OK, WRONG_STATUS): "accepted", (OVER, OK): "cancelled"}.get((accept, cancel))
    assert outcome is not None, f"accept {accept}, cancel {cancel}"
    assert (state["status"], state["version"]) == (outcome, 2), state
    return call_id, f"{outcome} won"


async def reject_against_accept(pair: Pair, rng: random.Random) -> tuple[int, str]:
    call_id = (await pair.start())["call_id"]
    rejecting, accepting = rng.sample(CALLEE_TERMINALS, 2)
    reject, accept = await asyncio.gather(
        pair.act(call_id, "reject", pair.callee, rejecting), pair.act(call_id, "accept", pair.callee, accepting)
    )
    state = await pair.state(call_id)
    outcome = {(OK, OVER): "rejected", (ELSEWHERE, OK): "accepted"}.get((reject, accept))
    assert outcome is not None, f"reject {reject}, accept {accept}"
    assert (state["status"], state["version"]) == (outcome, 2), state
    if outcome == "accepted":
        assert state["accepted_terminal_id"] == accepting
    return call_id, f"{outcome} won"


async def hangup_from_both_sides(pair: Pair, rng: random.Random) -> tuple[int, str]:
    call_id = (await pair.start())["call_id"]
    answering = rng.choice(CALLEE_TERMINALS)
    assert await pair.act(call_id, "accept", pair.callee, answering) == OK
    caller, callee = await asyncio.gather(
        pair.act(call_id, "hangup", pair.caller, "a1"), pair.act(call_id, "hangup", pair.callee, answering)
    )
    assert sorted((caller, callee)) == [OK, OVER], f"caller {caller}, callee {callee}"
    state = await pair.state(call_id)
    winner = "caller" if caller == OK else "callee"
    expected_terminal = "a1" if winner == "caller" else answering
    assert (state["status"], state["version"], state["ended_by_terminal_id"]) == ("ended", 3, expected_terminal), state
    return call_id, f"the {winner}'s hangup won"


async def accept_against_ring_timeout(pair: Pair, rng: random.Random) -> tuple[int, str]:
    loop = asyncio.get_running_loop()
    asked = loop.time()
    call_id = (await pair.start())["call_id"]
    answered = loop.time()
    # The server armed the ring timer between our asking and its answer (the state's created_at is to
    # the second: too coarse). The race is against that moment: send the accept somewhere in that
    # window, one ring timeout on, then let the timer have had its chance before reading the outcome.
    moment = RING_TIMEOUT + rng.uniform(asked - 0.01, answered + 0.01)
    await asyncio.sleep(max(0.0, moment - loop.time()))
    accept = await pair.act(call_id, "accept", pair.callee, rng.choice(CALLEE_TERMINALS))
    await asyncio.sleep(max(0.0, answered + RING_TIMEOUT + 0.2 - loop.time()))
    state = await pair.state(call_id)
    outcome = {OK: ("accepted", None), OVER: ("ended", "no_answer_timeout")}.get(accept)
    assert outcome is not None, f"accept {accept}"
    assert (state["status"], state["end_reason"], state["version"]) == (*outcome, 2), state
    return call_id, "the accept won" if accept == OK else "the ring timer won"


KINDS: dict[str, Callable[[Pair, random.Random], Any]] = {
    "many terminals accept": many_accept,
    "accept against cancel": accept_against_cancel,
    "reject against accept from another terminal": reject_against_accept,
    "hangup from both sides": hangup_from_both_sides,
    "accept against the ring timeout": accept_against_ring_timeout,
}
TIMED = {"accept against the ring timeout"}
TWO_WAY = set(KINDS) - {"many terminals accept"}


async def play_round(pair: Pair, kind: str, seed: int) -> str:
    """One round, its pushes checked on every terminal, and the call ended so the pair is free again."""
    call_id, outcome = await KINDS[kind](pair, random.Random(seed))
    final = await pair.state(call_id)
    version, status = final["version"], final["status"]
    for terminal, listener in pair.listeners.items():
        assert await listener.until_version(call_id, version), f"{terminal} was never pushed v{version}"
        pushed = listener.pushed[call_id][:version]
        assert [v for v, _ in pushed] == list(range(1, version + 1)), f"{terminal} was pushed {pushed}"
        assert pushed[-1] == (version, status), f"{terminal} ends with {pushed[-1]}, the server with {status}"
    if status in ("accepted", "ongoing"):
        assert await pair.act(call_id, "hangup", pair.caller, "a1") == OK
    return outcome


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[bool, ServerProcess]]:
    """One simulator that rings for 30 s, one for a second (for the ring-timer races)."""
    base = Path(tmp_path_factory.mktemp("races"))
    started = {
        timed: ServerProcess(db=base / f"sim-{timed}.db", ring_timeout=RING_TIMEOUT if timed else 30,
                             args=["--users", str(2 * PAIRS)])  # fmt: skip
        for timed in (False, True)
    }
    with ThreadPoolExecutor() as pool:  # each start waits for its /healthz: wait for both at once
        list(pool.map(ServerProcess.start, started.values()))
    yield started
    for server in started.values():
        server.close()


async def run_pairs(server: ServerProcess, rounds: list[tuple[str, int]], nodeid: str) -> tuple[Counter[str], list[str]]:
    """Deal the rounds to the pairs; each pair plays its share in order."""
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)

    async def play_share(number: int, share: list[tuple[str, int]]) -> None:
        async with pair_on(server, http, number) as pair:
            for kind, seed in share:
                try:
                    outcomes[f"{kind}: {await play_round(pair, kind, seed)}"] += 1
                except AssertionError as broken:
                    failures.append(f"{kind}, seed {seed}: {broken}\n  {replay_hint(seed, nodeid)}")
                    return  # the pair may still be busy with that call: its other rounds are lost too

    async with httpx.AsyncClient(base_url=server.base_url, timeout=10, limits=limits) as http:
        await asyncio.gather(*(play_share(number, rounds[number::PAIRS]) for number in range(PAIRS)))
    return outcomes, failures


@pytest.mark.soak
@pytest.mark.timeout(scaled(180, 1500))
async def test_every_race_has_exactly_one_winner_and_every_terminal_agrees(
    servers: dict[bool, ServerProcess], request: pytest.FixtureRequest
) -> None:
    rounds = [(kind, seed) for seed in SEEDS for kind in KINDS]
    results = await asyncio.gather(
        *(run_pairs(servers[timed], [r for r in rounds if (r[0] in TIMED) == timed], request.node.nodeid)
          for timed in (False, True))
    )  # fmt: skip
    outcomes = sum((counts for counts, _ in results), Counter())
    failures = [failure for _, found in results for failure in found]
    played = sum(outcomes.values())
    record(
        request.node.nodeid,
        PROOF,
        rounds=len(rounds),
        seeds=seed_range(SEEDS),
        losses=len(rounds) - played,
        notes="; ".join(f"{outcome} ×{count}" for outcome, count in sorted(outcomes.items())),
    )
    assert not failures, f"{len(failures)} rounds went wrong:\n" + "\n".join(failures)
    assert played == len(rounds)
    for kind in KINDS:
        assert any(outcome.startswith(kind) for outcome in outcomes), f"no round of {kind} was played"
    if SOAK:  # hundreds of rounds of each: both sides of every two-way race must have won some
        for kind in TWO_WAY:
            assert len([o for o in outcomes if o.startswith(kind)]) == 2, f"{kind} always went one way"
