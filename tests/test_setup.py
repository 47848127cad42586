"""Community set-up and roles, through the real Application: who may create a community, invite and
register building chats, add units, name heads; staff following the staff chat's admins; languages."""

from __future__ import annotations

from typing import Any

import pytest

from storage.registry import RegistryRepo
from tests.harness import Harness, code_in, said
from tests.support import updates


def sends(calls: list[Any]) -> list[Any]:
    return [c for c in calls if c.method == "sendMessage"]


async def community(h: Harness) -> None:
    """A community with its staff chat only (Olga is the staff chat's admin)."""
    p = h.p
    h.rt.admins[p.staff_chat["id"]] = [p.staff]
    h.rt.admins[p.building_chat["id"]] = [p.staff]
    h.rt.admins[p.street_chat["id"]] = [p.street]
    calls = await h.cmd(p.staff, p.staff_chat, "newcommunity", "Sunny Side")
    assert any("Sunny Side" in t and "created" in t for t in said(calls)), said(calls)


async def invite_code(h: Harness) -> str:
    return code_in(await h.cmd(h.p.staff, h.p.staff_chat, "invite"))


async def building(h: Harness, units: str = "1-4") -> None:
    await community(h)
    code = await invite_code(h)
    await h.cmd(h.p.staff, h.p.building_chat, "register", code)
    if units:
        await h.cmd(h.p.staff, h.p.building_chat, "units", units)


async def heads(h: Harness, building_id: int) -> tuple[int | None, dict[str, int | None]]:
    async with h.services.db.read() as tx:
        b = await tx.fetchone("SELECT head_user_id FROM buildings WHERE id = ?", (building_id,))
        units = await tx.fetchall("SELECT name, head_user_id FROM units WHERE building_id = ?", (building_id,))
    return b["head_user_id"], {u["name"]: u["head_user_id"] for u in units}


async def building_id(h: Harness, chat: dict[str, Any] | None = None) -> int:
    ctx = await h.services.registry.chat_context((chat or h.p.building_chat)["id"])
    assert ctx is not None and ctx.building is not None
    return int(ctx.building.id)


# --- /newcommunity -----------------------------------------------------------------------------
async def test_newcommunity_by_chat_admin_makes_the_chat_the_staff_chat(h: Harness) -> None:
    await community(h)
    ctx = await h.services.registry.chat_context(h.p.staff_chat["id"])
    assert ctx is not None and ctx.kind == "staff" and ctx.community.name == "Sunny Side"
    assert await h.services.registry.is_staff(ctx.community.id, h.p.staff["id"])


async def test_newcommunity_by_a_non_admin_is_refused_politely(h: Harness) -> None:
    h.rt.admins[h.p.staff_chat["id"]] = [h.p.staff]
    calls = await h.cmd(h.p.resident, h.p.staff_chat, "newcommunity", "Mine")
    assert said(calls) == ["Only an admin of this chat can do that."]
    assert await h.services.registry.chat_context(h.p.staff_chat["id"]) is None


async def test_newcommunity_in_private_asks_for_a_group(h: Harness) -> None:
    calls = await h.cmd(h.p.staff, updates.private_chat(h.p.staff), "newcommunity", "Mine")
    assert said(calls) == ["Please use this command in a group chat."]


async def test_newcommunity_twice_in_the_same_chat_is_refused(h: Harness) -> None:
    await community(h)
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "newcommunity", "Again")
    assert said(calls) == ["This chat is already registered."]


# --- /invite and /register -----------------------------------------------------------------------
async def test_invite_has_an_add_to_group_deep_link(h: Harness) -> None:
    await community(h)
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "invite")
    msg = sends(calls)[-1]
    code = code_in(calls)
    assert code in (msg.text or "")
    [(label, url)] = msg.buttons
    assert "Add the bot" in label
    assert url == f"https://t.me/{updates.BOT_USERNAME}?startgroup={code}"
    assert msg.reply_markup is not None
    assert "url" in msg.reply_markup["inline_keyboard"][0][0]


