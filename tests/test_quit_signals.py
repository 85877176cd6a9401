"""A real ``softphone`` in a terminal (a pty) that is told to go mid-call hangs up first.

SIGTERM (someone stops it), SIGHUP (sent by hand), and the terminal itself closing (the kernel sends
SIGHUP when the pty's other side goes): each time the server must hold the call as ended by this
terminal, not ``ongoing`` with nobody on it.
"""

from __future__ import annotations

import fcntl
import os
import signal
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from support.server import ServerFactory, wait_for

from softphone.api import CallClient, CallState

TERMINAL_ID = "alice-pty"


@dataclass
class PhoneInTerminal:
    process: subprocess.Popen[bytes]
    master: int
    output: bytearray

    def close_terminal(self) -> None:
        """What closing a terminal window does: its side of the pty goes away."""
        os.close(self.master)
        self.master = -1


def _controlling_terminal() -> None:
    """In the child, after setsid: make the pty on stdin its controlling terminal, as a shell's would be."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@pytest.fixture
def phone_dialing_bob(server_factory: ServerFactory) -> Iterator[tuple[PhoneInTerminal, str]]:
    server = server_factory()
    master, slave = os.openpty()
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
    command = [
        sys.executable, "-m", "softphone", "--server", server.base_url,
        "--user", "alice", "--terminal-id", TERMINAL_ID, "--dial", "bob",
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=_controlling_terminal,
        env={**os.environ, "TERM": "xterm-256color"},
    )
    os.close(slave)
    phone = PhoneInTerminal(process, master, bytearray())

    def drain() -> None:
        """Read what the app draws, as a terminal would: a pty nobody reads blocks the app's writes."""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            phone.output.extend(chunk)

    reader = threading.Thread(target=drain, name="pty-reader", daemon=True)
    reader.start()
    yield phone, server.base_url
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)
    if phone.master >= 0:
        os.close(phone.master)
    reader.join(timeout=5)


async def _answer_the_call(url: str) -> tuple[CallClient, int]:
    """Bob answers alice's call and joins: it is ``ongoing``."""
    bob = CallClient(url, terminal_id="bob-headless")
    await bob.login("bob")
    calls: list[CallState] = []

    async def ringing() -> bool:
        calls[:] = await bob.active_calls()
        return bool(calls)

    await wait_for(ringing, timeout=30)
    call_id = calls[0].call_id
    await bob.accept(call_id)
    await bob.report_media(call_id, "joined", "good")

    async def ongoing() -> bool:
        return (await bob.call_state(call_id)).status == "ongoing"

    await wait_for(ongoing, timeout=10)
    return bob, call_id


@pytest.mark.parametrize("how", ["SIGTERM", "SIGHUP", "terminal closed"])
async def test_the_phone_hangs_up_before_it_goes(phone_dialing_bob: tuple[PhoneInTerminal, str], how: str) -> None:
    phone, url = phone_dialing_bob
    bob, call_id = await _answer_the_call(url)
    try:
        if how == "terminal closed":
            phone.close_terminal()
        else:
            phone.process.send_signal(getattr(signal, how))
        phone.process.wait(timeout=30)
        final = await bob.call_state(call_id)
    finally:
        await bob.aclose()
    assert (final.status, final.end_reason) == ("ended", "local_hangup"), phone.output[-2000:]
    assert (final.ended_by_user_id, final.ended_by_terminal_id) == (10001, TERMINAL_ID)
