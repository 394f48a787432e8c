"""OpenSLO (openslo.com, v1 and v1alpha) -> the SLO model, for Prometheus-compatible sources.

Every kind is read and checked: SLO, SLI, Service, DataSource, AlertPolicy, AlertCondition,
AlertNotificationTarget. References (``indicatorRef``, ``metricSourceRef``,
``alertPolicyRef``, ``conditionRef``, ``targetRef``) resolve across every file given
(``shared``), so SLIs and alert policies can live in their own files.

How each SLI and budgeting method becomes PromQL (``{{window}}`` is the window's range):

- ``ratioMetric`` with ``counter: true``: the queries are counter selectors, bare or in
  ``sum(...)`` / ``sum by (...) (...)``; ops counts them with ``increase`` inside and ``sum``
  outside. A rate over a fixed range (``rate(x[5m])``) cannot be counted over a window and
  is refused with that reason.
- ``counter: false``: the queries are gauges of events (any PromQL); events in a range are
  the sum of their values sampled every minute (``sum_over_time((q)[range:1m])``).
- ``raw`` (a precomputed ratio, ``rawType: success|failure``) and ``thresholdMetric``
  (a gauge compared with an objective's ``op`` and ``value``): each minute is one event,
  bad when the ratio says so or the threshold is not met.
- ``Timeslices``: a slice of ``timeSliceWindow`` is bad when its SLI is below
  ``timeSliceTarget``; slices without events count neither way. The objective is the share
  of good slices. ``RatioTimeslices``: the SLI is the mean of the slices' ratios.
- Several objectives make several SLOs, each with its own budget, named after the SLO and
  the objective's ``displayName`` (or its position).

Windows: rolling durations in minutes to years (a month counts 30 days, a quarter 90, a
year 365); calendar windows of days, weeks, months, quarters or years from ``startTime``
in ``timeZone``; no ``timeWindow`` means 30 days rolling, as in ops/v1.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ops_toolkit.errors import ConfigError, SelectorError
from ops_toolkit.slo.formats import Shared
from ops_toolkit.slo.formats.common import (
    MAX_WINDOW,
    brief,
    label_problem,
    name,
    number,
    objective_percent,
    query_problem,
    unwrap_sum,
    written,
)
from ops_toolkit.slo.formats.latency import latency_from_counters
from ops_toolkit.slo.model import (
    SLI,
    SLO,
    Alerting,
    BurnCondition,
    RatioSLI,
    RawSLI,
    SLOFile,
    Window,
    WrittenQuery,
)
from ops_toolkit.slo.selector import parse
from ops_toolkit.yamlpath import Node, check_timezone, show

APIS = ("openslo/v1", "openslo/v1alpha")
KINDS = (
    "SLO",
    "SLI",
    "Service",
    "DataSource",
    "AlertPolicy",
    "AlertCondition",
    "AlertNotificationTarget",
)
PROMETHEUS_TYPES = ("Prometheus", "Thanos", "Cortex", "Mimir", "VictoriaMetrics")
METHODS = ("Occurrences", "Timeslices", "RatioTimeslices")
DEFAULT_WINDOW = Window(seconds=30 * 86400)
SAMPLE = "1m"  # how often gauges, raw ratios and thresholds are sampled into events

_OBJECT_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
_SHORTHAND = re.compile(r"([1-9][0-9]*)([mhdwMQY])")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_LONG_UNITS = {"M": 30 * 86400, "Q": 90 * 86400, "Y": 365 * 86400}
_CALENDAR_UNITS = {"d": "day", "w": "week", "M": "month", "Q": "quarter", "Y": "year"}
_NEGATION = {"lte": ">", "lt": ">=", "gte": "<", "gt": "<="}
_METADATA = ("name", "displayName", "labels", "annotations")
RUNBOOK_ANNOTATION = "ops-toolkit/runbook"

Library = Shared
_REFERABLE = ("SLI", "DataSource", "AlertPolicy", "AlertCondition", "AlertNotificationTarget")


def objects(
    documents: Iterable[Node], errors: list[ConfigError] | None = None
) -> dict[tuple[str, str], Node]:
    """OpenSLO objects others refer to, by (kind, name), for references from any file.

    A name defined twice is an error, raised, or with ``errors`` appended there.
    """
    found: dict[tuple[str, str], Node] = {}
    for root in documents:
        value = root.value
        if not isinstance(value, dict) or value.get("apiVersion") not in APIS:
            continue
        metadata = value.get("metadata")
        object_name = metadata.get("name") if isinstance(metadata, dict) else None
        if not isinstance(object_name, str) or value.get("kind") not in _REFERABLE:
            continue
        key = (value["kind"], object_name)
        if key in found and found[key] is not root:
            other = found[key]
            duplicate = (
                root.child("metadata")
                .child("name")
                .error(
                    f"{key[0]} {object_name!r} is also defined at {other.source}: "
                    f"{other.path or '(top)'}"
                )
            )
            if errors is None:
                raise duplicate
            errors.append(duplicate)  # the first definition stays
            continue
        found[key] = root
    return found


def read(documents: list[Node], source: str, shared: Library | None = None) -> SLOFile:
    """The SLOs of one OpenSLO file; its other objects are checked, and serve references."""
    library = {**(shared or {}), **objects(documents)}
    slos: list[SLO] = []
    for root in documents:
        if not isinstance(root.value, dict):
            raise root.error(f"expected an OpenSLO object (a mapping), got {show(root.value)}")
        root.mapping(("apiVersion", "kind", "metadata", "spec"))
        api = root.text("apiVersion")
        if api not in APIS:
            raise root.child("apiVersion").error(
                f"expected {' or '.join(APIS)} (in one file), got {api!r}"
            )
        kind = root.text("kind")
        assert kind is not None
        allowed = KINDS if api == "openslo/v1" else ("SLO", "Service")
        if kind not in allowed:
            raise root.child("kind").error(
                f"unknown {api} kind {kind!r} (valid: {', '.join(allowed)})"
            )
        if api == "openslo/v1alpha":
            found = _v1alpha_slo(root) if kind == "SLO" else _service(root)
        else:
            found = _V1_READERS[kind](root, library)
        for slo in found:
            for other in slos:
                if other.key == slo.key:
                    raise ConfigError(
                        f"{slo.place}: duplicate SLO {slo.key!r} (first at {other.path})"
                    )
        slos += found
    services = sorted({s.service for s in slos})
    if len(services) > 1:
        raise ConfigError(f"{source}: one file per service, found {', '.join(services)}")
    return SLOFile(source, services[0] if services else "", tuple(slos))


# -- objects other than SLO ----------------------------------------------------------------


def _metadata(root: Node, *, strict: bool = False) -> str:
    """The object's name; ``strict`` for names that become Prometheus label values."""
    metadata = root.child("metadata")
    if metadata.value is None:
        raise metadata.error("is required")
    metadata.mapping(_METADATA)
    if strict:
        return name(metadata, "name")
    value = metadata.text("name")
    assert value is not None
    if not _OBJECT_NAME.fullmatch(value):
        raise metadata.child("name").error(
            f"expected lowercase letters, digits, '-' and '.', got {value!r}"
        )
    return value


