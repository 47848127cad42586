"""The district registry import, heads' invite links and /reassign (issue 11 "Bringing a whole
district in"), through the real Application and the fake Bot API."""

from __future__ import annotations

import io
import itertools
import re
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.services.district.sheet import (
    RegistryRejected,
    SheetRows,
    name_key,
    parse_registry,
    read_csv,
    read_file,
    unit_names,
)
from tests.harness import Harness, appeal_of, code_in, events_of
from tests.support import updates
from tests.support.botapi import Call

_files = itertools.count(1)
LINK = re.compile(r"https://t\.me/\w+\?start=(hi_[A-Za-z0-9_-]+)")

REGISTRY = (
    "building,unit,unit head,unit head username,building head,building head username\n"
    "Building 7,5,Wang Fang,,,\n"
    "Building 7,6,Li Lei,li_lei_6,,\n"
    "Building 9,1,Zhao Min,,Chen Jie,\n"
    "Building 9,2-4,,,Chen Jie,\n"
)
ZHAO = updates.user(3001, "Min", "zhao_min")
CHEN = updates.user(3002, "Jie", "chen_jie")
WANG = updates.user(3003, "Fang", "wang_fang")
LI = updates.user(3004, "Lei", "li_lei_6")
STRANGER = updates.user(3999, "Eve", "eve_e")


async def send_registry(h: Harness, data: bytes, name: str = "registry.csv", *, caption: bool = True) -> list[Call]:
    """Staff send the file with the caption /import (or reply /import to it)."""
    fid = f"registry-{next(_files)}"
    h.rt.telegram.files[fid] = data
    document = {"file_id": fid, "file_unique_id": f"u-{fid}", "file_name": name, "file_size": len(data)}
    if caption:
        msg = updates.message_dict(
            h.p.staff,
            h.p.staff_chat,
            document=document,
            caption="/import",
            caption_entities=[{"type": "bot_command", "offset": 0, "length": 7}],
        )
        return await h.send(updates.wrap("message", msg))
    doc = updates.message_dict(h.p.staff, h.p.staff_chat, document=document)
    return await h.cmd(h.p.staff, h.p.staff_chat, "import", reply_to=doc)


def texts(calls: list[Call], chat: dict[str, Any]) -> list[str]:
    return [c.text or "" for c in calls if c.chat_id == chat["id"] and c.method == "sendMessage"]


def links_in(calls: list[Call]) -> dict[str, str]:
    """person's name -> their invite payload, from the staff chat's answer."""
    out: dict[str, str] = {}
    for text in texts(calls, {"id": calls[0].chat_id}) if calls else []:
        for block in text.split("\n\n"):
            match = LINK.search(block)
            if match:
                out[block.split(" — ", 1)[0].strip()] = match.group(1)
    return out


async def scalar(h: Harness, sql: str, params: tuple[Any, ...] = ()) -> Any:
    async with h.services.db.read() as tx:
        return await tx.fetchval(sql, params)


async def units_of_chat(h: Harness, chat: dict[str, Any]) -> dict[str, int | None]:
    ctx = await h.services.registry.chat_context(chat["id"])
    return {u.name: u.head_user_id for u in await h.services.registry.units(ctx.building.id)}


# --- the sheet, without Telegram ---------------------------------------------------------------------
def test_a_registry_is_read_with_headers_in_any_language() -> None:
    text = "楼栋;单元;单元长;单元长用户名;楼栋长\n３号楼;1;王芳;@wang_fang;陈杰\n3号楼;2-3;;;陈杰\n"
    [building] = parse_registry(read_csv(text.encode()))
    assert building.units == ["1", "2", "3"]
    assert building.unit_heads["1"].name == "王芳" and building.unit_heads["1"].username == "wang_fang"
    assert building.head is not None and building.head.name == "陈杰"
    assert name_key("３号楼") == name_key(" 3 号楼") == name_key("3号楼")


