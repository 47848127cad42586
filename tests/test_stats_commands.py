"""/stats and /report through the real PTB application and the recording fake transport: staff,
the street office and a building head get the figures, the chart and the files; residents, unit
heads and building chats are refused; bad months get clear answers."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from openpyxl import load_workbook
from PIL import Image

from tests.harness import Harness, local, said
from tests.support import updates
from tests.support.botapi import Call


def _photos(calls: list[Call]) -> list[Image.Image]:
    """Every image sent (sendPhoto or an album), decoded."""
    images: list[Image.Image] = []
    for call in calls:
        for upload in call.files.values():
            if call.method in ("sendPhoto", "sendMediaGroup"):
                image = Image.open(io.BytesIO(upload.data))
                image.load()
                images.append(image)
    return images


def _document(calls: list[Call]) -> tuple[str, bytes]:
    docs = [c for c in calls if c.method == "sendDocument"]
    assert len(docs) == 1, [c.method for c in calls]
    upload = docs[0].files["document"]
    return upload.filename or "", upload.data


async def _month_with_appeals(h: Harness) -> tuple[int, int]:
    """Two appeals in November: one answered at once and resolved, one never answered."""
    await h.setup_community(reports=True)
    first = await h.file_appeal(text="The lift is broken")
    second = await h.file_appeal(text="The lamp on floor 3 is out", category="consultation")
    calls = await h.press(h.p.uhead, h.last_to(h.p.uhead), f"a:take:{first}")
    assert calls
    return first, second


async def test_staff_get_the_figures_and_the_chart(h: Harness) -> None:
    await _month_with_appeals(h)
    h.clock.advance(timedelta(days=3))
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "stats")
    text = said(calls)[-1]
    assert "Sunny Side" in text and "November 2026" in text
    assert "Filed: 2" in text
    assert "First reply on time: 50% (1 of 2)" in text  # the second was never answered: late now
    assert "Open now: 2" in text
    images = _photos(calls)
    assert images and images[0].width == 1000 and 1000 < images[0].height <= 2560
    assert all(c.chat_id == h.p.staff_chat["id"] for c in calls if c.method.startswith("send"))


async def test_a_month_can_be_asked_for_and_bad_months_are_answered(h: Harness) -> None:
    await _month_with_appeals(h)
    october = said(await h.cmd(h.p.staff, h.p.staff_chat, "stats", "2026-10"))[-1]
    assert "No appeals were filed in October 2026" in october and "Open now: 2" in october
    future = said(await h.cmd(h.p.staff, h.p.staff_chat, "stats", "2027-01"))[-1]
    assert "January 2027 has not begun yet" in future or "2027-01 has not begun yet" in future
    bad = said(await h.cmd(h.p.staff, h.p.staff_chat, "stats", "November"))[-1]
    assert "YYYY-MM" in bad and "2026-11" in bad
    usage = said(await h.cmd(h.p.staff, h.p.staff_chat, "report"))[-1]
    assert "/report YYYY-MM csv" in usage
    empty = said(await h.cmd(h.p.staff, h.p.staff_chat, "report", "2026-10"))[-1]
    assert "no appeals were filed in October 2026" in empty


async def test_the_street_office_and_a_building_head_see_theirs(h: Harness) -> None:
    await _month_with_appeals(h)
    street = await h.cmd(h.p.street, h.p.street_chat, "stats")
    assert "Filed: 2" in said(street)[-1] and _photos(street)
    private = updates.private_chat(h.p.bhead)
    mine = await h.cmd(h.p.bhead, private, "stats")
    assert "Filed: 2" in said(mine)[-1] and _photos(mine)
    name, data = _document(await h.cmd(h.p.bhead, private, "report", "2026-11"))
    assert name == "report-2026-11.xlsx" and data[:2] == b"PK"


async def test_others_are_refused(h: Harness) -> None:
    await _month_with_appeals(h)
    resident = said(await h.cmd(h.p.resident, updates.private_chat(h.p.resident), "stats"))[-1]
    assert "not a building head" in resident
    unit_head = said(await h.cmd(h.p.uhead, updates.private_chat(h.p.uhead), "report", "2026-11"))[-1]
    assert "not a building head" in unit_head
    in_building = said(await h.cmd(h.p.staff, h.p.building_chat, "stats"))[-1]
    assert "not shown in a building chat" in in_building
    outsider = said(await h.cmd(h.p.resident, h.p.staff_chat, "stats"))[-1]
    assert "Only the community staff" in outsider
    street_outsider = said(await h.cmd(h.p.staff, h.p.street_chat, "report", "2026-11"))[-1]
    assert "Only the street office" in street_outsider
    for calls in (
        await h.cmd(h.p.resident, h.p.staff_chat, "report", "2026-11"),
        await h.cmd(h.p.resident, updates.private_chat(h.p.resident), "report", "2026-11"),
    ):
        assert not [c for c in calls if c.method in ("sendDocument", "sendPhoto", "sendMediaGroup")]


async def test_the_report_workbook_holds_the_months_figures(h: Harness) -> None:
    first, second = await _month_with_appeals(h)
    h.clock.set(local(2026, 12, 1, 10, 0))
    name, data = _document(await h.cmd(h.p.staff, h.p.staff_chat, "report", "2026-11"))
    assert name == "report-2026-11.xlsx"
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Summary", "Buildings", "Heads", "Appeals"]
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True) if row and row[0]}
    assert summary["Filed"] == 2
    assert summary["First reply on time"] == 0.5 and summary["Replied on time"] == 1 and summary["Reply due"] == 2
    buildings = list(book["Buildings"].iter_rows(values_only=True))
    assert buildings[0][:2] == ("Building", "Filed") and buildings[1][1] == 2
    heads = {row[0]: row for row in book["Heads"].iter_rows(min_row=2, values_only=True)}
    assert heads["Boris"][1] == "building head" and heads["Boris"][4] == 2
    assert heads["Uma"][1] == "unit head"
    appeals = list(book["Appeals"].iter_rows(values_only=True))
    header = appeals[0]
    rows = {r[0]: dict(zip(header, r, strict=True)) for r in appeals[1:]}
    assert set(rows) == {first, second}
    assert rows[first]["Replied on time"] == "yes" and rows[second]["Replied on time"] == "no"
    assert rows[first]["Filed"].day == 23 and rows[first]["Filed"].hour == 10  # a date cell, Shanghai time
    assert "filed" in rows[first]["History"] and "taken" in rows[first]["History"]
    assert "23 Nov 10:00" in rows[first]["History"]
    # each row its own moments (a styled cell per column, refilled row by row), as date cells shown
    # the language's way; rates as percent cells
    assert isinstance(rows[first]["First reply"], datetime) and rows[second]["First reply"] is None
    assert rows[second]["Resolved"] is None and rows[second]["Resolved on time"] == "no"  # its day ran out
    sheet = book["Appeals"]
    assert [sheet.cell(row=r, column=7).number_format for r in (2, 3)] == ["d mmm yyyy hh:mm"] * 2
    rate = next(c for row in book["Summary"].iter_rows() for c in row if c.value == 0.5)
    assert rate.number_format == "0.0%"


async def test_the_report_as_csv_in_the_chats_language(h: Harness) -> None:
    first, _ = await _month_with_appeals(h)
    await h.cmd(h.p.staff, h.p.staff_chat, "community", "language zh")
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "report", "2026-11 csv")
    name, data = _document(calls)
    assert name == "report-2026-11.csv" and data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][0] == "诉求编号" and "办理经过" in rows[0]
    assert int(rows[1][0]) == first and "11月23日 10:00 已提交" in rows[1][-1]


# --- the monthly report ---------------------------------------------------------------------------
async def test_the_monthly_report_goes_out_once_on_the_first_in_working_hours(h: Harness) -> None:
    first, _ = await _month_with_appeals(h)
    staff, street = h.p.staff_chat["id"], h.p.street_chat["id"]
    h.clock.set(local(2026, 11, 30, 23, 0))
    assert not [c for c in await h.sweep() if c.chat_id in (staff, street)]  # November is not over
    h.clock.set(local(2026, 12, 1, 7, 0))  # the 1st, before working hours: scheduled, not due yet
    assert not [c for c in await h.sweep() if c.method == "sendDocument"]
    h.clock.set(local(2026, 12, 1, 10, 0))
    calls = await h.sweep()
    for chat in (staff, street):
        mine = [c for c in calls if c.chat_id == chat]
        assert [c.method for c in mine if c.method != "sendMessage"] == ["sendPhoto", "sendDocument"]
        name, data = _document(mine)
        assert name == "report-2026-11.xlsx"
        book = load_workbook(io.BytesIO(data))
        assert next(r[0] for r in book["Appeals"].iter_rows(min_row=2, values_only=True)) == first
        assert "monthly report for November 2026" in said(mine)[-1]
    # a second sweep, or a second process's, sends nothing again
    assert not [c for c in await h.sweep() if c.method == "sendDocument"]
    assert await h.services.stats_reports.tick() == 0
    h.clock.set(local(2026, 12, 15, 10, 0))
    assert not [c for c in await h.sweep() if c.method == "sendDocument"]


async def test_the_report_day_is_set_by_staff_and_the_report_can_be_turned_off(h: Harness) -> None:
    await _month_with_appeals(h)
    set_day = said(await h.cmd(h.p.staff, h.p.staff_chat, "report", "day 3"))[-1]
    assert "day 3" in set_day
    refused = said(await h.cmd(h.p.bhead, updates.private_chat(h.p.bhead), "report", "day 3"))[-1]
    assert "set in the staff chat" in refused
    assert "Usage in the staff chat" in said(await h.cmd(h.p.staff, h.p.staff_chat, "report", "day 31"))[-1]
    h.clock.set(local(2026, 12, 1, 10, 0))
    assert not [c for c in await h.sweep() if c.method == "sendDocument"]
    h.clock.set(local(2026, 12, 3, 10, 0))  # Thursday 3 December
    assert len([c for c in await h.sweep() if c.method == "sendDocument"]) == 2  # staff and street
    off = said(await h.cmd(h.p.staff, h.p.staff_chat, "report", "day off"))[-1]
    assert "No monthly report" in off
    h.clock.set(local(2027, 1, 4, 10, 0))
    assert not [c for c in await h.sweep() if c.method == "sendDocument"]


async def test_a_building_head_sees_only_their_buildings(h: Harness) -> None:
    """Bella heads Building 8: Building 7's appeal is in the community's figures, not in hers."""
    from tests.security_world import BELLA, build_world

    w = await build_world(h)
    month = h.clock.now().astimezone(local(2026, 1, 1).tzinfo).strftime("%Y-%m")
    staff = said(await h.cmd(h.p.staff, h.p.staff_chat, "stats", month))[-1]
    assert "Filed: 1" in staff
    hers = said(await h.cmd(BELLA, updates.private_chat(BELLA), "stats", month))[-1]
    assert "Building 8" in hers and "No appeals were filed" in hers
    assert "no report to send" in said(await h.cmd(BELLA, updates.private_chat(BELLA), "report", month))[-1]
    building8 = await h.services.stats.viewer(BELLA["id"], BELLA["id"], private=True)
    assert building8.scope.building_ids == (w.b8,)


async def test_a_report_over_telegrams_file_limit_gets_a_clear_answer(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    import handlers.stats

    await _month_with_appeals(h)
    monkeypatch.setattr(handlers.stats, "TELEGRAM_FILE_LIMIT", 1000)  # the workbook is ~7 KB: "too large"
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "report", "2026-11")
    assert not [c for c in calls if c.method == "sendDocument"]
    assert "larger than Telegram's 50 MB limit" in said(calls)[-1]


async def test_a_monthly_report_cut_by_flood_control_goes_on_where_it_stopped(h: Harness) -> None:
    """Telegram takes the chart, then refuses the workbook (429): the retry sends the workbook and
    the closing line, not the chart again (the parts taken are recorded with the outbox row)."""
    await _month_with_appeals(h)
    staff = h.p.staff_chat["id"]
    h.rt.telegram.fail_next("sendDocument", staff, status=429, retry_after=30)
    h.clock.set(local(2026, 12, 1, 10, 0))
    first = [c for c in await h.sweep() if c.chat_id == staff]
    assert [c.method for c in first] == ["sendPhoto"]  # then the document was refused
    assert h.rt.telegram.rejected and h.rt.telegram.rejected[-1].method == "sendDocument"
    h.clock.advance(timedelta(seconds=31))
    again = [c for c in await h.sweep() if c.chat_id == staff]
    assert [c.method for c in again] == ["sendDocument", "sendMessage"]
    assert "monthly report for November 2026" in (again[-1].text or "")
    h.clock.advance(timedelta(hours=1))
    assert not [c for c in await h.sweep() if c.chat_id == staff]


async def test_a_community_without_buildings_is_told_so(h: Harness) -> None:
    h.rt.telegram.admins[h.p.staff_chat["id"]] = [h.p.staff]
    await h.cmd(h.p.staff, h.p.staff_chat, "newcommunity", "Empty Yard")
    for name, args in (("stats", ""), ("report", "2026-11")):
        calls = await h.cmd(h.p.staff, h.p.staff_chat, name, args)
        assert "no buildings yet" in said(calls)[-1]
        assert not [c for c in calls if c.method in ("sendDocument", "sendPhoto", "sendMediaGroup")]
