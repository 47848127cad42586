"""``WebServer``: an aiohttp application made of parts, started and stopped with the bot.

    server = WebServer("127.0.0.1", 8080, [HealthRoutes(...), WebhookRoute(...)])
    await server.start()     # listens; server.port is the bound port (useful with port 0)
    ...
    await server.stop()

A part is anything with ``install(app: web.Application) -> None`` that adds its routes (a later staff
dashboard adds ``/app/...`` the same way). No access log: request lines would fill the log with
webhook calls; the parts log what matters.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Sequence
from typing import Protocol

from aiohttp import web

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # bytes; a Telegram update is far smaller


class WebPart(Protocol):
    def install(self, app: web.Application) -> None: ...


class WebServer:
    def __init__(self, host: str, port: int, parts: Sequence[WebPart]) -> None:
        self.host = host
        self.requested_port = port
        self.app = web.Application(client_max_size=MAX_BODY)
        for part in parts:
            part.install(self.app)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=5.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.requested_port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise OSError(exc.errno, f"cannot listen on {self.host}:{self.requested_port}: {exc.strerror}") from None
        self._runner = runner
        self.port = self._bound_port(runner)
        log.info("HTTP server listening on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
            log.info("HTTP server stopped")

    @staticmethod
    def _bound_port(runner: web.AppRunner) -> int:
        for address in runner.addresses:
            if isinstance(address, tuple) and len(address) >= 2:
                return int(address[1])
        raise RuntimeError("the HTTP server is not bound")  # pragma: no cover


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (tests and tools)."""
    (port,) = free_ports(1, host)
    return port


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` different ports nobody listens on right now. The sockets are held open together until
    all are chosen: separate ``free_port()`` calls may hand out the same port twice."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
