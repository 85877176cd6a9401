"""uvicorn's WebSocket protocol, offering the push channel a way to write a frame serialized once.

A change goes to every connection of its parties as the same WebSocket frame, byte for byte (a
server does not mask, and this server declines compression). Through Starlette and uvicorn, each
connection would build and serialize that frame again: about half of the server's time per
subscriber. ``PushProtocol`` adds the ASGI server extension ``softphone.server.push.WRITE_FRAME`` to
each connection's scope, which writes bytes serialized once straight to the transport, when the
connection can take them as they are; otherwise it says no and the push channel sends the usual way.

This is the one module that relies on uvicorn's internals (the attributes ``UVICORN_ATTRIBUTES``
names); uvicorn is pinned, and a test checks those attributes are there.
"""

from __future__ import annotations

from typing import Any

import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import State

from softphone.server.config import ServerConfig
from softphone.server.push import WRITE_FRAME

KEEP_ALIVE_SECONDS = 5
"""uvicorn's own default, said here so that a test holds the client's ``KEEPALIVE_EXPIRY`` under it."""

UVICORN_ATTRIBUTES = (
    "conn", "transport", "scope", "response", "writable", "handshake_complete", "close_sent", "disconnected",
    "initial_response",
)  # fmt: skip
"""What ``PushProtocol`` reads of uvicorn's protocol, beyond the ``handle_connect`` it extends."""


class PushProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol, with the ``WRITE_FRAME`` extension in every accepted scope."""

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if self.response.status_code == 101:  # otherwise refused, and there is no scope
            self.scope["extensions"][WRITE_FRAME] = {"write": self.write_frame}

    def write_frame(self, wire: bytes) -> bool:
        """Write a whole serialized frame now if the connection takes data as it is; whether it did.

        Only while the app has accepted and not closed, the peer has not closed, the transport is not
        paused for flow control or closing: then uvicorn's own send would write exactly these bytes.
        One ``transport.write`` per frame, so a keepalive ping falls between frames, never inside one.
        """
        if (
            self.handshake_complete
            and not self.close_sent
            and not self.disconnected
            and self.initial_response is None
            and self.writable.is_set()
            and self.conn.state is State.OPEN
            and not self.transport.is_closing()
        ):
            self.transport.write(wire)
            return True
        return False


def uvicorn_config(app: Any, config: ServerConfig, *, host: str, port: int, log_level: str = "info") -> uvicorn.Config:
    """How the simulator is served: by ``softphone serve``, and alike by the tests that run it in-process."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        ws=PushProtocol,
        # A push frame from a client is held to the request body limit, too.
        ws_max_size=config.max_body_bytes,
        # Frames are small JSON; compressing them costs memory per connection (about half of it) and CPU
        # per subscriber, for little gain on a loopback or LAN. It also lets every subscriber of a change
        # get the same bytes (``PushFrame.wire``).
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=2,
        # An idle HTTP connection is closed after this long; our client lets go of one before (tested).
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        log_level=log_level,
    )
