"""Profiles, environment and options, as a user runs them: precedence, redaction, and the values really used."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.cli import Softphone, json_lines
from support.server import ServerFactory, ServerProcess, login

from softphone.api import short_token
from softphone.exit_codes import ExitCode

from .conftest import Ring

SECRET = "s3cr3t-t0ken-that-must-never-show-in-full"
UNREACHABLE = "http://127.0.0.1:9"


def write_config(path: Path, server: str, token: str = SECRET, *, default: str | None = "local") -> Path:
    top = f'profile = "{default}"\n' if default else ""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        top
        + f'[profiles.local]\nserver = "{server}"\n'
        + f'[profiles.local.users.alice]\ntoken = "{token}"\nuser_id = 10001\nterminal_id = "alice-laptop"\n'
        + '[profiles.local.users.bob]\nuser_id = 20002\n'
        + '[profiles.local.conversations]\n"bob,alice" = 252487239\n'
        + '[profiles.other]\nserver = "http://other.example"\npoll = true\n',
        encoding="utf-8",
    )
    return path


def shown(output: str) -> dict[str, tuple[str, str]]:
    """``config show`` rows (``setting  value  from origin``) as {setting: (value, origin)}."""
    rows: dict[str, tuple[str, str]] = {}
    for line in output.splitlines():
        name, value, origin = re.split(r"\s{2,}", line.strip())
        rows[name] = (value, origin.removeprefix("from "))
    return rows


def test_config_show_says_where_each_value_came_from_and_never_shows_a_token(
    softphone: Softphone, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "softphone.toml", "http://from-the-file.example")
    result = softphone.run("config", "show", "--config", str(config), "--user", "alice")
    assert result.returncode == 0, result.stderr
    rows = shown(result.stdout)
    assert rows["config file"] == (str(config), "--config")
    assert rows["profile"] == ("local", f"config file {config}")
    assert rows["server"] == ("http://from-the-file.example", "profile local")
    assert rows["user"] == ("alice", "--user")
    assert rows["token"] == (short_token(SECRET), "profile local, user alice")
    assert rows["user id"] == ("10001", "profile local, user alice")
    assert rows["terminal id"] == ("alice-laptop", "profile local, user alice")
    assert rows["conversation bob,alice"] == ("252487239", "profile local")
    assert SECRET not in result.stdout + result.stderr


def test_the_environment_overrides_the_file_and_options_override_both(softphone: Softphone, tmp_path: Path) -> None:
    config = write_config(tmp_path / "softphone.toml", "http://from-the-file.example")
    env = {"SOFTPHONE_SERVER": "http://from-the-environment.example", "SOFTPHONE_PROFILE": "other"}
    from_env = shown(softphone.run("config", "show", "--config", str(config), env=env).stdout)
    assert from_env["server"] == ("http://from-the-environment.example", "SOFTPHONE_SERVER")
    assert from_env["profile"] == ("other", "SOFTPHONE_PROFILE")
    assert from_env["poll"][1] == "profile other"

    args = ["--server", "http://from-the-option.example", "--profile", "local", "--no-poll"]
    from_options = shown(softphone.run("config", "show", "--config", str(config), *args, env=env).stdout)
    assert from_options["server"] == ("http://from-the-option.example", "--server")
    assert from_options["profile"] == ("local", "--profile")
    assert from_options["poll"][1] == "--no-poll"


def test_a_token_from_the_environment_is_used_with_its_user_id_and_redacted(softphone: Softphone) -> None:
    env = {"SOFTPHONE_TOKEN": SECRET, "SOFTPHONE_USER_ID": "10001"}
    result = softphone.run("config", "show", env=env)
    rows = shown(result.stdout)
    assert rows["token"] == (short_token(SECRET), "SOFTPHONE_TOKEN")
    assert rows["user id"] == ("10001", "SOFTPHONE_USER_ID")
    assert rows["config file"][0].startswith("none")
    # --token on the command line takes over who we are: the environment's user id is not its.
    over = shown(softphone.run("config", "show", "--token", "another-token-0123", env=env).stdout)
    assert over["token"] == (short_token("another-token-0123"), "--token")
    assert "user id" not in over
    assert SECRET not in result.stdout + result.stderr


def test_the_config_file_in_the_user_config_directory_is_read_by_default(softphone: Softphone) -> None:
    write_config(softphone.home / "xdg_config_home" / "softphone" / "config.toml", "http://default-file.example")
    rows = shown(softphone.run("config", "show").stdout)
    assert rows["server"] == ("http://default-file.example", "profile local")
    assert rows["config file"] == (str(softphone.home / "xdg_config_home" / "softphone" / "config.toml"), "default")


@pytest.fixture
def alice_token(simulator: ServerProcess) -> str:
    return login(simulator.base_url, "alice")


async def test_the_profile_token_is_the_one_used(
    softphone: Softphone, simulator: ServerProcess, ring: Ring, tmp_path: Path, alice_token: str
) -> None:
    call_id = await ring("alice", "bob")
    good = write_config(tmp_path / "good.toml", simulator.base_url, alice_token)
    try:
        result = softphone.run("state", str(call_id), "--config", str(good), "--user", "alice", "--json")
        assert result.returncode == 0, result.stderr
        assert alice_token not in result.stdout + result.stderr

        wrong = write_config(tmp_path / "wrong.toml", simulator.base_url, "not-a-token-the-server-knows")
        refused = softphone.run("state", str(call_id), "--config", str(wrong), "--user", "alice")
        assert refused.returncode == ExitCode.SERVER_REFUSED
        assert "40101 未登录或令牌无效" in refused.stderr

        # SOFTPHONE_SERVER beats the profile's server; --server beats SOFTPHONE_SERVER.
        env = {"SOFTPHONE_SERVER": UNREACHABLE}
        unreachable = softphone.run("state", str(call_id), "--config", str(good), "--user", "alice", env=env)
        assert unreachable.returncode == ExitCode.UNREACHABLE, unreachable.stderr
        args = ["--config", str(good), "--user", "alice", "--server", simulator.base_url]
        assert softphone.run("state", str(call_id), *args, env=env).returncode == 0
    finally:
        assert softphone.run("cancel", str(call_id), "--user", "alice", "--server", simulator.base_url).returncode == 0


def test_a_profile_calls_by_name_on_a_server_without_a_directory(
    softphone: Softphone, server_factory: ServerFactory, tmp_path: Path
) -> None:
    """``serve --documented-only`` looks like the real service: no directory, no push, no call lists."""
    server = server_factory(args=["--documented-only"])
    conversation = re.search(r"with bob \(20002\): --conversation (\d+)", server.log())
    assert conversation is not None, server.log()
    token = softphone.run("token", "alice", "--server", server.base_url).stdout.strip()
    config = tmp_path / "real.toml"
    config.write_text(
        f'[profiles.real]\nserver = "{server.base_url}"\npoll = true\n'
        f'[profiles.real.users.alice]\ntoken = "{token}"\nuser_id = 10001\n'
        '[profiles.real.users.bob]\nuser_id = 20002\n'
        f'[profiles.real.conversations]\n"alice,bob" = {conversation[1]}\n',
        encoding="utf-8",
    )
    profile = ("--config", str(config), "--profile", "real", "--user", "alice")
    placed = softphone.run("call", "bob", *profile, "--cancel-after", "0.5", "--expect", "cancelled:caller_cancel", "--json")
    assert placed.returncode == ExitCode.OK, placed.stdout + placed.stderr
    records = json_lines(placed.stdout)
    assert {r["source"] for r in records if r["kind"] == "event"} <= {"response", "poll", "local"}
    call_id = str(records[-1]["call_id"])
    told = softphone.run("state", call_id, *profile)
    assert told.stdout.startswith(f"Call {call_id}: cancelled, v2, audio call from alice to bob."), told.stdout
