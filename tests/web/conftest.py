"""``softphone web`` as a user starts it, on a free port, in front of a simulator of the test's own.

``web_page`` is the page's URL; ``Tab`` is what a browser tab does over textual-serve's WebSocket
(read what the app draws, type keys, close), without a browser.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from support.server import ServerProcess
from websockets.asyncio.client import ClientConnection, connect

from softphone.launch import free_port

START_TIMEOUT = 30.0
# Escape sequences (CSI, OSC, two-byte) out of the terminal stream, so the words remain.
ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]")
TERMINAL_ID = re.compile(r"tui-[0-9a-f]{6}")


@dataclass
class WebPhone:
    url: str
    simulator: ServerProcess
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _wait_until_up(web: WebPhone) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if web.process.poll() is not None:
            raise RuntimeError(f"softphone web exited with {web.process.returncode}:\n{web.output()}")
        try:
            if httpx.get(web.url, timeout=0.5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # polling interval; the loop waits on the page answering
    raise RuntimeError(f"softphone web did not answer within {START_TIMEOUT}s:\n{web.output()}")


@pytest.fixture(scope="module")
def web_phone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebPhone]:
    """``softphone web --server SIM --user alice`` in a process group of its own (its tabs' phones too).

    One per test module, as starting both takes seconds; every tab is a new phone anyway.
    """
    workdir = tmp_path_factory.mktemp("web")
    simulator = ServerProcess(db=workdir / "simulator.db").start()
    port = free_port()
    log = workdir / "web.log"
    command = [sys.executable, "-m", "softphone", "web", "--port", str(port), "--server", simulator.base_url, "--user", "alice"]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    web = WebPhone(f"http://127.0.0.1:{port}", simulator, process, log)
    try:
        _wait_until_up(web)
        yield web
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # as Ctrl+C: it stops its tabs' phones, which hang up
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        simulator.close()


@dataclass
class Tab:
    """One tab's WebSocket: the screen the app draws (escapes stripped), keys typed, a close."""

    socket: ClientConnection
    drawn: str = ""
    _decoder: codecs.IncrementalDecoder = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace"))

    @property
    def text(self) -> str:
        """Everything drawn so far, words only (an escape may span two frames, so strip the whole)."""
        return ESCAPES.sub("", self.drawn)

    async def until_shows(self, *words: str, timeout: float = 30.0) -> str:
        """Read frames until every one of ``words`` has been drawn; the text so far."""
        deadline = time.monotonic() + timeout
        while not all(word in (text := self.text) for word in words):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"the tab never showed {words}; it showed:\n{text[-3000:]}")
            try:
                frame = await asyncio.wait_for(self.socket.recv(), left)
            except TimeoutError:
                continue
            if isinstance(frame, bytes):
                self.drawn += self._decoder.decode(frame)
        return text

    async def press(self, keys: str) -> None:
        await self.socket.send(json.dumps(["stdin", keys]))


OpenTab = Callable[[], Awaitable[Tab]]


@pytest.fixture
async def open_tab(web_phone: WebPhone) -> AsyncIterator[OpenTab]:
    """``await open_tab()``: a new tab on the page (110×32 cells), closed at the end if still open."""
    sockets: list[ClientConnection] = []

    async def open_one() -> Tab:
        ws_url = web_phone.url.replace("http://", "ws://") + "/ws?width=110&height=32"
        socket = await connect(ws_url, max_size=None)
        sockets.append(socket)
        return Tab(socket)

    yield open_one
    for socket in sockets:
        await socket.close()
