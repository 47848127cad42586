"""Appeal commands, buttons and the private-message router (thin: every rule is in bot.services)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.errors import InvalidInput, NotConfigured, NotFound, WrongChat
from bot.i18n import plural
from bot.models import ActionKind, Button, Reply
from bot.services.perk_catalog import looks_like_code
from bot.services.routing import appeal_buttons
from handlers import care, wishes
from handlers.appeal_actions import refresh_card
from handlers.callback_data import button_id, parse_id, place_of
from handlers.common import (
    actor,
    content_of,
    deep_link,
    is_group,
    is_private,
    keyboard,
    say,
    send_reply,
    send_text,
    translator,
)
from handlers.context import AppContext
from handlers.filing import _numbers, filing_button, show_step
from handlers.keyboards import pressed
from handlers.outcomes import tell_outcome
from handlers.perks import check_typed_code
from handlers.timeline import list_buttons, timeline_text

__all__ = ["filing_button"]  # registered from here (handlers/__init__.py)


# --- rendering -------------------------------------------------------------------------------------


# --- commands --------------------------------------------------------------------------------------
async def appeal_command(update: Update, context: AppContext) -> None:
    """/appeal: in a building chat, a button to a private chat (no personal details in the group)."""
    chat = update.effective_chat
    assert chat is not None
    if is_group(update):
        ctx = await context.services.registry.chat_context(chat.id)
        if ctx is None or ctx.building is None:
            raise NotConfigured("error.chat_not_registered")
        link = deep_link(context, f"ap_{ctx.building.id}")
        await send_reply(update, context, Reply("filing.go_private", {}, ((Button("btn.write_privately", url=link),),)))
        return
    step = await context.services.filing.start(actor(update), None)
    await show_step(update, context, step)


async def my_appeals(update: Update, context: AppContext) -> None:
    """/myappeals (or "📋 My appeals"): the resident's appeals as buttons; each opens its timeline."""
    if not is_private(update):
        link = deep_link(context, "hello")
        await send_reply(update, context, Reply("general.ask_privately", {}, ((Button("btn.open_bot", url=link),),)))
        return
    lines = await context.services.queries.mine(actor(update))
    t = await translator(update, context)
    if not lines:
        await send_reply(update, context, Reply("list.mine_none", {}, ((Button("btn.report", data="f:start"),),)), t)
        return
    rows = list_buttons(t, lines, resident=True)
    await send_reply(update, context, Reply("list.mine_pick", {"count": len(lines)}, rows), t)


async def open_appeals(update: Update, context: AppContext) -> None:
    """/open: heads see their units' / buildings' open appeals; in the staff chat, the community's."""
    chat = update.effective_chat
    assert chat is not None
    if is_group(update):
        ctx = await context.services.registry.chat_context(chat.id)
        if ctx is None:
            raise NotConfigured("error.chat_not_registered")
        if ctx.kind == "building":
            await status(update, context)
            return
        from handlers.setup import _sync_if_staff_chat

        await _sync_if_staff_chat(update, context, ctx)
        lines = await context.services.queries.chat_open(actor(update), chat.id)
    else:
        lines = await context.services.queries.supervised(actor(update))
    t = await translator(update, context)
    if not lines:
        await say(update, context, "list.open_empty")
        return
    rows = list_buttons(t, lines, resident=False)
    await send_reply(update, context, Reply("list.open_pick", {"count": len(lines)}, rows), t)


async def status(update: Update, context: AppContext) -> None:
    """/status in a building chat: an anonymous summary, and the building's code for the poster."""
    chat = update.effective_chat
    assert chat is not None
    if not is_group(update):
        raise WrongChat("error.building_chat_only")
    title, summary = await context.services.queries.building_summary(chat.id)
    t = await translator(update, context)
    counted = {**summary, "open_count": plural("count.open_appeals", int(summary["open_count"]))}  # "1 open appeal"
    text = t("summary.building", title=title, **counted)
    code = await context.services.buildings.code_for_chat(chat.id)
    if code:
        from bot.services.building_codes import shown

        text += "\n\n" + t("building.code_line", code=shown(code))
    await send_text(update, context, text)


