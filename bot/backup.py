"""``python -m bot backup FILE`` and ``python -m bot restore FILE [--force]`` for SQLite.

A backup is consistent while the bot runs (SQLite's online backup API reads one snapshot) and is
checked (integrity, a unitbot schema) before the command says it is done. A restore refuses a file
that is not a unitbot database or comes from a newer unitbot, and refuses to overwrite a database
that already holds data (a running bot's, typically) unless ``--force`` is given. PostgreSQL
databases are backed up with pg_dump / pg_restore (see deploy/README.md).
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

from storage.backup import DatabaseFacts, inspect, online_backup, restore_into
from storage.migrate import load_migrations

OK, FAILED, USAGE = 0, 1, 2
PG_HINT = "this is a PostgreSQL database: use pg_dump / pg_restore (deploy/README.md, Backups)"


def _say(text: str) -> None:
    print(f"unitbot: {text}", file=sys.stderr)


def _database() -> Path | None:
    from bot.config import StorageSettings, load_settings

    settings = load_settings(StorageSettings)
    if not isinstance(settings, StorageSettings):
        return None
    if settings.database.startswith(("postgres://", "postgresql://")):
        _say(PG_HINT)
        return None
    if settings.database == ":memory:":
        _say("UNITBOT_DATABASE is ':memory:': there is nothing to back up or restore")
        return None
    return Path(settings.database_path())


def _summary(facts: DatabaseFacts) -> str:
    version = max(facts.versions, default=0)
    counts = ", ".join(f"{name} {count}" for name, count in facts.rows.items())
    return f"schema version {version}; {counts}"


def schema_problem(facts: DatabaseFacts) -> str | None:
    """Why ``facts`` is not a database this code can use, or None."""
    if facts.integrity != "ok":
        return f"the file is damaged ({facts.integrity})"
    if not facts.is_unitbot:
        return "the file is not a unitbot database (no schema_migrations)"
    known = {m.version for m in load_migrations()}
    if unknown := sorted(facts.versions - known):
        return f"the file comes from a newer unitbot (migrations {', '.join(map(str, unknown))} are unknown here)"
    return None


def backup_command(file: str) -> int:
    database = _database()
    if database is None:
        return USAGE
    target = Path(file).expanduser()
    if not database.exists():
        _say(f"no database at {database}")
        return FAILED
    if target.resolve() == database.resolve():
        _say("the backup must not be the database itself")
        return USAGE
    try:
        online_backup(database, target)
        facts = inspect(target)
    except (sqlite3.Error, OSError) as exc:
        _say(f"backup failed: {exc}")
        return FAILED
    if problem := schema_problem(facts):
        _say(f"backup written but unusable: {problem}")
        return FAILED
    print(f"backup of {database} written to {target} ({_summary(facts)})")
    return OK


def restore_command(file: str, *, force: bool) -> int:
    database = _database()
    if database is None:
        return USAGE
    source = Path(file).expanduser()
    if not source.is_file():
        _say(f"no backup at {source}")
        return FAILED
    try:
        facts = inspect(source)
    except sqlite3.DatabaseError as exc:
        _say(f"{source} is not an SQLite database ({exc})")
        return FAILED
    if problem := schema_problem(facts):
        _say(f"refusing to restore: {problem}")
        return FAILED
    try:
        current = inspect(database)
    except sqlite3.DatabaseError:
        current = DatabaseFacts(exists=True, tables=frozenset({"?"}))  # unreadable: not empty either
    if current.exists and not current.empty and not force:
        _say(
            f"refusing to overwrite {database}: it holds data ({_summary(current)}); stop the bot and "
            "repeat with --force to replace it"
        )
        return FAILED
    if current.exists and not current.empty:
        _say(f"replacing the data in {database} (--force); restart every bot instance afterwards")
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
        restore_into(source, database)
        restored = inspect(database)
    except (sqlite3.Error, OSError) as exc:
        _say(f"restore failed: {exc}")
        return FAILED
    print(f"restored {source} into {database} ({_summary(restored)})")
    return OK
