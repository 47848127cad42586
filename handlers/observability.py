"""Watching the bot from the Telegram side: updates counted by kind, 429 answers counted at the
transport, and bugs (an unhandled exception in a handler or a job) counted and reported to the
operator chat.

The operator report is sent **directly** with ``bot.send_message``, not through the outbox: the
outbox lives in the database and is itself a job that can fail; a bug in it (or a full disk, a lost
database) reported through it would fail again or queue a report of its own failure on every round.
Sent directly, a report that cannot go out is a warning in the log and nothing more (PTB never
calls the error handlers for an error raised in an error handler, so there is no loop). The rate
limit per signature is shared by all instances through the database (``OperatorReports``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.request import BaseRequest, RequestData

from bot.errors import DomainError
from bot.logging import instance_label, set_appeal
from bot.services.operations import describe_bug
from handlers.context import AppContext

if TYPE_CHECKING:
    from collections.abc import Callable


log = logging.getLogger(__name__)
OBSERVE_GROUP = -100  # before every other group (group -2 may stop processing)


def update_kind(update: Update) -> str:
    for kind in Update.ALL_TYPES:
        if getattr(update, kind, None) is not None:
            return kind
    return "other"


async def count_update(update: Update, context: AppContext) -> None:
    set_appeal(None)  # log lines of this update name an appeal only once a handler sets one
    context.services.metrics.updates.labels(update_kind(update)).inc()


async def report_bug(update: object, context: AppContext) -> None:
    """An error handler next to handlers.errors.on_error (which logs and answers the person)."""
    error = context.error
    if error is None or isinstance(error, DomainError):
        return
    if isinstance(update, Update):
        where, kind = "update", update_kind(update)
    elif context.job is not None:
        where, kind = "job", f"job:{context.job.name}"
    else:
        return  # the polling loop's network trouble: logged by on_error, not a bug of the bot
    services = context.services
    services.metrics.handler_errors.labels(where).inc()
    chat = services.settings.operator_chat
    if chat is None:
        return
    report = describe_bug(error, kind, instance_label(services.settings.instance_name))
    suppressed = await services.operator_reports.claim(report)
    if suppressed is None:
        return
    t = services.catalogs.translator(services.settings.language)
    text = t("operator.bug", instance=report.instance, error=report.error_type, location=report.location, kind=kind)
    if suppressed:
        text += "\n" + t("operator.bug_repeats", count=suppressed)
    try:
        await context.bot.send_message(chat, text)
        log.info("bug %s reported to the operator chat", report.signature)
    except Exception as exc:
        log.warning("bug report to the operator chat not sent: %s", type(exc).__name__)


class ObservedRequest(BaseRequest):
    """Wraps the bot's HTTP transport and counts 429 answers (whoever handles them afterwards:
    the rate limiter's retries or the outbox)."""

    def __init__(self, inner: BaseRequest, on_flood_control: Callable[[], None]) -> None:
        self.inner = inner
        self.on_flood_control = on_flood_control

    @property
    def read_timeout(self) -> float | None:
        return self.inner.read_timeout

    async def initialize(self) -> None:
        await self.inner.initialize()

    async def shutdown(self) -> None:
        await self.inner.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        status, body = await self.inner.do_request(
            url,
            method,
            request_data,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
        )
        if status == 429:
            self.on_flood_control()
        return status, body
