"""``make bench``: the simulator and the TUI at scale, every figure a ratio to a baseline of the same run.

    python -m benchmarks.bench_scale [--out benchmarks/results.md] [--quick]

Phases (each on fresh simulator processes with generated users, as ``serve --users N`` seeds):

- push latency: a POST leaving one client until the WebSocket frame reaches the other (held by another
  process), against a bare HTTP round trip (``/healthz``) and an authenticated ``GET state`` from the
  same client in the same loop;
- fan-out: the same with 2,000 idle terminals of other users connected, and the time until the last
  of 500 subscribers of one user has its frame;
- memory: server RSS with 1,000 and 5,000 idle push connections, per connection over the idle RSS;
- request cost: requests/s of whole lifecycles against ``GET state`` and ``/healthz`` (Debian's wrk,
  same connections, same run);
- sustained calls: ``softphone load`` (Locust, one process) open loop at rising rates, up to the
  highest rate whose call-setup p99 from the schedule stays under 100 ms;
- TUI: first paint of ``softphone`` against a bare Textual app, and a key press in one phone until
  the other phone's screen shows the change, two real app processes on pseudo-terminals;
- profile: pyinstrument on the simulator under the wrk lifecycle load (``benchmarks/profile.txt``).

The machine may be shared: several runs give median, min and max, and ratios are taken within a run.
``--quick`` shrinks every phase to a smoke test of the harness (what ``make test`` runs).
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import datetime as dt
import json
import math
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from benchmarks.support import (
    ROOT,
    Holder,
    Simulator,
    latency_ms,
    machine,
    names,
    raise_file_limit,
    simulator,
    spread,
    versions,
)
from benchmarks.terminal import Terminal
from softphone.api import CallType, StartCallRequest
from softphone.tui.app import KEY_GUARD_SECONDS

WRK_CONNECTIONS = 16
READING_SECONDS = KEY_GUARD_SECONDS + 0.1
"""How long the TUI bench looks at a new screen before its next key: past the app's key guard."""


@dataclass(frozen=True)
class Sizes:
    """How big each phase is; ``--quick`` is a smoke test of the harness, not a measurement."""

    runs: int = 3
    push_calls: int = 1000
    warmup_calls: int = 50
    idle_terminals: int = 2000
    subscribers: int = 500
    fanout_calls: int = 50
    memory_levels: tuple[int, ...] = (1000, 5000)
    wrk_seconds: int = 2
    cost_rounds: int = 9
    """Rounds of healthz, state and lifecycle back to back: short and many, so a burst of other work on a
    shared machine skews one round's ratio, not the median; every other round in the reverse order, so
    a machine slowing down (or speeding up) through a round favours neither figure."""
    sustained_rates: tuple[int, ...] = (25, 50, 75, 100, 125, 150, 200, 250, 300, 400)
    sustained_seconds: int = 10
    paint_runs: int = 5
    key_presses: int = 20
    profile_seconds: int = 10


