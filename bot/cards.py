"""Images: the unit head's electronic ID card, the perk code a head shows at the shop, and plain QR
codes (PNG bytes).

No Telegram and no catalogs here: the handlers pass in translated texts and a deep link and send the
bytes. Text is drawn with :class:`bot.fonts.Writer` (the configured ``UNITBOT_CARD_FONT``, else a
system CJK font, else DejaVu Sans with a warning in the log), wrapped rather than cut.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import segno
from PIL import Image, ImageDraw

from bot.fonts import MONO_FONTS, Writer, loadable

WIDTH = 1000
BACKGROUND = (246, 248, 252)
BAND = (30, 90, 160)
INK = (25, 30, 40)
MUTED = (85, 95, 110)
ACCENT = (170, 60, 20)
CODE_BOX = (255, 255, 255)
RULE = (210, 218, 230)
WHITE = (255, 255, 255)
Canvas = ImageDraw.ImageDraw


def qr_png(content: str, *, scale: int = 8, border: int = 4) -> bytes:
    """A QR code of ``content`` as PNG bytes."""
    buf = io.BytesIO()
    segno.make(content, error="m", micro=False).save(buf, kind="png", scale=scale, border=border)
    return buf.getvalue()


def _qr_image(content: str, size: int) -> Image.Image:
    qr = Image.open(io.BytesIO(qr_png(content, scale=10, border=2))).convert("RGB")
    return qr.resize((size, size), Image.Resampling.NEAREST)


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")  # optimize=True is 4x slower for 4% smaller files
    return buf.getvalue()


def _probe() -> Canvas:
    return ImageDraw.Draw(Image.new("RGB", (1, 1)))


# --- the ID card ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CardFace:
    """What an ID card shows (already translated)."""

    title: str  # 'Unit head ID card'
    holder: str
    roles: tuple[str, ...]  # one line per post: 'Unit head · Building 7, unit 1'
    community: str
    valid_until: str  # 'Valid until 20 Feb 2027'
    footer: str  # 'Scan to check it is genuine and current'
    link: str  # what the QR opens
    number: str = ""  # 'Card No. 4821 0937'
    issued: str = ""  # 'Issued 3 Dec 2026'


def render_card(face: CardFace, font_path: str | None = None) -> bytes:
    """The ID card as PNG bytes (1000 wide, about 680 high; taller only for long names and many posts):
    a band with the title; the holder, their posts, the community, the card number, issue date and
    valid-until; the QR with the verification link on the right."""
    title, name = Writer(font_path, 44, bold=True), Writer(font_path, 58, bold=True)
    text, small = Writer(font_path, 34), Writer(font_path, 30)
    probe = _probe()
    qr_size, band, pad = 330, 110, 40
    qr_left = WIDTH - qr_size - pad
    column = qr_left - pad - 40
    holder = name.wrap(probe, face.holder, column, 2)
    roles = [line for role in face.roles[:4] for line in text.wrap(probe, role, column, 2)]
    community = text.wrap(probe, face.community, column, 2)
    extra = [line for line in (face.number, face.issued) if line]
    footer = small.wrap(probe, face.footer, WIDTH - 2 * pad, 2)
    body = 72 * len(holder) + 48 * len(roles) + 14 + 46 * len(community) + 12 + 44 * len(extra) + 52
    footer_h = 24 + 40 * len(footer)
    height = band + 30 + max(body, qr_size + 20) + footer_h

    image = Image.new("RGB", (WIDTH, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH, band), fill=BAND)
    title.draw(draw, (pad, (band - 54) / 2), title.fit(draw, face.title, WIDTH - 2 * pad), WHITE)
    image.paste(_qr_image(face.link, qr_size), (qr_left, band + 30))

    y = band + 26
    for line in holder:
        name.draw(draw, (pad, y), line, INK)
        y += 72
    for line in roles:
        text.draw(draw, (pad, y), line, INK)
        y += 48
    y += 14
    for line in community:
        text.draw(draw, (pad, y), line, MUTED)
        y += 46
    y += 12
    for line in extra:
        small.draw(draw, (pad, y), small.fit(draw, line, column), MUTED)
        y += 44
    text.draw(draw, (pad, y), text.fit(draw, face.valid_until, column), BAND)

    top = height - footer_h
    draw.rectangle((0, top, WIDTH, height), fill=(228, 234, 244))
    for i, line in enumerate(footer):
        small.draw(draw, (pad, top + 14 + 40 * i), line, MUTED)
    return _png(image)


# --- the perk code ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class CodeFace:
    """What a perk code image shows (already translated)."""

    heading: str  # 'Perk code'
    code: str  # 'ABCDE-FGHJK'
    perk: str  # the perk's title
    shop: str  # 'At: Mo's Cafe'
    expires: str  # 'Valid until Thu 3 Dec, 12:00'
    footer: str  # 'The shop scans the QR code, or types the code with /check.'
    link: str  # what the QR opens (the merchant's check)
    address: str = ""  # 'Address: 5 Garden Road' ('' when the perk has none)


def _code_writer(font_path: str | None, size: int) -> Writer:
    """A monospaced bold font for the code (DejaVu Sans Mono Bold), else the text font."""
    mono = next((p for p in MONO_FONTS if loadable(p)), None)
    return Writer(mono, size, bold=False) if mono else Writer(font_path, size, bold=True)


def _code_layout(draw: Canvas, font_path: str | None, groups: list[str], width: int) -> tuple[Writer, int, float]:
    """The largest code font (at most 128 px) at which the groups and the gaps between them fit
    ``width``: the code is never cut. Returns the writer, the gap and the total width."""
    size = 128
    while True:
        code = _code_writer(font_path, size)
        gap = size // 2
        total = sum(code.width(draw, g) for g in groups) + gap * (len(groups) - 1)
        if total <= width or size <= 24:
            return code, gap, total
        size -= 8


def render_code(face: CodeFace, font_path: str | None = None) -> bytes:
    """The perk code as PNG bytes (1000 wide, portrait): the code in big letters in its two groups,
    the perk, the shop (and address), the expiry time, and the QR the merchant scans."""
    heading, perk = Writer(font_path, 52, bold=True), Writer(font_path, 60, bold=True)
    text, strong = Writer(font_path, 46), Writer(font_path, 48, bold=True)
    small = Writer(font_path, 34)
    probe = _probe()
    pad, band, qr_size = 50, 110, 460
    inner = WIDTH - 2 * pad
    groups = [g for g in face.code.split("-") if g]  # 'ABCDE FGHJK': two groups, read aloud in two breaths
    code, gap, code_width = _code_layout(probe, font_path, groups, inner - 60)
    perk_lines = perk.wrap(probe, face.perk, inner, 3)
    shop_lines = text.wrap(probe, face.shop, inner, 2)
    address_lines = text.wrap(probe, face.address, inner, 2) if face.address else []
    expiry_lines = strong.wrap(probe, face.expires, inner, 2)
    footer_lines = small.wrap(probe, face.footer, inner, 3)
    code_box = 200
    height = (
        band
        + 40
        + code_box
        + 40
        + 74 * len(perk_lines)
        + 16
        + 60 * (len(shop_lines) + len(address_lines))
        + 10
        + 62 * len(expiry_lines)
        + 30
        + qr_size
        + 20
        + 44 * len(footer_lines)
        + pad
    )

    image = Image.new("RGB", (WIDTH, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH, band), fill=BAND)
    heading.draw(draw, (pad, (band - 62) / 2), heading.fit(draw, face.heading, inner), WHITE)

    y = band + 40
    draw.rounded_rectangle((pad, y, WIDTH - pad, y + code_box), radius=24, fill=CODE_BOX, outline=RULE, width=4)
    x = (WIDTH - code_width) / 2
    for group in groups:
        x = code.draw(draw, (x, y + (code_box - code.size * 1.17) / 2), group, INK) + gap
    y += code_box + 40
    for line in perk_lines:
        perk.draw(draw, (pad, y), line, INK)
        y += 74
    y += 16
    for line in [*shop_lines, *address_lines]:
        text.draw(draw, (pad, y), line, MUTED)
        y += 60
    y += 10
    for line in expiry_lines:
        strong.draw(draw, (pad, y), line, ACCENT)
        y += 62
    y += 30
    image.paste(_qr_image(face.link, qr_size), ((WIDTH - qr_size) // 2, y))
    y += qr_size + 20
    for line in footer_lines:
        lw = small.width(draw, line)
        small.draw(draw, ((WIDTH - lw) / 2, y), line, MUTED)
        y += 44
    return _png(image)
