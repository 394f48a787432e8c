"""Pyrra (pyrra.dev) -> the SLO model: ``ServiceLevelObjective`` objects (``pyrra.dev/v1alpha1``).

Pyrra has no service: an object's namespace is its service (``default`` when unset, as in
Kubernetes), its name the SLO's name. ``target`` is a percent written as a string, as
Pyrra's CRD has it. Indicators:

- ``ratio``: ``errors`` (or ``success``) and ``total`` counter selectors;
- ``latency``: ``success`` is the histogram's ``_bucket`` at one ``le`` and ``total`` its
  ``_count`` with the same other matchers, i.e. a latency SLI below that bound.

``grouping`` (one budget per label value) and the other indicator kinds are refused by name.
"""

from __future__ import annotations

import math

from ops_toolkit.durations import DurationTooLong, parse_duration
from ops_toolkit.errors import ConfigError
from ops_toolkit.slo.formats import Shared
from ops_toolkit.slo.formats.common import (
    ALERT_NAME,
    MAX_WINDOW,
    NAME,
    brief,
    flag,
    labels,
    selector,
    written,
)
from ops_toolkit.slo.formats.latency import same_series, split_bucket
from ops_toolkit.slo.model import (
    SLI,
    SLO,
    Alerting,
    LatencySLI,
    RatioSLI,
    SeverityAlert,
    SLOFile,
    Window,
    WrittenQuery,
)
from ops_toolkit.yamlpath import Node, show

_INDICATORS = ("ratio", "latency", "latencyNative", "bool_gauge")
_PREFIX = "pyrra.dev/"


def read(documents: list[Node], source: str, shared: Shared | None = None) -> SLOFile:
    slos: list[SLO] = []
    for root in documents:
        root.mapping(("apiVersion", "kind", "metadata", "spec", "status"))
        api = root.text("apiVersion")
        if api != "pyrra.dev/v1alpha1":
            raise root.child("apiVersion").error(f"expected 'pyrra.dev/v1alpha1', got {api!r}")
        kind = root.text("kind")
        if kind != "ServiceLevelObjective":
            raise root.child("kind").error(f"expected 'ServiceLevelObjective', got {kind!r}")
        slo = _objective(root)
        for other in slos:
            if other.key == slo.key:
                raise (
                    root.child("metadata")
                    .child("name")
                    .error(f"duplicate SLO {slo.key!r} (first at {other.path or '(top)'})")
                )
        slos.append(slo)
    services = sorted({s.service for s in slos})
    if len(services) > 1:
        raise ConfigError(
            f"{source}: one file per service (namespace), found {', '.join(services)}"
        )
    return SLOFile(source, services[0], tuple(slos))


def _dns_name(node: Node, key: str, default: str | None = None) -> str:
    value = node.text(key, required=default is None) or default
    assert value is not None
    if not NAME.fullmatch(value):
        raise node.child(key).error(f"expected lowercase letters, digits and '-', got {value!r}")
    return value


def _objective(root: Node) -> SLO:
    metadata = root.child("metadata")
    if metadata.value is None:
        raise metadata.error("is required")
    metadata.mapping(metadata.value.keys() if isinstance(metadata.value, dict) else ())
    slo_name = _dns_name(metadata, "name")
    service = _dns_name(metadata, "namespace", default="default")
    spec = root.child("spec")
    if spec.value is None:
        raise spec.error("is required")
    spec.mapping(("description", "target", "window", "indicator", "alerting"))
    return SLO(
        service=service,
        name=slo_name,
        objective=_target(spec.child("target")),
        window=_window(spec.child("window")),
        sli=_indicator(spec.child("indicator")),
        source=root.source,
        format="Pyrra",
        path=root.path or "metadata.name",
        description=spec.text("description", required=False) or "",
        labels=_team_labels(metadata.child("labels")),
        alerting=_alerting(spec.child("alerting")),
        written=_written(spec.child("indicator")),
    )


def _written(indicator: Node) -> dict[str, WrittenQuery]:
    """The indicator's ``metric`` nodes by role (after ``_indicator`` has checked them)."""
    kind = indicator.child(next(iter(indicator.value)))
    counted = "errors" if kind.has("errors") else "success"
    return written(kind.child("total").child("metric"), kind.child(counted).child("metric"))


