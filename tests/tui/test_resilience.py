"""Never a traceback: small terminals, bugs in handlers and workers, and the one way the app may still stop."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.server import login
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Static

from softphone.api import CallClient, CallType
from softphone.cli import main
from softphone.logs import start_file_log
from softphone.tui import app as tui_app
from softphone.tui.app import StoppedOnError, run_phone
from softphone.tui.screens.ended import EndedScreen
from softphone.tui.screens.home import HomeScreen
from softphone.tui.screens.incoming import IncomingScreen

from .harness import FakeClock, ThreadedSimulator, make_app, screen_text, session_of, signed_in, until, until_shows


async def ring(url: str, callee: str) -> CallClient:
    """Alice rings ``callee`` from a headless client; the caller is returned to be closed."""
    alice = CallClient(url, terminal_id="alice-headless")
    await alice.login("alice")
    target = next(u for u in (await alice.directory()).users if u.name == callee)
    assert target.conversation_id is not None
    await alice.start_call(target.conversation_id, target.user_id, "audio")
    return alice


@pytest.mark.parametrize("size", [(40, 12), (46, 20), (24, 8)])
async def test_a_narrow_terminal_shows_a_ringing_call_and_survives_resizing(
    simulator: ThreadedSimulator, clock: FakeClock, size: tuple[int, int]
) -> None:
    """At 46 columns or less Rich used to fail (``range() arg 3 must not be zero``) when a call arrived."""
    app = make_app(simulator.url, clock, "bob", "bob-1")
    async with app.run_test(size=size) as pilot:
        await signed_in(pilot)
        alice = await ring(simulator.url, "bob")
        try:
            await until(pilot, lambda: isinstance(app.screen, IncomingScreen), "the incoming call")
            for width, height in [(30, 10), (12, 6), size, (120, 40), size]:
                await pilot.resize_terminal(width, height)
                await pilot.pause()
            await pilot.press("r")  # keys still work where the screen says it is too small
            await until(pilot, lambda: isinstance(app.screen, EndedScreen), "the ended screen")
            await pilot.resize_terminal(60, 20)
            await until_shows(pilot, EndedScreen, "You declined the call")
        finally:
            await alice.aclose()
        assert app.return_code is None, "still running"


async def test_the_sidebar_steps_aside_below_80_columns(simulator: ThreadedSimulator, clock: FakeClock) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(size=(79, 24)) as pilot:
        await signed_in(pilot)
        sidebar = app.screen.query_one("#sidebar")
        assert not sidebar.display
        await pilot.resize_terminal(100, 24)
        await until(pilot, lambda: sidebar.display, "the sidebar back where it fits")


@pytest.fixture
def captured(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.ERROR, logger="softphone")
    yield caplog


async def test_an_exception_in_a_handler_is_logged_and_shown_and_the_app_goes_on(
    simulator: ThreadedSimulator, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, captured: pytest.LogCaptureFixture
) -> None:
    broken = {"yes": True}
    render = HomeScreen.render_main

    def sometimes_broken(self: HomeScreen, session: object) -> None:
        if broken["yes"]:
            raise RuntimeError("a bug in a handler")
        render(self, session)  # type: ignore[arg-type]

    monkeypatch.setattr(HomeScreen, "render_main", sometimes_broken)
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(notifications=True) as pilot:
        await signed_in(pilot)
        await until(pilot, lambda: any("a bug in a handler" in n.message for n in app._notifications), "the notification")
        assert any(record.exc_info and "a bug in a handler" in str(record.exc_info[1]) for record in captured.records)
        broken["yes"] = False
        await pilot.press("ctrl+b")  # the app still takes keys
        await until(pilot, lambda: app.sidebar_choice is not None, "the sidebar toggled")
        app.dial("bob", CallType.AUDIO)
        await until(pilot, lambda: "Calling Bob…" in screen_text(app), "the app still working")
        assert app.return_code is None


async def test_an_exception_in_a_worker_is_logged_and_shown(
    simulator: ThreadedSimulator, clock: FakeClock, captured: pytest.LogCaptureFixture
) -> None:
    app = make_app(simulator.url, clock, "alice", "alice-1")
    async with app.run_test(notifications=True) as pilot:
        await signed_in(pilot)

        async def bug() -> None:
            raise ValueError("a bug in a request")

        app.run_intent(bug())
        await until(pilot, lambda: any("a bug in a request" in n.message for n in app._notifications), "the notification")
        app.dial("bob", CallType.AUDIO)
        await until(pilot, lambda: "Calling Bob…" in screen_text(app), "the app still working")
        assert any("a bug in a request" in record.getMessage() or record.exc_info for record in captured.records)


class Unrenderable(Static):
    def render(self) -> str:
        raise ZeroDivisionError("inside Textual's own drawing")


def crashing_compose(self: HomeScreen) -> ComposeResult:
    yield Unrenderable()


async def test_what_nothing_can_handle_ends_the_app_with_code_1_and_one_line(
    simulator: ThreadedSimulator, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(HomeScreen, "compose_main", crashing_compose)
    app = make_app(simulator.url, clock, "alice", "alice-1")
    with pytest.raises(StoppedOnError, match="stopped on an unexpected error: ZeroDivisionError"):
        async with app.run_test() as pilot:
            await pilot.pause(1)
    assert app.return_code == 1


def test_run_phone_exits_non_zero_and_its_last_line_names_the_log(
    simulator: ThreadedSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    log_path = tmp_path / "softphone.log"
    handlers: list[logging.Handler] = []
    level = logging.getLogger().level
    monkeypatch.setattr(tui_app, "app_log_path", lambda: log_path)
    monkeypatch.setattr(tui_app, "start_file_log", lambda path, level: handlers.append(start_file_log(path, level)))
    monkeypatch.setattr(HomeScreen, "compose_main", crashing_compose)
    monkeypatch.setattr(tui_app.SoftphoneApp, "run", lambda self: App.run(self, headless=True))
    try:
        with pytest.raises(SystemExit) as exited:
            run_phone(tui_app.AppConfig(server_url=simulator.url, user="alice", token=None))
    finally:
        for handler in handlers:
            logging.getLogger().removeHandler(handler)
            handler.close()
        logging.getLogger().setLevel(level)
    assert exited.value.code == 1
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert last_line == f"softphone: the log is {log_path}"
    assert "ZeroDivisionError: inside Textual's own drawing" in log_path.read_text()


async def test_tokens_never_reach_the_log_in_full(
    simulator: ThreadedSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    """Debug level on: httpx and websockets log requests and handshakes; the file keeps only 4 characters."""
    log_path = tmp_path / "softphone.log"
    level = logging.getLogger().level
    handler = start_file_log(log_path, "debug")
    token = login(simulator.url, "bob")
    try:
        app = make_app(simulator.url, clock, user=None, terminal_id="bob-1", token=token)
        async with app.run_test() as pilot:
            await signed_in(pilot)
            assert session_of(app).identity.name == "bob"
            await pilot.press("enter")
            await until(pilot, lambda: "Calling Alice…" in screen_text(app), "a call, with its RTC token")
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
        logging.getLogger().setLevel(level)
    written = log_path.read_text()
    assert "Authorization" in written or "HTTP Request" in written, "the debug log has the requests"
    assert token not in written and token[:4] in written


@pytest.fixture
def root_logger_kept() -> Iterator[None]:
    """``run_phone`` adds a file handler to the root logger and sets its level: undo both after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)


