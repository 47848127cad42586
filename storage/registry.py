"""Registry repository: users, communities, staff, invites, buildings, units, residents."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from bot.clock import to_ts
from bot.models import Building, Community, Role, Unit, UserInfo
from storage.db import Row, Tx
from storage.ledger import RolesRepo


def _community(row: Row) -> Community:
    return Community(
        id=row["id"],
        name=row["name"],
        staff_chat_id=row["staff_chat_id"],
        street_chat_id=row["street_chat_id"],
        timezone=row["timezone"],
        country=row["country"],
        language=row["language"],
        settings=json.loads(row["settings"]),
        active=bool(row["active"]),
    )


def _building(row: Row) -> Building:
    return Building(
        id=row["id"],
        community_id=row["community_id"],
        chat_id=row["chat_id"],
        title=row["name"] or row["title"],
        head_user_id=row["head_user_id"],
        active=bool(row["active"]),
        code=row["code"],
    )


def _unit(row: Row) -> Unit:
    return Unit(id=row["id"], building_id=row["building_id"], name=row["name"], head_user_id=row["head_user_id"])


def _user(row: Row) -> UserInfo:
    return UserInfo(
        id=row["id"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        username=row["username"],
        language_code=row["language_code"],
    )


class RegistryRepo:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    # --- users -------------------------------------------------------------------------------
    async def upsert_user(self, user: UserInfo, now: datetime, *, started: bool = False) -> str | None:
        """Insert or refresh the user; returns their language (the one they chose, else Telegram's)."""
        rows = await self.tx.fetchall(
            "INSERT INTO users (id, first_name, last_name, username, language_code, started, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET first_name = excluded.first_name, last_name = excluded.last_name,"
            " username = excluded.username, language_code = excluded.language_code,"
            " started = CASE WHEN excluded.started = 1 THEN 1 ELSE users.started END,"
            " unreachable_since = CASE WHEN excluded.started = 1 THEN NULL ELSE users.unreachable_since END,"
            " updated_at = excluded.updated_at RETURNING lang_override, language_code",
            (user.id, user.first_name, user.last_name, user.username, user.language_code, int(started), to_ts(now)),
        )
        return (rows[0]["lang_override"] or rows[0]["language_code"]) if rows else None

    async def get_user(self, user_id: int) -> UserInfo | None:
        row = await self.tx.fetchone("SELECT * FROM users WHERE id = ?", (user_id,))
        return _user(row) if row else None

    async def find_user_by_username(self, username: str) -> UserInfo | None:
        row = await self.tx.fetchone(
            "SELECT * FROM users WHERE lower(username) = lower(?) ORDER BY updated_at DESC LIMIT 1",
            (username.lstrip("@"),),
        )
        return _user(row) if row else None

    async def user_language(self, user_id: int) -> tuple[str | None, str | None]:
        """(override, telegram language_code)"""
        row = await self.tx.fetchone("SELECT lang_override, language_code FROM users WHERE id = ?", (user_id,))
        return (row["lang_override"], row["language_code"]) if row else (None, None)

    async def set_language(self, user_id: int, lang: str | None) -> None:
        await self.tx.execute("UPDATE users SET lang_override = ? WHERE id = ?", (lang, user_id))

    async def known_unreachable(self, user_id: int) -> bool:
        """Telegram told us this person cannot be messaged (blocked the bot, never started it)."""
        row = await self.tx.fetchone("SELECT unreachable_since FROM users WHERE id = ?", (user_id,))
        return row is not None and row["unreachable_since"] is not None

    async def mark_unreachable(self, user_id: int, now: datetime) -> None:
        await self.tx.execute(
            "UPDATE users SET unreachable_since = COALESCE(unreachable_since, ?), started = 0 WHERE id = ?",
            (to_ts(now), user_id),
        )

    async def is_reachable(self, user_id: int) -> bool:
        row = await self.tx.fetchone("SELECT started, unreachable_since FROM users WHERE id = ?", (user_id,))
        return bool(row and row["started"] and row["unreachable_since"] is None)

    # --- communities ---------------------------------------------------------------------------
    async def create_community(
        self,
        *,
        name: str,
        staff_chat_id: int,
        timezone: str,
        country: str,
        language: str,
        created_by: int,
        now: datetime,
    ) -> int:
        return await self.tx.insert(
            "INSERT INTO communities (name, staff_chat_id, timezone, country, language, created_by, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (name, staff_chat_id, timezone, country, language, created_by, to_ts(now)),
        )

    async def get_community(self, community_id: int) -> Community | None:
        row = await self.tx.fetchone("SELECT * FROM communities WHERE id = ?", (community_id,))
        return _community(row) if row else None

    async def community_by_staff_chat(self, chat_id: int) -> Community | None:
        row = await self.tx.fetchone("SELECT * FROM communities WHERE staff_chat_id = ?", (chat_id,))
        return _community(row) if row else None

    async def staff_chat_ids(self, limit: int) -> list[int]:
        rows = await self.tx.fetchall(
            "SELECT staff_chat_id FROM communities WHERE active = 1 ORDER BY id LIMIT ?", (limit,)
        )
        return [int(r[0]) for r in rows]

    async def community_by_street_chat(self, chat_id: int) -> Community | None:
        row = await self.tx.fetchone("SELECT * FROM communities WHERE street_chat_id = ?", (chat_id,))
        return _community(row) if row else None

    async def set_street_chat(self, community_id: int, chat_id: int | None) -> None:
        await self.tx.execute("UPDATE communities SET street_chat_id = ? WHERE id = ?", (chat_id, community_id))

    async def set_community_settings(self, community_id: int, settings: dict[str, Any]) -> None:
        await self.tx.execute(
            "UPDATE communities SET settings = ? WHERE id = ?", (json.dumps(settings, sort_keys=True), community_id)
        )

    async def set_community_field(self, community_id: int, field: str, value: Any) -> None:
        if field not in ("timezone", "country", "language", "name", "active"):
            raise ValueError(field)
        await self.tx.execute(f"UPDATE communities SET {field} = ? WHERE id = ?", (value, community_id))  # noqa: S608

    async def migrate_chat(self, old: int, new: int) -> int:
        changed = 0
        changed += await self.tx.execute("UPDATE communities SET staff_chat_id = ? WHERE staff_chat_id = ?", (new, old))
        changed += await self.tx.execute(
            "UPDATE communities SET street_chat_id = ? WHERE street_chat_id = ?", (new, old)
        )
        changed += await self.tx.execute("UPDATE buildings SET chat_id = ? WHERE chat_id = ?", (new, old))
        await self.tx.execute(
            "UPDATE outbox SET chat_id = ? WHERE chat_id = ? AND sent_at IS NULL AND failed_at IS NULL", (new, old)
        )
        return changed

    # --- staff -------------------------------------------------------------------------------
    async def replace_staff(self, community_id: int, role: Role, user_ids: list[int], now: datetime) -> None:
        await self.tx.execute("DELETE FROM staff WHERE community_id = ? AND role = ?", (community_id, role.value))
        await self.tx.executemany(
            "INSERT INTO staff (community_id, user_id, role, synced_at) VALUES (?, ?, ?, ?)",
            [(community_id, uid, role.value, to_ts(now)) for uid in sorted(set(user_ids))],
        )

    async def has_role(self, community_id: int, user_id: int, role: Role) -> bool:
        return bool(
            await self.tx.fetchval(
                "SELECT 1 FROM staff WHERE community_id = ? AND user_id = ? AND role = ?",
                (community_id, user_id, role.value),
            )
        )

    async def is_staff_anywhere(self, user_id: int) -> bool:
        return bool(
            await self.tx.fetchval("SELECT 1 FROM staff WHERE user_id = ? AND role = ?", (user_id, Role.STAFF.value))
        )

    async def staff_ids(self, community_id: int, role: Role) -> list[int]:
        rows = await self.tx.fetchall(
            "SELECT user_id FROM staff WHERE community_id = ? AND role = ? ORDER BY user_id",
            (community_id, role.value),
        )
        return [r[0] for r in rows]

    # --- invites -------------------------------------------------------------------------------
    async def create_invite(
        self, code: str, community_id: int, kind: str, created_by: int, now: datetime, expires: datetime
    ) -> None:
        await self.tx.execute(
            "INSERT INTO invites (code, community_id, kind, created_by, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (code, community_id, kind, created_by, to_ts(now), to_ts(expires)),
        )

    async def get_invite(self, code: str) -> Row | None:
        return await self.tx.fetchone("SELECT * FROM invites WHERE code = ?", (code,))

    async def use_invite(self, code: str, chat_id: int, now: datetime) -> bool:
        count = await self.tx.execute(
            "UPDATE invites SET used_at = ?, used_chat_id = ? WHERE code = ? AND used_at IS NULL AND expires_at > ?",
            (to_ts(now), chat_id, code, to_ts(now)),
        )
        return count == 1

    # --- buildings -----------------------------------------------------------------------------
    async def create_building(
        self, community_id: int, chat_id: int, title: str, now: datetime, *, name: str | None = None
    ) -> int:
        return await self.tx.insert(
            "INSERT INTO buildings (community_id, chat_id, title, name, created_at)"
            " VALUES (?, ?, ?, ?, ?) RETURNING id",
            (community_id, chat_id, title, name or title, to_ts(now)),
        )

    async def get_building(self, building_id: int) -> Building | None:
        row = await self.tx.fetchone("SELECT * FROM buildings WHERE id = ?", (building_id,))
        return _building(row) if row else None

    async def building_by_chat(self, chat_id: int) -> Building | None:
        row = await self.tx.fetchone("SELECT * FROM buildings WHERE chat_id = ?", (chat_id,))
        return _building(row) if row else None

    async def buildings_of(self, community_id: int) -> list[Building]:
        rows = await self.tx.fetchall("SELECT * FROM buildings WHERE community_id = ? ORDER BY id", (community_id,))
        return [_building(r) for r in rows]

    async def buildings_headed_by(self, user_id: int) -> list[Building]:
        rows = await self.tx.fetchall("SELECT * FROM buildings WHERE head_user_id = ? ORDER BY id", (user_id,))
        return [_building(r) for r in rows]

    async def set_building_head(self, building_id: int, user_id: int | None) -> None:
        before = await self.get_building(building_id)
        await self.tx.execute("UPDATE buildings SET head_user_id = ? WHERE id = ?", (user_id, building_id))
        if before is not None:  # the points ranks count every current head
            await RolesRepo(self.tx).sync_rank_rows(before.community_id, (before.head_user_id, user_id))

    async def set_building_active(self, building_id: int, active: bool) -> None:
        await self.tx.execute("UPDATE buildings SET active = ? WHERE id = ?", (int(active), building_id))
        building = await self.get_building(building_id)
        if building is not None:  # its heads join (leave) the points ranks
            heads = await self.tx.fetchall(
                "SELECT DISTINCT head_user_id FROM units WHERE building_id = ? AND head_user_id IS NOT NULL",
                (building_id,),
            )
            people = [building.head_user_id, *(int(r[0]) for r in heads)]
            await RolesRepo(self.tx).sync_rank_rows(building.community_id, people)

    async def set_building_title(self, building_id: int, title: str) -> None:
        """The group's title (kept for reference; people see the building's own name)."""
        await self.tx.execute("UPDATE buildings SET title = ? WHERE id = ?", (title, building_id))

    async def set_building_name(self, building_id: int, name: str) -> None:
        await self.tx.execute("UPDATE buildings SET name = ? WHERE id = ?", (name, building_id))

    async def set_building_code(self, building_id: int, code: str) -> bool:
        """False when another building has that code already (the caller draws another)."""
        taken = await self.tx.fetchval("SELECT 1 FROM buildings WHERE code = ?", (code,))
        if taken:
            return False
        await self.tx.execute("UPDATE buildings SET code = ? WHERE id = ? AND code IS NULL", (code, building_id))
        return True

    async def building_by_code(self, code: str) -> Building | None:
        row = await self.tx.fetchone("SELECT * FROM buildings WHERE code = ? AND active = 1", (code,))
        return _building(row) if row else None

    async def active_buildings(self, community_ids: list[int] | None, limit: int) -> list[Building]:
        """Active buildings of these communities (None: of every community), by name."""
        if community_ids is not None and not community_ids:
            return []
        where = "active = 1"
        params: list[Any] = []
        if community_ids is not None:
            where += " AND community_id IN (" + ", ".join("?" for _ in community_ids) + ")"
            params.extend(community_ids)
        rows = await self.tx.fetchall(
            f"SELECT * FROM buildings WHERE {where} ORDER BY community_id, COALESCE(name, title), id LIMIT ?",  # noqa: S608
            (*params, limit),
        )
        return [_building(r) for r in rows]

    async def count_active_buildings(self) -> int:
        return int(await self.tx.fetchval("SELECT COUNT(*) FROM buildings WHERE active = 1"))

    async def add_building_member(self, user_id: int, building_id: int, now: datetime) -> None:
        await self.tx.execute(
            "INSERT INTO building_members (user_id, building_id, seen_at) VALUES (?, ?, ?)"
            " ON CONFLICT (user_id, building_id) DO UPDATE SET seen_at = excluded.seen_at",
            (user_id, building_id, to_ts(now)),
        )

    # --- units ---------------------------------------------------------------------------------
    async def add_unit(self, building_id: int, name: str, position: int) -> bool:
        count = await self.tx.execute(
            "INSERT INTO units (building_id, name, position) VALUES (?, ?, ?)"
            " ON CONFLICT (building_id, name) DO NOTHING",
            (building_id, name, position),
        )
        return count == 1

    async def units_of(self, building_id: int) -> list[Unit]:
        rows = await self.tx.fetchall("SELECT * FROM units WHERE building_id = ? ORDER BY position, id", (building_id,))
        return [_unit(r) for r in rows]

    async def get_unit(self, unit_id: int) -> Unit | None:
        row = await self.tx.fetchone("SELECT * FROM units WHERE id = ?", (unit_id,))
        return _unit(row) if row else None

    async def unit_by_name(self, building_id: int, name: str) -> Unit | None:
        row = await self.tx.fetchone(
            "SELECT * FROM units WHERE building_id = ? AND lower(name) = lower(?)", (building_id, name)
        )
        return _unit(row) if row else None

    async def units_headed_by(self, user_id: int) -> list[Unit]:
        rows = await self.tx.fetchall("SELECT * FROM units WHERE head_user_id = ? ORDER BY id", (user_id,))
        return [_unit(r) for r in rows]

    async def set_unit_head(self, unit_id: int, user_id: int | None) -> None:
        before = await self.tx.fetchone(
            "SELECT b.community_id, u.head_user_id FROM units u JOIN buildings b ON b.id = u.building_id"
            " WHERE u.id = ?",
            (unit_id,),
        )
        await self.tx.execute("UPDATE units SET head_user_id = ? WHERE id = ?", (user_id, unit_id))
        if before is not None:  # the points ranks count every current head
            await RolesRepo(self.tx).sync_rank_rows(int(before[0]), (before[1], user_id))

    async def max_unit_position(self, building_id: int) -> int:
        return int(
            await self.tx.fetchval("SELECT COALESCE(MAX(position), 0) FROM units WHERE building_id = ?", (building_id,))
        )

    # --- residents -----------------------------------------------------------------------------
    async def set_resident(self, user_id: int, building_id: int, unit_id: int, now: datetime) -> None:
        await self.tx.execute(
            "INSERT INTO residents (user_id, building_id, unit_id, joined_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (user_id, building_id) DO UPDATE SET unit_id = excluded.unit_id",
            (user_id, building_id, unit_id, to_ts(now)),
        )

    async def resident_unit(self, user_id: int, building_id: int) -> Unit | None:
        row = await self.tx.fetchone(
            "SELECT u.* FROM residents r JOIN units u ON u.id = r.unit_id WHERE r.user_id = ? AND r.building_id = ?",
            (user_id, building_id),
        )
        return _unit(row) if row else None

    async def buildings_of_resident(self, user_id: int) -> list[Building]:
        rows = await self.tx.fetchall(
            "SELECT b.* FROM residents r JOIN buildings b ON b.id = r.building_id"
            " WHERE r.user_id = ? AND b.active = 1 ORDER BY r.joined_at DESC",
            (user_id,),
        )
        return [_building(r) for r in rows]

    async def buildings_known_for(self, user_id: int) -> list[Building]:
        """The buildings a person belongs to: where they chose a unit, then the building chats they
        were seen in (most recent first)."""
        found = {b.id: b for b in await self.buildings_of_resident(user_id)}
        rows = await self.tx.fetchall(
            "SELECT b.* FROM building_members m JOIN buildings b ON b.id = m.building_id"
            " WHERE m.user_id = ? AND b.active = 1 ORDER BY m.seen_at DESC, b.id",
            (user_id,),
        )
        for row in rows:
            found.setdefault(row["id"], _building(row))
        return list(found.values())

    # --- calendar overrides --------------------------------------------------------------------
    async def calendar_overrides(self, community_id: int) -> dict[date, bool]:
        rows = await self.tx.fetchall(
            "SELECT day, working FROM calendar_overrides WHERE community_id = ?", (community_id,)
        )
        return {date.fromisoformat(r["day"]): bool(r["working"]) for r in rows}

    async def set_calendar_override(
        self, community_id: int, day: date, working: bool | None, by: int, now: datetime
    ) -> None:
        if working is None:
            await self.tx.execute(
                "DELETE FROM calendar_overrides WHERE community_id = ? AND day = ?", (community_id, day.isoformat())
            )
            return
        await self.tx.execute(
            "INSERT INTO calendar_overrides (community_id, day, working, set_by, set_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (community_id, day) DO UPDATE SET working = excluded.working,"
            " set_by = excluded.set_by, set_at = excluded.set_at",
            (community_id, day.isoformat(), int(working), by, to_ts(now)),
        )
