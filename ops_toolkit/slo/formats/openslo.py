"""OpenSLO v1 (openslo.com) -> the SLO model: SLO documents over Prometheus metrics.

Other kinds in the same file (Service, DataSource, alerting) are accepted and skipped; what
ops cannot evaluate is refused with the field that asks for it.
"""

from __future__ import annotations

from ops_toolkit.durations import parse_duration
from ops_toolkit.errors import ConfigError
from ops_toolkit.slo.formats.common import name, objective_percent, selector
from ops_toolkit.slo.model import SLI, SLO, RatioSLI, SLOFile, Window
from ops_toolkit.yamlpath import Node, check_timezone, show

_CALENDAR = {"1w": "week", "1M": "month", "1Q": "quarter", "7d": "week"}
_SKIPPED_KINDS = (
    "Service",
    "DataSource",
    "AlertPolicy",
    "AlertCondition",
    "AlertNotificationTarget",
)


def read(documents: list[Node], source: str) -> SLOFile:
    slos: list[SLO] = []
    services: set[str] = set()
    for root in documents:
        if not isinstance(root.value, dict):
            raise root.error("expected an OpenSLO document (a mapping)")
        api = root.text("apiVersion")
        if api != "openslo/v1":
            raise root.child("apiVersion").error(f"expected 'openslo/v1', got {api!r}")
        kind = root.text("kind")
        if kind in _SKIPPED_KINDS:
            continue
        if kind != "SLO":
            raise root.child("kind").error(
                f"only kind SLO (and Service) is supported, got {kind!r}"
            )
        slo = _slo(root)
        services.add(slo.service)
        if any(s.name == slo.name and s.service == slo.service for s in slos):
            raise root.child("metadata").child("name").error(f"duplicate SLO name {slo.name!r}")
        slos.append(slo)
    if not slos:
        raise ConfigError(f"{source}: no OpenSLO document of kind SLO")
    if len(services) > 1:
        raise ConfigError(f"{source}: one file per service, found {', '.join(sorted(services))}")
    return SLOFile(source, slos[0].service, tuple(slos))


def _slo(root: Node) -> SLO:
    metadata = root.child("metadata")
    if metadata.value is None:
        raise metadata.error("is required")
    slo_name = name(metadata, "name")
    annotations = metadata.child("annotations").value or {}
    spec = root.child("spec")
    if spec.value is None:
        raise spec.error("is required")
    spec.mapping(
        (
            "service",
            "description",
            "indicator",
            "indicatorRef",
            "timeWindow",
            "budgetingMethod",
            "objectives",
            "alertPolicies",
        )
    )
    if spec.has("indicatorRef"):
        raise spec.child("indicatorRef").error("is not supported; define the indicator inline")
    method = spec.text("budgetingMethod")
    if method != "Occurrences":
        raise spec.child("budgetingMethod").error(f"only Occurrences is supported, got {method!r}")
    service = name(spec, "service")
    objectives = spec.child("objectives").items()
    if len(objectives) != 1:
        raise spec.child("objectives").error(
            f"exactly one objective is supported, got {len(objectives)}"
        )
    objective = objectives[0]
    if objective.has("target"):
        target = objective.child("target")
        value = target.value
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
            raise target.error(f"expected a number between 0 and 1 (exclusive), got {show(value)}")
        percent = round(float(value) * 100, 10)
    elif objective.has("targetPercent"):
        percent = objective_percent(objective.child("targetPercent"))
    else:
        raise objective.error("give 'target' (0-1) or 'targetPercent'")
    return SLO(
        service=service,
        name=slo_name,
        objective=percent,
        window=_window(spec.child("timeWindow")),
        sli=_indicator(spec.child("indicator")),
        source=root.source,
        path=root.path or "metadata.name",
        description=spec.text("description", required=False) or "",
        runbook=str(annotations.get("ops-toolkit/runbook"))
        if annotations.get("ops-toolkit/runbook")
        else None,
        labels={},
    )


def _window(node: Node) -> Window:
    items = node.items()
    if len(items) != 1:
        raise node.error(f"exactly one time window is supported, got {len(items)}")
    window = items[0]
    duration = window.text("duration")
    assert duration is not None
    rolling = window.child("isRolling").value
    if rolling is True:
        try:
            seconds = parse_duration(duration)
        except ValueError:
            raise window.child("duration").error(
                f"expected a duration like 28d, got {duration!r}"
            ) from None
        return Window(seconds=int(seconds))
    calendar = window.child("calendar")
    timezone = calendar.text("timeZone", required=False) if calendar.value else None
    timezone = timezone or "UTC"
    check_timezone(calendar.child("timeZone") if calendar.value else window, timezone)
    if duration not in _CALENDAR:
        raise window.child("duration").error(
            f"calendar windows of 1w, 1M or 1Q are supported, got {duration!r}"
        )
    return Window(seconds=0, calendar=_CALENDAR[duration], timezone=timezone)


def _indicator(node: Node) -> SLI:
    if node.value is None:
        raise node.error("is required (inline indicator with spec.ratioMetric)")
    spec = node.child("spec")
    if spec.has("thresholdMetric"):
        raise spec.child("thresholdMetric").error("is not supported; use ratioMetric")
    ratio = spec.child("ratioMetric")
    if ratio.value is None:
        raise ratio.error("is required")
    ratio.mapping(("counter", "good", "bad", "total", "rawType", "raw"))
    if ratio.has("raw"):
        raise ratio.child("raw").error("is not supported; give good or bad, and total")
    if ratio.child("counter").value is not True:
        raise ratio.child("counter").error("only counter: true is supported")
    if ratio.has("good") == ratio.has("bad"):
        raise ratio.error("give exactly one of 'good' or 'bad', and 'total'")
    kind = "good" if ratio.has("good") else "bad"
    counted = _query(ratio.child(kind))
    total = _query(ratio.child("total"))
    return (
        RatioSLI(total=total, good=counted)
        if kind == "good"
        else RatioSLI(total=total, bad=counted)
    )


def _query(node: Node) -> str:
    source = node.child("metricSource")
    if source.value is None:
        raise source.error("is required")
    kind = source.text("type")
    if kind not in ("Prometheus", "prometheus"):
        raise source.child("type").error(f"only Prometheus is supported, got {kind!r}")
    return selector(source.child("spec"), "query")
