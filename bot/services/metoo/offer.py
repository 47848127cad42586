"""Filing's part of "Me too": a resident who marked the appeal as shared is asked, once it is
filed, to agree to its public title (nothing is posted without their press). Kept apart from
:mod:`.sharing` so filing can call it without importing escalation (which imports filing)."""

from __future__ import annotations

from datetime import datetime

from bot.models import Appeal, Button, Community, Notice
from bot.services.base import ServiceBase
from storage.db import Tx
from storage.metoo import MeTooRepo

TITLE_MAX = 60


def public_title(body: str) -> str:
    """A short title from the description's first line: words kept whole, at most 60 characters."""
    first = next((line for line in body.splitlines() if line.strip()), "")
    words = " ".join(first.split())
    if len(words) <= TITLE_MAX:
        return words
    cut = words[: TITLE_MAX - 1].rsplit(" ", 1)[0] if " " in words[: TITLE_MAX - 1] else words[: TITLE_MAX - 1]
    return cut.rstrip(",.;:-—") + "…"


async def offer_after_filing(service: ServiceBase, tx: Tx, appeal: Appeal, community: Community, now: datetime) -> None:
    """Called by filing in its transaction: a resident who marked the appeal as shared is asked to
    agree to its public title (nothing is posted without their press)."""
    repo = MeTooRepo(tx)
    if not await repo.draft_marked(appeal.resident_id):
        return
    await repo.unmark_draft(appeal.resident_id)
    title = public_title(appeal.body or "")
    if not title:  # a photo or a voice message without words: nothing to show as a title
        return
    await service.queue(
        tx,
        Notice(
            appeal.resident_id,
            "metoo.confirm_title",
            {"id": appeal.id, "title": title},
            buttons=(
                (Button("metoo.btn_post", data=f"mt:post:{appeal.id}"),),
                (Button("metoo.btn_nopost", data=f"mt:nopost:{appeal.id}"),),
            ),
            user_id=appeal.resident_id,
            dedupe_key=f"mt:{appeal.id}:offer",
        ),
        community,
        now,
    )