async def test_invite_only_in_the_staff_chat_by_staff(h: Harness) -> None:
    await community(h)
    # a staff member, but in another chat
    calls = await h.cmd(h.p.staff, h.p.building_chat, "invite")
    assert said(calls) == ["This command works in the community's staff chat."]
    calls = await h.cmd(h.p.staff, updates.private_chat(h.p.staff), "invite")
    assert said(calls) == ["This command works in the community's staff chat."]
    # in the staff chat, but not one of its admins
    calls = await h.cmd(h.p.resident, h.p.staff_chat, "invite")
    assert said(calls) == ["Only community staff can do that."]


async def test_register_by_chat_admin_registers_the_building_and_tells_staff(h: Harness) -> None:
    await community(h)
    code = await invite_code(h)
    calls = await h.cmd(h.p.staff, h.p.building_chat, "register", code)
    assert any("Building 7 is now part of Sunny Side" in t for t in h.texts(h.p.building_chat)), said(calls)
    assert any("Building 7 was registered by Olga" in t for t in h.texts(h.p.staff_chat))
    ctx = await h.services.registry.chat_context(h.p.building_chat["id"])
    assert ctx is not None and ctx.kind == "building"


async def test_register_by_a_non_admin_is_refused(h: Harness) -> None:
    await community(h)
    code = await invite_code(h)
    calls = await h.cmd(h.p.resident, h.p.building_chat, "register", code)
    assert said(calls) == ["Only an admin of this chat can do that."]
    assert await h.services.registry.chat_context(h.p.building_chat["id"]) is None
    # the code was not spent by the refusal
    await h.cmd(h.p.staff, h.p.building_chat, "register", code)
    assert await h.services.registry.chat_context(h.p.building_chat["id"]) is not None


async def test_used_or_unknown_codes_are_refused(h: Harness) -> None:
    await community(h)
    code = await invite_code(h)
    await h.cmd(h.p.staff, h.p.building_chat, "register", code)
    other = updates.group_chat(-1001000000077, "Building 9")
    h.rt.admins[other["id"]] = [h.p.staff]
    calls = await h.cmd(h.p.staff, other, "register", code)
    assert said(calls) == ["That code was already used or has expired. Ask staff for a new one."]
    calls = await h.cmd(h.p.staff, other, "register", "bNoSuchCode123")
    assert said(calls) == ["That code is not valid. Ask community staff for a new one (/invite)."]
    # a street code is not a building code
    street = code_in(await h.cmd(h.p.staff, h.p.staff_chat, "streetcode"))
    calls = await h.cmd(h.p.staff, other, "register", street)
    assert said(calls) == ["That code is not valid. Ask community staff for a new one (/invite)."]
    calls = await h.cmd(h.p.staff, other, "register")
    assert said(calls) == ["Send: /register CODE (the code comes from /invite in the staff chat)."]
    assert await h.services.registry.chat_context(other["id"]) is None


async def test_expired_code_is_refused(h: Harness) -> None:
    from datetime import timedelta

    await community(h)
    code = await invite_code(h)
    h.clock.advance(timedelta(days=8))
    calls = await h.cmd(h.p.staff, h.p.building_chat, "register", code)
    assert said(calls) == ["That code was already used or has expired. Ask staff for a new one."]


async def test_registering_the_same_chat_twice_is_refused(h: Harness) -> None:
    await building(h, units="")
    code = await invite_code(h)
    calls = await h.cmd(h.p.staff, h.p.building_chat, "register", code)
    assert said(calls) == ["This chat is already registered."]
    # the staff chat itself cannot become a building either
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "register", code)
    assert said(calls) == ["This chat is already registered."]


async def test_start_code_in_a_group_registers_like_the_add_to_group_link(h: Harness) -> None:
    await community(h)
    code = await invite_code(h)
    calls = await h.send(updates.command(h.p.staff, h.p.building_chat, "start", code, addressed=True))
    assert any("is now part of Sunny Side" in t for t in said(calls)), said(calls)
    assert any("was registered by Olga" in t for t in h.texts(h.p.staff_chat))
    assert await h.services.registry.chat_context(h.p.building_chat["id"]) is not None


