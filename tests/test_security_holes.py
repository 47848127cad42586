"""The holes found by the attack of issue 9 (privilege and privacy, bad input), one test each: every
one fails without its fix. The world: tests/security_world.py."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest

from bot.i18n import Catalogs, plural
from bot.models import Status
from tests.harness import Harness, appeal_of, said
from tests.security_world import CHAT8, HILL_STAFF, NINA, RIA, ROSA, SECRET, World, build_world, snapshot
from tests.support import updates

HUGE = "99999999999999999999"  # past 64 bits


def alerts(calls: list[Any]) -> list[str]:
    return [c.params.get("text", "") for c in calls if c.method == "answerCallbackQuery"]


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def press(h: Harness, who: dict[str, Any], chat: dict[str, Any], data: str) -> list[Any]:
    """``data`` pressed by ``who`` on the bot's latest message in ``chat`` (any message will do for
    a forger)."""
    if not any(key[0] == chat["id"] for key in h.rt.telegram.messages):
        await h.cmd(who, chat, "help")
    latest = max((key for key in h.rt.telegram.messages if key[0] == chat["id"]), key=lambda key: key[1])
    return await h.send(updates.callback_query(who, h.rt.telegram.messages[latest], data))


async def rows(h: Harness, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    async with h.services.db.read() as tx:
        return [tuple(r) for r in await tx.fetchall(sql, params)]


def staff_of_both(h: Harness) -> dict[str, Any]:
    """Olga, staff of Sunny Side, is made an admin of Hill Top's staff chat too."""
    from tests.security_world import OLEG

    h.rt.telegram.admins[HILL_STAFF["id"]] = [OLEG, h.p.staff]
    return h.p.staff


@pytest.fixture
async def w(h: Harness) -> World:
    return await build_world(h)


# --- mu: and f:u: -----------------------------------------------------------------------------------
async def test_a_unit_button_of_another_building_registers_nobody(h: Harness, w: World) -> None:
    """mu:<Building 7>:<unit> pressed in Building 8's chat: Ria does not become a resident of
    Building 7 (and so cannot vote on its ballot)."""
    calls = await press(h, RIA, CHAT8, f"mu:{w.b7}:{w.unit1}")
    assert alerts(calls) == [
        "This button belongs to another building. Please use the buttons in your own building's group."
    ]
    assert await rows(h, "SELECT unit_id FROM residents WHERE user_id = ? AND building_id = ?", (RIA["id"], w.b7)) == []
    calls = await press(h, RIA, CHAT8, f"ev:{w.election}:{w.candidate}")
    assert await rows(h, "SELECT * FROM election_votes WHERE voter_id = ?", (RIA["id"],)) == []
    # in its own chat, the button works
    calls = await press(h, RIA, CHAT8, f"mu:{w.b8}:{await unit_of(h, w.b8, '2')}")
    assert alerts(calls)[0].startswith("Saved")


async def unit_of(h: Harness, building: int, name: str) -> int:
    found: int = next(u.id for u in await h.services.registry.units(building) if u.name == name)
    return found


async def test_a_filing_unit_button_of_another_building_registers_nobody(h: Harness, w: World) -> None:
    """f:u:<Building 7>:<unit> pressed in Rosa's private chat (she lives in Hill Top)."""
    private = updates.private_chat(ROSA)
    calls = await press(h, ROSA, private, f"f:u:{w.b7}:{w.unit1}")
    assert alerts(calls) == [
        "This button belongs to another building. Please use the buttons in your own building's group."
    ]
    assert await rows(h, "SELECT * FROM residents WHERE user_id = ? AND building_id = ?", (ROSA["id"], w.b7)) == []


async def test_the_filing_link_of_a_building_is_for_the_members_of_its_chat(h: Harness, w: World) -> None:
    """/start ap_<building> by someone Telegram says is not in the building's chat: no draft, no
    unit buttons; a member gets the unit buttons."""
    calls = await h.cmd(NINA, updates.private_chat(NINA), "start", f"ap_{w.b7}")
    assert said(calls) == [
        "To write about Building 7, please open the link in that building's group (only its members can)."
    ]
    assert await rows(h, "SELECT * FROM drafts WHERE user_id = ?", (NINA["id"],)) == []
    h.rt.telegram.members[h.p.building_chat["id"]].pop(NINA["id"])  # she joins the chat
    calls = await h.cmd(NINA, updates.private_chat(NINA), "start", f"ap_{w.b7}")
    assert any(d.startswith(f"f:u:{w.b7}:") for _, d in calls[-1].buttons)


