"""``softphone sim status|stop|reset`` on a background simulator, all as real processes.

Every test has its own port, state, data and log directories, so none touches a simulator of the
user's on 8765.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from support.server import free_port, login, wait_for
from websockets.asyncio.client import connect

from softphone.cli import main
from softphone.launch import is_healthy, local_url


@dataclass
class Sandbox:
    port: int
    env: dict[str, str]
    state_dir: Path
    data_dir: Path

    @property
    def url(self) -> str:
        return local_url(self.port)

    @property
    def record(self) -> Path:
        return self.state_dir / "softphone" / f"simulator-{self.port}.json"

    def start_background_simulator(self) -> int:
        """What the phone does on start: ``ensure_local_simulator``, in a process that then exits; the pid."""
        probe = f"from softphone.launch import ensure_local_simulator; print(ensure_local_simulator({self.port}))"
        started = subprocess.run(
            [sys.executable, "-c", probe], env=self.env, capture_output=True, text=True, timeout=60
        )
        assert started.returncode == 0, started.stderr
        assert started.stdout.strip() == self.url and is_healthy(self.url)
        pid: int = json.loads(self.record.read_text())["pid"]
        return pid

    def sim(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "softphone", "sim", *args, "--port", str(self.port)],
            env=self.env, input=input, capture_output=True, text=True, timeout=60,
        )  # fmt: skip


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    state, data = tmp_path / "state", tmp_path / "data"
    env = {**os.environ, "XDG_STATE_HOME": str(state), "XDG_DATA_HOME": str(data), "HOME": str(tmp_path)}
    box = Sandbox(free_port(), env, state, data)
    yield box
    if box.record.exists() and is_healthy(box.url):  # a simulator this test started and did not stop
        with contextlib.suppress(ProcessLookupError):
            os.kill(json.loads(box.record.read_text())["pid"], signal.SIGTERM)


def start_call(url: str, caller: str, callee: int, accept_as: str | None = None) -> int:
    token = login(url, caller)
    headers = {"Authorization": f"Bearer {token}"}
    users = httpx.get(f"{url}/api/dev/directory", headers=headers).json()["data"]["users"]
    conversation = next(user["conversation_id"] for user in users if user["user_id"] == callee)
    body = {"conversation_id": conversation, "target_user_id": callee, "call_type": "audio", "biz_type": "single",
            "terminal_id": "t"}  # fmt: skip
    call_id: int = httpx.post(f"{url}/api/calls/session", json=body, headers=headers).json()["data"]["call_id"]
    if accept_as:
        accept = {"Authorization": f"Bearer {login(url, accept_as)}"}
        httpx.post(f"{url}/api/calls/{call_id}/accept", json={"terminal_id": "t"}, headers=accept)
    return call_id


def state_of(url: str, call_id: int, user: str) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {login(url, user)}"}
    data: dict[str, object] = httpx.get(f"{url}/api/calls/{call_id}/state", headers=headers).json()["data"]
    return data


async def test_status_reset_and_stop_of_the_background_simulator(sandbox: Sandbox) -> None:
    nothing = sandbox.sim("status")
    assert (nothing.returncode, nothing.stdout) == (1, f"No simulator is running at {sandbox.url}.\n")

    pid = sandbox.start_background_simulator()
    record = json.loads(sandbox.record.read_text())
    assert record["port"] == sandbox.port and Path(record["db"]).parent == sandbox.data_dir / "softphone"
    answered = start_call(sandbox.url, "alice", 20002, accept_as="bob")
    ringing = start_call(sandbox.url, "carol", 40004)

    status = sandbox.sim("status")
    assert status.returncode == 0, status.stderr
    for words in (f"running at {sandbox.url}", f"pid         {pid}", f"database    {record['db']}",
                  f"log         {record['log']}", "live calls  2 (1 calling, 1 accepted, 0 ongoing)"):  # fmt: skip
        assert words in status.stdout, status.stdout

    declined = sandbox.sim("reset", input="n\n")
    assert declined.returncode == 1 and "End 2 live call(s) as abandoned?" in declined.stdout
    assert state_of(sandbox.url, answered, "alice")["status"] == "accepted"

    bob = login(sandbox.url, "bob")
    async with connect(f"ws://127.0.0.1:{sandbox.port}/api/ws?terminal_id=b", additional_headers={"Authorization": f"Bearer {bob}"}) as ws:
        assert json.loads(await ws.recv())["type"] == "hello"
        reset = sandbox.sim("reset", "--yes")
        assert (reset.returncode, reset.stdout) == (0, "Ended 2 live call(s) as abandoned.\n")
        pushed = json.loads(await ws.recv())
    assert (pushed["data"]["call_id"], pushed["data"]["end_reason"], pushed["data"]["version"]) == (answered, "abandoned", 3)
    assert state_of(sandbox.url, ringing, "carol")["end_reason"] == "abandoned"
    assert "live calls  0 (0 calling, 0 accepted, 0 ongoing)" in sandbox.sim("status").stdout

    stopped = sandbox.sim("stop")
    assert (stopped.returncode, stopped.stdout) == (0, f"Stopped the simulator at {sandbox.url} (pid {pid}).\n")
    assert not is_healthy(sandbox.url) and not sandbox.record.exists()
    assert sandbox.sim("status").returncode == 1
    assert sandbox.sim("stop").returncode == 1
    assert sandbox.sim("reset", "--yes").returncode == 1


async def test_reset_wipe_stops_the_simulator_and_deletes_its_database(sandbox: Sandbox) -> None:
    sandbox.start_background_simulator()
    db = Path(json.loads(sandbox.record.read_text())["db"])
    call_id = start_call(sandbox.url, "alice", 20002, accept_as="bob")
    assert db.exists()

    wiped = sandbox.sim("reset", "--wipe", "--yes")
    assert (wiped.returncode, wiped.stdout) == (0, f"Deleted {db}.\n")
    assert not is_healthy(sandbox.url) and not db.exists() and not Path(f"{db}-wal").exists()

    sandbox.start_background_simulator()
    alice = {"Authorization": f"Bearer {login(sandbox.url, 'alice')}"}
    gone = httpx.get(f"{sandbox.url}/api/calls/{call_id}/state", headers=alice).json()
    assert gone["code"] == 41001, "a fresh database: the old call and its busy users are gone"
    assert sandbox.sim("stop").returncode == 0
    await wait_for(lambda: not is_healthy(sandbox.url))


def test_a_stale_record_is_not_a_running_simulator(sandbox: Sandbox) -> None:
    sandbox.record.parent.mkdir(parents=True)
    sandbox.record.write_text(json.dumps({"url": sandbox.url, "port": sandbox.port, "pid": 999999, "db": "x",
                                          "log": "y", "started_at": "z"}))  # fmt: skip
    assert sandbox.sim("status").returncode == 1
    assert not sandbox.record.exists()


@pytest.mark.parametrize("args", [["sim"], ["sim", "restart"], ["sim", "status", "--port", "x"], ["sim", "reset", "--wipes"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert CliRunner().invoke(main, args).exit_code == 2
