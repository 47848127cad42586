"""Sends what the outbox holds. Runs after every update that queued something (``kick``) and on a
timer; a 429 puts the message back with Telegram's retry_after, a 403 marks the person unreachable
(the next level is informed), a migrated chat is followed. Messages are never dropped silently."""

from __future__ import annotations

import asyncio
import logging
import warnings
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.i18n import normalize
from handlers.common import chart_pages, draw_chart, keyboard_from_json, split_text
from storage.outbox import OutboxItem

if TYPE_CHECKING:
    from bot.app import UnitApp
    from bot.i18n import Translator

log = logging.getLogger(__name__)
CLAIM = 25  # messages claimed per round


def _retry_after(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22.2+ warns that the type becomes timedelta later
        warnings.simplefilter("ignore")
        value: object = exc.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)  # type: ignore[arg-type]


class Dispatcher:
    def __init__(self, app: UnitApp) -> None:
        self.app = app
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[int] | None = None
        self._again = False

    def kick(self) -> None:
        """Send what is due soon, in the background (the update's handler does not wait)."""
        if self._task is None or self._task.done():
            if self.app.running:
                self._task = self.app.create_task(self.drain(), name="outbox-drain")
            else:  # tests drive process_update without a running application
                self._task = asyncio.get_running_loop().create_task(self.drain(), name="outbox-drain")

    async def wait_idle(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def drain(self, max_rounds: int = 50) -> int:
        """Send everything due now; returns how many messages were sent."""
        sent = 0
        async with self._lock:
            for _ in range(max_rounds):
                self._again = False
                items = await self.app.bot_data.services.delivery.claim(CLAIM)
                for item in items:
                    sent += await self._send(item)
                if len(items) < CLAIM and not self._again:
                    break  # everything due was claimed; what comes later has its own kick or timer
        return sent

    async def _send(self, item: OutboxItem) -> int:
        services = self.app.bot_data.services
        delivery = services.delivery
        bot = self.app.bot
        try:
            if item.copy_from_chat is not None and item.copy_message_id is not None:
                copied = await bot.copy_message(item.chat_id, item.copy_from_chat, item.copy_message_id)
                await delivery.sent(item, copied.message_id)
                return 1
            # as for answers (handlers.common.translator): the person's language if the bot speaks it,
            # else the community's, else the installation's
            lang = normalize(item.lang) or normalize(item.community_lang) or services.settings.language
            t = services.catalogs.translator(lang)
            parts = self._parts(item, t)
            message_id = None
            for i, (chart, text) in enumerate(parts):
                if i < item.parts_sent:
                    continue  # accepted by Telegram before a retry
                if chart is not None:
                    png = await draw_chart(chart, text, services.settings.card_font)
                    if png is not None:
                        await bot.send_photo(item.chat_id, png, caption=text)
                else:
                    markup = keyboard_from_json(t, item.buttons) if i == len(parts) - 1 else None
                    message = await bot.send_message(item.chat_id, text, reply_markup=markup)
                    message_id = message.message_id
                if i < len(parts) - 1:
                    await delivery.part_sent(item, i + 1)
            await delivery.sent(item, message_id)
            return 1
        except RetryAfter as exc:
            wait = _retry_after(exc)
            log.warning("outbox %s: flood control, retry in %.0fs", item.id, wait)
            await delivery.retry(item, timedelta(seconds=wait + 1), "429")
        except ChatMigrated as exc:
            log.info("outbox %s: chat %s became %s", item.id, item.chat_id, exc.new_chat_id)
            await delivery.chat_moved(item, exc.new_chat_id)
            self._again = True  # due again at once, in the new chat
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
