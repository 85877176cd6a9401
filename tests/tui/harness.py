"""What the TUI tests stand on: a live simulator in a thread that shares the test's clock, and waits.

The simulator runs the real FastAPI app on uvicorn on a free loopback port, so the apps under test
talk real HTTP and WebSocket to it; only its clock is the test's, so screens are reproducible.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import uvicorn
from textual.geometry import Region
from textual.pilot import Pilot

from softphone.api import Backoff, CallClient
from softphone.launch import free_port
from softphone.server.app import create_app
from softphone.server.config import ServerConfig
from softphone.server.protocol import uvicorn_config
from softphone.session import Session
from softphone.tui.app import AppConfig, SoftphoneApp

# Screens show local times: the tests and screenshots read them in UTC, whatever the machine's zone.
os.environ["TZ"] = "UTC"
time.tzset()

FROZEN_AT = datetime(2026, 7, 5, 10, 5, 0, tzinfo=UTC)
SIZE = (110, 32)


class FakeClock:
    """A clock that moves only when told to, shared by the simulator and the apps."""

    def __init__(self, start: datetime = FROZEN_AT) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class ThreadedSimulator:
    """The simulator on uvicorn in a daemon thread, with its own event loop."""

    def __init__(self, clock: Callable[[], datetime], *, ring_timeout: int = 30) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = ServerConfig(ring_timeout=ring_timeout)
        app = create_app(config, clock)
        self.server = uvicorn.Server(uvicorn_config(app, config, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name="simulator", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the simulator did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


async def call_from(url: str, caller: str, callee_id: int, conversation_of: str = "") -> tuple[CallClient, int]:
    """A headless caller: ``caller`` rings the user with ``callee_id``; its client (close it) and the call id."""
    client = CallClient(url, terminal_id=f"{caller}-headless")
    await client.login(caller)
    directory = await client.directory()
    callee = next(u for u in directory.users if u.user_id == callee_id)
    assert callee.conversation_id is not None, conversation_of or f"{caller} and {callee_id} share no conversation"
    started = await client.start_call(callee.conversation_id, callee.user_id, "audio")
    return client, started.call_id


def make_app(
    url: str, clock: FakeClock, user: str | None = "alice", terminal_id: str | None = None, **extra: object
) -> SoftphoneApp:
    options: dict[str, object] = {
        "sign_in_backoff": Backoff(initial=0.2, maximum=0.5, factor=2, jitter=0),
        "poll_interval": 0.2,
        "key_guard_seconds": 0.0,
        **extra,
    }
    config = AppConfig(
        server_url=url,
        user=user,
        terminal_id=terminal_id or f"{user or 'anon'}-term",
        **options,  # type: ignore[arg-type]
    )
    return SoftphoneApp(config, clock=clock)


async def until(pilot: Pilot[None], condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Let the app run until ``condition`` holds; fail with ``what`` if it never does."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for: {what}")
        await pilot.pause(0.02)


def screen_text(app: SoftphoneApp) -> str:
    """Everything the current screen's shown text widgets say, as plain text, for assertions about words.

    Rich renderables (the timeline's grid) are read as drawn, wrapped at the widget's width.
    """
    from textual.widget import Widget
    from textual.widgets import Static

    parts = []
    for widget in app.screen.query(Static):
        if not widget.region or not all(node.display for node in widget.ancestors_with_self if isinstance(node, Widget)):
            continue  # hidden, or not laid out: not something the user sees
        rendered = widget.render()
        if hasattr(rendered, "plain"):
            parts.append(str(rendered.plain))
        else:
            parts.extend(strip.text.rstrip() for strip in widget.render_lines(Region(0, 0, *widget.size)))
    return "\n".join(parts)


async def signed_in(pilot: Pilot[None]) -> None:
    """Wait until the status line says connected (it shows what the app was told, in order)."""
    app = pilot.app
    assert isinstance(app, SoftphoneApp)
    await until(pilot, lambda: app.session is not None and app.status.connection == "connected", "signed in and connected")


def record_screens(app: SoftphoneApp) -> list[str]:
    """The class name of every screen that becomes current from now on, even for an instant."""
    shown: list[str] = []
    app.screen_change_signal.subscribe(app, lambda screen: shown.append(type(screen).__name__), immediate=True)
    return shown


def session_of(app: SoftphoneApp) -> Session:
    assert app.session is not None, "not signed in"
    return app.session


async def until_shows(pilot: Pilot[None], screen_type: type, *texts: str, timeout: float = 10.0) -> None:
    """Wait for a screen of ``screen_type`` showing every one of ``texts``.

    A pushed screen is current before it has rendered, so both are waited for together.
    """
    app = pilot.app
    assert isinstance(app, SoftphoneApp)
    await until(
        pilot,
        lambda: isinstance(app.screen, screen_type) and all(text in screen_text(app) for text in texts),
        f"{screen_type.__name__} showing {texts}",
        timeout=timeout,
    )


async def run_from_palette(pilot: Pilot[None], words: str, title: str) -> None:
    """Open the command palette, type ``words``, and run the command called ``title`` once it is highlighted."""
    from textual.command import CommandList, CommandPalette

    app = pilot.app
    await pilot.press("ctrl+p")
    await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the command palette")
    await pilot.press(*words)

    def highlighted() -> str:
        results = app.screen.query_one(CommandList)
        index = results.highlighted
        return "" if index is None else str(results.get_option_at_index(index).prompt)

    await until(pilot, lambda: highlighted().startswith(title), f"{title!r} highlighted in the palette")
    await pilot.press("enter")


def painted_lines(app: SoftphoneApp) -> list[str]:
    """The cells of the terminal as the current screen paints them now (toasts and modals included), as text.

    Read from the screen's compositor, the same strips a terminal is sent, so a character cut where a
    toast crosses a pane's edge is missing here too.
    """
    return [strip.text for strip in app.screen._compositor.render_strips()]


def painted(app: SoftphoneApp) -> str:
    return "\n".join(painted_lines(app))
