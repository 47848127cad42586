"""Telegram adapters of notices and tasks with read receipts (rules: bot.services.notices; every
permission is checked there, against the chat a button or command came from and the presser).

Commands (the staff chat, or a building chat by its head)
    ``/notice TEXT``, ``/task YYYY-MM-DD TEXT``, ``/urgent TEXT``; a photo or document goes with it
    when the command is its caption, or when the command replies to it.

Buttons
    ``nt:s:<notice>:<scope>``  the sender picks the scope (h unit heads, bh building heads,
                               b chosen buildings, c building chats)
    ``nt:b:<notice>:<building>``  a building chosen / un-chosen in the picker
    ``nt:go:<notice>``  send to the chosen buildings      ``nt:x:<notice>``  drop the draft
    ``nt:r:<notice>``  Read ✓ / Done ✓ / Confirm ✓       ``nt:n:<notice>``  Can't do (a task)
    ``nt:w:<notice>``  who has not answered yet (the sender, or staff)

Registered in :func:`handlers.register` (the caption command before the staff chat's replies).
The sender's status message shows live counts: :func:`edit_statuses` (a periodic job) edits it at
most every ten seconds while answers come in.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from telegram import Message, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from bot.errors import Conflict
from bot.models import Reply
from bot.services.notices import ScopeStep, parse_command
from handlers.callback_data import button_id, place_of
from handlers.common import actor, keyboard, send_reply, translator
from handlers.context import AppContext
from handlers.setup import _sync_if_staff_chat

if TYPE_CHECKING:
    from handlers.context import UnitApp

log = logging.getLogger(__name__)
CAPTION_COMMAND = re.compile(r"^/(notice|task|urgent)(?:@\w+)?(?:\s|$)", re.IGNORECASE)
STATUS_INTERVAL = 5.0  # seconds between looks for status messages to edit (each edited <= every 10 s)


# --- composing ------------------------------------------------------------------------------------
def _attachment(message: Message) -> tuple[int, int] | None:
    """The photo or document sent with the command (as its caption), or the one it replies to."""
    if message.photo or message.document is not None:
        return message.chat_id, message.message_id
    replied = message.reply_to_message
    if replied is not None and (replied.photo or replied.document is not None):
        return replied.chat_id, replied.message_id
    return None


async def _compose(update: Update, context: AppContext, kind: str) -> None:
    message = update.effective_message
    assert message is not None
    who = actor(update)
    await _sync_if_staff_chat(update, context)  # staff are the staff chat's admins: refresh first
    words = (message.text or message.caption or "").split(maxsplit=1)
    draft = parse_command(kind, words[1] if len(words) > 1 else "", _attachment(message))
    reply = await context.services.notices.compose(who, place_of(update), draft)
    await send_reply(update, context, reply)


async def notice_command(update: Update, context: AppContext) -> None:
    await _compose(update, context, "notice")


async def task_command(update: Update, context: AppContext) -> None:
    await _compose(update, context, "task")


async def urgent_command(update: Update, context: AppContext) -> None:
    await _compose(update, context, "urgent")


async def caption_command(update: Update, context: AppContext) -> None:
    """A photo or document whose caption is ``/notice ...``: the file goes with the notice."""
    message = update.effective_message
    assert message is not None
    found = CAPTION_COMMAND.match(message.caption or "")
    assert found is not None  # the handler's filter
    await _compose(update, context, found.group(1).lower())


# --- the sender's buttons -------------------------------------------------------------------------
def _parts(update: Update) -> list[str]:
    query = update.callback_query
    assert query is not None and query.data is not None
    return query.data.split(":")


async def _show(update: Update, context: AppContext, reply: Reply, alert: str | None = None) -> None:
    """Answer the button and put ``reply`` in place of the message it is under."""
    query = update.callback_query
    assert query is not None
    t = await translator(update, context)
    await query.answer(t(alert)[:200] if alert else None)
    try:
        await query.edit_message_text(t(reply.template, **reply.params), reply_markup=keyboard(t, reply.buttons))
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


def _message_id(update: Update) -> int:
    query = update.callback_query
    if query is None or query.message is None:
        raise Conflict("error.stale_button")
    return query.message.message_id


async def scope_button(update: Update, context: AppContext) -> None:
    parts = _parts(update)
    notice_id = button_id(parts[2])
    step: ScopeStep = await context.services.notices.choose(
        actor(update), place_of(update), notice_id, parts[3], _message_id(update)
    )
    await _after_step(update, context, step)


async def building_button(update: Update, context: AppContext) -> None:
    parts = _parts(update)
    notice_id, building_id = button_id(parts[2]), button_id(parts[3])
    step = await context.services.notices.toggle(actor(update), place_of(update), notice_id, building_id)
    await _show(update, context, step.reply)


async def send_chosen_button(update: Update, context: AppContext) -> None:
    notice_id = button_id(_parts(update)[2])
    step = await context.services.notices.send_chosen(actor(update), place_of(update), notice_id, _message_id(update))
    await _after_step(update, context, step)


async def _after_step(update: Update, context: AppContext, step: ScopeStep) -> None:
    await _show(update, context, step.reply, "notices.sending" if step.sent else None)
    if step.sent:
        context.bot_data.outbox().kick()


async def cancel_button(update: Update, context: AppContext) -> None:
    notice_id = button_id(_parts(update)[2])
    reply = await context.services.notices.cancel(actor(update), place_of(update), notice_id)
    await _show(update, context, reply)


async def who_button(update: Update, context: AppContext) -> None:
    """Who has not answered yet, posted in the notice's own chat."""
    query = update.callback_query
    assert query is not None
    notice_id = button_id(_parts(update)[2])
    reply = await context.services.notices.not_answered(actor(update), place_of(update), notice_id)
    await query.answer()
    await send_reply(update, context, reply)


