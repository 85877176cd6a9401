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
import datetime as dt
import json
import math
import re
import subprocess
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass
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

WRK_CONNECTIONS = 16


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
    wrk_seconds: int = 5
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


async def push_round(sim: Simulator, caller: str, callee: str, holder: Holder, calls: int, warmup: int) -> dict[str, Any]:
    """``calls`` calls started and cancelled one at a time; baselines interleaved with them."""
    headers = caller_headers(sim, caller)
    body = {
        "conversation_id": sim.conversation(caller, callee),
        "target_user_id": sim.user_ids[callee],
        "call_type": "audio",
        "biz_type": "single",
        "terminal_id": "bench-caller",
    }
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
    body = {
        "conversation_id": sim.conversation(caller, callee),
        "target_user_id": sim.user_ids[callee],
        "call_type": "audio",
        "biz_type": "single",
        "terminal_id": "bench-caller",
    }
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
    with tempfile.TemporaryDirectory() as workdir, simulator(users=2 * WRK_CONNECTIONS * sizes.runs + 4) as sim:
        caller, callee = names(1, 2)
        headers = caller_headers(sim, caller)
        body = {
            "conversation_id": sim.conversation(caller, callee),
            "target_user_id": sim.user_ids[callee],
            "call_type": "audio",
            "biz_type": "single",
            "terminal_id": "bench",
        }
        call_id = httpx.post(f"{sim.url}/api/calls/session", json=body, headers=headers).json()["data"]["call_id"]
        httpx.post(f"{sim.url}/api/calls/{call_id}/cancel", json={"terminal_id": "bench"}, headers=headers)
        for run in range(sizes.runs):
            log(f"request cost: round {run + 1}/{sizes.runs}, wrk {WRK_CONNECTIONS} connections, {sizes.wrk_seconds}s each")
            pairs = pairs_file(sim, 3 + 2 * WRK_CONNECTIONS * run, WRK_CONNECTIONS, Path(workdir))
            health = wrk(f"{sim.url}/healthz", sizes.wrk_seconds)
            state = wrk(sim.url, sizes.wrk_seconds, str(scripts / "state.lua"), sim.login(caller), str(call_id))
            lifecycle = wrk(sim.url, sizes.wrk_seconds, str(scripts / "lifecycle.lua"), str(pairs))
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


