"""SLO files -> ``SLOFile`` models: ops/v1 and OpenSLO v1, validated with path-precise errors.

Spec is not model: each format is read and checked here, key by key, then mapped onto the
one model in ``slo/model.py``. Every error names the file and the YAML path, e.g.
``slos/search.yaml: slos[1].objective: expected a number between 0 and 100 (exclusive), got
'99.9%'``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from typing import Any

from ops_toolkit.durations import DurationTooLong, parse_duration, shorten
from ops_toolkit.errors import ConfigError
from ops_toolkit.slo.model import SLI, SLO, LatencySLI, RatioSLI, RawSLI, SLOFile, Window
from ops_toolkit.suggest import did_you_mean
from ops_toolkit.yamlpath import Node, check_timezone, parse_documents, read_text, show

_NAME = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")
_SELECTOR = re.compile(r"(?:[A-Za-z_:][A-Za-z0-9_:]*)?(?:\{.*\})?", re.DOTALL)
_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_slo_file(text: str, source: str) -> SLOFile:
    """Parse one file: an ops/v1 document, or OpenSLO v1 documents."""
    documents = parse_documents(text, source)
    if not documents:
        raise ConfigError(f"{source}: empty file; expected 'version: ops/v1' or OpenSLO documents")
    first = documents[0]
    if isinstance(first, dict) and "apiVersion" in first:
        return _openslo(documents, source)
    if len(documents) > 1:
        raise ConfigError(
            f"{source}: an ops/v1 file holds one YAML document, found {len(documents)}"
        )
    return _ops_v1(Node(first, "", source))


# -- ops/v1 -------------------------------------------------------------------------------

_TOP_KEYS = ("version", "service", "runbook", "labels", "slos", "description")
_SLO_KEYS = (
    "name",
    "objective",
    "window",
    "calendar",
    "timezone",
    "description",
    "sli",
    "runbook",
    "labels",
)


def _ops_v1(root: Node) -> SLOFile:
    root.mapping(_TOP_KEYS)
    version = root.text("version")
    if version != "ops/v1":
        raise root.child("version").error(f"expected 'ops/v1', got {version!r}")
    service = _name(root, "service")
    runbook = root.text("runbook", required=False)
    labels = _labels(root.child("labels"))
    slos: list[SLO] = []
    seen: dict[str, str] = {}
    items = root.child("slos")
    if items.value is None:
        raise items.error("is required: a list of SLOs")
    for node in items.items():
        node.mapping(_SLO_KEYS)
        name = _name(node, "name")
        if name in seen:
            raise node.child("name").error(f"duplicate SLO name {name!r} (first at {seen[name]})")
        seen[name] = node.path
        slos.append(
            SLO(
                service=service,
                name=name,
                objective=_objective(node.child("objective")),
                window=_window(node),
                sli=_sli(node.child("sli")),
                source=root.source,
                path=node.path,
                description=node.text("description", required=False) or "",
                runbook=node.text("runbook", required=False) or runbook,
                labels={**labels, **_labels(node.child("labels"))},
            )
        )
    if not slos:
        raise items.error("is empty; define at least one SLO")
    return SLOFile(root.source, service, tuple(slos))


def _name(node: Node, key: str) -> str:
    value = node.text(key)
    assert value is not None
    if not _NAME.fullmatch(value):
        raise node.child(key).error(f"expected lowercase letters, digits and '-', got {value!r}")
    return value


def _labels(node: Node) -> dict[str, str]:
    if node.value is None:
        return {}
    node.mapping(node.value.keys() if isinstance(node.value, dict) else ())
    labels = {}
    for key in node.value:
        if not isinstance(key, str) or not _LABEL.fullmatch(key) or key in ("service", "slo"):
            raise node.child(str(key)).error(
                "not a usable label name (service and slo are set by ops)"
            )
        labels[key] = node.text(key) or ""
    return labels


def _objective(node: Node) -> float:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise node.error(f"expected a number between 0 and 100 (exclusive), got {show(value)}")
    if not 0 < value < 100:  # no float(): an integer of 400 digits overflows it
        raise node.error(
            f"expected a number between 0 and 100 (exclusive), got {shorten(str(value))}"
        )
    return float(value)


def _window(node: Node) -> Window:
    timezone = node.text("timezone", required=False) or "UTC"
    check_timezone(node.child("timezone"), timezone)
    calendar = node.text("calendar", required=False)
    if calendar is not None:
        if node.has("window"):
            raise node.child("calendar").error(
                "give either 'window' (rolling) or 'calendar', not both"
            )
        if calendar not in ("week", "month", "quarter"):
            raise node.child("calendar").error(f"expected week, month or quarter, got {calendar!r}")
        return Window(seconds=0, calendar=calendar, timezone=timezone)
    raw = node.text("window", required=False) or "30d"
    window_node = node.child("window")
    if isinstance(window_node.value, dict):
        raise window_node.error(
            "expected a duration like 30d; for calendar windows use 'calendar: month'"
        )
    return Window(seconds=_rolling_seconds(window_node, raw, "30d or 28d"), timezone=timezone)


def _rolling_seconds(node: Node, raw: str, example: str) -> int:
    """A rolling window's seconds: a duration from 1h to 3650d, in whole seconds."""
    try:
        seconds = parse_duration(raw)
    except DurationTooLong:
        raise node.error(f"expected a window of at most 3650d, got {show(raw)}") from None
    except ValueError:
        raise node.error(f"expected a duration like {example}, got {show(raw)}") from None
    if seconds < 3600 or seconds != int(seconds):
        raise node.error(f"expected a window of at least 1h in whole seconds, got {show(raw)}")
    return int(seconds)


