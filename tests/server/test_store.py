"""The database outlives upgrades: a versioned schema, ordered migrations, and one list of call fields."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
import sys
import threading
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from softphone.api import LIVE_STATUSES, CallMedia, CallState, CallStatus, PartyMedia
from softphone.server.app import create_app
from softphone.server.config import ServerConfig
from softphone.server.service import DERIVED_STATE_FIELDS, STORED_STATE_FIELDS
from softphone.server.store import (
    CHECKPOINT_SECONDS,
    LIVE_SQL,
    SCHEMA_VERSION,
    TOKENS_REMEMBERED,
    CallRecord,
    SchemaTooNew,
    SQLiteStore,
)
from softphone.server.tokens import hash_login_token

FIXTURES = Path(__file__).with_name("fixtures")
# Written by the simulator before the schema had a version: five calls, one in each kind of state.
SCHEMA_0 = FIXTURES / "schema-0.db"
SCHEMA_0_CALLS = {
    1: ("ended", 4, "local_hangup"),
    2: ("rejected", 2, "user_reject"),
    3: ("cancelled", 2, "caller_cancel"),
    4: ("ongoing", 4, None),
    5: ("calling", 1, None),
}
SCHEMA_0_ALICE_TOKEN = "BZPGbw6VvNsr-TfLlsENniJU-h01FEpkJOUJiW01MJ0"


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("PRAGMA user_version").fetchone()[0])


def call_columns(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [row[1] for row in db.execute("PRAGMA table_info(calls)")]


def record(caller: int, callee: int) -> CallRecord:
    """A new ringing call's record, before the store numbers it."""
    return CallRecord(0, 1001, "audio", "single", caller, callee, "a", CallStatus.CALLING, 1, datetime(2026, 7, 5, tzinfo=UTC), 30)


@pytest.fixture
def old_db(tmp_path: Path) -> Path:
    copy = tmp_path / "softphone.db"
    shutil.copy(SCHEMA_0, copy)
    return copy


def test_a_new_database_gets_the_latest_schema(tmp_path: Path) -> None:
    SQLiteStore(str(tmp_path / "new.db"))
    assert user_version(tmp_path / "new.db") == SCHEMA_VERSION


def test_an_unversioned_database_is_migrated_in_place_and_keeps_every_call(old_db: Path) -> None:
    assert user_version(old_db) == 0
    store = SQLiteStore(str(old_db))
    assert user_version(old_db) == SCHEMA_VERSION
    calls = {call_id: store.get_call(call_id) for call_id in SCHEMA_0_CALLS}
    assert {
        call_id: (call.status.value, call.version, call.end_reason) for call_id, call in calls.items() if call
    } == SCHEMA_0_CALLS
    ended = calls[1]
    assert ended is not None and (ended.ended_by_user_id, ended.ended_by_terminal_id) == (None, None)
    owner = store.token_owner(hash_login_token(SCHEMA_0_ALICE_TOKEN))
    assert owner is not None and owner[0] == 10001
    assert datetime.now(UTC) - owner[1] < timedelta(minutes=1), "an old token counts as issued at the upgrade"


def test_migrated_live_calls_are_listed_for_both_parties(old_db: Path) -> None:
    store = SQLiteStore(str(old_db))
    calls = [call for call in map(store.get_call, SCHEMA_0_CALLS) if call is not None]
    for user in {party for call in calls for party in (call.caller_user_id, call.callee_user_id)}:
        expected = [call.call_id for call in calls if call.involves(user) and call.status in LIVE_STATUSES]
        assert [call.call_id for call in store.live_calls_of(user)] == expected
    assert [call.call_id for call in store.live_calls_with_status(*LIVE_STATUSES)] == [4, 5]


def test_old_plain_tokens_are_kept_only_hashed(old_db: Path) -> None:
    SQLiteStore(str(old_db))
    with sqlite3.connect(old_db) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        stored = [row[0] for row in db.execute("SELECT token_hash FROM login_tokens")]
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert "tokens" not in tables
    assert SCHEMA_0_ALICE_TOKEN not in stored and hash_login_token(SCHEMA_0_ALICE_TOKEN) in stored
    assert SCHEMA_0_ALICE_TOKEN.encode() not in old_db.read_bytes(), "not even in a freed page"


def test_migrated_calls_show_their_parties_last_media_reports(old_db: Path) -> None:
    store = SQLiteStore(str(old_db))
    ongoing, ringing = store.get_call(4), store.get_call(5)
    assert ongoing is not None and ringing is not None
    assert ongoing.media == CallMedia(
        caller=PartyMedia(stage="joined", network_quality="good", reported_at=datetime(2026, 11, 29, 14, 40, 2, 148867, UTC)),
        callee=PartyMedia(stage="joined", network_quality="poor", reported_at=datetime(2026, 11, 29, 14, 40, 2, 144533, UTC)),
    )
    assert ringing.media == CallMedia(), "a ringing call's reports show up at its next change"


