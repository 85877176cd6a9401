"""Convergence through the real Textual app: two softphones, keys pressed, pushes lost on the way.

Alice's and Bob's apps (``App.run_test``) talk to a simulator dropping, duplicating and reordering
30% of pushes and cutting 5% of connections. The seed picks the story, played with the keys a person
would press: Alice cancels, Bob rejects, or Bob answers and either hangs up. Each app must end on the
outcome screen with its core holding the server's status and version.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from support.server import ServerProcess
from support.soak import record, replay_hint, scaled, seed_range, seeds
from textual.pilot import Pilot
from tui.harness import SIZE, session_of, signed_in, until, until_shows

from softphone.tui.app import AppConfig, SoftphoneApp
from softphone.tui.screens.ended import EndedScreen
from softphone.tui.screens.in_call import InCallScreen
from softphone.tui.screens.incoming import IncomingScreen
from softphone.tui.screens.outgoing import OutgoingScreen

from .harness import CHECK_INTERVAL, CONVERGE_WITHIN, Simulator
from .test_convergence import FAULTS

PROOF = "Client convergence under faults (the Textual app)"
SEEDS = seeds(quick=4, soak=50)
"""One run costs about 4.5 s here (two apps started, and `Pilot.press` waits up to 2 s for the process to idle
after each key): four runs tell each of the four stories once in `make test`; the controller and core run 50."""
PUSH_FAULTS = {kind: value for kind, value in FAULTS.items() if kind != "http-error"}
"""A refused key press would only end the story early; the controller's runs cover 503s."""
PLOTS = ("Alice cancels", "Bob rejects", "Alice hangs up", "Bob hangs up")


@pytest.fixture(scope="module")
def simulator_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(db=Path(tmp_path_factory.mktemp("convergence-tui")) / "simulator.db").start()
    yield server
    server.close()


def phone_app(simulator: Simulator, user: str, seed: int) -> SoftphoneApp:
    # Keys are pressed as soon as a screen shows: the key guard (tests/tui/test_keys.py) would drop them.
    config = AppConfig(
        server_url=simulator.base_url, user=user, terminal_id=f"{user}-{seed}", push_mode="push",
        check_interval=CHECK_INTERVAL, key_guard_seconds=0.0,
    )  # fmt: skip
    # No guard against early keys: the story presses each key as soon as its screen shows, and on a
    # loaded machine that can fall inside the guard a person's hand never would.
    return SoftphoneApp(config)


async def play(plot: str, alice: Pilot[None], bob: Pilot[None]) -> int:
    """The story with keys; the call's id.

    The last key's request may still be on its way when this returns: the truth to converge on is the
    server's once the call is over (``Simulator.final_truth``), never what it holds at this moment.
    """
    await alice.press("enter")  # Bob is Alice's first contact
    await until_shows(alice, OutgoingScreen, "Calling Bob")
    call_id = session_of(alice.app).phone.history()[0].call_id  # type: ignore[arg-type]
    await until_shows(bob, IncomingScreen, "Alice")
    if plot == "Alice cancels":
        await alice.press("c")
        return call_id
    if plot == "Bob rejects":
        await bob.press("r")
        return call_id
    await bob.press("a")
    await until_shows(alice, InCallScreen, "In call with Bob")
    await until_shows(bob, InCallScreen, "In call with Alice")
    await bob.press("n")  # a worse network: one more change both must see
    await (alice if plot == "Alice hangs up" else bob).press("h")
    return call_id


async def tui_run(simulator: Simulator, seed: int) -> str:
    """One story under faults; what the server holds at its end. Raises AssertionError saying what broke."""
    plot = PLOTS[seed % len(PLOTS)]  # consecutive seeds take turns, so even two runs tell two stories
    apps = {"alice": phone_app(simulator, "alice", seed), "bob": phone_app(simulator, "bob", seed)}
    async with AsyncExitStack() as stack:
        pilots = {name: await stack.enter_async_context(app.run_test(size=SIZE)) for name, app in apps.items()}
        for pilot in pilots.values():
            await signed_in(pilot)
        alice = session_of(apps["alice"])
        await until(pilots["alice"], lambda: bool(alice.contacts), "Alice's contacts, for Enter to call the first")
        await simulator.set_faults(PUSH_FAULTS | {"seed": seed})
        call_id = None
        try:
            call_id = await play(plot, pilots["alice"], pilots["bob"])
            token = session_of(apps["alice"]).client.token
            assert token is not None
            truth = await simulator.final_truth(call_id, token)
            want = (truth.status, truth.version)
            for name, pilot in pilots.items():
                phone = session_of(apps[name]).phone
                await until(
                    pilot,
                    lambda p=phone: (m := p.get(call_id)) is not None and (m.status, m.version) == want,
                    f"{name}'s core to hold {truth.status} v{truth.version}",
                    timeout=CONVERGE_WITHIN,
                )
                await until_shows(pilot, EndedScreen, timeout=CONVERGE_WITHIN)
            return f"{plot}: {truth.status} v{truth.version}"
        finally:
            await simulator.set_faults({})
            if call_id is not None:
                await simulator.end_call(call_id, session_of(apps["alice"]).client.token or "")


@pytest.mark.soak
@pytest.mark.timeout(scaled(120, 900))
async def test_the_app_ends_on_the_servers_state(simulator_process: ServerProcess, request: pytest.FixtureRequest) -> None:
    simulator = Simulator(simulator_process)
    injected_before = await simulator.faults_injected()
    outcomes: list[str] = []
    failures: list[str] = []
    try:
        for seed in SEEDS:
            try:
                outcomes.append(await tui_run(simulator, seed))
            except AssertionError as broken:
                failures.append(f"seed {seed}: {broken}\n  {replay_hint(seed, request.node.nodeid)}")
        injected = await simulator.faults_injected() - injected_before
    finally:
        await simulator.aclose()
    record(
        request.node.nodeid,
        PROOF,
        rounds=len(SEEDS),
        seeds=seed_range(SEEDS),
        faults=injected,
        losses=len(failures),
        notes="2 apps a run, keys pressed; " + ", ".join(f"{outcome} ×{n}" for outcome, n in sorted(Counter(outcomes).items())),
    )
    assert not failures, f"{len(failures)} of {len(SEEDS)} runs did not converge:\n" + "\n".join(failures)
