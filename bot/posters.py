"""Printable A4 sheets (PNG and PDF bytes): the building's poster for the stairwell door (issue 12,
一栏知晓 / 民意二维码) and the QR sheet of heads' personal invite links (issue 11).

Like :mod:`bot.cards`, no Telegram and no catalogs: the handlers pass translated texts and links.
Pages are 1240 x 1754 pixels, A4 at 150 dpi (the PDF says so, so it prints at A4 size). Text is
drawn with :class:`bot.fonts.Writer` (a CJK font when one is found, see :func:`bot.fonts.find_font`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageDraw

from bot.cards import ACCENT, BAND, INK, MUTED, RULE, WHITE, _qr_image
from bot.fonts import Writer

DPI = 150
PAGE = (1240, 1754)  # A4 at 150 dpi
MARGIN = 80
PAPER = (255, 255, 255)


@dataclass(frozen=True)
class PosterFace:
    """What a building's poster shows (already translated)."""

    title: str  # the building's name
    subtitle: str  # "Your heads: write to them through the bot"
    heads_heading: str
    building_head: str  # "Building head: Boris" (or "Building head: not yet chosen")
    unit_lines: tuple[str, ...]  # "Unit 1: Uma", one per unit
    how_heading: str
    how_lines: tuple[str, ...]  # the steps, one line each
    qr_caption: str  # "Scan to report a problem"
    link: str  # what the QR opens (the filing deep link for this building)
    code_line: str  # "Building code: K7M-4QX (type it in the bot)"
    footer: str
    font_note: str = ""  # why Chinese cannot be drawn, when no CJK font is there


@dataclass(frozen=True)
class InviteCell:
    """One head's invite on the QR sheet (already translated)."""

    person: str
    place: str  # "Building 7, unit 3" / "Building 7, building head"
    caption: str  # "Scan with your phone's camera, then press Start"
    link: str


def _pdf(pages: list[Image.Image]) -> bytes:
    buf = io.BytesIO()
    pages[0].save(buf, format="PDF", save_all=True, append_images=pages[1:], resolution=float(DPI))
    return buf.getvalue()


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", dpi=(DPI, DPI))
    return buf.getvalue()