def _spec(root: Node, keys: tuple[str, ...]) -> Node:
    spec = root.child("spec")
    if spec.value is None:
        raise spec.error("is required")
    return spec.mapping(keys)


def _service(root: Node, _library: Library | None = None) -> list[SLO]:
    _metadata(root, strict=True)
    if root.child("spec").value is not None:
        _spec(root, ("description",))
    return []


def _datasource(root: Node, _library: Library | None = None) -> list[SLO]:
    _datasource_url(root)
    return []


def _datasource_url(root: Node) -> str | None:
    """A DataSource's Prometheus URL (``connectionDetails.url``), after checking its type."""
    _metadata(root)
    spec = _spec(root, ("description", "type", "connectionDetails"))
    _check_type(spec.child("type"), spec.text("type"))
    details = spec.child("connectionDetails")
    if details.value is None:
        return None
    details.mapping(("url",))
    url = details.text("url", required=False)
    if url is not None and not re.match(r"https?://", url):
        raise details.child("url").error(f"expected an http(s) URL, got {url!r}")
    return url


def _check_type(node: Node, kind: str | None) -> None:
    if kind is None:
        raise node.error("is required (or give metricSourceRef naming a DataSource)")
    if kind.lower() not in {t.lower() for t in PROMETHEUS_TYPES}:
        raise node.error(
            f"data source type {kind!r} is not supported: ops queries Prometheus-compatible "
            f"APIs ({', '.join(PROMETHEUS_TYPES)})"
        )


def _sli_object(root: Node, library: Library) -> list[SLO]:
    """Checked here, with the same references an SLO's inline indicator resolves (its
    ``metricSourceRef`` names a DataSource of any file given); built for each SLO using it."""
    _metadata(root)
    _indicator(root, library)
    return []


