"""Points for unit heads: /points (balance, ranks, history), /top (leaderboard), /card (the
electronic ID card), staff's /award and /deduct, and the deep links a scanned QR opens
(``/start card_<token>``, ``/start rc_<CODE>``). The perks catalog is in :mod:`handlers.perks`.

``register`` adds the buttons (``pt:`` history, leaderboard and the choice of community for a head
in several, ``pk:`` perks) and the commands; the
deep-link ``/start`` handler sits in group -1 (before the general ``/start`` of group 0) and stops
processing once it has answered, so a scanned card or code never also gets the welcome text.
"""

from __future__ import annotations

import asyncio
import re
from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from babel.dates import format_date
from telegram import InputFile, Update
from telegram.error import BadRequest

from bot.cards import CardFace, render_card
from bot.dates import say_moment
from bot.errors import InvalidInput, PermissionDenied, WrongChat
from bot.fonts import find_font
from bot.i18n import Translator
from bot.models import Button, Reply
from bot.services.access import require_private
from bot.services.cards import Card
from bot.services.point_rules import EDITABLE_RULES, PointsSettings, Reason
from bot.services.points import MANUAL_MAX, HistoryPage, Leaderboard, PointsSummary
from handlers.callback_data import button_id, button_ids, place_of
from handlers.common import actor, deep_link, is_group, is_private, keyboard, send_reply, translator
from handlers.context import AppContext
from handlers.setup import _sync_if_staff_chat, _target

if TYPE_CHECKING:
    from storage.ledger import HeadRole, LedgerEntry

PAGE = 5  # entries on /points
HISTORY_PAGE = 10  # entries per "older" page
ID = r"[0-9]{1,18}"  # ids and amounts: ASCII digits that fit a BIGINT ("²".isdigit() is True)
CHOOSABLE = ("points", "top", "card", "perks")  # commands that ask "which community?" of a head in several

# ledger reasons (``bot.services.point_rules.Reason``) -> their texts
REASON_KEYS: dict[str, str] = {  # Reason is a StrEnum: looked up by the stored text
    Reason.FIRST_REPLY: "points.reason.appeal.first_reply",
    Reason.RESOLVED: "points.reason.appeal.resolved_on_time",
    Reason.GOOD_RATING: "points.reason.appeal.good_rating",
    Reason.MISSED_DEADLINE: "points.reason.appeal.missed_deadline",
    Reason.ELECTION_WIN: "points.reason.election.win",
    Reason.MANUAL_AWARD: "points.reason.manual.award",
    Reason.MANUAL_DEDUCT: "points.reason.manual.deduct",
    Reason.REDEEMED: "points.reason.perk.redeemed",
    Reason.REFUND: "points.reason.perk.refund",
}
ROLE_KEYS = {"unit_head": "card.role.unit", "building_head": "card.role.building"}
WHY_NOT_KEYS = {"no_role": "card.why.no_role", "expired": "card.why.expired", "inactive": "card.why.inactive"}


# --- shared helpers ---------------------------------------------------------------------------------
async def private_only(update: Update, context: AppContext) -> bool:
    """True in a private chat; in a group, point to the private chat and return False."""
    if is_private(update):
        return True
    link = deep_link(context, "hello")
    await send_reply(update, context, Reply("general.ask_privately", {}, ((Button("btn.open_bot", url=link),),)))
    return False


async def my_community(update: Update, context: AppContext) -> int:
    """The community where the acting user heads a unit or building now (the first by id when they
    head in several), else the first where they have points."""
    mine = await context.services.points.communities_of(actor(update).id)
    if not mine:
        raise PermissionDenied("error.heads_only")
    return mine[0]


