"""Points, perks and the ID card through the real Application (fake Bot API, fake clock):
/points, /top, /perks -> redeem -> code + QR, the merchant's /check and scanned deep link, /card and
its verification, staff's /award /deduct /merchant /perk /perkimport, and the refusals."""

from __future__ import annotations

import asyncio
import io
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import zxingcpp
from PIL import Image

from bot.models import UserInfo
from bot.services.cards import card_number
from storage.engines import open_database
from storage.ledger import LedgerRepo
from tests.harness import Harness
from tests.support import updates
from tests.support.api_schema import assert_calls_valid
from tests.support.botapi import Call

MERCHANT = updates.user(1006, "Mo", "mo_shop")
OTHER_MERCHANT = updates.user(1007, "Ann", "ann_shop")


# --- helpers ----------------------------------------------------------------------------------------
def private(who: dict[str, Any]) -> dict[str, Any]:
    return updates.private_chat(who)


def sent(calls: list[Call], who: dict[str, Any] | int) -> list[str]:
    chat_id = who if isinstance(who, int) else who["id"]
    return [c.text or "" for c in calls if c.method == "sendMessage" and c.chat_id == chat_id]


def told(calls: list[Call]) -> list[str]:
    """Every text the bot showed: messages, edits, captions and alerts."""
    out = []
    for c in calls:
        if c.method in ("sendMessage", "editMessageText", "answerCallbackQuery") and c.params.get("text"):
            out.append(str(c.params["text"]))
        elif c.method == "sendPhoto" and c.params.get("caption"):
            out.append(str(c.params["caption"]))
    return out


def en(h: Harness, key: str) -> str:
    """The English catalog text of ``key`` up to its first placeholder (it must exist)."""
    text: str = h.services.catalogs.gettext("en", key)
    assert text != key, f"{key} has no English text"
    return text.split("{", 1)[0]


def refused_with(calls: list[Call], h: Harness, key: str) -> None:
    texts = told(calls)
    assert any(t.startswith(en(h, key)) for t in texts), (key, texts)
    assert not any("went wrong" in t for t in texts), texts


async def community_id(h: Harness) -> int:
    ctx = await h.services.registry.chat_context(h.p.staff_chat["id"])
    return int(ctx.community.id)


async def balance(h: Harness, user: dict[str, Any]) -> int:
    cid = await community_id(h)
    async with h.services.db.read() as tx:
        return (await LedgerRepo(tx).standing(cid, user["id"])).balance


async def stock(h: Harness, perk_id: int) -> int | None:
    found: int | None = (await h.services.perks.perk(perk_id)).perk.stock
    return found


async def staff(h: Harness, name: str, args: str = "", **kw: Any) -> list[Call]:
    return await h.cmd(h.p.staff, h.p.staff_chat, name, args, **kw)


async def add_merchant(h: Harness, who: dict[str, Any] = MERCHANT, name: str = "Mo's Cafe") -> None:
    await h.cmd(who, private(who), "start")  # the merchant talks to the bot once
    calls = await staff(h, "merchant", name, reply_to=updates.message(who, h.p.staff_chat, "hello"))
    assert sent(calls, h.p.staff_chat)[-1].startswith(f"✅ {name} is now a merchant"), told(calls)


async def add_perk(h: Harness, spec: str) -> int:
    calls = await staff(h, "perk", f"add {spec}")
    text = sent(calls, h.p.staff_chat)[-1]
    assert text.startswith("✅ Perk #"), told(calls)
    return int(text.split("#", 1)[1].split()[0].rstrip(":"))


async def award(h: Harness, amount: int, reason: str = "helped at the fair") -> list[Call]:
    return await staff(h, "award", f"@uma_unit {amount} {reason}")


async def redeem(h: Harness, perk_id: int, who: dict[str, Any] | None = None) -> list[Call]:
    """/perks -> category -> perk -> Redeem -> Yes, by pressing the bot's own buttons."""
    who = who or h.p.uhead
    calls = await h.cmd(who, private(who), "perks")
    menu = [c for c in calls if c.method == "sendMessage"][-1]
    category = menu.buttons[0][1]
    await h.press(who, menu, category)
    await h.press(who, menu, f"pk:p:{perk_id}")
    await h.press(who, menu, f"pk:r:{perk_id}")
    return await h.press(who, menu, f"pk:y:{perk_id}")


def code_of(calls: list[Call]) -> str:
    photo = [c for c in calls if c.method == "sendPhoto"]
    assert photo, told(calls)
    caption = str(photo[-1].params["caption"])
    return caption.split("Code ", 1)[1].split(",", 1)[0]


def qr_of(call: Call) -> str:
    (upload,) = call.files.values()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(upload.data)))
    assert found, "no QR code in the image"
    return str(found[0].text)


