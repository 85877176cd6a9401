"""Convergence: whatever the network does to pushes, every phone ends in the server's state.

Each seeded run is one call on a simulator injecting faults (30% of pushes dropped, 30% duplicated,
30% held back and reordered, 5% of pushes replaced by a cut connection, 5% of call requests answered
503 before any change). A caller's terminal and two terminals of the callee, long-lived as a tester's
phones are, play a story drawn from the seed (cancel, reject, accept from one or both terminals,
media reports, hangup from one or both sides). Then each terminal's core (``session.phone``) and what
its controller told a listener (``CallsChanged``) must show exactly the server's status and version.

A seed fixes the story, the simulator's fault streams and the clients' backoff; it cannot fix the
timing, so a replay (``SOFTPHONE_SEED=N``) re-runs the same story under the same faults, alone, on
fresh terminals.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.server import ServerProcess
from support.soak import SOAK, record, replay_hint, scaled, seed_range, seeds

from softphone.api import Backoff, CallType, MediaStage, NetworkQuality

from .harness import CHECK_INTERVAL, CONVERGE_WITHIN, Seen, Simulator, Terminal, generated_user, signed_in

FAULTS: dict[str, float] = {
    "push-drop": 0.3,
    "push-dup": 0.3,
    "push-reorder": 0.3,
    "push-disconnect": 0.05,
    "http-error": 0.05,
}
SEEDS = seeds(quick=50, soak=500)
CUT_SEEDS = seeds(quick=20, soak=200)
GIVE_UP_AFTER = 10
PROOF = "Client convergence under faults (controller and core)"
CUTS_PROOF = "Client convergence of long-lived phones whose connection is cut often (controller and core)"


@pytest.fixture(scope="module")
def simulator_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    db = Path(tmp_path_factory.mktemp("convergence")) / "simulator.db"
    server = ServerProcess(db=db, args=["--users", "2"]).start()
    yield server
    server.close()


async def play(rng: random.Random, caller: Terminal, callee: Terminal, sibling: Terminal) -> tuple[int | None, str]:
    """One call's story, drawn from ``rng`` alone (never from what happened), so a seed replays it."""
    call_type = rng.choice(list(CallType))
    plot = rng.choices(["cancel", "reject", "accept"], weights=[2, 2, 6])[0]
    answerer, other = (callee, sibling) if rng.random() < 0.5 else (sibling, callee)
    both_answer = rng.random() < 0.3
    reports = [
        (rng.random() < 0.5, rng.choice(list(MediaStage)).value, rng.choice([None, *NetworkQuality]))
        for _ in range(rng.randint(0, 4))
    ]
    hangup = rng.choice(["caller", "callee", "both"])
    pause = rng.uniform(0, 0.3)

    machine = await caller.session.dial(callee.session.identity.name, call_type)
    if machine is None:
        return None, "dial refused (503)"
    call_id = machine.call_id
    if plot == "cancel":
        await asyncio.sleep(pause)  # the caller gives up after a moment: part of the story, not a wait
        await caller.session.cancel(call_id)
        return call_id, "cancel"
    await answerer.until(lambda: answerer.ringing(call_id), timeout=5)
    if plot == "reject":
        await answerer.session.reject(call_id)
        return call_id, "reject"
    if both_answer:
        await asyncio.gather(answerer.session.accept(call_id), other.session.accept(call_id))
    else:
        await answerer.session.accept(call_id)
    for by_caller, stage, quality in reports:
        reporter = caller if by_caller else answerer
        await reporter.session.report_media(call_id, stage, quality.value if quality else None)
    enders = {"caller": [caller], "callee": [answerer], "both": [caller, answerer]}[hangup]
    await asyncio.gather(*(ender.session.hangup(call_id) for ender in enders))
    return call_id, f"accept{' (both terminals)' if both_answer else ''}, {len(reports)} reports, hangup by {hangup}"


