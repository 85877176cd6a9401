"""Benchmarks of the bundled simulator over real loopback HTTP/WebSocket.

Measures start-up time until ``/healthz`` answers, full call cycles per second with per-request
latency, push fan-out latency (caller's ``start_call`` returning -> callee's pushed state), and the
server's RSS. Every phase is bounded in count and time; servers run on a free loopback port with a
temporary database and an idle timeout, so nothing outlives the run.

    python benchmarks/bench_simulator.py [--out benchmarks/results.md]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx

from softphone.api import CallClient, ConnectionChanged, PushStream, StatesReceived

STARTUP_RUNS = 5
STARTUP_GOAL_S = 2.0
STARTUP_TIMEOUT_S = 20.0
HEALTH_POLL_INTERVAL_S = 0.005
CYCLES = 200
PUSH_CALLS = 100
PHASE_TIMEOUT_S = 120.0
PUSH_WAIT_S = 5.0
SERVER_IDLE_TIMEOUT_S = 300
ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


# ---------------------------------------------------------------------- helpers


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], pct: float) -> float:
    """The ``pct`` percentile (nearest-rank) of ``values``."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def rss_kib(pid: int) -> int:
    """VmRSS of process ``pid`` in KiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


@dataclass
class Server:
    """A running ``softphone serve`` subprocess."""

    process: subprocess.Popen[bytes]
    base_url: str
    startup_s: float

    @property
    def pid(self) -> int:
        return self.process.pid


def wait_healthy(process: subprocess.Popen[bytes], base_url: str, timeout: float) -> None:
    """Poll ``/healthz`` until it answers 200; fail if the process exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(
                    f"server exited with {process.returncode} before /healthz answered"
                )
            try:
                if http.get(f"{base_url}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            # Poll interval of a condition wait bounded by ``deadline``, not a synchronising sleep.
            time.sleep(HEALTH_POLL_INTERVAL_S)
    raise TimeoutError(f"/healthz did not answer within {timeout} s")


@contextmanager
def running_server(db_dir: Path) -> Iterator[Server]:
    """Start ``python -m softphone serve`` on a free port with a fresh db; stop it on exit."""
    port = free_port()
    db = db_dir / f"bench-{port}.db"
    base_url = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable, "-m", "softphone", "serve",
        "--port", str(port), "--db", str(db), "--idle-timeout", str(SERVER_IDLE_TIMEOUT_S),
    ]
    started = time.perf_counter()
    process = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(process, base_url, STARTUP_TIMEOUT_S)
        yield Server(process, base_url, time.perf_counter() - started)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# ---------------------------------------------------------------------- phases


def bench_startup(db_dir: Path) -> list[float]:
    """Seconds from spawn to the first 200 from ``/healthz``, ``STARTUP_RUNS`` times."""
    times = []
    for _ in range(STARTUP_RUNS):
        with running_server(db_dir) as server:
            times.append(server.startup_s)
    return times


@dataclass
class Pair:
    """Alice and Bob logged in, with their shared conversation."""

    alice: CallClient
    bob: CallClient
    bob_id: int
    conversation_id: int


async def login_pair(base_url: str, tag: str) -> Pair:
    """Log in alice and bob on ``base_url`` and find their 1:1 conversation."""
    alice = CallClient(base_url, terminal_id=f"bench-alice-{tag}")
    bob = CallClient(base_url, terminal_id=f"bench-bob-{tag}")
    await alice.login("alice")
    me = await bob.login("bob")
    users = (await alice.directory()).users
    entry = next(u for u in users if u.user_id == me.user_id)
    assert entry.conversation_id is not None, "alice and bob share no conversation"
    return Pair(alice, bob, me.user_id, entry.conversation_id)


@dataclass
class CycleResult:
    """Outcome of the call-cycle phase."""

    cycles: int
    wall_s: float
    latencies: dict[str, list[float]] = field(default_factory=dict)


async def bench_cycles(base_url: str) -> CycleResult:
    """``CYCLES`` sequential start -> accept -> joined -> hangup cycles, timed per request."""
    pair = await login_pair(base_url, "cycles")
    kinds = ("start_call", "accept", "report_media", "hangup")
    lat: dict[str, list[float]] = {kind: [] for kind in kinds}

    async def timed(kind: str, coro: Awaitable[T]) -> T:
        t0 = time.perf_counter()
        result = await coro
        lat[kind].append(time.perf_counter() - t0)
        return result

    async def cycle() -> None:
        call = await timed(
            "start_call", pair.alice.start_call(pair.conversation_id, pair.bob_id, "audio")
        )
        await timed("accept", pair.bob.accept(call.call_id))
        await timed("report_media", pair.bob.report_media(call.call_id, "joined", "good"))
        await timed("hangup", pair.alice.hangup(call.call_id))

    async def run_all() -> float:
        t0 = time.perf_counter()
        for _ in range(CYCLES):
            await cycle()
        return time.perf_counter() - t0

    try:
        wall = await asyncio.wait_for(run_all(), PHASE_TIMEOUT_S)
    finally:
        await pair.alice.aclose()
        await pair.bob.aclose()
    return CycleResult(CYCLES, wall, lat)


