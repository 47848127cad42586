"""The deadline sweep: finds what is due and acts, idempotently.

Each batch is one immediate transaction: due rows are read, acted on and marked done together, so a
crash loses nothing (the transaction rolls back and the next sweep redoes it) and two processes never
act on the same row (SQLite serialises writers; on PostgreSQL the claim locks its rows with
``FOR UPDATE SKIP LOCKED``, so other processes take the next ones). A row that fails through a
transient conflict (a deadlock, a lost connection) stays due and is tried again at the next sweep;
only a bug marks it done with outcome "error".
The query walks the partial index on unfinished deadlines, so its cost grows with what is due, not
with history. Each row runs inside a SAVEPOINT: a bug on one appeal is logged and marked, it never
blocks the others.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from bot.logging import appeal_scope
from bot.models import Appeal, Community, DeadlineKind, Notice, Status
from bot.services.base import ServiceBase
from bot.services.escalation import ping_target
from bot.services.point_rules import apply_appeal_rules
from bot.services.routing import appeal_buttons, card_params
from bot.services.satisfaction import fire_follow_up, rating_buttons, schedule_after_close
from bot.services.workflow import WorkflowService
from bot.sla import SlaSettings
from storage.appeals import AppealsRepo, StaleAppeal
from storage.db import Row, Tx
from storage.errors import is_transient
from storage.followups import FollowUpsRepo
from storage.registry import RegistryRepo

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    fired: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: str) -> None:
        self.fired[outcome] = self.fired.get(outcome, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.fired.values())


class Sweeper(ServiceBase):
    def __init__(self, workflow: WorkflowService, batch: int = 200) -> None:
        super().__init__(workflow.db, workflow.clock, workflow.calendars)
        self.workflow = workflow
        self.batch = batch

    async def sweep(self) -> SweepReport:
        report = SweepReport()
        now = self.clock.now()
        while True:
            retry_later = False
            async with self.db.write() as tx:
                rows = await AppealsRepo(tx).claim_due(now, self.batch)
                for row in rows:
                    if not await self._still_open(tx, row):
                        continue  # finished by an earlier row of this batch (e.g. an escalation cancelled it)
                    try:
                        with appeal_scope(row["appeal_id"]):  # log lines name the appeal
                            async with tx.savepoint("deadline"):  # one failing appeal is undone alone
                                outcome = await self._fire(tx, row, now)
                    except Exception as exc:
                        if is_transient(exc) or isinstance(exc, StaleAppeal):
                            # a conflict with another process (deadlock, serialization) or an outage:
                            # the deadline stays due and the next sweep tries it again
                            log.warning(
                                "deadline %s of appeal %s: %s, tried again at the next sweep",
                                row["id"],
                                row["appeal_id"],
                                type(exc).__name__,
                            )
                            report.add("retry")
                            retry_later = True
                            continue
                        log.exception("deadline %s of appeal %s failed", row["id"], row["appeal_id"])
                        outcome = "error"
                    await AppealsRepo(tx).finish_deadline(row["id"], now, outcome)
                    report.add(outcome)
            if len(rows) < self.batch or retry_later:
                return report  # (a batch with rows left for later would claim them again at once)

    async def _first_reply_floor(self, tx: Tx, appeal: Appeal, community: Community, now: datetime) -> datetime | None:
        """A missed first reply counts only once the card reached the head and they had their share
        of working time after it (the card may have waited for quiet hours, a flood limit or an
        outage). None: it counts now; else the moment to look again."""
        sla = SlaSettings.from_settings(community.settings)
        cal = await self.calendars.for_community(tx, community)
        card = await FollowUpsRepo(tx).delivery(f"assign:{appeal.id}")
        if card is None or card.failed:
            return None  # no card on record, or its reader is unreachable (that escalates by itself)
        if card.sent_at is None:  # not delivered yet: as if it went out at the next moment it can
            return sla.first_reply_floor(cal, sla.card_delivery(cal, now))
        floor = sla.first_reply_floor(cal, card.sent_at)
        return floor if floor > now else None

    @staticmethod
    async def _still_open(tx: Tx, row: Row) -> bool:
        open_rows = await AppealsRepo(tx).open_deadlines(row["appeal_id"])
        return any(r["id"] == row["id"] for r in open_rows)

    async def _fire(self, tx: Tx, row: Row, now: datetime) -> str:
        repo = AppealsRepo(tx)
        appeal = await repo.get(row["appeal_id"])
        if appeal is None:
            return "gone"
        community = await RegistryRepo(tx).get_community(appeal.community_id)
        assert community is not None
        kind = DeadlineKind(row["kind"])

        if kind == DeadlineKind.AUTOCLOSE:
            if appeal.status != Status.RESOLVED:
                return "skipped"
            await repo.update(appeal, now, status=Status.CLOSED, closed_at=now)
            await repo.add_event(appeal.id, now, None, "auto_closed", appeal.level)
            await apply_appeal_rules(tx, appeal.id, now)
            closed = await repo.get(appeal.id)
            assert closed is not None
            sla = SlaSettings.from_settings(community.settings)
            await schedule_after_close(tx, closed, sla, await self.calendars.for_community(tx, community), now)
            await self.queue(
                tx,
                Notice(
                    appeal.resident_id,
                    "heads.auto_closed_rate",  # closed by silence: still asked how satisfied they are
                    {"id": appeal.id},
                    buttons=rating_buttons(appeal.id),
                    user_id=appeal.resident_id,
                    appeal_id=appeal.id,
                    dedupe_key=f"autoclose:{appeal.id}",
                ),
                community,
                now,
            )
            return "auto_closed"

        if kind in (DeadlineKind.RATE_AGAIN, DeadlineKind.REVISIT):
            return await fire_follow_up(self, tx, appeal, community, kind, now)

        if not appeal.status.is_open or appeal.status == Status.WAITING:
            return "skipped"

        if kind == DeadlineKind.REMIND:
            card = await card_params(tx, appeal, community)
            chat, person = ping_target(appeal, community)
            await self.queue(
                tx,
                Notice(
                    chat,
                    "appeal.reminder",
                    card,
                    buttons=appeal_buttons(appeal),
                    user_id=person,
                    appeal_id=appeal.id,
                    dedupe_key=f"remind:{row['id']}",
                ),
                community,
                now,
            )
            await repo.add_event(appeal.id, now, None, "reminded", appeal.level)
            return "reminded"

        if kind == DeadlineKind.FIRST_REPLY and appeal.first_reply_at is not None:
            return "skipped"
        if kind == DeadlineKind.FIRST_REPLY:
            later = await self._first_reply_floor(tx, appeal, community, now)
            if later is not None:
                if appeal.due_at is not None and later >= appeal.due_at:
                    return "skipped"  # the level's own deadline comes first and decides
                await repo.add_deadline(appeal.id, DeadlineKind.FIRST_REPLY, appeal.stage, later)
                return "postponed"

        reason = "no_first_reply" if kind == DeadlineKind.FIRST_REPLY else "deadline"
        if kind in (DeadlineKind.FIRST_REPLY, DeadlineKind.RESOLVE):
            moved = await self.workflow.escalate(tx, appeal, community, now, actor_id=None, reason=reason)
            if moved is not None:
                return "escalated"
            if kind == DeadlineKind.FIRST_REPLY:
                # nobody above, and the level's own deadline has not passed: nothing is overdue yet
                # (its RESOLVE deadline starts the daily pings; a second chain would ping twice a day)
                return "skipped"
        # at the top of the chain: ping the top chat again, once per working day
        cal = await self.calendars.for_community(tx, community)
        card = await card_params(tx, appeal, community)
        chat, person = ping_target(appeal, community)
        await self.queue(
            tx,
            Notice(
                chat,
                "appeal.overdue_top",
                card,
                buttons=appeal_buttons(appeal),
                user_id=person,
                appeal_id=appeal.id,
                dedupe_key=f"reping:{row['id']}",
            ),
            community,
            now,
        )
        await repo.add_event(appeal.id, now, None, "repinged", appeal.level)
        await repo.add_deadline(
            appeal.id,
            DeadlineKind.REPING,
            appeal.stage,
            cal.add_working_seconds(now, cal.working_day_length().total_seconds()),
        )
        return "repinged"
