"""``python -m bot`` in webhook mode against the fake Bot API, which POSTs updates to the bot's own
HTTP server the way Telegram does (tests/support/fake_server.py ``deliver``)."""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.web.server import free_port, free_ports
from tests.e2e_support import E2E, REPO_ROOT, SWEEP_INTERVAL, TOKEN, BotProcess, holds, wait_until
from tests.support import updates
from tests.support.engines import run_sql
from tests.test_e2e_process import UNIT_DEADLINE

OPERATOR_CHAT = -1001000000999
HOOK_PATH = "/tg/hook"


def webhook_env(public_port: int, listen_port: int, secret: str, **more: str) -> dict[str, str]:
    return {
        "UNITBOT_WEBHOOK_URL": f"http://127.0.0.1:{public_port}{HOOK_PATH}",
        "UNITBOT_WEBHOOK_SECRET": secret,
        "UNITBOT_HTTP_LISTEN": f"127.0.0.1:{listen_port}",
        **more,
    }


def get(proc: BotProcess, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(proc.http_url + path, timeout=5) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode()


def post_raw(proc: BotProcess, body: bytes, secret: str) -> int:
    request = urllib.request.Request(
        proc.http_url + HOOK_PATH,
        data=body,
        headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def metric(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        if key == (f"{name}{{{want}}}" if labels else name):
            return float(value)
    return 0.0


@pytest.mark.e2e
def test_webhook_mode_answers_refuses_wrong_secrets_and_serves_health(e2e: E2E) -> None:
    chat, p = e2e.chat, e2e.chat.p
    port = free_port()
    secret = secrets.token_hex(32)
    bot = e2e.spawn("hook-a", **webhook_env(port, port, secret)).start()

    registered = e2e.server.calls_of("setWebhook")
    assert len(registered) == 1
    assert registered[0].params["url"] == f"http://127.0.0.1:{port}{HOOK_PATH}"
    assert registered[0].params["secret_token"] == secret
    assert not registered[0].params.get("drop_pending_updates")
    assert not e2e.server.calls_of("getUpdates")  # no long polling in webhook mode

    # an update arrives by POST and is answered
    chat.cmd(p.resident, updates.private_chat(p.resident), "start", expect="Hello")
    assert e2e.server.deliveries[-1].status == 200

    # a wrong or missing secret: 403, never processed
    before = len(e2e.server.calls)
    forged = updates.command(p.staff, updates.private_chat(p.staff), "start")
    assert e2e.server.deliver(forged, secret="x" * 64) == 403
    assert e2e.server.deliver(updates.command(p.staff, updates.private_chat(p.staff), "help"), secret="") == 403
    holds(lambda: not e2e.server.sent_to(p.staff["id"])[before:], SWEEP_INTERVAL * 3, "nothing answered to forgeries")
    assert not [c for c in e2e.server.calls[before:] if c.chat_id == p.staff["id"]]
    # not an update: 400
    assert post_raw(bot, b"{not json", secret) == 400
    assert post_raw(bot, b"[1, 2]", secret) == 400

    status, body = get(bot, "/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    status, body = get(bot, "/readyz")
    assert status == 200 and json.loads(body) == {"status": "ready", "instance": "hook-a"}
    status, text = get(bot, "/metrics")
    assert status == 200
    assert metric(text, "unitbot_updates_total", kind="message") >= 1
    assert metric(text, "unitbot_webhook_requests_total", outcome="forbidden") == 2
    assert metric(text, "unitbot_webhook_requests_total", outcome="bad_request") == 2
    assert metric(text, "unitbot_webhook_requests_total", outcome="accepted") >= 1
    assert metric(text, "unitbot_instance_info", instance="hook-a") == 1
    assert "unitbot_outbox_oldest_due_age_seconds" in text and "unitbot_appeals_open" in text

    # a restart (or a second instance) finds the registration in place and leaves it alone
    assert bot.stop() == 0, bot.logs()
    again = e2e.spawn("hook-a2", **webhook_env(port, port, secret)).start()
    chat.cmd(p.resident, updates.private_chat(p.resident), "help", expect="")
    assert len(e2e.server.calls_of("setWebhook")) == 1
    assert not e2e.server.calls_of("deleteWebhook")
    again.assert_alive()
    e2e.finish(rejected=0, tolerated=())
    assert secret not in bot.logs() + again.logs()
    assert "webhook already registered" in again.logs()


@pytest.mark.e2e
@pytest.mark.parametrize("secret", [None, "weak-secret-0123"])
def test_webhook_mode_without_a_strong_secret_is_a_configuration_error(tmp_path: Path, secret: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNITBOT_")}
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        UNITBOT_TOKEN=TOKEN,
        UNITBOT_DATABASE=str(tmp_path / "db.sqlite3"),
        UNITBOT_WEBHOOK_URL="https://bot.example.org/webhook",
    )
    if secret is not None:
        env["UNITBOT_WEBHOOK_SECRET"] = secret
    result = subprocess.run(
        [sys.executable, "-m", "bot"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 2, result.stderr
    assert "UNITBOT_WEBHOOK_SECRET" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert secret is None or secret not in result.stderr + result.stdout
    assert not (tmp_path / "db.sqlite3").exists()


@pytest.mark.e2e
def test_a_webhook_telegram_refuses_is_a_clear_error_not_a_traceback(e2e: E2E) -> None:
    e2e.server.telegram.fail_next(
        "setWebhook", status=400, description="Bad Request: bad webhook: HTTPS url must be provided for webhook"
    )
    port = free_port()
    bot = e2e.spawn("hook-bad", **webhook_env(port, port, secrets.token_hex(32))).start(wait_ready=False)
    assert bot.proc is not None and bot.proc.wait(20) == 1
    logs = bot.logs()
    assert "telegram refused the webhook registration: bad webhook: https url must be provided" in logs.lower(), logs
    assert "Traceback" not in logs and TOKEN not in logs
    assert e2e.server.rejected and e2e.server.rejected[0].method == "setWebhook"


@pytest.mark.e2e
def test_a_taken_http_port_is_a_clear_error(e2e: E2E) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        bot = e2e.spawn("port-a", UNITBOT_HTTP_LISTEN=f"127.0.0.1:{port}").start(wait_ready=False)
        assert bot.proc is not None and bot.proc.wait(20) == 1
    logs = bot.logs()
    assert f"cannot listen on 127.0.0.1:{port}" in logs and "UNITBOT_HTTP_LISTEN" in logs, logs
    assert "Traceback" not in logs


@pytest.mark.e2e
def test_json_logs_name_the_instance_and_never_the_token(e2e: E2E) -> None:
    chat, p = e2e.chat, e2e.chat.p
    bot = e2e.spawn("json-a", UNITBOT_LOG_FORMAT="json").start()
    chat.cmd(p.resident, updates.private_chat(p.resident), "start", expect="Hello")
    assert bot.stop() == 0
    entries = [json.loads(line) for line in bot.logs().splitlines() if line.strip()]
    assert entries and all(e["instance"] == "json-a" and e["level"] and e["logger"] for e in entries)
    assert any("HTTP server listening" in e["message"] for e in entries)
    assert TOKEN not in bot.logs() and TOKEN.split(":", 1)[1] not in bot.logs()
    e2e.finish()


@pytest.mark.e2e
def test_readyz_says_why_when_the_outbox_is_stuck(e2e: E2E) -> None:
    bot = e2e.spawn("ready-a", UNITBOT_READY_OUTBOX_AGE="60").start()  # polling mode serves it too
    assert get(bot, "/readyz")[0] == 200
    run_sql(  # a message due for ten minutes that nobody sends
        e2e.database,
        "INSERT INTO outbox (chat_id, template, not_before, created_at, claimed_until, claim_token)"
        " VALUES (1, 'x', ?, ?, ?, 'elsewhere')",
        (int(UNIT_DEADLINE.timestamp()) - 10**6, 0, 2**40),
    )
    wait_until(lambda: get(bot, "/readyz")[0] == 503, "/readyz reports the stuck outbox")
    body = json.loads(get(bot, "/readyz")[1])
    assert body["status"] == "not ready" and any("outbox stuck" in r for r in body["reasons"])
    assert get(bot, "/healthz")[0] == 200  # alive all the same
    e2e.finish(tolerated=("not ready",))


def file_as(e2e: E2E, resident: dict[str, Any], text: str) -> int:
    """A resident files a problem for unit 1 through the building deep link; returns the number."""
    chat = e2e.chat
    private = updates.private_chat(resident)
    units = chat.cmd(resident, private, "start", "ap_1", expect="Which unit")
    prompt = int(chat.message_of(units)["message_id"])  # the one prompt, edited as they press
    categories = chat.wait_edit(private, prompt, "What is it about", chat.press(resident, units, "f:u:1:1"))
    chat.wait_edit(private, prompt, "Now describe it", chat.press(resident, categories, "f:c:problem"))
    since = chat.push(updates.message(resident, private, text))
    receipt = chat.wait_text(private, "received", since)
    return int((receipt.text or "").split("#", 1)[1].split()[0].rstrip(".,:"))


@pytest.mark.e2e
def test_two_webhook_instances_share_one_database_without_duplicates(e2e: E2E) -> None:
    chat, p = e2e.chat, e2e.chat.p
    public, port_a, port_b = free_ports(3)
    secret = secrets.token_hex(32)
    twins = [
        e2e.spawn("hook-1", **webhook_env(public, port_a, secret)).start(),
        e2e.spawn("hook-2", **webhook_env(public, port_b, secret)).start(),
    ]
    assert len(e2e.server.calls_of("setWebhook")) == 1  # the second found it registered
    # the reverse proxy: updates go to the two instances in turn; each conversation lives in the DB,
    # so every step of a filing may land on the other instance
    e2e.server.webhook_backends = [twins[0].http_url, twins[1].http_url]
    chat.setup_community()
    residents = [updates.user(4000 + i, f"Res{i}", f"res_{i}") for i in range(6)]
    appeals = [file_as(e2e, r, f"problem number {i}") for i, r in enumerate(residents)]
    assert sorted(appeals) == list(range(1, 7))
    served = {d.backend for d in e2e.server.deliveries if d.status == 200}
    assert served == {twins[0].http_url, twins[1].http_url}
    for n in appeals:
        chat.wait_text(p.uhead, f"New appeal #{n}")

    # every deadline passes at once: both instances sweep the same database
    before = len(e2e.server.calls)
    e2e.clock.set(UNIT_DEADLINE + timedelta(days=1))
    for n in appeals:
        chat.wait_text(p.bhead, f"Appeal #{n} was passed to you", before)

    def each_once() -> bool:
        return all(len(chat.sent(p.bhead, f"Appeal #{n} was passed to you")) == 1 for n in appeals)

    holds(each_once, SWEEP_INTERVAL * 6, "each appeal escalated exactly once")
    texts = [(c.chat_id, c.text) for c in e2e.server.calls if c.method == "sendMessage"]
    repeated = {t for t in texts if texts.count(t) > 1 and "Appeal #" in (t[1] or "")}
    assert not repeated, repeated
    # both swept (each process's own metrics)
    for twin in twins:
        assert metric(get(twin, "/metrics")[1], "unitbot_sweep_duration_seconds_count") > 0
    e2e.finish()


@pytest.mark.e2e
def test_a_repeated_bug_is_reported_once_to_the_operator_chat(e2e: E2E) -> None:
    bot = e2e.spawn("bug-a", UNITBOT_OPERATOR_CHAT=str(OPERATOR_CHAT)).start()
    e2e.chat.setup_community()
    e2e.chat.file_appeal("My name is Rita, flat 12, the lift is broken")
    before = len(e2e.server.calls)
    # a bug in every sweep from now on: the table the sweep reads is gone
    run_sql(e2e.database, "ALTER TABLE deadlines RENAME TO deadlines_gone")
    report = e2e.chat.wait(lambda c: c.method == "sendMessage" and c.chat_id == OPERATOR_CHAT, before)
    holds(lambda: len(e2e.server.sent_to(OPERATOR_CHAT)) == 1, SWEEP_INTERVAL * 8, "one report for the repeated bug")
    text = report.text or ""
    assert "bug-a" in text and "job:deadline-sweep" in text
    assert "OperationalError" in text or "UndefinedTable" in text  # SQLite's, PostgreSQL's
    assert "storage.appeals:" in text  # module:line of the bot's own code
    for personal in ("Rita", "lift", "12", str(e2e.chat.p.resident["id"]), "Uma", "Sunny"):
        assert personal not in re.sub(r"storage\.appeals:\d+", "", text), (personal, text)  # (its line number)
    run_sql(e2e.database, "ALTER TABLE deadlines_gone RENAME TO deadlines")
    bot.assert_alive()
    e2e.finish(tolerated=("error outside an update",))
