"""Our own metrics for ``GET /metrics`` (prometheus-client), read from the store at scrape time."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

COUNTERS = {
    "alerts_received": "Alerts accepted from Alertmanager webhooks.",
    "duplicates_dropped": "Notifications dropped because every alert event in them was seen before.",
    "messages_posted": "Chat messages posted or updated.",
    "retries": "Delivery attempts rescheduled after a failure.",
    "dead_letters": "Outbox entries given up on (see 'ops outbox list').",
}
GAUGES = {
    "outbox_depth": "Outbox entries waiting to be delivered.",
    "outbox_oldest_age_seconds": "Age of the oldest undelivered outbox entry.",
    "outbox_dead": "Outbox entries in the dead-letter state now.",
    "inbox_depth": "Stored payloads not yet processed.",
}


class _StoreCollector:
    def __init__(self, stats: Mapping[str, float]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        for name, text in COUNTERS.items():
            counter = CounterMetricFamily(f"ops_{name}", text)
            counter.add_metric([], self.stats.get(name, 0.0))
            yield counter
        for name, text in GAUGES.items():
            gauge = GaugeMetricFamily(f"ops_{name}", text)
            gauge.add_metric([], self.stats.get(name, 0.0))
            yield gauge


def render_metrics(stats: Mapping[str, float]) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StoreCollector(stats))
    return generate_latest(registry).decode()