async def chosen_community(update: Update, context: AppContext, command: str) -> int | None:
    """The community for ``command`` (one of CHOOSABLE): the acting user's only one; or, when they
    head a unit or building in several, None after asking "which community?" with one button each
    (``pt:ch:<command>:<community>``, answered by :func:`choice_button`)."""
    choices = await context.services.points.choices(actor(update).id)
    if not choices:
        raise PermissionDenied("error.heads_only")
    if len(choices) == 1:
        return choices[0].community_id
    rows = tuple(
        (Button("points.btn_community", data=f"pt:ch:{command}:{c.community_id}", params={"name": c.name}),)
        for c in choices
    )
    await send_reply(update, context, Reply("points.choose_community", {}, rows))
    return None


async def staff_community(update: Update, context: AppContext) -> int:
    """The community of the staff chat this command was sent in (admins refreshed first)."""
    chat = update.effective_chat
    assert chat is not None
    ctx = await context.services.registry.chat_context(chat.id) if is_group(update) else None
    if ctx is None or ctx.kind != "staff":
        raise WrongChat("error.staff_chat_only")
    await _sync_if_staff_chat(update, context)
    return ctx.community.id


def local_time(context: AppContext, moment: datetime, timezone: str | None = None) -> datetime:
    """``moment`` in ``timezone`` (a community's, e.g. ``Community.timezone``); the installation's
    time zone when none is given."""
    return moment.astimezone(ZoneInfo(timezone or context.services.settings.timezone))


def points_text(t: Translator, amount: int) -> str:
    """ "1 point", "5 points" (each language's plural rule)."""
    return t.plural("perks.cost", amount)


def signed(amount: int) -> str:
    return f"+{amount}" if amount > 0 else f"−{-amount}" if amount < 0 else "0"


def entry_line(t: Translator, context: AppContext, entry: LedgerEntry, timezone: str | None = None) -> str:
    key = REASON_KEYS.get(entry.reason)
    reason = t(key) if key else entry.reason
    if entry.ref_type == "appeal" and entry.ref_id is not None:
        reason += f" #{entry.ref_id}"
    if entry.note:
        reason += f": {entry.note}"
    day = local_time(context, entry.created_at, timezone).strftime("%Y-%m-%d")
    return t("points.entry", date=day, amount=signed(entry.amount), reason=reason)


async def edit_or_send(update: Update, context: AppContext, text: str, rows: tuple[tuple[Button, ...], ...]) -> None:
    """Replace the pressed message's text and buttons (a new message if it cannot be edited)."""
    query = update.callback_query
    assert query is not None
    t = await translator(update, context)
    await query.answer()
    try:
        await query.edit_message_text(text, reply_markup=keyboard(t, rows))
    except BadRequest as exc:
        if "not modified" in str(exc).lower():
            return
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, text, reply_markup=keyboard(t, rows))


# --- /points ----------------------------------------------------------------------------------------
def render_summary(t: Translator, context: AppContext, s: PointsSummary) -> Reply:
    entries = "\n".join(entry_line(t, context, e, s.timezone) for e in s.entries) or t("points.no_entries")
    params = {
        "balance": s.balance,
        "month": s.month,
        "month_points": s.month_points,
        "rank_month": s.rank_month,
        "people_month": s.people_month,
        "earned": s.earned,
        "rank_all": s.rank_all,
        "people_all": s.people_all,
        "entries": entries,
    }
    rows: tuple[tuple[Button, ...], ...] = ()
    if s.next_before is not None:
        rows = ((Button("points.btn_older", data=f"pt:h:{s.community_id}:{s.next_before}"),),)
    return Reply("points.summary", params, rows)


async def points_command(update: Update, context: AppContext) -> None:
    if not await private_only(update, context):
        return
    community_id = await chosen_community(update, context, "points")
    if community_id is None:
        return
    summary = await context.services.points.summary(actor(update).id, community_id, page_size=PAGE)
    t = await translator(update, context)
    await send_reply(update, context, render_summary(t, context, summary), t)


