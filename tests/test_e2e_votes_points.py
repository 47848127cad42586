"""End-to-end: the monthly election and the points / perks / ID card features through the real
``python -m bot`` process against the fake Bot API HTTP server on 127.0.0.1.

Time comes from a clock file (``UNITBOT_CLOCK_FILE``) that the test moves; the sweep runs every
0.3 s. Every wait is bounded (``server.wait_for``); nothing sleeps for a fixed time. The community
starts on Monday 2026-11-23 10:00 in Shanghai, so its first election is the one about November: it
opens on 2026-12-01 10:00 and closes on 2026-12-08 10:00 (elections are enabled by default, so the
setup through the process needs nothing extra; the in-process harness turns them off unless asked).
The in-process versions of these scenarios are tests/test_votes_handlers.py and
tests/test_points_handlers.py.
"""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
import zxingcpp
from PIL import Image

from tests.e2e_support import E2E, STEP_TIMEOUT, SWEEP_INTERVAL, Chat, holds, wait_until
from tests.harness import local
from tests.support import updates
from tests.support.botapi import Call

OPENS = local(2026, 12, 1, 10, 0)  # the election about November opens ...
CLOSES = local(2026, 12, 8, 10, 0)  # ... and closes
BACK_UP = local(2026, 12, 9, 11, 0)  # the bot was down over the closing moment, back a day later

KAI = updates.user(1024, "Kai", "kai_u")  # head of unit 2
PAVEL = updates.user(1021, "Pavel", "pavel_r")  # a resident of unit 1
MERCHANT = updates.user(1006, "Mo", "mo_shop")
BOT_LINK = f"https://t.me/{updates.BOT_USERNAME}?start="


def private(who: dict[str, Any]) -> dict[str, Any]:
    return updates.private_chat(who)


def png_of(chat: Chat, photo: Call) -> Image.Image:
    """The uploaded image of a sendPhoto call: a real PNG that Pillow can read."""
    data = chat.upload_of(photo)
    assert data.startswith(b"\x89PNG\r\n\x1a\n"), data[:16]
    Image.open(io.BytesIO(data)).verify()
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.width > 0 and image.height > 0
    return image


def qr_of(chat: Chat, photo: Call) -> str:
    found = zxingcpp.read_barcodes(png_of(chat, photo))
    assert found, f"no QR code in the image of {photo!r}"
    return str(found[0].text)


# --- the monthly election, with a restart over the closing moment ------------------------------------
def join(chat: Chat, person: dict[str, Any], unit: str) -> None:
    """The person picks their unit with /myunit in the building chat."""
    picker = chat.cmd(person, chat.p.building_chat, "myunit", expect="which unit do you live in")
    data = next(d for label, d in picker.buttons if label == unit)
    answer = chat.press_answer(person, picker, data)
    assert answer.params.get("text") == f"Saved: you live in unit {unit}.", answer


def wait_ballot(chat: Chat, since: int) -> Call:
    """The ballot the sweep posts in the building chat when the election opens."""
    ballot = chat.wait(
        lambda c: (
            c.method == "sendMessage"
            and c.chat_id == chat.p.building_chat["id"]
            and any(d.startswith("ev:") for _, d in c.buttons)
        ),
        since,
    )
    assert "Election of the best unit head — November 2026" in (ballot.text or ""), ballot
    return ballot


def vote(chat: Chat, who: dict[str, Any], ballot: Call, candidate: dict[str, Any]) -> Call:
    """``who`` presses ``candidate``'s ballot button; returns the answer (an alert only they see)."""
    data = next(d for _, d in ballot.buttons if d.startswith("ev:") and d.endswith(f":{candidate['id']}"))
    answer = chat.press_answer(who, ballot, data)
    assert answer.params.get("show_alert") is True, answer
    return answer


