"""The bot's one HTTP server (aiohttp.web, in the bot's own asyncio loop): the webhook, /healthz,
/readyz, /metrics, and later the staff Mini App under /app/. Nothing here imports the PTB wiring:
each part gets what it needs injected (callables and plain services) and adds its routes."""

from bot.web.health import HealthRoutes
from bot.web.server import WebPart, WebServer
from bot.web.webhook import WebhookRoute

__all__ = ["HealthRoutes", "WebPart", "WebServer", "WebhookRoute"]
