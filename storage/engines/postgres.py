"""The PostgreSQL engine: ``UNITBOT_DATABASE=postgresql://user[:password]@host[:port]/db``.

Driver: psycopg 3 with psycopg_pool's ``AsyncConnectionPool``: maintained by the PostgreSQL
community's psycopg project, a real async pool (several transactions of one process run at once
on their own connections: once a round trip costs network time, one connection behind a lock
would serialise every transaction), server-side parameter binding, and the same DB-API shape
(``execute`` / ``fetchone`` / ``rowcount``) as sqlite3, so repositories stay as they are.

* SQL is written once with ``?`` placeholders: :func:`translate` turns them into ``%s`` (and a
  literal ``%`` into ``%%``), outside string literals, once per distinct statement.
* Values are stored as SQLite stores them: ``bool`` as 0/1 (the schema's flags are INTEGER),
  ``NUMERIC`` results (``SUM`` of BIGINT) come back as ``int`` (or ``float``), and a NUL character,
  which PostgreSQL text cannot hold, is dropped from strings.
* Transactions: ``write()`` is READ COMMITTED (see ``storage/db.py``), ``read()`` REPEATABLE READ
  (one snapshot for all its statements, as a SQLite read transaction sees). A connection the
  server dropped (a restart) is noticed when it is taken from the pool after a moment's rest (an
  empty query) and replaced; one dropped while in constant use fails one transaction (a transient
  error: the sweep and the sender try again) and is replaced.
* Migrations run under a session advisory lock (:meth:`PostgresDatabase.migration_lock`): two
  processes starting at once on an empty database apply each migration once; every migration is
  one transaction together with its ``schema_migrations`` row (PostgreSQL DDL is transactional),
  so one that fails halfway leaves nothing behind.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from functools import lru_cache
from typing import Any, cast

import psycopg
from psycopg import AsyncConnection, AsyncCursor
from psycopg.adapt import Dumper, Loader
from psycopg.pq import Format
from psycopg.rows import RowMaker
from psycopg.types.string import StrDumperUnknown
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from storage.db import Database, Dialect, Params, Row, Tx
from storage.errors import DatabaseUnavailable, safe_url

log = logging.getLogger(__name__)

MIGRATION_LOCK_KEY = 0x756E6974626F74  # "unitbot": the advisory lock held while migrating
CONNECT_TIMEOUT = 5.0  # seconds to reach the server at start-up
ACQUIRE_TIMEOUT = 30.0  # seconds a transaction waits for a free connection of the pool
CHECK_AFTER_IDLE = 2.0  # seconds unused after which a pooled connection is probed before use


@lru_cache(maxsize=4096)
def translate(sql: str, with_params: bool = True) -> str:
    """``?`` placeholders -> ``%s`` and ``%`` -> ``%%`` outside quoted literals (psycopg's format).
    Without parameters psycopg does not parse the query: nothing is changed."""
    if not with_params:
        return sql
    out: list[str] = []
    quote: str | None = None
    for ch in sql:
        if quote is not None:
            if ch == quote:
                quote = None
            out.append("%%" if ch == "%" else ch)
        elif ch in ("'", '"'):
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out)


class PgRow:
    """A row by position or by column name, like ``sqlite3.Row`` (the first column of a name wins)."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: dict[str, int]) -> None:
        self._values = values
        self._index = index

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def keys(self) -> list[str]:
        return list(self._index)

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PgRow):
            return tuple(self._values) == tuple(other._values)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self._values))

    def __repr__(self) -> str:
        return f"PgRow({dict(zip(self._index, self._values, strict=False))!r})"


def _row_factory(cursor: AsyncCursor[Any]) -> RowMaker[PgRow]:
    index: dict[str, int] = {}
    for i, column in enumerate(cursor.description or ()):
        index.setdefault(column.name, i)

    def make(values: Sequence[Any]) -> PgRow:
        return PgRow(values, index)

    return make


class _BoolAsInt(Dumper):
    """True/False as 1/0: the schema's flags are INTEGER columns, as on SQLite."""

    format = Format.TEXT

    def __init__(self, cls: type, context: Any = None) -> None:
        super().__init__(cls, context)
        self.oid = psycopg.postgres.types["int8"].oid

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"


class _TextWithoutNul(StrDumperUnknown):
    """PostgreSQL text cannot hold U+0000 (SQLite can): it is dropped rather than failing a write."""

    def dump(self, obj: str) -> Any:
        return super().dump(obj.replace("\x00", "") if "\x00" in obj else obj)


class _NumberLoader(Loader):
    """NUMERIC (e.g. ``SUM`` over BIGINT) as int when whole, else float: what SQLite gives."""

    def load(self, data: Any) -> Any:
        text = bytes(data).decode("ascii")
        if "." in text or "e" in text.lower() or text == "NaN":
            return float(text)
        return int(text)