def render_history(t: Translator, context: AppContext, community_id: int, page: HistoryPage) -> Reply:
    entries = "\n".join(entry_line(t, context, e, page.timezone) for e in page.entries) or t("points.no_entries")
    rows: tuple[tuple[Button, ...], ...] = ()
    if page.next_before is not None:
        rows = ((Button("points.btn_older", data=f"pt:h:{community_id}:{page.next_before}"),),)
    return Reply("points.history", {"entries": entries}, rows)


async def history_button(update: Update, context: AppContext) -> None:
    """``pt:h:<community>:<before id>``: the next page of older entries, as a new message."""
    query = update.callback_query
    assert query is not None and query.data is not None
    require_private(place_of(update))  # a person's points: never into a group
    community_id, before = button_ids(query.data, 2, 2)
    page = await context.services.points.history(actor(update).id, community_id, before_id=before, limit=HISTORY_PAGE)
    t = await translator(update, context)
    await query.answer()
    await send_reply(update, context, render_history(t, context, community_id, page), t)


# --- /top -------------------------------------------------------------------------------------------
def render_top(t: Translator, board: Leaderboard) -> tuple[str, tuple[tuple[Button, ...], ...]]:
    rows = "\n".join(t("top.row", rank=r.rank, name=r.name, points=r.points) for r in board.rows)
    rows = rows or t("top.empty")
    text = t("top.month", month=board.month, rows=rows) if board.period == "month" else t("top.all", rows=rows)
    other = "a" if board.period == "month" else "m"
    label = "top.btn_all" if board.period == "month" else "top.btn_month"
    return text, ((Button(label, data=f"pt:t:{board.community_id}:{other}"),),)


async def top_command(update: Update, context: AppContext) -> None:
    if not await private_only(update, context):
        return
    community_id = await chosen_community(update, context, "top")
    if community_id is None:
        return
    board = await context.services.points.leaderboard(community_id, "month", viewer_id=actor(update).id)
    t = await translator(update, context)
    text, rows = render_top(t, board)
    assert update.effective_chat is not None
    await context.bot.send_message(update.effective_chat.id, text, reply_markup=keyboard(t, rows))


