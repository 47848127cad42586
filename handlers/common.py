"""Shared adapter code: who is acting, what they sent, their language, and rendering of keys,
buttons and long texts into Telegram objects."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import warnings
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update, User
from telegram.constants import ChatType, MessageLimit
from telegram.error import BadRequest, NetworkError, TimedOut

from bot.charts import PAGE_ROWS, chart_png
from bot.errors import InvalidInput
from bot.fonts import find_font
from bot.i18n import Translator, normalize
from bot.models import Button, Content, Reply, UserInfo
from handlers.context import AnyMarkup, AppContext, JsonMarkup

log = logging.getLogger(__name__)


def actor(update: Update) -> UserInfo:
    """Who acts. A message without a sender (a channel post, a message sent as a channel) acts for
    nobody: it is answered politely instead."""
    user = update.effective_user
    if user is None:
        raise InvalidInput("security.no_sender")
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


def content_of(message: Message, pieces: Sequence[Message] = ()) -> Content | None:
    """Text, voice or photo (largest size); None for anything else. ``pieces``: the rest of what
    was sent as one (handlers.intake): the further photos of an album, or the further parts of a
    long text the Telegram app split; they become one content (texts and captions joined)."""
    first = _content_of(message)
    rest = [c for c in (_content_of(m) for m in pieces) if c is not None]
    if first is None or not rest:
        return first
    text = "\n".join(c.text for c in (first, *rest) if c.text)
    media = tuple(c for c in rest if c.is_media)
    return dataclasses.replace(first, text=text, more=media if first.is_media else ())


def _content_of(message: Message) -> Content | None:
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


def keyboard_json(t: Translator, rows: Sequence[Sequence[Button]]) -> JsonMarkup | None:
    """:func:`keyboard` as the Bot API's JSON, for a message being sent: a list of 30 appeals is 30
    buttons, and PTB's objects for them (built, then turned back into JSON) cost more than the
    rest of the answer."""
    if not rows:
        return None
    return {
        "inline_keyboard": [
            [
                {"text": t(b.label, **b.params), "callback_data": b.data}
                if b.data is not None
                else {"text": t(b.label, **b.params), "url": b.url}
                for b in row
            ]
            for row in rows
            if row
        ]
    }


def stored_buttons(rows: list[list[dict[str, Any]]]) -> list[list[Button]]:
    """The buttons an outbox row keeps (``{"l": label, "d": data, "u": url, "p": params}``)."""
    return [[Button(b["l"], data=b.get("d"), url=b.get("u"), params=b.get("p", {})) for b in row] for row in rows]


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


DIRECT_ATTEMPTS = 3  # a direct answer that meets a 5xx or a dropped connection is sent again (twice)
DIRECT_RETRY_SECONDS = 0.5


async def send_reply(update: Update, context: AppContext, reply: Reply, t: Translator | None = None) -> int | None:
    """Answer the acting user in the chat they wrote in (long texts are split; buttons on the last
    part); the id of the last message sent (None if Telegram's answer had none)."""
    t = t or await translator(update, context)
    return await send_text(update, context, t(reply.template, **reply.params), keyboard_json(t, reply.buttons))


async def send_text(update: Update, context: AppContext, text: str, markup: AnyMarkup | None = None) -> int | None:
    """Send an already translated text to the chat of the update (in its forum topic, if any); the
    id of the last message sent (None if Telegram's answer had none)."""
    chat = update.effective_chat
    assert chat is not None
    sent: int | None = None
    thread = update.effective_message.message_thread_id if update.effective_message else None
    parts = split_text(text)
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        for attempt in range(1, DIRECT_ATTEMPTS + 1):
            try:
                sent = await context.bot.send_text_message(
                    chat.id, part, reply_markup=markup if last else None, message_thread_id=thread
                )
                break
            except (BadRequest, TimedOut):
                raise  # refused (not worth repeating), or maybe delivered (a repeat could double it)
            except NetworkError:
                # a 5xx or a dropped connection: Telegram did not take it, so sending again is safe
                if attempt == DIRECT_ATTEMPTS:
                    raise
                await asyncio.sleep(DIRECT_RETRY_SECONDS * attempt)
    return sent


async def say(update: Update, context: AppContext, template: str, /, **params: Any) -> int | None:
    return await send_reply(update, context, Reply(template, params))


def deep_link(context: AppContext, payload: str, *, group: bool = False) -> str:
    from telegram.helpers import create_deep_linked_url

    return create_deep_linked_url(context.bot.username, payload, group=group)


CHART_MEASURES = {"votes": "chart.votes", "wins": "chart.wins"}  # what a bar counts -> its plural text


def chart_pages(t: Translator, params: dict[str, Any]) -> list[tuple[list[dict[str, Any]], str]]:
    """The bar chart a message carries (``params["photo"]``, see
    ``bot.services.elections.publish.photo_spec``) as images to send, in the reader's language: each
    image's rows (every candidate, :data:`bot.charts.PAGE_ROWS` per image, one scale for all) and
    caption ("... (1 of 3)" when there are several). Empty: the message has no chart."""
    photo = params.get("photo")
    if not isinstance(photo, dict) or photo.get("kind") != "bars":
        return []
    caption = t(str(photo.get("caption_key")), **dict(photo.get("caption_params") or {}))
    items = [i for i in photo.get("bars") or [] if isinstance(i, dict)]
    if not items:
        return []
    measure = CHART_MEASURES.get(str(photo.get("measure") or "votes"), "chart.votes")
    several_buildings = len({str(i.get("building") or "") for i in items}) > 1
    values = [_count(i.get("votes", i.get("value"))) for i in items]
    rows = [
        {
            "label": str(item.get("label") or ""),
            "detail": _unit_line(t, item, several_buildings),
            "value": value,
            "value_text": t.plural(measure, value),
            "rank": item.get("rank"),
            "scale": max(values),
        }
        for item, value in zip(items, values, strict=True)
    ]
    pages = -(-len(rows) // PAGE_ROWS)
    size, longer = divmod(len(rows), pages)  # balanced: 25 candidates are 9 + 8 + 8, not 9 + 9 + 7
    out = []
    start = 0
    for page in range(pages):
        end = start + size + (1 if page < longer else 0)
        title = caption if pages == 1 else t("chart.part", caption=caption, page=page + 1, pages=pages)
        out.append((rows[start:end], title[: MessageLimit.CAPTION_LENGTH]))
        start = end
    return out


def _count(value: object) -> int:
    try:
        return int(value) if isinstance(value, int | float | str) else 0
    except ValueError:
        return 0


def _unit_line(t: Translator, item: dict[str, Any], with_building: bool) -> str:
    """'Unit 3 · Building 7' (the building only when the chart spans several), '' when unknown."""
    unit = str(item.get("unit") or "").strip()
    building = str(item.get("building") or "").strip() if with_building else ""
    if unit in ("", "-"):
        return building if building not in ("", "-") else ""
    if building in ("", "-"):
        return t("chart.unit", unit=unit)
    return t("chart.unit_building", unit=unit, building=building)


async def draw_chart(bars: list[Any], caption: str, font: Path | None) -> bytes | None:
    """One chart image (rows from :func:`chart_pages`) as PNG, drawn in a worker thread (a tenth of a
    second or more: other chats' answers must not wait for it); None if it cannot be drawn (the text
    version still goes out, and says it all)."""
    try:
        return await asyncio.to_thread(chart_png, caption, bars, find_font(font))
    except Exception:
        log.exception("a results chart could not be drawn; sending the text only")
        return None
