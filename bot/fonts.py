"""Fonts for the images (the ID card in :mod:`bot.cards`, the result charts in :mod:`bot.charts`).

Chinese names need a font with CJK glyphs: :func:`find_font` takes a configured file (the card's
``UNITBOT_CARD_FONT``) if it exists, else a common system CJK font, else DejaVu Sans (Latin and
Cyrillic only: CJK shows as boxes) with a warning in the log, else Pillow's built-in bitmap font. The
system font is looked up once per process.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

from PIL import ImageDraw, ImageFont

log = logging.getLogger(__name__)

CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/System/Library/Fonts/PingFang.ttc",
)
FALLBACK_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "DejaVuSans.ttf")

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@cache
def find_font(configured: Path | None = None) -> str | None:
    """The font file to draw with; None: Pillow's built-in bitmap font (last resort)."""
    if configured is not None:
        if configured.is_file():
            return str(configured)
        log.warning("card font %s not found; looking for a system font", configured)
    return _system_font()


@cache
def _system_font() -> str | None:
    for path in CJK_FONTS:
        if Path(path).is_file():
            return path
    for path in FALLBACK_FONTS:
        try:
            ImageFont.truetype(path, 12)
        except OSError:
            continue
        log.warning("no CJK font found (set UNITBOT_CARD_FONT): Chinese names on ID cards and charts show as boxes")
        return path
    log.warning("no TrueType font found: ID cards and charts use Pillow's bitmap font")
    return None


def load_font(path: str | None, size: int) -> Font:
    """The font at ``path`` (None: Pillow's built-in one) in ``size`` pixels."""
    if path is None:
        return ImageFont.load_default()
    return ImageFont.truetype(path, size)


def fit_text(draw: ImageDraw.ImageDraw, text: str, font: Font, width: int) -> str:
    """``text`` cut with an ellipsis so that it fits ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"
