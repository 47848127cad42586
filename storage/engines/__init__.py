"""Database engines behind ``storage.db.Database``: ``sqlite`` (the default) and ``postgres``;
:func:`open_database` picks one by the URL (each engine imports psycopg or aiosqlite only when used)."""

from __future__ import annotations

from typing import Any

from storage.db import Database, is_postgres_url


def open_database(url: str, **options: Any) -> Database:
    """The engine for ``url``: ``postgresql://...`` (or ``postgres://``) is PostgreSQL, anything else
    a SQLite file path (``:memory:`` for a throw-away database). Nothing is opened yet."""
    if is_postgres_url(url):
        from storage.engines.postgres import PostgresDatabase

        return PostgresDatabase(url.strip(), **options)
    from storage.engines.sqlite import SqliteDatabase

    return SqliteDatabase(url, **options)
