"""Fixtures every test package can use to talk to a real or an in-process simulator.

Real process (``tests/support/server.py``; import as ``from support.server import ...``):

- ``ServerProcess(db=":memory:", ring_timeout=30, port=None, args=())``: ``python -m softphone serve``
  on a free loopback port, with ``args`` added to the command line. ``start()`` waits for ``/healthz`` (raises with the server log on failure) and returns
  the process; ``kill()`` sends SIGKILL, ``stop()`` SIGINT and waits, ``restart()`` starts again on the
  same port and database, ``log()`` is its output. Attributes: ``base_url``
  (``"http://127.0.0.1:PORT"``), ``ws_url`` (``"ws://127.0.0.1:PORT/api/ws"``), ``port``, ``db_path``.
- ``login(base_url, user) -> str``: a bearer token from ``POST /api/dev/login`` (sync httpx).
- ``async wait_for(predicate, timeout=5.0)``: poll a sync or async predicate; ``TimeoutError`` if it
  stays false.

Fixtures:

- ``live_server``: a started ``ServerProcess`` on a temporary database file, ring timeout 30 s.
- ``server_factory(ring_timeout=30, db=None, args=()) -> ServerProcess``: start more, or with other
  settings (``db=None`` means a fresh temporary file; ``args`` are more ``serve`` options, such as
  ``["--faults", "push-drop=1"]``); all are killed at the end of the test.
- ``support.inprocess``: ``running_app(config=None, clock=system_clock)``, an async context manager
  for an app with its lifespan running, and ``client_for(app)``, the in-process client below.
- ``asgi_app``: the FastAPI app on an in-memory database with its lifespan running (ring timers armed).
- ``asgi_client``: an ``httpx.AsyncClient`` on ``asgi_app`` through ``httpx.ASGITransport``, base URL
  ``http://testserver``; server errors come back as 500 envelopes instead of being raised.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from support.inprocess import client_for, running_app
from support.server import ServerFactory, ServerProcess
from support.soak import RECORDED, RESULTS_ENV, quote, render

PROJECT = Path(__file__).resolve().parent.parent
RELIABILITY = PROJECT / "RELIABILITY.md"
_STARTED = (datetime.now(UTC), time.monotonic())
_TESTED: dict[str, str] = {}


def pytest_sessionstart(session: pytest.Session) -> None:
    """The commit under test, noted before the run (the work tree may move on while a soak runs)."""
    if os.environ.get(RESULTS_ENV):
        _TESTED["commit"] = _commit()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """A proof's figures say whether it passed."""
    if report.when == "call" and report.nodeid in RECORDED:
        RECORDED[report.nodeid].passed = report.passed


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With ``SOFTPHONE_SOAK_RESULTS`` (``make soak``): write the proofs' figures, and quote them in RELIABILITY.md."""
    target = os.environ.get(RESULTS_ENV)
    if not target or not RECORDED:
        return
    started, clock = _STARTED
    failed = session.testsfailed
    outcome = f"{session.testscollected - failed} of {session.testscollected} soak tests passed"
    results = render(
        list(RECORDED.values()),
        started=started.strftime("%Y-%m-%d %H:%M UTC"),
        minutes=(time.monotonic() - clock) / 60,
        commit=_TESTED.get("commit") or _commit(),
        outcome=outcome,
    )
    Path(target).write_text(results, encoding="utf-8")
    if RELIABILITY.exists():
        RELIABILITY.write_text(quote(RELIABILITY.read_text(encoding="utf-8"), results), encoding="utf-8")


def _commit() -> str:
    """The commit tested, marked when the work tree differed from it (other than the figures themselves)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=PROJECT, capture_output=True, text=True).stdout.strip()

    figures = (" RELIABILITY.md", " soak-results.md")
    changed = [line for line in git("status", "--porcelain").splitlines() if not line.endswith(figures)]
    return git("rev-parse", "--short", "HEAD") + (" + uncommitted changes" if changed else "")


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    started: list[ServerProcess] = []

    def start(ring_timeout: int = 30, db: str | Path | None = None, args: Sequence[str] = ()) -> ServerProcess:
        server = ServerProcess(db=db or tmp_path / f"simulator-{len(started)}.db", ring_timeout=ring_timeout, args=args)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.close()


@pytest.fixture
def live_server(server_factory: ServerFactory) -> ServerProcess:
    return server_factory()


@pytest.fixture
async def asgi_app() -> AsyncIterator[FastAPI]:
    async with running_app() as app:
        yield app


@pytest.fixture
async def asgi_client(asgi_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(asgi_app) as client:
        yield client
