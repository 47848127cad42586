"""Telegram's sending limits, kept by the bot itself: about 30 messages/s overall, 20 per minute in
one group, about 1 per second in one private chat (short bursts tolerated).

Plain Python with an injected monotonic clock (no I/O, no Telegram types), shared by the outbox
sender (``handlers.outbox_sender``) and the rate limiter in front of the handlers' direct answers
(``handlers.pacing``), so both draw on the same budgets:

* **overall**: a token bucket (``per_second``, ``burst``). The outbox never takes the last
  ``reserve`` tokens: those are for direct answers, where a person is waiting right now.
* **a group** (negative chat id): at most ``group_per_minute`` messages in any ``group_window``
  seconds (the window is a second longer than Telegram's minute, for arrival jitter).
* **a private chat**: a token bucket (``private_per_second``, ``private_burst``).
* **flood control**: a 429 puts its chat off for ``retry_after``; 429s in ``global_flood_chats``
  different chats within ``global_flood_window`` seconds mean the whole bot is over the limit, and
  every send pauses for ``retry_after``.

The budgets are per process: two processes sending for one bot share Telegram's limits between
them (each would then need a share of ``Limits``; the flood-control handling covers the overlap).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


def is_group(chat_id: int) -> bool:
    """Groups, supergroups and channels have negative ids; people have positive ones."""
    return chat_id < 0


@dataclass(frozen=True)
class Limits:
    per_second: float = 30.0
    burst: int = 10
    reserve: int = 3  # overall tokens the outbox leaves to direct answers
    group_per_minute: int = 20
    group_window: float = 61.0
    private_per_second: float = 1.0
    private_burst: int = 2
    global_flood_chats: int = 3
    global_flood_window: float = 2.0


@dataclass
class _Bucket:
    rate: float
    capacity: float
    tokens: float
    at: float

    def refill(self, now: float) -> None:
        if now > self.at:
            self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
            self.at = now

    def wait(self, now: float, keep: float = 0.0) -> float:
        """Seconds until one token can be taken while leaving ``keep`` behind (0: now)."""
        self.refill(now)
        missing = 1.0 + keep - self.tokens
        return 0.0 if missing <= 1e-9 else missing / self.rate

    def take(self) -> None:
        self.tokens -= 1.0


@dataclass
class _Window:
    size: int
    seconds: float
    sent: deque[float] = field(default_factory=deque)

    def wait(self, now: float) -> float:
        while self.sent and self.sent[0] <= now - self.seconds:
            self.sent.popleft()
        if len(self.sent) < self.size:
            return 0.0
        return self.sent[0] + self.seconds - now

    def take(self, now: float) -> None:
        self.sent.append(now)


class Pacer:
    """The sending budgets of one process. ``limits=None`` paces nothing (tests of behaviour)."""

    def __init__(self, limits: Limits | None = None, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep):
        self.limits = limits
        self.clock = clock
        self.sleep = sleep
        self._overall = _Bucket(limits.per_second, limits.burst, limits.burst, clock()) if limits else None
        self._groups: dict[int, _Window] = {}
        self._people: dict[int, _Bucket] = {}
        self._deferred: dict[int, float] = {}  # chat -> monotonic time its flood control ends
        self._paused_until = 0.0  # the whole bot is under flood control until then
        self._floods: deque[tuple[float, int]] = deque()

    # --- asking ------------------------------------------------------------------------------
    def overall_wait(self, *, direct: bool = False) -> float:
        """Seconds until the overall budget allows one more message (the outbox leaves the reserve)."""
        if self.limits is None or self._overall is None:
            return 0.0
        now = self.clock()
        paused = max(0.0, self._paused_until - now)
        keep = 0 if direct else self.limits.reserve
        return max(paused, self._overall.wait(now, keep))

    def chat_wait(self, chat_id: int) -> float:
        """Seconds until ``chat_id``'s own budget allows one more message (0: now)."""
        if self.limits is None:
            return 0.0
        now = self.clock()
        deferred = max(0.0, self._deferred.get(chat_id, 0.0) - now)
        if is_group(chat_id):
            window = self._groups.get(chat_id)
            own = window.wait(now) if window else 0.0
        else:
            bucket = self._people.get(chat_id)
            own = bucket.wait(now) if bucket else 0.0
        return max(deferred, own)

    def wait(self, chat_id: int, *, direct: bool = False) -> float:
        return max(self.overall_wait(direct=direct), self.chat_wait(chat_id))

    def blocked_chats(self, limit: int = 500) -> dict[int, float]:
        """Chats that cannot take a message now, with the seconds until they can (at most ``limit``,
        those free last first). Forgets chats whose budgets are full again."""
        if self.limits is None:
            return {}
        now = self.clock()
        blocked: dict[int, float] = {}
        for chat_id, window in list(self._groups.items()):
            w = window.wait(now)
            if w > 0:
                blocked[chat_id] = w
            elif not window.sent:
                del self._groups[chat_id]
        for chat_id, bucket in list(self._people.items()):
            w = bucket.wait(now)
            if w > 0:
                blocked[chat_id] = w
            elif bucket.tokens >= bucket.capacity:
                del self._people[chat_id]
        for chat_id, until in list(self._deferred.items()):
            if until > now:
                blocked[chat_id] = max(blocked.get(chat_id, 0.0), until - now)
            else:
                del self._deferred[chat_id]
        if len(blocked) > limit:
            blocked = dict(sorted(blocked.items(), key=lambda kv: kv[1], reverse=True)[:limit])
        return blocked

    # --- taking ------------------------------------------------------------------------------
    def try_take(self, chat_id: int, *, direct: bool = False) -> bool:
        """Take one message of the budgets if they allow it now."""
        if self.wait(chat_id, direct=direct) > 0:
            return False
        self._take(chat_id)
        return True

    async def acquire(self, chat_id: int, *, direct: bool = False) -> float:
        """Wait until one message to ``chat_id`` may go, take it; returns the seconds waited."""
        waited = 0.0
        while (w := self.wait(chat_id, direct=direct)) > 0:
            await self.sleep(w)
            waited += w
        self._take(chat_id)
        return waited

    def _take(self, chat_id: int) -> None:
        limits = self.limits
        if limits is None or self._overall is None:
            return
        now = self.clock()
        self._overall.refill(now)
        self._overall.take()
        if is_group(chat_id):
            window = self._groups.setdefault(chat_id, _Window(limits.group_per_minute, limits.group_window))
            window.take(now)
        else:
            bucket = self._people.setdefault(
                chat_id, _Bucket(limits.private_per_second, limits.private_burst, limits.private_burst, now)
            )
            bucket.refill(now)
            bucket.take()

    # --- flood control -----------------------------------------------------------------------
    def flood(self, chat_id: int | None, retry_after: float) -> bool:
        """Telegram answered 429: put the chat off for ``retry_after`` seconds. Returns True when
        it looks bot-wide (several chats within a short time, or no chat): then everything pauses."""
        now = self.clock()
        until = now + max(0.0, retry_after)
        if chat_id is None:
            self._paused_until = max(self._paused_until, until)
            return True
        self._deferred[chat_id] = max(self._deferred.get(chat_id, 0.0), until)
        limits = self.limits or Limits()
        self._floods.append((now, chat_id))
        while self._floods and self._floods[0][0] < now - limits.global_flood_window:
            self._floods.popleft()
        if len({chat for _, chat in self._floods}) >= limits.global_flood_chats:
            self._paused_until = max(self._paused_until, until)
            return True
        return False

    @property
    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self.clock())
