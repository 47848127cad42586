"""Perks: the catalog (categories, merchants, perks) that staff manage by hand or by importing a
file, redemption for points with a one-time code, and the merchant's check of a code.

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
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from bot.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from bot.models import Community, Role, UserInfo
from bot.services.base import ServiceBase
from bot.services.perk_catalog import (
    CATALOG_MAX_ROWS,
    PERK_FIELDS,
    ButtonUsed,
    CatalogRejected,
    CategoryPage,
    CodeCheck,
    CodeExpired,
    CodeOtherMerchant,
    CodeUnknown,
    CodeUsed,
    ImportReport,
    LimitReached,
    NotEnoughPoints,
    OutOfStock,
    Page,
    PerkInput,
    PerkUnavailable,
    PerkView,
    RedemptionReceipt,
    RowError,
    StatusPerk,
    as_input,
    code_hash,
    end_of_day,
    format_code,
    in_the_past,
    last_day_of,
    local_minute,
    new_code,
    normalize_code,
    page_of,
    parse_id,
    past_error,
    read_catalog_csv,
    row_errors,
    value_error,
)
from bot.services.point_rules import PointsSettings, Reason, post_entry
from storage.db import Tx
from storage.ledger import BalanceTooLow, LedgerRepo, RolesRepo
from storage.perks import Merchant, Perk, PerkCategory, PerksRepo, Redemption
from storage.registry import RegistryRepo

CATEGORIES_PER_PAGE = 8
PERKS_PER_PAGE = 8
ID_MAX = 2**63 - 1


class PerksService(ServiceBase):
    # --- catalog (staff) ---------------------------------------------------------------------------
    async def add_category(self, actor: UserInfo, community_id: int, name: str) -> int:
        name = " ".join(name.split())
        if not 1 <= len(name) <= 40:
            raise InvalidInput("error.perk_category_name")
        async with self.db.write() as tx:
            community = await self._as_staff(tx, community_id, actor)
            return await PerksRepo(tx).ensure_category(community.id, name, self.clock.now())

    async def add_merchant(
        self, actor: UserInfo, community_id: int, merchant: UserInfo, name: str | None = None
    ) -> Merchant:
        """Link a Telegram user as a merchant of the community (they check codes in a private chat)."""
        label = " ".join((name or merchant.display).split())[:80]
        now = self.clock.now()
        async with self.db.write() as tx:
            community = await self._as_staff(tx, community_id, actor)
            registry = RegistryRepo(tx)
            if await registry.get_user(merchant.id) is None:
                await registry.upsert_user(merchant, now)
            return await PerksRepo(tx).ensure_merchant(community.id, merchant.id, label, actor.id, now)

    async def add_perk(self, actor: UserInfo, community_id: int, fields: Mapping[str, object]) -> PerkView:
        """``fields``: see :class:`PerkInput`; the category is created and a known Telegram user linked
        as merchant when needed."""
        now = self.clock.now()
        async with self.db.write() as tx:
            community = await self._as_staff(tx, community_id, actor)
            try:
                data = PerkInput.model_validate(dict(fields))
            except ValidationError as exc:
                raise value_error(exc) from exc
            columns = await self._columns(tx, community, data, actor, now)
            if columns is None:
                raise NotFound("error.merchant_unknown", merchant=data.merchant)
            if in_the_past(columns, None, now):
                raise past_error()
            perk_id = await PerksRepo(tx).add_perk(community_id=community.id, created_by=actor.id, now=now, **columns)
            return await self._view(tx, community, perk_id, None, now)

    async def change_perk(self, actor: UserInfo, perk_id: int, field: str, value: str) -> PerkView:
        """Change one field (``stock``, ``per_person_limit``, ``cost``, ``valid_until``, ``title``, ...).
        A value is required; ``-`` clears the optional ones (unlimited stock, no limit, no end) and
        the description or address."""
        if field not in PERK_FIELDS or field == "merchant_name":
            raise InvalidInput("error.perk_field", fields=", ".join(f for f in PERK_FIELDS if f != "merchant_name"))
        value = value.strip()
        if not value:
            raise InvalidInput("error.perk_value_missing", field=field)
        now = self.clock.now()
        async with self.db.write() as tx:
            perk, community = await self._perk_as_staff(tx, perk_id, actor)
            raw = as_input(perk, community)
            raw[field] = "" if value == "-" else value
            try:
                data = PerkInput.model_validate(raw)
            except ValidationError as exc:
                raise value_error(exc) from exc
            columns = await self._columns(tx, community, data, actor, now)
            if columns is None:
                raise NotFound("error.merchant_unknown", merchant=data.merchant)
            if in_the_past(columns, perk, now):
                raise past_error()
            await PerksRepo(tx).update_perk(perk.id, now, columns, stock_set=field == "stock")
            return await self._view(tx, community, perk.id, None, now)

    async def retire_perk(self, actor: UserInfo, perk_id: int) -> PerkView:
        now = self.clock.now()
        async with self.db.write() as tx:
            perk, community = await self._perk_as_staff(tx, perk_id, actor)
            if not await PerksRepo(tx).retire(perk.id, now):
                raise Conflict("error.perk_retired_already", id=perk.id)
            return await self._view(tx, community, perk.id, None, now)

    async def import_catalog(
        self, actor: UserInfo, community_id: int, rows: Sequence[Mapping[str, str | None]], *, first_line: int = 2
    ) -> ImportReport:
        """Add or change perks from parsed catalog rows (one per line from ``first_line``); see
        :meth:`import_file`."""
        lines = list(range(first_line, first_line + len(rows)))
        return await self._import(actor, community_id, rows, lines, [])

    async def import_file(self, actor: UserInfo, community_id: int, text: str) -> ImportReport:
        """Import a catalog file (CSV, see :func:`read_catalog_csv`). All or nothing: any bad row
        refuses the whole file with :class:`CatalogRejected` listing every problem by line. A row with
        an ``id`` changes that perk; a row without one changes the perk on offer with the same
        category, merchant and title (importing a file twice adds nothing twice), else adds a perk."""
        parsed = read_catalog_csv(text)
        return await self._import(actor, community_id, parsed.rows, parsed.lines, parsed.problems)

    async def _import(
        self,
        actor: UserInfo,
        community_id: int,
        rows: Sequence[Mapping[str, str | None]],
        lines: Sequence[int],
        problems: list[RowError],
    ) -> ImportReport:
        if not rows and not problems:
            raise InvalidInput("error.catalog_empty")
        if len(rows) > CATALOG_MAX_ROWS:
            raise InvalidInput("error.catalog_too_big", max=CATALOG_MAX_ROWS)
        now = self.clock.now()
        errors: list[RowError] = []
        async with self.db.write() as tx:
            community = await self._as_staff(tx, community_id, actor)
            if problems:  # the file itself (a repeated column, an unreadable line): rows mean nothing
                raise CatalogRejected(problems)
            repo = PerksRepo(tx)
            offered: dict[tuple[int, int, str], int] = {}  # (category, merchant, title) -> perk on offer
            for p in sorted(await repo.on_offer(community.id, None, now), key=lambda p: -p.id):
                offered[(p.category_id, p.merchant_id, p.title.casefold())] = p.id  # the oldest one wins
            planned: list[tuple[int | None, dict[str, Any]]] = []
            targets: set[int] = set()  # perks changed by a line
            adding: set[tuple[int, int, str]] = set()  # perks added by a line
            for line, row in zip(lines, rows, strict=True):
                raw = {str(k).strip().lower(): (v or "") for k, v in row.items()}
                # spreadsheets add empty columns: only a value in an unknown column is an error
                raw = {k: v for k, v in raw.items() if k in PERK_FIELDS or k == "id" or v.strip()}
                perk_ref = raw.pop("id", "").strip()
                existing: Perk | None = None
                if perk_ref:
                    ref = self._known_id(perk_ref)
                    existing = await repo.get(ref) if ref is not None else None
                    if existing is None or existing.community_id != community.id:
                        errors.append(RowError(line, "id", "perk_unknown"))
                        continue
                try:
                    data = PerkInput.model_validate(raw)
                except ValidationError as exc:
                    errors.extend(row_errors(line, exc))
                    continue
                columns = await self._columns(tx, community, data, actor, now)
                if columns is None:
                    errors.append(RowError(line, "merchant", "merchant_unknown"))
                    continue
                if in_the_past(columns, existing, now):
                    errors.append(RowError(line, "valid_until", "in_the_past"))
                    continue
                key = (columns["category_id"], columns["merchant_id"], data.title.casefold())
                target = existing.id if existing is not None else offered.get(key)
                if (target is not None and target in targets) or (target is None and key in adding):
                    errors.append(RowError(line, "title", "duplicate_row"))  # two lines for one perk
                    continue
                if target is None:
                    adding.add(key)
                else:
                    targets.add(target)
                planned.append((target, columns))
            if errors:
                raise CatalogRejected(errors)
            report = ImportReport([], [])
            for perk_id, columns in planned:
                if perk_id is None:
                    report.added.append(
                        await repo.add_perk(community_id=community.id, created_by=actor.id, now=now, **columns)
                    )
                else:
                    await repo.update_perk(perk_id, now, columns, stock_set=True)
                    report.changed.append(perk_id)
        return report

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
            if red.used_at is not None:
                raise CodeUsed(at=local_minute(red.used_at, community.timezone))
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
    async def _as_staff(self, tx: Tx, community_id: int, actor: UserInfo) -> Community:
        community = await RegistryRepo(tx).get_community(community_id)
        if community is None:
            raise NotFound("error.community_unknown")
        if not await RegistryRepo(tx).has_role(community.id, actor.id, Role.STAFF):
            raise PermissionDenied("error.staff_only")
        return community

    async def _as_head(self, tx: Tx, community_id: int, user_id: int) -> Community:
        """The community, if the person heads a unit or building in it now (points alone are not enough)."""
        community = await RegistryRepo(tx).get_community(community_id)
        if community is None:
            raise NotFound("error.community_unknown")
        if not await RolesRepo(tx).head_roles(user_id, community.id):
            raise PermissionDenied("error.heads_only")
        return community

    @staticmethod
    def _known_id(text: str) -> int | None:
        ref = parse_id(text)
        return ref if ref is not None and 0 < ref <= ID_MAX else None

    async def _perk(self, tx: Tx, perk_id: int) -> Perk:
        perk = await PerksRepo(tx).get(perk_id) if 0 < perk_id <= ID_MAX else None
        if perk is None:
            raise NotFound("error.perk_unknown", id=perk_id)
        return perk

    async def _perk_as_staff(self, tx: Tx, perk_id: int, actor: UserInfo) -> tuple[Perk, Community]:
        perk = await self._perk(tx, perk_id)
        return perk, await self._as_staff(tx, perk.community_id, actor)

    async def _columns(
        self, tx: Tx, community: Community, data: PerkInput, actor: UserInfo, now: datetime
    ) -> dict[str, Any] | None:
        """Checked input -> perk columns (category created, merchant linked); None: unknown merchant."""
        repo = PerksRepo(tx)
        merchant = await self._merchant(tx, community, data.merchant, data.merchant_name, actor, now)
        if merchant is None:
            return None
        return {
            "category_id": await repo.ensure_category(community.id, " ".join(data.category.split()), now),
            "merchant_id": merchant.id,
            "title": data.title,
            "description": data.description,
            "address": data.address,
            "cost": data.cost,
            "valid_until": end_of_day(data.valid_until, community),
            "stock": data.stock,
            "per_person_limit": data.per_person_limit,
        }

    async def _merchant(
        self, tx: Tx, community: Community, ref: str, name: str | None, actor: UserInfo, now: datetime
    ) -> Merchant | None:
        """A Telegram user id, an @username the bot has seen, or the name of a merchant already linked."""
        repo = PerksRepo(tx)
        registry = RegistryRepo(tx)
        user: UserInfo | None = None
        if re.fullmatch(r"\d{1,19}", ref):
            user = await registry.get_user(int(ref))
        elif ref.startswith("@"):
            user = await registry.find_user_by_username(ref)
        else:
            named = await repo.merchant_by_name(community.id, ref)
            user = await registry.get_user(named.user_id) if named else None
        if user is None:
            return None
        existing = await repo.merchant_by_user(community.id, user.id)
        if existing is not None and existing.active and name is None:
            return existing
        label = " ".join((name or (existing.name if existing else user.display)).split())[:80]
        return await repo.ensure_merchant(community.id, user.id, label, actor.id, now)

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
