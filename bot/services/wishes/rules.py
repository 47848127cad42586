"""Micro-wishes: the plain rules (timing, limits, buttons), no I/O.

Timing (per community, ``communities.settings['wishes']``, defaults below): an open wish is shown
again in its building chat ``reshow_days`` after it was posted, and reaches the head of the
resident's unit (else the building head) after ``unit_head_days``; it expires at the date the
resident wanted it by (at most ``max_days`` after posting), fulfilled or not.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from bot.models import Button

BODY_MAX = 500  # characters of a wish's words
WHEN_DAYS = (3, 7, 14, 30)  # the "by when" buttons
LIST_MAX = 10  # wishes listed by /wishes (and buttons under the list)


class WishSettings(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reshow_days: int = Field(3, ge=1, le=30)
    unit_head_days: int = Field(7, ge=1, le=60)
    max_days: int = Field(30, ge=1, le=90)

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> WishSettings:
        return cls.model_validate(settings.get("wishes", {}))

    def expires_at(self, posted: datetime, wanted_by: datetime | None) -> datetime:
        latest = posted + timedelta(days=self.max_days)
        return latest if wanted_by is None else min(max(wanted_by, posted + timedelta(hours=1)), latest)


def wanted_by(now: datetime, days: int) -> datetime:
    if days not in WHEN_DAYS:
        raise InvalidInput("wish.bad_when")
    return now + timedelta(days=days)


def clean_body(text: str, has_media: bool) -> str:
    body = " ".join(text.split())
    if not body and not has_media:
        raise InvalidInput("wish.empty")
    if len(body) > BODY_MAX:
        raise InvalidInput("wish.too_long", max=BODY_MAX)
    return body


class WishUnknown(NotFound):
    key = "wish.unknown"


class WishTaken(Conflict):
    """Another volunteer was first (or the wish is no longer open)."""

    key = "wish.taken"


class WishClosed(Conflict):
    key = "wish.closed"


class NotWishResident(PermissionDenied):
    key = "wish.not_resident"


class NotYourWish(PermissionDenied):
    key = "wish.not_yours"


def help_button(wish_id: int) -> tuple[tuple[Button, ...], ...]:
    return ((Button("wish.btn.help", data=f"wi:h:{wish_id}"),),)


def resident_buttons(wish_id: int) -> tuple[tuple[Button, ...], ...]:
    return (
        (Button("wish.btn.write_volunteer", data=f"wi:w:{wish_id}"),),
        (Button("wish.btn.fulfilled", data=f"wi:ok:{wish_id}"), Button("wish.btn.cancel", data=f"wi:x:{wish_id}")),
    )


def volunteer_buttons(wish_id: int) -> tuple[tuple[Button, ...], ...]:
    return (
        (Button("wish.btn.write_resident", data=f"wi:w:{wish_id}"),),
        (Button("wish.btn.done", data=f"wi:d:{wish_id}"), Button("wish.btn.give_up", data=f"wi:q:{wish_id}")),
    )


def when_buttons() -> tuple[tuple[Button, ...], ...]:
    return (
        tuple(Button(f"wish.when.{d}", data=f"wi:t:{d}") for d in WHEN_DAYS[:2]),
        tuple(Button(f"wish.when.{d}", data=f"wi:t:{d}") for d in WHEN_DAYS[2:]),
        (Button("wish.btn.cancel", data="wi:c:0"),),
    )


def name_buttons() -> tuple[tuple[Button, ...], ...]:
    return (
        (Button("wish.btn.no_name", data="wi:n:0"),),
        (Button("wish.btn.with_name", data="wi:n:1"),),
        (Button("wish.btn.cancel", data="wi:c:0"),),
    )
