"""Grouped commits: the changes of one turn of the event loop share a transaction, and nothing is told
of a change (its push, its answer) before that transaction is committed."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute
from support.inprocess import client_for, running_app

from softphone.server.app import DirectRoute, create_app
from softphone.server.config import ServerConfig
from softphone.server.store import CommitFailed, SQLiteStore

ISSUED = datetime(2026, 1, 1, tzinfo=UTC)


def committed_tokens(path: Path) -> set[str]:
    """What another connection sees: only what has been committed."""
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("SELECT token_hash FROM login_tokens")}


def save(store: SQLiteStore, token_hash: str) -> None:
    with store.atomic():
        store.save_token(token_hash, 1, ISSUED)


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(str(tmp_path / "sim.db"))


async def test_changes_of_one_turn_are_committed_together_before_what_follows_them(
    store: SQLiteStore, tmp_path: Path
) -> None:
    path = tmp_path / "sim.db"
    store.group_commits(asyncio.get_running_loop().call_soon)
    mark = store.commit_mark()
    seen_by_actions: list[tuple[str, set[str]]] = []
    save(store, "a")
    store.after_commit(lambda: seen_by_actions.append(("after a", committed_tokens(path))))
    save(store, "b")
    store.after_commit(lambda: seen_by_actions.append(("after b", committed_tokens(path))))

    assert committed_tokens(path) == set(), "nothing is committed within the turn"
    assert seen_by_actions == [], "what follows a change waits for its commit"
    await store.committed(mark)
    assert seen_by_actions == [("after a", {"a", "b"}), ("after b", {"a", "b"})]


async def test_a_change_that_raises_takes_back_its_own_writes_only(store: SQLiteStore, tmp_path: Path) -> None:
    store.group_commits(asyncio.get_running_loop().call_soon)
    mark = store.commit_mark()
    save(store, "kept")
    with pytest.raises(RuntimeError), store.atomic():
        store.save_token("taken back", 1, ISSUED)
        raise RuntimeError("refused half-way")
    save(store, "kept too")
    await store.committed(mark)
    assert committed_tokens(tmp_path / "sim.db") == {"kept", "kept too"}


async def test_a_failed_commit_reaches_every_waiter_and_nothing_follows_it(
    store: SQLiteStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store.group_commits(asyncio.get_running_loop().call_soon)
    # The only way to make COMMIT itself fail: a foreign key checked at commit, broken within the group.
    store._db.execute("PRAGMA defer_foreign_keys=ON")
    followed: list[str] = []
    before = store.commit_mark()
    save(store, "lost")
    with store.atomic():
        store._db.execute(
            "INSERT INTO media_reports (call_id, user_id, terminal_id, stage, reported_at) VALUES (404, 1, 't', 'joined', 'x')"
        )
    store.after_commit(lambda: followed.append("pushed"))
    waiting = asyncio.ensure_future(store.committed(before))
    await asyncio.wait([waiting], timeout=5)  # the commit has run, and failed
    late = asyncio.ensure_future(store.committed(before))  # asks only after the failure: told too
    for waiter in (waiting, late):
        with pytest.raises(CommitFailed):
            await waiter
    assert followed == []
    assert committed_tokens(tmp_path / "sim.db") == set()
    assert "a commit failed" in caplog.text
    after = store.commit_mark()
    save(store, "next")  # the store goes on: the next turn's changes commit as usual
    await store.committed(after)
    assert committed_tokens(tmp_path / "sim.db") == {"next"}


async def test_one_waiter_cancelled_does_not_cancel_the_commit(store: SQLiteStore, tmp_path: Path) -> None:
    store.group_commits(asyncio.get_running_loop().call_soon)
    mark = store.commit_mark()
    save(store, "a")
    impatient = asyncio.ensure_future(store.committed(mark))
    await asyncio.sleep(0)  # it is waiting
    impatient.cancel()
    await store.committed(mark)
    assert committed_tokens(tmp_path / "sim.db") == {"a"}


async def test_going_back_to_a_commit_per_change_commits_what_is_pending(store: SQLiteStore, tmp_path: Path) -> None:
    followed: list[str] = []
    store.group_commits(lambda _: None)  # a commit that would never come on its own
    save(store, "a")
    store.after_commit(lambda: followed.append("a"))
    store.group_commits(None)
    assert committed_tokens(tmp_path / "sim.db") == {"a"} and followed == ["a"]
    save(store, "b")
    store.after_commit(lambda: followed.append("b"))
    assert committed_tokens(tmp_path / "sim.db") == {"a", "b"} and followed == ["a", "b"]


async def test_an_action_that_fails_is_logged_and_the_next_still_runs(
    store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.group_commits(asyncio.get_running_loop().call_soon)
    followed: list[str] = []

    def explode() -> None:
        raise RuntimeError("a push went wrong")

    mark = store.commit_mark()
    save(store, "a")
    store.after_commit(explode)
    store.after_commit(lambda: followed.append("second"))
    await store.committed(mark)
    assert followed == ["second"]
    assert "a push went wrong" in caplog.text


class Api:
    """Just enough of the API, in-process, to start calls."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def token(self, user: str) -> str:
        return str((await self.client.post("/api/dev/login", json={"user": user})).json()["data"]["token"])

    async def start_request(self, caller: str, callee: str) -> tuple[dict[str, str], dict[str, object]]:
        """What starting a call from ``caller`` to ``callee`` sends: signing in and looking up are done here."""
        headers = {"Authorization": f"Bearer {await self.token(caller)}"}
        directory = (await self.client.get("/api/dev/directory", headers=headers)).json()["data"]["users"]
        entry = next(user for user in directory if user["name"] == callee)
        body = {
            "conversation_id": entry["conversation_id"],
            "target_user_id": entry["user_id"],
            "call_type": "audio",
            "biz_type": "single",
            "terminal_id": f"{caller}-1",
        }
        return headers, body

    async def start(self, request: tuple[dict[str, str], dict[str, object]]) -> httpx.Response:
        headers, body = request
        return await self.client.post("/api/calls/session", headers=headers, json=body)


