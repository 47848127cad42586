"""Fonts and text layout for the images (the ID card and the perk code in :mod:`bot.cards`, the
result charts in :mod:`bot.charts`).

Chinese names need a font with CJK glyphs: :func:`find_font` takes a configured file (the card's
``UNITBOT_CARD_FONT``) if it exists, else a common system CJK font, else DejaVu Sans (Latin and
Cyrillic only: CJK shows as boxes) with a warning in the log, else Pillow's built-in bitmap font. The
system font is looked up once per process.

Pillow draws a whole string with one font, and a font without a glyph draws its ".notdef" box
("tofu"). :class:`Writer` therefore draws each run of characters with the first font of a chain that
has them (the chosen font, then DejaVu Sans), drops characters no font has (emoji in a name), and wraps
long texts at spaces, or between any two CJK characters, instead of cutting them.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterator
from functools import cache, lru_cache
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
MONO_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Bold.ttf")
CJK_SAMPLE = "票单元楼"  # characters every CJK font has: the test of "this font draws Chinese"
_PROBE_LOCK = threading.Lock()
_MISSING = "\U0010fffd"  # a private-use code point no font draws: its mask is the .notdef box

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
Ink = tuple[int, int, int]


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
        if loadable(path):
            log.warning(
                "no CJK font found (set UNITBOT_CARD_FONT or install fonts-wqy-microhei): "
                "Chinese names on ID cards and charts show as boxes"
            )
            return path
    log.warning("no TrueType font found: ID cards and charts use Pillow's bitmap font")
    return None


@cache
def loadable(path: str) -> bool:
    try:
        ImageFont.truetype(path, 12)
    except OSError:
        return False
    return True


@cache
def _probe_font(path: str) -> tuple[ImageFont.FreeTypeFont, tuple[tuple[int, int], bytes]]:
    """The font at a small size, and its .notdef box (the mask of a code point no font has)."""
    font = ImageFont.truetype(path, 24)
    missing = font.getmask(_MISSING)
    return font, (missing.size, bytes(missing))


@lru_cache(maxsize=1 << 16)
def has_glyph(path: str, char: str) -> bool:
    """Whether the font at ``path`` draws ``char`` (rather than its .notdef box)."""
    if char.isspace():
        return True
    with _PROBE_LOCK:  # images are drawn in worker threads; one FreeType face is not for two at once
        font, missing = _probe_font(path)
        mask = font.getmask(char)
        return (mask.size, bytes(mask)) != missing


def draws_chinese(path: str | None) -> bool:
    """Whether Chinese text drawn with this font is readable (not boxes)."""
    return path is not None and all(has_glyph(path, c) for c in CJK_SAMPLE)


def _is_cjk(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


class Writer:
    """Draws text in one size with a chain of fonts (per character: the first that has it)."""

    def __init__(self, path: str | None, size: int, *, bold: bool = False) -> None:
        self.size = size
        self.stroke = max(1, size // 40) if bold else 0
        chain = [path] if path is not None else []
        chain += [p for p in FALLBACK_FONTS if p not in chain and loadable(p)][:1]
        self._paths = chain
        self._fonts: list[Font] = [ImageFont.truetype(p, size) for p in chain]  # per drawing: threads
        if not self._fonts:
            self._fonts = [ImageFont.load_default(size)]

    def _font_for(self, char: str) -> Font | None:
        if not self._paths:
            return self._fonts[0]
        for path, font in zip(self._paths, self._fonts, strict=True):
            if has_glyph(path, char):
                return font
        return None  # no font draws it: left out rather than drawn as a box

    def runs(self, text: str) -> Iterator[tuple[Font, str]]:
        """``text`` as (font, characters) runs; characters no font has are left out."""
        current: Font | None = None
        chunk = ""
        for char in text:
            font = self._font_for(char)
            if font is None:
                continue
            if font is not current and chunk:
                assert current is not None
                yield current, chunk
                chunk = ""
            current = font
            chunk += char
        if chunk and current is not None:
            yield current, chunk

    def width(self, draw: ImageDraw.ImageDraw, text: str) -> float:
        return sum(draw.textlength(chunk, font=font) for font, chunk in self.runs(text)) + 2 * self.stroke

    def draw(self, draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, fill: Ink) -> float:
        """Draw ``text`` with its top-left at ``xy``; returns the x where it ends."""
        x, y = xy
        for font, chunk in self.runs(text):
            draw.text((x, y), chunk, font=font, fill=fill, stroke_width=self.stroke, stroke_fill=fill)
            x += draw.textlength(chunk, font=font)
        return x + 2 * self.stroke

    def wrap(self, draw: ImageDraw.ImageDraw, text: str, width: float, max_lines: int = 4) -> list[str]:
        """``text`` in lines of at most ``width`` pixels: broken at spaces, between CJK characters,
        or (a word wider than a line) anywhere; only past ``max_lines`` is the last line cut with "…"."""
        lines: list[str] = []
        for paragraph in text.splitlines() or [""]:
            anywhere = self._wrap_paragraph(draw, paragraph, width, _pieces(paragraph))
            at_spaces = self._wrap_paragraph(draw, paragraph, width, _words(paragraph))
            fits = all(self.width(draw, line) <= width for line in at_spaces)
            # mixed text ('Best head 2026-12 — 幸福里3号楼') breaks at its spaces when that costs no extra line
            lines.extend(at_spaces if fits and len(at_spaces) <= len(anywhere) else anywhere)
        if len(lines) > max_lines:
            lines = lines[:max_lines]
            lines[-1] = self.fit(draw, lines[-1] + "…", width)
        return lines or [""]

    def _wrap_paragraph(self, draw: ImageDraw.ImageDraw, text: str, width: float, pieces: Iterator[str]) -> list[str]:
        lines: list[str] = []
        line = ""
        for piece in pieces:
            candidate = line + piece
            if self.width(draw, candidate.rstrip()) <= width:
                line = candidate
                continue
            if line.strip():
                lines.append(line.rstrip())
            line = piece.lstrip()
            while self.width(draw, line.rstrip()) > width and len(line) > 1:  # one word wider than a line
                cut = len(line) - 1
                while cut > 1 and self.width(draw, line[:cut]) > width:
                    cut -= 1
                lines.append(line[:cut])
                line = line[cut:]
        if line.strip():
            lines.append(line.rstrip())
        return lines

    def fit(self, draw: ImageDraw.ImageDraw, text: str, width: float) -> str:
        """``text`` cut with an ellipsis so that it fits ``width`` pixels (for one-line labels)."""
        if self.width(draw, text) <= width:
            return text
        while text and self.width(draw, text.rstrip("…") + "…") > width:
            text = text.rstrip("…")[:-1]
        return text.rstrip("…") + "…"


def _words(text: str) -> Iterator[str]:
    """Words with the spaces after them (CJK runs kept whole)."""
    for match in re.finditer(r"\S+\s*|\s+", text):
        yield match.group(0)


def _pieces(text: str) -> Iterator[str]:
    """Units that stay on one line: a word with the spaces after it, or one CJK character (with any
    closing punctuation that must not start a line)."""
    piece = ""
    for char in text:
        if _is_cjk(char):
            if piece and not _closing(char):
                yield piece
                piece = ""
            piece += char
            continue
        if piece and (_is_cjk(piece[-1]) and not char.isspace() and not _closing(char)):
            yield piece
            piece = ""
        piece += char
        if char.isspace():
            yield piece
            piece = ""
    if piece:
        yield piece


def _closing(char: str) -> bool:
    return char in "，。、；：！？）」』】〉》,.;:!?)…—" or unicodedata.category(char) in ("Pe", "Pf")
