"""``softphone serve``: the simulator on uvicorn."""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress
from pathlib import Path

import platformdirs
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from softphone.server.app import create_app
from softphone.server.config import ServerConfig

log = logging.getLogger("softphone.server")


def default_db_path() -> Path:
    """``softphone.db`` in the user's data directory, created on first use."""
    return platformdirs.user_data_path("softphone", ensure_exists=True) / "softphone.db"


class IdleWatch:
    """Wraps the app to know how long it has been since the last request or push connection ended."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._open = 0
        self._last_activity = time.monotonic()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        self._open += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self._open -= 1
            self._last_activity = time.monotonic()

    def idle_seconds(self) -> float:
        return 0.0 if self._open else time.monotonic() - self._last_activity


async def _stop_when_idle(server: uvicorn.Server, watch: IdleWatch, idle_timeout: float) -> None:
    while not server.should_exit:
        await asyncio.sleep(min(idle_timeout, 1.0) / 2)
        if watch.idle_seconds() >= idle_timeout:
            log.info("idle for %ss, stopping", idle_timeout)
            server.should_exit = True


async def _serve(server: uvicorn.Server, watch: IdleWatch, idle_timeout: float | None) -> None:
    watcher = asyncio.create_task(_stop_when_idle(server, watch, idle_timeout)) if idle_timeout else None
    await server.serve()
    if watcher is not None:
        watcher.cancel()


def run_server(config: ServerConfig, *, host: str, port: int, idle_timeout: float | None = None) -> None:
    """Serve until Ctrl-C, SIGTERM or ``idle_timeout`` seconds without traffic; one log line per request."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    watch = IdleWatch(create_app(config))  # after the logging set-up: it logs the faults and their seed
    log.info("database %s, ring timeout %ss", config.db, config.ring_timeout)
    server = uvicorn.Server(
        uvicorn.Config(
            watch,
            host=host,
            port=port,
            ws="websockets-sansio",
            # A push frame from a client is held to the request body limit, too.
            ws_max_size=config.max_body_bytes,
            timeout_graceful_shutdown=2,
            log_level="info",
        )
    )
    # uvicorn re-raises the Ctrl-C it handled once it has shut down cleanly; that is not an error.
    with suppress(KeyboardInterrupt):
        asyncio.run(_serve(server, watch, idle_timeout))
