"""``softphone load`` against a live simulator, in one process and with two Locust workers.

Each run is a real ``softphone load`` process (Locust patches the standard library, so never in the
test process). What it reports must match what the simulator stored: every call it counts, by how it
ended, is in the callers' histories, and nothing else is. Against ``serve --documented-only`` (no
directory, no history) the load signs in only from a profile written from what the server printed,
and the calls are counted afterwards by a full simulator on the same database.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.server import ServerFactory, ServerProcess, free_port, login

from softphone.load.plan import generated_user_names

USERS = 40
END_REASON_OF = {
    "answer": "local_hangup",
    "reject": "user_reject",
    "cancel": "caller_cancel",
    "timeout": "no_answer_timeout",
}
RUN_TIMEOUT_S = 90


@pytest.fixture
def load_server(server_factory: ServerFactory) -> ServerProcess:
    """A simulator with 40 generated users and a one-second ring timeout."""
    return server_factory(ring_timeout=1, args=["--users", str(USERS)])


def run_load(server: ServerProcess | None, *args: str, users: str | None = str(USERS)) -> tuple[int, dict[str, Any], str]:
    """``softphone load --json`` with a one-second ring timeout; ``server`` and ``users`` None leave them to a profile."""
    command = [
        sys.executable, "-m", "softphone", "load", "--ring-timeout", "1", "--json",
        *(["--server", server.base_url] if server else []), *(["--users", users] if users else []), *args,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert result.stdout.strip(), result.stderr[-3000:]
    return result.returncode, json.loads(result.stdout), result.stderr


def generated_callers() -> dict[str, int]:
    """The callers of the generated pairs (``u0001``, ``u0003``...) and their user ids."""
    return {name: 100_000 + int(name[1:]) for name in generated_user_names(USERS)[::2]}


def stored_calls(server: ServerProcess, callers: Mapping[str, int]) -> Counter[str]:
    """Every call the simulator stored, by end reason (``live`` if it has none), from each caller's history."""
    found: Counter[str] = Counter()
    for caller, caller_id in callers.items():
        headers = {"Authorization": f"Bearer {login(server.base_url, caller)}"}
        before: int | None = None
        while True:
            params = {"limit": 100, **({"before_id": before} if before else {})}
            calls = httpx.get(f"{server.base_url}/api/calls/history", params=params, headers=headers).json()["data"]["calls"]
            for call in calls:
                if call["caller_user_id"] == caller_id:
                    found[call["end_reason"] or "live"] += 1
            if len(calls) < 100:
                break
            before = calls[-1]["call_id"]
    return found


def assert_agrees_with_the_server(
    summary: dict[str, Any], server: ServerProcess, callers: Mapping[str, int] | None = None
) -> None:
    outcomes = summary["calls"]["by_outcome"]
    reported = Counter({END_REASON_OF[name]: counts["completed"] for name, counts in outcomes.items()})
    assert summary["calls"]["failed"] == 0
    assert +reported == stored_calls(server, callers or generated_callers())
    assert summary["requests"]["POST /api/calls/session"]["count"] == summary["calls"]["attempted"]


def test_one_process_load_matches_the_servers_count(load_server: ServerProcess, tmp_path: Path) -> None:
    prefix = tmp_path / "run"
    code, summary, log = run_load(load_server, "--rate", "8", "--duration", "2", "--csv", str(prefix))
    assert code == 0, log[-3000:]
    assert summary["ok"] and summary["workers"] == 1
    assert summary["calls"]["attempted"] >= 8
    assert summary["achieved_rate"] > 0 and summary["asked_rate"] == 8
    assert summary["call_setup_ms"] is not None and summary["push_ms"] is None
    assert_agrees_with_the_server(summary, load_server)
    with open(f"{prefix}_stats.csv", newline="", encoding="utf-8") as handle:
        rows = {(row["Type"], row["Name"]): row for row in csv.DictReader(handle)}
    assert int(rows[("CALL", "answer")]["Request Count"]) == summary["calls"]["by_outcome"]["answer"]["completed"]
    assert "Aggregated" in log  # Locust's live console table, on stderr


def test_two_worker_processes_with_push_match_the_servers_count(load_server: ServerProcess) -> None:
    code, summary, log = run_load(load_server, "--rate", "8", "--duration", "2", "--workers", "2", "--push")
    assert code == 0, log[-3000:]
    assert summary["ok"] and summary["workers"] == 2
    assert log.count("reported as ready") >= 2  # two Locust workers connected to the master
    assert summary["push_ms"]["ring"] is not None and summary["push_ms"]["answer"] is not None
    assert_agrees_with_the_server(summary, load_server)


