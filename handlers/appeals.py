"""Appeal commands, buttons and the private-message router (thin: every rule is in bot.services)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.app import AppContext
from bot.errors import InvalidInput, NotConfigured, NotFound, WrongChat
from bot.i18n import plural
from bot.models import ActionKind, Button, Category, Reply
from bot.services.access import require_private
from bot.services.filing import FilingStep, Receipt
from bot.services.perk_catalog import looks_like_code
from bot.services.queries import AppealLine
from bot.services.routing import action_buttons
from bot.services.satisfaction import rating_buttons
from bot.services.workflow import Outcome
from handlers.appeal_actions import refresh_card
from handlers.callback_data import button_id, parse_id, place_of
from handlers.common import actor, content_of, deep_link, is_group, is_private, say, send_reply, translator
from handlers.perks import check_typed_code
from handlers.setup import is_chat_member

CATEGORY_BUTTONS: tuple[tuple[Button, ...], ...] = tuple(
    (Button(f"category.{c.value}", data=f"f:c:{c.value}"),) for c in Category
)


# --- rendering -------------------------------------------------------------------------------------
async def show_step(update: Update, context: AppContext, step: FilingStep) -> None:
    if step.step == "choose_building":
        rows: tuple[tuple[Button, ...], ...] = tuple(
            (Button("btn.building", data=f"f:b:{b.id}", params={"title": b.title[:40]}),) for b in step.buildings[:20]
        )
        await send_reply(update, context, Reply("filing.choose_building", {}, rows))
    elif step.step == "choose_unit":
        assert step.building is not None
        rows = tuple(
            tuple(
                Button("btn.unit", data=f"f:u:{step.building.id}:{u.id}", params={"unit": u.name})
                for u in step.units[i : i + 4]
            )
            for i in range(0, min(len(step.units), 60), 4)
        )
        await send_reply(update, context, Reply("filing.choose_unit", {"title": step.building.title}, rows))
    elif step.step == "choose_category":
        await send_reply(update, context, Reply("filing.choose_category", {}, CATEGORY_BUTTONS))
    elif step.step == "describe":
        await say(update, context, "filing.describe")
    elif step.step == "unit_saved":
        await say(update, context, "filing.unit_saved", unit=step.units[0].name if step.units else "-")


async def send_receipt(update: Update, context: AppContext, receipt: Receipt) -> None:
    a = receipt.appeal
    await say(
        update,
        context,
        "filing.receipt",
        id=a.id,
        category_key=f"category.{a.category.value}",
        level_key=receipt.level_key,
        first_reply_due=receipt.first_reply_due,
        due=receipt.due,
    )
    context.bot_data.outbox().kick()


async def tell_outcome(update: Update, context: AppContext, outcome: Outcome) -> None:
    if outcome.queued:  # the service queued the message with its change (outbox): just send it
        context.bot_data.outbox().kick()
        return
    buttons: tuple[tuple[Button, ...], ...] = ()
    if outcome.key == "done.taken":  # the remaining actions come with the confirmation
        buttons = action_buttons(outcome.appeal.id, outcome.appeal.status)
    elif outcome.key == "done.confirmed":  # satisfied / partly / not satisfied (5 / 3 / 1)
        buttons = rating_buttons(outcome.appeal.id)
    params = dict(outcome.params)
    params.setdefault("level_key", f"level.{outcome.appeal.level.name.lower()}")
    await send_reply(update, context, Reply(outcome.key, params, buttons))
    context.bot_data.outbox().kick()


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


async def start_payload(update: Update, context: AppContext, payload: str) -> bool:
    """Deep links: ap_<building> (file an appeal), act_<kind>_<appeal> (reply/ask/resolve)."""
    if payload.startswith("ap_") and payload[3:].isdigit():
        building_id = parse_id(payload[3:])
        if building_id is None:
            raise NotFound("error.building_unknown")
        user = actor(update)
        chat_id = await context.services.filing.link_chat(user, building_id)  # None: lives there already
        member = chat_id is not None and await is_chat_member(context, chat_id, user.id)
        step = await context.services.filing.start(user, building_id, chat_member=member)
        await show_step(update, context, step)
        return True
    if payload.startswith("act_"):
        parts = payload.split("_")
        if len(parts) == 3 and parts[2].isdigit() and parts[1] in {k.value for k in ActionKind}:
            appeal_id = parse_id(parts[2])
            if appeal_id is None:
                raise NotFound("error.appeal_unknown", id=parts[2][:24])
            outcome = await context.services.workflow.begin(actor(update), appeal_id, ActionKind(parts[1]))
            await tell_outcome(update, context, outcome)
            return True
    return False


async def my_appeals(update: Update, context: AppContext) -> None:
    if not is_private(update):
        link = deep_link(context, "hello")
        await send_reply(update, context, Reply("general.ask_privately", {}, ((Button("btn.open_bot", url=link),),)))
        return
    lines = await context.services.queries.mine(actor(update))
    await _render_lines(update, context, lines, "list.mine", "list.mine_empty")


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

        await _sync_if_staff_chat(update, context)
        lines = await context.services.queries.chat_open(actor(update), chat.id)
    else:
        lines = await context.services.queries.supervised(actor(update))
    await _render_lines(update, context, lines, "list.open", "list.open_empty")


async def _render_lines(update: Update, context: AppContext, lines: list[AppealLine], title: str, empty: str) -> None:
    t = await translator(update, context)
    if not lines:
        await say(update, context, empty)
        return
    body = "\n".join(
        t("list.line", **line.params) + (" " + t("list.overdue") if line.overdue else "") for line in lines
    )
    await send_reply(update, context, Reply(title, {"lines": body, "count": len(lines)}), t)


async def status(update: Update, context: AppContext) -> None:
    """/status in a building chat: an anonymous summary."""
    chat = update.effective_chat
    assert chat is not None
    if not is_group(update):
        raise WrongChat("error.building_chat_only")
    title, summary = await context.services.queries.building_summary(chat.id)
    counted = {**summary, "open_count": plural("count.open_appeals", int(summary["open_count"]))}  # "1 open appeal"
    await say(update, context, "summary.building", title=title, **counted)


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
    view = await context.services.queries.show(actor(update), appeal_id, place_of(update))
    t = await translator(update, context)
    history = "\n".join(
        t(
            "history.line",
            at=e.at.strftime("%m-%d %H:%M"),
            event_key=f"event.{e.kind}",
            level_key=f"level.{e.level.name.lower()}",
        )
        for e in view.history[-15:]
    )
    buttons: tuple[tuple[Button, ...], ...] = ()
    if view.may_act:
        buttons = action_buttons(view.appeal.id, view.appeal.status)
    elif view.is_resident and view.appeal.status.value == "resolved":
        buttons = ((Button("btn.confirm", data=f"a:ok:{appeal_id}"), Button("btn.reopen", data=f"a:re:{appeal_id}")),)
    await send_reply(update, context, Reply("appeal.view", {**view.params, "history": history}, buttons), t)


async def cancel(update: Update, context: AppContext) -> None:
    existed = await context.services.filing.cancel(actor(update))
    await say(update, context, "general.cancelled" if existed else "general.nothing_to_cancel")


# --- buttons ---------------------------------------------------------------------------------------
async def filing_button(update: Update, context: AppContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    parts = query.data.split(":")
    filing = context.services.filing
    user = actor(update)
    require_private(place_of(update))  # filing buttons live in the resident's private chat
    kind = parts[1] if len(parts) > 1 else ""
    # the work first, then the answer: a refusal answers the button itself (a button is answered once)
    step: FilingStep | None = None
    receipt: Receipt | None = None
    outcome: Outcome | None = None
    if kind == "b":
        (building_id,) = _numbers(parts, 1)
        step = await filing.choose_building(user, building_id)
    elif kind == "u":
        building_id, unit_id = _numbers(parts, 2)
        step = await filing.choose_unit(user, building_id, unit_id)
    elif kind == "c" and len(parts) == 3:
        step, receipt = await filing.choose_category(user, parts[2])
    elif kind == "new":
        (held_id,) = _numbers(parts, 1)
        step = await filing.new_from_held(user, held_id)
    elif kind == "add":
        held_id, appeal_id = _numbers(parts, 2)
        outcome = await context.services.resident.add_held(user, held_id, appeal_id)
    else:
        raise InvalidInput("error.stale_button")
    await query.answer()
    if receipt is not None:
        await send_receipt(update, context, receipt)
    elif outcome is not None:
        await tell_outcome(update, context, outcome)
    elif step is not None:
        await show_step(update, context, step)


def _numbers(parts: list[str], count: int) -> list[int]:
    """The ``count`` numbers after the action in callback data ``x:action:1:2``; anything else is a
    stale or forged button, refused politely."""
    values = parts[2:]
    if len(values) != count:
        raise InvalidInput("error.stale_button")
    return [button_id(v) for v in values]


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
    """Text / voice / photo in a private chat, in this order: a merchant's perk code typed on its own
    (checked as /check would); the user's pending action (reply, question, resolution note); a reply
    to a message of an appeal; the appeal being filed; the answer to a question waiting for them;
    otherwise kept and the user asked what it is."""
    message = update.effective_message
    assert message is not None
    content = content_of(message, context.bot_data.intake.pieces_after(message))  # album / split text: one
    if content is None:
        await say(update, context, "general.unsupported")
        return
    # a code-like text only costs a database read (is it a merchant?); other texts go straight on
    typed_code = content.kind == "text" and looks_like_code(content.text)
    if typed_code and await check_typed_code(update, context, content.text):
        return
    user = actor(update)
    services = context.services
    state = await services.filing.conversation(user.id)  # one read: pending action and draft
    if state.action is not None:
        outcome = await services.workflow.complete(user, content)
        if outcome is not None:
            await tell_outcome(update, context, outcome)
            raise ApplicationHandlerStop
    if message.reply_to_message is not None:
        linked = await services.resident.appeal_of_reply(message.chat_id, message.reply_to_message.message_id)
        if linked is not None:
            await tell_outcome(update, context, await services.resident.message_to_appeal(user, linked, content))
            return
    if state.draft is not None and state.draft.category is not None:
        await send_receipt(update, context, await services.filing.describe(user, content))
        return
    if state.draft is not None:
        step = await services.filing.hold_for_draft(user, content)
        if step is not None:
            await show_step(update, context, step)
            return
    replayed = await services.filing.receipt_again(user, content)  # handled before a crash: receipt again
    if replayed is not None:
        await send_receipt(update, context, replayed)
        return
    waiting = await services.resident.waiting_for(user.id)
    if waiting is not None:
        await tell_outcome(update, context, await services.resident.resident_message(user, waiting, content))
        return
    held, latest = await services.filing.hold_message(user, content)
    rows: list[tuple[Button, ...]] = [(Button("btn.new_appeal", data=f"f:new:{held}"),)]
    if latest is not None:
        rows.append((Button("btn.add_to", data=f"f:add:{held}:{latest.id}", params={"id": latest.id}),))
    await send_reply(update, context, Reply("general.what_is_this", {}, tuple(rows)))