async def show(update: Update, context: AppContext) -> None:
    """/show N: one appeal with its history (resident, handlers and their supervisors)."""
    args = context.args or []
    if len(args) != 1 or not args[0].lstrip("#").isdigit():
        raise InvalidInput("error.show_usage")
    appeal_id = parse_id(args[0])
    if appeal_id is None:
        raise NotFound("error.appeal_unknown", id=args[0].lstrip("#")[:24])
    await show_appeal(update, context, appeal_id)


async def show_appeal(update: Update, context: AppContext, appeal_id: int) -> None:
    chat = update.effective_chat
    if is_group(update) and chat is not None:
        ctx = await context.services.registry.chat_context(chat.id)
        if ctx is None or ctx.kind == "building":
            # an appeal's details never go to a building group: only private, staff and street chats
            link = deep_link(context, "hello")
            await send_reply(
                update, context, Reply("general.ask_privately", {}, ((Button("btn.open_bot", url=link),),))
            )
            return
    me = actor(update)
    view = await context.services.queries.show(me, appeal_id, place_of(update))
    t = await translator(update, context)
    buttons: tuple[tuple[Button, ...], ...] = ()
    if view.may_act:
        buttons = appeal_buttons(view.appeal)
    elif view.is_resident and view.appeal.status.value == "resolved":
        buttons = ((Button("btn.confirm", data=f"a:ok:{appeal_id}"), Button("btn.reopen", data=f"a:re:{appeal_id}")),)
    await send_text(update, context, timeline_text(t, view, me.id), keyboard(t, buttons))


async def cancel(update: Update, context: AppContext) -> None:
    existed = await context.services.filing.cancel(actor(update))
    await say(update, context, "general.cancelled" if existed else "general.nothing_to_cancel")


async def action_button(update: Update, context: AppContext) -> None:
    """a:<action>:<appeal>[:<arg>] — buttons on appeal cards."""
    query = update.callback_query
    assert query is not None and query.data is not None
    parts = query.data.split(":")
    if len(parts) < 3:
        raise InvalidInput("error.stale_button")
    action, rest = parts[1], parts[3:]
    (appeal_id,) = _numbers(parts[:3], 1)
    workflow, resident = context.services.workflow, context.services.resident
    user = actor(update)
    # pressed in the presser's private chat or a chat of the appeal's own chain, nowhere else
    await context.services.queries.check_appeal_place(appeal_id, place_of(update))
    if action in ("reply", "ask", "res"):
        kind = {"reply": ActionKind.REPLY, "ask": ActionKind.ASK, "res": ActionKind.RESOLVE}[action]
        if not is_private(update):
            # the text is written in a private chat: the button opens it, where the deep link
            # (/start act_...) saves the action with its prompt
            await workflow.check_may_act(user, appeal_id)
            await query.answer(url=deep_link(context, f"act_{kind.value}_{appeal_id}"))
            return
        outcome = await workflow.begin(user, appeal_id, kind)
    elif action == "take":
        chat = update.effective_chat
        outcome = await workflow.take(user, appeal_id, in_chat=None if is_private(update) or chat is None else chat.id)
        await query.answer()
        await refresh_card(update, context, outcome.appeal)
        await tell_outcome(update, context, outcome)
        return
    elif action == "esc":
        outcome = await workflow.escalate_now(user, appeal_id)
        await query.answer()
        await refresh_card(update, context, outcome.appeal, keep_actions=False)
        await tell_outcome(update, context, outcome)
        return
    elif action == "ok":
        outcome = await resident.confirm(user, appeal_id)
    elif action == "re":
        outcome = await resident.reopen(user, appeal_id)
    elif action == "rate" and len(rest) == 1:
        outcome = await resident.rate(user, appeal_id, button_id(rest[0]))
    elif action == "still" and len(rest) == 1 and rest[0] in ("y", "n"):  # the return visit of a major issue
        outcome = await context.services.follow_ups.still_fixed(user, appeal_id, rest[0] == "y")
    elif action == "show":
        await context.services.queries.show(user, appeal_id, place_of(update))  # refusals answer the button
        await query.answer()
        await show_appeal(update, context, appeal_id)
        return
    else:
        raise InvalidInput("error.stale_button")
    await query.answer()
    await tell_outcome(update, context, outcome)