class _RecentlyUsed:
    """The pool's ``check``: a connection idle for a while is probed (an empty query) before it is
    handed out, so one the server dropped (a restart, an idle timeout) is replaced instead of failing
    a transaction; one returned moments ago is handed out as it is (a probe is a round trip, and a
    busy process takes connections hundreds of times a second)."""

    def __init__(self, idle: float = CHECK_AFTER_IDLE) -> None:
        self.idle = idle
        self.returned: dict[int, float] = {}

    async def check(self, conn: AsyncConnection[Any]) -> None:
        if time.monotonic() - self.returned.get(id(conn), 0.0) > self.idle:
            await AsyncConnectionPool.check_connection(conn)

    def put_back(self, conn: AsyncConnection[Any]) -> None:
        self.returned[id(conn)] = time.monotonic()
        if len(self.returned) > 1000:  # connections replaced over a long run: forget the oldest
            for key in sorted(self.returned, key=self.returned.__getitem__)[:500]:
                del self.returned[key]


async def _configure(conn: AsyncConnection[Any]) -> None:
    conn.row_factory = cast(Any, _row_factory)
    conn.adapters.register_dumper(bool, _BoolAsInt)
    conn.adapters.register_dumper(str, _TextWithoutNul)
    conn.adapters.register_loader("numeric", _NumberLoader)
    await conn.set_autocommit(True)  # transactions are opened explicitly (BEGIN ... COMMIT)


class PostgresTx(Tx):
    dialect: Dialect = "postgres"

    def __init__(self, conn: AsyncConnection[Any], *, writing: bool = False) -> None:
        super().__init__(writing=writing)
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        cur = await self._conn.execute(translate(sql, bool(params)), params or None)
        return max(cur.rowcount, 0)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        async with self._conn.cursor() as cur:
            await cur.executemany(translate(sql), list(rows))

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        cur = await self._conn.execute(translate(sql, bool(params)), params or None)
        return cast(Row | None, await cur.fetchone())

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        cur = await self._conn.execute(translate(sql, bool(params)), params or None)
        return cast(list[Row], await cur.fetchall())


class PostgresDatabase(Database):
    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10, acquire_timeout: float = ACQUIRE_TIMEOUT):
        self.url = url
        self.min_size = min_size
        self.max_size = max(max_size, 2)  # migrations hold one connection for the lock, use another
        self.acquire_timeout = acquire_timeout
        self._pool: AsyncConnectionPool[AsyncConnection[Any]] | None = None
        self._checks = _RecentlyUsed()

    @property
    def dialect(self) -> Dialect:
        return "postgres"

    @property
    def safe_url(self) -> str:
        return safe_url(self.url)

    async def connect(self) -> None:
        if self._pool is not None:
            return
        try:  # one direct connection first: its error says why (the pool's says only "timeout")
            probe = await psycopg.AsyncConnection.connect(self.url, connect_timeout=int(CONNECT_TIMEOUT))
        except psycopg.Error as exc:
            raise DatabaseUnavailable(f"PostgreSQL at {self.safe_url} cannot be reached: {_first_line(exc)}") from None
        await probe.close()
        pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
            self.url,
            min_size=self.min_size,
            max_size=self.max_size,
            open=False,
            configure=_configure,
            check=self._checks.check,  # a connection the server dropped is replaced (see _RecentlyUsed)
            timeout=self.acquire_timeout,
            name="unitbot",
        )
        try:
            await pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        except PoolTimeout:
            await pool.close()
            raise DatabaseUnavailable(
                f"PostgreSQL at {self.safe_url}: no connection within {CONNECT_TIMEOUT}s"
            ) from None
        self._pool = pool

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    def _connected(self) -> AsyncConnectionPool[AsyncConnection[Any]]:
        if self._pool is None:
            raise RuntimeError("database is not connected (open it in post_init)")
        return self._pool

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        pool = self._connected()
        try:
            async with pool.connection() as conn:
                try:
                    yield conn
                finally:
                    self._checks.put_back(conn)
        except PoolTimeout:
            stats = pool.get_stats()
            log.error(
                "database: all %s connections of the pool stayed busy for %ss (%s requests waiting)",
                stats.get("pool_size", self.max_size),
                self.acquire_timeout,
                stats.get("requests_waiting", 0),
            )
            raise

    @asynccontextmanager
    async def _transaction(self, begin: str, *, writing: bool) -> AsyncIterator[Tx]:
        async with self._connection() as conn:
            await conn.execute(begin)
            try:
                yield PostgresTx(conn, writing=writing)
            except BaseException:
                if not conn.closed:
                    with suppress(psycopg.Error):  # the connection broke: the pool discards it
                        await conn.execute("ROLLBACK")
                raise
            else:
                await conn.execute("COMMIT")

    def write(self) -> AbstractAsyncContextManager[Tx]:
        return self._transaction("BEGIN ISOLATION LEVEL READ COMMITTED", writing=True)

    def read(self) -> AbstractAsyncContextManager[Tx]:
        return self._transaction("BEGIN ISOLATION LEVEL REPEATABLE READ", writing=False)

    @asynccontextmanager
    async def _migration_lock(self) -> AsyncIterator[None]:
        async with self._connection() as conn:
            await conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
            try:
                yield
            finally:
                if not conn.closed:
                    await conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))

    def migration_lock(self) -> AbstractAsyncContextManager[None]:
        return self._migration_lock()

    async def tables(self) -> list[str]:
        async with self.read() as tx:
            rows = await tx.fetchall(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
            )
        return [str(r[0]) for r in rows]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