async def top_button(update: Update, context: AppContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    require_private(place_of(update))  # a person's points: never into a group
    _, _, community, period = query.data.split(":")
    community_id = button_id(community)
    board = await context.services.points.leaderboard(
        community_id, "month" if period == "m" else "all", viewer_id=actor(update).id
    )
    text, rows = render_top(await translator(update, context), board)
    await edit_or_send(update, context, text, rows)


# --- /card and its check ----------------------------------------------------------------------------
def role_lines(t: Translator, roles: tuple[HeadRole, ...]) -> tuple[str, ...]:
    return tuple(t(ROLE_KEYS.get(r.kind, "card.role.unit"), building=r.building, unit=r.unit or "-") for r in roles)


_DAY_PATTERNS = {
    "zh": "y年M月d日",
    "ru": "d MMMM y",
    "en": "d MMM y",
}  # '2027年2月20日', '20 февраля 2027', '20 Feb 2027'


def fmt_day(t: Translator, day: date) -> str:
    """A card's day as people write it, with the year (cards are kept for months)."""
    return str(format_date(day, _DAY_PATTERNS.get(t.lang, _DAY_PATTERNS["en"]), locale=t.lang))


def _card_texts(t: Translator, card: Card) -> dict[str, str]:
    """The card's number and issue day, as the image and the check answer print them."""
    return {"number": card.number, "issued": fmt_day(t, card.issued)}


async def card_command(update: Update, context: AppContext) -> None:
    if not await private_only(update, context):
        return
    community_id = await chosen_community(update, context, "card")
    if community_id is None:
        return
    await send_card(update, context, await context.services.cards.card_token(actor(update), community_id))


async def send_card(update: Update, context: AppContext, card: Card) -> None:
    t = await translator(update, context)
    texts = _card_texts(t, card)
    face = CardFace(
        title=t("card.title"),
        holder=card.holder,
        roles=role_lines(t, card.roles),
        community=card.community,
        valid_until=t("card.valid_until", day=fmt_day(t, card.valid_until)),
        footer=t("card.footer"),
        link=deep_link(context, f"card_{card.token}"),
        number=t("card.number", number=texts["number"]),
        issued=t("card.issued", day=texts["issued"]),
    )
    png = await asyncio.to_thread(render_card, face, find_font(context.services.settings.card_font))
    caption = t("card.caption", community=card.community, day=fmt_day(t, card.valid_until))[:1024]
    assert update.effective_chat is not None
    await context.bot.send_photo(update.effective_chat.id, InputFile(png, filename="id-card.png"), caption=caption)


async def verify_card(update: Update, context: AppContext, token: str) -> None:
    card = await context.services.cards.verify_card(token)
    t = await translator(update, context)
    checked = say_moment(card.checked_at or context.services.clock.now(), card.timezone, t.lang)
    common = {"holder": card.holder, "community": card.community, "checked": checked, **_card_texts(t, card)}
    if card.valid:
        roles = "\n".join(role_lines(t, card.roles))
        text = t("card.genuine", roles=roles, day=fmt_day(t, card.valid_until), **common)
    else:
        why = t(WHY_NOT_KEYS.get(card.why_not or "", "card.why.no_role"))
        text = t("card.no_longer_valid", why=why, **common)
    assert update.effective_chat is not None
    await context.bot.send_message(update.effective_chat.id, text)


# --- staff: /award and /deduct ----------------------------------------------------------------------
async def _manual(update: Update, context: AppContext, *, deduct: bool) -> None:
    community_id = await staff_community(update, context)
    usage = "points.usage.deduct" if deduct else "points.usage.award"
    target, rest = await _target(update, context, list(context.args or []))
    if target is None or not rest:
        raise InvalidInput(usage)
    amount_text, reason = rest[0], " ".join(rest[1:])
    if not re.fullmatch(ID, amount_text):
        raise InvalidInput("error.points_amount", max=MANUAL_MAX)
    message = update.effective_message
    assert message is not None
    service = context.services.points
    call = service.deduct if deduct else service.award
    entry = await call(
        actor(update),
        community_id,
        target.id,
        int(amount_text),
        reason,
        request_key=f"{message.chat_id}:{message.message_id}",
    )
    key = "points.deduct_done" if entry.amount < 0 else "points.award_done"  # what was booked
    t = await translator(update, context)
    name = target.display if entry.user_id == target.id else str(entry.user_id)
    params = {"name": name, "points": points_text(t, abs(entry.amount)), "reason": entry.note or ""}
    await send_reply(update, context, Reply(key, params), t)


async def award_command(update: Update, context: AppContext) -> None:
    """/award @user N reason... (or as a reply to their message) — in the staff chat."""
    await _manual(update, context, deduct=False)


async def deduct_command(update: Update, context: AppContext) -> None:
    """/deduct @user N reason... (or as a reply to their message) — in the staff chat."""
    await _manual(update, context, deduct=True)


# --- staff: /pointrules -----------------------------------------------------------------------------
def render_rules(t: Translator, rules: PointsSettings) -> Reply:
    values = rules.model_dump()
    lines = "\n".join(f"{key} = {values[key]} — {t(f'points.rule.{key}')}" for key in EDITABLE_RULES)
    return Reply("points.rules", {"lines": lines, "election_win": points_text(t, rules.election_win)})


async def rules_command(update: Update, context: AppContext) -> None:
    """/pointrules — the community's points rules; /pointrules KEY VALUE — change one (staff chat)."""
    community_id = await staff_community(update, context)
    args = list(context.args or [])
    service = context.services.points
    if len(args) == 2:
        rules = await service.set_rule(actor(update), community_id, args[0].lower(), args[1])
    elif not args:
        rules = await service.rules(community_id, actor(update))
    else:
        raise InvalidInput("points.usage.rules")
    t = await translator(update, context)
    await send_reply(update, context, render_rules(t, rules), t)
