"""Appeals repository: appeals, their history, media, message links and deadlines."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.clock import from_ts, from_ts_opt, to_ts
from bot.models import OPEN_STATUSES, Appeal, AppealEvent, Category, DeadlineKind, Level, Status
from storage.db import Row, Tx

_OPEN = ", ".join(f"'{s}'" for s in OPEN_STATUSES)
_ACTIVE = "status <> 'closed'"  # the WHERE clause of the partial indexes appeals_active_* (migration 0009)


def _appeal(row: Row) -> Appeal:
    return Appeal(
        id=row["id"],
        community_id=row["community_id"],
        building_id=row["building_id"],
        unit_id=row["unit_id"],
        resident_id=row["resident_id"],
        category=Category(row["category"]),
        status=Status(row["status"]),
        level=Level(row["level"]),
        assignee_user_id=row["assignee_user_id"],
        body=row["body"],
        created_at=from_ts(row["created_at"]),
        first_reply_due_at=from_ts(row["first_reply_due_at"]),
        first_reply_at=from_ts_opt(row["first_reply_at"]),
        due_at=from_ts_opt(row["due_at"]),
        remaining_seconds=row["remaining_seconds"],
        resolved_at=from_ts_opt(row["resolved_at"]),
        closed_at=from_ts_opt(row["closed_at"]),
        rating=row["rating"],
        stage=row["stage"],
        anonymous=bool(row["anonymous"]),
    )


class AppealsRepo:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    async def create(
        self,
        *,
        community_id: int,
        building_id: int,
        unit_id: int | None,
        resident_id: int,
        category: Category,
        level: Level,
        assignee_user_id: int | None,
        body: str,
        body_hash: str,
        now: datetime,
        first_reply_due: datetime,
        due: datetime,
        anonymous: bool = False,
    ) -> int:
        return await self.tx.insert(
            "INSERT INTO appeals (community_id, building_id, unit_id, resident_id, category, status, level,"
            " assignee_user_id, body, body_hash, created_at, first_reply_due_at, due_at, updated_at, anonymous)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                community_id,
                building_id,
                unit_id,
                resident_id,
                category.value,
                Status.NEW.value,
                int(level),
                assignee_user_id,
                body,
                body_hash,
                to_ts(now),
                to_ts(first_reply_due),
                to_ts(due),
                to_ts(now),
                int(anonymous),
            ),
        )

    async def get(self, appeal_id: int) -> Appeal | None:
        """The appeal; in a write transaction on PostgreSQL its row is locked until the commit (what
        is read is what ``update`` checks against: no ``StaleAppeal`` between processes)."""
        sql = "SELECT * FROM appeals WHERE id = ?" + self.tx.read_for_update()  # noqa: S608 - a fixed clause
        row = await self.tx.fetchone(sql, (appeal_id,))
        return _appeal(row) if row else None

    async def update(self, appeal: Appeal, now: datetime, **changes: Any) -> None:
        """Apply ``changes`` (column -> python value) if the appeal is still at ``appeal.stage``.

        Raises ``StaleAppeal`` when another transaction changed it first (optimistic check: SQLite has
        one writer, and on PostgreSQL :meth:`get` in a write transaction locks the row, so this is
        only a safety net).
        """
        cols = []
        values: list[Any] = []
        for key, value in changes.items():
            if key not in _UPDATABLE:
                raise ValueError(key)
            if isinstance(value, datetime):
                value = to_ts(value)
            elif isinstance(value, Status | Category):
                value = value.value
            elif isinstance(value, Level):
                value = int(value)
            cols.append(f"{key} = ?")
            values.append(value)
        cols.append("updated_at = ?")
        values.append(to_ts(now))
        cols.append("stage = stage + 1")
        sql = f"UPDATE appeals SET {', '.join(cols)} WHERE id = ? AND stage = ?"  # noqa: S608 - column names come from _UPDATABLE
        if await self.tx.execute(sql, (*values, appeal.id, appeal.stage)) != 1:
            raise StaleAppeal(appeal.id)

    async def count_since(self, resident_id: int, since: datetime) -> int:
        return int(
            await self.tx.fetchval(
                "SELECT COUNT(*) FROM appeals WHERE resident_id = ? AND created_at >= ?", (resident_id, to_ts(since))
            )
        )

    async def oldest_since(self, resident_id: int, since: datetime) -> datetime | None:
        value = await self.tx.fetchval(
            "SELECT MIN(created_at) FROM appeals WHERE resident_id = ? AND created_at >= ?",
            (resident_id, to_ts(since)),
        )
        return None if value is None else from_ts(int(value))

    async def duplicate_of(self, resident_id: int, body_hash: str, since: datetime) -> int | None:
        value = await self.tx.fetchval(
            "SELECT id FROM appeals WHERE resident_id = ? AND body_hash = ? AND created_at >= ?"
            " ORDER BY id DESC LIMIT 1",
            (resident_id, body_hash, to_ts(since)),
        )
        return None if value is None else int(value)

    async def of_resident(self, resident_id: int, limit: int = 20) -> list[Appeal]:
        """The resident's latest appeals, newest first (index appeals_resident: reads ``limit`` rows)."""
        rows = await self.tx.fetchall(
            "SELECT * FROM appeals WHERE resident_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
            (resident_id, limit),
        )
        return [_appeal(r) for r in rows]

    async def open_waiting_for(self, resident_id: int) -> list[Appeal]:
        rows = await self.tx.fetchall(
            "SELECT * FROM appeals WHERE resident_id = ? AND status = ? ORDER BY updated_at DESC",
            (resident_id, Status.WAITING.value),
        )
        return [_appeal(r) for r in rows]

    async def latest_open_of(self, resident_id: int) -> Appeal | None:
        row = await self.tx.fetchone(
            f"SELECT * FROM appeals WHERE resident_id = ? AND status IN ({_OPEN}) ORDER BY id DESC LIMIT 1",  # noqa: S608
            (resident_id,),
        )
        return _appeal(row) if row else None

    # The lists below read the appeals not yet closed through the partial indexes appeals_active_*
    # (migration 0009): ``_ACTIVE`` must be written exactly as in their WHERE clause. Their cost
    # grows with what is open in the unit, building or level, never with the history.
    async def open_in_units(self, unit_ids: list[int], limit: int = 30) -> list[Appeal]:
        if not unit_ids:
            return []
        marks = ", ".join("?" for _ in unit_ids)
        rows = await self.tx.fetchall(
            f"SELECT * FROM appeals WHERE unit_id IN ({marks}) AND {_ACTIVE} ORDER BY due_at LIMIT ?",  # noqa: S608
            (*unit_ids, limit),
        )
        return [_appeal(r) for r in rows]

    async def open_in_buildings(self, building_ids: list[int], limit: int = 30) -> list[Appeal]:
        if not building_ids:
            return []
        marks = ", ".join("?" for _ in building_ids)
        rows = await self.tx.fetchall(
            f"SELECT * FROM appeals WHERE building_id IN ({marks}) AND {_ACTIVE} ORDER BY due_at LIMIT ?",  # noqa: S608
            (*building_ids, limit),
        )
        return [_appeal(r) for r in rows]

    async def open_at_level(self, community_id: int, level: Level, limit: int = 30) -> list[Appeal]:
        rows = await self.tx.fetchall(
            f"SELECT * FROM appeals WHERE community_id = ? AND level = ? AND {_ACTIVE} AND status IN ({_OPEN})"  # noqa: S608
            " ORDER BY due_at LIMIT ?",
            (community_id, int(level), limit),
        )
        return [_appeal(r) for r in rows]

    async def assigned_to(self, user_id: int, limit: int = 30) -> list[Appeal]:
        rows = await self.tx.fetchall(
            f"SELECT * FROM appeals WHERE assignee_user_id = ? AND {_ACTIVE} AND status IN ({_OPEN})"  # noqa: S608
            " ORDER BY due_at LIMIT ?",
            (user_id, limit),
        )
        return [_appeal(r) for r in rows]

    async def building_summary(self, building_id: int, now: datetime, month_start: datetime) -> dict[str, int]:
        """Counts for /status, each over an index range: the building's appeals not yet closed
        (appeals_active_building) and this month's resolutions (appeals_building_resolved)."""
        active = f"FROM appeals WHERE building_id = ? AND {_ACTIVE}"
        row = await self.tx.fetchone(
            f"SELECT (SELECT COUNT(*) {active} AND status IN ({_OPEN})) AS open_count,"  # noqa: S608
            f" (SELECT COUNT(*) {active} AND status IN ({_OPEN}) AND due_at < ?) AS overdue,"
            f" (SELECT COUNT(*) {active} AND status = 'waiting') AS waiting,"
            " (SELECT COUNT(*) FROM appeals WHERE building_id = ? AND resolved_at >= ?"
            " AND status IN ('resolved', 'closed')) AS resolved",
            (building_id, building_id, to_ts(now), building_id, building_id, to_ts(month_start)),
        )
        assert row is not None
        return {k: int(row[k] or 0) for k in ("open_count", "overdue", "waiting", "resolved")}

    # --- history -------------------------------------------------------------------------------
    async def add_event(
        self,
        appeal_id: int,
        now: datetime,
        actor_id: int | None,
        kind: str,
        level: Level,
        detail: dict[str, Any] | None = None,
    ) -> None:
        await self.tx.execute(
            "INSERT INTO appeal_events (appeal_id, at, actor_id, kind, level, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (appeal_id, to_ts(now), actor_id, kind, int(level), json.dumps(detail or {}, ensure_ascii=False)),
        )

    async def events(self, appeal_id: int) -> list[AppealEvent]:
        rows = await self.tx.fetchall("SELECT * FROM appeal_events WHERE appeal_id = ? ORDER BY id", (appeal_id,))
        return [
            AppealEvent(
                appeal_id=r["appeal_id"],
                at=from_ts(r["at"]),
                actor_id=r["actor_id"],
                kind=r["kind"],
                level=Level(r["level"]),
                detail=json.loads(r["detail"]),
            )
            for r in rows
        ]

    # --- media and message links ---------------------------------------------------------------
    async def add_media(
        self, appeal_id: int, kind: str, file_id: str, caption: str | None, from_user: int, now: datetime
    ) -> None:
        await self.tx.execute(
            "INSERT INTO appeal_media (appeal_id, kind, file_id, caption, from_user, added_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (appeal_id, kind, file_id, caption, from_user, to_ts(now)),
        )

    async def media(self, appeal_id: int) -> list[Row]:
        return await self.tx.fetchall("SELECT * FROM appeal_media WHERE appeal_id = ? ORDER BY id", (appeal_id,))

    async def first_resident_media_message(self, appeal_id: int, resident_id: int) -> tuple[int, int] | None:
        """(chat, message) of the resident's first photo or voice message of this appeal, to copy it."""
        if not await self.tx.fetchval(
            "SELECT 1 FROM appeal_media WHERE appeal_id = ? AND from_user = ?", (appeal_id, resident_id)
        ):
            return None
        row = await self.tx.fetchone(
            "SELECT chat_id, message_id FROM message_links WHERE appeal_id = ? AND chat_id = ?"
            " ORDER BY message_id LIMIT 1",
            (appeal_id, resident_id),
        )
        return (row["chat_id"], row["message_id"]) if row else None

    async def link_message(self, chat_id: int, message_id: int, appeal_id: int) -> None:
        await self.tx.execute(
            "INSERT INTO message_links (chat_id, message_id, appeal_id) VALUES (?, ?, ?)"
            " ON CONFLICT (chat_id, message_id) DO NOTHING",
            (chat_id, message_id, appeal_id),
        )

    async def appeal_of_message(self, chat_id: int, message_id: int) -> int | None:
        value = await self.tx.fetchval(
            "SELECT appeal_id FROM message_links WHERE chat_id = ? AND message_id = ?", (chat_id, message_id)
        )
        return None if value is None else int(value)

    # --- deadlines -----------------------------------------------------------------------------
    async def add_deadline(self, appeal_id: int, kind: DeadlineKind, stage: int, due: datetime) -> None:
        await self.tx.execute(
            "INSERT INTO deadlines (appeal_id, kind, stage, due_at) VALUES (?, ?, ?, ?)",
            (appeal_id, kind.value, stage, to_ts(due)),
        )

    async def cancel_deadlines(self, appeal_id: int, now: datetime, outcome: str = "cancelled") -> None:
        await self.tx.execute(
            "UPDATE deadlines SET done_at = ?, outcome = ? WHERE appeal_id = ? AND done_at IS NULL",
            (to_ts(now), outcome, appeal_id),
        )

    async def finish_deadlines_of_kind(self, appeal_id: int, kind: str, now: datetime, outcome: str) -> None:
        """Mark the appeal's unfinished deadlines of one kind done (e.g. the first reply was given)."""
        await self.tx.execute(
            "UPDATE deadlines SET done_at = ?, outcome = ? WHERE appeal_id = ? AND kind = ? AND done_at IS NULL",
            (to_ts(now), outcome, appeal_id, kind),
        )

    async def claim_due(self, now: datetime, limit: int) -> list[Row]:
        """Due, unfinished deadlines, oldest first (the caller marks each done in the same tx)."""
        sql = (
            "SELECT id, appeal_id, kind, stage, due_at FROM deadlines"
            " WHERE done_at IS NULL AND due_at <= ? ORDER BY due_at, id LIMIT ?"
        )
        return await self.tx.fetchall(sql + self.tx.lock_clause(), (to_ts(now), limit))

    async def finish_deadline(self, deadline_id: int, now: datetime, outcome: str) -> bool:
        count = await self.tx.execute(
            "UPDATE deadlines SET done_at = ?, outcome = ? WHERE id = ? AND done_at IS NULL",
            (to_ts(now), outcome, deadline_id),
        )
        return count == 1

    async def open_deadlines(self, appeal_id: int) -> list[Row]:
        return await self.tx.fetchall(
            "SELECT * FROM deadlines WHERE appeal_id = ? AND done_at IS NULL ORDER BY due_at", (appeal_id,)
        )


_UPDATABLE = frozenset(
    {
        "status",
        "level",
        "assignee_user_id",
        "first_reply_at",
        "due_at",
        "remaining_seconds",
        "resolved_at",
        "closed_at",
        "rating",
    }
)


class StaleAppeal(Exception):
    """The appeal changed under us; the caller retries or reports a conflict."""
