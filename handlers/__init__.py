"""Telegram adapters. ``register`` adds every handler, in one place and an explicit order (a
feature's module holds its callbacks, never its own registration).

Group -2: an edited command is answered "send it again" and goes no further (commands run once).
Group -1: remember the people seen in group chats (no answer; processing goes on to group 0); the
  ``/start card_...`` / ``rc_...`` deep links (handlers.points; processing stops once answered).
Group 0 (first match wins inside a group):
  1. chat lifecycle: the bot added/removed (my_chat_member), group -> supergroup migration
  2. commands (private and group; each checks chat type and role through the services)
  3. buttons, by callback-data prefix: f: filing, a: appeal actions, uh: unit head, mu: my unit, lang:;
     then pt:/pk: (points, perks), ev:/ep:/pv: (election, proposals), wi: (micro-wishes) and cr:
     (the care list)
  4. private text / voice / photo: the message router (pending action, reply, draft, answer, keep)
Errors from any of them go to ``handlers.errors.on_error`` (the one place mapping them to messages).
Group -100 and a second error handler (handlers.observability): updates counted by kind, bugs counted
and reported to the operator chat.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from handlers import (
    appeal_actions,
    appeals,
    buildings,
    care,
    community_choice,
    deep_links,
    general,
    observability,
    perks,
    points,
    proposals,
    setup,
    votes,
    wishes,
)
from handlers.errors import on_error

ID = points.ID  # ids in callback data: ASCII digits that fit a BIGINT

if TYPE_CHECKING:
    from handlers.context import UnitApp


def register(app: UnitApp) -> None:
    # group -2: an EDITED command is not run again (an edited /award would book a second award, an
    # edited /perk add a second perk); the person is asked to send it anew, and processing stops
    app.add_handler(
        MessageHandler(filters.UpdateType.EDITED_MESSAGE & filters.COMMAND, general.edited_command), group=-2
    )

    # group -1: the points' deep links (/start card_... opens a card check, /start rc_... a perk code
    # check); answered here, processing stops
    points_links = filters.ChatType.PRIVATE & filters.Regex(r"^/start(@\w+)?\s+(card|rc)_")
    app.add_handler(CommandHandler("start", deep_links.start_link, filters=points_links), group=-1)

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
        # points and the ID card
        "points": points.points_command,
        "top": points.top_command,
        "card": points.card_command,
        "award": points.award_command,
        "deduct": points.deduct_command,
        "pointrules": points.rules_command,
        # perks at local merchants
        "perks": perks.perks_command,
        "check": perks.check_command,
        "merchant": perks.merchant_command,
        "perk": perks.perk_command,
        "perkimport": perks.import_command,
        # the monthly election and residents' proposals
        "vote": votes.vote_command,
        "results": votes.results_command,
        "election": votes.election_command,
        "propose": proposals.propose_command,
        "decisions": proposals.decisions_command,
        # community life (issue 12): micro-wishes, the care list, door-knocking rounds
        "wish": wishes.wish_command,
        "wishes": wishes.wishes_command,
        "care": care.care_command,
        "knock": care.knock_command,
    }
    for name, callback in commands.items():
        app.add_handler(CommandHandler(name, callback), group=0)

    # 3. buttons
    app.add_handler(CallbackQueryHandler(appeals.filing_button, pattern=r"^f:"), group=0)
    app.add_handler(CallbackQueryHandler(appeals.action_button, pattern=r"^a:"), group=0)
    app.add_handler(CallbackQueryHandler(setup.unit_head_button, pattern=r"^uh:\d+:\d+$"), group=0)
    app.add_handler(CallbackQueryHandler(setup.my_unit_button, pattern=r"^mu:\d+:\d+$"), group=0)
    app.add_handler(CallbackQueryHandler(general.lang_button, pattern=r"^lang:"), group=0)
    # points (history, top, "which community?") and perks
    app.add_handler(CallbackQueryHandler(points.history_button, pattern=rf"^pt:h:{ID}:{ID}$"), group=0)
    app.add_handler(CallbackQueryHandler(points.top_button, pattern=rf"^pt:t:{ID}:[ma]$"), group=0)
    choosable = "|".join(points.CHOOSABLE)
    app.add_handler(
        CallbackQueryHandler(community_choice.choice_button, pattern=rf"^pt:ch:({choosable}):{ID}$"), group=0
    )
    app.add_handler(CallbackQueryHandler(perks.perks_button, pattern=r"^pk:"), group=0)
    # the election (ballot, pages) and proposals
    app.add_handler(CallbackQueryHandler(votes.vote_button, pattern=rf"^ev:{ID}:{ID}$"), group=0)
    app.add_handler(CallbackQueryHandler(votes.page_button, pattern=rf"^ep:{ID}:{ID}:\d{{1,6}}$"), group=0)
    app.add_handler(CallbackQueryHandler(proposals.proposal_button, pattern=rf"^pv:{ID}:\d{{1,3}}$"), group=0)
    # micro-wishes and the care list (issue 12); their private texts are asked first by
    # handlers.appeals.private_message
    app.add_handler(CallbackQueryHandler(wishes.wish_button, pattern=wishes.WISH_BUTTON), group=0)
    app.add_handler(CallbackQueryHandler(care.care_button, pattern=care.CARE_BUTTON), group=0)

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

    # errors: mapped to the person's message in one place; then counted and reported to the operator
    app.add_error_handler(on_error)
    app.add_error_handler(observability.report_bug)
    # group -100, before every other group (group -2 may stop processing): updates counted by kind
    app.add_handler(TypeHandler(Update, observability.count_update), group=observability.OBSERVE_GROUP)
