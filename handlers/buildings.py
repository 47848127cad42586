"""A building's own name and its poster: ``/buildingname NAME`` and ``/poster [zh|en|ru]`` in the
building chat, for staff and the building head (rules in bot.services.buildings).

``/poster`` answers with the building's code and a text to print (as before), then the printable A4
poster (issue 12) as a PNG and a PDF: the building's name, its building head and unit heads by
unit, how to reach them through the bot, and a QR code that opens the bot straight into filing for
this building (``/start pc_<CODE>``, handlers.district). In the community's language, or the one
given.
"""

from __future__ import annotations

import asyncio

from telegram import InputFile, Update

from bot.errors import InvalidInput, WrongChat
from bot.fonts import draws_chinese, find_font
from bot.i18n import Translator
from bot.posters import PosterFace, render_poster
from bot.services.building_codes import shown
from bot.services.buildings import PosterData
from bot.services.registry import LANGUAGES
from handlers.common import actor, deep_link, is_group, say
from handlers.context import AppContext


async def building_name(update: Update, context: AppContext) -> None:
    chat = update.effective_chat
    if chat is None or not is_group(update):
        raise WrongChat("error.building_chat_only")
    building = await context.services.buildings.rename(actor(update), chat.id, " ".join(context.args or []))
    await say(update, context, "building.renamed", title=building.title)


async def poster(update: Update, context: AppContext) -> None:
    chat = update.effective_chat
    if chat is None or not is_group(update):
        raise WrongChat("error.building_chat_only")
    args = [a.lower() for a in context.args or []]
    if len(args) > 1 or (args and args[0] not in LANGUAGES):
        raise InvalidInput("district.poster_usage", choices=", ".join(LANGUAGES))
    data = await context.services.buildings.poster_data(actor(update), chat.id)
    building, code = data.building, data.code
    await say(update, context, "building.poster", title=building.title, code=shown(code), bot=context.bot.username)
    t = context.services.catalogs.translator(args[0] if args else data.language)
    font = find_font(context.services.settings.card_font)
    english = context.services.catalogs.translator("en")
    face = poster_face(t, data, deep_link(context, f"pc_{code}"), context.bot.username or "", font, english)
    png, pdf = await asyncio.to_thread(render_poster, face, font)
    name = f"poster-{code}"
    await context.bot.send_photo(
        chat.id, InputFile(png, filename=f"{name}.png"), caption=t("district.poster_caption")[:1024]
    )
    await context.bot.send_document(
        chat.id, InputFile(pdf, filename=f"{name}.pdf"), caption=t("district.poster_pdf")[:1024]
    )


def poster_face(
    t: Translator, data: PosterData, link: str, bot_name: str, font: str | None, english: Translator
) -> PosterFace:
    """The poster's texts; without a CJK font, a note (in English: Chinese could not be drawn) says why
    Chinese shows as boxes."""
    nobody = t("district.poster_nobody")
    units = tuple(t("district.poster_unit", unit=unit, name=head or nobody) for unit, head in data.units)
    texts = [data.building.title, data.building_head or "", *(head or "" for _, head in data.units)]
    needs_cjk = t.lang == "zh" or any("\u2e80" <= ch <= "\u9fff" for text in texts for ch in text)
    return PosterFace(
        title=data.building.title,
        subtitle=t("district.poster_subtitle"),
        heads_heading=t("district.poster_heads"),
        building_head=t("district.poster_building_head", name=data.building_head or nobody),
        unit_lines=units or (t("district.poster_no_units"),),
        how_heading=t("district.poster_how"),
        how_lines=(
            t("district.poster_step_scan"),
            t("district.poster_step_open", bot=bot_name),
            t("district.poster_step_write"),
        ),
        qr_caption=t("district.poster_qr"),
        link=link,
        code_line=t("district.poster_code", code=shown(data.code)),
        footer=t("district.poster_footer"),
        font_note=english("district.poster_no_cjk_font") if needs_cjk and not draws_chinese(font) else "",
    )
