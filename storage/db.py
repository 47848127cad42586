"""The database interface: one small abstract ``Database`` / ``Tx`` pair, two engines behind it.

* SQLite (``storage/engines/sqlite.py``, aiosqlite, WAL): the default, ``UNITBOT_DATABASE`` a file path.
* PostgreSQL (``storage/engines/postgres.py``, psycopg 3 with an async connection pool):
  ``UNITBOT_DATABASE=postgresql://user@host/db``.

``storage.engines.open_database(url)`` picks the engine. All SQL in the project is written once, with ``?``
placeholders and portable constructs (``INSERT ... ON CONFLICT``, ``RETURNING``, partial indexes); the
PostgreSQL engine translates placeholders and adds ``FOR UPDATE SKIP LOCKED`` where
:meth:`Tx.lock_clause` is used, so claims taken by several processes are disjoint.

Transactions:
* ``async with db.write() as tx`` for a transaction that writes. SQLite: ``BEGIN IMMEDIATE`` (the
  one writer of the file). PostgreSQL: READ COMMITTED, its default; each statement sees what was
  committed before it, a conditional ``UPDATE ... WHERE <still so>`` waits for a row another
  transaction holds and then re-checks its condition, and claims lock the rows they take.
* ``async with db.read() as tx`` for reads: one consistent snapshot (PostgreSQL: REPEATABLE READ).
Repositories receive a ``Tx`` and never commit; services own the transaction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Literal, Protocol

Params = Sequence[Any]
Dialect = Literal["sqlite", "postgres"]
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class Row(Protocol):
    """A result row: by position (``row[0]``) or by column name (``row["id"]``); ``sqlite3.Row`` and
    the PostgreSQL engine's rows both are one."""

    def __getitem__(self, key: Any, /) -> Any: ...

    def keys(self) -> list[str]: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Any]: ...


class Tx(ABC):
    """A transaction handle passed to repositories."""

    dialect: Dialect

    def __init__(self, *, writing: bool = False) -> None:
        self.memo: dict[object, Any] = {}  # values derived within this transaction (e.g. calendars)
        self.writing = writing  # opened by db.write()

    @abstractmethod
    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; the number of rows it changed."""

    @abstractmethod
    async def executemany(self, sql: str, rows: Iterable[Params]) -> None: ...

    @abstractmethod
    async def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...

    @abstractmethod
    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...

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

    def read_for_update(self) -> str:
        """Suffix for reading a row this write transaction is going to change: PostgreSQL locks it
        (``FOR UPDATE``: a concurrent writer of the same row waits, then reads the row as committed),
        so read-check-write on one row behaves as under SQLite's single writer; nothing on SQLite or
        in a read transaction."""
        return " FOR UPDATE" if self.dialect == "postgres" and self.writing else ""

    def lock_clause(self) -> str:
        """Row-locking suffix for claim queries: SQLite serialises writers already; PostgreSQL locks
        the rows a claim takes and skips those another transaction holds."""
        return "" if self.dialect == "sqlite" else " FOR UPDATE SKIP LOCKED"


class Database(ABC):
    """One database, opened by ``connect()`` and closed by ``close()``; see ``storage.engines.open_database``."""

    url: str  # what UNITBOT_DATABASE said (a file path or a postgresql:// URL)

    @property
    @abstractmethod
    def dialect(self) -> Dialect: ...

    @abstractmethod
    async def connect(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def write(self) -> AbstractAsyncContextManager[Tx]:
        """``async with db.write() as tx``: a transaction that writes."""

    @abstractmethod
    def read(self) -> AbstractAsyncContextManager[Tx]:
        """``async with db.read() as tx``: a read transaction (a consistent snapshot)."""

    def migration_lock(self) -> AbstractAsyncContextManager[None]:
        """Held around migrations so that processes starting at once apply each migration once.
        SQLite: nothing more is needed (each migration is checked and applied in one immediate
        transaction); PostgreSQL: a session advisory lock."""
        return _no_lock()

    @abstractmethod
    async def tables(self) -> list[str]:
        """The names of the tables in the database (without the engine's own)."""


@asynccontextmanager
async def _no_lock() -> AsyncIterator[None]:
    yield


def is_postgres_url(url: str) -> bool:
    return url.strip().lower().startswith(POSTGRES_SCHEMES)
