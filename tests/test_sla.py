"""SLA arithmetic: ``bot.sla.SlaSettings`` on a Chinese ``bot.calendar.WorkCalendar`` (09:00-18:00,
Asia/Shanghai) across weekends, National Day 2025 with its make-up days (Sunday 2025-09-28 and
Saturday 2025-10-11 are working days) and Spring Festival 2026 (2026-02-15..23 off, Saturdays 02-14
and 02-28 working); then a community's own calendar (/workday) and settings (/sla) through the bot.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from bot.calendar import WorkCalendar
from bot.models import Category, Level
from bot.sla import SlaSettings
from tests.harness import SHANGHAI, Harness, appeal_of, local, said
from tests.support import updates

CN = WorkCalendar("CN", "Asia/Shanghai")
DEFAULT = SlaSettings()


def unit_deadline(filed: datetime, category: str, sla: SlaSettings = DEFAULT) -> datetime:
    return sla.level_deadline(CN, filed, Level.UNIT, Category(category))


# --- category deadlines (3 / 1 / 5 working days at the unit level) ----------------------------------
@pytest.mark.parametrize(
    ("filed", "category", "due"),
    [
        # an ordinary week
        (local(2026, 11, 23, 10, 0), "consultation", local(2026, 11, 24, 10, 0)),
        (local(2026, 11, 23, 10, 0), "problem", local(2026, 11, 26, 10, 0)),
        (local(2026, 11, 23, 10, 0), "major", local(2026, 11, 30, 10, 0)),  # over the weekend
        (local(2026, 11, 27, 10, 0), "problem", local(2026, 12, 2, 10, 0)),  # Friday -> Wednesday
        # outside working hours the count starts at the next 09:00
        (local(2026, 11, 27, 20, 0), "consultation", local(2026, 11, 30, 18, 0)),  # Friday evening
        (local(2026, 11, 28, 15, 0), "consultation", local(2026, 11, 30, 18, 0)),  # Saturday
        (local(2026, 11, 24, 7, 30), "consultation", local(2026, 11, 24, 18, 0)),  # early morning
        (local(2026, 11, 24, 18, 0), "consultation", local(2026, 11, 25, 18, 0)),  # at closing time
        # National Day 2025: 10-01..08 off; Saturday 10-11 is a make-up working day
        (local(2025, 9, 30, 10, 0), "consultation", local(2025, 10, 9, 10, 0)),
        (local(2025, 9, 30, 10, 0), "problem", local(2025, 10, 11, 10, 0)),
        (local(2025, 9, 30, 10, 0), "major", local(2025, 10, 14, 10, 0)),  # Sunday 10-12 is off again
        (local(2025, 9, 26, 10, 0), "consultation", local(2025, 9, 28, 10, 0)),  # Sunday 09-28 works
        # Spring Festival 2026: 02-15..23 off; Saturdays 02-14 and 02-28 are working days
        (local(2026, 2, 13, 10, 0), "consultation", local(2026, 2, 14, 10, 0)),
        (local(2026, 2, 13, 10, 0), "problem", local(2026, 2, 25, 10, 0)),
        (local(2026, 2, 14, 17, 0), "consultation", local(2026, 2, 24, 17, 0)),
        (local(2026, 2, 26, 10, 0), "problem", local(2026, 3, 2, 10, 0)),
        (local(2026, 2, 27, 10, 0), "consultation", local(2026, 2, 28, 10, 0)),
    ],
)
def test_category_deadline_in_working_days(filed: datetime, category: str, due: datetime) -> None:
    got = unit_deadline(filed, category)
    assert got == due
    assert got.utcoffset() == timedelta(hours=8)  # aware, in the community's zone
    days = DEFAULT.category_days(Category(category))
    assert CN.working_seconds_between(filed, got) == days * 9 * 3600


def test_the_holidays_are_known_to_the_calendar() -> None:
    off = ["2025-10-01", "2025-10-08", "2025-10-12", "2026-02-15", "2026-02-23", "2026-11-28"]
    working = ["2025-09-28", "2025-09-30", "2025-10-09", "2025-10-11", "2026-02-14", "2026-02-24", "2026-02-28"]
    assert [CN.is_working_day(datetime.fromisoformat(d).date()) for d in off] == [False] * len(off)
    assert [CN.is_working_day(datetime.fromisoformat(d).date()) for d in working] == [True] * len(working)


def test_levels_above_the_unit_get_the_per_level_days() -> None:
    filed = local(2025, 9, 30, 15, 0)
    for level in (Level.BUILDING, Level.COMMUNITY, Level.STREET):
        # 3h on 09-30, then 6h on 10-09 after the holiday
        assert DEFAULT.level_deadline(CN, filed, level, Category.MAJOR) == local(2025, 10, 9, 15, 0)
    two = SlaSettings(level_days=2)
    assert two.level_deadline(CN, filed, Level.BUILDING, Category.CONSULTATION) == local(2025, 10, 10, 15, 0)


def test_fractional_days_count_working_hours() -> None:
    half = SlaSettings(problem_days=0.5)
    assert unit_deadline(local(2026, 11, 23, 16, 0), "problem", half) == local(2026, 11, 24, 11, 30)
    assert unit_deadline(local(2026, 11, 27, 16, 0), "problem", half) == local(2026, 11, 30, 11, 30)


def test_reminder_is_two_working_hours_before_the_deadline() -> None:
    assert DEFAULT.reminder_time(CN, local(2026, 11, 26, 10, 0)) == local(2026, 11, 25, 17, 0)
    assert DEFAULT.reminder_time(CN, local(2026, 11, 30, 10, 0)) == local(2026, 11, 27, 17, 0)  # before a weekend
    assert DEFAULT.reminder_time(CN, local(2025, 10, 9, 10, 0)) == local(2025, 9, 30, 17, 0)  # before the holiday
    assert DEFAULT.reminder_time(CN, local(2026, 2, 14, 10, 30)) == local(2026, 2, 13, 17, 30)
    assert SlaSettings(remind_before_hours=0).reminder_time(CN, local(2026, 11, 26, 10, 0)) == local(
        2026, 11, 26, 10, 0
    )


def test_first_reply_counts_hours_of_working_days_only() -> None:
    # Friday 10:00: Friday's 14 h, then Monday 00:00-10:00 (the weekend does not count)
    assert DEFAULT.first_reply_deadline(CN, local(2026, 11, 27, 10, 0)) == local(2026, 11, 30, 10, 0)
    # Friday 22:00: 2 h on Friday, 22 h on Monday; the head has all of Monday's working hours
    assert DEFAULT.first_reply_deadline(CN, local(2026, 11, 27, 22, 0)) == local(2026, 11, 30, 22, 0)
    # the eve of National Day 2025: 14 h on 09-30, then 10-01..10-08 are off, 10 h on 10-09
    assert DEFAULT.first_reply_deadline(CN, local(2025, 9, 30, 10, 0)) == local(2025, 10, 9, 10, 0)
    # the make-up working Sunday 2026-01-04 counts (the 2nd and 3rd are days off)
    assert DEFAULT.first_reply_deadline(CN, local(2026, 1, 2, 22, 0)) == local(2026, 1, 5, 0, 0)
    # a working Monday: plain 24 hours
    assert DEFAULT.first_reply_deadline(CN, local(2026, 11, 23, 16, 0)) == local(2026, 11, 24, 16, 0)
    assert SlaSettings(first_reply_hours=4).first_reply_deadline(CN, local(2026, 11, 23, 10, 0)) == local(
        2026, 11, 23, 14, 0
    )


def test_first_reply_never_ends_before_the_head_had_working_time_after_the_card() -> None:
    # 4 first-reply hours from Monday 17:00 would end at 21:00: the card went out at 17:00 and the
    # head had 1 working hour that day, so the floor of 4 working hours gives Tuesday 12:00
    short = SlaSettings(first_reply_hours=4)
    assert short.first_reply_deadline(CN, local(2026, 11, 23, 17, 0)) == local(2026, 11, 24, 12, 0)
    # filed at 23:00: the card waits for Tuesday 09:00, so the floor is Tuesday 13:00
    assert short.first_reply_deadline(CN, local(2026, 11, 23, 23, 0)) == local(2026, 11, 24, 13, 0)
    # no floor asked for: hours of working days, but never before the card went out
    none = SlaSettings(first_reply_hours=4, first_reply_min_work_hours=0)
    assert none.first_reply_deadline(CN, local(2026, 11, 23, 23, 0)) == local(2026, 11, 24, 9, 0)
    assert none.first_reply_deadline(CN, local(2026, 11, 23, 12, 0)) == local(2026, 11, 23, 16, 0)


def test_confirmation_window_in_working_days() -> None:
    assert DEFAULT.confirm_deadline(CN, local(2026, 11, 23, 12, 0)) == local(2026, 11, 26, 12, 0)
    # 1h on 09-30, 9h on 10-09 and 10-10, 8h on the make-up Saturday 10-11
    assert DEFAULT.confirm_deadline(CN, local(2025, 9, 30, 17, 0)) == local(2025, 10, 11, 17, 0)


@pytest.mark.parametrize(
    "bad",
    [
        {"problem_days": 0},
        {"problem_days": -1},
        {"consultation_days": 61},
        {"first_reply_hours": 0},
        {"remind_before_hours": -0.5},
        {"max_per_hour": 0},
        {"problem_days": "soon"},
    ],
)
def test_settings_out_of_range_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SlaSettings.model_validate(bad)


def test_stored_settings_are_read_leniently() -> None:
    sla = SlaSettings.from_settings({"sla": {"problem_days": "2", "retired_option": True}, "other": 1})
    assert sla.problem_days == 2.0
    assert sla.major_days == 5  # the defaults fill the rest
    assert SlaSettings.from_settings({}) == DEFAULT


# --- a community's own calendar and settings, through the bot ------------------------------------------
def receipt(calls: list[object], who: dict[str, object]) -> str:
    texts = [c.text for c in calls if c.method == "sendMessage" and c.chat_id == who["id"]]  # type: ignore[attr-defined]
    found = [t for t in texts if t and t.startswith("✅ Appeal #")]
    assert found, texts
    return str(found[-1])


async def file_as(h: Harness, n: int, category: str = "problem") -> tuple[int, str]:
    """A new resident files; returns (appeal id, the receipt's deadline)."""
    who = updates.user(4000 + n, f"Resident{n}", f"resident_{n}")
    appeal_id = await h.file_appeal(who=who, text=f"Something {n}", category=category)
    assert [t for t in h.texts(who) if t.startswith(f"✅ Appeal #{appeal_id} received")]
    due = (await appeal_of(h, appeal_id)).due_at
    return appeal_id, due.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


async def test_workday_off_moves_the_deadline_of_new_appeals(h: Harness) -> None:
    await h.setup_community()
    staff, chat = h.p.staff, h.p.staff_chat
    _, due = await file_as(h, 1)
    assert due == "2026-11-26 10:00"

    calls = await h.cmd(staff, chat, "workday", "2026-11-24 off")
    assert said(calls) == ["Tue 24 Nov is now a day off for this community."]
    first, due = await file_as(h, 2)
    assert due == "2026-11-27 10:00"  # Tuesday does not count any more
    assert (await appeal_of(h, first)).due_at == local(2026, 11, 27, 10, 0)
    assert (await appeal_of(h, 1)).due_at == local(2026, 11, 26, 10, 0)  # filed before: unchanged

    calls = await h.cmd(staff, chat, "workday", "2026-11-24 reset")
    assert said(calls) == ["Tue 24 Nov is now a working day for this community."]
    calls = await h.cmd(staff, chat, "workday", "2026-11-28 on")
    assert said(calls) == ["Sat 28 Nov is now a working day for this community."]
    _, due = await file_as(h, 3, "major")
    assert due == "2026-11-28 10:00"  # Mon 8h, Tue-Fri 36h, then Saturday 09:00 + 1h

    await h.cmd(staff, chat, "workday", "2026-11-28 reset")
    _, due = await file_as(h, 4, "major")
    assert due == "2026-11-30 10:00"


async def test_workday_override_is_used_by_the_sweep_too(h: Harness) -> None:
    await h.setup_community()
    await h.cmd(h.p.staff, h.p.staff_chat, "workday", "2026-11-25 off")
    appeal_id, due = await file_as(h, 1)
    assert due == "2026-11-27 10:00"
    card = [c for c in h.rt.sent_to(h.p.uhead["id"]) if "New appeal" in (c.text or "")][-1]
    await h.press(h.p.uhead, card, f"a:take:{appeal_id}")
    # the reminder is two working hours before Friday 10:00: Thursday 17:00 (Wednesday is off)
    h.clock.set(local(2026, 11, 26, 16, 59))
    assert await h.sweep() == []
    h.clock.set(local(2026, 11, 26, 17, 0))
    calls = await h.sweep()
    assert [c.text.split(" is due ")[1].split(".")[0] for c in calls if c.text and "Reminder" in c.text] == [
        "Fri 27 Nov, 10:00"
    ]


async def test_workday_refusals_are_polite(h: Harness) -> None:
    await h.setup_community()
    calls = await h.cmd(h.p.resident, h.p.staff_chat, "workday", "2026-11-24 off")
    assert said(calls) == ["Only community staff can do that."]
    for args in ("", "2026-11-24", "tomorrow off", "2026-13-01 off", "2026-11-24 maybe"):
        calls = await h.cmd(h.p.staff, h.p.staff_chat, "workday", args)
        assert said(calls) == ["Send: /workday 2026-12-31 on|off|reset"], args
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "workday", "2027-02-08 off")
    assert said(calls) == [
        "Mon 8 Feb 2027 is now a day off for this community.",
        "Note: the official holiday schedule for 2027 is not published yet. "
        "Add the make-up working days with /workday when it is.",
    ]


