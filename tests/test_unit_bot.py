"""``UnitBot.send_text_message`` (handlers/context.py) makes the request PTB's ``send_message`` makes,
with and without ``Defaults``, through the rate limiter; it returns the sent message's id and
never makes one up."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, cast

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.ext import BaseRateLimiter, Defaults
from telegram.request import BaseRequest, RequestData

from handlers.context import UnitBot

SENT = {"message_id": 7, "date": 0, "chat": {"id": 1, "type": "private"}, "text": "hi"}


class Answering(BaseRequest):
    """Answers every call with ``result``; keeps each call's method and parameters."""

    def __init__(self, result: object) -> None:
        self.result = result
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    @property
    def read_timeout(self) -> float:
        return 5.0

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        params = dict(request_data.parameters) if request_data else {}
        self.calls.append((url.rsplit("/", 1)[1], params))
        return 200, json.dumps({"ok": True, "result": self.result}).encode()


class Seen(BaseRateLimiter[str]):
    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(
        self, callback: Any, args: Any, kwargs: Any, endpoint: str, data: dict[str, Any], rate_limit_args: str | None
    ) -> Any:
        self.seen.append((endpoint, rate_limit_args))
        return await callback(*args, **kwargs)


def _bot(request: Answering, **options: Any) -> UnitBot:
    return UnitBot("123:secret", request=request, get_updates_request=request, **options)


@pytest.mark.parametrize(
    "defaults",
    [
        None,
        Defaults(
            parse_mode="HTML",
            disable_notification=True,
            protect_content=True,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        ),
    ],
)
async def test_a_text_goes_as_send_message_sends_it(defaults: Defaults | None) -> None:
    request, limiter = Answering(SENT), Seen()
    bot = _bot(request, defaults=defaults, rate_limiter=limiter)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="a:1")]])
    # UnitBot is ExtBot[None] (no typed rate-limit arguments); the outbox passes its own through send_text_message
    await bot.send_message(1, "hi", reply_markup=markup, message_thread_id=3, rate_limit_args="outbox")  # type: ignore[arg-type]
    sent = await bot.send_text_message(1, "hi", reply_markup=markup, message_thread_id=3, rate_limit_args="outbox")
    assert sent == 7
    (method_a, theirs), (method_b, ours) = request.calls
    assert method_a == method_b == "sendMessage"
    assert ours == theirs
    if defaults is not None:
        assert ours["parse_mode"] == "HTML" and ours["protect_content"] is True
    assert limiter.seen == [("sendMessage", "outbox")] * 2


async def test_an_inline_keyboard_goes_through_the_callback_data_cache_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``arbitrary_callback_data`` (it needs the cachetools extra, not installed) ExtBot swaps
    an inline keyboard's data in ``_replace_keyboard``: the text send calls it as send_message does."""
    request = Answering(SENT)
    bot = _bot(request)
    replaced = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="cached-key")]])
    seen: list[object] = []

    def replace(markup: object) -> object:
        seen.append(markup)
        return replaced

    monkeypatch.setattr(bot, "_replace_keyboard", replace)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="a:1")]])
    await bot.send_text_message(1, "hi", reply_markup=markup)
    assert seen == [markup]
    assert request.calls[0][1]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "cached-key"


@pytest.mark.parametrize("answer", [True, {"ok": 1}, {"message_id": "7"}, [SENT]])
async def test_an_answer_without_a_message_id_is_no_id_and_no_error(answer: object) -> None:
    """Telegram took the message (HTTP 200, ok): raising would make the outbox send it again."""
    request = Answering(answer)
    bot = _bot(request)
    assert await bot.send_text_message(1, "hi") is None
    assert len(request.calls) == 1


async def test_the_outbox_counts_a_message_answered_without_an_id_as_sent_once() -> None:
    """No retry of what Telegram took: one request, the item recorded sent (with no message id)."""
    from bot.i18n import Catalogs
    from handlers.outbox_sender import OutboxSender
    from storage.outbox import OutboxItem

    recorded: list[tuple[str, object]] = []

    class Delivery:
        async def sent(self, item: OutboxItem, message_id: int | None) -> None:
            recorded.append(("sent", message_id))

        async def part_sent(self, item: OutboxItem, parts: int) -> None:
            recorded.append(("part_sent", parts))

        async def retry(self, item: OutboxItem, after: object, error: str) -> None:
            recorded.append(("retry", error))

    request = Answering({"date": 0, "chat": {"id": 1, "type": "private"}, "text": "hi"})
    services = SimpleNamespace(
        outbox=Delivery(), catalogs=Catalogs(), settings=SimpleNamespace(language="en", card_font=None)
    )
    app = SimpleNamespace(bot=_bot(request), bot_data=SimpleNamespace(services=services))
    sender = OutboxSender(cast(Any, app))
    item = OutboxItem(1, 42, None, None, None, "stats.yes", {}, [], None, None, attempts=0)
    assert await sender._send(item) == 1
    assert [method for method, _ in request.calls] == ["sendMessage"]
    assert recorded == [("sent", None)]
