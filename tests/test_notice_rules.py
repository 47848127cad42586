"""The notices' plain rules (bot.services.notices.rules), with hypothesis: whatever follows a command
is a draft or a polite InvalidInput, never another exception; dates, due moments and reminders."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.calendar import WorkCalendar
from bot.errors import InvalidInput
from bot.services.notices.rules import (
    BODY_MAX,
    CANNOT,
    DONE,
    READ,
    answer_state,
    parse_command,
    remind_at,
    task_due_at,
)
from tests.harness import SHANGHAI, local

CAL = WorkCalendar("CN", "Asia/Shanghai")


@given(st.sampled_from(["notice", "task", "urgent", "other"]), st.text(max_size=200))
def test_any_words_give_a_draft_or_a_polite_refusal(kind: str, text: str) -> None:
    try:
        draft = parse_command(kind, text)
    except InvalidInput as exc:
        assert exc.key.startswith("notices.")
        return
    assert draft.kind == kind and draft.body and draft.body == draft.body.strip() and len(draft.body) <= BODY_MAX
    assert (draft.due_day is not None) == (kind == "task")


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)), st.text(min_size=1, max_size=50))
def test_a_task_date_is_read_back_as_written(day: date, words: str) -> None:
    if not words.strip():
        return
    draft = parse_command("task", f"{day.isoformat()} {words}")
    assert draft.due_day == day and draft.body == words.strip()


def test_impossible_and_missing_dates() -> None:
    for text, key in (
        ("2026-02-30 x", "notices.bad_day"),
        ("2026-13-01 x", "notices.bad_day"),
        ("tomorrow x", "notices.task_usage"),
        ("2026-12-01", "notices.task_usage"),
    ):
        with pytest.raises(InvalidInput) as caught:
            parse_command("task", text)
        assert caught.value.key == key, text


@given(st.integers(min_value=-30, max_value=400))
def test_a_task_is_due_at_the_end_of_its_working_day_and_never_in_the_past(days: int) -> None:
    now = local(2026, 11, 23, 10, 0)
    day = now.date() + timedelta(days=days)
    try:
        due = task_due_at(CAL, day, now)
    except InvalidInput as exc:
        assert exc.key in ("notices.due_past", "notices.due_far")
        assert days < 0 or days > 365
        return
    assert due > now and due.astimezone(SHANGHAI).date() == day and due.astimezone(SHANGHAI).hour == 18


def test_reminders_fall_inside_working_hours_before_the_due_date() -> None:
    now = local(2026, 11, 23, 10, 0)  # Monday
    due = task_due_at(CAL, date(2026, 11, 27), now)
    at = remind_at(CAL, "task", now, due)
    assert at is not None and now < at < due and CAL.is_working_time(at)
    soon = task_due_at(CAL, date(2026, 11, 23), now)  # today: less than a working day ahead
    assert remind_at(CAL, "task", local(2026, 11, 23, 17, 30), soon) is None
    notice = remind_at(CAL, "notice", local(2026, 11, 27, 16, 0), None)  # Friday afternoon
    assert notice is not None and notice.astimezone(SHANGHAI).date() == date(2026, 11, 30)
    assert remind_at(CAL, "urgent", now, None) is None


def test_answers_by_kind() -> None:
    assert answer_state("notice", True) == READ and answer_state("urgent", True) == READ
    assert answer_state("task", True) == DONE and answer_state("task", False) == CANNOT
    with pytest.raises(InvalidInput):
        answer_state("notice", False)
