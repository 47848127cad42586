"""The database engine: one small interface, SQLite (aiosqlite, WAL) by default.

All SQL in the project is written with ``?`` placeholders and portable constructs
(``INSERT ... ON CONFLICT``, ``RETURNING``, partial indexes) so that a PostgreSQL engine can be
added behind the same :class:`Database` interface (it would translate placeholders to ``$n`` and add
``FOR UPDATE SKIP LOCKED`` where :meth:`Tx.lock_clause` is used).

Transactions:
* ``async with db.write() as tx`` opens ``BEGIN IMMEDIATE`` (a read-then-write transaction that
  starts deferred gets SQLITE_BUSY at once under contention, whatever the busy timeout).
* ``async with db.read() as tx`` for reads.
One connection serves the process; an ``asyncio.Lock`` keeps coroutines from interleaving
statements of different transactions on it. Other processes are kept apart by SQLite's own locking.
Repositories receive a ``Tx`` and never commit; services own the transaction.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal

import aiosqlite

log = logging.getLogger(__name__)

Row = sqlite3.Row
Params = Sequence[Any]
Dialect = Literal["sqlite", "postgres"]


class Tx:
    """A transaction handle passed to repositories.

    Statements run directly on the SQLite connection, in the event loop's thread: once the
    transaction holds its lock (taken by ``BEGIN`` in aiosqlite's worker thread, the one step that
    can wait on another process), a statement on a local file takes microseconds, far less than a
    round trip to a worker thread (about 57 us here; a filing runs ~45 statements). In WAL mode
    neither reads nor a lock holder's writes wait on other connections.
    """

    dialect: Dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.memo: dict[object, Any] = {}  # values derived within this transaction (e.g. calendars)

    async def execute(self, sql: str, params: Params = ()) -> int:
        return self._conn.execute(sql, params).rowcount

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        self._conn.executemany(sql, rows)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = self._conn.execute(sql, params).fetchone()
        return row

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return list(self._conn.execute(sql, params).fetchall())

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run an INSERT ... RETURNING id and give the id back."""
        row = await self.fetchone(sql, params)
        if row is None:  # pragma: no cover - RETURNING always yields a row for a plain insert
            raise RuntimeError("insert returned no row")
        return int(row[0])

    @asynccontextmanager
    async def savepoint(self, name: str = "step") -> AsyncIterator[None]:
        """A nested step of this transaction: if the block raises, only its own statements are undone
        (``ROLLBACK TO SAVEPOINT``) and the exception goes on to the caller."""
        await self.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            await self.execute(f"ROLLBACK TO SAVEPOINT {name}")
            raise
        finally:
            await self.execute(f"RELEASE SAVEPOINT {name}")

    def lock_clause(self) -> str:
        """Row-locking suffix for claim queries (SQLite serialises writers already)."""
        return "" if self.dialect == "sqlite" else " FOR UPDATE SKIP LOCKED"


class Database:
    def __init__(self, path: str, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    @property
    def dialect(self) -> Dialect:
        return "sqlite"

    async def connect(self) -> None:
        if self._conn is not None:
            return
        # check_same_thread=False: statements of a transaction run in the loop's thread (see Tx)
        conn = await aiosqlite.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        try:
            await conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            if self.path != ":memory:":
                await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            await conn.close()  # e.g. a read-only directory (no -wal file): its thread would hang exit
            raise
        self._conn = conn

    async def close(self) -> None:
        # aiosqlite runs a non-daemon thread per connection: an unclosed one hangs process exit
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()

    def _connection(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("database is not connected (open it in post_init)")
        return self._conn

    @asynccontextmanager
    async def _transaction(self, begin: str) -> AsyncIterator[Tx]:
        conn = self._connection()
        async with self._lock:
            await conn.execute(begin)  # may wait (busy_timeout) on another process: in the worker thread
            raw = conn._conn  # the sqlite3 connection aiosqlite opened for us
            try:
                yield Tx(raw)
            except BaseException:
                raw.execute("ROLLBACK")
                raise
            else:
                raw.execute("COMMIT")

    def write(self) -> Any:
        """``async with db.write() as tx``: an immediate (write-locked) transaction."""
        return self._transaction("BEGIN IMMEDIATE")

    def read(self) -> Any:
        """``async with db.read() as tx``: a read transaction (a consistent snapshot)."""
        return self._transaction("BEGIN")

    async def executescript(self, script: str) -> None:
        async with self._lock:
            await self._connection().executescript(script)
