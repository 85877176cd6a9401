"""The ``softphone`` command line: help, option checks, ``serve --directory`` and the background simulator."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from support.server import ServerFactory, free_port, login, wait_for
from websockets.asyncio.client import connect

from softphone.cli import main
from softphone.headless import server_url
from softphone.launch import ensure_local_simulator, is_healthy, local_url, spawn_simulator, wait_until_healthy
from softphone.settings import SignIn
from softphone.tui.app import AppConfig


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert all(command in result.output for command in ("serve", "demo", "sim", "--dial"))


def test_user_and_token_are_alternatives() -> None:
    result = CliRunner().invoke(main, ["--server", "http://127.0.0.1:1", "--user", "alice", "--token", "t"])
    assert result.exit_code == 2
    assert "--user and --token are alternatives" in result.output


def test_headless_commands_without_a_server_use_the_shared_local_simulator(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []

    def ensure() -> str:
        started.append("local")
        return "http://127.0.0.1:8765"

    monkeypatch.setattr("softphone.launch.ensure_local_simulator", ensure)
    assert server_url(SignIn()) == "http://127.0.0.1:8765" and started == ["local"]
    assert server_url(SignIn(server="http://elsewhere.example")) == "http://elsewhere.example" and started == ["local"]


def test_serve_loads_a_custom_directory(tmp_path: Path) -> None:
    directory = tmp_path / "people.toml"
    directory.write_text(
        '[[users]]\nuser_id = 501\nname = "erin"\ndisplay_name = "Erin"\n\n'
        '[[users]]\nuser_id = 502\nname = "frank"\ndisplay_name = "Frank"\n',
        encoding="utf-8",
    )
    port = free_port()
    url = local_url(port)
    log = tmp_path / "serve.log"
    server = spawn_simulator(["--port", str(port), "--db", ":memory:", "--directory", str(directory)], log, detach=False)
    try:
        wait_until_healthy(url, server, log)
        token = httpx.post(f"{url}/api/dev/login", json={"user": "erin"}).json()["data"]["token"]
        users = httpx.get(f"{url}/api/dev/directory", headers={"Authorization": f"Bearer {token}"}).json()["data"]
        assert [(u["name"], u["conversation_id"] is None) for u in users["users"]] == [("erin", True), ("frank", False)]
        refused = httpx.post(f"{url}/api/dev/login", json={"user": "alice"}).json()
        assert refused["code"] == 40001
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_phone_starts_a_background_simulator_that_outlives_it(tmp_path: Path) -> None:
    port = free_port()
    env_home = {"XDG_STATE_HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path), "HOME": str(tmp_path)}
    probe = (
        "import sys; from softphone.launch import ensure_local_simulator; "
        f"print(ensure_local_simulator({port}))"
    )
    started = subprocess.run(
        [sys.executable, "-c", probe], env={**os.environ, **env_home}, capture_output=True, text=True, timeout=30
    )
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip()
    try:
        assert url == local_url(port) and is_healthy(url)  # still up after the process that started it exited
        assert ensure_local_simulator(port) == url  # found, not started twice
    finally:
        pids = subprocess.run(["pgrep", "-f", f"softphone serve --port {port} "], capture_output=True, text=True)
        for pid in pids.stdout.split():
            os.kill(int(pid), signal.SIGTERM)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--video"], "--video goes with --dial: a video call to whom?"),
        (["--conversation", "252487239"], "--conversation goes with --dial USER_ID"),
        (["--dial", "bob", "--conversation", "252487239"], "--conversation needs --dial with a user id (a number), not 'bob'."),
        (["--dial", "20002", "--conversation", "x1"], "--conversation takes an id, a whole number above 0, not 'x1'."),
        (["--dial", "20002", "--conversation", "0"], "--conversation takes an id, a whole number above 0, not '0'."),
        (["--open-call", "-3"], "--open-call takes an id, a whole number above 0, not '-3'."),
        (["--dial", "bob", "--open-call", "7"], "--dial and --open-call are alternatives: give one."),
        (["--dial", " "], "--dial takes a contact's name or a user id."),
    ],
)
def test_the_phones_own_options_are_checked_before_it_starts(options: list[str], message: str) -> None:
    """One line on stderr and exit code 2, before any server is looked for (port 1 answers nothing)."""
    result = CliRunner().invoke(main, ["--server", "http://127.0.0.1:1", *options])
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"softphone: {message}")


def test_a_bad_option_is_one_line_from_the_real_command() -> None:
    command = [sys.executable, "-m", "softphone", "--server", "http://127.0.0.1:1", "--video"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "softphone: --video goes with --dial: a video call to whom?\n"


def test_the_log_level_is_one_of_four() -> None:
    result = CliRunner().invoke(main, ["--server", "http://127.0.0.1:1", "--log-level", "loud"])
    assert result.exit_code == 2 and "loud" in result.stderr


@dataclass
class PhoneStart:
    """What the bare ``softphone`` handed to ``run_phone``: the app's config and the log level."""

    config: AppConfig
    log_level: str


