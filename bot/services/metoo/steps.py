"""Supporters of a shared appeal are told of every step: each message a step sends to the appeal's
resident (taken, passed up, answered, resolved, closed, reopened, put to the residents, decided)
has a supporters' version queued with it, in the same transaction, to each supporter's private chat.
No names, and none of the words meant for the resident alone (the head's reply is not copied)."""

from __future__ import annotations

import secrets

from bot.models import Button, Notice
from storage.db import Tx
from storage.metoo import MeTooRepo

#: the resident's (or handler's) message of a step -> what supporters are told
STEP_KEYS: dict[str, str] = {
    "resident.taken": "metoo.step_taken",
    "resident.escalated": "metoo.step_escalated",
    "heads.resident_rerouted": "metoo.step_escalated",
    "resident.reply": "metoo.step_answered",
    "resident.resolved": "metoo.step_resolved",
    "heads.auto_closed_rate": "metoo.step_closed",
    "appeal.reopened": "metoo.step_reopened",
    "heads.broken_again": "metoo.step_reopened",
    "metoo.put_resident": "metoo.step_put",
    "metoo.decided_resident": "metoo.step_decided",
}
#: the steps after which a supporter may say how satisfied they are
RATE_STEPS = frozenset({"metoo.step_resolved", "metoo.step_closed"})
#: params of the resident's message a supporters' version may repeat (no text, no names)
SHARED_PARAMS = ("level_key", "verdict_key", "question", "due", "closes")


def supporter_rating_buttons(appeal_id: int) -> tuple[tuple[Button, ...], ...]:
    return (
        (Button("heads.btn_satisfied", data=f"mt:rate:{appeal_id}:5"),),
        (Button("heads.btn_partly", data=f"mt:rate:{appeal_id}:3"),),
        (Button("heads.btn_not_satisfied", data=f"mt:rate:{appeal_id}:1"),),
    )


async def supporter_notices(tx: Tx, notice: Notice) -> list[Notice]:
    """The supporters' versions of ``notice`` (none unless it is a step of a shared appeal)."""
    key = STEP_KEYS.get(notice.template)
    if key is None or notice.appeal_id is None:
        return []
    repo = MeTooRepo(tx)
    title = await repo.title_of(notice.appeal_id)
    if title is None:
        return []
    params: dict[str, object] = {"id": notice.appeal_id, "title": title}
    params.update({k: notice.params[k] for k in SHARED_PARAMS if k in notice.params})
    buttons = supporter_rating_buttons(notice.appeal_id) if key in RATE_STEPS else ()
    return [
        Notice(
            user,
            key,
            params,
            buttons=buttons,
            user_id=user,
            # "mt:<appeal>:...": all of an appeal's Me too messages in one key range (/forgetme scrubs it)
            dedupe_key=f"mt:{notice.appeal_id}:s{user}:{notice.dedupe_key or secrets.token_hex(8)}",
        )
        for user in await repo.supporters(notice.appeal_id)
    ]