def test_every_problem_is_listed_by_its_line() -> None:
    text = (
        "building,unit,unit head,unit head username,building head\n"
        ",1,Ann,,\n"  # line 2: no building
        "B1,1-3,Ann,,\n"  # line 3: a head for several units
        "B1,2,Bob,not a name!,\n"  # line 4: a bad username
        "B1,5,,,Carl\n"
        "B1,6,,,Dora\n"  # line 6: another building head
        "B1,5,,,\n"  # line 7: unit 5 twice
    )
    with pytest.raises(RegistryRejected) as caught:
        parse_registry(read_csv(text.encode()))
    found = {(p.line, p.problem) for p in caught.value.problems}
    assert found == {
        (2, "required"),
        (3, "head_for_many_units"),
        (4, "bad_username"),
        (6, "other_building_head"),
        (7, "unit_twice"),
    }


def test_a_building_past_60_units_is_said_once_on_the_61st() -> None:
    text = "building,unit\nB1,1-60\nB1,61\nB1,62\n"
    with pytest.raises(RegistryRejected) as caught:
        parse_registry(read_csv(text.encode()))
    assert [(p.line, p.problem) for p in caught.value.problems] == [(3, "too_many_units")]


def test_a_file_without_the_columns_is_refused_at_its_header() -> None:
    with pytest.raises(RegistryRejected) as caught:
        parse_registry(read_csv(b"name,phone\nAnn,123\n"))
    assert {(p.line, p.column, p.problem) for p in caught.value.problems} == {
        (1, "building", "missing_column"),
        (1, "unit", "missing_column"),
    }


def test_an_xlsx_workbook_is_read_like_a_csv() -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Building", "Unit", "Unit head", "Unit head username"])
    sheet.append(["Building 7", 5, "Wang Fang", None])
    sheet.append(["Building 7", "6", "Li Lei", "@li_lei_6"])
    buf = io.BytesIO()
    book.save(buf)
    [building] = parse_registry(read_file(buf.getvalue(), "registry.xlsx"))
    assert building.units == ["5", "6"]  # the number 5 is read as "5", not "5.0"
    assert building.unit_heads["6"].username == "li_lei_6"


cells = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(cells, max_size=7), max_size=8))
def test_any_sheet_is_read_or_refused_with_lines(rows: list[list[str]]) -> None:
    sheet = SheetRows([(1, ["building", "unit", "unit head", "unit head username", "building head"])])
    sheet.rows.extend((i + 2, row) for i, row in enumerate(rows))
    try:
        buildings = parse_registry(sheet)
    except RegistryRejected as exc:
        assert exc.problems and all(1 <= p.line <= len(rows) + 1 for p in exc.problems)
        return
    for building in buildings:
        assert building.name and len(building.units) <= 60
        assert set(building.unit_heads) <= set(building.units)


@given(st.integers(1, 99), st.integers(0, 58))
def test_unit_ranges(start: int, more: int) -> None:
    assert unit_names(f"{start}-{start + more}") == [str(n) for n in range(start, start + more + 1)]
    assert unit_names(f"{start + more + 1}-{start}") is None


