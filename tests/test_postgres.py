"""The PostgreSQL engine (issue 10): engine choice, placeholders, claims shared by several
connections, migrations under a lock and all-or-nothing, transient conflicts retried by the sweep,
start-up errors without passwords, and ``copy-db`` between SQLite and PostgreSQL.

The rest of the suite runs on both engines already (tests/conftest.py); these are the properties
that only show with PostgreSQL or with two engines at once."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from bot.__main__ import main
from bot.clock import to_ts
from bot.config import StorageSettings
from bot.models import Level, Notice
from storage import migrate as migrate_module
from storage.db import Database
from storage.engines import open_database
from storage.engines.postgres import PostgresDatabase, translate
from storage.engines.sqlite import SqliteDatabase
from storage.errors import is_transient, safe_url
from storage.migrate import Migration, load_migrations, migrate
from storage.outbox import OutboxRepo
from tests.e2e_support import REPO_ROOT
from tests.harness import TOKEN, Harness, appeal_of, local
from tests.support.engines import PostgresServer, storage_url

NOW = local(2026, 11, 23, 10, 0)


@pytest.fixture
def pg(postgres_server: PostgresServer) -> Any:
    """A function making fresh PostgreSQL databases for this test (migrated, or ``empty=True``)."""
    if not postgres_server.available():
        message = f"PostgreSQL for tests unreachable ({postgres_server.error})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    made: list[str] = []

    def make(*, empty: bool = False) -> str:
        url = postgres_server.create(empty=empty)
        made.append(url)
        return url

    yield make
    for url in made:
        postgres_server.drop(url)


async def connected(url: str, **options: Any) -> Database:
    db = open_database(url, **options)
    await db.connect()
    return db


# --- choosing the engine ---------------------------------------------------------------------------
def test_the_url_chooses_the_engine() -> None:
    assert isinstance(open_database("postgresql://u@h/db"), PostgresDatabase)
    assert isinstance(open_database("postgres://u@h/db"), PostgresDatabase)
    assert isinstance(open_database("/var/lib/unitbot/bot.sqlite3"), SqliteDatabase)
    assert isinstance(open_database(":memory:"), SqliteDatabase)


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("postgresql://user:pw@host:notaport/db", "port"),
        ("postgresql://user:pw@host:5432/", "no database name"),
        ("postgresql:///db", "no host"),
        ("mysql://user:pw@host/db", "not supported"),
    ],
)
def test_a_wrong_database_url_is_refused_without_echoing_it(value: str, complaint: str) -> None:
    with pytest.raises(ValidationError) as info:
        StorageSettings(database=value, _env_file=None)
    said = " ".join(str(e["msg"]) for e in info.value.errors())  # what `python -m bot` prints
    assert complaint in said
    assert "pw" not in said


def test_passwords_are_masked() -> None:
    assert safe_url("postgresql://bot:s3cret@db:5432/unitbot") == "postgresql://bot:***@db:5432/unitbot"
    assert safe_url("postgresql://bot@db/unitbot") == "postgresql://bot@db/unitbot"


@given(st.text(alphabet="?%a (),=_"))
def test_placeholders_become_psycopg_ones(sql: str) -> None:
    assert translate(sql) == sql.replace("%", "%%").replace("?", "%s")
    assert translate(sql, with_params=False) == sql  # psycopg does not parse a query without parameters


def test_a_question_mark_in_a_literal_stays() -> None:
    assert translate("SELECT '?', \"a?\" FROM t WHERE x LIKE '%y' AND z = ?") == (
        "SELECT '?', \"a?\" FROM t WHERE x LIKE '%%y' AND z = %s"
    )


# --- PostgreSQL behaviour ------------------------------------------------------------------------
async def test_rows_read_like_sqlite_rows(pg: Any) -> None:
    db = await connected(pg())
    try:
        async with db.write() as tx:
            new = await tx.insert(
                "INSERT INTO users (id, first_name, username, language_code, updated_at) VALUES (?, ?, ?, ?, ?)"
                " RETURNING id",
                (-1001000000001, "Olga\x00", "olga%", None, 1),
            )
            total = await tx.fetchval("SELECT SUM(id) FROM users")
            row = await tx.fetchone("SELECT id, first_name, username FROM users WHERE username LIKE '%g%%'")
        assert new == -1001000000001 and total == new and isinstance(total, int)  # NUMERIC comes back an int
        assert row is not None and (row[0], row["first_name"], row["username"]) == (new, "Olga", "olga%")
        assert dict(zip(row.keys(), row, strict=True)) == {"id": new, "first_name": "Olga", "username": "olga%"}
    finally:
        await db.close()


async def test_outbox_claims_of_two_connections_never_overlap(pg: Any) -> None:
    """The review found 125 of 250 claims overlapping without a row lock: with FOR UPDATE SKIP LOCKED
    two connections claiming at once take disjoint sets, and together all of them."""
    url = pg()
    dbs = [await connected(url), await connected(url)]
    try:
        async with dbs[0].write() as tx:
            for n in range(250):
                notice = Notice(1000 + n % 25, "t", {"n": n}, dedupe_key=f"k{n}")
                await OutboxRepo(tx).add(notice, community_id=None, now=NOW, not_before=NOW)
        claimed: list[int] = []

        async def claimer(db: Database, name: str) -> None:
            for round_ in itertools.count():
                async with db.write() as tx:  # each round its own claim token, as the sender's
                    items = await OutboxRepo(tx).claim(NOW, f"{name}{round_}", 5, timedelta(minutes=5))
                    await asyncio.sleep(0.001)  # hold the rows while the other connection claims
                if not items:
                    return
                claimed.extend(i.id for i in items)

        await asyncio.gather(claimer(dbs[0], "a"), claimer(dbs[1], "b"), claimer(dbs[1], "c"))
        assert len(claimed) == 250 and len(set(claimed)) == 250
    finally:
        for db in dbs:
            await db.close()


async def test_two_processes_migrating_an_empty_database_at_once_apply_each_migration_once(pg: Any) -> None:
    url = pg(empty=True)
    dbs = [await connected(url), await connected(url), await connected(url)]
    try:
        applied = await asyncio.gather(*(migrate(db) for db in dbs))
        everything = [m.version for m in load_migrations()]
        assert sorted(applied, key=len) == [[], [], everything]
        async with dbs[0].read() as tx:
            rows = await tx.fetchall("SELECT version FROM schema_migrations ORDER BY version")
        assert [r[0] for r in rows] == everything
    finally:
        for db in dbs:
            await db.close()


@pytest.mark.parametrize("engine", ["sqlite", "postgres"], indirect=True)
async def test_a_migration_that_fails_halfway_leaves_nothing_applied(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    broken = Migration(
        9999,
        "9999_broken.sql",
        "CREATE TABLE half_done (id {pk}, note TEXT);\nINSERT INTO half_done (note) VALUES ('x');\n"
        "ALTER TABLE no_such_table ADD COLUMN y TEXT;\n",
    )
    real = load_migrations()
    monkeypatch.setattr(migrate_module, "load_migrations", lambda: [*real, broken])
    db = await connected(storage_url(tmp_path / "m.sqlite3"))
    try:
        with pytest.raises(Exception, match=r"no_such_table|no such table"):
            await migrate(db)
        assert "half_done" not in await db.tables()
        async with db.read() as tx:
            versions = {r[0] for r in await tx.fetchall("SELECT version FROM schema_migrations")}
        assert versions == {m.version for m in real}
        assert "migration 9999_broken.sql failed: nothing of it was applied" in caplog.text
    finally:
        await db.close()


# --- transient conflicts are retried, bugs are not ------------------------------------------------
def test_transient_errors_are_told_apart_from_bugs() -> None:
    assert is_transient(psycopg.errors.DeadlockDetected("deadlock detected"))
    assert is_transient(psycopg.errors.SerializationFailure("could not serialize"))
    assert is_transient(psycopg.OperationalError("server closed the connection unexpectedly"))
    assert not is_transient(psycopg.errors.UniqueViolation("duplicate key"))
    assert not is_transient(ValueError("a bug"))


async def test_a_deadline_hit_by_a_transient_conflict_is_retried_not_marked_error(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await h.setup_community()
    appeal_id = await h.file_appeal()
    sweeper = h.services.sweeper
    real_fire = sweeper._fire
    failures = [psycopg.errors.DeadlockDetected("deadlock detected")]

    async def fire(tx: Any, row: Any, now: Any) -> str:
        if failures:
            raise failures.pop()
        return str(await real_fire(tx, row, now))

    monkeypatch.setattr(sweeper, "_fire", fire)
    h.clock.set(local(2026, 11, 24, 10, 0))  # past the first-reply deadline
    first = await sweeper.sweep()
    assert first.fired == {"retry": 1}
    async with h.services.db.read() as tx:
        outcomes = [r[0] for r in await tx.fetchall("SELECT outcome FROM deadlines WHERE appeal_id = ?", (appeal_id,))]
    assert "error" not in outcomes and None in outcomes  # still due
    second = await sweeper.sweep()
    assert second.fired.get("escalated") == 1 and "retry" not in second.fired
    assert (await appeal_of(h, appeal_id)).level == Level.BUILDING


# --- start-up on a wrong or unreachable server ------------------------------------------------------
def _run(tmp_path: Path, *args: str, **env_vars: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNITBOT_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.update(env_vars)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.e2e
def test_an_unreachable_server_is_one_clear_line_and_exit_2_without_the_password(tmp_path: Path) -> None:
    url = "postgresql://unitbot:Sup3rSecretPw@127.0.0.1:1/unitbot"
    result = _run(tmp_path, UNITBOT_TOKEN=TOKEN, UNITBOT_DATABASE=url, UNITBOT_API_BASE_URL="http://127.0.0.1:1/bot")
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Sup3rSecretPw" not in output and "Traceback" not in output
    lines = [ln for ln in result.stderr.splitlines() if "UNITBOT_DATABASE" in ln]
    assert len(lines) == 1 and "postgresql://unitbot:***@127.0.0.1:1/unitbot cannot be reached" in lines[0], output


@pytest.mark.e2e
def test_a_wrong_database_url_is_a_configuration_error(tmp_path: Path) -> None:
    result = _run(tmp_path, UNITBOT_TOKEN=TOKEN, UNITBOT_DATABASE="postgresql://unitbot:Sup3rSecretPw@db:5432/")
    assert result.returncode == 2
    assert "UNITBOT_DATABASE" in result.stderr and "no database name" in result.stderr
    assert "Sup3rSecretPw" not in result.stdout + result.stderr


# --- copy-db ----------------------------------------------------------------------------------------
async def _fingerprint(db: Database) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with db.read() as tx:
        for table in ("communities", "buildings", "appeals", "appeal_events", "deadlines", "outbox", "ledger"):
            rows = await tx.fetchall(f"SELECT * FROM {table} ORDER BY id")
            out[table] = [tuple(r) for r in rows]
    return out


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
async def test_copy_db_moves_the_whole_history_to_postgres_and_back(
    engine: str, h: Harness, pg: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await h.setup_community()
    ids = [await h.file_appeal(text=f"Problem {n}") for n in range(3)]
    h.clock.set(local(2026, 11, 25, 10, 0))
    await h.sweep()  # escalations, events and messages in the history
    source = h.services.db.url
    before = await _fingerprint(h.services.db)
    target = pg(empty=True)

    assert await asyncio.to_thread(main, ["copy-db", source, target]) == 0
    said = capsys.readouterr()
    assert "copied" in said.out and "rows compared" in said.out

    copy = await connected(target)
    try:
        assert await _fingerprint(copy) == before
        async with copy.write() as tx:  # the sequences moved past the copied ids
            new_event = await tx.insert(
                "INSERT INTO appeal_events (appeal_id, at, actor_id, kind, level) VALUES (?, ?, ?, ?, ?) RETURNING id",
                (ids[0], to_ts(NOW), None, "note", 1),
            )
            await tx.execute("DELETE FROM appeal_events WHERE id = ?", (new_event,))
        assert new_event == max(r[0] for r in before["appeal_events"]) + 1
    finally:
        await copy.close()

    # a non-empty target is refused, and left as it was
    assert await asyncio.to_thread(main, ["copy-db", source, target]) == 2
    assert "not empty" in capsys.readouterr().err

    back = tmp_path / "back.sqlite3"
    assert await asyncio.to_thread(main, ["copy-db", target, str(back)]) == 0
    again = await connected(str(back))
    try:
        assert await _fingerprint(again) == before
    finally:
        await again.close()


def test_copy_db_refuses_what_it_cannot_copy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["copy-db", str(tmp_path / "missing.sqlite3"), str(tmp_path / "t.sqlite3")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["copy-db", "postgresql://u:Pw12345@127.0.0.1:1/x", str(tmp_path / "t.sqlite3")]) == 2
    err = capsys.readouterr().err
    assert "cannot be reached" in err and "Pw12345" not in err


# --- the server drops connections, the pool runs dry --------------------------------------------
def _terminate_backends(url: str) -> int:
    name = url.rpartition("/")[2]
    with psycopg.connect(url.rpartition("/")[0] + "/postgres", autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return len(rows)


async def test_connections_the_server_dropped_are_replaced(pg: Any) -> None:
    """A server restart (here: every connection of the database terminated): a connection that
    rested is probed and replaced before use; one in constant use fails one transaction with a
    transient error, and the next transaction works."""
    url = pg()
    db = await connected(url, min_size=2)
    assert isinstance(db, PostgresDatabase)
    try:
        async with db.write() as tx:
            await tx.execute("INSERT INTO service_state (name, value, updated_at) VALUES ('k', 'v', 0)")
        assert await asyncio.to_thread(_terminate_backends, url) >= 1
        db._checks.idle = 0.0  # as if the connections had rested: probed before use
        async with db.read() as tx:
            assert await tx.fetchval("SELECT value FROM service_state WHERE name = 'k'") == "v"

        assert await asyncio.to_thread(_terminate_backends, url) >= 1
        db._checks.idle = 3600.0  # in constant use: not probed
        with pytest.raises(psycopg.OperationalError) as info:
            async with db.read() as tx:
                await tx.fetchval("SELECT value FROM service_state WHERE name = 'k'")
        assert is_transient(info.value)
        for _ in range(3):  # every broken connection fails at most once, then the pool has fresh ones
            try:
                async with db.read() as tx:
                    assert await tx.fetchval("SELECT value FROM service_state WHERE name = 'k'") == "v"
                break
            except psycopg.OperationalError:
                continue
        else:
            pytest.fail("the pool did not replace its dropped connections")
    finally:
        await db.close()


async def test_an_exhausted_pool_is_one_clear_log_line(pg: Any, caplog: pytest.LogCaptureFixture) -> None:
    db = await connected(pg(), max_size=2, acquire_timeout=0.3)
    release = asyncio.Event()

    async def hold() -> None:
        async with db.write():
            await release.wait()

    holders = [asyncio.create_task(hold()) for _ in range(2)]
    try:
        await asyncio.sleep(0.2)
        with pytest.raises(Exception) as info:
            async with db.read():
                pass
        assert is_transient(info.value)  # PoolTimeout: tried again later, not a bug
        assert "database: all 2 connections of the pool stayed busy for 0.3s" in caplog.text
    finally:
        release.set()
        await asyncio.gather(*holders)
        await db.close()