def test_a_master_and_a_worker_started_apart_share_one_load(load_server: ServerProcess) -> None:
    """What two machines do: the worker needs only the master's address; the master sends the plan."""
    port = str(free_port())
    worker = subprocess.Popen(
        [sys.executable, "-m", "softphone", "load", "--worker", "--master-host", "127.0.0.1", "--master-port", port],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        code, summary, log = run_load(
            load_server, "--rate", "4", "--duration", "2", "--mix", "answer=3,reject=1", "--master", "--workers", "1",
            "--master-port", port,
        )  # fmt: skip
        assert code == 0, log[-3000:]
        assert summary["workers"] == 1 and summary["calls"]["attempted"] >= 4
        assert_agrees_with_the_server(summary, load_server)
        assert worker.wait(timeout=RUN_TIMEOUT_S) == 0  # the master told it to quit
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def test_a_load_that_fails_exits_1_and_names_the_error(load_server: ServerProcess) -> None:
    code, summary, _ = run_load(load_server, "--rate", "2", "--duration", "1", "--mix", "answer=1", users="nobody,p2,p3,p4")
    assert code == 1 and not summary["ok"]
    assert any("40001" in error for error in summary["errors"])



SHEET_USER = re.compile(r"^(\w+) \(.*\): --user-id (\d+) --token (\S+)$")
SHEET_CONVERSATION = re.compile(r"^    with (\w+) \(\d+\): --conversation (\d+)$")
DOCUMENTED_MIX = ("--rate", "3", "--duration", "2", "--mix", "answer=1,reject=1,cancel=1")
"""Three pairs, one per outcome: the six seeded users, each pair in the conversation the profile names."""


@pytest.fixture
def documented_server(server_factory: ServerFactory) -> ServerProcess:
    return server_factory(ring_timeout=1, args=["--documented-only"])


def profile_from_sheet(server: ServerProcess, config: Path) -> dict[str, int]:
    """What a tester writes from what ``serve --documented-only`` printed: each seeded user's token and
    user id, and every pair's conversation, as ``[profiles.sim]``; returns the user ids by name."""
    users: dict[str, tuple[int, str]] = {}
    conversations: dict[frozenset[str], str] = {}
    current = ""
    for line in server.log().splitlines():
        if found := SHEET_USER.match(line):
            current = found[1]
            users[current] = (int(found[2]), found[3])
        elif found := SHEET_CONVERSATION.match(line):
            conversations[frozenset({current, found[1]})] = found[2]
    assert len(users) == 6 and len(conversations) == 15, server.log()
    lines = ["[profiles.sim]", f'server = "{server.base_url}"']
    for name, (user_id, token) in users.items():
        lines += [f"[profiles.sim.users.{name}]", f'token = "{token}"', f"user_id = {user_id}"]
    lines.append("[profiles.sim.conversations]")
    lines += [f'"{",".join(sorted(pair))}" = {conversation}' for pair, conversation in conversations.items()]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {name: user_id for name, (user_id, _) in users.items()}


def assert_documented_load_agrees(
    summary: dict[str, Any], server: ServerProcess, ids: Mapping[str, int], server_factory: ServerFactory
) -> None:
    """Only the profile signed in (no dev login, no directory); a full simulator on the same database
    then finds every call the load counted, by how it ended, in the callers' histories."""
    assert summary["server"] == server.base_url  # from the profile: no --server was given
    assert summary["calls"]["attempted"] >= 3 and set(summary["calls"]["by_outcome"]) == {"answer", "reject", "cancel"}
    served = server.log()
    assert "/api/calls/session" in served and "/api/dev/login" not in served and "/api/dev/directory" not in served
    server.stop()
    full = server_factory(ring_timeout=1, db=server.db_path)
    assert_agrees_with_the_server(summary, full, {name: ids[name] for name in ("alice", "carol", "erin")})


def test_a_profile_alone_loads_a_documented_only_server(
    documented_server: ServerProcess, server_factory: ServerFactory, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    ids = profile_from_sheet(documented_server, config)
    code, summary, log = run_load(None, "--config", str(config), "--profile", "sim", *DOCUMENTED_MIX, users=None)
    assert code == 0, log[-3000:]
    assert summary["ok"] and summary["workers"] == 1
    assert_documented_load_agrees(summary, documented_server, ids, server_factory)


def test_two_workers_get_the_profiles_tokens_from_the_master(
    documented_server: ServerProcess, server_factory: ServerFactory, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    ids = profile_from_sheet(documented_server, config)
    code, summary, log = run_load(
        None, "--config", str(config), "--profile", "sim", "--workers", "2", *DOCUMENTED_MIX, users=None
    )
    assert code == 0, log[-3000:]
    assert summary["ok"] and summary["workers"] == 2
    assert log.count("reported as ready") >= 2
    assert_documented_load_agrees(summary, documented_server, ids, server_factory)
