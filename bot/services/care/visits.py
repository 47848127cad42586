"""Care visits: recording a visit (Visited, all well / Needs help / Not at home), the points rule
(``PointsSettings.care_visit``, once per due visit), the door-knocking round (敲门行动, ``/knock``)
and the sweep of due moments.

Due moments are rows (``care_deadlines``): ``due`` reminds the unit head (the building head if the
unit has none); a visit not recorded by due + 1 working day goes to the building head
(``missed_building``), by due + 2 working days to the staff chat (``missed_staff``: no label, no
note). A recorded visit finishes the household's open rows and adds the next ``due``. Each row runs
in a savepoint and is marked done with its outcome; outbox dedupe keys name the row, so a crash or a
second process never sends twice.

Needs help records the visit and opens a filing draft for the visitor (category problem, no unit):
their next private message files the appeal through the filing service, routed as every appeal is
(from the building head up, since the unit head is the one asking).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.calendar import WorkCalendar
from bot.dates import moment
from bot.errors import InvalidInput, NotConfigured, PermissionDenied
from bot.models import Button, Category, Community, Notice, Priority, Reply, Role, UserInfo
from bot.services.access import Place, require_private
from bot.services.base import ServiceBase
from bot.services.care.households import HouseholdUnknown, access, household_params, visit_buttons
from bot.services.point_rules import PointsSettings, Reason, post_entry
from storage.care import CareDeadline, CareRepo, Household
from storage.conversations import ConversationsRepo
from storage.db import Tx
from storage.registry import RegistryRepo

log = logging.getLogger(__name__)

OUTCOMES = {"w": "well", "p": "help", "a": "away"}
DOUBLE_TAP = timedelta(minutes=10)  # the same outcome again by the same person: one visit
AWAY_RETRY = timedelta(days=1)  # not at home: due again the next day
ROUND_DAYS = 7


def missed_at(cal: WorkCalendar, due: datetime) -> datetime:
    """When a visit due at ``due`` counts as missed if none was recorded: one working day later (the
    moment the building head is told). The statistics count missed visits by this same rule."""
    return cal.add_working_seconds(due, cal.working_day_length().total_seconds())


class VisitService(ServiceBase):
    async def record(self, actor: UserInfo, household_id: int, code: str, place: Place) -> Reply:
        require_private(place)
        outcome = OUTCOMES.get(code)
        if outcome is None:
            raise InvalidInput("error.stale_button")
        now = self.clock.now()
        async with self.db.write() as tx:
            repo = CareRepo(tx)
            h = await repo.get(household_id)
            if h is None or h.state != "active" or not (await access(tx, actor.id, h)).sees:
                raise HouseholdUnknown()
            reg = RegistryRepo(tx)
            community = await reg.get_community(h.community_id)
            assert community is not None
            recent = await repo.visits(h.id, 1)
            last = recent[0] if recent else None
            if last and last.visitor_id == actor.id and last.outcome == outcome and now - last.visited_at < DOUBLE_TAP:
                return Reply("care.already_recorded", {"label": h.label})
            knock = await repo.open_round(h.building_id)
            round_id = knock.id if knock is not None and now < knock.closes_at else None
            await repo.add_visit(h, actor.id, outcome, now, round_id)
            await repo.finish_household_deadlines(h.id, now, f"visited:{outcome}")
            points = 0
            if outcome == "away":
                due, cycle = now + AWAY_RETRY, h.cycle
            else:
                due, cycle = now + timedelta(days=h.every_days or 7), h.cycle + 1
                amount = PointsSettings.from_settings(community.settings).care_visit
                if amount > 0:
                    entry = await post_entry(
                        tx,
                        community,
                        actor.id,
                        amount,
                        Reason.CARE_VISIT,
                        f"care:{h.id}:cycle:{h.cycle}",
                        now,
                        ref_type="care_household",
                        ref_id=h.id,
                    )
                    points = entry.amount if entry else 0
            await repo.set_next_due(h.id, due, cycle)
            await repo.add_deadline("due", due, household_id=h.id, due_for=due)
            if round_id is not None:
                await self._round_progress(tx, round_id, community, now)
            unit = await reg.get_unit(h.unit_id)
            params = {**household_params(h, unit, community), "due": moment(due, community.timezone), "points": points}
            if outcome == "help":
                await ConversationsRepo(tx).put_draft(actor.id, h.building_id, None, Category.PROBLEM, None, now)
                return Reply("care.help_describe", params)
        return Reply("care.recorded_well" if outcome == "well" else "care.recorded_away", params)

    # --- door-knocking rounds -----------------------------------------------------------------
    async def knock(self, actor: UserInfo, chat_id: int) -> Reply:
        """/knock in a building chat (its building head or staff): a round asking each unit head to
        visit every household of their unit on the care list; again while it runs: its progress."""
        now = self.clock.now()
        async with self.db.write() as tx:
            reg = RegistryRepo(tx)
            building = await reg.building_by_chat(chat_id)
            if building is None or not building.active:
                raise NotConfigured("error.chat_not_registered")
            community = await reg.get_community(building.community_id)
            assert community is not None
            if building.head_user_id != actor.id and not await reg.has_role(community.id, actor.id, Role.STAFF):
                raise PermissionDenied("error.building_manager_only")
            repo = CareRepo(tx)
            current = await repo.open_round(building.id)
            if current is not None:
                return await self._progress_reply(tx, current.id, community, "care.knock_progress")
            counts = await repo.unit_counts(building.id)
            total = sum(counts.values())
            if not total:
                raise InvalidInput("care.knock_empty")
            closes = now + timedelta(days=ROUND_DAYS)
            round_id = await repo.start_round(community.id, building.id, actor.id, now, closes, total)
            if round_id is None:  # another /knock won the race
                current = await repo.open_round(building.id)
                assert current is not None
                return await self._progress_reply(tx, current.id, community, "care.knock_progress")
            await repo.add_deadline("round_close", closes, round_id=round_id)
            households = await repo.of_buildings([building.id], 10_000)
            by_unit: dict[int, list[Household]] = {}
            for h in households:
                by_unit.setdefault(h.unit_id, []).append(h)
            for unit_id, items in by_unit.items():
                unit = await reg.get_unit(unit_id)
                head = (unit.head_user_id if unit else None) or building.head_user_id
                if head is None:
                    continue
                rows = tuple(
                    (
                        Button(
                            "care.btn.household",
                            data=f"cr:v:{h.id}",
                            params={"label": h.label, "unit": unit.name if unit else "-"},
                        ),
                    )
                    for h in items[:30]
                )
                params = {"building": building.title, "count": len(items), "by": moment(closes, community.timezone)}
                notice = Notice(
                    head,
                    "care.knock_ask",
                    params,
                    buttons=rows,
                    user_id=head,
                    priority=Priority.BULK,
                    dedupe_key=f"knock:{round_id}:{unit_id}:{head}",
                )
                await self.queue(tx, notice, community, now)
            return Reply("care.knock_started", {"total": total, "by": moment(closes, community.timezone)})

    async def _progress_reply(self, tx: Tx, round_id: int, community: Community, key: str) -> Reply:
        repo = CareRepo(tx)
        knock = await repo.get_round(round_id)
        assert knock is not None
        done = await repo.round_progress(round_id)
        counts = await repo.unit_counts(knock.building_id)
        reg = RegistryRepo(tx)
        lines = []
        for unit_id, total in sorted(counts.items()):
            unit = await reg.get_unit(unit_id)
            lines.append({"unit": unit.name if unit else "-", "done": min(done.get(unit_id, 0), total), "total": total})
        visited = sum(min(done.get(u, 0), n) for u, n in counts.items())
        from bot.i18n import rows

        params = {
            "done": visited,
            "total": sum(counts.values()),
            "by": moment(knock.closes_at, community.timezone),
            "units": rows("care.knock_unit_line", lines),
        }
        return Reply(key, params)

    async def _round_progress(self, tx: Tx, round_id: int, community: Community, now: datetime) -> None:
        """After a visit in a round: when every household was visited, the round ends (the building
        chat is told: counts only, no names)."""
        repo = CareRepo(tx)
        knock = await repo.get_round(round_id)
        if knock is None or knock.state != "open":
            return
        done = await repo.round_progress(round_id)
        counts = await repo.unit_counts(knock.building_id)
        if all(done.get(u, 0) >= n for u, n in counts.items()) and await repo.close_round(round_id):
            await self._announce_end(tx, round_id, community, now, "care.knock_complete")

    async def _announce_end(self, tx: Tx, round_id: int, community: Community, now: datetime, key: str) -> None:
        knock = await CareRepo(tx).get_round(round_id)
        building = await RegistryRepo(tx).get_building(knock.building_id) if knock else None
        if building is None or not building.active:
            return
        reply = await self._progress_reply(tx, round_id, community, key)
        notice = Notice(building.chat_id, reply.template, reply.params, dedupe_key=f"knock:{round_id}:end")
        await self.queue(tx, notice, community, now)

    # --- the sweep ------------------------------------------------------------------------------
    async def tick(self, batch: int = 200) -> dict[str, int]:
        fired: dict[str, int] = {}
        now = self.clock.now()
        while True:
            async with self.db.write() as tx:
                rows = await CareRepo(tx).claim_due(now, batch)
                for row in rows:
                    try:
                        async with tx.savepoint("care_deadline"):
                            outcome = await self._fire(tx, row, now)
                    except Exception:
                        log.exception("care deadline %s failed", row.id)
                        outcome = "error"
                    await CareRepo(tx).finish_deadline(row.id, now, outcome)
                    fired[outcome] = fired.get(outcome, 0) + 1
            if len(rows) < batch:
                return fired

    async def _fire(self, tx: Tx, row: CareDeadline, now: datetime) -> str:
        repo, reg = CareRepo(tx), RegistryRepo(tx)
        if row.kind == "round_close":
            knock = await repo.get_round(row.round_id) if row.round_id is not None else None
            if knock is None or not await repo.close_round(knock.id):
                return "skipped"
            community = await reg.get_community(knock.community_id)
            assert community is not None
            await self._announce_end(tx, knock.id, community, now, "care.knock_closed")
            return "round_closed"
        h = await repo.get(row.household_id) if row.household_id is not None else None
        if h is None or h.state != "active" or h.next_due_at is None or row.due_for != h.next_due_at:
            return "skipped"  # removed, or visited since (a new due row exists)
        community = await reg.get_community(h.community_id)
        building = await reg.get_building(h.building_id)
        unit = await reg.get_unit(h.unit_id)
        if community is None or building is None or not building.active:
            return "gone"
        params = {**household_params(h, unit, community), "building": building.title}
        cal = await self.calendars.for_community(tx, community)
        day = cal.working_day_length().total_seconds()
        if row.kind == "due":
            head = (unit.head_user_id if unit else None) or building.head_user_id
            if head is not None:
                await self._private(tx, community, now, head, "care.visit_due", params, row)
            await repo.add_deadline(
                "missed_building", missed_at(cal, h.next_due_at), household_id=h.id, due_for=h.next_due_at
            )
            return "reminded"
        if row.kind == "missed_building":
            if building.head_user_id is not None:
                await self._private(tx, community, now, building.head_user_id, "care.missed_building", params, row)
            later = cal.add_working_seconds(now, day)
            await repo.add_deadline("missed_staff", later, household_id=h.id, due_for=h.next_due_at)
            return "building_head"
        if row.kind == "missed_staff":
            staff_params = {"building": building.title, "unit": params["unit"], "due": params["due"]}
            notice = Notice(community.staff_chat_id, "care.missed_staff", staff_params, dedupe_key=f"care:{row.id}")
            await self.queue(tx, notice, community, now)
            return "staff"
        return "unknown"

    async def _private(
        self,
        tx: Tx,
        community: Community,
        now: datetime,
        user_id: int,
        template: str,
        params: dict[str, object],
        row: CareDeadline,
    ) -> None:
        notice = Notice(
            user_id,
            template,
            params,
            buttons=visit_buttons(int(str(params["id"]))),
            user_id=user_id,
            dedupe_key=f"care:{row.id}:{user_id}",
        )
        await self.queue(tx, notice, community, now)
