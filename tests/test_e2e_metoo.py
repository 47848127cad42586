"""End-to-end (issue 12): "Me too" and "Put to the residents" through the real ``python -m bot``
process against the fake Bot API HTTP server. Rita files a shared problem and agrees to post it; a
neighbour presses Me too in the building chat and hears when it is taken; the process is stopped
and started again in the middle; a major issue is put to the residents and the vote opens in the
building chat."""

from __future__ import annotations

import pytest

from tests.e2e_support import E2E
from tests.support import assert_calls_valid, updates

NADIA = updates.user(5001, "Nadia", "nadia_n")


@pytest.mark.e2e
def test_me_too_and_put_to_the_residents_through_the_real_process(e2e: E2E) -> None:
    chat, p = e2e.chat, e2e.chat.p
    bot = e2e.spawn("bot-a").start()
    chat.setup_community()
    rita = updates.private_chat(p.resident)

    units = chat.cmd(p.resident, rita, "start", "ap_1", expect="Which unit")
    prompt = int(chat.message_of(units)["message_id"])
    since = chat.press(p.resident, units, "f:u:1:1")
    categories = chat.wait_edit(rita, prompt, "What is it about", since)
    since = chat.press(p.resident, categories, "f:c:problem")
    describe = chat.wait_edit(rita, prompt, "Now describe it", since)
    answer = chat.press_answer(p.resident, describe, "mt:mark")
    assert "public title" in (answer.params.get("text") or "")
    since = chat.push(updates.message(p.resident, rita, "The lift in entrance 1 is broken"))
    chat.wait_text(rita, "received", since)
    offer = chat.wait_text(rita, "would be posted in the building chat", since)
    chat.wait_text(p.uhead, "New appeal #1", since)

    # a restart before Rita agrees: the offer's button still works, once
    assert bot.stop() == 0
    bot = e2e.spawn("bot-b").start()
    since = chat.press(p.resident, offer, "mt:post:1")
    post = chat.wait_text(p.building_chat, "A neighbour reported", since)
    assert "The lift in entrance 1 is broken" in (post.text or "") and "Rita" not in (post.text or "")

    chat.cmd(NADIA, updates.private_chat(NADIA), "start", expect="Hello")  # she has a chat with the bot
    counted = chat.press_answer(NADIA, post, "mt:join:1")
    assert (counted.params.get("text") or "").startswith("🙋 Counted")
    card = chat.wait_text(p.uhead, "New appeal #1")
    since = chat.press(p.uhead, card, "a:take:1")
    chat.wait_text(NADIA, "which you reported too, has been taken up", since)

    # a major issue, put to the residents by its unit head
    categories = chat.cmd(p.resident, rita, "start", "ap_1", expect="What is it about")  # her unit is known
    prompt = int(chat.message_of(categories)["message_id"])
    since = chat.press(p.resident, categories, "f:c:major")
    chat.wait_edit(rita, prompt, "Now describe it", since)
    since = chat.push(updates.message(p.resident, rita, "Replace the old lift"))
    major = chat.wait_text(p.uhead, "New appeal #2", since)
    since = chat.press(p.uhead, major, "mt:put:2")
    preview = chat.wait_text(p.uhead, "would be put to the building's residents", since)
    since = chat.press(p.uhead, preview, "mt:open:2")
    chat.wait_text(p.building_chat, "#2: Replace the old lift", since)
    chat.wait_text(rita, "Your appeal #2 is put to the building's residents", since)

    assert bot.stop() == 0
    assert_calls_valid(chat.server.calls)
    e2e.finish()
