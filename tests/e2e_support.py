"""Helpers for end-to-end tests: the real ``python -m bot`` process against the fake Bot API HTTP
server, with time read from a clock file the test moves (``UNITBOT_CLOCK_FILE``).

Nothing here sleeps for a fixed time: every wait is a bounded poll (``server.wait_for``) that fails
with what was recorded so far; :func:`holds` checks that something stays true for a while.
"""

from __future__ import annotations

import copy
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from bot.clock import FileClock
from bot.web.server import free_port
from tests.harness import People
from tests.support import Call, FakeBotApiServer, assert_calls_valid, buttons, updates

REPO_ROOT = Path(__file__).resolve().parents[1]
# a well-formed token that must never show up in the bot's output
TOKEN = "7203945561:AAE2eSecretTokenValue_dontLeakMe-0123"
SWEEP_INTERVAL = 0.3  # UNITBOT_SWEEP_INTERVAL of the processes, seconds
STEP_TIMEOUT = 8.0  # seconds for one answer of the bot (generous: CI machines can be slow)


def holds(predicate: Callable[[], bool], seconds: float, what: str) -> None:
    """A negative check over time: ``predicate`` stays true for ``seconds`` (polled every 20 ms; fails
    at the first moment it is false)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not predicate():
            raise AssertionError(f"{what}: no longer true")
        time.sleep(0.02)
    if not predicate():
        raise AssertionError(f"{what}: no longer true")


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = STEP_TIMEOUT) -> None:
    """A bounded positive wait: ``predicate`` becomes true within ``timeout`` (polled every 20 ms)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not true within {timeout}s")
        time.sleep(0.02)


class ClockFile:
    """The time every bot process reads (``FileClock``); ``set`` moves it for all of them."""

    def __init__(self, path: Path, start: datetime) -> None:
        self.path = path
        self.set(start)

    def set(self, moment: datetime) -> None:
        FileClock.write(self.path, moment)