def test_migrated_media_reports_move_into_their_calls_in_the_order_written(old_db: Path) -> None:
    store = SQLiteStore(str(old_db))
    ongoing, ringing = store.get_call(4), store.get_call(5)
    assert ongoing is not None and ringing is not None
    assert [(r.user_id, r.terminal_id, r.stage, r.network_quality) for r in ongoing.media_reports.reports] == [
        (40004, "dave-term", "joined", "poor"),
        (30003, "carol-term", "joined", "good"),
    ]
    assert ongoing.media_reports.reports[-1].reported_at == datetime(2026, 11, 29, 14, 40, 2, 148867, UTC)
    assert ringing.media_reports.reports == ()
    with sqlite3.connect(old_db) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "media_reports" not in tables


def test_migrated_versions_keep_their_ids_and_new_ones_follow_the_highest(old_db: Path) -> None:
    with sqlite3.connect(f"file:{SCHEMA_0}?mode=ro", uri=True) as db:
        versions = db.execute("SELECT event_id, call_id, version, status FROM call_events ORDER BY event_id").fetchall()
    store = SQLiteStore(str(old_db))
    with sqlite3.connect(old_db) as db:
        assert db.execute("SELECT event_id, call_id, version, status FROM call_events ORDER BY event_id").fetchall() == versions
    ringing = store.get_call(5)
    assert ringing is not None
    with store.atomic():
        event_id = store.append_event(ringing.but(version=2, status=CallStatus.CANCELLED), datetime.now(UTC))
    assert event_id == versions[-1][0] + 1
    with sqlite3.connect(old_db) as db:
        assert [row[0] for row in db.execute("SELECT name FROM sqlite_sequence")] == ["calls"], "no sequence to write"
        assert db.execute("SELECT count(*) FROM sqlite_master WHERE tbl_name = 'call_events' AND type = 'index'").fetchone() == (0,)


def test_migrating_twice_changes_nothing(old_db: Path) -> None:
    SQLiteStore(str(old_db)).save_token("later-hash", 20002, datetime.now(UTC))
    store = SQLiteStore(str(old_db))
    assert user_version(old_db) == SCHEMA_VERSION
    assert call_columns(old_db) == [field.name for field in fields(CallRecord)]
    owner = store.token_owner("later-hash")
    assert owner is not None and owner[0] == 20002


def test_a_database_from_a_newer_softphone_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    with sqlite3.connect(newer) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaTooNew, match=f"schema version {SCHEMA_VERSION + 1}.*newer softphone"):
        SQLiteStore(str(newer))
    assert user_version(newer) == SCHEMA_VERSION + 1


