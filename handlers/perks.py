"""Perks: the catalog for unit heads (/perks, buttons ``pk:``), redemption with a one-time code (text
and a QR image whose deep link opens the bot for the merchant), the merchant's /check (or a code
typed on its own), and staff's catalog commands in the staff chat (/merchant, /perk, /perkimport).

Buttons (ids are ASCII digits, at most 18; pages at most 4 digits; every one under Telegram's 64
bytes): ``pk:home[:<community>]`` / ``pk:h:<page>[:<community>]`` categories (of one community of
a head in several) · ``pk:c:<category>[:<page>]`` perks of a category
· ``pk:p:<perk>[:<page>]`` one perk (the page to go back to) · ``pk:r:<perk>`` "redeem?" ·
``pk:y:<perk>`` redeem (once per confirmation message) · ``pk:n`` cancel. Anything else is answered
as a stale button.

``/perk`` arguments are separated by ``|`` (see docs/points.md)::

    /perk add <category> | <merchant> | <title> | <cost> [| <stock> | <valid until> | <per-person limit>
              | <address> | <description>]          ("-" or nothing: unlimited / no end / no limit)
    /perk change <id> <field> <value>                 (a value is required; "-" clears stock, limit,
                                                       end date, address or description)
    /perk retire <id>
    /perk                                             (the perks on offer, with their ids)
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from telegram import InputFile, Update

from bot.cards import CodeFace, render_code
from bot.dates import say_moment
from bot.errors import Conflict, InvalidInput, NotFound
from bot.fonts import find_font
from bot.i18n import Translator, plural
from bot.models import Button, Reply
from bot.services.access import require_private
from bot.services.perk_catalog import (
    CatalogRejected,
    CodeCheck,
    Page,
    PerkView,
    parse_id,
    problem_key,
)
from handlers.callback_data import place_of
from handlers.common import actor, deep_link, keyboard, send_reply, send_text, split_text, translator
from handlers.context import AppContext
from handlers.points import chosen_community, edit_or_send, fmt_day, points_text, private_only, staff_community
from handlers.setup import _target

IMPORT_MAX_BYTES = 1_000_000
ADD_FIELDS = (
    "category",
    "merchant",
    "title",
    "cost",
    "stock",
    "valid_until",
    "per_person_limit",
    "address",
    "description",
)
_BUTTON = re.compile(
    r"pk:(?:(?P<plain>n)|(?P<home>home)(?::(?P<home_c>[0-9]{1,18}))?"
    r"|h:(?P<home_page>[0-9]{1,4})(?::(?P<page_c>[0-9]{1,18}))?"
    r"|(?P<view>[cp]):(?P<view_id>[0-9]{1,18})(?::(?P<page>[0-9]{1,4}))?"
    r"|(?P<act>[ry]):(?P<act_id>[0-9]{1,18}))"
)

Rows = tuple[tuple[Button, ...], ...]


# --- rendering --------------------------------------------------------------------------------------
def _cost(t: Translator, view: PerkView) -> str:
    return t("perks.cost_free") if view.status_only else points_text(t, view.perk.cost)


def _stock(t: Translator, view: PerkView) -> str:
    stock = view.perk.stock
    if stock is None:
        return t("perks.stock_unlimited")
    return t("perks.stock", n=stock) if stock > 0 else t("perks.stock_out")


def _validity(t: Translator, view: PerkView) -> str:
    return t("perks.valid_until", day=fmt_day(t, view.last_day)) if view.last_day else t("perks.valid_always")


def render_perk(t: Translator, view: PerkView) -> str:
    """The perk's card; a field staff left empty (description, address) is left out, not shown as "-"."""
    p = view.perk
    lines = [t("perks.detail_title", title=p.title)]
    if p.description.strip():
        lines.append(p.description)
    if p.merchant_name.strip():
        lines.append(t("perks.detail_shop", merchant=p.merchant_name))
    if p.address.strip():
        lines.append(t("perks.detail_address", address=p.address))
    lines.append(t("perks.detail_terms", cost=_cost(t, view), validity=_validity(t, view), stock=_stock(t, view)))
    return "\n".join(lines)


def _paged(t: Translator, text: str, page: Page[Any]) -> str:
    return text if page.pages == 1 else text + "\n" + t("perks.page", page=page.page + 1, pages=page.pages)


