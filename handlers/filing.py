"""Filing an appeal, as the resident sees it: one question message, edited in place as they answer
(building -> unit -> category -> "describe it"), then the receipt (queued by the service, in the
outbox). A filing costs the prompt, the receipt and the head's card: three messages.

Callback data (``f:``): ``f:b:<building>``, ``f:bx`` (another building), ``f:u:<building>:<unit>``,
``f:c:<category>``, ``f:anon`` (hide my name from the heads / show it), ``f:new:<kept message>``,
``f:add:<kept message>:<appeal>``.
"""

from __future__ import annotations

from telegram import Update
from telegram.error import BadRequest

from bot.errors import InvalidInput
from bot.i18n import Translator
from bot.models import Button, Category
from bot.services.access import require_private
from bot.services.filing import FilingStep
from bot.services.workflow import Outcome
from handlers.callback_data import button_id, place_of
from handlers.common import actor, keyboard, send_text, translator
from handlers.context import AppContext
from handlers.outcomes import tell_outcome

CATEGORY_EXAMPLES = (
    ("category.consultation", "category.consultation_example"),
    ("category.problem", "category.problem_example"),
    ("category.major", "category.major_example"),
)
# the wording of "which building?" changes each time it is asked, so nobody reads the same refusal twice
FIND_ASK = ("filing.find_building", "filing.find_building_again")
FIND_KEPT = ("filing.find_building_kept", "filing.find_building_kept_again")
FIND_MISS = ("filing.code_not_found", "filing.code_not_found_again")


def _place(t: Translator, step: FilingStep) -> str:
    building = step.building.title if step.building else "?"
    if step.unit is not None:
        return t("filing.place_unit", building=building, unit=step.unit.name)
    return t("filing.place", building=building)


def _anonymity_line(t: Translator, step: FilingStep) -> str:
    return t("filing.anonymous_on" if step.anonymous else "filing.anonymous_off")


def render_step(t: Translator, step: FilingStep) -> tuple[str, tuple[tuple[Button, ...], ...]]:
    """The text and buttons of the one filing prompt at ``step``."""
    kept = [t("filing.kept_note")] if step.kept else []
    if step.step == "find_building":
        keys = {"kept": FIND_KEPT, "miss": FIND_MISS}.get(step.reason, FIND_ASK)
        lead = t(keys[step.turn % 2], code=step.typed)
        how = t("filing.find_building_buttons" if step.buildings else "filing.find_building_code")
        rows = tuple(
            (Button("btn.building", data=f"f:b:{b.id}", params={"title": b.title[:40]}),) for b in step.buildings
        )
        parts = [lead, how] if step.reason != "ask" else [*kept, lead, how]
        return "\n\n".join(parts), rows
    if step.step == "choose_building":
        rows = tuple(
            (Button("btn.building", data=f"f:b:{b.id}", params={"title": b.title[:40]}),) for b in step.buildings
        )
        return "\n\n".join([*kept, t("filing.choose_building")]), (*rows, (Button("btn.other_building", data="f:bx"),))
    if step.step == "choose_unit":
        assert step.building is not None
        unit_rows = tuple(
            tuple(
                Button("btn.unit", data=f"f:u:{step.building.id}:{u.id}", params={"unit": u.name})
                for u in step.units[i : i + 4]
            )
            for i in range(0, min(len(step.units), 60), 4)
        )
        return "\n\n".join([*kept, t("filing.choose_unit", title=step.building.title)]), unit_rows
    if step.step == "choose_category":
        examples = "\n".join(t(example) for _, example in CATEGORY_EXAMPLES)
        text = "\n\n".join([*kept, t("filing.category_question", place=_place(t, step)), examples])
        rows = tuple(
            (Button(label, data=f"f:c:{c.value}"),) for (label, _), c in zip(CATEGORY_EXAMPLES, Category, strict=True)
        )
        toggle = Button("btn.show_my_name" if step.anonymous else "btn.hide_my_name", data="f:anon")
        return text + "\n\n" + _anonymity_line(t, step), (*rows, (toggle,))
    if step.step == "describe":
        category = t(f"category.{step.category.value}") if step.category else ""
        head = t("filing.describe_now", category=category, place=_place(t, step))
        return head + ("\n\n" + t("filing.anonymous_on") if step.anonymous else ""), ()
    if step.step == "filed":
        category = t(f"category.{step.category.value}") if step.category else ""
        return t("filing.filed_from_kept", category=category, place=_place(t, step)), ()
    if step.step == "unit_saved":
        return t("filing.unit_saved", unit=step.unit.name if step.unit else "-"), ()
    raise InvalidInput("error.stale_button")


async def show_step(update: Update, context: AppContext, step: FilingStep, *, edit: bool = False) -> None:
    """Send the prompt, or (after a button) edit the prompt the button is on: no new message."""
    t = await translator(update, context)
    text, rows = render_step(t, step)
    markup = keyboard(t, rows)
    query = update.callback_query
    if edit and query is not None and query.message is not None:
        try:
            await context.bot.edit_message_text(
                text, chat_id=query.message.chat.id, message_id=query.message.message_id, reply_markup=markup
            )
            return
        except BadRequest as exc:  # too old to edit, or unchanged: say it anew
            if "not modified" in exc.message.lower():
                return
    await send_text(update, context, text, markup)


async def filing_button(update: Update, context: AppContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    parts = query.data.split(":")
    filing = context.services.filing
    me = actor(update)
    require_private(place_of(update))  # filing buttons live in the resident's private chat
    kind = parts[1] if len(parts) > 1 else ""
    # the work first, then the answer: a refusal answers the button itself (a button is answered once)
    step: FilingStep | None = None
    outcome: Outcome | None = None
    if kind == "b":
        (building_id,) = _numbers(parts, 1)
        step = await filing.choose_building(me, building_id)
    elif kind == "start" and len(parts) == 2:  # "📝 Report a problem" under an empty list
        step = await filing.start(me, None)
    elif kind == "bx" and len(parts) == 2:
        step = await filing.other_building(me)
    elif kind == "u":
        building_id, unit_id = _numbers(parts, 2)
        step = await filing.choose_unit(me, building_id, unit_id)
    elif kind == "c" and len(parts) == 3:
        step = await filing.choose_category(me, parts[2])
    elif kind == "anon" and len(parts) == 2:
        step = await filing.toggle_anonymous(me)
    elif kind == "new":
        (held_id,) = _numbers(parts, 1)
        step = await filing.new_from_held(me, held_id)
    elif kind == "add":
        held_id, appeal_id = _numbers(parts, 2)
        outcome = await context.services.resident.add_held(me, held_id, appeal_id)
    else:
        raise InvalidInput("error.stale_button")
    await query.answer()
    if step is not None and step.step == "filed":
        context.bot_data.outbox().kick()  # the receipt and the card were queued with the appeal
    if outcome is not None:
        await tell_outcome(update, context, outcome)
    elif step is not None:
        # "new appeal" under a kept message starts a prompt of its own; every other step edits it
        await show_step(update, context, step, edit=kind != "new")


def _numbers(parts: list[str], count: int) -> list[int]:
    """The ``count`` numbers after the action in callback data ``x:action:1:2``; anything else is a
    stale or forged button, refused politely."""
    values = parts[2:]
    if len(values) != count:
        raise InvalidInput("error.stale_button")
    return [button_id(v) for v in values]  # digits within 64 bits, else a stale or forged button
