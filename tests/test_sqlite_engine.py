"""The SQLite engine's transactions (storage/engines/sqlite.py): a transaction begins in the event
loop's thread when it needs no wait, and waits for another process's write lock in aiosqlite's
worker thread, so the loop keeps running meanwhile and nothing fails for being second."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
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


async def test_a_write_cancelled_while_it_waits_for_the_lock_leaves_no_transaction_and_no_stall(
    tmp_path: Path,
) -> None:
    """An update cancelled past the stop's grace while another process holds the write lock: the
    worker thread's BEGIN is waited for and undone, so the loop never blocks on the connection and
    nothing is left holding the lock."""
    path = tmp_path / "d.sqlite3"
    db = await _database(path, busy_timeout_ms=5000)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)  # another process
    try:
        async with db.write() as tx:
            await tx.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO t (v) VALUES ('other')")
        commit = threading.Timer(1.0, lambda: other.execute("COMMIT"))
        commit.start()

        async def write() -> None:
            async with db.write() as tx:
                await tx.execute("INSERT INTO t (v) VALUES ('cancelled')")

        writer = asyncio.create_task(write())
        await asyncio.sleep(0.1)
        writer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await writer
        longest = 0.0

        async def ticker() -> None:
            nonlocal longest
            last = time.monotonic()
            while True:
                await asyncio.sleep(0.01)
                now = time.monotonic()
                longest, last = max(longest, now - last), now

        beat = asyncio.create_task(ticker())
        async with db.read() as tx:  # waits for the cancelled BEGIN to end, without blocking the loop
            assert await tx.fetchval("SELECT COUNT(*) FROM t") == 1
        beat.cancel()
        commit.join()
        assert longest < 0.5, longest  # the loop's thread never waited on the connection
        async with db.write() as tx:
            await tx.execute("INSERT INTO t (v) VALUES ('later')")
        other.execute("PRAGMA busy_timeout = 1000")
        other.execute("BEGIN IMMEDIATE")  # the other process can write: nothing holds the lock
        other.execute("ROLLBACK")
        assert [r[0] for r in other.execute("SELECT v FROM t ORDER BY id")] == ["other", "later"]
    finally:
        other.close()
        await db.close()


async def test_a_commit_that_fails_rolls_back_and_the_connection_goes_on(tmp_path: Path) -> None:
    """A COMMIT can fail and leave the transaction open (here a deferred foreign key; a full disk
    or an I/O error the same): it is rolled back, so the next transaction begins."""
    db = await _database(tmp_path / "e.sqlite3")
    try:
        async with db.write() as tx:
            await tx.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
            await tx.execute(
                "CREATE TABLE child (id INTEGER PRIMARY KEY,"
                " parent_id INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
            )
        with pytest.raises(sqlite3.IntegrityError):
            async with db.write() as tx:
                await tx.execute("INSERT INTO child (parent_id) VALUES (7)")  # fails only at COMMIT
        async with db.write() as tx:
            await tx.execute("INSERT INTO parent (id) VALUES (7)")
        async with db.read() as tx:
            assert await tx.fetchval("SELECT COUNT(*) FROM child") == 0
            assert await tx.fetchval("SELECT COUNT(*) FROM parent") == 1
    finally:
        await db.close()
