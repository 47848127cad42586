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
at their next redemption.
"""

from __future__ import annotations

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
    CatalogRejected,
    CodeCheck,
    CodeExpired,
    CodeOtherMerchant,
    CodeUnknown,
    CodeUsed,
    ImportReport,
    LimitReached,
    NotEnoughPoints,
    OutOfStock,
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
    last_day_of,
    new_code,
    normalize_code,
    row_errors,
)
from bot.services.point_rules import PointsSettings, Reason, post_entry
from storage.db import Tx
from storage.ledger import BalanceTooLow, LedgerRepo, RolesRepo
from storage.perks import Merchant, Perk, PerkCategory, PerksRepo, Redemption
from storage.registry import RegistryRepo


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
                problem = row_errors(0, exc)[0]
                raise InvalidInput("error.perk_value", field=problem.field, problem=problem.problem) from exc
            columns = await self._columns(tx, community, data, actor, now)
            if columns is None:
                raise NotFound("error.merchant_unknown", merchant=data.merchant)
            perk_id = await PerksRepo(tx).add_perk(community_id=community.id, created_by=actor.id, now=now, **columns)
            return await self._view(tx, community, perk_id, None, now)

    async def change_perk(self, actor: UserInfo, perk_id: int, field: str, value: str) -> PerkView:
        """Change one field (``stock``, ``per_person_limit``, ``cost``, ``valid_until``, ``title``, ...);
        an empty ``value`` clears the optional ones (unlimited stock, no limit, no end)."""
        if field not in PERK_FIELDS or field == "merchant_name":
            raise InvalidInput("error.perk_field", fields=", ".join(f for f in PERK_FIELDS if f != "merchant_name"))
        now = self.clock.now()
        async with self.db.write() as tx:
            perk, community = await self._perk_as_staff(tx, perk_id, actor)
            raw = as_input(perk, community)
            raw[field] = value
            try:
                data = PerkInput.model_validate(raw)
            except ValidationError as exc:
                problem = row_errors(0, exc)[0]
                raise InvalidInput("error.perk_value", field=problem.field, problem=problem.problem) from exc
            columns = await self._columns(tx, community, data, actor, now)
            if columns is None:
                raise NotFound("error.merchant_unknown", merchant=data.merchant)
            await PerksRepo(tx).update_perk(perk.id, now, columns)
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
        """Add (or, with an ``id`` column, change) perks from parsed catalog rows. All or nothing: any
        bad row refuses the whole file with :class:`CatalogRejected` listing every problem by line."""
        if not rows:
            raise InvalidInput("error.catalog_empty")
        if len(rows) > CATALOG_MAX_ROWS:
            raise InvalidInput("error.catalog_too_big", max=CATALOG_MAX_ROWS)
        now = self.clock.now()
        errors: list[RowError] = []
        async with self.db.write() as tx:
            community = await self._as_staff(tx, community_id, actor)
            repo = PerksRepo(tx)
            planned: list[tuple[int | None, dict[str, Any]]] = []
            for line, row in enumerate(rows, start=first_line):
                raw = {str(k).strip().lower(): (v or "") for k, v in row.items()}
                # spreadsheets add empty columns: only a value in an unknown column is an error
                raw = {k: v for k, v in raw.items() if k in PERK_FIELDS or k == "id" or v.strip()}
                perk_ref = raw.pop("id", "").strip()
                existing: Perk | None = None
                if perk_ref:
                    existing = await repo.get(int(perk_ref)) if perk_ref.isdigit() else None
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
                planned.append((existing.id if existing else None, columns))
            if errors:
                raise CatalogRejected(errors)
            report = ImportReport([], [])
            for perk_id, columns in planned:
                if perk_id is None:
                    report.added.append(
                        await repo.add_perk(community_id=community.id, created_by=actor.id, now=now, **columns)
                    )
                else:
                    await repo.update_perk(perk_id, now, columns)
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
            perk = await PerksRepo(tx).get(perk_id)
            if perk is None:
                raise NotFound("error.perk_unknown", id=perk_id)
            community = await RegistryRepo(tx).get_community(perk.community_id)
            assert community is not None
            return await self._make_view(tx, community, perk, viewer, now)

    # --- redemption --------------------------------------------------------------------------------
    async def redeem(self, user: UserInfo, perk_id: int) -> RedemptionReceipt:
        """Spend points on a perk: a one-time code comes back. Nothing changes unless it all works."""
        now = self.clock.now()
        async with self.db.write() as tx:
            repo = PerksRepo(tx)
            perk = await repo.get(perk_id)
            if perk is None:
                raise NotFound("error.perk_unknown", id=perk_id)
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
                user_id=user.id,
                cost=perk.cost,
                code_hash=code_hash(code),
                now=now,
                expires=expires,
            )
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
            redemption_id, format_code(code), view, perk.cost, standing.balance - perk.cost, expires
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
            await repo.return_stock(red.perk_id)
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
        now = self.clock.now()
        async with self.db.write() as tx:
            repo = PerksRepo(tx)
            if not await repo.is_merchant(merchant.id):
                raise PermissionDenied("error.merchants_only")
            normalized = normalize_code(code)
            if normalized is None:
                raise CodeUnknown()
            digest = code_hash(normalized)
            red = await repo.redemption_by_hash(digest)
            if red is None:
                raise CodeUnknown()
            if red.merchant_user_id != merchant.id:
                raise CodeOtherMerchant()
            if not await repo.use_code(digest, merchant.id, now):
                if red.used_at is not None:
                    raise CodeUsed(at=red.used_at.isoformat())
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
        )

    # --- helpers -----------------------------------------------------------------------------------
    async def _as_staff(self, tx: Tx, community_id: int, actor: UserInfo) -> Community:
        community = await RegistryRepo(tx).get_community(community_id)
        if community is None:
            raise NotFound("error.community_unknown")
        if not await RegistryRepo(tx).has_role(community.id, actor.id, Role.STAFF):
            raise PermissionDenied("error.staff_only")
        return community

    async def _perk_as_staff(self, tx: Tx, perk_id: int, actor: UserInfo) -> tuple[Perk, Community]:
        perk = await PerksRepo(tx).get(perk_id)
        if perk is None:
            raise NotFound("error.perk_unknown", id=perk_id)
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
