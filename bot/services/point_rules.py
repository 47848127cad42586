"""The points rules: how appeal work and elections turn into ledger entries.

Every change is one ledger entry, written with its balance and its month's total in the caller's
transaction: the entry *is* the event. Each entry carries a ``cause_key`` (unique), so a rule fires
once per cause however often it is applied (:func:`apply_appeal_rules` runs after every appeal
event, may run twice, or in a catch-up job; :func:`record_award` when an election closes).

The rules (per community, :class:`PointsSettings`, stored in ``communities.settings['points']``):

* a first reply within ``first_reply_hours`` of filing, by a unit or building head;
* an appeal resolved within its deadline and then closed, by category;
* a good rating from the resident;
* a missed deadline that forced an escalation costs whoever held the appeal at that level;
* a monthly election win is worth ``base × election_multiplier``.

Appeal work counts only when it is a head's: the appeal's own unit and building heads earn and lose
points; staff and the street office, who may act at any level, never do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from bot.errors import NotFound
from bot.models import Appeal, Category, Community, Level, Role, Status
from storage.appeals import AppealsRepo
from storage.db import Tx
from storage.ledger import HistoryEvent, LedgerEntry, LedgerRepo, RolesRepo
from storage.registry import RegistryRepo


class PointsSettings(BaseModel):
    """Stored as JSON in ``communities.settings['points']``; staff change it with :meth:`PointsService.set_rule`."""

    model_config = ConfigDict(extra="ignore")

    first_reply_hours: int = Field(24, ge=1, le=24 * 14)  # a first reply this fast earns ...
    first_reply: int = Field(2, ge=0, le=10_000)  # ... this much
    resolved_consultation: int = Field(3, ge=0, le=10_000)  # resolved within its deadline, by category
    resolved_problem: int = Field(5, ge=0, le=10_000)
    resolved_major: int = Field(8, ge=0, le=10_000)
    good_rating_min: int = Field(4, ge=1, le=5)  # a resident's rating this high or higher ...
    good_rating: int = Field(2, ge=0, le=10_000)  # ... earns this much
    missed_deadline: int = Field(3, ge=0, le=10_000)  # deducted when a missed deadline forced an escalation
    base: int = Field(5, ge=0, le=10_000)  # the base award ...
    election_multiplier: int = Field(20, ge=0, le=1000)  # ... times this for a monthly election win
    code_minutes: int = Field(30, ge=5, le=7 * 24 * 60)  # how long a redemption code stays good
    card_days: int = Field(90, ge=1, le=3660)  # how long an issued ID card shows as valid
    wish_fulfilled: int = Field(5, ge=0, le=10_000)  # a volunteer's micro-wish confirmed fulfilled (issue 12)
    care_visit: int = Field(1, ge=0, le=10_000)  # a care-list visit made, once per due visit (issue 12)

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> PointsSettings:
        return cls.model_validate(settings.get("points", {}))

    def resolved(self, category: Category) -> int:
        return {
            Category.CONSULTATION: self.resolved_consultation,
            Category.PROBLEM: self.resolved_problem,
            Category.MAJOR: self.resolved_major,
        }[category]

    @property
    def election_win(self) -> int:
        return self.base * self.election_multiplier


EDITABLE_RULES = tuple(PointsSettings.model_fields)


class Reason(StrEnum):
    """``ledger.reason``: what an entry is for (handlers translate ``points.reason.<value>``)."""

    FIRST_REPLY = "appeal.first_reply"
    RESOLVED = "appeal.resolved_on_time"
    GOOD_RATING = "appeal.good_rating"
    MISSED_DEADLINE = "appeal.missed_deadline"
    ELECTION_WIN = "election.win"
    MANUAL_AWARD = "manual.award"
    MANUAL_DEDUCT = "manual.deduct"
    REDEEMED = "perk.redeemed"
    REFUND = "perk.refund"
    WISH_FULFILLED = "wish.fulfilled"
    CARE_VISIT = "care.visit"


def month_key(moment: datetime, community: Community) -> str:
    """'YYYY-MM' of ``moment`` in the community's time zone."""
    return moment.astimezone(ZoneInfo(community.timezone)).strftime("%Y-%m")


