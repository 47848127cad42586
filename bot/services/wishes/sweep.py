"""The due moments of wishes, swept like appeal deadlines: each batch is one write transaction, each
row runs in a savepoint and is marked done with its outcome, so a crash redoes it and nothing is
sent twice (outbox dedupe keys name the row)."""

from __future__ import annotations

import logging
from datetime import datetime

from bot.models import Notice
from bot.services.wishes.board import WishService
from storage.db import Tx
from storage.registry import RegistryRepo
from storage.wishes import WishDeadline, WishesRepo

log = logging.getLogger(__name__)


class WishSweep:
    def __init__(self, wishes: WishService, batch: int = 200) -> None:
        self.wishes = wishes
        self.batch = batch

    async def tick(self) -> dict[str, int]:
        fired: dict[str, int] = {}
        now = self.wishes.clock.now()
        while True:
            async with self.wishes.db.write() as tx:
                rows = await WishesRepo(tx).claim_due(now, self.batch)
                for row in rows:
                    try:
                        async with tx.savepoint("wish_deadline"):
                            outcome = await self._fire(tx, row, now)
                    except Exception:
                        log.exception("wish deadline %s of wish %s failed", row.id, row.wish_id)
                        outcome = "error"
                    await WishesRepo(tx).finish_deadline(row.id, now, outcome)
                    fired[outcome] = fired.get(outcome, 0) + 1
            if len(rows) < self.batch:
                return fired

    async def _fire(self, tx: Tx, row: WishDeadline, now: datetime) -> str:
        repo = WishesRepo(tx)
        wish = await repo.get(row.wish_id)
        if wish is None:
            return "gone"
        community = await RegistryRepo(tx).get_community(wish.community_id)
        if community is None:
            return "gone"
        if row.kind == "reshow":
            if wish.state != "open":
                return "skipped"
            await self.wishes.post_in_building(tx, wish, community, now, "reshow")
            return "reshown"
        if row.kind == "unit_head":
            if wish.state != "open":
                return "skipped"
            reg = RegistryRepo(tx)
            unit = await reg.get_unit(wish.unit_id) if wish.unit_id is not None else None
            building = await reg.get_building(wish.building_id)
            head = (unit.head_user_id if unit else None) or (building.head_user_id if building else None)
            if head is None:
                return "no_head"
            params = {"id": wish.id, "body": wish.body or "-", "unit": unit.name if unit else "-"}
            notice = Notice(head, "wish.to_unit_head", params, user_id=head, dedupe_key=f"wish:{wish.id}:uh:{row.id}")
            await self.wishes.queue(tx, notice, community, now)
            return "unit_head"
        if row.kind == "expire":
            if not await repo.close(wish.id, "expired", now, from_states=("open", "claimed")):
                return "skipped"
            await repo.finish_deadlines_of(wish.id, now, "expired")
            for person in {wish.resident_id, wish.volunteer_id} - {None}:
                assert person is not None
                template = "wish.expired_resident" if person == wish.resident_id else "wish.expired_volunteer"
                notice = Notice(person, template, {"id": wish.id}, user_id=person, dedupe_key=f"wish:{row.id}:{person}")
                await self.wishes.queue(tx, notice, community, now)
            return "expired"
        return "unknown"
