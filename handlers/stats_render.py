"""Figures in words and pictures, in the reader's language: the /stats text, the chart's texts and
images, the report's files (used by /stats, /report and the outbox's monthly report)."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

from babel.dates import format_date

from bot.fonts import find_font
from bot.i18n import Translator
from bot.models import Category
from bot.services.stats import BuildingRow, Period, Rate
from bot.services.stats.care import CareWishFigures
from bot.services.stats.chart import BuildingBar, ChartText, TrendSeries, stats_chart_pngs
from bot.services.stats.report import ReportData, csv_bytes, xlsx_bytes
from bot.services.stats.service import StatsView

_MONTH_PATTERNS = {"zh": "y年M月", "ru": "LLLL y", "en": "MMMM y"}
_SHORT_MONTH = {"zh": "M月", "ru": "LLL", "en": "LLL"}
MOST_OVERDUE = 3  # buildings named in the text as needing help first


def month_label(month: str, lang: str) -> str:
    """'2026-11' -> '2026年11月' / 'ноябрь 2026' / 'November 2026'."""
    year, number = (int(x) for x in month.split("-"))
    return str(format_date(date(year, number, 1), _MONTH_PATTERNS.get(lang, "MMMM y"), locale=lang))


def period_label(period: Period, lang: str) -> str:
    if period.month:
        return month_label(period.month, lang)
    return f"{format_date(period.start, 'medium', locale=lang)} – {format_date(period.end, 'medium', locale=lang)}"


def _short_month(month: str, lang: str) -> str:
    year, number = (int(x) for x in month.split("-"))
    return str(format_date(date(year, number, 1), _SHORT_MONTH.get(lang, "LLL"), locale=lang))


def rate_text(t: Translator, rate: Rate) -> str:
    if rate.value is None:
        return t("stats.rate_none")
    return t("stats.rate", pct=_pct(rate.value), hits=rate.hits, base=rate.base)


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def hours_text(t: Translator, hours: float | None) -> str:
    return "—" if hours is None else t("stats.hours", h=f"{hours:.1f}")


def care_text(t: Translator, care: CareWishFigures | None) -> str:
    """The care list's and wishes' short block of /stats: only the parts the scope uses (a community
    without care households or wishes sees nothing); counts only, never a name or a note."""
    if care is None:
        return ""
    blocks: list[str] = []
    c, w = care.care, care.wishes
    if c.in_use:
        block = t(
            "stats.care_block",
            households=t.plural("stats.care.households", c.households),
            visits=c.visits,
            well=c.well,
            help=c.help,
            away=c.away,
            due=c.due,
            on_time=c.on_time,
            missed=c.missed,
            pending=c.pending,
            on_time_rate=rate_text(t, c.on_time_rate),
        )
        if c.rounds:
            block += "\n" + t(
                "stats.care_rounds",
                rounds=t.plural("stats.care.rounds", c.rounds),
                completed=c.rounds_completed,
                completion=rate_text(t, c.round_completion),
            )
        blocks.append(block)
    if w.in_use:
        blocks.append(
            t(
                "stats.wish_block",
                posted=w.posted,
                claimed=w.claimed,
                fulfilled=w.fulfilled,
                expired=w.expired,
                fulfilment=rate_text(t, w.fulfilment),
                claim_median=hours_text(t, w.time_to_claim.median_hours),
                open_now=w.open_now,
                claimed_now=w.claimed_now,
            )
        )
    return "\n\n".join(blocks)


def stats_text(t: Translator, view: StatsView) -> str:
    text = _appeals_text(t, view)
    care = care_text(t, view.care)
    return f"{text}\n\n{care}" if care else text


def _appeals_text(t: Translator, view: StatsView) -> str:
    figures = view.figures
    g = figures.total
    title = view.viewer.title
    month = period_label(figures.period, t.lang)
    if g.filed.total == 0:
        return t("stats.no_appeals", title=title, month=month, open=g.open_now.total, overdue=g.overdue_now.total)
    categories = ", ".join(
        f"{t(f'category.{c.value}')} {g.filed.by_category[c]}" for c in Category if g.filed.by_category.get(c)
    )
    text = t(
        "stats.summary",
        title=title,
        month=month,
        filed=g.filed.total,
        categories=categories,
        response=rate_text(t, g.response),
        resolution=rate_text(t, g.resolution),
        satisfaction=rate_text(t, g.satisfaction),
        unrated=g.unrated,
        auto_closed=g.auto_closed,
        reopened=g.reopened,
        escalations=g.escalations,
        fr_median=hours_text(t, g.first_reply.median_hours),
        fr_p90=hours_text(t, g.first_reply.p90_hours),
        rs_median=hours_text(t, g.resolution_time.median_hours),
        rs_p90=hours_text(t, g.resolution_time.p90_hours),
        open=g.open_now.total,
        overdue=g.overdue_now.total,
    )
    late = sorted(
        (b for b in view.buildings if b.figures.overdue_now.total), key=lambda b: -b.figures.overdue_now.total
    )
    if late and len(view.buildings) > 1:
        names = ", ".join(f"{b.name} ({b.figures.overdue_now.total})" for b in late[:MOST_OVERDUE])
        text += "\n" + t("stats.most_overdue", buildings=names)
    return text


def chart_text(t: Translator, view: StatsView) -> ChartText:
    trend = view.trend

    def series(key: str, values: list[Rate]) -> TrendSeries:
        latest = values[-1].value if values else None
        label = t(key, value=_pct(latest) if latest is not None else "—")
        return TrendSeries(label, tuple(v.value for v in values))

    return ChartText(
        title=t("stats.chart_title", title=view.viewer.title, month=period_label(view.figures.period, t.lang)),
        months=tuple(_short_month(p.month, t.lang) for p in trend),
        series=(
            series("stats.chart_response", [p.response for p in trend]),
            series("stats.chart_resolution", [p.resolution for p in trend]),
            series("stats.chart_satisfaction", [p.satisfaction for p in trend]),
        ),
        buildings_title=t("stats.chart_buildings"),
        page_label=t("stats.chart_page", page="{page}", pages="{pages}"),
    )


def building_bars(t: Translator, buildings: list[BuildingRow]) -> list[BuildingBar]:
    """Most appeals first (ties: most overdue, then by name)."""
    ordered = sorted(buildings, key=lambda b: (-b.figures.filed.total, -b.figures.overdue_now.total, b.name))
    return [
        BuildingBar(
            b.name,
            b.figures.filed.total,
            b.figures.overdue_now.total,
            t(
                "stats.chart_bar",
                filed=b.figures.filed.total,
                overdue=b.figures.overdue_now.total,
                response=_pct(b.figures.response.value) if b.figures.response.value is not None else "—",
            ),
        )
        for b in ordered
    ]


async def chart_images(t: Translator, view: StatsView, font: Path | None) -> list[bytes]:
    """The chart's PNG images, drawn in a worker thread (other chats' answers do not wait)."""
    return await asyncio.to_thread(
        stats_chart_pngs, chart_text(t, view), building_bars(t, view.buildings), find_font(font)
    )


async def report_file(t: Translator, data: ReportData, kind: str) -> tuple[bytes, str]:
    """(file bytes, file name) of the report, built in a worker thread."""
    month = data.figures.period.month or "period"
    if kind == "csv":
        return await asyncio.to_thread(csv_bytes, data, t), f"report-{month}.csv"
    return await asyncio.to_thread(xlsx_bytes, data, t), f"report-{month}.xlsx"