# --- private messages ------------------------------------------------------------------------------
async def private_message(update: Update, context: AppContext) -> None:
    """Text / voice / photo / video / location in a private chat, in this order: a keyboard button
    ("📝 Report a problem"...), in any language; a merchant's perk code typed on its own (checked as
    /check would); the user's pending action (reply, question, resolution note); a reply to a
    message of an appeal; the appeal being filed; a building code (or more words) while the bot
    waits for the resident's building; the answer to a question waiting for them; otherwise a new
    appeal with this message as its description (or, with an appeal open, the question which)."""
    message = update.effective_message
    assert message is not None
    content = content_of(message, context.bot_data.intake.pieces_after(message))  # album / split text: one
    if content is None:
        await say(update, context, "resident.unsupported")
        return
    if content.kind == "text":
        action = pressed(context.services.catalogs, content.text)
        if action is not None:
            await keyboard_pressed(update, context, action)
            return
    # a code-like text only costs a database read (is it a merchant?); other texts go straight on
    typed_code = content.kind == "text" and looks_like_code(content.text)
    if typed_code and await check_typed_code(update, context, content.text):
        return
    user = actor(update)
    services = context.services
    state = await services.filing.conversation(user.id)  # one read: pending action, draft, building wait
    if state.action is not None:
        outcome = await services.workflow.complete(user, content)
        if outcome is not None:
            await tell_outcome(update, context, outcome)
            raise ApplicationHandlerStop
    # a wish being written or a message about one; a care-list entry's label or note (handlers.wishes,
    # handlers.care; one primary-key read each), unless the appeal being filed was touched since
    filing_since = state.draft.created_at if state.draft is not None else None
    if await wishes.private_message(update, context, content, filing_since):
        return
    if await care.private_message(update, context, content, filing_since):
        return
    if message.reply_to_message is not None:
        linked = await services.resident.appeal_of_reply(message.chat_id, message.reply_to_message.message_id)
        if linked is not None:
            await tell_outcome(update, context, await services.resident.message_to_appeal(user, linked, content))
            return
    if state.draft is not None and state.draft.category is not None:
        await services.filing.describe(user, content)  # the receipt and the card are in the outbox
        context.bot_data.outbox().kick()
        return
    if state.draft is not None:
        step = await services.filing.hold_for_draft(user, content)
        if step is not None:
            await show_step(update, context, step)
            return
    if await services.filing.filed_by(user, content) is not None:
        # handled before a crash (the update is replayed): its receipt was queued with the filing
        context.bot_data.outbox().kick()
        return
    if state.finding_building:
        await show_step(update, context, await services.filing.typed_while_finding(user, content))
        return
    waiting = await services.resident.waiting_for(user.id)
    if waiting is not None:
        await tell_outcome(update, context, await services.resident.resident_message(user, waiting, content))
        return
    held, latest = await services.filing.hold_message(user, content)
    if latest is None:  # nothing open to add it to: it is a new appeal, and this is its description
        await show_step(update, context, await services.filing.new_from_held(user, held))
        return
    rows: list[tuple[Button, ...]] = [(Button("btn.new_appeal", data=f"f:new:{held}"),)]
    rows.append((Button("btn.add_to", data=f"f:add:{held}:{latest}", params={"id": latest}),))
    await send_reply(update, context, Reply("general.what_is_this", {}, tuple(rows)))


async def keyboard_pressed(update: Update, context: AppContext, action: str) -> None:
    """A button of the persistent keyboard (handlers.keyboards): the same as its command."""
    from handlers import general, points

    if action == "report":
        await show_step(update, context, await context.services.filing.start(actor(update), None))
    elif action == "mine":
        await my_appeals(update, context)
    elif action == "open":
        await open_appeals(update, context)
    elif action == "points":
        await points.points_command(update, context)
    elif action == "language":
        await general.lang(update, context)
    elif action == "vote":
        await say(update, context, "resident.vote_where")
    elif action == "check":
        await say(update, context, "resident.check_how")
    elif action == "wish":
        await wishes.start_wish(update, context)
    elif action == "care":
        await care.start_care(update, context)
    else:
        await general.help_command(update, context)
