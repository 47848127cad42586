"""The outbox sender paced at Telegram's limits (issue 8, "One busy group stalls the whole bot").

The real Application and outbox over the recording fake transport, behind a fake Bot API that
enforces Telegram's limits (tests.support.flood: 30/s overall, 20/min per group, ~1/s per private
chat) and answers 429 when they are exceeded. Time is a fake monotonic clock shared by the pacer
and the fake: nothing waits for real, and no test looks at the wall clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import timedelta

import pytest

from bot.models import Notice, Priority
from bot.pacing import Limits, Pacer
from handlers.outbox_sender import OutboxSender
from storage.outbox import OutboxRepo
from tests.harness import Harness
from tests.support.flood import FakeTime, LimitedTelegram

GROUP = -1002000000001
PERSON = 7001


@pytest.fixture
def paced(h: Harness) -> tuple[Harness, FakeTime, LimitedTelegram]:
    """``h`` with a limit-enforcing fake Telegram and a paced outbox sender on fake time."""
    clock = FakeTime()
    telegram = LimitedTelegram(clock=clock)
    h.rt.telegram = telegram
    h.app.bot_data.outbox_sender = OutboxSender(h.app, Pacer(Limits(), clock=clock, sleep=clock.sleep))
    return h, clock, telegram


async def queue(h: Harness, notices: Iterable[Notice]) -> None:
    now = h.clock.now()
    async with h.services.db.write() as tx:
        for notice in notices:
            await OutboxRepo(tx).add(notice, community_id=None, now=now, not_before=now)


def sends(telegram: LimitedTelegram, chat_id: int | None = None) -> list[tuple[float, str, int]]:
    return [a for a in telegram.accepted if chat_id is None or a[2] == chat_id]


async def test_600_chats_get_their_ballot_exactly_once_without_a_429(
    paced: tuple[Harness, FakeTime, LimitedTelegram],
) -> None:
    h, clock, telegram = paced
    chats = [-1003000000000 - i for i in range(600)]
    await queue(h, (Notice(c, "election.withdrawn", {"period": "11.2026", "name": "Uma"}) for c in chats))
    start = clock()
    assert await h.app.bot_data.outbox().drain() == 600
    assert telegram.floods == []
    assert sorted(int(c.chat_id or 0) for c in h.rt.calls if c.method == "sendMessage") == sorted(chats)
    elapsed = sends(telegram)[-1][0] - start
    assert 600 / 30 - 1 <= elapsed <= 21, elapsed  # Telegram's 30/s is the floor (fake time)
    assert await h.services.outbox.pending() == 0


async def test_a_throttled_group_does_not_delay_a_private_message(
    paced: tuple[Harness, FakeTime, LimitedTelegram],
) -> None:
    h, clock, telegram = paced
    await queue(h, (Notice(GROUP, "election.withdrawn", {"period": "11.2026", "name": f"N{i}"}) for i in range(30)))
    start = clock()
    outbox = h.app.bot_data.outbox()
    first = outbox.drain()
    await queue(h, [Notice(PERSON, "appeal.resident_unreachable", {"id": 5}, user_id=PERSON)])
    assert await first == 31
    person = sends(telegram, PERSON)
    group = sends(telegram, GROUP)
    assert len(person) == 1 and len(group) == 30 and telegram.floods == []
    # the group's budget (20 a minute) was spent after 20: the private message did not wait for the rest
    assert person[0][0] - start < 2.0
    assert group[20][0] - start >= 60.0
    assert person[0][0] < group[20][0]


async def test_personal_messages_go_before_a_bulk_fan_out(paced: tuple[Harness, FakeTime, LimitedTelegram]) -> None:
    h, _clock, telegram = paced
    bulk = [
        Notice(-1004000000000 - i, "election.withdrawn", {"period": "11.2026", "name": "U"}, priority=Priority.BULK)
        for i in range(100)
    ]
    await queue(h, bulk)
    await queue(h, [Notice(PERSON, "appeal.resident_unreachable", {"id": 9}, user_id=PERSON)])
    await h.app.bot_data.outbox().drain()
    order = [chat for _, _, chat in sends(telegram)]
    assert order.index(PERSON) < h.app.bot_data.outbox().concurrency, order[:10]  # in the first round


async def test_urgent_notices_are_stored_first_and_bulk_last(h: Harness) -> None:
    await queue(
        h,
        [
            Notice(GROUP, "election.withdrawn", {"period": "1", "name": "U"}, priority=Priority.BULK),
            Notice(PERSON, "appeal.resident_unreachable", {"id": 1}),
            Notice(PERSON + 1, "appeal.resident_unreachable", {"id": 2}, urgent=True),
        ],
    )
    delivery = h.services.outbox
    claimed = [[(i.chat_id, i.priority) for i in await delivery.claim(1)] for _ in range(3)]
    assert claimed == [[(PERSON + 1, 0)], [(PERSON, 1)], [(GROUP, 2)]]


async def test_the_claim_leaves_out_chats_whose_budget_is_spent(h: Harness) -> None:
    await queue(h, (Notice(GROUP, "election.withdrawn", {"period": "1", "name": f"{i}"}) for i in range(10)))
    await queue(h, (Notice(PERSON + i, "appeal.resident_unreachable", {"id": i}) for i in range(3)))
    delivery = h.services.outbox
    taken = await delivery.claim(10, exclude={GROUP})
    assert sorted(i.chat_id for i in taken) == [PERSON, PERSON + 1, PERSON + 2]
    # a chat the budget refuses is skipped for this round; its messages are still due, unclaimed
    refused: list[int] = []

    def refuse(chat: int) -> bool:
        refused.append(chat)
        return False

    again = await delivery.claim(10, accept=refuse)
    assert again == [] and refused == [GROUP]  # asked once for the chat, not once per message
    one = await delivery.claim(10)
    assert [i.chat_id for i in one] == [GROUP]  # one message per chat at a time, in order
    assert one[0].params["name"] == "0"


async def test_a_429_defers_only_its_chat(paced: tuple[Harness, FakeTime, LimitedTelegram]) -> None:
    h, _clock, telegram = paced
    telegram.fail_next("sendMessage", GROUP, status=429, retry_after=30)
    await queue(h, (Notice(GROUP, "election.withdrawn", {"period": "1", "name": f"{i}"}) for i in range(3)))
    await queue(h, (Notice(PERSON + i, "appeal.resident_unreachable", {"id": i}) for i in range(5)))
    sender = h.app.bot_data.outbox()
    assert await sender.drain() == 5  # every other chat; none of the group's
    assert sends(telegram, GROUP) == []
    assert sender.pacer.paused_for == 0  # one chat's flood control does not stop the sender
    h.clock.advance(timedelta(seconds=32))
    assert await sender.drain() == 3


async def test_429s_in_several_chats_at_once_pause_the_whole_sender(
    paced: tuple[Harness, FakeTime, LimitedTelegram],
) -> None:
    h, _clock, telegram = paced
    for i in range(3):
        telegram.fail_next("sendMessage", PERSON + i, status=429, retry_after=20)
    await queue(h, (Notice(PERSON + i, "appeal.resident_unreachable", {"id": i}) for i in range(3)))
    sender = h.app.bot_data.outbox()
    await sender.drain()
    assert sender.pacer.paused_for > 15


def test_the_pacer_keeps_each_budget() -> None:
    clock = FakeTime()
    pacer = Pacer(Limits(), clock=clock, sleep=clock.sleep)
    assert all(pacer.try_take(GROUP) for _ in range(7))  # the burst, less the direct answers' reserve
    assert not pacer.try_take(PERSON)  # overall budget: only direct answers may take the reserve
    assert pacer.try_take(PERSON, direct=True)
    taken = []
    for _ in range(20):
        clock.t += 0.1
        taken.append(pacer.try_take(GROUP))
    assert taken == [True] * 13 + [False] * 7  # 20 a minute in a group
    assert pacer.chat_wait(GROUP) > 58
    assert pacer.try_take(PERSON) and pacer.try_take(PERSON) and not pacer.try_take(PERSON)  # a burst of 2
    clock.t += 1.0
    assert pacer.try_take(PERSON)
    assert pacer.blocked_chats().keys() == {GROUP, PERSON}


def test_no_limits_pace_nothing() -> None:
    pacer = Pacer(None)
    assert all(pacer.try_take(GROUP) for _ in range(1000))
    assert pacer.blocked_chats() == {}


async def test_shutdown_does_not_wait_for_a_chat_budget(h: Harness) -> None:
    """wait_idle (called at shutdown, before the database closes) lets a drain that waits for a
    group's minute stop after what is in flight; the rest stays due for the next start."""
    clock = FakeTime()

    async def slow_sleep(seconds: float) -> None:  # fake time, but the drain really yields meanwhile
        clock.t += seconds
        await asyncio.sleep(0.005)

    telegram = LimitedTelegram(clock=clock)
    h.rt.telegram = telegram
    sender = OutboxSender(h.app, Pacer(Limits(), clock=clock, sleep=slow_sleep))
    h.app.bot_data.outbox_sender = sender
    await queue(h, (Notice(GROUP, "election.withdrawn", {"period": "1", "name": f"{i}"}) for i in range(25)))
    sender.kick()
    while len(sends(telegram, GROUP)) < 20:  # noqa: ASYNC110 - the fake records from the sender's tasks
        await asyncio.sleep(0.005)
    await sender.wait_idle()
    assert len(sends(telegram, GROUP)) == 20 and await h.services.outbox.pending() == 5
    assert await sender.drain() == 5  # the next drain goes on
