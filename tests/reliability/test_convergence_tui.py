"""Convergence through the real Textual app: two softphones, keys pressed, pushes lost on the way.

Alice's and Bob's apps (``App.run_test``) talk to a simulator dropping, duplicating and reordering
30% of pushes and cutting 5% of connections. The seed picks the story, played with the keys a person
would press: Alice cancels, Bob rejects, or Bob answers and either hangs up. Each app must end on the
outcome screen saying the server's status and version, its core holding the same.

The two apps live through every run, as a tester's phones do through a day of calls: each run starts
from their home screens, and an app is started again only after a run that failed, so one failure
does not fail the runs after it.
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
from softphone.tui.screens.base import FullScreen
from softphone.tui.screens.ended import EndedScreen
from softphone.tui.screens.home import HomeScreen
from softphone.tui.screens.in_call import InCallScreen
from softphone.tui.screens.incoming import IncomingScreen
from softphone.tui.screens.outgoing import OutgoingScreen

from .harness import CHECK_INTERVAL, CONVERGE_WITHIN, Simulator
from .test_convergence import FAULTS

PROOF = "Client convergence under faults (the Textual app)"
SEEDS = seeds(quick=50, soak=500)
PUSH_FAULTS = {kind: value for kind, value in FAULTS.items() if kind != "http-error"}
"""A refused key press would only end the story early; the controller's runs cover 503s."""
PLOTS = ("Alice cancels", "Bob rejects", "Alice hangs up", "Bob hangs up")
USERS = ("alice", "bob")


@pytest.fixture(scope="module")
def simulator_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(db=Path(tmp_path_factory.mktemp("convergence-tui")) / "simulator.db").start()
    yield server
    server.close()


def press(pilot: Pilot[None], key: str) -> None:
    """A key, as a person presses it: sent, not waited on.

    ``Pilot.press`` waits for the whole process to go idle after each key, up to seconds with two apps
    and their reconnects running; the story waits instead for the screen the key leads to.
    """
    pilot.app.simulate_key(key)


async def until_on(pilot: Pilot[None], screen_type: type[FullScreen], call_id: int, *texts: str) -> None:
    """Wait for ``call_id``'s screen of ``screen_type`` showing ``texts`` (not one left from another call)."""
    app = pilot.app
    await until_shows(pilot, screen_type, *texts, timeout=CONVERGE_WITHIN)
    await until(
        pilot, lambda: getattr(app.screen, "call_id", None) == call_id, f"{screen_type.__name__} of call {call_id}"
    )