# --- points from a whole appeal ---------------------------------------------------------------------
async def test_a_whole_appeal_handled_on_time_shows_in_points(h: Harness) -> None:
    await h.setup_community()
    appeal_id = await h.file_appeal()
    card = [c for c in h.rt.sent_to(h.p.uhead["id"]) if f"#{appeal_id}" in (c.text or "")][-1]
    await h.press(h.p.uhead, card, f"a:take:{appeal_id}")
    await h.press(h.p.uhead, card, f"a:res:{appeal_id}")
    await h.text(h.p.uhead, "The lift works again")
    asked = [c for c in h.rt.sent_to(h.p.resident["id"]) if c.buttons and "a:ok" in c.buttons[0][1]][-1]
    calls = await h.press(h.p.resident, asked, f"a:ok:{appeal_id}")
    thanks = [c for c in calls if c.method == "sendMessage" and c.buttons][-1]
    await h.press(h.p.resident, thanks, f"a:rate:{appeal_id}:5")

    calls = await h.cmd(h.p.uhead, private(h.p.uhead), "points")
    (text,) = sent(calls, h.p.uhead)
    assert "Balance: 9" in text  # first reply 2 + resolved on time 5 + good rating 2
    assert "rank 1 of 2" in text  # Uma and Boris, the building head
    assert f"Good rating from the resident #{appeal_id}" in text
    assert f"Appeal resolved on time #{appeal_id}" in text
    assert f"Quick first reply to appeal #{appeal_id}" in text
    # processing the same appeal events again books nothing twice
    assert await h.services.points.apply_appeal_rules(appeal_id) == []
    assert await balance(h, h.p.uhead) == 9


async def test_an_election_win_shows_in_points_and_top(h: Harness) -> None:
    from bot.services.point_rules import record_award

    await h.setup_community()
    cid = await community_id(h)
    async with h.services.db.write() as tx:
        await record_award(tx, cid, h.p.uhead["id"], ref_id=1, now=h.clock.now())
    calls = await h.cmd(h.p.uhead, private(h.p.uhead), "points")
    assert "Balance: 100" in sent(calls, h.p.uhead)[0]
    assert "Monthly election win" in sent(calls, h.p.uhead)[0]
    calls = await h.cmd(h.p.uhead, private(h.p.uhead), "top")
    board = [c for c in calls if c.method == "sendMessage"][-1]
    assert board.text == "🏆 Leaderboard for November 2026:\n1. Uma — 100\n2. Boris — 0"  # every head counts
    calls = await h.press(h.p.uhead, board, f"pt:t:{cid}:a")
    assert told(calls)[-1] == "🏆 Leaderboard, all time:\n1. Uma — 100\n2. Boris — 0"


async def test_points_history_pages_with_buttons(h: Harness) -> None:
    await h.setup_community()
    for i in range(8):
        await award(h, i + 1, f"task {i}")
    calls = await h.cmd(h.p.uhead, private(h.p.uhead), "points")
    message = [c for c in calls if c.method == "sendMessage"][-1]
    assert "task 7" in (message.text or "") and "task 2" not in (message.text or "")
    (older,) = [data for _, data in message.buttons]
    assert older.startswith("pt:h:") and len(older.encode()) <= 64
    calls = await h.press(h.p.uhead, message, older)
    page = told(calls)[-1]
    assert "task 2" in page and "task 0" in page and "task 7" not in page


# --- manual awards ----------------------------------------------------------------------------------
async def test_manual_award_and_deduction_with_reason_tell_the_unit_head(h: Harness) -> None:
    await h.setup_community()
    calls = await award(h, 15, "cleaned the yard")
    assert sent(calls, h.p.staff_chat)[-1].startswith("✅ Uma: +15 points (cleaned the yard)")
    assert any("cleaned the yard" in t for t in sent(calls, h.p.uhead))  # the notice from the outbox
    calls = await staff(h, "deduct", "4 wrong entry", reply_to=updates.message(h.p.uhead, h.p.staff_chat, "hi"))
    assert sent(calls, h.p.staff_chat)[-1].startswith("✅ Uma: −4 points (wrong entry)")
    assert any("wrong entry" in t for t in sent(calls, h.p.uhead))
    assert await balance(h, h.p.uhead) == 11
    calls = await h.cmd(h.p.uhead, private(h.p.uhead), "points")
    assert "Deduction by staff: wrong entry" in sent(calls, h.p.uhead)[0]


async def test_manual_award_is_refused_without_reason_by_non_staff_or_outside_the_staff_chat(h: Harness) -> None:
    await h.setup_community()
    refused_with(await staff(h, "award", "@uma_unit 5"), h, "error.points_reason_required")
    refused_with(await staff(h, "award", "@uma_unit"), h, "points.usage.award")
    refused_with(await staff(h, "award", "@uma_unit lots of points"), h, "error.points_amount")
    refused_with(await staff(h, "award", "@uma_unit 0 nothing"), h, "error.points_amount")
    calls = await h.cmd(h.p.resident, h.p.staff_chat, "award", "@uma_unit 5 me")
    refused_with(calls, h, "error.staff_only")
    refused_with(await h.cmd(h.p.staff, h.p.building_chat, "award", "@uma_unit 5 x"), h, "error.staff_chat_only")
    refused_with(await staff(h, "award", "@rita_r 5 not a head"), h, "error.points_person_unknown")
    assert await balance(h, h.p.uhead) == 0