@pytest.mark.e2e
def test_monthly_election_through_the_real_process_closes_once_after_downtime(e2e: E2E) -> None:
    chat, p, clock = e2e.chat, e2e.chat.p, e2e.clock
    e2e.spawn("bot-1").start()
    chat.setup_community()
    # a second candidate: Kai heads unit 2; residents pick their units
    chat.cmd(
        p.staff,
        p.building_chat,
        "unithead",
        "2",
        reply_to=updates.message(KAI, p.building_chat, "hi"),
        expect="head of unit 2",
    )
    for person in (KAI, PAVEL, p.resident):
        chat.cmd(person, private(person), "start", expect="Hello")
    join(chat, PAVEL, "1")
    join(chat, p.uhead, "1")  # Uma heads unit 1 and lives there
    join(chat, p.resident, "2")

    # 2026-12-01 10:00: the sweep opens the election and posts the ballot in the building chat
    since = len(e2e.server.calls)
    clock.set(OPENS)
    ballot = wait_ballot(chat, since)
    assert {int(d.rsplit(":", 1)[1]) for _, d in ballot.buttons if d.startswith("ev:")} == {p.uhead["id"], KAI["id"]}
    chat.wait_text(p.staff_chat, "The election for November 2026 is open until Tue 8 Dec, 10:00", since)

    # residents press the ballot's buttons; only the voter sees an answer
    voting = len(e2e.server.calls)
    cast = vote(chat, p.resident, ballot, p.uhead)
    assert (cast.params.get("text") or "").startswith("✅ Your vote for Uma"), cast
    assert "Tue 8 Dec, 10:00" in (cast.params.get("text") or "")
    changed = vote(chat, p.resident, ballot, KAI)
    assert (changed.params.get("text") or "").startswith("🔁 Your vote now goes to Kai"), changed
    same = vote(chat, p.resident, ballot, KAI)
    assert (same.params.get("text") or "").startswith("You have already voted for Kai"), same
    refused = vote(chat, p.uhead, ballot, p.uhead)
    assert refused.params.get("text") == "You cannot vote for yourself.", refused
    outsider = vote(chat, p.street, ballot, KAI)
    assert (outsider.params.get("text") or "").startswith("Only registered residents can vote."), outsider
    assert (vote(chat, p.uhead, ballot, KAI).params.get("text") or "").startswith("✅ Your vote for Kai")
    assert (vote(chat, PAVEL, ballot, p.uhead).params.get("text") or "").startswith("✅ Your vote for Uma")
    # the monthly statistics report is due on the 1st as well (to the staff and street chats): not a vote's
    during = [c for c in e2e.server.calls[voting:] if "so there is no report to send" not in (c.text or "")]
    assert not [c for c in during if c.method in ("sendMessage", "sendPhoto", "editMessageText")], during

    # the bot is down over the closing moment; a new process on the same database catches up
    assert e2e.procs[0].stop() == 0, e2e.procs[0].logs()
    clock.set(BACK_UP)
    since = len(e2e.server.calls)
    e2e.spawn("bot-2").start()
    building_photo = chat.wait_photo(p.building_chat, "Best unit head November 2026 — Building 7", since)
    building_text = chat.wait_text(p.building_chat, "Best unit head — November 2026: results for Building 7", since)
    staff_photo = chat.wait_photo(p.staff_chat, "Best unit head November 2026 — whole community", since)
    staff_text = chat.wait_text(p.staff_chat, "Election of the best unit head — November 2026: results", since)
    calls = e2e.server.calls
    for photo, text in ((building_photo, building_text), (staff_photo, staff_text)):
        png_of(chat, photo)
        assert 0 < len(photo.text or "") <= 1024
        assert calls.index(photo) < calls.index(text)  # the chart, then its text version
        assert "Kai" in (text.text or "") and "Uma" in (text.text or ""), text
    assert "Turnout: 3/3" in (building_text.text or ""), building_text.text
    chat.wait_text(KAI, "Congratulations! You are number 1", since)

    # exactly once: a few more sweep intervals later nothing more was posted
    def once() -> bool:
        return (
            len(chat.photos(p.building_chat, since=since)) == 1
            and len(chat.photos(p.staff_chat, since=since)) == 1
            and len(chat.sent(p.building_chat, "results for Building 7", since)) == 1
            and len(chat.sent(p.staff_chat, "November 2026: results", since)) == 1
            and len(chat.sent(KAI, "Congratulations!", since)) == 1
        )

    holds(once, SWEEP_INTERVAL * 5, "the results were posted exactly once")
    e2e.procs[1].assert_alive()

    # the winner's points show the win
    points = chat.cmd(KAI, private(KAI), "points", expect="Your points")
    assert "Balance: 100" in (points.text or "") and "Monthly election win" in (points.text or ""), points.text
    e2e.finish()


# --- flood control while the results go out ---------------------------------------------------------
@pytest.mark.e2e
def test_results_held_back_by_flood_control_follow_their_chart_once(e2e: E2E) -> None:
    chat, p, clock = e2e.chat, e2e.chat.p, e2e.clock
    bot = e2e.spawn("bot-1").start()
    chat.setup_community()
    chat.cmd(p.resident, private(p.resident), "start", expect="Hello")
    join(chat, p.resident, "2")
    since = len(e2e.server.calls)
    clock.set(OPENS)
    ballot = wait_ballot(chat, since)
    assert (vote(chat, p.resident, ballot, p.uhead).params.get("text") or "").startswith("✅ Your vote for Uma")

    # Telegram refuses the building chat's text once (flood control): nothing sleeps on it, the outbox
    # puts that chat's messages off for retry_after and keeps the rest of the results for later
    e2e.server.fail_next("sendMessage", p.building_chat["id"], status=429, retry_after=1, times=1)
    since = len(e2e.server.calls)
    clock.set(CLOSES)
    photo = chat.wait_photo(p.building_chat, "Best unit head November 2026 — Building 7", since)
    png_of(chat, photo)
    chat.wait_text(p.staff_chat, "Election of the best unit head — November 2026: results", since)
    wait_until(lambda: len(e2e.server.rejected) == 1, "a 429 for the building chat", timeout=STEP_TIMEOUT * 2)
    wait_until(lambda: "flood control in its chat, retry in" in bot.logs(), "the outbox noted the retry")
    assert not chat.sent(p.building_chat, "results for Building 7", since)

    # once the retry is due, only the text goes out: the chart is not posted again
    clock.set(CLOSES + timedelta(minutes=1))
    text = chat.wait_text(p.building_chat, "Best unit head — November 2026: results for Building 7", since)
    assert "Uma" in (text.text or "") and "Turnout: 1/1" in (text.text or ""), text.text
    holds(
        lambda: (
            len(chat.photos(p.building_chat, since=since)) == 1
            and len(chat.sent(p.building_chat, "results for Building 7", since)) == 1
            and len(chat.photos(p.staff_chat, since=since)) == 1
        ),
        SWEEP_INTERVAL * 5,
        "the chart and its text were posted once each",
    )
    # the 429 is a one-line warning of the outbox, not an error, and no rate limiter slept on it
    logs = "\n".join(proc.logs() for proc in e2e.procs)
    assert "AIORateLimiter" not in logs, logs
    assert " ERROR " not in logs, logs
    e2e.finish(rejected=1)


