"""Which database engine a test runs on: SQLite always, PostgreSQL whenever a server is reachable.

``tests/conftest.py`` parametrizes every storage-touching test over ``engine`` in (sqlite, postgres).
On PostgreSQL the admin URL is ``UNITBOT_TEST_POSTGRES`` or ``postgresql://postgres@127.0.0.1:5432/postgres``.
One template database per test session (per pytest-xdist worker) has every migration applied; each
database a test asks for (one per SQLite file name it would have used) is ``CREATE DATABASE x
TEMPLATE t`` (a file copy: a few tens of milliseconds) and dropped when the test ends; the template
is dropped at the end of the session. Unreachable: skipped locally, a failure under ``CI=true``.

Tests name their database by a path (``make_settings(tmp_path / "t.sqlite3")``); :func:`storage_url`
turns that path into what ``UNITBOT_DATABASE`` gets for the current engine (the same path twice in
one test: the same database, as a restart expects).
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
ENGINES = ("sqlite", "postgres")


def admin_url() -> str:
    return os.environ.get("UNITBOT_TEST_POSTGRES") or DEFAULT_ADMIN_URL


def url_for(database: str) -> str:
    """The admin URL with another database name."""
    base, _, _ = admin_url().rpartition("/")
    return f"{base}/{database}"


@dataclass
class PostgresServer:
    """The test session's PostgreSQL: a template database and the databases made from it."""

    template: str = ""
    error: str | None = None  # why the server cannot be used
    probed: bool = False
    made: list[str] = field(default_factory=list)

    def available(self) -> bool:
        if not self.probed:
            self.probed = True
            try:
                self._make_template()
            except Exception as exc:  # psycopg.Error, OSError: unreachable or refused
                self.error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        return self.error is None

    def _admin(self) -> Any:
        import psycopg

        return psycopg.connect(admin_url(), autocommit=True, connect_timeout=3)

    def _make_template(self) -> None:
        from storage.engines import open_database
        from storage.migrate import migrate

        worker = re.sub(r"\W", "", os.environ.get("PYTEST_XDIST_WORKER", "main"))
        name = f"unitbot_test_tpl_{worker}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.template = name

        async def apply() -> None:
            db = open_database(url_for(name))
            await db.connect()
            try:
                await migrate(db)
            finally:
                await db.close()

        asyncio.run(apply())

    def create(self, *, empty: bool = False) -> str:
        """A new database (migrated, or ``empty``); its URL."""
        name = f"unitbot_test_{uuid.uuid4().hex[:12]}"
        template = "template0" if empty else f'"{self.template}"'
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE {template}')
        self.made.append(name)
        return url_for(name)

    def drop(self, url: str) -> None:
        name = url.rpartition("/")[2]
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.made:
            self.made.remove(name)

    def close(self) -> None:
        if not self.template:
            return
        with self._admin() as conn:
            for name in [*self.made, self.template]:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.made.clear()
        self.template = ""


@dataclass
class EngineChoice:
    """The engine of the running test and the databases it made (reset by the ``engine`` fixture)."""

    engine: str = "sqlite"
    server: PostgresServer | None = None
    urls: dict[str, str] = field(default_factory=dict)  # path -> PostgreSQL URL

    def begin(self, engine: str, server: PostgresServer | None) -> None:
        self.engine = engine
        self.server = server
        self.urls = {}

    def end(self) -> None:
        if self.server is not None:
            for url in self.urls.values():
                self.server.drop(url)
        self.urls = {}
        self.engine = "sqlite"
        self.server = None

    def url(self, path: Path | str, *, empty: bool = False) -> str:
        if self.engine == "sqlite" or str(path) == ":memory:":
            return str(path)
        assert self.server is not None
        key = str(path)
        if key not in self.urls:
            self.urls[key] = self.server.create(empty=empty)
        return self.urls[key]


CURRENT = EngineChoice()  # one test at a time per process (pytest runs tests sequentially)


def storage_url(path: Path | str, *, empty: bool = False) -> str:
    """What ``UNITBOT_DATABASE`` is for the database a test names by ``path`` on the current engine."""
    return CURRENT.url(path, empty=empty)


def on_postgres() -> bool:
    return CURRENT.engine == "postgres"


def run_sql(
    database: Path | str, sql: str, params: tuple[Any, ...] = (), *, read_only: bool = False
) -> list[tuple[Any, ...]]:
    """One statement on a test's database from outside the bot (a SQLite file or a PostgreSQL URL),
    committed at once; the rows it returned. ``?`` placeholders on both engines."""
    if str(database).startswith("postgresql://"):
        import psycopg

        from storage.engines.postgres import translate

        with psycopg.connect(str(database), autocommit=True, connect_timeout=10) as conn:
            cur = conn.execute(translate(sql, bool(params)), params or None)
            return [tuple(r) for r in cur.fetchall()] if cur.description else []
    import sqlite3

    uri = f"file:{database}?mode=ro" if read_only else f"file:{database}"
    conn3 = sqlite3.connect(uri, uri=True, timeout=10, isolation_level=None)
    try:
        return [tuple(r) for r in conn3.execute(sql, params).fetchall()]
    finally:
        conn3.close()
