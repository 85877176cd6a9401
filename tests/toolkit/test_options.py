"""Every option is checked before anything runs: a bad one is one line on stderr and exit code 2.

No server is needed (nor started): these fail before any request, which is the point. The variants of
each rule are tested in-process (``tests/test_settings.py``); here each rule once, as a user meets it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.cli import Softphone

from softphone.api import TERMINAL_ID_MAX
from softphone.exit_codes import ExitCode

NOWHERE = "http://127.0.0.1:9"  # never asked: the options are refused first


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["state", "1", "--user", "alice", "--server", "ftp://example.com"], "'ftp://example.com' is not an http:// or https:// URL"),
        (["state", "1", "--user", "alice", "--terminal-id", "t" * (TERMINAL_ID_MAX + 1)], "1 to 64 characters, not 65"),
        (["state", "1", "--user", "alice", "--token", "t"], "--user and --token are alternatives"),
        (["state", "1", "--user-id", "10001"], "--user-id goes with --token"),
        (["state", "1", "--user", "alice", "--profile", "staging"], "no profile 'staging'"),
        (["state", "1", "--user", "alice", "--config", "missing.toml"], "--config missing.toml: no such file"),
        (["state", "x", "--user", "alice"], "'x' is not a valid integer"),
        (["state", "1", "--user", "alice", "--bogus"], "No such option '--bogus'"),
        (["state", "1", "--server", NOWHERE], "who are you?"),
        (["--user", "alice", "state", "1"], "--user goes after the command name: softphone state --user"),
        (["call", "bob", "--user", "alice", "--expect", "answered"], "STATUS one of cancelled, ended, rejected"),
        (["bot", "--user", "bob", "--reject", "--busy"], "--answer-after, --reject, --ignore and --busy are alternatives"),
        (["bot", "--user", "bob", "--every", "5"], "--every goes with --call USER"),
        (["bot", "--user", "bob", "--media-script", "joined@0,poor@5"], "write :poor@5"),
        (["media", "1", "--user", "alice"], "Missing option '--stage'"),
        (["token"], "Missing argument 'USER'"),
        (["nonsense"], "No such command 'nonsense'"),
        # The bare command (the TUI) checks the same options before the app starts.
        (["--server", "ftp://example.com", "--user", "alice"], "is not an http:// or https:// URL"),
        (["--terminal-id", "t" * 70], "not 70"),
        (["web", "--terminal-id", "t"], "every tab is a terminal of its own"),
        (["web", "--user", "alice", "--server", "ftp://x"], "is not an http:// or https:// URL"),
    ],
)
def test_a_bad_option_is_one_line_and_exit_2(softphone: Softphone, args: list[str], says: str) -> None:
    result = softphone.run(*args)
    assert result.returncode == ExitCode.USAGE, result
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert says in result.stderr
    assert result.stderr.startswith("softphone")


@pytest.mark.parametrize(
    ("env", "args", "says"),
    [
        ({"SOFTPHONE_SERVER": "ftp://x"}, ["--user", "alice"], "SOFTPHONE_SERVER: 'ftp://x' is not an http"),
        ({"SOFTPHONE_USER_ID": "abc", "SOFTPHONE_TOKEN": "t"}, [], "SOFTPHONE_USER_ID: Input should be a valid integer"),
        ({"SOFTPHONE_USER_ID": "10001"}, [], "SOFTPHONE_USER_ID goes with SOFTPHONE_TOKEN"),
        ({"SOFTPHONE_TOKEN": "t"}, ["--user-id", "10001"], "--user-id goes with --token"),
        ({"SOFTPHONE_PROFILE": "staging"}, [], "SOFTPHONE_PROFILE: no profile 'staging'"),
    ],
)
def test_a_bad_environment_variable_is_named(
    softphone: Softphone, env: dict[str, str], args: list[str], says: str
) -> None:
    server = [] if "SOFTPHONE_SERVER" in env else ["--server", NOWHERE]
    result = softphone.run("state", "1", *server, *args, env=env)
    assert result.returncode == ExitCode.USAGE
    assert says in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[profiles.staging\n", "config file"),
        ('server = "http://x"\n', "unknown key 'server'"),
        ('[profiles.staging]\nservre = "http://x"\n', "profiles.staging.servre: Extra inputs are not permitted"),
        ('[profiles.staging.conversations]\n"alice" = 5\n', 'named by two users, as "alice,bob"'),
        ('[profiles.staging.users.alice]\nterminal_id = "' + "t" * 65 + '"\n', "at most 64 characters"),
    ],
)
def test_a_bad_config_file_is_named_with_the_key(softphone: Softphone, tmp_path: Path, text: str, says: str) -> None:
    config = tmp_path / "softphone.toml"
    config.write_text(text, encoding="utf-8")
    result = softphone.run("config", "show", "--config", str(config), "--profile", "staging")
    assert result.returncode == ExitCode.USAGE
    assert says in result.stderr and str(config) in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
