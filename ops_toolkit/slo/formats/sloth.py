"""Sloth (sloth.dev) -> the SLO model: ``prometheus/v1`` files and ``PrometheusServiceLevel``.

The two spellings differ only in case (``error_query`` / ``errorQuery``), so one reader
serves both through a table of key names.

SLIs:

- ``events``: ``error_query`` and ``total_query`` with ``{{.window}}``. The usual shape,
  ``sum(rate(selector[{{.window}}]))`` (also ``increase``, ``sum by (...)``), becomes a
  ratio of counters, and Sloth's latency shape (a histogram's count minus its bucket at
  ``le``, over the count) a latency SLI, so reports count events exactly and
  ``ops slo rules --tests`` can synthesise series for them. Any other query is kept as PromQL with ``rate(`` read as
  ``increase(``: both count the same events over the same range scaled by its length, so
  the ratio is Sloth's and the counts become events.
- ``raw``: ``error_ratio_query`` is already a ratio, with no event counts. It is counted as
  one event per window whose bad share is the ratio (total ``ratio * 0 + 1``, absent when
  the ratio is), so budgets average the ratio over time, as Sloth's own rules do.
- ``plugin``: refused, naming the plugin: ops needs the queries.

Sloth has no window in the file (its CLI's default period is 30 days); ops uses 30d.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ops_toolkit.errors import ConfigError
from ops_toolkit.slo.formats import Shared
from ops_toolkit.slo.formats.common import (
    ALERT_NAME,
    RESERVED_LABELS,
    alert_tier,
    counter_over_window,
    labels,
    name,
    objective_percent,
    query_problem,
    split_difference,
    strings,
    written,
)
from ops_toolkit.slo.formats.latency import latency_from_counters, same_series
from ops_toolkit.slo.model import (
    SLI,
    SLO,
    Alerting,
    LatencySLI,
    RatioSLI,
    RawSLI,
    SLOFile,
    Window,
    WrittenQuery,
)
from ops_toolkit.yamlpath import Node

WINDOW = "{{.window}}"
PERIOD = Window(seconds=30 * 86400)
_RATE = re.compile(r"\brate\s*\(")


@dataclass(frozen=True)
class _Keys:
    """Key names of one spelling of Sloth's spec."""

    error_query: str
    total_query: str
    error_ratio_query: str
    page_alert: str
    ticket_alert: str
    file_plugins: str


_FILE_KEYS = _Keys(
    "error_query", "total_query", "error_ratio_query", "page_alert", "ticket_alert", "slo_plugins"
)
_KUBERNETES_KEYS = _Keys(
    "errorQuery", "totalQuery", "errorRatioQuery", "pageAlert", "ticketAlert", "sloPlugins"
)


def read(documents: list[Node], source: str, shared: Shared | None = None) -> SLOFile:
    """A ``version: prometheus/v1`` file: one document."""
    if len(documents) > 1:
        raise ConfigError(
            f"{source}: a Sloth prometheus/v1 file holds one YAML document, found {len(documents)}"
        )
    root = documents[0]
    root.mapping(("version", "service", "labels", "slos", _FILE_KEYS.file_plugins))
    return SLOFile(source, *_service(root, _FILE_KEYS))


def read_kubernetes(documents: list[Node], source: str, shared: Shared | None = None) -> SLOFile:
    """``PrometheusServiceLevel`` objects (``sloth.slok.dev/v1``), one or more documents."""
    slos: list[SLO] = []
    services: dict[str, str] = {}
    for root in documents:
        root.mapping(("apiVersion", "kind", "metadata", "spec", "status"))
        api = root.text("apiVersion")
        if api != "sloth.slok.dev/v1":
            raise root.child("apiVersion").error(f"expected 'sloth.slok.dev/v1', got {api!r}")
        kind = root.text("kind")
        if kind != "PrometheusServiceLevel":
            raise root.child("kind").error(f"expected 'PrometheusServiceLevel', got {kind!r}")
        spec = root.child("spec")
        if spec.value is None:
            raise spec.error("is required")
        spec.mapping(("service", "labels", "slos", _KUBERNETES_KEYS.file_plugins))
        service, found = _service(spec, _KUBERNETES_KEYS)
        services.setdefault(service, spec.path)
        for slo in found:
            if any(s.key == slo.key for s in slos):
                raise ConfigError(f"{slo.place}: duplicate SLO name {slo.name!r}")
        slos += found
    if len(services) > 1:
        raise ConfigError(f"{source}: one file per service, found {', '.join(sorted(services))}")
    return SLOFile(source, slos[0].service, tuple(slos))


