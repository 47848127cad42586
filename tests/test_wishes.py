"""Micro-wishes (issue 12) through the real Application: writing a wish in private, the anonymous
post in the building chat, two volunteers at once, messages relayed, fulfilment with points once,
re-show / unit head / expiry by the sweep (moving the clock), a restart in the middle, bad input."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.app import open_storage
from tests.harness import Harness, code_in, make_harness, said
from tests.support import updates
from tests.support.botapi import Call

VERA = updates.user(3001, "Vera", "vera_v")  # a resident of unit 2: the volunteer
IGOR = updates.user(3002, "Igor", "igor_i")  # a resident of unit 3: the second volunteer
NINA = updates.user(3003, "Nina", "nina_n")  # registered nowhere


async def join(h: Harness, person: dict[str, Any], unit: str) -> None:
    chat = h.p.building_chat
    calls = await h.cmd(person, chat, "myunit")
    data = next(d for label, d in calls[-1].buttons if label.endswith(unit))
    await h.press(person, calls[-1], data)


async def town(h: Harness) -> None:
    await h.setup_community()
    for person in (h.p.resident, VERA, IGOR, NINA):
        await h.cmd(person, updates.private_chat(person), "start")
    await join(h, h.p.resident, "1")
    await join(h, VERA, "2")
    await join(h, IGOR, "3")


async def scalar(h: Harness, sql: str, params: tuple[Any, ...] = ()) -> Any:
    async with h.services.db.read() as tx:
        return await tx.fetchval(sql, params)


def with_data(calls: list[Call], prefix: str) -> Call:
    found = [c for c in calls if any(d and d.startswith(prefix) for _, d in c.buttons)]
    assert found, f"no message with a {prefix} button: {[c.text for c in calls]}"
    return found[-1]


def data_of(call: Call, prefix: str) -> str:
    return next(d for _, d in call.buttons if d and d.startswith(prefix))


async def post_wish(
    h: Harness, text: str = "Please help me carry a bag of rice upstairs", name: bool = False, days: int = 7
) -> int:
    rita = h.p.resident
    calls = await h.cmd(rita, updates.private_chat(rita), "wish")
    assert "What would you like help with" in (calls[-1].text or "")
    calls = await h.text(rita, text)
    calls = await h.press(rita, with_data(calls, "wi:t:"), f"wi:t:{days}")
    calls = await h.press(rita, with_data(calls, "wi:n:"), "wi:n:1" if name else "wi:n:0")
    post = with_data([c for c in calls if c.chat_id == h.p.building_chat["id"]], "wi:h:")
    return int(data_of(post, "wi:h:").split(":")[2])


async def test_a_wish_is_posted_without_the_name_claimed_once_relayed_and_fulfilled_with_points(h: Harness) -> None:
    await town(h)
    p = h.p
    wish = await post_wish(h)
    chat_texts = h.texts(p.building_chat)
    post = [t for t in chat_texts if f"#{wish}" in t][-1]
    assert "carry a bag of rice" in post and "Rita" not in post and "a resident of this building" in post
    assert any(f"Your wish #{wish} is posted" in t for t in h.texts(p.resident))
    post_call = with_data(h.rt.sent_to(p.building_chat["id"]), "wi:h:")

    # two volunteers press I'll help: Vera first wins, Igor is told it is taken
    first = await h.press(VERA, post_call, f"wi:h:{wish}")
    second = await h.press(IGOR, post_call, f"wi:h:{wish}")
    assert any("Thank you" in s for s in said(first))
    assert any("already offered to help" in s for s in said(second))
    double = await h.press(VERA, post_call, f"wi:h:{wish}")
    assert any("Thank you" in s for s in said(double)) and not [c for c in double if c.method == "sendMessage"]
    assert await scalar(h, "SELECT volunteer_id FROM wishes WHERE id = ?", (wish,)) == VERA["id"]
    assert any("Thank you for helping with wish" in t for t in h.texts(VERA))
    assert not any("Thank you for helping" in t for t in h.texts(IGOR))
    claimed = with_data(h.rt.sent_to(p.resident["id"]), "wi:ok:")
    assert "Vera offered to help" in (claimed.text or "") and "+" not in (claimed.text or "").split("\n")[0][:3]

    # the resident writes to the volunteer through the bot; the volunteer answers
    await h.press(p.resident, claimed, f"wi:w:{wish}")
    await h.text(p.resident, "Come at five, flat 302")
    relayed = with_data(h.rt.sent_to(VERA["id"]), "wi:w:")
    assert "Come at five, flat 302" in (relayed.text or "") and "resident of wish" in (relayed.text or "")
    await h.press(VERA, relayed, f"wi:w:{wish}")
    await h.text(VERA, "On my way")
    assert any("On my way" in t for t in h.texts(p.resident))

    # the volunteer says done; the resident confirms (twice: points once)
    helper = with_data(h.rt.sent_to(VERA["id"]), "wi:d:")
    await h.press(VERA, helper, f"wi:d:{wish}")
    ask = with_data(h.rt.sent_to(p.resident["id"]), "wi:no:")
    done = await h.press(p.resident, ask, f"wi:ok:{wish}")
    again = await h.press(p.resident, ask, f"wi:ok:{wish}")
    assert any("closed as fulfilled" in s for s in said(done))
    assert any("already marked as fulfilled" in s for s in said(again))
    assert any("Points earned: 5" in t for t in h.texts(VERA))
    assert (
        await scalar(h, "SELECT COUNT(*) FROM ledger WHERE reason = 'wish.fulfilled' AND user_id = ?", (VERA["id"],))
        == 1
    )
    assert await scalar(h, "SELECT balance FROM balances WHERE user_id = ?", (VERA["id"],)) == 5
    assert any(f"#{wish} is fulfilled" in t for t in h.texts(p.building_chat))

    # /wishes in the building lists nothing open; staff see the figures
    listed = await h.cmd(p.resident, p.building_chat, "wishes")
    assert "No open micro-wishes" in (listed[-1].text or "")
    figures = await h.cmd(p.staff, p.staff_chat, "wishes")
    assert "1 fulfilled" in (figures[-1].text or "") and "100%" in (figures[-1].text or "")


async def test_bad_input_non_resident_own_wish_empty_and_buttons_elsewhere(h: Harness) -> None:
    await town(h)
    p = h.p
    refused = await h.cmd(NINA, updates.private_chat(NINA), "wish")
    assert "Only registered residents" in (refused[-1].text or "")
    assert await scalar(h, "SELECT COUNT(*) FROM wishes") == 0
    in_group = await h.cmd(p.resident, p.building_chat, "wish")
    assert in_group[-1].buttons and "private chat" in (in_group[-1].text or "")
    wish = await post_wish(h, "Read me the newspaper", name=True)
    # a double tap on the last button: the same answer, one wish
    last = with_data(h.rt.sent_to(p.resident["id"]), "wi:n:")
    twice = await h.press(p.resident, last, "wi:n:1")
    assert any(f"Your wish #{wish} is posted" in (c.text or "") for c in twice)
    assert await scalar(h, "SELECT COUNT(*) FROM wishes") == 1
    assert any("from Rita" in t for t in h.texts(p.building_chat))
    post_call = with_data(h.rt.sent_to(p.building_chat["id"]), "wi:h:")
    own = await h.press(p.resident, post_call, f"wi:h:{wish}")
    assert any("your own wish" in s for s in said(own))
    stranger = await h.press(NINA, post_call, f"wi:h:{wish}")
    assert any("Only registered residents and heads" in s for s in said(stranger))
    # I'll help pressed in a private chat (a forged button): unknown, nothing claimed
    anchor = (await h.cmd(VERA, updates.private_chat(VERA), "help"))[-1]
    forged = await h.press(VERA, anchor, f"wi:h:{wish}")
    assert any("not known here" in s for s in said(forged))
    assert await scalar(h, "SELECT state FROM wishes WHERE id = ?", (wish,)) == "open"
    # a confirmation by someone who is not the resident
    assert any("Only the resident" in s for s in said(await h.press(VERA, anchor, f"wi:ok:{wish}")))
    # an empty voice-less draft text and a too-long one
    await h.cmd(p.resident, updates.private_chat(p.resident), "wish")
    long = await h.text(p.resident, "x" * 600)
    assert any("under 500 characters" in s for s in said(long))


async def test_the_sweep_reshows_tells_the_unit_head_and_expires_once(h: Harness) -> None:
    await town(h)
    p = h.p
    wish = await post_wish(h, "Fix my bicycle bell", days=14)
    start = h.clock.now()
    h.clock.set(start + timedelta(days=3, hours=1))
    calls = await h.sweep()
    assert any("Still waiting for a helper" in (c.text or "") for c in calls if c.chat_id == p.building_chat["id"])
    assert not [c for c in await h.sweep() if c.method == "sendMessage"]  # nothing twice
    h.clock.set(start + timedelta(days=7, hours=1))
    calls = await h.sweep()
    to_head = [c for c in calls if c.chat_id == p.uhead["id"]]
    assert to_head and "for a week" in (to_head[-1].text or "") and "Rita" not in (to_head[-1].text or "")
    assert not any("expired" in (c.text or "") for c in calls)
    h.clock.set(start + timedelta(days=14, hours=1))
    calls = await h.sweep()  # the wanted-by date (14 days) passed: expired
    assert any(f"wish #{wish} has expired" in (c.text or "") for c in calls if c.chat_id == p.resident["id"])
    assert await scalar(h, "SELECT state FROM wishes WHERE id = ?", (wish,)) == "expired"
    assert not [c for c in await h.sweep() if c.method == "sendMessage"]
    post_call = with_data(h.rt.sent_to(p.building_chat["id"]), "wi:h:")
    late = await h.press(VERA, post_call, f"wi:h:{wish}")
    assert any("no longer open" in s for s in said(late))


async def test_a_restart_in_the_middle_of_writing_and_of_a_claim_loses_nothing(h: Harness, tmp_path: Path) -> None:
    await town(h)
    p = h.p
    rita = p.resident
    await h.cmd(rita, updates.private_chat(rita), "wish")
    calls = await h.text(rita, "Walk my dog on Saturday")
    when = with_data(calls, "wi:t:")
    h2, app2 = await make_harness(tmp_path, h.clock.now())
    async with app2:
        await open_storage(app2)
        try:
            h2.p = h.p
            calls = await h2.press(rita, when, "wi:t:3")
            calls = await h2.press(rita, with_data(calls, "wi:n:"), "wi:n:0")
            post = with_data([c for c in calls if c.chat_id == p.building_chat["id"]], "wi:h:")
            wish = int(data_of(post, "wi:h:").split(":")[2])
            # the claim is pressed on the new process and again on the old one (a replay): one claim
            await h2.press(VERA, post, f"wi:h:{wish}")
            replay = await h.press(VERA, post, f"wi:h:{wish}")
            assert any("Thank you" in s for s in said(replay))  # her own double tap: thanked, nothing resent
            assert await scalar(h2, "SELECT COUNT(*) FROM outbox WHERE template = 'wish.you_help'") == 1
            assert "Walk my dog" in (await scalar(h2, "SELECT body FROM wishes WHERE id = ?", (wish,)))
        finally:
            await app2.bot_data.outbox().wait_idle()
            await h2.services.db.close()


async def test_give_up_reposts_and_cancel_tells_the_volunteer(h: Harness) -> None:
    await town(h)
    p = h.p
    wish = await post_wish(h, "Help me install a phone app")
    post_call = with_data(h.rt.sent_to(p.building_chat["id"]), "wi:h:")
    await h.press(VERA, post_call, f"wi:h:{wish}")
    helper = with_data(h.rt.sent_to(VERA["id"]), "wi:q:")
    await h.press(VERA, helper, f"wi:q:{wish}")
    assert any("needs a new helper" in t for t in h.texts(p.building_chat))
    assert any("cannot help with wish" in t for t in h.texts(p.resident))
    await h.press(IGOR, post_call, f"wi:h:{wish}")
    assert await scalar(h, "SELECT volunteer_id FROM wishes WHERE id = ?", (wish,)) == IGOR["id"]
    mine = with_data(h.rt.sent_to(p.resident["id"]), "wi:x:")
    await h.press(p.resident, mine, f"wi:x:{wish}")
    assert any(f"cancelled wish #{wish}" in t for t in h.texts(IGOR))
    assert await scalar(h, "SELECT COUNT(*) FROM ledger WHERE reason = 'wish.fulfilled'") == 0


async def test_the_keyboard_button_starts_a_wish_in_every_language(h: Harness) -> None:
    await town(h)
    for button in ("🎁 A wish", "🎁 微心愿", "🎁 Желание"):  # the answer is in Rita's own language
        calls = await h.text(h.p.resident, button)
        assert any("What would you like help with" in (c.text or "") for c in calls), button
    assert await scalar(h, "SELECT COUNT(*) FROM wishes WHERE state = 'draft'") == 1  # one draft, started anew


async def test_an_appeal_filed_after_a_wish_was_begun_gets_the_description(h: Harness) -> None:
    """The latest intent wins: /wish, then filing an appeal; the description is the appeal's."""
    await town(h)
    rita = h.p.resident
    await h.cmd(rita, updates.private_chat(rita), "wish")
    h.clock.set(h.clock.now() + timedelta(seconds=5))
    appeal = await h.file_appeal(text="The lift is broken again")
    assert appeal > 0
    assert await scalar(h, "SELECT body FROM wishes WHERE resident_id = ?", (rita["id"],)) == ""
    # and the other way round: a wish begun after the filing started takes the next words
    await h.cmd(rita, updates.private_chat(rita), "wish")
    calls = await h.text(rita, "Water my plants")
    assert any("By when?" in (c.text or "") for c in calls)


