"""The model -> ops/v1 or OpenSLO v1 text, for ``ops slo convert``. Pure.

Each writer returns the YAML and the warnings for what the target format has no place
for (they are dropped, never silently): reading the written text gives the same SLOs as the
input, apart from those.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, time
from typing import Any

import yaml

from ops_toolkit.durations import format_duration
from ops_toolkit.errors import ConfigError
from ops_toolkit.slo.corrections import Correction
from ops_toolkit.slo.formats.openslo import RUNBOOK_ANNOTATION
from ops_toolkit.slo.model import (
    SLO,
    Alerting,
    BurnCondition,
    LatencySLI,
    RatioSLI,
    RawSLI,
    SLOFile,
    Window,
)
from ops_toolkit.slo.queries import with_matcher
from ops_toolkit.slo.windows import default_for

_OPENSLO_UNITS = {"day": "d", "week": "w", "month": "M", "quarter": "Q", "year": "Y"}


def _dump(documents: Sequence[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(
        list(documents), sort_keys=False, width=4096, allow_unicode=True, explicit_start=False
    )


def _dropped(slo: SLO) -> list[str]:
    """OpenSLO alert policies carry burn-rate conditions (written from ``conditions``); ops's
    other alert settings have no place there: each kind dropped is named."""
    alerting = slo.alerting
    if alerting == Alerting(conditions=alerting.conditions):
        return []
    tiers = (alerting.page, alerting.ticket)
    kinds = {
        "window pairs": alerting.windows is not None,
        "min_events": bool(alerting.min_events),
        "alert names": bool(alerting.name or any(t.name for t in tiers)),
        "alert labels": bool(alerting.labels or any(t.labels for t in tiers)),
        "alert annotations": bool(alerting.annotations or any(t.annotations for t in tiers)),
        "disabled alerts": alerting.disabled or any(t.disable for t in tiers),
        "no_data: false": not alerting.no_data,
    }
    named = ", ".join(kind for kind, present in kinds.items() if present)
    return [
        f"{slo.place}: OpenSLO alert policies hold burn-rate conditions only; this SLO's "
        f"{named or 'alert settings'} have no place there; dropped"
    ]


def unwritable(file: SLOFile, target: str) -> list[SLO]:
    """The SLOs of ``file`` that ``target`` cannot hold at all (OpenSLO: raw SLIs)."""
    if target == "openslo":
        return [slo for slo in file.slos if isinstance(slo.sli, RawSLI)]
    return []


def _natural_start(window: Window) -> bool:
    """Whether a calendar window's periods begin where ops/v1's do: midnight on a Monday,
    on the 1st of a month, on the 1st of January, April, July or October."""
    if window.start is None:
        return True
    start = datetime.fromisoformat(window.start)
    if start.time() != time(0):
        return False
    if window.calendar == "week":
        return start.weekday() == 0
    if window.calendar == "month":
        return start.day == 1
    return window.calendar == "quarter" and start.day == 1 and start.month % 3 == 1


def _ops_alerting(slo: SLO, warnings: list[str]) -> dict[str, Any] | None:
    """The SLO's alert settings as ops/v1's ``alerting:`` section.

    Settings other formats give for every tier (Sloth's and Pyrra's alert ``name``, labels
    and annotations) are written into both ``page`` and ``ticket``, which the rules read the
    same way (``Alerting.tier``). What ops/v1 cannot say is a warning: OpenSLO alert
    conditions.
    """
    alerting = slo.alerting
    written: dict[str, Any] = {}
    if alerting.windows is not None:
        written["windows"] = [
            {
                "severity": pair.severity,
                "long": format_duration(pair.long),
                "short": format_duration(pair.short),
                "factor": pair.factor,
                **(
                    {"for": format_duration(pair.for_seconds)}
                    if pair.for_seconds != default_for(pair.short)
                    else {}
                ),
            }
            for pair in alerting.windows
        ]
    if alerting.min_events:
        written["min_events"] = alerting.min_events
    tiers = {severity: alerting.tier(severity) for severity in ("page", "ticket")}
    for severity, tier in tiers.items():
        entry: dict[str, Any] = {}
        if tier.name:
            entry["name"] = tier.name
        if tier.labels:
            entry["labels"] = dict(tier.labels)
        if tier.annotations:
            entry["annotations"] = dict(tier.annotations)
        if tier.disable:
            entry["disable"] = True
        if entry:
            written[severity] = entry
    if not alerting.no_data:
        written["no_data"] = False
    if alerting.conditions:
        warnings.append(
            f"{slo.place}: ops/v1 has no place for OpenSLO alert conditions "
            f"({len(alerting.conditions)}); dropped"
        )
    return written or None


def own_corrections(slo: SLO) -> tuple[Correction, ...]:
    """The corrections written in the SLO's own file; those of a corrections.yaml stay
    there, keyed by ``service/slo``, and apply to the converted SLO as they did."""
    return tuple(c for c in slo.corrections if c.place.startswith(f"{slo.source}: "))


def to_ops(file: SLOFile) -> tuple[str | None, list[str]]:
    """One ops/v1 document for the file's service."""
    warnings: list[str] = []
    slos = []
    for slo in file.slos:
        if slo.datasource:
            warnings.append(
                f"{slo.place}: ops/v1 names no Prometheus per SLO ({slo.datasource}); give "
                "--prometheus or set prometheus: in ops.yaml"
            )
        entry: dict[str, Any] = {"name": slo.name}
        if slo.description:
            entry["description"] = slo.description
        entry["objective"] = slo.objective
        entry.update(_ops_window(slo, warnings))
        if slo.runbook:
            entry["runbook"] = slo.runbook
        if slo.labels:
            entry["labels"] = dict(slo.labels)
        entry["sli"] = _ops_sli(slo)
        alerting = _ops_alerting(slo, warnings)
        if alerting is not None:
            entry["alerting"] = alerting
        own = own_corrections(slo)
        if own:
            entry["corrections"] = [c.to_dict() for c in own]
        slos.append(entry)
    return _dump([{"version": "ops/v1", "service": file.service, "slos": slos}]), warnings


