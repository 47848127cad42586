"""Points, perks, redemption codes and ID cards at the domain level: a real community and real appeals
(built through updates and the workflow service), then the points and perks services called directly."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from bot.models import ActionKind, Content, Level, UserInfo
from bot.services.cards import CARD_TOKEN_LENGTH, CardInvalid, CardService, decode_card, encode_card
from bot.services.perk_admin import PerkAdminService
from bot.services.perk_catalog import (
    CODE_ALPHABET,
    CODE_BITS,
    CODE_LENGTH,
    CatalogRejected,
    CodeExpired,
    CodeOtherMerchant,
    CodeUnknown,
    CodeUsed,
    LimitReached,
    NotEnoughPoints,
    OutOfStock,
    PerkUnavailable,
    StatusPerk,
    code_hash,
    format_code,
    new_code,
    normalize_code,
    parse_catalog_csv,
)
from bot.services.perks import PerksService
from bot.services.point_rules import record_award
from bot.services.points import PointsService
from storage.db import Database
from storage.engines import open_database
from storage.registry import RegistryRepo
from tests.harness import Harness, local
from tests.support import updates

STAFF = UserInfo(1001, "Olga", username="olga_staff")
BHEAD = UserInfo(1002, "Boris", username="boris_b")
UHEAD = UserInfo(1003, "Uma", username="uma_unit")
RESIDENT = UserInfo(1004, "Rita", username="rita_r")
MIA = UserInfo(3001, "Mia", username="mia_shop")
MAX = UserInfo(3002, "Max", username="max_shop")
_msg = itertools.count(50_000)


# --- helpers ----------------------------------------------------------------------------------------
def points(h: Harness, db: Database | None = None) -> PointsService:
    return PointsService(db or h.services.db, h.clock, h.services.registry.calendars)


def perks(h: Harness, db: Database | None = None) -> PerksService:
    return PerksService(db or h.services.db, h.clock, h.services.registry.calendars)


def perk_admin(h: Harness) -> PerkAdminService:
    return PerkAdminService(perks(h))


def cards(h: Harness) -> CardService:
    return CardService(h.services.db, h.clock, h.services.registry.calendars)


async def community(h: Harness) -> int:
    ctx = await h.services.registry.chat_context(h.p.staff_chat["id"])
    assert ctx is not None
    return int(ctx.community.id)


@asynccontextmanager
async def second_db(h: Harness) -> AsyncIterator[Database]:
    db = open_database(h.services.db.url)
    await db.connect()
    try:
        yield db
    finally:
        await db.close()


async def resolve(h: Harness, who: UserInfo, appeal_id: int) -> None:
    wf = h.services.workflow
    await wf.begin(who, appeal_id, ActionKind.RESOLVE)
    await h.app.bot_data.outbox().drain()  # the prompt reaches the head: the action takes the note
    await wf.complete(who, Content("text", chat_id=who.id, message_id=next(_msg), text="Done, the lift works"))


async def ledger(h: Harness, user_id: int) -> list[Any]:
    async with h.services.db.read() as tx:
        rows: list[Any] = await tx.fetchall("SELECT * FROM ledger WHERE user_id = ? ORDER BY id", (user_id,))
        return rows


async def assert_consistent(db: Database) -> None:
    """balance = sum of entries, earned = sum of ranked entries, month totals = their sums (heads
    without entries have a zero row: they count in ranks)."""
    async with db.read() as tx:
        sums = await tx.fetchall(
            "SELECT community_id, user_id, SUM(amount), SUM(CASE WHEN ranked = 1 THEN amount ELSE 0 END), COUNT(*)"
            " FROM ledger GROUP BY community_id, user_id"
        )
        kept = await tx.fetchall(
            "SELECT community_id, user_id, balance, earned, entries FROM balances WHERE entries > 0"
        )
        zeros = await tx.fetchval("SELECT COUNT(*) FROM balances WHERE entries = 0 AND (balance <> 0 OR earned <> 0)")
        months = await tx.fetchall(
            "SELECT community_id, month, user_id, SUM(amount) FROM ledger WHERE ranked = 1"
            " GROUP BY community_id, month, user_id"
        )
        kept_months = await tx.fetchall("SELECT community_id, month, user_id, points FROM monthly_points")
    assert zeros == 0
    assert sorted(tuple(r) for r in sums) == sorted(tuple(r) for r in kept)
    assert sorted(tuple(r) for r in months) == sorted(tuple(r) for r in kept_months)


async def balance(h: Harness, user_id: int = UHEAD.id) -> int:
    return (await points(h).summary(user_id, await community(h))).balance


async def stock(h: Harness, perk_id: int) -> int | None:
    return (await perks(h).perk(perk_id)).perk.stock


async def add_heads(h: Harness) -> dict[str, UserInfo]:
    heads = {"2": UserInfo(2002, "Ann"), "3": UserInfo(2003, "Bob"), "4": UserInfo(2004, "Cid")}
    for unit, person in heads.items():
        await h.services.registry.set_unit_head(STAFF, h.p.building_chat["id"], unit, person)
    return heads


async def shop(h: Harness, **perk: Any) -> tuple[PerksService, int, int]:
    """A community, Uma with 100 points, merchant Mia with one perk (overrides in ``perk``)."""
    await h.setup_community()
    cid = await community(h)
    await points(h).award(STAFF, cid, UHEAD.id, 100, "Spring clean-up")
    svc = perks(h)
    await perk_admin(h).add_merchant(STAFF, cid, MIA, "Mia's Pharmacy")
    await perk_admin(h).add_merchant(STAFF, cid, MAX, "Max Market")
    fields: dict[str, object] = {
        "category": "Food and medicine",
        "merchant": str(MIA.id),
        "title": "Vitamins",
        "description": "One box of vitamin C",
        "address": "12 Garden Road",
        "cost": "30",
        "stock": "5",
    }
    fields.update(perk)
    view = await perk_admin(h).add_perk(STAFF, cid, fields)
    return svc, cid, view.perk.id


# --- rules ------------------------------------------------------------------------------------------
async def test_appeal_rules_fire_once_per_cause(h: Harness) -> None:
    await h.setup_community()
    svc = points(h)
    appeal_id = await h.file_appeal()
    assert await svc.apply_appeal_rules(appeal_id) == []

    h.clock.advance(timedelta(hours=1))
    await h.services.workflow.take(UHEAD, appeal_id)
    for _ in range(3):
        await svc.apply_appeal_rules(appeal_id)
    h.clock.advance(timedelta(hours=2))
    await resolve(h, UHEAD, appeal_id)
    assert await svc.apply_appeal_rules(appeal_id) == []  # not closed yet: the resident may reopen
    await h.services.resident.confirm(RESIDENT, appeal_id)
    await svc.apply_appeal_rules(appeal_id)
    await h.services.resident.rate(RESIDENT, appeal_id, 5)
    for _ in range(3):
        await svc.apply_appeal_rules(appeal_id)
    await h.sweep()
    await svc.apply_appeal_rules(appeal_id)

    rows = await ledger(h, UHEAD.id)
    assert [(r["reason"], r["amount"], r["ref_type"], r["ref_id"]) for r in rows] == [
        ("appeal.first_reply", 2, "appeal", appeal_id),
        ("appeal.resolved_on_time", 5, "appeal", appeal_id),
        ("appeal.good_rating", 2, "appeal", appeal_id),
    ]
    assert await balance(h) == 9
    await assert_consistent(h.services.db)


async def test_entries_count_towards_the_month_of_their_cause(h: Harness) -> None:
    await h.setup_community()
    cid = await community(h)
    svc = points(h)
    appeal_id = await h.file_appeal()
    await h.services.workflow.take(UHEAD, appeal_id)
    await resolve(h, UHEAD, appeal_id)
    await h.services.resident.confirm(RESIDENT, appeal_id)
    h.clock.set(local(2026, 12, 2, 10, 0))  # the rules run late (a catch-up after the month ended)
    await svc.apply_appeal_rules(appeal_id)  # the workflow booked them as they happened; a late run adds nothing
    rows = await ledger(h, UHEAD.id)
    assert {r["month"] for r in rows} == {"2026-11"} and len(rows) == 2
    async with h.services.db.write() as tx:
        await record_award(tx, cid, UHEAD.id, ref_id=3, now=h.clock.now(), caused_at=local(2026, 11, 30, 20, 0))
    summary = await svc.summary(UHEAD.id, cid)
    assert (summary.month, summary.month_points, summary.earned) == ("2026-12", 0, 107)
    h.clock.set(local(2026, 11, 30, 12, 0))
    assert (await svc.summary(UHEAD.id, cid)).month_points == 107
    await assert_consistent(h.services.db)


async def test_missed_deadline_costs_the_head_and_the_next_level_earns(h: Harness) -> None:
    await h.setup_community()
    svc = points(h)
    appeal_id = await h.file_appeal()
    h.clock.advance(timedelta(hours=25))  # nobody answered within the first-reply window
    await h.sweep()
    await svc.apply_appeal_rules(appeal_id)
    await h.sweep()
    await svc.apply_appeal_rules(appeal_id)
    assert [(r["reason"], r["amount"]) for r in await ledger(h, UHEAD.id)] == [("appeal.missed_deadline", -3)]

    await h.services.workflow.take(BHEAD, appeal_id)  # 25 h after filing: too late for the first-reply award
    await resolve(h, BHEAD, appeal_id)
    await h.services.resident.confirm(RESIDENT, appeal_id)
    await h.services.resident.rate(RESIDENT, appeal_id, 3)  # below the good-rating threshold
    await svc.apply_appeal_rules(appeal_id)
    await svc.apply_appeal_rules(appeal_id)
    assert [(r["reason"], r["amount"]) for r in await ledger(h, BHEAD.id)] == [("appeal.resolved_on_time", 5)]
    assert await balance(h, UHEAD.id) == -3
    await assert_consistent(h.services.db)


async def test_rules_are_per_community_and_auto_close_counts(h: Harness) -> None:
    """Category amounts come from the community's rules; an auto-closed appeal counts as closed."""
    await h.setup_community()
    cid = await community(h)
    svc = points(h)
    with pytest.raises(PermissionDenied):
        await svc.set_rule(UHEAD, cid, "resolved_major", "10")
    with pytest.raises(InvalidInput):
        await svc.set_rule(STAFF, cid, "resolved_major", "lots")
    with pytest.raises(InvalidInput):
        await svc.set_rule(STAFF, cid, "no_such_rule", "1")
    rules = await svc.set_rule(STAFF, cid, "resolved_major", "10")
    assert rules.resolved_major == 10 and (await svc.rules(cid)).resolved_major == 10

    appeal_id = await h.file_appeal(category="major", text="The roof leaks")
    await h.services.workflow.take(UHEAD, appeal_id)
    await resolve(h, UHEAD, appeal_id)
    h.clock.advance(timedelta(days=7))  # the resident never confirms: the sweep closes it
    await h.sweep()
    await svc.apply_appeal_rules(appeal_id)
    assert [(r["reason"], r["amount"]) for r in await ledger(h, UHEAD.id)] == [
        ("appeal.first_reply", 2),
        ("appeal.resolved_on_time", 10),
    ]


