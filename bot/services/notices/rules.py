"""Plain rules of notices and tasks: kinds, scopes, due dates, reminder moments, the answers a
recipient can give and the buttons and texts that go with them (no I/O, no Telegram)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from bot.calendar import WorkCalendar
from bot.dates import moment
from bot.errors import InvalidInput
from bot.models import Button

KINDS = ("notice", "task", "urgent")
#: scope code in buttons -> its meaning; building heads may use only LOCAL_SCOPES (their building)
SCOPES = ("h", "bh", "b", "c")  # unit heads, building heads, chosen buildings, building chats
LOCAL_SCOPES = ("h", "c")
BODY_MAX = 3000
MAX_CHOSEN = 60  # buildings listed in the picker (one button each)
DAY = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
MAX_DAYS_AHEAD = 366

URGENT_REPING = timedelta(minutes=15)
URGENT_ESCALATE = timedelta(hours=1)
URGENT_REPING_FOR = timedelta(hours=24)  # re-pings stop after a day (the building heads were told)
NOTICE_REMIND_WORK_HOURS = 8.0  # a notice nobody read: one reminder after a working day
TASK_REMIND_BEFORE_WORK_HOURS = 8.0  # a task: a reminder one working day before it is due
MIN_REMIND_LEAD = timedelta(hours=1)  # no reminder right after the task was sent

# answers: a recipient's button -> the state recorded
READ, DONE, CANNOT, PENDING, POSTED = "read", "done", "cannot", "pending", "posted"


@dataclass(frozen=True)
class Draft:
    """What a command asks for: the kind, the words, a due day (tasks), an attachment."""

    kind: str
    body: str
    due_day: date | None = None
    attachment: tuple[int, int] | None = None  # (chat_id, message_id) of a photo or document


def usage_key(kind: str) -> str:
    if kind == "task":
        return "notices.task_usage"
    if kind == "urgent":
        return "notices.urgent_usage"
    return "notices.usage"


def parse_command(kind: str, text: str, attachment: tuple[int, int] | None = None) -> Draft:
    """``/notice TEXT``, ``/urgent TEXT``, ``/task YYYY-MM-DD TEXT`` -> a draft (or a polite usage)."""
    if kind not in KINDS:
        raise InvalidInput("notices.usage")
    words = text.strip()
    due: date | None = None
    if kind == "task":
        first, _, rest = words.partition(" ")
        found = DAY.match(first)
        if found is None:
            raise InvalidInput("notices.task_usage")
        try:
            due = date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
        except ValueError as exc:
            raise InvalidInput("notices.bad_day") from exc
        words = rest.strip()
    body = words.strip()
    if not body:
        raise InvalidInput(usage_key(kind))
    if len(body) > BODY_MAX:
        raise InvalidInput("notices.too_long", max=BODY_MAX)
    return Draft(kind, body, due, attachment)


def task_due_at(cal: WorkCalendar, day: date, now: datetime) -> datetime:
    """The end of the due day's working hours (local), which must be after ``now`` and within a year."""
    due = datetime.combine(day, cal.hours.end, tzinfo=cal.tz)
    if due <= now:
        raise InvalidInput("notices.due_past")
    if due - now > timedelta(days=MAX_DAYS_AHEAD):
        raise InvalidInput("notices.due_far")
    return due


def remind_at(cal: WorkCalendar, kind: str, now: datetime, due_at: datetime | None) -> datetime | None:
    """When those who have not answered are reminded (inside working hours), or None."""
    if kind == "urgent":
        return None  # urgent notices are re-pinged every 15 minutes instead
    if kind == "task" and due_at is not None:
        at = cal.subtract_working_seconds(due_at, TASK_REMIND_BEFORE_WORK_HOURS * 3600)
        return at if at - now >= MIN_REMIND_LEAD else None
    return cal.add_working_seconds(now, NOTICE_REMIND_WORK_HOURS * 3600)


def answer_buttons(notice_id: int, kind: str) -> tuple[tuple[Button, ...], ...]:
    if kind == "task":
        return (
            (
                Button("notices.btn_done", data=f"nt:r:{notice_id}"),
                Button("notices.btn_cannot", data=f"nt:n:{notice_id}"),
            ),
        )
    if kind == "urgent":
        return ((Button("notices.btn_confirm", data=f"nt:r:{notice_id}"),),)
    return ((Button("notices.btn_read", data=f"nt:r:{notice_id}"),),)


def answer_state(kind: str, positive: bool) -> str:
    """The state a press records: Read ✓ / Confirm ✓ -> read, Done ✓ -> done, Can't do -> cannot."""
    if kind == "task":
        return DONE if positive else CANNOT
    if not positive:
        raise InvalidInput("notices.unknown_answer")
    return READ


def answer_key(state: str) -> str:
    if state == DONE:
        return "notices.answer_done"
    if state == CANNOT:
        return "notices.answer_cannot"
    return "notices.answer_read"


def kind_key(kind: str) -> str:
    if kind == "task":
        return "notices.kind_task"
    if kind == "urgent":
        return "notices.kind_urgent"
    return "notices.kind_notice"


def scope_key(scope: str) -> str:
    if scope == "bh":
        return "notices.scope_bheads"
    if scope == "b":
        return "notices.scope_buildings"
    if scope == "c":
        return "notices.scope_chats"
    return "notices.scope_heads"


def scope_buttons(notice_id: int, local: bool) -> tuple[tuple[Button, ...], ...]:
    scopes = LOCAL_SCOPES if local else SCOPES
    rows = tuple((Button(scope_key(s), data=f"nt:s:{notice_id}:{s}"),) for s in scopes)
    return (*rows, (Button("notices.btn_cancel", data=f"nt:x:{notice_id}"),))


def status_params(
    notice_id: int, kind: str, scope: str, counts: dict[str, int], due_at: datetime | None, timezone: str
) -> tuple[str, dict[str, Any]]:
    """The sender's live status message (key, params)."""
    total = sum(counts.values())
    params: dict[str, Any] = {
        "id": notice_id,
        "scope_key": scope_key(scope),
        "total": total,
        "read": counts.get(READ, 0),
        "done": counts.get(DONE, 0),
        "cannot": counts.get(CANNOT, 0),
        "pending": counts.get(PENDING, 0),
    }
    if scope == "c":
        return "notices.status_posted", params
    if kind == "task":
        params["due"] = moment(due_at, timezone)
        return "notices.status_task", params
    if kind == "urgent":
        return "notices.status_urgent", params
    return "notices.status_notice", params
