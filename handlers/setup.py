"""Community set-up commands (staff chat, street chat, building chats) and chat lifecycle updates."""

from __future__ import annotations

from datetime import UTC, date, datetime

from telegram import ChatMember, MessageEntity, Update, User
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError

from bot.codes import CODE_LENGTH, canonical
from bot.dates import say_moment
from bot.errors import Conflict, InvalidInput, NotFound, WrongChat
from bot.i18n import plural
from bot.models import Button, Reply, UserInfo
from bot.services.building_codes import shown
from bot.services.registry import ChatContext
from bot.sla import EDITABLE
from handlers.callback_data import button_ids, place_of
from handlers.common import actor, deep_link, is_group, say, send_reply, translator, user_info
from handlers.context import AppContext


async def chat_admin_ids(update: Update, context: AppContext) -> list[int]:
    chat = update.effective_chat
    assert chat is not None
    admins = await context.bot.get_chat_administrators(chat.id)
    return [m.user.id for m in admins if not m.user.is_bot]


async def is_chat_member(context: AppContext, chat_id: int, user_id: int) -> bool:
    """Telegram's word that the person is in the chat now (False when it cannot tell)."""
    try:
        member = await context.bot.get_chat_member(chat_id, user_id)
    except TelegramError:
        return False
    if member.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER):
        return True
    return member.status == ChatMemberStatus.RESTRICTED and bool(getattr(member, "is_member", False))


async def _sync_if_staff_chat(update: Update, context: AppContext, ctx: ChatContext | None = None) -> None:
    """Staff are the admins of the staff chat: refresh before acting there (``ctx``: the chat's
    context when the caller has read it already)."""
    chat = update.effective_chat
    if chat is None or not is_group(update):
        return
    if ctx is None:
        ctx = await context.services.registry.chat_context(chat.id)
    if ctx is not None and ctx.kind in ("staff", "street"):
        await context.services.registry.sync_admins(chat.id, await chat_admin_ids(update, context))


async def new_community(update: Update, context: AppContext) -> None:
    """/newcommunity <name> — in the future staff chat, by one of its admins."""
    chat = update.effective_chat
    assert chat is not None
    name = " ".join(context.args or []) or (chat.title or "")
    admins = await chat_admin_ids(update, context) if is_group(update) else []
    community = await context.services.registry.create_community(
        actor(update), chat.id, name, admins, group=is_group(update)
    )
    await say(
        update, context, "setup.community_created", name=community.name, staff=plural("count.staff_admins", len(admins))
    )
    from handlers.menus import publish_staff_menu

    await publish_staff_menu(context.application, chat.id)  # type: ignore[arg-type]


async def invite(update: Update, context: AppContext) -> None:
    """/invite — a one-time code (and add-to-group link) to register a building chat."""
    await _sync_if_staff_chat(update, context)
    chat = update.effective_chat
    assert chat is not None
    code = await context.services.registry.issue_invite(actor(update), chat.id, "building")
    link = deep_link(context, code, group=True)
    await send_reply(update, context, Reply("setup.invite", {"code": code}, ((Button("btn.add_to_group", url=link),),)))


async def street_code(update: Update, context: AppContext) -> None:
    """/streetcode — a one-time code for the street office chat (/linkstreet CODE there)."""
    await _sync_if_staff_chat(update, context)
    chat = update.effective_chat
    assert chat is not None
    code = await context.services.registry.issue_invite(actor(update), chat.id, "street")
    await say(update, context, "setup.street_code", code=code)


async def register_building(update: Update, context: AppContext, code: str | None = None) -> None:
    """/register CODE in a building chat (or the add-to-group link, which sends /start CODE)."""
    chat = update.effective_chat
    assert chat is not None
    args = list(context.args or [])
    # /register CODE [building name]; a code typed in its groups or copied with the punctuation around
    # it ("码：k7mp x3qh。") is the whole text (the registry finds the code in it)
    whole = canonical(args[0]) if args else None
    alone = whole is not None and len(whole) == CODE_LENGTH
    name = " ".join(args[1:]) if not code and alone else ""
    code = code or (args[0] if alone else " ".join(args))
    if not code:
        raise InvalidInput("error.register_usage")
    if not is_group(update):
        raise WrongChat("error.group_only")
    member = await context.bot.get_chat_member(chat.id, actor(update).id)
    is_admin = member.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)
    community, building = await context.services.registry.register_building(
        actor(update), chat.id, chat.title or str(chat.id), code, actor_is_admin=is_admin, group=True, name=name
    )
    await say(
        update,
        context,
        "setup.building_registered_code",
        title=building.title,
        community=community.name,
        code=shown(building.code or ""),
    )


