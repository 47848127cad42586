"""The monthly election and residents' proposals end to end in Telegram: the real PTB Application with
the recording fake Bot API (fixture ``h``), residents pressing ballot buttons, the sweep opening and
closing on ``h.clock`` (nothing sleeps).

Two buildings: "Building 7" (units 1-4; unit heads Uma of unit 1 and Kai of unit 2; residents Pavel
and Uma in unit 1, Rita in unit 2) and "Building 9" (units 1-2; unit head Vera of unit 1; residents
Zoe in unit 1, Yan in unit 2). The election about November opens on 2026-12-01 10:00 and closes on
2026-12-08 10:00 (Shanghai).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.app import open_storage
from tests.harness import Harness, code_in, local, make_harness, said
from tests.support import updates
from tests.support.api_schema import assert_calls_valid
from tests.support.botapi import Call

KAI = updates.user(1024, "Kai", "kai_u")
VERA = updates.user(1013, "Vera", "vera_u")
PAVEL = updates.user(1021, "Pavel", "pavel_r")
YAN = updates.user(1022, "Yan", "yan_r")
ZOE = updates.user(1023, "Zoe", "zoe_r")
CHAT9 = updates.group_chat(-1001000000019, "Building 9")
OPENS = local(2026, 12, 1, 10, 0)
CLOSES = local(2026, 12, 8, 10, 0)


@dataclass
class Town:
    h: Harness
    community_id: int
    b7: int
    b9: int

    @property
    def chat7(self) -> dict[str, Any]:
        return self.h.p.building_chat

    async def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        async with self.h.services.db.read() as tx:
            return await tx.fetchval(sql, params)

    async def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        async with self.h.services.db.read() as tx:
            return [tuple(r) for r in await tx.fetchall(sql, params)]


async def join(h: Harness, person: dict[str, Any], chat: dict[str, Any], unit: str) -> None:
    """The person picks their unit with /myunit in the building chat."""
    calls = await h.cmd(person, chat, "myunit")
    data = next(d for label, d in calls[-1].buttons if label.endswith(unit) or label == unit)
    answer = await h.press(person, calls[-1], data)
    assert [c for c in answer if c.method == "answerCallbackQuery"]


async def build_town(h: Harness) -> Town:
    p = h.p
    await h.setup_community(elections=True)
    # unit 2 of building 7 gets its own head
    await h.cmd(p.staff, p.building_chat, "unithead", "2", reply_to=updates.message(KAI, p.building_chat, "hi"))
    # a second building chat, registered with a new invite code
    h.rt.telegram.admins[CHAT9["id"]] = [p.staff]
    code = code_in(await h.cmd(p.staff, p.staff_chat, "invite"))
    await h.cmd(p.staff, CHAT9, "register", code)
    await h.cmd(p.staff, CHAT9, "units", "1-2")
    await h.cmd(p.staff, CHAT9, "unithead", "1", reply_to=updates.message(VERA, CHAT9, "hi"))
    for person in (KAI, VERA, PAVEL, YAN, ZOE, p.resident, p.uhead):
        await h.cmd(person, updates.private_chat(person), "start")
    await join(h, PAVEL, p.building_chat, "1")
    await join(h, p.uhead, p.building_chat, "1")
    await join(h, p.resident, p.building_chat, "2")
    await join(h, ZOE, CHAT9, "1")
    await join(h, YAN, CHAT9, "2")
    ctx7 = await h.services.registry.chat_context(p.building_chat["id"])
    ctx9 = await h.services.registry.chat_context(CHAT9["id"])
    return Town(h, ctx7.community.id, ctx7.building.id, ctx9.building.id)


def photos(calls: list[Call], chat_id: int) -> list[Call]:
    return [c for c in calls if c.method == "sendPhoto" and c.chat_id == chat_id]


def ballot_of(calls: list[Call], chat_id: int) -> Call:
    found = [c for c in calls if c.chat_id == chat_id and any(d.startswith("ev:") for _, d in c.buttons)]
    assert found, f"no ballot in {chat_id}: {calls}"
    return found[-1]


def vote_data(ballot: Call, person: dict[str, Any]) -> str:
    """The ballot button for ``person`` (``ev:<election>:<candidate user id>``)."""
    return next(d for _, d in ballot.buttons if d.startswith("ev:") and d.endswith(f":{person['id']}"))


def candidates(ballot: Call) -> set[int]:
    return {int(d.rsplit(":", 1)[1]) for _, d in ballot.buttons if d.startswith("ev:")}


def expect(h: Harness, key: str, **params: Any) -> str:
    """The English text of ``key`` as a callback answer shows it (at most 200 characters)."""
    return str(h.services.catalogs.translator("en")(key, **params))[:200]


def alerts(calls: list[Call]) -> list[str]:
    return [c.params.get("text", "") for c in calls if c.method == "answerCallbackQuery"]


async def open_election(h: Harness) -> list[Call]:
    h.clock.set(OPENS)
    return await h.sweep()


# --- a whole monthly election ----------------------------------------------------------------------
async def test_monthly_election_across_two_buildings(h: Harness) -> None:
    town = await build_town(h)
    p = h.p
    opened = await open_election(h)
    ballot7, ballot9 = ballot_of(opened, p.building_chat["id"]), ballot_of(opened, CHAT9["id"])
    # each building's ballot lists its own unit heads
    assert candidates(ballot7) == {p.uhead["id"], KAI["id"]}
    assert candidates(ballot9) == {VERA["id"]}

    before = len(h.rt.calls)
    # Rita votes for Uma, then changes to Kai; a double tap changes nothing
    first = await h.press(p.resident, ballot7, vote_data(ballot7, p.uhead))
    changed = await h.press(p.resident, ballot7, vote_data(ballot7, KAI))
    again = await h.press(p.resident, ballot7, vote_data(ballot7, KAI))
    for calls in (first, changed, again):
        answer = [c for c in calls if c.method == "answerCallbackQuery"]
        assert len(answer) == 1 and answer[0].params.get("show_alert") is True
    assert len({alerts(first)[0], alerts(changed)[0], alerts(again)[0]}) == 3  # cast / changed / same
    # Uma may not vote for herself, but for Kai; Pavel votes Uma; Yan votes Vera in building 9
    refused = await h.press(p.uhead, ballot7, vote_data(ballot7, p.uhead))
    assert alerts(refused) == [expect(h, "error.vote_self")]
    await h.press(p.uhead, ballot7, vote_data(ballot7, KAI))
    await h.press(PAVEL, ballot7, vote_data(ballot7, p.uhead))
    await h.press(YAN, ballot9, vote_data(ballot9, VERA))
    # another building's candidate, and somebody who is no resident
    other = await h.press(YAN, ballot7, vote_data(ballot7, KAI))
    outsider = await h.press(p.street, ballot7, vote_data(ballot7, KAI))
    assert alerts(other) == [expect(h, "error.vote_other_building", name="Kai", building="Building 7")]
    assert alerts(outsider) == [expect(h, "error.vote_not_resident")]
    # secret ballot: voting posted nothing in any chat, it only answered the voters
    during = h.rt.calls[before:]
    assert {c.method for c in during} == {"answerCallbackQuery"}, during

    # /vote shows the ballot again; staff see live turnout per building
    again_ballot = await h.cmd(PAVEL, p.building_chat, "vote")
    assert vote_data(ballot_of(again_ballot, p.building_chat["id"]), KAI)
    status = (await h.cmd(p.staff, p.staff_chat, "election"))[-1].text or ""
    assert "2026-11" in status and "3/3" in status and "1/2" in status, status

    # closing: results with a chart and a text version in both buildings and the staff chat
    h.clock.advance(CLOSES - h.clock.now())
    closed = await h.sweep()
    for chat_id in (p.building_chat["id"], CHAT9["id"], p.staff_chat["id"]):
        shots = photos(closed, chat_id)
        assert len(shots) == 1, (chat_id, closed)
        png = next(iter(shots[0].files.values())).data
        assert Image.open(io.BytesIO(png)).format == "PNG"
        assert 0 < len(shots[0].params.get("caption", "")) <= 1024
        after = closed[closed.index(shots[0]) + 1 :]
        assert [c for c in after if c.method == "sendMessage" and c.chat_id == chat_id], "no text version"
    text7 = [c.text for c in closed if c.method == "sendMessage" and c.chat_id == p.building_chat["id"]]
    assert any("Kai" in (t or "") and "Uma" in (t or "") for t in text7), text7

    # the late vote is refused and changes nothing
    late = await h.press(YAN, ballot9, vote_data(ballot9, VERA))
    assert alerts(late) == [expect(h, "error.vote_closed", period="2026-11")]
    results = await town.rows(
        "SELECT building_id, candidate_id, votes, rank FROM election_results ORDER BY building_id, rank, candidate_id"
    )
    community_rows = [(c, v, r) for b, c, v, r in results if b == 0]
    assert community_rows[0] == (KAI["id"], 2, 1)
    assert sorted(community_rows[1:]) == [(p.uhead["id"], 1, 2), (VERA["id"], 1, 2)]
    # ballots are secret after closing: only who took part is kept
    assert await town.scalar("SELECT COUNT(*) FROM election_votes WHERE candidate_id IS NOT NULL") == 0
    # awards for the winners, points for the monthly win (rank 1 only)
    awards = await town.rows("SELECT user_id, rank FROM awards WHERE kind = 'monthly_best' ORDER BY rank, user_id")
    assert awards == sorted([(KAI["id"], 1), (p.uhead["id"], 2), (VERA["id"], 2)], key=lambda a: (a[1], a[0]))
    points = await town.rows("SELECT user_id, amount FROM ledger WHERE reason = 'election.win'")
    assert [u for u, _ in points] == [KAI["id"]] and points[0][1] > 0

    # /results repeats the building's results with the chart
    shown = await h.cmd(PAVEL, p.building_chat, "results")
    assert photos(shown, p.building_chat["id"]) and any("Kai" in (c.text or "") for c in shown)


async def test_every_recorded_call_is_valid(h: Harness) -> None:
    town = await build_town(h)
    p = h.p
    opened = await open_election(h)
    ballot7 = ballot_of(opened, p.building_chat["id"])
    await h.press(p.resident, ballot7, vote_data(ballot7, KAI))
    await h.press(p.uhead, ballot7, vote_data(ballot7, p.uhead))  # refused: self-vote
    await h.cmd(p.staff, p.staff_chat, "election")
    await h.cmd(p.staff, p.staff_chat, "election", "set")
    await h.cmd(p.staff, p.staff_chat, "propose", "Paint the fence? | Green | Blue")
    proposal = ballot_of_proposal(h.rt.calls, p.building_chat["id"])
    await h.press(p.resident, proposal, proposal.buttons[0][1])
    await h.cmd(PAVEL, p.building_chat, "decisions")
    h.clock.advance(CLOSES - h.clock.now())
    await h.sweep()
    await h.cmd(p.staff, p.staff_chat, "results")
    await h.cmd(PAVEL, p.building_chat, "results")
    assert town.community_id and h.rt.calls_of("sendPhoto")
    assert_calls_valid(h.rt.calls)


# --- paging, staff commands ------------------------------------------------------------------------
async def test_long_ballot_pages_and_staff_controls(h: Harness) -> None:
    town = await build_town(h)
    p = h.p
    await h.cmd(p.staff, p.staff_chat, "election", "set page_size 1")
    opened = await open_election(h)
    ballot7 = ballot_of(opened, p.building_chat["id"])
    nav = [d for _, d in ballot7.buttons if d.startswith("ep:")]
    assert nav == [f"ep:{await current_id(town)}:{town.b7}:1"]
    paged = await h.press(PAVEL, ballot7, nav[0])
    edit = [c for c in paged if c.method == "editMessageText"]
    assert edit and any(d.startswith("ev:") for _, d in edit[0].buttons)
    # staff: extend, repost, bad input
    ext = await h.cmd(p.staff, p.staff_chat, "election", "extend 2026-12-10 18:00")
    staff_said = [c.text or "" for c in ext if c.chat_id == p.staff_chat["id"] and c.method == "sendMessage"]
    assert any("2026-12-10 18:00" in text for text in staff_said), staff_said
    assert await town.scalar("SELECT closes_at FROM elections WHERE state = 'open'") == int(
        local(2026, 12, 10, 18, 0).timestamp()
    )
    assert [c for c in ext if c.chat_id == CHAT9["id"]]  # the buildings are told
    reposted = await h.cmd(p.staff, p.staff_chat, "election", "repost")
    assert ballot_of(reposted, p.building_chat["id"]) and ballot_of(reposted, CHAT9["id"])
    bad = await h.cmd(p.staff, p.staff_chat, "election", "extend tomorrow")
    assert said(bad) and "Traceback" not in said(bad)[-1]
    # a resident cannot run staff commands in a building chat
    wrong = await h.cmd(PAVEL, p.building_chat, "election")
    assert said(wrong)
    # withdrawing a candidate mid-vote: a vote for them is refused with a clear answer
    await h.cmd(p.staff, p.staff_chat, "election", "withdraw Building 9 / 1")
    gone = await h.press(YAN, ballot_of(opened, CHAT9["id"]), f"ev:{await current_id(town)}:{VERA['id']}")
    assert alerts(gone) == [expect(h, "error.vote_candidate_removed", name="Vera")]
    cancelled = await h.cmd(p.staff, p.staff_chat, "election", "cancel")
    assert await town.scalar("SELECT state FROM elections ORDER BY id DESC LIMIT 1") == "cancelled"
    assert said(cancelled)


async def current_id(town: Town) -> int:
    return int(await town.scalar("SELECT id FROM elections ORDER BY id DESC LIMIT 1"))


async def test_nominated_shortlist_is_the_ballot(h: Harness) -> None:
    town = await build_town(h)
    p = h.p
    done = await h.cmd(p.staff, p.staff_chat, "election", "nominate Building 7 / 2")
    assert "Kai" in (done[-1].text or "")
    unknown = await h.cmd(p.staff, p.staff_chat, "election", "nominate 77")
    assert said(unknown) and "77" in said(unknown)[-1]
    ambiguous = await h.cmd(p.staff, p.staff_chat, "election", "nominate 1")  # unit 1 exists in both
    assert said(ambiguous) and "Building 9" in said(ambiguous)[-1]
    opened = await open_election(h)
    assert candidates(ballot_of(opened, p.building_chat["id"])) == {KAI["id"]}
    assert not [c for c in opened if c.chat_id == CHAT9["id"] and any(d.startswith("ev:") for _, d in c.buttons)]
    assert town.b9


# --- catch-up after downtime -----------------------------------------------------------------------
async def test_closing_catch_up_after_downtime_exactly_once(h: Harness) -> None:
    town = await build_town(h)
    p = h.p
    opened = await open_election(h)
    ballot9 = ballot_of(opened, CHAT9["id"])
    await h.press(YAN, ballot9, vote_data(ballot9, VERA))
    # the bot was down over the closing moment; it comes back two days later and sweeps twice
    h.clock.advance(CLOSES - h.clock.now() + (local(2026, 12, 10, 11, 0) - CLOSES))
    first = await h.sweep()
    second = await h.sweep()
    assert len(photos(first, CHAT9["id"])) == 1 and len(photos(first, p.staff_chat["id"])) == 1
    assert not photos(second, CHAT9["id"]) and not [c for c in second if c.method in ("sendMessage", "sendPhoto")]
    assert await town.scalar("SELECT COUNT(*) FROM awards WHERE kind = 'monthly_best'") == 1
    assert await town.scalar("SELECT COUNT(*) FROM ledger WHERE reason = 'election.win'") == 1


# --- proposals -------------------------------------------------------------------------------------
def ballot_of_proposal(calls: list[Call], chat_id: int) -> Call:
    found = [c for c in calls if c.chat_id == chat_id and any(d.startswith("pv:") for _, d in c.buttons)]
    assert found, f"no proposal ballot in {chat_id}"
    return found[-1]


async def test_proposal_quorum_met_in_one_building_and_missed_in_the_other(h: Harness) -> None:
    town = await build_town(h)
    p = h.p
    calls = await h.cmd(
        p.staff, p.staff_chat, "propose", "2026-11-30 18:00 | 50% | per_unit | Install a parking barrier?"
    )
    assert said(calls)
    b7 = ballot_of_proposal(calls, p.building_chat["id"])
    b9 = ballot_of_proposal(calls, CHAT9["id"])
    assert len(b7.buttons) == 3 and len(b9.buttons) == 3  # yes / no / abstain
    yes7, no7 = b7.buttons[0][1], b7.buttons[1][1]
    # Rita votes no, changes to yes; in per-unit mode only one vote per household
    first = await h.press(p.resident, b7, no7)
    changed = await h.press(p.resident, b7, yes7)
    assert alerts(first) and alerts(changed) and alerts(first)[0] != alerts(changed)[0]
    await h.press(PAVEL, b7, yes7)  # household of unit 1
    held = await h.press(p.uhead, b7, no7)  # same household as Pavel: refused
    assert alerts(held)
    outsider = await h.press(YAN, b7, yes7)  # a resident of building 9
    assert alerts(outsider)
    # building 9: nobody votes
    h.clock.advance(local(2026, 11, 30, 18, 0) - h.clock.now())
    closed = await h.sweep()
    assert [c for c in closed if c.chat_id == p.building_chat["id"] and c.method == "sendMessage"]
    assert [c for c in closed if c.chat_id == CHAT9["id"] and c.method == "sendMessage"]
    decisions = await town.rows("SELECT building_id, outcome, quorum_met, counts FROM building_decisions ORDER BY 1")
    assert [(b, o, bool(q)) for b, o, q, _ in decisions] == [(town.b7, "adopted", True), (town.b9, "no_quorum", False)]
    late = await h.press(p.resident, b7, no7)
    assert alerts(late)
    assert (
        await town.scalar("SELECT counts FROM building_decisions WHERE building_id = ?", (town.b7,)) == decisions[0][3]
    )
    # the decision stays in the building's history
    history = await h.cmd(PAVEL, p.building_chat, "decisions")
    assert "Install a parking barrier?" in (history[-1].text or "")
    # nothing more on a second sweep
    assert not [c for c in await h.sweep() if c.method == "sendMessage"]


async def test_building_head_proposes_custom_options_residents_cannot(h: Harness) -> None:
    town = await build_town(h)
    p = h.p
    refused = await h.cmd(p.resident, p.building_chat, "propose", "Paint the hall? | Green | Blue")
    assert said(refused) and await town.scalar("SELECT COUNT(*) FROM proposals") == 0
    calls = await h.cmd(p.bhead, p.building_chat, "propose", "10% | Paint the hall? | Green | Blue | White")
    ballot = ballot_of_proposal(calls, p.building_chat["id"])
    assert [d for _, d in ballot.buttons] == [
        f"pv:{i}:{n}" for i, n in [(ballot_id(ballot), 0), (ballot_id(ballot), 1), (ballot_id(ballot), 2)]
    ]
    assert await town.scalar("SELECT COUNT(*) FROM proposals WHERE building_id = ?", (town.b9,)) == 0
    await h.press(p.resident, ballot, ballot.buttons[1][1])
    h.clock.advance(local(2026, 11, 30, 10, 1) - h.clock.now())  # 7 days by default
    await h.sweep()
    row = await town.rows("SELECT outcome, winner_option, quorum_met FROM building_decisions")
    assert row == [("chosen", 1, 1)]
    usage = await h.cmd(p.bhead, p.building_chat, "propose", "")
    assert said(usage) and "/propose" in said(usage)[-1]
    bad_time = await h.cmd(p.bhead, p.building_chat, "propose", "2026-13-40 25:00 | Question?")
    assert said(bad_time)


def ballot_id(ballot: Call) -> int:
    return int(ballot.buttons[0][1].split(":")[1])


# --- restart in the middle, the yearly title ---------------------------------------------------------
async def test_restart_in_the_middle_counts_nothing_twice(h: Harness, tmp_path: Path) -> None:
    """Votes cast before a restart stay; after it the same buttons work; a second process (or the
    old one) sweeping at the same time closes nothing twice."""
    town = await build_town(h)
    p = h.p
    opened = await open_election(h)
    ballot7 = ballot_of(opened, p.building_chat["id"])
    await h.press(p.resident, ballot7, vote_data(ballot7, p.uhead))
    await h.press(PAVEL, ballot7, vote_data(ballot7, KAI))
    # "restart": a new Application on the same database file
    h2, app2 = await make_harness(tmp_path, h.clock.now())
    async with app2:
        await open_storage(app2)
        try:
            h2.p = h.p
            changed = await h2.press(p.resident, ballot7, vote_data(ballot7, KAI))
            same = await h2.press(PAVEL, ballot7, vote_data(ballot7, KAI))
            assert alerts(changed) and alerts(same) and alerts(changed)[0] != alerts(same)[0]
            assert await town.scalar("SELECT COUNT(*) FROM election_votes") == 2
            h.clock.set(CLOSES)
            h2.clock.set(CLOSES)
            closed_new = await h2.sweep()
            closed_old = await h.sweep()
            assert photos(closed_new, p.building_chat["id"]) and not photos(closed_old, p.building_chat["id"])
        finally:
            await app2.bot_data.outbox().wait_idle()
            await h2.services.db.close()
    rows = await town.rows("SELECT candidate_id, votes FROM election_results WHERE building_id = 0 ORDER BY rank")
    assert rows[0] == (KAI["id"], 2)


async def test_yearly_title_is_announced_with_a_chart(h: Harness) -> None:
    town = await build_town(h)
    p = h.p
    opened = await open_election(h)
    ballot9 = ballot_of(opened, CHAT9["id"])
    await h.press(YAN, ballot9, vote_data(ballot9, VERA))
    await h.press(ZOE, ballot9, vote_data(ballot9, VERA))
    h.clock.set(CLOSES)
    await h.sweep()
    # December's election (about December) opens on New Year's Day; the title waits for it to close
    h.clock.set(local(2027, 1, 1, 10, 0))
    assert not [c for c in await h.sweep() if c.method == "sendPhoto"]
    assert await town.scalar("SELECT COUNT(*) FROM yearly_titles") == 0
    h.clock.set(local(2027, 1, 8, 10, 0))
    closed = await h.sweep()
    assert await town.rows("SELECT user_id FROM awards WHERE kind = 'yearly_title'") == [(VERA["id"],)]
    for chat_id in (p.building_chat["id"], CHAT9["id"], p.staff_chat["id"]):
        captions = [c.params.get("caption", "") for c in photos(closed, chat_id)]
        assert any("2026" in caption for caption in captions), (chat_id, captions)
    again = await h.sweep()
    assert not [c for c in again if c.method in ("sendPhoto", "sendMessage")]


# --- sending results: flood control between the chart and its text, a chart that cannot be drawn ------
async def test_a_429_after_the_chart_resends_only_the_text(h: Harness) -> None:
    await build_town(h)
    p = h.p
    opened = await open_election(h)
    ballot7 = ballot_of(opened, p.building_chat["id"])
    await h.press(p.resident, ballot7, vote_data(ballot7, KAI))
    h.rt.fail_next("sendMessage", p.building_chat["id"], status=429, retry_after=5)
    h.clock.set(CLOSES)
    closed = await h.sweep()
    assert len(photos(closed, p.building_chat["id"])) == 1
    assert not [c for c in closed if c.method == "sendMessage" and c.chat_id == p.building_chat["id"]]
    h.clock.advance(timedelta(seconds=6))
    before = len(h.rt.calls)
    assert await h.app.bot_data.outbox().drain() == 1
    retried = h.rt.calls[before:]
    assert not photos(retried, p.building_chat["id"])  # the chart is not posted twice
    assert [c for c in retried if c.method == "sendMessage" and c.chat_id == p.building_chat["id"]]
    assert len(photos(h.rt.calls, p.building_chat["id"])) == 1


async def test_results_go_out_as_text_when_the_chart_cannot_be_drawn(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await build_town(h)
    p = h.p
    opened = await open_election(h)
    ballot7 = ballot_of(opened, p.building_chat["id"])
    await h.press(p.resident, ballot7, vote_data(ballot7, KAI))

    def broken(*_: Any) -> bytes:
        raise OSError("no fonts at all")

    monkeypatch.setattr("handlers.common.chart_png", broken)
    h.clock.set(CLOSES)
    closed = await h.sweep()
    for chat_id in (p.building_chat["id"], CHAT9["id"], p.staff_chat["id"]):
        assert not photos(closed, chat_id)
        assert [c for c in closed if c.method == "sendMessage" and c.chat_id == chat_id], chat_id


async def test_a_message_that_fails_to_render_does_not_hold_up_the_others(
    h: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from handlers.outbox_sender import OutboxSender

    await build_town(h)
    p = h.p
    opened = await open_election(h)
    ballot9 = ballot_of(opened, CHAT9["id"])
    await h.press(YAN, ballot9, vote_data(ballot9, VERA))  # somebody voted: the results have a chart
    real = OutboxSender._parts
    broken_once = {p.building_chat["id"]}

    def parts(item: Any, t: Any) -> Any:
        if item.chat_id in broken_once:
            broken_once.discard(item.chat_id)
            raise KeyError("a bug")
        return real(item, t)

    monkeypatch.setattr(OutboxSender, "_parts", staticmethod(parts))
    h.clock.set(CLOSES)
    closed = await h.sweep()
    assert "could not be sent" in caplog.text
    assert photos(closed, CHAT9["id"]) and photos(closed, p.staff_chat["id"])  # the rest went out
    assert not photos(closed, p.building_chat["id"])
    h.clock.advance(timedelta(minutes=11))
    await h.app.bot_data.outbox().drain()
    assert len(photos(h.rt.calls, p.building_chat["id"])) == 1  # retried later, once


# --- fixes after the audit of issue 3 ----------------------------------------------------------------
def texts_to(calls: list[Call], chat_id: int) -> str:
    return "\n".join(c.text or "" for c in calls if c.method == "sendMessage" and c.chat_id == chat_id)


async def test_results_command_sends_the_text_when_the_chart_cannot_be_drawn(
    h: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """E1: /results degrades to the text version (the failure is logged), never "something went wrong"."""
    await build_town(h)
    p = h.p
    opened = await open_election(h)
    ballot7 = ballot_of(opened, p.building_chat["id"])
    await h.press(p.resident, ballot7, vote_data(ballot7, KAI))
    h.clock.set(CLOSES)
    await h.sweep()

    def broken(*_: Any) -> bytes:
        raise OSError("no fonts at all")

    monkeypatch.setattr("handlers.common.chart_png", broken)
    shown = await h.cmd(PAVEL, p.building_chat, "results")
    assert not photos(shown, p.building_chat["id"])
    text = texts_to(shown, p.building_chat["id"])
    assert "results for Building 7" in text and "Kai" in text
    assert expect(h, "error.internal") not in said(shown)
    assert "could not be drawn" in caplog.text


async def test_a_per_unit_ballot_moves_with_the_voter_and_counts_once(h: Harness) -> None:
    """E2: switching unit with /myunit between votes never gives one person several household votes."""
    town = await build_town(h)
    p = h.p
    calls = await h.cmd(p.bhead, p.building_chat, "propose", "per_unit | 10% | Install a parking barrier?")
    b7 = ballot_of_proposal(calls, p.building_chat["id"])
    yes, no = b7.buttons[0][1], b7.buttons[1][1]
    await h.press(p.resident, b7, yes)  # Rita, unit 2
    for unit in ("3", "4"):
        await join(h, p.resident, p.building_chat, unit)
        await h.press(p.resident, b7, no)
    assert await town.rows("SELECT voter_id, option_index FROM proposal_votes") == [(p.resident["id"], 1)]
    # Rita now lives in unit 1, where Pavel votes first: the household has one vote
    await h.press(PAVEL, b7, yes)
    await join(h, p.resident, p.building_chat, "1")
    held = await h.press(p.resident, b7, yes)
    assert alerts(held) == [expect(h, "error.vote_household_voted", unit="1")]
    changed = await h.press(PAVEL, b7, no)  # Pavel still holds unit 1's vote and may change it
    assert alerts(changed)[0].startswith("🔁")
    h.clock.advance(timedelta(days=7, minutes=1))
    await h.sweep()
    decision = await town.rows("SELECT counts, voters, eligible, households_voted, households FROM building_decisions")
    # households now: unit 1 only (Pavel, Uma, Rita); Pavel's ballot, cast from unit 1, is its vote
    assert decision == [("[0, 1, 0]", 1, 1, 1, 1)]


async def test_per_resident_quorum_counts_where_people_live_at_closing(h: Harness) -> None:
    """E2: a voter who moved after voting counts for the household they live in (never more
    households taking part than households)."""
    town = await build_town(h)
    p = h.p
    calls = await h.cmd(p.bhead, p.building_chat, "propose", "Paint the hall?")
    b7 = ballot_of_proposal(calls, p.building_chat["id"])
    await h.press(PAVEL, b7, b7.buttons[0][1])  # unit 1
    await h.press(p.resident, b7, b7.buttons[1][1])  # unit 2
    await join(h, p.resident, p.building_chat, "1")  # unit 2 is left empty
    h.clock.advance(timedelta(days=7, minutes=1))
    await h.sweep()
    decision = await town.rows("SELECT counts, voters, eligible, households_voted, households FROM building_decisions")
    assert decision == [("[1, 1, 0]", 2, 3, 1, 1)]


async def test_night_announcements_go_out_at_8_even_on_a_weekend(h: Harness) -> None:
    """E3: a proposal opened on Friday at 22:00 that closes on Saturday at 12:00 has its ballot posted
    on Saturday at 08:00 (not on Monday after closing); one closing before 08:00 goes out at once."""
    town = await build_town(h)
    p = h.p
    h.clock.set(local(2026, 11, 27, 22, 0))  # Friday night
    calls = await h.cmd(p.bhead, p.building_chat, "propose", "2026-11-28 12:00 | Open the gate on Saturday?")
    assert not [c for c in calls if any(d.startswith("pv:") for _, d in c.buttons)]
    not_before = await town.scalar("SELECT not_before FROM outbox WHERE template = 'proposal.opened'")
    assert not_before == int(local(2026, 11, 28, 8, 0).timestamp())
    h.clock.set(local(2026, 11, 28, 7, 59))
    assert not [c for c in await h.sweep() if c.chat_id == p.building_chat["id"]]
    h.clock.set(local(2026, 11, 28, 8, 0))
    assert ballot_of_proposal(await h.sweep(), p.building_chat["id"])
    # closing at 07:00 next morning: the ballot cannot wait for 08:00
    h.clock.set(local(2026, 11, 28, 23, 0))
    calls = await h.cmd(p.bhead, p.building_chat, "propose", "2026-11-29 07:00 | Night watch tonight?")
    assert ballot_of_proposal(calls, p.building_chat["id"])


async def test_an_election_opening_on_friday_night_posts_its_ballots_on_saturday_morning(h: Harness) -> None:
    """E3: not held until Monday's working hours."""
    await build_town(h)
    p = h.p
    await h.cmd(p.staff, p.staff_chat, "election", "set open_time 22:00")
    await h.cmd(p.staff, p.staff_chat, "election", "set open_day 4")  # 2026-12-04 is a Friday
    h.clock.set(local(2026, 12, 4, 22, 0))
    night = await h.sweep()
    assert not [c for c in night if any(d.startswith("ev:") for _, d in c.buttons)]
    h.clock.set(local(2026, 12, 5, 8, 0))
    morning = await h.sweep()
    assert ballot_of(morning, p.building_chat["id"]) and ballot_of(morning, CHAT9["id"])