async def test_election_win_is_booked_once(h: Harness) -> None:
    await h.setup_community()
    cid = await community(h)
    for _ in range(2):
        async with h.services.db.write() as tx:
            await record_award(tx, cid, UHEAD.id, kind="election_win", ref_id=7, now=h.clock.now())
    assert await points(h).record_award(cid, UHEAD.id, kind="election_win", ref_id=7) is None
    entry = await points(h).record_award(cid, UHEAD.id, kind="election_win", ref_id=8)
    assert entry is not None and entry.amount == 100 and entry.reason == "election.win"
    assert await balance(h) == 200
    await assert_consistent(h.services.db)


# --- manual awards ----------------------------------------------------------------------------------
async def test_manual_award_needs_staff_and_a_reason_and_tells_the_head(h: Harness) -> None:
    await h.setup_community()
    cid = await community(h)
    svc = points(h)
    with pytest.raises(PermissionDenied):
        await svc.award(BHEAD, cid, UHEAD.id, 10, "Because")
    for reason in ("", "   \n "):
        with pytest.raises(InvalidInput):
            await svc.award(STAFF, cid, UHEAD.id, 10, reason)
    for amount in (0, -5, 10**9):
        with pytest.raises(InvalidInput):
            await svc.award(STAFF, cid, UHEAD.id, amount, "Because")
    with pytest.raises(NotFound):
        await svc.award(STAFF, cid, RESIDENT.id, 10, "Not a head")
    assert await ledger(h, UHEAD.id) == []

    entry = await svc.award(STAFF, cid, UHEAD.id, 10, "  Helped   at the fair ", request_key="-100:77")
    again = await svc.award(STAFF, cid, UHEAD.id, 10, "Helped at the fair", request_key="-100:77")
    assert again.id == entry.id and entry.note == "Helped at the fair" and entry.actor_id == STAFF.id
    await svc.deduct(STAFF, cid, UHEAD.id, 4, "Missed the meeting")
    assert await balance(h) == 6

    async with h.services.db.read() as tx:
        notices = await tx.fetchall(
            "SELECT chat_id, template, params FROM outbox WHERE template LIKE 'points.%' ORDER BY id"
        )
    assert [(n["chat_id"], n["template"]) for n in notices] == [
        (UHEAD.id, "points.awarded"),
        (UHEAD.id, "points.deducted"),
    ]
    assert (
        '"amount": {"plural_key": "count.points", "n": 4}' in notices[1]["params"]
        and '"balance": 6' in notices[1]["params"]
    )
    await assert_consistent(h.services.db)