async def test_sla_zero_is_refused_and_a_valid_value_applies_to_new_appeals(h: Harness) -> None:
    await h.setup_community()
    staff, chat = h.p.staff, h.p.staff_chat
    old, due = await file_as(h, 1)
    assert due == "2026-11-26 10:00"

    for value in ("0", "-1", "abc", "61"):
        calls = await h.cmd(staff, chat, "sla", f"problem_days {value}")
        assert said(calls) == ["That value does not fit problem_days."], value
    _, due = await file_as(h, 2)
    assert due == "2026-11-26 10:00"  # nothing changed

    calls = await h.cmd(staff, chat, "sla", "problem_days 2")
    (shown,) = said(calls)
    assert shown.startswith("Deadlines and limits of this community:\n")
    assert "problem_days = 2.0" in shown and "major_days = 5" in shown
    new, due = await file_as(h, 3)
    assert due == "2026-11-25 10:00"
    assert (await appeal_of(h, new)).due_at == local(2026, 11, 25, 10, 0)
    assert (await appeal_of(h, old)).due_at == local(2026, 11, 26, 10, 0)  # appeals already filed keep theirs
    _, due = await file_as(h, 4, "consultation")
    assert due == "2026-11-24 10:00"  # other categories untouched


async def test_sla_level_days_change_the_escalation_deadline(h: Harness) -> None:
    await h.setup_community()
    await h.cmd(h.p.staff, h.p.staff_chat, "sla", "level_days 2")
    appeal_id, _ = await file_as(h, 1)
    card = [c for c in h.rt.sent_to(h.p.uhead["id"]) if "New appeal" in (c.text or "")][-1]
    calls = await h.press(h.p.uhead, card, f"a:esc:{appeal_id}")
    texts = [c.text or "" for c in calls if c.chat_id == h.p.bhead["id"]]
    assert texts and texts[0].endswith("New deadline: Wed 25 Nov, 10:00")  # two working days per level
