"""Telegram adapters. ``register`` adds every handler in an explicit order.

Group -2: an edited command is answered "send it again" and goes no further (commands run once).
Group -1: remember the people seen in group chats (no answer; processing goes on to group 0); the
  ``/start card_...`` / ``rc_...`` deep links (handlers.points; processing stops once answered).
Group 0 (first match wins inside a group):
  1. chat lifecycle: the bot added/removed (my_chat_member), group -> supergroup migration
  2. commands (private and group; each checks chat type and role through the services)
  3. buttons, by callback-data prefix: f: filing, a: appeal actions, uh: unit head, mu: my unit, lang:;
     mt: Me too and Put to the residents (handlers.metoo, with /putvote);
     then handlers.points (commands and pt:/pk: buttons of points and handlers.perks) and
     handlers.votes (commands and ev:/ep:/pv: buttons of the election and handlers.proposals)
  4. private text / voice / photo: the message router (pending action, reply, draft, answer, keep)
Errors from any of them go to ``handlers.errors.on_error`` (the one place mapping them to messages).
Group -100 and a second error handler (handlers.observability): updates counted by kind, bugs counted
and reported to the operator chat.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram.ext import CallbackQueryHandler, ChatMemberHandler, CommandHandler, MessageHandler, filters

from handlers import appeal_actions, appeals, buildings, general, metoo, observability, points, setup, votes
from handlers.errors import on_error

if TYPE_CHECKING:
    from bot.app import UnitApp


def register(app: UnitApp) -> None:
    # group -2: an EDITED command is not run again (an edited /award would book a second award, an
    # edited /perk add a second perk); the person is asked to send it anew, and processing stops
    app.add_handler(
        MessageHandler(filters.UpdateType.EDITED_MESSAGE & filters.COMMAND, general.edited_command), group=-2
    )

    # 0. group -1, never answers: remember people seen in group chats (for naming them by @username)
    app.add_handler(MessageHandler(filters.ChatType.GROUPS, general.remember_people), group=-1)

    # 1. chat lifecycle
    app.add_handler(ChatMemberHandler(setup.bot_membership, ChatMemberHandler.MY_CHAT_MEMBER), group=0)
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, setup.migrated), group=0)

    # 2. commands
    commands = {
        "start": general.start,
        "help": general.help_command,
        "lang": general.lang,
        # community set-up (staff chat, street chat, building chats)
        "newcommunity": setup.new_community,
        "invite": setup.invite,
        "streetcode": setup.street_code,
        "register": setup.register_building,
        "linkstreet": setup.link_street,
        "units": setup.units,
        "buildinghead": setup.building_head,
        "unithead": setup.unit_head,
        "myunit": setup.my_unit,
        "sla": setup.sla,
        "workday": setup.workday,
        "community": setup.community_option,
        "buildingname": buildings.building_name,
        "poster": buildings.poster,
        # appeals
        "appeal": appeals.appeal_command,
        "myappeals": appeals.my_appeals,
        "open": appeals.open_appeals,
        "show": appeals.show,
        "status": appeals.status,
        "cancel": appeals.cancel,
    }
    for name, callback in commands.items():
        app.add_handler(CommandHandler(name, callback), group=0)

    # 3. buttons
    app.add_handler(CallbackQueryHandler(appeals.filing_button, pattern=r"^f:"), group=0)
    app.add_handler(CallbackQueryHandler(appeals.action_button, pattern=r"^a:"), group=0)
    app.add_handler(CallbackQueryHandler(setup.unit_head_button, pattern=r"^uh:\d+:\d+$"), group=0)
    app.add_handler(CallbackQueryHandler(setup.my_unit_button, pattern=r"^mu:\d+:\d+$"), group=0)
    app.add_handler(CallbackQueryHandler(general.lang_button, pattern=r"^lang:"), group=0)
    # shared problems (issue 12): Me too, posting a shared appeal, supporters' ratings, Put to the
    # residents (mt: buttons) and /putvote
    app.add_handler(CallbackQueryHandler(metoo.metoo_button, pattern=r"^mt:"), group=0)
    app.add_handler(CommandHandler("putvote", metoo.put_vote_command), group=0)
    # points, perks, ID card: their commands, pt:/pk: buttons and the card_/rc_ deep links (handlers.points)
    points.register(app)
    # the election and residents' proposals: their commands and ev:/ep:/pv: buttons (handlers.votes
    # adds those of handlers.proposals too, in one explicit order)
    votes.register(app)

    # staff answer an appeal in the staff (street) chat by replying to its card (privacy mode lets
    # replies to the bot's own messages through); other group messages are left alone
    staff_reply = (
        filters.ChatType.GROUPS & filters.REPLY & ~filters.COMMAND & (filters.TEXT | filters.PHOTO | filters.VOICE)
    )
    app.add_handler(MessageHandler(staff_reply, appeal_actions.staff_chat_reply), group=0)

    # 4. private messages that are not commands
    private_content = filters.ChatType.PRIVATE & (filters.TEXT | filters.VOICE | filters.PHOTO) & ~filters.COMMAND
    app.add_handler(MessageHandler(private_content, appeals.private_message), group=0)
    app.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & ~filters.COMMAND & ~private_content, appeals.private_message),
        group=0,
    )

    # LAST of group 0 (add button handlers above): any other callback data is an old or forged
    # button; it is answered "out of date" instead of leaving the client's spinner running
    app.add_handler(CallbackQueryHandler(general.stale_button), group=0)

    app.add_error_handler(on_error)
    observability.register(app)
