"""Storage behind a small interface, so the call rules never see SQL.

``SQLiteStore`` keeps calls (each with the last media report of each of its terminals), every version
of every call, login tokens (hashed) and the server's secret. Every mutation of a call runs inside
``atomic()``, a ``BEGIN IMMEDIATE`` transaction: one writer at a time, so a read-check-write in the call
service is a single step and of two concurrent accepts exactly one sees the call still ringing. The
live calls, the only ones that change, are also kept in memory, written through and taken back with a
rolled-back transaction: every change of a call starts by reading it, and every start by reading both
parties' live calls.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import lru_cache
from operator import attrgetter
from types import TracebackType
from typing import Any, Protocol

from pydantic import BaseModel, TypeAdapter

from softphone.api import LIVE_STATUSES, CallMedia, CallStatus
from softphone.server.tokens import hash_login_token


@dataclass(frozen=True)
class MediaReport:
    """What one terminal of one participant last said about its media."""

    user_id: int
    terminal_id: str
    stage: str
    network_quality: str | None
    reported_at: datetime


_REPORTS_JSON = TypeAdapter(tuple[MediaReport, ...])


class MediaReports:
    """The last media report of each terminal of a call, oldest first: the ``media_reports`` column.

    Kept in the call's own row, so that a report writes the one page the change of the call writes anyway
    (a table of its own cost a report two more pages and three more statements); read from its JSON only
    when a report or a change of the call asks, not each time a call is read.
    """

    __slots__ = ("_reports", "_json")

    def __init__(self, reports: tuple[MediaReport, ...] = ()) -> None:
        self._reports: tuple[MediaReport, ...] | None = reports
        self._json: str | None = None if reports else "[]"

    @classmethod
    def from_json(cls, stored: str) -> MediaReports:
        """The column as read: parsed when first asked."""
        reports = cls.__new__(cls)
        reports._reports, reports._json = None, stored
        return reports

    @property
    def reports(self) -> tuple[MediaReport, ...]:
        if self._reports is None:
            assert self._json is not None, "one of the two is always there"
            self._reports = _REPORTS_JSON.validate_json(self._json)
        return self._reports

    def to_json(self) -> str:
        if self._json is None:
            self._json = _REPORTS_JSON.dump_json(self.reports).decode()
        return self._json

    def last_of(self, user_id: int, terminal_id: str) -> MediaReport | None:
        """What this terminal of this user said last, if it said anything."""
        return next((r for r in self.reports if (r.user_id, r.terminal_id) == (user_id, terminal_id)), None)

    def last_by_user(self) -> dict[int, MediaReport]:
        """For each user who reported, the report saved last by any of their terminals."""
        return {report.user_id: report for report in self.reports}

    def with_report(self, report: MediaReport) -> MediaReports:
        """The terminal's new report replaces its old one, as the newest of all."""
        terminal = (report.user_id, report.terminal_id)
        return MediaReports((*(r for r in self.reports if (r.user_id, r.terminal_id) != terminal), report))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MediaReports) and self.reports == other.reports

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"MediaReports({self.reports!r})"


@dataclass(frozen=True)
class CallRecord:
    """One call as stored; ``call_id`` is 0 until the store assigns one.

    The fields are the ``CallState`` fields the server keeps (under the same names), minus those it
    derives (``channel_name``, ``app_id``, the uids), plus its own bookkeeping. The ``calls`` table has
    one column per field; tests keep all three in step.
    """

    call_id: int
    conversation_id: int
    call_type: str
    biz_type: str
    caller_user_id: int
    callee_user_id: int
    caller_terminal_id: str
    status: CallStatus
    version: int
    created_at: datetime
    timeout_seconds: int
    accepted_terminal_id: str | None = None
    accepted_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: str | None = None
    ended_by_user_id: int | None = None
    ended_by_terminal_id: str | None = None
    media: CallMedia = field(default_factory=CallMedia)
    media_reports: MediaReports = field(default_factory=MediaReports)

    def involves(self, user_id: int) -> bool:
        return user_id in (self.caller_user_id, self.callee_user_id)

    def but(self, **changes: Any) -> CallRecord:
        """This call with ``changes``: ``dataclasses.replace`` at half its cost (8 us), on every change of a call."""
        return CallRecord(**{**self.__dict__, **changes})


