"""Received updates (``received_updates``, migration 0008): the durable intake of Telegram updates.

An update is stored raw, keyed by Telegram's ``update_id``, before Telegram is told it arrived; it
is handled from here and marked handled afterwards. Repositories never commit (services do).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.clock import to_ts
from storage.db import Tx

NEW, DONE, FAILED = "new", "done", "failed"
PROBE_ID = -1  # the row a start-up write check inserts and deletes again (update ids are >= 0)


@dataclass(frozen=True)
class StoredUpdate:
    update_id: int
    payload: str  # the update's JSON, as Telegram sent it
    starts: int  # process starts that found it still pending


class IntakeRepo:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    async def store(self, rows: Sequence[tuple[int, str]], now: datetime) -> list[int]:
        """Insert ``(update_id, payload)`` rows; returns the ids that were new (a redelivered id is
        left as it is)."""
        new: list[int] = []
        ts = to_ts(now)
        for update_id, payload in rows:
            count = await self.tx.execute(
                "INSERT INTO received_updates (update_id, payload, received_at, state)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (update_id) DO NOTHING",
                (update_id, payload, ts, NEW),
            )
            if count:
                new.append(update_id)
        return new

    async def pending(self) -> list[StoredUpdate]:
        rows = await self.tx.fetchall(
            "SELECT update_id, payload, starts FROM received_updates WHERE state = ? ORDER BY update_id", (NEW,)
        )
        return [StoredUpdate(int(r["update_id"]), str(r["payload"]), int(r["starts"])) for r in rows]

    async def count_start(self) -> None:
        """A process starts: every update still pending has now been pending at one more start."""
        await self.tx.execute("UPDATE received_updates SET starts = starts + 1 WHERE state = ?", (NEW,))

    async def finish(self, update_ids: Sequence[int], now: datetime, state: str = DONE) -> None:
        ts = to_ts(now)
        await self.tx.executemany(
            "UPDATE received_updates SET state = ?, handled_at = ? WHERE update_id = ? AND state = ?",
            [(state, ts, update_id, NEW) for update_id in update_ids],
        )

    async def prune(self, handled_before: datetime) -> int:
        """Forget updates handled before ``handled_before`` (the table stays bounded); the guard for a
        redelivery only needs rows younger than Telegram's 24 hours."""
        return await self.tx.execute(
            "DELETE FROM received_updates WHERE state <> ? AND handled_at < ?", (NEW, to_ts(handled_before))
        )

    async def probe_write(self, now: datetime) -> None:
        """Write and delete one row: fails on a read-only or full database (start-up check)."""
        await self.tx.execute(
            "INSERT INTO received_updates (update_id, payload, received_at, state) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (update_id) DO UPDATE SET received_at = excluded.received_at",
            (PROBE_ID, "{}", to_ts(now), DONE),
        )
        await self.tx.execute("DELETE FROM received_updates WHERE update_id = ?", (PROBE_ID,))
