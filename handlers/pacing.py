"""PTB's rate limiter slot, filled with the bot's own pacer (``bot.pacing.Pacer``).

Direct answers of the handlers (``send_message`` & co. to the chat of the update) wait for the
same budgets the outbox draws on: overall, the group's 20 per minute, the private chat's ~1/s. Only
the call that is over its budget waits; nothing else does. A 429 is never retried here (no sleep
that holds every call of the bot, as PTB's ``AIORateLimiter`` with retries does): it puts the chat
(or, when several chats get one at once, the whole bot) off in the pacer and goes back to the caller.
The outbox passes ``rate_limit_args=OUTBOX``: it took its budget before the call.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram._utils.types import JSONDict
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.pacing import Pacer

log = logging.getLogger(__name__)
OUTBOX = "outbox"  # rate_limit_args of the outbox's calls: the budget is taken already
_NOT_MESSAGES = frozenset({"sendChatAction"})


def retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22.2+ warns that the type becomes timedelta later
        warnings.simplefilter("ignore")
        value: object = exc.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)  # type: ignore[arg-type]


def is_message(endpoint: str) -> bool:
    """Calls that put a message in a chat (what Telegram's limits count)."""
    return endpoint.startswith(("send", "copyMessage", "forwardMessage")) and endpoint not in _NOT_MESSAGES


def chat_of(data: dict[str, Any]) -> int | None:
    value = data.get("chat_id")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None  # an @channel username: no budget of its own here


class PacingLimiter(BaseRateLimiter[str]):
    def __init__(self, pacer: Pacer) -> None:
        self.pacer = pacer

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: str | None,
    ) -> bool | JSONDict | list[JSONDict]:
        chat_id = chat_of(data)
        if rate_limit_args != OUTBOX and chat_id is not None and is_message(endpoint):
            waited = await self.pacer.acquire(chat_id, direct=True)
            if waited > 1.0:
                log.info("answer to chat %s waited %.1fs for its sending budget", chat_id, waited)
        try:
            return await callback(*args, **kwargs)
        except RetryAfter as exc:
            if self.pacer.flood(chat_id, retry_after_seconds(exc)):
                log.warning("flood control for the whole bot: sending pauses %.0fs", retry_after_seconds(exc))
            raise
