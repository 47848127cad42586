"""The HTTP transport to the Bot API: every call's parameters as one JSON body.

The Bot API takes a method's parameters as ``application/json`` as well as form-encoded
(https://core.telegram.org/bots/api#making-requests). PTB's ``HTTPXRequest`` form-encodes every call:
each parameter JSON-encoded, then percent-encoded byte by byte in Python (``urllib.parse.quote``),
which for an answer with a reply keyboard and a few lines of text is about 5% of the process's CPU
per answer (``bench.outbox_bench cpu``). Here a call without files is sent as one ``json.dumps`` of
its parameters; uploads stay ``multipart/form-data`` exactly as PTB sends them. Timeouts, the pool
and the errors raised (``TimedOut``, ``NetworkError``) are those of ``HTTPXRequest``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from telegram._utils.defaultvalue import DefaultValue
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_POOL_TIMEOUT = (
    "Pool timeout: All connections in the connection pool are occupied. Request was *not* sent to"
    " Telegram. Consider adjusting the connection pool size or the pool timeout."
)


def _pick(value: object, default: float | None) -> float | None:
    return default if isinstance(value, DefaultValue) else value  # type: ignore[return-value]


class JsonRequest(BaseRequest):
    """``BaseRequest`` over one ``httpx.AsyncClient`` (HTTP/1.1, keep-alive), JSON bodies."""

    def __init__(
        self,
        *,
        connection_pool_size: int = 1,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
        transport: httpx.AsyncBaseTransport | None = None,  # tests: httpx.MockTransport
    ) -> None:
        self._timeout = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=write_timeout, pool=pool_timeout
        )
        self._limits = httpx.Limits(max_connections=connection_pool_size)
        self._media_write_timeout = media_write_timeout
        self._transport = transport
        self._client = self._build_client()

    def _build_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=self._timeout, limits=self._limits, http1=True, http2=False, transport=self._transport
        )

    @property
    def read_timeout(self) -> float | None:
        return self._timeout.read

    async def initialize(self) -> None:
        if self._client.is_closed:
            self._client = self._build_client()

    async def shutdown(self) -> None:
        if not self._client.is_closed:
            await self._client.aclose()

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
        if self._client.is_closed:
            raise RuntimeError("This JsonRequest is not initialized!")
        files = request_data is not None and request_data.contains_files
        default_write = self._media_write_timeout if files else self._timeout.write
        timeout = httpx.Timeout(
            connect=_pick(connect_timeout, self._timeout.connect),
            read=_pick(read_timeout, self._timeout.read),
            write=_pick(write_timeout, default_write),
            pool=_pick(pool_timeout, self._timeout.pool),
        )
        headers = {"User-Agent": self.USER_AGENT}
        try:
            if request_data is not None and files:
                res = await self._client.request(
                    method,
                    url,
                    headers=headers,
                    timeout=timeout,
                    files=request_data.multipart_data,
                    data=request_data.json_parameters,
                )
            elif request_data is None or not request_data.parameters:  # a download (GET), getMe, close
                res = await self._client.request(method, url, headers=headers, timeout=timeout)
            else:
                headers["Content-Type"] = "application/json"
                body = json.dumps(request_data.parameters, ensure_ascii=False, separators=(",", ":"))
                res = await self._client.request(method, url, headers=headers, timeout=timeout, content=body.encode())
        except httpx.PoolTimeout as err:
            raise TimedOut(message=_POOL_TIMEOUT) from err
        except httpx.TimeoutException as err:
            raise TimedOut from err
        except httpx.HTTPError as err:
            raise NetworkError(f"httpx.{err.__class__.__name__}: {err}") from err
        return res.status_code, res.content