async def test_balance_is_the_sum_of_entries_under_concurrency(h: Harness) -> None:
    await h.setup_community()
    cid = await community(h)
    async with second_db(h) as db2:
        one, two = points(h), points(h, db2)
        jobs = []
        for i in range(30):
            svc = one if i % 2 else two
            if i % 3:
                jobs.append(svc.award(STAFF, cid, UHEAD.id, 5, f"task {i}"))
            else:
                jobs.append(svc.deduct(STAFF, cid, UHEAD.id, 2, f"fix {i}"))
        await asyncio.gather(*jobs)
        await assert_consistent(db2)
    assert await balance(h) == 20 * 5 - 10 * 2
    await assert_consistent(h.services.db)


# --- queries ----------------------------------------------------------------------------------------
async def test_rank_and_leaderboard_this_month_and_all_time(h: Harness) -> None:
    await h.setup_community()
    cid = await community(h)
    heads = await add_heads(h)
    svc = points(h)
    for person, amount in ((UHEAD, 30), (heads["2"], 50), (heads["3"], 30), (heads["4"], 10)):
        await svc.award(STAFF, cid, person.id, amount, "November work")

    uma = await svc.summary(UHEAD.id, cid)  # among the five heads (Boris, the building head, has none)
    assert (uma.balance, uma.month, uma.month_points, uma.rank_month, uma.people_month) == (30, "2026-11", 30, 2, 5)
    assert (uma.rank_all, uma.people_all) == (2, 5)
    top = await svc.leaderboard(cid, "all", limit=3)
    assert [(r.rank, r.name, r.points) for r in top.rows] == [(1, "Ann", 50), (2, "Uma", 30), (2, "Bob", 30)]

    h.clock.set(local(2026, 12, 1, 9, 0))
    await svc.award(STAFF, cid, heads["4"].id, 25, "December work")
    uma = await svc.summary(UHEAD.id, cid)
    assert (uma.month, uma.month_points, uma.rank_month, uma.people_month) == ("2026-12", 0, 2, 5)
    assert (uma.rank_all, uma.people_all) == (3, 5)
    month = await svc.leaderboard(cid, "month")
    # the board ranks the same people as /points: every head, 0 until their first entry of the month
    assert (month.rows[0].rank, month.rows[0].name, month.rows[0].points) == (1, "Cid", 25)
    assert {(r.rank, r.points) for r in month.rows[1:]} == {(2, 0)} and len(month.rows) == 5
    overall = await svc.leaderboard(cid, "all")
    assert [(r.rank, r.name) for r in overall.rows] == [(1, "Ann"), (2, "Cid"), (3, "Uma"), (3, "Bob"), (5, "Boris")]


async def test_latest_entries_and_keyset_paging(h: Harness) -> None:
    await h.setup_community()
    cid = await community(h)
    svc = points(h)
    for i in range(12):
        await svc.award(STAFF, cid, UHEAD.id, i + 1, f"task {i}")
    summary = await svc.summary(UHEAD.id, cid, page_size=5)
    assert [e.note for e in summary.entries] == [f"task {i}" for i in range(11, 6, -1)]
    seen = [e.id for e in summary.entries]
    before = summary.next_before
    while before is not None:
        page = await svc.history(UHEAD.id, cid, before_id=before, limit=5)
        seen += [e.id for e in page.entries]
        before = page.next_before
    assert len(seen) == 12 and seen == sorted(seen, reverse=True)
    assert (await svc.history(UHEAD.id, cid, before_id=min(seen))).entries == []


