"""The process around the application: start-up checks, long polling into the durable intake, and a
quiet stop.

    runtime = Runtime(app)
    await runtime.start(polling=True)  # StartupError: one line for the operator, exit status 2
    ...                                 # (webhook mode: polling=False, the web server feeds
    await runtime.stop()                #  app.bot_data.intake.accept(raw))

Start: the database (opened, migrated, and a write tried: a read-only or full database is refused),
then Telegram (``getMe``: a rejected token or an unreachable Bot API is refused), the command menus,
the updates stored before the last stop, the periodic jobs, and polling.

Stop, in this order, so that nothing runs on a closed database: polling, the job triggers, the
updates being handled (they finish; any cut short stay stored for the next start), the outbox
drains, the jobs still running, the HTTP clients, the database.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import warnings
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.error import (
    Conflict,
    EndPointNotFound,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBUserWarning

if TYPE_CHECKING:
    from handlers.context import UnitApp
    from handlers.intake import Intake

log = logging.getLogger(__name__)

POLL_TIMEOUT = 30  # seconds a getUpdates long poll may wait on Telegram
POLL_SLACK = 10  # seconds past POLL_TIMEOUT before a long poll's answer counts as timed out
CONNECT_ATTEMPTS = 3  # tries of getMe at start before an unreachable Bot API is refused
FIRST_BACKOFF = 0.5  # seconds before polling again after a failure; doubled up to MAX_BACKOFF
MAX_BACKOFF = 60.0
STOP_GRACE = 5.0  # seconds the updates being handled get to finish at stop


class StartupError(Exception):
    """A reason not to start, in one line for the operator (never the token)."""


def _retry_after(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22.2+ warns that the type becomes timedelta later
        warnings.simplefilter("ignore")
        value: object = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)  # type: ignore[arg-type]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


class Poller:
    """``getUpdates`` in a loop. A batch is stored (committed) by the intake before the next call
    confirms it with its offset; if it cannot be stored it is not confirmed and is fetched again."""

    def __init__(self, app: UnitApp, intake: Intake, timeout: int = POLL_TIMEOUT) -> None:
        self.app = app
        self.intake = intake
        self.timeout = timeout
        self._task: asyncio.Task[None] | None = None
        self._trouble: str | None = None  # what the last failure was (logged when it changes)
        # Bot.do_api_request warns that getUpdates has its own method; the poller calls it this way on
        # purpose (see fetch), so exactly that warning is silenced
        warnings.filterwarnings("ignore", message=r"Please use 'Bot\.getUpdates'", category=PTBUserWarning)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="long-polling")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def fetch(self, offset: int | None) -> list[dict[str, Any]]:
        """One long poll, the updates as Telegram sent them (JSON objects). The intake stores that
        text and parses it once when it handles it; ``Bot.get_updates`` would parse every update
        into objects that the intake would only turn back into JSON (about a tenth of the process's
        CPU per answer: bench.outbox_bench cpu)."""
        try:
            result = await self.app.bot.do_api_request(
                "getUpdates",
                api_kwargs={"offset": offset, "timeout": self.timeout, "allowed_updates": Update.ALL_TYPES},
                read_timeout=self.timeout + POLL_SLACK,
            )
        except EndPointNotFound as exc:  # do_api_request's word for Telegram's 401/404; getUpdates exists
            raise InvalidToken("Telegram rejects the bot token") from exc
        if not isinstance(result, list):
            return []
        return [u for u in result if isinstance(u, dict) and isinstance(u.get("update_id"), int)]

    async def _loop(self) -> None:
        offset: int | None = None  # confirmed only in memory: at start Telegram resends what is unconfirmed
        backoff = FIRST_BACKOFF
        while True:
            try:
                updates = await self.fetch(offset)
                if updates:
                    await self.intake.accept_many(updates)
                    offset = max(int(u["update_id"]) for u in updates) + 1
                self._ok()
                backoff = FIRST_BACKOFF
                continue
            except asyncio.CancelledError:
                raise
            except TimedOut:
                continue  # a long poll that outlived its read timeout: just poll again
            except RetryAfter as exc:
                wait = _retry_after(exc)
                self._problem("flood", f"Telegram asks to wait {wait:.0f} s before polling again")
                await asyncio.sleep(wait)
                continue
            except Conflict:
                self._problem(
                    "conflict",
                    "another process is polling updates with this bot token (409 Conflict); only one may. "
                    f"Stop the other one or use webhooks. Retrying, backing off up to {MAX_BACKOFF:.0f} s",
                )
            except InvalidToken:
                self._problem("token", "Telegram rejects the bot token now (revoked?); retrying")
            except NetworkError as exc:
                self._problem("network", f"cannot reach the Bot API ({type(exc).__name__}); retrying")
            except TelegramError as exc:
                self._problem("telegram", f"getUpdates failed ({type(exc).__name__}); retrying")
            except Exception as exc:  # the batch could not be stored: not confirmed, fetched again
                self._problem("storage", f"updates could not be stored ({_first_line(exc)}); retrying")
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _problem(self, kind: str, message: str) -> None:
        if self._trouble != kind:
            self._trouble = kind
            log.error("polling: %s", message)

    def _ok(self) -> None:
        if self._trouble is not None:
            log.warning("polling works again")
            self._trouble = None


class Runtime:
    def __init__(self, app: UnitApp) -> None:
        self.app = app
        self.poller: Poller | None = None
        self._started = False
        self._storage_open = False

    @property
    def intake(self) -> Intake:
        return self.app.bot_data.intake

    async def start(self, *, polling: bool = True) -> None:
        """Raises :class:`StartupError` (everything opened so far is closed again)."""
        from handlers.jobs import schedule_jobs
        from handlers.menus import publish_commands

        try:
            await self._open_storage()
            await self._connect()
            await publish_commands(self.app)
            await self.intake.start()
            if self.app.bot_data.run_jobs:
                schedule_jobs(self.app)
            await self.app.start()
            self._started = True
            if polling:
                self.poller = Poller(self.app, self.intake)
                self.poller.start()
        except BaseException:
            await self.stop()
            raise

    async def _open_storage(self) -> None:
        from storage.errors import DatabaseUnavailable, safe_url

        services = self.app.bot_data.services
        settings = services.settings
        if settings.uses_postgres:
            where = safe_url(settings.database_url())  # never the password
        else:  # the directory checks are for a SQLite file only
            where = settings.database
            path = settings.database_path()
            if path != ":memory:" and not Path(path).parent.is_dir():
                raise StartupError(f"UNITBOT_DATABASE: {where} cannot be opened for writing (no such directory)")
        self._storage_open = True
        try:
            await services.open_storage()
            await services.intake.check_writable()
        except DatabaseUnavailable as exc:
            raise StartupError(f"UNITBOT_DATABASE: {exc}") from None
        except Exception as exc:
            # aiosqlite finishes a failed connection's thread in the background: let it end while
            # the event loop still runs (else it reports "Event loop is closed" at exit)
            await asyncio.sleep(0.1)
            raise StartupError(f"UNITBOT_DATABASE: {where} cannot be opened for writing ({_first_line(exc)})") from None

    async def _connect(self) -> None:
        url = self.app.bot_data.services.settings.api_base_url
        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            try:
                await self.app.initialize()  # getMe
                return
            except InvalidToken as exc:
                cause = str(exc.__cause__ or "")
                if "not found" in cause.lower():
                    raise StartupError(
                        f"UNITBOT_TOKEN / UNITBOT_API_BASE_URL: {url} answered 404 Not Found for this token "
                        "(a wrong token, or not a Bot API server)"
                    ) from None
                raise StartupError(
                    "UNITBOT_TOKEN: Telegram rejected the bot token (401 Unauthorized); "
                    "get the current token from @BotFather"
                ) from None
            except (NetworkError, TelegramError) as exc:
                if attempt == CONNECT_ATTEMPTS:
                    raise StartupError(
                        f"UNITBOT_API_BASE_URL: the Bot API at {url} cannot be reached ({type(exc).__name__})"
                    ) from None
                await asyncio.sleep(0.5 * attempt)

    async def stop(self) -> None:
        """Idempotent; safe after a failed start."""
        app = self.app
        if self.poller is not None:
            await self.poller.stop()
            self.poller = None
        queue = app.job_queue
        if queue is not None and queue.scheduler.running:
            queue.scheduler.pause()  # no new job runs; the running ones finish in app.stop()
        await self.intake.stop(STOP_GRACE)
        await self._outbox_idle()
        if self._started:
            self._started = False
            await app.stop()  # waits for running jobs
            await self._outbox_idle()  # a drain a job kicked as it finished
        await app.shutdown()  # does nothing if it was never initialized
        if self._storage_open:
            self._storage_open = False
            await app.bot_data.services.db.close()

    async def _outbox_idle(self) -> None:
        outbox = self.app.bot_data.outbox()
        try:
            if not self._started:
                raise TimeoutError  # nothing ran (a failed start): nothing to send
            # what the last updates queued goes out on the way down, within the grace (paced as always);
            # what is left stays due for the next start
            await asyncio.wait_for(outbox.drain(), STOP_GRACE)
        except TimeoutError:
            pass
        try:
            await asyncio.wait_for(outbox.wait_idle(), STOP_GRACE)
        except TimeoutError:
            log.warning("outbox: sending cut short by the stop; unsent messages go out after the next start")

    async def run_until_signalled(self, *, polling: bool = True) -> None:
        """Start, run until SIGTERM or SIGINT, stop."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await self.start(polling=polling)
            log.info("running (%s)", "long polling" if polling else "webhook")
            await stop.wait()
            log.info("stopping")
        finally:
            await self.stop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