# --- through Telegram ----------------------------------------------------------------------------------
async def test_import_links_heads_and_reimport_changes_nothing(h: Harness) -> None:
    await h.setup_community()
    calls = await send_registry(h, REGISTRY.encode())
    staff = texts(calls, h.p.staff_chat)
    assert any("Buildings: 2 new, 0 updated" in t and "registered buildings: 2" in t for t in staff), staff
    links = links_in(calls)
    assert set(links) == {"Wang Fang", "Li Lei", "Zhao Min", "Chen Jie"}  # nobody is known yet
    assert all(len("/start " + p) <= 64 + 7 and len(p) <= 64 for p in links.values())
    documents = {
        c.files["document"].filename: c.files["document"].data
        for c in calls
        if c.method == "sendDocument" and c.chat_id == h.p.staff_chat["id"]
    }
    assert documents["head-invites-1.pdf"].startswith(b"%PDF")
    table = documents["head-invites.csv"].decode("utf-8-sig").splitlines()
    assert len(table) == 5 and all(LINK.search(line) for line in table[1:])
    # Building 7 exists: its new units are there at once, without heads yet
    assert {"5": None, "6": None}.items() <= (await units_of_chat(h, h.p.building_chat)).items()

    # Wang Fang presses her link: she is unit 5's head, staff are told
    calls = await h.cmd(WANG, updates.private_chat(WANG), "start", links["Wang Fang"])
    assert any("unit head of Building 7, unit 5" in t for t in texts(calls, updates.private_chat(WANG)))
    assert any("Wang Fang" in t and "opened their invite link" in t for t in texts(calls, h.p.staff_chat))
    assert (await units_of_chat(h, h.p.building_chat))["5"] == WANG["id"]

    # the same link again: hers already; someone else: used; a forged one: unknown
    again = await h.cmd(WANG, updates.private_chat(WANG), "start", links["Wang Fang"])
    assert any("linked to this post already" in t for t in texts(again, updates.private_chat(WANG)))
    stolen = await h.cmd(STRANGER, updates.private_chat(STRANGER), "start", links["Wang Fang"])
    assert any("used already" in t for t in texts(stolen, updates.private_chat(STRANGER)))
    forged = await h.cmd(STRANGER, updates.private_chat(STRANGER), "start", "hi_" + "A" * 24)
    assert any("not known" in t for t in texts(forged, updates.private_chat(STRANGER)))
    assert (await units_of_chat(h, h.p.building_chat))["5"] == WANG["id"]

    # re-import of the same file: nothing doubled, no new links (the earlier ones still work)
    before = [await scalar(h, f"SELECT COUNT(*) FROM {t}") for t in ("district_buildings", "district_posts", "units")]
    calls = await send_registry(h, REGISTRY.encode(), caption=False)
    staff = texts(calls, h.p.staff_chat)
    assert any(
        "Buildings: 0 new, 2 updated" in t and "0 new; heads whose earlier link still works: 3" in t for t in staff
    )
    assert not links_in(calls)
    after = [await scalar(h, f"SELECT COUNT(*) FROM {t}") for t in ("district_buildings", "district_posts", "units")]
    assert after == before

    # a changed head on unit 6: a new link for the new person only
    changed = REGISTRY.replace("Li Lei,li_lei_6", "Sun Li,")
    calls = await send_registry(h, changed.encode())
    assert set(links_in(calls)) == {"Sun Li"}

    # Building 9 is registered later with its name: its units and its linked head take effect then
    await h.cmd(CHEN, updates.private_chat(CHEN), "start", links["Chen Jie"])
    chat9 = updates.group_chat(-1001000000009, "Some group")
    h.rt.telegram.admins[chat9["id"]] = [h.p.staff]
    await h.cmd(h.p.staff, chat9, "register", code_in(await h.cmd(h.p.staff, h.p.staff_chat, "invite")) + " Building 9")
    assert await units_of_chat(h, chat9) == {"1": None, "2": None, "3": None, "4": None}
    ctx9 = await h.services.registry.chat_context(chat9["id"])
    assert ctx9.building.head_user_id == CHEN["id"]
    calls = await h.cmd(ZHAO, updates.private_chat(ZHAO), "start", links["Zhao Min"])
    assert (await units_of_chat(h, chat9))["1"] == ZHAO["id"]


async def test_a_known_username_is_linked_without_a_link(h: Harness) -> None:
    await h.setup_community()
    await h.cmd(LI, updates.private_chat(LI), "start")  # the bot has seen @li_lei_6
    calls = await send_registry(h, REGISTRY.encode())
    assert "Li Lei" not in links_in(calls)
    assert any("linked by their username: 1" in t for t in texts(calls, h.p.staff_chat))
    assert (await units_of_chat(h, h.p.building_chat))["6"] == LI["id"]


