"""/stats through the real application shows the care list's and wishes' block (issue 12) only when the
community uses them, with counts and never a household's label or note; /report then carries their
sheet, even in a month without appeals."""

from __future__ import annotations

import io
from datetime import timedelta

from openpyxl import load_workbook

from tests.harness import Harness, said
from tests.support import updates
from tests.test_care import NOTE, add_household, no_private_words_in_groups, with_data
from tests.test_care import town as care_town
from tests.test_wishes import join, post_wish


async def test_stats_shows_the_care_and_wishes_block_only_when_they_are_used(h: Harness) -> None:
    await care_town(h)
    p = h.p
    before = said(await h.cmd(p.staff, p.staff_chat, "stats"))[-1]
    assert "November 2026" in before and "Care list" not in before and "Wishes posted" not in before

    household = await add_household(h, p.uhead)
    await h.cmd(p.resident, updates.private_chat(p.resident), "start")
    await join(h, p.resident, "1")
    await post_wish(h, days=14)  # still open a week later
    h.clock.advance(timedelta(days=7, minutes=5))
    due = with_data([c for c in await h.sweep() if c.chat_id == p.uhead["id"]], "cr:w:")
    await h.press(p.uhead, due, f"cr:w:{household}")

    text = said(await h.cmd(p.staff, p.staff_chat, "stats"))[-1]
    assert "Care list: 1 household" in text
    assert "Visits recorded: 1 (all well 1, needs help 0, not at home 0)" in text
    assert "Visits due: 1 (on time 1, missed 0, not yet 0)" in text
    assert "Visited on time: 100% (1 of 1)" in text
    assert "Wishes posted: 1 (claimed 0, fulfilled 0, expired 0)" in text
    assert "Open now: 1, being fulfilled: 0" in text
    assert "Mrs Wang" not in text and NOTE not in text
    no_private_words_in_groups(h)

    calls = await h.cmd(p.staff, p.staff_chat, "report", "2026-11")  # no appeals: the care sheet alone
    docs = [c for c in calls if c.method == "sendDocument"]
    assert len(docs) == 1
    book = load_workbook(io.BytesIO(docs[0].files["document"].data))
    rows = {r[0]: r[1] for r in book["Care and wishes"].iter_rows(values_only=True) if r and len(r) > 1}
    assert rows["Households on the care list now"] == 1 and rows["Visited on time"] == 1
    assert rows["Wishes posted"] == 1 and rows["Wishes open now"] == 1


async def test_the_dashboard_overview_shows_the_care_counts_once_the_list_is_used(h: Harness) -> None:
    from tests.test_dashboard import serve_dashboard, signed

    await care_town(h)
    p = h.p
    server, client = await serve_dashboard(h)
    try:
        status, body = await client.get("/app/api/overview", signed(h, p.staff))
        assert status == 200 and "Care list and wishes" not in body
        await add_household(h, p.uhead)
        status, body = await client.get("/app/api/overview", signed(h, p.staff))
        assert status == 200 and "Care list and wishes" in body
        assert "Households on the care list: 1 · visits this month: 0 · due: 0, missed: 0" in body
        assert 'data-figures="wishes"' not in body  # no wishes: no wish line
        assert "Mrs Wang" not in body and "PRIVATE-NOTE" not in body
    finally:
        await server.stop()


async def test_the_monthly_report_of_a_month_with_care_visits_and_no_appeals_has_the_care_sheet(h: Harness) -> None:
    from tests.harness import local

    await h.setup_community(reports=True)
    p = h.p
    household = await add_household(h, p.uhead)
    h.clock.advance(timedelta(days=7, minutes=5))
    due = with_data([c for c in await h.sweep() if c.chat_id == p.uhead["id"]], "cr:w:")
    await h.press(p.uhead, due, f"cr:w:{household}")
    h.clock.set(local(2026, 12, 1, 10, 0))
    calls = [c for c in await h.sweep() if c.chat_id == p.staff_chat["id"]]
    docs = [c for c in calls if c.method == "sendDocument"]
    assert len(docs) == 1 and not [c for c in calls if c.method in ("sendPhoto", "sendMediaGroup")]  # no chart
    book = load_workbook(io.BytesIO(docs[0].files["document"].data))
    rows = {r[0]: r[1] for r in book["Care and wishes"].iter_rows(values_only=True) if r and len(r) > 1}
    assert rows["Visits recorded"] == 1 and rows["Visited on time"] == 1
    assert "monthly report for November 2026" in said(calls)[-1]
    no_private_words_in_groups(h)