async def post_entry(
    tx: Tx,
    community: Community,
    user_id: int,
    amount: int,
    reason: Reason,
    cause_key: str,
    now: datetime,
    *,
    ref_type: str | None = None,
    ref_id: int | None = None,
    actor_id: int | None = None,
    note: str | None = None,
    ranked: bool = True,
    floor: int | None = None,
    caused_at: datetime | None = None,
) -> LedgerEntry | None:
    """Append one entry (None when its cause was booked already). It counts towards the month of
    ``caused_at`` (default: now), so a catch-up after midnight does not move work into the next month.
    Raises ``storage.ledger.BalanceTooLow`` when ``floor`` is given and the balance would drop below it."""
    return await LedgerRepo(tx).append(
        community_id=community.id,
        user_id=user_id,
        amount=amount,
        reason=reason.value,
        cause_key=cause_key,
        month=month_key(caused_at or now, community),
        now=now,
        ranked=ranked,
        ref_type=ref_type,
        ref_id=ref_id,
        actor_id=actor_id,
        note=note,
        floor=floor,
    )


# --- rules ------------------------------------------------------------------------------------------
HANDLER_LEVELS = frozenset({Level.UNIT, Level.BUILDING})  # heads earn points; staff and the street office don't
ANSWER_KINDS = frozenset({"taken", "reply", "asked", "resolved"})  # what sets appeals.first_reply_at
CLAIM_KINDS = frozenset({"taken", "reply"})  # what makes the actor the assignee of a new appeal
MISSED_REASONS = frozenset({"deadline", "no_first_reply"})  # escalations forced by a missed deadline


@dataclass(frozen=True)
class DueEntry:
    user_id: int
    amount: int
    reason: Reason
    cause_key: str
    at: datetime  # when the cause happened


async def due_appeal_entries(
    tx: Tx, appeal: Appeal, history: list[HistoryEvent], rules: PointsSettings
) -> list[DueEntry]:
    """Every entry the appeal's history calls for (booked or not), from its events:

    * first reply within ``first_reply_hours`` of filing, by a head: + ``first_reply`` to who answered;
    * closed (confirmed or auto-closed) after a resolution made within the level's deadline: + the
      category's amount to who resolved it (a resolution the resident reopened does not count);
    * closed and rated ``good_rating_min`` or better: + ``good_rating`` to who resolved it;
    * each escalation forced by a missed deadline (first reply or resolution) at a head's level:
      - ``missed_deadline`` to whoever held it there (the assignee when it was escalated, as the
      event records; for older events: who took or answered it first at that level, else the head
      of that unit / building).

    Only the appeal's own heads earn or lose (:func:`acts_as_head`): staff and the street office
    may act at the unit or building level, but their work is not a head's.
    """
    due: list[DueEntry] = []
    key = f"appeal:{appeal.id}"
    heads: dict[int, bool] = {}

    async def head(user_id: int) -> bool:
        if user_id not in heads:
            heads[user_id] = await acts_as_head(tx, appeal, user_id)
        return heads[user_id]

    first = next((e for e in history if e.kind in ANSWER_KINDS and e.actor_id is not None), None)
    if (
        first is not None
        and first.actor_id is not None
        and first.actor_id != appeal.resident_id
        and first.level in HANDLER_LEVELS
        and first.at - appeal.created_at <= timedelta(hours=rules.first_reply_hours)
        and await head(first.actor_id)
    ):
        due.append(DueEntry(first.actor_id, rules.first_reply, Reason.FIRST_REPLY, f"first_reply:{key}", first.at))

    resolution = next((e for e in reversed(history) if e.kind == "resolved"), None)
    closed = next((e.at for e in history if e.kind in ("confirmed", "auto_closed")), appeal.closed_at)
    rated = next((e.at for e in history if e.kind == "rated"), closed)
    if (
        closed is not None
        and rated is not None
        and appeal.status == Status.CLOSED
        and resolution is not None
        and resolution.actor_id is not None
        and resolution.level in HANDLER_LEVELS
        and await head(resolution.actor_id)
    ):
        if resolution.detail.get("on_time"):
            amount = rules.resolved(appeal.category)
            due.append(DueEntry(resolution.actor_id, amount, Reason.RESOLVED, f"resolved:{key}", closed))
        if appeal.rating is not None and appeal.rating >= rules.good_rating_min:
            due.append(DueEntry(resolution.actor_id, rules.good_rating, Reason.GOOD_RATING, f"rating:{key}", rated))

    holder: int | None = None
    for event in history:
        if event.kind == "escalated":
            origin = Level(int(event.detail.get("from", event.level - 1)))
            if event.detail.get("reason") in MISSED_REASONS and origin in HANDLER_LEVELS:
                held_by = event.detail.get("held_by")
                who = int(held_by) if held_by is not None else holder or await _head_at(tx, appeal, origin)
                if who is not None and await head(who):
                    cause = f"missed_deadline:appeal_event:{event.id}"
                    due.append(DueEntry(who, -rules.missed_deadline, Reason.MISSED_DEADLINE, cause, event.at))
            holder = None
        elif event.kind in CLAIM_KINDS and holder is None and event.actor_id is not None:
            holder = event.actor_id
    return [d for d in due if d.amount != 0]


