"""Residents' rights (issue 11): ``/mydata`` and ``/forgetme``. After erasure, a scan of every
table finds nothing personal of the resident, and the anonymous counts are unchanged."""

from __future__ import annotations

import json
from typing import Any

from storage.intake import IntakeRepo
from tests.harness import Harness, appeal_of, events_of
from tests.security_world import RESIDENT_TAG, SECRET, World, build_world
from tests.support import updates
from tests.support.botapi import Call
from tests.support.engines import on_postgres

REPLY = "We will fix it on Tuesday, Rita"
ADDED = "and the light is out"
COUNTS = {
    "appeals": "SELECT COUNT(*) FROM appeals",
    "rated or not": "SELECT COUNT(rating) FROM appeals",
    "appeal events (less withdrawn)": "SELECT COUNT(*) FROM appeal_events WHERE kind <> 'withdrawn'",
    "election votes": "SELECT COUNT(*) FROM election_votes",
    "election choices": "SELECT COUNT(candidate_id) FROM election_votes",
    "proposal votes": "SELECT COUNT(*) FROM proposal_votes",
    "residents": "SELECT COUNT(*) FROM residents",
    "media": "SELECT COUNT(*) FROM appeal_media",
}


async def scalar(h: Harness, sql: str) -> Any:
    async with h.services.db.read() as tx:
        return await tx.fetchval(sql)


async def counts(h: Harness) -> dict[str, int]:
    return {name: await scalar(h, sql) for name, sql in COUNTS.items()}


async def scan(h: Harness, marks: list[str]) -> list[str]:
    """Where any of ``marks`` is held: "table.column: 'mark'" for every table, row and column."""
    found: list[str] = []
    async with h.services.db.read() as tx:
        listing = (
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            if on_postgres()
            else "SELECT name FROM sqlite_master WHERE type = 'table'"
        )
        tables = [r[0] for r in await tx.fetchall(listing)]
        assert len(tables) > 40
        for table in tables:
            for row in await tx.fetchall(f"SELECT * FROM {table}"):
                for column in row.keys():  # noqa: SIM118 - a row iterates over values
                    value = str(row[column])
                    found += [f"{table}.{column}: {m!r}" for m in marks if m in value]
    return found


async def press_in(h: Harness, who: dict[str, Any], chat: dict[str, Any], data: str) -> list[Call]:
    """A button under some bot message in ``chat`` (the services check the ids against the chat)."""
    await h.cmd(who, chat, "help")
    mine = [key for key in h.rt.telegram.messages if key[0] == chat["id"]]
    message = h.rt.telegram.messages[max(mine, key=lambda key: key[1])]
    return await h.send(updates.callback_query(who, message, data))


async def a_resident_with_history(h: Harness) -> tuple[World, list[str]]:
    """Rita: an appeal (SECRET), a photo and added words, Uma's answer, an election vote, a proposal
    vote. Returns the world and the file id of her photo (its largest size)."""
    w = await build_world(h)
    rita, chat7 = h.p.resident, h.p.building_chat
    await press_in(h, rita, chat7, f"ev:{w.election}:{w.candidate}")
    await press_in(h, rita, chat7, f"pv:{w.proposal}:0")
    await press_in(h, rita, updates.private_chat(rita), f"f:add:{w.held}:{w.appeal}")
    photo = updates.photo_message(rita, updates.private_chat(rita), caption="see the ceiling")
    await h.send(photo)
    calls = await press_in(h, h.p.uhead, updates.private_chat(h.p.uhead), f"a:reply:{w.appeal}")
    await h.text(h.p.uhead, REPLY)
    file_ids = [photo["message"]["photo"][-1]["file_id"]]  # the largest size is what is kept
    assert calls is not None
    return w, file_ids


async def test_mydata_has_everything_but_the_choices(h: Harness) -> None:
    w, _ = await a_resident_with_history(h)
    rita = h.p.resident
    calls = await h.cmd(rita, updates.private_chat(rita), "mydata")
    [doc] = [c for c in calls if c.method == "sendDocument"]
    assert doc.chat_id == rita["id"]
    text = doc.files["document"].data.decode("utf-8")
    for expected in ("Name: Rita", "Username: @rita_r", "Building 7, unit 1", SECRET, f"#{w.appeal}"):
        assert expected in text, expected
    assert f"to you: {REPLY}" in text  # the head's words relayed to her
    assert "Best unit head election" in text and "Proposal «Paint the front door?»" in text
    assert "Uma" not in text  # whom she voted for is not hers to export (and not in the file)
    assert "2026-" not in text.split("Your appeals", 1)[1]  # dates as people say them
    # only in private
    group = await h.cmd(rita, h.p.building_chat, "mydata")
    assert not [c for c in group if c.method == "sendDocument"]