def _selector(node: Node, key: str) -> str:
    value = node.text(key)
    assert value is not None
    if not _SELECTOR.fullmatch(value) or value.count("{") != value.count("}"):
        raise node.child(key).error(
            f'expected a series selector like http_requests_total{{code=~"5.."}}, got {value!r}'
        )
    return value


def _ratio(node: Node) -> SLI:
    node.mapping(("good", "bad", "total"))
    if node.has("good") and node.has("bad"):
        raise node.error("give exactly one of 'good' or 'bad', not both")
    if not node.has("good") and not node.has("bad"):
        raise node.error("give exactly one of 'good' or 'bad'")
    kind = "good" if node.has("good") else "bad"
    counted = _selector(node, kind)
    total = _selector(node, "total")
    return (
        RatioSLI(total=total, good=counted)
        if kind == "good"
        else RatioSLI(total=total, bad=counted)
    )


def _latency(node: Node) -> SLI:
    node.mapping(("histogram", "selector", "below"))
    histogram = node.text("histogram")
    assert histogram is not None
    if histogram.endswith(("_bucket", "_count", "_sum")) or not re.fullmatch(
        r"[A-Za-z_:][\w:]*", histogram
    ):
        raise node.child("histogram").error(
            f"expected the histogram's metric name without _bucket, got {histogram!r}"
        )
    selector = node.text("selector", required=False) or "{}"
    if not (selector.startswith("{") and selector.endswith("}")):
        raise node.child("selector").error(f"expected label matchers in braces, got {selector!r}")
    below = node.child("below").value
    if isinstance(below, bool) or not isinstance(below, int | float) or below <= 0:
        raise node.child("below").error(f"expected seconds as a positive number, got {show(below)}")
    return LatencySLI(histogram=histogram, selector=selector, below=float(below))


def _raw(node: Node) -> SLI:
    node.mapping(("bad_query", "total_query"))
    queries = []
    for key in ("bad_query", "total_query"):
        query = node.text(key)
        assert query is not None
        if "{{window}}" not in query:
            raise node.child(key).error(
                "must contain {{window}} where the range goes, e.g. [{{window}}]"
            )
        queries.append(query)
    return RawSLI(bad_query=queries[0], total_query=queries[1])


SLI_KINDS: dict[str, Callable[[Node], SLI]] = {"ratio": _ratio, "latency": _latency, "raw": _raw}


def _sli(node: Node) -> SLI:
    if not isinstance(node.value, dict):
        raise node.error(f"expected one of {', '.join(SLI_KINDS)} with its settings")
    if len(node.value) != 1:
        raise node.error(
            f"expected exactly one SLI kind ({', '.join(SLI_KINDS)}), got "
            f"{', '.join(map(str, node.value)) or 'none'}"
        )
    kind = next(iter(node.value))
    if kind not in SLI_KINDS:
        hint = did_you_mean(str(kind), SLI_KINDS)
        raise node.error(f"unknown SLI kind {kind!r}{hint} (valid: {', '.join(SLI_KINDS)})")
    return SLI_KINDS[kind](node.child(kind))


# -- OpenSLO v1 ---------------------------------------------------------------------------

_OPENSLO_CALENDAR = {"1w": "week", "1M": "month", "1Q": "quarter", "7d": "week"}