class Store(Protocol):
    def atomic(self) -> AbstractContextManager[None]:
        """A transaction no other writer interleaves with; rolled back if the block raises."""
        ...

    def checkpoint(self) -> None:
        """Copy what the log gained since the last time into the database file: blocking I/O, so run it in
        a worker thread."""
        ...

    def setting(self, key: str, default: Callable[[], str]) -> str:
        """A server-wide value, created from ``default`` the first time it is asked for."""
        ...

    def save_token(self, token_hash: str, user_id: int, issued_at: datetime) -> None: ...

    def token_owner(self, token_hash: str) -> tuple[int, datetime] | None:
        """The user a token was issued to and when; ``None`` for a token never issued or revoked."""
        ...

    def revoke_token(self, token_hash: str) -> None: ...

    def create_call(self, draft: CallRecord) -> CallRecord: ...

    def get_call(self, call_id: int) -> CallRecord | None: ...

    def save_call(self, call: CallRecord, changed: Collection[str]) -> None:
        """Write the fields of ``call`` named in ``changed``; every other one is as stored already, so ``call``
        is the stored call from now on (the one a live call is read as, from memory)."""
        ...

    def live_calls_with_status(self, *statuses: CallStatus) -> list[CallRecord]:
        """Every call in one of ``statuses``, all of them live ones, oldest first."""
        ...

    def live_calls_of(self, user_id: int) -> list[CallRecord]:
        """The user's calls in a non-terminal status, oldest first."""
        ...

    def history_of(self, user_id: int, limit: int, before_id: int | None) -> list[CallRecord]:
        """The user's calls, newest first, only those with an id below ``before_id`` if given."""
        ...

    def append_event(self, call: CallRecord, at: datetime) -> int:
        """Record a new version of a call; returns the server-wide, ever-growing event id."""
        ...


class SchemaTooNew(Exception):
    """The database was written by a newer softphone; opening it here could lose what that one stored."""


