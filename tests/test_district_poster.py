"""The building's poster (issue 12): ``/poster`` keeps its text and adds a printable A4 PNG and PDF
with the building's heads by unit and a QR code that opens the bot straight into filing for that
building."""

from __future__ import annotations

import io
import os
from pathlib import Path

import zxingcpp
from PIL import Image

from bot.fonts import FALLBACK_FONTS, find_font
from bot.models import Building
from bot.services.buildings import PosterData
from handlers.buildings import poster_face
from tests.harness import Harness
from tests.support import updates
from tests.support.botapi import Call

SAVE = os.environ.get("UNITBOT_SAVE_IMAGES")  # a folder: the pictures are written there to look at


def save(name: str, png: bytes) -> None:
    if SAVE:
        Path(SAVE, name).write_bytes(png)


def uploads(calls: list[Call], chat_id: int) -> tuple[bytes, bytes]:
    [photo] = [c for c in calls if c.method == "sendPhoto" and c.chat_id == chat_id]
    [document] = [c for c in calls if c.method == "sendDocument" and c.chat_id == chat_id]
    return photo.files["photo"].data, document.files["document"].data


def qr_link(png: bytes) -> str:
    image = Image.open(io.BytesIO(png))
    assert image.size == (1240, 1754)  # A4 at 150 dpi
    [found] = zxingcpp.read_barcodes(image)
    return str(found.text)


async def test_poster_has_the_heads_and_a_qr_code_that_files_for_the_building(h: Harness) -> None:
    await h.setup_community()
    chat = h.p.building_chat
    calls = await h.cmd(h.p.staff, chat, "poster")
    text = [c.text or "" for c in calls if c.method == "sendMessage" and c.chat_id == chat["id"]]
    assert any("Code:" in t and "Report a problem" in t for t in text)  # what /poster said before stays
    png, pdf = uploads(calls, chat["id"])
    assert pdf.startswith(b"%PDF") and b"/MediaBox" in pdf
    link = qr_link(png)
    ctx = await h.services.registry.chat_context(chat["id"])
    assert link == f"https://t.me/{h.app.bot.username}?start=pc_{ctx.building.code}"
    save("poster-en.png", png)
    # a neighbour who is not in the building chat scans it: straight to filing for Building 7
    nina = updates.user(4001, "Nina", "nina_n")
    calls = await h.cmd(nina, updates.private_chat(nina), "start", link.split("start=", 1)[1])
    asked = [c for c in calls if c.chat_id == nina["id"]][-1]
    assert "Building 7" in (asked.text or "") and any(d.startswith("f:u:") for _, d in asked.buttons)
    # a forged code: a polite answer
    calls = await h.cmd(nina, updates.private_chat(nina), "start", "pc_XXXXXX")
    assert any("building" in (c.text or "").lower() for c in calls if c.chat_id == nina["id"])


async def test_poster_in_chinese_with_chinese_names(h: Harness) -> None:
    await h.setup_community()
    chat = h.p.building_chat
    await h.cmd(h.p.staff, chat, "buildingname", "阳光花园3号楼")
    wang = updates.user(4002, "王芳")
    await h.cmd(h.p.staff, chat, "unithead", "2", reply_to=updates.message(wang, chat, "你好"))
    calls = await h.cmd(h.p.staff, chat, "poster", "zh")
    png, _ = uploads(calls, chat["id"])
    assert qr_link(png).startswith("https://t.me/")
    save("poster-zh.png", png)
    calls = await h.cmd(h.p.staff, chat, "poster", "xx")
    assert any("/poster" in (c.text or "") for c in calls if c.chat_id == chat["id"])
    calls = await h.cmd(h.p.uhead, chat, "poster")  # a unit head may not
    assert not [c for c in calls if c.method == "sendPhoto"]


def test_without_a_cjk_font_the_poster_says_why(h: Harness) -> None:
    catalogs = h.services.catalogs
    data = PosterData(Building(1, 1, -1, "3号楼", None, True, "K7M4QX"), "K7M4QX", "陈杰", (("1", "王芳"),), "zh")
    latin = next(p for p in FALLBACK_FONTS if Path(p).is_file())
    face = poster_face(
        catalogs.translator("zh"), data, "https://t.me/x?start=pc_K7M4QX", "x", latin, catalogs.translator("en")
    )
    assert "No Chinese font" in face.font_note
    cjk = find_font(None)
    face = poster_face(
        catalogs.translator("zh"), data, "https://t.me/x?start=pc_K7M4QX", "x", cjk, catalogs.translator("en")
    )
    assert face.font_note == ""
    assert face.unit_lines == ("1单元：王芳",) and face.building_head == "楼栋长：陈杰"


def test_the_invite_sheet_holds_every_link_as_a_qr_code() -> None:
    from bot.posters import InviteCell, render_invite_sheet

    links = [f"https://t.me/unitbot_test_bot?start=hi_{i:024d}" for i in range(10)]
    cells = [
        InviteCell(f"王芳{i}", f"3号楼 {i}单元", "用手机相机扫码，然后点“开始”", link) for i, link in enumerate(links)
    ]
    png, pdf = render_invite_sheet(cells, "负责人个人邀请二维码", find_font(None))
    found = {str(b.text) for b in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))}
    assert found == set(links[:8])  # the first page: 2 x 4
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") >= 2
    save("invite-sheet.png", png)
