"""``python -m bot [COMMAND]``: validate settings, then run (the default) or a maintenance command.

    python -m bot                  run: long polling, or webhooks when UNITBOT_WEBHOOK_URL is set
    python -m bot backup FILE      a consistent copy of the SQLite database, safe while the bot runs
    python -m bot restore FILE     put a backup in place (refuses a non-empty database without --force)
    python -m bot copy-db SOURCE TARGET
                                   copy the whole history between SQLite and PostgreSQL, checked

Each command is one entry of ``COMMANDS`` (its arguments and its function): add a command there.
Exit status 2 means the configuration or the command line is wrong (systemd does not restart it):
a missing or invalid setting, a database that cannot be written, a token Telegram rejects, a Bot API
that cannot be reached. The token is never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass

from bot.config import load_settings
from bot.logging import setup_logging

CONFIG_ERROR = 2


def run(args: argparse.Namespace) -> int:
    """Run the bot: long polling, or webhooks when UNITBOT_WEBHOOK_URL is set (bot/runtime.py)."""
    from bot.config import Settings

    settings = load_settings(Settings)
    if not isinstance(settings, Settings):
        return CONFIG_ERROR
    token = settings.token.get_secret_value()
    secrets = [token, token.split(":", 1)[1]]
    if settings.webhook_secret is not None:
        secrets.append(settings.webhook_secret.get_secret_value())
    setup_logging(settings.log_level, secrets=secrets, instance=settings.instance_name, log_format=settings.log_format)
    from bot.runtime import StartupFailed, run_polling, run_webhook
    from handlers.runtime import StartupError

    mode = run_webhook if settings.webhook_url is not None else run_polling
    try:
        asyncio.run(mode(settings))
    except StartupError as exc:
        message = str(exc)
        for secret in secrets:
            message = message.replace(secret, "<secret>")
        print(f"unitbot: configuration error: {message}", file=sys.stderr)
        return CONFIG_ERROR
    except StartupFailed as exc:
        logging.getLogger("unitbot").error("%s", exc)
        return 1
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        if exc.strerror and "cannot listen" in exc.strerror:  # UNITBOT_HTTP_LISTEN taken or not ours
            logging.getLogger("unitbot").error("%s (UNITBOT_HTTP_LISTEN)", exc.strerror)
            return 1
        raise
    return 0


def backup(args: argparse.Namespace) -> int:
    from bot.backup import backup_command

    return backup_command(args.file)


def restore(args: argparse.Namespace) -> int:
    from bot.backup import restore_command

    return restore_command(args.file, force=args.force)


def copy_db(args: argparse.Namespace) -> int:
    from bot.copy_db import copy_db_command

    return copy_db_command(args.source, args.target)


@dataclass(frozen=True)
class Command:
    run: Callable[[argparse.Namespace], int]
    help: str
    arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None


def _backup_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="where to write the copy (a new file; an existing one is replaced)")


def _restore_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="a backup made with `python -m bot backup`")
    parser.add_argument("--force", action="store_true", help="replace a database that already holds data")


def _copy_db_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="the database to copy: a SQLite file or a postgresql:// URL")
    parser.add_argument("target", help="an empty database: a new SQLite file or a postgresql:// URL (createdb first)")


COMMANDS: dict[str, Command] = {
    "run": Command(run, "run the bot (the default)"),
    "backup": Command(backup, "copy the SQLite database consistently, also while the bot runs", _backup_arguments),
    "restore": Command(restore, "restore a backup into UNITBOT_DATABASE", _restore_arguments),
    "copy-db": Command(
        copy_db, "copy the whole history between SQLite and PostgreSQL into an empty database", _copy_db_arguments
    ),
}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m bot", description="unitbot: settings come from UNITBOT_* / .env")
    sub = top.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in COMMANDS.items():
        command.arguments(sub.add_parser(name, help=command.help, description=command.help))
    return top


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    return COMMANDS[args.command or "run"].run(args)


if __name__ == "__main__":
    sys.exit(main())
