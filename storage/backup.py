"""SQLite file operations for backups: an online copy (SQLite's backup API), the restore, and what a
database file holds. Synchronous on purpose: they run in a command-line process (or a worker
thread), on their own connections."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

BUSY_TIMEOUT_MS = 10_000
COUNTED = ("communities", "buildings", "appeals", "outbox")  # shown after a backup or restore


@dataclass(frozen=True)
class DatabaseFacts:
    exists: bool
    integrity: str = "ok"  # "ok" or SQLite's first complaint
    tables: frozenset[str] = frozenset()
    versions: frozenset[int] = frozenset()  # applied migrations
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.tables - {"sqlite_sequence"})

    @property
    def is_unitbot(self) -> bool:
        return "schema_migrations" in self.tables and bool(self.versions)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def inspect(path: Path) -> DatabaseFacts:
    """What the file holds; a file that is not SQLite at all raises ``sqlite3.DatabaseError``."""
    if not path.exists() or path.stat().st_size == 0:
        return DatabaseFacts(exists=path.exists())
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        integrity = str(conn.execute("PRAGMA quick_check").fetchone()[0])
        tables = frozenset(
            str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        )
        versions: frozenset[int] = frozenset()
        if "schema_migrations" in tables:
            versions = frozenset(int(r[0]) for r in conn.execute("SELECT version FROM schema_migrations"))
        rows = {
            name: int(conn.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0])  # noqa: S608 - fixed names
            for name in COUNTED
            if name in tables
        }
        return DatabaseFacts(True, integrity, tables, versions, rows)
    finally:
        conn.close()


def online_backup(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` while other processes may be writing to it. The copy is made in
    one step of the backup API, which reads one consistent snapshot (in WAL mode the writers go on
    meanwhile); it goes to ``target.part`` first and replaces ``target`` only when complete."""
    partial = target.with_name(target.name + ".part")
    partial.unlink(missing_ok=True)
    src = _connect(source)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)  # pages=-1: everything in one step, i.e. one snapshot
        finally:
            dst.close()
    finally:
        src.close()
    os.replace(partial, target)


def restore_into(backup: Path, target: Path) -> None:
    """Write the backup's pages into ``target`` through SQLite (the backup API again), so the target
    ends consistent with its own -wal / -shm files, whatever mode it was in."""
    src = _connect(backup)
    try:
        dst = _connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