# The database outlives upgrades: each step takes a database from version N to N + 1 (``PRAGMA
# user_version``), in order, and a step is never edited once released. Version 0 is a new file or
# one written before the schema had a version; step 1 is that schema, created if missing.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS tokens (
        token TEXT PRIMARY KEY, user_id INTEGER NOT NULL, issued_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS calls (
        call_id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id INTEGER NOT NULL,
        call_type TEXT NOT NULL,
        biz_type TEXT NOT NULL,
        caller_user_id INTEGER NOT NULL,
        callee_user_id INTEGER NOT NULL,
        caller_terminal_id TEXT NOT NULL,
        status TEXT NOT NULL,
        version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        timeout_seconds INTEGER NOT NULL,
        accepted_terminal_id TEXT,
        accepted_at TEXT,
        started_at TEXT,
        ended_at TEXT,
        end_reason TEXT
    );
    CREATE INDEX IF NOT EXISTS calls_by_caller ON calls (caller_user_id, call_id);
    CREATE INDEX IF NOT EXISTS calls_by_callee ON calls (callee_user_id, call_id);
    CREATE INDEX IF NOT EXISTS calls_by_status ON calls (status);
    CREATE TABLE IF NOT EXISTS call_events (
        event_id INTEGER PRIMARY KEY AUTOINCREMENT,
        call_id INTEGER NOT NULL REFERENCES calls (call_id),
        version INTEGER NOT NULL,
        status TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        UNIQUE (call_id, version)
    );
    CREATE TABLE IF NOT EXISTS media_reports (
        call_id INTEGER NOT NULL REFERENCES calls (call_id),
        user_id INTEGER NOT NULL,
        terminal_id TEXT NOT NULL,
        stage TEXT NOT NULL,
        network_quality TEXT,
        reported_at TEXT NOT NULL,
        PRIMARY KEY (call_id, user_id, terminal_id)
    );
    """,
    # Who ended a call, so clients can say "you hung up" truthfully after a restart. Unknown (NULL)
    # for calls ended before this step.
    """
    ALTER TABLE calls ADD COLUMN ended_by_user_id INTEGER;
    ALTER TABLE calls ADD COLUMN ended_by_terminal_id TEXT;
    """,
    # Login tokens are kept hashed. Tokens issued before this step are hashed in place and count as
    # issued now, so they last one token lifetime from the upgrade instead of expiring at once.
    """
    CREATE TABLE login_tokens (
        token_hash TEXT PRIMARY KEY, user_id INTEGER NOT NULL, issued_at TEXT NOT NULL
    );
    INSERT INTO login_tokens (token_hash, user_id, issued_at)
        SELECT hash_login_token(token), user_id, strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now') FROM tokens;
    DROP TABLE tokens;
    """,
    # Each participant's media as of the call's version, as the wire's CallMedia JSON. Calls past
    # `calling` take their participants' last reports (the newest row of a user is the last written).
    """
    ALTER TABLE calls ADD COLUMN media TEXT;
    UPDATE calls SET media = json_object(
        'caller', json((SELECT json_object('stage', stage, 'network_quality', network_quality,
                                           'reported_at', reported_at)
                        FROM media_reports AS report
                        WHERE report.call_id = calls.call_id AND report.user_id = calls.caller_user_id
                        ORDER BY report.rowid DESC LIMIT 1)),
        'callee', json((SELECT json_object('stage', stage, 'network_quality', network_quality,
                                           'reported_at', reported_at)
                        FROM media_reports AS report
                        WHERE report.call_id = calls.call_id AND report.user_id = calls.callee_user_id
                        ORDER BY report.rowid DESC LIMIT 1))
    ) WHERE status != 'calling';
    """,
    # A user's live calls, found without reading the user's whole history: every start asks for both
    # parties' (LIVE_SQL, which the queries use word for word, so that SQLite picks these indexes).
    """
    CREATE INDEX calls_live_by_caller ON calls (caller_user_id) WHERE status IN ('calling', 'accepted', 'ongoing');
    CREATE INDEX calls_live_by_callee ON calls (callee_user_id) WHERE status IN ('calling', 'accepted', 'ongoing');
    """,
    # Live calls listed in a table of their own, a row per party, written as a call starts and ends:
    # indexes on `status` had every change of status rewrite three index entries (a third of what an
    # accept cost the database), while a call changes status within the live ones twice per call.
    """
    CREATE TABLE live_calls (
        user_id INTEGER NOT NULL,
        call_id INTEGER NOT NULL REFERENCES calls (call_id),
        PRIMARY KEY (user_id, call_id)
    ) WITHOUT ROWID;
    INSERT INTO live_calls (user_id, call_id)
        SELECT caller_user_id, call_id FROM calls WHERE status IN ('calling', 'accepted', 'ongoing')
        UNION SELECT callee_user_id, call_id FROM calls WHERE status IN ('calling', 'accepted', 'ongoing');
    DROP INDEX calls_live_by_caller;
    DROP INDEX calls_live_by_callee;
    DROP INDEX calls_by_status;
    """,
    # What a change of a call writes, cut to the pages it needs. Each terminal's last media report moves
    # into its call's row (a report wrote a table and its index; now the page the call is on), as a JSON
    # list in the order they were written. The versions lose AUTOINCREMENT, which wrote the sequence
    # table's page on every change (the ids go on from the highest: versions are never deleted), and
    # their (call_id, version) index, which nothing reads (each version is written once, in the
    # transaction that numbers it).
    """
    ALTER TABLE calls ADD COLUMN media_reports TEXT NOT NULL DEFAULT '[]';
    UPDATE calls SET media_reports = (
        SELECT json_group_array(json_object('user_id', user_id, 'terminal_id', terminal_id, 'stage', stage,
                                            'network_quality', network_quality, 'reported_at', reported_at))
        FROM (SELECT * FROM media_reports AS report WHERE report.call_id = calls.call_id ORDER BY report.rowid)
    ) WHERE call_id IN (SELECT call_id FROM media_reports);
    DROP TABLE media_reports;
    CREATE TABLE versions (
        event_id INTEGER PRIMARY KEY,
        call_id INTEGER NOT NULL REFERENCES calls (call_id),
        version INTEGER NOT NULL,
        status TEXT NOT NULL,
        recorded_at TEXT NOT NULL
    );
    INSERT INTO versions (event_id, call_id, version, status, recorded_at)
        SELECT event_id, call_id, version, status, recorded_at FROM call_events ORDER BY event_id;
    DROP TABLE call_events;
    ALTER TABLE versions RENAME TO call_events;
    DELETE FROM sqlite_sequence WHERE name = 'call_events';
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
LIVE_SQL = "('calling', 'accepted', 'ongoing')"
"""``LIVE_STATUSES`` as migration steps 5 and 6 name them (a test keeps the two equal)."""