def _condition_object(root: Node, _library: Library | None = None) -> list[SLO]:
    _condition(root, ())
    return []


def _target_object(root: Node, _library: Library | None = None) -> list[SLO]:
    _target(root)
    return []


def _policy_object(root: Node, library: Library) -> list[SLO]:
    _policy(root, library)
    return []


# -- indicators ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Indicator:
    """An SLI as written: which metric kind, and the nodes of its queries (for errors)."""

    kind: str  # "ratio" | "raw" | "threshold"
    queries: Mapping[str, Node]  # good|bad|total, raw, or threshold -> the query's node
    counter: bool = True
    raw_type: str = "failure"
    datasource: str | None = None


def _indicator(root: Node, library: Library) -> _Indicator:
    """An SLI object's or inline indicator's spec (``root`` has ``metadata`` and ``spec``)."""
    spec = _spec(root, ("description", "thresholdMetric", "ratioMetric"))
    if spec.has("thresholdMetric") == spec.has("ratioMetric"):
        raise spec.error("give exactly one of 'thresholdMetric' or 'ratioMetric'")
    urls: list[str] = []
    if spec.has("thresholdMetric"):
        query = _metric_source(spec.child("thresholdMetric"), library, urls)
        return _Indicator("threshold", {"threshold": query}, datasource=_one_url(spec, urls))
    ratio = spec.child("ratioMetric").mapping(("counter", "good", "bad", "total", "rawType", "raw"))
    if ratio.has("raw"):
        for key in ("good", "bad", "total"):
            if ratio.has(key):
                raise ratio.child(key).error("give either 'raw' or good/bad and total, not both")
        raw_type = ratio.text("rawType")
        if raw_type not in ("success", "failure"):
            raise ratio.child("rawType").error(f"expected success or failure, got {raw_type!r}")
        query = _metric_source(ratio.child("raw"), library, urls)
        return _Indicator("raw", {"raw": query}, raw_type=raw_type, datasource=_one_url(spec, urls))
    if ratio.has("rawType"):
        raise ratio.child("rawType").error("is only for 'raw' ratios")
    if ratio.has("good") == ratio.has("bad"):
        raise ratio.error("give exactly one of 'good' or 'bad', and 'total'")
    counter = ratio.child("counter").value
    if not isinstance(counter, bool):
        raise ratio.child("counter").error(f"expected true or false, got {show(counter)}")
    counted = "good" if ratio.has("good") else "bad"
    queries = {key: _metric_source(ratio.child(key), library, urls) for key in (counted, "total")}
    return _Indicator("ratio", queries, counter=counter, datasource=_one_url(spec, urls))


def _metric_source(node: Node, library: Library, urls: list[str]) -> Node:
    """The node of the PromQL query of a ``metricSource``; its DataSource URL into ``urls``."""
    node.mapping(("metricSource",))
    source = node.child("metricSource")
    if source.value is None:
        raise source.error("is required")
    source.mapping(("metricSourceRef", "type", "spec"))
    reference = source.text("metricSourceRef", required=False)
    kind = source.text("type", required=False)
    if reference is not None:
        found = library.get(("DataSource", reference))
        if found is None:
            raise source.child("metricSourceRef").error(
                f"no DataSource named {reference!r} in the files given"
            )
        url = _datasource_url(found)
        if url:
            urls.append(url)
        if kind is None:
            kind = found.child("spec").text("type")
    _check_type(source.child("type"), kind)
    spec = source.child("spec")
    if spec.value is None:
        raise spec.error("is required: {query: <PromQL>}")
    spec.mapping(("query",))
    query = spec.child("query")
    text = spec.text("query")
    assert text is not None
    if "{{" in text:
        raise query.error("templates are not OpenSLO; give plain PromQL")
    problem = query_problem(text)
    if problem is not None:
        raise query.error(problem)
    return query


def _one_url(spec: Node, urls: list[str]) -> str | None:
    if len(set(urls)) > 1:
        raise spec.error(f"queries use different data sources: {', '.join(sorted(set(urls)))}")
    return urls[0] if urls else None


