"""Plain domain types: enums and frozen dataclasses shared by services, storage and handlers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any


class Category(StrEnum):
    CONSULTATION = "consultation"
    PROBLEM = "problem"
    MAJOR = "major"


class Status(StrEnum):
    NEW = "new"  # assigned, nobody took it yet
    IN_PROGRESS = "in_progress"  # taken by the assignee
    WAITING = "waiting"  # the assignee asked the resident; the clock is paused
    RESOLVED = "resolved"  # marked resolved, waiting for the resident's confirmation
    CLOSED = "closed"  # confirmed by the resident, or closed after silence

    @property
    def is_open(self) -> bool:
        return self in (Status.NEW, Status.IN_PROGRESS, Status.WAITING)


OPEN_STATUSES: tuple[str, ...] = (Status.NEW, Status.IN_PROGRESS, Status.WAITING)


class Priority(IntEnum):
    """Order in which the outbox sends what is due (lower first)."""

    NOW = 0  # a person is waiting for it (urgent notices: relays of someone's words)
    PERSONAL = 1  # appeal pings, receipts, personal notices
    BULK = 2  # fan-outs to many chats: ballots, announcements, results


class Level(IntEnum):
    """The escalation chain, bottom to top."""

    UNIT = 0
    BUILDING = 1
    COMMUNITY = 2
    STREET = 3


class Role(StrEnum):
    STAFF = "staff"  # admins of the community's staff chat
    STREET = "street"  # admins of the street office chat


class DeadlineKind(StrEnum):
    FIRST_REPLY = "first_reply"  # nobody answered within the first-reply window -> escalate
    RESOLVE = "resolve"  # the level's deadline passed -> escalate
    REMIND = "remind"  # remind the assignee before the deadline
    REPING = "reping"  # top level: ping again once per working day
    AUTOCLOSE = "autoclose"  # resident did not confirm a resolution -> close
    RATE_AGAIN = "rate_again"  # closed and not rated: ask once more
    REVISIT = "revisit"  # a major issue, some days after closing: is it still fixed?


class ActionKind(StrEnum):
    """What the next private message of a user completes."""

    REPLY = "reply"  # assignee -> resident
    ASK = "ask"  # assignee asks the resident a clarifying question (pauses the clock)
    RESOLVE = "resolve"  # assignee's resolution note


@dataclass(frozen=True)
class UserInfo:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None

    @property
    def display(self) -> str:
        name = " ".join(p for p in (self.first_name, self.last_name) if p).strip()
        return name or (f"@{self.username}" if self.username else str(self.id))


@dataclass(frozen=True)
class Community:
    id: int
    name: str
    staff_chat_id: int
    street_chat_id: int | None
    timezone: str
    country: str
    language: str
    settings: dict[str, Any]
    active: bool


@dataclass(frozen=True)
class Building:
    id: int
    community_id: int
    chat_id: int
    title: str  # the building's own name (``/register CODE NAME``, ``/buildingname``), else its group's title
    head_user_id: int | None
    active: bool
    code: str | None = None  # the short code on the poster (bot.services.building_codes)


@dataclass(frozen=True)
class Unit:
    id: int
    building_id: int
    name: str
    head_user_id: int | None


@dataclass(frozen=True)
class Appeal:
    id: int
    community_id: int
    building_id: int
    unit_id: int | None
    resident_id: int
    category: Category
    status: Status
    level: Level
    assignee_user_id: int | None
    body: str
    created_at: datetime
    first_reply_due_at: datetime
    first_reply_at: datetime | None
    due_at: datetime | None
    remaining_seconds: int | None
    resolved_at: datetime | None
    closed_at: datetime | None
    rating: int | None
    stage: int
    anonymous: bool = False  # the heads' card says "anonymous resident" (staff still see the name)


@dataclass(frozen=True)
class AppealEvent:
    appeal_id: int
    at: datetime
    actor_id: int | None
    kind: str
    level: Level
    detail: dict[str, Any]


@dataclass(frozen=True)
class Button:
    """An inline button: ``label`` is a translation key; exactly one of data / url is set."""

    label: str
    data: str | None = None
    url: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Notice:
    """A message to somebody, stored in the outbox and rendered in the recipient's language."""

    chat_id: int
    template: str
    params: dict[str, Any] = field(default_factory=dict)
    buttons: tuple[tuple[Button, ...], ...] = ()
    user_id: int | None = None  # set when chat_id is a person's private chat
    appeal_id: int | None = None  # the sent message is linked to this appeal (replies route back)
    dedupe_key: str | None = None
    urgent: bool = False  # the person is waiting for it right now: ignore quiet hours
    copy_from: tuple[int, int] | None = None  # (chat_id, message_id) to copy instead of a text
    priority: Priority = Priority.PERSONAL  # BULK for fan-outs to many chats (sent after the rest)


@dataclass(frozen=True)
class Reply:
    """A direct answer to the acting user (sent by the handler right away)."""

    template: str
    params: dict[str, Any] = field(default_factory=dict)
    buttons: tuple[tuple[Button, ...], ...] = ()


@dataclass(frozen=True)
class Content:
    """What a user sent: text, a voice message, a photo, a (short) video or a location."""

    kind: str  # "text" | "voice" | "photo" | "video" | "video_note" | "location"
    chat_id: int
    message_id: int
    text: str = ""
    file_id: str | None = None
    file_unique_id: str | None = None
    # the further photos of an album sent with this one (one media_group_id), each a Content
    more: tuple[Content, ...] = ()

    @property
    def is_media(self) -> bool:
        return self.kind in MEDIA_KINDS


MEDIA_KINDS = ("voice", "photo", "video", "video_note", "location")
