"""The simulator as a real process on a free loopback port, for tests that need real HTTP and WebSockets.

``ServerProcess`` runs ``python -m softphone serve`` exactly as a user would. ``start()`` polls
``/healthz`` until it answers (no fixed sleeps) and fails with the server's log if it never does.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import httpx

from softphone.launch import free_port

START_TIMEOUT = 15.0


class ServerProcess:
    """One simulator process; ``restart()`` brings it back on the same port and database."""

    def __init__(
        self, db: str | Path = ":memory:", ring_timeout: int = 30, port: int | None = None, args: Sequence[str] = ()
    ) -> None:
        self.db_path = str(db)
        self.ring_timeout = ring_timeout
        self.args = list(args)
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/api/ws"
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="softphone-serve-", suffix=".log", delete=False)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = START_TIMEOUT) -> ServerProcess:
        """Launch and wait until ``/healthz`` answers; raise with the log if it does not in time."""
        command = [
            sys.executable, "-m", "softphone", "serve",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--db", self.db_path, "--ring-timeout", str(self.ring_timeout), *self.args,
        ]  # fmt: skip
        self._process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"simulator exited with {self._process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=0.5).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # polling interval, not synchronisation: the loop waits on /healthz
        self.kill()
        raise RuntimeError(f"simulator did not answer /healthz within {timeout}s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up, like a crash."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        """SIGINT, as Ctrl-C, and wait for a clean exit."""
        self._end(signal.SIGINT)

    def restart(self) -> ServerProcess:
        if self.running:
            self.stop()
        return self.start()

    def log(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def close(self) -> None:
        """Stop if running and remove the log file."""
        if self.running:
            self.kill()
        self._log.close()
        os.unlink(self._log.name)

    def _end(self, sig: signal.Signals) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(sig)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None


ServerFactory = Callable[..., ServerProcess]
"""``server_factory(ring_timeout=30, db=None, args=()) -> ServerProcess``, started; ``args`` go to ``serve``."""


def login(base_url: str, user: str | int) -> str:
    """A bearer token for ``user`` (name or id) from the simulator's dev login."""
    response = httpx.post(f"{base_url}/api/dev/login", json={"user": user}, timeout=5)
    response.raise_for_status()
    token: str = response.json()["data"]["token"]
    return token


async def wait_for(
    predicate: Callable[[], bool | Awaitable[bool]], timeout: float = 5.0, interval: float = 0.05
) -> None:
    """Poll until ``predicate`` (sync or async) is true; ``TimeoutError`` if it never is."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        outcome = predicate()
        if isinstance(outcome, Awaitable):
            outcome = await outcome
        if outcome:
            return
        if asyncio.get_running_loop().time() >= deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)
