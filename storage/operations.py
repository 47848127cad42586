"""Operations repositories: the figures behind /readyz and /metrics, bug-report rate limits shared by
all instances, and small named facts of the installation (the webhook registration)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.clock import to_ts
from bot.models import OPEN_STATUSES, Status
from storage.db import Tx

_OPEN = ", ".join(f"'{s}'" for s in OPEN_STATUSES)
_ACTIVE = f"'{Status.NEW}', '{Status.IN_PROGRESS}'"  # the clock runs (not waiting for the resident)


@dataclass(frozen=True)
class OutboxFigures:
    pending: int  # unsent, not failed (due now or later)
    due: int  # of those, due now
    oldest_due_at: int | None  # not_before of the oldest due one (epoch seconds)


class MonitoringRepo:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    async def ping(self) -> bool:
        return bool(await self.tx.fetchval("SELECT 1"))

    async def applied_migrations(self) -> set[int]:
        rows = await self.tx.fetchall("SELECT version FROM schema_migrations")
        return {int(r[0]) for r in rows}

    async def outbox(self, now: datetime) -> OutboxFigures:
        row = await self.tx.fetchone(
            "SELECT COUNT(*) AS pending,"
            " COALESCE(SUM(CASE WHEN not_before <= ? THEN 1 ELSE 0 END), 0) AS due,"
            " MIN(CASE WHEN not_before <= ? THEN not_before END) AS oldest"
            " FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL",
            (to_ts(now), to_ts(now)),
        )
        assert row is not None
        oldest = row["oldest"]
        return OutboxFigures(int(row["pending"]), int(row["due"]), None if oldest is None else int(oldest))

    async def appeals_by_level(self, now: datetime) -> tuple[dict[int, int], dict[int, int]]:
        """Open appeals per level, and those of them overdue: the clock runs and the level's
        deadline (or the first-reply deadline, with no reply yet) has passed."""
        ts = to_ts(now)
        sql = (
            "SELECT level, COUNT(*) AS open_count,"  # noqa: S608 - fixed status names
            f" COALESCE(SUM(CASE WHEN status IN ({_ACTIVE}) AND ((due_at IS NOT NULL AND due_at < ?)"
            "  OR (first_reply_at IS NULL AND first_reply_due_at < ?)) THEN 1 ELSE 0 END), 0) AS overdue"
            f" FROM appeals WHERE status IN ({_OPEN}) GROUP BY level"
        )
        rows = await self.tx.fetchall(sql, (ts, ts))
        return (
            {int(r["level"]): int(r["open_count"]) for r in rows},
            {int(r["level"]): int(r["overdue"]) for r in rows},
        )


class OperatorReportsRepo:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    async def claim(self, signature: str, now: datetime, quiet_since: datetime) -> int | None:
        """Take the right to report ``signature`` now, unless it was reported after ``quiet_since``.
        Returns how many occurrences were suppressed since the last report, or None when another
        report is recent (this occurrence is then counted)."""
        before = await self.tx.fetchval("SELECT suppressed FROM operator_reports WHERE signature = ?", (signature,))
        won = await self.tx.execute(
            "INSERT INTO operator_reports (signature, reported_at, suppressed) VALUES (?, ?, 0)"
            " ON CONFLICT (signature) DO UPDATE SET reported_at = excluded.reported_at, suppressed = 0"
            " WHERE operator_reports.reported_at <= ?",
            (signature, to_ts(now), to_ts(quiet_since)),
        )
        if won == 1:
            return int(before or 0)
        await self.tx.execute(
            "UPDATE operator_reports SET suppressed = suppressed + 1 WHERE signature = ?", (signature,)
        )
        return None


class ServiceStateRepo:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    async def get(self, name: str) -> str | None:
        value = await self.tx.fetchval("SELECT value FROM service_state WHERE name = ?", (name,))
        return None if value is None else str(value)

    async def put(self, name: str, value: str, now: datetime) -> None:
        await self.tx.execute(
            "INSERT INTO service_state (name, value, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (name, value, to_ts(now)),
        )
