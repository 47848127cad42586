"""A handler's own answer that meets a Telegram server error (5xx) is sent again, safely (Telegram did
not take it); when it still does not go through, the person is not told that what they did failed
(issue 9: "the person never sees a failure for something that succeeded")."""

from __future__ import annotations

import logging

import pytest

from tests.harness import Harness
from tests.support import updates

WENT_WRONG = "something went wrong"


async def test_a_5xx_on_a_direct_answer_is_sent_again_once(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    me = h.p.resident
    h.rt.telegram.fail_next("sendMessage", me["id"], status=502)
    with caplog.at_level(logging.WARNING):
        calls = await h.cmd(me, updates.private_chat(me), "help")
    answers = [c.text or "" for c in calls if c.method == "sendMessage" and c.chat_id == me["id"] and c.error is None]
    assert len(answers) == 1, answers  # delivered exactly once, on the second try
    assert not [t for t in answers if WENT_WRONG in t]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_direct_answer_that_never_goes_through_is_no_failure_for_the_person(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    await h.setup_community()
    appeal_id = await h.file_appeal()
    uma = h.p.uhead
    card = h.last_to(uma)
    h.rt.telegram.fail_next("sendMessage", uma["id"], status=502, times=3)  # the answer to Take it
    with caplog.at_level(logging.WARNING):
        calls = await h.press(uma, card, f"a:take:{appeal_id}")
    async with h.services.db.read() as tx:
        status = await tx.fetchval("SELECT status FROM appeals WHERE id = ?", (appeal_id,))
    assert status != "new"  # the take succeeded ...
    to_uma = [c.text or "" for c in calls if c.chat_id == uma["id"] and c.error is None]
    assert not [t for t in to_uma if WENT_WRONG in t]  # ... and she is not told that it failed
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r for r in caplog.records if "did not reach Telegram" in r.getMessage()]