def _team_labels(node: Node) -> dict[str, str]:
    """Pyrra copies labels prefixed ``pyrra.dev/`` onto its rules; ops does the same."""
    if node.value is None:
        return {}
    if not isinstance(node.value, dict):
        raise node.error(f"expected a mapping, got {show(node.value)}")
    prefixed = {
        str(key)[len(_PREFIX) :]: value
        for key, value in node.value.items()
        if str(key).startswith(_PREFIX)
    }
    return labels(Node(prefixed, node.path, node.source))


def _target(node: Node) -> float:
    value = node.value
    try:
        percent = float(value) if isinstance(value, str | int | float) else None
    except ValueError:
        percent = None
    if isinstance(value, bool) or percent is None or not 0 < percent < 100:
        raise node.error(
            f"expected a percent between 0 and 100 (exclusive) like '99.9', got {show(value)}"
        )
    return percent


def _window(node: Node) -> Window:
    if node.value is None:
        raise node.error("is required, e.g. 4w or 28d")
    raw = str(node.value)
    try:
        seconds = parse_duration(raw)
    except DurationTooLong:
        seconds = math.inf  # over ten years: the range message below
    except ValueError:
        raise node.error(f"expected a duration like 4w or 28d, got {brief(raw)}") from None
    if not 3600 <= seconds <= MAX_WINDOW or seconds != int(seconds):
        raise node.error(f"expected a window from 1h to 3650d in whole seconds, got {brief(raw)}")
    return Window(seconds=int(seconds))


def _indicator(node: Node) -> SLI:
    if not isinstance(node.value, dict) or len(node.value) != 1:
        raise node.error("give exactly one of ratio or latency")
    node.mapping(_INDICATORS)
    kind = next(iter(node.value))
    if kind not in ("ratio", "latency"):
        raise node.child(kind).error(
            f"Pyrra indicator {kind!r} is not supported; use ratio or latency"
        )
    indicator = node.child(kind)
    indicator.mapping(("errors", "success", "total", "grouping"))
    if indicator.has("grouping"):
        raise indicator.child("grouping").error(
            "is not supported: ops keeps one budget per SLO; write one SLO per group instead"
        )
    total = _metric(indicator.child("total"))
    if kind == "latency":
        return _latency(indicator, total)
    if indicator.has("errors") == indicator.has("success"):
        raise indicator.error("give exactly one of 'errors' or 'success', and 'total'")
    if indicator.has("errors"):
        return RatioSLI(total=total, bad=_metric(indicator.child("errors")))
    return RatioSLI(total=total, good=_metric(indicator.child("success")))


def _metric(node: Node) -> str:
    node.mapping(("metric",))
    return selector(node, "metric")


def _latency(indicator: Node, total: str) -> SLI:
    if indicator.has("errors"):
        raise indicator.child("errors").error("a latency indicator takes 'success' and 'total'")
    success_node = indicator.child("success")
    success = _metric(success_node)
    split = split_bucket(success)
    if split is None:
        raise success_node.child("metric").error(
            f'expected a histogram\'s _bucket series with one le="<seconds>" matcher, got '
            f"{success!r}"
        )
    histogram, matchers, below = split
    expected = f"{histogram}_count{matchers}"
    if not same_series(total, expected):
        raise (
            indicator.child("total")
            .child("metric")
            .error(
                f"expected the same histogram's _count with the bucket's other matchers, "
                f"{expected}, got {total!r}"
            )
        )
    return LatencySLI(histogram=histogram, selector=matchers, below=below)


def _alerting(node: Node) -> Alerting:
    if node.value is None:
        return Alerting()
    node.mapping(("name", "disabled", "burnrates", "absent", "absentName"))
    alert_name = node.text("name", required=False)
    if alert_name is not None and not ALERT_NAME.fullmatch(alert_name):
        raise node.child("name").error(
            f"expected an alert name like SearchErrorBudgetBurn, got {alert_name!r}"
        )
    burnrates = node.child("burnrates")
    disabled = flag(node.child("disabled")) or (burnrates.value is not None and not flag(burnrates))
    absent = node.child("absent").value is None or flag(node.child("absent"))
    return Alerting(
        name=alert_name,
        page=SeverityAlert(),
        ticket=SeverityAlert(),
        disabled=disabled,
        no_data=absent,  # Pyrra's absent alerts (on unless absent: false) are ops's NoData
    )
