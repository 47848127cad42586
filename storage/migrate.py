"""Versioned schema migrations: ``storage/migrations/NNNN_name.sql``, applied in order, once each.

Each file is applied in its own write transaction together with its row in ``schema_migrations``
(DDL is transactional on both engines): a migration that fails halfway leaves nothing behind, and
the database stays at the version before it. Processes starting at once are kept apart by the
engine's ``migration_lock`` (PostgreSQL: an advisory lock; SQLite: the immediate transaction), so
each migration is applied once. ``{pk}`` in a file stands for the dialect's auto-increment primary
key; both engines run the same files.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources

from storage.db import Database

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
PK = {"sqlite": "INTEGER PRIMARY KEY", "postgres": "BIGSERIAL PRIMARY KEY"}


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    found: list[Migration] = []
    for entry in resources.files("storage.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions: {versions}")
    return found


def split_statements(sql: str) -> list[str]:
    """Split a migration file on ``;`` at line ends (no procedural SQL in migrations)."""
    lines = [ln for ln in sql.splitlines() if not ln.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";\n") if s.strip().strip(";")]


async def migrate(db: Database) -> list[int]:
    """Bring the schema up to date; returns the versions applied now."""
    async with db.migration_lock():
        return await _migrate(db)


async def _migrate(db: Database) -> list[int]:
    async with db.write() as tx:
        await tx.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
        )
    applied: list[int] = []
    for mig in load_migrations():
        async with db.write() as tx:
            done = await tx.fetchval("SELECT 1 FROM schema_migrations WHERE version = ?", (mig.version,))
            if done:
                continue
            try:
                for stmt in split_statements(mig.sql.replace("{pk}", PK[db.dialect])):
                    await tx.execute(stmt.rstrip(";"))
            except Exception:
                log.error("migration %s failed: nothing of it was applied (the database stays as it was)", mig.name)
                raise
            await tx.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (mig.version, mig.name))
            applied.append(mig.version)
            log.info("applied migration %s", mig.name)
    return applied
