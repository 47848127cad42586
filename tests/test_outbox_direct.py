"""Direct answers of the handlers draw on the same budgets as the outbox (handlers.pacing), and a 429
never makes the bot sleep as a whole (issue 8: PTB's AIORateLimiter with retries paused every call).

The real Application built with its rate limiter over a fake Bot API that enforces Telegram's
limits; the pacer runs on fake time (nothing really waits)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram.error import RetryAfter

from bot.app import build_application, open_storage
from bot.clock import FakeClock
from bot.pacing import Limits, Pacer
from handlers.context import UnitApp
from handlers.pacing import PacingLimiter
from tests.harness import local, make_settings
from tests.support import RecordingRequest, updates
from tests.support.flood import FakeTime, LimitedTelegram

GROUP = -1002000000001
PERSON = 7001


@pytest.fixture
async def limited(tmp_path: Path) -> AsyncIterator[tuple[UnitApp, FakeTime, LimitedTelegram]]:
    clock = FakeTime()
    telegram = LimitedTelegram(clock=clock)
    app = build_application(
        make_settings(tmp_path / "t.sqlite3"),
        clock=FakeClock(local(2026, 11, 23, 10, 0)),
        request=RecordingRequest(telegram),
        rate_limiter=True,
        start_jobs=False,
    )
    pacer = Pacer(Limits(), clock=clock, sleep=clock.sleep)
    limiter = app.bot.rate_limiter
    assert isinstance(limiter, PacingLimiter)  # not PTB's AIORateLimiter: no bot-wide sleep on a 429
    limiter.pacer = pacer
    app.bot_data.outbox().pacer = pacer
    async with app:
        await open_storage(app)
        try:
            yield app, clock, telegram
        finally:
            await app.bot_data.services.db.close()


async def test_a_direct_answer_in_a_busy_group_waits_for_the_group_alone(
    limited: tuple[UnitApp, FakeTime, LimitedTelegram],
) -> None:
    app, clock, telegram = limited
    for i in range(21):
        await app.bot.send_message(GROUP, f"answer {i}")
    assert telegram.floods == []
    group = [t for t, _, chat in telegram.accepted if chat == GROUP]
    assert group[20] - group[0] >= 60  # the 21st waited for the group's minute
    before = clock()
    await app.bot.send_message(PERSON, "hello")  # another chat: no wait
    assert clock() == before


async def test_a_429_on_a_direct_answer_is_not_slept_on(limited: tuple[UnitApp, FakeTime, LimitedTelegram]) -> None:
    app, clock, telegram = limited
    telegram.fail_next("sendMessage", GROUP, status=429, retry_after=30)
    with pytest.raises(RetryAfter):
        await app.bot.send_message(GROUP, "over the limit")
    assert clock.slept == []  # given back at once, no retry
    await app.bot.send_message(PERSON, "hello")
    assert clock.slept == []  # other chats are not held up
    assert limited[0].bot_data.outbox().pacer.chat_wait(GROUP) > 25  # the group is put off


async def test_an_answer_refused_by_flood_control_is_logged_not_reported_as_a_bug(
    limited: tuple[UnitApp, FakeTime, LimitedTelegram], caplog: pytest.LogCaptureFixture
) -> None:
    app, _clock, telegram = limited
    person = updates.user(PERSON, "Pat")
    telegram.fail_next("sendMessage", PERSON, status=429, retry_after=5)
    from telegram import Update

    await app.process_update(Update.de_json(updates.command(person, updates.private_chat(person), "help"), app.bot))
    assert any("flood control" in r.getMessage() for r in caplog.records)
    assert not any(r.exc_info for r in caplog.records if r.levelname == "ERROR")
    assert [c for c in telegram.calls if c.method == "sendMessage"] == []  # no "something went wrong" after it
