"""Crash safety: SIGKILL the simulator at a random moment of a scripted load, restart it, and check.

Each round, eight pairs of users run call lifecycles over real HTTP (start, then accept, media and
hangup, or reject, or cancel) as fast as they can, noting every change the server acknowledged. At a
moment drawn from the seed the process is killed (no clean-up, as a crash), then started again on
the same database. Then, over HTTP and in the database itself:

- every acknowledged change is there: its call has that version with that status, or a later one;
- versions have no holes: each call's recorded versions are 1, 2, ... up to its current one, and the
  next change after the restart is exactly one more;
- nothing is half-applied: a call's row agrees with its last recorded version, ended calls have their
  end, answered calls their answer, nobody is in two live calls, and the live calls' table lists
  exactly the parties of the live calls.

Rounds share one database, so every round re-checks everything acknowledged before it.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.server import ServerProcess, login
from support.soak import record, replay_hint, scaled, seed_range, seeds

from .harness import generated_user

PROOF = "Crash safety: SIGKILL under load, restart"
SEEDS = seeds(quick=2, soak=50)
PAIRS = 8
LIVE = ("calling", "accepted", "ongoing")
OVER = ("rejected", "cancelled", "ended")


@dataclass
class Ledger:
    """What the server acknowledged: (call, version) → status, and the requests a crash left unanswered."""

    acknowledged: dict[tuple[int, int], str] = field(default_factory=dict)
    unanswered: int = 0

    def note(self, data: dict[str, Any]) -> None:
        self.acknowledged[(data["call_id"], data["version"])] = data["status"]


@dataclass
class Pair:
    """Two users' tokens and what a start needs."""

    caller: str
    caller_id: int
    callee: str
    callee_id: int
    conversation_id: int


async def lifecycles(http: httpx.AsyncClient, pair: Pair, rng: random.Random, ledger: Ledger) -> None:
    """Calls one after another until the server stops answering."""

    async def post(path: str, token: str, body: dict[str, Any]) -> dict[str, Any] | None:
        envelope = (await http.post(path, json=body, headers={"Authorization": f"Bearer {token}"})).json()
        assert envelope["code"] == 0, (path, envelope)
        ledger.note(envelope["data"])
        return envelope["data"]  # type: ignore[no-any-return]

    try:
        while True:
            start = {"conversation_id": pair.conversation_id, "target_user_id": pair.callee_id, "call_type": "audio",
                     "biz_type": "single", "terminal_id": "a"}  # fmt: skip
            call = await post("/api/calls/session", pair.caller, start)
            assert call is not None
            calls = f"/api/calls/{call['call_id']}"
            story = rng.choice(["talk", "talk", "reject", "cancel"])
            if story == "reject":
                await post(f"{calls}/reject", pair.callee, {"terminal_id": "b"})
            elif story == "cancel":
                await post(f"{calls}/cancel", pair.caller, {"terminal_id": "a"})
            else:
                await post(f"{calls}/accept", pair.callee, {"terminal_id": "b"})
                await post(f"{calls}/media-state", pair.callee, {"terminal_id": "b", "stage": "joined"})
                await post(f"{calls}/media-state", pair.caller, {"terminal_id": "a", "stage": "joined", "network_quality": "poor"})
                await post(f"{calls}/hangup", rng.choice([pair.caller, pair.callee]), {"terminal_id": "a"})
    except httpx.TransportError:
        ledger.unanswered += 1  # killed mid-request: that change may or may not have been made


def recorded(db: Path) -> tuple[dict[int, sqlite3.Row], dict[int, list[tuple[int, str]]]]:
    """Every call's row, and every call's recorded versions, read from the database itself."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        connection.row_factory = sqlite3.Row
        calls = {row["call_id"]: row for row in connection.execute("SELECT * FROM calls")}
        events: dict[int, list[tuple[int, str]]] = {}
        for row in connection.execute("SELECT call_id, version, status FROM call_events ORDER BY call_id, version"):
            events.setdefault(row["call_id"], []).append((row["version"], row["status"]))
    return calls, events


def listed_live(db: Path) -> set[tuple[int, int]]:
    """The live calls' table: (user, call) for each party of each call the store counts as live."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        return set(connection.execute("SELECT user_id, call_id FROM live_calls"))


def check_database(db: Path, ledger: Ledger) -> list[str]:
    """What is wrong with the database after a crash and a restart, in words (nothing, we hope)."""
    calls, events = recorded(db)
    parties_of_live = {
        (call[party], call_id) for call_id, call in calls.items() if call["status"] in LIVE
        for party in ("caller_user_id", "callee_user_id")
    }  # fmt: skip
    problems: list[str] = []
    for (call_id, version), status in ledger.acknowledged.items():
        if (version, status) not in events.get(call_id, []):
            problems.append(f"acknowledged call {call_id} v{version} {status} is lost")
    live: Counter[int] = Counter()
    for call_id, call in calls.items():
        versions = events.get(call_id, [])
        if [v for v, _ in versions] != list(range(1, call["version"] + 1)):
            problems.append(f"call {call_id} at v{call['version']} has versions {[v for v, _ in versions]}")
        elif versions[-1][1] != call["status"]:
            problems.append(f"call {call_id} is {call['status']} but its last version says {versions[-1][1]}")
        if call["status"] in OVER and (call["ended_at"] is None or call["end_reason"] is None):
            problems.append(f"call {call_id} is {call['status']} without its end")
        if call["status"] in ("accepted", "ongoing") and (call["accepted_at"] is None or call["accepted_terminal_id"] is None):
            problems.append(f"call {call_id} is {call['status']} without its answer")
        if call["status"] == "ongoing" and call["started_at"] is None:
            problems.append(f"call {call_id} is ongoing without started_at")
        if call["status"] in LIVE:
            live[call["caller_user_id"]] += 1
            live[call["callee_user_id"]] += 1
    problems += [f"user {user} is in {count} live calls" for user, count in live.items() if count > 1]
    if (listed := listed_live(db)) != parties_of_live:
        problems.append(f"live calls listed {sorted(listed)}, but the calls say {sorted(parties_of_live)}")
    problems += [f"versions of call {call_id} with no call" for call_id in events.keys() - calls.keys()]
    return problems


