"""A fake Bot API that enforces Telegram's sending limits, answering 429 with ``retry_after``.

    telegram = LimitedTelegram(clock=fake_time)           # or time.monotonic (the default)
    RecordingRequest(telegram)  /  FakeBotApiServer(telegram)

The limits as this fake enforces them (Telegram publishes them only roughly, "bursts tolerated"):

* overall: a token bucket of ``per_second`` (30) messages per second holding at most one second's
  worth: more than 30/s kept up gets 429;
* a group (negative chat id): at most ``group_per_minute`` (20) messages in any 60 seconds;
* a private chat: a token bucket of 1 message per second holding ``private_burst`` (3).

Only calls that put a message in a chat count (send*, copyMessage, forwardMessage; not
sendChatAction). A refused call does not count. ``accepted`` and ``floods`` record what happened,
with the clock's time.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.support.botapi import Call, FakeTelegram, Upload, error_body, normalize_chat_id

JSONDict = dict[str, Any]


def counts_as_message(method: str) -> bool:
    return method.startswith(("send", "copyMessage", "forwardMessage")) and method != "sendChatAction"


@dataclass
class Flood:
    at: float
    method: str
    chat_id: int
    limit: str  # "overall" | "group" | "private"
    retry_after: int


@dataclass
class TelegramLimits:
    clock: Callable[[], float] = time.monotonic
    per_second: float = 30.0
    group_per_minute: int = 20
    private_per_second: float = 1.0
    private_burst: int = 3
    _overall: tuple[float, float] | None = None  # (tokens, at)
    _groups: dict[int, deque[float]] = field(default_factory=dict)
    _people: dict[int, tuple[float, float]] = field(default_factory=dict)

    def check(self, chat_id: int) -> tuple[str, int] | None:
        """Count one message to ``chat_id`` if the limits allow it; else (which limit, retry_after)."""
        now = self.clock()
        tokens, at = self._overall or (self.per_second, now)
        tokens = min(self.per_second, tokens + (now - at) * self.per_second)
        if tokens < 1.0:
            return "overall", max(1, math.ceil((1.0 - tokens) / self.per_second))
        if chat_id < 0:
            window = self._groups.setdefault(chat_id, deque())
            while window and window[0] <= now - 60.0:
                window.popleft()
            if len(window) >= self.group_per_minute:
                return "group", max(1, math.ceil(window[0] + 60.0 - now))
            window.append(now)
        else:
            own, own_at = self._people.get(chat_id, (float(self.private_burst), now))
            own = min(float(self.private_burst), own + (now - own_at) * self.private_per_second)
            if own < 1.0:
                return "private", max(1, math.ceil((1.0 - own) / self.private_per_second))
            self._people[chat_id] = (own - 1.0, now)
        self._overall = (tokens - 1.0, now)
        return None


class LimitedTelegram(FakeTelegram):
    """:class:`FakeTelegram` behind Telegram's sending limits (see the module's docstring)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, **limits: Any) -> None:
        super().__init__()
        self.limits = TelegramLimits(clock, **limits)
        self.clock = clock
        self.floods: list[Flood] = []
        self.accepted: list[tuple[float, str, int]] = []  # (time, method, chat) of counted messages
        self.enforcing = True
        self._limits_lock = threading.Lock()

    def handle(self, method: str, params: JSONDict, files: dict[str, Upload] | None = None) -> tuple[int, JSONDict]:
        chat = normalize_chat_id(params.get("chat_id"))
        if self.enforcing and isinstance(chat, int) and counts_as_message(method):
            with self._limits_lock:
                refused = self.limits.check(chat)
            if refused is not None:
                limit, retry_after = refused
                self.floods.append(Flood(self.clock(), method, chat, limit, retry_after))
                body = error_body(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)
                with self.lock:
                    self.rejected.append(Call(method, params, files or {}, error=body))
                return 429, body
        status, body = super().handle(method, params, files)
        if status == 200 and isinstance(chat, int) and counts_as_message(method):
            with self._limits_lock:
                self.accepted.append((self.clock(), method, chat))
        return status, body


class FakeTime:
    """A monotonic clock for pacing tests: ``sleep`` moves it on at once (nothing really waits)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        import asyncio

        self.slept.append(seconds)
        target = self.t + max(0.0, seconds)
        await asyncio.sleep(0)
        self.t = max(self.t, target)