async def test_a_photo_wish_is_copied_to_the_chat_and_the_helper_and_a_night_claim_waits_for_morning(
    h: Harness,
) -> None:
    await town(h)
    p = h.p
    rita = p.resident
    await h.cmd(rita, updates.private_chat(rita), "wish")
    calls = await h.send(updates.photo_message(rita, updates.private_chat(rita), caption="This lamp needs a bulb"))
    calls = await h.press(rita, with_data(calls, "wi:t:"), "wi:t:3")
    calls = await h.press(rita, with_data(calls, "wi:n:"), "wi:n:0")
    in_chat = [c for c in calls if c.chat_id == p.building_chat["id"]]
    assert any(c.method == "copyMessage" for c in in_chat) and any(
        "lamp needs a bulb" in (c.text or "") for c in in_chat
    )
    post = with_data(in_chat, "wi:h:")
    wish = int(data_of(post, "wi:h:").split(":")[2])
    h.clock.set(h.clock.now().replace(hour=23))  # the claim at night: the helper is answered at once,
    calls = await h.press(VERA, post, f"wi:h:{wish}")
    assert any(c.method == "copyMessage" and c.chat_id == VERA["id"] for c in calls)
    assert any("Thank you for helping" in (c.text or "") for c in calls if c.chat_id == VERA["id"])
    assert not [c for c in calls if c.chat_id == rita["id"]]  # the resident in the morning
    h.clock.set(h.clock.now() + timedelta(hours=10))
    await h.app.bot_data.outbox().drain()
    assert any("Vera offered to help" in t for t in h.texts(rita))
    # a voice message to the helper is copied too
    claimed = with_data(h.rt.sent_to(rita["id"]), "wi:w:")
    await h.press(rita, claimed, f"wi:w:{wish}")
    calls = await h.send(updates.voice_message(rita, updates.private_chat(rita)))
    assert any(c.method == "copyMessage" and c.chat_id == VERA["id"] for c in calls)


