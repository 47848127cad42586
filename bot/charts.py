"""Bar charts as PNG images (Pillow), for election results. No Telegram here: the outbox renders a
chart spec at send time (``handlers.delivery``) and ``/results`` renders one on demand.

Fonts: a CJK TrueType font when one is installed (Chinese names must not show as boxes), else DejaVu,
else Pillow's built-in font (:func:`bot.fonts.find_font`, chosen once per process).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw

from bot.fonts import find_font, fit_text, load_font

MAX_BARS = 10
WIDTH = 900
ROW = 54
TOP = 86
BOTTOM = 28
LABEL_W = 380
BACKGROUND = (255, 255, 255)
INK = (30, 35, 45)
MUTED = (110, 118, 130)
BAR = (66, 133, 244)
GOLD = (230, 170, 30)


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    highlight: bool = False


def bars_from_spec(items: Sequence[Mapping[str, object]]) -> list[Bar]:
    """The outbox's chart items (``bot.services.elections.chart``) as bars; rank 1 is highlighted."""
    bars = []
    for item in items[:MAX_BARS]:
        label = str(item.get("label", ""))
        unit = item.get("unit")
        if unit:
            label = f"{label} ({unit})"
        value = item.get("votes", item.get("value", 0))
        bars.append(Bar(label, int(value) if isinstance(value, int | float | str) else 0, item.get("rank") == 1))
    return bars


def bar_chart_png(title: str, bars: Sequence[Bar], font: str | None = None) -> bytes:
    """A horizontal bar chart (best first, at most ``MAX_BARS``) as PNG bytes; ``font``: a font file
    (default: :func:`bot.fonts.find_font`)."""
    shown = list(bars[:MAX_BARS])
    height = TOP + ROW * max(1, len(shown)) + BOTTOM
    image = Image.new("RGB", (WIDTH, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    path = font or find_font()
    title_font, label_font = load_font(path, 30), load_font(path, 22)
    draw.text((24, 24), fit_text(draw, title, title_font, WIDTH - 48), fill=INK, font=title_font)
    top = max((b.value for b in shown), default=0)
    span = WIDTH - LABEL_W - 100
    for i, bar in enumerate(shown):
        y = TOP + i * ROW
        draw.text((24, y + 12), fit_text(draw, bar.label, label_font, LABEL_W - 40), fill=INK, font=label_font)
        length = round(span * bar.value / top) if top else 0
        x0 = LABEL_W
        if length:
            draw.rectangle((x0, y + 8, x0 + length, y + ROW - 10), fill=GOLD if bar.highlight else BAR)
        draw.text((x0 + length + 10, y + 12), str(bar.value), fill=MUTED, font=label_font)
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def chart_png(title: str, items: Sequence[Mapping[str, object]], font: str | None = None) -> bytes:
    return bar_chart_png(title, bars_from_spec(items), font)