def _ops_window(slo: SLO, warnings: list[str]) -> dict[str, Any]:
    window = slo.window
    if window.rolling:
        return {"window": format_duration(window.seconds)}
    carried = window.calendar in ("week", "month", "quarter")
    if not carried or window.count != 1 or not _natural_start(window):
        warnings.append(
            f"{slo.place}: ops/v1 has calendar week, month or quarter from their natural "
            f"start (Monday, the 1st), not {window.describe()}; written as a ROLLING "
            f"{format_duration(window.period_seconds)} window: its budget no longer resets "
            "at each period's start"
        )
        return {"window": format_duration(window.period_seconds)}
    written: dict[str, Any] = {"calendar": window.calendar}
    if window.timezone != "UTC":
        written["timezone"] = window.timezone
    return written


def _ops_sli(slo: SLO) -> dict[str, Any]:
    sli = slo.sli
    if isinstance(sli, RatioSLI):
        counted = {"bad": sli.bad} if sli.bad is not None else {"good": sli.good}
        return {"ratio": {**counted, "total": sli.total}}
    if isinstance(sli, LatencySLI):
        return {
            "latency": {"histogram": sli.histogram, "selector": sli.selector, "below": sli.below}
        }
    return {"raw": {"bad_query": sli.bad_query, "total_query": sli.total_query}}


def to_openslo(file: SLOFile) -> tuple[str | None, list[str]]:
    """A Service document, then one SLO document per SLO (ratio and latency SLIs).

    None when no SLO of the file can be written (all raw).
    """
    warnings: list[str] = []
    documents: list[dict[str, Any]] = [
        {"apiVersion": "openslo/v1", "kind": "Service", "metadata": {"name": file.service}}
    ]
    sources: dict[str, str] = {}
    for url in sorted({slo.datasource for slo in file.slos if slo.datasource}):
        sources[url] = "prometheus" if not sources else f"prometheus-{len(sources) + 1}"
        documents.append(
            {
                "apiVersion": "openslo/v1",
                "kind": "DataSource",
                "metadata": {"name": sources[url]},
                "spec": {"type": "Prometheus", "connectionDetails": {"url": url}},
            }
        )
    for slo in file.slos:
        warnings += _dropped(slo)
        own = own_corrections(slo)
        if own:
            warnings.append(
                f"{slo.place}: OpenSLO has no place for corrections ({len(own)}); dropped: "
                f"move them to the corrections.yaml beside the new file under "
                f"'{slo.key}:', where they apply to SLOs of any format"
            )
        if isinstance(slo.sli, RawSLI):  # as unwritable() says
            warnings.append(
                f"{slo.place}: a raw SLI is PromQL with {{{{window}}}} that OpenSLO cannot "
                "express; this SLO is not written (keep it in ops/v1)"
            )
            continue
        metadata: dict[str, Any] = {"name": slo.name}
        if slo.labels:
            metadata["labels"] = dict(slo.labels)
        if slo.runbook:
            metadata["annotations"] = {RUNBOOK_ANNOTATION: slo.runbook}
        spec: dict[str, Any] = {"service": slo.service}
        if slo.description:
            spec["description"] = slo.description
        spec["budgetingMethod"] = "Occurrences"
        spec["timeWindow"] = [_openslo_window(slo)]
        reference = sources.get(slo.datasource or "")
        spec["indicator"] = {
            "metadata": {"name": f"{slo.name}-sli"},
            "spec": {"ratioMetric": _ratio_metric(slo.sli, reference)},
        }
        spec["objectives"] = [{"targetPercent": slo.objective}]
        if slo.alerting.conditions:
            spec["alertPolicies"] = [_policy(slo, c) for c in slo.alerting.conditions]
        documents.append(
            {"apiVersion": "openslo/v1", "kind": "SLO", "metadata": metadata, "spec": spec}
        )
    if not any(document["kind"] == "SLO" for document in documents):
        return None, [*warnings, f"{file.source}: no SLO can be written as OpenSLO; no file"]
    return _dump(documents), warnings


