"""Hand-made appeal histories for the statistics tests and the benchmark: a community with
buildings, units and heads written through the repositories, and appeals whose rows and history
events are written the way the workflow writes them (the same columns, the same event kinds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.calendar import WorkCalendar
from bot.models import Category, DeadlineKind, Level, Status, UserInfo
from bot.sla import SlaSettings
from storage.appeals import AppealsRepo
from storage.db import Database
from storage.registry import RegistryRepo


@dataclass
class StatsWorld:
    db: Database
    community_id: int
    timezone: str
    country: str
    building_ids: list[int] = field(default_factory=list)
    unit_ids: list[list[int]] = field(default_factory=list)  # per building
    sla: SlaSettings = field(default_factory=SlaSettings)
    resident: int = 4004

    @property
    def cal(self) -> WorkCalendar:
        return WorkCalendar(self.country, self.timezone)

    @classmethod
    async def create(
        cls,
        db: Database,
        *,
        now: datetime,
        timezone: str = "Asia/Shanghai",
        country: str = "CN",
        staff_chat: int = -1009000000001,
        buildings: int = 2,
        units: int = 2,
        heads: bool = True,
        name: str = "Garden",
    ) -> StatsWorld:
        async with db.write() as tx:
            reg = RegistryRepo(tx)
            cid = await reg.create_community(
                name=name,
                staff_chat_id=staff_chat,
                timezone=timezone,
                country=country,
                language="en",
                created_by=1001,
                now=now,
            )
            world = cls(db, cid, timezone, country)
            for b in range(buildings):
                bid = await reg.create_building(cid, staff_chat - 1000 - b, f"Building {b + 1}", now)
                world.building_ids.append(bid)
                ids: list[int] = []
                for u in range(units):
                    await reg.add_unit(bid, f"{u + 1}", u)
                    unit = await reg.unit_by_name(bid, f"{u + 1}")
                    assert unit is not None
                    ids.append(unit.id)
                    if heads:
                        head = 5000 + 100 * b + u
                        await reg.upsert_user(UserInfo(head, f"Head{b + 1}.{u + 1}"), now)
                        await reg.set_unit_head(unit.id, head)
                world.unit_ids.append(ids)
                if heads:
                    bhead = 6000 + b
                    await reg.upsert_user(UserInfo(bhead, f"Chief{b + 1}"), now)
                    await reg.set_building_head(bid, bhead)
        return world

    # --- one appeal's life, step by step (what the services write) ------------------------------
    async def file(
        self, at: datetime, *, building: int = 0, unit: int = 0, category: Category = Category.PROBLEM
    ) -> int:
        cal = self.cal
        async with self.db.write() as tx:
            repo = AppealsRepo(tx)
            bid = self.building_ids[building]
            uid = self.unit_ids[building][unit] if self.unit_ids[building] else None
            first_due = self.sla.first_reply_deadline(cal, at)
            appeal_id = await repo.create(
                community_id=self.community_id,
                building_id=bid,
                unit_id=uid,
                resident_id=self.resident,
                category=category,
                level=Level.UNIT,
                assignee_user_id=None,
                body="leak",
                body_hash=f"h{at.timestamp()}{building}{unit}",
                now=at,
                first_reply_due=first_due,
                due=self.sla.filing_deadline(cal, at, category),
            )
            await repo.add_event(appeal_id, at, self.resident, "filed", Level.UNIT, {"category": category.value})
            await repo.add_deadline(appeal_id, DeadlineKind.FIRST_REPLY, 0, first_due)
        return appeal_id

    async def _step(
        self, appeal_id: int, at: datetime, kind: str, detail: dict[str, Any] | None = None, **changes: Any
    ) -> None:
        async with self.db.write() as tx:
            repo = AppealsRepo(tx)
            appeal = await repo.get(appeal_id)
            assert appeal is not None
            level = changes.get("level", appeal.level)
            if changes:
                await repo.update(appeal, at, **changes)
            await repo.add_event(appeal_id, at, None, kind, Level(level), detail)

    async def reply(self, appeal_id: int, at: datetime) -> None:
        async with self.db.read() as tx:
            appeal = await AppealsRepo(tx).get(appeal_id)
        assert appeal is not None
        changes: dict[str, Any] = {} if appeal.first_reply_at else {"first_reply_at": at}
        if appeal.status == Status.NEW:
            changes["status"] = Status.IN_PROGRESS
        await self._step(appeal_id, at, "reply", {"text": "on it"}, **changes)

    async def ask(self, appeal_id: int, at: datetime) -> None:
        async with self.db.read() as tx:
            appeal = await AppealsRepo(tx).get(appeal_id)
        assert appeal is not None
        changes: dict[str, Any] = {} if appeal.first_reply_at else {"first_reply_at": at}
        await self._step(appeal_id, at, "asked", {"text": "which floor?"}, status=Status.WAITING, **changes)

    async def answer(self, appeal_id: int, at: datetime) -> None:
        await self._step(appeal_id, at, "answer", {"text": "third"}, status=Status.IN_PROGRESS)

    async def resolve(self, appeal_id: int, at: datetime) -> None:
        await self._step(appeal_id, at, "resolved", {"note": "fixed"}, status=Status.RESOLVED, resolved_at=at)

    async def confirm(self, appeal_id: int, at: datetime) -> None:
        await self._step(appeal_id, at, "confirmed", status=Status.CLOSED, closed_at=at)

    async def auto_close(self, appeal_id: int, at: datetime) -> None:
        await self._step(appeal_id, at, "auto_closed", status=Status.CLOSED, closed_at=at)

    async def rate(self, appeal_id: int, at: datetime, stars: int) -> None:
        await self._step(appeal_id, at, "rated", {"stars": stars}, rating=stars)

    async def reopen(self, appeal_id: int, at: datetime) -> None:
        await self._step(appeal_id, at, "reopened", status=Status.IN_PROGRESS, resolved_at=None)

    async def escalate(self, appeal_id: int, at: datetime, reason: str = "deadline") -> None:
        async with self.db.read() as tx:
            appeal = await AppealsRepo(tx).get(appeal_id)
        assert appeal is not None
        await self._step(
            appeal_id,
            at,
            "escalated",
            {"from": int(appeal.level), "reason": reason},
            level=Level(appeal.level + 1),
            status=Status.NEW,
            due_at=self.sla.level_deadline(self.cal, at, Level(appeal.level + 1), appeal.category),
        )
