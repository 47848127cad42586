"""Residents' rights (issue 11): ``/mydata`` gives a resident a file with everything the bot holds
about them; ``/forgetme`` erases their personal data after they confirm with a button, keeping the
anonymous counts (appeals, ratings, votes, turnout) so every figure stays right. Open appeals are
withdrawn first (their handlers are told, without the words); a person who holds a post (a head,
staff, a merchant) is told to hand it over first, since their name is part of the post.

The confirmation button carries an expiry and a signature (HMAC with an installation secret) bound
to the person: a forged or someone else's button is refused, and nothing is stored until the person
confirms.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from babel.dates import format_date

from bot.dates import say_moment
from bot.errors import Conflict, PermissionDenied
from bot.i18n import Translator
from bot.models import Notice, Status, UserInfo
from bot.services.base import ServiceBase
from bot.services.escalation import ping_target
from storage.appeals import AppealsRepo
from storage.db import Tx
from storage.ledger import SecretsRepo
from storage.privacy import PrivacyRepo
from storage.registry import RegistryRepo
from storage.wishes import WishesRepo

CONFIRM_TTL = timedelta(minutes=30)
SECRET_NAME = "forget_confirm_key"
TEXT_EVENT_KINDS = ("text", "body", "caption")


@dataclass(frozen=True)
class ForgetPrompt:
    open_appeals: tuple[int, ...]
    expires: int  # epoch seconds
    signature: str

    @property
    def button_data(self) -> str:
        return f"fg:y:{self.expires}:{self.signature}"


@dataclass(frozen=True)
class Line:
    key: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MyData:
    """What the bot holds about a person, as translation keys and values (rendered by :func:`render`)."""

    sections: tuple[tuple[str, tuple[Line, ...]], ...]


def _when(ts: int | None, tz: str, lang: str) -> str:
    if ts is None:
        return "-"
    return say_moment(datetime.fromtimestamp(int(ts), UTC), tz, lang)


MONTH_PATTERNS = {"zh": "y年M月", "ru": "LLLL y", "en": "LLLL y"}


def _month(period: str, lang: str) -> str:
    """ "2026-11" as people say it: 2026年11月 / ноябрь 2026 / November 2026."""
    try:
        day = date.fromisoformat(period + "-01")
    except ValueError:
        return period
    return str(format_date(day, MONTH_PATTERNS.get(lang, "LLLL y"), locale=lang if lang in MONTH_PATTERNS else "en"))


def _value(value: Any, timezone: str, lang: str) -> Any:
    if isinstance(value, dict) and "ts" in value:
        return _when(value["ts"], timezone, lang)
    if isinstance(value, dict) and "month" in value:
        return _month(str(value["month"]), lang)
    return value


def render(t: Translator, data: MyData, timezone: str) -> str:
    """The file's text in the reader's language."""
    out = [t("district.mydata_title"), ""]
    for heading, lines in data.sections:
        out.append(t(heading))
        if not lines:
            out.append("  " + t("district.mydata_none"))
        for line in lines:
            params = {k: _value(v, timezone, t.lang) for k, v in line.params.items()}
            text = t(line.key, **params)
            out.extend("  " + part for part in text.splitlines())
        out.append("")
    return "\n".join(out)


class PrivacyService(ServiceBase):
    async def _key(self, tx: Tx) -> bytes:
        value = await SecretsRepo(tx).get_or_create(SECRET_NAME, secrets.token_hex(32), self.clock.now())
        return bytes.fromhex(value)

    @staticmethod
    def _sign(key: bytes, user_id: int, expires: int) -> str:
        return hmac.new(key, f"forget:{user_id}:{expires}".encode(), hashlib.sha256).hexdigest()[:20]

    # --- /mydata --------------------------------------------------------------------------------
    async def my_data(self, actor: UserInfo) -> tuple[MyData, str]:
        """(the data, the time zone to show moments in)."""
        async with self.db.read() as tx:
            repo = PrivacyRepo(tx)
            user = await repo.user_row(actor.id)
            timezone = "UTC"
            about: list[Line] = []
            if user is not None:
                about.append(
                    Line(
                        "district.mydata_name",
                        {"name": " ".join(p for p in (user["first_name"], user["last_name"]) if p) or "-"},
                    )
                )
                about.append(
                    Line("district.mydata_username", {"username": f"@{user['username']}" if user["username"] else "-"})
                )
                about.append(
                    Line("district.mydata_language", {"lang": user["lang_override"] or user["language_code"] or "-"})
                )
            homes = [
                Line("district.mydata_home", {"building": r["building"], "unit": r["unit"]})
                for r in await repo.homes(actor.id)
            ]
            homes += [Line("district.mydata_seen", {"building": name}) for name in await repo.seen_in(actor.id)]
            appeals: list[Line] = []
            messages: list[Line] = []
            for row in await repo.appeals(actor.id):
                timezone = row["timezone"]
                appeals.append(
                    Line(
                        "district.mydata_appeal",
                        {
                            "id": row["id"],
                            "when": {"ts": row["created_at"]},
                            "building": row["building_name"],
                            "unit": row["unit_name"] or "-",
                            "category_key": f"category.{row['category']}",
                            "status_key": f"status.{row['status']}",
                            "rating": row["rating"] if row["rating"] is not None else "-",
                            "media": await repo.media_count(row["id"], actor.id),
                            "body": row["body"] or "-",
                        },
                    )
                )
                for event in await repo.messages(row["id"]):
                    detail = json.loads(event["detail"] or "{}")
                    text = detail.get("text") if isinstance(detail, dict) else None
                    if not text:
                        continue
                    mine = event["actor_id"] == actor.id
                    messages.append(
                        Line(
                            "district.mydata_message_mine" if mine else "district.mydata_message_theirs",
                            {"id": row["id"], "when": {"ts": event["at"]}, "text": text},
                        )
                    )
            for kept in await repo.kept_messages(actor.id):
                if kept["text"]:
                    messages.append(
                        Line("district.mydata_kept", {"when": {"ts": kept["created_at"]}, "text": kept["text"]})
                    )
            wishes = [
                Line(
                    "district.mydata_wish",
                    {"id": r["id"], "when": {"ts": r["created_at"]}, "state": r["state"], "body": r["body"] or "-"},
                )
                for r in await repo.wishes(actor.id)
            ]
            votes = [
                Line("district.mydata_election", {"period": {"month": r["period"]}, "when": {"ts": r["cast_at"]}})
                for r in await repo.elections_voted(actor.id)
            ]
            votes += [
                Line("district.mydata_proposal", {"question": r["question"], "when": {"ts": r["cast_at"]}})
                for r in await repo.proposals_voted(actor.id)
            ]
            points = [
                Line(
                    "district.mydata_points",
                    {
                        "community": r["community"],
                        "balance": r["balance"],
                        "earned": r["earned"],
                        "entries": r["entries"],
                    },
                )
                for r in await repo.points(actor.id)
            ]
        data = MyData(
            (
                ("district.mydata_about", tuple(about)),
                ("district.mydata_homes", tuple(homes)),
                ("district.mydata_appeals", tuple(appeals)),
                ("district.mydata_messages", tuple(messages)),
                ("district.mydata_wishes", tuple(wishes)),
                ("district.mydata_votes", tuple(votes)),
                ("district.mydata_points_heading", tuple(points)),
            )
        )
        return data, timezone

    # --- /forgetme ------------------------------------------------------------------------------
    async def forget_prompt(self, actor: UserInfo) -> ForgetPrompt:
        """What confirming will do, and the signed button; refused for a person holding a post."""
        now = self.clock.now()
        async with self.db.write() as tx:
            repo = PrivacyRepo(tx)
            if await repo.holds_a_post(actor.id):
                raise PermissionDenied("district.forget_post_holder")
            expires = int((now + CONFIRM_TTL).timestamp())
            signature = self._sign(await self._key(tx), actor.id, expires)
            open_ids = await repo.open_appeal_ids(actor.id)
        return ForgetPrompt(tuple(open_ids), expires, signature)

    async def forget(self, actor: UserInfo, expires: int, signature: str) -> tuple[int, ...]:
        """Erase the person's data (the confirmation button was pressed); returns the appeals withdrawn."""
        now = self.clock.now()
        async with self.db.write() as tx:
            key = await self._key(tx)
            if not hmac.compare_digest(self._sign(key, actor.id, expires), signature):
                raise Conflict("error.stale_button")
            if expires < int(now.timestamp()):
                raise Conflict("district.forget_expired")
            repo = PrivacyRepo(tx)
            if await repo.holds_a_post(actor.id):
                raise PermissionDenied("district.forget_post_holder")
            open_ids = await repo.open_appeal_ids(actor.id)
            live_wishes = await repo.live_wishes(actor.id)
            await WishesRepo(tx).drop_draft(actor.id)  # a wish being written
            await repo.erase(actor.id, now)
            for appeal_id in open_ids:  # after erasing: these notices say only the appeal's number
                await self._withdraw(tx, appeal_id, actor.id, now)
            for wish in live_wishes:  # off the board; a volunteer who took it is told
                await self._withdraw_wish(tx, int(wish["id"]), wish["volunteer_id"], now)
        return tuple(open_ids)

    async def _withdraw_wish(self, tx: Tx, wish_id: int, volunteer_id: int | None, now: datetime) -> None:
        repo = WishesRepo(tx)
        wish = await repo.get(wish_id)
        if wish is None or not await repo.close(wish_id, "cancelled", now, from_states=("open", "claimed")):
            return
        await repo.finish_deadlines_of(wish_id, now, "cancelled")
        community = await RegistryRepo(tx).get_community(wish.community_id)
        if volunteer_id is not None and community is not None:
            await self.queue(
                tx,
                Notice(
                    int(volunteer_id),
                    "wish.cancelled_volunteer",
                    {"id": wish_id},
                    user_id=int(volunteer_id),
                    dedupe_key=f"forgotten-wish:{wish_id}",
                ),
                community,
                now,
            )

    async def _withdraw(self, tx: Tx, appeal_id: int, user_id: int, now: datetime) -> None:
        repo = AppealsRepo(tx)
        appeal = await repo.get(appeal_id)
        if appeal is None or appeal.status == Status.CLOSED:
            return
        community = await RegistryRepo(tx).get_community(appeal.community_id)
        assert community is not None
        await repo.update(appeal, now, status=Status.CLOSED, closed_at=now)
        await repo.cancel_deadlines(appeal.id, now, "withdrawn")
        await PrivacyRepo(tx).drop_actions_on(appeal.id)  # a head's pending reply to it
        await repo.add_event(appeal.id, now, user_id, "withdrawn", appeal.level)
        chat_id, person = ping_target(appeal, community)
        await self.queue(
            tx,
            Notice(
                chat_id,
                "district.appeal_withdrawn",
                {"id": appeal.id},
                user_id=person,
                dedupe_key=f"withdrawn:{appeal.id}",
            ),
            community,
            now,
        )