async def test_a_bad_file_imports_nothing_and_says_every_line(h: Harness) -> None:
    await h.setup_community()
    bad = REGISTRY + "Building 7,5,Someone Else,,\n,3,Ann,,\nBuilding 9,7,Bob,bad name!,\n"
    calls = await send_registry(h, bad.encode())
    [answer] = texts(calls, h.p.staff_chat)
    assert "Nothing was imported: the file has 3 problems" in answer
    assert "Line 6, unit: this unit of the building is listed twice" in answer
    assert "Line 7, building: empty, but needed" in answer
    assert "Line 8, unit_head_username: not a Telegram username" in answer
    assert await scalar(h, "SELECT COUNT(*) FROM district_buildings") == 0
    assert "5" not in await units_of_chat(h, h.p.building_chat)
    junk = await send_registry(h, b"PK\x03\x04 not really a workbook", "x.xlsx")
    assert any("cannot be read as a registry" in t for t in texts(junk, h.p.staff_chat))


async def test_only_staff_import_and_only_in_their_staff_chat(h: Harness) -> None:
    await h.setup_community()
    fid = "registry-x"
    h.rt.telegram.files[fid] = REGISTRY.encode()
    document = {"file_id": fid, "file_unique_id": "u-x", "file_name": "r.csv", "file_size": len(REGISTRY)}
    doc = updates.message_dict(h.p.uhead, h.p.staff_chat, document=document)
    h.rt.telegram.admins[h.p.staff_chat["id"]] = [h.p.staff]
    calls = await h.cmd(h.p.uhead, h.p.staff_chat, "import", reply_to=doc)
    assert any("staff" in t.lower() for t in texts(calls, h.p.staff_chat))
    calls = await h.cmd(h.p.staff, h.p.building_chat, "import", reply_to=doc)
    assert await scalar(h, "SELECT COUNT(*) FROM district_buildings") == 0


async def test_an_invite_link_expires_and_headlinks_replaces_it(h: Harness) -> None:
    await h.setup_community()
    links = links_in(await send_registry(h, REGISTRY.encode()))
    h.clock.advance(timedelta(days=31))
    calls = await h.cmd(WANG, updates.private_chat(WANG), "start", links["Wang Fang"])
    assert any("expired" in t for t in texts(calls, updates.private_chat(WANG)))
    fresh = links_in(await h.cmd(h.p.staff, h.p.staff_chat, "headlinks"))
    assert set(fresh) == {"Wang Fang", "Li Lei", "Zhao Min", "Chen Jie"}
    calls = await h.cmd(ZHAO, updates.private_chat(ZHAO), "start", links["Zhao Min"])  # the old one: replaced
    assert any("replaced by a newer one" in t for t in texts(calls, updates.private_chat(ZHAO)))
    await h.cmd(WANG, updates.private_chat(WANG), "start", fresh["Wang Fang"])
    assert (await units_of_chat(h, h.p.building_chat))["5"] == WANG["id"]


# --- /reassign ---------------------------------------------------------------------------------------
async def test_staff_reassign_an_appeal_and_everyone_is_told(h: Harness) -> None:
    await h.setup_community()
    appeal_id = await h.file_appeal()  # unit 1: Uma
    card = [c for c in h.rt.telegram.calls if c.chat_id == h.p.uhead["id"] and c.buttons][-1]
    await h.press(h.p.uhead, card, f"a:reply:{appeal_id}")  # Uma was about to answer
    assert await h.services.workflow.pending_action(h.p.uhead["id"]) is not None
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "reassign", f"{appeal_id} building")
    assert await h.services.workflow.pending_action(h.p.uhead["id"]) is None  # not hers any more
    assert any(f"Appeal #{appeal_id} now goes to Boris" in t for t in texts(calls, h.p.staff_chat))
    cards = [t for t in texts(calls, h.p.bhead) if f"#{appeal_id}" in t and "reassigned by the community staff" in t]
    assert cards and not re.search(r"\d{4}-\d{2}-\d{2}", cards[0])
    assert any(f"#{appeal_id}" in t and "no longer need" in t for t in texts(calls, h.p.uhead))
    told = texts(calls, h.p.resident)
    assert any(f"#{appeal_id} was passed to the building head" in t for t in told), told
    assert not any(re.search(r"\d{4}-\d{2}-\d{2}", t) for t in told)  # dates as people say them
    appeal = await appeal_of(h, appeal_id)
    assert appeal.assignee_user_id == h.p.bhead["id"] and appeal.level == 1
    assert (await events_of(h, appeal_id))[-1] == "reassigned"
    # and back to Uma by her @username; the same target twice is said so
    await h.cmd(h.p.staff, h.p.staff_chat, "reassign", f"{appeal_id} @uma_unit")
    assert (await appeal_of(h, appeal_id)).assignee_user_id == h.p.uhead["id"]
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "reassign", f"{appeal_id} unit")
    assert any("is there already" in t for t in texts(calls, h.p.staff_chat))
    # to the street office: its chat gets the card with the resident's name
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "reassign", f"{appeal_id} 街道")
    assert any(f"#{appeal_id}" in t and "Rita" in t for t in texts(calls, h.p.street_chat))