def render_poster(face: PosterFace, font_path: str | None = None) -> tuple[bytes, bytes]:
    """The poster as (PNG, PDF) bytes, one A4 page."""
    page = Image.new("RGB", PAGE, PAPER)
    draw = ImageDraw.Draw(page)
    width = PAGE[0] - 2 * MARGIN
    # the band: the building's name and what the poster is for
    title = Writer(font_path, 88 if len(face.title) <= 24 else 68, bold=True)
    sub = Writer(font_path, 36)
    title_lines = title.wrap(draw, face.title, width, max_lines=2)
    sub_lines = sub.wrap(draw, face.subtitle, width, max_lines=2)
    title_step = title.size * 1.18
    band_height = 70 + len(title_lines) * title_step + len(sub_lines) * 48 + 40
    draw.rectangle((0, 0, PAGE[0], band_height), fill=BAND)
    y = 60.0
    for line in title_lines:
        title.draw(draw, (MARGIN, y), line, WHITE)
        y += title_step
    for line in sub_lines:
        sub.draw(draw, (MARGIN, y + 6), line, WHITE)
        y += 48
    y = band_height + 50
    # the heads: up to 15 rows a column, up to 4 columns (60 units, the most a building has)
    heading = Writer(font_path, 46, bold=True)
    heading.draw(draw, (MARGIN, y), face.heads_heading, ACCENT)
    y += 70
    lead = Writer(font_path, 40, bold=True)
    for line in lead.wrap(draw, face.building_head, width, max_lines=2):
        lead.draw(draw, (MARGIN, y), line, INK)
        y += 54
    y += 10
    count = len(face.unit_lines)
    columns = min(4, max(1, -(-count // 15)))
    size = {1: 36, 2: 30, 3: 24, 4: 21}[columns]
    unit_writer = Writer(font_path, size)
    per_column = -(-count // columns) if count else 0
    column_width = width / columns
    line_height = size * 1.4
    for index, line in enumerate(face.unit_lines):
        column, row = divmod(index, per_column) if per_column else (0, 0)
        text = unit_writer.fit(draw, line, column_width - 16)
        unit_writer.draw(draw, (MARGIN + column * column_width, y + row * line_height), text, INK)
    y += per_column * line_height + 24
    draw.line((MARGIN, y, PAGE[0] - MARGIN, y), fill=RULE, width=3)
    y += 36
    # how to reach them, beside the QR code, at the foot of the page
    footer_top = PAGE[1] - MARGIN - 30
    room = footer_top - y - 30
    caption = Writer(font_path, 32, bold=True)
    qr_size = int(max(300, min(460, room - 110)))
    text_width = width - qr_size - 50
    steps = Writer(font_path, 32 if room >= 560 else 26)
    code = Writer(font_path, 34 if room >= 560 else 28, bold=True)
    step_lines = [steps.wrap(draw, line, text_width, max_lines=3) for line in face.how_lines]
    code_lines = code.wrap(draw, face.code_line, text_width, max_lines=2)
    step_height = steps.size * 1.35
    text_height = (
        70 + sum(len(lines) * step_height + 12 for lines in step_lines) + len(code_lines) * code.size * 1.35 + 10
    )
    block = max(qr_size + 100, text_height)
    top = max(y, footer_top - 20 - block)
    page.paste(_qr_image(face.link, qr_size), (PAGE[0] - MARGIN - qr_size, int(top)))
    cy = top + qr_size + 12
    for line in caption.wrap(draw, face.qr_caption, qr_size, max_lines=2):
        cx = PAGE[0] - MARGIN - qr_size + (qr_size - caption.width(draw, line)) / 2
        caption.draw(draw, (cx, cy), line, INK)
        cy += caption.size * 1.3
    heading.draw(draw, (MARGIN, top), face.how_heading, ACCENT)
    sy = top + 70
    for lines in step_lines:
        for part in lines:
            steps.draw(draw, (MARGIN, sy), part, INK)
            sy += step_height
        sy += 12
    for part in code_lines:
        code.draw(draw, (MARGIN, sy + 10), part, INK)
        sy += code.size * 1.35
    small = Writer(font_path, 24)
    foot = face.footer if not face.font_note else f"{face.font_note} · {face.footer}"
    small.draw(draw, (MARGIN, footer_top), small.fit(draw, foot, width), MUTED)
    return _png(page), _pdf([page])


CELLS_X, CELLS_Y = 2, 4  # invites per page: 2 across, 4 down
CUT_LINE = (120, 120, 120)  # the cells' borders, where to cut (dark enough to stay in black and white)


def render_invite_sheet(cells: list[InviteCell], title: str, font_path: str | None = None) -> tuple[bytes, bytes]:
    """The heads' invite links as A4 pages of QR codes to cut apart: (PNG of the first page, PDF of all)."""
    per_page = CELLS_X * CELLS_Y
    pages: list[Image.Image] = []
    for start in range(0, max(len(cells), 1), per_page):
        page = Image.new("RGB", PAGE, PAPER)
        draw = ImageDraw.Draw(page)
        head = Writer(font_path, 34, bold=True)
        head.draw(draw, (MARGIN, 40), head.fit(draw, title, PAGE[0] - 2 * MARGIN), INK)
        top = 110
        cell_w = (PAGE[0] - 2 * MARGIN) / CELLS_X
        cell_h = (PAGE[1] - top - MARGIN) / CELLS_Y
        name = Writer(font_path, 30, bold=True)
        text = Writer(font_path, 22)
        tiny = Writer(font_path, 16)
        for index, cell in enumerate(cells[start : start + per_page]):
            row, column = divmod(index, CELLS_X)
            x0, y0 = MARGIN + column * cell_w, top + row * cell_h
            draw.rectangle((x0 + 6, y0 + 6, x0 + cell_w - 6, y0 + cell_h - 6), outline=CUT_LINE, width=2)
            qr = int(min(cell_h - 150, cell_w - 40, 250))
            page.paste(_qr_image(cell.link, qr), (int(x0 + (cell_w - qr) / 2), int(y0 + 16)))
            y = y0 + 20 + qr
            inner = cell_w - 40
            name.draw(draw, (x0 + 20, y), name.fit(draw, cell.person, inner), INK)
            text.draw(draw, (x0 + 20, y + 40), text.fit(draw, cell.place, inner), INK)
            text.draw(draw, (x0 + 20, y + 70), text.fit(draw, cell.caption, inner), MUTED)
            tiny.draw(draw, (x0 + 20, y + 100), tiny.fit(draw, cell.link, inner), MUTED)
        pages.append(page)
    # black and white in the PDF: crisp QR codes (no JPEG), about 40 KB a page instead of 300
    return _png(pages[0]), _pdf([_monochrome(p) for p in pages])


def _monochrome(page: Image.Image) -> Image.Image:
    return page.convert("L").point(lambda v: 0 if v < 170 else 255, mode="1")