# --- /units --------------------------------------------------------------------------------------
async def test_units_by_range_and_by_names(h: Harness) -> None:
    await building(h, units="")
    calls = await h.cmd(h.p.staff, h.p.building_chat, "units", "1-4")
    assert said(calls) == ["Added 4 units: 1, 2, 3, 4."]
    calls = await h.cmd(h.p.staff, h.p.building_chat, "units", "A B")
    assert said(calls) == ["Added 2 units: A, B."]
    calls = await h.cmd(h.p.staff, h.p.building_chat, "units", "3 B C")  # known ones are skipped
    assert said(calls) == ["Added 1 unit: C."]
    calls = await h.cmd(h.p.resident, h.p.building_chat, "units")  # anyone may list them
    assert said(calls) == ["Units of Building 7: 1, 2, 3, 4, A, B, C"]


async def test_bad_unit_ranges_are_refused_politely(h: Harness) -> None:
    await building(h, units="")
    cases = {
        "4-1": "I cannot read the range 4-1. For example: /units 1-6",
        "1-500": "I cannot read the range 1-500. For example: /units 1-6",
        "X" * 30: "A unit name can have at most 24 characters.",
        ",": "Which units? For example: /units 1-6 or /units A B C",
    }
    for spec, answer in cases.items():
        calls = await h.cmd(h.p.staff, h.p.building_chat, "units", spec)
        assert said(calls) == [answer], spec
    calls = await h.cmd(h.p.staff, h.p.building_chat, "units", "1-40")
    calls = await h.cmd(h.p.staff, h.p.building_chat, "units", "41-70")
    assert said(calls) == ["A building can have at most 60 units."]
    _, units = await h.services.registry.building_units(h.p.building_chat["id"])
    assert len(units) == 40


async def test_residents_cannot_add_units(h: Harness) -> None:
    await building(h, units="")
    calls = await h.cmd(h.p.resident, h.p.building_chat, "units", "1-3")
    assert said(calls) == ["Only the building head or community staff can do that."]


# --- heads ---------------------------------------------------------------------------------------
async def test_building_head_by_reply(h: Harness) -> None:
    await building(h)
    calls = await h.cmd(
        h.p.staff, h.p.building_chat, "buildinghead", reply_to=updates.message(h.p.bhead, h.p.building_chat, "hi")
    )
    texts = said(calls)
    assert texts[0] == "Boris is now the building head of Building 7."
    # Boris never opened the bot: he is asked to, with a button to it
    assert "Boris, please open the bot and press Start" in texts[1]
    assert sends(calls)[-1].buttons == [("Open the bot", f"https://t.me/{updates.BOT_USERNAME}?start=hello")]
    assert (await heads(h, await building_id(h)))[0] == h.p.bhead["id"]


async def test_heads_by_text_mention(h: Harness) -> None:
    await building(h)
    nameless = updates.user(2001, "Zhang Wei", None)  # no @username: addressed by a text mention
    calls = await h.cmd(h.p.staff, h.p.building_chat, "unithead", "2", mention=nameless)
    assert said(calls)[0] == "Zhang Wei is now the head of unit 2."
    calls = await h.cmd(h.p.staff, h.p.building_chat, "buildinghead", mention=nameless)
    assert said(calls)[0] == "Zhang Wei is now the building head of Building 7."
    head, units = await heads(h, await building_id(h))
    assert head == 2001 and units["2"] == 2001


async def test_heads_by_username_of_a_known_user(h: Harness) -> None:
    await building(h)
    await h.cmd(h.p.uhead, updates.private_chat(h.p.uhead), "start")  # now the bot knows @uma_unit
    calls = await h.cmd(h.p.staff, h.p.building_chat, "unithead", "3 @UMA_unit")
    # Uma started the bot: no "press Start" nudge
    assert said(calls) == ["Uma is now the head of unit 3."]
    calls = await h.cmd(h.p.staff, h.p.building_chat, "unithead", "@uma_unit 4")  # order does not matter
    assert said(calls) == ["Uma is now the head of unit 4."]
    _, units = await heads(h, await building_id(h))
    assert units["3"] == units["4"] == h.p.uhead["id"]


async def test_unknown_username_gets_a_polite_message(h: Harness) -> None:
    await building(h)
    calls = await h.cmd(h.p.staff, h.p.building_chat, "buildinghead", "@nobody_here")
    [text] = said(calls)
    assert text.startswith("I do not know @nobody_here yet.")
    calls = await h.cmd(h.p.staff, h.p.building_chat, "unithead", "2")  # nobody named at all
    assert said(calls) == ["Reply to the person's message with /unithead 3, or mention them."]
    calls = await h.cmd(
        h.p.staff, h.p.building_chat, "unithead", "9", reply_to=updates.message(h.p.uhead, h.p.building_chat, "x")
    )
    assert said(calls) == ["There is no unit 9 here. See /units."]
    assert (await heads(h, await building_id(h)))[1]["2"] is None