# --- perks, redemption and the merchant's check -----------------------------------------------------
async def test_redeem_a_perk_and_the_merchant_checks_the_code_by_command_and_by_scanning(h: Harness) -> None:
    await h.setup_community()
    await add_merchant(h)
    perk = await add_perk(h, "Food | @mo_shop | Free coffee | 5 | 3 | - | - | 1 Main St | One cup a day")
    await award(h, 12)

    calls = await h.cmd(h.p.uhead, private(h.p.uhead), "perks")
    menu = [c for c in calls if c.method == "sendMessage"][-1]
    assert menu.buttons == [("Food (1)", menu.buttons[0][1])]
    calls = await h.press(h.p.uhead, menu, menu.buttons[0][1])
    assert told(calls)[-1] == "🎁 Food:\n• Free coffee — 5 points, 3 left"
    calls = await h.press(h.p.uhead, menu, f"pk:p:{perk}")
    assert told(calls)[-1] == (
        "🎁 Free coffee\nOne cup a day\n🏪 Mo's Cafe\n📍 1 Main St\n💰 5 points\n📅 no end date\n📦 3 left"
    )
    calls = await h.press(h.p.uhead, menu, f"pk:r:{perk}")
    assert told(calls)[-1] == "Spend 5 points on “Free coffee”? Your balance: 12."
    calls = await h.press(h.p.uhead, menu, f"pk:y:{perk}")
    code = code_of(calls)
    assert len(code) == 11 and code[5] == "-"
    receipt = [t for t in told(calls) if t.startswith("✅ Your code")][-1]
    assert code in receipt and "balance: 7" in receipt and "Mo's Cafe" in receipt
    photo = [c for c in calls if c.method == "sendPhoto"][-1]
    link = qr_of(photo)
    assert link == f"https://t.me/{h.app.bot.username}?start=rc_{code.replace('-', '')}"
    assert (await balance(h, h.p.uhead), await stock(h, perk)) == (7, 2)

    # the merchant scans the QR: Telegram sends /start rc_<CODE>
    calls = await h.cmd(MERCHANT, private(MERCHANT), "start", link.split("start=", 1)[1])
    (answer,) = sent(calls, MERCHANT)
    assert answer.startswith("✅ The code is valid and is now used.\nHand over: Free coffee\nOne cup a day\nTo: Uma")
    # typed again: already used
    refused_with(await h.cmd(MERCHANT, private(MERCHANT), "check", code.lower()), h, "error.code_used")
    # a fresh code, typed
    code2 = code_of(await redeem(h, perk))
    calls = await h.cmd(MERCHANT, private(MERCHANT), "check", code2)
    assert sent(calls, MERCHANT)[0].startswith("✅ The code is valid")
    assert (await balance(h, h.p.uhead), await stock(h, perk)) == (2, 1)


async def test_refusals_leave_balance_and_stock_untouched(h: Harness) -> None:
    await h.setup_community()
    await add_merchant(h)
    await add_merchant(h, OTHER_MERCHANT, "Ann's Books")
    dear = await add_perk(h, "Food | @mo_shop | Dinner | 50 | 5")
    scarce = await add_perk(h, "Food | @mo_shop | Cake | 1 | 1")
    mine = await add_perk(h, "Books | @ann_shop | Bookmark | 1")
    await award(h, 10)

    refused_with(await redeem(h, dear), h, "error.not_enough_points")
    assert (await balance(h, h.p.uhead), await stock(h, dear)) == (10, 5)
    await redeem(h, scarce)
    refused_with(await redeem(h, scarce), h, "error.out_of_stock")
    assert (await balance(h, h.p.uhead), await stock(h, scarce)) == (9, 0)
    menu = [c for c in h.rt.sent_to(h.p.uhead["id"]) if c.method == "sendMessage"][-1]
    refused_with(await h.press(h.p.uhead, menu, "pk:y:9999"), h, "error.perk_unknown")
    refused_with(await h.press(h.p.uhead, menu, "pk:p:9999"), h, "error.perk_unknown")

    # a resident is not a unit head
    refused_with(await h.cmd(h.p.resident, private(h.p.resident), "points"), h, "error.heads_only")
    refused_with(await h.cmd(h.p.resident, private(h.p.resident), "perks"), h, "error.heads_only")
    refused_with(await h.cmd(h.p.resident, private(h.p.resident), "card"), h, "error.heads_only")
    refused_with(await h.cmd(h.p.resident, private(h.p.resident), "top"), h, "error.heads_only")
    calls = await h.press(h.p.resident, menu, f"pk:y:{mine}")
    refused_with(calls, h, "error.heads_only")
    # a merchant checking another merchant's code; an unknown code; not a merchant
    code = code_of(await redeem(h, mine))
    refused_with(await h.cmd(MERCHANT, private(MERCHANT), "check", code), h, "error.code_other_merchant")
    refused_with(await h.cmd(MERCHANT, private(MERCHANT), "check", "ZZZZZ-ZZZZZ"), h, "error.code_unknown")
    refused_with(await h.cmd(MERCHANT, private(MERCHANT), "check"), h, "perks.usage.check")
    refused_with(await h.cmd(h.p.resident, private(h.p.resident), "check", code), h, "error.merchants_only")
    # the code expires
    h.clock.advance(timedelta(hours=2))
    calls = await h.cmd(OTHER_MERCHANT, private(OTHER_MERCHANT), "check", code)
    refused_with(calls, h, "error.code_expired")


