"""/stats [YYYY-MM] and /report YYYY-MM [csv]: the figures and the monthly report on demand, in the
staff chat, the street chat, and privately for building heads (their buildings). Who sees what is
decided by the statistics service from the chat and the sender (bot.services.stats.access)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from telegram import Bot, InputFile, InputMediaPhoto, Update
from telegram.constants import ChatAction

from bot.errors import DomainError, InvalidInput
from bot.i18n import Translator
from bot.services.stats import Period
from bot.services.stats.access import Audience, Viewer
from bot.services.stats.report import TELEGRAM_FILE_LIMIT
from handlers.common import actor, is_group, is_private, send_text, translator
from handlers.context import AppContext
from handlers.stats_render import chart_images, month_label, report_file, stats_text
from storage.outbox import OutboxItem

if TYPE_CHECKING:
    from handlers.context import UnitApp

ALBUM_MAX = 10  # photos in one album (sendMediaGroup)


async def _viewer(update: Update, context: AppContext) -> Viewer:
    chat = update.effective_chat
    assert chat is not None
    if is_group(update):
        from handlers.setup import _sync_if_staff_chat

        await _sync_if_staff_chat(update, context)  # staff are the admins of the staff chat: refresh first
    return await context.services.stats.viewer(actor(update).id, chat.id, private=is_private(update))


async def chat_translator(update: Update, context: AppContext, viewer: Viewer) -> Translator:
    """A group's figures in the chat's language (the community's); a private chat's in the person's."""
    if is_group(update):
        return context.services.catalogs.translator(viewer.community.language)
    return await translator(update, context)


def _albums(images: list[bytes]) -> list[list[bytes]]:
    return [images[i : i + ALBUM_MAX] for i in range(0, len(images), ALBUM_MAX)]


async def send_album(bot: Bot, chat_id: int, batch: list[bytes], caption: str, **extra: Any) -> None:
    """One photo, or an album of up to ten (the caption on the first)."""
    if len(batch) == 1:
        await bot.send_photo(chat_id, InputFile(batch[0], filename="figures.png"), caption=caption, **extra)
        return
    media = [
        InputMediaPhoto(InputFile(png, filename=f"figures-{i + 1}.png"), caption=caption if i == 0 else None)
        for i, png in enumerate(batch)
    ]
    await bot.send_media_group(chat_id, media, **extra)


async def send_photos(update: Update, context: AppContext, images: list[bytes], caption: str) -> None:
    chat = update.effective_chat
    assert chat is not None
    for batch in _albums(images):
        await send_album(context.bot, chat.id, batch, caption)


async def stats_command(update: Update, context: AppContext) -> None:
    """/stats [YYYY-MM]: the month's figures as a short text and the chart."""
    args = context.args or []
    if len(args) > 1:
        raise InvalidInput("stats.error_stats_usage")
    stats = context.services.stats
    viewer = await _viewer(update, context)
    period = stats.month(viewer, args[0] if args else None)
    view = await stats.view(viewer, period)
    t = await chat_translator(update, context, viewer)
    text = stats_text(t, view)
    if view.figures.total.filed.total:
        images = await chart_images(t, view, context.services.settings.card_font)
        await send_photos(
            update, context, images, t("stats.chart_caption", month=month_label(period.month or "", t.lang))
        )
    await send_text(update, context, text)


async def report_command(update: Update, context: AppContext) -> None:
    """/report YYYY-MM [csv]: the month's report as an XLSX workbook (or CSV) and the chart;
    /report day N (staff chat): the day of the month the report goes out by itself (0: never)."""
    args = [a.lower() for a in context.args or []]
    if args and args[0] == "day":
        await _report_day(update, context, args[1:])
        return
    if not args or len(args) > 2 or (len(args) == 2 and args[1] not in ("csv", "xlsx")):
        raise InvalidInput("stats.error_report_usage")
    kind = args[1] if len(args) == 2 else "xlsx"
    stats = context.services.stats
    viewer = await _viewer(update, context)
    period = stats.month(viewer, args[0])
    chat = update.effective_chat
    assert chat is not None
    # a district's month takes seconds to write: the chat shows "sending a file…" meanwhile
    await context.bot.send_chat_action(chat.id, ChatAction.UPLOAD_DOCUMENT)
    data = await stats.report(viewer, period)
    t = await chat_translator(update, context, viewer)
    if not data.appeals and not (data.care and data.care.in_use):  # nothing to put in a file: said plainly
        await send_text(
            update, context, t("stats.report_empty", title=viewer.title, month=month_label(period.month or "", t.lang))
        )
        return
    content, name = await report_file(t, data, kind)
    month = month_label(period.month or "", t.lang)
    if len(content) > TELEGRAM_FILE_LIMIT:
        await send_text(update, context, t("stats.error_too_large", month=month, size=f"{len(content) / 2**20:.0f}"))
        return
    caption = t("stats.report_caption", title=viewer.title, month=month, count=len(data.appeals))
    await context.bot.send_document(chat.id, InputFile(content, filename=name), caption=caption)


async def _report_day(update: Update, context: AppContext, args: list[str]) -> None:
    chat = update.effective_chat
    assert chat is not None
    if len(args) != 1 or not (args[0] == "off" or (args[0].isdigit() and len(args[0]) <= 2)):
        raise InvalidInput("stats.error_report_day")
    if not is_group(update):
        raise InvalidInput("stats.error_report_day_staff")
    from handlers.setup import _sync_if_staff_chat

    await _sync_if_staff_chat(update, context)
    day = await context.services.stats_reports.set_day(actor(update), chat.id, 0 if args[0] == "off" else int(args[0]))
    t = await translator(update, context)
    await send_text(update, context, t("stats.report_day_off") if day == 0 else t("stats.report_day_set", day=day))


# --- the monthly report, sent by the outbox (handlers.outbox_sender) ----------------------------------------
async def send_report_item(
    app: UnitApp, item: OutboxItem, t: Translator, paced: dict[str, Any], acquire: Callable[[int], Awaitable[float]]
) -> None:
    """Build and send a queued monthly report in ``t``'s language: the chart (albums), the workbook and
    a line saying what it is. Parts Telegram took before a retry are not sent again; each part after
    the first waits for the chat's budget (the claim took the first)."""
    services = app.bot_data.services
    spec = item.params["report"]
    viewer = await services.stats_reports.viewer_for(int(spec["community_id"]), Audience(str(spec["audience"])))
    if viewer is None:
        return  # the community is gone: nothing to report
    period = Period.parse_month(str(spec["month"]))
    month = month_label(period.month or "", t.lang)
    try:
        data = await services.stats.report(viewer, period)
    except DomainError as refusal:  # e.g. the community has no buildings (any more): said plainly, once
        await app.bot.send_message(item.chat_id, t(refusal.key, **refusal.params), **paced)
        return
    parts: list[Callable[[], Awaitable[object]]] = []
    if data.appeals or (data.care and data.care.in_use):  # the care list and wishes alone make a report too
        if data.appeals:
            view = await services.stats.view(viewer, period)
            images = await chart_images(t, view, services.settings.card_font)
            caption = t("stats.chart_caption", month=month)
            for batch in _albums(images):
                parts.append(lambda batch=batch: send_album(app.bot, item.chat_id, batch, caption, **paced))  # type: ignore[misc]
        content, name = await report_file(t, data, "xlsx")
        if len(content) > TELEGRAM_FILE_LIMIT:
            too_large = t("stats.error_too_large", month=month, size=f"{len(content) / 2**20:.0f}")
            parts.append(lambda: app.bot.send_message(item.chat_id, too_large, **paced))
        else:
            doc_caption = t("stats.report_caption", title=viewer.title, month=month, count=len(data.appeals))
            parts.append(
                lambda: app.bot.send_document(
                    item.chat_id, InputFile(content, filename=name), caption=doc_caption, **paced
                )
            )
        closing = t("stats.monthly_report", title=viewer.title, month=month)
    else:
        closing = t("stats.report_empty", title=viewer.title, month=month)
    parts.append(lambda: app.bot.send_message(item.chat_id, closing, **paced))
    for index, part in enumerate(parts):
        if index < item.parts_sent:
            continue  # Telegram took it before a retry
        if index > max(item.parts_sent, 0):
            await acquire(item.chat_id)
        await part()
        if index < len(parts) - 1:
            await services.outbox.part_sent(item, index + 1)