async def bench_push(base_url: str) -> tuple[list[float], list[float]]:
    """Seconds to bob's pushed state of each call: from alice's ``start_call`` returning, and sent.

    The first is negative when the push arrived before the HTTP response did.
    """
    pair = await login_pair(base_url, "push")
    arrived: dict[int, float] = {}
    waiters: dict[int, asyncio.Event] = {}
    connected = asyncio.Event()
    stream = PushStream(pair.bob, mode="push")

    async def consume() -> None:
        async for event in stream.events():
            now = time.perf_counter()
            if isinstance(event, ConnectionChanged) and event.state == "connected":
                connected.set()
            elif isinstance(event, StatesReceived) and event.source == "push":
                call_id = event.states[0].call_id
                if call_id not in arrived:
                    arrived[call_id] = now
                    waiters.setdefault(call_id, asyncio.Event()).set()

    async def run_all() -> tuple[list[float], list[float]]:
        await asyncio.wait_for(connected.wait(), PUSH_WAIT_S)
        from_return: list[float] = []
        from_send: list[float] = []
        for _ in range(PUSH_CALLS):
            sent = time.perf_counter()
            call = await pair.alice.start_call(pair.conversation_id, pair.bob_id, "audio")
            returned = time.perf_counter()
            await asyncio.wait_for(
                waiters.setdefault(call.call_id, asyncio.Event()).wait(), PUSH_WAIT_S
            )
            from_return.append(arrived[call.call_id] - returned)
            from_send.append(arrived[call.call_id] - sent)
            await pair.alice.cancel(call.call_id)
        return from_return, from_send

    consumer = asyncio.create_task(consume())
    try:
        return await asyncio.wait_for(run_all(), PHASE_TIMEOUT_S)
    finally:
        await stream.close()
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
        await pair.alice.aclose()
        await pair.bob.aclose()


# ---------------------------------------------------------------------- report


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def build_rows(
    startup: list[float],
    cycles: CycleResult,
    push: tuple[list[float], list[float]],
    rss: dict[str, int],
) -> list[tuple[str, str, str]]:
    """(metric, value, goal) rows for the table."""
    median = statistics.median(startup)
    rows = [
        (
            f"start-up until /healthz, median of {len(startup)}",
            f"{median:.3f} s (min {min(startup):.3f}, max {max(startup):.3f})",
            f"< {STARTUP_GOAL_S:.0f} s: {'met' if median < STARTUP_GOAL_S else 'MISSED'}",
        ),
        (
            f"call cycles, {cycles.cycles} sequential",
            f"{cycles.cycles / cycles.wall_s:.1f} cycles/s ({cycles.wall_s:.2f} s total)",
            "-",
        ),
    ]
    for kind, values in cycles.latencies.items():
        rows.append(
            (
                f"  {kind} latency p50 / p95",
                f"{ms(percentile(values, 50))} / {ms(percentile(values, 95))}",
                "-",
            )
        )
    from_return, from_send = push
    early = sum(1 for value in from_return if value < 0)
    rows.append(
        (
            f"push fan-out after start_call returned, {len(from_return)} calls, p50 / p95",
            f"{ms(percentile(from_return, 50))} / {ms(percentile(from_return, 95))} "
            f"(min {ms(min(from_return))}, max {ms(max(from_return))}; "
            f"{early} arrived before the response)",
            "-",
        )
    )
    rows.append(
        (
            "  push fan-out after start_call was sent, p50 / p95",
            f"{ms(percentile(from_send, 50))} / {ms(percentile(from_send, 95))}",
            "-",
        )
    )
    for label, kib in rss.items():
        rows.append((f"server RSS {label}", f"{kib / 1024:.1f} MiB", "-"))
    return rows


def render_text(rows: list[tuple[str, str, str]]) -> str:
    widths = [max(len(row[i]) for row in rows + [("metric", "value", "goal")]) for i in range(3)]
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(("metric", "value", "goal"), widths)),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def render_markdown(rows: list[tuple[str, str, str]]) -> str:
    header = [
        "# Simulator benchmark results",
        "",
        f"- date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- machine: nproc {len(os.sched_getaffinity(0))}, Python {platform.python_version()} "
        f"({platform.python_implementation()}), "
        f"{platform.system()} {platform.release()} {platform.machine()}",
        "- loopback HTTP/WebSocket against `python -m softphone serve` with a temporary SQLite db",
        "- generated by `make bench` (`benchmarks/bench_simulator.py`)",
        "",
        "| metric | value | goal |",
        "|---|---|---|",
    ]
    body = [f"| {m.strip()} | {v} | {g} |" for m, v, g in rows]
    return "\n".join(header + body) + "\n"


# ---------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Run every phase, print the table and write it as Markdown to ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results.md")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="softphone-bench-") as tmp:
        db_dir = Path(tmp)
        print(f"start-up: {STARTUP_RUNS} runs ...", flush=True)
        startup = bench_startup(db_dir)
        with running_server(db_dir) as server:
            rss = {"idle after start": rss_kib(server.pid)}
            print(f"call cycles: {CYCLES} ...", flush=True)
            cycles = asyncio.run(bench_cycles(server.base_url))
            rss[f"after {CYCLES} cycles"] = rss_kib(server.pid)
            print(f"push fan-out: {PUSH_CALLS} calls ...", flush=True)
            push = asyncio.run(bench_push(server.base_url))
            rss[f"after {PUSH_CALLS} push calls"] = rss_kib(server.pid)

    rows = build_rows(startup, cycles, push, rss)
    print()
    print(render_text(rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render_markdown(rows))
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