async def wait_until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():
            await asyncio.sleep(0.01)


async def test_an_answer_waits_for_the_commit_of_its_change(tmp_path: Path) -> None:
    """A start is answered only once its call is committed, and so is a read made while a change it
    may have seen is pending."""
    async with running_app(ServerConfig(db=str(tmp_path / "sim.db"))) as app, client_for(app) as client:
        api = Api(client)
        bob = await api.token("bob")
        request = await api.start_request("alice", "bob")
        held: list[Callable[[], None]] = []
        app.state.service.group_commits(held.append)  # commits run when this test says so
        start = asyncio.ensure_future(api.start(request))
        await wait_until(lambda: bool(held))
        # Bob asks for his calls while Alice's start is not committed: he waits for it, too.
        bob_calls = asyncio.ensure_future(client.get("/api/calls/active", headers={"Authorization": f"Bearer {bob}"}))
        await asyncio.sleep(0.05)
        assert not start.done() and not bob_calls.done(), "answered before the change was committed"
        with sqlite3.connect(tmp_path / "sim.db") as db:
            assert db.execute("SELECT count(*) FROM calls").fetchone()[0] == 0
        held.pop()()
        async with asyncio.timeout(5):
            started, listed = await start, await bob_calls
        assert started.json()["code"] == 0
        assert [call["call_id"] for call in listed.json()["data"]["calls"]] == [started.json()["data"]["call_id"]]


async def test_requests_arriving_together_share_one_commit(tmp_path: Path) -> None:
    config = ServerConfig(db=str(tmp_path / "sim.db"), generated_users=8)
    async with running_app(config) as app, client_for(app) as client:
        api = Api(client)
        pairs = [(f"u{2 * n + 1:04d}", f"u{2 * n + 2:04d}") for n in range(4)]
        requests = [await api.start_request(caller, callee) for caller, callee in pairs]
        commits: list[Callable[[], None]] = []
        app.state.service.group_commits(commits.append)
        starts = [asyncio.ensure_future(api.start(request)) for request in requests]
        await wait_until(lambda: bool(commits))
        await asyncio.sleep(0.05)
        assert len(commits) == 1 and not any(start.done() for start in starts)
        commits.pop()()
        async with asyncio.timeout(5):
            answers = [(await start).json() for start in starts]
        assert [answer["code"] for answer in answers] == [0, 0, 0, 0]
        with sqlite3.connect(tmp_path / "sim.db") as db:
            assert db.execute("SELECT count(*) FROM calls").fetchone()[0] == 4


def test_every_api_route_waits_for_the_commit_before_it_answers() -> None:
    """The wait is DirectRoute's: a route of another class would answer before its change is committed."""
    routes = [route for route in create_app(ServerConfig()).routes if isinstance(route, APIRoute)]
    ours = [route for route in routes if route.path.startswith(("/api/", "/healthz"))]
    assert ours and all(isinstance(route, DirectRoute) for route in ours), [
        route.path for route in ours if not isinstance(route, DirectRoute)
    ]