class Phones:
    """Alice's and Bob's apps, signed in and kept from one run to the next."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self.pilots: dict[str, Pilot[None]] = {}
        self._stack = AsyncExitStack()
        self._started = 0

    async def start(self) -> None:
        self._started += 1
        for user in USERS:
            # Keys are pressed as soon as a screen shows: the key guard (tests/tui/test_keys.py) would drop them.
            config = AppConfig(
                server_url=self.simulator.base_url, user=user, terminal_id=f"{user}-{self._started}",
                push_mode="push", check_interval=CHECK_INTERVAL, key_guard_seconds=0.0,
            )  # fmt: skip
            self.pilots[user] = await self._stack.enter_async_context(SoftphoneApp(config).run_test(size=SIZE))
        for pilot in self.pilots.values():
            await signed_in(pilot)
        alice = session_of(self.alice.app)  # type: ignore[arg-type]
        await until(self.alice, lambda: bool(alice.contacts), "Alice's contacts, for Enter to call the first")

    async def restart(self) -> None:
        await self.aclose()
        self._stack = AsyncExitStack()
        await self.start()

    async def aclose(self) -> None:
        await self._stack.aclose()

    @property
    def alice(self) -> Pilot[None]:
        return self.pilots["alice"]

    @property
    def bob(self) -> Pilot[None]:
        return self.pilots["bob"]

    async def home(self) -> None:
        """Both back on their home screens, from the outcome screen of the run before."""
        for pilot in self.pilots.values():
            if isinstance(pilot.app.screen, EndedScreen):
                press(pilot, "enter")
            await until_shows(pilot, HomeScreen, "Contacts")


async def play(plot: str, phones: Phones) -> int:
    """The story with keys; the call's id.

    The last key's request may still be on its way when this returns: the truth to converge on is the
    server's once the call is over (``Simulator.final_truth``), never what it holds at this moment.
    """
    alice, bob = phones.alice, phones.bob
    press(alice, "enter")  # Bob is Alice's first contact
    await until_shows(alice, OutgoingScreen, "Calling Bob", timeout=CONVERGE_WITHIN)
    call_id: int = alice.app.screen.call_id  # type: ignore[attr-defined]
    await until_on(bob, IncomingScreen, call_id, "Alice")
    if plot == "Alice cancels":
        press(alice, "c")
        return call_id
    if plot == "Bob rejects":
        press(bob, "r")
        return call_id
    press(bob, "a")
    await until_on(alice, InCallScreen, call_id, "In call with Bob")
    await until_on(bob, InCallScreen, call_id, "In call with Alice")
    press(bob, "n")  # a worse network: one more change both must see
    press(alice if plot == "Alice hangs up" else bob, "h")
    return call_id


async def tui_run(phones: Phones, seed: int) -> str:
    """One story under faults; what the server holds at its end. Raises AssertionError saying what broke."""
    simulator = phones.simulator
    plot = PLOTS[seed % len(PLOTS)]  # consecutive seeds take turns, so even two runs tell two stories
    await phones.home()
    await simulator.set_faults(PUSH_FAULTS | {"seed": seed})
    call_id = None
    token = session_of(phones.alice.app).client.token  # type: ignore[arg-type]
    assert token is not None
    try:
        call_id = await play(plot, phones)
        truth = await simulator.final_truth(call_id, token)
        for name, pilot in phones.pilots.items():
            phone = session_of(pilot.app).phone  # type: ignore[arg-type]
            await until(
                pilot,
                lambda p=phone: (
                    (m := p.get(call_id)) is not None and (m.status, m.version) == (truth.status, truth.version)
                ),
                f"{name}'s core to hold {truth.status} v{truth.version}",
                timeout=CONVERGE_WITHIN,
            )
            await until_on(pilot, EndedScreen, call_id, f"status {truth.status}", f"· v{truth.version}")
        return f"{plot}: {truth.status} v{truth.version}"
    finally:
        await simulator.set_faults({})
        if call_id is not None:
            await simulator.end_call(call_id, token)


@pytest.mark.soak
@pytest.mark.timeout(scaled(300, 3000))
async def test_the_app_ends_on_the_servers_state(
    simulator_process: ServerProcess, request: pytest.FixtureRequest
) -> None:
    simulator = Simulator(simulator_process)
    phones = Phones(simulator)
    injected_before = await simulator.faults_injected()
    outcomes: list[str] = []
    failures: list[str] = []
    try:
        await phones.start()
        for seed in SEEDS:
            try:
                outcomes.append(await tui_run(phones, seed))
            except AssertionError as broken:
                failures.append(f"seed {seed}: {broken}\n  {replay_hint(seed, request.node.nodeid)}")
                await phones.restart()
        injected = await simulator.faults_injected() - injected_before
    finally:
        await phones.aclose()
        await simulator.aclose()
    record(
        request.node.nodeid,
        PROOF,
        rounds=len(SEEDS),
        seeds=seed_range(SEEDS),
        faults=injected,
        losses=len(failures),
        notes="2 apps kept for all runs, keys pressed; "
        + ", ".join(f"{outcome} ×{n}" for outcome, n in sorted(Counter(outcomes).items())),
    )
    assert not failures, f"{len(failures)} of {len(SEEDS)} runs did not converge:\n" + "\n".join(failures)