async def acts_as_head(tx: Tx, appeal: Appeal, user_id: int) -> bool:
    """Whether the person's work on this appeal is a head's: they head its unit or its building now;
    or they are neither staff nor the street office there (nobody else can act on an appeal, see
    ``routing.can_act``, so that is a former head still holding what was routed to them)."""
    roles = RolesRepo(tx)
    if appeal.unit_id is not None and await roles.unit_head(appeal.unit_id) == user_id:
        return True
    if await roles.building_head(appeal.building_id) == user_id:
        return True
    registry = RegistryRepo(tx)
    for role in (Role.STAFF, Role.STREET):
        if await registry.has_role(appeal.community_id, user_id, role):
            return False
    return True


async def _head_at(tx: Tx, appeal: Appeal, level: Level) -> int | None:
    roles = RolesRepo(tx)
    if level == Level.UNIT:
        return await roles.unit_head(appeal.unit_id) if appeal.unit_id is not None else None
    return await roles.building_head(appeal.building_id)


async def apply_appeal_rules(tx: Tx, appeal_id: int, now: datetime) -> list[LedgerEntry]:
    """Book every entry the appeal's history calls for and that is not booked yet; returns the new
    entries. Idempotent: call it after any appeal event, any number of times."""
    appeal = await AppealsRepo(tx).get(appeal_id)
    if appeal is None:
        return []
    community = await RegistryRepo(tx).get_community(appeal.community_id)
    assert community is not None
    rules = PointsSettings.from_settings(community.settings)
    history = await LedgerRepo(tx).appeal_history(appeal_id)
    booked: list[LedgerEntry] = []
    for due in await due_appeal_entries(tx, appeal, history, rules):
        entry = await post_entry(
            tx,
            community,
            due.user_id,
            due.amount,
            due.reason,
            due.cause_key,
            now,
            ref_type="appeal",
            ref_id=appeal.id,
            caused_at=due.at,
        )
        if entry is not None:
            booked.append(entry)
    return booked


AwardKind = Literal["election_win"]
_AWARDS: dict[str, tuple[Reason, str]] = {"election_win": (Reason.ELECTION_WIN, "election")}


async def record_award(
    tx: Tx,
    community_id: int,
    user_id: int,
    *,
    kind: AwardKind = "election_win",
    ref_id: int,
    now: datetime,
    actor_id: int | None = None,
    note: str | None = None,
    caused_at: datetime | None = None,
) -> LedgerEntry | None:
    """An award for something outside appeals (a monthly election win: ``base × election_multiplier``),
    once per (kind, ref_id, person); None when it was booked already. ``caused_at`` (e.g. when the
    election closed) picks the month it counts towards."""
    community = await RegistryRepo(tx).get_community(community_id)
    if community is None:
        raise NotFound("error.community_unknown")
    rules = PointsSettings.from_settings(community.settings)
    reason, ref_type = _AWARDS[kind]
    amount = rules.election_win
    cause = f"{kind}:{ref_type}:{ref_id}:user:{user_id}"
    return await post_entry(
        tx,
        community,
        user_id,
        amount,
        reason,
        cause,
        now,
        ref_type=ref_type,
        ref_id=ref_id,
        actor_id=actor_id,
        note=note,
        caused_at=caused_at,
    )
