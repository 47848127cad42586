"""The dashboard's HTML, rendered on the server in the reader's language (bot.i18n catalogs,
``dashboard.po``); the page's script puts each fragment in place. Every value from the database
or a person goes through :func:`html.escape`. Colours come from Telegram's theme (CSS variables
the script sets from ``themeParams``); dates are said as people say them (bot.dates)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape
from urllib.parse import urlencode

from babel.dates import format_skeleton

from bot.dates import say_moment
from bot.i18n import Translator
from bot.models import Category, Level, Status
from bot.services.dashboard.scope import Reach
from bot.services.dashboard.views import (
    AppealPage,
    AppealRow,
    BuildingLine,
    HeadLine,
    TurnoutLine,
    Viewer,
)
from bot.services.stats import BuildingRow, Figures, HeadRow, Period, Rate, TrendPoint
from bot.services.stats.care import CareWishFigures

PAGES = ("overview", "appeals", "heads", "elections", "reports")


def e(value: object) -> str:
    return escape(str(value), quote=True)


def percent(rate: Rate) -> str:
    value = rate.value
    return "–" if value is None else f"{round(value * 100)}%"


def month_name(period: Period, lang: str) -> str:
    return str(format_skeleton("yMMMM", date(period.start.year, period.start.month, 1), locale=lang))


def short_month(month: str, lang: str) -> str:
    """'2026-11' -> 'Nov 2026' / '2026年11月' / 'нояб. 2026' (as people write a month)."""
    year, _, number = month.partition("-")
    if not (year.isdigit() and number.isdigit()):
        return month
    return str(format_skeleton("yMMM", date(int(year), int(number), 1), locale=lang))


def nav(t: Translator, viewer: Viewer, current: str) -> str:
    items = []
    for page in PAGES:
        if page == "reports" and viewer.scope.reach < Reach.BUILDING:
            continue
        mark = ' aria-current="page"' if page == current else ""
        items.append(f'<a href="#{page}" data-page="{page}"{mark}>{e(t("dash.nav." + page))}</a>')
    who = e(t("dash.signed_in", name=viewer.user.display))
    return f'<nav class="tabs">{"".join(items)}</nav><p class="who">{who}</p>'


def message(t: Translator, key: str, status: int, **params: object) -> str:
    kind = "error" if status >= 400 else "note"
    return f'<div class="msg {kind}" data-status="{status}">{e(t(key, **params))}</div>'


# --- overview ------------------------------------------------------------------------------------
def overview(
    t: Translator,
    viewer: Viewer,
    figures: Figures,
    buildings: Sequence[BuildingRow],
    trend: Sequence[TrendPoint],
    open_lines: Sequence[BuildingLine],
    care: CareWishFigures | None = None,
) -> str:
    total = figures.total
    period = figures.period
    cards = "".join(
        f'<div class="card rate" data-rate="{name}"><div class="big">{percent(rate)}</div>'
        f'<div class="label">{e(t("dash.rate." + name))}</div>'
        f'<div class="small">{e(t("dash.rate.of", hits=rate.hits, base=rate.base))}</div></div>'
        for name, rate in (
            ("response", total.response),
            ("resolution", total.resolution),
            ("satisfaction", total.satisfaction),
        )
    )
    counts = e(
        t(
            "dash.overview.counts",
            filed=total.filed.total,
            open=total.open_now.total,
            overdue=total.overdue_now.total,
            escalated=total.escalated,
            reopened=total.reopened,
        )
    )
    parts = [
        nav(t, viewer, "overview"),
        f"<h1>{e(t('dash.overview.title', month=month_name(period, t.lang)))}</h1>",
        f'<div class="cards">{cards}</div>',
        f'<p class="counts">{counts}</p>',
    ]
    if total.filed.total == 0:
        parts.append(message(t, "dash.overview.no_appeals", 200))
    parts.append(care_section(t, care))
    parts.append(f"<h2>{e(t('dash.overview.trend'))}</h2>")
    parts.append(trend_table(t, trend))
    parts.append(f"<h2>{e(t('dash.overview.by_building'))}</h2>")
    if not open_lines:
        parts.append(message(t, "dash.overview.no_buildings", 200))
    else:
        parts.append(bar_chart(t, open_lines))
        parts.append(building_table(t, buildings))
    return "".join(parts)


def care_section(t: Translator, care: CareWishFigures | None) -> str:
    """The care list's and wishes' counts (issue 12), only the parts the scope uses; counts only."""
    if care is None or not care.in_use:
        return ""
    lines: list[str] = []
    c, w = care.care, care.wishes
    if c.in_use:
        text = t(
            "dash.overview.care",
            households=c.households,
            visits=c.visits,
            due=c.due,
            missed=c.missed,
            on_time=percent(c.on_time_rate),
            rounds=c.rounds,
        )
        lines.append(f'<p class="counts" data-figures="care">{e(text)}</p>')
    if w.in_use:
        text = t(
            "dash.overview.wishes",
            posted=w.posted,
            fulfilled=w.fulfilled,
            rate=percent(w.fulfilment),
            open=w.open_now,
            claimed=w.claimed_now,
        )
        lines.append(f'<p class="counts" data-figures="wishes">{e(text)}</p>')
    return f"<h2>{e(t('dash.overview.care_title'))}</h2>" + "".join(lines)


def trend_table(t: Translator, trend: Sequence[TrendPoint]) -> str:
    head = "".join(
        f"<th>{e(t(k))}</th>"
        for k in (
            "dash.col.month",
            "dash.col.filed",
            "dash.rate.response",
            "dash.rate.resolution",
            "dash.rate.satisfaction",
        )
    )
    rows = "".join(
        f"<tr><td>{e(short_month(p.month, t.lang))}</td><td>{p.filed}</td><td>{percent(p.response)}</td>"
        f"<td>{percent(p.resolution)}</td><td>{percent(p.satisfaction)}</td></tr>"
        for p in trend
    )
    return f'<table class="trend"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def bar_chart(t: Translator, lines: Sequence[BuildingLine]) -> str:
    """Open and overdue appeals per building as horizontal bars (one row each: 60 buildings stay
    readable on a phone, the page scrolls)."""
    row_h, label_w, width = 22, 120, 340
    top = max((line.open for line in lines), default=0) or 1
    height = row_h * len(lines) + 24
    bars = []
    for i, line in enumerate(lines):
        y = 20 + i * row_h
        open_w = round((width - label_w - 40) * line.open / top)
        over_w = round((width - label_w - 40) * line.overdue / top)
        title = line.title if len(line.title) <= 16 else line.title[:15] + "…"
        bars.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" class="lbl">{e(title)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{max(open_w, 1)}" height="14" class="bar-open"/>'
            f'<rect x="{label_w}" y="{y + 3}" width="{over_w}" height="14" class="bar-overdue"/>'
            f'<text x="{label_w + max(open_w, 1) + 4}" y="{y + 14}" class="num">{line.open}'
            f"{f' / {line.overdue}⚠' if line.overdue else ''}</text>"
        )
    legend = (
        f'<rect x="{label_w}" y="2" width="10" height="10" class="bar-open"/>'
        f'<text x="{label_w + 14}" y="11" class="lbl">{e(t("dash.col.open"))}</text>'
        f'<rect x="{label_w + 90}" y="2" width="10" height="10" class="bar-overdue"/>'
        f'<text x="{label_w + 104}" y="11" class="lbl">{e(t("dash.col.overdue"))}</text>'
    )
    label = e(t("dash.overview.chart_label"))
    return (
        f'<svg class="chart" role="img" aria-label="{label}" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet">{legend}{"".join(bars)}</svg>'
    )


def building_table(t: Translator, rows: Sequence[BuildingRow]) -> str:
    keys = (
        "dash.col.building",
        "dash.col.filed",
        "dash.col.open",
        "dash.col.overdue",
        "dash.rate.response",
        "dash.rate.resolution",
        "dash.rate.satisfaction",
    )
    head = "".join(f"<th>{e(t(k))}</th>" for k in keys)
    body = "".join(
        f'<tr><td><a href="#appeals" data-page="appeals" data-query="building={r.building_id}">'
        f"{e(r.name)}</a></td><td>{r.figures.filed.total}</td><td>{r.figures.open_now.total}</td>"
        f"<td>{r.figures.overdue_now.total}</td><td>{percent(r.figures.response)}</td>"
        f"<td>{percent(r.figures.resolution)}</td><td>{percent(r.figures.satisfaction)}</td></tr>"
        for r in rows
    )
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


# --- the appeal list -------------------------------------------------------------------------------
def _select(t: Translator, name: str, options: Sequence[tuple[str, str]], chosen: str) -> str:
    opts = "".join(
        f'<option value="{e(v)}"{" selected" if v == chosen else ""}>{e(label)}</option>' for v, label in options
    )
    return f'<label>{e(t("dash.filter." + name))}<select name="{name}">{opts}</select></label>'


def appeal_list(t: Translator, viewer: Viewer, page: AppealPage) -> str:
    f = page.filters
    any_ = ("", t("dash.filter.any"))
    statuses = [any_, ("open", t("dash.filter.open")), *((s.value, t(f"status.{s.value}")) for s in Status)]
    categories = [any_, *((c.value, t(f"category.{c.value}")) for c in Category)]
    levels = [any_, *((lv.name.lower(), t(f"level.{lv.name.lower()}")) for lv in Level)]
    buildings = [any_, *((str(b.id), b.title) for b in viewer.scope.buildings)]
    form = (
        '<form class="filters" data-page="appeals">'
        + _select(t, "status", statuses, f.status or "")
        + _select(t, "category", categories, f.category or "")
        + _select(t, "level", levels, f.level.name.lower() if f.level is not None else "")
        + _select(t, "building", buildings, str(f.building_id or ""))
        + f'<label class="check"><input type="checkbox" name="overdue" value="1"{" checked" if f.overdue else ""}>'
        + f"{e(t('dash.filter.overdue'))}</label>"
        + f'<button type="submit">{e(t("dash.filter.apply"))}</button></form>'
    )
    parts = [nav(t, viewer, "appeals"), f"<h1>{e(t('dash.appeals.title'))}</h1>", form]
    if not page.rows:
        parts.append(message(t, "dash.appeals.none", 200))
    items = "".join(appeal_item(t, row) for row in page.rows)
    parts.append(f'<ul class="appeals">{items}</ul>')
    if page.next_before is not None:
        query = {k: v for k, v in _query_of(page).items() if v}
        query["before"] = str(page.next_before)
        qs = e(urlencode(query))
        parts.append(
            f'<a class="more" href="#appeals?{qs}" data-page="appeals" data-query="{qs}">'
            f"{e(t('dash.appeals.older'))}</a>"
        )
    return "".join(parts)


def _query_of(page: AppealPage) -> dict[str, str]:
    f = page.filters
    return {
        "status": f.status or "",
        "category": f.category or "",
        "level": f.level.name.lower() if f.level is not None else "",
        "building": str(f.building_id or ""),
        "overdue": "1" if f.overdue else "",
    }


def appeal_item(t: Translator, row: AppealRow) -> str:
    a = row.appeal
    place = t("filing.place_unit", building=row.building, unit=row.unit) if row.unit else row.building
    due = say_moment(a.due_at, row.timezone, t.lang) if a.due_at and a.status.is_open else ""
    flag = f' <span class="overdue">⚠ {e(t("dash.overdue"))}</span>' if row.overdue else ""
    body = a.body if len(a.body) <= 80 else a.body[:79] + "…"
    return (
        f'<li data-appeal="{a.id}"><a href="#appeal?id={a.id}" data-page="appeal" data-query="id={a.id}">'
        f"<b>#{a.id}</b> {e(t(f'category.{a.category.value}'))} · {e(place)}<br>"
        f'<span class="body">{e(body or "-")}</span><br>'
        f'<span class="small">{e(t(f"status.{a.status.value}"))} · {e(t(f"level.{a.level.name.lower()}"))}'
        f"{' · ' + e(t('dash.due', due=due)) if due else ''}</span>{flag}</a></li>"
    )


# --- heads, elections, reports ----------------------------------------------------------------------
def heads(t: Translator, viewer: Viewer, lines: Sequence[HeadLine], figures: Figures) -> str:
    """One card per head (readable on a phone): their post, what they hold now, their month."""
    by_head: dict[tuple[str, int], HeadRow] = {(h.role.value, h.user_id): h for h in figures.heads}
    cards = []
    for line in lines:
        stats = by_head.get((line.level.name.lower(), line.user_id))
        post = t("filing.place_unit", building=line.building, unit=line.unit) if line.unit else line.building
        role = t(f"level.{line.level.name.lower()}")
        load = t("dash.heads.load", open=line.open, overdue=line.overdue)
        month = (
            t(
                "dash.heads.month",
                response=percent(stats.figures.response),
                resolution=percent(stats.figures.resolution),
                satisfaction=percent(stats.figures.satisfaction),
                points=stats.points,
            )
            if stats
            else t("dash.heads.no_figures")
        )
        flag = " ⚠" if line.overdue else ""
        cards.append(
            f'<li class="head" data-head="{line.user_id}"><b>{e(line.name)}</b> · {e(role)}<br>'
            f'<span class="small">{e(post)}</span><br>{e(load)}{flag}<br><span class="small">{e(month)}</span></li>'
        )
    title = t("dash.heads.title", month=month_name(figures.period, t.lang))
    parts = [nav(t, viewer, "heads"), f"<h1>{e(title)}</h1>"]
    if not cards:
        parts.append(message(t, "dash.heads.none", 200))
    else:
        parts.append(f'<ul class="appeals heads">{"".join(cards)}</ul>')
    return "".join(parts)


def elections(t: Translator, viewer: Viewer, lines: Sequence[TurnoutLine]) -> str:
    keys = ("dash.col.month", "dash.col.building", "dash.col.voters", "dash.col.turnout")
    head = "".join(f"<th>{e(t(k))}</th>" for k in keys)
    rows = "".join(
        f"<tr><td>{e(line.period)}{' · ' + e(t('dash.elections.open')) if line.state == 'open' else ''}</td>"
        f"<td>{e(line.building)}</td><td>{line.voters} / {line.eligible}</td>"
        f"<td>{percent(Rate(line.voters, line.eligible))}</td></tr>"
        for line in lines
    )
    parts = [nav(t, viewer, "elections"), f"<h1>{e(t('dash.elections.title'))}</h1>"]
    if not lines:
        parts.append(message(t, "dash.elections.none", 200))
    else:
        parts.append(f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>')
    return "".join(parts)


def reports(t: Translator, viewer: Viewer, months: Sequence[Period]) -> str:
    items = "".join(
        f"<li>{e(month_name(p, t.lang))}: "
        + " · ".join(
            f'<a href="#" data-download="report?month={p.month}&amp;format={fmt}" '
            f'data-filename="report-{p.month}.{fmt}">{e(t(key))}</a>'
            for fmt, key in (("xlsx", "dash.reports.xlsx"), ("csv", "dash.reports.csv"))
        )
        + "</li>"
        for p in months
    )
    return (
        nav(t, viewer, "reports")
        + f'<h1>{e(t("dash.reports.title"))}</h1><p>{e(t("dash.reports.intro"))}</p><ul class="reports">{items}</ul>'
    )