async def test_switching_elections_off_stops_a_scheduled_election(h: Harness) -> None:
    """E4: a nomination created the election; switched off, it does not open: cancelled, staff told once."""
    town = await build_town(h)
    p = h.p
    await h.cmd(p.staff, p.staff_chat, "election", "nominate Building 7 / 2")
    await h.cmd(p.staff, p.staff_chat, "election", "set enabled false")
    opened = await open_election(h)
    assert not [c for c in opened if any(d.startswith("ev:") for _, d in c.buttons)]
    assert expect(h, "election.staff_disabled", period="2026-11")[:40] in texts_to(opened, p.staff_chat["id"])
    assert await town.rows("SELECT period, state, note FROM elections") == [("2026-11", "cancelled", "disabled")]
    assert not [c for c in await h.sweep() if c.method == "sendMessage"]


async def test_a_scheduled_election_follows_later_settings_and_an_open_one_keeps_its_own(h: Harness) -> None:
    """E5: open_day, duration_days and top_n changed after a nomination created the election."""
    town = await build_town(h)
    p = h.p
    await h.cmd(p.staff, p.staff_chat, "election", "nominate Building 7 / 2")
    await h.cmd(p.staff, p.staff_chat, "election", "set open_day 5")
    await h.cmd(p.staff, p.staff_chat, "election", "set duration_days 3")
    answer = await h.cmd(p.staff, p.staff_chat, "election", "set top_n 1")
    assert "2026-12-05 10:00" in said(answer)[-1]  # the next opening moment
    assert await town.rows("SELECT opens_at, closes_at, top_n FROM elections") == [
        (int(local(2026, 12, 5, 10, 0).timestamp()), int(local(2026, 12, 8, 10, 0).timestamp()), 1)
    ]
    h.clock.set(local(2026, 12, 5, 10, 0))
    assert ballot_of(await h.sweep(), p.building_chat["id"])
    # while it is open, a change applies from the next election (and the answer says so)
    answer = await h.cmd(p.staff, p.staff_chat, "election", "set top_n 5")
    assert expect(h, "votes.settings_open_now", period="2026-11") in said(answer)[-1]
    assert await town.scalar("SELECT top_n FROM elections WHERE state = 'open'") == 1


