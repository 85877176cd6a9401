"""The background simulator the phone starts: its record, and what ``softphone sim`` does with it.

``ensure_local_simulator`` writes a small JSON record per port in the user state directory (pid,
port, database, log, start time) once the simulator it started answers. The simulator answers the
rest itself, on its loopback-only route ``/api/dev/simulator`` (pid, database, live calls), so a
record left behind by a simulator that has stopped since is recognised as stale, and a simulator
started by hand on that port is still found (without a log to name).
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import platformdirs
from pydantic import BaseModel, ValidationError

from softphone.api import Envelope, ResetData, SimulatorInfo, format_timestamp

DataT = TypeVar("DataT", bound=BaseModel)
STOP_WAIT_SECONDS = 10.0
SIMULATOR_ROUTE = "/api/dev/simulator"


@dataclass(frozen=True)
class SimulatorRecord:
    """What the starter of a background simulator knows that the simulator cannot tell: where it logs."""

    url: str
    port: int
    pid: int
    db: str
    log: str
    started_at: str


@dataclass(frozen=True)
class RunningSimulator:
    url: str
    port: int
    info: SimulatorInfo
    record: SimulatorRecord | None
    """``None`` unless this very process was started by ``ensure_local_simulator``."""

    @property
    def live_calls(self) -> int:
        return sum(self.info.live_calls.values())


def record_path(port: int) -> Path:
    return platformdirs.user_state_path("softphone") / f"simulator-{port}.json"


def read_record(port: int) -> SimulatorRecord | None:
    try:
        return SimulatorRecord(**json.loads(record_path(port).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def forget(port: int) -> None:
    record_path(port).unlink(missing_ok=True)


def _ask(method: str, url: str, model: type[DataT]) -> DataT | None:
    """The ``data`` of a successful answer from the simulator's own route; ``None`` for anything else."""
    try:
        response = httpx.request(method, url, timeout=10)
        envelope = Envelope[model].model_validate_json(response.content)  # type: ignore[valid-type]
    except (httpx.HTTPError, ValidationError):
        return None
    data: DataT | None = envelope.data if envelope.code == 0 else None
    return data


def simulator_info(url: str) -> SimulatorInfo | None:
    """What the simulator at ``url`` says about itself; ``None`` when nothing there answers the route."""
    return _ask("GET", f"{url}{SIMULATOR_ROUTE}", SimulatorInfo)


def record_started(url: str, port: int, log_path: Path) -> None:
    """Record the simulator now answering at ``url``, as the simulator itself describes it."""
    info = simulator_info(url)
    if info is None:
        return
    record = SimulatorRecord(url, port, info.pid, info.database, str(log_path), info.started_at.isoformat())
    path = record_path(port)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(record), indent=2), encoding="utf-8")


def find(url: str, port: int) -> RunningSimulator | None:
    """The simulator answering at ``url``; a record it does not match is stale and removed."""
    info = simulator_info(url)
    record = read_record(port)
    if info is None:
        if record is not None:
            forget(port)
        return None
    return RunningSimulator(url, port, info, record if record is not None and record.pid == info.pid else None)


def describe(running: RunningSimulator) -> str:
    """Where it runs, its pid, database, log and live calls: what ``sim status`` and the palette show."""
    info, record = running.info, running.record
    counts = ", ".join(f"{count} {name}" for name, count in info.live_calls.items())
    return (
        f"A simulator is running at {running.url}\n"
        f"  port        {running.port}\n"
        f"  pid         {info.pid} (since {format_timestamp(info.started_at)})\n"
        f"  database    {info.database}\n"
        f"  log         {record.log if record else 'unknown: it was not started by the phone'}\n"
        f"  live calls  {running.live_calls} ({counts})"
    )


def stop(running: RunningSimulator) -> None:
    """SIGTERM (uvicorn shuts down cleanly), and SIGKILL if it still answers after ``STOP_WAIT_SECONDS``."""
    os.kill(running.info.pid, signal.SIGTERM)
    if not _stops_answering(running.url):
        os.kill(running.info.pid, signal.SIGKILL)
        _stops_answering(running.url)
    forget(running.port)


def _stops_answering(url: str) -> bool:
    deadline = time.monotonic() + STOP_WAIT_SECONDS
    while simulator_info(url) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def reset(running: RunningSimulator) -> ResetData | None:
    """End every live call as ``abandoned``, through the simulator so that the pushes go out."""
    return _ask("POST", f"{running.url}{SIMULATOR_ROUTE}/reset", ResetData)


def wipe(db: str) -> list[Path]:
    """Delete a database file with its WAL and shared-memory files; the paths that were there."""
    deleted = []
    for path in (Path(db), Path(f"{db}-wal"), Path(f"{db}-shm")):
        if path.exists():
            path.unlink()
            deleted.append(path)
    return deleted
