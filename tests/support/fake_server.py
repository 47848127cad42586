"""A real HTTP fake of the Bot API on 127.0.0.1 (random free port, background thread).

    with FakeBotApiServer() as server:
        bot = telegram.Bot("123:ABC", base_url=server.base_url, base_file_url=server.base_file_url)
        server.push_update(updates.command(u, chat, "start"))
        ...                      # run the bot (e.g. as a subprocess with the base URL in its env)
        server.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == chat["id"])

Same state/answers as :class:`tests.support.transport.RecordingRequest` (shared
:class:`tests.support.botapi.FakeTelegram`). Accepts JSON, x-www-form-urlencoded and
multipart/form-data bodies (uploads recorded in ``Call.files``) and query strings.
"""

from __future__ import annotations

import email.parser
import itertools
import json
import re
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.support.botapi import (
    FakeTelegram,
    RecordingHelpers,
    Upload,
    attach_uploads,
    decode_form_params,
    decode_python_params,
    error_body,
)

__all__ = ["Delivery", "FakeBotApiServer", "parse_multipart"]

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass(frozen=True)
class Delivery:
    """One webhook POST the fake made: which update, to which backend, what the bot answered."""

    update_id: int
    backend: str
    status: int


_API_PATH_RE = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z0-9_]+)/?$")
_FILE_PATH_RE = re.compile(r"^/file/bot(?P<token>[^/]+)/(?P<path>.+)$")


def parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, str], dict[str, Upload]]:
    """Split a multipart/form-data body into text fields and uploaded files (exact bytes)."""
    header = email.parser.HeaderParser().parsestr(f"Content-Type: {content_type}\r\n\r\n")
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise ValueError("multipart body without boundary")
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    fields: dict[str, str] = {}
    files: dict[str, Upload] = {}
    chunks = (b"\r\n" + body).split(delimiter)
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.removeprefix(b"\r\n")
        raw_headers, _, data = chunk.partition(b"\r\n\r\n")
        part = email.parser.HeaderParser().parsestr(raw_headers.decode("utf-8", "replace") + "\r\n\r\n")
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        filename = part.get_filename()
        if filename is None:
            fields[name] = data.decode("utf-8")
        else:
            ctype = part.get_content_type() if part.get("content-type") else None
            files[name] = Upload(name, filename, ctype, data)
    return fields, files


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeBotApiServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 15  # idle keep-alive connections are dropped after this
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr access log
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _send(self, status: int, payload: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _send_json(self, status: int, body: Any) -> None:
        self._send(status, json.dumps(body).encode())

    def _dispatch(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if len(body) < length:  # the client went away mid-request (a kill -9): Telegram never sees it
            self.close_connection = True
            return
        url = urlsplit(self.path)
        path = unquote(url.path)

        file_match = _FILE_PATH_RE.match(path)
        if file_match and self.command == "GET":
            fake.tokens.add(file_match["token"])
            self._send(200, fake.telegram.download(file_match["path"]), "application/octet-stream")
            return
        match = _API_PATH_RE.match(path)
        if not match:
            self._send_json(404, error_body(404, "Not Found"))
            return
        token, method = match["token"], match["method"]
        fake.tokens.add(token)
        try:
            params, files = self._params(method, url.query, body)
        except ValueError as exc:
            self._send_json(400, error_body(400, f"Bad Request: can't parse request: {exc}"))
            return
        if method.lower() == "getupdates":
            timeout = params.get("timeout") or 0
            if isinstance(timeout, int | float) and timeout > 0:
                fake.telegram.wait_for_updates(params.get("offset"), float(timeout))
        status, response = fake.telegram.handle(method, params, files)
        self._send_json(status, response)

    def _params(self, method: str, query: str, body: bytes) -> tuple[dict[str, Any], dict[str, Upload]]:
        fields: dict[str, str] = dict(parse_qsl(query, keep_blank_values=True))
        files: dict[str, Upload] = {}
        ctype = self.headers.get("Content-Type", "")
        mime = ctype.split(";", 1)[0].strip().lower()
        json_params: dict[str, Any] = {}
        if body:
            if mime == "application/json":
                loaded = json.loads(body)
                if not isinstance(loaded, dict):
                    raise ValueError("JSON body must be an object")
                json_params = loaded
            elif mime == "multipart/form-data":
                more, files = parse_multipart(body, ctype)
                fields.update(more)
            else:  # application/x-www-form-urlencoded (or unspecified)
                fields.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        params = decode_form_params(method, fields)
        params.update(decode_python_params(json_params))
        attach_uploads(params, files)
        return params, files


class FakeBotApiServer(RecordingHelpers):
    """Threaded HTTP fake of ``https://api.telegram.org``. Use as a context manager or
    :meth:`start`/:meth:`stop`. Give PTB ``base_url=server.base_url`` (PTB appends the token)."""

    def __init__(self, telegram: FakeTelegram | None = None, *, host: str = "127.0.0.1", port: int = 0):
        self.telegram = telegram or FakeTelegram()
        self.host = host
        self._requested_port = port
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self.tokens: set[str] = set()
        # webhook mode: once the bot called setWebhook, push_update POSTs the update (as Telegram
        # does) to the registered URL's path on these backends in turn (the reverse proxy in front
        # of several instances); with none, to the registered URL itself
        self.webhook_backends: list[str] = []
        self.deliveries: list[Delivery] = []
        self._turn = itertools.count()

    # ------------------------------------------------------------------ webhook delivery

    def push_update(self, update: dict[str, Any]) -> None:
        if self.telegram.webhook.get("url"):
            self.deliver(update)
        else:
            self.telegram.push_update(update)

    def deliver(
        self, update: dict[str, Any], *, backend: str | None = None, secret: str | None = None, retries: int = 3
    ) -> int:
        """POST ``update`` to the webhook like Telegram (with the registered secret unless ``secret``
        is given; ``secret=""`` sends none); a 5xx or a refused connection is retried on the next
        backend, up to ``retries`` times. Returns the last HTTP status (0: no connection)."""
        hook = dict(self.telegram.webhook)
        if not hook.get("url"):
            raise RuntimeError("no webhook registered (the bot has not called setWebhook)")
        url = urlsplit(str(hook["url"]))
        token = str(hook.get("secret_token", "")) if secret is None else secret
        body = json.dumps(update).encode()
        status = 0
        for _ in range(retries + 1):
            if backend is not None:
                target = backend
            elif self.webhook_backends:
                target = self.webhook_backends[next(self._turn) % len(self.webhook_backends)]
            else:
                target = f"{url.scheme}://{url.netloc}"
            headers = {"Content-Type": "application/json"}
            if token:
                headers[SECRET_HEADER] = token
            request = urllib.request.Request(target + (url.path or "/"), data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=15) as response:
                    status = int(response.status)
            except urllib.error.HTTPError as exc:
                status = int(exc.code)
            except OSError:
                status = 0
            self.deliveries.append(Delivery(int(update["update_id"]), target, status))
            if status == 200 or 400 <= status < 500:
                return status
        return status

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        if self._httpd is not None:
            return self
        self.telegram.closed = False
        httpd = _Server((self.host, self._requested_port), _Handler)
        httpd.fake = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="FakeBotApiServer", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self.telegram.close()  # wake long polls
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``"""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/bot`` — PTB's ``base_url`` (the token is appended)."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """``http://127.0.0.1:PORT/file/bot`` — PTB's ``base_file_url``."""
        return f"{self.url}/file/bot"

    def api_url(self, token: str, method: str) -> str:
        return f"{self.base_url}{token}/{method}"