async def test_a_person_who_wrote_in_the_building_chat_becomes_known_by_username(h: Harness) -> None:
    await building(h)
    neighbour = updates.user(2002, "Lena", "lena_l")
    await h.cmd(neighbour, h.p.building_chat, "status")  # a command: the bot sees it even in privacy mode
    await h.send(updates.message(neighbour, h.p.building_chat, "Hello, I am here"))
    calls = await h.cmd(h.p.staff, h.p.building_chat, "unithead", "2 @lena_l")
    assert said(calls)[0] == "Lena is now the head of unit 2."


async def test_unithead_without_unit_offers_unit_buttons(h: Harness) -> None:
    await building(h)
    calls = await h.cmd(
        h.p.staff, h.p.building_chat, "unithead", reply_to=updates.message(h.p.uhead, h.p.building_chat, "hi")
    )
    msg = sends(calls)[-1]
    assert msg.text == "Which unit will Uma head?"
    labels = [label for label, _ in msg.buttons]
    assert labels == ["1", "2", "3", "4"]
    assert all(data.startswith("uh:") and data.endswith(f":{h.p.uhead['id']}") for _, data in msg.buttons)
    calls = await h.press(h.p.staff, msg, msg.buttons[2][1])
    assert calls[0].method == "answerCallbackQuery"
    assert "Uma is now the head of unit 3." in said(calls)
    assert (await heads(h, await building_id(h)))[1]["3"] == h.p.uhead["id"]


async def test_residents_cannot_assign_heads(h: Harness) -> None:
    await building(h)
    reply = updates.message(h.p.uhead, h.p.building_chat, "hi")
    calls = await h.cmd(h.p.resident, h.p.building_chat, "buildinghead", reply_to=reply)
    assert said(calls) == ["Only community staff can do that."]
    calls = await h.cmd(h.p.resident, h.p.building_chat, "unithead", "1", reply_to=reply)
    assert said(calls) == ["Only the building head or community staff can do that."]
    # nor with the buttons of somebody else's /unithead
    calls = await h.cmd(h.p.staff, h.p.building_chat, "unithead", reply_to=reply)
    msg = sends(calls)[-1]
    calls = await h.press(h.p.resident, msg, msg.buttons[0][1])
    [answer] = [c for c in calls if c.method == "answerCallbackQuery"]
    assert answer.params["text"] == "Only the building head or community staff can do that."
    assert answer.params.get("show_alert") is True
    head, units = await heads(h, await building_id(h))
    assert head is None and set(units.values()) == {None}


async def test_building_head_may_name_unit_heads_but_not_building_heads(h: Harness) -> None:
    await building(h)
    await h.cmd(
        h.p.staff, h.p.building_chat, "buildinghead", reply_to=updates.message(h.p.bhead, h.p.building_chat, "x")
    )
    reply = updates.message(h.p.uhead, h.p.building_chat, "hi")
    calls = await h.cmd(h.p.bhead, h.p.building_chat, "unithead", "2", reply_to=reply)
    assert said(calls)[0] == "Uma is now the head of unit 2."
    calls = await h.cmd(h.p.bhead, h.p.building_chat, "buildinghead", reply_to=reply)
    assert said(calls) == ["Only community staff can do that."]
    head, units = await heads(h, await building_id(h))
    assert head == h.p.bhead["id"] and units["2"] == h.p.uhead["id"]


async def test_a_bot_is_never_made_a_head(h: Harness) -> None:
    await building(h)
    other_bot = updates.user(5555, "OtherBot", "other_bot", is_bot=True)
    calls = await h.cmd(
        h.p.staff, h.p.building_chat, "buildinghead", reply_to=updates.message(other_bot, h.p.building_chat, "beep")
    )
    assert said(calls) == ["Reply to the person's message with /buildinghead, or mention them."]