async def test_a_resident_of_two_buildings_picks_one_and_only_theirs(h: Harness) -> None:
    await town(h)
    p = h.p
    chat8 = updates.group_chat(-1001000000008, "Building 8")
    h.rt.telegram.admins[chat8["id"]] = [p.staff]
    await h.cmd(p.staff, chat8, "register", code_in(await h.cmd(p.staff, p.staff_chat, "invite")))
    await h.cmd(p.staff, chat8, "units", "1-2")
    calls = await h.cmd(p.resident, chat8, "myunit")
    await h.press(p.resident, calls[-1], next(d for label, d in calls[-1].buttons if label.endswith("2")))
    rita = updates.private_chat(p.resident)
    pick = (await h.cmd(p.resident, rita, "wish"))[-1]
    choices = [d for _, d in pick.buttons if d.startswith("wi:b:")]
    assert len(choices) == 2 and "Which building" in (pick.text or "")
    ctx8 = await h.services.registry.chat_context(chat8["id"])
    calls = await h.press(p.resident, pick, f"wi:b:{ctx8.building.id}")
    assert "Building 8" in (calls[-1].text or "")
    wish = await _finish_wish(h, "Lend me a ladder")
    assert any(f"#{wish}" in t for t in h.texts(chat8)) and not any(f"#{wish}" in t for t in h.texts(p.building_chat))
    # a building she does not live in: refused
    refused = await h.press(VERA, pick, f"wi:b:{ctx8.building.id}")
    assert any("Only registered residents" in s for s in said(refused))


async def _finish_wish(h: Harness, text: str) -> int:
    rita = h.p.resident
    calls = await h.text(rita, text)
    calls = await h.press(rita, with_data(calls, "wi:t:"), "wi:t:7")
    calls = await h.press(rita, with_data(calls, "wi:n:"), "wi:n:0")
    post = with_data([c for c in calls if isinstance(c.chat_id, int) and c.chat_id < 0], "wi:h:")
    return int(data_of(post, "wi:h:").split(":")[2])


async def test_a_write_button_pressed_long_ago_takes_no_message(h: Harness) -> None:
    await town(h)
    p = h.p
    wish = await post_wish(h, "Help me fill in a form")
    await h.press(VERA, with_data(h.rt.sent_to(p.building_chat["id"]), "wi:h:"), f"wi:h:{wish}")
    await h.press(p.resident, with_data(h.rt.sent_to(p.resident["id"]), "wi:w:"), f"wi:w:{wish}")
    h.clock.set(h.clock.now() + timedelta(hours=2))
    await h.text(p.resident, "My knee hurts since Monday")
    assert not any("knee" in t for t in h.texts(VERA))
    assert await scalar(h, "SELECT COUNT(*) FROM wish_writers") == 0
