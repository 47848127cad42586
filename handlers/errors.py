"""The one place where failures become messages.

* A :class:`bot.errors.DomainError` is the user's mistake or a rule: it is answered politely in the
  user's language (as a callback answer for buttons, else as a message) and logged at INFO.
* The database cannot be written (disk full, read-only): logged once until it can again, and the
  user is told plainly that it could not be saved and to send it again later.
* Anything else is a bug: logged with the update (never the token), and the user is told that
  something went wrong and that what they sent is kept.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import MessageLimit
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.errors import DomainError
from handlers.common import translator
from handlers.context import AppContext

log = logging.getLogger(__name__)


async def on_error(update: object, context: AppContext) -> None:
    error = context.error
    if not isinstance(update, Update):
        if error is not None and context.services.intake.health.failed(error):
            return  # the database cannot be written: said once (bot.services.intake.StorageHealth)
        log.error("error outside an update: %r", error, exc_info=error)
        return
    if isinstance(error, DomainError):
        log.info("update %s refused: %s %s", update.update_id, error.key, error.params)
        await _tell(update, context, error.key, error.params)
        return
    if error is not None and context.services.intake.health.failed(error):
        # the database cannot be written (disk full, read-only): logged once, not per message, and
        # the person is not told that what they sent is kept
        log.info("update %s not saved: the database cannot be written", update.update_id)
        await _tell(update, context, "error.not_saved", {})
        return
    if isinstance(error, NetworkError) and not isinstance(error, BadRequest):
        # Telegram did not take (or did not confirm) an answer after the update's work was done: what
        # a state change must say is in the outbox and goes out anyway; a "something went wrong" here
        # would tell the person that what succeeded failed
        log.warning("update %s: its answer did not reach Telegram (%s): %s", update.update_id, error, _describe(update))
        return
    if isinstance(error, RetryAfter):  # the chat is under flood control (handlers.pacing put it off)
        log.warning("update %s: flood control, its answer was not sent: %s", update.update_id, _describe(update))
        return
    log.error("update %s failed: %s", update.update_id, _describe(update), exc_info=error)
    await _tell(update, context, "error.internal", {})


ECHO_MAX = 200  # characters of a person's own words repeated in a refusal


async def _tell(update: Update, context: AppContext, key: str, params: dict[str, object]) -> None:
    try:
        t = await translator(update, context)
        # a refusal may echo what the person typed: keep each echoed value short, the text in one message
        clipped = {k: v[:ECHO_MAX] + "…" if isinstance(v, str) and len(v) > ECHO_MAX else v for k, v in params.items()}
        text = t(key, **clipped)[: MessageLimit.MAX_TEXT_LENGTH]
        if update.callback_query is not None:
            await update.callback_query.answer(text[:200], show_alert=True)
        elif update.effective_chat is not None:
            reply_to = update.effective_message.message_id if update.effective_message else None
            await context.bot.send_message(
                update.effective_chat.id, text, reply_to_message_id=reply_to, allow_sending_without_reply=True
            )
    except Forbidden:
        log.info("cannot answer update %s: the bot may not write there", update.update_id)
    except TelegramError as exc:
        log.warning("cannot answer update %s: %s", update.update_id, type(exc).__name__)
    except Exception:
        log.exception("error while reporting an error for update %s", update.update_id)


def _describe(update: Update) -> str:
    """A short description of the update for logs (ids and kind, not the user's words)."""
    kind = "callback" if update.callback_query else "message" if update.message else "other"
    chat = update.effective_chat.id if update.effective_chat else None
    user = update.effective_user.id if update.effective_user else None
    return f"kind={kind} chat={chat} user={user}"
