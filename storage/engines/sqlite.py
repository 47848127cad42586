"""The SQLite engine (aiosqlite, WAL): a file path in ``UNITBOT_DATABASE``, the default.

* ``db.write()`` opens ``BEGIN IMMEDIATE`` (a read-then-write transaction that starts deferred gets
  SQLITE_BUSY at once under contention, whatever the busy timeout).
* ``db.read()`` opens ``BEGIN``.
One connection serves the process; an ``asyncio.Lock`` keeps coroutines from interleaving
statements of different transactions on it (a file has one writer at a time anyway). Other
processes are kept apart by SQLite's own locking.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import cast

import aiosqlite

from storage.db import Database, Dialect, Params, Row, Tx

log = logging.getLogger(__name__)


class SqliteTx(Tx):
    """Statements run directly on the SQLite connection, in the event loop's thread: once the
    transaction holds its lock (``BEGIN`` goes to aiosqlite's worker thread only when it has to wait
    on another process: ``SqliteDatabase._begin_at_once``), a statement on a local file takes
    microseconds, far less than a round trip to a worker thread (about 57 us of wall time and 170 us
    of CPU here; a filing runs ~45 statements). In WAL mode neither reads nor a lock holder's writes
    wait on other connections."""

    dialect: Dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection, *, writing: bool = False) -> None:
        super().__init__(writing=writing)
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        return self._conn.execute(sql, params).rowcount

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        self._conn.executemany(sql, rows)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        row: sqlite3.Row | None = self._conn.execute(sql, params).fetchone()
        return cast(Row | None, row)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return cast(list[Row], self._conn.execute(sql, params).fetchall())


class SqliteDatabase(Database):
    def __init__(self, path: str, *, busy_timeout_ms: int = 10_000) -> None:
        self.url = path
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
        # check_same_thread=False: statements of a transaction run in the loop's thread (see SqliteTx)
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

    def _begin_at_once(self, raw: sqlite3.Connection, begin: str) -> bool:
        """``begin`` run in the event loop's thread if it needs no wait; False: another process
        holds the write lock (the caller waits for it in the worker thread).

        A round trip to aiosqlite's thread costs ~170 us of CPU here (two thread wake-ups), more
        than the transaction it opens: a private answer opened four of them. A deferred ``BEGIN``
        takes no lock, so it never waits. ``BEGIN IMMEDIATE`` is tried once with no busy wait;
        only when the lock is taken does it go to the worker thread, where the busy timeout waits
        without holding up the loop."""
        if begin == "BEGIN":
            raw.execute(begin)
            return True
        raw.execute("PRAGMA busy_timeout = 0")
        began = False
        try:
            raw.execute(begin)
            began = True
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", sqlite3.SQLITE_BUSY) & 0xFF != sqlite3.SQLITE_BUSY:
                raise
        finally:
            try:
                raw.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            except BaseException:
                if raw.in_transaction:
                    raw.execute("ROLLBACK")
                raise
        return began

    @staticmethod
    async def _begin_in_worker(conn: aiosqlite.Connection, begin: str) -> None:
        """``begin`` in the worker thread, which waits out another process's lock (busy_timeout).

        A cancelled caller (an update past the stop's grace, a drain's timeout) must not let go of
        the connection while the worker still runs the BEGIN: the next transaction would block the
        loop's thread on the connection until it ends, and a BEGIN that succeeds afterwards would
        leave a write transaction nobody owns (every later BEGIN failing, the other process locked
        out). So the BEGIN is waited for to its end, undone, and only then the cancel goes on."""
        raw = conn._conn
        waiting = asyncio.ensure_future(conn.execute(begin))
        try:
            await asyncio.shield(waiting)
        except asyncio.CancelledError:
            while not waiting.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(waiting)
            if not waiting.cancelled() and waiting.exception() is None and raw.in_transaction:
                raw.execute("ROLLBACK")
            raise

    @asynccontextmanager
    async def _transaction(self, begin: str, *, writing: bool) -> AsyncIterator[Tx]:
        conn = self._connection()
        async with self._lock:
            raw = conn._conn  # the sqlite3 connection aiosqlite opened for us
            if raw.in_transaction:  # never expected: whatever left it open is gone (we hold the lock)
                log.error("a SQLite transaction was left open; rolled back")
                raw.execute("ROLLBACK")
            if not self._begin_at_once(raw, begin):
                await self._begin_in_worker(conn, begin)
            try:
                yield SqliteTx(raw, writing=writing)
            except BaseException:
                raw.execute("ROLLBACK")
                raise
            try:
                raw.execute("COMMIT")
            except BaseException:
                if raw.in_transaction:  # a commit that failed (disk full, I/O) leaves it open
                    raw.execute("ROLLBACK")
                raise

    def write(self) -> AbstractAsyncContextManager[Tx]:
        return self._transaction("BEGIN IMMEDIATE", writing=True)

    def read(self) -> AbstractAsyncContextManager[Tx]:
        return self._transaction("BEGIN", writing=False)

    async def executescript(self, script: str) -> None:
        async with self._lock:
            await self._connection().executescript(script)

    async def tables(self) -> list[str]:
        async with self.read() as tx:
            rows = await tx.fetchall(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        return [str(r[0]) for r in rows]