QUICK = Sizes(
    runs=1,
    push_calls=20,
    warmup_calls=2,
    idle_terminals=20,
    subscribers=10,
    fanout_calls=3,
    memory_levels=(20, 40),
    wrk_seconds=1,
    cost_rounds=1,
    sustained_rates=(5,),
    sustained_seconds=2,
    paint_runs=1,
    key_presses=2,
    profile_seconds=0,
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --------------------------------------------------------------------------- push latency and fan-out


def caller_headers(sim: Simulator, caller: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {sim.login(caller)}"}


def start_body(sim: Simulator, caller: str, callee: str, terminal_id: str) -> dict[str, Any]:
    """The start request's JSON, from the wire model both client and server use."""
    request = StartCallRequest(
        conversation_id=sim.conversation(caller, callee),
        target_user_id=sim.user_ids[callee],
        call_type=CallType.AUDIO,
        biz_type="single",
        terminal_id=terminal_id,
    )
    return request.model_dump(mode="json")


async def push_round(sim: Simulator, caller: str, callee: str, holder: Holder, calls: int, warmup: int) -> dict[str, Any]:
    """``calls`` calls started and cancelled one at a time; baselines interleaved with them."""
    headers = caller_headers(sim, caller)
    body = start_body(sim, caller, callee, "bench-caller")
    push: list[float] = []
    health: list[float] = []
    state: list[float] = []
    async with httpx.AsyncClient(base_url=sim.url, timeout=10) as http:
        for index in range(warmup + calls):
            sent = time.perf_counter()
            call_id = (await http.post("/api/calls/session", json=body, headers=headers)).json()["data"]["call_id"]
            (arrived,) = await holder.arrivals(call_id, "calling")
            await http.post(f"/api/calls/{call_id}/cancel", json={"terminal_id": "bench-caller"}, headers=headers)
            await holder.arrivals(call_id, "cancelled")
            began = time.perf_counter()
            await http.get("/healthz")
            between = time.perf_counter()
            await http.get(f"/api/calls/{call_id}/state", headers=headers)
            ended = time.perf_counter()
            if index >= warmup:
                push.append(arrived - sent)
                health.append(between - began)
                state.append(ended - between)
    return {"push": latency_ms(push), "healthz_rtt": latency_ms(health), "state_rtt": latency_ms(state)}


async def last_of_many(
    sim: Simulator, caller: str, callee: str, holders: list[tuple[Holder, int]], calls: int
) -> dict[str, Any]:
    """Per call: from the POST leaving until the last of the callee's subscribers has its frame."""
    headers = caller_headers(sim, caller)
    body = start_body(sim, caller, callee, "bench-caller")
    last: list[float] = []
    first: list[float] = []
    async with httpx.AsyncClient(base_url=sim.url, timeout=10) as http:
        for _ in range(calls):
            sent = time.perf_counter()
            call_id = (await http.post("/api/calls/session", json=body, headers=headers)).json()["data"]["call_id"]
            got = await asyncio.gather(*(holder.arrivals(call_id, "calling", count) for holder, count in holders))
            arrivals = [arrived for times in got for arrived in times]
            last.append(max(arrivals) - sent)
            first.append(min(arrivals) - sent)
            await http.post(f"/api/calls/{call_id}/cancel", json={"terminal_id": "bench-caller"}, headers=headers)
            await asyncio.gather(*(holder.arrivals(call_id, "cancelled", count) for holder, count in holders))
    return {"last_frame": latency_ms(last), "first_frame": latency_ms(first)}


async def push_and_fanout(sizes: Sizes) -> dict[str, Any]:
    """Idle push latency, then the same with idle terminals of other users, then 500 subscribers of one."""
    idle_holders = 2
    idle_users_each = max(1, sizes.idle_terminals // idle_holders // 100)
    with simulator(users=10 + idle_holders * idle_users_each) as sim:
        idle_runs: list[dict[str, Any]] = []
        loaded_runs: list[dict[str, Any]] = []
        async with Holder.open(sim, names(2, 1), 1, report=True) as callee:
            for run in range(sizes.runs):
                log(f"push latency, idle server: run {run + 1}/{sizes.runs}, {sizes.push_calls} calls")
                idle_runs.append(await push_round(sim, names(1, 1)[0], names(2, 1)[0], callee, sizes.push_calls, sizes.warmup_calls))
            log(f"fan-out: connecting {sizes.idle_terminals} idle terminals of other users")
            async with AsyncExitStack() as stack:
                per_user = sizes.idle_terminals // (idle_holders * idle_users_each)
                for index in range(idle_holders):
                    users = names(11 + index * idle_users_each, idle_users_each)
                    await stack.enter_async_context(Holder.open(sim, users, per_user))
                for run in range(sizes.runs):
                    log(f"push latency with {sizes.idle_terminals} idle terminals: run {run + 1}/{sizes.runs}")
                    loaded_runs.append(
                        await push_round(sim, names(1, 1)[0], names(2, 1)[0], callee, sizes.push_calls, sizes.warmup_calls)
                    )
        log(f"fan-out: {sizes.subscribers} subscribers of one user, {sizes.fanout_calls} calls")
        async with AsyncExitStack() as stack:
            halves = [sizes.subscribers // 2, sizes.subscribers - sizes.subscribers // 2]
            holders = [
                (await stack.enter_async_context(Holder.open(sim, names(4, 1), half, report=True)), half) for half in halves
            ]
            many = await last_of_many(sim, names(3, 1)[0], names(4, 1)[0], holders, sizes.fanout_calls)
    return {"idle": idle_runs, "with_idle_terminals": loaded_runs, "subscribers": many}


# --------------------------------------------------------------------------- memory


async def memory_run(levels: tuple[int, ...], compression: bool) -> dict[str, Any]:
    """Server RSS before and with ``levels`` idle connections (100 per user), per connection over the idle RSS."""
    per_holder = 1000
    per_user = 100 if levels[-1] >= 100 else 1
    with simulator(users=levels[-1] // per_user + 2) as sim:
        async with Holder.open(sim, names(1, 1), 10, compression=compression):
            pass  # the first connections load code and warm caches: not per-connection memory
        idle_kib = sim.rss_kib()
        figures: dict[str, Any] = {"idle_rss_kib": idle_kib}
        async with AsyncExitStack() as stack:
            opened, next_user = 0, 1
            for level in levels:
                while opened < level:
                    count = min(per_holder, level - opened)
                    users = names(next_user, max(1, count // per_user))
                    next_user += len(users)
                    await stack.enter_async_context(Holder.open(sim, users, count // len(users), compression=compression))
                    opened += count // len(users) * len(users)
                rss = sim.rss_kib()
                figures[str(level)] = {"rss_kib": rss, "kib_per_connection": (rss - idle_kib) / opened}
    return figures


async def memory(sizes: Sizes) -> dict[str, Any]:
    runs = []
    for run in range(sizes.runs):
        log(f"memory: run {run + 1}/{sizes.runs}, up to {sizes.memory_levels[-1]} connections (permessage-deflate on)")
        runs.append(await memory_run(sizes.memory_levels, compression=True))
    log(f"memory: {sizes.memory_levels[0]} connections without permessage-deflate")
    plain = await memory_run(sizes.memory_levels[:1], compression=False)
    return {"deflate": runs, "no_deflate": plain}


# --------------------------------------------------------------------------- request cost (wrk)


def wrk(url: str, seconds: int, *script: str) -> dict[str, Any]:
    command = ["wrk", f"-t{WRK_CONNECTIONS}", f"-c{WRK_CONNECTIONS}", f"-d{seconds}s"]
    if script:
        command += ["-s", script[0], url, "--", *script[1:]]
    else:
        command.append(url)
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    figures: dict[str, Any] = {"requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    if bad := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        figures["non_2xx"] = int(bad.group(1))
    if done := re.search(r"lifecycles (\d+) failures (\d+)", out):
        figures["lifecycles"], figures["failures"] = int(done.group(1)), int(done.group(2))
    if done := re.search(r"states (\d+) failures (\d+)", out):
        figures["states"], figures["failures"] = int(done.group(1)), int(done.group(2))
    if figures.get("non_2xx") or figures.get("failures"):
        raise RuntimeError(f"wrk {' '.join(script[:1]) or url}: answers that were errors, so no measure of the work: {figures}")
    return figures


def pairs_file(sim: Simulator, first_user: int, count: int, directory: Path) -> Path:
    """The Lua table ``lifecycle.lua`` reads: tokens and conversation of ``count`` pairs."""
    rows = []
    for index in range(count):
        caller, callee = names(first_user + 2 * index, 2)
        conversation = sim.conversation(caller, callee)  # signs both in
        rows.append(
            f'{{caller="{sim.tokens[caller]}", callee="{sim.tokens[callee]}", '
            f"callee_id={sim.user_ids[callee]}, conversation={conversation}}},"
        )
    path = directory / f"pairs-{first_user}.lua"
    path.write_text("return {\n" + "\n".join(rows) + "\n}\n", encoding="utf-8")
    return path


def request_cost(sizes: Sizes) -> dict[str, Any]:
    rounds = []
    scripts = ROOT / "benchmarks"
    with tempfile.TemporaryDirectory() as workdir, simulator(users=2 * WRK_CONNECTIONS * sizes.cost_rounds + 4) as sim:
        caller, callee = names(1, 2)
        headers = caller_headers(sim, caller)
        body = start_body(sim, caller, callee, "bench")
        call_id = httpx.post(f"{sim.url}/api/calls/session", json=body, headers=headers).json()["data"]["call_id"]
        httpx.post(f"{sim.url}/api/calls/{call_id}/cancel", json={"terminal_id": "bench"}, headers=headers)
        for run in range(sizes.cost_rounds):
            log(f"request cost: round {run + 1}/{sizes.cost_rounds}, wrk {WRK_CONNECTIONS} connections, {sizes.wrk_seconds}s each")
            pairs = pairs_file(sim, 3 + 2 * WRK_CONNECTIONS * run, WRK_CONNECTIONS, Path(workdir))
            measure = {
                "healthz": partial(wrk, f"{sim.url}/healthz", sizes.wrk_seconds),
                "state": partial(wrk, sim.url, sizes.wrk_seconds, str(scripts / "state.lua"), sim.login(caller), str(call_id)),
                "lifecycle": partial(wrk, sim.url, sizes.wrk_seconds, str(scripts / "lifecycle.lua"), str(pairs)),
            }
            order = list(measure) if run % 2 == 0 else list(reversed(measure))
            figures = {name: measure[name]() for name in order}
            health, state, lifecycle = figures["healthz"], figures["state"], figures["lifecycle"]
            rounds.append(
                {
                    "healthz": health,
                    "state": state,
                    "lifecycle": lifecycle,
                    "cost_vs_state": state["requests_per_s"] / lifecycle["requests_per_s"],
                    "cost_vs_healthz": health["requests_per_s"] / lifecycle["requests_per_s"],
                }
            )
    return {"rounds": rounds}


def profile(sizes: Sizes, out: Path) -> dict[str, Any]:
    """pyinstrument around the simulator while wrk runs lifecycles; the text report goes to ``out``."""
    log(f"profile: pyinstrument on the simulator, wrk lifecycles for {sizes.profile_seconds}s")
    wrapper = [sys.executable, "-m", "pyinstrument", "-r", "text", "-p", "show_all=false", "-o", str(out)]
    with tempfile.TemporaryDirectory() as workdir, simulator(users=2 * WRK_CONNECTIONS + 2, wrapper=wrapper) as sim:
        pairs = pairs_file(sim, 1, WRK_CONNECTIONS, Path(workdir))
        return wrk(sim.url, sizes.profile_seconds, str(ROOT / "benchmarks" / "lifecycle.lua"), str(pairs))


# --------------------------------------------------------------------------- sustained calls (softphone load)


def sustained(sizes: Sizes) -> dict[str, Any]:
    """Open loop at rising rates; stops at the first rate whose setup p99 reaches 100 ms or that fails."""
    steps = []
    for rate in sizes.sustained_rates:
        users = 2 * math.ceil(rate)
        log(f"sustained: softphone load --rate {rate} for {sizes.sustained_seconds}s ({users} users)")
        with simulator(users=users) as sim:
            command = [
                sys.executable, "-m", "softphone", "load", "--server", sim.url, "--rate", str(rate),
                "--duration", str(sizes.sustained_seconds), "--mix", "answer=1", "--users", str(users), "--json",
            ]  # fmt: skip
            run = subprocess.run(command, capture_output=True, text=True, timeout=300)
        summary = json.loads(run.stdout)
        setup = summary["call_setup_ms"] or {}
        passed = (
            summary["ok"] and setup.get("p99", math.inf) < 100 and summary["achieved_rate"] >= 0.95 * rate
        )
        steps.append(
            {
                "rate": rate,
                "achieved_rate": summary["achieved_rate"],
                "setup_ms": setup,
                "failed": summary["calls"]["failed"],
                "passed": passed,
            }
        )
        if not passed:
            break
    best = max((step["rate"] for step in steps if step["passed"]), default=0)
    return {"steps": steps, "highest_rate": best}


# --------------------------------------------------------------------------- TUI

BARE_APP = (
    "from textual.app import App\nfrom textual.widgets import Static\n"
    "class Bare(App):\n    def compose(self):\n        yield Static('Contacts')\nBare().run()\n"
)


def first_paint(sizes: Sizes) -> dict[str, Any]:
    """Spawn until the home screen's "Contacts" is on screen, against a bare Textual app showing the same word.

    softphone's bytecode is compiled first, as an installed softphone's is (pip compiles it; Textual's
    has been since it was installed): an editable install under ``PYTHONDONTWRITEBYTECODE`` would
    otherwise compile every module of softphone at every start (about 0.1 s).
    """
    compileall.compile_dir(ROOT / "softphone", quiet=1)
    softphone: list[float] = []
    bare: list[float] = []
    with simulator(users=2) as sim:
        for run in range(sizes.paint_runs):
            log(f"TUI first paint: run {run + 1}/{sizes.paint_runs}")
            for command, times in (
                ([sys.executable, "-m", "softphone", "--server", sim.url, "--user", "alice"], softphone),
                ([sys.executable, "-c", BARE_APP], bare),
            ):
                terminal = Terminal(command)
                try:
                    times.append(terminal.wait_for(b"Contacts", timeout=30) - terminal.started)
                finally:
                    terminal.close()
    return {
        "softphone_s": spread(softphone),
        "bare_textual_s": spread(bare),
        "ratios": [phone / plain for phone, plain in zip(softphone, bare, strict=True)],
    }


def key_to_screen(sizes: Sizes) -> dict[str, Any]:
    """Alice presses enter on Bob: Bob's screen rings. Bob presses r: Alice's screen shows the ended call.

    What each screen shows only after the key: Bob's ringing dialog's ``Call id N`` (call ids count up
    from 1 on a fresh server) and Alice's ended screen's ``Back home``. Between keys the bench reads
    each new screen for ``READING_SECONDS``, as a person does: a key pressed sooner after a screen
    appears does nothing on it (the app's key guard, ``KEY_GUARD_SECONDS``).
    """
    samples: dict[str, list[float]] = {"dial_to_ring": [], "reject_to_ended": []}
    with simulator(users=2) as sim:
        # The demo users: Bob is the first of Alice's contacts (they are listed by user id).
        alice = Terminal([sys.executable, "-m", "softphone", "--server", sim.url, "--user", "alice"])
        bob = Terminal([sys.executable, "-m", "softphone", "--server", sim.url, "--user", "bob"])
        try:
            for terminal in (alice, bob):
                terminal.wait_for(b"connected", timeout=30)  # signed in, contacts listed, push channel up
            time.sleep(READING_SECONDS)
            for press in range(sizes.key_presses):
                if press % 10 == 0:
                    log(f"TUI key press to the other screen: {press + 1}/{sizes.key_presses}")
                marks = (alice.press(b""), bob.press(b""))
                pressed_at = time.perf_counter()
                alice.press(b"\r")
                samples["dial_to_ring"].append(bob.wait_for(b"Call id %d " % (press + 1), since=marks[1]) - pressed_at)
                alice.wait_for(b"Calling Bob", since=marks[0])
                time.sleep(READING_SECONDS)
                marks = (alice.press(b""), bob.press(b""))
                pressed_at = time.perf_counter()
                bob.press(b"r")
                samples["reject_to_ended"].append(alice.wait_for(b"Back home", since=marks[0]) - pressed_at)
                bob.wait_for(b"Back home", since=marks[1])  # Bob's own ended screen
                time.sleep(READING_SECONDS)
                for terminal in (alice, bob):
                    terminal.wait_for(b"Contacts", since=terminal.press(b"\r"))
                time.sleep(READING_SECONDS)
        finally:
            alice.close()
            bob.close()
    both = samples["dial_to_ring"] + samples["reject_to_ended"]
    return {name: latency_ms(values) for name, values in samples.items()} | {"all": latency_ms(both)}


# --------------------------------------------------------------------------- report


def verdict(met: bool) -> str:
    return "met" if met else "**not met**"


def fmt(figures: dict[str, float], unit: str = "", digits: int = 2) -> str:
    return f"{figures['median']:.{digits}f}{unit} (min {figures['min']:.{digits}f}, max {figures['max']:.{digits}f})"


Row = str


def push_rows(results: dict[str, Any], sizes: dict[str, Any]) -> list[Row]:
    push = results["push"]
    idle = {key: spread([run["push"][key] for run in push["idle"]]) for key in ("p50", "p99", "max")}
    rtt = spread([run["healthz_rtt"]["p50"] for run in push["idle"]])
    state_rtt = spread([run["state_rtt"]["p50"] for run in push["idle"]])
    ratio = spread([run["push"]["p50"] / run["healthz_rtt"]["p50"] for run in push["idle"]])
    loaded = {key: spread([run["push"][key] for run in push["with_idle_terminals"]]) for key in ("p50", "p99")}
    fan = {
        key: spread([b["push"][key] / a["push"][key] for a, b in zip(push["idle"], push["with_idle_terminals"], strict=True)])
        for key in ("p50", "p99")
    }
    last, first = push["subscribers"]["last_frame"], push["subscribers"]["first_frame"]
    return [
        f"| push latency p50, idle ({sizes['push_calls']} calls/run) | {fmt(idle['p50'], ' ms')} | HTTP round trip "
        f"`/healthz` p50 {fmt(rtt, ' ms')}; `GET state` p50 {fmt(state_rtt, ' ms')} | {fmt(ratio, '×')} the `/healthz` "
        f"round trip | ≤ 1.3×: {verdict(ratio['median'] <= 1.3)} |",
        f"| push latency p99 / max, idle | {fmt(idle['p99'], ' ms')} / {fmt(idle['max'], ' ms')} | — | — | "
        f"p99 ≤ 5 ms: {verdict(idle['p99']['median'] <= 5)} |",
        f"| push latency p50 / p99 with {sizes['idle_terminals']} idle terminals of other users connected | "
        f"{fmt(loaded['p50'], ' ms')} / {fmt(loaded['p99'], ' ms')} | the idle figures | p50 {fmt(fan['p50'], '×')}, "
        f"p99 {fmt(fan['p99'], '×')} | ≤ 2×: {verdict(fan['p50']['median'] <= 2 and fan['p99']['median'] <= 2)} |",
        f"| last of {sizes['subscribers']} subscribers of one user has its frame ({sizes['fanout_calls']} calls) | "
        f"p50 {last['p50']:.1f} ms, p95 {last['p95']:.1f} ms, max {last['max']:.1f} ms (first frame p50 {first['p50']:.1f} ms) "
        f"| idle push p50 {idle['p50']['median']:.2f} ms | {last['p50'] / idle['p50']['median']:.1f}× | "
        f"≤ 20 ms: {verdict(last['p50'] <= 20)} |",
    ]


def memory_rows(results: dict[str, Any], sizes: dict[str, Any]) -> list[Row]:
    memory = results["memory"]
    first_run = memory["deflate"][0]
    rows = []
    for level in (key for key in first_run if key.isdigit()):
        per = spread([run[level]["kib_per_connection"] for run in memory["deflate"]])
        rows.append(
            f"| server RSS per idle push connection, {level} connections | {fmt(per, ' KiB', 1)} (RSS "
            f"{first_run[level]['rss_kib'] / 1024:.0f} MiB) | idle server RSS {first_run['idle_rss_kib'] / 1024:.0f} MiB "
            f"| — | ≤ 40 KB: {verdict(per['median'] * 1.024 <= 40)} |"
        )
    plain = next(key for key in memory["no_deflate"] if key.isdigit())
    rows.append(
        f"| … {plain} connections whose client offers no permessage-deflate (1 run) | "
        f"{memory['no_deflate'][plain]['kib_per_connection']:.1f} KiB | — | — | — |"
    )
    return rows


def cost_rows(results: dict[str, Any], sizes: dict[str, Any]) -> list[Row]:
    cost = results["request_cost"]["rounds"]
    by_state = spread([row["cost_vs_state"] for row in cost])
    by_health = spread([row["cost_vs_healthz"] for row in cost])
    lifecycles = spread([row["lifecycle"]["requests_per_s"] / 5 for row in cost])
    return [
        f"| request cost: lifecycle requests/s (wrk, {WRK_CONNECTIONS} connections, {sizes['cost_rounds']} rounds of "
        f"{sizes['wrk_seconds']} s per figure) | "
        f"{fmt(spread([row['lifecycle']['requests_per_s'] for row in cost]), ' req/s', 0)} = "
        f"{fmt(lifecycles, ' lifecycles/s', 0)} | `GET state` {fmt(spread([row['state']['requests_per_s'] for row in cost]), ' req/s', 0)}; "
        f"`/healthz` {fmt(spread([row['healthz']['requests_per_s'] for row in cost]), ' req/s', 0)} | a lifecycle request costs "
        f"{fmt(by_state, '×')} a `GET state`, {fmt(by_health, '×')} a `/healthz` | ≤ 1.5× `GET state`: "
        f"{verdict(by_state['median'] <= 1.5)}; ≤ 1.3× `/healthz` (the issue's): {verdict(by_health['median'] <= 1.3)} |"
    ]


def sustained_rows(results: dict[str, Any], sizes: dict[str, Any]) -> list[Row]:
    best = results["sustained"]["highest_rate"]
    row = (
        f"| sustained calls: highest open-loop rate with call-setup p99 < 100 ms (`softphone load`, answer only, "
        f"{sizes['sustained_seconds']} s per step, 1 run per step; steps below) | {best} calls/s | "
    )
    if "rounds" in results.get("request_cost", {}):
        capacity = statistics.median(row["lifecycle"]["requests_per_s"] / 5 for row in results["request_cost"]["rounds"])
        return [row + f"closed-loop lifecycle capacity (wrk) {capacity:.0f} lifecycles/s | {best / capacity:.2f}× | report it |"]
    return [row + "— | — | report it |"]


def tui_rows(results: dict[str, Any], sizes: dict[str, Any]) -> list[Row]:
    paint = results["tui"]["first_paint"]
    ratio = spread(paint["ratios"])
    keys = results["tui"]["key_to_screen"]
    return [
        f"| TUI first paint (`softphone` until its home screen shows) | {fmt(paint['softphone_s'], ' s')} | a bare Textual "
        f"app showing one word {fmt(paint['bare_textual_s'], ' s')} | {fmt(ratio, '×')} | ≤ 1.5×: {verdict(ratio['median'] <= 1.5)} |",
        f"| TUI key press in one phone until the other phone's screen shows it, two app processes "
        f"({2 * sizes['key_presses']} presses: dial → rings p95 {keys['dial_to_ring']['p95']:.0f} ms, reject → ended "
        f"p95 {keys['reject_to_ended']['p95']:.0f} ms) | p50 {keys['all']['p50']:.0f} ms, p95 {keys['all']['p95']:.0f} ms, "
        f"max {keys['all']['max']:.0f} ms | — | — | p95 ≤ 100 ms: {verdict(keys['all']['p95'] <= 100)} |",
    ]


PHASE_ROWS = (
    ("push", push_rows),
    ("memory", memory_rows),
    ("request_cost", cost_rows),
    ("sustained", sustained_rows),
    ("tui", tui_rows),
)


def render(results: dict[str, Any]) -> str:
    sizes = results["sizes"]
    host = results["machine"]
    busy = host["load_average_at_start"][0] > 0.5
    lines = [
        "# Benchmark results",
        "",
        f"- date: {results['date']}; generated by `make bench` (`python -m benchmarks.bench_scale`)",
        f"- machine: {host['cpus']} CPUs ({host['cpu']}), {host['memory_gib']} GiB, Linux {host['kernel']}; load average "
        f"at start {', '.join(f'{x:.2f}' for x in host['load_average_at_start'])}"
        + (" — **shared with other jobs: absolute figures are noisy; the ratios are taken within one run**" if busy else ""),
        "- versions: " + ", ".join(f"{name} {version}" for name, version in results["versions"].items()),
        "- server: `softphone serve` as a user runs it (uvicorn with httptools on uvloop, websockets-sansio declining "
        "permessage-deflate with push frames serialized once, SQLite WAL file checkpointed from a worker thread, "
        "access log on), `serve --users N` "
        "(the demo users and u0001…)",
        f"- {sizes['runs']} runs per figure unless said; figures are median (min, max) over the runs",
        "",
        "| figure | measured | baseline (same run) | ratio | goal |",
        "|---|---|---|---|---|",
    ]
    for phase, rows in PHASE_ROWS:
        if "error" in results.get(phase, {}):
            lines.append(f"| {phase} | not measured: {results[phase]['error']} | — | — | — |")
        else:
            lines += rows(results, sizes)
    if "steps" in results.get("sustained", {}):
        lines += [
            "",
            "## Sustained calls, step by step",
            "",
            "| asked calls/s | achieved | call setup p50 / p99 / max ms, from the schedule | failed calls | p99 < 100 ms |",
            "|---|---|---|---|---|",
        ]
        for step in results["sustained"]["steps"]:
            setup = step["setup_ms"] or {}
            lines.append(
                f"| {step['rate']} | {step['achieved_rate']:.1f} | {setup.get('p50', math.nan):.0f} / "
                f"{setup.get('p99', math.nan):.0f} / {setup.get('max', math.nan):.0f} | {step['failed']} | "
                f"{'yes' if step['passed'] else 'no'} |"
            )
    lines += [
        "",
        "## What generated the load",
        "",
        "- push latency and fan-out: one asyncio client (httpx) posting and cancelling calls one at a time; the other "
        "party's terminal in a separate holder process (websockets client on uvloop) stamping each frame with "
        "`perf_counter` (CLOCK_MONOTONIC, comparable across processes) as its bytes reach the process, before parsing; "
        "idle terminals and the subscribers in two holder processes.",
        "- memory: holder processes of up to 1,000 connections (100 per user); the client offers permessage-deflate as "
        "the softphone's own push client does, and one run without it.",
        f"- request cost: Debian's wrk (C, closed loop) with {WRK_CONNECTIONS} threads × 1 connection each; the lifecycle "
        "is `benchmarks/lifecycle.lua` (a caller/callee pair per connection: start, accept, joined ×2, hang up), the "
        "baseline `benchmarks/state.lua` (a `GET state` of a cancelled call); both check every answer's envelope, and "
        "one error answer stops the phase.",
        "- sustained calls: `softphone load` (Locust FastHttpUser, one process, open loop paced per user, call setup "
        "from the scheduled start to the accept's answer); it shares the machine's CPUs with the server.",
        "- TUI: real `softphone` processes on pseudo-terminals (softphone's bytecode compiled first, as an installed "
        "one's is); a screen shows a text once the app has written it (colours and cursor moves taken out); between "
        "keys the bench reads each new screen past the app's 0.4 s key guard, as a person does.",
        "",
        f"Raw figures of every run: `{results['json_name']}`; profile of the simulator under wrk: `profile.txt`.",
    ]
    return "\n".join(lines) + "\n"


def attempt(name: str, phase: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """A phase's figures, or what stopped it: one failing phase does not lose the others."""
    try:
        return phase()
    except Exception as error:  # reported in the results, under the phase's name
        log(f"{name} failed: {error!r}")
        return {"error": f"{type(error).__name__}: {error}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.md")
    parser.add_argument("--quick", action="store_true", help="a smoke test of the harness, not a measurement")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else Sizes()
    raise_file_limit()
    json_path = args.out.with_suffix(".json")
    results: dict[str, Any] = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "sizes": asdict(sizes),
        "json_name": json_path.name,
    }
    results["push"] = attempt("push", lambda: asyncio.run(push_and_fanout(sizes)))
    results["memory"] = attempt("memory", lambda: asyncio.run(memory(sizes)))
    results["request_cost"] = attempt("request cost", lambda: request_cost(sizes))
    if sizes.profile_seconds:
        attempt("profile", lambda: profile(sizes, args.out.with_name("profile.txt")))
    results["sustained"] = attempt("sustained", lambda: sustained(sizes))
    results["tui"] = attempt("tui", lambda: {"first_paint": first_paint(sizes), "key_to_screen": key_to_screen(sizes)})
    json_path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    args.out.write_text(render(results), encoding="utf-8")
    print(args.out.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
