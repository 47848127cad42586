"""``python -m bot copy-db SOURCE TARGET``: a community's whole history from one database to another
(SQLite -> PostgreSQL to grow, PostgreSQL -> SQLite to shrink or to inspect), checked.

* The source must be at this code's schema version (start the bot on it once otherwise); the
  target is migrated to it and must then hold nothing (a non-empty target is refused).
* Tables are copied parents first (foreign keys), every row, in one target transaction read from
  one source snapshot: a copy that fails leaves the target empty.
* PostgreSQL's id sequences are moved past the copied ids (the next appeal gets the next number).
* Checked afterwards: the applied migrations, the row count of every table, and a sample of rows
  (the first and last ``SAMPLE`` by primary key) compared column by column.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from storage.db import Database, Tx
from storage.migrate import load_migrations, migrate

log = logging.getLogger(__name__)

CHUNK = 1000  # rows read and written per round
SAMPLE = 50  # rows per end of a table compared after the copy
ENGINE_TABLES = frozenset({"sqlite_sequence", "sqlite_stat1"})


class CopyRefused(Exception):
    """The copy was not started (the message says why)."""


class CopyMismatch(Exception):
    """The check after the copy found a difference (the message says where)."""


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]  # primary key columns
    parents: frozenset[str]  # tables its foreign keys point to


@dataclass
class CopyReport:
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows copied
    sampled: int = 0  # rows compared one by one

    @property
    def total(self) -> int:
        return sum(self.rows.values())


async def describe(db: Database, tx: Tx) -> dict[str, Table]:
    """The tables with their columns, primary keys and foreign-key parents."""
    tables: dict[str, Table] = {}
    if db.dialect == "sqlite":
        names = [
            str(r[0]) for r in await tx.fetchall("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        ]
        for name in names:
            if name in ENGINE_TABLES:
                continue
            info = await tx.fetchall(f'PRAGMA table_info("{name}")')
            columns = tuple(str(r["name"]) for r in info)
            key = tuple(str(r["name"]) for r in sorted((r for r in info if r["pk"]), key=lambda r: int(r["pk"])))
            parents = frozenset(str(r["table"]) for r in await tx.fetchall(f'PRAGMA foreign_key_list("{name}")'))
            tables[name] = Table(name, columns, key or columns, parents - {name})
        return tables
    names = [
        str(r[0])
        for r in await tx.fetchall(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
        )
    ]
    for name in names:
        columns = tuple(
            str(r[0])
            for r in await tx.fetchall(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
                " AND table_name = ? ORDER BY ordinal_position",
                (name,),
            )
        )
        key = tuple(
            str(r[0])
            for r in await tx.fetchall(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
                " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = CAST(? AS regclass) AND i.indisprimary"
                " ORDER BY array_position(i.indkey, a.attnum)",
                (name,),
            )
        )
        parents = frozenset(
            str(r[0])
            for r in await tx.fetchall(
                "SELECT CAST(confrelid AS regclass) FROM pg_constraint WHERE contype = 'f'"
                " AND conrelid = CAST(? AS regclass)",
                (name,),
            )
        )
        tables[name] = Table(name, columns, key or columns, parents - {name})
    return tables


def parents_first(tables: dict[str, Table]) -> list[Table]:
    """Tables ordered so that each comes after the tables its foreign keys point to."""
    ordered: list[Table] = []
    placed: set[str] = set()
    pending = dict(sorted(tables.items()))
    while pending:
        ready = [t for t in pending.values() if t.parents <= placed | (t.parents - tables.keys())]
        if not ready:  # pragma: no cover - a cycle of foreign keys (the schema has none)
            raise CopyRefused(f"foreign keys form a cycle among {sorted(pending)}")
        for table in ready:
            ordered.append(table)
            placed.add(table.name)
            del pending[table.name]
    return ordered


async def versions(tx: Tx) -> set[int]:
    return {int(r[0]) for r in await tx.fetchall("SELECT version FROM schema_migrations")}


async def _count(tx: Tx, table: str) -> int:
    return int(await tx.fetchval(f'SELECT COUNT(*) FROM "{table}"'))  # noqa: S608 - a name from the schema


async def _holds_data(db: Database) -> list[str]:
    async with db.read() as tx:
        tables = await describe(db, tx)
        return [t for t in sorted(tables) if t != "schema_migrations" and await _count(tx, t)]


async def copy_database(source: Database, target: Database) -> CopyReport:
    """Copy everything from ``source`` into the empty ``target`` and check it (both connected)."""
    current = {m.version for m in load_migrations()}
    async with source.read() as tx:
        tables = await describe(source, tx)
        if "schema_migrations" not in tables:
            raise CopyRefused("the source holds no unitbot database (no schema_migrations table)")
        have = await versions(tx)
    if have != current:
        raise CopyRefused(
            f"the source is at schema version {max(have, default=0)}, this code at {max(current)}: "
            "start the bot once on the source (it migrates), then copy"
        )
    filled = await _holds_data(target)
    if filled:
        raise CopyRefused(f"the target is not empty (rows in {', '.join(filled[:5])}): copy into a new database")
    await migrate(target)
    filled = await _holds_data(target)
    if filled:
        raise CopyRefused(f"the target is not empty (rows in {', '.join(filled[:5])}): copy into a new database")

    report = CopyReport()
    async with source.read() as src, target.write() as dst:
        target_tables = await describe(target, dst)
        for table in parents_first(tables):
            if table.name == "schema_migrations":
                continue
            if table.name not in target_tables:
                raise CopyRefused(f"the target has no table {table.name}")
            columns = [c for c in table.columns if c in target_tables[table.name].columns]
            report.rows[table.name] = await _copy_table(src, dst, table, columns)
        if target.dialect == "postgres":
            for table in target_tables.values():
                if table.key == ("id",):
                    await _reset_sequence(dst, table.name)
    report.sampled = await check_copy(source, target, tables)
    return report


async def _copy_table(src: Tx, dst: Tx, table: Table, columns: list[str]) -> int:
    names = ", ".join(f'"{c}"' for c in columns)
    order = ", ".join(f'"{c}"' for c in table.key)
    insert = f'INSERT INTO "{table.name}" ({names}) VALUES ({", ".join("?" for _ in columns)})'  # noqa: S608
    copied = 0
    last: tuple[Any, ...] | None = None
    while True:  # keyset pagination on the primary key: each round reads the next CHUNK rows
        where, params = ("", []) if last is None else (_after(table.key), list(last))
        rows = await src.fetchall(
            f'SELECT {names} FROM "{table.name}"{where} ORDER BY {order} LIMIT ?',  # noqa: S608
            (*params, CHUNK),
        )
        if not rows:
            return copied
        await dst.executemany(insert, [tuple(r) for r in rows])
        copied += len(rows)
        positions = [columns.index(k) for k in table.key]
        last = tuple(rows[-1][i] for i in positions)


def _after(key: tuple[str, ...]) -> str:
    """``WHERE (k1, k2) > (?, ?)`` spelled out (row values compare the same on both engines)."""
    return " WHERE (" + ", ".join(f'"{k}"' for k in key) + ") > (" + ", ".join("?" for _ in key) + ")"


async def _reset_sequence(tx: Tx, table: str) -> None:
    sequence = await tx.fetchval("SELECT pg_get_serial_sequence(?, 'id')", (table,))
    if sequence is None:
        return
    top = await tx.fetchval(f'SELECT MAX(id) FROM "{table}"')  # noqa: S608
    if top is None:
        await tx.fetchval("SELECT setval(CAST(? AS regclass), 1, false)", (sequence,))
    else:
        await tx.fetchval("SELECT setval(CAST(? AS regclass), ?, true)", (sequence, int(top)))


async def check_copy(source: Database, target: Database, tables: dict[str, Table]) -> int:
    """Row counts of every table and a sample of rows compared; returns how many rows were compared.
    Raises :class:`CopyMismatch` on the first difference."""
    sampled = 0
    async with source.read() as src, target.read() as dst:
        if await versions(src) != await versions(dst):
            raise CopyMismatch("schema_migrations: the target is at another schema version than the source")
        for table in tables.values():
            if table.name == "schema_migrations":
                continue
            want, got = await _count(src, table.name), await _count(dst, table.name)
            if want != got:
                raise CopyMismatch(f"{table.name}: {want} rows in the source, {got} in the target")
            names = ", ".join(f'"{c}"' for c in table.columns)
            sample: list[Any] = []
            for direction in ("", " DESC"):
                sample += await src.fetchall(
                    f'SELECT {names} FROM "{table.name}" ORDER BY '  # noqa: S608
                    + ", ".join(f'"{c}"{direction}' for c in table.key)
                    + " LIMIT ?",
                    (SAMPLE,),
                )
            where = " AND ".join(f'"{k}" = ?' for k in table.key)
            positions = [table.columns.index(k) for k in table.key]
            for row in sample:
                values = tuple(row)
                other = await dst.fetchone(
                    f'SELECT {names} FROM "{table.name}" WHERE {where}',  # noqa: S608
                    tuple(values[i] for i in positions),
                )
                if other is None or tuple(other) != values:
                    key = tuple(values[i] for i in positions)
                    raise CopyMismatch(f"{table.name}: the row with key {key} differs in the target")
                sampled += 1
    return sampled
