"""The answer as the server sent it: an httpx transport that keeps the last exchange.

``CallClient`` stays the one path of every request (headers, bodies, errors); a scenario plugs this
transport into it to judge what came back byte for byte, because a typed model forgives what a
conformance check must not (a missing nullable field, a string where an int belongs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Exchange:
    """One request and its answer: the body sent and the body received, parsed where they are JSON."""

    method: str
    path: str
    sent: dict[str, Any] | None
    http_status: int
    text: str
    body: Any
    """The answer's JSON, or ``None`` when it is not JSON (``is_json`` tells a JSON ``null`` apart)."""
    is_json: bool


class RecordingTransport(httpx.AsyncBaseTransport):
    """Sends through ``inner`` and keeps the last exchange.

    ``inner`` is a pool shared by every client of a run, which the run closes: a client closing this
    transport leaves it open. (A new pool costs a TLS context, some 60 ms: too much for every party.)
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self.last: Exchange | None = None

    def take(self) -> Exchange | None:
        """The last exchange, forgotten once taken, so a request that never got an answer leaves none."""
        last, self.last = self.last, None
        return last

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        content = await response.aread()
        text = content.decode("utf-8", "replace")
        try:
            body, is_json = json.loads(text), True
        except ValueError:
            body, is_json = None, False
        sent = json.loads(request.content) if request.content else None
        self.last = Exchange(request.method, request.url.path, sent, response.status_code, text, body, is_json)
        return response

    async def aclose(self) -> None:
        """Nothing: the shared pool is closed by its owner."""
