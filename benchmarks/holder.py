"""A process that holds push connections for the benchmarks, so no one Python process is the bottleneck.

    python -m benchmarks.holder WS_URL TOKENS_JSON PER_TOKEN [--report] [--no-compression]

Opens ``PER_TOKEN`` connections for each token, prints ``ready N`` once all have their hello, and then,
with ``--report``, one line ``CALL_ID STATUS TIME`` per ``call.updated`` frame, ``TIME`` being
``time.perf_counter()`` when the frame's bytes reached this process (CLOCK_MONOTONIC on Linux, so the
driver can compare it with its own). It is taken as the event loop hands the bytes over, and the
parsing waits until the loop has handed over what every connection received: with hundreds of
connections in one process, a stamp taken after parsing would also count the parsing of every frame
that arrived in the same instant on another connection. Runs on uvloop where it is installed, as the
server does. Exits when its stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

CONNECT_CONCURRENCY = 32
OPEN_TIMEOUT_S = 60.0
FLUSH_INTERVAL_S = 0.01


class StampedConnection(ClientConnection):
    """Notes when bytes last arrived; push frames are small, so a frame arrives in one piece.

    The bytes are parsed on the loop's next turn, not here: the loop hands over the bytes of every
    connection that became readable one after another, and parsing each before stamping the next
    (websockets does it within ``data_received``) would count, in the last of 250 connections' stamp,
    the parsing of the 249 frames before it, which a subscriber on its own terminal never waits for.
    The order of a connection's bytes is kept (the loop runs what it is handed in order); the holder
    closes its connections itself, after the last frame, so no end of stream overtakes bytes.
    """

    arrived = 0.0

    def data_received(self, data: bytes) -> None:
        self.arrived = time.perf_counter()
        self.loop.call_soon(super().data_received, data)


def raise_file_limit() -> None:
    """Thousands of sockets need more descriptors than the usual soft limit of 1,024."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def open_all(url: str, tokens: list[str], per_token: int, compression: str | None) -> list[StampedConnection]:
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def open_one(token: str, index: int) -> StampedConnection:
        async with gate:
            connection = await connect(
                f"{url}?terminal_id=hold-{index}",
                additional_headers={"Authorization": f"Bearer {token}"},
                compression=compression,
                create_connection=StampedConnection,
                open_timeout=OPEN_TIMEOUT_S,
                ping_interval=None,
            )
            await connection.recv()  # the hello: the server has registered this terminal
            assert isinstance(connection, StampedConnection)
            return connection

    jobs = [open_one(token, index) for token in tokens for index in range(per_token)]
    return await asyncio.gather(*jobs)


async def report(connection: StampedConnection, out: list[str]) -> None:
    async for text in connection:
        arrived = connection.arrived
        frame: dict[str, Any] = json.loads(text)
        if frame.get("type") == "call.updated":
            out.append(f"{frame['data']['call_id']} {frame['data']['status']} {arrived:.7f}\n")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("tokens")
    parser.add_argument("per_token", type=int)
    parser.add_argument("--report", action="store_true")
    parser.add_argument("--no-compression", action="store_true")
    args = parser.parse_args()
    raise_file_limit()
    connections = await open_all(
        args.url, json.loads(args.tokens), args.per_token, None if args.no_compression else "deflate"
    )
    print(f"ready {len(connections)}", flush=True)
    lines: list[str] = []
    readers = [asyncio.create_task(report(connection, lines)) for connection in connections] if args.report else []
    stdin_closed = asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    while not stdin_closed.done():
        if lines:
            sys.stdout.write("".join(lines))
            sys.stdout.flush()
            lines.clear()
        await asyncio.wait([stdin_closed], timeout=FLUSH_INTERVAL_S)
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*(connection.close() for connection in connections), return_exceptions=True)


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