# --- street office -------------------------------------------------------------------------------
async def test_streetcode_and_linkstreet(h: Harness) -> None:
    await community(h)
    code = code_in(await h.cmd(h.p.staff, h.p.staff_chat, "streetcode"))
    # not an admin of the street chat
    calls = await h.cmd(h.p.resident, h.p.street_chat, "linkstreet", code)
    assert said(calls) == ["Only an admin of this chat can do that."]
    calls = await h.cmd(h.p.street, h.p.street_chat, "linkstreet", code)
    assert any("This chat is now the street office of Sunny Side" in t for t in said(calls))
    assert any("street office chat is linked" in t for t in h.texts(h.p.staff_chat))
    ctx = await h.services.registry.chat_context(h.p.street_chat["id"])
    assert ctx is not None and ctx.kind == "street"
    # a code works once; a building code is not a street code
    other = updates.group_chat(-1001000000088, "Another office")
    h.rt.admins[other["id"]] = [h.p.street]
    calls = await h.cmd(h.p.street, other, "linkstreet", code)
    assert said(calls) == ["That code was already used or has expired. Ask staff for a new one."]
    calls = await h.cmd(h.p.street, other, "linkstreet", await invite_code(h))
    assert said(calls) == ["That code is not valid. Ask community staff for a new one (/invite)."]
    calls = await h.cmd(h.p.street, other, "linkstreet")
    assert said(calls) == ["Send: /linkstreet CODE (the code comes from /streetcode in the staff chat)."]


async def test_streetcode_only_for_staff(h: Harness) -> None:
    await community(h)
    calls = await h.cmd(h.p.resident, h.p.staff_chat, "streetcode")
    assert said(calls) == ["Only community staff can do that."]


# --- /myunit -------------------------------------------------------------------------------------
async def test_myunit_buttons_save_the_residents_unit(h: Harness) -> None:
    await building(h, units="1-3")
    calls = await h.cmd(h.p.resident, h.p.building_chat, "myunit")
    msg = sends(calls)[-1]
    assert "which unit do you live in" in (msg.text or "")
    assert [label for label, _ in msg.buttons] == ["1", "2", "3"]
    assert all(data.startswith("mu:") for _, data in msg.buttons)
    calls = await h.press(h.p.resident, msg, msg.buttons[1][1])
    [answer] = calls
    assert answer.method == "answerCallbackQuery"
    assert answer.params["text"] == "Saved: you live in unit 2."
    assert answer.params["show_alert"] is True
    async with h.services.db.read() as tx:
        row = await tx.fetchone(
            "SELECT u.name FROM residents r JOIN units u ON u.id = r.unit_id WHERE r.user_id = ?", (h.p.resident["id"],)
        )
    assert row["name"] == "2"


async def test_myunit_needs_units_and_a_building_chat(h: Harness) -> None:
    await building(h, units="")
    calls = await h.cmd(h.p.resident, h.p.building_chat, "myunit")
    assert said(calls) == ["This building has no units yet. Add them with /units 1-6."]
    calls = await h.cmd(h.p.resident, updates.private_chat(h.p.resident), "myunit")
    assert said(calls) == ["This command works in a building's group chat."]
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "myunit")
    assert said(calls) == ["This command works in a building's group chat."]


# --- /sla, /workday, /community ------------------------------------------------------------------
async def test_sla_shows_and_changes_settings(h: Harness) -> None:
    await community(h)
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "sla")
    [text] = said(calls)
    assert "problem_days = 3" in text and "max_per_hour = 3" in text
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "sla", "problem_days 2")
    assert "problem_days = 2" in said(calls)[0]
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "sla", "problem_days -1")
    assert said(calls) == ["That value does not fit problem_days."]
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "sla", "no_such 1")
    assert said(calls)[0].startswith("Unknown setting. You can change: first_reply_hours")
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "sla", "a b c")
    assert said(calls)[0].startswith("Unknown setting.")
    calls = await h.cmd(h.p.resident, h.p.staff_chat, "sla")
    assert said(calls) == ["Only community staff can do that."]
    ctx = await h.services.registry.chat_context(h.p.staff_chat["id"])
    assert ctx.community.settings["sla"]["problem_days"] == 2