async def test_double_redemption_and_double_check_at_the_same_moment(h: Harness, tmp_path: Any) -> None:
    await h.setup_community()
    await add_merchant(h)
    perk = await add_perk(h, "Food | @mo_shop | Tea | 6 | 5")
    await award(h, 10)  # enough for one, not two
    calls = await h.cmd(h.p.uhead, private(h.p.uhead), "perks")
    menu = [c for c in calls if c.method == "sendMessage"][-1]
    shown = updates.message_dict(updates.bot_user(), h.rt.telegram.chat_for(menu.chat_id), text=menu.text or "")
    press = updates.callback_query(h.p.uhead, shown, f"pk:y:{perk}")
    second = updates.callback_query(h.p.uhead, shown, f"pk:y:{perk}")
    before = len(h.rt.telegram.calls)
    await asyncio.gather(h.send(press), h.send(second))
    both = h.rt.telegram.calls[before:]  # each send's own slice may hold the other's calls too
    photos = [c for c in both if c.method == "sendPhoto"]
    assert len(photos) == 1
    refused_with(both, h, "error.redeem_button_used")
    assert (await balance(h, h.p.uhead), await stock(h, perk)) == (4, 4)

    # two checks of one code, by two connections to the same database file
    code = code_of([photos[0]])
    other = open_database(h.services.db.url)
    await other.connect()
    try:
        from bot.services.perks import PerksService

        twin = PerksService(other, h.services.clock, h.services.perks.calendars)
        before = len(h.rt.telegram.calls)
        outcomes = await asyncio.gather(
            h.send(updates.command(MERCHANT, private(MERCHANT), "check", code)),
            twin.check_code(UserInfo(MERCHANT["id"], "Mo"), code),
            return_exceptions=True,
        )
    finally:
        await other.close()
    bot_said = told(h.rt.telegram.calls[before:])
    ok_by_bot = any(t.startswith("✅ The code is valid") for t in bot_said)
    if not ok_by_bot:
        refused_with(h.rt.telegram.calls[before:], h, "error.code_used")
    ok_by_twin = not isinstance(outcomes[1], BaseException)
    assert ok_by_bot != ok_by_twin, (bot_said, outcomes[1])  # exactly one of them honoured it


async def test_perk_commands_change_and_retire_and_status_perks(h: Harness) -> None:
    await h.setup_community()
    await add_merchant(h)
    perk = await add_perk(h, "Transport | @mo_shop | Free bus ride | 0 | - | 2026-12-31")
    await award(h, 5)
    calls = await staff(h, "perk")
    assert sent(calls, h.p.staff_chat)[-1] == (
        f"🎁 Perks on offer:\n#{perk} Transport: Free bus ride — free: show your ID card (/card), no stock limit"
    )
    calls = await h.cmd(h.p.uhead, private(h.p.uhead), "perks")
    menu = [c for c in calls if c.method == "sendMessage"][-1]
    calls = await h.press(h.p.uhead, menu, f"pk:p:{perk}")
    assert "📅 valid until 31 Dec 2026" in told(calls)[-1]
    shown = [c for c in calls if c.method in ("sendMessage", "editMessageText")][-1]
    assert [data for _, data in shown.buttons] == [f"pk:c:{(await h.services.perks.perk(perk)).perk.category_id}"]
    refused_with(await h.press(h.p.uhead, menu, f"pk:y:{perk}"), h, "error.perk_status_only")

    calls = await staff(h, "perk", f"change {perk} cost 3")
    assert sent(calls, h.p.staff_chat)[-1] == f"✅ Perk #{perk} changed: Free bus ride."
    calls = await staff(h, "perk", f"change {perk} title Free bus rides all month")
    assert (await h.services.perks.perk(perk)).perk.title == "Free bus rides all month"
    refused_with(await staff(h, "perk", f"change {perk} cost lots"), h, "error.perk_value")
    refused_with(await staff(h, "perk", f"change {perk} colour red"), h, "error.perk_field")
    calls = await staff(h, "perk", f"retire {perk}")
    assert sent(calls, h.p.staff_chat)[-1] == f"✅ Perk #{perk} retired: Free bus rides all month."
    refused_with(await staff(h, "perk", f"retire {perk}"), h, "error.perk_retired_already")
    refused_with(await h.press(h.p.uhead, menu, f"pk:y:{perk}"), h, "error.perk_unavailable")
    refused_with(await staff(h, "perk", "add Food | @nobody_here | Tea | 1"), h, "error.merchant_unknown")
    refused_with(await staff(h, "perk", "add Food | @mo_shop"), h, "perks.usage.perk")
    refused_with(await staff(h, "perk", "sell 3"), h, "perks.usage.perk")
    refused_with(await h.cmd(h.p.uhead, h.p.staff_chat, "perk", "retire 1"), h, "error.staff_only")
    assert await balance(h, h.p.uhead) == 5


