"""``python -m bot``: validate settings, then run with long polling."""

from __future__ import annotations

import logging
import sys

from pydantic import ValidationError
from telegram import Update

from bot.logging import setup_logging


def main() -> int:
    from bot.config import Settings

    try:
        settings = Settings()  # values come from the environment / .env
    except ValidationError as exc:
        print("unitbot: configuration error:", file=sys.stderr)
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "settings"
            env = f"UNITBOT_{field.upper()}"
            message = "is required" if err["type"] == "missing" else err["msg"]
            print(f"  {env}: {message}", file=sys.stderr)
        print("See .env.example and README.md (Configuration).", file=sys.stderr)
        return 2
    setup_logging(settings.log_level, secrets=[settings.token.get_secret_value()])
    from bot.app import build_application

    app = build_application(settings)
    logging.getLogger("unitbot").info("starting long polling against %s", settings.api_base_url)
    app.run_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