def _counter(node: Node) -> str:
    """A counter selector from ``sel``, ``sum(sel)`` or ``sum by (...) (sel)``, else why not."""
    query = str(node.value).strip()
    series = query
    while (inner := unwrap_sum(series)) is not None:  # sum(sum by (a) (x)) counts x too
        series = inner
    try:
        parse(series)
    except SelectorError as error:
        why = error
    else:
        return series
    if re.search(r"\b(rate|irate|increase|delta|idelta|deriv)\s*\(", series):
        raise node.error(
            f"cannot be evaluated over a window: {query!r} is already a rate or increase over "
            "a fixed range; with counter: true give the counter's selector (optionally in "
            "sum(...)) and ops counts it over each window"
        )
    raise node.error(
        f"cannot be evaluated over a window: {query!r} is not a counter selector ({why}); "
        "with counter: true give a selector, optionally in sum(...) or sum by (...) (...); "
        "for a gauge of events set counter: false"
    )


def _number(value: float) -> str:
    return f"{value:.10g}"


def _events(indicator: _Indicator, key: str, span: str) -> str:
    """PromQL: the ``key`` events of a ratio indicator in the last ``span``."""
    node = indicator.queries[key]
    if indicator.counter:
        return f"sum(increase({_counter(node)}[{span}]))"
    return f"sum(sum_over_time(({str(node.value).strip()})[{span}:{SAMPLE}]))"


def _written(indicator: _Indicator) -> dict[str, WrittenQuery]:
    """Its queries' nodes by role: a raw ratio or a threshold is its own total and bad side."""
    nodes = indicator.queries
    single = nodes.get("raw", nodes.get("threshold"))
    total = nodes["total"] if single is None else single
    counted = nodes.get("bad", nodes.get("good", total))
    return written(total, counted)


def _bad_events(indicator: _Indicator, span: str) -> str:
    if "bad" in indicator.queries:
        return f"({_events(indicator, 'bad', span)} or vector(0))"
    total = _events(indicator, "total", span)
    return f"({total} - ({_events(indicator, 'good', span)} or vector(0)))"


@dataclass(frozen=True)
class _Objective:
    method: str
    slice_window: str | None
    slice_target: float | None
    op: str | None
    value: float | None


def _sli(indicator: _Indicator, objective: _Objective, where: Node) -> SLI:
    """The model SLI of an indicator under a budgeting method (see the module docstring)."""
    window = "{{window}}"
    method, step = objective.method, objective.slice_window or SAMPLE
    limit = _number(1 - objective.slice_target) if objective.slice_target is not None else None
    if indicator.kind == "ratio":
        if method == "Occurrences":
            if indicator.counter:
                total = _counter(indicator.queries["total"])
                if "good" in indicator.queries:
                    good = _counter(indicator.queries["good"])
                    return latency_from_counters(good, total) or RatioSLI(total=total, good=good)
                return RatioSLI(total=total, bad=_counter(indicator.queries["bad"]))
            return RawSLI(_bad_events(indicator, window), _events(indicator, "total", window))
        slice_total = f"({_events(indicator, 'total', step)} > 0)"
        ratio = f"({_bad_events(indicator, step)} / {slice_total})"
        bad = ratio if method == "RatioTimeslices" else f"({ratio} > bool {limit})"
        return RawSLI(
            f"sum_over_time({bad}[{window}:{step}])",
            f"count_over_time({slice_total}[{window}:{step}])",
        )
    if indicator.kind == "raw":
        query = str(indicator.queries["raw"].value).strip()
        failure = f"({query})" if indicator.raw_type == "failure" else f"(1 - ({query}))"
        bad = f"({failure} > bool {limit})" if method == "Timeslices" else failure
        return RawSLI(
            f"sum_over_time({bad}[{window}:{step}])",
            f"count_over_time(({query})[{window}:{step}])",
        )
    query = str(indicator.queries["threshold"].value).strip()
    if objective.op is None or objective.value is None:
        raise where.error("a thresholdMetric needs the objective's 'op' and 'value'")
    missed = f"(({query}) {_NEGATION[objective.op]} bool {_number(objective.value)})"
    if method == "Occurrences":
        return RawSLI(
            f"sum_over_time({missed}[{window}:{SAMPLE}])",
            f"count_over_time(({query})[{window}:{SAMPLE}])",
        )
    share = f"avg_over_time({missed}[{step}:{SAMPLE}])"
    bad = share if method == "RatioTimeslices" else f"({share} > bool {limit})"
    return RawSLI(
        f"sum_over_time({bad}[{window}:{step}])",
        f"count_over_time({share}[{window}:{step}])",
    )


# -- SLO -----------------------------------------------------------------------------------


