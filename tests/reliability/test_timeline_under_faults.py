"""The timeline tells how a phone caught up under real faults: a gap and its resync, a duplicate, a stale push.

A real simulator process injects the faults (``PUT /api/dev/faults``), one kind at a time, each set
before the change it should fall on, so every marker appears on purpose rather than by luck of a
seed: all pushes dropped while Bob accepts (Alice misses v2, so v3 is a gap and she fetches the
state), all pushes duplicated for one report (two pushes of one version, merged into one row), and
pushes delayed past Alice's own hangup (its answer brings v6 while she holds v4, another gap filled by
a fetch, so the delayed push of v5 is stale when it comes). Then the phone must hold exactly the server's status and version, and its
rows must say each of these things; ``test_the_sidebar_tells_the_same_story`` reads them off the
Textual app's sidebar.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.server import ServerProcess
from tui.harness import SIZE, painted, screen_text, session_of, signed_in, until, until_shows

from softphone.api import CallState, CallType, MediaStage, NetworkQuality
from softphone.core import RowKind, TimelineRow, timeline_rows
from softphone.session import Session
from softphone.tui.app import AppConfig, SoftphoneApp
from softphone.tui.screens.ended import EndedScreen
from softphone.tui.screens.in_call import InCallScreen
from softphone.tui.screens.outgoing import OutgoingScreen

from .harness import CONVERGE_WITHIN, Simulator, Terminal
from .harness import signed_in as session_of_user

QUIET_CHECKS = 600.0
"""Alice's periodic check, far apart: a check would fetch the missed version before the gap could show."""
DELAY = "2500ms"
"""How long each push waits in the stale step: Alice's hangup is answered well within it."""
ALL_DROPPED = {"push-drop": 1.0}
ALL_DUPLICATED = {"push-dup": 1.0}
ALL_DELAYED = {"push-delay": DELAY}


@pytest.fixture(scope="module")
def simulator_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    db = Path(tmp_path_factory.mktemp("timeline-faults")) / "simulator.db"
    server = ServerProcess(db=db, args=["--fault-seed", "11"]).start()
    yield server
    server.close()


@pytest.fixture
async def simulator(simulator_process: ServerProcess) -> AsyncIterator[Simulator]:
    simulator = Simulator(simulator_process)
    yield simulator
    await simulator.set_faults({})
    await simulator.aclose()


@dataclass
class Story:
    """How the test reaches Alice's phone: what it holds of the call, how to wait, how she hangs up."""

    rows: Callable[[], list[TimelineRow]]
    version: Callable[[], int]
    wait: Callable[[Callable[[], bool], str], Awaitable[None]]
    hang_up: Callable[[], Awaitable[None]]


async def faulted_call(simulator: Simulator, bob: Terminal, call_id: int, alice: Story) -> CallState:
    """Bob answers and reports media under one fault after another; Alice hangs up. The server's last state."""
    await bob.until(lambda: bob.ringing(call_id), timeout=CONVERGE_WITHIN)
    await alice.wait(lambda: alice.version() == 1, "Alice holds v1")

    await simulator.set_faults(ALL_DROPPED)
    assert await bob.session.accept(call_id, join=False)  # v2: its push to Alice is dropped
    await simulator.set_faults({})
    assert await bob.session.report_media(call_id, MediaStage.JOINED.value, NetworkQuality.GOOD.value)  # v3
    await alice.wait(lambda: any(row.version == 3 and "sync" in row.sources_text for row in alice.rows()),
                     "the state fetched after the gap")  # fmt: skip

    await simulator.set_faults(ALL_DUPLICATED)
    assert await bob.session.report_media(call_id, MediaStage.JOINED.value, NetworkQuality.POOR.value)  # v4
    await alice.wait(lambda: any(row.version == 4 and row.sources_text == "push×2" for row in alice.rows()),
                     "both pushes of v4")  # fmt: skip

    await simulator.set_faults(ALL_DELAYED)
    assert await bob.session.report_media(call_id, MediaStage.JOINED.value, NetworkQuality.GOOD.value)  # v5
    await simulator.set_faults({})  # the hangup's push is not delayed itself: it only queues behind v5's
    await alice.hang_up()  # v6, answered before v5's push is let go
    await alice.wait(lambda: any(row.version == 6 and "push" in row.sources_text for row in alice.rows()),
                     "the pushes after the hangup")  # fmt: skip
    return await simulator.truth(call_id, bob.session.client.token or "")


