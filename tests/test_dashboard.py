"""The staff dashboard (issue 11): the initData signature check, and the /app/ routes through a real
socket on top of the real application (harness): who gets what, and actions that reach people
through the outbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.services.dashboard.auth import InitDataRejected, parse_fields, sign_init_data, verify_init_data
from bot.web import WebServer
from bot.web.dashboard import DashboardRoutes
from tests.harness import TOKEN, Harness
from tests.support import updates

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def init_data(
    user: dict[str, Any], *, token: str = TOKEN, at: datetime = NOW, extra: dict[str, str] | None = None
) -> str:
    fields = {
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps(
            {
                "id": user["id"],
                "first_name": user["first_name"],
                "username": user.get("username"),
                "language_code": "en",
            }
        ),
        "auth_date": str(int(at.timestamp())),
        **(extra or {}),
    }
    return sign_init_data(fields, token)


# --- the signature ---------------------------------------------------------------------------------
def test_a_signed_init_data_is_accepted_and_names_the_user() -> None:
    user = verify_init_data(init_data({"id": 1001, "first_name": "Olga"}), TOKEN, NOW)
    assert (user.id, user.first_name, user.language_code) == (1001, "Olga", "en")


def test_stale_future_and_wrong_token_are_refused() -> None:
    person = {"id": 1001, "first_name": "Olga"}
    with pytest.raises(InitDataRejected, match="stale"):
        verify_init_data(init_data(person, at=NOW - timedelta(hours=25)), TOKEN, NOW)
    with pytest.raises(InitDataRejected, match="future"):
        verify_init_data(init_data(person, at=NOW + timedelta(hours=1)), TOKEN, NOW)
    with pytest.raises(InitDataRejected, match="signature"):
        verify_init_data(init_data(person, token="999:" + TOKEN.split(":")[1]), TOKEN, NOW)
    for raw in ("", "hash=abc", "a=1&a=2", "%%%", "x" * 9000):
        with pytest.raises(InitDataRejected):
            verify_init_data(raw, TOKEN, NOW)


FIELD_VALUES = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=0, max_size=30)


@settings(max_examples=150, deadline=None)
@given(
    field=st.sampled_from(["user", "auth_date", "query_id", "chat_instance", "hash"]),
    value=FIELD_VALUES,
    extra=st.dictionaries(st.from_regex(r"[a-z_]{1,10}", fullmatch=True), FIELD_VALUES, max_size=3),
)
def test_any_tampered_field_fails(field: str, value: str, extra: dict[str, str]) -> None:
    """Whatever field is changed (or added) after signing, the signature no longer holds."""
    extra = {k: v for k, v in extra.items() if k not in ("user", "auth_date", "query_id", "hash")}
    raw = init_data({"id": 1001, "first_name": "Olga"}, extra={"chat_instance": "-42", **extra})
    fields = parse_fields(raw)
    if fields.get(field) == value:
        return
    tampered = dict(fields, **{field: value})
    from urllib.parse import urlencode

    with pytest.raises(InitDataRejected):
        verify_init_data(urlencode(tampered), TOKEN, NOW)


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=300))
def test_garbage_never_passes_and_never_raises_anything_else(raw: str) -> None:
    with pytest.raises(InitDataRejected):
        verify_init_data(raw, TOKEN, NOW)


# --- the routes ----------------------------------------------------------------------------------
class Client:
    def __init__(self, server: WebServer) -> None:
        self.base = f"http://127.0.0.1:{server.port}"

    async def get(self, path: str, auth: str | None) -> tuple[int, str]:
        headers = {"Authorization": f"tma {auth}"} if auth is not None else {}
        async with aiohttp.ClientSession() as s, s.get(self.base + path, headers=headers) as r:
            return r.status, await r.text()

    async def post(self, path: str, auth: str, form: dict[str, str]) -> tuple[int, str]:
        async with (
            aiohttp.ClientSession() as s,
            s.post(self.base + path, headers={"Authorization": f"tma {auth}"}, data=form) as r,
        ):
            return r.status, await r.text()


async def serve_dashboard(h: Harness, *, kick: bool = True) -> tuple[WebServer, Client]:
    queued = h.app.bot_data.outbox().kick if kick else (lambda: None)
    routes = DashboardRoutes(h.services.dashboard, h.services.catalogs, TOKEN, h.clock, queued)
    server = WebServer("127.0.0.1", 0, [routes])
    await server.start()
    return server, Client(server)


def signed(h: Harness, who: dict[str, Any]) -> str:
    return init_data(who, at=h.clock.now())


async def test_no_data_without_a_valid_fresh_signature(h: Harness) -> None:
    await h.setup_community()
    await h.file_appeal()
    server, client = await serve_dashboard(h)
    try:
        status, shell = await client.get("/app/", None)
        assert status == 200 and "only inside Telegram" in shell  # the page itself holds no data
        for page in ("overview", "appeals", "appeal?id=1", "heads", "elections", "report?month=2026-11"):
            status, body = await client.get(f"/app/api/{page}", None)
            assert status == 401 and "lift" not in body
            forged = init_data(h.p.staff, token="999:" + TOKEN.split(":")[1], at=h.clock.now())
            status, body = await client.get(f"/app/api/{page}", forged)
            assert status == 401 and "could not be confirmed" in body and "lift" not in body
            stale = init_data(h.p.staff, at=h.clock.now() - timedelta(days=2))
            assert (await client.get(f"/app/api/{page}", stale))[0] == 401
        status, _ = await client.post("/app/api/appeal/1/escalate", "user=1", {})
        assert status == 401
    finally:
        await server.stop()


async def test_a_person_without_a_post_gets_403(h: Harness) -> None:
    await h.setup_community()
    await h.file_appeal()
    server, client = await serve_dashboard(h)
    try:
        status, body = await client.get("/app/api/overview", signed(h, h.p.resident))
        assert status == 403 and "no such post" in body
        status, body = await client.get("/app/api/appeal?id=1", signed(h, h.p.resident))
        assert status == 403 and "lift" not in body
    finally:
        await server.stop()


async def test_a_head_sees_their_own_and_not_another_building(h: Harness) -> None:
    await h.setup_community()
    other_chat = updates.group_chat(-1001000000009, "Building 9")
    h.rt.telegram.admins[other_chat["id"]] = [h.p.staff]
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "invite")
    await h.cmd(h.p.staff, other_chat, "register", (calls[-1].text or "").split(":", 1)[1].split()[0])
    other = await h.services.registry.chat_context(other_chat["id"])
    mine = await h.services.registry.chat_context(h.p.building_chat["id"])
    appeal_id = await h.file_appeal()
    server, client = await serve_dashboard(h)
    try:
        status, body = await client.get(f"/app/api/appeals?building={other.building.id}", signed(h, h.p.bhead))
        assert status == 403 and "only your own buildings" in body
        status, body = await client.get(f"/app/api/appeals?building={mine.building.id}", signed(h, h.p.bhead))
        assert status == 200 and f'data-appeal="{appeal_id}"' in body
        status, body = await client.get("/app/api/appeals?status=bogus", signed(h, h.p.bhead))
        assert status == 400
        status, body = await client.get("/app/api/overview?month=2030-01", signed(h, h.p.staff))
        assert status == 400 and "not begun" in body
        # the unit head sees their unit's appeal; staff see the whole community
        assert f'data-appeal="{appeal_id}"' in (await client.get("/app/api/appeals", signed(h, h.p.uhead)))[1]
        status, body = await client.get("/app/api/overview", signed(h, h.p.staff))
        assert status == 200 and "Response rate" in body and "Building 7" in body and "Building 9" in body
        status, body = await client.get("/app/api/overview", signed(h, h.p.bhead))
        assert status == 200 and "Building 7" in body and "Building 9" not in body
    finally:
        await server.stop()


async def test_timeline_and_staff_actions_reach_people_through_the_outbox(h: Harness) -> None:
    await h.setup_community()
    appeal_id = await h.file_appeal()
    server, client = await serve_dashboard(h)
    outbox = h.app.bot_data.outbox()
    try:
        status, body = await client.get(f"/app/api/appeal?id={appeal_id}", signed(h, h.p.staff))
        assert status == 200 and "The lift is broken" in body and "History" in body and "Deadlines" in body
        assert 'data-event="filed"' in body and 'value="building"' in body
        # a unit head may reply and escalate, but not reassign
        status, body = await client.get(f"/app/api/appeal?id={appeal_id}", signed(h, h.p.uhead))
        assert 'data-action="reply"' in body and 'data-action="reassign"' not in body
        status, body = await client.post(
            f"/app/api/appeal/{appeal_id}/reassign", signed(h, h.p.uhead), {"target": "building"}
        )
        assert status == 403
        # staff give it to the building head: the head gets the card, the resident is told
        before = len(h.rt.telegram.calls)
        status, body = await client.post(
            f"/app/api/appeal/{appeal_id}/reassign", signed(h, h.p.staff), {"target": "building"}
        )
        assert status == 200 and "now goes to Boris" in body and 'data-event="reassigned"' in body
        await outbox.wait_idle()  # the route started the outbox sender itself
        told = [c.text or "" for c in h.rt.telegram.calls[before:] if c.method == "sendMessage"]
        assert any(
            f"Appeal #{appeal_id} was passed to you (building head): reassigned by the community staff" in t
            for t in told
        ), told
        assert any(
            f"Your appeal #{appeal_id} was passed to the building head by the community staff" in t for t in told
        ), told
        assert any("was reassigned by the community staff" in t for t in told), told  # the unit head who had it
        status, _ = await client.post(
            f"/app/api/appeal/{appeal_id}/reassign", signed(h, h.p.staff), {"target": "building"}
        )
        assert status == 409  # already there
        assert (await client.post(f"/app/api/appeal/{appeal_id}/reassign", signed(h, h.p.staff), {"target": "x"}))[
            0
        ] == 400
        # a reply typed on the page reaches the resident, once, however often it is submitted
        form = {"text": "A technician comes at 3 pm", "key": "k3y-0123456789"}
        before = len(h.rt.telegram.calls)
        for _ in range(2):
            status, body = await client.post(f"/app/api/appeal/{appeal_id}/reply", signed(h, h.p.staff), form)
            assert status == 200
        await outbox.drain()
        replies = [c for c in h.rt.telegram.calls[before:] if "technician comes" in (c.text or "")]
        assert [c.chat_id for c in replies] == [h.p.resident["id"]]
        # escalate from the page: the same rules as the button
        status, body = await client.post(f"/app/api/appeal/{appeal_id}/escalate", signed(h, h.p.staff), {})
        assert status == 200 and "passed" in body.lower()
    finally:
        await server.stop()


async def test_dashboard_command_gives_staff_the_mini_app_and_refuses_residents(h: Harness, tmp_path: Any) -> None:
    await h.setup_community()
    h.services.settings.public_url = "https://dash.example.org"
    calls = await h.cmd(h.p.staff, updates.private_chat(h.p.staff), "dashboard")
    sent = [c for c in calls if c.method == "sendMessage"]
    assert sent and sent[-1].params["reply_markup"]["inline_keyboard"][0][0]["web_app"] == {
        "url": "https://dash.example.org/app/"
    }
    menu = [c for c in calls if c.method == "setChatMenuButton"]
    assert menu and menu[-1].params["menu_button"]["type"] == "web_app"
    calls = await h.cmd(h.p.resident, updates.private_chat(h.p.resident), "dashboard")
    assert not [c for c in calls if c.method == "setChatMenuButton"]
    assert any("no such post" in (c.text or "") for c in calls)
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "dashboard")
    assert not [c for c in calls if c.method == "setChatMenuButton"]


async def test_heads_elections_and_reports_pages(h: Harness) -> None:
    await h.setup_community()
    await h.file_appeal()
    server, client = await serve_dashboard(h)
    try:
        status, body = await client.get("/app/api/heads", signed(h, h.p.staff))
        assert status == 200 and 'data-head="1002"' in body and 'data-head="1003"' in body  # Boris, Uma
        assert "Uma" in body and "Holds now: 1 open, 0 overdue" in body and "Building 7, unit 1" in body
        status, body = await client.get("/app/api/elections", signed(h, h.p.staff))
        assert status == 200 and "No elections" in body
        status, body = await client.get("/app/api/reports", signed(h, h.p.staff))
        assert status == 200 and 'data-download="report?month=2026-11&amp;format=xlsx"' in body
        async with (
            aiohttp.ClientSession() as s,
            s.get(
                client.base + "/app/api/report?month=2026-11&format=xlsx",
                headers={"Authorization": f"tma {signed(h, h.p.staff)}"},
            ) as r,
        ):
            assert r.status == 200 and r.headers["Content-Disposition"].endswith('report-2026-11.xlsx"')
            content = await r.read()
        from io import BytesIO

        from openpyxl import load_workbook

        book = load_workbook(BytesIO(content), read_only=True)
        assert len(book.sheetnames) == 4  # summary, buildings, heads, the month's appeals
        cells = [str(c) for row in book[book.sheetnames[1]].iter_rows(values_only=True) for c in row]
        assert "Building 7" in cells
        status, body = await client.get("/app/api/report?month=2026-11&format=csv", signed(h, h.p.staff))
        assert status == 200 and "\n1,Building 7,1," in body and "filed" in body
        assert (await client.get("/app/api/report?month=2030-01&format=csv", signed(h, h.p.staff)))[0] == 400
        # a building head gets the report of their building
        assert (await client.get("/app/api/report?month=2026-11&format=csv", signed(h, h.p.bhead)))[0] == 200
        # a unit head: their own unit's figures, no reports
        status, body = await client.get("/app/api/overview", signed(h, h.p.uhead))
        assert status == 200 and "Filed this month: 1" in body
        assert (await client.get("/app/api/reports", signed(h, h.p.uhead)))[0] == 403
        assert (await client.get("/app/api/report?month=2026-11&format=csv", signed(h, h.p.uhead)))[0] == 403
        # the street office sees the community linked to it
        status, body = await client.get("/app/api/overview", signed(h, h.p.street))
        assert status == 200 and "Building 7" in body
        # the shell speaks the browser's language; the pages the person's
        async with (
            aiohttp.ClientSession() as s,
            s.get(client.base + "/app/", headers={"Accept-Language": "zh-CN"}) as r,
        ):
            assert "只能在 Telegram 中使用" in await r.text()
            assert r.headers["Cache-Control"] == "no-store"
            assert "script-src 'self' https://telegram.org;" in r.headers["Content-Security-Policy"]
    finally:
        await server.stop()


async def test_a_reassignment_survives_a_crash_before_its_messages_went_out(tmp_path: Any) -> None:
    """The move and its messages are one transaction: a process that dies right after the page's
    request leaves the messages in the outbox; the next process sends them, once."""
    from bot.app import open_storage
    from tests.harness import local, make_harness

    first, app = await make_harness(tmp_path, local(2026, 11, 23, 10, 0))
    async with app:
        await open_storage(app)
        await first.setup_community()
        appeal_id = await first.file_appeal()
        await app.bot_data.outbox().wait_idle()
        server, client = await serve_dashboard(first, kick=False)
        try:
            status, _ = await client.post(
                f"/app/api/appeal/{appeal_id}/reassign", signed(first, first.p.staff), {"target": "building"}
            )
            assert status == 200
        finally:
            await server.stop()
        await app.bot_data.services.db.close()  # the process dies before the outbox ran
    assert not [t for t in first.texts(first.p.bhead) if "reassigned by the community staff" in t]

    second, app = await make_harness(tmp_path, local(2026, 11, 23, 10, 1))  # the same database
    async with app:
        await open_storage(app)
        await app.bot_data.outbox().drain()
        await app.bot_data.outbox().drain()
        await app.bot_data.outbox().wait_idle()
        assert (
            len(
                [
                    t
                    for t in second.texts(second.p.bhead)
                    if f"Appeal #{appeal_id} was passed to you (building head)" in t
                ]
            )
            == 1
        )
        assert (
            len(
                [
                    t
                    for t in second.texts(second.p.resident)
                    if "was passed to the building head by the community staff" in t
                ]
            )
            == 1
        )
        await app.bot_data.services.db.close()


def test_the_public_url_must_be_https(tmp_path: Any) -> None:
    from pydantic import ValidationError

    from tests.harness import make_settings

    assert make_settings(tmp_path / "x.db", public_url="https://bot.example.org/").dashboard_url == (
        "https://bot.example.org/app/"
    )
    assert make_settings(tmp_path / "x.db").dashboard_url is None
    for bad in ("http://bot.example.org", "https://", "https://bot.example.org/?x=1", "bot.example.org"):
        with pytest.raises(ValidationError, match="public_url"):
            make_settings(tmp_path / "x.db", public_url=bad)


async def test_the_timeline_shows_a_paused_clock_and_the_words_of_each_step(h: Harness) -> None:
    from tests.harness import bot_message
    from tests.test_appeal_workflow import act, take

    await h.setup_community()
    appeal_id = await h.file_appeal()
    await take(h, appeal_id)
    h.clock.advance(timedelta(hours=1))
    await act(h, h.p.uhead, appeal_id, "ask", "Which floor is it?")
    server, client = await serve_dashboard(h)
    try:
        status, body = await client.get(f"/app/api/appeal?id={appeal_id}", signed(h, h.p.bhead))
        assert status == 200 and "Which floor is it?" in body and "still waiting" in body
        assert "Mon 23 Nov, 11:00 → still waiting" in body
        h.clock.advance(timedelta(days=2))
        question = bot_message(h, h.p.resident["id"], f"A question about your appeal #{appeal_id}")
        await h.send(
            updates.message(h.p.resident, updates.private_chat(h.p.resident), "The 3rd floor", reply_to=question)
        )
        status, body = await client.get(f"/app/api/appeal?id={appeal_id}", signed(h, h.p.bhead))
        assert "Mon 23 Nov, 11:00 → Wed 25 Nov, 11:00" in body and "The 3rd floor" in body
        assert "dash.deadline" not in body and "{" not in body.replace("{}", "")  # every text rendered
    finally:
        await server.stop()


async def test_turnout_empty_months_and_an_empty_community(h: Harness) -> None:
    from storage.elections import ElectionsRepo

    await h.setup_community()
    ctx = await h.services.registry.chat_context(h.p.building_chat["id"])
    now = h.clock.now()
    async with h.services.db.write() as tx:  # a closed election of October with its stored turnout
        repo = ElectionsRepo(tx)
        await repo.create(
            community_id=ctx.community.id,
            period="2026-10",
            opens_at=now - timedelta(days=20),
            closes_at=now - timedelta(days=13),
            top_n=3,
            scope="own_building",
            now=now - timedelta(days=30),
        )
        election = await repo.by_period(ctx.community.id, "2026-10")
        assert election is not None
        await repo.mark_open(election.id, now - timedelta(days=20))
        await repo.mark_closed(election.id, now - timedelta(days=13))
        await repo.add_turnout(election.id, [(ctx.building.id, 3, 12), (0, 3, 12)])
    # an empty community of another staff chat: its staff get a clear page, not an error
    other_staff = updates.user(1101, "Ivan", "ivan_s")
    other_chat = updates.group_chat(-1001000000042, "Other staff")
    h.rt.telegram.admins[other_chat["id"]] = [other_staff]
    await h.cmd(other_staff, other_chat, "newcommunity", "Empty Side")
    server, client = await serve_dashboard(h)
    try:
        status, body = await client.get("/app/api/elections", signed(h, h.p.staff))
        assert status == 200 and "Building 7" in body and "3 / 12" in body and "25%" in body
        status, body = await client.get("/app/api/elections", signed(h, h.p.bhead))  # their building's
        assert status == 200 and "3 / 12" in body
        status, body = await client.get("/app/api/overview?month=2026-10", signed(h, h.p.staff))
        assert status == 200 and "No appeals were filed this month yet" in body and "October 2026" in body
        status, body = await client.get("/app/api/overview", signed(h, other_staff))
        assert status == 200 and "No buildings yet" in body
        status, body = await client.get("/app/api/appeals", signed(h, other_staff))
        assert status == 200 and "No appeals match" in body
        assert (await client.get("/app/api/elections", signed(h, other_staff)))[0] == 200
        # another community's staff: nothing of this one, whatever id they send
        appeal_id = await h.file_appeal()
        status, body = await client.get(f"/app/api/appeal?id={appeal_id}", signed(h, other_staff))
        assert status == 403 and "lift" not in body
        building = ctx.building.id
        assert (await client.get(f"/app/api/appeals?building={building}", signed(h, other_staff)))[0] == 403
        for action, form in (
            ("reassign", {"target": "staff"}),
            ("escalate", {}),
            ("reply", {"text": "hi", "key": "k" * 12}),
        ):
            status, _ = await client.post(f"/app/api/appeal/{appeal_id}/{action}", signed(h, other_staff), form)
            assert status == 403, action
        assert (await client.get("/app/api/appeal?id=999999", signed(h, h.p.staff)))[0] == 404
        assert (await client.get("/app/api/appeal?id=abc", signed(h, h.p.staff)))[0] == 400
        assert (await client.get("/app/api/appeal?id=99999999999999999999", signed(h, h.p.staff)))[0] == 400
        status, body = await client.get("/app/api/overview?month=2026-13", signed(h, h.p.staff))
        assert status == 400 and "YYYY-MM" in body
    finally:
        await server.stop()


def test_the_web_layer_never_imports_the_telegram_wiring() -> None:
    """bot/web reaches the services through what it is given, never through handlers/ (PTB)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "bot" / "web"
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not [n for n in names if n.startswith(("handlers", "telegram", "bot.app"))], (path, names)
