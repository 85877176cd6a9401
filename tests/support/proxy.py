"""A wrong server on purpose: the simulator behind a proxy that changes one thing in its answers.

``MutatingProxy(upstream, mutation)`` forwards every HTTP request to ``upstream`` and passes each JSON
answer through ``mutation(method, path, body)``, which returns the body to send instead (or the same
one). It has no push channel: a WebSocket handshake is answered 404, as a real server would, so the
check skips what needs one (uvicorn logs such a refusal as an error, so the proxy logs only critical
ones). It serves on a free loopback port from a thread of the test process.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from starlette.types import Receive, Scope, Send

from softphone.launch import free_port, local_url

Mutation = Callable[[str, str, Any], Any]
"""``(method, path, answer JSON) -> answer JSON``: the one change this proxy makes."""
HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "content-encoding"}


class MutatingProxy:
    """An ASGI app forwarding to ``upstream`` with one mutation applied to the answers."""

    def __init__(self, upstream: str, mutation: Mutation) -> None:
        self.upstream = upstream
        self.mutation = mutation
        self.changed = 0
        """How many answers the mutation actually altered: a test that changed nothing proves nothing."""
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.http.response.start", "status": 404, "headers": []})
            await send({"type": "websocket.http.response.body", "body": b""})
        else:
            await self._forward(scope, receive, send)

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k.decode(), v.decode()) for k, v in scope["headers"] if k.decode().lower() != "host"]
        if self._client is None:  # made in the server's own event loop, and kept: one pool for every request
            self._client = httpx.AsyncClient(base_url=self.upstream)
        answer = await self._client.request(
            scope["method"], scope["path"], params=scope["query_string"].decode(), headers=headers, content=body
        )
        content = answer.content
        try:
            parsed = answer.json()
        except ValueError:
            pass
        else:
            mutated = self.mutation(scope["method"], scope["path"], json.loads(content))
            if mutated != parsed:
                self.changed += 1
                content = json.dumps(mutated, ensure_ascii=False).encode()
        out_headers = [(k.encode(), v.encode()) for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS]
        out_headers.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": answer.status_code, "headers": out_headers})
        await send({"type": "http.response.body", "body": content})


@contextmanager
def mutating_proxy(upstream: str, mutation: Mutation) -> Iterator[tuple[str, MutatingProxy]]:
    """The proxy serving on a free port until the block ends: its URL, and the proxy (to count changes)."""
    proxy = MutatingProxy(upstream, mutation)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(proxy, host="127.0.0.1", port=port, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),), name="mutating-proxy", daemon=True)
    thread.start()
    try:
        deadline = 100
        while not server.started and deadline:
            thread.join(timeout=0.1)  # waits on the server's own flag, polling: it has no event to await
            deadline -= 1
        if not server.started:
            raise RuntimeError("the mutating proxy did not start")
        yield local_url(port), proxy
    finally:
        server.should_exit = True
        thread.join(timeout=10)