async def test_a_schedule_change_mid_month_takes_effect_from_the_next_opening(h: Harness) -> None:
    """E6: moving open_day earlier after this month's moment creates no past election and no false
    "the bot was not running" message; the answer shows the next opening moment."""
    town = await build_town(h)
    p = h.p
    await h.cmd(p.staff, p.staff_chat, "election", "set open_day 20")
    h.clock.set(local(2026, 12, 10, 12, 0))
    await h.sweep()
    answer = await h.cmd(p.staff, p.staff_chat, "election", "set open_day 1")
    later = await h.sweep()
    assert expect(h, "votes.settings_next", period="2026-12", opens="2027-01-01 10:00") in said(answer)[-1]
    assert not texts_to(later, p.staff_chat["id"])
    assert await town.scalar("SELECT COUNT(*) FROM elections") == 0
    h.clock.set(local(2027, 1, 1, 10, 0))
    assert ballot_of(await h.sweep(), p.building_chat["id"])
    assert await town.rows("SELECT period, state FROM elections") == [("2026-12", "open")]


async def test_switching_elections_on_mid_month_starts_with_the_next_opening(h: Harness) -> None:
    """E6: no election for a window that passed while they were off, and no "missed" message."""
    town = await build_town(h)
    p = h.p
    await h.cmd(p.staff, p.staff_chat, "election", "set enabled false")
    h.clock.set(local(2027, 1, 20, 12, 0))
    await h.sweep()
    answer = await h.cmd(p.staff, p.staff_chat, "election", "set enabled true")
    later = await h.sweep()
    assert "2027-02-01 10:00" in said(answer)[-1]
    assert not texts_to(later, p.staff_chat["id"])
    assert await town.scalar("SELECT COUNT(*) FROM elections") == 0


