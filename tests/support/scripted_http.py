"""A tiny HTTP server on a free loopback port that answers as a script says and counts what it is asked.

For the phone against servers that misbehave (a refused token, a server error on every request): the
app under test talks real HTTP to it, and the test reads ``requests`` to see how often it was asked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from softphone.launch import free_port

Answer = tuple[int, dict[str, Any]]
Script = Callable[[str, str, str | None], Answer]
"""``(method, path, bearer token or None) -> (HTTP status, JSON body)``."""

NOT_FOUND: Answer = (404, {"code": 40401, "message": "接口不存在", "data": None})
REFUSED_TOKEN: Answer = (401, {"code": 40101, "message": "未登录或令牌无效", "data": None})
UNAVAILABLE: Answer = (503, {"code": 50300, "message": "服务暂不可用", "data": None})


@dataclass(frozen=True, slots=True)
class Seen:
    method: str
    path: str
    at: float
    """``time.monotonic()`` when it arrived."""


class ScriptedHttpServer:
    """uvicorn in a daemon thread, every request answered by ``script`` (WebSocket handshakes get 404)."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[Seen] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = Starlette(routes=[Route("/{path:path}", self._answer, methods=["GET", "POST", "PUT", "DELETE"])])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name="scripted-http", daemon=True)

    async def _answer(self, request: Request) -> JSONResponse:
        self.requests.append(Seen(request.method, request.url.path, time.monotonic()))
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        status, body = self.script(request.method, request.url.path, token if scheme.lower() == "bearer" else None)
        return JSONResponse(body, status_code=status)

    def paths(self) -> list[str]:
        return [f"{seen.method} {seen.path}" for seen in self.requests]

    def start(self, timeout: float = 10.0) -> ScriptedHttpServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the scripted server did not start")
            time.sleep(0.01)  # polling for the thread's start, not a synchronisation by time
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
