"""``softphone serve``: the simulator on uvicorn."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable, Coroutine
from contextlib import suppress
from typing import Any

import uvicorn

from softphone.server.app import create_app
from softphone.server.config import ServerConfig
from softphone.server.credentials import credentials_sheet
from softphone.server.directory import Directory
from softphone.server.guards import Traffic
from softphone.server.protocol import uvicorn_config
from softphone.server.redact import redact_uvicorn_logs

log = logging.getLogger("softphone.server")


async def _stop_when_idle(server: uvicorn.Server, traffic: Traffic, idle_timeout: float) -> None:
    while not server.should_exit:
        await asyncio.sleep(min(idle_timeout, 1.0) / 2)
        if traffic.idle_seconds() >= idle_timeout:
            log.info("idle for %ss, stopping", idle_timeout)
            server.should_exit = True


async def _serve(server: uvicorn.Server, traffic: Traffic, idle_timeout: float | None) -> None:
    watcher = asyncio.create_task(_stop_when_idle(server, traffic, idle_timeout)) if idle_timeout else None
    await server.serve()
    if watcher is not None:
        watcher.cancel()


def _event_loop_runner() -> Callable[[Coroutine[Any, Any, None]], None]:
    """uvloop where uvicorn[standard] installed it (everywhere but Windows): it serves faster."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


def run_server(config: ServerConfig, *, host: str, port: int, idle_timeout: float | None = None) -> None:
    """Serve until Ctrl-C, SIGTERM or ``idle_timeout`` seconds without traffic; one log line per request
    (tokens in URLs cut short). In documented-only mode, first print the seeded users' credentials."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    app = create_app(config)  # after the logging set-up: it logs the faults and their seed
    log.info(
        "database %s, ring timeout %ss, abandon timeout %ss, %d users",
        config.db, config.ring_timeout, config.abandon_timeout, len(app.state.service.directory.users),
    )  # fmt: skip
    if config.documented_only:
        seeded = Directory.load(config.directory).users
        print(credentials_sheet(app.state.service, seeded, config.generated_users), flush=True)
    server = uvicorn.Server(uvicorn_config(app, config, host=host, port=port))
    redact_uvicorn_logs()
    # What start-up built lives as long as the process: the garbage collector's full passes (30 ms over
    # it, a pause of every request and push) no longer go through it.
    gc.collect()
    gc.freeze()
    # uvicorn re-raises the Ctrl-C it handled once it has shut down cleanly; that is not an error.
    with suppress(KeyboardInterrupt):
        _event_loop_runner()(_serve(server, app.state.traffic, idle_timeout))
