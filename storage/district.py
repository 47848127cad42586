"""The imported district registry: buildings by name, heads' posts and their invite links
(bot.services.district)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from bot.clock import to_ts
from storage.db import Row, Tx


@dataclass(frozen=True)
class RegistryBuilding:
    id: int
    community_id: int
    name: str
    building_id: int | None
    units: tuple[str, ...]


@dataclass(frozen=True)
class Post:
    id: int
    community_id: int
    registry_building_id: int
    unit_name: str  # "" for the building head
    person_name: str
    username: str | None
    user_id: int | None


@dataclass(frozen=True)
class Invite:
    post_id: int
    community_id: int
    expires_at: int
    used_at: int | None
    used_by: int | None
    replaced_at: int | None


def _building(row: Row) -> RegistryBuilding:
    return RegistryBuilding(
        id=row["id"],
        community_id=row["community_id"],
        name=row["name"],
        building_id=row["building_id"],
        units=tuple(json.loads(row["units"])),
    )


def _post(row: Row) -> Post:
    return Post(
        id=row["id"],
        community_id=row["community_id"],
        registry_building_id=row["district_building_id"],
        unit_name=row["unit_name"],
        person_name=row["person_name"],
        username=row["username"],
        user_id=row["user_id"],
    )


class DistrictRepo:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    # --- buildings ----------------------------------------------------------------------------
    async def upsert_building(
        self, community_id: int, name: str, key: str, units: list[str], now: datetime
    ) -> tuple[RegistryBuilding, bool]:
        """(the row, whether it is new); units are the union of those known and those given."""
        row = await self.tx.fetchone(
            "SELECT * FROM district_buildings WHERE community_id = ? AND name_key = ?", (community_id, key)
        )
        if row is None:
            new_id = await self.tx.insert(
                "INSERT INTO district_buildings (community_id, name, name_key, units, imported_at)"
                " VALUES (?, ?, ?, ?, ?) RETURNING id",
                (community_id, name, key, json.dumps(units, ensure_ascii=False), to_ts(now)),
            )
            fresh = await self.get_building(new_id)
            assert fresh is not None
            return fresh, True
        known = list(json.loads(row["units"]))
        merged = known + [u for u in units if u.casefold() not in {k.casefold() for k in known}]
        await self.tx.execute(
            "UPDATE district_buildings SET name = ?, units = ?, imported_at = ? WHERE id = ?",
            (name, json.dumps(merged, ensure_ascii=False), to_ts(now), row["id"]),
        )
        fresh = await self.get_building(int(row["id"]))
        assert fresh is not None
        return fresh, False

    async def get_building(self, registry_building_id: int) -> RegistryBuilding | None:
        row = await self.tx.fetchone("SELECT * FROM district_buildings WHERE id = ?", (registry_building_id,))
        return _building(row) if row else None

    async def building_by_key(self, community_id: int, key: str) -> RegistryBuilding | None:
        row = await self.tx.fetchone(
            "SELECT * FROM district_buildings WHERE community_id = ? AND name_key = ?", (community_id, key)
        )
        return _building(row) if row else None

    async def for_building(self, building_id: int) -> RegistryBuilding | None:
        row = await self.tx.fetchone("SELECT * FROM district_buildings WHERE building_id = ?", (building_id,))
        return _building(row) if row else None

    async def attach(self, registry_building_id: int, building_id: int) -> None:
        await self.tx.execute(
            "UPDATE district_buildings SET building_id = ? WHERE id = ?", (building_id, registry_building_id)
        )

    # --- posts --------------------------------------------------------------------------------
    async def upsert_post(
        self,
        community_id: int,
        registry_building_id: int,
        unit_name: str,
        person_name: str,
        username: str | None,
        now: datetime,
    ) -> tuple[Post, str]:
        """(the post, "added" | "changed" | "same"). A different person on a post unlinks it."""
        row = await self.tx.fetchone(
            "SELECT * FROM district_posts WHERE district_building_id = ? AND lower(unit_name) = lower(?)",
            (registry_building_id, unit_name),
        )
        if row is None:
            new_id = await self.tx.insert(
                "INSERT INTO district_posts (community_id, district_building_id, unit_name, person_name, username,"
                " imported_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (community_id, registry_building_id, unit_name, person_name, username, to_ts(now)),
            )
            post = await self.get_post(new_id)
            assert post is not None
            return post, "added"
        same_person = row["person_name"] == person_name and (row["username"] or "").lower() == (username or "").lower()
        if same_person:
            post = _post(row)
            return post, "same"
        await self.tx.execute(
            "UPDATE district_posts SET person_name = ?, username = ?, user_id = NULL, linked_at = NULL,"
            " imported_at = ? WHERE id = ?",
            (person_name, username, to_ts(now), row["id"]),
        )
        post = await self.get_post(int(row["id"]))
        assert post is not None
        return post, "changed"

    async def get_post(self, post_id: int) -> Post | None:
        row = await self.tx.fetchone("SELECT * FROM district_posts WHERE id = ?", (post_id,))
        return _post(row) if row else None

    async def posts_of(self, registry_building_id: int) -> list[Post]:
        rows = await self.tx.fetchall(
            "SELECT * FROM district_posts WHERE district_building_id = ? ORDER BY id", (registry_building_id,)
        )
        return [_post(r) for r in rows]

    async def link_post(self, post_id: int, user_id: int, now: datetime) -> None:
        await self.tx.execute(
            "UPDATE district_posts SET user_id = ?, linked_at = ? WHERE id = ?", (user_id, to_ts(now), post_id)
        )

    async def posts_of_user(self, user_id: int) -> list[Post]:
        rows = await self.tx.fetchall("SELECT * FROM district_posts WHERE user_id = ? ORDER BY id", (user_id,))
        return [_post(r) for r in rows]

    async def unlinked_posts(self, community_id: int) -> list[Post]:
        rows = await self.tx.fetchall(
            "SELECT * FROM district_posts WHERE community_id = ? AND user_id IS NULL ORDER BY id", (community_id,)
        )
        return [_post(r) for r in rows]

    # --- invites ------------------------------------------------------------------------------
    async def replace_invites(self, post_id: int, now: datetime) -> None:
        await self.tx.execute(
            "UPDATE district_invites SET replaced_at = ? WHERE post_id = ? AND used_at IS NULL AND replaced_at IS NULL",
            (to_ts(now), post_id),
        )

    async def has_live_invite(self, post_id: int, now: datetime) -> bool:
        return bool(
            await self.tx.fetchval(
                "SELECT 1 FROM district_invites WHERE post_id = ? AND used_at IS NULL AND replaced_at IS NULL"
                " AND expires_at > ?",
                (post_id, to_ts(now)),
            )
        )

    async def add_invite(self, token_hash: str, post: Post, now: datetime, expires: datetime) -> None:
        await self.tx.execute(
            "INSERT INTO district_invites (token_hash, post_id, community_id, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (token_hash, post.id, post.community_id, to_ts(now), to_ts(expires)),
        )

    async def get_invite(self, token_hash: str) -> Invite | None:
        row = await self.tx.fetchone("SELECT * FROM district_invites WHERE token_hash = ?", (token_hash,))
        if row is None:
            return None
        return Invite(
            post_id=row["post_id"],
            community_id=row["community_id"],
            expires_at=row["expires_at"],
            used_at=row["used_at"],
            used_by=row["used_by"],
            replaced_at=row["replaced_at"],
        )

    async def use_invite(self, token_hash: str, user_id: int, now: datetime) -> bool:
        """Single use: False when it was used (or replaced, or expired) meanwhile."""
        count = await self.tx.execute(
            "UPDATE district_invites SET used_at = ?, used_by = ? WHERE token_hash = ? AND used_at IS NULL"
            " AND replaced_at IS NULL AND expires_at > ?",
            (to_ts(now), user_id, token_hash, to_ts(now)),
        )
        return count == 1