async def test_withdraw_undoes_a_nomination_before_touching_the_open_election(h: Harness) -> None:
    """E7: the shortlist of the next election first; from the open one, the building chat is told."""
    town = await build_town(h)
    p = h.p
    opened = await open_election(h)
    b7 = ballot_of(opened, p.building_chat["id"])
    await h.press(p.resident, b7, vote_data(b7, KAI))
    await h.press(PAVEL, b7, vote_data(b7, KAI))
    await h.cmd(p.staff, p.staff_chat, "election", "nominate Building 7 / 2")  # for December
    undone = await h.cmd(p.staff, p.staff_chat, "election", "withdraw Building 7 / 2")
    assert said(undone)[-1] == expect(h, "votes.withdrawn_shortlist", name="Kai", period="2026-12")
    kai = await town.rows(
        "SELECT e.period, c.removed_at IS NULL FROM election_candidates c JOIN elections e ON e.id = c.election_id"
        " WHERE c.user_id = ?",
        (KAI["id"],),
    )
    assert kai == [("2026-11", 1)]  # still standing in November; off December's shortlist
    gone = await h.cmd(p.staff, p.staff_chat, "election", "withdraw Building 7 / 2")
    assert texts_to(gone, p.staff_chat["id"]) == expect(h, "votes.withdrawn", name="Kai", period="2026-11")
    notice = texts_to(gone, p.building_chat["id"])
    assert notice == expect(h, "election.withdrawn", name="Kai", period="2026-11")
    assert "Rita" not in notice and "Pavel" not in notice
    assert not texts_to(gone, CHAT9["id"])  # Kai is not on building 9's ballot
    again = await h.press(PAVEL, b7, vote_data(b7, p.uhead))
    assert alerts(again) and "Uma" in alerts(again)[0]
    nobody = await h.cmd(p.staff, p.staff_chat, "election", "withdraw Building 7 / 2")
    assert said(nobody)[-1] == expect(h, "error.election_not_candidate", name="Kai")


