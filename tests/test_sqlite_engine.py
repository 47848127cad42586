"""The SQLite engine's transactions (storage/engines/sqlite.py): a transaction begins in the event
loop's thread when it needs no wait, and waits for another process's write lock in aiosqlite's
worker thread, so the loop keeps running meanwhile and nothing fails for being second."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiosqlite
import pytest

from storage.engines.sqlite import SqliteDatabase


async def _database(path: Path, **options: int) -> SqliteDatabase:
    db = SqliteDatabase(str(path), **options)
    await db.connect()
    return db


def _count_worker_trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements sent to aiosqlite's worker thread from now on."""
    trips: list[str] = []
    real = aiosqlite.Connection.execute

    def counted(self: aiosqlite.Connection, sql: str, *args: object) -> object:
        trips.append(sql)
        return real(self, sql, *args)

    monkeypatch.setattr(aiosqlite.Connection, "execute", counted)
    return trips


async def test_transactions_begin_without_a_trip_to_the_worker_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = await _database(tmp_path / "a.sqlite3")
    try:
        async with db.write() as tx:
            await tx.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        trips = _count_worker_trips(monkeypatch)
        for _ in range(3):
            async with db.write() as tx:
                await tx.execute("INSERT INTO t (v) VALUES ('x')")
            async with db.read() as tx:
                assert await tx.fetchval("SELECT COUNT(*) FROM t") is not None
        assert trips == []  # uncontended: every BEGIN ran in the loop's thread
        async with db.read() as tx:
            assert await tx.fetchval("SELECT COUNT(*) FROM t") == 3
            # the busy timeout is back after each write's no-wait attempt
            assert await tx.fetchval("PRAGMA busy_timeout") == 10_000
    finally:
        await db.close()


async def test_a_write_waits_for_another_process_lock_without_holding_up_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "b.sqlite3"
    first, second = await _database(path), await _database(path)  # two connections: two processes' worth
    try:
        async with first.write() as tx:
            await tx.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        trips = _count_worker_trips(monkeypatch)
        ticks = 0
        holding = asyncio.Event()
        release = asyncio.Event()

        async def hold_the_lock() -> None:
            async with first.write() as tx:
                await tx.execute("INSERT INTO t (v) VALUES ('first')")
                holding.set()
                await release.wait()

        async def ticker() -> None:
            nonlocal ticks
            while not release.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        holder = asyncio.create_task(hold_the_lock())
        await holding.wait()
        beat = asyncio.create_task(ticker())

        async def write_second() -> None:
            async with second.write() as tx:
                await tx.execute("INSERT INTO t (v) VALUES ('second')")

        writer = asyncio.create_task(write_second())
        await asyncio.sleep(0.3)
        assert not writer.done()  # waiting for the lock, not failed
        assert ticks >= 10  # and the loop ran meanwhile: the wait is in the worker thread
        assert trips == ["BEGIN IMMEDIATE"]
        release.set()
        await asyncio.gather(holder, writer, beat)
        async with second.read() as tx:
            assert [r[0] for r in await tx.fetchall("SELECT v FROM t ORDER BY id")] == ["first", "second"]
    finally:
        await first.close()
        await second.close()


async def test_a_write_that_cannot_get_the_lock_in_time_says_the_database_is_locked(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    first, second = await _database(path), await _database(path, busy_timeout_ms=200)
    try:
        async with first.write() as tx:
            await tx.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        async with first.write() as tx:
            await tx.execute("INSERT INTO t DEFAULT VALUES")
            with pytest.raises(Exception, match="locked"):
                async with second.write() as other:
                    await other.execute("INSERT INTO t DEFAULT VALUES")
        async with second.write() as tx:  # free again: the second connection works as before
            await tx.execute("INSERT INTO t DEFAULT VALUES")
            assert await tx.fetchval("PRAGMA busy_timeout") == 200
            assert await tx.fetchval("SELECT COUNT(*) FROM t") == 2
    finally:
        await first.close()
        await second.close()