async def test_workday_overrides_the_calendar(h: Harness) -> None:
    await community(h)
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "workday", "2026-12-05 on")  # a Saturday
    assert said(calls) == ["Sat 5 Dec is now a working day for this community."]
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "workday", "2026-12-07 off")  # a Monday
    assert said(calls) == ["Mon 7 Dec is now a day off for this community."]
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "workday", "2026-12-07 reset")
    assert said(calls) == ["Mon 7 Dec is now a working day for this community."]
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "workday", "2031-03-03 on")
    texts = said(calls)
    assert texts[0] == "Mon 3 Mar 2031 is now a working day for this community."
    assert "schedule for 2031 is not published yet" in texts[1]
    for junk in ("", "tomorrow on", "2026-12-05 maybe", "2026-13-45 on"):
        calls = await h.cmd(h.p.staff, h.p.staff_chat, "workday", junk)
        assert said(calls) == ["Send: /workday 2026-12-31 on|off|reset"], junk
    calls = await h.cmd(h.p.resident, h.p.staff_chat, "workday", "2026-12-05 on")
    assert said(calls) == ["Only community staff can do that."]


async def test_community_options(h: Harness) -> None:
    await community(h)
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "community", "timezone Europe/Moscow")
    assert said(calls) == ["Community settings: timezone Europe/Moscow, calendar CN, language en."]
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "community", "country ru")
    assert said(calls) == ["Community settings: timezone Europe/Moscow, calendar RU, language en."]
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "community", "language ru")
    assert len(said(calls)) == 1
    ctx = await h.services.registry.chat_context(h.p.staff_chat["id"])
    assert (ctx.community.timezone, ctx.community.country, ctx.community.language) == ("Europe/Moscow", "RU", "ru")
    refusals = {
        "timezone Mars/Base": "I do not know the timezone Mars/Base.",
        "country XX": "I have no holiday calendar for XX.",
        "language fr": "Choose one of: zh, en, ru",
        "colour blue": "You can change timezone, country or language.",
        "timezone": "Send: /community timezone Asia/Shanghai, /community country CN or /community language zh",
    }
    for args, answer in refusals.items():
        calls = await h.cmd(h.p.staff, h.p.staff_chat, "community", args)
        assert said(calls) == [answer], args
    calls = await h.cmd(h.p.resident, h.p.staff_chat, "community", "language zh")
    assert said(calls) == ["Only community staff can do that."]


# --- staff follow the staff chat's admins --------------------------------------------------------
async def test_new_admin_of_the_staff_chat_becomes_staff_on_the_next_staff_command(h: Harness) -> None:
    await community(h)
    newcomer = updates.user(3001, "Nina", "nina_new")
    calls = await h.cmd(newcomer, h.p.staff_chat, "invite")
    assert said(calls) == ["Only community staff can do that."]
    h.rt.admins[h.p.staff_chat["id"]].append(newcomer)  # promoted in Telegram
    calls = await h.cmd(newcomer, h.p.staff_chat, "invite")
    assert "Building invite code" in said(calls)[0]
    assert any(c.method == "getChatAdministrators" for c in calls)
    ctx = await h.services.registry.chat_context(h.p.staff_chat["id"])
    assert await h.services.registry.is_staff(ctx.community.id, newcomer["id"])
    # and staff rights count in building chats too
    await h.cmd(h.p.staff, h.p.building_chat, "register", code_in(calls))
    calls = await h.cmd(newcomer, h.p.building_chat, "units", "1-2")
    assert said(calls) == ["Added 2 units: 1, 2."]


async def test_removed_admin_loses_staff_rights(h: Harness) -> None:
    await building(h)
    boss = updates.user(3002, "Pavel", "pavel_boss")
    h.rt.admins[h.p.staff_chat["id"]] = [h.p.staff, boss]
    await h.cmd(boss, h.p.staff_chat, "sla")  # sync: both are staff
    h.rt.admins[h.p.staff_chat["id"]] = [boss]  # Olga is no longer an admin
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "sla")
    assert said(calls) == ["Only community staff can do that."]
    ctx = await h.services.registry.chat_context(h.p.staff_chat["id"])
    assert not await h.services.registry.is_staff(ctx.community.id, h.p.staff["id"])
    calls = await h.cmd(
        h.p.staff, h.p.building_chat, "buildinghead", reply_to=updates.message(h.p.bhead, h.p.building_chat, "x")
    )
    assert said(calls) == ["Only community staff can do that."]
    calls = await h.cmd(boss, h.p.staff_chat, "invite")
    assert "Building invite code" in said(calls)[0]


