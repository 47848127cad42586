"""The bot's HTTP server parts (webhook, health, metrics), the operations settings, logs, bug reports
and the webhook registration, through real sockets and the real PTB application."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import ValidationError

from bot.config import Settings
from bot.logging import JsonFormatter, TextFormatter, appeal_scope, setup_logging
from bot.metrics import Metrics
from bot.runtime import register_webhook
from bot.services.operations import BugReport, OperatorReports
from bot.web import HealthRoutes, WebhookRoute, WebServer
from storage.engines import open_database
from storage.migrate import migrate
from tests.harness import TOKEN, Harness, make_settings
from tests.support import updates

SECRET = "k3Yp9sQ2vX7wL1mN8bR4tZ6cJ0hF5dGa"


class Accepted:
    def __init__(self, fail: bool = False) -> None:
        self.raw: list[dict[str, Any]] = []
        self.fail = fail
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, raw: dict[str, Any]) -> bool:
        await self.release.wait()
        if self.fail:
            raise RuntimeError("database is locked")
        self.raw.append(raw)
        return True


async def serve(*parts: Any) -> WebServer:
    server = WebServer("127.0.0.1", 0, list(parts))
    await server.start()
    return server


async def post(server: WebServer, body: bytes, secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"http://127.0.0.1:{server.port}/hook", data=body, headers=headers) as response,
    ):
        return response.status


async def get(server: WebServer, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{server.port}{path}") as response:
        return response.status, await response.text()


UPDATE = json.dumps({"update_id": 7, "message": {"message_id": 1}}).encode()


async def test_the_webhook_checks_the_secret_before_anything_else() -> None:
    accept, outcomes = Accepted(), list[str]()
    server = await serve(WebhookRoute("/hook", SECRET, accept, outcomes.append))
    try:
        assert await post(server, UPDATE, None) == 403
        assert await post(server, UPDATE, SECRET[:-1] + "b") == 403
        assert await post(server, UPDATE, SECRET + "x") == 403
        assert await post(server, b"{broken", "wrong") == 403  # not even parsed
        assert accept.raw == []
        assert await post(server, b"{broken", SECRET) == 400
        assert await post(server, b'{"message": {}}', SECRET) == 400  # no update_id
        assert await post(server, UPDATE, SECRET) == 200
        assert accept.raw == [json.loads(UPDATE)]
        assert outcomes == ["forbidden"] * 4 + ["bad_request"] * 2 + ["accepted"]
    finally:
        await server.stop()


async def test_the_webhook_answers_only_after_the_update_was_accepted() -> None:
    accept = Accepted()
    accept.release.clear()
    server = await serve(WebhookRoute("/hook", SECRET, accept))
    try:
        answer = asyncio.create_task(post(server, UPDATE, SECRET))
        for _ in range(20):
            await asyncio.sleep(0.01)
        assert not answer.done()  # Telegram gets no 200 while the update is not stored
        accept.release.set()
        assert await answer == 200
        failing = Accepted(fail=True)
        server2 = await serve(WebhookRoute("/hook", SECRET, failing))
        try:
            assert await post(server2, UPDATE, SECRET) == 500  # Telegram will deliver it again
        finally:
            await server2.stop()
    finally:
        await server.stop()


async def test_health_readiness_and_metrics_routes() -> None:
    reasons: list[str] = []

    async def not_ready() -> list[str]:
        return reasons

    metrics = Metrics("test-1")

    async def render() -> tuple[bytes, str]:
        return metrics.render(), "text/plain"

    server = await serve(HealthRoutes(not_ready, render, "test-1"))
    try:
        assert await get(server, "/healthz") == (200, '{"status": "ok", "instance": "test-1"}')
        assert (await get(server, "/readyz"))[0] == 200
        reasons.append("outbox stuck: 3 due, the oldest waiting 900s")
        status, body = await get(server, "/readyz")
        assert status == 503 and json.loads(body)["reasons"] == reasons
        metrics.updates.labels("message").inc()
        status, body = await get(server, "/metrics")
        assert status == 200 and 'unitbot_updates_total{kind="message"} 1.0' in body
        assert (await get(server, "/nothing"))[0] == 404
    finally:
        await server.stop()


def test_each_application_has_its_own_metrics() -> None:
    a, b = Metrics("a"), Metrics("b")
    a.updates.labels("message").inc(3)
    assert 'unitbot_updates_total{kind="message"} 3.0' in a.render().decode()
    assert "unitbot_updates_total{" not in b.render().decode()


# --- settings ------------------------------------------------------------------------------------
def settings(**values: Any) -> Settings:
    return Settings(token=TOKEN, _env_file=None, **values)


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (None, "is required when UNITBOT_WEBHOOK_URL is set"),
        ("short-secret", "too weak"),
        ("a" * 40, "too weak"),
        ("has spaces and = signs, 32 chars long!!", "may contain only"),
    ],
)
def test_webhook_mode_needs_a_strong_secret(secret: str | None, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        settings(webhook_url="https://bot.example.org/webhook", webhook_secret=secret)
    errors = info.value.errors()
    assert [e["loc"] for e in errors] == [("webhook_secret",)]
    assert message in errors[0]["msg"]
    assert secret is None or secret not in errors[0]["msg"]  # what python -m bot prints never echoes it


def test_webhook_and_listen_settings() -> None:
    s = settings(webhook_url="https://bot.example.org/tg/hook", webhook_secret=SECRET, http_listen="0.0.0.0:9000")
    assert (s.webhook_path, s.http_host, s.http_port) == ("/tg/hook", "0.0.0.0", 9000)
    assert settings().webhook_url is None and settings().http_listen == "127.0.0.1:8080"
    assert settings(webhook_secret="x").webhook_secret is not None  # ignored in polling mode
    for bad in ("8080", "localhost:", "host:99999"):
        with pytest.raises(ValidationError):
            settings(http_listen=bad)
    with pytest.raises(ValidationError):
        settings(webhook_url="ftp://bot.example.org/x", webhook_secret=SECRET)


# --- logs ----------------------------------------------------------------------------------------
def _record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    record = logging.LogRecord("handlers.x", logging.ERROR, __file__, 1, message, args, None)
    if exc is not None:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    return record


def test_log_lines_carry_instance_and_appeal_and_never_the_token() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    outputs: dict[str, str] = {}
    try:
        for log_format in ("text", "json"):
            stream = io.StringIO()
            setup_logging("INFO", [TOKEN], instance="bot-7", log_format=log_format)
            root.handlers[0].stream = stream  # type: ignore[attr-defined]
            log = logging.getLogger("handlers.test")
            with appeal_scope(42):
                log.info("sending to https://api.telegram.org/bot%s/sendMessage", TOKEN)
            log.info("no appeal here")
            try:
                raise RuntimeError(f"url https://api.telegram.org/bot{TOKEN}/getMe failed")
            except RuntimeError:
                log.exception("boom")
            outputs[log_format] = stream.getvalue()
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    lines = outputs["text"].splitlines()
    assert " bot-7 INFO handlers.test: [appeal 42] sending to https://api.telegram.org/bot<token>/" in lines[0]
    assert " bot-7 INFO handlers.test: no appeal here" in lines[1]
    assert " bot-7 ERROR handlers.test: boom" in lines[2] and "Traceback" in outputs["text"]
    entries = [json.loads(line) for line in outputs["json"].splitlines()]
    assert len(entries) == 3  # a traceback stays inside its JSON line
    assert entries[0]["instance"] == "bot-7" and entries[0]["appeal_id"] == 42
    assert "appeal_id" not in entries[1]
    assert entries[2]["message"] == "boom" and "RuntimeError" in entries[2]["exception"]
    assert "<token>" in entries[2]["exception"]
    for out in outputs.values():
        assert TOKEN not in out and TOKEN.split(":", 1)[1] not in out


def test_formatters_redact_even_without_the_filter() -> None:
    exc = ValueError(f"bad {TOKEN}")
    for formatter in (TextFormatter([TOKEN]), JsonFormatter([TOKEN])):
        out = formatter.format(_record("token %s", TOKEN, exc=exc))
        assert TOKEN not in out and "<token>" in out


# --- bug reports ---------------------------------------------------------------------------------
async def test_bug_reports_are_rate_limited_across_instances(h: Harness, tmp_path: Path) -> None:
    other = open_database(h.services.db.url)  # a second instance on the same database
    await other.connect()
    try:
        await migrate(other)
        interval = timedelta(minutes=30)
        first, second = OperatorReports(h.services.db, h.clock, interval), OperatorReports(other, h.clock, interval)
        bug = BugReport("KeyError", "bot.services.filing:120", "message", "bot-1")
        assert await first.claim(bug) == 0
        assert await second.claim(bug) is None  # the other instance reported it a moment ago
        assert await second.claim(bug) is None
        assert await first.claim(BugReport("KeyError", "bot.services.filing:121", "message", "bot-1")) == 0
        h.clock.advance(interval + timedelta(seconds=1))
        assert await second.claim(bug) == 2  # reported again, with how often it was seen meanwhile
    finally:
        await other.close()


@pytest.fixture
async def operator_h(tmp_path: Path) -> Any:
    from bot.app import open_storage
    from tests.conftest import E2E_START
    from tests.harness import make_harness

    harness, app = await make_harness(tmp_path, E2E_START, operator_chat=-100777)
    async with app:
        await open_storage(app)
        try:
            yield harness
        finally:
            await app.bot_data.outbox().wait_idle()
            await app.bot_data.services.db.close()


async def test_a_bug_in_a_handler_is_reported_once_without_personal_data(
    operator_h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = operator_h
    rita = h.p.resident

    async def broken(*args: Any) -> None:
        raise KeyError(f"{rita['first_name']} typed: my flat is 12")

    monkeypatch.setattr(h.services.registry, "mark_started", broken)
    for _ in range(3):
        calls = await h.send(updates.command(rita, updates.private_chat(rita), "start"))
        assert any("went wrong" in (c.text or "") for c in calls if c.chat_id == rita["id"])
    reports = h.rt.texts(-100777)
    assert len(reports) == 1, reports
    report = reports[0]
    assert "KeyError" in report and "handlers.general:" in report and "message" in report
    for personal in ("Rita", "flat", "12", str(rita["id"]), "rita_r"):
        assert personal not in report.replace("handlers.general:", ""), (personal, report)
    text = h.services.metrics.render().decode()
    assert 'unitbot_handler_errors_total{where="update"} 3.0' in text
    assert 'unitbot_updates_total{kind="message"} 3.0' in text

    h.clock.advance(timedelta(minutes=61))
    await h.send(updates.command(rita, updates.private_chat(rita), "start"))
    reports = h.rt.texts(-100777)
    assert len(reports) == 2 and "Seen again since the last report: 2" in reports[1]


async def test_429_answers_are_counted(h: Harness) -> None:
    await h.setup_community()
    h.rt.telegram.fail_next("sendMessage", h.p.staff_chat["id"], status=429, retry_after=1)
    await h.cmd(h.p.staff, h.p.staff_chat, "invite")
    assert "unitbot_telegram_429_total 1.0" in h.services.metrics.render().decode()


# --- the webhook registration -------------------------------------------------------------------
async def test_the_webhook_is_registered_once_and_again_only_when_it_changed(tmp_path: Path) -> None:
    from bot.app import build_application, open_storage
    from tests.support import RecordingRequest

    rt = RecordingRequest()
    url = "https://bot.example.org/webhook"

    async def start(secret: str) -> bool:
        app = build_application(
            make_settings(tmp_path / "w.sqlite3", webhook_url=url, webhook_secret=secret),
            request=rt,
            rate_limiter=False,
            start_jobs=False,
        )
        async with app:
            await open_storage(app)
            try:
                return await register_webhook(app)
            finally:
                await app.bot_data.services.db.close()

    assert await start(SECRET) is True
    assert await start(SECRET) is False  # a second instance (or a restart): nothing changes
    assert rt.telegram.webhook["secret_token"] == SECRET
    other = SECRET[::-1]
    assert await start(other) is True  # a new secret is registered (getWebhookInfo does not show it)
    sets = [c for c in rt.telegram.calls if c.method == "setWebhook"]
    assert len(sets) == 2 and all(not c.params.get("drop_pending_updates") for c in sets)
    assert not [c for c in rt.telegram.calls if c.method == "deleteWebhook"]


async def test_bug_reports_are_still_rate_limited_when_the_database_is_down(h: Harness, tmp_path: Path) -> None:
    down = open_database(str(tmp_path / "never-opened.sqlite3"))  # every transaction raises
    reports = OperatorReports(down, h.clock, timedelta(minutes=10))
    bug = BugReport("OperationalError", "storage.outbox:80", "job:outbox", "bot-1")
    assert await reports.claim(bug) == 0  # reported: the operator must hear of a broken database
    assert await reports.claim(bug) is None
    h.clock.advance(timedelta(minutes=11))
    assert await reports.claim(bug) == 0
