"""End-to-end (issue 11 and 12): the real ``python -m bot`` process against the fake Bot API HTTP
server: staff import the registry as a document captioned /import, a head opens their personal invite
link and takes their post, and /poster sends the printable poster whose QR code files for the
building."""

from __future__ import annotations

import io
import re

import pytest
import zxingcpp
from PIL import Image

from tests.e2e_support import E2E
from tests.support import updates

REGISTRY = (
    "building;unit;unit head;unit head username\n"  # Excel's CSV in many locales: ';'
    "Building 7;5;Wang Fang;\n"
    "Building 7;6;Li Lei;\n"
)
WANG = updates.user(3003, "Fang", "wang_fang")


@pytest.mark.e2e
def test_import_and_invite_link_through_the_real_process(e2e: E2E) -> None:
    chat, p = e2e.chat, e2e.chat.p
    e2e.spawn("bot-a").start()
    chat.setup_community()

    e2e.server.telegram.files["registry-e2e"] = REGISTRY.encode()
    sent = {"file_id": "registry-e2e", "file_unique_id": "u-reg", "file_name": "registry.csv", "file_size": 80}
    message = updates.message_dict(
        p.staff,
        p.staff_chat,
        document=sent,
        caption="/import",
        caption_entities=[{"type": "bot_command", "offset": 0, "length": 7}],
    )
    since = chat.push(updates.wrap("message", message))
    chat.wait_text(p.staff_chat, "Registry imported", since)
    links = chat.wait_text(p.staff_chat, "Personal invite links (2)", since)

    def uploaded(name: str) -> bytes:
        found = chat.wait(
            lambda c: (
                c.method == "sendDocument"
                and c.chat_id == p.staff_chat["id"]
                and any((u.filename or "").endswith(name) for u in c.files.values())
            ),
            since,
        )
        return chat.upload_of(found)

    assert uploaded(".pdf").startswith(b"%PDF")  # the QR sheet to print
    table = uploaded(".csv").decode("utf-8-sig").splitlines()  # every link, for a mail merge
    assert table[0].startswith("Name,Building,Unit") and len(table) == 3
    block = next(b for b in (links.text or "").split("\n\n") if b.startswith("Wang Fang"))
    payload = re.search(r"start=(hi_[A-Za-z0-9_-]+)", block)
    assert payload is not None

    welcome = chat.cmd(WANG, updates.private_chat(WANG), "start", payload.group(1), expect="Welcome")
    assert "unit head of Building 7, unit 5" in (welcome.text or "")
    chat.wait_text(p.staff_chat, "Wang Fang (Fang) opened their invite link")
    again = chat.cmd(WANG, updates.private_chat(WANG), "start", payload.group(1), expect="already")
    assert "linked to this post already" in (again.text or "")

    # the poster now names her, and its QR code files for the building
    since = chat.push(updates.command(p.staff, p.building_chat, "poster"))
    photo = chat.wait_photo(p.building_chat, "poster", since)
    [qr] = zxingcpp.read_barcodes(Image.open(io.BytesIO(chat.upload_of(photo))))
    link = str(qr.text)
    assert "?start=pc_" in link
    neighbour = updates.user(4001, "Nina", "nina_n")
    chat.cmd(neighbour, updates.private_chat(neighbour), "start", link.split("start=", 1)[1], expect="Building 7")
    e2e.finish()
