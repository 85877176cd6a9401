"""What stands between the network and the routes: the Host check and the request body limit.

The simulator signs anyone in as anyone, so it listens on loopback unless told otherwise. A web page
could still reach it through DNS rebinding (a name of the page's that resolves to 127.0.0.1): the
browser then sends the page's name as ``Host``. So while bound to loopback only loopback names and
addresses (any port) pass, plus ``testserver``, the host of in-process test clients.

Bodies are limited before they are read: a ``Content-Length`` over the limit is refused at once, and
a body without one is counted as it streams in, refused as soon as it passes the limit.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from fastapi import WebSocket
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from softphone.api import ApiError, BodyTooLarge, InvalidParams, failure

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


class HostCheck:
    """ASGI middleware refusing a non-loopback ``Host`` (400/40001, or a refused WebSocket handshake)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            name = host_name(Headers(scope=scope).get("host", ""))
            if name != IN_PROCESS_HOST and not is_loopback(name):
                error = InvalidParams.because(f"Host: {name or '(none)'} is not a loopback name (see --allow-remote)")
                if scope["type"] == "http":
                    await error_response(error)(scope, receive, send)
                else:
                    await refuse_websocket(WebSocket(scope, receive, send), error)
                return
        await self.app(scope, receive, send)


class BodyLimit:
    """ASGI middleware answering 413 for a body over ``limit`` bytes without reading it all."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            await error_response(BodyTooLarge())(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise BodyTooLarge()  # the app's ApiError handler answers, as for any refusal
            return message

        await self.app(scope, counted, send)