def _service(root: Node, keys: _Keys) -> tuple[str, tuple[SLO, ...]]:
    if root.has(keys.file_plugins):
        raise root.child(keys.file_plugins).error(
            "Sloth SLO plugins are not supported: they change Sloth's own rule generation"
        )
    service = name(root, "service")
    shared = labels(root.child("labels"))
    items = root.child("slos")
    if items.value is None:
        raise items.error("is required: a list of SLOs")
    slos: list[SLO] = []
    seen: dict[str, str] = {}
    for node in items.items():
        node.mapping(("name", "description", "objective", "labels", "sli", "alerting", "plugins"))
        if node.has("plugins"):
            raise node.child("plugins").error(
                "Sloth SLO plugins are not supported: they change Sloth's own rule generation"
            )
        slo_name = name(node, "name")
        if slo_name in seen:
            raise node.child("name").error(
                f"duplicate SLO name {slo_name!r} (first at {seen[slo_name]})"
            )
        seen[slo_name] = node.path
        alerting, runbook = _alerting(node.child("alerting"), keys)
        sli, queries = _sli(node.child("sli"), keys)
        slos.append(
            SLO(
                service=service,
                name=slo_name,
                objective=objective_percent(node.child("objective")),
                window=PERIOD,
                sli=sli,
                source=root.source,
                format="Sloth",
                path=node.path,
                description=node.text("description", required=False) or "",
                runbook=runbook,
                labels={**shared, **labels(node.child("labels"))},
                alerting=alerting,
                written=queries,
            )
        )
    if not slos:
        raise items.error("is empty; define at least one SLO")
    return service, tuple(slos)


def _sli(node: Node, keys: _Keys) -> tuple[SLI, dict[str, WrittenQuery]]:
    """The model SLI, and the queries as written (for messages naming the user's keys)."""
    if not isinstance(node.value, dict) or len(node.value) != 1:
        raise node.error("give exactly one of events, raw or plugin")
    node.mapping(("events", "raw", "plugin"))
    if node.has("plugin"):
        plugin = node.child("plugin")
        plugin_id = plugin.text("id", required=False) if isinstance(plugin.value, dict) else None
        raise plugin.error(
            f"Sloth SLI plugin {plugin_id or '(without id)'!r} is not supported: ops needs the "
            f"queries; write them as events ({keys.error_query}, {keys.total_query})"
        )
    if node.has("raw"):
        raw = node.child("raw").mapping((keys.error_ratio_query,))
        ratio = _template(raw, keys.error_ratio_query)
        ratio_node = raw.child(keys.error_ratio_query)
        return RawSLI(bad_query=ratio, total_query=f"({ratio}) * 0 + 1"), written(
            ratio_node, ratio_node
        )
    events = node.child("events").mapping((keys.error_query, keys.total_query))
    bad, total = (_template(events, key) for key in (keys.error_query, keys.total_query))
    queries = written(events.child(keys.total_query), events.child(keys.error_query))
    bad_counter = counter_over_window(bad, "{{window}}")
    total_counter = counter_over_window(total, "{{window}}")
    if bad_counter is not None and total_counter is not None:
        return RatioSLI(total=total_counter, bad=bad_counter), queries
    latency = _latency(bad, total_counter)
    if latency is not None:
        return latency, queries
    raw_sli = RawSLI(
        bad_query=_RATE.sub("increase(", bad), total_query=_RATE.sub("increase(", total)
    )
    return raw_sli, queries


def _latency(bad: str, total: str | None) -> LatencySLI | None:
    """Sloth's latency shape: ``count - bucket{le=...}`` over ``count`` (of one histogram)."""
    parts = split_difference(bad)
    if total is None or parts is None:
        return None
    everything, fast = (counter_over_window(part, "{{window}}") for part in parts)
    if everything is None or fast is None or not same_series(everything, total):
        return None
    return latency_from_counters(fast, total)


def _template(node: Node, key: str) -> str:
    """A query with Sloth's ``{{.window}}``, as ops's ``{{window}}`` template."""
    query = node.text(key)
    assert query is not None
    if WINDOW not in query:
        raise node.child(key).error(
            "must contain {{.window}} where the range goes, e.g. [{{.window}}]"
        )
    problem = query_problem(query)
    if problem is not None:
        raise node.child(key).error(problem)
    return query.replace(WINDOW, "{{window}}")


def _alerting(node: Node, keys: _Keys) -> tuple[Alerting, str | None]:
    """Sloth's alert settings, and the runbook its annotations link (if any)."""
    if node.value is None:
        return Alerting(), None
    node.mapping(("name", "labels", "annotations", keys.page_alert, keys.ticket_alert))
    alert_name = node.text("name", required=False)
    if alert_name is not None and not ALERT_NAME.fullmatch(alert_name):
        raise node.child("name").error(
            f"expected an alert name like SearchHighErrorRate, got {alert_name!r}"
        )
    annotations = strings(node.child("annotations"))
    tier_keys = {"labels": "labels", "annotations": "annotations", "disabled": "disable"}
    page = alert_tier(node.child(keys.page_alert), tier_keys)
    ticket = alert_tier(node.child(keys.ticket_alert), tier_keys)
    alerting = Alerting(
        name=alert_name,
        labels=labels(node.child("labels"), RESERVED_LABELS),
        annotations=annotations,
        page=page,
        ticket=ticket,
        no_data=not (page.disable and ticket.disable),  # Sloth: no alert rules at all
    )
    return alerting, annotations.get("runbook_url") or annotations.get("runbook")