async def test_reassign_is_refused_politely(h: Harness) -> None:
    await h.setup_community()
    appeal_id = await h.file_appeal()
    for args, expected in (
        (f"{appeal_id}", "Write /reassign"),
        (f"{appeal_id} somewhere", "Write /reassign"),
        ("99999999999999999999 unit", "Write /reassign"),
        (f"{appeal_id} @nobody_known", "does not know @nobody_known"),
        (f"{appeal_id} @rita_r", "not a head of this appeal's building"),
    ):
        calls = await h.cmd(h.p.staff, h.p.staff_chat, "reassign", args)
        assert any(expected in t for t in texts(calls, h.p.staff_chat)), (args, texts(calls, h.p.staff_chat))
    calls = await h.cmd(h.p.bhead, h.p.building_chat, "reassign", f"{appeal_id} building")
    assert (await appeal_of(h, appeal_id)).assignee_user_id == h.p.uhead["id"]


def test_files_come_from_the_bot_api_servers_file_route() -> None:
    from bot.app import file_url

    assert file_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_url("http://127.0.0.1:8081/bot/") == "http://127.0.0.1:8081/file/bot"
    assert file_url("http://127.0.0.1:8081/custom") == "http://127.0.0.1:8081/custom/file/bot"


@given(st.text(max_size=40))
def test_a_reassign_target_is_a_level_a_username_or_refused(text: str) -> None:
    from bot.errors import InvalidInput
    from bot.models import Level
    from bot.services.district.reassign import parse_target

    try:
        target = parse_target(text)
    except InvalidInput:
        return
    assert isinstance(target, Level) or (target.isascii() and 1 <= len(target) <= 32 and "@" not in target)


async def test_many_heads_get_a_csv_and_sheets_in_parts(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    import handlers.district as district

    monkeypatch.setattr(district, "LINKS_SHOWN", 3)
    monkeypatch.setattr(district, "SHEET_CELLS", 2)
    monkeypatch.setattr(district, "SHEETS_MAX", 2)
    await h.setup_community()
    rows = "building,unit,unit head\n" + "".join(f"Tower {b},{u},Head {b}-{u}\n" for b in (1, 2) for u in (1, 2, 3))
    calls = await send_registry(h, rows.encode())
    staff = texts(calls, h.p.staff_chat)
    assert any("Personal invite links (6)" in t and "… and 3 more: every link is in the CSV file." in t for t in staff)
    names = [c.files["document"].filename for c in calls if c.method == "sendDocument"]
    assert names == ["head-invites.csv", "head-invites-1.pdf", "head-invites-2.pdf"]
    assert any("2 more: send /headlinks BUILDING" in t for t in staff)
    # one building's sheet: new links for its heads only
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "headlinks", "tower 2")
    assert set(links_in(calls)) <= {"Head 2-1", "Head 2-2", "Head 2-3"}
    assert any("Personal invite links (3)" in t for t in texts(calls, h.p.staff_chat))
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "headlinks", "Tower 9")
    assert any("no building «Tower 9»" in t for t in texts(calls, h.p.staff_chat))