def _refuse_composite(spec: Node) -> None:
    """A composite SLO (an indicator per objective, weighted by ``compositeWeight``) is
    refused by that name: it was read as an SLO missing its indicator."""
    objectives = spec.child("objectives")
    if not isinstance(objectives.value, list):
        return  # reported where the objectives are read
    for objective in objectives.items():
        if not isinstance(objective.value, dict):
            continue
        for key in ("indicator", "indicatorRef", "compositeWeight"):
            if objective.has(key):
                raise objective.child(key).error(
                    "composite SLOs (an indicator per objective, compositeWeight) are not "
                    "supported: give the SLO one spec.indicator or spec.indicatorRef, or one "
                    "SLO per indicator"
                )


def _slo(root: Node, library: Library) -> list[SLO]:
    slo_name = _metadata(root, strict=True)
    metadata = root.child("metadata")
    spec = _spec(
        root,
        (
            "service",
            "description",
            "indicator",
            "indicatorRef",
            "timeWindow",
            "budgetingMethod",
            "objectives",
            "alertPolicies",
        ),
    )
    service = name(spec, "service")
    _refuse_composite(spec)
    if spec.has("indicator") == spec.has("indicatorRef"):
        raise spec.error("give exactly one of 'indicator' or 'indicatorRef'")
    if spec.has("indicatorRef"):
        reference = spec.text("indicatorRef")
        assert reference is not None
        found = library.get(("SLI", reference))
        if found is None:
            raise spec.child("indicatorRef").error(f"no SLI named {reference!r} in the files given")
        indicator = _indicator(found, library)
    else:
        inline = spec.child("indicator")
        inline.mapping(("metadata", "spec"))
        if inline.has("metadata"):
            _metadata(inline)
        indicator = _indicator(inline, library)
    method = spec.text("budgetingMethod")
    if method not in METHODS:
        raise spec.child("budgetingMethod").error(
            f"expected one of {', '.join(METHODS)}, got {method!r}"
        )
    window = _time_window(spec.child("timeWindow")) if spec.has("timeWindow") else DEFAULT_WINDOW
    alerting = _alerting(spec.child("alertPolicies"), library)
    objectives = spec.child("objectives").items()
    if not objectives:
        raise spec.child("objectives").error("is empty; give at least one objective")
    if indicator.kind == "threshold" and len(objectives) > 1:
        raise spec.child("objectives").error(
            f"a thresholdMetric takes exactly one objective (OpenSLO), got {len(objectives)}"
        )
    slos = []
    for position, node in enumerate(objectives):
        percent, objective, display = _objective(node, method, indicator.kind)
        suffix = "" if len(objectives) == 1 else f"-{_slug(display) or position}"
        slos.append(
            SLO(
                service=service,
                name=f"{slo_name}{suffix}",
                objective=percent,
                window=window,
                sli=_sli(indicator, objective, node),
                source=root.source,
                format="OpenSLO",
                path=node.path if suffix else (root.path or "metadata.name"),
                description=spec.text("description", required=False) or "",
                runbook=_annotation(metadata, RUNBOOK_ANNOTATION),
                labels=_labels(metadata.child("labels")),
                alerting=alerting,
                datasource=indicator.datasource,
                written=_written(indicator),
            )
        )
    return slos


def _slug(text: str | None) -> str:
    return re.sub(r"[^a-z0-9]+", "-", (text or "").lower()).strip("-")


def _annotation(metadata: Node, key: str) -> str | None:
    annotations = metadata.child("annotations")
    if annotations.value is None:
        return None
    annotations.mapping(annotations.value.keys() if isinstance(annotations.value, dict) else ())
    return annotations.text(key, required=False)


def _labels(node: Node) -> dict[str, str]:
    """OpenSLO labels become Prometheus labels: names must suit Prometheus; lists are joined."""
    if node.value is None:
        return {}
    node.mapping(node.value.keys() if isinstance(node.value, dict) else ())
    labels = {}
    for key, value in node.value.items():
        place = node.child(str(key))
        problem = label_problem(key)
        if problem is not None:
            raise place.error(problem)
        if isinstance(value, list):
            labels[key] = ",".join(str(v) for v in value)
        else:
            labels[key] = place.value if isinstance(place.value, str) else (node.text(key) or "")
    return labels


_OBJECTIVE_KEYS = (
    "displayName",
    "op",
    "value",
    "target",
    "targetPercent",
    "timeSliceTarget",
    "timeSliceWindow",
)


