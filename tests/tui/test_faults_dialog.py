"""The palette's "Network faults…" turns a bad network on and off on a live simulator, and says why not."""

from __future__ import annotations

import httpx
from textual.widgets import Button, Input, Static

from softphone.api import CallClient, FaultSettings, RouteNotFound
from softphone.tui.app import SoftphoneApp
from softphone.tui.screens.faults import FaultsScreen, refusal_words

from .harness import SIZE, FakeClock, ThreadedSimulator, make_app, run_from_palette, signed_in, until


def _line(app: SoftphoneApp, selector: str) -> str:
    """A line of the dialog; empty until the dialog has composed (a pushed screen is current before that)."""
    lines = app.screen.query(selector).results(Static)
    return next((str(line.render()) for line in lines), "")


async def _server_faults(url: str) -> FaultSettings:
    async with CallClient(url, terminal_id="observer") as observer:
        await observer.login("carol")
        return await observer.faults()


async def test_presets_and_a_typed_spec_change_the_simulators_faults(
    simulator: ThreadedSimulator, clock: FakeClock
) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await signed_in(pilot)
        await run_from_palette(pilot, "network faults", "Network faults…")
        await until(pilot, lambda: isinstance(app.screen, FaultsScreen), "the faults dialog")
        await until(pilot, lambda: _line(app, "#faults-now").startswith("Now: none (seed"), "the faults in force")

        app.screen.query_one("#preset-0", Button).press()
        await until(pilot, lambda: "push-drop=0.3" in _line(app, "#faults-now"), "the preset applied")
        on = await _server_faults(simulator.url)
        assert (on.push_drop, on.push_dup, on.push_reorder) == (0.3, 0.3, 0.3)
        await until(pilot, lambda: any("Network faults now: push-drop=0.3" in n.message for n in app._notifications), "the faults in a notification")

        app.screen.query_one(Input).focus()
        await pilot.press(*"push-drop=2", "enter")
        await until(pilot, lambda: "Not a fault spec: push-drop=2" in _line(app, "#faults-error"), "the spec's error")
        assert (await _server_faults(simulator.url)).push_drop == 0.3  # nothing sent

        app.screen.query_one(Input).clear()
        await pilot.press(*"push-delay=20ms,http-error=0.1", "enter")
        await until(pilot, lambda: "push-delay=20ms" in _line(app, "#faults-now"), "the typed faults applied")
        typed = await _server_faults(simulator.url)
        assert (typed.push_delay, typed.http_error, typed.push_drop) == (20.0, 0.1, 0.0)
        assert _line(app, "#faults-error") == ""

        app.screen.query_one("#preset-2", Button).press()  # Off
        await until(pilot, lambda: _line(app, "#faults-now").startswith("Now: none"), "the faults off")
        assert (await _server_faults(simulator.url)).spec() == ""
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, FaultsScreen), "the dialog closed")


async def test_a_refused_change_is_shown_in_words(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        assert app.session is not None
        token = app.session.client.token
        httpx.post(f"{simulator.url}/api/dev/logout", headers={"Authorization": f"Bearer {token}"}).raise_for_status()
        app.action_network_faults()
        await until(pilot, lambda: "40101" in _line(app, "#faults-error"), "the refusal to read")
        assert _line(app, "#faults-error").startswith("The simulator did not take it: 40101")


def test_a_server_without_faults_is_told_apart() -> None:
    words = refusal_words(RouteNotFound())
    assert words == "This server has no network faults to set: only the softphone simulator has them."
