"""Webhook mode against long polling: answers per second of the real ``python -m bot`` process over
the same fake Bot API (tests/support/fake_server.py), in the same run.

    .venv/bin/python -m bench.webhook_bench            # 200 updates per mode and pattern
    .venv/bin/python -m bench.webhook_bench --quick    # 60

Two patterns per mode, each a private ``/help`` answered with one sendMessage:

* **one at a time**: the next update only after the answer to the last one (the latency of one
  round trip: Telegram -> bot -> Bot API);
* **burst**: all updates at once, from different people (webhook: 8 concurrent POSTs, as Telegram
  opens several connections; polling: all waiting for the next getUpdates). PTB's rate limiter
  (30 messages/s overall) caps both modes alike, so this figure shows the cap, not the intake.

Long polling is the baseline; the ratio webhook/polling is printed. Wall-clock figures depend on the
load of the machine (printed before and after).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bot.web.server import free_port
from tests.conftest import E2E_START
from tests.e2e_support import BotProcess, ClockFile
from tests.support import FakeBotApiServer, updates


def answered(server: FakeBotApiServer, chat_id: int, since: int) -> bool:
    return any(c.method == "sendMessage" and c.chat_id == chat_id for c in server.calls[since:])


def wait(predicate: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("no answer within the timeout")
        time.sleep(0.001)


def one_at_a_time(server: FakeBotApiServer, n: int, base_id: int) -> float:
    """Answers per second, each update sent after the previous answer."""
    latencies = []
    for i in range(n):
        who = updates.user(base_id + i, f"P{i}", None)
        since = len(server.calls)
        start = time.perf_counter()
        server.push_update(updates.command(who, updates.private_chat(who), "help"))
        wait(lambda who=who, since=since: answered(server, who["id"], since))
        latencies.append(time.perf_counter() - start)
    return 1 / statistics.median(latencies)


def burst(server: FakeBotApiServer, n: int, base_id: int) -> float:
    people = [updates.user(base_id + i, f"B{i}", None) for i in range(n)]
    raws = [updates.command(p, updates.private_chat(p), "help") for p in people]
    since = len(server.calls)
    start = time.perf_counter()
    if server.telegram.webhook.get("url"):
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(server.push_update, raws))
    else:
        for raw in raws:
            server.push_update(raw)
    ids = {p["id"] for p in people}
    wait(lambda: ids <= {c.chat_id for c in server.calls[since:] if c.method == "sendMessage"}, 120)
    return n / (time.perf_counter() - start)


def run_mode(webhook: bool, n: int, workdir: Path) -> tuple[float, float]:
    with FakeBotApiServer() as server:
        clock = ClockFile(workdir / "clock.txt", E2E_START)
        env: dict[str, str] = {"UNITBOT_LOG_LEVEL": "WARNING"}
        if webhook:
            port = free_port()
            env.update(
                UNITBOT_WEBHOOK_URL=f"http://127.0.0.1:{port}/hook",
                UNITBOT_WEBHOOK_SECRET=secrets.token_hex(32),
                UNITBOT_HTTP_LISTEN=f"127.0.0.1:{port}",
            )
        name = "webhook" if webhook else "polling"
        proc = BotProcess(server, workdir, workdir / f"{name}.sqlite3", clock, name, env).start()
        try:
            one_at_a_time(server, 10, 9_000_000)  # warm-up
            sequential = one_at_a_time(server, n, 1_000_000)
            bursty = burst(server, n, 2_000_000)
        finally:
            proc.stop()
        return sequential, bursty


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    n = 60 if parser.parse_args().quick else 200
    print(f"load average before: {os.getloadavg()[0]:.2f}; {n} updates per mode and pattern")
    with tempfile.TemporaryDirectory() as tmp:
        polling = run_mode(False, n, Path(tmp))
        webhook = run_mode(True, n, Path(tmp))
    for label, i in (("one at a time", 0), ("burst", 1)):
        print(
            f"{label:>14}: polling {polling[i]:7.1f} answers/s | webhook {webhook[i]:7.1f} answers/s"
            f" | webhook/polling {webhook[i] / polling[i]:.2f}x"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
