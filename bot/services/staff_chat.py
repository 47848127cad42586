"""Staff (and the street office) answer an appeal inside their group chat: a reply to the appeal's
card (or to another bot message of that appeal) is relayed to the resident, and the chat is told who
answered. The appeal's later pings stay in that chat (``escalation.ping_target``)."""

from __future__ import annotations

from bot.errors import PermissionDenied
from bot.models import Content, Notice, UserInfo
from bot.services.base import ServiceBase
from bot.services.workflow import Outcome, WorkflowService
from storage.appeals import AppealsRepo


class StaffChatService(ServiceBase):
    def __init__(self, workflow: WorkflowService) -> None:
        super().__init__(workflow.db, workflow.clock, workflow.calendars)
        self.workflow = workflow

    async def appeal_of_card(self, chat_id: int, message_id: int) -> int | None:
        """The appeal a bot message in a group belongs to, if that group is one of the appeal's
        community's staff or street chats (message links; never forwarded metadata)."""
        async with self.db.read() as tx:
            appeal_id = await AppealsRepo(tx).appeal_of_message(chat_id, message_id)
            if appeal_id is None:
                return None
            _, community = await self.workflow._load(tx, appeal_id)
        return appeal_id if chat_id in (community.staff_chat_id, community.street_chat_id) else None

    async def answer(self, actor: UserInfo, chat_id: int, appeal_id: int, content: Content) -> Outcome:
        """``actor`` replied in ``chat_id`` to a message of the appeal: their words go to the
        resident (photos and voice messages too), and the chat learns who answered."""
        now = self.clock.now()
        async with self.db.write() as tx:
            try:
                appeal, community = await self.workflow._as_handler(tx, appeal_id, actor)
            except PermissionDenied as exc:  # a member of the chat who is not (or no longer) staff
                raise PermissionDenied("heads.error_not_staff_here") from exc
            outcome = await self.workflow._relay_to_resident(tx, appeal, community, actor, content, now, "reply")
            template = "heads.staff_answered" if outcome.key == "done.reply" else outcome.key
            await self.queue(
                tx,
                Notice(
                    chat_id,
                    template,
                    {"id": appeal.id, "name": actor.display},
                    appeal_id=appeal.id,
                    urgent=True,
                    dedupe_key=f"staff-answered:{chat_id}:{content.message_id}",
                ),
                community,
                now,
            )
        return Outcome(template, outcome.appeal, {"id": appeal.id}, queued=True)
