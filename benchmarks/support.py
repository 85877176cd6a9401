"""What every benchmark phase needs: a simulator process, logins, holder processes, percentiles.

Everything here is bounded: processes run on free loopback ports with temporary databases and are
stopped when their ``with`` block ends; every wait has a deadline.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from softphone.launch import free_port
from softphone.load.plan import generated_user_names

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 20.0
HOLDER_READY_TIMEOUT_S = 180.0
FRAME_TIMEOUT_S = 10.0


def raise_file_limit() -> None:
    """5,000 push connections need more descriptors than the usual soft limit; children inherit it."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(pct / 100 * len(ordered))) - 1]


def spread(values: list[float]) -> dict[str, float]:
    """Median, min and max of one figure over several runs."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def latency_ms(seconds: list[float]) -> dict[str, float]:
    millis = [value * 1000 for value in seconds]
    return {"p50": percentile(millis, 50), "p95": percentile(millis, 95), "p99": percentile(millis, 99), "max": max(millis)}


@dataclass
class Simulator:
    """A ``softphone serve --users N`` process: the demo users and N generated ones (u0001, id 100001...)."""

    process: subprocess.Popen[bytes]
    url: str
    tokens: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/api/ws"

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError(f"no VmRSS for {self.pid}")

    def login(self, name: str) -> str:
        if name not in self.tokens:
            data = httpx.post(f"{self.url}/api/dev/login", json={"user": name}, timeout=10).json()["data"]
            self.tokens[name], self.user_ids[name] = data["token"], data["user_id"]
        return self.tokens[name]

    def conversation(self, caller: str, callee: str) -> int:
        headers = {"Authorization": f"Bearer {self.login(caller)}"}
        self.login(callee)
        users = httpx.get(f"{self.url}/api/dev/directory", headers=headers, timeout=10).json()["data"]["users"]
        return next(int(user["conversation_id"]) for user in users if user["user_id"] == self.user_ids[callee])


@contextmanager
def simulator(users: int, *, wrapper: list[str] | None = None, ring_timeout: int = 30) -> Iterator[Simulator]:
    """A fresh simulator on a file database, as ``softphone serve --users N`` runs for a tester."""
    with tempfile.TemporaryDirectory(prefix="softphone-bench-") as workdir:
        port = free_port()
        command = [
            *(wrapper or [sys.executable]), "-m", "softphone", "serve", "--port", str(port),
            "--db", f"{workdir}/bench.db", "--users", str(users), "--ring-timeout", str(ring_timeout),
        ]  # fmt: skip
        log = open(Path(workdir) / "serve.log", "wb")  # noqa: SIM115 - closed below, after the process
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not healthy(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"simulator did not start: {(Path(workdir) / 'serve.log').read_text()[-2000:]}")
                time.sleep(0.05)  # poll interval of a bounded wait for /healthz
            yield Simulator(process, url)
        finally:
            process.send_signal(2)  # SIGINT: a clean stop, so a profiler wrapping it can write its report
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def names(first: int, count: int) -> list[str]:
    """``count`` generated user names from the ``first``-th (1-based)."""
    return list(generated_user_names(first + count - 1)[first - 1 :])


class Holder:
    """A ``benchmarks.holder`` process: idle push connections, optionally reporting every frame's arrival."""

    def __init__(self, process: asyncio.subprocess.Process, report: bool) -> None:
        self._process = process
        self._arrivals: defaultdict[tuple[int, str], list[float]] = defaultdict(list)
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read()) if report else None

    @classmethod
    @asynccontextmanager
    async def open(
        cls, sim: Simulator, users: list[str], per_user: int, *, report: bool = False, compression: bool = True
    ) -> AsyncIterator[Holder]:
        tokens = json.dumps([sim.login(user) for user in users])
        flags = [*(["--report"] if report else []), *([] if compression else ["--no-compression"])]
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "benchmarks.holder", sim.ws_url, tokens, str(per_user), *flags,
            cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert process.stdout is not None and process.stdin is not None
        ready = await asyncio.wait_for(process.stdout.readline(), HOLDER_READY_TIMEOUT_S)
        if not ready.startswith(b"ready"):
            process.kill()
            raise RuntimeError(f"holder failed to connect: {ready!r}")
        holder = cls(process, report)
        try:
            yield holder
        finally:
            if holder._reader is not None:
                holder._reader.cancel()
            process.stdin.close()
            await asyncio.wait_for(process.wait(), 60)

    async def arrivals(self, call_id: int, status: str, count: int = 1) -> list[float]:
        """The arrival times of ``count`` frames saying ``call_id`` is ``status``, once all are in."""
        key = (call_id, status)
        async with asyncio.timeout(FRAME_TIMEOUT_S):
            while len(self._arrivals[key]) < count:
                self._changed.clear()
                await self._changed.wait()
        return self._arrivals.pop(key)

    async def _read(self) -> None:
        assert self._process.stdout is not None
        async for line in self._process.stdout:
            call_id, status, arrived = line.split()
            self._arrivals[(int(call_id), status.decode())].append(float(arrived))
            self._changed.set()


def versions() -> dict[str, str]:
    from importlib.metadata import version

    found = {name: version(name) for name in ("softphone", "uvicorn", "websockets", "fastapi", "locust", "textual")}
    found["python"] = sys.version.split()[0]
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    found["wrk"] = (wrk.stdout + wrk.stderr).split("[")[0].replace("wrk", "").strip()
    return found


def machine() -> dict[str, object]:
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
        "unknown",
    )
    return {
        "cpus": len(os.sched_getaffinity(0)),
        "cpu": model,
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "load_average_at_start": os.getloadavg(),
        "kernel": os.uname().release,
    }