# --- redemption -------------------------------------------------------------------------------------
async def test_redeem_and_merchant_check_happy_path(h: Harness) -> None:
    svc, cid, perk_id = await shop(h)
    receipt = await svc.redeem(UHEAD, perk_id)
    assert re.fullmatch(rf"[{CODE_ALPHABET}]{{5}}-[{CODE_ALPHABET}]{{5}}", receipt.code)
    assert (receipt.cost, receipt.balance, receipt.perk.perk.stock, receipt.perk.mine) == (30, 70, 4, 1)
    assert receipt.expires_at == h.clock.now() + timedelta(minutes=30)
    summary = await points(h).summary(UHEAD.id, cid)
    assert (summary.balance, summary.earned) == (70, 100)  # spending costs no place on the board
    assert summary.entries[0].reason == "perk.redeemed" and summary.entries[0].amount == -30

    async with h.services.db.read() as tx:
        stored = await tx.fetchone("SELECT code_hash FROM redemptions WHERE id = ?", (receipt.redemption_id,))
    assert stored["code_hash"] == code_hash(normalize_code(receipt.code) or "")
    assert receipt.code.replace("-", "") not in str(tuple(stored))

    check = await svc.check_code(MIA, receipt.code.lower().replace("-", " "))
    assert (check.title, check.holder, check.cost, check.perk_id) == ("Vitamins", "Uma", 30, perk_id)
    with pytest.raises(CodeUsed):
        await svc.check_code(MIA, receipt.code)
    await assert_consistent(h.services.db)


async def test_check_tells_unknown_other_merchant_and_expired_codes_apart(h: Harness) -> None:
    svc, _, perk_id = await shop(h, per_person_limit="1")
    receipt = await svc.redeem(UHEAD, perk_id)
    with pytest.raises(PermissionDenied):
        await svc.check_code(UHEAD, receipt.code)  # not a merchant
    with pytest.raises(CodeOtherMerchant):
        await svc.check_code(MAX, receipt.code)
    for garbage in ("", "hello", "ABCDE-FGHJ0", "22222-22222"):
        with pytest.raises(CodeUnknown):
            await svc.check_code(MIA, garbage)
    with pytest.raises(LimitReached):
        await svc.redeem(UHEAD, perk_id)

    h.clock.advance(timedelta(minutes=31))
    with pytest.raises(CodeExpired):
        await svc.check_code(MIA, receipt.code)
    assert (await balance(h), await stock(h, perk_id)) == (70, 4)
    assert await svc.refund_expired() == 1
    assert await svc.refund_expired() == 0
    assert (await balance(h), await stock(h, perk_id)) == (100, 5)
    with pytest.raises(CodeExpired):
        await svc.check_code(MIA, receipt.code)
    again = await svc.redeem(UHEAD, perk_id)  # the refunded code no longer counts towards the limit
    assert again.balance == 70
    await assert_consistent(h.services.db)


@pytest.mark.parametrize(
    ("perk", "error"),
    [
        ({"cost": "500"}, NotEnoughPoints),
        ({"stock": "0"}, OutOfStock),
        ({"cost": "0"}, StatusPerk),
        ({"valid_until": "2026-11-23"}, PerkUnavailable),
    ],
)
async def test_failed_redemption_leaves_nothing_behind(h: Harness, perk: dict[str, str], error: type) -> None:
    svc, _, perk_id = await shop(h, **perk)
    if error is PerkUnavailable:
        h.clock.set(local(2026, 11, 24, 0, 0))  # its last day is over (a date in the past is refused)
    before = (await balance(h), await stock(h, perk_id))
    with pytest.raises(error):
        await svc.redeem(UHEAD, perk_id)
    assert (await balance(h), await stock(h, perk_id)) == before
    async with h.services.db.read() as tx:
        assert await tx.fetchval("SELECT COUNT(*) FROM redemptions") == 0
    await assert_consistent(h.services.db)


async def test_retired_unknown_perks_and_residents_are_refused(h: Harness) -> None:
    svc, cid, perk_id = await shop(h)
    with pytest.raises(PermissionDenied):
        await svc.redeem(RESIDENT, perk_id)
    with pytest.raises(NotFound):
        await svc.redeem(UHEAD, 999)
    with pytest.raises(PermissionDenied):
        await perk_admin(h).retire_perk(UHEAD, perk_id)
    retired = await perk_admin(h).retire_perk(STAFF, perk_id)
    assert not retired.on_offer and await svc.perks(cid) == []
    with pytest.raises(PerkUnavailable):
        await svc.redeem(UHEAD, perk_id)
    assert (await balance(h), await stock(h, perk_id)) == (100, 5)


async def test_perk_expires_at_the_end_of_its_last_day(h: Harness) -> None:
    svc, cid, perk_id = await shop(h, valid_until="2026-11-23")
    view = await svc.perk(perk_id)
    assert view.last_day == date(2026, 11, 23) and view.on_offer
    receipt = await svc.redeem(UHEAD, perk_id)
    h.clock.set(local(2026, 11, 23, 23, 50))
    second = await svc.redeem(UHEAD, perk_id)
    assert second.expires_at == local(2026, 11, 24, 0, 0)  # a code never outlives its perk
    h.clock.set(local(2026, 11, 24, 0, 0))
    with pytest.raises(PerkUnavailable):
        await svc.redeem(UHEAD, perk_id)
    assert [c.available for c in await svc.categories(cid)] == [0]
    with pytest.raises(CodeExpired):
        await svc.check_code(MIA, receipt.code)