async def test_cancel_extend_and_repost_act_on_the_open_election_only(h: Harness) -> None:
    """E8: a second /election cancel does not cancel the next (scheduled) election."""
    town = await build_town(h)
    p = h.p
    await h.cmd(p.staff, p.staff_chat, "election", "nominate Building 7 / 2")  # November's, scheduled
    for sub in ("extend 2026-12-10 10:00", "repost", "cancel"):
        refused = await h.cmd(p.staff, p.staff_chat, "election", sub)
        assert said(refused)[-1] == expect(h, "error.election_none_open"), sub
    await open_election(h)
    await h.cmd(p.staff, p.staff_chat, "election", "nominate Building 7 / 2")  # December's
    first = await h.cmd(p.staff, p.staff_chat, "election", "cancel")
    second = await h.cmd(p.staff, p.staff_chat, "election", "cancel")
    assert texts_to(first, p.staff_chat["id"]) == expect(h, "votes.cancelled", period="2026-11")
    assert said(second)[-1] == expect(h, "error.election_none_open")
    assert await town.rows("SELECT period, state FROM elections ORDER BY period") == [
        ("2026-11", "cancelled"),
        ("2026-12", "scheduled"),
    ]


async def test_propose_cancel_without_a_valid_id_opens_nothing(h: Harness) -> None:
    """E9, E13, E17: "/propose cancel ..." is always a cancel request; odd quorum or mode are named."""
    town = await build_town(h)
    p = h.p
    cases = {
        "cancel": expect(h, "votes.propose_cancel_usage"),
        "cancel abc": expect(h, "votes.propose_cancel_usage"),
        "Cancel the gym?": expect(h, "votes.propose_cancel_usage"),
        "cancel 99999": expect(h, "error.proposal_unknown"),
        "cancel 99999999999999999999999": expect(h, "error.proposal_unknown"),
        "-5% | Paint the hall?": expect(h, "error.proposal_quorum"),
        "1000% | Paint the hall?": expect(h, "error.proposal_quorum"),
        "150% | Q?": expect(h, "error.proposal_quorum"),
        "per_household | Paint the hall?": expect(h, "error.proposal_mode", choices="per_resident, per_unit"),
    }
    for text, answer in cases.items():
        calls = await h.cmd(p.staff, p.staff_chat, "propose", text)
        assert said(calls)[-1] == answer, text
    assert await town.scalar("SELECT COUNT(*) FROM proposals") == 0
    await h.cmd(p.staff, p.staff_chat, "propose", "per unit | Paint the hall?")
    assert await town.rows("SELECT DISTINCT mode FROM proposals") == [("per_unit",)]


