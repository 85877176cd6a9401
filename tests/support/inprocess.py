"""The simulator app inside the test's event loop: no process, no port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from softphone.server.app import create_app
from softphone.server.config import ServerConfig
from softphone.server.service import Clock, system_clock

BASE_URL = "http://testserver"  # the in-process host the Host check lets through


@asynccontextmanager
async def running_app(config: ServerConfig | None = None, clock: Clock = system_clock) -> AsyncIterator[FastAPI]:
    """The app with its lifespan running, so ring timers are armed as under uvicorn."""
    app = create_app(config or ServerConfig(), clock)
    async with app.router.lifespan_context(app):
        yield app


def client_for(app: FastAPI) -> httpx.AsyncClient:
    """Unexpected exceptions come back as the 500 envelope, as a real server would send them."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url=BASE_URL)
