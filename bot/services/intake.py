"""Durable intake of updates (the domain side): store first, confirm to Telegram after the commit,
handle from the table, once per ``update_id``.

Delivery is at-least-once. The row is marked handled in its own short transaction right after the
update's handlers return; a crash in the window between a handler's last commit and that mark
replays the update once at the next start. Handlers are idempotent for that case (a description
that already filed the appeal finds no draft, an outbox notice has a dedupe key, an award or a
relay is keyed by the message id, a pressed button checks the appeal's state), so a replay costs at
most one repeated answer, never a second appeal or booking.

:class:`StorageHealth` says once (not per message) when the database cannot be written, and once
when it can again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from bot.clock import Clock
from storage.db import Database
from storage.errors import is_unwritable
from storage.intake import FAILED, IntakeRepo, StoredUpdate

log = logging.getLogger(__name__)

KEEP_HANDLED = timedelta(hours=48)  # Telegram redelivers an unconfirmed update for up to 24 hours
WARN_STARTS = 5  # pending at this many starts: said in the log (it may be what kills the process)
MAX_STARTS = 50  # ... and at this many, given up (a crash loop must end); a backlog never gets near


class StorageHealth:
    """Whether the last write to the database worked. Logs the change of state, not every failure."""

    def __init__(self) -> None:
        self.writable = True

    def failed(self, exc: BaseException) -> bool:
        """Note a failed write; True if ``exc`` means the database cannot be written (disk full,
        read-only) rather than a bug."""
        if not is_unwritable(exc):
            return False
        if self.writable:
            self.writable = False
            log.error(
                "the database cannot be written (%s): until it can, updates are answered without being "
                "stored and people are told that what they send could not be saved",
                str(exc).splitlines()[0][:200],
            )
        return True

    def ok(self) -> None:
        if not self.writable:
            self.writable = True
            log.warning("the database can be written again")


class IntakeService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.health = StorageHealth()

    async def store(self, rows: Sequence[tuple[int, str]]) -> list[int]:
        """Store ``(update_id, payload JSON)`` rows in one transaction, committed when this returns;
        returns the ids not seen before. Raises if the database cannot be written."""
        try:
            async with self.db.write() as tx:
                new = await IntakeRepo(tx).store(rows, self.clock.now())
        except Exception as exc:
            self.health.failed(exc)
            raise
        self.health.ok()
        return new

    async def recover(self) -> list[StoredUpdate]:
        """At start: the updates stored but not handled before the last stop or crash, oldest first.
        One that was pending at ``MAX_STARTS`` starts is given up (logged with its id)."""
        async with self.db.write() as tx:
            repo = IntakeRepo(tx)
            await repo.count_start()
            pending = await repo.pending()
            hopeless = [u.update_id for u in pending if u.starts >= MAX_STARTS]
            suspects = [u.update_id for u in pending if WARN_STARTS <= u.starts < MAX_STARTS]
            if suspects:
                log.warning("updates %s were pending at %s or more starts", suspects[:20], WARN_STARTS)
            if hopeless:
                await repo.finish(hopeless, self.clock.now(), FAILED)
                log.error("updates %s were pending at %s starts; given up", hopeless, MAX_STARTS)
        return [u for u in pending if u.starts < MAX_STARTS]

    async def pending(self) -> list[StoredUpdate]:
        async with self.db.read() as tx:
            return await IntakeRepo(tx).pending()

    async def finish(self, update_ids: Sequence[int]) -> None:
        """Mark updates handled (whatever their handlers answered). Raises if it cannot be written."""
        if not update_ids:
            return
        try:
            async with self.db.write() as tx:
                await IntakeRepo(tx).finish(update_ids, self.clock.now())
        except Exception as exc:
            self.health.failed(exc)
            raise
        self.health.ok()

    async def prune(self) -> int:
        async with self.db.write() as tx:
            return await IntakeRepo(tx).prune(self.clock.now() - KEEP_HANDLED)

    async def check_writable(self) -> None:
        """Start-up check: one row written and deleted again; raises if the database is read-only or
        full (the caller refuses to start)."""
        async with self.db.write() as tx:
            await IntakeRepo(tx).probe_write(self.clock.now())
