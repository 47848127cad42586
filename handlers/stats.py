"""/stats [YYYY-MM] and /report YYYY-MM [csv]: the figures and the monthly report on demand, in the
staff chat, the street chat, and privately for building heads (their buildings). Who sees what is
decided by the statistics service from the chat and the sender (bot.services.stats.access)."""

from __future__ import annotations

from telegram import InputFile, InputMediaPhoto, Update

from bot.app import AppContext
from bot.errors import InvalidInput
from bot.i18n import Translator
from bot.services.stats.access import Viewer
from bot.services.stats.report import TELEGRAM_FILE_LIMIT
from handlers.common import actor, is_group, is_private, send_text, translator
from handlers.stats_render import chart_images, month_label, report_file, stats_text

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


async def send_photos(update: Update, context: AppContext, images: list[bytes], caption: str) -> None:
    chat = update.effective_chat
    assert chat is not None
    for start in range(0, len(images), ALBUM_MAX):
        batch = images[start : start + ALBUM_MAX]
        if len(batch) == 1:
            await context.bot.send_photo(chat.id, InputFile(batch[0], filename="figures.png"), caption=caption)
        else:
            media = [
                InputMediaPhoto(
                    InputFile(png, filename=f"figures-{start + i + 1}.png"), caption=caption if i == 0 else None
                )
                for i, png in enumerate(batch)
            ]
            await context.bot.send_media_group(chat.id, media)


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
    """/report YYYY-MM [csv]: the month's report as an XLSX workbook (or CSV) and the chart."""
    args = [a.lower() for a in context.args or []]
    if not args or len(args) > 2 or (len(args) == 2 and args[1] not in ("csv", "xlsx")):
        raise InvalidInput("stats.error_report_usage")
    kind = args[1] if len(args) == 2 else "xlsx"
    stats = context.services.stats
    viewer = await _viewer(update, context)
    period = stats.month(viewer, args[0])
    data = await stats.report(viewer, period)
    t = await chat_translator(update, context, viewer)
    if not data.appeals:  # nothing to put in a file: said plainly
        await send_text(
            update, context, t("stats.report_empty", title=viewer.title, month=month_label(period.month or "", t.lang))
        )
        return
    content, name = await report_file(t, data, kind)
    month = month_label(period.month or "", t.lang)
    if len(content) > TELEGRAM_FILE_LIMIT:
        await send_text(update, context, t("stats.error_too_large", month=month, size=f"{len(content) / 2**20:.0f}"))
        return
    chat = update.effective_chat
    assert chat is not None
    caption = t("stats.report_caption", title=viewer.title, month=month, count=len(data.appeals))
    await context.bot.send_document(chat.id, InputFile(content, filename=name), caption=caption)
