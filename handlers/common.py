"""Shared adapter code: who is acting, what they sent, their language, and rendering of keys,
buttons and long texts into Telegram objects."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update, User
from telegram.constants import ChatType, MessageLimit

from bot.app import AppContext
from bot.charts import chart_png
from bot.fonts import find_font
from bot.i18n import Translator, normalize
from bot.models import Button, Content, Reply, UserInfo

log = logging.getLogger(__name__)


def actor(update: Update) -> UserInfo:
    user = update.effective_user
    assert user is not None
    return user_info(user)


def user_info(user: User) -> UserInfo:
    return UserInfo(
        id=user.id,
        first_name=user.first_name or "",
        last_name=user.last_name,
        username=user.username,
        language_code=user.language_code,
    )


def is_private(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type == ChatType.PRIVATE


def is_group(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)


MAX_VIDEO_SECONDS = 180  # "short videos": longer ones are refused politely (general.unsupported)


def _video_seconds(message: Message) -> float:
    assert message.video is not None
    with warnings.catch_warnings():  # PTB 22.2+ warns that the type becomes timedelta later
        warnings.simplefilter("ignore")
        duration: int | timedelta | None = message.video.duration
    if isinstance(duration, timedelta):
        return duration.total_seconds()
    return float(duration or 0)


def content_of(message: Message) -> Content | None:
    """Text, voice, photo (largest size), a short video or video note, a location; None for
    anything else."""
    if message.voice is not None:
        return Content(
            "voice",
            message.chat_id,
            message.message_id,
            message.caption or "",
            message.voice.file_id,
            message.voice.file_unique_id,
        )
    if message.photo:
        photo = message.photo[-1]
        return Content(
            "photo", message.chat_id, message.message_id, message.caption or "", photo.file_id, photo.file_unique_id
        )
    if message.video is not None and _video_seconds(message) <= MAX_VIDEO_SECONDS:
        video = message.video
        return Content(
            "video", message.chat_id, message.message_id, message.caption or "", video.file_id, video.file_unique_id
        )
    if message.video_note is not None:
        note = message.video_note
        return Content("video_note", message.chat_id, message.message_id, "", note.file_id, note.file_unique_id)
    if message.location is not None:  # "where": a lamp, a leak; the head gets the pin itself
        where = f"{message.location.latitude:.6f},{message.location.longitude:.6f}"
        return Content("location", message.chat_id, message.message_id, "", where, where)
    if message.text is not None:
        return Content("text", message.chat_id, message.message_id, message.text)
    return None


async def translator(update: Update, context: AppContext) -> Translator:
    """The user's chosen language, else their Telegram language, else the community's."""
    services = context.services
    user = update.effective_user
    lang: str | None = None
    if user is not None:
        lang = normalize(await services.registry.language_of(user.id)) or normalize(user.language_code)
    if lang is None and update.effective_chat is not None and update.effective_chat.id < 0:
        ctx = await services.registry.chat_context(update.effective_chat.id)
        lang = ctx.community.language if ctx else None
    return services.catalogs.translator(lang or services.settings.language)


def keyboard(t: Translator, rows: Sequence[Sequence[Button]]) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t(b.label, **b.params), callback_data=b.data)
                if b.data is not None
                else InlineKeyboardButton(t(b.label, **b.params), url=b.url)
                for b in row
            ]
            for row in rows
            if row
        ]
    )


def keyboard_from_json(t: Translator, rows: list[list[dict[str, Any]]]) -> InlineKeyboardMarkup | None:
    return keyboard(
        t, [[Button(b["l"], data=b.get("d"), url=b.get("u"), params=b.get("p", {})) for b in row] for row in rows]
    )


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Split a long text at line breaks (or hard, for a single huge line) into Telegram-sized parts."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        if len(current) + len(line) > limit:
            parts.append(current)
            current = ""
        current += line
    if current:
        parts.append(current)
    return [p for p in parts if p.strip()] or [text[:limit]]


async def send_reply(update: Update, context: AppContext, reply: Reply, t: Translator | None = None) -> Message:
    """Answer the acting user in the chat they wrote in (long texts are split; buttons on the last part)."""
    t = t or await translator(update, context)
    return await send_text(update, context, t(reply.template, **reply.params), keyboard(t, reply.buttons))


async def send_text(
    update: Update, context: AppContext, text: str, markup: InlineKeyboardMarkup | None = None
) -> Message:
    """Send an already translated text to the chat of the update (in its forum topic, if any)."""
    chat = update.effective_chat
    assert chat is not None
    sent: Message | None = None
    thread = update.effective_message.message_thread_id if update.effective_message else None
    parts = split_text(text)
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        sent = await context.bot.send_message(
            chat.id, part, reply_markup=markup if last else None, message_thread_id=thread
        )
    assert sent is not None
    return sent


async def say(update: Update, context: AppContext, template: str, /, **params: Any) -> Message:
    return await send_reply(update, context, Reply(template, params))


def deep_link(context: AppContext, payload: str, *, group: bool = False) -> str:
    from telegram.helpers import create_deep_linked_url

    return create_deep_linked_url(context.bot.username, payload, group=group)


def chart_of(t: Translator, params: dict[str, Any]) -> tuple[list[Any], str] | None:
    """The bar chart a message carries (``params["photo"]``, see
    ``bot.services.elections.publish.photo_spec``): its bars and its caption in the reader's language."""
    photo = params.get("photo")
    if not isinstance(photo, dict) or photo.get("kind") != "bars":
        return None
    caption = t(str(photo.get("caption_key")), **dict(photo.get("caption_params") or {}))
    return list(photo.get("bars") or []), caption[: MessageLimit.CAPTION_LENGTH]


def draw_chart(bars: list[Any], caption: str, font: Path | None) -> bytes | None:
    """The chart as PNG; None if it cannot be drawn (the text version still goes out, and says it all)."""
    try:
        return chart_png(caption, bars, find_font(font))
    except Exception:
        log.exception("a results chart could not be drawn; sending the text only")
        return None
