"""One push connection, once accepted: a single writer drains the outbox, a reader answers the client.

The writer is the connection's only sender, so frames leave in the order they were queued, and it is
where the push faults decided at publish time are carried out: a dropped push is skipped, a
duplicated one sent twice, a delayed one waits, a held one (``push-reorder``) goes out after the next
push or after ``REORDER_HOLD_SECONDS``, and a cut ends the connection without a close frame, as a
network failure would. The connection closes with 4401 when its token expires or is revoked, and with
1008 when the subscriber stopped reading.

While the writer is idle, a frame is written by whoever queued it (``direct_sender``), in the
publisher's own step. Where the server offers it (``softphone.server.protocol`` under uvicorn), that is
the frame's bytes, serialized once per change, handed to the connection's transport
(``WRITE_FRAME``): the same bytes for every subscriber, no frame built per connection. Elsewhere (the
in-process test client, another ASGI server), or when the connection cannot take data now (paused for
flow control, closing), the frame's text goes through Starlette's ``send_text``, run in the same
step, as it finishes at once while the connection takes data; what is left of a send that cannot
finish (the peer reads slowly) goes to the writer, first in line, so frames keep their order and the
outbox and its limit work as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from contextlib import suppress
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect

from softphone.server.faults import REORDER_HOLD_SECONDS
from softphone.server.hub import (
    CLOSE_UNAUTHORIZED,
    Delivery,
    Ending,
    PushFrame,
    SendNow,
    Subscription,
    Unfinished,
    answer_client_frame,
)

log = logging.getLogger("softphone.server")

CLOSE_INTERNAL_ERROR = 1011
CLOSE_TIMEOUT = 1.0
"""How long a close may wait for a peer that does not read before the connection is simply dropped."""
_GONE = (WebSocketDisconnect, RuntimeError, OSError)
"""What sending or receiving raises once the peer has gone."""
WRITE_FRAME = "softphone.write_frame"
"""An ASGI server extension: ``scope["extensions"][WRITE_FRAME]["write"](wire) -> bool`` writes a whole
serialized frame to the connection at once and says ``True``, or writes nothing and says ``False``
when the connection cannot take it now (not open, closing, paused for flow control)."""

WriteWire = Callable[[bytes], bool]
"""The extension's ``write``: a whole serialized frame in, whether it was written."""


async def run_push_connection(websocket: WebSocket, subscription: Subscription, expires_in: float) -> None:
    """Accept, then serve until the peer leaves or the connection is ended (expiry, revocation, fault).

    The reader runs in the connection's own task and the writer in one more; when the writer is done
    (a close, a cut) it cancels the reader. Thousands of connections may be open, so there is no third
    task and nothing in between (``asyncio.wait`` with two tasks cost about 2.5 KiB more each).
    """
    await websocket.accept()
    reader = asyncio.current_task()
    assert reader is not None
    expiry = asyncio.get_running_loop().call_later(
        expires_in, subscription.end, Ending(CLOSE_UNAUTHORIZED, "token expired")
    )
    writer = asyncio.create_task(_write(websocket, subscription))
    subscription.write_directly(direct_sender(websocket, subscription))

    def stop_reading(_: asyncio.Task[None]) -> None:
        reader.cancel()

    writer.add_done_callback(stop_reading)
    try:
        await _read(websocket, subscription)
    except asyncio.CancelledError:
        # Ours when the writer has finished and nobody else asked too: the connection is over.
        if not writer.done() or reader.uncancel() > 0:
            raise
    finally:
        expiry.cancel()
        writer.remove_done_callback(stop_reading)
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)


def direct_sender(websocket: WebSocket, subscription: Subscription) -> SendNow:
    """Send a text frame within the caller's step; what could not finish at once comes back unfinished.

    The caller is whoever published a change, often another user's request, after its commit: nothing
    that goes wrong with this connection may fail it. A failure ends this connection alone.
    """
    extension: dict[str, WriteWire] = (websocket.scope.get("extensions") or {}).get(WRITE_FRAME, {})
    write_wire = extension.get("write")

    def send_now(frame: PushFrame) -> Unfinished | None:
        try:
            if write_wire is not None and write_wire(frame.wire()):
                return None
            sending = websocket.send_text(frame.text)
            waiting_on = sending.send(None)
        except StopIteration:
            return None
        except _GONE:
            return None  # the peer has gone: the reader sees it and ends the connection
        except Exception:
            log.exception("push connection of user %s failed while sending; closing it", subscription.user_id)
            subscription.end(Ending(CLOSE_INTERNAL_ERROR, "internal error"))
            return None
        return Unfinished(sending, waiting_on)

    return send_now


async def _finish(unfinished: Unfinished) -> None:
    """Carry a send that stopped part-way to its end, as a task would have: wait, then resume it."""
    sending: Coroutine[Any, Any, None] = unfinished.sending
    waiting_on = unfinished.waiting_on
    try:
        while True:
            if waiting_on is None:
                await asyncio.sleep(0)  # a bare yield: run again on the next turn of the loop
            else:
                # Not ``await waiting_on``: the send already awaited this future once, outside any task,
                # and a future awaited twice while pending raises "await wasn't used with future".
                await asyncio.wait((waiting_on,))
            try:
                waiting_on = sending.send(None)
            except StopIteration:
                return
    finally:
        sending.close()  # a no-op once it has returned; if this writer was cancelled, it ends the send


async def _read(websocket: WebSocket, subscription: Subscription) -> None:
    with suppress(*_GONE):
        while (message := await websocket.receive())["type"] != "websocket.disconnect":
            subscription.put(Delivery(answer_client_frame(message.get("text"))))


async def _write(websocket: WebSocket, subscription: Subscription) -> None:
    loop = asyncio.get_running_loop()
    held: PushFrame | None = None
    release_at = 0.0
    with suppress(*_GONE):
        while True:
            item = await subscription.next(None if held is None else max(0.0, release_at - loop.time()))
            if item is None:  # the held push waited long enough for a next one
                assert held is not None
                await websocket.send_text(held.text)
                held = None
                continue
            if isinstance(item, Unfinished):
                await _finish(item)
                continue
            if isinstance(item, Ending):
                with suppress(TimeoutError):
                    await asyncio.wait_for(websocket.close(item.code, item.reason), CLOSE_TIMEOUT)
                return
            fate = item.fate
            if fate is None:
                await websocket.send_text(item.frame.text)
                continue
            if fate.cut:
                return  # no close frame: the server ends the TCP connection when the handler returns
            if fate.drop or (fate.delay and await subscription.wait_ending(fate.delay)):
                continue
            if fate.hold and held is None:
                held, release_at = item.frame, loop.time() + REORDER_HOLD_SECONDS
                continue
            for _ in range(2 if fate.duplicate else 1):
                await websocket.send_text(item.frame.text)
            if held is not None:
                await websocket.send_text(held.text)
                held = None
