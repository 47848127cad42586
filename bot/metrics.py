"""Prometheus metrics of one application (its own registry: nothing global, two applications in one
test process never share a figure). Counters are bumped where things happen (handlers, the request
wrapper, the sweep job); the database figures are read when /metrics is scraped."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot.services.operations import Figures

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self, instance: str) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.instance = Gauge("unitbot_instance_info", "This process (always 1)", ["instance"], registry=r)
        self.instance.labels(instance).set(1)
        self.updates = Counter("unitbot_updates", "Updates handled, by kind", ["kind"], registry=r)
        self.handler_errors = Counter(
            "unitbot_handler_errors", "Unhandled exceptions (bugs) in handlers and jobs", ["where"], registry=r
        )
        self.flood_control = Counter(
            "unitbot_telegram_429", "429 Too Many Requests answers from the Bot API", registry=r
        )
        self.webhook_requests = Counter(
            "unitbot_webhook_requests", "Webhook requests by outcome", ["outcome"], registry=r
        )
        self.sweep_seconds = Histogram(
            "unitbot_sweep_duration_seconds",
            "Duration of one sweep (deadlines, elections, proposals, perk codes)",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.outbox_backlog = Gauge(
            "unitbot_outbox_backlog", "Messages not sent yet, by whether they are due now", ["state"], registry=r
        )
        self.outbox_oldest_age = Gauge(
            "unitbot_outbox_oldest_due_age_seconds", "How long the oldest due message has waited", registry=r
        )
        self.appeals_open = Gauge("unitbot_appeals_open", "Open appeals by level", ["level"], registry=r)
        self.appeals_overdue = Gauge(
            "unitbot_appeals_overdue", "Open appeals past their level's deadline, by level", ["level"], registry=r
        )

    def set_figures(self, figures: Figures) -> None:
        self.outbox_backlog.labels("due").set(figures.outbox_due)
        self.outbox_backlog.labels("later").set(figures.outbox_pending - figures.outbox_due)
        self.outbox_oldest_age.set(figures.outbox_oldest_due_age)
        for level, count in figures.appeals_open.items():
            self.appeals_open.labels(level.name.lower()).set(count)
        for level, count in figures.appeals_overdue.items():
            self.appeals_overdue.labels(level.name.lower()).set(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)