def _turn(page: Page[Any], data: str, suffix: str = "") -> Rows:
    """◀️ ▶️ for a list over several pages (``data`` + the page number + ``suffix``)."""
    row: list[Button] = []
    if page.page > 0:
        row.append(Button("perks.btn_prev", data=f"{data}{page.page - 1}{suffix}"))
    if page.page < page.pages - 1:
        row.append(Button("perks.btn_next", data=f"{data}{page.page + 1}{suffix}"))
    return (tuple(row),) if row else ()


# --- /perks and its buttons -------------------------------------------------------------------------
async def categories_reply(
    update: Update, context: AppContext, page: int = 0, community_id: int | None = None
) -> tuple[str, Rows]:
    """The text and one button per category of one page (unit and building heads only); of
    ``community_id`` when the person chose one of several communities."""
    t = await translator(update, context)
    found = await context.services.perks.head_categories(actor(update).id, community_id, page=page)
    if not found.items:
        return t("perks.none"), ()
    rows = tuple(
        (Button("perks.btn_category", data=f"pk:c:{c.id}", params={"name": c.name, "n": c.available}),)
        for c in found.items
    )
    turn = _turn(found, "pk:h:", f":{community_id}" if community_id else "")
    return _paged(t, t("perks.categories"), found), (*rows, *turn)


async def perks_command(update: Update, context: AppContext) -> None:
    if not await private_only(update, context):
        return
    community_id = await chosen_community(update, context, "perks")  # asks first if they head in several
    if community_id is None:
        return
    text, rows = await categories_reply(update, context, 0, community_id)
    await send_text(update, context, text, keyboard(await translator(update, context), rows))


def home_button(community_id: int) -> Button:
    """Back to the categories of the perk's community."""
    return Button("perks.btn_back", data=f"pk:home:{community_id}")


