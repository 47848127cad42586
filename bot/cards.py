"""Images: the unit head's electronic ID card and the QR code of a redemption code (PNG bytes).

No Telegram here: the handlers pass in translated texts and a deep link and send the bytes. The card
needs a font with CJK glyphs for Chinese names; :func:`bot.fonts.find_font` takes the configured one
(``UNITBOT_CARD_FONT``), else a common system CJK font, else DejaVu Sans (Latin and Cyrillic only) with
a warning in the log.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import segno
from PIL import Image, ImageDraw

from bot.fonts import fit_text, load_font

WIDTH, HEIGHT = 1000, 620
BACKGROUND = (246, 248, 252)
BAND = (30, 90, 160)
INK = (25, 30, 40)
MUTED = (95, 105, 120)
INVALID = (180, 40, 40)


def qr_png(content: str, *, scale: int = 8, border: int = 4) -> bytes:
    """A QR code of ``content`` as PNG bytes."""
    buf = io.BytesIO()
    segno.make(content, error="m", micro=False).save(buf, kind="png", scale=scale, border=border)
    return buf.getvalue()


def _qr_image(content: str, size: int) -> Image.Image:
    qr = Image.open(io.BytesIO(qr_png(content, scale=10, border=2))).convert("RGB")
    return qr.resize((size, size), Image.Resampling.NEAREST)


@dataclass(frozen=True)
class CardFace:
    """What an ID card shows (already translated)."""

    title: str  # 'Unit head ID card'
    holder: str
    roles: tuple[str, ...]  # one line per post: 'Unit head · Building 7, unit 1'
    community: str
    valid_until: str  # 'Valid until 2027-02-20'
    footer: str  # 'Scan to check it is genuine and current'
    link: str  # what the QR opens


def render_card(face: CardFace, font_path: str | None = None) -> bytes:
    """The ID card as PNG bytes (1000×620): band with the title, the holder, their posts, the
    community, valid-until, and a QR with the verification link."""
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    title_font = load_font(font_path, 40)
    name_font = load_font(font_path, 54)
    text_font = load_font(font_path, 30)
    small_font = load_font(font_path, 24)

    draw.rectangle((0, 0, WIDTH, 100), fill=BAND)
    draw.text((40, 28), fit_text(draw, face.title, title_font, WIDTH - 80), font=title_font, fill=(255, 255, 255))

    qr_size = 330
    qr_left = WIDTH - qr_size - 40
    image.paste(_qr_image(face.link, qr_size), (qr_left, 140))
    column = qr_left - 80

    y = 140
    draw.text((40, y), fit_text(draw, face.holder, name_font, column), font=name_font, fill=INK)
    y += 80
    for line in face.roles[:4]:
        draw.text((40, y), fit_text(draw, line, text_font, column), font=text_font, fill=INK)
        y += 44
    y += 10
    draw.text((40, y), fit_text(draw, face.community, text_font, column), font=text_font, fill=MUTED)
    y += 56
    draw.text((40, y), fit_text(draw, face.valid_until, text_font, column), font=text_font, fill=BAND)

    draw.rectangle((0, HEIGHT - 60, WIDTH, HEIGHT), fill=(228, 234, 244))
    draw.text((40, HEIGHT - 46), fit_text(draw, face.footer, small_font, WIDTH - 80), font=small_font, fill=MUTED)

    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return buf.getvalue()
