"""Readable images (issue 8): result charts, the perk code image and the ID card, drawn to be read on a
phone; fonts that draw Chinese (not boxes); and the text slips found with them (English plurals,
the Russian word for perks, empty perk fields shown as "-")."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from PIL import Image, ImageDraw, ImageFont

from bot import charts
from bot.cards import CodeFace, _code_layout, render_code
from bot.fonts import FALLBACK_FONTS, Writer, draws_chinese, find_font, has_glyph
from bot.i18n import Catalogs, load_catalog
from bot.services.elections.publish import photo_spec
from handlers.common import chart_pages, draw_chart
from tests.harness import Harness
from tests.support import updates

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() == "true"
TELEGRAM_KEEPS = 2560  # Telegram stores photos up to this many pixels on the long side


@pytest.fixture(scope="module")
def catalogs() -> Catalogs:
    return Catalogs()


def spec(n: int, *, building: str = "Building 7", mixed: bool = False, measure: str = "votes") -> dict[str, Any]:
    bars = [
        {
            "label": f"Head {i}",
            "unit": str(i),
            "building": f"Building {i % 3}" if mixed else building,
            "votes": n - i + 1,
            "rank": i,
        }
        for i in range(1, n + 1)
    ]
    caption = {"period": "2026-12", "building": building}
    return {"photo": photo_spec("votes.chart_building", caption, bars, measure)}


def cjk_font() -> str:
    path = find_font()
    if not draws_chinese(path):
        if IN_CI:  # .ci/run installs fonts-wqy-microhei: a CI machine without it is a broken set-up
            pytest.fail(f"no CJK font on this CI machine (found {path}); .ci/run should install fonts-wqy-microhei")
        pytest.skip("no CJK font installed here (apt-get install fonts-wqy-microhei, or set UNITBOT_CARD_FONT)")
    assert path is not None
    return path


# --- charts -----------------------------------------------------------------------------------------
def test_every_candidate_is_in_the_chart_in_balanced_images(catalogs: Catalogs) -> None:
    t = catalogs.translator("en")
    pages = chart_pages(t, spec(25))
    assert [len(rows) for rows, _ in pages] == [9, 8, 8]  # none dropped (the old chart stopped at 10)
    names = [row["label"] for rows, _ in pages for row in rows]
    assert names == [f"Head {i}" for i in range(1, 26)]
    expected = [f"Best unit head December 2026 — Building 7 ({i} of 3)" for i in (1, 2, 3)]
    assert [caption for _, caption in pages] == expected
    assert {row["scale"] for rows, _ in pages for row in rows} == {25}  # one scale across the images
    (only,) = chart_pages(t, spec(3))
    assert only[1] == "Best unit head December 2026 — Building 7"


def test_bars_say_votes_in_the_readers_language_with_plural_forms(catalogs: Catalogs) -> None:
    def values(lang: str, n: int) -> list[str]:
        return [row["value_text"] for rows, _ in chart_pages(catalogs.translator(lang), spec(n)) for row in rows]

    assert values("en", 3) == ["3 votes", "2 votes", "1 vote"]
    assert values("ru", 5) == ["5 голосов", "4 голоса", "3 голоса", "2 голоса", "1 голос"]
    assert values("zh", 2) == ["2 票", "1 票"]
    wins = [
        r["value_text"] for rows, _ in chart_pages(catalogs.translator("en"), spec(2, measure="wins")) for r in rows
    ]
    assert wins == ["2 monthly wins", "1 monthly win"]  # the yearly title by wins counts wins, not votes


def test_the_unit_is_written_out_so_it_is_not_read_as_a_count(catalogs: Catalogs) -> None:
    def details(lang: str, **kw: Any) -> list[str]:
        return [row["detail"] for rows, _ in chart_pages(catalogs.translator(lang), spec(2, **kw)) for row in rows]

    assert details("en") == ["Unit 1", "Unit 2"]  # the building is in the caption
    assert details("zh") == ["1单元", "2单元"]
    assert details("ru") == ["Подъезд 1", "Подъезд 2"]
    assert details("en", mixed=True) == ["Unit 1 · Building 1", "Unit 2 · Building 2"]  # community-wide


def _ink_height(text: str, font: ImageFont.FreeTypeFont) -> int:
    box = font.getbbox(text)
    return int(box[3] - box[1])


def test_chart_text_is_at_least_twice_the_old_size_relative_to_the_width() -> None:
    """The first charts were 900 pixels wide with 22 px labels and a 30 px title; a phone scales
    the whole image to its width, so what counts is the text's height over the image's width."""
    path = find_font() or FALLBACK_FONTS[0]
    old_label = _ink_height("Hg", ImageFont.truetype(path, 22)) / 900
    old_title = _ink_height("Hg", ImageFont.truetype(path, 30)) / 900
    for size in (charts.NAME_PX, charts.DETAIL_PX, charts.VALUE_PX):
        assert _ink_height("Hg", ImageFont.truetype(path, size)) / charts.WIDTH >= 2 * old_label, size
    assert _ink_height("Hg", ImageFont.truetype(path, charts.TITLE_PX)) / charts.WIDTH >= 2 * old_title


@pytest.mark.parametrize("n", [1, 3, 10, 11, 25, 120])
async def test_every_image_is_within_telegrams_photo_limits(catalogs: Catalogs, n: int) -> None:
    pages = chart_pages(catalogs.translator("ru"), spec(n, mixed=True))
    assert sum(len(rows) for rows, _ in pages) == n
    for rows, caption in pages:
        png = await draw_chart(rows, caption, None)
        assert png is not None
        width, height = Image.open(io.BytesIO(png)).size
        assert width + height <= 10000 and max(width, height) / min(width, height) <= 20
        assert height <= TELEGRAM_KEEPS  # shown as drawn, not shrunk
        assert len(caption) <= 1024


def test_long_names_are_wrapped_not_cut() -> None:
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    writer = Writer(find_font(), charts.NAME_PX)
    width = charts.WIDTH - charts.INDENT - charts.MARGIN
    for name in ("Константин Константинопольский-Щербаков", "Maximilian Alexander von Hohenzollern-Sigmaringen"):
        lines = writer.wrap(draw, name, width)
        assert len(lines) >= 2 and " ".join(lines) == name
        assert all(writer.width(draw, line) <= width for line in lines)
    chinese = "欧阳娜娜阿卜杜拉买买提艾力古丽米热热合曼江"
    lines = writer.wrap(draw, chinese, width)
    assert len(lines) >= 2 and "".join(lines) == chinese  # CJK breaks between any two characters


async def test_a_chart_with_chinese_names_is_drawn_with_a_cjk_font(catalogs: Catalogs) -> None:
    path = cjk_font()
    t = catalogs.translator("zh")
    bars = [{"label": "王秀英", "unit": "1", "building": "幸福里3号楼", "votes": 3, "rank": 1}]
    (page,) = chart_pages(t, {"photo": photo_spec("votes.chart_community", {"period": "2026-12"}, bars)})
    png = await draw_chart(*page, Path(path))
    assert png is not None and Image.open(io.BytesIO(png)).size[0] == charts.WIDTH


# --- fonts: Chinese must not be boxes ---------------------------------------------------------------
def test_the_font_draws_chinese_glyphs_not_notdef_boxes() -> None:
    path = cjk_font()
    font = ImageFont.truetype(path, 48)
    box = bytes(font.getmask("\U0010fffd"))  # a code point no font has: the .notdef box
    for char in "票单元楼王":
        assert has_glyph(path, char)
        assert bytes(font.getmask(char)) != box, char
    # the check itself can tell a box: DejaVu Sans has no Chinese
    dejavu = next((p for p in FALLBACK_FONTS if Path(p).is_file()), None)
    if dejavu is not None:
        assert not has_glyph(dejavu, "票") and has_glyph(dejavu, "Ж")


def test_characters_a_font_lacks_come_from_the_fallback_or_are_left_out() -> None:
    path = cjk_font()
    writer = Writer(path, 40)
    runs = list(writer.runs("Uma ₽ 王 🙂"))
    text = "".join(chunk for _, chunk in runs)
    assert "王" in text and "Uma" in text and "🙂" not in text  # no box for an emoji no font has
    if not has_glyph(path, "₽") and any(Path(p).is_file() for p in FALLBACK_FONTS):
        assert "₽" in text and len({id(font) for font, _ in runs}) == 2  # drawn by DejaVu Sans


def test_ci_installs_a_cjk_font_when_missing() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "fonts-wqy-microhei" in script and "apt-get install" in script


# --- the perk code image ----------------------------------------------------------------------------
def test_the_code_is_never_cut_and_is_big() -> None:
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    writer, gap, width = _code_layout(draw, find_font(), ["WWWWW", "MMMMM"], 880)
    assert width <= 880 and writer.size >= 96 and gap > 0


def test_the_perk_code_image_carries_the_qr_and_is_readable() -> None:
    face = CodeFace(
        heading="Perk code",
        code="M3APK-6RXTM",
        perk="Free coffee and a slice of cake " * 3,
        shop="At: Mo's Cafe",
        expires="Valid until Mon 23 Nov, 10:30",
        footer="The shop scans the QR code, or types the code with /check.",
        link="https://t.me/unitbot?start=rc_M3APK6RXTM",
    )
    image = Image.open(io.BytesIO(render_code(face)))
    width, height = image.size
    assert width == 1000 and height <= TELEGRAM_KEEPS
    (found,) = zxingcpp.read_barcodes(image)
    assert found.text == face.link


# --- text slips -------------------------------------------------------------------------------------
_COUNTS = r"count|n|amount|days|minutes|hours|staff|votes|wins|points|total|open_count|posted"
_SLIP = re.compile(r"\(s\)|\{(?:" + _COUNTS + r")\} (?:[a-z-]+ )?[a-z]+s\b")
# wording someone else owns: the refusals (security), and a working-day count that may be a fraction
_NOT_MINE = re.compile(r"^error\.|^resident\.resolved$")


def test_english_texts_have_no_plural_slips() -> None:
    slips = []
    for message in load_catalog("en"):
        if not message.id or isinstance(message.id, tuple | list) or _NOT_MINE.search(message.id):
            continue
        slips += [f"{message.id}: {m.group(0)}" for m in _SLIP.finditer(message.string)]
    assert not slips


@pytest.mark.parametrize(
    ("key", "one", "two"),
    [
        ("count.open_appeals", "1 open appeal", "2 open appeals"),
        ("count.units", "1 unit", "2 units"),
        ("count.points", "1 point", "2 points"),
        ("count.building_chats", "1 building chat", "2 building chats"),
        ("count.problems", "1 problem", "2 problems"),
        ("count.staff_admins", "its 1 admin is staff", "its 2 admins are staff"),
    ],
)
def test_counted_words_agree_with_their_number(catalogs: Catalogs, key: str, one: str, two: str) -> None:
    en = catalogs.translator("en")
    assert (en.plural(key, 1), en.plural(key, 2)) == (one, two)
    ru = catalogs.translator("ru")
    assert len({ru.plural(key, 1), ru.plural(key, 3), ru.plural(key, 5)}) == 3  # one / few / many


async def test_status_says_1_open_appeal(h: Harness) -> None:
    await h.setup_community()
    await h.file_appeal()
    (summary,) = await h.cmd(h.p.resident, h.p.building_chat, "status")
    assert summary.text is not None and summary.text.startswith("📊 Building 7: 1 open appeal (0 overdue"), summary.text


async def test_an_award_of_1_point_says_point(h: Harness) -> None:
    await h.setup_community()
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "award", "@uma_unit 1 watered the flowers")
    notice = [c.text or "" for c in calls if c.chat_id == h.p.uhead["id"]]
    assert any(text.startswith("⭐ You got +1 point from Olga") for text in notice), notice


def test_russian_calls_perks_bonuses_not_benefits() -> None:
    ru = {m.id: m.string for m in load_catalog("ru") if m.id and not isinstance(m.id, tuple | list)}
    assert not [key for key, text in ru.items() if re.search("льгот", text, re.IGNORECASE)]
    assert ru["cmd.perks"].startswith("Бонусы")
    assert "бонус" in ru["perks.categories"].lower() and "бонус" in ru["cmd.check"].lower()


async def test_a_perk_without_description_or_address_shows_no_dash_lines(h: Harness) -> None:
    await h.setup_community()
    merchant = updates.user(1006, "Mo", "mo_shop")
    await h.cmd(merchant, updates.private_chat(merchant), "start")
    await h.cmd(
        h.p.staff, h.p.staff_chat, "merchant", "Mo's Cafe", reply_to=updates.message(merchant, h.p.staff_chat, "hi")
    )
    added = await h.cmd(h.p.staff, h.p.staff_chat, "perk", "add Food | @mo_shop | Tea | 2")
    perk = int((added[-1].text or "").split("#", 1)[1].split()[0])
    await h.cmd(h.p.staff, h.p.staff_chat, "award", "@uma_unit 5 helped")
    menu = [c for c in await h.cmd(h.p.uhead, updates.private_chat(h.p.uhead), "perks") if c.method == "sendMessage"][
        -1
    ]
    shown = await h.press(h.p.uhead, menu, f"pk:p:{perk}")
    text = [str(c.params.get("text")) for c in shown if c.method == "editMessageText"][-1]
    assert text.splitlines() == ["🎁 Tea", "🏪 Mo's Cafe", "💰 2 points", "📅 no end date", "📦 no stock limit"]
    await h.press(h.p.uhead, menu, f"pk:r:{perk}")
    redeemed = await h.press(h.p.uhead, menu, f"pk:y:{perk}")
    photo = next(c for c in redeemed if c.method == "sendPhoto")
    code = str(photo.params["caption"]).split("Code ", 1)[1].split(",", 1)[0]
    checked = await h.cmd(merchant, updates.private_chat(merchant), "check", code)
    answer = [c.text or "" for c in checked if c.method == "sendMessage"][-1]
    assert answer.splitlines()[:2] == ["✅ The code is valid and is now used.", "Hand over: Tea"]
    assert "\n-\n" not in answer and answer.splitlines()[2].startswith("To: Uma")
