"""When a saved Reply / Ask / Resolved action may take the person's next private message: only once
its prompt (queued in the outbox with it) was delivered, and never after it expired. A crash between
saving the action and sending the prompt, or a prompt Telegram did not take, therefore never turns
an unrelated message into a reply to a resident (issue 9)."""

from __future__ import annotations

from datetime import datetime, timedelta

from storage.conversations import ConversationsRepo, PendingAction
from storage.db import Tx
from storage.followups import FollowUpsRepo

ACTION_TTL = timedelta(hours=2)  # a Reply / Ask / Resolved press waits this long for the message


def expired(action: PendingAction, now: datetime) -> bool:
    return now >= (action.expires_at or action.created_at + ACTION_TTL)


async def live_action(tx: Tx, user_id: int, now: datetime) -> PendingAction | None:
    """The user's pending action if it may take their next message, else None."""
    action = await ConversationsRepo(tx).get_action(user_id)
    if action is None or expired(action, now):
        return None
    if action.prompt_key is not None:
        prompt = await FollowUpsRepo(tx).delivery(action.prompt_key)
        if prompt is None or prompt.sent_at is None:
            return None
    return action
