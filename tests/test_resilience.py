"""Telegram realities: chats that migrate, the bot removed from chats, flood control, blocked users,
hidden forwards, long texts, token hygiene in logs, and every call valid against the Bot API."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest

from bot.logging import RedactSecrets
from handlers.common import split_text
from tests.harness import TOKEN, Harness, bot_message, code_in, said
from tests.support import assert_calls_valid, updates


def sends(calls: list[Any], chat_id: int | None = None) -> list[Any]:
    return [c for c in calls if c.method == "sendMessage" and (chat_id is None or c.chat_id == chat_id)]


async def outbox_rows(h: Harness) -> list[Any]:
    async with h.services.db.read() as tx:
        rows: list[Any] = await tx.fetchall("SELECT * FROM outbox ORDER BY id")
        return rows


async def reply_as_head(h: Harness, appeal_id: int, text: str) -> list[Any]:
    """The unit head presses Reply on the appeal card and writes ``text``."""
    card = bot_message(h, h.p.uhead["id"], f"#{appeal_id}")
    await h.send(updates.callback_query(h.p.uhead, card, f"a:reply:{appeal_id}"))
    return await h.text(h.p.uhead, text)


# --- group -> supergroup -------------------------------------------------------------------------
async def test_group_upgraded_to_supergroup_moves_the_building(h: Harness) -> None:
    old = updates.group_chat(-4000123, "Building 7", type="group")
    new = updates.group_chat(-1009000000123, "Building 7")
    h.p.building_chat = old
    await h.setup_community()
    await h.file_appeal(text="Before the upgrade")

    await h.send(updates.migrate_to_chat_id(old, h.p.staff, new["id"]))
    await h.send(updates.migrate_from_chat_id(new, h.p.staff, old["id"]))  # Telegram sends both
    assert await h.services.registry.chat_context(old["id"]) is None
    ctx = await h.services.registry.chat_context(new["id"])
    assert ctx is not None and ctx.kind == "building"

    calls = await h.cmd(h.p.resident, new, "status")
    assert said(calls) and said(calls)[0].startswith("📊 Building 7: 1 open appeal (")
    calls = await h.cmd(h.p.resident, new, "appeal")
    assert sends(calls)[-1].buttons[0][1].endswith(f"?start=ap_{ctx.building.id}")
    h.p.building_chat = new
    appeal_id = await h.file_appeal(text="After the upgrade")
    assert any(f"New appeal #{appeal_id}" in t and "After the upgrade" in t for t in h.texts(h.p.uhead))
    calls = await h.cmd(h.p.staff, old, "status")  # the old id is no building any more
    assert said(calls) == [
        "This chat is not registered yet. Staff: use /invite in the staff chat, then /register CODE here."
    ]


async def test_chat_migrated_on_an_outbox_send_follows_the_new_id(h: Harness) -> None:
    await h.setup_community()
    new_staff = -1009000000001
    other = updates.group_chat(-1001000000050, "Building 9")
    h.rt.admins[other["id"]] = [h.p.staff]
    code = code_in(await h.cmd(h.p.staff, h.p.staff_chat, "invite"))
    h.rt.fail_next("sendMessage", h.p.staff_chat["id"], status=400, migrate_to_chat_id=new_staff)
    await h.cmd(h.p.staff, other, "register", code)  # the staff chat is told: an outbox message

    [rejected] = [c for c in h.rt.rejected if c.chat_id == h.p.staff_chat["id"]]
    assert rejected.error is not None and rejected.error["parameters"] == {"migrate_to_chat_id": new_staff}
    assert any("Building 9 was registered by Olga" in t for t in h.texts(new_staff))
    assert not any("Building 9" in t for t in h.texts(h.p.staff_chat))
    ctx = await h.services.registry.chat_context(new_staff)
    assert ctx is not None and ctx.kind == "staff"
    assert all(r["sent_at"] is not None for r in await outbox_rows(h))
    # the community now lives in the new chat
    h.rt.admins[new_staff] = [h.p.staff]
    calls = await h.cmd(h.p.staff, updates.group_chat(new_staff, "Staff"), "invite")
    assert "Building invite code" in said(calls)[0]


# --- the bot removed from a building chat --------------------------------------------------------
@pytest.mark.parametrize("gone", ["left", "kicked"])
async def test_bot_removed_from_a_building_chat_and_added_back(h: Harness, gone: str) -> None:
    await h.setup_community()
    bid = (await h.services.registry.chat_context(h.p.building_chat["id"])).building.id
    await h.send(updates.my_chat_member(h.p.building_chat, h.p.staff, "member", gone))
    assert any("The bot was removed from Building 7" in t for t in h.texts(h.p.staff_chat))

    chat = updates.private_chat(h.p.resident)
    calls = await h.send(updates.command(h.p.resident, chat, "start", f"ap_{bid}"))
    assert said(calls) == ["That building is not available."]
    assert not any("#" in t for t in h.texts(h.p.uhead))

    await h.send(updates.my_chat_member(h.p.building_chat, h.p.staff, gone, "member"))
    assert any("The bot is back in Building 7" in t for t in h.texts(h.p.staff_chat))
    appeal_id = await h.file_appeal()
    assert any(f"New appeal #{appeal_id}" in t for t in h.texts(h.p.uhead))


async def test_removed_while_a_resident_is_filing_refuses_the_description(h: Harness) -> None:
    await h.setup_community()
    bid = (await h.services.registry.chat_context(h.p.building_chat["id"])).building.id
    chat = updates.private_chat(h.p.resident)
    calls = await h.send(updates.command(h.p.resident, chat, "start", f"ap_{bid}"))
    calls = await h.press(h.p.resident, sends(calls)[-1], sends(calls)[-1].buttons[0][1])
    await h.press(h.p.resident, calls[-1], "f:c:problem")  # the prompt is edited in place
    await h.send(updates.bot_removed(h.p.building_chat, h.p.staff))
    calls = await h.text(h.p.resident, "The lift is broken")
    assert said(calls) == ["That building is not available."]


async def test_bot_removed_from_the_street_chat_tells_staff(h: Harness) -> None:
    await h.setup_community()
    await h.send(updates.bot_removed(h.p.street_chat, h.p.street))
    assert any("removed from the street office chat" in t for t in h.texts(h.p.staff_chat))
    assert await h.services.registry.chat_context(h.p.street_chat["id"]) is None


# --- flood control (429) -------------------------------------------------------------------------
async def test_429_on_an_outbox_send_is_retried_after_retry_after(h: Harness) -> None:
    await h.setup_community()
    h.rt.fail_next("sendMessage", h.p.uhead["id"], status=429, retry_after=5)
    appeal_id = await h.file_appeal()
    assert [(c.error or {}).get("parameters") for c in h.rt.rejected] == [{"retry_after": 5}]
    assert not any(f"#{appeal_id}" in t for t in h.texts(h.p.uhead))  # not sent, not lost

    h.clock.advance(timedelta(seconds=3))
    assert await h.app.bot_data.outbox().drain() == 0  # too early
    h.clock.advance(timedelta(seconds=3))
    assert await h.app.bot_data.outbox().drain() == 1
    assert sum(f"New appeal #{appeal_id}" in t for t in h.texts(h.p.uhead)) == 1
    assert await h.app.bot_data.outbox().drain() == 0  # exactly once


# --- 403: a unit head who blocked the bot -------------------------------------------------------
async def test_403_to_the_unit_head_escalates_at_once_to_the_building_head(h: Harness) -> None:
    await h.setup_community()
    h.rt.fail_next("sendMessage", h.p.uhead["id"], status=403)
    first = await h.file_appeal(text="The lift is broken")
    assert not await h.services.registry.is_reachable(h.p.uhead["id"])
    to_boris = h.texts(h.p.bhead)
    assert any(f"Appeal #{first} was passed to you (building head)" in t and "cannot be reached" in t for t in to_boris)
    assert any(
        f"The bot could not reach your unit head, so your appeal #{first} went to the building head instead" in t
        for t in h.texts(h.p.resident)
    )
    async with h.services.db.read() as tx:
        row = await tx.fetchone("SELECT level, assignee_user_id FROM appeals WHERE id = ?", (first,))
    assert (row["level"], row["assignee_user_id"]) == (1, h.p.bhead["id"])

    before = len(h.rt.rejected)
    second = await h.file_appeal(text="The light on floor 3 is out")
    assert len(h.rt.rejected) == before  # nobody tried Uma again
    assert any(f"New appeal #{second}" in t for t in h.texts(h.p.bhead))
    async with h.services.db.read() as tx:
        row = await tx.fetchone("SELECT level, assignee_user_id FROM appeals WHERE id = ?", (second,))
    assert (row["level"], row["assignee_user_id"]) == (1, h.p.bhead["id"])


async def test_private_block_marks_unreachable_and_start_makes_reachable(h: Harness) -> None:
    await h.setup_community()
    uma = h.p.uhead
    assert await h.services.registry.is_reachable(uma["id"])
    await h.send(updates.my_chat_member(updates.private_chat(uma), uma, "member", "kicked"))
    assert not await h.services.registry.is_reachable(uma["id"])
    first = await h.file_appeal(text="Blocked meanwhile")
    assert any(f"New appeal #{first}" in t for t in h.texts(h.p.bhead))  # routed past Uma
    assert not any(f"#{first}" in t for t in h.texts(uma))

    await h.send(updates.my_chat_member(updates.private_chat(uma), uma, "kicked", "member"))  # unblocked
    await h.cmd(uma, updates.private_chat(uma), "start")
    assert await h.services.registry.is_reachable(uma["id"])
    second = await h.file_appeal(text="Back again")
    assert any(f"New appeal #{second}" in t for t in h.texts(uma))


# --- hidden forwards: replies are routed by stored message links --------------------------------
async def test_reply_without_forward_info_is_routed_by_message_links(h: Harness) -> None:
    await h.setup_community()
    appeal_id = await h.file_appeal()
    await reply_as_head(h, appeal_id, "Which floor?")
    to_rita = bot_message(h, h.p.resident["id"], "Which floor?")
    assert "forward_origin" not in to_rita and to_rita["from"]["is_bot"]

    # Rita hides her forwards: her reply carries only reply_to_message (the bot's own message)
    calls = await h.send(updates.message(h.p.resident, updates.private_chat(h.p.resident), "The 5th", reply_to=to_rita))
    assert any(f"added to appeal #{appeal_id}" in t for t in said(calls)), said(calls)
    assert any(f"The resident added to appeal #{appeal_id}" in t and "The 5th" in t for t in h.texts(h.p.uhead))

    # and the head answers by replying to the relayed message, again with no forward data at all
    relayed = bot_message(h, h.p.uhead["id"], "The 5th")
    await h.send(updates.message(h.p.uhead, updates.private_chat(h.p.uhead), "Coming at 3 pm", reply_to=relayed))
    assert any("Coming at 3 pm" in t for t in h.texts(h.p.resident))


async def test_forward_metadata_alone_routes_nothing(h: Harness) -> None:
    await h.setup_community()
    appeal_id = await h.file_appeal()
    await reply_as_head(h, appeal_id, "Which floor?")
    before = len(h.texts(h.p.uhead))
    # a forwarded copy of the bot's message (hidden sender), not a reply: the bot does not guess
    fwd = updates.message_dict(
        h.p.resident,
        updates.private_chat(h.p.resident),
        text="💬 Reply on your appeal #1",
        forward_origin={"type": "hidden_user", "sender_user_name": "Unitbot", "date": 1_700_000_000},
    )
    calls = await h.send(updates.wrap("message", fwd))
    assert said(calls) == ["I kept your message. What is it?"]
    assert len(h.texts(h.p.uhead)) == before


# --- long texts ------------------------------------------------------------------------------------
def test_split_text_keeps_every_part_within_the_limit() -> None:
    assert split_text("short") == ["short"]
    lines = "\n".join(f"line {i} " + "x" * 90 for i in range(200))
    parts = split_text(lines)
    assert len(parts) > 1 and all(0 < len(p) <= 4096 for p in parts)
    assert "".join(parts) == lines
    huge = "y" * 10_000  # one line with no break at all
    parts = split_text(huge)
    assert [len(p) for p in parts] == [4096, 4096, 1808] and "".join(parts) == huge
    parts = split_text("head\n" + "z" * 5000 + "\ntail", limit=1000)
    assert all(len(p) <= 1000 for p in parts) and "".join(parts) == "head\n" + "z" * 5000 + "\ntail"


async def test_long_texts_are_split_into_several_messages(h: Harness) -> None:
    await h.setup_community()
    body = "The lift is broken. " * 150  # 3000 characters
    appeal_id = await h.file_appeal(text=body.strip())
    card = [c for c in sends(h.rt.calls, h.p.uhead["id"]) if "#" in (c.text or "")]
    assert card and all(len(c.text) <= 4096 for c in card)

    before = len(h.rt.calls)
    reply = ("We will fix it. " * 256)[:4090]  # within Telegram's 4096; the template pushes it over
    await reply_as_head(h, appeal_id, reply.strip())
    to_rita = sends(h.rt.calls[before:], h.p.resident["id"])
    assert len(to_rita) >= 2
    assert all(len(c.text) <= 4096 for c in to_rita)
    joined = "".join(c.text for c in to_rita)
    assert reply.strip() in joined
    assert to_rita[0].text.startswith(f"💬 Reply on your appeal #{appeal_id}")
    assert_calls_valid(h.rt.calls)


# --- the token never reaches the logs -------------------------------------------------------------
async def test_token_never_appears_in_logs(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await h.setup_community()
    h.rt.fail_next("sendMessage", h.p.uhead["id"], status=429, retry_after=5)
    appeal_id = await h.file_appeal()
    h.clock.advance(timedelta(seconds=10))
    await h.app.bot_data.outbox().drain()
    await h.cmd(h.p.resident, updates.private_chat(h.p.resident), "show", str(appeal_id))
    await h.press(h.p.resident, sends(h.rt.calls)[-1], "a:take:abc")
    assert caplog.records  # the flow did log
    secret = TOKEN.split(":", 1)[1]
    for record in caplog.records:
        text = record.getMessage() + (logging.Formatter().formatException(record.exc_info) if record.exc_info else "")
        assert secret not in text, record.name


def test_redact_secrets_filter_removes_the_token() -> None:
    flt = RedactSecrets([TOKEN])
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        "HTTP Request: POST %s",
        (f"https://api.telegram.org/bot{TOKEN}/sendMessage",),
        None,
    )
    assert flt.filter(record)
    assert TOKEN not in record.getMessage() and "<token>" in record.getMessage()
    try:
        raise RuntimeError(f"connect failed for https://api.telegram.org/bot{TOKEN}/getMe")
    except RuntimeError:
        import sys

        exc_record = logging.LogRecord("telegram", logging.ERROR, __file__, 1, "network", (), sys.exc_info())
    assert flt.filter(exc_record)
    formatted = logging.Formatter().format(exc_record)
    assert TOKEN not in formatted and "<token>" in formatted
    clean = logging.LogRecord("x", logging.INFO, __file__, 1, "nothing secret %d", (1,), None)
    assert flt.filter(clean) and clean.getMessage() == "nothing secret 1"


# --- every call the bot makes is a valid Bot API call ---------------------------------------------
async def test_every_call_of_a_full_flow_is_valid(h: Harness) -> None:
    await h.setup_community()
    appeal_id = await h.file_appeal()
    card = bot_message(h, h.p.uhead["id"], f"#{appeal_id}")
    await h.send(updates.callback_query(h.p.uhead, card, f"a:take:{appeal_id}"))
    await reply_as_head(h, appeal_id, "On it")
    await h.send(updates.callback_query(h.p.uhead, card, f"a:res:{appeal_id}"))
    await h.text(h.p.uhead, "Fixed the lift")
    resolved = bot_message(h, h.p.resident["id"], "marked resolved")
    await h.send(updates.callback_query(h.p.resident, resolved, f"a:ok:{appeal_id}"))
    await h.cmd(h.p.resident, updates.private_chat(h.p.resident), "myappeals")
    await h.cmd(h.p.resident, h.p.building_chat, "status")
    await h.cmd(h.p.resident, h.p.building_chat, "myunit")
    await h.cmd(h.p.staff, h.p.staff_chat, "sla")
    methods = {c.method for c in h.rt.calls}
    assert {"sendMessage", "answerCallbackQuery", "getChatAdministrators", "getChatMember"} <= methods
    assert not h.rt.rejected
    assert_calls_valid(h.rt.calls)


def test_flood_control_given_back_by_the_rate_limiter_is_logged_as_a_warning() -> None:
    """PTB's AIORateLimiter logs a 429 it gives back at ERROR with a traceback; the outbox handles it,
    so the bot's logging keeps it as a one-line warning (and every other error as it is)."""
    import logging as _logging

    from bot.logging import FloodControlIsNotAnError

    keep = FloodControlIsNotAnError()
    try:
        raise RuntimeError("429")
    except RuntimeError:
        import sys

        info = sys.exc_info()
    flood = _logging.LogRecord(
        "telegram.ext.AIORateLimiter", _logging.ERROR, "x", 1, "Rate limit hit after maximum of %d retries", (2,), info
    )
    other = _logging.LogRecord("telegram.ext.AIORateLimiter", _logging.ERROR, "x", 1, "something else", None, info)
    assert keep.filter(flood) and keep.filter(other)
    assert (flood.levelno, flood.levelname, flood.exc_info) == (_logging.WARNING, "WARNING", None)
    assert other.levelno == _logging.ERROR and other.exc_info is not None
