"""A world of two communities for the attacks of issue 9 (privilege and privacy): Sunny Side (the
harness's community: staff chat, Building 7 and Building 8, the street office) with an open
election, an appeal, a proposal and a perk; Hill Top next door with its own chats; and one person in
every role that must be refused when acting on Sunny Side's things with forged ids.

``snapshot`` reads every row that belongs to Sunny Side (its appeals, residents, votes, points,
perks, proposals, roles and the notices queued to its chats and people): a refused action leaves it
exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.models import UserInfo
from tests.harness import Harness, code_in, local
from tests.support import updates
from tests.support.botapi import Call

ULLA = updates.user(2001, "Ulla", "ulla_u")  # unit head of unit 2 of Building 7 (Uma heads unit 1)
BELLA = updates.user(2002, "Bella", "bella_b")  # building head of Building 8
RIA = updates.user(2003, "Ria", "ria_r")  # resident of Building 8
OLEG = updates.user(2101, "Oleg", "oleg_staff")  # staff of Hill Top
STAN = updates.user(2102, "Stan", "stan_s")  # street office of Hill Top
ROSA = updates.user(2103, "Rosa", "rosa_r")  # resident of Hill Top
MAX = updates.user(2201, "Max", "max_shop")  # merchant of Sunny Side
NINA = updates.user(2301, "Nina", "nina_n")  # a stranger

CHAT8 = updates.group_chat(-1001000000008, "Building 8")
HILL_STAFF = updates.group_chat(-1001000000101, "Hill staff")
HILL_HOUSE = updates.group_chat(-1001000000102, "Hill 1")
HILL_STREET = updates.group_chat(-1001000000103, "Hill street")
LOBBY = updates.group_chat(-1001000000666, "Some other group")  # registered nowhere

OUTSIDERS = (BELLA, RIA, OLEG, STAN, ROSA, MAX, NINA)  # not in Building 7's chat
OPENS = local(2026, 12, 1, 10, 0)  # the November election opens (a Tuesday, a working day)
SECRET = "SECRET-A1 water leaks from the ceiling"  # the appeal's words: never shown to a forger
RESIDENT_TAG = "rita_r"  # the appeal's resident

# tables that say nothing about rights: who was seen last (users) and the ID-card key (secrets)
# not Sunny Side's state: people, secrets, the person's own private conversation (which building the
# bot asks them for), and who was seen in which building chat (a fact of Telegram's, not an action)
# ... and the statistics' summary of the history (appeal_stats and its watermark: recomputed from the
# appeal history by any read of the figures, whoever reads; derived, not an action)
NOT_STATE = {
    "users",
    "secrets",
    "schema_migrations",
    "building_lookups",
    "building_members",
    "appeal_stats",
    "stats_watermark",
}
# outbox columns that change while sending
SENDING = {"sent_at", "attempts", "claim_token", "claimed_until", "not_before", "last_error", "parts_sent", "failed_at"}


OLGA = updates.user(1001, "Olga", "olga_staff")  # Sunny Side's staff (the harness's), also in Hill Top's staff chat


@dataclass(frozen=True)
class Role:
    name: str
    who: dict[str, Any]
    groups: tuple[dict[str, Any], ...]  # the group chats the person is in (they press buttons there)
    private: bool = True  # attacks from their private chat too (Olga may do anything there)


ROLES = (
    Role("unit head of another unit", ULLA, ()),  # Building 7's chat is added by the world
    Role("building head of another building", BELLA, (CHAT8,)),
    Role("resident of another building", RIA, (CHAT8,)),
    Role("staff of another community", OLEG, (HILL_STAFF,)),
    Role("street office of another street", STAN, (HILL_STREET,)),
    Role("resident of another community", ROSA, (HILL_HOUSE,)),
    Role("merchant", MAX, ()),
    Role("stranger", NINA, (LOBBY,)),
    Role("staff of this community, in another community's chat", OLGA, (HILL_STAFF,), private=False),
)


@dataclass
class World:
    h: Harness
    community: int  # Sunny Side
    hill: int
    b7: int
    b8: int
    unit1: int  # of Building 7 (Uma heads it; Rita lives there)
    unit2: int  # of Building 7 (Ulla heads it)
    appeal: int
    held: int  # a message Rita sent that the bot keeps for her
    election: int
    candidate: int  # Uma on the ballot
    proposal: int  # Building 7's
    perk: int
    category: int
    notice: int = 0  # Sunny Side's notice to its unit heads (Uma and Ulla), sent
    draft: int = 0  # a task the staff wrote but has not sent (its scope buttons are Olga's)
    wish: int = 0  # Rita's micro-wish, open in Building 7's chat (issue 12)
    household: int = 0  # a household of unit 1 on Uma's care list (issue 12)
    chats: set[int] = field(default_factory=set)  # Sunny Side's chats
    people: set[int] = field(default_factory=set)  # Sunny Side's heads, staff and residents

    def ids(self) -> dict[str, int]:
        return {
            "c": self.community,
            "b7": self.b7,
            "b8": self.b8,
            "u1": self.unit1,
            "u2": self.unit2,
            "a": self.appeal,
            "held": self.held,
            "e": self.election,
            "cand": self.candidate,
            "p": self.proposal,
            "perk": self.perk,
            "cat": self.category,
            "nina": NINA["id"],
            "n": self.notice,
            "nd": self.draft,
            "w": self.wish,
            "hh": self.household,
        }


async def _scalar(h: Harness, sql: str, params: tuple[Any, ...] = ()) -> Any:
    async with h.services.db.read() as tx:
        return await tx.fetchval(sql, params)


async def snapshot(w: World) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of Sunny Side, table by table (see the module's text), read in one transaction."""
    reach = w.chats | w.people
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with w.h.services.db.read() as tx:

        async def ids(sql: str) -> set[Any]:
            return {r[0] for r in await tx.fetchall(sql, (w.community,))}

        owned = {
            "community_id": {w.community},
            "appeal_id": await ids("SELECT id FROM appeals WHERE community_id = ?"),
            "election_id": await ids("SELECT id FROM elections WHERE community_id = ?"),
            "proposal_id": await ids("SELECT id FROM proposals WHERE community_id = ?"),
            "building_id": await ids("SELECT id FROM buildings WHERE community_id = ?"),
        }
        tables = [
            r[0]
            for r in await tx.fetchall(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                if tx.dialect == "sqlite"
                else "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
            )
        ]
        for table in tables:
            if table in NOT_STATE or table.startswith("sqlite_"):
                continue
            rows = await tx.fetchall(f"SELECT * FROM {table}")
            if not rows:
                out[table] = []
                continue
            columns = list(rows[0].keys())
            if table == "outbox":
                at, allowed = columns.index("chat_id"), reach
                keep = [i for i, c in enumerate(columns) if c not in SENDING]
            else:
                key = "id" if table == "communities" else next((c for c in owned if c in columns), None)
                at, allowed = (columns.index(key), owned.get(key, {w.community})) if key else (-1, set())
                keep = list(range(len(columns)))
            out[table] = sorted((tuple(repr(r[i]) for i in keep) for r in rows if at < 0 or r[at] in allowed), key=str)
    return out