async def test_two_simultaneous_redemptions_never_overdraw(h: Harness) -> None:
    svc, _, perk_id = await shop(h, cost="60", stock="10")  # 100 points: only one fits
    async with second_db(h) as db2:
        results = await asyncio.gather(
            svc.redeem(UHEAD, perk_id), perks(h, db2).redeem(UHEAD, perk_id), return_exceptions=True
        )
        assert sorted(type(r).__name__ for r in results) == ["NotEnoughPoints", "RedemptionReceipt"]
    assert (await balance(h), await stock(h, perk_id)) == (40, 9)
    await assert_consistent(h.services.db)


async def test_simultaneous_redemptions_never_take_stock_below_zero(h: Harness) -> None:
    svc, _, perk_id = await shop(h, cost="10", stock="3")
    async with second_db(h) as db2:
        other = perks(h, db2)
        results = await asyncio.gather(*(s.redeem(UHEAD, perk_id) for s in (svc, other) * 4), return_exceptions=True)
        assert sorted(type(r).__name__ for r in results) == ["OutOfStock"] * 5 + ["RedemptionReceipt"] * 3
    assert (await balance(h), await stock(h, perk_id)) == (70, 0)
    await assert_consistent(h.services.db)


async def test_one_code_is_honoured_once_under_simultaneous_checks(h: Harness) -> None:
    svc, _, perk_id = await shop(h)
    receipt = await svc.redeem(UHEAD, perk_id)
    async with second_db(h) as db2:
        results = await asyncio.gather(
            svc.check_code(MIA, receipt.code), perks(h, db2).check_code(MIA, receipt.code), return_exceptions=True
        )
        assert sorted(type(r).__name__ for r in results) == ["CodeCheck", "CodeUsed"]
    async with h.services.db.read() as tx:
        row = await tx.fetchone("SELECT used_at, used_by FROM redemptions WHERE id = ?", (receipt.redemption_id,))
    assert row["used_by"] == MIA.id and row["used_at"] is not None


# --- codes ------------------------------------------------------------------------------------------
def test_codes_are_short_unambiguous_and_unguessable() -> None:
    assert len(CODE_ALPHABET) == 32 and not set("0O1I") & set(CODE_ALPHABET)
    assert CODE_LENGTH == 10 and CODE_BITS >= 50
    codes = {new_code() for _ in range(5000)}
    assert len(codes) == 5000  # a repeat among 5000 draws of 2^50 would be a broken generator
    assert all(len(c) == CODE_LENGTH and set(c) <= set(CODE_ALPHABET) for c in codes)
    used = {ch for c in codes for ch in c}
    assert used == set(CODE_ALPHABET)  # every symbol is drawn (full entropy per character)


@given(st.text(alphabet=CODE_ALPHABET, min_size=CODE_LENGTH, max_size=CODE_LENGTH), st.booleans(), st.booleans())
def test_codes_survive_being_read_aloud_and_typed(code: str, lower: bool, spaced: bool) -> None:
    typed = format_code(code)
    typed = typed.lower() if lower else typed
    typed = " ".join(typed.replace("-", "")) if spaced else typed
    assert normalize_code(typed) == code


@given(st.text(max_size=40))
def test_normalize_code_accepts_only_codes(text: str) -> None:
    code = normalize_code(text)
    assert code is None or (len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET))


# --- catalog ----------------------------------------------------------------------------------------
CATALOG = """category,merchant,merchant_name,title,description,address,cost,valid_until,stock,per_person_limit
Dining,3001,,Free coffee,One cup,1 Main St,0,,,
Shopping,@max_shop,Max Market,10% off,On everything,2 Main St,20,2026-12-31,100,2
Dining,Mia's Pharmacy,,Tea,A pot of tea,1 Main St,5,,,
"""


async def test_import_catalog_all_or_nothing(h: Harness) -> None:
    await h.setup_community()
    cid = await community(h)
    svc = perks(h)
    await perk_admin(h).add_merchant(STAFF, cid, MIA, "Mia's Pharmacy")
    await perk_admin(h).add_merchant(STAFF, cid, MAX)
    with pytest.raises(PermissionDenied):
        await perk_admin(h).import_catalog(UHEAD, cid, parse_catalog_csv(CATALOG))

    report = await perk_admin(h).import_catalog(STAFF, cid, parse_catalog_csv("\ufeff" + CATALOG))
    assert len(report.added) == 3 and report.changed == []
    offered = await svc.perks(cid, viewer=UHEAD.id)
    assert [(v.perk.title, v.perk.cost, v.status_only, v.perk.merchant_name) for v in offered] == [
        ("Free coffee", 0, True, "Mia's Pharmacy"),
        ("Tea", 5, False, "Mia's Pharmacy"),
        ("10% off", 20, False, "Max Market"),
    ]
    assert offered[2].last_day == date(2026, 12, 31) and offered[2].perk.per_person_limit == 2
    assert [(c.name, c.available) for c in await svc.categories(cid)] == [("Dining", 2), ("Shopping", 1)]

    bad = (
        "id,category,merchant,title,cost,stock,valid_until,colour\n"
        f"{report.added[2]},Dining,3001,Tea for two,8,,,\n"
        "999,Dining,3001,Ghost,1,,,\n"
        ",Dining,@nobody_here,Cake,abc,-1,31/12/2026,\n"
        ",Dining,3001,Soup,5,,,red\n"
    )
    with pytest.raises(CatalogRejected) as caught:
        await perk_admin(h).import_catalog(STAFF, cid, parse_catalog_csv(bad))
    problems = {(e.line, e.field, e.problem) for e in caught.value.errors}
    assert problems == {
        (3, "id", "perk_unknown"),
        (4, "cost", "not_a_number"),
        (4, "stock", "out_of_range"),
        (4, "valid_until", "bad_date"),
        (5, "colour", "unknown_column"),
    }
    assert caught.value.params["lines"] == "3, 4, 5"
    assert (await svc.perk(report.added[2])).perk.title == "Tea"  # nothing of the file was applied

    unknown = "category,merchant,title,cost\nDining,@nobody_here,Cake,3\n"
    with pytest.raises(CatalogRejected) as caught:
        await perk_admin(h).import_catalog(STAFF, cid, parse_catalog_csv(unknown))
    assert [(e.line, e.field, e.problem) for e in caught.value.errors] == [(2, "merchant", "merchant_unknown")]

    fixed = f"id,category,merchant,title,cost\n{report.added[2]},Dining,3001,Tea for two,8\n"
    assert (await perk_admin(h).import_catalog(STAFF, cid, parse_catalog_csv(fixed))).changed == [report.added[2]]
    assert (await svc.perk(report.added[2])).perk.title == "Tea for two"
    with pytest.raises(InvalidInput):
        await perk_admin(h).import_catalog(STAFF, cid, [])