def migrate(db: sqlite3.Connection, where: str) -> int:
    """Bring ``db`` to ``SCHEMA_VERSION``, one step per transaction; returns the version it had."""
    found = int(db.execute("PRAGMA user_version").fetchone()[0])
    if found > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"{where} has schema version {found}, but this softphone knows versions up to {SCHEMA_VERSION}: "
            "it was written by a newer softphone. Upgrade softphone, or use another database (--db)."
        )
    for version in range(found, SCHEMA_VERSION):
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[version]):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {version + 1}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    return found


def _statements(script: str) -> list[str]:
    """A migration's statements, run one by one so that the step stays inside its transaction."""
    return [statement.strip() for statement in script.split(";") if statement.strip()]


_CALL_COLUMNS = [field.name for field in fields(CallRecord)]
_TIMESTAMP_COLUMNS = {"created_at", "accepted_at", "started_at", "ended_at"}


@lru_cache(maxsize=64)
def _update_of(changed: frozenset[str]) -> tuple[tuple[str, ...], str]:
    """The columns named, in the table's order, and the statement that sets them (a few sets ever)."""
    columns = tuple(name for name in _CALL_COLUMNS[1:] if name in changed)
    return columns, f"UPDATE calls SET {', '.join(f'{name} = ?' for name in columns)} WHERE call_id = ?"


def _to_sql(value: object) -> object:
    # Most values are stored as they are, so they are let through first: an isinstance check against
    # a pydantic model class goes through its metaclass (about 1 us, for each column written).
    if value is None or isinstance(value, str | int):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, MediaReports):
        return value.to_json()
    return value.model_dump_json() if isinstance(value, BaseModel) else value


def _call_from_row(row: sqlite3.Row) -> CallRecord:
    values = {
        name: datetime.fromisoformat(row[name]) if name in _TIMESTAMP_COLUMNS and row[name] else row[name]
        for name in _CALL_COLUMNS
    }
    values["status"] = CallStatus(values["status"])
    values["media"] = CallMedia.model_validate_json(values["media"]) if values["media"] else CallMedia()
    values["media_reports"] = MediaReports.from_json(values["media_reports"])
    return CallRecord(**values)


CHECKPOINT_SECONDS = 0.5
"""How often the server copies what the write-ahead log gained into the database file, off the event loop."""
AUTO_CHECKPOINT_PAGES = 10_000
"""SQLite's own checkpoint, run inside a commit: only when the background one has fallen this far behind.
At its default (1,000 pages, about 100 changes of a call) one commit in a hundred took milliseconds."""


class _Transaction:
    """``atomic()``: ``BEGIN IMMEDIATE`` under the store's lock, then ``COMMIT``, or ``ROLLBACK`` if the block
    raised (or the commit failed), which also puts back the live calls it changed. A class rather than a
    generator: it wraps every change of a call (2 us a change saved)."""

    __slots__ = ("_store",)

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store

    def __enter__(self) -> None:
        store = self._store
        store._lock.acquire()
        try:
            store._sql.execute("BEGIN IMMEDIATE")
            store._check_live()
        except BaseException:
            if store._db.in_transaction:
                store._sql.execute("ROLLBACK")
            store._lock.release()
            raise
        store._undo = []

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        store = self._store
        undo, store._undo = store._undo or [], None
        try:
            if kind is None:
                try:
                    store._sql.execute("COMMIT")
                    return
                except BaseException:
                    store._roll_back(undo)
                    raise
            store._roll_back(undo)
        finally:
            store._lock.release()


TOKENS_REMEMBERED = 10_000
"""Login tokens whose owner the store keeps in memory, the most recently used (about 200 bytes each)."""