def _objective(node: Node, method: str, kind: str) -> tuple[float, _Objective, str | None]:
    node.mapping(_OBJECTIVE_KEYS)
    display = node.text("displayName", required=False)
    if node.has("target") and node.has("targetPercent"):
        raise node.error("give either 'target' (0-1) or 'targetPercent', not both")
    if node.has("target"):
        value = node.child("target").value
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
            raise node.child("target").error(
                f"expected a number between 0 and 1 (exclusive), got {brief(value)}"
            )
        percent = round(float(value) * 100, 10)
    elif node.has("targetPercent"):
        percent = objective_percent(node.child("targetPercent"))
    else:
        raise node.error("give 'target' (0-1) or 'targetPercent'")
    op = node.text("op", required=False)
    threshold: float | None = None
    if kind == "threshold":
        if op not in _NEGATION:
            raise node.child("op").error(f"expected one of lte, lt, gte, gt, got {show(op)}")
        threshold = _float(node.child("value"))
    else:
        for key in ("op", "value"):
            if node.has(key):
                raise node.child(key).error("is only for a thresholdMetric")
    slice_window: str | None = None
    slice_target: float | None = None
    if method == "Occurrences":
        for key in ("timeSliceTarget", "timeSliceWindow"):
            if node.has(key):
                raise node.child(key).error("is only for the Timeslices budgeting methods")
    else:
        slice_window = _slice_window(node.child("timeSliceWindow"))
        if method == "Timeslices":
            target = node.child("timeSliceTarget")
            slice_target = _float(target)
            if not 0 < slice_target <= 1:
                raise target.error(f"expected a number in (0, 1], got {show(target.value)}")
        elif node.has("timeSliceTarget"):
            raise node.child("timeSliceTarget").error("is only for budgetingMethod Timeslices")
    return percent, _Objective(method, slice_window, slice_target, op, threshold), display


def _float(node: Node) -> float:
    return number(node)


def _slice_window(node: Node) -> str:
    """``timeSliceWindow``: a duration, or a number of minutes."""
    value = node.value
    if value is None:
        raise node.error("is required for the Timeslices budgeting methods, e.g. 1m or 5")
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 1440:
        return f"{value}m"
    seconds = _shorthand(node, rolling=True)
    if seconds % 60 or seconds > 86400:
        raise node.error(f"expected whole minutes up to 1d, got {show(value)}")
    from ops_toolkit.durations import format_duration

    return format_duration(seconds)


def _shorthand(node: Node, *, rolling: bool) -> int:
    text = str(node.value).strip() if node.value is not None else ""
    found = _SHORTHAND.fullmatch(text)
    if found is None:
        raise node.error(
            f"expected a duration like 28d, 4w, 1M, 1Q or 1Y (a number and one of m h d w M Q "
            f"Y), got {show(node.value)}"
        )
    count, unit = int(found.group(1)), found.group(2)
    seconds = count * {**_UNIT_SECONDS, **_LONG_UNITS}[unit]
    if seconds > MAX_WINDOW:
        raise node.error(f"expected at most 3650d (ten years), got {brief(node.value)}")
    return seconds if rolling else count


def _time_window(node: Node) -> Window:
    items = node.items()
    if len(items) != 1:
        raise node.error(f"expected exactly one time window (OpenSLO), got {len(items)}")
    window = items[0].mapping(("duration", "isRolling", "calendar"))
    rolling = window.child("isRolling").value
    if rolling is not None and not isinstance(rolling, bool):
        raise window.child("isRolling").error(f"expected true or false, got {show(rolling)}")
    calendar = window.child("calendar")
    duration = window.child("duration")
    if rolling is True or (rolling is None and calendar.value is None):
        if calendar.value is not None:
            raise calendar.error("is only for isRolling: false")
        seconds = _shorthand(duration, rolling=True)
        if seconds < 3600:
            raise duration.error(f"expected a window of at least 1h, got {show(duration.value)}")
        return Window(seconds=seconds)
    count = _shorthand(duration, rolling=False)
    unit = str(duration.value).strip()[-1]
    if unit not in _CALENDAR_UNITS:
        raise duration.error(
            f"calendar windows count days, weeks, months, quarters or years, got "
            f"{show(duration.value)}"
        )
    start, timezone = None, "UTC"
    if calendar.value is not None:
        calendar.mapping(("startTime", "timeZone"))
        timezone = calendar.text("timeZone", required=False) or "UTC"
        check_timezone(calendar.child("timeZone"), timezone)
        start = _start_time(calendar.child("startTime"))
    return Window(
        seconds=0, calendar=_CALENDAR_UNITS[unit], timezone=timezone, count=count, start=start
    )