async def test_staff_change_stock_limits_and_fields(h: Harness) -> None:
    svc, _, perk_id = await shop(h)
    assert (await perk_admin(h).change_perk(STAFF, perk_id, "stock", "7")).perk.stock == 7
    assert (await perk_admin(h).change_perk(STAFF, perk_id, "stock", "-")).perk.stock is None
    assert (await perk_admin(h).change_perk(STAFF, perk_id, "per_person_limit", "2")).perk.per_person_limit == 2
    moved = await perk_admin(h).change_perk(STAFF, perk_id, "merchant", "@max_shop")
    assert moved.perk.merchant_name == "Max Market"
    for field, value in (
        ("per_person_limit", "0"),
        ("cost", "-1"),
        ("valid_until", "soon"),
        ("title", "-"),
        ("stock", ""),
    ):
        with pytest.raises(InvalidInput):
            await perk_admin(h).change_perk(STAFF, perk_id, field, value)
    with pytest.raises(InvalidInput):
        await perk_admin(h).change_perk(STAFF, perk_id, "colour", "red")
    with pytest.raises(NotFound):
        await perk_admin(h).change_perk(STAFF, perk_id, "merchant", "@nobody_here")
    with pytest.raises(PermissionDenied):
        await perk_admin(h).change_perk(UHEAD, perk_id, "stock", "1000")
    with pytest.raises(NotFound):
        await perk_admin(h).change_perk(STAFF, 999, "stock", "1")
    view = await svc.perk(perk_id)
    assert (view.perk.stock, view.perk.per_person_limit, view.perk.cost, view.perk.title) == (None, 2, 30, "Vitamins")


# --- ID card ----------------------------------------------------------------------------------------
async def test_card_round_trip_and_removed_head(h: Harness) -> None:
    await h.setup_community()
    cid = await community(h)
    card = await cards(h).card_token(UHEAD)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", card.token) and len(card.token) == CARD_TOKEN_LENGTH
    assert len("card_" + card.token) <= 64
    assert (card.community_id, card.holder, card.issued, card.valid) == (cid, "Uma", date(2026, 11, 23), True)
    assert [(r.kind, r.building, r.unit) for r in card.roles] == [("unit_head", "Building 7", "1")]

    fresh = cards(h)  # a new process: the signing key comes from the database
    checked = await fresh.verify_card(card.token)
    assert (checked.valid, checked.user_id, checked.holder) == (True, UHEAD.id, "Uma")
    boris = await fresh.card_token(BHEAD)
    assert [r.kind for r in boris.roles] == ["building_head"]

    with pytest.raises(PermissionDenied):
        await fresh.card_token(RESIDENT)
    for i in (0, 10, 20, 39):
        flipped = card.token[:i] + ("A" if card.token[i] != "A" else "B") + card.token[i + 1 :]
        with pytest.raises(CardInvalid):
            await fresh.verify_card(flipped)
    for junk in ("", "card", card.token + "A", "!" * CARD_TOKEN_LENGTH):
        with pytest.raises(CardInvalid):
            await fresh.verify_card(junk)

    h.clock.advance(timedelta(days=90))
    late = await fresh.verify_card(card.token)
    assert (late.valid, late.why_not, late.valid_until) == (False, "expired", date(2027, 2, 20))
    h.clock.advance(timedelta(days=-90))

    await h.services.registry.set_unit_head(STAFF, h.p.building_chat["id"], "1", UserInfo(2002, "Ann"))
    removed = await fresh.verify_card(card.token)
    assert (removed.valid, removed.why_not, removed.roles) == (False, "no_role", ())


@given(
    st.integers(min_value=1, max_value=2**52),
    st.integers(min_value=1, max_value=2**31),
    st.dates(min_value=date(2020, 1, 1), max_value=date(2150, 12, 31)),
    st.integers(min_value=0, max_value=CARD_TOKEN_LENGTH - 1),
)
def test_card_tokens_are_compact_and_tamper_evident(user_id: int, community_id: int, day: date, pos: int) -> None:
    key = b"k" * 32
    token = encode_card(key, user_id, community_id, day)
    assert len(token) == CARD_TOKEN_LENGTH and re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert decode_card(key, token) == (user_id, community_id, day)
    assert decode_card(b"x" * 32, token) is None
    swapped = token[:pos] + ("B" if token[pos] == "A" else "A") + token[pos + 1 :]
    assert decode_card(key, swapped) is None