def test_serve_refuses_a_newer_database_in_one_line(tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    with sqlite3.connect(newer) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    result = subprocess.run(
        [sys.executable, "-m", "softphone", "serve", "--port", "0", "--db", str(newer)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 1
    assert "newer softphone" in result.stderr and "Traceback" not in result.stderr


def test_the_calls_table_has_one_column_per_record_field(tmp_path: Path) -> None:
    SQLiteStore(str(tmp_path / "new.db"))
    assert call_columns(tmp_path / "new.db") == [field.name for field in fields(CallRecord)]


def test_the_record_stores_every_state_field_it_does_not_derive() -> None:
    """``CallState`` is the source: a field added there must be stored (or derived) on purpose."""
    bookkeeping = {"media_reports"}  # each terminal's last report: the state shows each party's, by version
    assert {field.name for field in fields(CallRecord)} == set(CallState.model_fields) - DERIVED_STATE_FIELDS | bookkeeping
    assert set(STORED_STATE_FIELDS) | DERIVED_STATE_FIELDS == set(CallState.model_fields)


def test_no_index_is_on_status_and_the_live_calls_are_listed_in_a_table(tmp_path: Path) -> None:
    """A change of status rewrites no index entry; a start and an end write the live-calls list, from which
    the store knows its live calls again when it opens."""
    assert {word.strip(" '") for word in LIVE_SQL.strip("()").split(",")} == {status.value for status in LIVE_STATUSES}
    SQLiteStore(str(tmp_path / "new.db"))
    with sqlite3.connect(tmp_path / "new.db") as db:
        indexes = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}
    assert indexes == {"calls_by_caller", "calls_by_callee"}


def test_live_calls_list_each_party_of_a_call_from_its_start_until_it_is_over(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "sim.db"))
    call = store.create_call(record(caller=1, callee=2))
    other = store.create_call(record(caller=3, callee=1))
    assert [c.call_id for c in store.live_calls_of(1)] == [call.call_id, other.call_id]
    assert [c.call_id for c in store.live_calls_of(2)] == [call.call_id]
    accepted = replace(call, status=CallStatus.ACCEPTED, version=2)
    store.save_call(accepted, ["status", "version"])
    assert [c.status for c in store.live_calls_of(2)] == [CallStatus.ACCEPTED], "still live"
    store.save_call(replace(accepted, status=CallStatus.ENDED, version=3), ["status", "version"])
    assert store.live_calls_of(2) == [] and [c.call_id for c in store.live_calls_of(1)] == [other.call_id]
    assert [c.call_id for c in store.live_calls_with_status(CallStatus.CALLING)] == [other.call_id]
    with pytest.raises(ValueError, match="only live calls"):
        store.live_calls_with_status(CallStatus.ENDED)


def test_commits_leave_the_log_to_the_checkpoint_which_copies_it_into_the_database(tmp_path: Path) -> None:
    """SQLite's own checkpoint runs inside a commit, every 1,000 pages by default: on the event loop."""
    path, log = tmp_path / "sim.db", tmp_path / "sim.db-wal"
    store = SQLiteStore(str(path))
    for user_id in range(600):
        store.save_token(f"hash-{user_id}", user_id, datetime.now(UTC))
    assert log.stat().st_size > 32 + 1000 * (4096 + 24), "more than 1,000 pages logged, none copied back meanwhile"
    database = path.stat().st_size
    store.checkpoint()
    assert path.stat().st_size > database, "the tokens' pages are in the database file now"
    store.checkpoint()  # nothing new: nothing to do


async def test_the_server_checkpoints_in_the_background(tmp_path: Path) -> None:
    path = tmp_path / "sim.db"
    app = create_app(ServerConfig(db=str(path)))
    async with app.router.lifespan_context(app):
        database = path.stat().st_size
        for user in ("alice", "bob", "carol") * 50:
            app.state.service.login(user)
        deadline = asyncio.get_running_loop().time() + 10 * CHECKPOINT_SECONDS
        while path.stat().st_size == database:
            assert asyncio.get_running_loop().time() < deadline, "no checkpoint within ten intervals"
            await asyncio.sleep(CHECKPOINT_SECONDS / 5)


def test_token_owners_come_from_memory_and_a_revocation_is_seen_at_once(tmp_path: Path) -> None:
    path = tmp_path / "sim.db"
    store = SQLiteStore(str(path))
    issued = datetime(2026, 7, 5, 10, 5, tzinfo=UTC)
    store.save_token("mine", 10001, issued)
    with sqlite3.connect(path) as db:  # as if written before this store opened the file
        db.execute("INSERT INTO login_tokens (token_hash, user_id, issued_at) VALUES ('old', 20002, ?)", (issued.isoformat(),))
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)  # what the store asks SQLite from here on
    assert store.token_owner("mine") == (10001, issued)
    assert statements == [], "a token saved by this store is known without a query"
    assert store.token_owner("old") == (20002, issued)
    assert store.token_owner("old") == (20002, issued)
    assert len(statements) == 1, "looked up once, then known"
    store.revoke_token("old")
    assert store.token_owner("old") is None and store.token_owner("never") is None


def test_the_tokens_remembered_are_bounded_and_the_others_still_found(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "sim.db"))
    issued = datetime(2026, 7, 5, 10, 5, tzinfo=UTC)
    for index in range(TOKENS_REMEMBERED + 1):
        store.save_token(f"hash-{index}", 10001, issued)
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    assert store.token_owner("hash-0") == (10001, issued) and len(statements) == 1, "forgotten first, read again"


def test_a_transaction_that_raises_is_rolled_back_and_lets_the_next_one_in(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "sim.db"))
    with pytest.raises(RuntimeError), store.atomic():
        store.create_call(record(caller=1, callee=2))
        raise RuntimeError("refused half way")
    assert store.live_calls_of(1) == [], "nothing of it stayed"
    done = threading.Event()

    def write_elsewhere() -> None:
        with store.atomic():
            store.create_call(record(caller=3, callee=4))
        done.set()

    threading.Thread(target=write_elsewhere).start()
    assert done.wait(timeout=10), "the lock was released"
    with store.atomic():
        assert [call.caller_user_id for call in store.live_calls_of(3)] == [3]


def test_saving_a_call_writes_the_fields_named_and_leaves_the_others(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "sim.db"))
    created = datetime(2026, 7, 5, 10, 5, tzinfo=UTC)
    call = store.create_call(
        CallRecord(0, 1001, "audio", "single", 10001, 20002, "a", CallStatus.CALLING, 1, created, 30)
    )
    moved = replace(call, status=CallStatus.ACCEPTED, version=2, accepted_terminal_id="b", caller_terminal_id="elsewhere")
    store.save_call(moved, ["status", "version", "accepted_terminal_id"])
    reopened = SQLiteStore(str(tmp_path / "sim.db"))
    assert reopened.get_call(call.call_id) == replace(moved, caller_terminal_id="a"), "only the fields named"
    assert [found.call_id for found in store.live_calls_of(20002)] == [call.call_id]