class SQLiteStore:
    """The one store there is: a file in WAL mode, or ``:memory:``.

    It is meant to be the only writer of its database (one simulator process per database file), so what
    it remembers of the login tokens cannot go stale: a revocation goes through it. Its live calls, which
    decide every change, are checked against the file before they are used (``PRAGMA data_version``
    moves when another connection writes it, as a second simulator started on the same file does) and
    read again if it moved: two processes sharing a file by mistake still never act on a stale call.

    Every write runs on the caller's thread (the event loop: each is a few small statements); the
    checkpoint, which copies the log into the database file and syncs it, is ``checkpoint``'s, for a
    worker thread, with a connection of its own.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        # One cursor for every statement, each read to its end at once: ``Connection.execute`` makes a
        # new cursor each time, about a microsecond of the five statements of a change of a call.
        self._sql = self._db.cursor()
        self._lock = threading.RLock()
        self._wal = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"  # not for :memory:
        self._db.execute(f"PRAGMA wal_autocheckpoint={AUTO_CHECKPOINT_PAGES}")
        self._checkpointer: sqlite3.Connection | None = None
        self._token_owners: OrderedDict[str, tuple[int, datetime]] = OrderedDict()
        self._checkpointed_changes = 0
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=5000")
        # Deleted rows are overwritten, so a dropped plain token or a revoked hash leaves nothing behind.
        self._db.execute("PRAGMA secure_delete=ON")
        # Migrations may call it; SQLite has no hash function of its own.
        self._db.create_function("hash_login_token", 1, hash_login_token, deterministic=True)
        migrate(self._db, path)
        self._transaction = _Transaction(self)
        self._live: dict[int, CallRecord] = {}
        """Every live call by id, as stored."""
        self._live_of_user: dict[int, set[int]] = {}
        """The ids of each user's live calls; a user with none is not a key."""
        self._undo: list[tuple[int, CallRecord | None]] | None = None
        """Inside a transaction: each live call it changed, as it was before, to put back on a rollback."""
        self._data_version: int | None = None
        """The file's ``data_version`` when the live calls were last read from it."""
        self._check_live()

    def atomic(self) -> _Transaction:
        return self._transaction

    def checkpoint(self) -> None:
        """Copy what the log gained since the last time into the database file: blocking I/O, so run it in
        a worker thread. PASSIVE: it neither waits for the writer nor makes the writer wait."""
        changes = self._db.total_changes
        if not self._wal or changes == self._checkpointed_changes:
            return
        if self._checkpointer is None:
            self._checkpointer = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")
        self._checkpointed_changes = changes

    def setting(self, key: str, default: Callable[[], str]) -> str:
        with self.atomic():
            row = self._sql.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
            if row is not None:
                return str(row["value"])
            value = default()
            self._sql.execute("INSERT INTO settings (key, value) VALUES (?, ?)", (key, value))
            return value

    def save_token(self, token_hash: str, user_id: int, issued_at: datetime) -> None:
        with self._lock:
            self._sql.execute(
                "INSERT INTO login_tokens (token_hash, user_id, issued_at) VALUES (?, ?, ?)",
                (token_hash, user_id, issued_at.isoformat()),
            )
            self._remember_token(token_hash, (user_id, issued_at))

    def token_owner(self, token_hash: str) -> tuple[int, datetime] | None:
        """Asked on every request: known tokens come from memory, the others from the table."""
        with self._lock:
            owner = self._token_owners.get(token_hash)
            if owner is not None:
                self._token_owners.move_to_end(token_hash)
                return owner
            row = self._sql.execute(
                "SELECT user_id, issued_at FROM login_tokens WHERE token_hash = ?", (token_hash,)
            ).fetchone()
            if row is None:
                return None
            owner = (int(row["user_id"]), datetime.fromisoformat(row["issued_at"]))
            self._remember_token(token_hash, owner)
            return owner

    def revoke_token(self, token_hash: str) -> None:
        with self._lock:
            self._token_owners.pop(token_hash, None)
            self._sql.execute("DELETE FROM login_tokens WHERE token_hash = ?", (token_hash,))

    def _remember_token(self, token_hash: str, owner: tuple[int, datetime]) -> None:
        self._token_owners[token_hash] = owner
        if len(self._token_owners) > TOKENS_REMEMBERED:
            self._token_owners.popitem(last=False)

    def create_call(self, draft: CallRecord) -> CallRecord:
        columns = _CALL_COLUMNS[1:]
        with self._lock:
            cursor = self._sql.execute(
                f"INSERT INTO calls ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                [_to_sql(getattr(draft, name)) for name in columns],
            )
            assert cursor.lastrowid is not None
            call = draft.but(call_id=cursor.lastrowid)
            if call.status in LIVE_STATUSES:
                self._sql.executemany(
                    "INSERT INTO live_calls (user_id, call_id) VALUES (?, ?)",
                    [(call.caller_user_id, call.call_id), (call.callee_user_id, call.call_id)],
                )
                self._change_live(call.call_id, call)
        return call

    def get_call(self, call_id: int) -> CallRecord | None:
        with self._lock:
            if call_id in self._live:
                self._check_live_outside_transactions()
            call = self._live.get(call_id)
        if call is not None:
            return call
        rows = self._calls("WHERE call_id = ?", (call_id,))
        return rows[0] if rows else None

    def save_call(self, call: CallRecord, changed: Collection[str]) -> None:
        # Only what changed: SQLite rewrites the entries of every index on a column it is told to set,
        # to the same value or not (about 2 of the 10 pages a change of a call used to write).
        columns, update = _update_of(frozenset(changed))
        with self._lock:
            self._sql.execute(update, [*(_to_sql(getattr(call, name)) for name in columns), call.call_id])
            if call.status in LIVE_STATUSES:
                self._change_live(call.call_id, call)
            elif "status" in changed:
                # A call that is over never changes again, so a change of status out of the live ones is its last.
                self._sql.executemany(
                    "DELETE FROM live_calls WHERE user_id = ? AND call_id = ?",
                    [(call.caller_user_id, call.call_id), (call.callee_user_id, call.call_id)],
                )
                self._change_live(call.call_id, None)

    def live_calls_with_status(self, *statuses: CallStatus) -> list[CallRecord]:
        if not LIVE_STATUSES.issuperset(statuses):
            raise ValueError(f"only live calls are listed by status, not {statuses}")
        with self._lock:
            self._check_live_outside_transactions()
            return sorted((call for call in self._live.values() if call.status in statuses), key=attrgetter("call_id"))

    def live_calls_of(self, user_id: int) -> list[CallRecord]:
        with self._lock:
            self._check_live_outside_transactions()
            ids = self._live_of_user.get(user_id)
            return [self._live[call_id] for call_id in sorted(ids)] if ids else []

    def history_of(self, user_id: int, limit: int, before_id: int | None) -> list[CallRecord]:
        return self._calls(
            "WHERE (caller_user_id = ? OR callee_user_id = ?) AND call_id < ? ORDER BY call_id DESC LIMIT ?",
            (user_id, user_id, before_id if before_id is not None else 2**63 - 1, limit),
        )

    def append_event(self, call: CallRecord, at: datetime) -> int:
        with self._lock:
            cursor = self._sql.execute(
                "INSERT INTO call_events (call_id, version, status, recorded_at) VALUES (?, ?, ?, ?)",
                (call.call_id, call.version, call.status.value, at.isoformat()),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def _check_live(self) -> None:
        """Read the live calls again if another connection wrote the file since they were last read (a
        connection's own writes leave ``data_version`` as it is, and so do checkpoints)."""
        version = self._sql.execute("PRAGMA data_version").fetchone()[0]
        if version == self._data_version:
            return
        self._live.clear()
        self._live_of_user.clear()
        for call in self._calls("WHERE call_id IN (SELECT call_id FROM live_calls) ORDER BY call_id", ()):
            self._set_live(call.call_id, call)
        self._data_version = version

    def _check_live_outside_transactions(self) -> None:
        """Inside a transaction the check was made as it began (0.7 us), and nobody else writes until it
        ends; outside one it costs a read transaction (3 us), so it is made only to answer from memory."""
        if self._undo is None:
            self._check_live()

    def _change_live(self, call_id: int, call: CallRecord | None) -> None:
        """Remember a live call as written (``None``: no longer live), undoably inside a transaction."""
        if self._undo is not None:
            self._undo.append((call_id, self._live.get(call_id)))
        self._set_live(call_id, call)

    def _set_live(self, call_id: int, call: CallRecord | None) -> None:
        if call is not None and call_id in self._live:  # a change of a live call: the same parties
            self._live[call_id] = call
            return
        before = self._live.pop(call_id, None)
        if before is not None:
            for user_id in (before.caller_user_id, before.callee_user_id):
                self._live_of_user[user_id].discard(call_id)
                if not self._live_of_user[user_id]:
                    del self._live_of_user[user_id]
        if call is not None:
            self._live[call_id] = call
            for user_id in (call.caller_user_id, call.callee_user_id):
                self._live_of_user.setdefault(user_id, set()).add(call_id)

    def _roll_back(self, undo: list[tuple[int, CallRecord | None]]) -> None:
        """End the open transaction with nothing of it kept: in the database, and in the live calls."""
        try:
            if self._db.in_transaction:  # a commit that failed may have rolled back already
                self._sql.execute("ROLLBACK")
        finally:
            for call_id, before in reversed(undo):
                self._set_live(call_id, before)

    def _calls(self, where: str, params: tuple[object, ...]) -> list[CallRecord]:
        with self._lock:
            rows = self._sql.execute(f"SELECT calls.* FROM calls {where}", params).fetchall()
        return [_call_from_row(row) for row in rows]
