"""The simulator's own controls (``softphone sim``): loopback only, live-call counts, reset."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from support.inprocess import BASE_URL

from .conftest import BOB, CALLEE_TERMINAL, Api

NO_LIVE_CALLS = {"calling": 0, "accepted": 0, "ongoing": 0}


async def test_only_the_simulators_own_machine_sees_its_controls(asgi_app: FastAPI) -> None:
    remote = httpx.ASGITransport(app=asgi_app, client=("192.0.2.7", 50000))
    async with httpx.AsyncClient(transport=remote, base_url=BASE_URL) as client:
        for method, path in (("GET", "/api/dev/simulator"), ("POST", "/api/dev/simulator/reset")):
            response = await client.request(method, path)
            assert (response.status_code, response.json()["code"]) == (404, 40401)


async def test_reset_ends_every_live_call_as_abandoned(asgi_client: httpx.AsyncClient) -> None:
    api = Api(asgi_client)
    alice, bob, carol = await api.login("alice"), await api.login("bob"), await api.login("carol")
    answered = (await api.start(alice, BOB))["data"]["call_id"]
    await api.act(answered, "accept", bob, CALLEE_TERMINAL)
    ringing = (await api.start(carol, 40004))["data"]["call_id"]
    info = (await api.get("/api/dev/simulator", ""))["data"]
    assert info["live_calls"] == {"calling": 1, "accepted": 1, "ongoing": 0}
    assert info["database"] == ":memory:" and info["pid"] > 0 and info["started_at"].endswith("Z")

    assert (await api.post("/api/dev/simulator/reset", "", None))["data"] == {"ended": 2}
    for call_id, token, version in ((answered, alice, 3), (ringing, carol, 2)):
        state = (await api.state(call_id, token))["data"]
        assert (state["status"], state["end_reason"], state["version"]) == ("ended", "abandoned", version)
        assert (state["ended_by_user_id"], state["ended_by_terminal_id"]) == (None, None)
    assert (await api.get("/api/dev/simulator", ""))["data"]["live_calls"] == NO_LIVE_CALLS
    assert (await api.start(carol, BOB))["code"] == 0, "nobody is busy any more"
