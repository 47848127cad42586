"""Lists stay flat as history grows (issue 8): `/status` in a building chat, a unit head's and a
building head's `/open`, the staff chat's `/open` and `/myappeals` read only what they show.

Two checks, both deterministic (no wall clock): every statement these commands run on `appeals`
is answered by an index search, never a scan (EXPLAIN QUERY PLAN), and the work SQLite does for
them (virtual-machine steps, counted by a progress handler) is the same with 50 or with 3,000
closed appeals in the history.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from bot.clock import to_ts
from storage.engines.sqlite import SqliteTx as Tx  # the engine these tests read the plans of
from tests.harness import Harness
from tests.support import updates

pytestmark = pytest.mark.sqlite_only  # reads SQLite's query plans (EXPLAIN QUERY PLAN) and its raw connection

Statement = tuple[str, tuple[Any, ...]]


@contextmanager
def recorded_statements(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Statement]]:
    """Every SELECT run through a ``Tx`` while inside (SQL and parameters)."""
    seen: list[Statement] = []
    for name in ("fetchone", "fetchall"):
        original = getattr(Tx, name)

        def recording(self: Tx, sql: str, params: Any = (), _original: Any = original) -> Any:
            seen.append((sql, tuple(params)))
            return _original(self, sql, params)

        monkeypatch.setattr(Tx, name, recording)
    yield seen
    monkeypatch.undo()


def raw(h: Harness) -> sqlite3.Connection:
    conn: sqlite3.Connection = h.services.db._connection()._conn
    return conn


async def add_history(h: Harness, count: int, first_id: int) -> None:
    """``count`` closed appeals of the resident in unit 1 (some at staff level, resolved long ago)."""
    async with h.services.db.read() as tx:
        appeal = await tx.fetchone("SELECT * FROM appeals ORDER BY id LIMIT 1")
    assert appeal is not None
    old = to_ts(h.clock.now()) - 400 * 86400  # resolved more than a year ago: not "this month"
    rows = [
        (
            first_id + i,
            appeal["community_id"],
            appeal["building_id"],
            appeal["unit_id"],
            appeal["resident_id"],
            "problem",
            "closed",
            2 if i % 3 == 0 else 0,
            None,
            f"old appeal {i}",
            f"hash{i}",
            old + i,
            old + i + 3600,
            old + i + 7200,
            old + i + 86400,
            old + i + 86400,
            old + i + 86400,
        )
        for i in range(count)
    ]
    async with h.services.db.write() as tx:
        await tx.executemany(
            "INSERT INTO appeals (id, community_id, building_id, unit_id, resident_id, category, status, level,"
            " assignee_user_id, body, body_hash, created_at, first_reply_due_at, due_at, resolved_at, closed_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


async def world(h: Harness) -> None:
    """A community with two open appeals in unit 1, one passed up to the staff."""
    await h.setup_community()
    await h.file_appeal(text="The lift is broken")
    second = await h.file_appeal(text="The light on floor 3 is out")
    async with h.services.db.write() as tx:  # the second one is at staff level now
        await tx.execute("UPDATE appeals SET level = 2, assignee_user_id = NULL WHERE id = ?", (second,))


def lists(h: Harness) -> dict[str, Callable[[], Awaitable[Any]]]:
    p = h.p
    return {
        "/status": lambda: h.cmd(p.staff, p.building_chat, "status"),
        "/open (unit head)": lambda: h.cmd(p.uhead, updates.private_chat(p.uhead), "open"),
        "/open (building head)": lambda: h.cmd(p.bhead, updates.private_chat(p.bhead), "open"),
        "/open (staff chat)": lambda: h.cmd(p.staff, p.staff_chat, "open"),
        "/myappeals": lambda: h.cmd(p.resident, updates.private_chat(p.resident), "myappeals"),
    }


def plan(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[str]:
    return [str(row[3]) for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()]


async def test_every_list_query_on_appeals_is_an_index_search(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    await world(h)
    await add_history(h, 200, first_id=10_000)
    conn = raw(h)
    for name, run in lists(h).items():
        with recorded_statements(monkeypatch) as seen:
            calls = await run()
        assert calls, f"{name} did not answer"
        on_appeals = [(sql, params) for sql, params in seen if re.search(r"\bFROM appeals\b", sql)]
        assert on_appeals, f"{name} read no appeals"
        for sql, params in on_appeals:
            steps = plan(conn, sql, params)
            scans = [s for s in steps if re.match(r"SCAN appeals\b", s)]
            assert not scans, f"{name}: {sql}\nreads the whole table: {steps}"


async def test_status_counts_use_the_indexes_of_migration_0009(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    await world(h)
    conn = raw(h)
    with recorded_statements(monkeypatch) as seen:
        await lists(h)["/status"]()
    [(sql, params)] = [(s, p) for s, p in seen if "COUNT(*)" in s and "FROM appeals" in s]
    used = " | ".join(plan(conn, sql, params))
    assert "appeals_active_building" in used and "appeals_building_resolved" in used, used


async def vm_steps(h: Harness, run: Callable[[], Awaitable[Any]]) -> int:
    counter = [0]

    def tick() -> int:
        counter[0] += 1
        return 0

    conn = raw(h)
    conn.set_progress_handler(tick, 50)
    try:
        await run()
    finally:
        conn.set_progress_handler(None, 0)
    return counter[0]


async def test_lists_cost_the_same_with_a_long_history(h: Harness) -> None:
    await world(h)
    await add_history(h, 50, first_id=10_000)
    small = {name: await vm_steps(h, run) for name, run in lists(h).items()}
    await add_history(h, 3_000, first_id=20_000)
    large = {name: await vm_steps(h, run) for name, run in lists(h).items()}
    # 60x the history; a scan of it would cost 3,000 rows x several instructions (hundreds of ticks)
    grown = {name: (small[name], large[name]) for name in small if large[name] > small[name] * 1.2 + 20}
    assert not grown, f"work grew with the history (ticks of 50 SQLite instructions, 50 -> 3,050 appeals): {grown}"