async def test_forged_huge_ids_are_answered_politely(h: Harness) -> None:
    """E13: ids past 64 bits in buttons match no pattern: "out of date", never "something went wrong"."""
    await build_town(h)
    p = h.p
    ballot7 = ballot_of(await open_election(h), p.building_chat["id"])
    huge = "9" * 23
    for data in (f"ev:{huge}:1", f"ev:1:{huge}", f"ep:1:1:{huge}", f"pv:{huge}:0", f"pv:1:{huge}"):
        assert alerts(await h.press(PAVEL, ballot7, data)) == [expect(h, "error.stale_button")], data


async def test_a_unit_head_of_two_buildings_stands_in_both(h: Harness) -> None:
    """E10: Kai also heads unit 2 of building 9: on both ballots, votable from both, tallied per building."""
    town = await build_town(h)
    p = h.p
    await h.cmd(p.staff, CHAT9, "unithead", "2", reply_to=updates.message(KAI, CHAT9, "hi"))
    opened = await open_election(h)
    b7, b9 = ballot_of(opened, p.building_chat["id"]), ballot_of(opened, CHAT9["id"])
    assert candidates(b7) == {p.uhead["id"], KAI["id"]} and candidates(b9) == {VERA["id"], KAI["id"]}
    assert alerts(await h.press(YAN, b9, vote_data(b9, KAI)))[0].startswith("✅")
    await h.press(ZOE, b9, vote_data(b9, KAI))
    await h.press(PAVEL, b7, vote_data(b7, KAI))
    h.clock.set(CLOSES)
    closed = await h.sweep()
    rows = await town.rows("SELECT building_id, votes FROM election_results WHERE candidate_id = ?", (KAI["id"],))
    assert sorted(rows) == sorted([(0, 3), (town.b7, 1), (town.b9, 2)])
    assert "Kai (unit 2, Building 9) — votes: 2" in texts_to(closed, CHAT9["id"])