async def test_catalog_import_from_a_csv_document(h: Harness) -> None:
    await h.setup_community()
    await add_merchant(h)
    good = (
        b"category,merchant,title,cost,stock,address\n"
        b"Food,@mo_shop,Soup,4,10,2 Side St\n"
        b"Phone plans,@mo_shop,10 GB data,30,,\n"
    )
    h.rt.telegram.files["csv-good"] = good
    doc = updates.message_dict(
        h.p.staff,
        h.p.staff_chat,
        document={"file_id": "csv-good", "file_unique_id": "u-good", "file_name": "perks.csv", "file_size": len(good)},
    )
    calls = await staff(h, "perkimport", reply_to=doc)
    assert sent(calls, h.p.staff_chat)[-1] == "✅ Catalog imported: 2 added, 0 changed."
    soup = next(v for v in await h.services.perks.perks(await community_id(h)) if v.perk.title == "Soup")

    bad = f"id,category,merchant,title,cost\n{soup.perk.id},Food,@mo_shop,Soup,5\n,Food,@nobody,Tea,x\n".encode()
    h.rt.telegram.files["csv-bad"] = bad
    doc = updates.message_dict(
        h.p.staff,
        h.p.staff_chat,
        document={"file_id": "csv-bad", "file_unique_id": "u-bad", "file_name": "perks.csv", "file_size": len(bad)},
    )
    calls = await staff(h, "perkimport", reply_to=doc)
    report = sent(calls, h.p.staff_chat)[-1]
    assert report.startswith("❌ The catalog was not imported, nothing changed.")
    assert "line 3, cost: not a whole number" in report
    assert (await h.services.perks.perk(soup.perk.id)).perk.cost == 4  # all or nothing

    h.rt.telegram.files["csv-change"] = (
        f"id,category,merchant,title,cost\n{soup.perk.id},Food,@mo_shop,Soup,5\n".encode()
    )
    doc["document"] = {"file_id": "csv-change", "file_unique_id": "u-c", "file_name": "perks.csv", "file_size": 60}
    calls = await staff(h, "perkimport", reply_to=doc)
    assert sent(calls, h.p.staff_chat)[-1] == "✅ Catalog imported: 0 added, 1 changed."
    refused_with(await staff(h, "perkimport"), h, "perks.usage.import")
    h.rt.telegram.files["bin"] = b"\xff\xfe\x00bad"
    doc["document"] = {"file_id": "bin", "file_unique_id": "u-bin", "file_name": "perks.csv", "file_size": 5}
    refused_with(await staff(h, "perkimport", reply_to=doc), h, "perks.import_not_text")


# --- the ID card ------------------------------------------------------------------------------------
async def test_card_image_qr_verifies_and_a_removed_head_is_no_longer_valid(h: Harness) -> None:
    await h.setup_community()
    calls = await h.cmd(h.p.uhead, private(h.p.uhead), "card")
    (photo,) = [c for c in calls if c.method == "sendPhoto"]
    caption = str(photo.params["caption"])
    assert caption.startswith("🪪 Your ID card for Sunny Side, valid until 20 Feb 2027.") and len(caption) <= 1024
    (upload,) = photo.files.values()
    width, height = Image.open(io.BytesIO(upload.data)).size
    assert width == 1000 and 500 <= height <= 800
    link = qr_of(photo)
    prefix = f"https://t.me/{h.app.bot.username}?start=card_"
    assert link.startswith(prefix)
    payload = link.split("start=", 1)[1]
    assert len(payload) <= 64

    h.clock.advance(timedelta(hours=2, minutes=5))
    calls = await h.cmd(MERCHANT, private(MERCHANT), "start", payload)
    number = card_number(payload[len("card_") :])
    assert sent(calls, MERCHANT) == [
        "✅ Genuine and current: Uma\nUnit head · Building 7, unit 1\nSunny Side, valid until 20 Feb 2027.\n"
        f"Card No. {number}, issued 23 Nov 2026.\nChecked Mon 23 Nov, 12:05."
    ]
    forged = payload[:-2] + ("AA" if not payload.endswith("AA") else "BB")
    refused_with(await h.cmd(MERCHANT, private(MERCHANT), "start", forged), h, "error.card_invalid")
    assert not any("Welcome" in t for t in h.texts(MERCHANT["id"])[1:])

    # staff give unit 1 to someone else: the old card is no longer valid
    await h.cmd(
        h.p.staff, h.p.building_chat, "unithead", "1", reply_to=updates.message(h.p.bhead, h.p.building_chat, "me")
    )
    calls = await h.cmd(MERCHANT, private(MERCHANT), "start", payload)
    (answer,) = sent(calls, MERCHANT)
    assert answer.startswith("⚠️ This card was issued by Sunny Side to Uma, but it is no longer valid")
    assert "no longer serves" in answer
    h.clock.advance(timedelta(days=91))
    calls = await h.cmd(h.p.bhead, private(h.p.bhead), "card")
    link = qr_of(next(c for c in calls if c.method == "sendPhoto"))
    h.clock.advance(timedelta(days=91))
    calls = await h.cmd(MERCHANT, private(MERCHANT), "start", link.split("start=", 1)[1])
    assert "it has expired" in sent(calls, MERCHANT)[0]


async def test_group_commands_point_to_the_private_chat(h: Harness) -> None:
    await h.setup_community()
    for name in ("points", "perks", "card", "top", "check"):
        calls = await h.cmd(h.p.uhead, h.p.building_chat, name)
        assert sent(calls, h.p.building_chat) == ["Let's talk privately, so your details stay out of the group."]


