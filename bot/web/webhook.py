"""The webhook: Telegram POSTs each update as JSON to the path of ``UNITBOT_WEBHOOK_URL`` with the
``X-Telegram-Bot-Api-Secret-Token`` header that setWebhook's ``secret_token`` set.

* a wrong or missing secret: 403, the body is not even parsed (compared in constant time);
* not a JSON object with an ``update_id``: 400, never processed;
* else ``await accept(raw)``; 200 only after it returned (``False`` = a duplicate, still 200),
  500 if it raised, so Telegram delivers the update again later.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
Accept = Callable[[dict[str, Any]], Awaitable[bool]]
Observe = Callable[[str], None]  # outcome: accepted, duplicate, forbidden, bad_request, failed


def _ignore(outcome: str) -> None:
    return None


class WebhookRoute:
    def __init__(self, path: str, secret: str, accept: Accept, observe: Observe = _ignore) -> None:
        self.path = path
        self._secret = secret.encode()
        self.accept = accept
        self.observe = observe

    def install(self, app: web.Application) -> None:
        app.router.add_post(self.path, self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            self.observe("forbidden")
            log.warning("webhook: request with a wrong or missing secret refused (403)")
            return web.Response(status=403, text="forbidden\n")
        try:
            raw = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            raw = None
        if not isinstance(raw, dict) or not isinstance(raw.get("update_id"), int):
            self.observe("bad_request")
            log.warning("webhook: body is not an update (400)")
            return web.Response(status=400, text="not an update\n")
        try:
            fresh = await self.accept(raw)
        except Exception:
            self.observe("failed")
            log.exception("webhook: update %s not accepted; Telegram will send it again", raw["update_id"])
            return web.Response(status=500, text="not accepted, retry\n")
        self.observe("accepted" if fresh else "duplicate")
        return web.Response(status=200)
