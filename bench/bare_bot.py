"""The baseline of ``bench.outbox_bench cpu``: a bare python-telegram-bot bot answering ``/start`` in
private with one message, long polling like unitbot (``UNITBOT_TOKEN``, ``UNITBOT_API_BASE_URL``)."""

from __future__ import annotations

import logging
import os

from telegram import Update
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None and update.effective_user is not None
    await context.bot.send_message(
        update.effective_chat.id, f"Hello, {update.effective_user.first_name}! Press /appeal in your building chat."
    )


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    app = ApplicationBuilder().token(os.environ["UNITBOT_TOKEN"]).base_url(os.environ["UNITBOT_API_BASE_URL"]).build()
    app.add_handler(CommandHandler("start", start))
    app.run_polling(allowed_updates=Update.ALL_TYPES)


if __name__ == "__main__":
    main()