# --- the recipients' buttons ----------------------------------------------------------------------
async def answer_button(update: Update, context: AppContext) -> None:
    """Read ✓ / Done ✓ / Confirm ✓ / Can't do: told in an alert; the buttons go (the answer is kept)."""
    query = update.callback_query
    assert query is not None
    parts = _parts(update)
    notice_id = button_id(parts[2])
    reply = await context.services.notices.answer(actor(update), place_of(update), notice_id, parts[1] == "r")
    t = await translator(update, context)
    await query.answer(t(reply.template, **reply.params)[:200], show_alert=True)
    try:
        await query.edit_message_reply_markup(None)
    except BadRequest as exc:  # already without buttons (a double tap), or too old to edit
        log.debug("notice %s: buttons not removed (%s)", notice_id, exc.message)


# --- live counts ----------------------------------------------------------------------------------
async def edit_statuses(app: UnitApp) -> int:
    """Edit the status messages whose counts changed (each at most every ten seconds); returns how
    many were edited. A message that cannot be edited any more is given up (its counts stay asked
    for with the "who has not answered" button)."""
    services = app.bot_data.services
    edited = 0
    for edit in await services.notices.status_edits():
        t = services.catalogs.translator(edit.lang)
        text = t(edit.reply.template, **edit.reply.params)
        try:
            await app.bot.edit_message_text(
                text, chat_id=edit.chat_id, message_id=edit.message_id, reply_markup=keyboard(t, edit.reply.buttons)
            )
            edited += 1
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                log.info("notice %s: status message not edited (%s)", edit.notice_id, exc.message)
        except Forbidden as exc:
            log.info("notice %s: status chat unreachable (%s)", edit.notice_id, exc.message)
        except (NetworkError, RetryAfter):
            continue  # tried again at the next look (still marked as changed)
        await services.notices.status_shown(edit)
    return edited


async def status_job(context: AppContext) -> None:
    try:
        await edit_statuses(context.application)  # type: ignore[arg-type]
    except Exception as exc:
        if not context.bot_data.services.intake.health.failed(exc):
            raise
