"""The Bot API transport (handlers.json_request) and the long poll (handlers.runtime.Poller):
calls without files go as one JSON body with their parameters' own types, uploads as multipart,
errors as PTB's; the poller hands the intake each update exactly as Telegram sent it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from telegram import Bot, InputFile, KeyboardButton, ReplyKeyboardMarkup
from telegram.error import InvalidToken, NetworkError, TimedOut

from handlers.json_request import JsonRequest
from handlers.runtime import Poller
from tests.harness import Harness
from tests.support import updates

TOKEN = "123456:AAF-json-request-test-token-0123456789"
ME = {"id": 1, "is_bot": True, "first_name": "unitbot", "username": "unit_bot"}
SENT = {"message_id": 7, "date": 1796241523, "chat": {"id": 42, "type": "private", "first_name": "A"}, "text": "x"}


class Capture:
    """An httpx MockTransport that records each request and answers like the Bot API."""

    def __init__(self, answer: Any = None, error: Exception | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.answer = SENT if answer is None else answer
        self.error = error

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        result = ME if request.url.path.endswith("/getMe") else self.answer
        return httpx.Response(200, json={"ok": True, "result": result})


def json_bot(capture: Capture) -> Bot:
    request = JsonRequest(transport=httpx.MockTransport(capture))
    return Bot(TOKEN, request=request, get_updates_request=JsonRequest(transport=httpx.MockTransport(capture)))


async def test_a_message_with_a_keyboard_goes_as_one_json_body_with_its_own_types() -> None:
    capture = Capture()
    keyboard = ReplyKeyboardMarkup([[KeyboardButton("📝 报告问题")]], resize_keyboard=True, is_persistent=True)
    async with json_bot(capture) as bot:
        capture.requests.clear()  # getMe at initialize
        message = await bot.send_message(42, "您好，李阿姨 — 3 December, 12:00", reply_markup=keyboard)
    assert message.message_id == 7
    (request,) = capture.requests
    assert request.method == "POST" and request.url.path.endswith("/sendMessage")
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.content)
    assert body["chat_id"] == 42  # a number, not the string "42"
    assert body["text"] == "您好，李阿姨 — 3 December, 12:00"
    assert body["reply_markup"] == {
        "keyboard": [[{"text": "📝 报告问题"}]],
        "resize_keyboard": True,
        "is_persistent": True,
    }
    assert "报告问题".encode() in request.content  # UTF-8 as is, not \\u escapes


async def test_an_upload_stays_multipart_form_data() -> None:
    capture = Capture(answer={**SENT, "document": {"file_id": "d1", "file_unique_id": "u1"}})
    async with json_bot(capture) as bot:
        capture.requests.clear()
        await bot.send_document(42, InputFile(b"a,b\n1,2\n", filename="report.csv"), caption="Отчёт")
    (request,) = capture.requests
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'filename="report.csv"' in request.content and b"a,b\n1,2\n" in request.content
    assert "Отчёт".encode() in request.content


async def test_a_call_without_parameters_sends_no_body() -> None:
    capture = Capture()
    async with json_bot(capture) as bot:
        assert bot.username == "unit_bot"
    (request,) = capture.requests  # getMe
    assert request.content == b""


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        (httpx.ReadTimeout("slow"), TimedOut),
        (httpx.PoolTimeout("busy"), TimedOut),
        (httpx.ConnectError("refused"), NetworkError),
    ],
)
async def test_transport_errors_are_ptbs(error: Exception, raised: type[Exception]) -> None:
    request = JsonRequest(transport=httpx.MockTransport(Capture(error=error)))
    await request.initialize()
    try:
        with pytest.raises(raised) as caught:
            await request.post(f"https://api.telegram.org/bot{TOKEN}/getMe")
    finally:
        await request.shutdown()
    assert TOKEN not in str(caught.value)
    if isinstance(error, httpx.PoolTimeout):
        assert "Pool timeout" in str(caught.value)


async def test_a_closed_transport_opens_again_on_initialize() -> None:
    capture = Capture(answer=True)
    request = JsonRequest(transport=httpx.MockTransport(capture))
    await request.shutdown()
    with pytest.raises(RuntimeError):
        await request.do_request("https://example.invalid/x", "POST")
    await request.initialize()
    status, _ = await request.do_request("https://example.invalid/x", "POST")
    await request.shutdown()
    assert status == 200


async def test_the_poll_hands_over_updates_exactly_as_telegram_sent_them(h: Harness) -> None:
    """A field this PTB does not know (a newer Bot API) reaches the intake untouched, and the update
    is parsed once, when it is handled, not first into objects and back."""
    me = h.p.resident
    raw = updates.command(me, updates.private_chat(me), "start")
    raw["message"]["future_field"] = {"kept": [1, 2]}
    h.rt.push_update(raw)
    got = await Poller(h.app, h.app.bot_data.intake, timeout=0).fetch(None)
    assert got == [raw]
    call = h.rt.calls[-1]
    assert call.method == "getUpdates" and call.params.get("allowed_updates")


async def test_a_token_revoked_while_polling_is_said_as_a_rejected_token(h: Harness) -> None:
    """do_api_request reports Telegram's 401 as EndPointNotFound; the poll says what it is."""
    h.rt.telegram.fail_next("getUpdates", status=401, description="Unauthorized")
    with pytest.raises(InvalidToken):
        await Poller(h.app, h.app.bot_data.intake, timeout=0).fetch(None)


async def test_a_call_whose_only_parameter_is_a_file_still_sends_the_file() -> None:
    from telegram.request import RequestData
    from telegram.request._requestparameter import RequestParameter

    capture = Capture(answer=True)
    request = JsonRequest(transport=httpx.MockTransport(capture))
    data = RequestData([RequestParameter.from_input("document", InputFile(b"only-a-file", filename="a.txt"))])
    status, _ = await request.do_request(f"https://api.telegram.org/bot{TOKEN}/x", "POST", data)
    await request.shutdown()
    assert status == 200
    assert capture.requests[0].headers["content-type"].startswith("multipart/form-data")
    assert b"only-a-file" in capture.requests[0].content