def _start_time(node: Node) -> str | None:
    value: Any = node.value
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day).isoformat()
    try:
        parsed = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise node.error(
            f"expected a local date and time like 2026-01-01 00:00:00, got {show(value)}"
        ) from None
    if parsed.tzinfo is not None:
        raise node.error("give the time without a zone; the zone is calendar.timeZone")
    return parsed.isoformat()


# -- alerting ------------------------------------------------------------------------------


def _inline_or_ref(node: Node, kind: str, ref_key: str, library: Library) -> Node:
    """An inline object of ``kind`` or the object its ``ref_key`` names."""
    if isinstance(node.value, dict) and ref_key in node.value:
        node.mapping((ref_key,))
        reference = node.text(ref_key)
        assert reference is not None
        found = library.get((kind, reference))
        if found is None:
            raise node.child(ref_key).error(f"no {kind} named {reference!r} in the files given")
        return found
    node.mapping(("kind", "metadata", "spec"))
    if node.has("kind") and node.text("kind") != kind:
        raise node.child("kind").error(f"expected {kind!r}, got {node.text('kind')!r}")
    return node


def _alerting(node: Node, library: Library) -> Alerting:
    if node.value is None:
        return Alerting()
    conditions: list[BurnCondition] = []
    for item in node.items():
        conditions += _policy(
            _inline_or_ref(item, "AlertPolicy", "alertPolicyRef", library), library
        )
    return Alerting(conditions=tuple(conditions))


def _policy(root: Node, library: Library) -> list[BurnCondition]:
    _metadata(root)
    spec = _spec(
        root,
        (
            "description",
            "alertWhenNoData",
            "alertWhenResolved",
            "alertWhenBreaching",
            "conditions",
            "notificationTargets",
        ),
    )
    for key in ("alertWhenNoData", "alertWhenResolved", "alertWhenBreaching"):
        value = spec.child(key).value
        if value is not None and not isinstance(value, bool):
            raise spec.child(key).error(f"expected true or false, got {show(value)}")
    targets = tuple(
        _target(_inline_or_ref(item, "AlertNotificationTarget", "targetRef", library))
        for item in (
            spec.child("notificationTargets").items() if spec.has("notificationTargets") else []
        )
    )
    if not spec.has("conditions"):
        raise spec.child("conditions").error("is required: a list with one AlertCondition")
    return [
        _condition(_inline_or_ref(item, "AlertCondition", "conditionRef", library), targets)
        for item in spec.child("conditions").items()
    ]


def _target(root: Node) -> str:
    target_name = _metadata(root)
    _spec(root, ("description", "target")).text("target")
    return target_name


def _condition(root: Node, targets: tuple[str, ...]) -> BurnCondition:
    condition_name = _metadata(root)
    spec = _spec(root, ("description", "severity", "condition"))
    severity = spec.text("severity")
    assert severity is not None
    condition = spec.child("condition")
    if condition.value is None:
        raise condition.error("is required")
    condition.mapping(("kind", "op", "threshold", "lookbackWindow", "alertAfter"))
    kind = condition.text("kind", required=False) or "burnrate"
    if kind != "burnrate":
        raise condition.child("kind").error(f"only burnrate conditions are supported, got {kind!r}")
    op = condition.text("op", required=False)
    if op not in (None, "gte", "gt"):
        raise condition.child("op").error(
            f"a burn-rate condition fires above: gte or gt, got {op!r}"
        )
    threshold = _float(condition.child("threshold"))
    if threshold <= 0:
        raise condition.child("threshold").error(
            f"expected a positive burn rate, got {threshold:g}"
        )
    lookback = _shorthand(condition.child("lookbackWindow"), rolling=True)
    after = condition.child("alertAfter")
    return BurnCondition(
        name=condition_name,
        severity=severity,
        threshold=threshold,
        lookback=lookback,
        alert_after=_shorthand(after, rolling=True) if after.value not in (None, "0m", 0) else 0,
        targets=targets,
    )


_V1_READERS: dict[str, Callable[[Node, Library], list[SLO]]] = {
    "SLO": _slo,
    "SLI": _sli_object,
    "Service": _service,
    "DataSource": _datasource,
    "AlertPolicy": _policy_object,
    "AlertCondition": _condition_object,
    "AlertNotificationTarget": _target_object,
}


# -- v1alpha -------------------------------------------------------------------------------

