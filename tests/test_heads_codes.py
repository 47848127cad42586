"""Invite and street codes people read aloud or copy: 8 symbols without look-alikes, shown as
``XXXX-XXXX`` on a line of their own, accepted in any case, with spaces, full-width forms and
punctuation, or inside the whole message they were copied from (bot/codes.py)."""

from __future__ import annotations

import re

import pytest

from bot import codes
from tests.harness import Harness, code_in, said

SHOWN = re.compile(r"[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}")


def test_new_codes_have_no_look_alikes_and_are_shown_grouped() -> None:
    seen = {codes.new_code() for _ in range(2000)}
    assert len(seen) == 2000
    assert not set("".join(seen)) & set("0O1IL U")
    assert codes.show("K7MPX3QH") == "K7MP-X3QH"


@pytest.mark.parametrize(
    "typed",
    [
        "K7MP-X3QH",
        "k7mp-x3qh",
        "k7mp x3qh",
        " K7MPX3QH ",
        "ｋ７ｍｐ－ｘ３ｑｈ",  # full-width
        "邀请码：K7MP-X3QH。",
        "“K7MP—X3QH”，",
        "Building invite code:\nK7MP-X3QH\n\nAdd the bot, or send this there:\n/register K7MP-X3QH",
        "楼栋邀请码：\nK7MP-X3QH\n\n请在楼栋群里发送：\n/register K7MP-X3QH\n7 天内有效，只能用一次。",
    ],
)
def test_a_code_is_found_however_it_was_typed_or_copied(typed: str) -> None:
    assert codes.find_codes(typed)[0] == "K7MPX3QH"


def test_words_are_not_codes() -> None:
    assert codes.find_codes("please register my building") == []
    assert codes.find_codes("K7MP-X3Q") == []  # one symbol short
    assert codes.canonical("K7MP X3QH。") == "K7MPX3QH"
    assert codes.canonical("hello") is None


async def test_invite_code_is_short_on_its_own_line_and_works_as_people_type_it(h: Harness) -> None:
    tg = h.rt.telegram
    tg.admins[h.p.staff_chat["id"]] = [h.p.staff]
    tg.admins[h.p.building_chat["id"]] = [h.p.staff]
    await h.cmd(h.p.staff, h.p.staff_chat, "newcommunity", "Sunny Side")
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "invite")
    text = said(calls)[-1]
    code = code_in(calls)
    assert SHOWN.fullmatch(code), code
    assert code in text.splitlines() and f"/register {code}" in text.splitlines()
    typed = "码：" + code.lower().replace("-", " ") + "。"  # lower case, a space, full-width punctuation
    calls = await h.cmd(h.p.staff, h.p.building_chat, "register", typed)
    assert said(calls)[0].startswith("🏠 Building 7 is now part of Sunny Side."), said(calls)


async def test_street_code_copied_with_its_message_links_the_street_office(h: Harness) -> None:
    await h.setup_community(with_street=False)
    h.rt.telegram.admins[h.p.street_chat["id"]] = [h.p.street]
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "streetcode")
    code = code_in(calls)
    assert SHOWN.fullmatch(code) and code in said(calls)[-1].splitlines()
    copied = said(calls)[-1].replace(code, code.translate(str.maketrans("0123456789-", "０１２３４５６７８９－")))
    calls = await h.cmd(h.p.street, h.p.street_chat, "linkstreet", copied)
    assert said(calls)[0].startswith("🏛 This chat is now the street office of Sunny Side")
