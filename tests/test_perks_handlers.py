"""Perks through the real Application (fake Bot API, fake clock): the fixes of the issue-4 audit —
one redemption per confirmation, odd ids and files, big catalogs in pages, refunds after staff set the
stock, values required, local times, translated problems, catalog files (";", twice, broken), who may
see perks, codes of a perk whose merchant changed, and a code typed without /check."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.models import UserInfo
from tests.harness import Harness
from tests.support import updates
from tests.support.api_schema import assert_calls_valid
from tests.support.botapi import Call
from tests.test_points_handlers import (
    MERCHANT,
    OTHER_MERCHANT,
    add_merchant,
    add_perk,
    award,
    balance,
    code_of,
    community_id,
    private,
    redeem,
    refused_with,
    sent,
    staff,
    stock,
    told,
)

STAFF = UserInfo(1001, "Olga", username="olga_staff")
TELEGRAM_TEXT_MAX = 4096
TELEGRAM_BUTTONS_MAX = 100
CALLBACK_DATA_MAX = 64
_files = iter(range(1, 10_000))


def went_wrong(calls: list[Call]) -> bool:
    return any("went wrong" in t for t in told(calls))


def shown(calls: list[Call]) -> Call:
    """The message a press showed (edited in place, or sent anew)."""
    return [c for c in calls if c.method in ("editMessageText", "sendMessage")][-1]


def check_limits(call: Call) -> None:
    """What Telegram would refuse but the fake API accepts: long texts, too many buttons, long data."""
    assert len(call.text or "") <= TELEGRAM_TEXT_MAX, len(call.text or "")
    assert len(call.buttons) <= TELEGRAM_BUTTONS_MAX, len(call.buttons)
    assert all(len(data.encode()) <= CALLBACK_DATA_MAX for _, data in call.buttons)


async def import_file(h: Harness, data: bytes) -> str:
    """/perkimport as a reply to ``data``; the last text the staff chat got."""
    fid = f"perks-csv-{next(_files)}"
    h.rt.telegram.files[fid] = data
    doc = updates.message_dict(
        h.p.staff,
        h.p.staff_chat,
        document={"file_id": fid, "file_unique_id": f"u-{fid}", "file_name": "perks.csv", "file_size": len(data)},
    )
    calls = await staff(h, "perkimport", reply_to=doc)
    assert not went_wrong(calls), told(calls)
    return sent(calls, h.p.staff_chat)[-1]


async def confirmation(h: Harness, perk: int) -> dict[str, Any]:
    """/perks -> ... -> Redeem: the message with "Yes" (one message: ``h.press`` makes a new one each time)."""
    calls = await h.cmd(h.p.uhead, private(h.p.uhead), "perks")
    menu = [c for c in calls if c.method == "sendMessage"][-1]
    message = updates.message_dict(updates.bot_user(), h.rt.telegram.chat_for(menu.chat_id), text=menu.text or "")
    await h.send(updates.callback_query(h.p.uhead, message, f"pk:r:{perk}"))
    return message


async def yes(h: Harness, message: dict[str, Any], perk: int) -> list[Call]:
    return await h.send(updates.callback_query(h.p.uhead, message, f"pk:y:{perk}"))


# --- P5: one redemption per confirmation ------------------------------------------------------------
async def test_a_double_tap_on_yes_redeems_once(h: Harness) -> None:
    await h.setup_community()
    await add_merchant(h)
    perk = await add_perk(h, "Food | @mo_shop | Tea | 6 | 5")
    await award(h, 20)
    message = await confirmation(h, perk)
    first = await yes(h, message, perk)
    assert [c for c in first if c.method == "sendPhoto"]
    second = await yes(h, message, perk)  # the same "Yes", pressed again
    refused_with(second, h, "error.redeem_button_used")
    assert not [c for c in second if c.method == "sendPhoto"]
    assert (await balance(h, h.p.uhead), await stock(h, perk)) == (14, 4)
    # a new confirmation redeems again
    code_of(await redeem(h, perk))
    assert (await balance(h, h.p.uhead), await stock(h, perk)) == (8, 3)


async def test_a_refused_yes_can_be_pressed_again(h: Harness) -> None:
    await h.setup_community()
    await add_merchant(h)
    perk = await add_perk(h, "Food | @mo_shop | Tea | 6 | 5")
    await award(h, 4)
    message = await confirmation(h, perk)
    refused_with(await yes(h, message, perk), h, "error.not_enough_points")
    await award(h, 4)
    code_of(await yes(h, message, perk))  # nothing was redeemed the first time
    assert await balance(h, h.p.uhead) == 2


# --- P6: odd ids, forged buttons, odd files ---------------------------------------------------------
async def test_odd_ids_and_forged_buttons_are_answered_politely(h: Harness) -> None:
    await h.setup_community()
    await add_merchant(h)
    perk = await add_perk(h, "Food | @mo_shop | Tea | 6 | 5")
    await award(h, 10)
    for args in ("change ² stock 3", "retire ²", "change 99999999999999999999 stock 3", "retire 99999999999999999999"):
        refused_with(await staff(h, "perk", args), h, "error.perk_unknown")
    refused_with(await staff(h, "perk", "retire x"), h, "perks.usage.perk")
    calls = await h.cmd(h.p.uhead, private(h.p.uhead), "perks")
    menu = [c for c in calls if c.method == "sendMessage"][-1]
    for data in ("pk:p:²", "pk:p:99999999999999999999", "pk:c:99999999999999999999", "pk:y:99999999999999999999"):
        refused_with(await h.press(h.p.uhead, menu, data), h, "error.stale_button")
    refused_with(await h.press(h.p.uhead, menu, "pk:c:999999999999999999"), h, "error.stale_button")
    refused_with(await h.press(h.p.uhead, menu, "pk:p:999999999999999999"), h, "error.perk_unknown")
    assert (await balance(h, h.p.uhead), await stock(h, perk)) == (10, 5)


async def test_odd_catalog_files_are_refused_by_line(h: Harness) -> None:
    await h.setup_community()
    await add_merchant(h)
    for data in (
        "id,category,merchant,title,cost\n²,Food,@mo_shop,Soup,4\n".encode(),
        b"id,category,merchant,title,cost\n99999999999999999999,Food,@mo_shop,Soup,4\n",
    ):
        report = await import_file(h, data)
        assert report.startswith("❌ The catalog was not imported") and "line 2, id: no such perk here" in report
    huge = b'category,merchant,title,cost,description\nFood,@mo_shop,Soup,4,"' + b"x" * 200_000 + b'"\n'
    report = await import_file(h, huge)  # a cell over the CSV reader's 128 KiB limit, the file under 1 MB
    assert report.startswith("❌ The catalog was not imported") and "line 2" in report and "too long" in report
    assert await h.services.perks.perks(await community_id(h)) == []


# --- P7: big catalogs in pages ----------------------------------------------------------------------
async def test_a_category_with_many_perks_pages_and_every_perk_is_reachable(h: Harness) -> None:
    await h.setup_community()
    await add_merchant(h)
    cid = await community_id(h)
    title = "Perk number {:03d} with a rather long descriptive title to fill the line"
    for i in range(120):
        fields = {"category": "Food", "merchant": str(MERCHANT["id"]), "title": title.format(i), "cost": "5"}
        await h.services.perk_admin.add_perk(STAFF, cid, {**fields, "stock": "5"})
    calls = await h.cmd(h.p.uhead, private(h.p.uhead), "perks")
    menu = [c for c in calls if c.method == "sendMessage"][-1]
    data = menu.buttons[0][1]
    reached: set[str] = set()
    pages = 0
    while data:
        calls = await h.press(h.p.uhead, menu, data)
        page = shown(calls)
        check_limits(page)
        pages += 1
        reached |= {label for label, d in page.buttons if d.startswith("pk:p:")}
        data = next((d for label, d in page.buttons if label.startswith("▶️")), "")
        assert pages <= 20
    assert reached == {title.format(i) for i in range(120)} and pages > 1
    assert "Page" in (page.text or "")
    # a perk on a later page goes back to that page
    later = next(d for _, d in page.buttons if d.startswith("pk:p:"))
    calls = await h.press(h.p.uhead, menu, later)
    back = [d for label, d in shown(calls).buttons if d.startswith("pk:c:")]
    assert back and back[0].count(":") == 3, back
    assert_calls_valid(h.rt.telegram.calls)


async def test_many_categories_page_within_telegrams_button_limit(h: Harness) -> None:
    await h.setup_community()
    await add_merchant(h)
    cid = await community_id(h)
    for i in range(105):
        await h.services.perk_admin.add_perk(
            STAFF, cid, {"category": f"Cat {i}", "merchant": str(MERCHANT["id"]), "title": "T", "cost": "5"}
        )
    calls = await h.cmd(h.p.uhead, private(h.p.uhead), "perks")
    menu = [c for c in calls if c.method == "sendMessage"][-1]
    check_limits(menu)
    seen = {label for label, d in menu.buttons if d.startswith("pk:c:")}
    data = next(d for label, d in menu.buttons if label.startswith("▶️"))
    for _ in range(30):
        page = shown(await h.press(h.p.uhead, menu, data))
        check_limits(page)
        seen |= {label for label, d in page.buttons if d.startswith("pk:c:")}
        data = next((d for label, d in page.buttons if label.startswith("▶️")), "")
        if not data:
            break
    assert seen == {f"Cat {i} (1)" for i in range(105)}
    assert_calls_valid(h.rt.telegram.calls)


# --- P11: a refund does not undo staff's stock ------------------------------------------------------
async def test_a_refund_does_not_restock_a_perk_whose_stock_staff_set_later(h: Harness) -> None:
    await h.setup_community()
    await add_merchant(h)
    perk = await add_perk(h, "Food | @mo_shop | Tea | 2 | 5")
    other = await add_perk(h, "Food | @mo_shop | Cake | 2 | 5")
    await award(h, 20)
    await redeem(h, perk)
    await redeem(h, other)
    await staff(h, "perk", f"change {perk} stock 0")  # sold out at the counter: staff stop it
    h.clock.advance(timedelta(hours=1))
    await h.sweep()
    assert await balance(h, h.p.uhead) == 20  # both codes expired unused: the points come back
    assert await stock(h, perk) == 0 and not (await h.services.perks.perk(perk)).on_offer
    assert await stock(h, other) == 5  # stock nobody touched is given back


# --- P12: a value is required -----------------------------------------------------------------------
async def test_changing_a_field_needs_a_value_and_dash_clears(h: Harness) -> None:
    await h.setup_community()
    await add_merchant(h)
    perk = await add_perk(h, "Food | @mo_shop | Tea | 2 | 5 | 2026-12-31 | 1")
    for field in ("stock", "valid_until", "per_person_limit"):
        refused_with(await staff(h, "perk", f"change {perk} {field}"), h, "error.perk_value_missing")
    view = (await h.services.perks.perk(perk)).perk
    assert (view.stock, view.per_person_limit, view.valid_until is not None) == (5, 1, True)
    for field in ("stock", "valid_until", "per_person_limit"):
        await staff(h, "perk", f"change {perk} {field} -")
    view = (await h.services.perks.perk(perk)).perk
    assert (view.stock, view.per_person_limit, view.valid_until) == (None, None, None)


# --- P13 and P14: local times, translated problems --------------------------------------------------
async def test_times_are_in_the_perks_community_time_zone(h: Harness) -> None:
    await h.setup_community()
    await h.cmd(h.p.staff, h.p.staff_chat, "community", "timezone Europe/Moscow")
    await add_merchant(h)
    perk = await add_perk(h, "Food | @mo_shop | Tea | 2 | 5")
    await award(h, 20)
    calls = await redeem(h, perk)  # 2026-11-23 10:00 in Shanghai = 05:00 in Moscow, code for 30 minutes
    receipt = [t for t in told(calls) if t.startswith("✅ Your code")][-1]
    assert "good until Mon 23 Nov, 05:30" in receipt, receipt
    code = code_of(calls)
    calls = await h.cmd(MERCHANT, private(MERCHANT), "check", code)
    assert "(redeemed Mon 23 Nov, 05:00)" in sent(calls, MERCHANT)[0]
    h.clock.advance(timedelta(minutes=5))
    calls = await h.cmd(MERCHANT, private(MERCHANT), "check", code)
    assert told(calls)[-1] == "This code was already used (Mon 23 Nov, 05:00)."


async def test_a_bad_value_is_explained_in_the_staff_members_language(h: Harness) -> None:
    await h.setup_community()
    await add_merchant(h)
    perk = await add_perk(h, "Food | @mo_shop | Tea | 2 | 5")
    await h.cmd(h.p.staff, private(h.p.staff), "lang", "zh")
    calls = await staff(h, "perk", f"change {perk} cost lots")
    zh = h.services.catalogs.gettext("zh", "perks.problem.not_a_number")
    assert told(calls)[-1] == f"cost 的值无效（{zh}）。", told(calls)
    calls = await staff(h, "perk", "add Food | @mo_shop | Tea | 5 | 3 | 2020-01-01")
    assert h.services.catalogs.gettext("zh", "perks.problem.in_the_past") in told(calls)[-1]


# --- P15: catalog files -----------------------------------------------------------------------------
async def test_catalog_files_from_excel_twice_and_broken(h: Harness) -> None:
    await h.setup_community()
    await add_merchant(h)
    cid = await community_id(h)
    semicolons = "category;merchant;title;cost;stock\r\nЕда;@mo_shop;Суп;4;10\r\nFood;@mo_shop;Tea;2;\r\n".encode()
    assert await import_file(h, semicolons) == "✅ Catalog imported: 2 added, 0 changed."
    assert await import_file(h, semicolons) == "✅ Catalog imported: 0 added, 2 changed."
    tabs = b"category\tmerchant\ttitle\tcost\nFood\t@mo_shop\tTea\t3\n"
    assert await import_file(h, tabs) == "✅ Catalog imported: 0 added, 1 changed."
    views = await h.services.perks.perks(cid)
    assert sorted((v.perk.title, v.perk.cost) for v in views) == [("Tea", 3), ("Суп", 4)]

    report = await import_file(h, b"category,merchant,title,cost,cost\nFood,@mo_shop,Soup,4,9\n")
    assert "line 1, cost: this column appears twice" in report, report
    report = await import_file(h, b"category,merchant,title,cost\nFood,@mo_shop,So\x00up,4\n")
    assert "line 2, title: has hidden control characters" in report, report
    report = await import_file(h, b"category,merchant,title,cost,valid_until\nFood,@mo_shop,Soup,4,2020-01-01\n")
    assert "line 2, valid_until: in the past" in report, report
    report = await import_file(h, b"category,merchant,title,cost\nFood,@mo_shop,Soup,4\n\nFood,@mo_shop,soup,5\n")
    assert "line 4, title: the same perk (category, merchant, title) is on another line" in report, report
    assert len(await h.services.perks.perks(cid)) == 2  # nothing of the refused files was applied


# --- P16: who sees perks, which merchant checks a code, a code typed without /check -----------------
async def test_only_current_heads_of_the_perks_community_see_perks(h: Harness) -> None:
    await h.setup_community()
    await add_merchant(h)
    perk = await add_perk(h, "Food | @mo_shop | Secret tea | 2 | 5")
    category = (await h.services.perks.perk(perk)).perk.category_id
    await award(h, 20)
    await h.cmd(h.p.resident, private(h.p.resident), "start")
    msg = h.rt.sent_to(h.p.resident["id"])[-1]
    for data in (f"pk:p:{perk}", f"pk:c:{category}", f"pk:r:{perk}", "pk:home"):
        calls = await h.press(h.p.resident, msg, data)
        refused_with(calls, h, "error.heads_only")
        assert not any("Secret tea" in t for t in told(calls))

    # staff give Uma's unit to Boris: her balance stays, but she is no longer a head
    menu = [c for c in await h.cmd(h.p.uhead, private(h.p.uhead), "perks") if c.method == "sendMessage"][-1]
    await h.cmd(
        h.p.staff, h.p.building_chat, "unithead", "1", reply_to=updates.message(h.p.bhead, h.p.building_chat, "me")
    )
    assert await balance(h, h.p.uhead) == 20
    refused_with(await h.cmd(h.p.uhead, private(h.p.uhead), "perks"), h, "error.heads_only")
    for data in (f"pk:c:{category}", f"pk:p:{perk}", f"pk:r:{perk}", f"pk:y:{perk}"):
        refused_with(await h.press(h.p.uhead, menu, data), h, "error.heads_only")
    assert await balance(h, h.p.uhead) == 20


async def test_a_code_stays_with_the_merchant_who_sold_it(h: Harness) -> None:
    await h.setup_community()
    await add_merchant(h)
    await add_merchant(h, OTHER_MERCHANT, "Ann's")
    perk = await add_perk(h, "Food | @mo_shop | Tea | 2 | 5")
    await award(h, 20)
    code = code_of(await redeem(h, perk))
    await staff(h, "perk", f"change {perk} merchant @ann_shop")
    refused_with(await h.cmd(OTHER_MERCHANT, private(OTHER_MERCHANT), "check", code), h, "error.code_other_merchant")
    calls = await h.cmd(MERCHANT, private(MERCHANT), "check", code)
    assert sent(calls, MERCHANT)[0].startswith("✅ The code is valid"), told(calls)
    code2 = code_of(await redeem(h, perk))  # issued after the change: Ann's
    calls = await h.cmd(OTHER_MERCHANT, private(OTHER_MERCHANT), "check", code2)
    assert sent(calls, OTHER_MERCHANT)[0].startswith("✅ The code is valid"), told(calls)


async def test_a_merchant_may_type_a_code_without_check(h: Harness) -> None:
    await h.setup_community()
    await add_merchant(h)
    perk = await add_perk(h, "Food | @mo_shop | Tea | 2 | 5")
    await award(h, 20)
    code = code_of(await redeem(h, perk))
    calls = await h.text(MERCHANT, code.lower().replace("-", " "))
    assert sent(calls, MERCHANT)[0].startswith("✅ The code is valid"), told(calls)
    refused_with(await h.text(MERCHANT, code), h, "error.code_used")
    refused_with(await h.text(MERCHANT, "ZZZZZ-ZZZZZ"), h, "error.code_unknown")
    kept = h.services.catalogs.gettext("en", "filing.kept_note")
    assert sent(await h.text(MERCHANT, "thanks guys"), MERCHANT)[0].startswith(kept)  # not a code: kept as words
    # residents and heads typing something code-like get the appeal flow as before
    for who in (h.p.resident, h.p.uhead):
        await h.cmd(who, private(who), "start")
        calls = await h.text(who, "ABCDE-FGHJK")
        assert sent(calls, who)[0].startswith(kept), told(calls)


async def test_a_head_in_two_communities_chooses_whose_perks(h: Harness) -> None:
    from tests.test_points_handlers import second_community

    await h.setup_community()
    sunny, hill = await community_id(h), await second_community(h)
    staff2 = updates.group_chat(-1001000000011, "Staff 2")
    await h.cmd(MERCHANT, private(MERCHANT), "start")
    await h.cmd(h.p.staff, staff2, "merchant", "Mo's Cafe", reply_to=updates.message(MERCHANT, staff2, "hello"))
    await h.cmd(h.p.staff, staff2, "perk", "add Food | @mo_shop | Free coffee | 5")
    calls = await h.cmd(h.p.uhead, private(h.p.uhead), "perks")
    (menu,) = [c for c in calls if c.method == "sendMessage"]
    assert menu.buttons == [("Sunny Side", f"pt:ch:perks:{sunny}"), ("Hill Top", f"pt:ch:perks:{hill}")]
    shown = [c for c in await h.press(h.p.uhead, menu, f"pt:ch:perks:{hill}") if c.params.get("text")][-1]
    assert [label for label, _ in shown.buttons] == ["Food (1)"]
    category = shown.buttons[0][1]
    listing = [c for c in await h.press(h.p.uhead, shown, category) if c.method == "editMessageText"][-1]
    assert "Free coffee" in (listing.text or "")
    assert listing.buttons[-1][1] == f"pk:home:{hill}"  # back to Hill Top's categories, not the first community's
    back = [c for c in await h.press(h.p.uhead, listing, f"pk:home:{hill}") if c.method == "editMessageText"][-1]
    assert [label for label, _ in back.buttons] == ["Food (1)"]
    refused_with(await h.press(h.p.resident, menu, f"pt:ch:perks:{hill}"), h, "error.heads_only")
