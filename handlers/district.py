"""The district's staff side and residents' rights (issue 11), thin over bot.services.district:

* ``/import`` (staff chat; the caption of an XLSX/CSV document, or a reply to one): the registry,
  all or nothing; the answer lists every problem by line, or the heads' invite links and a QR sheet
  (PDF) to print. ``/headlinks``: new links for every head not linked yet.
* ``/start hi_<token>``: a head's personal invite link; ``/start pc_<CODE>``: the poster's QR code
  (filing for that building).
* ``/reassign N TARGET`` (staff or street chat).
* ``/mydata`` and ``/forgetme`` (private), the ``fg:`` confirmation buttons.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from telegram import InputFile, Update
from telegram.ext import ApplicationHandlerStop, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.app import AppContext
from bot.errors import Conflict, InvalidInput, NotFound, WrongChat
from bot.fonts import find_font
from bot.i18n import Translator, plural
from bot.models import Button, Reply
from bot.posters import InviteCell, render_invite_sheet
from bot.services.district.privacy import render
from bot.services.district.registry import HeadLink, ImportReport
from bot.services.district.sheet import PROBLEMS, RegistryRejected, parse_registry, read_file
from handlers.callback_data import parse_id
from handlers.common import actor, deep_link, is_group, is_private, say, send_reply, send_text, translator
from handlers.errors import on_error
from handlers.setup import _sync_if_staff_chat

if TYPE_CHECKING:
    from bot.app import UnitApp

INVITE_PAYLOAD = re.compile(r"hi_([A-Za-z0-9_-]{16,40})")
POSTER_PAYLOAD = re.compile(r"pc_([A-Za-z0-9]{6})")
FORGET_DATA = re.compile(r"fg:y:([0-9]{1,12}):([0-9a-f]{20})")
PROBLEMS_SHOWN = 60
LINKS_SHOWN = 200


def register(app: UnitApp) -> None:
    """Added by handlers.register in one block: the deep links in group -1 (as handlers.points'),
    the commands, the document with an /import caption, the fg: buttons."""
    deep_links = filters.ChatType.PRIVATE & filters.Regex(r"^/start(@\w+)?\s+(hi|pc)_")
    app.add_handler(CommandHandler("start", start_link, filters=deep_links), group=-1)
    for name, callback in {
        "import": import_command,
        "headlinks": head_links_command,
        "reassign": reassign_command,
        "mydata": my_data_command,
        "forgetme": forget_me_command,
    }.items():
        app.add_handler(CommandHandler(name, callback), group=0)
    captioned = filters.Document.ALL & filters.CaptionRegex(r"^/import(@\w+)?(\s|$)")
    app.add_handler(MessageHandler(captioned, import_command), group=0)
    app.add_handler(CallbackQueryHandler(forget_button, pattern=r"^fg:"), group=0)


# --- deep links -------------------------------------------------------------------------------------
async def start_link(update: Update, context: AppContext) -> None:
    payload = context.args[0] if context.args else ""
    try:
        await context.services.registry.mark_started(actor(update))
        if payload.startswith("hi_"):
            await _head_invite(update, context, payload)
        else:
            await _poster_link(update, context, payload)
    except Exception as exc:  # answered like any other handler's error, then no welcome text
        context.error = exc
        await on_error(update, context)
    raise ApplicationHandlerStop


async def _head_invite(update: Update, context: AppContext, payload: str) -> None:
    match = INVITE_PAYLOAD.fullmatch(payload)
    if match is None:
        raise NotFound("district.invite_unknown")
    linked = await context.services.district.link(actor(update), match.group(1))
    if linked.unit:
        key = "district.linked_unit" if linked.attached else "district.linked_unit_later"
    else:
        key = "district.linked_building" if linked.attached else "district.linked_building_later"
    await say(update, context, key, building=linked.building, unit=linked.unit, community=linked.community.name)


async def _poster_link(update: Update, context: AppContext, payload: str) -> None:
    from handlers.filing import show_step

    match = POSTER_PAYLOAD.fullmatch(payload)
    if match is None:
        raise NotFound("error.building_unknown")
    step = await context.services.filing.start_with_code(actor(update), match.group(1))
    await show_step(update, context, step)


# --- /import and /headlinks ---------------------------------------------------------------------------
async def import_command(update: Update, context: AppContext) -> None:
    message = update.effective_message
    chat = update.effective_chat
    assert message is not None and chat is not None
    if not is_group(update):
        raise WrongChat("error.staff_chat_only")
    await _sync_if_staff_chat(update, context)
    me = actor(update)
    await context.services.district.check_staff(me, chat.id)
    document = message.document or (message.reply_to_message.document if message.reply_to_message else None)
    if document is None:
        raise InvalidInput("district.import_usage")
    if document.file_size is not None and document.file_size > 2_000_000:
        raise InvalidInput("district.too_big", max=2)
    file = await context.bot.get_file(document.file_id)
    raw = bytes(await file.download_as_bytearray())
    t = await translator(update, context)
    try:
        sheet = read_file(raw, document.file_name or "")
        buildings = await asyncio.to_thread(parse_registry, sheet)
        report = await context.services.district.import_registry(me, chat.id, buildings)
    except RegistryRejected as exc:
        await send_text(update, context, _problems_text(t, exc))
        return
    await send_text(update, context, _report_text(t, report))
    await _send_links(update, context, t, list(report.links))


async def head_links_command(update: Update, context: AppContext) -> None:
    chat = update.effective_chat
    assert chat is not None
    if not is_group(update):
        raise WrongChat("error.staff_chat_only")
    await _sync_if_staff_chat(update, context)
    links = await context.services.district.reissue_links(actor(update), chat.id)
    t = await translator(update, context)
    if not links:
        await send_text(update, context, t("district.links_none"))
        return
    await _send_links(update, context, t, links)


def _problems_text(t: Translator, exc: RegistryRejected) -> str:
    lines = [
        t(
            "district.problem_line",
            line=p.line,
            column=p.column,
            problem=t(PROBLEMS.get(p.problem, "district.problem.unreadable")),
        )
        for p in exc.problems[:PROBLEMS_SHOWN]
    ]
    if len(exc.problems) > PROBLEMS_SHOWN:
        lines.append(t("district.problems_more", n=len(exc.problems) - PROBLEMS_SHOWN))
    count = t.plural("count.problems", len(exc.problems))
    return t("district.import_rejected_text", count=count, problems="\n".join(lines))


def _report_text(t: Translator, report: ImportReport) -> str:
    return t(
        "district.import_done",
        buildings=report.buildings_added,
        updated=report.buildings_updated,
        units=report.units_added,
        heads=report.heads_added,
        changed=report.heads_changed,
        by_username=report.linked_by_username,
        attached=report.attached,
        links=len(report.links),
        pending=report.still_pending,
    )


def _place(t: Translator, link: HeadLink) -> str:
    if link.unit:
        return t("district.place_unit", building=link.building, unit=link.unit)
    return t("district.place_building", building=link.building)


async def _send_links(update: Update, context: AppContext, t: Translator, links: list[HeadLink]) -> None:
    """Each head's link as text (to forward), and the QR sheet to print (PDF)."""
    if not links:
        return
    rows = [
        t("district.link_line", person=link.person, place=_place(t, link), link=deep_link(context, link.payload))
        for link in links[:LINKS_SHOWN]
    ]
    await send_text(update, context, t("district.links_heading", n=len(links)) + "\n\n" + "\n\n".join(rows))
    cells = [
        InviteCell(link.person, _place(t, link), t("district.sheet_caption"), deep_link(context, link.payload))
        for link in links
    ]
    font = find_font(context.services.settings.card_font)
    _, pdf = await asyncio.to_thread(render_invite_sheet, cells, t("district.sheet_title"), font)
    assert update.effective_chat is not None
    await context.bot.send_document(
        update.effective_chat.id,
        InputFile(pdf, filename="head-invites.pdf"),
        caption=t("district.sheet_document")[:1024],
    )


# --- /reassign --------------------------------------------------------------------------------------
async def reassign_command(update: Update, context: AppContext) -> None:
    chat = update.effective_chat
    assert chat is not None
    args = list(context.args or [])
    if not is_group(update):
        raise WrongChat("error.staff_chat_only")
    if len(args) != 2:
        raise InvalidInput("district.reassign_usage")
    appeal_id = parse_id(args[0])
    if appeal_id is None:
        raise InvalidInput("district.reassign_usage")
    await _sync_if_staff_chat(update, context)
    done = await context.services.reassign.reassign(actor(update), chat.id, appeal_id, args[1])
    level_key = f"level.{done.level.name.lower()}"
    if done.to_name:
        await say(
            update, context, "district.reassigned_to_person", id=appeal_id, name=done.to_name, level_key=level_key
        )
    else:
        await say(update, context, "district.reassigned_to_level", id=appeal_id, level_key=level_key)


# --- /mydata and /forgetme ----------------------------------------------------------------------------
async def my_data_command(update: Update, context: AppContext) -> None:
    if not is_private(update):
        raise WrongChat("district.private_only")
    data, timezone = await context.services.privacy.my_data(actor(update))
    t = await translator(update, context)
    text = render(t, data, timezone)
    assert update.effective_chat is not None
    await context.bot.send_document(
        update.effective_chat.id,
        InputFile(text.encode("utf-8"), filename="my-data.txt"),
        caption=t("district.mydata_caption")[:1024],
    )


async def forget_me_command(update: Update, context: AppContext) -> None:
    if not is_private(update):
        raise WrongChat("district.private_only")
    prompt = await context.services.privacy.forget_prompt(actor(update))
    buttons = ((Button("district.btn_forget", data=prompt.button_data), Button("district.btn_keep", data="fg:n")),)
    ids = ", ".join(f"#{i}" for i in prompt.open_appeals)
    key = "district.forget_confirm_open" if prompt.open_appeals else "district.forget_confirm"
    await send_reply(
        update,
        context,
        Reply(key, {"ids": ids, "count": plural("district.count_appeals", len(prompt.open_appeals))}, buttons),
    )


async def forget_button(update: Update, context: AppContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    if not is_private(update):
        raise Conflict("error.stale_button")
    if query.data == "fg:n":
        await query.answer()
        await say(update, context, "district.forget_kept")
        return
    match = FORGET_DATA.fullmatch(query.data)
    if match is None:
        raise Conflict("error.stale_button")
    withdrawn = await context.services.privacy.forget(actor(update), int(match.group(1)), match.group(2))
    await query.answer()
    ids = ", ".join(f"#{i}" for i in withdrawn)
    await say(update, context, "district.forgotten_withdrawn" if withdrawn else "district.forgotten", ids=ids)