# --- the Bot API reference --------------------------------------------------------------------------
async def test_every_call_is_valid_per_the_bot_api_reference(h: Harness) -> None:
    await h.setup_community()
    await add_merchant(h)
    perk = await add_perk(h, "Food | @mo_shop | Soup | 2 | 3")
    await award(h, 5)
    code = code_of(await redeem(h, perk))
    await h.cmd(MERCHANT, private(MERCHANT), "check", code)
    await h.cmd(h.p.uhead, private(h.p.uhead), "points")
    calls = await h.cmd(h.p.uhead, private(h.p.uhead), "top")
    await h.press(h.p.uhead, [c for c in calls if c.method == "sendMessage"][-1], f"pt:t:{await community_id(h)}:a")
    link = qr_of(next(c for c in await h.cmd(h.p.uhead, private(h.p.uhead), "card") if c.method == "sendPhoto"))
    await h.cmd(MERCHANT, private(MERCHANT), "start", link.split("start=", 1)[1])
    await staff(h, "deduct", "@uma_unit 1 typo")
    await h.cmd(h.p.resident, private(h.p.resident), "points")
    methods = set(h.rt.methods())
    assert {"sendPhoto", "editMessageText", "answerCallbackQuery", "sendMessage"} <= methods
    assert_calls_valid(h.rt.telegram.calls)


@pytest.mark.parametrize("lang", ["zh", "ru"])
async def test_points_speak_the_users_language(h: Harness, lang: str) -> None:
    await h.setup_community()
    await h.cmd(h.p.uhead, private(h.p.uhead), "lang", lang)
    await award(h, 3)
    calls = await h.cmd(h.p.uhead, private(h.p.uhead), "points")
    text = sent(calls, h.p.uhead)[0]
    assert ("余额：3" if lang == "zh" else "Баланс: 3") in text


async def test_points_from_the_sweep_auto_close_and_a_missed_deadline(h: Harness) -> None:
    await h.setup_community()
    # appeal 1: resolved on time, the resident never answers: the sweep closes it and the points come
    first = await h.file_appeal()
    card = [c for c in h.rt.sent_to(h.p.uhead["id"]) if f"#{first}" in (c.text or "")][-1]
    await h.press(h.p.uhead, card, f"a:res:{first}")
    await h.text(h.p.uhead, "Done")
    assert await balance(h, h.p.uhead) == 2  # the quick first reply only, until it closes
    h.clock.advance(timedelta(days=7))
    await h.sweep()
    assert await balance(h, h.p.uhead) == 7
    # appeal 2: nobody answers in time: the escalation costs the unit head
    await h.file_appeal(text="The door is broken")
    h.clock.advance(timedelta(days=2))
    await h.sweep()
    calls = await h.cmd(h.p.uhead, private(h.p.uhead), "points")
    text = sent(calls, h.p.uhead)[0]
    assert "Balance: 4" in text and "−3  Missed deadline, appeal passed up #2" in text


# --- staff change the rules -------------------------------------------------------------------------
async def test_staff_change_the_points_rules_and_the_next_appeal_earns_by_them(h: Harness) -> None:
    await h.setup_community()
    shown = sent(await staff(h, "pointrules"), h.p.staff_chat)[-1]
    assert "first_reply = 2 — points for that quick first reply" in shown
    assert "First place in a monthly election earns 100 points" in shown
    changed = sent(await staff(h, "pointrules", "first_reply 7"), h.p.staff_chat)[-1]
    assert "first_reply = 7" in changed
    refused_with(await staff(h, "pointrules", "colour 7"), h, "error.points_rule")
    refused_with(await staff(h, "pointrules", "first_reply lots"), h, "error.points_rule_value")
    refused_with(await staff(h, "pointrules", "first_reply"), h, "points.usage.rules")
    refused_with(await h.cmd(h.p.uhead, h.p.staff_chat, "pointrules", "first_reply 99"), h, "error.staff_only")
    refused_with(await h.cmd(h.p.staff, h.p.building_chat, "pointrules"), h, "error.staff_chat_only")
    assert (await h.services.points.rules(await community_id(h))).first_reply == 7

    appeal_id = await h.file_appeal()
    card = [c for c in h.rt.sent_to(h.p.uhead["id"]) if f"#{appeal_id}" in (c.text or "")][-1]
    await h.press(h.p.uhead, card, f"a:take:{appeal_id}")
    assert await balance(h, h.p.uhead) == 7


async def test_point_amounts_follow_each_languages_plural_rule(h: Harness) -> None:
    await h.setup_community()
    await add_merchant(h)
    one = await add_perk(h, "Food | @mo_shop | Tea | 1")
    two = await add_perk(h, "Food | @mo_shop | Cake | 2")
    five = await add_perk(h, "Food | @mo_shop | Soup | 5")
    await award(h, 21)
    await h.cmd(h.p.uhead, private(h.p.uhead), "lang", "ru")
    calls = await h.cmd(h.p.uhead, private(h.p.uhead), "perks")
    menu = [c for c in calls if c.method == "sendMessage"][-1]
    listing = told(await h.press(h.p.uhead, menu, menu.buttons[0][1]))[-1]
    assert "Tea — 1 балл," in listing and "Cake — 2 балла," in listing and "Soup — 5 баллов," in listing
    for perk, words in ((one, "1 балл"), (two, "2 балла"), (five, "5 баллов")):
        calls = await h.press(h.p.uhead, menu, f"pk:p:{perk}")
        shown = [c for c in calls if c.method in ("sendMessage", "editMessageText")][-1]
        assert shown.buttons[0][0] == f"Получить за {words}"
    calls = await h.press(h.p.uhead, menu, f"pk:r:{one}")
    assert told(calls)[-1].startswith("Потратить 1 балл на «Tea»?")
    assert sent(await award(h, 1, "tea"), h.p.staff_chat)[-1].startswith("✅ Uma: +1 point (tea)")