def profile(sizes: Sizes, out: Path) -> None:
    """pyinstrument around the simulator while wrk runs lifecycles; the text report goes to ``out``."""
    log(f"profile: pyinstrument on the simulator, wrk lifecycles for {sizes.profile_seconds}s")
    wrapper = [sys.executable, "-m", "pyinstrument", "-r", "text", "-p", "show_all=false", "-o", str(out)]
    with tempfile.TemporaryDirectory() as workdir, simulator(users=2 * WRK_CONNECTIONS + 2, wrapper=wrapper) as sim:
        pairs = pairs_file(sim, 1, WRK_CONNECTIONS, Path(workdir))
        wrk(sim.url, sizes.profile_seconds, str(ROOT / "benchmarks" / "lifecycle.lua"), str(pairs))


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
    """Spawn until the home screen's "Contacts" is on screen, against a bare Textual app showing the same word."""
    softphone: list[float] = []
    bare: list[float] = []
    with simulator(users=2) as sim:
        for run in range(sizes.paint_runs):
            log(f"TUI first paint: run {run + 1}/{sizes.paint_runs}")
            for command, times in (
                ([sys.executable, "-m", "softphone", "--server", sim.url, "--user", "u0001"], softphone),
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
    """Alice presses enter on Bob; Bob's screen rings. Bob presses r; Alice's screen says he declined."""
    samples: dict[str, list[float]] = {"dial_to_ring": [], "reject_to_declined": []}
    with simulator(users=2) as sim:
        alice = Terminal([sys.executable, "-m", "softphone", "--server", sim.url, "--user", "u0001"])
        bob = Terminal([sys.executable, "-m", "softphone", "--server", sim.url, "--user", "u0002"])
        try:
            for terminal in (alice, bob):
                terminal.wait_for(b"connected", timeout=30)  # signed in, contacts listed, push channel up
            for press in range(sizes.key_presses):
                if press % 10 == 0:
                    log(f"TUI key press to the other screen: {press + 1}/{sizes.key_presses}")
                bob.pump()
                mark = len(bob.output)
                pressed_at = time.perf_counter()
                alice.press(b"\r")
                samples["dial_to_ring"].append(bob.wait_for(b"Incoming", since=mark) - pressed_at)
                mark = len(alice.output)
                pressed_at = time.perf_counter()
                bob.press(b"r")
                samples["reject_to_declined"].append(alice.wait_for(b"declined", since=mark) - pressed_at)
                back = alice.press(b"\r")
                alice.wait_for(b"Contacts", since=back)
        finally:
            alice.close()
            bob.close()
    both = samples["dial_to_ring"] + samples["reject_to_declined"]
    return {name: latency_ms(values) for name, values in samples.items()} | {"all": latency_ms(both)}


# --------------------------------------------------------------------------- report


def verdict(met: bool) -> str:
    return "met" if met else "**not met**"


def fmt(figures: dict[str, float], unit: str = "", digits: int = 2) -> str:
    return f"{figures['median']:.{digits}f}{unit} (min {figures['min']:.{digits}f}, max {figures['max']:.{digits}f})"


def render(results: dict[str, Any]) -> str:
    push = results["push"]
    idle = {key: spread([run["push"][key] for run in push["idle"]]) for key in ("p50", "p99", "max")}
    rtt = spread([run["healthz_rtt"]["p50"] for run in push["idle"]])
    state_rtt = spread([run["state_rtt"]["p50"] for run in push["idle"]])
    push_ratio = spread([run["push"]["p50"] / run["healthz_rtt"]["p50"] for run in push["idle"]])
    loaded = {key: spread([run["push"][key] for run in push["with_idle_terminals"]]) for key in ("p50", "p99", "max")}
    fan_ratio = {
        key: spread([b["push"][key] / a["push"][key] for a, b in zip(push["idle"], push["with_idle_terminals"], strict=True)])
        for key in ("p50", "p99")
    }
    last = push["subscribers"]["last_frame"]
    memory = results["memory"]
    levels = [key for key in memory["deflate"][0] if key.isdigit()]
    per_conn = {level: spread([run[level]["kib_per_connection"] for run in memory["deflate"]]) for level in levels}
    plain_level = next(key for key in memory["no_deflate"] if key.isdigit())
    cost = results["request_cost"]["rounds"]
    cost_state = spread([row["cost_vs_state"] for row in cost])
    cost_health = spread([row["cost_vs_healthz"] for row in cost])
    sustained_result = results["sustained"]
    lifecycles_per_s = spread([row["lifecycle"]["requests_per_s"] / 5 for row in cost])
    tui = results["tui"]
    paint_ratio = spread(tui["first_paint"]["ratios"])
    keys = tui["key_to_screen"]["all"]
    lines = [
        "# Benchmark results",
        "",
        f"- date: {results['date']}; generated by `make bench` (`python -m benchmarks.bench_scale`)",
        f"- machine: {results['machine']['cpus']} CPUs ({results['machine']['cpu']}), "
        f"{results['machine']['memory_gib']} GiB, Linux {results['machine']['kernel']}; load average at start "
        f"{', '.join(f'{x:.2f}' for x in results['machine']['load_average_at_start'])}"
        + (" — **shared with other jobs: absolute figures are noisy; ratios are within one run**" if results["machine"]["load_average_at_start"][0] > 0.5 else ""),
        "- versions: " + ", ".join(f"{name} {version}" for name, version in results["versions"].items()),
        "- server: `softphone serve` (uvicorn, websockets-sansio, SQLite WAL file in a temporary directory, access "
        "log on) with generated users u0001… (as `serve --users N` seeds)",
        f"- runs: {results['sizes']['runs']} per figure unless said; values are median (min, max) over runs",
        "",
        "| figure | measured | baseline (same run) | ratio | goal |",
        "|---|---|---|---|---|",
        f"| push latency p50, idle ({results['sizes']['push_calls']} calls/run) | {fmt(idle['p50'], ' ms')} | "
        f"HTTP round trip `/healthz` p50 {fmt(rtt, ' ms')}; `GET state` p50 {fmt(state_rtt, ' ms')} | {fmt(push_ratio, '×')} | "
        f"≤ 1.3×: {verdict(push_ratio['median'] <= 1.3)} |",
        f"| push latency p99 / max, idle | {fmt(idle['p99'], ' ms')} / {fmt(idle['max'], ' ms')} | — | — | "
        f"p99 ≤ 5 ms: {verdict(idle['p99']['median'] <= 5)} |",
        f"| push latency p50 / p99 with {results['sizes']['idle_terminals']} idle terminals of other users | "
        f"{fmt(loaded['p50'], ' ms')} / {fmt(loaded['p99'], ' ms')} | idle figures above | "
        f"p50 {fmt(fan_ratio['p50'], '×')}, p99 {fmt(fan_ratio['p99'], '×')} | ≤ 2×: "
        f"{verdict(fan_ratio['p50']['median'] <= 2 and fan_ratio['p99']['median'] <= 2)} |",
        f"| last of {results['sizes']['subscribers']} subscribers of one user has its frame, "
        f"{results['sizes']['fanout_calls']} calls | p50 {last['p50']:.2f} ms, max {last['max']:.2f} ms "
        f"(first frame p50 {push['subscribers']['first_frame']['p50']:.2f} ms) | idle push p50 {idle['p50']['median']:.2f} ms | "
        f"{last['p50'] / idle['p50']['median']:.1f}× | ≤ 20 ms: {verdict(last['p50'] <= 20)} |",
    ]
    for level in levels:
        lines.append(
            f"| server RSS per idle push connection, {level} connections | {fmt(per_conn[level], ' KiB', 1)} "
            f"(RSS {memory['deflate'][0][level]['rss_kib'] / 1024:.0f} MiB) | idle server RSS "
            f"{memory['deflate'][0]['idle_rss_kib'] / 1024:.0f} MiB | — | ≤ 40 KB: {verdict(per_conn[level]['median'] * 1.024 <= 40)} |"
        )
    lines += [
        f"| … the same, {plain_level} connections whose client offers no permessage-deflate (1 run) | "
        f"{memory['no_deflate'][plain_level]['kib_per_connection']:.1f} KiB | — | — | — |",
        f"| request cost: lifecycle requests/s (wrk, {WRK_CONNECTIONS} connections, {results['sizes']['wrk_seconds']} s) | "
        f"{fmt(spread([row['lifecycle']['requests_per_s'] for row in cost]), ' req/s', 0)} "
        f"= {fmt(lifecycles_per_s, ' lifecycles/s', 0)} | `GET state` {fmt(spread([row['state']['requests_per_s'] for row in cost]), ' req/s', 0)}; "
        f"`/healthz` {fmt(spread([row['healthz']['requests_per_s'] for row in cost]), ' req/s', 0)} | "
        f"{fmt(cost_state, '×')} a `GET state`; {fmt(cost_health, '×')} a `/healthz` | ≤ 1.5× `GET state`: "
        f"{verdict(cost_state['median'] <= 1.5)}; ≤ 1.3× `/healthz` (issue): {verdict(cost_health['median'] <= 1.3)} |",
        f"| sustained calls: highest open-loop rate with call-setup p99 < 100 ms (`softphone load`, answer only, "
        f"{results['sizes']['sustained_seconds']} s per step, 1 run per step) | {sustained_result['highest_rate']} calls/s | "
        f"closed-loop lifecycle capacity (wrk) {lifecycles_per_s['median']:.0f} lifecycles/s | "
        f"{sustained_result['highest_rate'] / lifecycles_per_s['median']:.2f}× | report it |",
        f"| TUI first paint (`softphone` home screen) | {fmt(tui['first_paint']['softphone_s'], ' s')} | bare Textual app "
        f"{fmt(tui['first_paint']['bare_textual_s'], ' s')} | {fmt(paint_ratio, '×')} | ≤ 1.5×: {verdict(paint_ratio['median'] <= 1.5)} |",
        f"| TUI key press in one phone → other phone's screen, two app processes ({2 * results['sizes']['key_presses']} presses) | "
        f"p50 {keys['p50']:.0f} ms, p95 {keys['p95']:.0f} ms, max {keys['max']:.0f} ms | — | — | p95 ≤ 100 ms: {verdict(keys['p95'] <= 100)} |",
        "",
        "## Sustained calls, step by step",
        "",
        "| asked calls/s | achieved | setup p50 / p99 / max ms (from the schedule) | failed | under 100 ms |",
        "|---|---|---|---|---|",
    ]
    for step in sustained_result["steps"]:
        setup = step["setup_ms"] or {}
        lines.append(
            f"| {step['rate']} | {step['achieved_rate']:.1f} | {setup.get('p50', math.nan):.0f} / {setup.get('p99', math.nan):.0f} / "
            f"{setup.get('max', math.nan):.0f} | {step['failed']} | {'yes' if step['passed'] else 'no'} |"
        )
    lines += [
        "",
        "## What generated the load",
        "",
        "- push latency and fan-out: one asyncio client (httpx) posting, the other party's terminal in a separate "
        "holder process (websockets client) reporting each frame's `perf_counter` time (CLOCK_MONOTONIC, shared by "
        "processes); idle terminals and the 500 subscribers in two holder processes each; calls one at a time.",
        "- memory: holder processes of 1,000 connections each (100 per user); the client offers permessage-deflate "
        "as the softphone's own push client does.",
        f"- request cost: Debian's wrk (C, closed loop) with {WRK_CONNECTIONS} threads × 1 connection; the lifecycle "
        "is `benchmarks/lifecycle.lua` (one caller/callee pair per connection: start, accept, joined ×2, hang up).",
        "- sustained calls: `softphone load` (Locust FastHttpUser, one process, open loop paced per user, latency from "
        "the scheduled start) — the generator shares the 2 CPUs with the server.",
        "- TUI: real `softphone` processes on pseudo-terminals; a screen shows a text when the app has written it.",
        "",
        f"Raw figures of every run: `{results['json_name']}`.",
    ]
    return "\n".join(lines) + "\n"


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
    results["push"] = asyncio.run(push_and_fanout(sizes))
    results["memory"] = asyncio.run(memory(sizes))
    results["request_cost"] = request_cost(sizes)
    if sizes.profile_seconds:
        profile(sizes, args.out.with_name("profile.txt"))
    results["sustained"] = sustained(sizes)
    results["tui"] = {"first_paint": first_paint(sizes), "key_to_screen": key_to_screen(sizes)}
    json_path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    args.out.write_text(render(results), encoding="utf-8")
    print(args.out.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