def _openslo(documents: list[Any], source: str) -> SLOFile:
    slos: list[SLO] = []
    services: set[str] = set()
    for index, document in enumerate(documents):
        root = Node(document, f"[{index}]" if len(documents) > 1 else "", source)
        if not isinstance(document, dict):
            raise root.error("expected an OpenSLO document (a mapping)")
        api = root.text("apiVersion")
        if api != "openslo/v1":
            raise root.child("apiVersion").error(f"expected 'openslo/v1', got {api!r}")
        kind = root.text("kind")
        if kind in (
            "Service",
            "DataSource",
            "AlertPolicy",
            "AlertCondition",
            "AlertNotificationTarget",
        ):
            continue
        if kind != "SLO":
            raise root.child("kind").error(
                f"only kind SLO (and Service) is supported, got {kind!r}"
            )
        slo = _openslo_slo(root)
        services.add(slo.service)
        if any(s.name == slo.name and s.service == slo.service for s in slos):
            raise root.child("metadata").child("name").error(f"duplicate SLO name {slo.name!r}")
        slos.append(slo)
    if not slos:
        raise ConfigError(f"{source}: no OpenSLO document of kind SLO")
    if len(services) > 1:
        raise ConfigError(f"{source}: one file per service, found {', '.join(sorted(services))}")
    return SLOFile(source, slos[0].service, tuple(slos))


def _openslo_slo(root: Node) -> SLO:
    metadata = root.child("metadata")
    if metadata.value is None:
        raise metadata.error("is required")
    name = _name(metadata, "name")
    annotations = metadata.child("annotations")
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
    service = _name(spec, "service")
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
        percent = _objective(objective.child("targetPercent"))
    else:
        raise objective.error("give 'target' (0-1) or 'targetPercent'")
    return SLO(
        service=service,
        name=name,
        objective=percent,
        window=_openslo_window(spec.child("timeWindow")),
        sli=_openslo_indicator(spec.child("indicator")),
        source=root.source,
        path=root.path or "metadata.name",
        description=spec.text("description", required=False) or "",
        runbook=annotations.text("ops-toolkit/runbook", required=False) or None,
        labels={},
    )


def _openslo_window(node: Node) -> Window:
    items = node.items()
    if len(items) != 1:
        raise node.error(f"exactly one time window is supported, got {len(items)}")
    window = items[0]
    duration = window.text("duration")
    assert duration is not None
    rolling = window.child("isRolling").value
    if rolling is True:
        return Window(seconds=_rolling_seconds(window.child("duration"), duration, "28d"))
    calendar = window.child("calendar")
    timezone = calendar.text("timeZone", required=False) if calendar.value else None
    timezone = timezone or "UTC"
    check_timezone(calendar.child("timeZone") if calendar.value else window, timezone)
    if duration not in _OPENSLO_CALENDAR:
        raise window.child("duration").error(
            f"calendar windows of 1w, 1M or 1Q are supported, got {duration!r}"
        )
    return Window(seconds=0, calendar=_OPENSLO_CALENDAR[duration], timezone=timezone)


def _openslo_indicator(node: Node) -> SLI:
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
    counted = _openslo_query(ratio.child(kind))
    total = _openslo_query(ratio.child("total"))
    return (
        RatioSLI(total=total, good=counted)
        if kind == "good"
        else RatioSLI(total=total, bad=counted)
    )


def _openslo_query(node: Node) -> str:
    source = node.child("metricSource")
    if source.value is None:
        raise source.error("is required")
    kind = source.text("type")
    if kind not in ("Prometheus", "prometheus"):
        raise source.child("type").error(f"only Prometheus is supported, got {kind!r}")
    return _selector(source.child("spec"), "query")


# -- files --------------------------------------------------------------------------------


def slo_files(paths: Iterable[str]) -> list[str]:
    found: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            found += sorted(
                os.path.join(path, f) for f in os.listdir(path) if f.endswith((".yaml", ".yml"))
            )
        elif os.path.isfile(path):
            found.append(path)
        else:
            raise ConfigError(
                f"{path}: no such file or directory; give SLO files or directories, or set "
                "slos: in ops.yaml"
            )
    return found


def load_slo_files(paths: Iterable[str]) -> list[SLOFile]:
    """Every SLO file under ``paths``; SLO keys must be unique across files."""
    files = []
    seen: dict[str, str] = {}
    for path in slo_files(paths):
        parsed = parse_slo_file(read_text(path), path)
        for slo in parsed.slos:
            if slo.key in seen:
                raise ConfigError(f"{slo.place}: SLO {slo.key} is also defined in {seen[slo.key]}")
            seen[slo.key] = slo.place
        files.append(parsed)
    return files


def load_slos(paths: Iterable[str]) -> list[SLO]:
    return [slo for file in load_slo_files(paths) for slo in file.slos]
