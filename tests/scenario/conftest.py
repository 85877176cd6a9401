"""``scenario``: the scenario engine, the bundled library and ``softphone run``, on a live simulator.

- ``simulator``: one simulator process for the module, ringing 3 s (the library's ring-timeout
  scenario needs at most 5); every scenario ends the calls it started, so modules share it safely.
- ``softphone(*args, timeout=...)``: the ``softphone`` command as a real process, in an environment
  with no ``SOFTPHONE_*`` variable and the user directories under a temporary home.
- ``json_lines(stdout)``: every line parsed, each checked to have ``kind`` and an ISO ``at``.
- ``documented_only_profile(server, config, aliases)``: a config file whose profile ``docs`` has the
  tokens and conversation ids a ``serve --documented-only`` process printed; the options naming it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.server import ServerProcess

RING_TIMEOUT = 3
Softphone = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(db=tmp_path_factory.mktemp("scenarios") / "simulator.db", ring_timeout=RING_TIMEOUT)
    yield server.start()
    server.close()


@pytest.fixture
def softphone(tmp_path: Path) -> Softphone:
    env = {name: value for name, value in os.environ.items() if not name.startswith("SOFTPHONE_")}
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        env[name] = str(tmp_path / name.lower())

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "softphone", *args], env=env, capture_output=True, text=True, timeout=timeout
        )

    return run


def json_lines(stdout: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stdout.splitlines()]
    for line in lines:
        assert line["kind"] in ("event", "error", "summary"), line
        assert line["at"].endswith("Z") and "T" in line["at"], line
    return lines


def documented_only_profile(server: ServerProcess, config: Path, aliases: dict[str, str] | None = None) -> list[str]:
    """A profile with the tokens and conversation ids documented-only mode prints at start, as a tester
    would copy them (under ``aliases`` of their own, if given); the options that use it."""
    log = server.log()
    alias = aliases or {}
    lines = ["[profiles.docs]", f'server = "{server.base_url}"', "poll = true", ""]
    for name, user_id, token in re.findall(r"^(alice|bob|carol) \(\w+\): --user-id (\d+) --token (\S+)$", log, re.M):
        lines += [f"[profiles.docs.users.{alias.get(name, name)}]", f'token = "{token}"', f"user_id = {user_id}", ""]
    lines.append("[profiles.docs.conversations]")
    for one, other in (("alice", "bob"), ("alice", "carol"), ("bob", "carol")):
        section = log.split(f"\n{one} (", 1)[1]
        conversation = re.search(rf"with {other} \(\d+\): --conversation (\d+)", section)
        assert conversation is not None
        lines.append(f'"{alias.get(one, one)},{alias.get(other, other)}" = {conversation[1]}')
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ["--config", str(config), "--profile", "docs"]