# --- /show and the appeal's buttons -----------------------------------------------------------------
async def test_show_posts_an_appeal_only_where_its_chain_is(h: Harness, w: World) -> None:
    olga = staff_of_both(h)
    calls = await h.cmd(olga, HILL_STAFF, "show", str(w.appeal))
    assert not any(SECRET in (c.text or "") for c in calls)
    assert said(calls) == [
        "This appeal can be shown and handled only in a private chat with the bot or in its community's staff chat."
    ]
    # a:show pressed under a message of the bot in a channel
    channel = updates.group_chat(-1001000000777, "News", type="channel")
    post = updates.message_dict(updates.bot_user(), channel, text="news")
    calls = await h.send(updates.callback_query(olga, post, f"a:show:{w.appeal}"))
    assert not [c for c in calls if c.chat_id == channel["id"]]
    # its own staff chat and street office chat, and privately
    for chat in (h.p.staff_chat, updates.private_chat(olga)):
        calls = await h.cmd(olga, chat, "show", str(w.appeal))
        assert any(SECRET in (c.text or "") for c in calls if c.chat_id == chat["id"])
    calls = await h.cmd(h.p.street, h.p.street_chat, "show", str(w.appeal))
    assert any(SECRET in (c.text or "") for c in calls if c.chat_id == h.p.street_chat["id"])


async def test_appeal_buttons_act_only_in_a_private_chat_or_the_appeals_own_chain(h: Harness, w: World) -> None:
    olga = staff_of_both(h)
    await h.cmd(olga, HILL_STAFF, "help")
    calls = await press(h, olga, HILL_STAFF, f"a:take:{w.appeal}")
    assert alerts(calls)[0].startswith("This appeal can be shown and handled only")
    assert (await appeal_of(h, w.appeal)).status == Status.NEW
    calls = await press(h, olga, h.p.staff_chat, f"a:take:{w.appeal}")
    assert (await appeal_of(h, w.appeal)).status == Status.IN_PROGRESS


# --- buttons about one person, pressed in a group -----------------------------------------------------
async def test_perk_buttons_pressed_in_a_group_redeem_nothing_and_post_nothing(h: Harness, w: World) -> None:
    await h.cmd(h.p.staff, h.p.staff_chat, "award", "@uma_unit 20 good work")
    chat7 = h.p.building_chat
    for data in (f"pk:y:{w.perk}", f"pk:r:{w.perk}", f"pt:t:{w.community}:m", f"pt:ch:card:{w.community}"):
        calls = await press(h, h.p.uhead, chat7, data)
        assert alerts(calls) == ["This works only in your private chat with the bot."], data
        assert not [c for c in calls if c.chat_id == chat7["id"] and c.method != "answerCallbackQuery"], data
    assert await rows(h, "SELECT * FROM redemptions") == []
    calls = await press(h, h.p.uhead, updates.private_chat(h.p.uhead), f"pk:y:{w.perk}")
    assert [c for c in calls if c.method == "sendPhoto"]  # privately, the code comes


async def test_filing_buttons_pressed_in_a_group_start_nothing(h: Harness, w: World) -> None:
    calls = await press(h, RIA, CHAT8, "f:c:problem")
    assert alerts(calls) == ["This works only in your private chat with the bot."]
    assert not [c for c in calls if c.method == "sendMessage"]


async def test_points_history_of_a_community_the_person_is_not_in_is_refused(h: Harness, w: World) -> None:
    calls = await press(h, NINA, updates.private_chat(NINA), f"pt:h:{w.community}:999")
    assert alerts(calls) == ["This is only for unit and building heads. Your own appeals: /myappeals"]


# --- staff commands with another community's ids ------------------------------------------------------
async def test_a_perk_of_another_community_is_unknown_in_this_staff_chat(h: Harness, w: World) -> None:
    olga = staff_of_both(h)
    before = await snapshot(w)
    for args in (f"change {w.perk} stock 50", f"retire {w.perk}"):
        calls = await h.cmd(olga, HILL_STAFF, "perk", args)
        assert said(calls) == [f"There is no perk #{w.perk}."], args
    assert await snapshot(w) == before
    calls = await h.cmd(olga, h.p.staff_chat, "perk", f"change {w.perk} stock 50")
    assert "Green tea" in said(calls)[-1]


