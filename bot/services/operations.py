"""Running the bot: the figures behind /readyz and /metrics, the rate limit of bug reports to the
operator chat (shared by every instance through the database) and the remembered webhook
registration. Plain Python: the Telegram side (sending, setWebhook) is in the wiring."""

from __future__ import annotations

import hashlib
import logging
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from bot.clock import Clock
from bot.models import Level
from storage.db import Database
from storage.migrate import load_migrations
from storage.operations import MonitoringRepo, OperatorReportsRepo, ServiceStateRepo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Figures:
    outbox_pending: int
    outbox_due: int
    outbox_oldest_due_age: float  # seconds the oldest due message has waited (0: none due)
    appeals_open: dict[Level, int] = field(default_factory=dict)
    appeals_overdue: dict[Level, int] = field(default_factory=dict)


class MonitoringService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def figures(self) -> Figures:
        now = self.clock.now()
        async with self.db.read() as tx:
            repo = MonitoringRepo(tx)
            outbox = await repo.outbox(now)
            open_, overdue = await repo.appeals_by_level(now)
        age = 0.0 if outbox.oldest_due_at is None else max(0.0, now.timestamp() - outbox.oldest_due_at)
        return Figures(
            outbox_pending=outbox.pending,
            outbox_due=outbox.due,
            outbox_oldest_due_age=age,
            appeals_open={level: open_.get(level, 0) for level in Level},
            appeals_overdue={level: overdue.get(level, 0) for level in Level},
        )

    async def not_ready(self, max_outbox_age: float) -> list[str]:
        """Why this instance should not get traffic (empty: ready): the database is unreachable,
        its schema is not the one this code knows, or due messages wait longer than allowed."""
        now = self.clock.now()
        try:
            async with self.db.read() as tx:
                repo = MonitoringRepo(tx)
                await repo.ping()
                applied = await repo.applied_migrations()
                outbox = await repo.outbox(now)
        except Exception as exc:  # the reason is the answer; the detail goes to the log
            log.warning("readiness: database check failed: %s", type(exc).__name__)
            return [f"database unreachable ({type(exc).__name__})"]
        reasons: list[str] = []
        known = {m.version for m in load_migrations()}
        if missing := sorted(known - applied):
            reasons.append(f"migrations not applied: {', '.join(map(str, missing))}")
        if unknown := sorted(applied - known):
            reasons.append(f"database is newer than this code (migrations {', '.join(map(str, unknown))})")
        if outbox.oldest_due_at is not None:
            age = now.timestamp() - outbox.oldest_due_at
            if age > max_outbox_age:
                reasons.append(f"outbox stuck: {outbox.due} due, the oldest waiting {age:.0f}s")
        return reasons


@dataclass(frozen=True)
class BugReport:
    """What the operator is told about a bug: nothing about people (no texts, names or ids)."""

    error_type: str  # e.g. KeyError
    location: str  # module:line of the innermost frame in the bot's own code
    kind: str  # the update kind (message, callback_query...) or job:<name>
    instance: str

    @property
    def signature(self) -> str:
        return f"{self.error_type}@{self.location}/{self.kind}"


class OperatorReports:
    """Decides whether a bug is reported now: the same signature at most once per ``interval``,
    across instances (a row per signature, claimed with a conditional upsert; the occurrences in
    between are counted there). If the database itself fails, this process's own memory limits
    the rate."""

    def __init__(self, db: Database, clock: Clock, interval: timedelta) -> None:
        self.db = db
        self.clock = clock
        self.interval = interval
        self._last: dict[str, datetime] = {}  # this process's reports (bounded below)

    async def claim(self, report: BugReport) -> int | None:
        """None: stay quiet; else report now (the number is how many were suppressed since)."""
        now = self.clock.now()
        signature = report.signature
        try:
            async with self.db.write() as tx:
                suppressed = await OperatorReportsRepo(tx).claim(
                    hashlib.sha256(signature.encode()).hexdigest()[:40], now, now - self.interval
                )
        except Exception as exc:  # the database may be what is broken: this process's memory decides
            log.warning("operator report: rate limit not shared (%s)", type(exc).__name__)
            last = self._last.get(signature)
            suppressed = None if last is not None and now - last < self.interval else 0
        if suppressed is None:
            return None
        if len(self._last) > 1000:
            self._last.clear()
        self._last[signature] = now
        return suppressed


WEBHOOK_STATE = "webhook_registration"


def webhook_fingerprint(url: str, secret: str, allowed_updates: list[str]) -> str:
    """A digest of what was registered with setWebhook (the secret itself is never stored)."""
    text = "\n".join([url, secret, ",".join(sorted(allowed_updates))])
    return hashlib.sha256(text.encode()).hexdigest()


class WebhookState:
    """The fingerprint of the last successful setWebhook, shared by every instance."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def registered(self) -> str | None:
        async with self.db.read() as tx:
            return await ServiceStateRepo(tx).get(WEBHOOK_STATE)

    async def remember(self, fingerprint: str) -> None:
        async with self.db.write() as tx:
            await ServiceStateRepo(tx).put(WEBHOOK_STATE, fingerprint, self.clock.now())


def _project_root() -> Path:
    return Path(__file__).resolve().parents[2]  # bot/services/operations.py -> the checkout


# the database interface and its engines: every SQL error passes through them, they name nothing
PLUMBING = frozenset({"storage.db", "storage.engines.sqlite", "storage.engines.postgres"})


def bug_location(error: BaseException) -> str:
    """``module:line`` of the innermost frame in the bot's own code (bot, handlers, storage; not the
    database engine), else of the innermost frame at all. Never a value, only where the code is."""
    frames = traceback.extract_tb(error.__traceback__) if error.__traceback__ is not None else []
    root = _project_root()
    for frame in reversed(frames):
        path = Path(frame.filename)
        try:
            relative = path.resolve().relative_to(root)
        except ValueError:
            continue
        module = ".".join(relative.with_suffix("").parts)
        if relative.parts and relative.parts[0] in ("bot", "handlers", "storage") and module not in PLUMBING:
            return f"{module}:{frame.lineno}"
    if frames:
        return f"{Path(frames[-1].filename).stem}:{frames[-1].lineno}"
    return "unknown"


def describe_bug(error: BaseException, kind: str, instance: str) -> BugReport:
    return BugReport(type(error).__name__, bug_location(error), kind, instance)