async def end_live_calls(http: httpx.AsyncClient, pairs: list[Pair], db: Path, ledger: Ledger) -> list[str]:
    """After the restart: end every call the crash left live; each change must be exactly one version on."""
    calls, _ = recorded(db)
    token_of = {pair.caller_id: pair.caller for pair in pairs}
    problems: list[str] = []
    for call_id, call in calls.items():
        if call["status"] not in LIVE:
            continue
        action = "cancel" if call["status"] == "calling" else "hangup"
        headers = {"Authorization": f"Bearer {token_of[call['caller_user_id']]}"}
        envelope = (await http.post(f"/api/calls/{call_id}/{action}", json={"terminal_id": "a"}, headers=headers)).json()
        if envelope["code"] != 0:
            problems.append(f"ending call {call_id} after the restart: {envelope}")
            continue
        ledger.note(envelope["data"])
        if envelope["data"]["version"] != call["version"] + 1:
            problems.append(f"call {call_id} was at v{call['version']}; the next change was v{envelope['data']['version']}")
    return problems


async def acknowledged_over_http(http: httpx.AsyncClient, pairs: list[Pair], ledger: Ledger) -> list[str]:
    """The server, asked over HTTP, holds every acknowledged call at that version or a later one."""
    newest: dict[int, int] = {}
    for call_id, version in ledger.acknowledged:
        newest[call_id] = max(version, newest.get(call_id, 0))
    problems: list[str] = []
    headers = {"Authorization": f"Bearer {pairs[0].caller}"}
    for call_id, version in newest.items():
        envelope = (await http.get(f"/api/calls/{call_id}/state", headers=headers)).json()
        if envelope["code"] == 41010:
            continue  # another pair's call: the database check covered it
        if envelope["code"] != 0 or envelope["data"]["version"] < version:
            problems.append(f"call {call_id} acknowledged at v{version}, the server answers {envelope}")
    return problems


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    db = Path(tmp_path_factory.mktemp("crash")) / "simulator.db"
    server = ServerProcess(db=db, args=["--users", str(2 * PAIRS)]).start()
    yield server
    server.close()


def pairs_on(server: ServerProcess) -> list[Pair]:
    pairs = []
    for number in range(PAIRS):
        caller, callee = generated_user(2 * number + 1), generated_user(2 * number + 2)
        token = login(server.base_url, caller)
        users = httpx.get(f"{server.base_url}/api/dev/directory", headers={"Authorization": f"Bearer {token}"}).json()
        me = next(user for user in users["data"]["users"] if user["name"] == caller)
        peer = next(user for user in users["data"]["users"] if user["name"] == callee)
        pairs.append(Pair(token, me["user_id"], login(server.base_url, callee), peer["user_id"], peer["conversation_id"]))
    return pairs


@pytest.mark.soak
@pytest.mark.timeout(scaled(120, 1200))
async def test_a_crash_loses_no_acknowledged_change_and_applies_nothing_by_half(
    simulator: ServerProcess, request: pytest.FixtureRequest
) -> None:
    db = Path(simulator.db_path)
    pairs = pairs_on(simulator)
    ledger = Ledger()
    failures: list[str] = []
    for seed in SEEDS:
        rng = random.Random(seed)
        async with httpx.AsyncClient(base_url=simulator.base_url, timeout=5) as http:
            load = [asyncio.create_task(lifecycles(http, pair, random.Random(rng.random()), ledger)) for pair in pairs]
            await asyncio.sleep(rng.uniform(0.05, 0.6))  # the moment of the crash, drawn from the seed
            simulator.kill()
            await asyncio.gather(*load)
        simulator.start()
        async with httpx.AsyncClient(base_url=simulator.base_url, timeout=5) as http:
            problems = check_database(db, ledger) + await acknowledged_over_http(http, pairs, ledger)
            problems += await end_live_calls(http, pairs, db, ledger)
        problems += check_database(db, ledger)
        if problems:
            failures.append(f"seed {seed}: " + "; ".join(problems) + f"\n  {replay_hint(seed, request.node.nodeid)}")
    record(
        request.node.nodeid,
        PROOF,
        rounds=len(SEEDS),
        seeds=seed_range(SEEDS),
        losses=len(failures),
        notes=f"{len(ledger.acknowledged):,} acknowledged changes checked after every restart, "
        f"{ledger.unanswered} requests cut off by the kill",
    )
    assert not failures, f"{len(failures)} of {len(SEEDS)} crashes broke something:\n" + "\n".join(failures)
    assert ledger.unanswered > 0, "the kills landed while requests were in flight"
