"""The update pump: every update is stored first (``bot.services.intake``), then handled from the
table by the real PTB ``Application.process_update``, and marked handled.

``app.bot_data.intake`` (an :class:`Intake`) is the one way in, in polling and webhook mode alike:

    new = await app.bot_data.intake.accept(raw)  # stored and committed when it returns

Ordering: an update waits only for the earlier updates of its own chat and of its own sender
(:class:`Lanes`); updates of different chats and people are handled concurrently, so a group whose
answers wait for its 20-messages-a-minute limit holds up no one else. Transactions stay correct
under this concurrency because services own them (``BEGIN IMMEDIATE`` serialises writers).

Pieces of one thing a person sent are handled as one: the photos of an album (one
``media_group_id``) and a long text that the Telegram app split into several messages. The first
piece is handled with the others attached (:meth:`Intake.pieces_after`); the others are then marked
handled without running the handlers again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telegram import Message, Update

from storage.errors import is_unwritable

if TYPE_CHECKING:
    from bot.services.intake import IntakeService
    from handlers.context import UnitApp

log = logging.getLogger(__name__)

MAX_CONCURRENT = 64  # updates handled at once (each waits on its own chat's and sender's earlier ones)
PIECES_QUIET = 0.6  # seconds without a further piece before an album / split text is handled
SPLIT_TEXT_MIN = 3500  # a private text this long may be the first part of a text the app split
MAX_PIECES = 10  # Telegram albums hold at most 10 items; a split text is kept up to 10 parts
PRUNE_EVERY = 600.0  # seconds between prunes of old handled rows
RETRY_FINISH = 2.0  # seconds before retrying to mark updates handled when that failed

Key = tuple[str, int]


def lane_keys(raw: dict[str, Any]) -> tuple[Key, ...]:
    """The chat and the sender of a raw update (what its order is kept within)."""
    keys: list[Key] = []
    for name, inner in raw.items():
        if name == "update_id" or not isinstance(inner, dict):
            continue
        chat = inner.get("chat")
        if not isinstance(chat, dict) and isinstance(inner.get("message"), dict):
            chat = inner["message"].get("chat")  # a button under a message
        sender = inner.get("from") if isinstance(inner.get("from"), dict) else inner.get("user")
        if isinstance(chat, dict) and isinstance(chat.get("id"), int):
            keys.append(("c", chat["id"]))
        if isinstance(sender, dict) and isinstance(sender.get("id"), int):
            keys.append(("u", sender["id"]))
        break
    return tuple(keys) or (("x", 0),)  # an update with neither: kept in one order of its own


def _piece_info(raw: dict[str, Any]) -> tuple[str, int, int, str | None, int] | None:
    """(kind, chat, sender, album id, text length) of a private message that may be one piece of
    several: a photo/video of an album, or a text."""
    message = raw.get("message")
    if not isinstance(message, dict):
        return None
    chat, sender = message.get("chat") or {}, message.get("from") or {}
    if chat.get("type") != "private" or not isinstance(sender.get("id"), int):
        return None
    album = message.get("media_group_id")
    if isinstance(album, str):
        return "album", chat["id"], sender["id"], album, 0
    text = message.get("text")
    if isinstance(text, str) and not text.startswith("/"):
        return "text", chat["id"], sender["id"], None, len(text)
    return None


@dataclass
class _Item:
    update_id: int
    raw: dict[str, Any]
    keys: tuple[Key, ...]
    durable: bool  # stored in the table (False: the database could not be written)
    arrived: float = field(default_factory=time.monotonic)
    absorbed: bool = False  # a piece handled with the first piece of its album / text
    started: bool = False


class Lanes:
    """Per-key FIFO queues: an item may run once it heads the queue of each of its keys."""

    def __init__(self) -> None:
        self._queues: dict[Key, deque[int]] = {}
        self.items: dict[int, _Item] = {}

    def __len__(self) -> int:
        return len(self.items)

    def add(self, item: _Item) -> bool:
        """Queue ``item``; True if it may run now."""
        self.items[item.update_id] = item
        for key in item.keys:
            self._queues.setdefault(key, deque()).append(item.update_id)
        return self.may_run(item)

    def may_run(self, item: _Item) -> bool:
        return not item.started and all(self._queues[k][0] == item.update_id for k in item.keys)

    def finish(self, item: _Item) -> list[_Item]:
        """``item`` is done; returns the items that may run now."""
        self.items.pop(item.update_id, None)
        ready: list[_Item] = []
        for key in item.keys:
            queue = self._queues[key]
            queue.popleft()
            if not queue:
                del self._queues[key]
                continue
            head = self.items[queue[0]]
            if self.may_run(head) and head not in ready:
                ready.append(head)
        return ready

    def after(self, item: _Item, key: Key) -> list[_Item]:
        """The items queued behind ``item`` under ``key``, in order."""
        queue = self._queues.get(key, deque())
        return [self.items[i] for i in list(queue)[1:]]


class Intake:
    """``app.bot_data.intake``: accept updates durably, handle them from the table."""

    def __init__(self, app: UnitApp, service: IntakeService) -> None:
        self.app = app
        self.service = service
        self._lanes = Lanes()
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = False
        self._stopping = False
        self._ready: list[_Item] = []  # may run, waiting for start()
        self._pieces: dict[tuple[int, int], list[Message]] = {}
        self._unfinished: list[int] = []  # handled, but marking them handled failed: retried
        self._housekeeping: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    # --- the way in ---------------------------------------------------------------------------------
    async def accept(self, raw: dict[str, Any]) -> bool:
        """Store one update (committed when this returns) and queue it for handling. False: this
        ``update_id`` was stored before (a redelivery), nothing is done. If the database cannot be
        written at all (disk full, read-only), the update is handled without being stored, so the
        person is told that it could not be saved, and True is returned. Other errors raise (the
        caller must then not confirm the update to Telegram)."""
        return bool(await self.accept_many([raw]))

    async def accept_many(self, raws: list[dict[str, Any]]) -> list[int]:
        """Store a batch in one transaction; returns the ids that were new (and are queued)."""
        if not raws:
            return []
        rows = [(int(raw["update_id"]), json.dumps(raw, ensure_ascii=False, separators=(",", ":"))) for raw in raws]
        try:
            new = set(await self.service.store(rows))
        except Exception as exc:
            if not is_unwritable(exc):
                raise
            for raw in raws:  # answered from memory: the handlers' own writes fail and say so
                self._queue(_Item(int(raw["update_id"]), raw, lane_keys(raw), durable=False))
            return [int(raw["update_id"]) for raw in raws]
        for raw in raws:
            if int(raw["update_id"]) in new:
                self._queue(_Item(int(raw["update_id"]), raw, lane_keys(raw), durable=True))
        return [r[0] for r in rows if r[0] in new]

    # --- life cycle ---------------------------------------------------------------------------------
    async def start(self) -> int:
        """Queue the updates stored but not handled before the last stop or crash (first, in their
        order), then handle everything accepted. Returns how many were recovered."""
        recovered = await self.service.recover()
        for stored in recovered:
            if stored.update_id not in self._lanes.items:
                raw = json.loads(stored.payload)
                self._queue(_Item(stored.update_id, raw, lane_keys(raw), durable=True))
        if recovered:
            log.info("handling %s updates stored before the last stop", len(recovered))
        self._running = True
        ready, self._ready = self._ready, []
        for item in ready:
            self._spawn(item)
        self._housekeeping = asyncio.get_running_loop().create_task(self._keep_house(), name="intake-housekeeping")
        return len(recovered)

    async def stop(self, grace: float = 5.0) -> None:
        """Handle nothing new; let the updates being handled finish (at most ``grace`` seconds, then
        they are cancelled: still stored, they are handled at the next start)."""
        self._stopping = True
        self._running = False
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            await asyncio.gather(self._housekeeping, return_exceptions=True)
        tasks = list(self._tasks)
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=grace)
            for task in late:
                task.cancel()
            if late:
                log.warning("%s updates were cut short by the stop; they are handled at the next start", len(late))
                await asyncio.gather(*late, return_exceptions=True)
        await self._flush_unfinished()

    async def wait_idle(self) -> None:
        """Until every queued update is handled (tests and benchmarks)."""
        await self._idle.wait()

    def pieces_after(self, message: Message) -> list[Message]:
        """The further photos of an album, or parts of a split text, handled with ``message``."""
        return self._pieces.get((message.chat_id, message.message_id), [])

    # --- scheduling ---------------------------------------------------------------------------------
    def _queue(self, item: _Item) -> None:
        if item.update_id in self._lanes.items or self._stopping:
            return
        self._idle.clear()
        if self._lanes.add(item):
            self._spawn(item)

    def _spawn(self, item: _Item) -> None:
        if not self._running:
            self._ready.append(item)
            return
        item.started = True
        task = asyncio.get_running_loop().create_task(self._run(item), name=f"update-{item.update_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, item: _Item) -> None:
        try:
            if not item.absorbed:
                async with self._slots:
                    await self._handle(item)
            await self._finish(item)
        except asyncio.CancelledError:
            return  # stopping: the row stays pending and is handled at the next start
        except Exception:
            log.exception("update %s could not be handled", item.update_id)
        for ready in self._lanes.finish(item):
            self._spawn(ready)
        if not self._lanes.items:
            self._idle.set()

    async def _handle(self, item: _Item) -> None:
        pieces = await self._gather_pieces(item)
        update = Update.de_json(item.raw, self.app.bot)
        key: tuple[int, int] | None = None
        if pieces and update.message is not None:
            key = (update.message.chat_id, update.message.message_id)
            self._pieces[key] = [m for p in pieces if (m := Update.de_json(p.raw, self.app.bot).message) is not None]
        try:
            await self.app.process_update(update)  # handler errors go to handlers.errors.on_error
        finally:
            if key is not None:
                self._pieces.pop(key, None)

    async def _gather_pieces(self, item: _Item) -> list[_Item]:
        """The other pieces of what ``item`` begins (an album, a split text), waiting until no new
        piece has come for ``PIECES_QUIET`` seconds; they are marked absorbed."""
        info = _piece_info(item.raw)
        if info is None or (info[0] == "text" and info[4] < SPLIT_TEXT_MIN):
            return []
        kind, chat, sender, album, _ = info
        while True:
            pieces = self._pieces_queued(item, kind, chat, sender, album)
            newest = max([item.arrived, *(p.arrived for p in pieces)])
            wait = newest + PIECES_QUIET - time.monotonic()
            if wait <= 0 or len(pieces) >= MAX_PIECES - 1:
                break
            await asyncio.sleep(wait)
        for piece in pieces:
            piece.absorbed = True
        return pieces

    def _pieces_queued(self, item: _Item, kind: str, chat: int, sender: int, album: str | None) -> list[_Item]:
        pieces: list[_Item] = []
        previous_length = _piece_info(item.raw)
        last_len = previous_length[4] if previous_length else 0
        for later in self._lanes.after(item, ("c", chat)):
            info = _piece_info(later.raw)
            if info is None or info[0] != kind or info[2] != sender or later.absorbed:
                break
            if kind == "album" and info[3] != album:
                break
            if kind == "text" and last_len < SPLIT_TEXT_MIN:
                break  # the previous part was not cut at the limit: this one is a new message
            pieces.append(later)
            last_len = info[4]
            if len(pieces) >= MAX_PIECES - 1:
                break
        return pieces

    async def _finish(self, item: _Item) -> None:
        if not item.durable:
            return
        try:
            await self.service.finish([*self._unfinished, item.update_id])
            self._unfinished.clear()
        except Exception as exc:
            if not is_unwritable(exc):
                log.exception("update %s handled but not marked handled", item.update_id)
            self._unfinished.append(item.update_id)  # marked with the next write that works

    async def _flush_unfinished(self) -> None:
        if self._unfinished:
            try:
                await self.service.finish(self._unfinished)
                self._unfinished.clear()
            except Exception as exc:
                if not is_unwritable(exc):
                    log.exception("updates %s handled but not marked handled", self._unfinished)

    async def _keep_house(self) -> None:
        """Prune old handled rows now and then; retry marking updates handled after a failure."""
        last_prune = 0.0
        while True:
            await asyncio.sleep(RETRY_FINISH)
            await self._flush_unfinished()
            if time.monotonic() - last_prune >= PRUNE_EVERY:
                last_prune = time.monotonic()
                try:
                    pruned = await self.service.prune()
                    if pruned:
                        log.info("forgot %s updates handled more than two days ago", pruned)
                except Exception as exc:
                    if not self.service.health.failed(exc):
                        log.exception("pruning handled updates failed")