def changed(before: dict[str, list[tuple[Any, ...]]], after: dict[str, list[tuple[Any, ...]]]) -> list[str]:
    return [t for t in sorted(set(before) | set(after)) if before.get(t) != after.get(t)]


CONTENT_METHODS = ("send", "copyMessage", "copyMessages", "forwardMessage", "forwardMessages", "editMessage")


def leaks(calls: list[Call], place_id: int, w: World) -> list[str]:
    """What the bot sent to Sunny Side's chats and people other than the chat the forger acted in,
    and anything that shows the appeal's words or its resident."""
    found: list[str] = []
    reach = w.chats | w.people
    for c in calls:
        if c.method.startswith(CONTENT_METHODS) and c.chat_id in reach and c.chat_id != place_id:
            found.append(f"{c.method} to {c.chat_id}")
        text = c.text or ""
        if SECRET[:9] in text or RESIDENT_TAG in text:
            found.append(f"{c.method} showed the appeal: {text[:60]!r}")
    return found


async def _join(h: Harness, person: dict[str, Any], chat: dict[str, Any], unit: str) -> None:
    calls = await h.cmd(person, chat, "myunit")
    data = next(d for label, d in calls[-1].buttons if label.endswith(unit))
    await h.press(person, calls[-1], data)


async def build_world(h: Harness) -> World:
    p, tg = h.p, h.rt.telegram
    await h.setup_community(elections=True)
    chat7 = p.building_chat
    await h.cmd(p.staff, chat7, "unithead", "2", reply_to=updates.message(ULLA, chat7, "hi"))
    # Building 8 of Sunny Side, with its own head
    tg.admins[CHAT8["id"]] = [p.staff]
    await h.cmd(p.staff, CHAT8, "register", code_in(await h.cmd(p.staff, p.staff_chat, "invite")))
    await h.cmd(p.staff, CHAT8, "units", "1-2")
    await h.cmd(p.staff, CHAT8, "buildinghead", reply_to=updates.message(BELLA, CHAT8, "hi"))
    # Hill Top next door
    tg.admins[HILL_STAFF["id"]] = [OLEG, OLGA]
    tg.admins[HILL_HOUSE["id"]] = [OLEG]
    tg.admins[HILL_STREET["id"]] = [STAN]
    await h.cmd(OLEG, HILL_STAFF, "newcommunity", "Hill Top")
    await h.cmd(OLEG, HILL_HOUSE, "register", code_in(await h.cmd(OLEG, HILL_STAFF, "invite")))
    await h.cmd(OLEG, HILL_HOUSE, "units", "1-2")
    await h.cmd(STAN, HILL_STREET, "linkstreet", code_in(await h.cmd(OLEG, HILL_STAFF, "streetcode")))
    for person in (ULLA, BELLA, RIA, OLEG, STAN, ROSA, MAX, NINA, p.resident):
        await h.cmd(person, updates.private_chat(person), "start")
    # who is in Building 7's chat, as Telegram answers getChatMember: only its own people
    tg.members[chat7["id"]] = {r.who["id"]: updates.chat_member(r.who, "left") for r in ROLES if r.who in OUTSIDERS}
    await _join(h, p.resident, chat7, "1")
    await _join(h, RIA, CHAT8, "1")
    await _join(h, ROSA, HILL_HOUSE, "1")
    # the November election opens; then Rita files an appeal and writes once more
    h.clock.set(OPENS)
    calls = await h.sweep()
    ballot = [c for c in calls if c.chat_id == chat7["id"] and any(d.startswith("ev:") for _, d in c.buttons)][-1]
    vote = next(d for _, d in ballot.buttons if d.startswith("ev:") and d.endswith(f":{p.uhead['id']}"))
    appeal = await h.file_appeal(text=SECRET)
    kept = await h.text(p.resident, "and the light is out")
    held = next(d for _, d in kept[-1].buttons if d.startswith("f:new:"))
    # Rita agrees to show it in Building 7's chat as a shared problem (Me too, issue 12)
    await h.services.metoo.publish(UserInfo(p.resident["id"], p.resident["first_name"]), appeal)
    await h.app.bot_data.outbox().drain()
    # a proposal in every building, a merchant and a perk
    await h.cmd(p.staff, p.staff_chat, "propose", "Paint the front door?")
    await h.cmd(p.staff, p.staff_chat, "merchant", "@max_shop Tea house")
    await h.cmd(p.staff, p.staff_chat, "perk", "add Food | @max_shop | Green tea | 5")
    ctx7 = await h.services.registry.chat_context(chat7["id"])
    ctx8 = await h.services.registry.chat_context(CHAT8["id"])
    hill = await h.services.registry.chat_context(HILL_STAFF["id"])
    units = {u.name: u.id for u in await h.services.registry.units(ctx7.building.id)}
    world = World(
        h=h,
        community=ctx7.community.id,
        hill=hill.community.id,
        b7=ctx7.building.id,
        b8=ctx8.building.id,
        unit1=units["1"],
        unit2=units["2"],
        appeal=appeal,
        held=int(held.split(":")[2]),
        election=int(vote.split(":")[1]),
        candidate=int(vote.split(":")[2]),
        proposal=await _scalar(h, "SELECT id FROM proposals WHERE building_id = ?", (ctx7.building.id,)),
        perk=await _scalar(h, "SELECT id FROM perks WHERE community_id = ?", (ctx7.community.id,)),
        category=await _scalar(h, "SELECT id FROM perk_categories WHERE community_id = ?", (ctx7.community.id,)),
    )
    # a notice sent to every unit head (read receipts), and a task still waiting for its scope
    calls = await h.cmd(p.staff, p.staff_chat, "notice", "Water is off on Thursday")
    world.notice = int(calls[-1].buttons[0][1].split(":")[2])
    await h.press(p.staff, calls[-1], f"nt:s:{world.notice}:h")
    calls = await h.cmd(p.staff, p.staff_chat, "task", "2026-12-18 Check the fire doors")
    world.draft = int(calls[-1].buttons[0][1].split(":")[2])
    world.wish, world.household = await _wish_and_household(h)
    world.chats = {p.staff_chat["id"], chat7["id"], CHAT8["id"], p.street_chat["id"]}
    world.people = {u["id"] for u in (p.staff, p.bhead, p.uhead, p.resident, p.street, ULLA, BELLA, RIA, MAX)}
    assert all(world.ids().values()), world.ids()
    return world


