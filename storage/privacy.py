"""What the bot holds about one person, and erasing it (``/mydata``, ``/forgetme``; issue 11
"Residents' rights"). Erasing keeps every id and count (appeals, ratings, votes, turnout) so the
figures stay right, and blanks what says who the person is or what they wrote: names, username,
texts, media file ids and copies of their messages."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.clock import to_ts
from bot.models import OPEN_STATUSES
from storage.db import Row, Tx

TEXT_KEYS = ("text", "caption", "body", "note", "name", "resident", "who", "by", "title", "question")


class PrivacyRepo:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    # --- what is held -------------------------------------------------------------------------
    async def user_row(self, user_id: int) -> Row | None:
        return await self.tx.fetchone("SELECT * FROM users WHERE id = ?", (user_id,))

    async def homes(self, user_id: int) -> list[Row]:
        return await self.tx.fetchall(
            "SELECT COALESCE(b.name, b.title) AS building, u.name AS unit, r.joined_at FROM residents r"
            " JOIN buildings b ON b.id = r.building_id JOIN units u ON u.id = r.unit_id WHERE r.user_id = ?"
            " ORDER BY r.joined_at",
            (user_id,),
        )

    async def seen_in(self, user_id: int) -> list[str]:
        rows = await self.tx.fetchall(
            "SELECT COALESCE(b.name, b.title) FROM building_members m JOIN buildings b ON b.id = m.building_id"
            " WHERE m.user_id = ? ORDER BY m.seen_at",
            (user_id,),
        )
        return [str(r[0]) for r in rows]

    async def appeals(self, user_id: int) -> list[Row]:
        return await self.tx.fetchall(
            "SELECT a.*, COALESCE(b.name, b.title) AS building_name, u.name AS unit_name, c.timezone"
            " FROM appeals a JOIN buildings b ON b.id = a.building_id JOIN communities c ON c.id = a.community_id"
            " LEFT JOIN units u ON u.id = a.unit_id WHERE a.resident_id = ? ORDER BY a.id",
            (user_id,),
        )

    async def appeal_ids(self, user_id: int) -> list[int]:
        rows = await self.tx.fetchall("SELECT id FROM appeals WHERE resident_id = ? ORDER BY id", (user_id,))
        return [int(r[0]) for r in rows]

    async def open_appeal_ids(self, user_id: int) -> list[int]:
        marks = ", ".join("?" for _ in OPEN_STATUSES)
        rows = await self.tx.fetchall(
            f"SELECT id FROM appeals WHERE resident_id = ? AND status IN ({marks}, 'resolved') ORDER BY id",  # noqa: S608
            (user_id, *OPEN_STATUSES),
        )
        return [int(r[0]) for r in rows]

    async def messages(self, appeal_id: int) -> list[Row]:
        """The words exchanged on an appeal (history rows with a text), oldest first."""
        return await self.tx.fetchall(
            "SELECT at, actor_id, kind, detail FROM appeal_events WHERE appeal_id = ? ORDER BY id", (appeal_id,)
        )

    async def media_count(self, appeal_id: int, user_id: int) -> int:
        return int(
            await self.tx.fetchval(
                "SELECT COUNT(*) FROM appeal_media WHERE appeal_id = ? AND from_user = ?", (appeal_id, user_id)
            )
        )

    async def kept_messages(self, user_id: int) -> list[Row]:
        return await self.tx.fetchall(
            "SELECT kind, text, created_at FROM inbox WHERE user_id = ? ORDER BY id", (user_id,)
        )

    async def elections_voted(self, user_id: int) -> list[Row]:
        """The elections the person voted in (never whom they chose)."""
        return await self.tx.fetchall(
            "SELECT e.period, v.cast_at FROM election_votes v JOIN elections e ON e.id = v.election_id"
            " WHERE v.voter_id = ? ORDER BY v.cast_at",
            (user_id,),
        )

    async def proposals_voted(self, user_id: int) -> list[Row]:
        """The proposals the person voted on (never their option)."""
        return await self.tx.fetchall(
            "SELECT p.question, v.cast_at FROM proposal_votes v JOIN proposals p ON p.id = v.proposal_id"
            " WHERE v.voter_id = ? ORDER BY v.cast_at",
            (user_id,),
        )

    async def points(self, user_id: int) -> list[Row]:
        return await self.tx.fetchall(
            "SELECT c.name AS community, p.balance, p.earned, p.entries FROM balances p"
            " JOIN communities c ON c.id = p.community_id WHERE p.user_id = ? ORDER BY c.id",
            (user_id,),
        )

    async def wishes(self, user_id: int) -> list[Row]:
        """The person's micro-wishes (issue 12), drafts left out."""
        return await self.tx.fetchall(
            "SELECT id, state, body, created_at FROM wishes WHERE resident_id = ? AND state <> 'draft' ORDER BY id",
            (user_id,),
        )

    async def live_wishes(self, user_id: int) -> list[Row]:
        """Their wishes still on the board (open, or claimed by a volunteer)."""
        return await self.tx.fetchall(
            "SELECT id, state, volunteer_id FROM wishes WHERE resident_id = ? AND state IN ('open', 'claimed')"
            " ORDER BY id",
            (user_id,),
        )

    async def holds_a_post(self, user_id: int) -> bool:
        """A head, staff member, street officer or merchant: their name is part of a post."""
        for sql in (
            "SELECT 1 FROM units WHERE head_user_id = ?",
            "SELECT 1 FROM buildings WHERE head_user_id = ? AND active = 1",
            "SELECT 1 FROM staff WHERE user_id = ?",
            "SELECT 1 FROM merchants WHERE user_id = ? AND active = 1",
            "SELECT 1 FROM district_posts WHERE user_id = ?",
        ):
            if await self.tx.fetchval(sql + " LIMIT 1", (user_id,)):
                return True
        return False

    async def drop_actions_on(self, appeal_id: int) -> None:
        await self.tx.execute("DELETE FROM pending_actions WHERE appeal_id = ?", (appeal_id,))

    # --- erasing --------------------------------------------------------------------------------
    async def erase(self, user_id: int, now: datetime) -> None:
        """Blank everything personal of ``user_id`` (ids and counts stay)."""
        ts = to_ts(now)
        appeal_ids = await self.appeal_ids(user_id)
        await self.tx.execute(
            "UPDATE users SET first_name = '', last_name = NULL, username = NULL, language_code = NULL WHERE id = ?",
            (user_id,),
        )
        for appeal_id in appeal_ids:
            await self.tx.execute(
                "UPDATE appeals SET body = '', body_hash = '', shared_title = NULL WHERE id = ?", (appeal_id,)
            )
            await self.tx.execute(
                "UPDATE appeal_media SET file_id = '', caption = NULL WHERE appeal_id = ?", (appeal_id,)
            )
            for event in await self.tx.fetchall(
                "SELECT id, detail FROM appeal_events WHERE appeal_id = ?", (appeal_id,)
            ):
                detail = _scrubbed(event["detail"])
                if detail is not None:
                    await self.tx.execute("UPDATE appeal_events SET detail = ? WHERE id = ?", (detail, event["id"]))
            await self._scrub_outbox("appeal_id = ?", (appeal_id,), ts)
            # Me too: the building chat's post, the flags and the supporters' copies carry its title
            # (their dedupe keys begin "mt:<id>:", a range on the unique index)
            prefix = f"mt:{appeal_id}:"
            await self._scrub_outbox("dedupe_key >= ? AND dedupe_key < ?", (prefix, prefix[:-1] + ";"), ts)
        await self.tx.execute("UPDATE inbox SET text = NULL, file_id = NULL WHERE user_id = ?", (user_id,))
        for row in await self.tx.fetchall("SELECT id FROM wishes WHERE resident_id = ?", (user_id,)):
            # the wish's posts and relays: their dedupe keys begin "wish:<id>:" (a range on the unique index)
            prefix = f"wish:{int(row['id'])}:"
            await self._scrub_outbox("dedupe_key >= ? AND dedupe_key < ?", (prefix, prefix[:-1] + ";"), ts)
        await self.tx.execute(
            "UPDATE wishes SET body = '', media_chat = NULL, media_message = NULL, show_name = 0 WHERE resident_id = ?",
            (user_id,),
        )
        await self.tx.execute("DELETE FROM wish_writers WHERE user_id = ?", (user_id,))
        # messages to their private chat; copies of their messages went to their appeals' handlers
        # (appeal_id, above)
        await self._scrub_outbox("chat_id = ?", (user_id,), ts)
        await self.tx.execute("UPDATE election_candidates SET display = '' WHERE user_id = ?", (user_id,))
        for table in ("drafts", "building_lookups", "pending_actions", "metoo_drafts"):
            await self.tx.execute(f"DELETE FROM {table} WHERE user_id = ?", (user_id,))  # noqa: S608
        await self._scrub_updates(user_id)
        await self.tx.execute(
            "INSERT INTO forgotten_people (user_id, forgotten_at) VALUES (?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET forgotten_at = excluded.forgotten_at",
            (user_id, ts),
        )

    async def _scrub_outbox(self, where: str, params: tuple[Any, ...], ts: int) -> None:
        """Sent messages keep only their template; those not sent yet are not sent at all."""
        await self.tx.execute(
            f"UPDATE outbox SET params = '{{}}', copy_from_chat = NULL, copy_message_id = NULL WHERE ({where})",  # noqa: S608
            params,
        )
        await self.tx.execute(
            f"UPDATE outbox SET failed_at = ?, error = 'forgotten' WHERE ({where})"  # noqa: S608
            " AND sent_at IS NULL AND failed_at IS NULL",
            (ts, *params),
        )

    async def _scrub_updates(self, user_id: int) -> None:
        """Updates kept for redelivery (up to 48 hours) that name the person: their name and
        username are blanked in every one (the update being handled now too: replayed after a crash
        it still works, ids are kept); their words too in those already handled."""
        rows = await self.tx.fetchall(
            "SELECT update_id, payload, state FROM received_updates WHERE payload LIKE ?", (f"%{user_id}%",)
        )
        for row in rows:
            try:
                payload = json.loads(row["payload"])
            except ValueError:
                continue
            if _scrub_payload(payload, user_id, words=row["state"] != "new"):
                await self.tx.execute(
                    "UPDATE received_updates SET payload = ? WHERE update_id = ?",
                    (json.dumps(payload, ensure_ascii=False), row["update_id"]),
                )