async def link_street(update: Update, context: AppContext) -> None:
    chat = update.effective_chat
    assert chat is not None
    if not context.args:
        raise InvalidInput("error.linkstreet_usage")
    admins = await chat_admin_ids(update, context) if is_group(update) else []
    community = await context.services.registry.link_street(
        actor(update), chat.id, " ".join(context.args), admins, group=is_group(update)
    )
    await say(update, context, "setup.street_linked", community=community.name)


async def units(update: Update, context: AppContext) -> None:
    """/units 1-6 (or names): add the building's units (stairwells)."""
    chat = update.effective_chat
    assert chat is not None
    if not context.args:
        building, existing = await context.services.registry.building_units(chat.id)
        names = ", ".join(u.name for u in existing) or "-"
        await say(update, context, "setup.units_list", title=building.title, units=names)
        return
    added = await context.services.registry.add_units(actor(update), chat.id, " ".join(context.args))
    await say(
        update, context, "setup.units_added", count=plural("count.units", len(added)), units=", ".join(added) or "-"
    )


async def _target(update: Update, context: AppContext, args: list[str]) -> tuple[UserInfo | None, list[str]]:
    """The person a command is about: a replied-to message, a text mention, or a known @username."""
    message = update.effective_message
    assert message is not None
    if message.reply_to_message is not None and message.reply_to_message.from_user is not None:
        replied: User = message.reply_to_message.from_user
        if not replied.is_bot:
            return user_info(replied), args
    for entity in message.entities:
        if entity.type == MessageEntity.TEXT_MENTION and entity.user is not None:
            name = message.parse_entity(entity)
            rest = [a for a in args if a not in name.split()]
            return user_info(entity.user), rest
    for i, arg in enumerate(args):
        if arg.startswith("@") and len(arg) > 1:
            found = await context.services.registry.find_user(arg)
            if found is None:
                raise NotFound("error.user_unknown", username=arg[:40])
            return found, args[:i] + args[i + 1 :]
    return None, args


async def _nudge_if_unreachable(update: Update, context: AppContext, target: UserInfo) -> None:
    if not await context.services.registry.is_reachable(target.id):
        link = deep_link(context, "hello")
        await send_reply(
            update,
            context,
            Reply("setup.press_start", {"name": target.display}, ((Button("btn.open_bot", url=link),),)),
        )


async def building_head(update: Update, context: AppContext) -> None:
    """/buildinghead — reply to the person's message, mention them, or give their @username."""
    chat = update.effective_chat
    assert chat is not None
    target, _ = await _target(update, context, list(context.args or []))
    if target is None:
        raise InvalidInput("error.head_usage", command="/buildinghead")
    building = await context.services.registry.set_building_head(actor(update), chat.id, target)
    await say(update, context, "setup.building_head_set", name=target.display, title=building.title)
    await _nudge_if_unreachable(update, context, target)


async def unit_head(update: Update, context: AppContext) -> None:
    """/unithead UNIT (reply / mention / @username); without UNIT the units come as buttons."""
    chat = update.effective_chat
    assert chat is not None
    target, rest = await _target(update, context, list(context.args or []))
    if target is None:
        raise InvalidInput("error.head_usage", command="/unithead 3")
    if not rest:
        _, unit_list = await context.services.registry.building_units(chat.id)
        if not unit_list:
            raise InvalidInput("error.no_units")
        rows = [
            tuple(
                Button("btn.unit", data=f"uh:{u.id}:{target.id}", params={"unit": u.name}) for u in unit_list[i : i + 4]
            )
            for i in range(0, min(len(unit_list), 40), 4)
        ]
        await context.services.registry.touch(target)
        await send_reply(update, context, Reply("setup.pick_unit_for", {"name": target.display}, tuple(rows)))
        return
    unit = await context.services.registry.set_unit_head(actor(update), chat.id, " ".join(rest), target)
    await say(update, context, "setup.unit_head_set", name=target.display, unit=unit.name)
    await _nudge_if_unreachable(update, context, target)