@pytest.mark.parametrize(("level", "debug_lines"), [("debug", True), ("warning", False)])
def test_the_log_is_in_the_user_log_directory_at_the_level_asked(
    simulator: ThreadedSimulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    root_logger_kept: None,
    level: str,
    debug_lines: bool,
) -> None:
    """The real command line, ``softphone --log-level LEVEL``; the app signs in (headless) and quits."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))

    async def sign_in_and_quit(pilot: Pilot[None]) -> None:
        await signed_in(pilot)
        pilot.app.exit()

    monkeypatch.setattr(tui_app.SoftphoneApp, "run", lambda self: App.run(self, headless=True, auto_pilot=sign_in_and_quit))
    options = ["--server", simulator.url, "--user", "alice", "--terminal-id", "alice-log", "--log-level", level]
    result = CliRunner().invoke(main, options)
    assert result.exit_code == 0, result.output
    log_file = tmp_path / "state" / "softphone" / "log" / "softphone.log"
    written = log_file.read_text(encoding="utf-8")
    levels = {line.split()[3] for line in written.splitlines() if len(line.split()) > 3}
    assert ("DEBUG" in levels) is debug_lines, levels
    if not debug_lines:
        assert levels <= {"WARNING", "ERROR", "CRITICAL"}, "nothing below warning"