async def _wish_and_household(h: Harness) -> tuple[int, int]:
    """Issue 12: Rita posts a micro-wish (without her name); Uma puts a household of unit 1 on the care
    list (its label and note are private)."""
    p = h.p
    rita, uma = updates.private_chat(p.resident), updates.private_chat(p.uhead)
    await h.cmd(p.resident, rita, "wish")
    await h.text(p.resident, "Please help me change a light bulb")
    await h.press(p.resident, h.last_to(rita), "wi:t:7")
    await h.press(p.resident, h.last_to(rita), "wi:n:0")
    wish = await _scalar(h, "SELECT id FROM wishes WHERE resident_id = ? AND state = 'open'", (p.resident["id"],))
    await h.cmd(p.uhead, uma, "care")
    await h.press(p.uhead, h.last_to(uma), "cr:new:0")
    unit = next(d for _, d in h.last_to(uma).buttons if d.startswith("cr:u:"))
    await h.press(p.uhead, h.last_to(uma), unit)
    await h.text(p.uhead, "Flat 101")
    for data in ("cr:n:1", "cr:f:7", "cr:k:0"):
        await h.press(p.uhead, h.last_to(uma), data)
    household = await _scalar(h, "SELECT id FROM care_households WHERE state = 'active'")
    return int(wish), int(household)
