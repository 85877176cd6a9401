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

from textual.widget import Widget
from textual.widgets._footer import FooterKey

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
