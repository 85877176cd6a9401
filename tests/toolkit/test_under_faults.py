"""``softphone call`` and ``softphone watch`` against a simulator that drops, duplicates, reorders and cuts pushes.

The simulator runs as a real process with ``--faults`` and a fixed ``--fault-seed``, so a failure
replays under the same fault streams. Whatever happens to the pushes, a headless command must end
in the server's state: ``call`` tells a story that ends the way the call ended and exits as that end
says; ``watch --json`` prints, for every call, a last change equal to what ``GET .../state`` answers.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import httpx
from support.cli import Running, Softphone, json_lines
from support.server import ServerFactory, ServerProcess, wait_for

from softphone.api import CallClient, CallState
from softphone.exit_codes import ExitCode

PUSH_FAULTS = "push-drop=0.3,push-dup=0.3,push-reorder=0.3"
CUTS = ",push-disconnect=0.05"
FAULT_SEED = "7"
CATCH_UP_WITHIN = 30.0
"""A lost last push is found by the stream's check (every 5 s), after a reconnect's backoff at worst."""


def faulty(server_factory: ServerFactory, spec: str) -> ServerProcess:
    """A simulator of its own, so the fault streams start from the seed for this test alone."""
    return server_factory(args=["--faults", spec, "--fault-seed", FAULT_SEED])


def faults_injected(server: ServerProcess) -> Counter[str]:
    return Counter(httpx.get(f"{server.base_url}/api/dev/simulator", timeout=5).json()["data"]["faults_injected"])


async def state_of(server: ServerProcess, call_id: int) -> CallState:
    async with CallClient(server.base_url, terminal_id="truth") as client:
        await client.login("alice")
        return await client.call_state(call_id)


def start_bot(softphone: Softphone, server: ServerProcess, *policy: str) -> Running:
    bot = softphone.start("bot", "--user", "bob", "--server", server.base_url, "--calls", "1", *policy)
    bot.expect(lambda line: "on terminal" in line)
    return bot


async def test_an_answered_call_ends_in_the_servers_state(softphone: Softphone, server_factory: ServerFactory) -> None:
    faulty_simulator = faulty(server_factory, PUSH_FAULTS + CUTS)
    before = faults_injected(faulty_simulator)
    bot = start_bot(softphone, faulty_simulator, "--answer-after", "0.2")
    result = softphone.run("call", "bob", "--user", "alice", "--server", faulty_simulator.base_url,
                           "--hangup-after", "0.5", "--json")  # fmt: skip
    assert result.returncode == ExitCode.OK, result.stdout + result.stderr
    records = json_lines(result.stdout)
    summary = records[-1]
    truth = await state_of(faulty_simulator, summary["call_id"])
    assert (summary["status"], summary["version"], summary["end_reason"]) == (
        truth.status,
        truth.version,
        truth.end_reason,
    )
    assert (truth.status, truth.end_reason) == ("ended", "local_hangup")
    applied = [r for r in records if r["kind"] == "event" and r["source"] != "local" and r.get("marker") != "stale"]
    assert (applied[-1]["status"], applied[-1]["version"]) == (truth.status, truth.version), "the story ends at the end"
    assert bot.wait() == 0, bot.stderr()
    assert faults_injected(faulty_simulator) - before, "the pushes of this call met faults"


async def test_a_rejected_call_tells_its_end_and_meets_its_expectation(
    softphone: Softphone, server_factory: ServerFactory
) -> None:
    faulty_simulator = faulty(server_factory, PUSH_FAULTS + CUTS)
    bot = start_bot(softphone, faulty_simulator, "--reject")
    result = softphone.run("call", "bob", "--user", "alice", "--server", faulty_simulator.base_url,
                           "--expect", "rejected:user_reject")  # fmt: skip
    assert result.returncode == ExitCode.OK, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "Bob declined" in "\n".join(lines[-3:]), result.stdout
    assert lines[-1].endswith("As expected."), result.stdout
    assert bot.wait() == 0, bot.stderr()


async def test_watch_ends_every_call_on_the_servers_state(softphone: Softphone, server_factory: ServerFactory) -> None:
    faulty_simulator = faulty(server_factory, PUSH_FAULTS)
    before = faults_injected(faulty_simulator)
    watching = softphone.start("watch", "--user", "bob", "--server", faulty_simulator.base_url, "--json")
    await wait_for(lambda: "Connected" in watching.stderr(), timeout=20)  # with --json, notes go to stderr
    async with CallClient(faulty_simulator.base_url, terminal_id="alice-desk") as alice, \
            CallClient(faulty_simulator.base_url, terminal_id="bob-desk") as bob:  # fmt: skip
        await alice.login("alice")
        await bob.login("bob")
        target = next(u for u in (await alice.directory()).users if u.name == "bob")
        assert target.conversation_id is not None
        calls: list[int] = []
        for ending in ("hangup", "cancel", "reject", "hangup"):
            call_id = (await alice.start_call(target.conversation_id, target.user_id, "audio")).call_id
            calls.append(call_id)
            if ending == "cancel":
                await alice.cancel(call_id)
                continue
            if ending == "reject":
                await bob.reject(call_id)
                continue
            await bob.accept(call_id)
            await bob.report_media(call_id, "joined", "good")
            await alice.report_media(call_id, "joined", "poor")
            await alice.hangup(call_id)
        truths = {call_id: await bob.call_state(call_id) for call_id in calls}

    def last_changes() -> dict[int, dict[str, Any]]:
        """Per call, the last line that says what the call is now (a stale push says what it was)."""
        last: dict[int, dict[str, Any]] = {}
        for record in json_lines("\n".join(watching.lines)):
            if record["kind"] == "event" and record.get("marker") != "stale":
                last[record["call_id"]] = record
        return last

    def caught_up() -> bool:
        last = last_changes()
        return all(
            call_id in last and (last[call_id]["status"], last[call_id]["version"]) == (t.status, t.version)
            for call_id, t in truths.items()
        )

    deadline = time.monotonic() + CATCH_UP_WITHIN
    while not caught_up():
        watching.expect(lambda _: True, timeout=max(deadline - time.monotonic(), 0.01))
    assert watching.interrupt() == 0
    records = json_lines("\n".join(watching.lines))
    last = last_changes()
    for call_id, truth in truths.items():
        assert (last[call_id]["status"], last[call_id]["version"], last[call_id].get("end_reason")) == (
            truth.status, truth.version, truth.end_reason,
        ), f"call {call_id}"  # fmt: skip
        late = [r for r in records if r.get("call_id") == call_id and r.get("version", 0) > truth.version]
        assert not late, f"call {call_id}: nothing newer than the server's last state"
    injected = faults_injected(faulty_simulator) - before
    assert injected["push-drop"] and injected["push-dup"], injected
    # This seed's faults on these calls, as the lines tell them: a lost push found by its successor
    # (a gap, then the state fetched), one delivered twice, and a lost last push found by the check.
    markers = {r.get("marker") for r in records if r["kind"] == "event"}
    assert {"gap", "duplicate"} <= markers, markers
    assert any(last[call_id]["source"] == "resync" for call_id in calls), last
    assert records[-1]["kind"] == "summary" and records[-1]["calls"] == len(calls)