async def perks_button(update: Update, context: AppContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    require_private(place_of(update))  # a head's perks and codes: never into a group
    t = await translator(update, context)
    match = _BUTTON.fullmatch(query.data)
    if match is None:
        raise Conflict("error.stale_button")
    if match["home"] is not None or match["home_page"] is not None:
        community = match["home_c"] or match["page_c"]
        page = int(match["home_page"] or 0)
        text, rows = await categories_reply(update, context, page, int(community) if community else None)
        await edit_or_send(update, context, text, rows)
    elif match["plain"] == "n":
        await edit_or_send(update, context, t("perks.cancelled"), ())
    elif match["view"] == "c":
        await _show_category(update, context, t, int(match["view_id"]), int(match["page"] or 0))
    elif match["view"] == "p":
        await _show_perk(update, context, t, int(match["view_id"]), int(match["page"] or 0))
    elif match["act"] == "r":
        await _confirm(update, context, t, int(match["act_id"]))
    else:
        await _redeem(update, context, t, int(match["act_id"]))


async def _show_category(update: Update, context: AppContext, t: Translator, category_id: int, page: int) -> None:
    found = await context.services.perks.head_category(actor(update).id, category_id, page)
    views = found.perks
    if not views.items:
        await edit_or_send(update, context, t("perks.none"), ((home_button(found.category.community_id),),))
        return
    lines = "\n".join(t("perks.line", title=v.perk.title, cost=_cost(t, v), stock=_stock(t, v)) for v in views.items)
    text = _paged(t, t("perks.list", category=found.category.name, perks=lines), views)
    suffix = f":{views.page}" if views.page else ""
    rows: Rows = tuple(
        (Button("perks.btn_perk", data=f"pk:p:{v.perk.id}{suffix}", params={"title": v.perk.title}),)
        for v in views.items
    )
    turn = _turn(views, f"pk:c:{category_id}:")
    await edit_or_send(update, context, text, (*rows, *turn, (home_button(found.category.community_id),)))


async def _show_perk(update: Update, context: AppContext, t: Translator, perk_id: int, page: int) -> None:
    view, _ = await context.services.perks.head_perk(actor(update).id, perk_id)
    rows: list[tuple[Button, ...]] = []
    if view.on_offer and not view.status_only:
        cost = points_text(t, view.perk.cost)
        rows.append((Button("perks.btn_redeem", data=f"pk:r:{perk_id}", params={"cost": cost}),))
    back = f"pk:c:{view.perk.category_id}" + (f":{page}" if page else "")
    rows.append((Button("perks.btn_back_category", data=back),))
    await edit_or_send(update, context, render_perk(t, view), tuple(rows))


async def _confirm(update: Update, context: AppContext, t: Translator, perk_id: int) -> None:
    view, balance = await context.services.perks.head_perk(actor(update).id, perk_id)
    text = t("perks.confirm", cost=points_text(t, view.perk.cost), title=view.perk.title, balance=balance)
    rows: Rows = ((Button("perks.btn_yes", data=f"pk:y:{perk_id}"), Button("perks.btn_no", data="pk:n")),)
    await edit_or_send(update, context, text, rows)


async def _redeem(update: Update, context: AppContext, t: Translator, perk_id: int) -> None:
    query = update.callback_query
    assert query is not None and update.effective_chat is not None
    shown = query.message  # the confirmation: its "Yes" redeems once, however often it is pressed
    request_key = f"{shown.chat.id}:{shown.message_id}" if shown is not None else None
    receipt = await context.services.perks.redeem(actor(update), perk_id, request_key=request_key)
    expires = say_moment(receipt.expires_at, receipt.timezone, t.lang, now=context.services.clock.now())
    perk = receipt.perk.perk
    text = t(
        "perks.redeemed",
        title=perk.title,
        code=receipt.code,
        merchant=perk.merchant_name,
        expires=expires,
        cost=receipt.cost,
        balance=receipt.balance,
    )
    await edit_or_send(update, context, text, ())  # the confirmation's buttons go away
    link = deep_link(context, "rc_" + receipt.code.replace("-", ""))
    face = CodeFace(
        heading=t("code.title"),
        code=receipt.code,
        perk=perk.title,
        shop=t("code.shop", merchant=perk.merchant_name),
        address=t("code.address", address=perk.address) if perk.address.strip() else "",
        expires=t("code.expires", when=expires),
        footer=t("code.footer"),
        link=link,
    )
    png = await asyncio.to_thread(render_code, face, find_font(context.services.settings.card_font))
    caption = t("perks.qr_caption", code=receipt.code, expires=expires)[:1024]
    await context.bot.send_photo(update.effective_chat.id, InputFile(png, filename="perk-code.png"), caption=caption)


# --- the merchant's check ---------------------------------------------------------------------------
async def check_code(update: Update, context: AppContext, code: str) -> None:
    result = await context.services.perks.check_code(actor(update), code)
    await _checked(update, context, result)


async def check_typed_code(update: Update, context: AppContext, text: str) -> bool:
    """A merchant typed a code without /check: checked and answered (True); for anyone else nothing
    happens (False) and the message goes on to the appeal router."""
    result = await context.services.perks.check_typed_code(actor(update), text)
    if result is None:
        return False
    await _checked(update, context, result)
    return True


async def _checked(update: Update, context: AppContext, result: CodeCheck) -> None:
    t = await translator(update, context)
    redeemed = say_moment(result.redeemed_at, result.timezone, t.lang, now=context.services.clock.now())
    lines = [t("perks.check_ok", title=result.title)]
    if result.description.strip():  # no "-" line for a perk without a description
        lines.append(result.description)
    lines.append(t("perks.check_to", holder=result.holder, redeemed=redeemed))
    await send_text(update, context, "\n".join(lines))


async def check_command(update: Update, context: AppContext) -> None:
    """/check CODE — a merchant checks a code (typed; scanning the QR sends /start rc_CODE)."""
    if not await private_only(update, context):
        return
    code = "".join(context.args or [])
    if not code:
        raise InvalidInput("perks.usage.check")
    await check_code(update, context, code)


# --- staff: merchants and the catalog ---------------------------------------------------------------
async def merchant_command(update: Update, context: AppContext) -> None:
    """/merchant @user [shop name] (or replying to their message) — in the staff chat."""
    community_id = await staff_community(update, context)
    target, rest = await _target(update, context, list(context.args or []))
    if target is None:
        raise InvalidInput("perks.usage.merchant")
    merchant = await context.services.perk_admin.add_merchant(
        actor(update), community_id, target, " ".join(rest) or None
    )
    await send_reply(update, context, Reply("perks.merchant_added", {"name": merchant.name}))


def _value(text: str) -> str:
    text = text.strip()
    return "" if text == "-" else text


def _perk_id(text: str) -> int:
    """The id in ``/perk change ID ...`` / ``/perk retire ID``: plain digits (``#12`` too)."""
    ref = parse_id(text)
    if ref is not None:
        return ref
    if text.lstrip("#").isdigit():  # '²', '١٢', or more digits than any id has
        raise NotFound("error.perk_unknown", id=text.lstrip("#")[:24])
    raise InvalidInput("perks.usage.perk")


async def perk_command(update: Update, context: AppContext) -> None:
    community_id = await staff_community(update, context)
    message = update.effective_message
    assert message is not None and message.text is not None
    args = context.args or []
    sub = args[0].lower() if args else ""
    admin = context.services.perk_admin
    if sub == "add":
        rest = message.text.split(None, 2)[2] if len(args) > 1 else ""
        values = [_value(v) for v in rest.split("|")]
        if len(values) < 4 or len(values) > len(ADD_FIELDS):
            raise InvalidInput("perks.usage.perk")
        fields = {name: value for name, value in zip(ADD_FIELDS, values, strict=False)}
        view = await admin.add_perk(actor(update), community_id, fields)
        await send_reply(update, context, Reply("perks.added", {"id": view.perk.id, "title": view.perk.title}))
    elif sub == "change" and len(args) >= 3:
        perk_id = _perk_id(args[1])
        value = message.text.split(None, 4)[4] if len(args) > 3 else ""  # required; "-" clears
        view = await admin.change_perk(actor(update), perk_id, args[2].lower(), value, community_id=community_id)
        await send_reply(update, context, Reply("perks.changed", {"id": view.perk.id, "title": view.perk.title}))
    elif sub == "retire" and len(args) == 2:
        view = await admin.retire_perk(actor(update), _perk_id(args[1]), community_id=community_id)
        await send_reply(update, context, Reply("perks.retired", {"id": view.perk.id, "title": view.perk.title}))
    elif not args:
        t = await translator(update, context)
        views = await context.services.perks.perks(community_id)
        lines = "\n".join(
            t(
                "perks.staff_line",
                id=v.perk.id,
                category=v.perk.category,
                title=v.perk.title,
                cost=_cost(t, v),
                stock=_stock(t, v),
            )
            for v in views
        )
        await _send_long(update, context, t("perks.staff_list", perks=lines or "-"))
    else:
        raise InvalidInput("perks.usage.perk")


async def _send_long(update: Update, context: AppContext, text: str) -> None:
    assert update.effective_chat is not None
    for part in split_text(text):
        await context.bot.send_message(update.effective_chat.id, part)


async def import_command(update: Update, context: AppContext) -> None:
    """/perkimport, replying to a CSV file — in the staff chat."""
    community_id = await staff_community(update, context)
    message = update.effective_message
    assert message is not None
    replied = message.reply_to_message
    document = replied.document if replied is not None else None
    if document is None:
        raise InvalidInput("perks.usage.import")
    if document.file_size is not None and document.file_size > IMPORT_MAX_BYTES:
        raise InvalidInput("perks.import_too_big", max=IMPORT_MAX_BYTES // 1000)
    file = await context.bot.get_file(document.file_id)
    raw = bytes(await file.download_as_bytearray())
    if len(raw) > IMPORT_MAX_BYTES:
        raise InvalidInput("perks.import_too_big", max=IMPORT_MAX_BYTES // 1000)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("perks.import_not_text") from exc
    t = await translator(update, context)
    try:
        report = await context.services.perk_admin.import_file(actor(update), community_id, text)
    except CatalogRejected as exc:
        problems = "\n".join(
            t("perks.import_problem", line=e.line, field=e.field, problem_key=problem_key(e.problem))
            for e in exc.errors[:50]
        )
        await _send_long(
            update,
            context,
            t("perks.import_rejected", count=plural("count.problems", len(exc.errors)), problems=problems),
        )
        return
    await send_reply(
        update, context, Reply("perks.import_done", {"added": len(report.added), "changed": len(report.changed)})
    )