_ALPHA_UNITS = {
    "Minute": ("m", 60),
    "Hour": ("h", 3600),
    "Day": ("d", 86400),
    "Week": ("w", 7 * 86400),
    "Month": ("M", 30 * 86400),
    "Quarter": ("Q", 90 * 86400),
    "Year": ("Y", 365 * 86400),
}


def _v1alpha_slo(root: Node) -> list[SLO]:
    """``openslo/v1alpha``: the indicator is a thresholdMetric, or ratioMetrics per objective."""
    slo_name = _metadata(root, strict=True)
    spec = _spec(
        root,
        ("service", "description", "indicator", "timeWindows", "budgetingMethod", "objectives"),
    )
    service = name(spec, "service")
    method = spec.text("budgetingMethod")
    if method not in METHODS:
        raise spec.child("budgetingMethod").error(
            f"expected one of {', '.join(METHODS)}, got {method!r}"
        )
    window = _alpha_window(spec.child("timeWindows")) if spec.has("timeWindows") else DEFAULT_WINDOW
    threshold: _Indicator | None = None
    if spec.has("indicator"):
        indicator = spec.child("indicator").mapping(("thresholdMetric",))
        threshold = _Indicator(
            "threshold", {"threshold": _alpha_query(indicator.child("thresholdMetric"))}
        )
    objectives = spec.child("objectives").items()
    if not objectives:
        raise spec.child("objectives").error("is empty; give at least one objective")
    slos = []
    for position, node in enumerate(objectives):
        node.mapping((*_OBJECTIVE_KEYS, "ratioMetrics"))
        if node.has("ratioMetrics") == (threshold is not None):
            raise node.error(
                "give 'ratioMetrics' here, or spec.indicator.thresholdMetric for the SLO, not both"
            )
        if threshold is None:
            metrics = node.child("ratioMetrics").mapping(("incremental", "good", "bad", "total"))
            incremental = metrics.child("incremental").value
            if not isinstance(incremental, bool):
                raise metrics.child("incremental").error(
                    f"expected true or false, got {show(incremental)}"
                )
            if metrics.has("good") == metrics.has("bad"):
                raise metrics.error("give exactly one of 'good' or 'bad', and 'total'")
            counted = "good" if metrics.has("good") else "bad"
            indicator_of = _Indicator(
                "ratio",
                {key: _alpha_query(metrics.child(key)) for key in (counted, "total")},
                counter=incremental,
            )
        else:
            indicator_of = threshold
        trimmed = Node(
            {k: v for k, v in node.value.items() if k != "ratioMetrics"}, node.path, node.source
        )
        percent, objective, display = _objective(trimmed, method, indicator_of.kind)
        suffix = "" if len(objectives) == 1 else f"-{_slug(display) or position}"
        slos.append(
            SLO(
                service=service,
                name=f"{slo_name}{suffix}",
                objective=percent,
                window=window,
                sli=_sli(indicator_of, objective, node),
                source=root.source,
                format="OpenSLO",
                path=node.path if suffix else (root.path or "metadata.name"),
                description=spec.text("description", required=False) or "",
                runbook=_annotation(root.child("metadata"), RUNBOOK_ANNOTATION),
                labels=_labels(root.child("metadata").child("labels")),
                written=_written(indicator_of),
            )
        )
    return slos


def _alpha_query(node: Node) -> Node:
    node.mapping(("source", "queryType", "query", "metadata"))
    _check_type(node.child("source"), node.text("source", required=False))
    query_type = node.text("queryType", required=False) or "promql"
    if query_type.lower() != "promql":
        raise node.child("queryType").error(f"expected promql, got {query_type!r}")
    node.text("query")
    return node.child("query")


def _alpha_window(node: Node) -> Window:
    items = node.items()
    if len(items) != 1:
        raise node.error(f"expected exactly one time window, got {len(items)}")
    window = items[0].mapping(("count", "unit", "isRolling", "calendar"))
    count = window.child("count").value
    if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
        raise window.child("count").error(f"expected a positive whole number, got {show(count)}")
    unit = window.text("unit")
    if unit not in _ALPHA_UNITS:
        raise window.child("unit").error(f"expected one of {', '.join(_ALPHA_UNITS)}, got {unit!r}")
    letter, seconds = _ALPHA_UNITS[unit]
    rolling = window.child("isRolling").value
    converted: dict[str, Any] = {"duration": f"{count}{letter}", "isRolling": rolling}
    if window.has("calendar"):
        converted["calendar"] = window.child("calendar").value
    result = _time_window(Node([converted], node.path, node.source))
    if result.rolling:
        return Window(seconds=count * seconds)
    return result
