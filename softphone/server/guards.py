"""What stands between the network and the routes, in one ASGI layer: the Host check, the request body
limit, the HTTP faults, and the count of open requests that ``--idle-timeout`` watches.

The simulator signs anyone in as anyone, so it listens on loopback unless told otherwise. A web page
could still reach it through DNS rebinding (a name of the page's that resolves to 127.0.0.1): the
browser then sends the page's name as ``Host``. So while bound to loopback only loopback names and
addresses (any port) pass, plus ``testserver``, the host of in-process test clients.

Bodies are limited before they are read: a ``Content-Length`` over the limit is refused at once, and
a body without one is counted as it streams in, refused as soon as it passes the limit.

It is one layer rather than one per concern: each ASGI layer is a call, a scope lookup and often a
wrapped ``receive`` on every request, and the four used to cost about as much as a route's own work.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from functools import lru_cache

from fastapi import WebSocket
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from softphone.api import ApiError, BodyTooLarge, InvalidParams, ServiceUnavailable, failure
from softphone.server.faults import FAULTED_PREFIX, Faults

IN_PROCESS_HOST = "testserver"
"""Starlette's and schemathesis' in-process test clients send this ``Host``."""


@lru_cache(maxsize=256)  # asked on every request, about the few names a machine's clients use
def is_loopback(host: str) -> bool:
    """``localhost``, ``*.localhost``, ``127.0.0.0/8`` and ``::1`` (brackets allowed); nothing else."""
    name = host.strip().lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.removeprefix("[").removesuffix("]")).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The host part of a ``Host`` header: ``[::1]:8765`` → ``[::1]``, ``localhost:80`` → ``localhost``."""
    if header.startswith("["):
        return header.partition("]")[0] + "]"
    return header.rpartition(":")[0] if header.count(":") == 1 else header


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(failure(error.code, error.message), status_code=error.HTTP_STATUS)


async def refuse_websocket(websocket: WebSocket, error: ApiError) -> None:
    """HTTP status and envelope at the handshake where the server allows it, else close ``4000 + status``."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(error_response(error))
    else:
        await websocket.accept()
        await websocket.close(code=4000 + error.HTTP_STATUS, reason=str(error.code))


class Traffic:
    """Requests and push connections open now, and when the last one ended."""

    def __init__(self) -> None:
        self.open = 0
        self.last_activity = time.monotonic()

    def idle_seconds(self) -> float:
        """How long the server has had nothing open: what ``--idle-timeout`` waits for."""
        return 0.0 if self.open else time.monotonic() - self.last_activity


class Gate:
    """ASGI middleware, in order: the Host check (400/40001, or a refused WebSocket handshake; off with
    ``check_host=False``), the body limit (413), then ``http-latency`` and ``http-error`` on
    ``/api/calls/*``, decided before any route runs, so an injected 503 never follows a half-applied
    change. Every request and push connection is counted in ``traffic`` while it is open."""

    def __init__(self, app: ASGIApp, *, check_host: bool, limit: int, faults: Faults, traffic: Traffic) -> None:
        self.app = app
        self.check_host = check_host
        self.limit = limit
        self.faults = faults
        self.traffic = traffic

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        traffic = self.traffic
        traffic.open += 1
        try:
            await self._pass(scope, receive, send)
        finally:
            traffic.open -= 1
            traffic.last_activity = time.monotonic()

    async def _pass(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        if self.check_host:
            name = host_name(headers.get("host", ""))
            if name != IN_PROCESS_HOST and not is_loopback(name):
                error = InvalidParams.because(f"Host: {name or '(none)'} is not a loopback name (see --allow-remote)")
                if scope["type"] == "http":
                    await error_response(error)(scope, receive, send)
                else:
                    await refuse_websocket(WebSocket(scope, receive, send), error)
                return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            await error_response(BodyTooLarge())(scope, receive, send)
            return
        if scope["path"].startswith(FAULTED_PREFIX):
            failing = self.faults.http_error()  # drawn on arrival, so the order of requests decides
            latency = self.faults.http_latency()
            if latency:
                await asyncio.sleep(latency)
            if failing:
                await error_response(ServiceUnavailable())(scope, receive, send)
                return
        if declared.isdigit():
            await self.app(scope, receive, send)  # the server reads no more than the length declared
            return
        limit = self.limit
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge()  # the app's ApiError handler answers, as for any refusal
            return message

        await self.app(scope, counted, send)
