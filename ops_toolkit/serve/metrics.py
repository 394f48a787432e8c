"""Our own metrics for ``GET /metrics`` (prometheus-client), read from the store at scrape time."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

COUNTERS = {
    "alerts_received": "Alerts accepted from Alertmanager webhooks.",
    "duplicates_dropped": "Notifications dropped because every alert event in them was seen before.",
    "messages_posted": "Chat messages posted or updated.",
    "retries": "Delivery attempts rescheduled after a failure.",
    "dead_letters": "Outbox entries given up on (see 'ops outbox list').",
    "inbox_retries": "Stored payloads whose processing failed and was rescheduled.",
    "inbox_dead_letters": "Stored payloads given up on after their retries (logged with the reason).",
    "enrichment_failures": "Messages sent without their runbook link or SLO budget (lookup failed).",
    "bodies_refused": "Webhook bodies refused as too large (413); each also posts a notice.",
}
GAUGES = {
    "outbox_depth": "Outbox entries waiting to be delivered.",
    "outbox_oldest_age_seconds": "Age of the oldest undelivered outbox entry.",
    "outbox_dead": "Outbox entries in the dead-letter state now.",
    "inbox_depth": "Stored payloads not yet processed.",
    "inbox_dead": "Stored payloads in the dead-letter state now.",
    "delivery_degraded": "1 when dead letters exist or the oldest outbox entry is over 5 minutes old.",
    "intake_up": "1 when webhooks can be committed to the store (else /healthz answers 503).",
}
STALE_OUTBOX_SECONDS = 300.0


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
            if name == "delivery_degraded":
                value = float(delivery_degraded(self.stats))
            else:
                value = self.stats.get(name, 1.0 if name == "intake_up" else 0.0)
            gauge.add_metric([], value)
            yield gauge


def assess_health(
    stats: Mapping[str, float] | Exception,
    backlog: int,
    inbox_limit: int,
    writer_alive: bool,
    *,
    busy: bool = False,
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) of ``/healthz``. Pure.

    503 only when intake cannot commit (the store fails, the writer is gone, the inbox is
    over its bound), so a load balancer never takes away a replica that can still accept
    alerts. Delivery trouble (dead letters, an old outbox) shows as ``"delivery":
    "degraded"`` with a 200: alert on it, do not route around it.

    A store's failure says who the store is (a URL's user, host and database, a file's
    path): that goes in ``"detail"``, which the server shows only to a caller with the
    bearer token (``public_health``); ``"intake"`` stays generic.

    ``busy``: the write probe found SQLite's lock held by another connection past its
    wait. That is contention, not an outage: a 200 with ``"intake": "busy"`` (webhooks
    meanwhile get 503 with Retry-After, which Alertmanager retries), since no other
    replica could take the alerts instead.
    """
    if isinstance(stats, Exception):
        return 503, {
            "status": "unavailable",
            "intake": "store unavailable",
            "detail": store_failure(stats),
        }
    if not writer_alive:
        return 503, {"status": "unavailable", "intake": "the intake writer has stopped"}
    depth = int(stats.get("inbox_depth", 0))
    body: dict[str, Any] = {
        "status": "ok",
        "intake": "busy" if busy else "ok",
        "delivery": "degraded" if delivery_degraded(stats) else "ok",
        "outbox_depth": int(stats.get("outbox_depth", 0)),
        "outbox_oldest_age_seconds": round(stats.get("outbox_oldest_age_seconds", 0.0), 1),
        "inbox_depth": depth,
        "dead": int(stats.get("outbox_dead", 0)),
        "inbox_dead": int(stats.get("inbox_dead", 0)),
    }
    if depth + backlog > inbox_limit:
        body.update(status="full", intake=f"inbox over its bound of {inbox_limit}")
        return 503, body
    return 200, body


def store_failure(error: BaseException) -> str:
    """A store's failure in one line, with its type: it may name the store's identity."""
    reason = " ".join(str(error).split()) or "no message"
    return f"{type(error).__name__}: {reason}"


def store_state(error: BaseException) -> str:
    """What an anonymous caller may learn of a store failure: that it is busy (another
    connection holds SQLite's write lock: contention) or unavailable; never which store."""
    from ops_toolkit.errors import StoreBusy

    return "store busy" if isinstance(error, StoreBusy) else "store unavailable"


def public_health(body: Mapping[str, Any]) -> dict[str, Any]:
    """``/healthz``'s body for an anonymous caller (a load balancer): without ``detail``."""
    return {key: value for key, value in body.items() if key != "detail"}


def delivery_degraded(stats: Mapping[str, float]) -> bool:
    return (
        stats.get("outbox_dead", 0) > 0
        or stats.get("inbox_dead", 0) > 0
        or stats.get("outbox_oldest_age_seconds", 0) > STALE_OUTBOX_SECONDS
    )


def render_metrics(stats: Mapping[str, float]) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StoreCollector(stats))
    return generate_latest(registry).decode()
