"""``GET /healthz`` (the process answers), ``GET /readyz`` (it can do its work: 503 with the reasons
otherwise) and ``GET /metrics`` (Prometheus text format)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

log = logging.getLogger(__name__)

NotReady = Callable[[], Awaitable[list[str]]]  # reasons; empty when ready
RenderMetrics = Callable[[], Awaitable[tuple[bytes, str]]]  # body, content type


class HealthRoutes:
    def __init__(self, not_ready: NotReady, metrics: RenderMetrics, instance: str) -> None:
        self.not_ready = not_ready
        self.metrics = metrics
        self.instance = instance

    def install(self, app: web.Application) -> None:
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.render_metrics)

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "instance": self.instance})

    async def readyz(self, request: web.Request) -> web.Response:
        try:
            reasons = await self.not_ready()
        except Exception as exc:
            log.exception("readiness check failed")
            reasons = [f"readiness check failed ({type(exc).__name__})"]
        if reasons:
            log.warning("not ready: %s", "; ".join(reasons))
            return web.json_response({"status": "not ready", "reasons": reasons, "instance": self.instance}, status=503)
        return web.json_response({"status": "ready", "instance": self.instance})

    async def render_metrics(self, request: web.Request) -> web.Response:
        try:
            body, content_type = await self.metrics()
        except Exception:
            log.exception("metrics could not be read")
            return web.Response(status=503, text="metrics unavailable\n")
        response = web.Response(body=body)
        response.headers["Content-Type"] = content_type
        return response
