"""Bar charts as PNG images (Pillow), for election results, drawn to be read on a phone. No Telegram
and no catalogs here: the outbox renders a chart spec at send time (``handlers.common.chart_pages``
translates it into :class:`Bar` rows and captions) and ``/results`` renders one on demand.

One row per candidate, best first: a rank badge (gold for first place), the name (wrapped, never cut),
the unit written out ("Unit 3 · Building 7", so it cannot be taken for a count), and a bar with the
count written on it in the reader's language ("12 votes"). The text is about twice the size of the
first charts' (relative to the width, which is what a phone scales), and a chart of many candidates
is several images (:data:`PAGE_ROWS` rows each, see ``handlers.common``), each well inside
Telegram's photo limits (width + height <= 10000, ratio <= 20) and short enough to be shown without
shrinking (Telegram keeps photos up to 2560 pixels on the long side).

Fonts: :class:`bot.fonts.Writer` (the configured or a system CJK font, DejaVu Sans for what it lacks).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw

from bot.fonts import Writer, find_font

PAGE_ROWS = 9  # candidates per image (about 2400 pixels high: Telegram keeps 2560)
WIDTH = 1000
MARGIN = 40
BADGE = 72  # rank badge diameter
INDENT = MARGIN + BADGE + 24  # where names and bars start
TITLE_PX, NAME_PX, DETAIL_PX, VALUE_PX = 68, 52, 50, 50
TITLE_LINE, NAME_LINE, DETAIL_LINE = 84, 64, 60
BAR_H, ROW_GAP = 64, 34
MAX_TITLE_LINES, MAX_NAME_LINES = 3, 4
BACKGROUND = (255, 255, 255)
INK = (25, 30, 40)
MUTED = (90, 98, 112)
BAR = (52, 110, 210)
GOLD = (214, 150, 10)
TRACK = (232, 236, 242)
WHITE = (255, 255, 255)


@dataclass(frozen=True)
class Bar:
    """One candidate's row, already in the reader's language."""

    label: str  # the name
    value: int
    value_text: str = ""  # '12 votes' (default: the bare number)
    detail: str = ""  # 'Unit 3 · Building 7'
    rank: int | None = None
    scale: int | None = None  # the largest value of the whole chart (several images share one scale)

    @property
    def highlight(self) -> bool:
        return self.rank == 1


def _int(value: object) -> int:
    try:
        return int(value) if isinstance(value, int | float | str) else 0
    except ValueError:
        return 0


def bars_from_spec(items: Sequence[Mapping[str, object]]) -> list[Bar]:
    """Rows translated by ``handlers.common.chart_pages`` (label, value, value_text, detail, rank, scale)."""
    bars = []
    for item in items:
        value = _int(item.get("value", item.get("votes", 0)))
        rank = item.get("rank")
        scale = item.get("scale")
        bars.append(
            Bar(
                label=str(item.get("label", "")),
                value=value,
                value_text=str(item.get("value_text") or value),
                detail=str(item.get("detail") or ""),
                rank=_int(rank) if rank is not None else None,
                scale=_int(scale) if scale is not None else None,
            )
        )
    return bars


@dataclass
class _Layout:
    title: list[str]
    rows: list[tuple[Bar, list[str]]]
    height: int


def _layout(draw: ImageDraw.ImageDraw, title: str, bars: Sequence[Bar], w: dict[str, Writer]) -> _Layout:
    title_lines = w["title"].wrap(draw, title, WIDTH - 2 * MARGIN, MAX_TITLE_LINES)
    height = MARGIN + TITLE_LINE * len(title_lines) + 30
    rows = []
    for bar in bars:
        names = w["name"].wrap(draw, bar.label or "—", WIDTH - INDENT - MARGIN, MAX_NAME_LINES)
        rows.append((bar, names))
        height += NAME_LINE * len(names) + (DETAIL_LINE if bar.detail else 0) + 8 + BAR_H + ROW_GAP
    return _Layout(title_lines, rows, height + MARGIN - ROW_GAP + 10)


def bar_chart_png(title: str, bars: Sequence[Bar], font: str | None = None) -> bytes:
    """A chart of ``bars`` (in the order given) as PNG bytes; ``font``: a font file (default:
    :func:`bot.fonts.find_font`). The height follows the rows (names may take several lines)."""
    path = font or find_font()
    w = {
        "title": Writer(path, TITLE_PX, bold=True),
        "name": Writer(path, NAME_PX),
        "detail": Writer(path, DETAIL_PX),
        "value": Writer(path, VALUE_PX, bold=True),
        **{f"rank{digits}": Writer(path, size, bold=True) for digits, size in ((1, 42), (2, 38), (3, 28))},
    }
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    layout = _layout(probe, title, bars, w)
    image = Image.new("RGB", (WIDTH, max(layout.height, 200)), BACKGROUND)
    draw = ImageDraw.Draw(image)
    y = MARGIN
    for line in layout.title:
        w["title"].draw(draw, (MARGIN, y), line, INK)
        y += TITLE_LINE
    y += 8
    draw.rectangle((MARGIN, y, WIDTH - MARGIN, y + 3), fill=TRACK)
    y += 22
    top = max([b.scale or 0 for b in bars] + [b.value for b in bars] + [1])
    span = WIDTH - INDENT - MARGIN
    for bar, names in layout.rows:
        y = _row(draw, w, bar, names, y, top, span)
    buf = io.BytesIO()
    image.save(buf, format="PNG")  # optimize=True is 4x slower for 4% smaller files
    return buf.getvalue()


def _row(
    draw: ImageDraw.ImageDraw, w: dict[str, Writer], bar: Bar, names: list[str], y: int, top: int, span: int
) -> int:
    colour = GOLD if bar.highlight else BAR
    if bar.rank is not None:
        draw.ellipse((MARGIN, y - 2, MARGIN + BADGE, y - 2 + BADGE), fill=colour)
        rank = str(bar.rank)
        writer = w[f"rank{min(len(rank), 3)}"]
        rw = writer.width(draw, rank)
        writer.draw(draw, (MARGIN + (BADGE - rw) / 2, y - 2 + (BADGE - writer.size * 1.15) / 2), rank, WHITE)
    for line in names:
        w["name"].draw(draw, (INDENT, y), line, INK)
        y += NAME_LINE
    if bar.detail:
        w["detail"].draw(draw, (INDENT, y), w["detail"].fit(draw, bar.detail, span), MUTED)
        y += DETAIL_LINE
    y += 8
    draw.rounded_rectangle((INDENT, y, INDENT + span, y + BAR_H), radius=10, fill=TRACK)
    length = round(span * max(bar.value, 0) / top)
    if length:
        draw.rounded_rectangle((INDENT, y, INDENT + max(length, 20), y + BAR_H), radius=10, fill=colour)
    text = bar.value_text
    tw = w["value"].width(draw, text)
    ty = y + (BAR_H - VALUE_PX) / 2 - 4
    if length >= tw + 40:  # on the bar
        w["value"].draw(draw, (INDENT + 20, ty), text, WHITE)
    else:  # after the bar, on the empty track
        w["value"].draw(draw, (INDENT + max(length, 0) + 20, ty), text, INK)
    return y + BAR_H + ROW_GAP


def chart_png(title: str, items: Sequence[Mapping[str, object]], font: str | None = None) -> bytes:
    return bar_chart_png(title, bars_from_spec(items), font)