def _policy(slo: SLO, condition: BurnCondition) -> dict[str, Any]:
    """An inline AlertPolicy holding one burn-rate condition and its targets."""
    burn: dict[str, Any] = {
        "kind": "burnrate",
        "op": "gte" if condition.at_least else "gt",
        "threshold": condition.threshold,
        "lookbackWindow": _shorthand(condition.lookback),
    }
    if condition.alert_after:
        burn["alertAfter"] = _shorthand(condition.alert_after)
    spec: dict[str, Any] = {
        "conditions": [
            {
                "kind": "AlertCondition",
                "metadata": {"name": condition.name},
                "spec": {"severity": condition.severity, "condition": burn},
            }
        ]
    }
    if condition.targets:
        spec["notificationTargets"] = [
            {
                "kind": "AlertNotificationTarget",
                "metadata": {"name": target},
                "spec": {"target": target},
            }
            for target in condition.targets
        ]
    return {
        "kind": "AlertPolicy",
        "metadata": {"name": f"{slo.name}-{condition.name}"},
        "spec": spec,
    }


def _openslo_window(slo: SLO) -> dict[str, Any]:
    window = slo.window
    if window.rolling:
        if window.seconds % 60:
            raise ConfigError(
                f"{slo.place}: OpenSLO windows are whole minutes, got {window.describe()}"
            )
        return {"duration": _shorthand(window.seconds), "isRolling": True}
    assert window.calendar is not None
    calendar: dict[str, Any] = {"timeZone": window.timezone}
    if window.start is not None:
        calendar = {"startTime": window.start.replace("T", " "), **calendar}
    return {
        "duration": f"{window.count}{_OPENSLO_UNITS[window.calendar]}",
        "isRolling": False,
        "calendar": calendar,
    }


def _shorthand(seconds: int) -> str:
    """OpenSLO durations take one unit: the largest that divides ``seconds``."""
    unit, size = next((u, s) for u, s in (("d", 86400), ("h", 3600), ("m", 60)) if seconds % s == 0)
    return f"{seconds // size}{unit}"


def _ratio_metric(sli: RatioSLI | LatencySLI, reference: str | None) -> dict[str, Any]:
    def source(query: str) -> dict[str, Any]:
        found: dict[str, Any] = {"metricSourceRef": reference} if reference else {}
        return {"metricSource": {**found, "type": "Prometheus", "spec": {"query": query}}}

    if isinstance(sli, LatencySLI):
        bound = 'le="' + sli.le + '"'
        bucket = f"{sli.histogram}_bucket{with_matcher(sli.selector, bound)}"
        return {
            "counter": True,
            "good": source(bucket),
            "total": source(f"{sli.histogram}_count{sli.selector}"),
        }
    counted = {"bad": source(sli.bad)} if sli.bad is not None else {"good": source(sli.good or "")}
    return {"counter": True, **counted, "total": source(sli.total)}


WRITERS: dict[str, Callable[[SLOFile], tuple[str | None, list[str]]]] = {
    "ops": to_ops,
    "openslo": to_openslo,
}
