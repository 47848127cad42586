"""A Reply / Ask / Resolved press saves a pending action together with its prompt (outbox, same
transaction). An action whose prompt never reached the head does not take their next message, and
every action expires (issue 9: a crash between saving the action and sending its prompt left a
hidden action that relayed the head's next unrelated message to the resident)."""

from __future__ import annotations

from datetime import timedelta

from bot.models import ActionKind, UserInfo
from tests.harness import Harness, said
from tests.support import updates


def card(h: Harness, who: dict[str, object], contains: str) -> object:
    found = [c for c in h.rt.sent_to(who["id"]) if contains in (c.text or "")]  # type: ignore[arg-type]
    assert found, h.texts(who["id"])  # type: ignore[arg-type]
    return found[-1]


def relayed(h: Harness, text: str) -> bool:
    return any(text in t for t in h.texts(h.p.resident))


async def test_a_crash_after_saving_the_action_leaves_no_hidden_action(h: Harness) -> None:
    await h.setup_community()
    await h.file_appeal()
    uma = UserInfo(h.p.uhead["id"], h.p.uhead["first_name"])
    # the press is handled and committed, then the process dies before anything is sent
    await h.services.workflow.begin(uma, 1, ActionKind.REPLY)
    assert not [t for t in h.texts(h.p.uhead) if t.startswith("Write your reply")]
    # after the restart Uma writes something else: it must not go to the resident
    calls = await h.send(updates.message(h.p.uhead, updates.private_chat(h.p.uhead), "Buy milk"), drain=False)
    assert not relayed(h, "Buy milk")
    assert any("I kept your message" in text for text in said(calls))
    # the outbox delivers the prompt that was committed with the action; her answer then goes out
    await h.app.bot_data.outbox().drain()
    assert [t for t in h.texts(h.p.uhead) if t.startswith("Write your reply to the resident of appeal #1")]
    await h.text(h.p.uhead, "We are on it")
    assert relayed(h, "We are on it")


async def test_a_prompt_telegram_did_not_take_keeps_the_action_from_taking_messages(h: Harness) -> None:
    await h.setup_community()
    await h.file_appeal()
    h.rt.telegram.fail_next("sendMessage", h.p.uhead["id"], status=502)  # the prompt's send fails
    calls = await h.press(h.p.uhead, card(h, h.p.uhead, "New appeal #1"), "a:reply:1")  # type: ignore[arg-type]
    assert not [t for t in said(calls) if "went wrong" in t]
    await h.text(h.p.uhead, "Buy milk")
    assert not relayed(h, "Buy milk")
    h.clock.advance(timedelta(minutes=1))  # the outbox retries the prompt
    await h.app.bot_data.outbox().drain()
    assert [t for t in h.texts(h.p.uhead) if t.startswith("Write your reply to the resident of appeal #1")]
    await h.text(h.p.uhead, "We are on it")
    assert relayed(h, "We are on it")


async def test_a_pending_action_expires(h: Harness) -> None:
    await h.setup_community()
    await h.file_appeal()
    await h.press(h.p.uhead, card(h, h.p.uhead, "New appeal #1"), "a:reply:1")  # type: ignore[arg-type]
    assert h.texts(h.p.uhead)[-1].startswith("Write your reply to the resident of appeal #1")
    h.clock.advance(timedelta(hours=3))
    calls = await h.text(h.p.uhead, "Buy milk")
    assert not relayed(h, "Buy milk")
    assert any("I kept your message" in text for text in said(calls))
    async with h.services.db.read() as tx:
        assert await tx.fetchval("SELECT COUNT(*) FROM pending_actions") == 0