def test_live_calls_come_from_memory_as_written_and_finished_ones_from_the_database(tmp_path: Path) -> None:
    path = tmp_path / "sim.db"
    store = SQLiteStore(str(path))
    live = store.create_call(record(caller=1, callee=2))
    over = store.create_call(record(caller=3, callee=4))
    store.save_call(replace(over, status=CallStatus.ENDED, version=2, end_reason="caller_cancel"), ["status", "version", "end_reason"])
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    assert store.get_call(live.call_id) == live and store.live_calls_of(1) == [live] and store.live_calls_of(2) == [live]
    assert store.live_calls_with_status(CallStatus.CALLING) == [live] and store.live_calls_of(3) == []
    assert set(statements) == {"PRAGMA data_version"}, "a live call is read without a query, once the file is known unchanged"
    statements.clear()
    finished = store.get_call(over.call_id)
    assert finished is not None and finished.status is CallStatus.ENDED and len(statements) == 1, "read from the table"
    assert store.get_call(999) is None
    reopened = SQLiteStore(str(path))
    assert reopened.live_calls_of(1) == [live] and reopened.live_calls_of(3) == [], "known again from the database"


def test_a_rolled_back_transaction_leaves_the_live_calls_as_they_were(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "sim.db"))
    ringing = store.create_call(record(caller=1, callee=2))
    with pytest.raises(RuntimeError), store.atomic():
        store.save_call(replace(ringing, status=CallStatus.ACCEPTED, version=2), ["status", "version"])
        store.save_call(replace(ringing, status=CallStatus.ENDED, version=3), ["status", "version"])
        store.create_call(record(caller=2, callee=5))
        assert store.live_calls_of(1) == [] and len(store.live_calls_of(5)) == 1, "the transaction sees its own writes"
        raise RuntimeError("refused half way")
    assert store.get_call(ringing.call_id) == ringing
    assert store.live_calls_of(1) == [ringing] == store.live_calls_of(2) and store.live_calls_of(5) == []
    assert store.live_calls_with_status(*LIVE_STATUSES) == [ringing]
    assert SQLiteStore(str(tmp_path / "sim.db")).live_calls_with_status(*LIVE_STATUSES) == [ringing], "nor on disk"


def test_a_commit_that_fails_is_rolled_back_in_memory_too(tmp_path: Path) -> None:
    """A deferred foreign key fails at the commit: what SQLite did not keep, the store does not remember."""
    store = SQLiteStore(str(tmp_path / "sim.db"))
    ringing = store.create_call(record(caller=1, callee=2))
    with pytest.raises(sqlite3.IntegrityError), store.atomic():
        store._sql.execute("PRAGMA defer_foreign_keys = ON")
        store.save_call(replace(ringing, status=CallStatus.ACCEPTED, version=2), ["status", "version"])
        store._sql.execute("INSERT INTO call_events (call_id, version, status, recorded_at) VALUES (999, 1, 'calling', 'x')")
    assert store.get_call(ringing.call_id) == ringing and not store._db.in_transaction
    with store.atomic():
        store.save_call(replace(ringing, status=CallStatus.ACCEPTED, version=2), ["status", "version"])
    assert SQLiteStore(str(tmp_path / "sim.db")).get_call(ringing.call_id).status is CallStatus.ACCEPTED


def test_a_second_store_writing_the_same_file_is_seen_before_a_live_call_is_used(tmp_path: Path) -> None:
    """As a second simulator started on the same file by mistake would: no change is decided on a stale call."""
    mine, other = SQLiteStore(str(tmp_path / "sim.db")), SQLiteStore(str(tmp_path / "sim.db"))
    ringing = mine.create_call(record(caller=1, callee=2))
    accepted = replace(ringing, status=CallStatus.ACCEPTED, version=2)
    with other.atomic():
        assert other.get_call(ringing.call_id) == ringing, "the other store reads it from the file"
        other.save_call(accepted, ["status", "version"])
        started = other.create_call(record(caller=3, callee=4))
    assert mine.get_call(ringing.call_id) == accepted
    assert mine.live_calls_of(3) == [started] and mine.live_calls_with_status(CallStatus.CALLING) == [started]
    with other.atomic():
        other.save_call(replace(accepted, status=CallStatus.ENDED, version=3), ["status", "version"])
    with mine.atomic():
        assert mine.live_calls_of(1) == [] and mine.get_call(ringing.call_id).status is CallStatus.ENDED
