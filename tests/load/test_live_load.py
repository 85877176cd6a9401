"""``softphone load`` against a live simulator, in one process and with two Locust workers.

Each run is a real ``softphone load`` process (Locust patches the standard library, so never in the
test process). What it reports must match what the simulator stored: every call it counts, by how it
ended, is in the callers' histories, and nothing else is.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import Counter
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


def run_load(server: ServerProcess, *args: str, users: str = str(USERS)) -> tuple[int, dict[str, Any], str]:
    command = [
        sys.executable, "-m", "softphone", "load", "--server", server.base_url, "--users", users,
        "--ring-timeout", "1", "--json", *args,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert result.stdout.strip(), result.stderr[-3000:]
    return result.returncode, json.loads(result.stdout), result.stderr


def stored_calls(server: ServerProcess) -> Counter[str]:
    """Every call the simulator stored, by end reason (``live`` if it has none), from each caller's history."""
    found: Counter[str] = Counter()
    for caller in generated_user_names(USERS)[::2]:
        headers = {"Authorization": f"Bearer {login(server.base_url, caller)}"}
        before: int | None = None
        while True:
            params = {"limit": 100, **({"before_id": before} if before else {})}
            calls = httpx.get(f"{server.base_url}/api/calls/history", params=params, headers=headers).json()["data"]["calls"]
            for call in calls:
                if call["caller_user_id"] == 100_000 + int(caller[1:]):
                    found[call["end_reason"] or "live"] += 1
            if len(calls) < 100:
                break
            before = calls[-1]["call_id"]
    return found


def assert_agrees_with_the_server(summary: dict[str, Any], server: ServerProcess) -> None:
    outcomes = summary["calls"]["by_outcome"]
    reported = Counter({END_REASON_OF[name]: counts["completed"] for name, counts in outcomes.items()})
    assert summary["calls"]["failed"] == 0
    assert +reported == stored_calls(server)
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
