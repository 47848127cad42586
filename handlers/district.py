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
import csv
import io
import re

from telegram import InputFile, Update
from telegram.ext import ApplicationHandlerStop

from bot.errors import Conflict, InvalidInput, NotFound, WrongChat
from bot.fonts import find_font
from bot.i18n import Translator, plural
from bot.models import Button, Reply
from bot.posters import InviteCell, render_invite_sheet
from bot.services.district.privacy import render
from bot.services.district.registry import HeadLink, ImportReport
from bot.services.district.sheet import MAX_BYTES, PROBLEMS, RegistryRejected, parse_registry, read_file
from handlers.callback_data import parse_id
from handlers.common import actor, deep_link, is_group, is_private, say, send_reply, send_text, translator
from handlers.context import AppContext
from handlers.errors import on_error
from handlers.filing import show_step
from handlers.setup import _sync_if_staff_chat

INVITE_PAYLOAD = re.compile(r"hi_([A-Za-z0-9_-]{16,40})")
POSTER_PAYLOAD = re.compile(r"pc_([A-Za-z0-9]{6})")
FORGET_DATA = re.compile(r"fg:y:([0-9]{1,12}):([0-9a-f]{20})")
PROBLEMS_SHOWN = 60
LINKS_SHOWN = 30  # links written out in the answer; all of them are in the CSV file
SHEET_CELLS = 80  # heads per QR-sheet PDF (10 pages, about 4 s to draw)
SHEETS_MAX = 4  # QR-sheet PDFs per answer; the rest by building (/headlinks BUILDING)


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
    if document.file_size is not None and document.file_size > MAX_BYTES:
        raise InvalidInput("district.too_big", max=MAX_BYTES // 1_000_000)
    file = await context.bot.get_file(document.file_id)
    raw = bytes(await file.download_as_bytearray())
    t = await translator(update, context)
    try:
        # reading a workbook and checking 20,000 rows take a while: not on the loop other chats wait on
        sheet = await asyncio.to_thread(read_file, raw, document.file_name or "")
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
    building = " ".join(context.args or [])  # a building's name: only its heads
    links = await context.services.district.reissue_links(actor(update), chat.id, building or None)
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
    """The links as text (the first ones, to forward), a CSV of them all (for a mail merge), and QR
    sheets to print (PDF, ``SHEET_CELLS`` heads a document, at most ``SHEETS_MAX`` documents; the
    rest building by building with ``/headlinks BUILDING``)."""
    if not links:
        return
    urls = [deep_link(context, link.payload) for link in links]
    rows = [
        t("district.link_line", person=link.person, place=_place(t, link), link=url)
        for link, url in zip(links[:LINKS_SHOWN], urls, strict=False)
    ]
    more = [t("district.links_more", n=len(links) - LINKS_SHOWN)] if len(links) > LINKS_SHOWN else []
    await send_text(update, context, "\n\n".join([t("district.links_heading", n=len(links)), *rows, *more]))
    chat = update.effective_chat
    assert chat is not None
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(
        [t("district.csv_person"), t("district.csv_building"), t("district.csv_unit"), t("district.csv_link")]
    )
    for link, url in zip(links, urls, strict=True):
        writer.writerow([link.person, link.building, link.unit, url])
    await context.bot.send_document(
        chat.id,
        InputFile(("\ufeff" + table.getvalue()).encode("utf-8"), filename="head-invites.csv"),  # BOM: Excel reads UTF-8
    )
    cells = [
        InviteCell(link.person, _place(t, link), t("district.sheet_caption"), url)
        for link, url in zip(links, urls, strict=True)
    ]
    font = find_font(context.services.settings.card_font)
    for number, start in enumerate(range(0, min(len(cells), SHEET_CELLS * SHEETS_MAX), SHEET_CELLS), start=1):
        part = cells[start : start + SHEET_CELLS]
        _, pdf = await asyncio.to_thread(render_invite_sheet, part, t("district.sheet_title"), font)
        await context.bot.send_document(
            chat.id, InputFile(pdf, filename=f"head-invites-{number}.pdf"), caption=t("district.sheet_document")[:1024]
        )
    if len(cells) > SHEET_CELLS * SHEETS_MAX:
        await send_text(update, context, t("district.sheets_more", n=len(cells) - SHEET_CELLS * SHEETS_MAX))


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
    await send_text(update, context, t("district.mydata_caption"))  # what the file is, then the file
    await context.bot.send_document(update.effective_chat.id, InputFile(text.encode("utf-8"), filename="my-data.txt"))


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
