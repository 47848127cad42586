"""Perks: the catalog for unit heads (/perks, buttons ``pk:``), redemption with a one-time code (text
and a QR image whose deep link opens the bot for the merchant), the merchant's /check, and staff's
catalog commands in the staff chat (/merchant, /perk, /perkimport).

Buttons: ``pk:home`` categories · ``pk:c:<category>`` perks of a category · ``pk:p:<perk>`` one perk ·
``pk:r:<perk>`` "redeem?" · ``pk:y:<perk>`` redeem · ``pk:n`` cancel.

``/perk`` arguments are separated by ``|`` (see docs/points.md)::

    /perk add <category> | <merchant> | <title> | <cost> [| <stock> | <valid until> | <per-person limit>
              | <address> | <description>]          ("-" or nothing: unlimited / no end / no limit)
    /perk change <id> <field> <value>                 (value "-" clears stock, limit or end date)
    /perk retire <id>
    /perk                                             (the perks on offer, with their ids)
"""

from __future__ import annotations

from telegram import InputFile, Update

from bot.app import AppContext
from bot.cards import qr_png
from bot.errors import Conflict, InvalidInput
from bot.i18n import Translator
from bot.models import Button, Reply
from bot.services.perk_catalog import CatalogRejected, PerkView, parse_catalog_csv
from handlers.common import actor, deep_link, send_reply, split_text, translator
from handlers.points import edit_or_send, local_time, my_community, points_text, private_only, staff_community
from handlers.setup import _target

IMPORT_MAX_BYTES = 1_000_000
PROBLEM_KEYS = {
    "required": "perks.problem.required",
    "not_a_number": "perks.problem.not_a_number",
    "out_of_range": "perks.problem.out_of_range",
    "bad_date": "perks.problem.bad_date",
    "too_long": "perks.problem.too_long",
    "unknown_column": "perks.problem.unknown_column",
    "merchant_unknown": "perks.problem.merchant_unknown",
    "perk_unknown": "perks.problem.perk_unknown",
    "invalid": "perks.problem.invalid",
}
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
    return t("perks.valid_until", day=view.last_day.isoformat()) if view.last_day else t("perks.valid_always")


def render_perk(t: Translator, view: PerkView) -> str:
    p = view.perk
    return t(
        "perks.detail",
        title=p.title,
        description=p.description or "-",
        merchant=p.merchant_name,
        address=p.address or "-",
        cost=_cost(t, view),
        validity=_validity(t, view),
        stock=_stock(t, view),
    )


# --- /perks and its buttons -------------------------------------------------------------------------
async def _categories(update: Update, context: AppContext) -> tuple[str, Rows]:
    """The key of the text ('perks.categories' or 'perks.none') and one button per category."""
    community_id = await my_community(update, context)
    found = [c for c in await context.services.perks.categories(community_id) if c.available > 0]
    rows = tuple(
        (Button("perks.btn_category", data=f"pk:c:{c.id}", params={"name": c.name, "n": c.available}),) for c in found
    )
    return ("perks.categories" if found else "perks.none"), rows


async def perks_command(update: Update, context: AppContext) -> None:
    if not await private_only(update, context):
        return
    key, rows = await _categories(update, context)
    await send_reply(update, context, Reply(key, {}, rows))


