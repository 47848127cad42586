"""Role x action (issue 9): every command and every callback prefix, with ids of Sunny Side's
things, by every role that must be refused (tests/security_world.py), in each chat that person is
in (their private chat and their groups): 0 successes.

A success is any of: Sunny Side's rows changed (``snapshot``), something was sent outside the chat
the person acted in or showed the appeal's words, or the action was not refused at all (the error
handler logs every refusal). The tables of actions must name every registered command and callback
prefix, so a new handler without an attack here fails ``test_the_matrix_covers_every_handler``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import pytest
from telegram.ext import CallbackQueryHandler, CommandHandler

from tests.harness import Harness
from tests.security_world import BELLA, CHAT8, RIA, ROLES, ULLA, Role, World, build_world, changed, leaks, snapshot
from tests.support import updates


@dataclass(frozen=True)
class Attack:
    kind: str  # "button" (callback data) or "command" (name and arguments)
    template: str  # formatted with World.ids(): "a:take:{a}", "show {a}"
    where: str = "any"  # "any", or "group": pressed only in groups (harmless in the person's own chat)

    @property
    def handler(self) -> str:
        """The callback prefix ("a:") or the command name it attacks."""
        if self.kind == "button":
            return self.template.split(":", 1)[0] + ":"
        return self.template.split()[0]


BUTTONS = [
    Attack("button", t)
    for t in (
        "f:b:{b7}",
        "f:u:{b7}:{u1}",
        "f:u:{b7}:{u2}",
        "f:c:problem",
        "f:new:{held}",
        "f:add:{held}:{a}",
        "a:take:{a}",
        "a:reply:{a}",
        "a:ask:{a}",
        "a:res:{a}",
        "a:esc:{a}",
        "a:ok:{a}",
        "a:re:{a}",
        "a:rate:{a}:5",
        "a:show:{a}",
        "uh:{u2}:{nina}",
        "uh:{u1}:{nina}",
        "mu:{b7}:{u1}",
        "mu:{b8}:{u1}",
        "lang:xx",
        "pt:h:{c}:999999",
        "pt:t:{c}:m",
        "pt:t:{c}:a",
        "pt:ch:points:{c}",
        "pt:ch:top:{c}",
        "pt:ch:card:{c}",
        "pt:ch:perks:{c}",
        "pk:home:{c}",
        "pk:h:0:{c}",
        "pk:c:{cat}",
        "pk:p:{perk}",
        "pk:r:{perk}",
        "pk:y:{perk}",
        "ev:{e}:{cand}",
        "ep:{e}:{b7}:0",
        "pv:{p}:0",
        # issue 12: micro-wishes and the care list
        "wi:b:{b7}",
        "wi:t:7",
        "wi:n:0",
        "wi:c:0",
        "wi:h:{w}",
        "wi:w:{w}",
        "wi:s:{w}",
        "wi:d:{w}",
        "wi:q:{w}",
        "wi:ok:{w}",
        "wi:no:{w}",
        "wi:x:{w}",
        "cr:u:{u1}",
        "cr:n:0",
        "cr:f:7",
        "cr:k:0",
        "cr:c:0",
        "cr:v:{hh}",
        "cr:w:{hh}",
        "cr:p:{hh}",
        "cr:a:{hh}",
        "cr:r:{hh}",
    )
] + [Attack("button", "pk:n", "group")]

COMMANDS = [
    Attack("command", t)
    for t in (
        "start ap_{b7}",
        "start act_reply_{a}",
        "start act_resolve_{a}",
        "show {a}",
        "show #{a}",
        "propose cancel {p}",
        "perk change {perk} stock 50",
        "perk retire {perk}",
        "award @uma_unit 5 forged",
        "deduct @uma_unit 5 forged",
        "unithead 1 @nina_n",
        "buildinghead @nina_n",
        "units 9",
        "election cancel",
        "election nominate 1",
        "sla max_per_hour 1",
        "workday 2026-12-02 off",
        "community language ru",
        "pointrules first_reply 99",
        "merchant @nina_n Shop",
        "invite",
        "streetcode",
        "register {c}",
        "linkstreet {c}",
        "newcommunity Mine",
        "perkimport",
        "check 1234-5678",
        "propose Free beer?",
        "buildingname Forged Name",
        "poster",
        # no ids: they act on the chat they are sent in, or on the sender alone
        "help",
        "lang xx",
        "myunit",
        "appeal",
        "myappeals",
        "open",
        "status",
        "cancel",
        "points",
        "top",
        "card",
        "perks",
        "vote",
        "results",
        "decisions",
        "wish",
        "wishes",
        "care",
        "knock",
    )
]

# what is the person's right, not an attack: (role's user id, where, attack template)
ALLOWED = {
    # Ulla is in Building 7's chat: she may live there and file about it
    (ULLA["id"], "private", "start ap_{b7}"),
    (ULLA["id"], "group", "mu:{b7}:{u1}"),
    (ULLA["id"], "group", "ep:{e}:{b7}:0"),  # another page of the ballot posted in her chat
    # Bella heads Building 8: its units and unit heads are hers to set; she may open its proposals
    (BELLA["id"], "group", "units 9"),
    (BELLA["id"], "group", "unithead 1 @nina_n"),
    (BELLA["id"], "group", "propose Free beer?"),
    (BELLA["id"], "group", "buildingname Forged Name"),  # a building head names their own building
    # Ria lives in Building 8: she may start (and cancel) an appeal about it
    (RIA["id"], "private", "appeal"),
    (RIA["id"], "private", "cancel"),
    # issue 12: Ulla heads a unit of this community and is in Building 7's chat: she may volunteer
    # for a wish posted there; Ria is a resident of this community: she may write a wish
    (ULLA["id"], "group", "wi:h:{w}"),
    (RIA["id"], "private", "wish"),
}
HEAD_OF_SUNNY_SIDE = {ULLA["id"], BELLA["id"]}  # their points and perks there are theirs to see


def allowed(role: Role, where: str, attack: Attack) -> bool:
    if (role.who["id"], where, attack.template) in ALLOWED:
        return True
    return role.who["id"] in HEAD_OF_SUNNY_SIDE and where == "private" and attack.template.startswith(("pt:", "pk:"))


def registered(h: Harness) -> tuple[set[str], set[str]]:
    """The registered command names and callback prefixes ("f:", "pt:" ...)."""
    commands: set[str] = set()
    prefixes: set[str] = set()
    for handlers in h.app.handlers.values():
        for handler in handlers:
            if isinstance(handler, CommandHandler):
                commands |= set(handler.commands)
            elif isinstance(handler, CallbackQueryHandler) and handler.pattern is not None:
                pattern = handler.pattern.pattern if isinstance(handler.pattern, re.Pattern) else str(handler.pattern)
                found = re.match(r"\^([a-z]+:)", pattern)
                assert found, f"a button pattern without a literal prefix: {pattern}"
                prefixes.add(found.group(1))
    return commands, prefixes


# the commands that take no ids and only read or answer where they are sent: attacked with junk
READ_ONLY = {"help", "lang", "myunit", "appeal", "myappeals", "open", "status", "cancel", "sla", "points", "wishes"}


async def test_the_matrix_covers_every_handler(h: Harness) -> None:
    commands, prefixes = registered(h)
    assert {"f:", "a:", "uh:", "mu:", "lang:", "pt:", "pk:", "ev:", "ep:", "pv:"} <= prefixes
    assert prefixes == {a.handler for a in BUTTONS}, "a callback prefix has no attack (or an attack no handler)"
    attacked = {a.handler for a in COMMANDS}
    assert commands <= attacked, f"commands without an attack: {sorted(commands - attacked)}"


def _refused(records: list[logging.LogRecord], update_id: int) -> bool:
    return any(r.getMessage().startswith(f"update {update_id} refused:") for r in records)


async def _anchor(h: Harness, who: dict[str, Any], chat: dict[str, Any]) -> Any:
    """A message of the bot in ``chat`` to press forged buttons on."""
    await h.cmd(who, chat, "help")
    mine = [key for key in h.rt.telegram.messages if key[0] == chat["id"]]
    return h.rt.telegram.messages[max(mine, key=lambda key: key[1])]


async def _attack(h: Harness, w: World, who: dict[str, Any], chat: dict[str, Any], anchor: Any, attack: Attack) -> Any:
    text = attack.template.format(**w.ids())
    if attack.kind == "button":
        raw = updates.callback_query(who, anchor, text)
    else:
        name, _, args = text.partition(" ")
        raw = updates.command(who, chat, name, args)
    return raw, await h.send(raw)


async def test_no_forged_action_succeeds_for_any_role(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    w = await build_world(h)
    caplog.set_level(logging.INFO)
    roles = [r if r.who is not ULLA else Role(r.name, r.who, (h.p.building_chat,)) for r in ROLES]
    successes: list[str] = []
    tried = 0
    before = await snapshot(w)
    for role in roles:
        places = [("private", updates.private_chat(role.who))] if role.private else []
        places += [("group", g) for g in role.groups]
        for where, chat in places:
            anchor = await _anchor(h, role.who, chat)
            for attack in (*BUTTONS, *COMMANDS):
                if allowed(role, where, attack) or (attack.where == "group" and where != "group"):
                    continue
                tried += 1
                caplog.clear()
                raw, calls = await _attack(h, w, role.who, chat, anchor, attack)
                what = f"{role.name} in {chat.get('title', 'private')}: {attack.template}"
                after = await snapshot(w)
                if diff := changed(before, after):
                    successes.append(f"{what} changed {diff}")
                    before = after
                if leaked := leaks(calls, chat["id"], w):
                    successes.append(f"{what} leaked {leaked}")
                if attack.kind == "button" and not _refused(caplog.records, raw["update_id"]):
                    successes.append(f"{what} was not refused: {[c.text for c in calls]}")
                errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
                if errors:
                    successes.append(f"{what} failed: {errors}")
    assert tried > 9 * len(BUTTONS)  # every role, in every chat they are in
    assert not successes, f"{len(successes)} of {tried} forged actions succeeded:\n" + "\n".join(successes)


async def test_a_refused_command_changes_nothing_even_where_the_person_may_read(h: Harness) -> None:
    """The read-only commands in a building chat of the person's own community change nothing of
    Sunny Side (Bella in Building 8's chat, with junk arguments)."""
    w = await build_world(h)
    for name in sorted(READ_ONLY):
        for args in ("", "1", "99999999999999999999", "#-1 ✓"):
            before = await snapshot(w)
            calls = await h.cmd(BELLA, CHAT8, name, args)
            assert not changed(before, await snapshot(w)), (name, args)
            assert not leaks(calls, CHAT8["id"], w), (name, args)
