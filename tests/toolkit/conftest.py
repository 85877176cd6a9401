"""Fixtures for the toolkit's tests: ``softphone`` as a real process, a simulator, and calls set up directly.

``softphone`` runs ``python -m softphone ...`` in an isolated environment (no ``SOFTPHONE_*`` variables,
config directories under ``tmp_path``); ``Softphone.run`` waits for the end, ``Softphone.start`` reads
lines as they come. ``ring`` places a call through the client (not the command under test), for the
one-request commands to act on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from support.cli import Softphone
from support.server import ServerProcess

from softphone.api import CallClient


@pytest.fixture
def softphone(tmp_path: Path) -> Iterator[Softphone]:
    runner = Softphone(tmp_path)
    yield runner
    runner.close()


@pytest.fixture(scope="module")
def shared_simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(db=tmp_path_factory.mktemp("simulator") / "toolkit.db").start()
    yield server
    server.close()


@pytest.fixture
async def simulator(shared_simulator: ServerProcess) -> AsyncIterator[ServerProcess]:
    """One simulator for the module; every call still live after a test is ended, so no user stays busy."""
    yield shared_simulator
    await end_every_call(shared_simulator.base_url)


async def end_every_call(base_url: str) -> None:
    """Cancel, reject or hang up every call that has not ended, as one of its parties."""
    async with CallClient(base_url, terminal_id="cleanup") as client:
        await client.login("alice")
        users = (await client.directory()).users
        for user in users:
            await client.login(user.name)
            for call in await client.active_calls():
                if call.status == "calling" and call.caller_user_id == user.user_id:
                    await client.cancel(call.call_id)
                elif call.status == "calling":
                    await client.reject(call.call_id)
                else:
                    await client.hangup(call.call_id)


Ring = Callable[..., Awaitable[int]]


@pytest.fixture
def ring(simulator: ServerProcess) -> Ring:
    """``await ring(caller, callee)``: the id of a new call from ``caller`` ringing ``callee``."""

    async def place(caller: str, callee: str, call_type: str = "audio") -> int:
        async with CallClient(simulator.base_url, terminal_id=f"{caller}-setup") as client:
            await client.login(caller)
            target = next(u for u in (await client.directory()).users if u.name == callee)
            assert target.conversation_id is not None
            return (await client.start_call(target.conversation_id, target.user_id, call_type)).call_id

    return place
