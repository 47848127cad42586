"""What a database error means for the people using the bot (engine-independent checks)."""

from __future__ import annotations

import sqlite3

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