def assert_the_rows_tell_how_alice_caught_up(rows: list[TimelineRow], truth: CallState) -> None:
    changes = {row.version: row for row in rows if row.kind is RowKind.CHANGE}
    story = "\n".join(f"{row.kind} v{row.version} {row.status} {row.sources_text} {row.note}" for row in rows)
    assert 2 not in changes, f"v2 was never delivered, so it has no row:\n{story}"
    gap = changes[3]
    assert (gap.status, gap.note) == ("ongoing", "gap: missed v2..v2 → resync"), story
    assert gap.sources_text == "push+sync", f"the push that showed the gap, then the fetched state:\n{story}"
    assert changes[4].sources_text == "push×2", f"the duplicate merged into its version's row:\n{story}"
    (stale,) = [row for row in rows if row.kind is RowKind.STALE]
    assert (stale.version, stale.sources_text, stale.note) == (5, "push", "v5 < v6, ignored"), story
    assert 5 not in changes, f"v5 only ever arrived late:\n{story}"
    # The hangup's answer skips v5 too: a gap of its own, filled by a fetch before the pushes arrive.
    end = changes[6]
    assert (end.status, end.sources_text, end.note) == ("ended", "resp+sync+push", "gap: missed v5..v5 → resync"), story
    assert rows.index(stale) > rows.index(changes[6]), f"the stale push came after the hangup's answer:\n{story}"
    assert max(changes) == truth.version == 6 and changes[6].status == truth.status == "ended", story


async def test_the_timeline_tells_the_gap_the_duplicate_and_the_stale_push(simulator: Simulator) -> None:
    alice_session = await session_of_user(simulator.base_url, "alice")
    bob_session = await session_of_user(simulator.base_url, "bob")
    alice = Terminal.of(alice_session, "alice-timeline", seed=1, check_interval=QUIET_CHECKS)
    bob = Terminal.of(bob_session, "bob-timeline", seed=2)
    try:
        for terminal in (alice, bob):
            assert await terminal.until(lambda t=terminal: t.connects > 0, timeout=10), "never connected"
        machine = await alice.session.dial("bob", CallType.AUDIO, join=False)
        assert machine is not None
        call_id = machine.call_id

        async def wait(condition: Callable[[], bool], what: str) -> None:
            assert await alice.until(condition, timeout=CONVERGE_WITHIN), f"{what}:\n{alice.timeline(call_id)}"

        async def hang_up() -> None:
            assert await alice.session.hangup(call_id)

        def rows() -> list[TimelineRow]:
            return timeline_rows(machine.timeline)

        truth = await faulted_call(simulator, bob, call_id, Story(rows, lambda: machine.version, wait, hang_up))
        assert (machine.status, machine.version) == (truth.status, truth.version)
        assert_the_rows_tell_how_alice_caught_up(rows(), truth)
    finally:
        await alice.close()
        await bob.close()


async def test_the_sidebar_tells_the_same_story(simulator: Simulator) -> None:
    config = AppConfig(
        server_url=simulator.base_url, user="alice", terminal_id="alice-sidebar", push_mode="push",
        check_interval=QUIET_CHECKS, key_guard_seconds=0.0,
    )  # fmt: skip
    app = SoftphoneApp(config)
    bob = Terminal.of(await session_of_user(simulator.base_url, "bob"), "bob-sidebar", seed=3)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await signed_in(pilot)
            assert await bob.until(lambda: bob.connects > 0, timeout=10), "Bob never connected"
            await until(pilot, lambda: "Bob" in painted(app), "Alice's contacts")
            await pilot.press("enter")  # Bob is Alice's first contact
            await until_shows(pilot, OutgoingScreen, "Calling Bob")
            session: Session = session_of(app)
            machine = session.phone.history()[0]
            call_id = machine.call_id

            async def wait(condition: Callable[[], bool], what: str) -> None:
                await until(pilot, condition, f"{what}; the timeline:\n{screen_text(app)}", timeout=CONVERGE_WITHIN)

            async def hang_up() -> None:
                await until_shows(pilot, InCallScreen, "In call with Bob")
                await pilot.press("h")

            def rows() -> list[TimelineRow]:
                return timeline_rows(machine.timeline)

            truth = await faulted_call(simulator, bob, call_id, Story(rows, lambda: machine.version, wait, hang_up))
            await until_shows(pilot, EndedScreen, timeout=CONVERGE_WITHIN)
            await wait(
                lambda: any("v5 < v6, ignored" in row for row in sidebar_rows(app)), "the stale row on the sidebar"
            )
            assert (machine.status, machine.version) == (truth.status, truth.version)
            assert_the_rows_tell_how_alice_caught_up(rows(), truth)
            sidebar = sidebar_rows(app)
            for words in (
                "gap: missed v2..v2 → resync",
                "v4 ongoing push×2",
                "v6 ended resp+sync+push",
                "v5 ongoing push stale: v5 < v6, ignored",
            ):
                assert any(words in line for line in sidebar), f"{words!r} not on the sidebar:\n" + "\n".join(sidebar)
    finally:
        await bob.close()


def sidebar_rows(app: SoftphoneApp) -> list[str]:
    """The sidebar's rows as drawn, each on one line again: a long row wraps, at spaces, under its own words."""
    lines = screen_text(app).splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Timeline · call")), len(lines))
    rows: list[str] = []
    for line in lines[start + 1 :]:
        if line[:1].isdigit():  # a row starts with its time
            rows.append(line)
        elif rows:
            rows[-1] += " " + line.strip()
    return rows
