"""A real ``softphone`` in a terminal (a pty) that is told to go mid-call hangs up first.

SIGTERM (someone stops it), SIGHUP (sent by hand), and the terminal itself closing (the kernel sends
SIGHUP when the pty's other side goes): each time the server must hold the call as ended by this
terminal, not ``ongoing`` with nobody on it.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator

import pytest
from support.server import ServerFactory, wait_for
from support.terminal import InTerminal, open_in_terminal

from softphone.api import CallClient, CallState

TERMINAL_ID = "alice-pty"


@pytest.fixture
def phone_dialing_bob(server_factory: ServerFactory) -> Iterator[tuple[InTerminal, str]]:
    server = server_factory()
    command = [
        sys.executable, "-m", "softphone", "--server", server.base_url,
        "--user", "alice", "--terminal-id", TERMINAL_ID, "--dial", "bob",
    ]  # fmt: skip
    phone = open_in_terminal(command)
    yield phone, server.base_url
    phone.stop()


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
async def test_the_phone_hangs_up_before_it_goes(phone_dialing_bob: tuple[InTerminal, str], how: str) -> None:
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