async def test_long_results_name_every_winner_and_every_candidate_of_a_building(h: Harness) -> None:
    """E12: 59 candidates who all tie with one vote: every winner named, the building lists all; only
    the community-wide staff list stops at 50 ("...and 9 more"); the chart stays at 10 bars."""
    from bot.models import UserInfo

    town = await build_town(h)
    p = h.p
    await h.cmd(p.staff, p.building_chat, "units", "5-60")
    now = int(h.clock.now().timestamp())
    async with h.services.db.write() as tx:
        units = await tx.fetchall("SELECT id, name FROM units WHERE building_id = ? ORDER BY id", (town.b7,))
        for i, (uid, name) in enumerate(units):
            if name in ("1", "2", "3", "4"):
                continue
            for person, first in ((50000 + i, f"Head{name}"), (60000 + i, f"V{name}")):
                await tx.execute(
                    "INSERT INTO users (id, first_name, updated_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    (person, first, now),
                )
            await tx.execute("UPDATE units SET head_user_id = ? WHERE id = ?", (50000 + i, uid))
            await tx.execute(
                "INSERT INTO residents (user_id, building_id, unit_id, joined_at) VALUES (?, ?, ?, ?)",
                (60000 + i, town.b7, uid, now),
            )
    ballot7 = ballot_of(await open_election(h), p.building_chat["id"])
    eid = int(ballot7.buttons[0][1].split(":")[1])
    heads = [int(r[0]) for r in await town.rows("SELECT user_id FROM election_candidates WHERE user_id >= 50000")]
    for head in heads:
        await h.services.elections.vote(UserInfo(head + 10000, "V"), eid, head)
    h.clock.set(CLOSES)
    closed = await h.sweep()
    staff = texts_to(closed, p.staff_chat["id"])
    building = texts_to(closed, p.building_chat["id"])
    assert len(heads) == 56
    winners, everybody = staff.split("All candidates:")
    assert all(f"Head{n} " in winners for n in range(5, 61))
    assert everybody.count(", Building 7) — ") == 50 and "…and 9 more" in everybody
    assert all(f"Head{n} " in building for n in range(5, 61)) and "Uma" in building
    assert photos(closed, p.staff_chat["id"]) and await town.scalar("SELECT COUNT(*) FROM awards") == 56
    staff_params = json.loads(
        await town.scalar("SELECT params FROM outbox WHERE template = 'election.staff_result_more'")
    )
    assert len(staff_params["photo"]["bars"]) == 50 + 9  # every candidate is in the chart, none dropped
    assert len(photos(closed, p.staff_chat["id"])) == 7  # 59 candidates: 7 images of at most 9 rows