async def test_help_shows_each_person_what_they_can_do(h: Harness) -> None:
    await h.setup_community()
    await add_merchant(h)
    resident = sent(await h.cmd(h.p.resident, private(h.p.resident), "help"), h.p.resident)[-1]
    head = sent(await h.cmd(h.p.uhead, private(h.p.uhead), "help"), h.p.uhead)[-1]
    merchant = sent(await h.cmd(MERCHANT, private(MERCHANT), "help"), MERCHANT)[-1]
    assert "/appeal" in resident and "/points" not in resident and "/check" not in resident
    assert "/points" in head and "/card" in head and "/perks" in head and "/check" not in head
    assert "/check" in merchant and "/points" not in merchant
    staff_help = sent(await staff(h, "help"), h.p.staff_chat)[-1]
    assert "/election" in staff_help and "/pointrules" in staff_help and "/perkimport" in staff_help
    group = sent(await h.cmd(h.p.resident, h.p.building_chat, "help"), h.p.building_chat)[-1]
    assert "/vote" in group and "/decisions" in group and "/pointrules" not in group


# --- audit fixes (issue 4) --------------------------------------------------------------------------
def went_wrong(calls: list[Call]) -> bool:
    return any("went wrong" in t for t in told(calls))


async def second_community(h: Harness) -> int:
    """Hill Top (Moscow time), where Uma heads unit 1 too, and 50 points she earned there."""
    p, tg = h.p, h.rt.telegram
    staff2, house = updates.group_chat(-1001000000011, "Staff 2"), updates.group_chat(-1001000000012, "Building 9")
    tg.admins[staff2["id"]] = [p.staff]
    tg.admins[house["id"]] = [p.staff]
    await h.cmd(p.staff, staff2, "newcommunity", "Hill Top")
    await h.cmd(p.staff, staff2, "community", "timezone Europe/Moscow")
    code = ((await h.cmd(p.staff, staff2, "invite"))[-1].text or "").split(":", 1)[1].split()[0]
    await h.cmd(p.staff, house, "register", code)
    await h.cmd(p.staff, house, "units", "1-2")
    await h.cmd(p.staff, house, "unithead", "1", reply_to=updates.message(p.uhead, house, "hi"))
    await h.cmd(p.staff, staff2, "award", "@uma_unit 50 hill work")
    ctx = await h.services.registry.chat_context(staff2["id"])
    return int(ctx.community.id)


async def test_a_head_in_two_communities_chooses_which_one(h: Harness) -> None:
    await h.setup_community()
    await award(h, 7, "sunny work")
    sunny, hill = await community_id(h), await second_community(h)
    for command in ("points", "top", "card"):
        calls = await h.cmd(h.p.uhead, private(h.p.uhead), command)
        (menu,) = [c for c in calls if c.method == "sendMessage"]
        assert menu.text == "You are a head in more than one community. Which one?"
        assert menu.buttons == [("Sunny Side", f"pt:ch:{command}:{sunny}"), ("Hill Top", f"pt:ch:{command}:{hill}")]
        assert all(len(data.encode()) <= 64 for _, data in menu.buttons)
        calls = await h.press(h.p.uhead, menu, f"pt:ch:{command}:{hill}")
        assert not went_wrong(calls)
        if command == "points":
            assert "Balance: 50" in told(calls)[-1] and "hill work" in told(calls)[-1]
        elif command == "top":
            assert told(calls)[-1] == "🏆 Leaderboard for November 2026:\n1. Uma — 50"
        else:
            (photo,) = [c for c in calls if c.method == "sendPhoto"]
            assert str(photo.params["caption"]).startswith("🪪 Your ID card for Hill Top")
    calls = await h.press(h.p.uhead, menu, f"pt:ch:points:{sunny}")
    assert "Balance: 7" in told(calls)[-1]
    # somebody else's button data: not a community of the person pressing it
    calls = await h.press(h.p.resident, menu, f"pt:ch:points:{hill}")
    refused_with(calls, h, "error.heads_only")
    assert_calls_valid(h.rt.telegram.calls)


async def test_a_head_who_moved_sees_the_community_where_they_head_now(h: Harness) -> None:
    await h.setup_community()
    await award(h, 7, "sunny work")
    await h.cmd(
        h.p.staff, h.p.building_chat, "unithead", "1", reply_to=updates.message(h.p.bhead, h.p.building_chat, "me")
    )  # Uma no longer heads anything in Sunny Side, but keeps her 7 points there
    await second_community(h)
    for command in ("points", "top"):
        calls = await h.cmd(h.p.uhead, private(h.p.uhead), command)
        assert "50" in told(calls)[-1] and "7" not in told(calls)[-1], told(calls)
    calls = await h.cmd(h.p.uhead, private(h.p.uhead), "card")
    (photo,) = [c for c in calls if c.method == "sendPhoto"]
    assert "Hill Top" in str(photo.params["caption"])