def _scrubbed(detail: str) -> str | None:
    """A history row's detail without the words in it; None when there were none."""
    try:
        value = json.loads(detail)
    except ValueError:
        return "{}"
    if not isinstance(value, dict) or not any(k in value for k in TEXT_KEYS):
        return None
    return json.dumps({k: v for k, v in value.items() if k not in TEXT_KEYS}, ensure_ascii=False)


def _scrub_payload(value: object, user_id: int, *, words: bool) -> bool:
    """Blank the person (a User object with their id) and, with ``words``, the text of their
    messages, in place; True when anything changed."""
    changed = False
    if isinstance(value, dict):
        if value.get("id") == user_id and ("first_name" in value or "username" in value):
            for key in ("last_name", "username"):
                changed |= value.pop(key, None) is not None
            if value.get("first_name"):
                value["first_name"] = ""
                changed = True
        sender = value.get("from")
        if words and isinstance(sender, dict) and sender.get("id") == user_id:
            for key in ("text", "caption"):
                if value.get(key):
                    value[key] = ""
                    changed = True
            for key in ("photo", "voice", "video", "video_note", "document", "location"):
                changed |= value.pop(key, None) is not None
        for item in list(value.values()):
            changed |= _scrub_payload(item, user_id, words=words)
    elif isinstance(value, list):
        for item in value:
            changed |= _scrub_payload(item, user_id, words=words)
    return changed