async def unit_head_button(update: Update, context: AppContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    unit_id, user_id = button_ids(query.data, 1, 2)
    place = place_of(update)
    target = await context.services.registry.get_user(user_id)
    if target is None or place.chat_id is None:  # made for a known person in a chat: forged or stale
        raise Conflict("error.stale_button")
    unit = await context.services.registry.set_unit_head(actor(update), place.chat_id, unit_id, target)
    await query.answer()
    await say(update, context, "setup.unit_head_set", name=target.display, unit=unit.name)
    await _nudge_if_unreachable(update, context, target)


async def sla(update: Update, context: AppContext) -> None:
    """/sla — show the community's deadlines; /sla KEY VALUE — change one."""
    await _sync_if_staff_chat(update, context)
    chat = update.effective_chat
    assert chat is not None
    args = context.args or []
    if len(args) == 2:
        settings = await context.services.registry.set_sla(actor(update), chat.id, args[0], args[1])
    elif not args:
        _, settings = await context.services.registry.community_settings(actor(update), chat.id)
    else:
        raise InvalidInput("error.sla_key", keys=", ".join(EDITABLE))
    lines = "\n".join(f"{k} = {v}" for k, v in settings.model_dump().items())
    await say(update, context, "setup.sla", settings=lines)


async def workday(update: Update, context: AppContext) -> None:
    """/workday YYYY-MM-DD on|off|reset — a local calendar override."""
    await _sync_if_staff_chat(update, context)
    chat = update.effective_chat
    assert chat is not None
    args = context.args or []
    if len(args) != 2 or args[1].lower() not in ("on", "off", "reset"):
        raise InvalidInput("error.workday_usage")
    try:
        day = date.fromisoformat(args[0])
    except ValueError as exc:
        raise InvalidInput("error.workday_usage") from exc
    working = {"on": True, "off": False, "reset": None}[args[1].lower()]
    await context.services.registry.set_workday(actor(update), chat.id, day, working)
    community, _ = await context.services.registry.community_settings(actor(update), chat.id)
    is_working, announced = await context.services.registry.calendar_status(community, day)
    t = await translator(update, context)
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)  # the day as people say it, not ISO
    await say(
        update,
        context,
        "setup.workday",
        day=say_moment(noon, "UTC", t.lang, now=context.services.clock.now(), with_time=False),
        state_key="calendar.working" if is_working else "calendar.day_off",
    )
    if not announced:
        await say(update, context, "setup.not_announced", year=day.year)


async def community_option(update: Update, context: AppContext) -> None:
    """/community timezone|country|language VALUE"""
    await _sync_if_staff_chat(update, context)
    chat = update.effective_chat
    assert chat is not None
    args = context.args or []
    if len(args) != 2:
        raise InvalidInput("error.community_usage")
    community = await context.services.registry.set_community_option(actor(update), chat.id, args[0], args[1])
    await say(
        update,
        context,
        "setup.community_updated",
        timezone=community.timezone,
        country=community.country,
        language=community.language,
    )


async def bot_membership(update: Update, context: AppContext) -> None:
    """The bot was added to / removed from a chat."""
    change = update.my_chat_member
    if change is None:
        return
    present = change.new_chat_member.status not in (ChatMember.LEFT, ChatMember.BANNED)
    if change.chat.type == "private":
        await context.services.registry.private_chat_changed(user_info(change.from_user), blocked=not present)
        return
    await context.services.registry.bot_membership_changed(change.chat.id, present)


async def migrated(update: Update, context: AppContext) -> None:
    """A group became a supergroup: its chat id changed; move everything to the new id."""
    message = update.effective_message
    if message is None:
        return
    if message.migrate_to_chat_id:
        await context.services.registry.migrate_chat(message.chat_id, message.migrate_to_chat_id)
    elif message.migrate_from_chat_id:
        await context.services.registry.migrate_chat(message.migrate_from_chat_id, message.chat_id)


async def my_unit(update: Update, context: AppContext) -> None:
    """/myunit in a building chat: residents pick their unit by button."""
    chat = update.effective_chat
    assert chat is not None
    if not is_group(update):
        raise WrongChat("error.building_chat_only")
    building, unit_list = await context.services.registry.building_units(chat.id)
    if not unit_list:
        raise InvalidInput("error.no_units")
    rows = tuple(
        tuple(
            Button("btn.unit", data=f"mu:{building.id}:{u.id}", params={"unit": u.name}) for u in unit_list[i : i + 4]
        )
        for i in range(0, min(len(unit_list), 60), 4)
    )
    await send_reply(update, context, Reply("setup.pick_your_unit", {"title": building.title}, rows))


async def my_unit_button(update: Update, context: AppContext) -> None:
    from handlers.common import translator

    query = update.callback_query
    assert query is not None and query.data is not None
    building_id, unit_id = button_ids(query.data, 1, 2)
    unit = await context.services.registry.set_resident_unit(actor(update), building_id, unit_id, place_of(update))
    t = await translator(update, context)
    await query.answer(t("filing.unit_saved", unit=unit.name)[:200], show_alert=True)