async def test_points_dates_are_in_the_communitys_time_zone(h: Harness) -> None:
    await h.setup_community()
    await staff(h, "community", "timezone Europe/Moscow")
    h.clock.set(datetime(2026, 11, 30, 22, 0, tzinfo=ZoneInfo("Europe/Moscow")))  # Dec 1, 03:00 in Shanghai
    for i in range(6):
        await award(h, 1, f"late {i}")
    calls = await h.cmd(h.p.uhead, private(h.p.uhead), "points")
    message = [c for c in calls if c.method == "sendMessage"][-1]
    assert "This month (November 2026)" in (message.text or "")
    assert "Mon 30 Nov  +1" in (message.text or "") and "Tue 1 Dec" not in (message.text or "")
    calls = await h.press(h.p.uhead, message, message.buttons[0][1])
    assert "Mon 30 Nov  +1  Award by staff: late 0" in told(calls)[-1]


async def test_odd_numbers_are_refused_politely(h: Harness) -> None:
    await h.setup_community()
    for name, args in (
        ("award", "@uma_unit ² reason"),
        ("deduct", "@uma_unit ١٢ reason"),
        ("award", "@uma_unit 99999999999999999999 reason"),
        ("award", "@uma_unit ５ reason"),
    ):
        refused_with(await staff(h, name, args), h, "error.points_amount")
    assert await balance(h, h.p.uhead) == 0
    await award(h, 5)
    calls = await h.cmd(h.p.uhead, private(h.p.uhead), "points")
    message = [c for c in calls if c.method == "sendMessage"][-1]
    cid = await community_id(h)
    for data in (
        f"pt:h:{cid}:99999999999999999999",
        "pt:h:99999999999999999999:1",
        "pt:t:99999999999999999999:m",
        "pt:ch:points:99999999999999999999",
        f"pt:h:{cid}:²",
        "pt:ch:vote:1",
    ):
        refused_with(await h.press(h.p.uhead, message, data), h, "error.stale_button")
    refused_with(await h.press(h.p.uhead, message, "pt:h:999999999999999999:1"), h, "error.community_unknown")
    refused_with(await h.press(h.p.uhead, message, "pt:t:999999999999999999:m"), h, "error.heads_only")
    refused_with(await h.press(h.p.uhead, message, "pt:ch:card:999999999999999999"), h, "error.community_unknown")


async def test_a_replayed_award_tells_what_was_booked_and_books_nothing_new(h: Harness) -> None:
    await h.setup_community()
    raw = updates.command(h.p.staff, h.p.staff_chat, "award", "@uma_unit 5 fair")
    await h.send(raw)
    again = dict(raw, update_id=raw["update_id"] + 1)  # the same message delivered again
    calls = await h.send(again)
    assert sent(calls, h.p.staff_chat)[-1].startswith("✅ Uma: +5 points (fair)")
    changed = dict(raw["message"], text="/award @boris_b 50 fair")
    changed["entities"] = updates.detect_entities(changed["text"])
    calls = await h.send({"update_id": raw["update_id"] + 2, "message": changed})  # same message id, other text
    refused_with(calls, h, "error.points_replayed")
    assert "Uma +5 (fair)" in told(calls)[-1]
    assert (await balance(h, h.p.uhead), await balance(h, h.p.bhead)) == (5, 0)


async def test_staff_who_head_a_unit_cannot_award_themselves(h: Harness) -> None:
    await h.setup_community()
    await h.cmd(
        h.p.staff, h.p.building_chat, "unithead", "2", reply_to=updates.message(h.p.staff, h.p.building_chat, "me")
    )
    for name in ("award", "deduct"):
        refused_with(await staff(h, name, "@olga_staff 5 my own work"), h, "error.points_self")
    assert await balance(h, h.p.staff) == 0


async def test_top_and_points_agree_on_ranks_below_zero(h: Harness) -> None:
    """Boris (building head, no entries) is at 0, ahead of Uma at −3: /points and /top say the same."""
    await h.setup_community()
    ann = updates.user(2002, "Ann", "ann_u")
    await h.cmd(h.p.staff, h.p.building_chat, "unithead", "2", reply_to=updates.message(ann, h.p.building_chat, "hi"))
    await staff(h, "award", "@ann_u 5 stairs")
    await staff(h, "deduct", "@uma_unit 3 late")
    mine = sent(await h.cmd(h.p.uhead, private(h.p.uhead), "points"), h.p.uhead)[-1]
    assert "rank 3 of 3" in mine
    board = [c for c in await h.cmd(h.p.uhead, private(h.p.uhead), "top") if c.method == "sendMessage"][-1]
    assert board.text == "🏆 Leaderboard for November 2026:\n1. Ann — 5\n2. Boris — 0\n3. Uma — -3"


async def test_a_notice_to_someone_whose_telegram_language_the_bot_lacks_is_in_the_communitys(h: Harness) -> None:
    """Like an answer: the person's language if the bot speaks it (here Ukrainian: no), else the community's."""
    await h.setup_community()
    await staff(h, "community", "language zh")
    olek = updates.user(2003, "Olek", "olek_u", language_code="uk")
    await h.cmd(h.p.staff, h.p.building_chat, "unithead", "2", reply_to=updates.message(olek, h.p.building_chat, "hi"))
    await h.cmd(olek, private(olek), "start")
    calls = await staff(h, "award", "@olek_u 5 stairs")
    (notice,) = sent(calls, olek)
    assert "给您加了 5 积分" in notice, notice
