"""How a domain outcome is told to the person who acted: what the outbox already carries is only
kicked off; otherwise the confirmation, with the buttons that come next (a leaf used by appeals,
filing and the deep links)."""

from __future__ import annotations

from telegram import Update

from bot.models import Button, Reply
from bot.services.resident import QueuedOutcome
from bot.services.routing import action_buttons
from bot.services.satisfaction import rating_buttons
from bot.services.workflow import Outcome
from handlers.common import send_reply
from handlers.context import AppContext


async def tell_outcome(update: Update, context: AppContext, outcome: Outcome) -> None:
    if outcome.queued or isinstance(outcome, QueuedOutcome):  # its message went into the outbox with the change
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
