"""What the reliability proofs stand on: one simulator process, its faults and figures, and phones on it.

A ``Terminal`` here is a real terminal: a ``CallClient``, a ``PushStream`` over the real WebSocket and the
call controller (``Session``) following it, exactly as the TUI and the headless commands use them. It
keeps two views of every call: the core's (``session.phone``) and the one a listener rebuilt from
the controller's ``CallsChanged`` events (what a screen would show).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

import httpx
from support.server import ServerProcess, login

from softphone.api import (
    TERMINAL_STATUSES,
    Backoff,
    CallClient,
    CallState,
    ConnectionChanged,
    PushStream,
    ServiceUnavailable,
)
from softphone.session import CallsChanged, Session

CHECK_INTERVAL = 0.2
"""How often the phones under test check their calls with the server; short, so a run ends quickly."""
FAST_RECONNECT = Backoff(initial=0.02, maximum=0.3, factor=2, jitter=0.5)
CONVERGE_WITHIN = 15.0
"""Generous: a loaded machine, 503s on the checks themselves, and reconnects with backoff."""


def generated_user(number: int) -> str:
    """The simulator's ``--users`` names: ``u0001``..."""
    return f"u{number:04d}"


async def signed_in(base_url: str, user: str) -> Session:
    """``user`` signed in once (dev login and directory); terminals of that user start from it."""
    client = CallClient(base_url, terminal_id="sign-in")
    try:
        return await Session.sign_in(client, user=user)
    finally:
        await client.aclose()


class Simulator:
    """A ``softphone serve`` process and its dev tools: faults in force and the faults it injected."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.base_url = server.base_url
        # A fresh connection per request: a kept-alive one the server closes as it idles out can drop
        # the next request ("Server disconnected"), and the dev tools are not worth a retry policy.
        self._http = httpx.AsyncClient(
            base_url=server.base_url, timeout=10, limits=httpx.Limits(max_keepalive_connections=0)
        )
        self._token = login(server.base_url, "alice")

    async def aclose(self) -> None:
        await self._http.aclose()

    async def set_faults(self, faults: dict[str, Any]) -> None:
        response = await self._http.put(
            "/api/dev/faults", json=faults, headers={"Authorization": f"Bearer {self._token}"}
        )
        assert response.json()["code"] == 0, response.text

    async def faults_injected(self) -> Counter[str]:
        """How many faults of each kind the simulator has injected since it started."""
        info = (await self._http.get("/api/dev/simulator")).json()["data"]
        return Counter(info["faults_injected"])

    async def truth(self, call_id: int, token: str) -> CallState:
        """The server's state of a call, asked until a fault lets the answer through."""
        backoff = Backoff(initial=0.02, maximum=0.5)
        rng = random.Random(call_id)
        for attempt in range(50):
            response = await self._http.get(
                f"/api/calls/{call_id}/state", headers={"Authorization": f"Bearer {token}"}
            )
            body = response.json()
            if body["code"] == 0:
                return CallState.model_validate(body["data"])
            assert body["code"] == ServiceUnavailable.CODE, body
            await asyncio.sleep(backoff.delay(attempt, rng))
        raise AssertionError(f"call {call_id}: no answer but 503 fifty times")

    async def final_truth(self, call_id: int, token: str, timeout: float = CONVERGE_WITHIN) -> CallState:
        """The server's state of a call once it is over: the state every phone must end in.

        A story told with keys ends with a key whose request is still on its way when the key returns
        (``Pilot.press`` waits for the app to be idle, not for a worker's answer; ``simulate_key`` waits
        for nothing). Read at once, the truth could be a state the phones have already left.
        """
        backoff = Backoff(initial=0.02, maximum=0.5)
        rng = random.Random(call_id)
        deadline = asyncio.get_running_loop().time() + timeout
        attempt = 0
        while (state := await self.truth(call_id, token)).status not in TERMINAL_STATUSES:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"call {call_id} still {state.status} v{state.version} after {timeout}s")
            await asyncio.sleep(backoff.delay(attempt, rng))
            attempt += 1
        return state

    async def end_call(self, call_id: int, caller_token: str) -> CallState:
        """With faults off: end what a run left live (a 503 may have refused its end); the call's last state."""
        state = await self.truth(call_id, caller_token)
        action = {"calling": "cancel", "accepted": "hangup", "ongoing": "hangup"}.get(state.status)
        if action is None:
            return state
        response = await self._http.post(
            f"/api/calls/{call_id}/{action}",
            json={"terminal_id": "cleanup"},
            headers={"Authorization": f"Bearer {caller_token}"},
        )
        assert response.json()["code"] == 0, response.text
        return await self.truth(call_id, caller_token)


@dataclass(frozen=True)
class Seen:
    """What a phone holds of a call: the core's view, and the view rebuilt from the controller's events."""

    core: tuple[str | None, int] | None
    told: tuple[str | None, int] | None


class Terminal:
    """One terminal under test, following its push stream until ``close``."""

    def __init__(self, session: Session, stream: PushStream) -> None:
        self.session = session
        self.stream = stream
        self.told: dict[int, tuple[str | None, int]] = {}
        self.connects = 0
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._listen())

    @classmethod
    def on(cls, session: Session, seed: int, **stream: Any) -> Terminal:
        """Follow ``session``'s push stream (in push mode, reconnecting quickly, its backoff seeded)."""
        options: dict[str, Any] = {"mode": "push", "backoff": FAST_RECONNECT, "rng": random.Random(seed)}
        return cls(session, PushStream(session.client, **(options | stream)))

    @classmethod
    def of(cls, signed_in: Session, terminal_id: str, seed: int, **stream: Any) -> Terminal:
        """``signed_in``'s user (token, identity, contacts) on a new terminal: its own client and connection."""
        client = CallClient(
            signed_in.client.base_url, terminal_id=terminal_id, token=signed_in.client.token, rng=random.Random(seed)
        )
        identity = replace(signed_in.identity, terminal_id=terminal_id)
        return cls.on(Session(client, identity, signed_in.contacts), seed, **stream)

    async def _listen(self) -> None:
        async for event in self.session.events(self.stream):
            if isinstance(event, CallsChanged):
                for call_id in event.call_ids:
                    machine = self.session.phone.get(call_id)
                    if machine is not None:
                        self.told[call_id] = (machine.status, machine.version)
            elif isinstance(event, ConnectionChanged) and event.state == "connected":
                self.connects += 1
            self._changed.set()

    async def until(self, predicate: Any, timeout: float) -> bool:
        """Wait for ``predicate()`` to hold, re-checking after every event; whether it did."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            return False
        return True

    def seen(self, call_id: int) -> Seen:
        machine = self.session.phone.get(call_id)
        core = None if machine is None else (machine.status, machine.version)
        return Seen(core, self.told.get(call_id))

    def ringing(self, call_id: int) -> bool:
        machine = self.session.phone.get(call_id)
        return machine is not None and machine.is_ringing

    def timeline(self, call_id: int) -> str:
        machine = self.session.phone.get(call_id)
        if machine is None:
            return "    (never heard of the call)"
        return "\n".join(f"    {entry.as_text()}" for entry in machine.timeline)

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self.session.client.aclose()