# --- audit fixes (issue 4) --------------------------------------------------------------------------
STREET = UserInfo(1005, "Sergei", username="sergei_s")


async def reasons(h: Harness, user_id: int) -> list[tuple[str, int]]:
    return [(r["reason"], r["amount"]) for r in await ledger(h, user_id)]


async def test_staff_and_the_street_office_never_earn_or_lose_head_points(h: Harness) -> None:
    """can_act lets staff and the street office act at the unit level; only heads earn or lose."""
    await h.setup_community()
    cid = await community(h)
    wf = h.services.workflow
    for who in (STAFF, STREET):
        appeal_id = await h.file_appeal(text=f"Lift broken, told {who.first_name}")
        await wf.take(who, appeal_id)
        await resolve(h, who, appeal_id)
        await h.services.resident.confirm(RESIDENT, appeal_id)
        await h.services.resident.rate(RESIDENT, appeal_id, 5)
        assert await reasons(h, who.id) == []
    # staff take one and let its deadline pass: it was theirs, so nobody is charged
    appeal_id = await h.file_appeal(text="The door is stuck")
    await wf.take(STAFF, appeal_id)
    h.clock.advance(timedelta(days=3))
    await h.sweep()
    assert await reasons(h, STAFF.id) == [] and await reasons(h, UHEAD.id) == []
    board = await points(h).leaderboard(cid, "month")  # the heads, all at 0; staff are not on it
    assert STAFF.id not in {r.user_id for r in board.rows} and {r.points for r in board.rows} == {0}
    # a staff member who heads the unit earns as its head
    await h.services.registry.set_unit_head(STAFF, h.p.building_chat["id"], "2", STAFF)
    _, units = await h.services.registry.building_units(h.p.building_chat["id"])
    unit2 = next(u for u in units if u.name == "2")
    vera = updates.user(4001, "Vera", "vera_v")  # a resident of unit 2
    appeal_id = await h.file_appeal(vera, text="Bulb out on floor 2", unit_id=unit2.id)
    await wf.take(STAFF, appeal_id)
    assert await reasons(h, STAFF.id) == [("appeal.first_reply", 2)]
    await assert_consistent(h.services.db)


async def test_a_missed_deadline_costs_who_held_the_appeal_not_the_new_head(h: Harness) -> None:
    await h.setup_community()
    ann = UserInfo(2002, "Ann")
    appeal_id = await h.file_appeal()  # routed to Uma, the head of unit 1
    await h.services.registry.set_unit_head(STAFF, h.p.building_chat["id"], "1", ann)
    h.clock.advance(timedelta(hours=25))
    await h.sweep()
    assert await reasons(h, UHEAD.id) == [("appeal.missed_deadline", -3)]
    assert await reasons(h, ann.id) == []
    async with h.services.db.read() as tx:
        detail = await tx.fetchval(
            "SELECT detail FROM appeal_events WHERE appeal_id = ? AND kind = 'escalated'", (appeal_id,)
        )
    assert f'"held_by": {UHEAD.id}' in detail


async def test_an_escalation_recorded_before_held_by_still_charges_the_head(h: Harness) -> None:
    """Events written before the escalation recorded its holder: who took it first, else the head."""
    from bot.services.point_rules import PointsSettings, due_appeal_entries
    from storage.appeals import AppealsRepo
    from storage.ledger import HistoryEvent

    await h.setup_community()
    appeal_id = await h.file_appeal()
    async with h.services.db.read() as tx:
        appeal = await AppealsRepo(tx).get(appeal_id)
        assert appeal is not None
        at = appeal.created_at + timedelta(days=2)
        old = HistoryEvent(999, at, None, "escalated", Level.BUILDING, {"from": 0, "reason": "deadline"})
        due = await due_appeal_entries(tx, appeal, [old], PointsSettings())
        taken = HistoryEvent(998, at, BHEAD.id, "taken", Level.UNIT, {})
        due_taken = await due_appeal_entries(tx, appeal, [taken, old], PointsSettings())
    assert [(d.user_id, d.amount) for d in due] == [(UHEAD.id, -3)]
    assert [(d.user_id, d.amount) for d in due_taken if d.amount < 0] == [(BHEAD.id, -3)]


async def test_resolved_while_waiting_for_the_resident_is_on_time_if_time_was_left(h: Harness) -> None:
    await h.setup_community()
    wf = h.services.workflow
    appeal_id = await h.file_appeal()
    await wf.take(UHEAD, appeal_id)
    await wf.begin(UHEAD, appeal_id, ActionKind.ASK)
    await h.app.bot_data.outbox().drain()
    await wf.complete(UHEAD, Content("text", chat_id=UHEAD.id, message_id=next(_msg), text="Which floor?"))
    h.clock.advance(timedelta(days=6))  # the clock is paused: the resident never answers
    await resolve(h, UHEAD, appeal_id)
    await h.services.resident.confirm(RESIDENT, appeal_id)
    assert ("appeal.resolved_on_time", 5) in await reasons(h, UHEAD.id)


