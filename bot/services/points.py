"""Points as people use them: manual awards and deductions by staff, the rules' settings and the
queries behind ``/points`` and ``/top``. The rules that turn appeal work and election wins into
entries are in :mod:`bot.services.point_rules`, the unit head's signed ID card in
:mod:`bot.services.cards`.

Every change is one ledger entry, written with its balance, its month's total and (for manual
awards) the notice to the person in one transaction: the entry *is* the event.

Ranking: the leaderboards rank what people *earned* (ranked entries: work, elections, manual awards
and deductions); spending points on perks moves the balance only, so redeeming a perk never costs a
place on the board.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from bot.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from bot.i18n import plural
from bot.models import Community, Notice, Role, UserInfo
from bot.services.base import ServiceBase
from bot.services.point_rules import (
    EDITABLE_RULES,
    AwardKind,
    PointsSettings,
    Reason,
    apply_appeal_rules,
    month_key,
    post_entry,
    record_award,
)
from storage.db import Tx
from storage.ledger import LedgerEntry, LedgerRepo, RolesRepo
from storage.registry import RegistryRepo

REASON_MAX = 300
MANUAL_MAX = 100_000
PAGE_MAX = 50


# --- views ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PointsSummary:
    community_id: int
    user_id: int
    balance: int  # spendable
    earned: int  # all time, what the overall rank is based on
    month: str  # 'YYYY-MM'
    month_points: int
    rank_month: int  # 1 = best; ties share a rank
    people_month: int  # the people ranked: the community's current heads and anyone else with entries
    rank_all: int
    people_all: int  # the same people (those without entries count as 0)
    entries: list[LedgerEntry]  # newest first
    next_before: int | None  # pass to history() for the next page; None: no more
    timezone: str = "UTC"  # the community's: entry dates are shown in it


@dataclass(frozen=True)
class HistoryPage:
    entries: list[LedgerEntry]
    next_before: int | None
    timezone: str = "UTC"  # the community's


@dataclass(frozen=True)
class CommunityChoice:
    """A community a person has points business in (see :meth:`PointsService.choices`)."""

    community_id: int
    name: str
    head: bool  # heads a unit or building there now


@dataclass(frozen=True)
class LeaderEntry:
    rank: int
    user_id: int
    name: str
    points: int


@dataclass(frozen=True)
class Leaderboard:
    community_id: int
    period: Literal["month", "all"]
    month: str
    rows: list[LeaderEntry]
    timezone: str = "UTC"  # the community's (the month is its month)


# --- the service ------------------------------------------------------------------------------------
class PointsService(ServiceBase):
    # --- rules -------------------------------------------------------------------------------------
    async def rules(self, community_id: int, actor: UserInfo | None = None) -> PointsSettings:
        """The community's rules; with ``actor``, only for its staff (``/pointrules``)."""
        async with self.db.read() as tx:
            community = (
                await self._community(tx, community_id)
                if actor is None
                else await self._as_staff(tx, community_id, actor)
            )
        return PointsSettings.from_settings(community.settings)

    async def set_rule(self, actor: UserInfo, community_id: int, key: str, value: str) -> PointsSettings:
        if key not in EDITABLE_RULES:
            raise InvalidInput("error.points_rule", keys=", ".join(EDITABLE_RULES))
        async with self.db.write() as tx:
            community = await self._as_staff(tx, community_id, actor)
            raw: dict[str, Any] = dict(community.settings.get("points", {}))
            raw[key] = value.strip()
            try:
                rules = PointsSettings.model_validate(raw)
            except ValidationError as exc:
                raise InvalidInput("error.points_rule_value", name=key) from exc
            settings = dict(community.settings)
            settings["points"] = rules.model_dump()
            await RegistryRepo(tx).set_community_settings(community.id, settings)
        return rules

    async def apply_appeal_rules(self, appeal_id: int) -> list[LedgerEntry]:
        now = self.clock.now()
        async with self.db.write() as tx:
            return await apply_appeal_rules(tx, appeal_id, now)

    async def record_award(
        self,
        community_id: int,
        user_id: int,
        *,
        kind: AwardKind = "election_win",
        ref_id: int,
        caused_at: datetime | None = None,
    ) -> LedgerEntry | None:
        now = self.clock.now()
        async with self.db.write() as tx:
            return await record_award(tx, community_id, user_id, kind=kind, ref_id=ref_id, now=now, caused_at=caused_at)

    # --- manual awards -----------------------------------------------------------------------------
    async def award(
        self,
        actor: UserInfo,
        community_id: int,
        user_id: int,
        amount: int,
        reason: str,
        *,
        request_key: str | None = None,
    ) -> LedgerEntry:
        """Staff give ``amount`` points with a reason; the person is told. ``request_key`` (e.g. the
        command's chat and message id) makes a replayed update book nothing twice."""
        return await self._manual(actor, community_id, user_id, amount, reason, request_key, deduct=False)

    async def deduct(
        self,
        actor: UserInfo,
        community_id: int,
        user_id: int,
        amount: int,
        reason: str,
        *,
        request_key: str | None = None,
    ) -> LedgerEntry:
        """Staff take ``amount`` points (a positive number) with a reason; the person is told. The
        balance may go below zero: a deduction corrects what was earned."""
        return await self._manual(actor, community_id, user_id, amount, reason, request_key, deduct=True)

    async def _manual(
        self,
        actor: UserInfo,
        community_id: int,
        user_id: int,
        amount: int,
        reason: str,
        request_key: str | None,
        *,
        deduct: bool,
    ) -> LedgerEntry:
        note = " ".join(reason.split())
        if not note:
            raise InvalidInput("error.points_reason_required")
        if len(note) > REASON_MAX:
            raise InvalidInput("error.points_reason_too_long", max=REASON_MAX)
        if isinstance(amount, bool) or not 0 < amount <= MANUAL_MAX:
            raise InvalidInput("error.points_amount", max=MANUAL_MAX)
        now = self.clock.now()
        cause = f"manual:{request_key}" if request_key else f"manual:{secrets.token_hex(12)}"
        signed = -amount if deduct else amount
        async with self.db.write() as tx:
            community = await self._as_staff(tx, community_id, actor)
            ledger = LedgerRepo(tx)
            booked = await ledger.by_cause(cause) if request_key else None
            if booked is not None:  # the same request again: give back what it booked
                return await self._replayed(tx, booked, community, user_id, signed, note)
            if user_id == actor.id:
                raise InvalidInput("error.points_self")
            is_head = await RolesRepo(tx).heads_here(user_id, community.id)
            has_points = (await ledger.standing(community.id, user_id)).entries > 0
            if not (is_head or has_points):  # a head now, or one who earned points here before
                raise NotFound("error.points_person_unknown", user_id=user_id)
            await RegistryRepo(tx).upsert_user(actor, now)
            reason_key = Reason.MANUAL_DEDUCT if deduct else Reason.MANUAL_AWARD
            entry = await post_entry(
                tx, community, user_id, signed, reason_key, cause, now, ref_type="manual", actor_id=actor.id, note=note
            )
            if entry is None:  # the same request, booked by a parallel delivery of it
                booked = await ledger.by_cause(cause)
                assert booked is not None
                return await self._replayed(tx, booked, community, user_id, signed, note)
            standing = await ledger.standing(community.id, user_id)
            await self.queue(
                tx,
                Notice(
                    user_id,
                    "points.deducted" if deduct else "points.awarded",
                    {
                        "amount": plural("count.points", amount),  # "1 point", "5 points"
                        "reason": note,
                        "balance": standing.balance,
                        "community": community.name,
                        "by": actor.display,
                    },
                    user_id=user_id,
                    dedupe_key=f"points:{entry.id}",
                ),
                community,
                now,
            )
        return entry

    async def _replayed(
        self, tx: Tx, booked: LedgerEntry, community: Community, user_id: int, signed: int, note: str
    ) -> LedgerEntry:
        """A request key seen before: the entry it booked when the request is the same; a refusal
        naming what was booked when it differs (nothing is booked twice, nothing changes)."""
        if (booked.community_id, booked.user_id, booked.amount, booked.note) == (community.id, user_id, signed, note):
            return booked
        person = await RegistryRepo(tx).get_user(booked.user_id)
        amount = f"+{booked.amount}" if booked.amount > 0 else f"−{-booked.amount}"
        raise Conflict(
            "error.points_replayed",
            name=person.display if person else str(booked.user_id),
            amount=amount,
            reason=booked.note or "-",
        )

    # --- queries -----------------------------------------------------------------------------------
    async def communities_of(self, user_id: int) -> list[int]:
        """Communities where the person heads a unit or building now (first, by id), then those where
        they only have points (by id): the first is the one ``/points`` and ``/perks`` show."""
        async with self.db.read() as tx:
            return await self._communities_of(tx, user_id)

    async def choices(self, user_id: int) -> list[CommunityChoice]:
        """The communities to choose from when the person heads in more than one (else the first of
        :meth:`communities_of` alone); names for the buttons."""
        async with self.db.read() as tx:
            heads = await RolesRepo(tx).head_communities(user_id)
            mine = heads if len(heads) > 1 else (await self._communities_of(tx, user_id, heads))[:1]
            registry = RegistryRepo(tx)
            found = [(cid, await registry.get_community(cid)) for cid in mine]
        return [CommunityChoice(cid, c.name, cid in heads) for cid, c in found if c is not None]

    async def _communities_of(self, tx: Tx, user_id: int, heads: list[int] | None = None) -> list[int]:
        heads = sorted(heads if heads is not None else await RolesRepo(tx).head_communities(user_id))
        points = await LedgerRepo(tx).communities_of(user_id)
        return heads + sorted(set(points) - set(heads))

    async def summary(self, user_id: int, community_id: int, *, page_size: int = 5) -> PointsSummary:
        """Everything ``/points`` shows: a handful of indexed lookups, however long the history.

        Ranks are among the community's current unit and building heads and anyone else with entries
        there (people without entries count as 0): "rank R of N", R <= N."""
        page_size = max(1, min(page_size, PAGE_MAX))
        async with self.db.read() as tx:
            community = await self._community(tx, community_id)
            month = month_key(self.clock.now(), community)
            ledger = LedgerRepo(tx)
            standing = await ledger.standing(community.id, user_id)
            people = await ledger.people_all(community.id) + (0 if standing.counted else 1)
            month_points = await ledger.month_points(community.id, month, user_id)
            rank_month = await ledger.rank_month(community.id, month, month_points, people)
            rank_all = await ledger.rank_all(community.id, standing.earned)
            rows = await ledger.entries(community.id, user_id, None, page_size + 1)
        return PointsSummary(
            community_id=community.id,
            user_id=user_id,
            balance=standing.balance,
            earned=standing.earned,
            month=month,
            month_points=month_points,
            rank_month=rank_month,
            people_month=people,
            rank_all=rank_all,
            people_all=people,
            entries=rows[:page_size],
            next_before=rows[page_size - 1].id if len(rows) > page_size else None,
            timezone=community.timezone,
        )

    async def history(
        self, user_id: int, community_id: int, *, before_id: int | None = None, limit: int = 10
    ) -> HistoryPage:
        limit = max(1, min(limit, PAGE_MAX))
        async with self.db.read() as tx:
            community = await self._community(tx, community_id)
            if community.id not in await self._communities_of(tx, user_id):  # a forged community id
                raise PermissionDenied("error.heads_only")
            rows = await LedgerRepo(tx).entries(community.id, user_id, before_id, limit + 1)
        return HistoryPage(rows[:limit], rows[limit - 1].id if len(rows) > limit else None, community.timezone)

    async def leaderboard(
        self,
        community_id: int,
        period: Literal["month", "all"] = "month",
        *,
        limit: int = 10,
        viewer_id: int | None = None,
    ) -> Leaderboard:
        """The community's leaderboard; ``viewer_id``: the person asking, who must head or have
        points there (the community id comes from a button anyone can forge)."""
        limit = max(1, min(limit, PAGE_MAX))
        async with self.db.read() as tx:
            if viewer_id is not None and community_id not in await self._communities_of(tx, viewer_id):
                raise PermissionDenied("error.heads_only")
            community = await self._community(tx, community_id)
            month = month_key(self.clock.now(), community)
            ledger = LedgerRepo(tx)
            rows = await (
                ledger.top_month(community.id, month, limit)
                if period == "month"
                else ledger.top_all(community.id, limit)
            )
        board: list[LeaderEntry] = []
        for i, row in enumerate(rows):
            rank = board[-1].rank if board and board[-1].points == row.points else i + 1
            name = UserInfo(row.user_id, row.first_name or "", row.last_name, row.username).display
            board.append(LeaderEntry(rank, row.user_id, name, row.points))
        return Leaderboard(community.id, period, month, board, community.timezone)

    # --- helpers -----------------------------------------------------------------------------------
    async def _community(self, tx: Tx, community_id: int) -> Community:
        community = await RegistryRepo(tx).get_community(community_id)
        if community is None:
            raise NotFound("error.community_unknown")
        return community

    async def _as_staff(self, tx: Tx, community_id: int, actor: UserInfo) -> Community:
        community = await self._community(tx, community_id)
        if not await RegistryRepo(tx).has_role(community.id, actor.id, Role.STAFF):
            raise PermissionDenied("error.staff_only")
        return community