async def test_forgetme_erases_everything_personal_and_keeps_the_counts(h: Harness) -> None:
    w, file_ids = await a_resident_with_history(h)
    rita = h.p.resident
    before = await counts(h)
    marks = ["Rita", RESIDENT_TAG, SECRET[:9], ADDED, "see the ceiling", REPLY, *file_ids]
    held = await scan(h, marks)
    assert {m for m in marks if any(repr(m) in f for f in held)} == set(marks)  # the scan sees them all
    calls = await h.cmd(rita, updates.private_chat(rita), "forgetme")
    prompt = calls[-1]
    assert f"#{w.appeal}" in (prompt.text or "") and "withdrawn first" in (prompt.text or "")
    confirm = next(d for _, d in prompt.buttons if d.startswith("fg:y:"))
    # the updates kept for redelivery (webhook/polling intake): one handled, and the press itself
    press = updates.callback_query(rita, updates.message_dict(updates.bot_user(), updates.private_chat(rita)), confirm)
    said = updates.message(rita, updates.private_chat(rita), SECRET)
    async with h.services.db.write() as tx:
        await IntakeRepo(tx).store(
            [(said["update_id"], json.dumps(said)), (press["update_id"], json.dumps(press))], h.clock.now()
        )
        await IntakeRepo(tx).finish([said["update_id"]], h.clock.now())
    # pressed by someone else (her button forwarded): refused, nothing erased
    await h.press(h.p.uhead, prompt, confirm)
    assert await scalar(h, "SELECT first_name FROM users WHERE id = 1004") == "Rita"
    calls = await h.press(rita, prompt, confirm)
    assert any("personal data is erased" in (c.text or "") for c in calls)
    # the open appeal was withdrawn and its head told (without the words)
    appeal = await appeal_of(h, w.appeal)
    assert appeal.status == "closed" and (await events_of(h, w.appeal))[-1] == "withdrawn"
    told = [c.text or "" for c in calls if c.chat_id == h.p.uhead["id"]]
    assert any(f"#{w.appeal} was withdrawn" in t for t in told) and not any(SECRET[:9] in t for t in told)

    # every table, every row, every column: nothing that says who she is or what she wrote
    found = await scan(h, marks)
    assert not found, found
    async with h.services.db.read() as tx:
        kept = json.loads(
            await tx.fetchval("SELECT payload FROM received_updates WHERE update_id = ?", (press["update_id"],))
        )
    assert (
        kept["callback_query"]["from"]["id"] == rita["id"] and kept["callback_query"]["data"] == confirm
    )  # replayable
    after = await counts(h)
    assert after == before, (before, after)
    # the figures a head sees stay right: the building still counts its appeal
    async with h.services.db.read() as tx:
        assert await tx.fetchval("SELECT COUNT(*) FROM appeals WHERE resident_id = 1004") == 1


async def test_forgetme_is_refused_for_a_post_holder_and_a_forged_button(h: Harness) -> None:
    await h.setup_community()
    uma = h.p.uhead
    calls = await h.cmd(uma, updates.private_chat(uma), "forgetme")
    assert any("hand your post to someone else first" in (c.text or "") for c in calls)
    rita = h.p.resident
    await h.cmd(rita, updates.private_chat(rita), "start")
    calls = await press_in(h, rita, updates.private_chat(rita), "fg:y:9999999999:" + "0" * 20)
    assert any(c.method == "answerCallbackQuery" and "out of date" in (c.text or "") for c in calls)
    calls = await h.cmd(rita, updates.private_chat(rita), "forgetme")
    prompt = calls[-1]
    kept = await h.press(rita, prompt, "fg:n")
    assert any("Nothing was erased" in (c.text or "") for c in kept)
    assert await scalar(h, "SELECT first_name FROM users WHERE id = 1004") == "Rita"
    h.clock.advance(__import__("datetime").timedelta(hours=1))
    confirm = next(d for _, d in prompt.buttons if d.startswith("fg:y:"))
    late = await h.press(rita, prompt, confirm)
    assert any("expired" in (c.text or "") for c in late)
    assert await scalar(h, "SELECT first_name FROM users WHERE id = 1004") == "Rita"


async def test_forgetme_takes_the_wishes_off_the_board_and_their_words_out(h: Harness) -> None:
    from tests.test_wishes import VERA, join, post_wish, with_data

    await h.setup_community()
    rita = h.p.resident
    for person in (rita, VERA):
        await h.cmd(person, updates.private_chat(person), "start")
    await join(h, rita, "1")
    await join(h, VERA, "2")
    wish = await post_wish(h, "Please help me carry a bag of rice upstairs", name=True)
    post = with_data(h.rt.sent_to(h.p.building_chat["id"]), "wi:h:")
    await h.press(VERA, post, f"wi:h:{wish}")  # Vera takes it on
    calls = await h.cmd(rita, updates.private_chat(rita), "mydata")
    [doc] = [c for c in calls if c.method == "sendDocument"]
    assert f"#{wish}" in doc.files["document"].data.decode() and "bag of rice" in doc.files["document"].data.decode()

    marks = ["Rita", RESIDENT_TAG, "bag of rice"]
    assert {m for m in marks if any(repr(m) in f for f in await scan(h, marks))} == set(marks)
    prompt = (await h.cmd(rita, updates.private_chat(rita), "forgetme"))[-1]
    calls = await h.press(rita, prompt, next(d for _, d in prompt.buttons if d.startswith("fg:y:")))
    assert any(f"cancelled wish #{wish}" in (c.text or "") for c in calls if c.chat_id == VERA["id"])
    assert await scalar(h, f"SELECT state FROM wishes WHERE id = {wish}") == "cancelled"
    assert not await scan(h, marks)