async def test_staff_commands_write_the_staff_only_when_the_admins_changed(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every staff command refreshes the staff from the chat's admins (a removed admin loses rights
    at once), but an unchanged admin list is a read: /open in a busy staff chat takes no write lock."""
    await building(h)
    registry = h.services.registry
    chat_id = h.p.staff_chat["id"]
    writes: list[str] = []
    real_replace = RegistryRepo.replace_staff

    async def counted(self: RegistryRepo, *args: Any, **kwargs: Any) -> None:
        writes.append("staff")
        await real_replace(self, *args, **kwargs)

    monkeypatch.setattr(RegistryRepo, "replace_staff", counted)
    for _ in range(3):
        calls = await h.cmd(h.p.staff, h.p.staff_chat, "open")
        assert any(c.method == "getChatAdministrators" for c in calls)
    assert writes == []
    boss = updates.user(3003, "Pavel", "pavel_boss")
    h.rt.admins[chat_id] = [h.p.staff, boss]  # promoted in Telegram: written at the next command
    await h.cmd(h.p.staff, h.p.staff_chat, "open")
    assert writes == ["staff"]
    ctx = await registry.chat_context(chat_id)
    assert ctx is not None and await registry.is_staff(ctx.community.id, boss["id"])
    await h.cmd(boss, h.p.staff_chat, "open")  # the same admins again, in another order: a read
    assert writes == ["staff"]


# --- languages -----------------------------------------------------------------------------------
async def test_lang_buttons_switch_the_users_language(h: Harness) -> None:
    chat = updates.private_chat(h.p.resident)
    calls = await h.cmd(h.p.resident, chat, "lang")
    msg = sends(calls)[-1]
    assert msg.text == "Choose your language:"
    assert msg.buttons == [("中文", "lang:zh"), ("English", "lang:en"), ("Русский", "lang:ru")]
    catalogs = h.services.catalogs
    for lang in ("zh", "ru"):
        calls = await h.press(h.p.resident, msg, f"lang:{lang}")
        assert calls[0].method == "answerCallbackQuery"
        t = catalogs.translator(lang)
        assert said(calls)[-1] == t("general.language_set")
        assert await h.services.registry.language_of(h.p.resident["id"]) == lang
        # later messages come in that language, whatever Telegram says the user's language is
        calls = await h.cmd(h.p.resident, chat, "cancel")
        assert said(calls) == [t("general.nothing_to_cancel")]
        calls = await h.cmd(h.p.resident, chat, "show", "abc")
        assert said(calls) == [t("error.show_usage")]
    # the catalogs, when translated, really differ from English
    en = catalogs.translator("en")
    for lang, word in (("zh", "中文"), ("ru", "Русский")):
        t = catalogs.translator(lang)
        if t("general.language_set") != en("general.language_set"):
            assert t("language." + lang) == word


async def test_lang_with_an_argument_and_a_wrong_one(h: Harness) -> None:
    chat = updates.private_chat(h.p.resident)
    calls = await h.cmd(h.p.resident, chat, "lang", "RU")
    assert said(calls) == [h.services.catalogs.translator("ru")("general.language_set")]
    assert await h.services.registry.language_of(h.p.resident["id"]) == "ru"
    calls = await h.cmd(h.p.resident, chat, "lang", "fr")
    assert said(calls) == [h.services.catalogs.translator("ru")("error.language", choices="zh, en, ru")]
    calls = await h.press(h.p.resident, sends(await h.cmd(h.p.resident, chat, "lang"))[-1], "lang:xx")
    assert calls[0].method == "answerCallbackQuery"
    assert await h.services.registry.language_of(h.p.resident["id"]) == "ru"


async def test_outbox_messages_follow_the_recipients_language(h: Harness) -> None:
    await h.setup_community()
    await h.cmd(h.p.uhead, updates.private_chat(h.p.uhead), "lang", "zh")
    await h.file_appeal()
    t = h.services.catalogs.translator("zh")
    expected = t(
        "appeal.assigned",
        id=1,
        category_key="category.problem",
        building="Building 7",
        unit="1",
        resident="Rita",
        body="The lift is broken",
        due="",
    )
    got = [x for x in h.texts(h.p.uhead) if "#1" in x]
    assert got and got[-1].split("\n")[0] == expected.split("\n")[0]
