"""In-process fake Bot API transport for PTB.

rt = RecordingRequest()
app = ApplicationBuilder().token("123:ABC").request(rt).get_updates_request(rt).build()
async with app:
    await app.process_update(Update.de_json(updates.command(u, chat, "start"), app.bot))
assert rt.texts(chat["id"]) == ["Hello!"]
rt.assert_valid()  # every recorded call conforms to api.json (skips if the file is absent)
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from telegram.request import BaseRequest, RequestData

from tests.support import api_schema
from tests.support.botapi import (
    LONG_POLL_CAP,
    Call,
    FakeTelegram,
    RecordingHelpers,
    Upload,
    attach_uploads,
    decode_python_params,
)

__all__ = ["Call", "FakeTelegram", "RecordingRequest", "Upload"]


def _read_content(content: Any) -> bytes:
    if isinstance(content, bytes):
        return content
    if hasattr(content, "read"):
        data = content.read()
        return data if isinstance(data, bytes) else str(data).encode()
    return bytes(content)


class RecordingRequest(RecordingHelpers, BaseRequest):
    """A :class:`telegram.request.BaseRequest` answering like the Bot API, without network.

    Pass the same instance to ``.request()`` and ``.get_updates_request()``. State lives in
    ``self.telegram`` (a :class:`FakeTelegram`; pass one to share it, e.g. with a server).
    """

    def __init__(self, telegram: FakeTelegram | None = None) -> None:
        self.telegram = telegram or FakeTelegram()
        self.initialized = False
        self.requests = 0  # every do_request, getMe included

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        self.initialized = True

    async def shutdown(self) -> None:
        self.initialized = False

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        self.requests += 1
        if "/file/bot" in url:  # File.download_* -> base_file_url/<file_path>
            file_path = url.split("/file/bot", 1)[1].split("/", 1)[1]
            return 200, self.telegram.download(file_path)

        api_method = url.rsplit("/", 1)[-1]
        params = decode_python_params(request_data.parameters) if request_data else {}
        files: dict[str, Upload] = {}
        if request_data is not None and request_data.contains_files:
            for name, (filename, content, mime) in request_data.multipart_data.items():
                files[name] = Upload(name, filename, mime, _read_content(content))
            attach_uploads(params, files)

        if api_method.lower() == "getupdates":
            await self._long_poll(params)
        status, body = self.telegram.handle(api_method, params, files)
        return status, json.dumps(body).encode()

    async def _long_poll(self, params: dict[str, Any]) -> None:
        timeout = params.get("timeout") or 0
        if isinstance(timeout, int | float) and timeout > 0:
            deadline = time.monotonic() + min(float(timeout), LONG_POLL_CAP)
            offset = params.get("offset")
            # updates may be pushed from other threads, so poll rather than await an asyncio.Event
            while not self.telegram.has_updates(offset) and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.01)

    def assert_valid(self, calls: list[Call] | None = None) -> None:
        """``api_schema.assert_calls_valid`` over ``calls`` (default: all accepted calls)."""
        api_schema.assert_calls_valid(self.calls if calls is None else calls)
