"""Getting a simulator to talk to: reuse the local one, or start one in the background (or privately, for the demo)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
import platformdirs

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
BACKGROUND_IDLE_SECONDS = 600
START_WAIT_SECONDS = 15.0


def local_url(port: int = DEFAULT_PORT) -> str:
    return f"http://{DEFAULT_HOST}:{port}"


def is_healthy(url: str) -> bool:
    import httpx  # loaded here, so that `softphone --help` and completion stay quick

    try:
        return httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    """Poll ``/healthz`` until the simulator answers; say where its log is if it never does."""
    deadline = time.monotonic() + START_WAIT_SECONDS
    while not is_healthy(url):
        if process.poll() is not None and not is_healthy(url):
            raise click.ClickException(f"The simulator exited at start-up; its log is {log_path}")
        if time.monotonic() > deadline:
            raise click.ClickException(f"The simulator did not answer within {START_WAIT_SECONDS:.0f}s; see {log_path}")
        time.sleep(0.1)


def spawn_simulator(args: list[str], log_path: Path, *, detach: bool) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "softphone", "serve", *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=detach,
        )


def ensure_local_simulator(port: int = DEFAULT_PORT) -> str:
    """The local simulator's URL, starting it in the background when nothing answers there.

    The background simulator outlives this terminal (so the other terminals keep their calls) and
    stops by itself once nobody has used it for a while. Two terminals starting at once is fine:
    the second one cannot bind the port and exits, and both talk to the first. Either way the one
    that answers is recorded for ``softphone sim``.
    """
    from softphone.background import record_started

    url = local_url(port)
    if is_healthy(url):
        return url
    log_path = Path(platformdirs.user_log_dir("softphone")) / "simulator.log"
    process = spawn_simulator(
        ["--port", str(port), "--idle-timeout", str(BACKGROUND_IDLE_SECONDS)], log_path, detach=True
    )
    wait_until_healthy(url, process, log_path)
    record_started(url, port, log_path)
    return url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((DEFAULT_HOST, 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def private_simulator(workdir: Path, *args: str) -> Iterator[str]:
    """A simulator of one's own on a free port with its database in ``workdir``, stopped on exit."""
    port = free_port()
    url = local_url(port)
    log_path = workdir / "simulator.log"
    server = spawn_simulator(["--port", str(port), "--db", str(workdir / "simulator.db"), *args], log_path, detach=False)
    try:
        wait_until_healthy(url, server, log_path)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)

