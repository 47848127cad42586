"""Issue 8, "dates as people say them": every moment (and month) a head, the staff chat or the street office
reads (cards, confirmations, reminders, escalation notices, re-pings) is said in the reader's
language (bot/dates.py), never an ISO timestamp. The whole chain is walked with the heads reading
Chinese and Russian, and every text the bot sent is checked."""

from __future__ import annotations

import re

from tests.harness import Harness, bot_message, local
from tests.support import updates

ISO = re.compile(r"\d{4}-\d\d-\d\d|\d\d:\d\d:\d\d")
ISO_MONTH = re.compile(r"\d{4}-\d\d")
LANGS = ("zh", "ru", "en")


def all_texts(h: Harness) -> list[str]:
    return [c.text or "" for c in h.rt.calls if c.method in ("sendMessage", "editMessageText", "copyMessage")]


async def test_no_iso_timestamp_anywhere_from_filing_to_the_street_office(h: Harness) -> None:
    await h.setup_community()
    p = h.p
    for person, lang in ((p.uhead, "zh"), (p.bhead, "ru")):
        await h.cmd(person, updates.private_chat(person), "lang", lang)
    await h.file_appeal()
    card = bot_message(h, p.uhead["id"], "#1")
    taken = await h.send(updates.callback_query(p.uhead, card, "a:take:1"))
    assert any("11月26日（周四）10:00" in (c.text or "") for c in taken), [c.text for c in taken]
    for moment in (
        local(2026, 11, 25, 17, 0),  # the unit head's reminder
        local(2026, 11, 26, 10, 0),  # -> building head
        local(2026, 11, 27, 10, 0),  # -> staff chat
        local(2026, 11, 30, 10, 0),  # -> street office
        local(2026, 12, 1, 10, 0),  # re-ping at the top
    ):
        h.clock.set(moment)
        await h.sweep()
    texts = all_texts(h)
    assert any("27 ноября (пт), 10:00" in t for t in h.texts(p.bhead)), h.texts(p.bhead)
    assert any("Mon 30 Nov, 10:00" in t for t in h.texts(p.staff_chat)), h.texts(p.staff_chat)
    assert any("Tue 1 Dec, 10:00" in t for t in h.texts(p.street_chat)), h.texts(p.street_chat)
    assert [t for t in texts if ISO.search(t)] == []


async def test_a_due_date_in_the_next_year_says_the_year(h: Harness) -> None:
    await h.setup_community()
    h.clock.set(local(2026, 12, 30, 10, 0))  # Wednesday; three working days reach into January
    await h.file_appeal()
    card = bot_message(h, h.p.uhead["id"], "New appeal #1")
    assert "2027" in card["text"] and not ISO.search(card["text"]), card["text"]


def test_a_month_key_is_said_as_the_month_in_each_language(h: Harness) -> None:
    catalogs = h.services.catalogs
    said_in = {lang: catalogs.translator(lang)("top.month", month="2026-11", lines="-") for lang in LANGS}
    assert "2026年11月" in said_in["zh"] and "ноябрь 2026" in said_in["ru"] and "November 2026" in said_in["en"]
    assert not any(ISO_MONTH.search(text) for text in said_in.values()), said_in


async def test_election_and_points_texts_say_the_month(h: Harness) -> None:
    await h.setup_community()
    calls = await h.cmd(h.p.uhead, updates.private_chat(h.p.uhead), "points")
    (answer,) = [c.text or "" for c in calls if c.method == "sendMessage"]
    assert "(November 2026)" in answer and not ISO_MONTH.search(answer), answer