async def test_propose_cancel_acts_only_on_the_chats_own_proposals(h: Harness, w: World) -> None:
    olga = staff_of_both(h)
    for chat in (HILL_STAFF, CHAT8):  # another community's staff chat; another building of hers
        calls = await h.cmd(olga, chat, "propose", f"cancel {w.proposal}")
        assert said(calls) == ["There is no such proposal."], chat["title"]
    assert await rows(h, "SELECT state FROM proposals WHERE id = ?", (w.proposal,)) == [("open",)]
    await h.cmd(olga, h.p.building_chat, "propose", f"cancel {w.proposal}")
    assert await rows(h, "SELECT state FROM proposals WHERE id = ?", (w.proposal,)) == [("cancelled",)]


# --- bad input ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "data",
    [
        f"a:re:{HUGE}",
        f"a:take:{HUGE}",
        f"a:rate:1:{HUGE}",
        f"f:b:{HUGE}",
        f"f:u:{HUGE}:1",
        f"f:new:{HUGE}",
        f"f:add:1:{HUGE}",
        f"mu:{HUGE}:1",
        f"uh:1:{HUGE}",
        "a:take:²",
        "f:u:1:-1",
    ],
)
async def test_ids_past_64_bits_are_stale_buttons(h: Harness, caplog: pytest.LogCaptureFixture, data: str) -> None:
    await h.setup_community()
    await h.file_appeal()
    chat = h.p.building_chat if data.startswith(("mu:", "uh:")) else updates.private_chat(h.p.resident)
    calls = await press(h, h.p.resident, chat, data)
    assert len(alerts(calls)) == 1
    assert "went wrong" not in alerts(calls)[0]
    assert not errors(caplog)


@pytest.mark.parametrize(
    ("name", "args"), [("show", HUGE), ("show", f"#{HUGE}"), ("start", f"ap_{HUGE}"), ("start", f"act_reply_{HUGE}")]
)
async def test_commands_with_ids_past_64_bits_are_answered(
    h: Harness, caplog: pytest.LogCaptureFixture, name: str, args: str
) -> None:
    await h.setup_community()
    calls = await h.cmd(h.p.resident, updates.private_chat(h.p.resident), name, args)
    assert said(calls) and "went wrong" not in said(calls)[0]
    assert not errors(caplog)


async def test_a_command_without_a_sender_is_answered_politely(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    await h.setup_community()
    raw = updates.command(h.p.resident, h.p.building_chat, "units", "5")
    del raw["message"]["from"]
    raw["message"]["sender_chat"] = {"id": -1001000000999, "type": "channel", "title": "A channel"}
    calls = await h.send(raw)
    assert said(calls) == ["Please write as yourself, not as a channel or anonymously."]
    assert not errors(caplog)


# --- plurals in refusals -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("lang", "minutes", "expected"),
    [
        ("en", 1, "try again in 1 minute."),
        ("en", 5, "try again in 5 minutes."),
        ("ru", 1, "через 1 минуту."),
        ("ru", 3, "через 3 минуты."),
        ("ru", 11, "через 11 минут."),
        ("zh", 1, "请 1 分钟后再试"),
    ],
)
def test_try_again_in_minutes_uses_the_plural_forms(lang: str, minutes: int, expected: str) -> None:
    t = Catalogs().translator(lang)
    text = t(
        "error.too_many_appeals", appeals=plural("security.appeals", 1), minutes=plural("security.minutes", minutes)
    )
    assert expected in text
    assert "1 appeals" not in text


async def test_the_rate_limit_refusal_says_1_minute_and_1_appeal(h: Harness) -> None:
    await h.setup_community()
    await h.cmd(h.p.staff, h.p.staff_chat, "sla", "max_per_hour 1")
    await h.file_appeal(text="first problem")
    h.clock.advance(timedelta(minutes=59, seconds=30))
    resident, building = h.p.resident, await h.services.registry.chat_context(h.p.building_chat["id"])
    calls = await h.send(
        updates.command(resident, updates.private_chat(resident), "start", f"ap_{building.building.id}")
    )
    await h.press(resident, calls[-1], "f:c:problem")
    calls = await h.text(resident, "second problem")
    assert said(calls) == ["You have sent 1 appeal recently. Your text is kept; please try again in 1 minute."]
