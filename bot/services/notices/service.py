"""Notices and tasks with read receipts: composing, choosing the scope, sending through the outbox,
recipients' answers, the sender's live counts and the list of who has not answered.

Who may send
    Staff in their community's staff chat (every scope), a building head in their building's chat
    (that building's unit heads, or its chat). The command makes a draft; its scope buttons work only
    in that chat and for its sender, and a draft is sent once (a second press is told so).

Every message goes through the outbox in the transaction that records it. Fan-outs have the bulk
priority, so appeal pings queued meanwhile go first; an urgent notice skips quiet hours. Due moments
(reminders, the due date, urgent re-pings and escalations) are rows fired by
:mod:`bot.services.notices.sweep`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.dates import moment
from bot.errors import Conflict, NotFound, PermissionDenied, WrongChat
from bot.models import Building, Button, Community, Notice, Priority, Reply, Role, UserInfo
from bot.services.access import Place, require_private
from bot.services.base import ServiceBase
from bot.services.notices.rules import (
    LOCAL_SCOPES,
    MAX_CHOSEN,
    PENDING,
    POSTED,
    SCOPES,
    URGENT_ESCALATE,
    URGENT_REPING,
    Draft,
    answer_buttons,
    answer_key,
    answer_state,
    kind_key,
    remind_at,
    scope_buttons,
    scope_key,
    status_params,
    task_due_at,
)
from storage.db import Tx
from storage.notices import NoticeRecord, NoticesRepo, Recipient
from storage.registry import RegistryRepo

LIST_MAX = 50  # names in one list; the rest are counted
STATUS_DEBOUNCE = timedelta(seconds=10)  # the status message is edited at most this often


@dataclass(frozen=True)
class ScopeStep:
    """What a scope button leads to: the message it was pressed on becomes ``reply``; ``sent``:
    the notice went out (the message is now its live status)."""

    reply: Reply
    sent: bool = False


@dataclass(frozen=True)
class StatusEdit:
    notice_id: int
    chat_id: int
    message_id: int
    reply: Reply
    lang: str
    changed_at: int


def message_params(notice: NoticeRecord, community: Community, sender: str) -> dict[str, Any]:
    return {
        "id": notice.id,
        "from": sender,
        "body": notice.body,
        "due": moment(notice.due_at, community.timezone),
    }


def message_key(notice: NoticeRecord, to_chat: bool) -> str:
    if to_chat:
        return "notices.msg_post"
    if notice.kind == "task":
        return "notices.msg_task"
    if notice.kind == "urgent":
        return "notices.msg_urgent"
    return "notices.msg_notice"


class NoticeService(ServiceBase):
    # --- composing --------------------------------------------------------------------------------
    async def compose(self, actor: UserInfo, place: Place, draft: Draft) -> Reply:
        """A draft from ``/notice``, ``/task`` or ``/urgent``; the answer offers its scopes."""
        if place.kind != "group" or place.chat_id is None:
            raise WrongChat("notices.where")
        now = self.clock.now()
        async with self.db.write() as tx:
            community, building = await self._sender_place(tx, actor, place.chat_id)
            due_at = None
            if draft.kind == "task":
                assert draft.due_day is not None
                cal = await self.calendars.for_community(tx, community)
                due_at = task_due_at(cal, draft.due_day, now)
            await RegistryRepo(tx).upsert_user(actor, now)
            notice_id = await NoticesRepo(tx).create(
                community_id=community.id,
                building_id=building.id if building is not None else None,
                sender_id=actor.id,
                origin_chat_id=place.chat_id,
                kind=draft.kind,
                body=draft.body,
                due_at=due_at,
                attachment=draft.attachment,
                now=now,
            )
        params: dict[str, Any] = {"id": notice_id, "kind_key": kind_key(draft.kind)}
        return Reply("notices.choose_scope", params, scope_buttons(notice_id, local=building is not None))

    async def _sender_place(self, tx: Tx, actor: UserInfo, chat_id: int) -> tuple[Community, Building | None]:
        """The staff chat (staff only) or a building chat (its head, or staff: that building only)."""
        reg = RegistryRepo(tx)
        community = await reg.community_by_staff_chat(chat_id)
        if community is not None:
            if not await reg.has_role(community.id, actor.id, Role.STAFF):
                raise PermissionDenied("error.staff_only")
            return community, None
        building = await reg.building_by_chat(chat_id)
        if building is None or not building.active:
            raise WrongChat("notices.where")
        found = await reg.get_community(building.community_id)
        assert found is not None
        if building.head_user_id != actor.id and not await reg.has_role(found.id, actor.id, Role.STAFF):
            raise PermissionDenied("notices.who")
        return found, building

    async def _draft(self, tx: Tx, actor: UserInfo, place: Place, notice_id: int) -> tuple[NoticeRecord, Community]:
        """The sender's own draft, pressed in the chat it was composed in."""
        notice = await NoticesRepo(tx).get(notice_id)
        if notice is None or place.chat_id is None or notice.origin_chat_id != place.chat_id:
            raise NotFound("notices.unknown")
        if notice.sender_id != actor.id:
            raise PermissionDenied("notices.not_sender")
        if notice.status == "sent":
            raise Conflict("notices.already_sent", id=notice.id)
        if notice.status != "draft":
            raise Conflict("notices.cancelled_already")
        community = await RegistryRepo(tx).get_community(notice.community_id)
        assert community is not None
        return notice, community

    async def choose(self, actor: UserInfo, place: Place, notice_id: int, scope: str, message_id: int) -> ScopeStep:
        """A scope button: send to that scope, or (chosen buildings) show the building picker."""
        if scope not in SCOPES:
            raise Conflict("error.stale_button")
        now = self.clock.now()
        async with self.db.write() as tx:
            notice, community = await self._draft(tx, actor, place, notice_id)
            if notice.building_id is not None and scope not in LOCAL_SCOPES:
                raise PermissionDenied("notices.scope_not_yours")
            if scope == "b":
                return ScopeStep(await self._picker(tx, notice, community))
            return ScopeStep(await self._send(tx, notice, community, scope, message_id, now), sent=True)

    async def toggle(self, actor: UserInfo, place: Place, notice_id: int, building_id: int) -> ScopeStep:
        """A building of the picker chosen (or un-chosen)."""
        async with self.db.write() as tx:
            notice, community = await self._draft(tx, actor, place, notice_id)
            if notice.building_id is not None:
                raise PermissionDenied("notices.scope_not_yours")
            building = await RegistryRepo(tx).get_building(building_id)
            if building is None or building.community_id != community.id or not building.active:
                raise NotFound("error.building_unknown")
            chosen = [b for b in notice.chosen if b != building_id]
            if len(chosen) == len(notice.chosen):
                chosen.append(building_id)
            await NoticesRepo(tx).set_chosen(notice.id, chosen)
            fresh = await NoticesRepo(tx).get(notice.id)
            assert fresh is not None
            return ScopeStep(await self._picker(tx, fresh, community))

    async def send_chosen(self, actor: UserInfo, place: Place, notice_id: int, message_id: int) -> ScopeStep:
        now = self.clock.now()
        async with self.db.write() as tx:
            notice, community = await self._draft(tx, actor, place, notice_id)
            if notice.building_id is not None:
                raise PermissionDenied("notices.scope_not_yours")
            if not notice.chosen:
                raise Conflict("notices.choose_first")
            return ScopeStep(await self._send(tx, notice, community, "b", message_id, now), sent=True)

    async def cancel(self, actor: UserInfo, place: Place, notice_id: int) -> Reply:
        async with self.db.write() as tx:
            notice, _ = await self._draft(tx, actor, place, notice_id)
            await NoticesRepo(tx).cancel(notice.id)
        return Reply("notices.cancelled", {"id": notice.id})

    async def _picker(self, tx: Tx, notice: NoticeRecord, community: Community) -> Reply:
        buildings = [b for b in await RegistryRepo(tx).buildings_of(community.id) if b.active][:MAX_CHOSEN]
        rows: list[tuple[Button, ...]] = []
        for b in buildings:
            label = "notices.building_on" if b.id in notice.chosen else "notices.building_off"
            rows.append((Button(label, data=f"nt:b:{notice.id}:{b.id}", params={"building": b.title}),))
        rows.append(
            (
                Button("notices.btn_send_chosen", data=f"nt:go:{notice.id}", params={"n": len(notice.chosen)}),
                Button("notices.btn_cancel", data=f"nt:x:{notice.id}"),
            )
        )
        return Reply("notices.pick_buildings", {"id": notice.id}, tuple(rows))

    # --- sending ----------------------------------------------------------------------------------
    async def _recipients(self, tx: Tx, notice: NoticeRecord, scope: str) -> list[Recipient]:
        repo = NoticesRepo(tx)
        local = None if notice.building_id is None else [notice.building_id]
        if scope == "h":
            return await repo.unit_heads(notice.community_id, local)
        if scope == "b":
            return await repo.unit_heads(notice.community_id, list(notice.chosen))
        if scope == "bh":
            return await repo.building_heads(notice.community_id)
        return await repo.building_chats(notice.community_id, local)

    async def sender_name(self, tx: Tx, notice: NoticeRecord, community: Community) -> str:
        if notice.building_id is None:
            return community.name
        building = await RegistryRepo(tx).get_building(notice.building_id)
        return building.title if building is not None else community.name

    async def _send(
        self, tx: Tx, notice: NoticeRecord, community: Community, scope: str, message_id: int, now: datetime
    ) -> Reply:
        recipients = await self._recipients(tx, notice, scope)
        if not recipients:
            raise Conflict("notices.empty_scope", scope_key=scope_key(scope))
        repo = NoticesRepo(tx)
        if not await repo.mark_sent(notice.id, scope, notice.origin_chat_id, message_id, now):
            raise Conflict("notices.already_sent", id=notice.id)
        to_chats = scope == "c"
        await repo.add_recipients(notice.id, recipients, POSTED if to_chats else PENDING)
        params = message_params(notice, community, await self.sender_name(tx, notice, community))
        key = message_key(notice, to_chats)
        buttons = () if to_chats else answer_buttons(notice.id, notice.kind)
        for r in recipients:
            await self.deliver(
                tx, notice, community, r.chat_id, key, params, buttons, f"nt:{notice.id}:{r.chat_id}", now
            )
        if not to_chats:
            await self._schedule(tx, notice, community, now)
        sent = await repo.get(notice.id)
        assert sent is not None
        return await self.status_reply(tx, sent, community)

    async def deliver(
        self,
        tx: Tx,
        notice: NoticeRecord,
        community: Community,
        chat_id: int,
        key: str,
        params: dict[str, Any],
        buttons: tuple[tuple[Button, ...], ...],
        dedupe: str,
        now: datetime,
        *,
        attach: bool = True,
    ) -> None:
        """One recipient's message (its attachment first): bulk priority, so appeal pings queued
        meanwhile go first; an urgent notice is not held for quiet hours."""
        user_id = chat_id if chat_id > 0 else None
        at = now if notice.kind == "urgent" else None
        if attach and notice.attach_chat_id is not None and notice.attach_message_id is not None:
            copy = Notice(
                chat_id,
                "notices.attachment",
                {"id": notice.id, "copy_caption": "notices.attachment"},
                user_id=user_id,
                dedupe_key=f"{dedupe}:att",
                copy_from=(notice.attach_chat_id, notice.attach_message_id),
                priority=Priority.BULK,
            )
            await self.queue(tx, copy, community, now, not_before=at)
        message = Notice(chat_id, key, params, buttons, user_id=user_id, dedupe_key=dedupe, priority=Priority.BULK)
        await self.queue(tx, message, community, now, not_before=at)

    async def _schedule(self, tx: Tx, notice: NoticeRecord, community: Community, now: datetime) -> None:
        repo = NoticesRepo(tx)
        if notice.kind == "urgent":
            await repo.schedule(notice.id, "reping", now + URGENT_REPING, seq=1)
            await repo.schedule(notice.id, "escalate", now + URGENT_ESCALATE)
            return
        cal = await self.calendars.for_community(tx, community)
        remind = remind_at(cal, notice.kind, now, notice.due_at)
        if remind is not None:
            await repo.schedule(notice.id, "remind", remind)
        if notice.kind == "task" and notice.due_at is not None:
            await repo.schedule(notice.id, "due", notice.due_at)

    async def status_reply(self, tx: Tx, notice: NoticeRecord, community: Community) -> Reply:
        counts = await NoticesRepo(tx).counts(notice.id)
        key, params = status_params(
            notice.id, notice.kind, notice.scope or "h", counts, notice.due_at, community.timezone
        )
        buttons: tuple[tuple[Button, ...], ...] = ()
        if notice.scope != "c":
            buttons = ((Button("notices.btn_who", data=f"nt:w:{notice.id}"),),)
        return Reply(key, params, buttons)

    # --- answers ----------------------------------------------------------------------------------
    async def answer(self, actor: UserInfo, place: Place, notice_id: int, positive: bool) -> Reply:
        """Read ✓ / Done ✓ / Can't do / Confirm ✓, by the recipient in their private chat. A double
        tap records nothing new; the counts are COUNTs of the recipients' rows."""
        require_private(place)
        now = self.clock.now()
        async with self.db.write() as tx:
            repo = NoticesRepo(tx)
            notice = await repo.get(notice_id)
            if notice is None or notice.status != "sent":
                raise NotFound("notices.unknown")
            if place.chat_id != actor.id or await repo.recipient_state(notice.id, actor.id) is None:
                raise PermissionDenied("notices.not_yours")
            state = answer_state(notice.kind, positive)
            if not await repo.answer(notice.id, actor.id, state, now):
                return Reply("notices.answer_same", {"id": notice.id})
            await repo.counts_changed(notice.id, now)
        return Reply(answer_key(state), {"id": notice.id})

    async def not_answered(self, actor: UserInfo, place: Place, notice_id: int) -> Reply:
        """Who has not answered yet: in the notice's own chat, for its sender or the community's staff."""
        async with self.db.read() as tx:
            repo = NoticesRepo(tx)
            notice = await repo.get(notice_id)
            if notice is None or notice.status != "sent" or place.chat_id != notice.origin_chat_id:
                raise NotFound("notices.unknown")
            if actor.id != notice.sender_id and not await RegistryRepo(tx).has_role(
                notice.community_id, actor.id, Role.STAFF
            ):
                raise PermissionDenied("notices.not_sender")
            return await self.pending_reply(tx, notice, None)

    async def pending_reply(self, tx: Tx, notice: NoticeRecord, building_id: int | None) -> Reply:
        repo = NoticesRepo(tx)
        people = await repo.pending(notice.id, LIST_MAX + 1, building_id)
        if not people:
            return Reply("notices.pending_none", {"id": notice.id})
        total = (await repo.counts(notice.id)).get(PENDING, 0) if building_id is None else len(people)
        titles = {b.id: b.title for b in await RegistryRepo(tx).buildings_of(notice.community_id)}
        lines = [f"• {p.name} ({titles.get(p.building_id or 0, '-')})" for p in people[:LIST_MAX]]
        more = max(0, total - LIST_MAX)
        params = {"id": notice.id, "count": total, "names": "\n".join(lines), "more": more}
        return Reply("notices.pending_list" if more == 0 else "notices.pending_list_more", params)

    # --- the sender's live counts -----------------------------------------------------------------
    async def status_edits(self, limit: int = 50) -> list[StatusEdit]:
        """Status messages to edit now: counts changed, not edited within :data:`STATUS_DEBOUNCE`."""
        now = self.clock.now()
        out: list[StatusEdit] = []
        async with self.db.read() as tx:
            repo = NoticesRepo(tx)
            for notice in await repo.status_edits_due(now, now - STATUS_DEBOUNCE, limit):
                if notice.status_chat_id is None or notice.status_message_id is None:
                    continue
                if notice.counts_changed_at is None:
                    continue
                community = await RegistryRepo(tx).get_community(notice.community_id)
                assert community is not None
                reply = await self.status_reply(tx, notice, community)
                out.append(
                    StatusEdit(
                        notice.id,
                        notice.status_chat_id,
                        notice.status_message_id,
                        reply,
                        community.language,
                        notice.counts_changed_at,
                    )
                )
        return out

    async def status_shown(self, edit: StatusEdit) -> None:
        async with self.db.write() as tx:
            await NoticesRepo(tx).counts_shown(edit.notice_id, edit.changed_at, self.clock.now())