class BotProcess:
    """One ``python -m bot`` subprocess; stdout and stderr go to ``log_path``."""

    def __init__(
        self,
        server: FakeBotApiServer,
        workdir: Path,
        database: Path | str,  # a SQLite file or a PostgreSQL URL
        clock: ClockFile,
        name: str,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.server = server
        self.extra_env = dict(extra_env or {})
        # every process its own free port for its HTTP server (health, metrics, webhook)
        self.http_listen = self.extra_env.get("UNITBOT_HTTP_LISTEN") or f"127.0.0.1:{free_port()}"
        self.workdir = workdir
        self.database = database
        self.clock = clock
        self.name = name
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: TextIO | None = None
        self._listening_before = 0

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("UNITBOT_")}
        env.update(
            UNITBOT_TOKEN=TOKEN,
            UNITBOT_DATABASE=str(self.database),
            UNITBOT_API_BASE_URL=self.server.base_url,
            UNITBOT_SWEEP_INTERVAL=str(SWEEP_INTERVAL),
            UNITBOT_CLOCK_FILE=str(self.clock.path),
            UNITBOT_LANGUAGE="en",
            UNITBOT_LOG_LEVEL="INFO",
            UNITBOT_INSTANCE_NAME=self.name,
            UNITBOT_HTTP_LISTEN=self.http_listen,
            PYTHONPATH=os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p),
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)  # e.g. UNITBOT_WEBHOOK_URL, UNITBOT_HTTP_LISTEN (tests/test_e2e_webhook.py)
        return env

    @property
    def http_url(self) -> str:
        """``http://host:port`` of the process's HTTP server (UNITBOT_HTTP_LISTEN)."""
        return "http://" + self.http_listen

    @property
    def webhook_mode(self) -> bool:
        return bool(self.extra_env.get("UNITBOT_WEBHOOK_URL"))

    def start(self, *, wait_ready: bool = True) -> BotProcess:
        since = len(self.server.calls)
        self._listening_before = self._listening_lines()
        self._log = open(self.log_path, "a", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot"],
            cwd=self.workdir,  # no .env is picked up from here
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        if wait_ready:
            self.wait_ready(since)
        return self

    def wait_ready(self, since: int, timeout: float = 15.0) -> None:
        """Polling has begun: a getUpdates after start and this process's /healthz answers (its HTTP
        server starts after post_init: migrations and commands done; a getUpdates alone may be the
        last long poll of a process that stopped, which the fake records when it ends); in webhook
        mode: the webhook is registered and /readyz answers 200."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.logs()}")
            # whoever answers on the port must be this process: it logged that it listens there
            if self._listening_lines() <= self._listening_before:
                pass
            elif self.webhook_mode:
                if self.server.telegram.webhook.get("url") and self._ready():
                    return
            elif any(c.method == "getUpdates" for c in self.server.calls[since:]) and self._answers("/healthz"):
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{self.name} did not start polling within {timeout}s:\n{self.logs()}")
            time.sleep(0.02)

    def _ready(self) -> bool:
        return self._answers("/readyz")

    def _answers(self, path: str) -> bool:
        try:
            with urllib.request.urlopen(self.http_url + path, timeout=2) as response:
                return int(response.status) == 200
        except OSError:
            return False

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait; returns the exit code (killed and failed if it does not stop)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                self._close_log()
                raise AssertionError(f"{self.name} did not exit within {timeout}s of SIGTERM:\n{self.logs()}") from None
        self._close_log()
        return self.proc.returncode

    def kill(self) -> None:
        """Clean-up after a failed test: make sure the process is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def _listening_lines(self) -> int:
        said = re.escape(f"HTTP server listening on {self.http_listen}") + r"(?!\d)"  # text or JSON logs
        return len(re.findall(said, self.logs()))

    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def assert_alive(self) -> None:
        assert self.proc is not None and self.proc.poll() is None, f"{self.name} died:\n{self.logs()}"


class Chat:
    """Talks to the bot through the fake server the way Telegram would: pushes real-shaped updates
    and waits, boundedly, for the bot's calls."""

    def __init__(self, server: FakeBotApiServer) -> None:
        self.server = server
        self.p = People()
        self.procs: list[BotProcess] = []

    # --- waiting ------------------------------------------------------------------------------------
    def wait(self, predicate: Callable[[Call], bool], since: int = 0, timeout: float = STEP_TIMEOUT) -> Call:
        try:
            return self.server.wait_for(predicate, timeout, since=since)
        except TimeoutError as exc:
            logs = "\n".join(f"--- {p.name} ---\n{p.logs()[-4000:]}" for p in self.procs)
            raise TimeoutError(f"{exc}\n{logs}") from None

    def sent(self, chat: dict[str, Any] | int, contains: str, since: int = 0) -> list[Call]:
        chat_id = chat if isinstance(chat, int) else chat["id"]
        return [
            c
            for c in self.server.calls[since:]
            if c.method == "sendMessage" and c.chat_id == chat_id and contains in (c.text or "")
        ]

    def wait_text(
        self, chat: dict[str, Any] | int, contains: str, since: int = 0, timeout: float = STEP_TIMEOUT
    ) -> Call:
        chat_id = chat if isinstance(chat, int) else chat["id"]
        return self.wait(
            lambda c: c.method == "sendMessage" and c.chat_id == chat_id and contains in (c.text or ""), since, timeout
        )

    # --- sending ------------------------------------------------------------------------------------
    def push(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates; returns the call index to wait from."""
        since = len(self.server.calls)
        self.server.push_update(update)
        return since

    def cmd(
        self, who: dict[str, Any], chat: dict[str, Any], name: str, args: str = "", *, expect: str, **kw: Any
    ) -> Call:
        """A command; waits for the bot's message containing ``expect`` in that chat."""
        since = self.push(updates.command(who, chat, name, args, **kw))
        return self.wait_text(chat, expect, since)

    def say(self, who: dict[str, Any], text: str, *, expect: str, expect_in: dict[str, Any] | None = None) -> Call:
        """A private text message from ``who``; waits for ``expect`` (in ``expect_in``, default: them)."""
        chat = updates.private_chat(who)
        since = self.push(updates.message(who, chat, text))
        return self.wait_text(expect_in or chat, expect, since)

    def message_of(self, call: Call) -> dict[str, Any]:
        """The Message the fake server stored for a sendMessage call (to press its buttons)."""
        with self.server.telegram.lock:
            found = [
                m
                for (chat_id, _), m in self.server.telegram.messages.items()
                if chat_id == call.chat_id and m.get("text") == call.text
            ]  # its buttons may have been updated since (a taken card shows the remaining actions)
        assert found, f"no stored message for {call!r}"
        return max(found, key=lambda m: int(m["message_id"]))

    def press(self, who: dict[str, Any], call: Call, data: str) -> int:
        """Press the button with callback data ``data`` under the message of ``call``; waits for
        the callback to be answered; returns the call index before the press."""
        assert data in [d for _, d in call.buttons], f"{data!r} is not a button of {call!r}: {call.buttons}"
        update = updates.callback_query(who, self.message_of(call), data)
        query_id = update["callback_query"]["id"]
        since = self.push(update)
        self.wait(lambda c: c.method == "answerCallbackQuery" and c.params.get("callback_query_id") == query_id, since)
        return since

    # --- photos, answers, messages as they are now (edited) ----------------------------------------------
    def photos(self, chat: dict[str, Any] | int, contains: str = "", since: int = 0) -> list[Call]:
        """sendPhoto calls to ``chat`` whose caption contains ``contains``."""
        chat_id = chat if isinstance(chat, int) else chat["id"]
        return [
            c
            for c in self.server.calls[since:]
            if c.method == "sendPhoto" and c.chat_id == chat_id and contains in (c.text or "")
        ]

    def wait_photo(
        self, chat: dict[str, Any] | int, contains: str = "", since: int = 0, timeout: float = STEP_TIMEOUT
    ) -> Call:
        """Waits for a sendPhoto to ``chat`` whose caption contains ``contains``; the uploaded bytes
        are in ``Call.files`` (see :meth:`upload_of`)."""
        chat_id = chat if isinstance(chat, int) else chat["id"]
        return self.wait(
            lambda c: c.method == "sendPhoto" and c.chat_id == chat_id and contains in (c.text or ""), since, timeout
        )

    @staticmethod
    def upload_of(call: Call) -> bytes:
        """The bytes of the one file uploaded with ``call`` (multipart/form-data)."""
        assert len(call.files) == 1, f"expected one upload in {call!r}: {list(call.files)}"
        return next(iter(call.files.values())).data

    def stored_message(self, chat: dict[str, Any] | int, message_id: int) -> dict[str, Any]:
        """The bot's message as the fake server holds it now (after any edits)."""
        chat_id = chat if isinstance(chat, int) else chat["id"]
        with self.server.telegram.lock:
            found = self.server.telegram.messages.get((chat_id, message_id))
            assert found is not None, f"no stored message {message_id} in {chat_id}"
            return copy.deepcopy(found)

    def wait_edit(self, chat: dict[str, Any] | int, message_id: int, contains: str = "", since: int = 0) -> Call:
        """Waits for an editMessageText of that message whose new text contains ``contains``."""
        chat_id = chat if isinstance(chat, int) else chat["id"]
        return self.wait(
            lambda c: (
                c.method == "editMessageText"
                and c.chat_id == chat_id
                and c.params.get("message_id") == message_id
                and contains in (c.text or "")
            ),
            since,
        )

    def press_message(self, who: dict[str, Any], message: dict[str, Any], data: str) -> tuple[int, Call]:
        """Press the button ``data`` under ``message`` (a stored Message, e.g. :meth:`stored_message`);
        waits for the callback to be answered; returns the call index before the press and the
        answerCallbackQuery call (its ``text`` / ``show_alert`` is what the presser saw)."""
        assert data in [d for _, d in buttons(message)], f"{data!r} is not a button of {message}"
        update = updates.callback_query(who, message, data)
        query_id = update["callback_query"]["id"]
        since = self.push(update)
        answer = self.wait(
            lambda c: c.method == "answerCallbackQuery" and c.params.get("callback_query_id") == query_id, since
        )
        return since, answer

    def press_answer(self, who: dict[str, Any], call: Call, data: str) -> Call:
        """Like :meth:`press`, but returns the answerCallbackQuery call."""
        assert data in [d for _, d in call.buttons], f"{data!r} is not a button of {call!r}: {call.buttons}"
        return self.press_message(who, self.message_of(call), data)[1]

    # --- scenario steps ------------------------------------------------------------------------------
    def setup_community(self) -> None:
        """What ``tests.harness.Harness.setup_community`` does, through the real process."""
        p = self.p
        self.server.admins[p.staff_chat["id"]] = [p.staff]
        self.server.admins[p.building_chat["id"]] = [p.staff]
        self.server.admins[p.street_chat["id"]] = [p.street]
        self.cmd(p.staff, p.staff_chat, "newcommunity", "Sunny Side", expect="Sunny Side")
        invite = self.cmd(p.staff, p.staff_chat, "invite", expect="invite code")
        code = (invite.text or "").split(":", 1)[1].split()[0]
        self.cmd(p.staff, p.building_chat, "register", code, expect="is now part of Sunny Side")
        self.cmd(p.staff, p.building_chat, "units", "1-4", expect="Added 4 units")
        self.cmd(
            p.staff,
            p.building_chat,
            "buildinghead",
            reply_to=updates.message(p.bhead, p.building_chat, "hi"),
            expect="building head",
        )
        self.cmd(
            p.staff,
            p.building_chat,
            "unithead",
            "1",
            reply_to=updates.message(p.uhead, p.building_chat, "hi"),
            expect="head of unit 1",
        )
        for person in (p.bhead, p.uhead):
            self.cmd(person, updates.private_chat(person), "start", expect="Hello")
        street = self.cmd(p.staff, p.staff_chat, "streetcode", expect="Street office code")
        code = (street.text or "").split(":", 1)[1].split()[0]
        self.cmd(p.street, p.street_chat, "linkstreet", code, expect="street office")

    def file_appeal(self, text: str = "The lift is broken") -> tuple[Call, Call]:
        """The resident files through the building deep link (building 1, unit 1, a problem);
        returns the receipt and the unit head's "New appeal" message."""
        p = self.p
        resident_chat = updates.private_chat(p.resident)
        units = self.cmd(p.resident, resident_chat, "start", "ap_1", expect="Which unit")
        prompt = int(self.message_of(units)["message_id"])  # the one prompt, edited as they press
        since = self.press(p.resident, units, "f:u:1:1")
        categories = self.wait_edit(resident_chat, prompt, "What is it about", since)
        since = self.press(p.resident, categories, "f:c:problem")
        self.wait_edit(resident_chat, prompt, "Now describe it", since)
        since = self.push(updates.message(p.resident, resident_chat, text))
        receipt = self.wait_text(resident_chat, "received", since)
        assigned = self.wait_text(p.uhead, "New appeal #1", since)
        return receipt, assigned


_RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ", re.MULTILINE)


def log_records(logs: str) -> list[str]:
    """The process log split into records (each begins with its timestamp line; a traceback logged
    with a record belongs to it)."""
    starts = [m.start() for m in _RECORD_START.finditer(logs)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    return [logs[a:b] for a, b in zip(starts, [*starts[1:], len(logs)], strict=True) if logs[a:b].strip()]


@dataclass
class E2E:
    """One end-to-end test's world (fixture ``e2e`` in tests/conftest.py): the fake Bot API server, the
    clock file, the talking helper and the bot processes started on one database."""

    tmp: Path
    server: FakeBotApiServer
    clock: ClockFile
    chat: Chat
    database: Path | str  # a SQLite file, or a PostgreSQL URL (tests/support/engines.py)
    procs: list[BotProcess] = field(default_factory=list)

    def spawn(self, name: str, **extra_env: str) -> BotProcess:
        proc = BotProcess(self.server, self.tmp, self.database, self.clock, name, extra_env)
        taken = {other.http_listen for other in self.procs}
        while "UNITBOT_HTTP_LISTEN" not in extra_env and proc.http_listen in taken:  # not yet bound
            proc.http_listen = f"127.0.0.1:{free_port()}"
        self.procs.append(proc)
        self.chat.procs.append(proc)
        return proc

    def escalations_to(self, person: dict[str, object], since: int = 0) -> int:
        return len(self.chat.sent(person["id"], "was passed to you", since))  # type: ignore[arg-type]

    def finish(self, rejected: int = 0, tolerated: tuple[str, ...] = ()) -> None:
        """Every process stops cleanly (exit code 0), none printed a traceback (except in a log record
        whose first line contains one of ``tolerated``) or the token, the fake refused only the
        ``rejected`` scripted calls; then every accepted call is checked against the Bot API
        reference (this skips, last of all, only when the reference file is absent)."""
        for proc in self.procs:
            assert proc.stop() == 0, proc.logs()
            logs = proc.logs()
            bad = [
                r
                for r in log_records(logs)
                if "Traceback" in r and not any(t in r.split("\n", 1)[0] for t in tolerated)
            ]
            assert not bad, logs
            assert TOKEN not in logs and TOKEN.split(":", 1)[1] not in logs, f"{proc.name} printed the token"
        assert TOKEN in self.server.tokens  # it really talked to the fake with this token
        assert len(self.server.rejected) == rejected, self.server.rejected
        assert_calls_valid(self.server.calls)