async def converge_once(
    simulator: Simulator, terminals: dict[str, Terminal], seed: int, faults: dict[str, float]
) -> tuple[str, str | None]:
    """Play seed's story under ``faults``; its outcome, and what diverged (``None`` when every view converged)."""
    caller = terminals["caller"]
    token = caller.session.client.token or ""
    call_id: int | None = None
    try:
        await simulator.set_faults(faults | {"seed": seed})
        call_id, outcome = await play(random.Random(seed), *terminals.values())
        if call_id is None:
            return outcome, None
        truth = await simulator.truth(call_id, token)
        want = Seen((truth.status, truth.version), (truth.status, truth.version))
        converged = [
            await terminal.until(lambda t=terminal: t.seen(call_id) == want, timeout=CONVERGE_WITHIN)
            for terminal in terminals.values()
        ]
        if all(converged):
            return f"{outcome} → {truth.status}", None
        report = [f"call {call_id} ({outcome}): the server holds {truth.status} v{truth.version}"]
        for (name, terminal), ok in zip(terminals.items(), converged, strict=True):
            if not ok:
                seen = terminal.seen(call_id)
                report.append(f"  {name}: core {seen.core}, told {seen.told}; timeline:\n{terminal.timeline(call_id)}")
        return outcome, "\n".join(report)
    finally:
        await simulator.set_faults({})
        if call_id is not None:
            # End what the story left live, and let every phone see it before the next story: a phone
            # that still believed itself in a call would turn the next one away as busy.
            final = await simulator.end_call(call_id, token)
            for terminal in terminals.values():
                await terminal.until(lambda t=terminal: t.seen(call_id).core == (final.status, final.version), timeout=CONVERGE_WITHIN)


async def converge_every_seed(
    simulator_process: ServerProcess,
    request: pytest.FixtureRequest,
    proof: str,
    run_seeds: list[int],
    faults: dict[str, float],
    **stream: Any,
) -> None:
    """Every seed's story on the same three terminals (``stream``: their ``PushStream`` options); figures recorded."""
    simulator = Simulator(simulator_process)
    caller = await signed_in(simulator.base_url, generated_user(1))
    callee = await signed_in(simulator.base_url, generated_user(2))
    options = {"check_interval": CHECK_INTERVAL} | stream
    first = run_seeds[0]
    terminals = {
        "caller": Terminal.of(caller, "a", first, **options),
        "callee": Terminal.of(callee, "b1", first + 1, **options),
        "callee's other terminal": Terminal.of(callee, "b2", first + 2, **options),
    }
    injected_before = await simulator.faults_injected()
    failures: list[str] = []
    outcomes: Counter[str] = Counter()
    try:
        for terminal in terminals.values():
            assert await terminal.until(lambda t=terminal: t.connects > 0, timeout=10), "never connected"
        for seed in run_seeds:
            outcome, divergence = await converge_once(simulator, terminals, seed, faults)
            outcomes["diverged" if divergence else outcome.split(" → ")[-1]] += 1
            if divergence is not None:
                failures.append(f"seed {seed}: {divergence}\n  {replay_hint(seed, request.node.nodeid)}")
            if len(failures) == GIVE_UP_AFTER:
                break  # each failed run waits out its timeouts: enough to show the bug, and the figures
        injected = await simulator.faults_injected() - injected_before
    finally:
        await asyncio.gather(*(terminal.close() for terminal in terminals.values()))
        await simulator.aclose()
    played = sum(outcomes.values())
    record(
        request.node.nodeid,
        proof,
        rounds=played,
        seeds=seed_range(run_seeds[:played]),
        faults=injected,
        losses=len(failures),
        notes="the same 3 terminals for every run; final states: " + ", ".join(f"{n} {s}" for s, n in sorted(outcomes.items())),
    )
    assert not failures, f"{len(failures)} of {played} runs did not converge:\n" + "\n".join(failures)
    if not SOAK:
        assert sum(injected[kind] for kind in ("push-drop", "push-dup", "push-reorder")) > 0, "faults were on"


@pytest.mark.soak
@pytest.mark.timeout(scaled(300, 1800))
async def test_every_phone_ends_in_the_servers_state(
    simulator_process: ServerProcess, request: pytest.FixtureRequest
) -> None:
    await converge_every_seed(simulator_process, request, PROOF, SEEDS, FAULTS)


@pytest.mark.soak
@pytest.mark.timeout(scaled(180, 1200))
async def test_a_long_lived_phone_with_the_apps_backoff_keeps_up_with_frequent_cuts(
    simulator_process: ServerProcess, request: pytest.FixtureRequest
) -> None:
    """Issue 11's question: can a phone kept across many calls stay stuck on a state that is not final?

    The same faults with 30% of pushes cut instead of 5%, and the terminals reconnect on the app's
    own backoff (``PushStream``'s default, not the harness's fast one): every cut is a reconnect,
    a resync of the tracked calls and a new round of checks, call after call on the same streams.
    """
    await converge_every_seed(
        simulator_process, request, CUTS_PROOF, CUT_SEEDS, FAULTS | {"push-disconnect": 0.3}, backoff=Backoff()
    )
