"""Staff's controls of the monthly election (the staff chat's ``/election``): the settings and the
next opening they give (``configure``, ``settings_view``), the shortlist of the election waiting to
open (``nominate``, ``withdraw_unit``; ``_upcoming`` creates that election early), and on the open
election ``extend``, ``cancel``, ``repost``, ``withdraw`` and the live ``turnout``. Every method checks
that the actor is staff of the community. What residents do is in
:class:`bot.services.elections.service.ElectionService`, whose cycle and lookups this service shares."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from bot.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from bot.models import Community, Notice, Role, UserInfo
from bot.services.base import ServiceBase
from bot.services.elections.rules import (
    EDITABLE,
    MAX_EXTENSION,
    REPLAN_KEYS,
    SCHEDULE_KEYS,
    CandidateUnknown,
    ElectionSettings,
    NotACandidate,
    SettingsView,
    Turnout,
    VotingClosed,
    Withdrawn,
    shift_month,
)
from bot.services.elections.service import ElectionService
from bot.services.routing import fmt_local
from storage.db import Tx
from storage.elections import Candidate, Election, ElectionsRepo
from storage.electorate import ElectorateRepo, HeadRow
from storage.registry import RegistryRepo


class ElectionStaffService(ServiceBase):
    def __init__(self, elections: ElectionService) -> None:
        super().__init__(elections.db, elections.clock, elections.calendars)
        self.elections = elections
        self.cycle = elections.cycle

    async def settings_view(self, community_id: int) -> SettingsView:
        """The settings, the next opening moment and the election open now (``/election set``)."""
        async with self.db.read() as tx:
            community = await self.elections._community(tx, community_id)
            return await self._view(tx, community, ElectionSettings.from_settings(community.settings))

    async def configure(self, actor: UserInfo, community_id: int, key: str, value: str) -> SettingsView:
        """Change one setting. A change of ``open_day`` / ``open_time`` or switching elections on takes
        effect from the next opening moment (``schedule_since``); an election waiting to open follows
        the new schedule and rules; an open one keeps its own."""
        if key not in EDITABLE:
            raise InvalidInput("error.election_setting_key", keys=", ".join(EDITABLE))
        now = self.clock.now()
        async with self.db.write() as tx:
            community = await self.elections._community(tx, community_id)
            await self._staff(tx, community, actor)
            raw: dict[str, Any] = dict(community.settings.get("elections", {}))
            before = ElectionSettings.model_validate(raw)
            text = value.strip()
            if key == "open_time" and re.fullmatch(r"\d:\d{2}", text):
                text = "0" + text  # 9:30 -> 09:30
            raw[key] = text
            try:
                parsed = ElectionSettings.model_validate(raw)
            except ValidationError as exc:
                if key == "open_time":
                    raise InvalidInput("error.election_setting_time") from exc
                raise InvalidInput("error.election_setting_value", name=key) from exc
            changed = getattr(parsed, key) != getattr(before, key)
            if changed and key in SCHEDULE_KEYS and (key != "enabled" or parsed.enabled):
                parsed = parsed.model_copy(update={"schedule_since": now})
            settings = dict(community.settings)
            settings["elections"] = parsed.model_dump(mode="json")
            await RegistryRepo(tx).set_community_settings(community.id, settings)
            if changed and key in REPLAN_KEYS:
                await self._replan(tx, community, parsed, key, now)
            return await self._view(tx, community, parsed)

    async def _replan(self, tx: Tx, community: Community, settings: ElectionSettings, key: str, now: datetime) -> None:
        """Elections still waiting to open follow the changed setting. A new opening moment that has
        passed means: open at the next tick and run ``duration_days`` from then."""
        repo = ElectionsRepo(tx)
        tz = ZoneInfo(community.timezone)
        for election in await repo.of_community(community.id, ("scheduled",)):
            opens = election.opens_at
            if key in ("open_day", "open_time"):
                year, month = (int(part) for part in election.period.split("-"))
                opens = max(now, settings.opening_in(tz, *shift_month(year, month, 1)))
            closes = election.closes_at
            if key in ("open_day", "open_time", "duration_days"):
                closes = opens + timedelta(days=settings.duration_days)
            await repo.replan(election.id, opens_at=opens, closes_at=closes, top_n=settings.top_n, scope=settings.scope)

    async def _view(self, tx: Tx, community: Community, settings: ElectionSettings) -> SettingsView:
        repo = ElectionsRepo(tx)
        now = self.clock.now()
        opened = await repo.of_community(community.id, ("open",))
        open_period = opened[0].period if opened else None
        if not settings.enabled:
            return SettingsView(settings, None, None, open_period)
        scheduled = await repo.of_community(community.id, ("scheduled",))
        if scheduled:
            return SettingsView(settings, scheduled[-1].period, scheduled[-1].opens_at, open_period)
        period, opens = await self._next_opening(tx, community, settings, now)
        return SettingsView(settings, period, opens, open_period)

    async def _next_opening(
        self, tx: Tx, community: Community, settings: ElectionSettings, now: datetime
    ) -> tuple[str, datetime]:
        """The first opening moment after ``now`` whose month has no election yet."""
        repo = ElectionsRepo(tx)
        tz = ZoneInfo(community.timezone)
        period, opens = settings.next_opening(tz, now)
        for _ in range(12):  # at most one election a month: a year ahead is always enough
            if await repo.by_period(community.id, period) is None:
                break
            period, opens = settings.next_opening(tz, opens)
        return period, opens

    async def find_units(self, community_id: int, name: str) -> list[tuple[int, str, str]]:
        """Units of the community called ``name`` (``"House A / 3"`` picks the building too; a unit
        whose own name has a slash, such as ``3/2``, is found by its name first): (unit id, building
        title, unit name). Case-insensitive."""
        whole = await self._units_named(community_id, "", name)
        if whole:
            return whole
        for at in (i for i, char in enumerate(name) if char == "/"):  # "Building 7 / 3/2": each split in turn
            found = await self._units_named(community_id, name[:at], name[at + 1 :])
            if found:
                return found
        return []

    async def _units_named(self, community_id: int, building_name: str, unit_name: str) -> list[tuple[int, str, str]]:
        wanted_unit = " ".join(unit_name.split()).casefold()
        wanted_building = " ".join(building_name.split()).casefold()
        found: list[tuple[int, str, str]] = []
        async with self.db.read() as tx:
            reg = RegistryRepo(tx)
            for building in await reg.buildings_of(community_id):
                if not building.active or (wanted_building and building.title.casefold() != wanted_building):
                    continue
                found.extend(
                    (u.id, building.title, u.name)
                    for u in await reg.units_of(building.id)
                    if u.name.casefold() == wanted_unit
                )
        return found

    async def nominate(self, actor: UserInfo, community_id: int, unit_id: int) -> Candidate:
        """Put the head of ``unit_id`` on the shortlist of the next election (before it opens).
        Once anybody is nominated, only the shortlist stands."""
        now = self.clock.now()
        async with self.db.write() as tx:
            community = await self.elections._community(tx, community_id)
            await self._staff(tx, community, actor)
            head = await self._unit_head_of(tx, community, unit_id, "error.election_unit_no_head")
            repo = ElectionsRepo(tx)
            election = await self._upcoming(tx, community, now)
            if await repo.candidate(election.id, head.user_id) is not None:
                raise Conflict("error.election_already_nominated", name=head.display)
            position = len(await repo.candidates(election.id, include_removed=True))
            await repo.add_candidate(election.id, head, position, "nominated")
            await repo.set_shortlisted(election.id)
            candidate = await repo.candidate(election.id, head.user_id)
        assert candidate is not None
        return candidate

    async def _upcoming(self, tx: Tx, community: Community, now: datetime) -> Election:
        repo = ElectionsRepo(tx)
        scheduled = await repo.of_community(community.id, ("scheduled",))
        if scheduled:
            return scheduled[-1]  # the earliest one still waiting to open
        settings = ElectionSettings.from_settings(community.settings)
        period, opens = await self._next_opening(tx, community, settings, now)
        await repo.create(
            community_id=community.id,
            period=period,
            opens_at=opens,
            closes_at=opens + timedelta(days=settings.duration_days),
            top_n=settings.top_n,
            scope=settings.scope,
            now=now,
        )
        election = await repo.by_period(community.id, period)
        assert election is not None
        if election.state != "scheduled":
            raise Conflict("error.election_not_scheduled", period=period)
        return election

    async def withdraw_unit(self, actor: UserInfo, community_id: int, unit_id: int) -> Withdrawn:
        """Take the head of ``unit_id`` off: off the shortlist of the election waiting to open if they
        are on it, otherwise off the open election's ballot."""
        now = self.clock.now()
        async with self.db.write() as tx:
            community = await self.elections._community(tx, community_id)
            await self._staff(tx, community, actor)
            head = await self._unit_head_of(tx, community, unit_id, "error.election_withdraw_no_head")
            repo = ElectionsRepo(tx)
            for election in reversed(await repo.of_community(community.id, ("scheduled",))):
                candidate = await repo.candidate(election.id, head.user_id)
                if candidate is not None and not candidate.removed:
                    await self._withdraw(tx, community, election, candidate, now)
                    return Withdrawn(election, candidate, from_shortlist=True)
            for election in await repo.of_community(community.id, ("open",)):
                candidate = await repo.candidate(election.id, head.user_id)
                if candidate is not None and not candidate.removed:
                    await self._withdraw(tx, community, election, candidate, now)
                    return Withdrawn(election, candidate, from_shortlist=False)
        raise NotACandidate(name=head.display)

    async def withdraw(self, actor: UserInfo, election_id: int, user_id: int) -> Election:
        """Take a candidate off: before opening they are dropped from the shortlist; while open they
        are marked removed (votes for them stop counting; their voters may vote again, and the
        building chats whose ballot listed them are told)."""
        now = self.clock.now()
        async with self.db.write() as tx:
            election, community = await self.elections._election(tx, election_id)
            await self._staff(tx, community, actor)
            candidate = await ElectionsRepo(tx).candidate(election.id, user_id)
            if candidate is None or candidate.removed:
                raise CandidateUnknown()
            await self._withdraw(tx, community, election, candidate, now)
        return election

    async def _withdraw(
        self, tx: Tx, community: Community, election: Election, candidate: Candidate, now: datetime
    ) -> None:
        repo = ElectionsRepo(tx)
        if election.state == "scheduled":
            await repo.delete_candidate(election.id, candidate.user_id)
            if not await repo.count_candidates(election.id):
                await repo.set_shortlisted(election.id, False)  # back to "all unit heads"
        elif election.state == "open" and now < election.closes_at:
            if await repo.remove_candidate(election.id, candidate.user_id, now):
                await self.cycle.post_withdrawn(tx, community, election, candidate, now)
        else:
            raise VotingClosed(period=election.period)

    async def extend(self, actor: UserInfo, election_id: int, closes_at: datetime) -> Election:
        if closes_at.tzinfo is None:
            raise InvalidInput("error.election_extend_time")
        now = self.clock.now()
        async with self.db.write() as tx:
            election, community = await self.elections._election(tx, election_id)
            await self._staff(tx, community, actor)
            self.elections._must_be_open(election, now)
            if closes_at <= election.closes_at:
                raise InvalidInput(
                    "error.election_extend_earlier", closes=fmt_local(election.closes_at, community, now)
                )
            if closes_at > now + MAX_EXTENSION:
                raise InvalidInput("error.election_extend_too_far", days=MAX_EXTENSION.days)
            repo = ElectionsRepo(tx)
            if not await repo.set_closes_at(election.id, closes_at, now):
                raise VotingClosed(period=election.period)
            fresh = await repo.get(election.id)
            assert fresh is not None
            for building in await self.cycle.ballot_buildings(tx, community, fresh):
                await self.cycle.announce(
                    tx,
                    Notice(
                        building.chat_id,
                        "election.extended",
                        {"period": fresh.period, "closes": fmt_local(fresh.closes_at, community, now)},
                        dedupe_key=f"el:{fresh.id}:ext:{int(closes_at.timestamp())}:{building.id}",
                    ),
                    community,
                    now,
                )
        return fresh

    async def cancel(self, actor: UserInfo, election_id: int) -> Election:
        now = self.clock.now()
        async with self.db.write() as tx:
            election, community = await self.elections._election(tx, election_id)
            await self._staff(tx, community, actor)
            repo = ElectionsRepo(tx)
            if not await repo.mark_cancelled(election.id, now, "by_staff"):
                raise Conflict("error.election_not_cancellable", period=election.period)
            await repo.forget_choices(election.id)
            if election.state == "open":
                for building in await self.cycle.ballot_buildings(tx, community, election):
                    await self.cycle.announce(
                        tx,
                        Notice(
                            building.chat_id,
                            "election.cancelled",
                            {"period": election.period},
                            dedupe_key=f"el:{election.id}:cancel:{building.id}",
                        ),
                        community,
                        now,
                    )
            fresh = await repo.get(election.id)
        assert fresh is not None
        return fresh

    async def repost(self, actor: UserInfo, election_id: int, building_id: int | None = None) -> int:
        """Post the ballot again (all ballot buildings, or one); returns how many were queued."""
        now = self.clock.now()
        async with self.db.write() as tx:
            election, community = await self.elections._election(tx, election_id)
            await self._staff(tx, community, actor)
            self.elections._must_be_open(election, now)
            await ElectionsRepo(tx).bump_repost(election.id)
            fresh = await ElectionsRepo(tx).get(election.id)
            assert fresh is not None
            return await self.cycle.post_ballots(tx, community, fresh, now, only=building_id)

    async def turnout(self, actor: UserInfo, election_id: int) -> Turnout:
        """Turnout per building (staff audit): counts of voters, never their choices; live while the
        election runs, as stored at closing once it is closed."""
        async with self.db.read() as tx:
            election, community = await self.elections._election(tx, election_id)
            await self._staff(tx, community, actor)
            if election.state == "closed":
                return await self.elections._stored_turnout(tx, community, election)
            return await self.cycle.turnout(tx, community, election)

    async def _staff(self, tx: Tx, community: Community, actor: UserInfo) -> None:
        if not await RegistryRepo(tx).has_role(community.id, actor.id, Role.STAFF):
            raise PermissionDenied("error.staff_only")

    async def _unit_head_of(self, tx: Tx, community: Community, unit_id: int, missing: str) -> HeadRow:
        """The head of ``unit_id``, a unit of ``community``; ``NotFound(missing)`` when the unit has no
        head or is not the community's."""
        head = await ElectorateRepo(tx).unit_head(unit_id)
        building = await RegistryRepo(tx).get_building(head.building_id) if head else None
        if head is None or building is None or building.community_id != community.id:
            raise NotFound(missing)
        return head
