"""End-to-end: /stats, /report and the monthly report through the real ``python -m bot`` process
against the fake Bot API HTTP server, with the clock file moved to the 1st of the next month and a
restart in between (the report is sent once, by whichever process sweeps first)."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from PIL import Image

from tests.e2e_support import E2E, SWEEP_INTERVAL, holds
from tests.harness import local
from tests.support import updates


@pytest.mark.e2e
def test_figures_and_the_monthly_report_through_the_real_process(e2e: E2E) -> None:
    chat, p, clock = e2e.chat, e2e.chat.p, e2e.clock
    bot = e2e.spawn("bot-a").start()
    chat.setup_community()
    chat.file_appeal("The lift is broken")

    answer = chat.cmd(p.staff, p.staff_chat, "stats", expect="First reply on time")
    assert "Filed: 1" in (answer.text or "") and "November 2026" in (answer.text or "")
    photo = chat.wait_photo(p.staff_chat, "Figures for November 2026")
    image = Image.open(io.BytesIO(chat.upload_of(photo)))
    assert image.width == 1000 and image.height > 1000

    since = chat.push(updates.command(p.staff, p.staff_chat, "report", "2026-11"))
    doc = chat.wait(lambda c: c.method == "sendDocument" and c.chat_id == p.staff_chat["id"], since)
    book = load_workbook(io.BytesIO(chat.upload_of(doc)))
    assert book.sheetnames == ["Summary", "Buildings", "Heads", "Appeals"]
    assert next(book["Appeals"].iter_rows(min_row=2, values_only=True))[0] == 1

    # stop, move to the 1st of December in working hours, start again: the report goes out once
    assert bot.stop() == 0
    clock.set(local(2026, 12, 1, 10, 0))
    since = len(chat.server.calls)
    e2e.spawn("bot-b").start()
    report = chat.wait(lambda c: c.method == "sendDocument" and c.chat_id == p.street_chat["id"], since)
    assert (report.files["document"].filename or "") == "report-2026-11.xlsx"
    chat.wait_text(p.staff_chat, "monthly report for November 2026", since)
    chat.wait_text(p.street_chat, "monthly report for November 2026", since)
    clock.set(local(2026, 12, 1, 11, 0))  # many more sweeps: nothing again

    def once() -> bool:
        docs = [int(c.chat_id or 0) for c in chat.server.calls[since:] if c.method == "sendDocument"]
        return sorted(docs) == sorted((int(p.staff_chat["id"]), int(p.street_chat["id"])))

    holds(once, 10 * SWEEP_INTERVAL, "the monthly report went to each chat once")
    e2e.finish()
