"""The ``softphone`` command as a real process: run it to the end, or start it and read its lines as they come.

Every process gets an environment of its own: no ``SOFTPHONE_*`` variable from the test runner, and
the user config, data and state directories under the test's temporary directory, so no config file
of the person running the tests changes what a test sees.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

COMMAND = [sys.executable, "-m", "softphone"]
RUN_TIMEOUT = 60.0


def isolated_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("SOFTPHONE_")}
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        env[name] = str(home / name.lower())
    env["PYTHONUNBUFFERED"] = "1"
    return {**env, **(extra or {})}


def json_lines(stdout: str) -> list[dict[str, Any]]:
    """Every stdout line as JSON; each must have ``kind`` and an ISO ``at``."""
    records = [json.loads(line) for line in stdout.splitlines()]
    for record in records:
        assert record["kind"] in ("event", "error", "summary"), record
        assert record["at"].endswith("Z") and "T" in record["at"], record
    return records


class Running:
    """A ``softphone`` process in the background whose stdout lines are read as they come."""

    def __init__(self, args: list[str], env: Mapping[str, str]) -> None:
        self.process = subprocess.Popen(
            [*COMMAND, *args], env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: list[str] = []
        self._errors: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._readers = [
            threading.Thread(target=self._read, daemon=True),
            threading.Thread(target=self._read_errors, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def _read_errors(self) -> None:
        assert self.process.stderr is not None
        self._errors.extend(self.process.stderr)

    def expect(self, predicate: Callable[[str], bool], timeout: float = 20.0) -> str:
        """The first new stdout line that satisfies ``predicate``; fails with all output if none does in time."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self._queue.get(timeout=max(remaining, 0.01))
            except queue.Empty:
                raise AssertionError(f"no such line within {timeout}s; got:\n" + "\n".join(self.lines)) from None
            if line is None:
                self._queue.put(None)
                raise AssertionError(
                    f"exited ({self.process.wait()}) before such a line; got:\n" + "\n".join(self.lines)
                    + "\nstderr:\n" + self.stderr()
                )
            self.lines.append(line)
            if predicate(line):
                return line

    def wait(self, timeout: float = RUN_TIMEOUT) -> int:
        """Wait for the process to end by itself; its exit code; the rest of its output is in ``lines``."""
        code = self.process.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=5)
        while (line := self._queue.get(timeout=5)) is not None:
            self.lines.append(line)
        self._queue.put(None)
        return code

    def interrupt(self, timeout: float = RUN_TIMEOUT) -> int:
        """Ctrl-C, as a person would; its exit code."""
        self.process.send_signal(signal.SIGINT)
        return self.wait(timeout)

    def stderr(self) -> str:
        """What it wrote to stderr so far (all of it once it has ended)."""
        return "".join(self._errors)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


class Softphone:
    """Runs ``python -m softphone ...`` as a user would, in an isolated environment."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = isolated_env(home)
        self._started: list[Running] = []

    def run(self, *args: str, env: Mapping[str, str] | None = None, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*COMMAND, *args], env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=timeout
        )

    def start(self, *args: str, env: Mapping[str, str] | None = None) -> Running:
        running = Running(list(args), {**self.env, **(env or {})})
        self._started.append(running)
        return running

    def close(self) -> None:
        for running in self._started:
            running.close()
