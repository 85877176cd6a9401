"""What only a real process shows: ring and abandon timers, surviving SIGKILL, the log, thousands of users.

Races over real HTTP, at volume, are in ``tests/reliability/test_races.py``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from support.server import ServerFactory, login, wait_for
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from .conftest import BOB, CALLEE_TERMINAL, CALLER_TERMINAL, Api


async def test_an_unanswered_call_ends_after_the_ring_timeout(server_factory: ServerFactory) -> None:
    server = server_factory(ring_timeout=1)
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        api = Api(client)
        alice, bob, carol = [await api.login(name) for name in ("alice", "bob", "carol")]
        started = (await api.start(alice, BOB))["data"]
        assert started["timeout_seconds"] == 1

        # An answered call is not ended by its ring timer...
        answered = (await api.start(carol, 40004))["data"]["call_id"]
        await api.act(answered, "accept", await api.login("dave"), CALLEE_TERMINAL)

        async def ended() -> bool:
            return (await api.state(started["call_id"], alice))["data"]["status"] == "ended"

        await wait_for(ended, timeout=5)
        state = (await api.state(started["call_id"], alice))["data"]
        assert (state["end_reason"], state["version"]) == ("no_answer_timeout", 2)
        assert state["ended_at"] is not None
        assert (await api.act(started["call_id"], "accept", bob, CALLEE_TERMINAL))["code"] == 41007
        # ...whose deadline passed before the one that just fired (it was armed after it).
        assert (await api.state(answered, carol))["data"]["status"] == "accepted"


async def test_state_and_tokens_survive_sigkill(server_factory: ServerFactory) -> None:
    server = server_factory()
    alice, bob = login(server.base_url, "alice"), login(server.base_url, "bob")
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        api = Api(client)
        call_id = (await api.start(alice, BOB))["data"]["call_id"]
        await api.act(call_id, "accept", bob, CALLEE_TERMINAL)
        await api.act(call_id, "media-state", bob, CALLEE_TERMINAL, stage="joined", network_quality="good")
        before = (await api.state(call_id, alice))["data"]

        server.kill()
        server.start()

        assert (await api.state(call_id, bob))["data"] == before, "old tokens work and nothing was lost"
        repeat = await api.act(call_id, "media-state", bob, CALLEE_TERMINAL, stage="joined", network_quality="good")
        assert repeat["data"]["version"] == before["version"], "the last media report survived too"
        assert (await api.act(call_id, "accept", bob, "another"))["code"] == 41006
        assert (await api.act(call_id, "hangup", alice, CALLER_TERMINAL))["data"]["version"] == before["version"] + 1
        assert (await api.start(alice, BOB))["data"]["call_id"] > call_id


async def test_a_ring_timeout_that_passed_while_down_is_applied_at_start_up(server_factory: ServerFactory) -> None:
    server = server_factory(ring_timeout=1)
    alice = login(server.base_url, "alice")
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        api = Api(client)
        started = await api.start(alice, BOB)
        call_id = started["data"]["call_id"]
        server.kill()
        deadline = datetime.now(UTC) + timedelta(seconds=started["data"]["timeout_seconds"] + 1)
        await wait_for(lambda: datetime.now(UTC) > deadline, timeout=5)
        server.start()
        state = (await api.state(call_id, alice))["data"]
        assert (state["status"], state["end_reason"], state["version"]) == ("ended", "no_answer_timeout", 2)


async def test_tokens_in_urls_are_cut_short_in_the_log(server_factory: ServerFactory) -> None:
    server = server_factory()
    token = login(server.base_url, "alice")
    async with connect(f"{server.ws_url}?terminal_id=t&token={token}") as ws:
        assert json.loads(await ws.recv())["type"] == "hello"
    httpx.get(f"{server.base_url}/healthz?token={token}")
    with pytest.raises(InvalidStatus):
        await connect(f"{server.ws_url}?terminal_id=t&token=forged-{token}")
    await wait_for(lambda: server.log().count("token=") >= 3)
    log = server.log()
    assert token not in log and token[:4] in log
    assert f'"WebSocket /api/ws?terminal_id=t&token={token[:4]}…" [accepted]' in log
    assert f"GET /healthz?token={token[:4]}… HTTP/1.1" in log


async def test_an_answered_call_nobody_uses_is_abandoned(server_factory: ServerFactory) -> None:
    server = server_factory(args=["--abandon-timeout", "1"])
    alice, bob, carol, dave, erin = (login(server.base_url, name) for name in ("alice", "bob", "carol", "dave", "erin"))
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        api = Api(client)
        quiet = (await api.start(alice, BOB))["data"]["call_id"]
        await api.act(quiet, "accept", bob, CALLEE_TERMINAL)
        connected = (await api.start(carol, 40004))["data"]["call_id"]
        await api.act(connected, "accept", dave, CALLEE_TERMINAL)
        ringing = (await api.start(erin, 60006))["data"]["call_id"]

        async def only_the_quiet_call_ended() -> bool:
            # The simulator's own control route: no user's request, so it keeps nobody's call alive.
            counts = (await client.get("/api/dev/simulator")).json()["data"]["live_calls"]
            return bool(counts == {"calling": 1, "accepted": 1, "ongoing": 0})

        async with connect(f"{server.ws_url}?terminal_id=d", additional_headers={"Authorization": f"Bearer {dave}"}):
            await wait_for(only_the_quiet_call_ended, timeout=10)
            state = (await api.state(quiet, alice))["data"]
            assert (state["status"], state["end_reason"], state["version"]) == ("ended", "abandoned", 3)
            assert state["ended_by_user_id"] is None
            assert (await api.state(connected, carol))["data"]["status"] == "accepted", "Dave is connected"
            assert (await api.state(ringing, erin))["data"]["status"] == "calling", "ringing keeps its ring timeout"


async def test_generated_users_call_each_other(server_factory: ServerFactory) -> None:
    server = server_factory(args=["--users", "5000"])
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        api = Api(client)
        first, last = await api.login("u0001"), await api.login(105000)
        assert (await api.post("/api/dev/login", "", {"user": "u5001"}))["code"] == 40001
        users = (await api.get("/api/dev/directory", first))["data"]["users"]
        assert len(users) == 6 + 5000
        assert users[-1] == {"user_id": 105000, "name": "u5000", "display_name": "User 5000",
                             "conversation_id": users[-1]["conversation_id"]}  # fmt: skip
        call_id = (await api.start(last, 100001))["data"]["call_id"]
        assert (await api.act(call_id, "accept", first, CALLEE_TERMINAL))["data"]["status"] == "accepted"
        assert (await api.start(await api.login("alice"), 100002))["code"] == 0, "seeded users call them too"
