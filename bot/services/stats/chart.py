"""The /stats and report chart (Pillow): the three rates as lines across the months, and a bar per
building (appeals filed in the month, the part still overdue now in red), drawn for a phone.

Pure drawing: every text arrives translated (``ChartText``). 1000 pixels wide like the election
chart; the first image has the rates panel and the first buildings, a long list of buildings goes
on in further images of :data:`BUILDINGS_PER_PAGE` rows (60 buildings: 4 images, the text as large
as for one), each well inside Telegram's photo limits. Fonts: :class:`bot.fonts.Writer` (CJK included)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw

from bot.fonts import Writer, find_font

WIDTH = 1000
MARGIN = 40
BUILDINGS_PER_PAGE = 16
FIRST_PAGE_BUILDINGS = 10  # the first image also has the rates panel: every image under 2560 pixels
TITLE_PX, LABEL_PX, SMALL_PX = 52, 36, 30
BACKGROUND = (255, 255, 255)
INK = (25, 30, 40)
MUTED = (96, 104, 118)
GRID = (226, 230, 238)
BAR = (52, 110, 210)
OVERDUE = (214, 60, 50)
LINES = ((52, 110, 210), (30, 150, 90), (214, 150, 10))  # response, resolution, satisfaction
PANEL_H = 640


@dataclass(frozen=True)
class TrendSeries:
    label: str  # 'Response rate'
    values: tuple[float | None, ...]  # 0..1 per month, None: nothing counted that month


@dataclass(frozen=True)
class BuildingBar:
    label: str
    filed: int
    overdue: int
    text: str  # '12 filed · 2 overdue · 83 %'


@dataclass(frozen=True)
class ChartText:
    title: str
    months: tuple[str, ...]  # x-axis labels, oldest first
    series: tuple[TrendSeries, ...]
    buildings_title: str
    page_label: str = "{page}/{pages}"  # '{page} of {pages}' in the reader's language


def stats_chart_pngs(text: ChartText, bars: Sequence[BuildingBar], font: str | None = None) -> list[bytes]:
    """The chart as one or more PNG images (the first with the rates panel)."""
    path = font or find_font()
    w = {
        "title": Writer(path, TITLE_PX, bold=True),
        "label": Writer(path, LABEL_PX),
        "bold": Writer(path, LABEL_PX, bold=True),
        "small": Writer(path, SMALL_PX),
    }
    first, rest = list(bars[:FIRST_PAGE_BUILDINGS]), list(bars[FIRST_PAGE_BUILDINGS:])
    pages = [first] + [rest[i : i + BUILDINGS_PER_PAGE] for i in range(0, len(rest), BUILDINGS_PER_PAGE)]
    top = max([b.filed for b in bars] + [1])
    out = []
    for index, rows in enumerate(pages):
        out.append(_page(text, rows, w, top, index, len(pages)))
    return out


def _page(text: ChartText, rows: list[BuildingBar], w: dict[str, Writer], top: int, index: int, pages: int) -> bytes:
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    title = text.title if pages == 1 else f"{text.title} ({text.page_label.format(page=index + 1, pages=pages)})"
    title_lines = w["title"].wrap(probe, title, WIDTH - 2 * MARGIN, 3)
    row_h = LABEL_PX + 12 + 44 + 6 + 14 + 22
    height = MARGIN + 64 * len(title_lines) + 20
    if index == 0:
        height += PANEL_H + 40
    height += 60 + row_h * max(len(rows), 1) + MARGIN
    image = Image.new("RGB", (WIDTH, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    y = MARGIN
    for line in title_lines:
        w["title"].draw(draw, (MARGIN, y), line, INK)
        y += 64
    y += 10
    if index == 0:
        y = _trend(draw, w, text, y) + 30
    w["bold"].draw(draw, (MARGIN, y), text.buildings_title, INK)
    y += 60
    span = WIDTH - 2 * MARGIN
    for bar in rows:
        label = w["label"].fit(draw, bar.label or "—", span)
        w["label"].draw(draw, (MARGIN, y), label, INK)
        y += LABEL_PX + 12
        draw.rectangle((MARGIN, y, MARGIN + span, y + 44), fill=GRID)
        length = int(span * bar.filed / top)
        if length:
            draw.rectangle((MARGIN, y, MARGIN + length, y + 44), fill=BAR)
        value = w["small"].fit(draw, bar.text, span - 16)
        text_w = w["small"].width(draw, value)
        if text_w + 20 <= length:  # inside the bar, white
            w["small"].draw(draw, (MARGIN + 10, y + 5), value, (255, 255, 255))
        else:  # after the bar (or from the start, over the grey track, when it is too long for both)
            x = MARGIN + length + 12 if length + 12 + text_w <= span else MARGIN + 10
            w["small"].draw(draw, (x, y + 5), value, INK)
        y += 44 + 6
        late = int(span * min(bar.overdue, top) / top)
        if bar.overdue:  # overdue now: a thin red bar on the same scale (at least a visible stub)
            draw.rectangle((MARGIN, y, MARGIN + max(late, 12), y + 14), fill=OVERDUE)
        y += 14 + 22
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _trend(draw: ImageDraw.ImageDraw, w: dict[str, Writer], text: ChartText, y: int) -> int:
    """The rates panel: 0-100 % grid, one line with dots per rate, a legend; returns the bottom y."""
    left, right = MARGIN + 90, WIDTH - MARGIN - 10
    legend_h = 48 * len(text.series)
    top, bottom = y + 10, y + PANEL_H - 70 - legend_h
    for pct in (0, 25, 50, 75, 100):
        gy = bottom - (bottom - top) * pct / 100
        draw.line((left, gy, right, gy), fill=GRID, width=2)
        if pct % 50 == 0:
            w["small"].draw(draw, (MARGIN, gy - SMALL_PX / 2 - 2), f"{pct}%", MUTED)
    count = len(text.months)
    step = (right - left) / max(count - 1, 1)

    def x_of(i: int) -> float:
        return left + step * i if count > 1 else (left + right) / 2

    every = max(1, (count + 5) // 6)  # at most 6 month labels: legible on a phone
    for i, month in enumerate(text.months):
        if i % every == 0 or i == count - 1:
            label_w = w["small"].width(draw, month)
            w["small"].draw(
                draw, (min(max(x_of(i) - label_w / 2, left - 40), right - label_w), bottom + 12), month, MUTED
            )
    for s_index, series in enumerate(text.series):
        colour = LINES[s_index % len(LINES)]
        points = [(x_of(i), bottom - (bottom - top) * v) for i, v in enumerate(series.values) if v is not None]
        run: list[tuple[float, float]] = []
        for i, v in enumerate(series.values):  # a month without a rate breaks the line
            if v is None:
                if len(run) > 1:
                    draw.line(run, fill=colour, width=6)
                run = []
            else:
                run.append((x_of(i), bottom - (bottom - top) * v))
        if len(run) > 1:
            draw.line(run, fill=colour, width=6)
        for px, py in points:
            draw.ellipse((px - 9, py - 9, px + 9, py + 9), fill=colour)
    ly = bottom + 12 + SMALL_PX + 24
    for s_index, series in enumerate(text.series):
        colour = LINES[s_index % len(LINES)]
        draw.rectangle((MARGIN, ly + 8, MARGIN + 40, ly + 26), fill=colour)
        w["label"].draw(draw, (MARGIN + 56, ly - 4), w["label"].fit(draw, series.label, WIDTH - 2 * MARGIN - 60), INK)
        ly += 48
    return ly
