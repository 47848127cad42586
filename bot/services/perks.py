"""Perks as unit heads and merchants use them: the catalog on offer, redemption for points with a
one-time code, refunds of codes left unused, and the merchant's check of a code. Staff manage the
catalog (categories, merchants, perks, file import) through :mod:`bot.services.perk_admin`.

Redemption is one immediate transaction: every check (perk on offer, per-person limit, balance,
stock) and every change (stock by a guarded ``UPDATE``, the ledger debit by a guarded ``UPDATE`` of
the balance, the redemption row with the code's hash) commit together or not at all, so two
simultaneous redemptions can never take a balance or a stock below zero and a failed one leaves
nothing behind.

One-time codes: 10 characters from a 32-character alphabet without 0/O/1/I (read aloud, typed, or
scanned as a QR), drawn with :mod:`secrets`: 50 bits, so guessing one of even a thousand live codes
takes about 10^12 tries. Only the code's SHA-256 is stored: a copy of the database (a backup, a
support dump) does not hand out live codes, and 2^50 hashes are far more work than a code's lifetime
(``PointsSettings.code_minutes``, 30 minutes by default) allows. A code unused when it expires is
refunded (points and stock) by :meth:`PerksService.refund_expired` and, for the holder's own codes,
at their next redemption; the stock is not put back when staff set it by hand after the redemption.

A redemption made from a confirmation message carries that message as its ``request_key`` (UNIQUE):
a second press of the same "Yes" redeems nothing. The code remembers the perk's merchant at the time
it was issued: that merchant checks it, even if staff move the perk to another merchant later.

Only unit and building heads of the perk's community see the catalog (``head_*`` methods).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from bot.dates import moment
from bot.errors import InvalidInput, NotFound, PermissionDenied
from bot.models import Community, UserInfo
from bot.services.base import ServiceBase
from bot.services.perk_catalog import (
    ButtonUsed,
    CategoryPage,
    CodeCheck,
    CodeExpired,
    CodeOtherMerchant,
    CodeUnknown,
    CodeUsed,
    LimitReached,
    NotEnoughPoints,
    OutOfStock,
    Page,
    PerkUnavailable,
    PerkView,
    RedemptionReceipt,
    StatusPerk,
    code_hash,
    format_code,
    last_day_of,
    new_code,
    normalize_code,
    page_of,
)
from bot.services.point_rules import PointsSettings, Reason, post_entry
from storage.db import Tx
from storage.ledger import BalanceTooLow, LedgerRepo, RolesRepo
from storage.perks import Perk, PerkCategory, PerksRepo, Redemption
from storage.registry import RegistryRepo

CATEGORIES_PER_PAGE = 8
PERKS_PER_PAGE = 8
ID_MAX = 2**63 - 1


class PerksService(ServiceBase):
    # --- catalog (everyone) ------------------------------------------------------------------------
    async def is_merchant(self, user_id: int) -> bool:
        """Whether the person checks codes for a shop of any community (their /help shows /check)."""
        async with self.db.read() as tx:
            return await PerksRepo(tx).is_merchant(user_id)

    async def categories(self, community_id: int) -> list[PerkCategory]:
        async with self.db.read() as tx:
            return await PerksRepo(tx).categories(community_id, self.clock.now())

    async def perks(
        self, community_id: int, category_id: int | None = None, *, viewer: int | None = None
    ) -> list[PerkView]:
        """Perks on offer (not retired, still valid), cheapest first; out-of-stock ones included."""
        now = self.clock.now()
        async with self.db.read() as tx:
            community = await RegistryRepo(tx).get_community(community_id)
            if community is None:
                raise NotFound("error.community_unknown")
            found = await PerksRepo(tx).on_offer(community.id, category_id, now)
            return [await self._make_view(tx, community, p, viewer, now) for p in found]

    async def perk(self, perk_id: int, *, viewer: int | None = None) -> PerkView:
        now = self.clock.now()
        async with self.db.read() as tx:
            perk = await self._perk(tx, perk_id)
            community = await RegistryRepo(tx).get_community(perk.community_id)
            assert community is not None
            return await self._make_view(tx, community, perk, viewer, now)

    # --- catalog (unit heads) ----------------------------------------------------------------------
    async def head_categories(
        self, user_id: int, community_id: int | None = None, page: int = 0, *, per_page: int = CATEGORIES_PER_PAGE
    ) -> Page[PerkCategory]:
        """One page of the categories with perks on offer, for a head of the community (by default
        the first community they head now). Anyone else is refused here, before seeing anything."""
        async with self.db.read() as tx:
            if community_id is None:
                heads = await RolesRepo(tx).head_communities(user_id)
                if not heads:
                    raise PermissionDenied("error.heads_only")
                community_id = heads[0]
            community = await self._as_head(tx, community_id, user_id)
            found = [c for c in await PerksRepo(tx).categories(community.id, self.clock.now()) if c.available > 0]
        return page_of(found, page, per_page)

    async def head_category(
        self, user_id: int, category_id: int, page: int = 0, *, per_page: int = PERKS_PER_PAGE
    ) -> CategoryPage:
        """One page of a category's perks on offer (cheapest first), for a head of its community."""
        now = self.clock.now()
        async with self.db.read() as tx:
            repo = PerksRepo(tx)
            category = await repo.category(category_id) if 0 < category_id <= ID_MAX else None
            if category is None:
                raise InvalidInput("error.stale_button")
            community = await self._as_head(tx, category.community_id, user_id)
            pages = max(1, math.ceil(await repo.count_on_offer(community.id, category.id, now) / per_page))
            page = min(max(page, 0), pages - 1)
            found = await repo.on_offer(community.id, category.id, now, limit=per_page, offset=page * per_page)
            views = [await self._make_view(tx, community, p, user_id, now) for p in found]
        return CategoryPage(category, Page(views, page, pages))

    async def head_perk(self, user_id: int, perk_id: int) -> tuple[PerkView, int]:
        """One perk and the head's balance in its community, for a head of that community."""
        now = self.clock.now()
        async with self.db.read() as tx:
            perk = await self._perk(tx, perk_id)
            community = await self._as_head(tx, perk.community_id, user_id)
            view = await self._make_view(tx, community, perk, user_id, now)
            standing = await LedgerRepo(tx).standing(community.id, user_id)
        return view, standing.balance

    # --- redemption --------------------------------------------------------------------------------
    async def redeem(self, user: UserInfo, perk_id: int, *, request_key: str | None = None) -> RedemptionReceipt:
        """Spend points on a perk: a one-time code comes back. Nothing changes unless it all works.
        ``request_key`` (the confirmation message): a second redemption with it is refused with
        :class:`ButtonUsed` and changes nothing."""
        now = self.clock.now()
        async with self.db.write() as tx:
            repo = PerksRepo(tx)
            if request_key is not None and await repo.redemption_by_request(request_key) is not None:
                raise ButtonUsed()
            perk = await self._perk(tx, perk_id)
            community = await RegistryRepo(tx).get_community(perk.community_id)
            assert community is not None
            if not await RolesRepo(tx).head_roles(user.id, community.id):
                raise PermissionDenied("error.heads_only")
            if perk.retired_at is not None or (perk.valid_until is not None and perk.valid_until <= now):
                raise PerkUnavailable(title=perk.title)
            if perk.cost == 0:
                raise StatusPerk(title=perk.title)
            await self._refund(tx, community, await repo.expired_unused(now, 100, user_id=user.id), now)
            if (
                perk.per_person_limit is not None
                and await repo.redeemed_count(user.id, perk.id) >= perk.per_person_limit
            ):
                raise LimitReached(title=perk.title, limit=perk.per_person_limit)
            standing = await LedgerRepo(tx).standing(community.id, user.id)
            if standing.balance < perk.cost:
                raise NotEnoughPoints(balance=standing.balance, cost=perk.cost)
            if not await repo.take_stock(perk.id):
                raise OutOfStock(title=perk.title)
            code = new_code()
            while await repo.code_taken(code_hash(code)):  # pragma: no cover - 1 in 2^50
                code = new_code()
            rules = PointsSettings.from_settings(community.settings)
            expires = now + timedelta(minutes=rules.code_minutes)
            if perk.valid_until is not None:
                expires = min(expires, perk.valid_until)
            redemption_id = await repo.add_redemption(
                community_id=community.id,
                perk_id=perk.id,
                merchant_id=perk.merchant_id,
                user_id=user.id,
                cost=perk.cost,
                code_hash=code_hash(code),
                now=now,
                expires=expires,
                request_key=request_key,
            )
            if redemption_id is None:  # another process redeemed from this button a moment ago
                raise ButtonUsed()
            try:
                await post_entry(
                    tx,
                    community,
                    user.id,
                    -perk.cost,
                    Reason.REDEEMED,
                    f"redeem:{redemption_id}",
                    now,
                    ref_type="redemption",
                    ref_id=redemption_id,
                    actor_id=user.id,
                    note=perk.title,
                    ranked=False,
                    floor=0,
                )
            except BalanceTooLow as exc:  # only reachable if another process slipped in (PostgreSQL)
                raise NotEnoughPoints(balance=standing.balance, cost=perk.cost) from exc
            view = await self._view(tx, community, perk.id, user.id, now)
        return RedemptionReceipt(
            redemption_id,
            format_code(code),
            view,
            perk.cost,
            standing.balance - perk.cost,
            expires,
            community.timezone,
        )

    async def refund_expired(self, *, limit: int = 500) -> int:
        """Give back points and stock for codes that expired unused (a periodic job); returns how many."""
        now = self.clock.now()
        async with self.db.write() as tx:
            expired = await PerksRepo(tx).expired_unused(now, limit)
            return await self._refund(tx, None, expired, now)

    async def _refund(self, tx: Tx, community: Community | None, expired: list[Redemption], now: datetime) -> int:
        repo = PerksRepo(tx)
        done = 0
        for red in expired:
            if not await repo.mark_refunded(red.id, now):
                continue
            home = community if community is not None and community.id == red.community_id else None
            home = home or await RegistryRepo(tx).get_community(red.community_id)
            assert home is not None
            await repo.return_stock(red.perk_id, red.id)
            await post_entry(
                tx,
                home,
                red.user_id,
                red.cost,
                Reason.REFUND,
                f"refund:{red.id}",
                now,
                ref_type="redemption",
                ref_id=red.id,
                note=red.perk_title,
                ranked=False,
            )
            done += 1
        return done

    # --- the merchant's check ----------------------------------------------------------------------
    async def check_code(self, merchant: UserInfo, code: str) -> CodeCheck:
        """A merchant checks a code: good -> it is marked used (exactly once, whoever else checks it
        at the same moment) and the answer says what to hand over."""
        async with self.db.write() as tx:
            if not await PerksRepo(tx).is_merchant(merchant.id):
                raise PermissionDenied("error.merchants_only")
            return await self._check(tx, merchant, code)

    async def check_typed_code(self, user: UserInfo, text: str) -> CodeCheck | None:
        """A code typed without /check: checked as /check would if the person is a merchant; None
        (nothing checked, nothing changed) for anyone else, whose message goes on as usual."""
        async with self.db.write() as tx:
            if not await PerksRepo(tx).is_merchant(user.id):
                return None
            return await self._check(tx, user, text)

    async def _check(self, tx: Tx, merchant: UserInfo, code: str) -> CodeCheck:
        now = self.clock.now()
        repo = PerksRepo(tx)
        normalized = normalize_code(code)
        if normalized is None:
            raise CodeUnknown()
        digest = code_hash(normalized)
        red = await repo.redemption_by_hash(digest)
        if red is None:
            raise CodeUnknown()
        if red.merchant_user_id != merchant.id:
            raise CodeOtherMerchant()
        community = await RegistryRepo(tx).get_community(red.community_id)
        assert community is not None
        if not await repo.use_code(digest, merchant.id, now):
            # read it again: another merchant's check may have used it since our first read (on
            # PostgreSQL the UPDATE waited for that transaction and then matched nothing): "already
            # used" is the answer then, not "expired"
            current = await repo.redemption_by_hash(digest) or red
            if current.used_at is not None:
                raise CodeUsed(at=moment(current.used_at, community.timezone))
            raise CodeExpired()
        holder = await RegistryRepo(tx).get_user(red.user_id)
        return CodeCheck(
            redemption_id=red.id,
            perk_id=red.perk_id,
            title=red.perk_title,
            description=red.perk_description,
            holder=holder.display if holder else str(red.user_id),
            holder_id=red.user_id,
            cost=red.cost,
            redeemed_at=red.created_at,
            timezone=community.timezone,
        )

    # --- helpers -----------------------------------------------------------------------------------
    async def _as_head(self, tx: Tx, community_id: int, user_id: int) -> Community:
        """The community, if the person heads a unit or building in it now (points alone are not enough)."""
        community = await RegistryRepo(tx).get_community(community_id)
        if community is None:
            raise NotFound("error.community_unknown")
        if not await RolesRepo(tx).head_roles(user_id, community.id):
            raise PermissionDenied("error.heads_only")
        return community

    # (PerkAdminService shares _perk and _view)
    async def _perk(self, tx: Tx, perk_id: int) -> Perk:
        perk = await PerksRepo(tx).get(perk_id) if 0 < perk_id <= ID_MAX else None
        if perk is None:
            raise NotFound("error.perk_unknown", id=perk_id)
        return perk

    async def _view(self, tx: Tx, community: Community, perk_id: int, viewer: int | None, now: datetime) -> PerkView:
        perk = await PerksRepo(tx).get(perk_id)
        assert perk is not None
        return await self._make_view(tx, community, perk, viewer, now)

    async def _make_view(self, tx: Tx, community: Community, perk: Perk, viewer: int | None, now: datetime) -> PerkView:
        valid = perk.retired_at is None and (perk.valid_until is None or perk.valid_until > now)
        mine = await PerksRepo(tx).redeemed_count(viewer, perk.id) if viewer is not None else 0
        return PerkView(
            perk=perk,
            last_day=last_day_of(perk.valid_until, community),
            status_only=perk.cost == 0,
            on_offer=valid and (perk.stock is None or perk.stock > 0),
            mine=mine,
        )
