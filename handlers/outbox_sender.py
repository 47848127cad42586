"""Sends what the outbox holds, paced at Telegram's limits (``bot.pacing``): about 30 messages/s
overall, 20 per minute in a group, ~1/s in a private chat. Different chats are sent to concurrently,
so a chat whose budget is spent never holds up the others: it is left out of the claim (its
messages stay due) until its budget allows again. Personal messages go before bulk fan-outs (the
claim orders by priority). Runs after every update that queued something (``kick``) and on a timer.

A 429 puts that chat's messages back with Telegram's retry_after (several chats at once: the whole
sender pauses); a 403 marks the person unreachable (the next level is informed); a migrated chat is
followed. The outbox owns these retries: no rate limiter sleeps on a 429. Messages are never
dropped silently."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from telegram.constants import MessageLimit
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.i18n import normalize
from bot.pacing import Pacer
from bot.services.stats.monthly import is_report
from handlers.common import chart_pages, draw_chart, keyboard_json, split_text, stored_buttons
from handlers.pacing import OUTBOX, retry_after_seconds
from handlers.stats import send_report_item
from storage.outbox import OutboxItem

if TYPE_CHECKING:
    from bot.i18n import Translator
    from handlers.context import UnitApp

log = logging.getLogger(__name__)
CONCURRENCY = 8  # messages in flight at once (each to a different chat)
IDLE_POLL = 0.25  # longest nap while due messages wait for a chat's budget (new work is seen by then)


class OutboxSender:
    def __init__(self, app: UnitApp, pacer: Pacer | None = None, *, concurrency: int = CONCURRENCY) -> None:
        self.app = app
        self.pacer = pacer or Pacer()
        self.concurrency = concurrency
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[int] | None = None
        self._stopping = False

    def kick(self) -> None:
        """Send what is due soon, in the background (the update's handler does not wait)."""
        if self._task is None or self._task.done():
            if self.app.running:
                self._task = self.app.create_task(self.drain(), name="outbox-drain")
            else:  # tests drive process_update without a running application
                self._task = asyncio.get_running_loop().create_task(self.drain(), name="outbox-drain")

    async def wait_idle(self) -> None:
        """Let a running drain finish the messages in flight, claim nothing more, and return when no
        drain runs (shutdown: a paced drain could otherwise go on for a minute, past the database's
        closing). What is still due stays in the outbox for the next drain."""
        self._stopping = True
        try:
            if self._task is not None:
                await asyncio.gather(self._task, return_exceptions=True)
            async with self._lock:  # the periodic job's drain
                pass
        finally:
            self._stopping = False

    async def drain(self) -> int:
        """Send everything due now, pacing each chat; returns how many messages were sent. Keeps going
        while due messages only wait for a chat's budget, and returns when nothing is due any more
        (what comes later has its own kick or timer)."""
        async with self._lock:
            return await self._drain()

    async def _drain(self) -> int:
        delivery = self.app.bot_data.services.outbox
        pacer = self.pacer
        sent = 0
        flying: dict[asyncio.Task[int], int] = {}  # send task -> its chat
        try:
            while not self._stopping:
                free = self.concurrency - len(flying)
                overall = pacer.overall_wait()
                items: list[OutboxItem] = []
                blocked: dict[int, float] = {}
                if free > 0 and overall <= 0:
                    blocked = pacer.blocked_chats()
                    items = await delivery.claim(
                        free, exclude={*blocked, *flying.values()}, accept=lambda chat: pacer.try_take(chat)
                    )
                for item in items:
                    task = asyncio.get_running_loop().create_task(self._send(item), name=f"outbox-{item.id}")
                    flying[task] = item.chat_id
                if items and len(flying) < self.concurrency and pacer.overall_wait() <= 0:
                    continue  # room and budget for more at once
                if flying:  # until a send ends (its chat is free again), the budget refills or a chat's does
                    budget = pacer.overall_wait()
                    timeout = min(IDLE_POLL, budget if budget > 0 else min(blocked.values(), default=IDLE_POLL))
                    done, _ = await asyncio.wait(flying, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        del flying[task]
                        sent += task.result()
                    continue
                if overall <= 0 and not items and not blocked:
                    return sent  # nothing due, or only messages another process is sending
                if not items:  # what is due waits for a budget (overall, or of its chats)
                    due = await delivery.next_due()
                    if due is None or due > delivery.now():
                        return sent
                    await pacer.sleep(min(overall if overall > 0 else min(blocked.values()), IDLE_POLL))
            # stopping (wait_idle): the messages in flight finish and are recorded, nothing more is claimed
            results = await asyncio.gather(*flying, return_exceptions=True)
            flying.clear()
            return sent + sum(r for r in results if isinstance(r, int))
        finally:
            if flying:  # cancelled: let the messages in flight finish and be recorded
                await asyncio.gather(*flying, return_exceptions=True)

    async def _send(self, item: OutboxItem) -> int:
        services = self.app.bot_data.services
        delivery = services.outbox
        bot = self.app.bot
        # the budget of the first part was taken by the claim; each further part takes its own
        paced: dict[str, Any] = {"rate_limit_args": OUTBOX} if bot.rate_limiter is not None else {}
        try:
            # as for answers (handlers.common.translator): the person's language if the bot speaks it,
            # else the community's, else the installation's
            lang = normalize(item.lang) or normalize(item.community_lang) or services.settings.language
            t = services.catalogs.translator(lang)
            if is_report(item.params):  # the monthly statistics report: its files are built now (handlers.stats)
                await send_report_item(self.app, item, t, paced, self.pacer.acquire)
                await delivery.sent(item, None)
                return 1
            if item.copy_from_chat is not None and item.copy_message_id is not None:
                # a copy keeps its caption, unless the row names the caption to put instead (a notice's
                # photo sent with "/notice TEXT" as its caption: the command is not shown to recipients)
                caption_key = item.params.get("copy_caption")
                if isinstance(caption_key, str):
                    paced = {**paced, "caption": t(caption_key, **item.params)[: MessageLimit.CAPTION_LENGTH]}
                copied = await bot.copy_message(item.chat_id, item.copy_from_chat, item.copy_message_id, **paced)
                await delivery.sent(item, copied.message_id)
                return 1
            parts = self._parts(item, t)
            message_id = None
            budget = True  # the claim took one message of the chat's budget
            for i, (chart, text) in enumerate(parts):
                if i < item.parts_sent:
                    continue  # accepted by Telegram before a retry
                png = await draw_chart(chart, text, services.settings.card_font) if chart is not None else None
                if chart is not None and png is None:
                    continue  # the chart cannot be drawn: the text that follows says the same
                if not budget:
                    await self.pacer.acquire(item.chat_id)
                budget = False
                if png is not None:
                    await bot.send_photo(item.chat_id, png, caption=text, **paced)
                else:
                    markup = keyboard_json(t, stored_buttons(item.buttons)) if i == len(parts) - 1 else None
                    message_id = await bot.send_text_message(item.chat_id, text, reply_markup=markup, **paced)
                if i < len(parts) - 1:
                    await delivery.part_sent(item, i + 1)
            await delivery.sent(item, message_id)
            return 1
        except RetryAfter as exc:
            wait = retry_after_seconds(exc)
            bot_wide = self.pacer.flood(item.chat_id, wait)
            where = "for the whole bot" if bot_wide else "in its chat"
            log.warning("outbox %s: flood control %s, retry in %.0fs", item.id, where, wait)
            await delivery.flood(item, timedelta(seconds=wait + 1))
        except ChatMigrated as exc:
            log.info("outbox %s: chat %s became %s", item.id, item.chat_id, exc.new_chat_id)
            await delivery.chat_moved(item, exc.new_chat_id)
        except Forbidden as exc:
            log.info("outbox %s: chat %s unreachable (%s)", item.id, item.chat_id, exc.message)
            await delivery.unreachable(item, exc.message)
        except BadRequest as exc:
            if "chat not found" in exc.message.lower():
                await delivery.unreachable(item, exc.message)
            else:
                log.error("outbox %s (%s) rejected by Telegram: %s", item.id, item.template, exc.message)
                await delivery.retry(item, timedelta(minutes=10), exc.message)
        except (TimedOut, NetworkError) as exc:
            log.warning("outbox %s: network trouble (%s), will retry", item.id, type(exc).__name__)
            await delivery.retry(item, timedelta(seconds=30), type(exc).__name__)
        except Exception:  # a bug must not block the messages queued behind this one
            log.exception("outbox %s (%s): could not be sent, will retry", item.id, item.template)
            await delivery.retry(item, timedelta(minutes=10), "internal error")
        return 0

    @staticmethod
    def _parts(item: OutboxItem, t: Translator) -> list[tuple[list[Any] | None, str]]:
        """What the item sends, in order: the chart's images (rows and caption each), if the message
        has a chart, then the text in Telegram-sized parts (the text is the accessible version)."""
        parts: list[tuple[list[Any] | None, str]] = [*chart_pages(t, item.params)]
        parts.extend((None, part) for part in split_text(t(item.template, **item.params)))
        return parts
