"""``python -m bot``: validate settings, then run with long polling (handlers.runtime).

Every reason not to start is one line on stderr and exit status 2: a missing or invalid setting, a
database that cannot be written, a token Telegram rejects, a Bot API that cannot be reached. The
token is never printed."""

from __future__ import annotations

import asyncio
import logging
import sys

from pydantic import ValidationError

from bot.logging import setup_logging

CONFIG_ERROR = 2


def _settings_errors(exc: ValidationError) -> list[str]:
    lines: list[str] = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "settings"
        message = "is required" if err["type"] == "missing" else str(err["msg"]).removeprefix("Value error, ")
        lines.append(f"  UNITBOT_{field.upper()}: {message}")
    return lines


def main() -> int:
    from bot.config import Settings

    try:
        settings = Settings()  # values come from the environment / .env
    except ValidationError as exc:
        print("unitbot: configuration error:", file=sys.stderr)
        for line in _settings_errors(exc):
            print(line, file=sys.stderr)
        print("See .env.example and README.md (Configuration).", file=sys.stderr)
        return CONFIG_ERROR
    token = settings.token.get_secret_value()
    setup_logging(settings.log_level, secrets=[token, token.split(":", 1)[1]])
    from bot.app import build_application
    from handlers.runtime import Runtime, StartupError

    app = build_application(settings)
    logging.getLogger("unitbot").info("starting long polling against %s", settings.api_base_url)
    try:
        asyncio.run(Runtime(app).run_until_signalled(polling=True))
    except StartupError as exc:
        message = str(exc).replace(token, "<token>").replace(token.split(":", 1)[1], "<token>")
        print(f"unitbot: configuration error: {message}", file=sys.stderr)
        return CONFIG_ERROR
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
