"""Telegram side of "Me too" and "Put to the residents" (issue 12); the rules are in
:mod:`bot.services.metoo`.

Callback data (``mt:``): ``mt:mark`` (while filing: it affects my neighbours too), ``mt:join:<appeal>``
(Me too: under the building chat's post, or offered while filing), ``mt:post:<appeal>`` /
``mt:nopost:<appeal>`` (the resident agrees to the public title, or not), ``mt:rate:<appeal>:<5|3|1>``
(a supporter's satisfaction), ``mt:put:<appeal>`` (a major issue: preview the question) and
``mt:open:<appeal>`` (open the vote). Command: ``/putvote <appeal> [question]``.

Ids are bounded at parsing (handlers.callback_data); who may press is decided by the services
against the chat the button is in and the presser.
"""

from __future__ import annotations

from telegram import Update
from telegram.error import BadRequest

from bot.errors import InvalidInput
from bot.i18n import Translator, plural
from bot.models import Button, Category
from bot.services.access import require_private
from bot.services.filing import FilingStep
from handlers.callback_data import button_id, parse_id, place_of
from handlers.common import actor, keyboard, send_text, translator
from handlers.context import AppContext
from storage.metoo import SharedAppeal

OFFER_TITLE_MAX = 40


def _parts(data: str, count: int) -> list[str]:
    parts = data.split(":")[2:]
    if len(parts) != count:
        raise InvalidInput("error.stale_button")
    return parts


async def describe_extras(
    context: AppContext, t: Translator, user_id: int, step: FilingStep, text: str, rows: tuple[tuple[Button, ...], ...]
) -> tuple[str, tuple[tuple[Button, ...], ...]]:
    """The "describe it" prompt with what Me too adds: open shared appeals of the same category in
    the building to join instead of filing a duplicate, and "it affects my neighbours too"."""
    offers = await context.services.metoo.offers(user_id)
    marked = await context.services.metoo.marked(user_id)
    extra_rows = _describe_rows(offers, marked, step)
    lines = [text]
    if offers:
        listed = "\n".join(
            t("metoo.offer_line", title=o.title, neighbours=plural("metoo.neighbours", o.supporters + 1))
            for o in offers
        )
        lines.append(t("metoo.offer_lead", lines=listed))
    if marked:
        lines.append(t("metoo.marked_note"))
    return "\n\n".join(lines), (*rows, *extra_rows)


def _describe_rows(offers: list[SharedAppeal], marked: bool, step: FilingStep) -> tuple[tuple[Button, ...], ...]:
    rows = [
        (Button("metoo.btn_join_offer", data=f"mt:join:{o.id}", params={"title": o.title[:OFFER_TITLE_MAX]}),)
        for o in offers
    ]
    if step.category in (Category.PROBLEM, Category.MAJOR):  # a question is nobody else's
        rows.append((Button("metoo.btn_unmark" if marked else "metoo.btn_mark", data="mt:mark"),))
    return tuple(rows)


async def metoo_button(update: Update, context: AppContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    parts = query.data.split(":")
    kind = parts[1] if len(parts) > 1 else ""
    me = actor(update)
    place = place_of(update)
    metoo = context.services.metoo
    t = await translator(update, context)
    if kind == "mark" and len(parts) == 2:
        require_private(place)
        marked = await metoo.toggle_mark(me)
        await query.answer(t("metoo.marked_toast" if marked else "metoo.unmarked_toast")[:200], show_alert=True)
        await _refresh_describe(update, context, me.id)
        return
    if kind == "join":
        (raw,) = _parts(query.data, 1)
        if place.chat_id is None:
            raise InvalidInput("error.stale_button")
        answer = await metoo.join(me, button_id(raw), place.chat_id)
        text = t(answer.key, **answer.params, neighbours=plural("metoo.neighbours", int(str(answer.params["count"]))))
        await query.answer(text[:200], show_alert=True)
        if place.private:  # joined instead of filing: the filing prompt says so (no draft is left)
            await _edit_or_send(update, context, text)
        return
    if kind in ("post", "nopost"):
        require_private(place)
        (raw,) = _parts(query.data, 1)
        appeal_id = button_id(raw)
        answer = await (metoo.publish(me, appeal_id) if kind == "post" else metoo.decline(me, appeal_id))
        await query.answer()
        await _edit_or_send(update, context, t(answer.key, **answer.params))
        context.bot_data.outbox().kick()
        return
    if kind == "rate":
        require_private(place)
        raw, score = _parts(query.data, 2)
        answer = await metoo.rate(me, button_id(raw), button_id(score))
        await query.answer()
        await _edit_or_send(update, context, t(answer.key, **answer.params))
        return
    if kind in ("put", "open"):
        (raw,) = _parts(query.data, 1)
        appeal_id = button_id(raw)
        vote = context.services.residents_vote
        put = await (vote.preview(me, appeal_id) if kind == "put" else vote.put(me, appeal_id))
        await query.answer()
        rows = ((Button("metoo.btn_open_vote", data=f"mt:open:{appeal_id}"),),) if kind == "put" else ()
        await send_text(update, context, t(put.key, **put.params), keyboard(t, rows))
        context.bot_data.outbox().kick()
        return
    raise InvalidInput("error.stale_button")


async def put_vote_command(update: Update, context: AppContext) -> None:
    """/putvote <appeal> [question]: put a major issue to the residents (the question as typed, or
    the prefilled one)."""
    message = update.effective_message
    assert message is not None
    args = (message.text or "").split(None, 2)[1:]
    appeal_id = parse_id(args[0]) if args else None
    if appeal_id is None:
        raise InvalidInput("metoo.putvote_usage")
    question = args[1] if len(args) > 1 else None
    put = await context.services.residents_vote.put(actor(update), appeal_id, question)
    t = await translator(update, context)
    await send_text(update, context, t(put.key, **put.params))
    context.bot_data.outbox().kick()


async def _refresh_describe(update: Update, context: AppContext, user_id: int) -> None:
    """After "it affects my neighbours too": the pressed prompt's buttons show the new state."""
    query = update.callback_query
    conversation = await context.services.filing.conversation(user_id)
    if query is None or query.message is None or conversation.draft is None:
        return
    t = await translator(update, context)
    step = FilingStep("describe", category=conversation.draft.category)
    offers = await context.services.metoo.offers(user_id)
    markup = keyboard(t, _describe_rows(offers, await context.services.metoo.marked(user_id), step))
    try:
        await context.bot.edit_message_reply_markup(
            chat_id=query.message.chat.id, message_id=query.message.message_id, reply_markup=markup
        )
    except BadRequest:  # too old to edit, or unchanged: the answer above said it
        return


async def _edit_or_send(update: Update, context: AppContext, text: str) -> None:
    """Replace the pressed message's text (its buttons go); a new message if it cannot be edited."""
    query = update.callback_query
    if query is not None and query.message is not None:
        try:
            await context.bot.edit_message_text(
                text, chat_id=query.message.chat.id, message_id=query.message.message_id
            )
            return
        except BadRequest as exc:
            if "not modified" in exc.message.lower():
                return
    await send_text(update, context, text)
