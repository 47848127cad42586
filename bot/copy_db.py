"""``python -m bot copy-db SOURCE TARGET``: move a community's whole history between databases.

SOURCE and TARGET are each a SQLite file path or a ``postgresql://`` URL (as ``UNITBOT_DATABASE``
takes them): SQLite -> PostgreSQL to grow, PostgreSQL -> SQLite to go back. The target is created
(SQLite) or must exist (PostgreSQL: ``createdb``), is migrated, and must hold nothing; the copy is
checked (row counts, a sample of rows) before it is reported done. Stop the bot first: rows written
to the source after the copy began are not in the target.

Exit status: 0 copied and checked, 1 the check found a difference (the target must not be used),
2 refused (a wrong URL, a server that cannot be reached, a source that is not current, a target
that is not empty). Passwords in URLs are never printed.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.config import check_database_setting, database_url, is_postgres_url
from storage.copy import CopyMismatch, CopyRefused, CopyReport, copy_database
from storage.engines import open_database
from storage.errors import DatabaseUnavailable, safe_url

OK, MISMATCH, REFUSED = 0, 1, 2


def _say(text: str) -> None:
    print(f"unitbot: {text}", file=sys.stderr)


def _where(value: str) -> str:
    return safe_url(value) if is_postgres_url(value) else value


def _check(label: str, value: str) -> str | None:
    try:
        check_database_setting(value)
    except ValueError as exc:
        _say(f"copy-db: {label} {exc}")
        return None
    if value.strip() == ":memory:":
        _say(f"copy-db: {label} ':memory:' holds nothing that outlives the command")
        return None
    url = database_url(value)
    if not is_postgres_url(url) and label == "SOURCE" and not Path(url).is_file():
        _say(f"copy-db: SOURCE {url}: no such file")
        return None
    if not is_postgres_url(url) and not Path(url).parent.is_dir():
        _say(f"copy-db: {label} {url}: no such directory")
        return None
    return url


async def _copy(source: str, target: str) -> CopyReport:
    src, dst = open_database(source), open_database(target)
    try:
        await src.connect()
        await dst.connect()
        return await copy_database(src, dst)
    finally:
        await dst.close()
        await src.close()


def copy_db_command(source: str, target: str) -> int:
    src, dst = _check("SOURCE", source), _check("TARGET", target)
    if src is None or dst is None:
        return REFUSED
    if src == dst:
        _say("copy-db: SOURCE and TARGET are the same database")
        return REFUSED
    try:
        report = asyncio.run(_copy(src, dst))
    except (CopyRefused, DatabaseUnavailable) as exc:
        _say(f"copy-db: refused: {exc}")
        return REFUSED
    except CopyMismatch as exc:
        _say(f"copy-db: the copy in {_where(dst)} does not match the source ({exc}): do not use it")
        return MISMATCH
    biggest = sorted(report.rows.items(), key=lambda kv: -kv[1])[:4]
    counts = ", ".join(f"{name} {count}" for name, count in biggest)
    print(
        f"unitbot: copied {report.total} rows in {len(report.rows)} tables from {_where(src)} to {_where(dst)} "
        f"({counts}); checked: every table's row count, {report.sampled} rows compared"
    )
    return OK
