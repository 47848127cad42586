"""What a database error means for the people using the bot (engine-independent checks)."""

from __future__ import annotations

import sqlite3
from urllib.parse import urlsplit, urlunsplit

# SQLite's messages for "nothing can be written now" (SQLITE_FULL, SQLITE_READONLY, SQLITE_IOERR,
# SQLITE_CANTOPEN on the journal, a file deleted under a running process)
_SQLITE_UNWRITABLE = (
    "database or disk is full",
    "readonly database",
    "disk i/o error",
    "unable to open database file",
)
# PostgreSQL SQLSTATEs: class 53 (insufficient resources: disk_full 53100, out_of_memory 53200, ...),
# read_only_sql_transaction 25006
_PG_UNWRITABLE_PREFIXES = ("53", "25006")


def is_unwritable(exc: BaseException) -> bool:
    """True if ``exc`` says the database cannot store anything right now (disk full, read-only,
    I/O error): what was sent could not be saved, through no fault of the sender. Follows the
    exception's causes (a driver error wrapped by the caller)."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 5:
        if _unwritable(current):
            return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False


def _unwritable(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.OperationalError | sqlite3.DatabaseError):
        message = str(exc).lower()
        return any(part in message for part in _SQLITE_UNWRITABLE)
    sqlstate = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    return isinstance(sqlstate, str) and sqlstate.startswith(_PG_UNWRITABLE_PREFIXES)


class DatabaseUnavailable(Exception):
    """The database server cannot be reached or refused the connection (the message never holds a
    password: see :func:`safe_url`)."""


def safe_url(url: str) -> str:
    """A database URL without its password, for log lines and error messages."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "postgresql://<invalid URL>"
    if password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, f"{parts.username or ''}:***@{host}", parts.path, parts.query, parts.fragment))


# PostgreSQL SQLSTATEs worth trying again: serialization_failure, deadlock_detected, lock_not_available,
# and the connection classes (08: connection exception, 57P01-03: the server shut down or restarts)
_PG_TRANSIENT_PREFIXES = ("40001", "40P01", "55P03", "08", "57P01", "57P02", "57P03")


def is_transient(exc: BaseException) -> bool:
    """True if ``exc`` is a conflict or an outage that goes away (a serialization failure, a deadlock,
    a lost connection, a pool with no free connection): the work should be tried again later, not
    marked failed. Follows the exception's causes."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 5:
        sqlstate = getattr(current, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_PG_TRANSIENT_PREFIXES):
            return True
        name = type(current).__name__
        if name in ("PoolTimeout", "OperationalError") and type(current).__module__.startswith("psycopg"):
            return True  # no free connection / the connection broke (no SQLSTATE from the server)
        if isinstance(current, sqlite3.OperationalError) and "locked" in str(current).lower():
            return True  # SQLITE_BUSY after the busy timeout
        current = current.__cause__ or current.__context__
        seen += 1
    return False