async def test_results_show_the_turnout_of_every_building_as_posted_at_closing(h: Harness) -> None:
    """E14: community scope, building 7 without standings: /results says 0/3, as the closing did."""
    await build_town(h)
    p = h.p
    await h.cmd(p.staff, p.staff_chat, "election", "set scope community")
    b9 = ballot_of(await open_election(h), CHAT9["id"])
    await h.press(YAN, b9, vote_data(b9, KAI))
    h.clock.set(CLOSES)
    closed = await h.sweep()
    assert "Turnout: 0/3 (0%)" in texts_to(closed, p.building_chat["id"])
    shown = texts_to(await h.cmd(PAVEL, p.building_chat, "results"), p.building_chat["id"])
    assert "Turnout: 0/3 (0%)" in shown
    staff = texts_to(await h.cmd(p.staff, p.staff_chat, "results"), p.staff_chat["id"])
    assert "Building 7: 0/3 (0%)" in staff and "Building 9: 1/2 (50%)" in staff


async def test_closing_and_cancelling_erase_the_candidates_building_too(h: Harness) -> None:
    """E15: after closing (and cancelling) a vote row keeps only who took part."""
    town = await build_town(h)
    p = h.p
    b7 = ballot_of(await open_election(h), p.building_chat["id"])
    await h.press(PAVEL, b7, vote_data(b7, KAI))
    h.clock.set(CLOSES)
    await h.sweep()
    assert await town.rows("SELECT building_id, candidate_id FROM election_votes") == [(0, None)]
    h.clock.set(local(2027, 1, 1, 10, 0))
    b7 = ballot_of(await h.sweep(), p.building_chat["id"])
    await h.press(PAVEL, b7, vote_data(b7, KAI))
    await h.cmd(p.staff, p.staff_chat, "election", "cancel")
    assert await town.rows("SELECT building_id, candidate_id FROM election_votes") == [(0, None), (0, None)]


async def test_small_answers_after_the_audit(h: Harness) -> None:
    """E17: paging a cancelled ballot, /vote with no ballot here, withdrawing a unit without a head,
    a closing nobody voted in, open_time in H:MM."""
    town = await build_town(h)
    p = h.p
    await h.cmd(p.staff, p.staff_chat, "election", "nominate Building 7 / 2")
    await h.cmd(p.staff, p.staff_chat, "election", "set page_size 1")
    nine = await h.cmd(p.staff, p.staff_chat, "election", "set open_time 9:00")
    assert "open_time = 09:00:00" in said(nine)[-1]
    bad = await h.cmd(p.staff, p.staff_chat, "election", "set open_time 25:00")
    assert "HH:MM" in said(bad)[-1]
    await h.cmd(p.staff, p.staff_chat, "election", "set open_time 10:00")
    await open_election(h)
    none_here = await h.cmd(ZOE, CHAT9, "vote")
    assert said(none_here)[-1] == expect(h, "error.election_no_ballot_here", period="2026-11", building="Building 9")
    no_head = await h.cmd(p.staff, p.staff_chat, "election", "withdraw Building 7 / 3")
    assert said(no_head)[-1] == expect(h, "error.election_withdraw_no_head")
    # nobody votes: the closing says so
    h.clock.set(CLOSES)
    closed = await h.sweep()
    text7 = texts_to(closed, p.building_chat["id"])
    assert "Nobody voted" in text7 and "Thank you to everyone who voted" not in text7
    assert expect(h, "election.no_winners") in texts_to(closed, p.staff_chat["id"])
    # December's ballot is long (page size 1): paging it after a cancel says the vote is closed
    h.clock.set(local(2027, 1, 1, 10, 0))
    ballot7 = ballot_of(await h.sweep(), p.building_chat["id"])
    nav = [d for _, d in ballot7.buttons if d.startswith("ep:")]
    await h.cmd(p.staff, p.staff_chat, "election", "cancel")
    paged = await h.press(PAVEL, ballot7, nav[0])
    assert alerts(paged) == [expect(h, "error.vote_closed", period="2026-12")]
    assert not [c for c in paged if c.method == "editMessageText"]
    assert town.b9


SERIF = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf")


@pytest.mark.skipif(not SERIF.is_file(), reason="no DejaVu Serif font on this machine")
async def test_charts_use_the_configured_font(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """UNITBOT_CARD_FONT (a font with Chinese glyphs) draws the result charts as well as the ID cards."""
    font = SERIF
    import bot.charts
    import bot.fonts

    used: list[str | None] = []
    real = bot.fonts.Writer

    def writer(path: str | None, size: int, **kw: Any) -> Any:
        used.append(path)
        return real(path, size, **kw)

    monkeypatch.setattr(bot.charts, "Writer", writer)
    monkeypatch.setattr(h.services.settings, "card_font", font)
    await build_town(h)
    opened = await open_election(h)
    ballot7 = ballot_of(opened, h.p.building_chat["id"])
    await h.press(h.p.resident, ballot7, vote_data(ballot7, KAI))
    h.clock.set(CLOSES)
    assert photos(await h.sweep(), h.p.building_chat["id"])
    assert used and set(used) == {str(font)}


async def test_units_with_a_slash_in_their_name_can_be_nominated(h: Harness) -> None:
    await h.setup_community(units="3/1 3/2", elections=True)
    p = h.p
    await h.cmd(p.staff, p.building_chat, "unithead", "3/2", reply_to=updates.message(p.uhead, p.building_chat, "hi"))
    for arg in ("3/2", "Building 7 / 3/2"):
        done = [c.text or "" for c in await h.cmd(p.staff, p.staff_chat, "election", f"nominate {arg}")][-1]
        assert "Uma" in done, (arg, done)


async def test_a_refusal_never_echoes_more_than_telegram_takes(h: Harness) -> None:
    await h.setup_community(elections=True)
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "election", "nominate " + "x" * 4060)
    (text,) = said(calls)
    assert len(text) < 1000 and "…" in text