@pytest.fixture
def phone_starts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[PhoneStart]:
    """The bare command run for real up to ``run_phone``, which records instead of drawing; no user settings."""
    for name in ("SOFTPHONE_SERVER", "SOFTPHONE_TOKEN", "SOFTPHONE_USER_ID", "SOFTPHONE_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config-home"))
    def no_local_simulator(port: int = 0) -> str:
        pytest.fail("the phone looked for the local simulator: no server came from the options or the profile")

    monkeypatch.setattr("softphone.launch.ensure_local_simulator", no_local_simulator)
    starts: list[PhoneStart] = []
    monkeypatch.setattr("softphone.tui.app.run_phone", lambda config, log_level: starts.append(PhoneStart(config, log_level)))
    return starts


@pytest.mark.parametrize(("options", "bell"), [([], True), (["--no-bell"], False)])
def test_no_bell_silences_the_phones_bell(phone_starts: list[PhoneStart], options: list[str], bell: bool) -> None:
    result = CliRunner().invoke(main, ["--server", "http://127.0.0.1:1", "--user", "alice", *options])
    assert result.exit_code == 0, result.output
    (start,) = phone_starts
    assert start.config.bell is bell


async def test_serve_idle_timeout_stops_the_simulator_once_nobody_uses_it(server_factory: ServerFactory) -> None:
    """A push connection held open is use: it outlasts the timeout; once it closes, the simulator goes by itself."""
    idle = 1.0
    server = server_factory(args=["--idle-timeout", str(idle)])
    token = login(server.base_url, "alice")
    async with connect(f"{server.ws_url}?terminal_id=t", additional_headers={"Authorization": f"Bearer {token}"}):
        await asyncio.sleep(2.5 * idle)  # the duration under test, not a wait for something to happen
        assert server.running and is_healthy(server.base_url)
    closed = time.monotonic()
    await wait_for(lambda: not server.running, timeout=15)
    assert time.monotonic() - closed >= idle * 0.9, "not before the idle time has passed"
    assert not is_healthy(server.base_url)
    assert "idle for 1.0s, stopping" in server.log()


PROFILE = """
[profiles.staging]
server = "https://staging.example/"
poll = true

[profiles.staging.users.alice]
token = "alice-token-0123456789"
user_id = 10001
terminal_id = "alice-laptop"

[profiles.staging.users.bob]
user_id = 20002

[profiles.staging.conversations]
"alice,bob" = 252487239
"""


def test_the_bare_phone_takes_its_server_and_credentials_from_a_profile(
    phone_starts: list[PhoneStart], tmp_path: Path
) -> None:
    """``softphone --profile staging --user alice``: the profile in the user config directory becomes the app's config."""
    config_file = tmp_path / "config-home" / "softphone" / "config.toml"
    config_file.parent.mkdir(parents=True)
    config_file.write_text(PROFILE, encoding="utf-8")
    result = CliRunner().invoke(main, ["--profile", "staging", "--user", "alice", "--log-level", "debug"])
    assert result.exit_code == 0, result.output
    (start,) = phone_starts
    config = start.config
    assert (config.server_url, config.push_mode, config.background_port) == ("https://staging.example", "poll", None)
    assert (config.user, config.token, config.user_id, config.terminal_id) == (
        None, "alice-token-0123456789", 10001, "alice-laptop",
    )  # fmt: skip
    assert [(c.name, c.user_id, c.conversation_id) for c in config.contacts] == [
        ("alice", 10001, None), ("bob", 20002, 252487239),
    ]  # fmt: skip
    assert start.log_level == "debug"
