"""A long session stays as quick as a new one: what the phone leaves behind is freed.

Every screen ever shown used to stay in memory (each watched the app, and Textual forgets such a
watcher only when the attribute next changes), with its widgets and their drawn lines; so did every
key the footer ever showed, and Textual 8.2.8 keeps up to 1,024 widgets' line caches through an
``lru_cache`` on a method. The garbage collector's full passes, which stop the screen, grew from 60
to over 300 ms within twenty calls.
"""

from __future__ import annotations

import gc
import weakref

import pytest
from textual.widget import Widget
from textual.widgets._footer import FooterKey

from softphone.tui.app import NO_AUTOMATIC_FULL_PASSES, SoftphoneApp
from softphone.tui.screens.ended import EndedScreen
from softphone.tui.screens.home import HomeScreen
from softphone.tui.screens.outgoing import OutgoingScreen

from .harness import SIZE, FakeClock, ThreadedSimulator, make_app, signed_in, until, until_shows


def references_to(screen: object) -> list[weakref.ref[object]]:
    """The screen, its widgets, their caches of drawn lines, and the footer's keys."""
    assert isinstance(screen, Widget)
    widgets = [screen, *screen.query("*")]
    return [weakref.ref(item) for widget in widgets for item in (widget, widget._styles_cache)]


async def test_screens_the_phone_has_left_are_freed_with_their_widgets(
    simulator: ThreadedSimulator, clock: FakeClock
) -> None:
    """The last call's may linger a moment (a context of Textual's can hold the last widget it ran for), the
    calls' before it must be gone: what is left must not pile up."""
    app = make_app(simulator.url, clock, "alice", "alice-1")
    left: list[weakref.ref[object]] = []
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        for call in range(3):
            await pilot.press("enter")
            await until_shows(pilot, OutgoingScreen, "Calling Bob…")
            left += references_to(app.screen) if call < 2 else []
            await pilot.press("c")
            await until_shows(pilot, EndedScreen, "You cancelled the call")
            left += references_to(app.screen) if call < 2 else []
            await pilot.press("enter")
            await until_shows(pilot, HomeScreen, "You cancelled the call")
        # What a screen leaves may be held a moment by the event or timer that removed it, until the next
        # one: wait for it to go (a real leak never does).
        def alive() -> list[str]:
            gc.collect()
            return [type(ref()).__name__ for ref in left if ref() is not None]

        await until(pilot, lambda: not alive(), "the screens left behind to be freed", timeout=5.0)

        def only_the_keys_shown() -> bool:
            gc.collect()
            keys = [obj for obj in gc.get_objects() if isinstance(obj, FooterKey)]
            return len(keys) == len(app.screen.query(FooterKey))

        await until(pilot, only_the_keys_shown, "only the keys the footer shows now in memory", timeout=5.0)


@pytest.mark.parametrize("when", ["after a change of screen", "every interval"])
async def test_once_signed_in_the_phone_runs_the_collectors_full_passes_itself(
    simulator: ThreadedSimulator, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """As in its own process: the collector's automatic full passes are off, and the phone runs one after
    each change of screen (while the new screen's keys are guarded) and on an interval, and goes on."""
    monkeypatch.setattr(SoftphoneApp, "owns_process", property(lambda self: True))
    if when == "every interval":
        monkeypatch.setattr("softphone.tui.app.FULL_PASS_INTERVAL_SECONDS", 0.1)
    thresholds = gc.get_threshold()
    full_passes: list[dict[str, int]] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 2:
            full_passes.append(info)

    gc.callbacks.append(count)
    app = make_app(simulator.url, clock, "alice", "alice-1")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await signed_in(pilot)
            assert gc.get_threshold()[2] == NO_AUTOMATIC_FULL_PASSES
            before = len(full_passes)
            if when == "after a change of screen":
                await pilot.press("enter")
                await until_shows(pilot, OutgoingScreen, "Calling Bob…")
                await until(pilot, lambda: len(full_passes) > before, "a full pass after the change of screen")
            else:
                await until(pilot, lambda: len(full_passes) >= before + 2, "full passes on the interval")
            assert app.is_running and isinstance(app.screen, OutgoingScreen if when != "every interval" else HomeScreen)
    finally:
        gc.callbacks.remove(count)
        gc.unfreeze()
        gc.set_threshold(*thresholds)