async def test_ranks_are_among_the_communitys_heads_and_never_exceed_their_number(h: Harness) -> None:
    await h.setup_community()
    cid = await community(h)
    svc = points(h)
    ann, bob = UserInfo(2002, "Ann"), UserInfo(2003, "Bob")
    for unit, person in (("2", ann), ("3", bob)):
        await h.services.registry.set_unit_head(STAFF, h.p.building_chat["id"], unit, person)
    await svc.award(STAFF, cid, ann.id, 5, "x")
    await svc.award(STAFF, cid, bob.id, 5, "x")
    uma = await svc.summary(UHEAD.id, cid)  # Uma, Boris (no entries), Ann 5, Bob 5
    assert (uma.rank_month, uma.people_month, uma.rank_all, uma.people_all) == (3, 4, 3, 4)
    await svc.deduct(STAFF, cid, UHEAD.id, 3, "x")
    uma = await svc.summary(UHEAD.id, cid)  # -3: behind Boris at 0 too
    assert (uma.rank_month, uma.people_month, uma.rank_all, uma.people_all) == (4, 4, 4, 4)
    boris = await svc.summary(BHEAD.id, cid)
    assert (boris.rank_month, boris.rank_all, boris.people_all) == (3, 3, 4)
    # a head replaced before earning anything leaves the count; one with entries stays
    await h.services.registry.set_unit_head(STAFF, h.p.building_chat["id"], "2", bob)  # Ann keeps her 5
    await h.services.registry.set_building_head(STAFF, h.p.building_chat["id"], ann)  # Boris (nothing) goes
    ann_view = await svc.summary(ann.id, cid)
    assert ann_view.people_all == 3  # Uma, Ann, Bob
    # next month nobody has points yet: everyone shares rank 1
    h.clock.set(local(2026, 12, 1, 9, 0))
    uma = await svc.summary(UHEAD.id, cid)
    assert (uma.month_points, uma.rank_month, uma.people_month) == (0, 1, 3)
    await assert_consistent(h.services.db)


async def test_a_head_with_a_post_in_another_community_sees_it_first(h: Harness) -> None:
    """Communities where the person heads something now come before old ones with points only."""
    await h.setup_community()
    cid = await community(h)
    svc = points(h)
    await svc.award(STAFF, cid, UHEAD.id, 5, "x")
    await h.services.registry.set_unit_head(STAFF, h.p.building_chat["id"], "1", UserInfo(2002, "Ann"))
    assert await svc.communities_of(UHEAD.id) == [cid]  # former head with points
    async with h.services.db.write() as tx:  # a newer community where Uma heads a building
        repo = RegistryRepo(tx)
        now = h.clock.now()
        other = await repo.create_community(
            name="Hill Top",
            staff_chat_id=-100777,
            timezone="Europe/Moscow",
            country="RU",
            language="ru",
            created_by=STAFF.id,
            now=now,
        )
        await repo.set_building_head(await repo.create_building(other, -100778, "House 9", now), UHEAD.id)
    assert await svc.communities_of(UHEAD.id) == [other, cid]
    choices = await svc.choices(UHEAD.id)
    assert [(c.community_id, c.head) for c in choices] == [(other, True)]


async def test_staff_cannot_award_or_deduct_themselves(h: Harness) -> None:
    await h.setup_community()
    cid = await community(h)
    await h.services.registry.set_unit_head(STAFF, h.p.building_chat["id"], "2", STAFF)
    svc = points(h)
    for call in (svc.award, svc.deduct):
        with pytest.raises(InvalidInput) as err:
            await call(STAFF, cid, STAFF.id, 5, "my own work")
        assert err.value.key == "error.points_self"
    assert await ledger(h, STAFF.id) == []


async def test_a_replayed_request_that_differs_is_refused_naming_what_was_booked(h: Harness) -> None:
    await h.setup_community()
    cid = await community(h)
    svc = points(h)
    first = await svc.award(STAFF, cid, UHEAD.id, 5, "fair", request_key="-100:9")
    assert (await svc.award(STAFF, cid, UHEAD.id, 5, "fair", request_key="-100:9")).id == first.id
    for call, user_id, amount in ((svc.award, BHEAD.id, 5), (svc.award, UHEAD.id, 50), (svc.deduct, UHEAD.id, 5)):
        with pytest.raises(Conflict) as err:
            await call(STAFF, cid, user_id, amount, "fair", request_key="-100:9")
        assert err.value.key == "error.points_replayed"
        assert err.value.params == {"name": "Uma", "amount": "+5", "reason": "fair"}
    assert await reasons(h, UHEAD.id) == [("manual.award", 5)] and await ledger(h, BHEAD.id) == []


async def test_the_migration_counts_heads_appointed_before_it(h: Harness) -> None:
    from storage.migrate import load_migrations, split_statements

    await h.setup_community()
    cid = await community(h)
    async with h.services.db.write() as tx:  # as before migration 0006: no rows for heads without entries
        await tx.execute("DELETE FROM balances WHERE entries = 0")
    boris = await points(h).summary(BHEAD.id, cid)
    assert (boris.rank_all, boris.people_all) == (1, 1)  # only the viewer himself
    (fix,) = [m for m in load_migrations() if m.name == "0006_points_fixes.sql"]
    for _ in range(2):  # idempotent
        async with h.services.db.write() as tx:
            for statement in split_statements(fix.sql):
                await tx.execute(statement)
    boris = await points(h).summary(BHEAD.id, cid)
    assert (boris.rank_all, boris.people_all) == (1, 2)  # Boris and Uma
    await assert_consistent(h.services.db)


async def test_heads_of_a_building_the_bot_left_leave_the_count_and_come_back_with_it(h: Harness) -> None:
    await h.setup_community()
    cid = await community(h)
    await points(h).award(STAFF, cid, UHEAD.id, 5, "x")
    assert (await points(h).summary(UHEAD.id, cid)).people_all == 2  # Uma and Boris
    await h.send(updates.bot_removed(h.p.building_chat, h.p.staff))
    assert (await points(h).summary(UHEAD.id, cid)).people_all == 1  # Uma stays: she has entries
    await h.send(updates.bot_added(h.p.building_chat, h.p.staff))
    assert (await points(h).summary(UHEAD.id, cid)).people_all == 2
