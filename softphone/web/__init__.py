"""``softphone web``: the same phone in a browser tab, for demos on a shared screen.

textual-serve runs one ``softphone`` process per WebSocket, so every tab is a phone of its own (its own
terminal id), signed in with the options ``softphone web`` was given. Its page is our template
(``templates/app_index.html``): textual-serve's own loads a web font from the internet, ours takes
Roboto Mono from textual-serve's static files (Apache-2.0, shipped in its wheel), so nothing the page
needs comes from beyond this machine and no missing font can hold the page up.

A web page on any site could open ``ws://127.0.0.1:PORT/ws`` and drive a phone, or reach this server
by DNS rebinding; so while it listens on loopback it answers only requests whose ``Host`` (and, when a
browser sends one, ``Origin``) is a loopback name or address.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web
from textual_serve.server import Server

from softphone.server.guards import host_name, is_loopback

TEMPLATES = Path(__file__).parent / "templates"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def phone_command(options: Sequence[str]) -> str:
    """The shell command textual-serve runs for each tab: this Python's ``softphone`` with ``options``.

    ``exec`` makes the phone the process textual-serve started, so signals reach it, not a shell.
    """
    return "exec " + shlex.join([sys.executable, "-m", "softphone", *options])


def from_loopback(request: web.Request) -> bool:
    """The request names this machine as its ``Host``, and comes from a page of this machine if from a page."""
    if not is_loopback(host_name(request.host)):
        return False
    origin = request.headers.get("Origin")
    return origin is None or is_loopback(urlsplit(origin).hostname or "")


class PhoneWebServer(Server):
    """textual-serve's server with our page, the loopback check, and a start-up line of our own."""

    def __init__(self, command: str, *, host: str, port: int, allow_remote: bool) -> None:
        where = f"[{host}]" if ":" in host else host
        super().__init__(
            command, host=host, port=port, title="softphone", public_url=f"http://{where}:{port}", templates_path=TEMPLATES
        )
        self.allow_remote = allow_remote

    async def _make_app(self) -> web.Application:
        # textual-serve has no hook for middlewares, and by on_startup they are frozen: extend its builder.
        app = await super()._make_app()
        if not self.allow_remote:
            app.middlewares.append(self.refuse_other_hosts)
        return app

    @web.middleware
    async def refuse_other_hosts(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not from_loopback(request):
            raise web.HTTPBadRequest(text="softphone web answers pages of this machine only (see --allow-remote).\n")
        return await handler(request)

    async def on_startup(self, app: web.Application) -> None:
        self.console.print(f"softphone in a browser: open {self.public_url} (each tab is a phone of its own)")
        self.console.print("Press Ctrl+C to stop; the phones in open tabs hang up their calls first.")


def serve(options: Sequence[str], *, host: str, port: int, allow_remote: bool) -> None:
    """Serve the phone, started with ``options``, to browsers until Ctrl+C or SIGTERM."""
    PhoneWebServer(phone_command(options), host=host, port=port, allow_remote=allow_remote).serve()