async def perks_button(update: Update, context: AppContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    parts = query.data.split(":")
    t = await translator(update, context)
    if parts == ["pk", "home"]:
        key, rows = await _categories(update, context)
        await edit_or_send(update, context, t(key), rows)
    elif parts == ["pk", "n"]:
        await edit_or_send(update, context, t("perks.cancelled"), ())
    elif len(parts) == 3 and parts[1] in ("c", "p", "r", "y") and parts[2].isdigit():
        ref = int(parts[2])
        if parts[1] == "c":
            await _show_category(update, context, t, ref)
        elif parts[1] == "p":
            await _show_perk(update, context, t, ref)
        elif parts[1] == "r":
            await _confirm(update, context, t, ref)
        else:
            await _redeem(update, context, t, ref)
    else:
        raise Conflict("error.stale_button")


async def _show_category(update: Update, context: AppContext, t: Translator, category_id: int) -> None:
    community_id = await my_community(update, context)
    views = await context.services.perks.perks(community_id, category_id, viewer=actor(update).id)
    if not views:
        await edit_or_send(update, context, t("perks.none"), ((Button("perks.btn_back", data="pk:home"),),))
        return
    lines = "\n".join(t("perks.line", title=v.perk.title, cost=_cost(t, v), stock=_stock(t, v)) for v in views)
    text = t("perks.list", category=views[0].perk.category, perks=lines)
    rows: Rows = tuple(
        (Button("perks.btn_perk", data=f"pk:p:{v.perk.id}", params={"title": v.perk.title}),) for v in views[:40]
    )
    await edit_or_send(update, context, text, (*rows, (Button("perks.btn_back", data="pk:home"),)))


async def _show_perk(update: Update, context: AppContext, t: Translator, perk_id: int) -> None:
    view = await context.services.perks.perk(perk_id, viewer=actor(update).id)
    rows: list[tuple[Button, ...]] = []
    if view.on_offer and not view.status_only:
        cost = points_text(t, view.perk.cost)
        rows.append((Button("perks.btn_redeem", data=f"pk:r:{perk_id}", params={"cost": cost}),))
    rows.append((Button("perks.btn_back_category", data=f"pk:c:{view.perk.category_id}"),))
    await edit_or_send(update, context, render_perk(t, view), tuple(rows))


async def _confirm(update: Update, context: AppContext, t: Translator, perk_id: int) -> None:
    view = await context.services.perks.perk(perk_id, viewer=actor(update).id)
    summary = await context.services.points.summary(actor(update).id, view.perk.community_id, page_size=1)
    text = t("perks.confirm", cost=points_text(t, view.perk.cost), title=view.perk.title, balance=summary.balance)
    rows: Rows = ((Button("perks.btn_yes", data=f"pk:y:{perk_id}"), Button("perks.btn_no", data="pk:n")),)
    await edit_or_send(update, context, text, rows)


async def _redeem(update: Update, context: AppContext, t: Translator, perk_id: int) -> None:
    query = update.callback_query
    assert query is not None and update.effective_chat is not None
    receipt = await context.services.perks.redeem(actor(update), perk_id)
    expires = local_time(context, receipt.expires_at).strftime("%Y-%m-%d %H:%M")
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
    caption = t("perks.qr_caption", code=receipt.code, expires=expires)[:1024]
    await context.bot.send_photo(
        update.effective_chat.id, InputFile(qr_png(link), filename="perk-code.png"), caption=caption
    )


# --- the merchant's check ---------------------------------------------------------------------------
async def check_code(update: Update, context: AppContext, code: str) -> None:
    result = await context.services.perks.check_code(actor(update), code)
    redeemed = local_time(context, result.redeemed_at).strftime("%Y-%m-%d %H:%M")
    await send_reply(
        update,
        context,
        Reply(
            "perks.check_ok",
            {
                "title": result.title,
                "description": result.description or "-",
                "holder": result.holder,
                "redeemed": redeemed,
            },
        ),
    )


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
    merchant = await context.services.perks.add_merchant(actor(update), community_id, target, " ".join(rest) or None)
    await send_reply(update, context, Reply("perks.merchant_added", {"name": merchant.name}))


def _value(text: str) -> str:
    text = text.strip()
    return "" if text == "-" else text


async def perk_command(update: Update, context: AppContext) -> None:
    community_id = await staff_community(update, context)
    message = update.effective_message
    assert message is not None and message.text is not None
    args = context.args or []
    sub = args[0].lower() if args else ""
    service = context.services.perks
    if sub == "add":
        rest = message.text.split(None, 2)[2] if len(args) > 1 else ""
        values = [_value(v) for v in rest.split("|")]
        if len(values) < 4 or len(values) > len(ADD_FIELDS):
            raise InvalidInput("perks.usage.perk")
        fields = {name: value for name, value in zip(ADD_FIELDS, values, strict=False)}
        view = await service.add_perk(actor(update), community_id, fields)
        await send_reply(update, context, Reply("perks.added", {"id": view.perk.id, "title": view.perk.title}))
    elif sub == "change" and len(args) >= 3 and args[1].isdigit():
        value = _value(message.text.split(None, 4)[4] if len(args) > 3 else "")
        view = await service.change_perk(actor(update), int(args[1]), args[2].lower(), value)
        await send_reply(update, context, Reply("perks.changed", {"id": view.perk.id, "title": view.perk.title}))
    elif sub == "retire" and len(args) == 2 and args[1].isdigit():
        view = await service.retire_perk(actor(update), int(args[1]))
        await send_reply(update, context, Reply("perks.retired", {"id": view.perk.id, "title": view.perk.title}))
    elif not args:
        t = await translator(update, context)
        views = await service.perks(community_id)
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
        report = await context.services.perks.import_catalog(actor(update), community_id, parse_catalog_csv(text))
    except CatalogRejected as exc:
        problems = "\n".join(
            t(
                "perks.import_problem",
                line=e.line,
                field=e.field,
                problem=t(PROBLEM_KEYS.get(e.problem, "perks.problem.invalid")),
            )
            for e in exc.errors[:50]
        )
        await _send_long(update, context, t("perks.import_rejected", count=len(exc.errors), problems=problems))
        return
    await send_reply(
        update, context, Reply("perks.import_done", {"added": len(report.added), "changed": len(report.changed)})
    )
