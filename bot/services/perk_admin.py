"""Staff's management of the perks catalog: categories, merchants (Telegram users who check codes)
and perks, by hand (add, change one field, retire) or by importing a catalog file (CSV, all or
nothing, refused by line; a re-import changes the perks it names instead of adding them twice).
Unit heads' views, redemption, refunds and the merchant's check are in
:class:`bot.services.perks.PerksService`, whose perk lookups and views this service shares.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from bot.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from bot.models import Community, Role, UserInfo
from bot.services.base import ServiceBase
from bot.services.perk_catalog import (
    CATALOG_MAX_ROWS,
    PERK_FIELDS,
    CatalogRejected,
    ImportReport,
    PerkInput,
    PerkView,
    RowError,
    as_input,
    end_of_day,
    in_the_past,
    parse_id,
    past_error,
    read_catalog_csv,
    row_errors,
    value_error,
)
from bot.services.perks import ID_MAX, PerksService
from storage.db import Tx
from storage.perks import Merchant, Perk, PerksRepo
from storage.registry import RegistryRepo


class PerkAdminService(ServiceBase):
    def __init__(self, perks: PerksService) -> None:
        super().__init__(perks.db, perks.clock, perks.calendars)
        self.perks = perks

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
            return await self.perks._view(tx, community, perk_id, None, now)

    async def change_perk(
        self, actor: UserInfo, perk_id: int, field: str, value: str, *, community_id: int | None = None
    ) -> PerkView:
        """Change one field (``stock``, ``per_person_limit``, ``cost``, ``valid_until``, ``title``, ...).
        A value is required; ``-`` clears the optional ones (unlimited stock, no limit, no end) and
        the description or address. ``community_id``: the community of the staff chat the command
        was sent in; a perk of another community is unknown there."""
        if field not in PERK_FIELDS or field == "merchant_name":
            raise InvalidInput("error.perk_field", fields=", ".join(f for f in PERK_FIELDS if f != "merchant_name"))
        value = value.strip()
        if not value:
            raise InvalidInput("error.perk_value_missing", field=field)
        now = self.clock.now()
        async with self.db.write() as tx:
            perk, community = await self._perk_as_staff(tx, perk_id, actor, community_id)
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
            return await self.perks._view(tx, community, perk.id, None, now)

    async def retire_perk(self, actor: UserInfo, perk_id: int, *, community_id: int | None = None) -> PerkView:
        now = self.clock.now()
        async with self.db.write() as tx:
            perk, community = await self._perk_as_staff(tx, perk_id, actor, community_id)
            if not await PerksRepo(tx).retire(perk.id, now):
                raise Conflict("error.perk_retired_already", id=perk.id)
            return await self.perks._view(tx, community, perk.id, None, now)

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

    # --- helpers -----------------------------------------------------------------------------------
    async def _as_staff(self, tx: Tx, community_id: int, actor: UserInfo) -> Community:
        community = await RegistryRepo(tx).get_community(community_id)
        if community is None:
            raise NotFound("error.community_unknown")
        if not await RegistryRepo(tx).has_role(community.id, actor.id, Role.STAFF):
            raise PermissionDenied("error.staff_only")
        return community

    @staticmethod
    def _known_id(text: str) -> int | None:
        ref = parse_id(text)
        return ref if ref is not None and 0 < ref <= ID_MAX else None

    async def _perk_as_staff(
        self, tx: Tx, perk_id: int, actor: UserInfo, community_id: int | None
    ) -> tuple[Perk, Community]:
        perk = await self.perks._perk(tx, perk_id)
        if community_id is not None and perk.community_id != community_id:  # sent in another community's chat
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