# --- points, a perk redeemed and checked by scanning, the ID card -------------------------------------
@pytest.mark.e2e
def test_points_perk_and_card_through_the_real_process(e2e: E2E) -> None:
    chat, p = e2e.chat, e2e.chat.p
    e2e.spawn("bot-1").start()
    chat.setup_community()
    # staff: a merchant (replying to their message), a perk, points for the unit head
    chat.cmd(MERCHANT, private(MERCHANT), "start", expect="Hello, Mo")
    chat.cmd(
        p.staff,
        p.staff_chat,
        "merchant",
        "Mo's Cafe",
        reply_to=updates.message(MERCHANT, p.staff_chat, "hello"),
        expect="Mo's Cafe is now a merchant",
    )
    added = chat.cmd(
        p.staff,
        p.staff_chat,
        "perk",
        "add Food | @mo_shop | Free coffee | 5 | 3 | - | - | 1 Main St | One cup a day",
        expect="✅ Perk #",
    )
    perk = int((added.text or "").split("#", 1)[1].split()[0].rstrip(":"))
    since = chat.push(updates.command(p.staff, p.staff_chat, "award", "@uma_unit 12 helped at the fair"))
    chat.wait_text(p.staff_chat, "✅ Uma: +12 points (helped at the fair)", since)
    chat.wait_text(p.uhead, "You got +12 points", since)

    # the unit head: /perks -> category -> perk -> Redeem -> Yes, pressing the bot's buttons
    menu = chat.cmd(p.uhead, private(p.uhead), "perks", expect="choose a category")
    message_id = int(chat.message_of(menu)["message_id"])
    steps = [
        (menu.buttons[0][1], "🎁 Food:\n• Free coffee — 5 points, 3 left"),
        (f"pk:p:{perk}", "🎁 Free coffee\nOne cup a day\n🏪 Mo's Cafe"),
        (f"pk:r:{perk}", "Spend 5 points on “Free coffee”? Your balance: 12."),
        (f"pk:y:{perk}", "✅ Your code for “Free coffee”: "),
    ]
    for data, shows in steps:
        since, _ = chat.press_message(p.uhead, chat.stored_message(p.uhead, message_id), data)
        receipt = chat.wait_edit(p.uhead, message_id, shows, since)
    qr_photo = chat.wait_photo(p.uhead, "Code ", since)
    code = (qr_photo.text or "").split("Code ", 1)[1].split(",", 1)[0]
    assert len(code) == 11 and code[5] == "-", code
    assert code in (receipt.text or "") and "balance: 7" in (receipt.text or ""), receipt.text
    link = qr_of(chat, qr_photo)
    assert link == f"{BOT_LINK}rc_{code.replace('-', '')}"

    # the merchant scans it: Telegram sends /start rc_<CODE>; a second scan finds it used
    payload = link.split("start=", 1)[1]
    valid = chat.cmd(MERCHANT, private(MERCHANT), "start", payload, expect="✅ The code is valid and is now used.")
    assert "Hand over: Free coffee" in (valid.text or "") and "To: Uma" in (valid.text or ""), valid.text
    chat.cmd(MERCHANT, private(MERCHANT), "start", payload, expect="This code was already used")
    points = chat.cmd(p.uhead, private(p.uhead), "points", expect="Your points")
    assert "Balance: 7" in (points.text or ""), points.text

    # the ID card: its QR opens the bot with a card_ link that the merchant's /start verifies
    since = chat.push(updates.command(p.uhead, private(p.uhead), "card"))
    card = chat.wait_photo(p.uhead, "Your ID card for Sunny Side", since)
    width, height = png_of(chat, card).size
    assert width == 1000 and 500 <= height <= 800
    link = qr_of(chat, card)
    assert link.startswith(f"{BOT_LINK}card_"), link
    payload = link.split("start=", 1)[1]
    assert len(payload) <= 64
    genuine = chat.cmd(MERCHANT, private(MERCHANT), "start", payload, expect="Genuine and current")
    assert (genuine.text or "").startswith("✅ Genuine and current: Uma\nUnit head · Building 7, unit 1"), genuine.text
    e2e.finish()
