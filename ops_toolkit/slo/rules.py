"""SLO model -> Prometheus recording and alerting rules, and promtool tests for them. Pure.

Naming scheme (every series carries ``service`` and ``slo`` plus the SLO file's labels):

    slo:bad_events:increase5m     bad events in the last 5m
    slo:total_events:increase5m   all events in the last 5m
    slo:error_ratio:<w>           bad/total over w (5m, 30m, 1h, 2h, 6h, 1d, 3d and the SLO's
                                  own alert windows), event-weighted: sum_over_time of the 5m
                                  counts, never an average of ratios
    slo:error_ratio:period        the same over the SLO's window (calendar: its nominal length)
    slo:burn_rate:<w>             error ratio / error budget
    slo:total_events:<w>          events in an alert pair's long window (only with min_events)
    slo:budget_remaining:period   1 - error ratio over the period / error budget
    slo:objective:ratio           the objective as a ratio (0.999)
    slo:error_budget:ratio        1 - objective
    slo:correction:active         SLOs with corrections: 1 while the 5m counts hold corrected
                                  events, which multiplies them out (``correction_rules.py``)

Alerts: ``<Service><Slo>BudgetBurn`` (or the tier's own name), one rule per window pair of
``windows.alert_windows`` with its ``for:``, labelled ``severity``, ``tier`` (page/ticket),
``long`` and ``short``; ``<Service><Slo>NoData`` per raw series the SLI depends on, labelled
``missing`` (total, bad, good, bucket). Alertmanager ``inhibit_rules`` hold an SLO's ticket
while its page fires.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ops_toolkit.durations import format_duration
from ops_toolkit.errors import ConfigError, SelectorError
from ops_toolkit.slo.correction_rules import (
    ACTIVE,
    Horizon,
    Span,
    active_labels,
    corrected,
    has_corrections,
    horizon_comment,
    needs_horizon,
    slo_active_expr,
)
from ops_toolkit.slo.correction_rules import spans as correction_spans
from ops_toolkit.slo.model import SLO, BurnWindow, LatencySLI, RatioSLI, RawSLI, SLOFile
from ops_toolkit.slo.queries import with_matcher
from ops_toolkit.slo.selector import METRIC, METRIC_NAME, Matcher, parse, render_matchers
from ops_toolkit.slo.windows import alert_windows, report_windows

VALUE = '{{ printf "%.1f" $value }}'
NO_DATA_FOR = "10m"


def clean(number: float) -> str:
    """A number as people write it: ``0.001``, ``14.4``, never ``0.0009999999999999432``."""
    text = f"{number:.10g}"
    return text if "e" not in text else f"{number:.12f}".rstrip("0").rstrip(".")


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_]", name) if part)


def alert_name(slo: SLO) -> str:
    return f"{camel(slo.service)}{camel(slo.name)}BudgetBurn"


def burn_alert_name(slo: SLO, severity: str) -> str:
    """The tier's own name when the SLO gives one, else ``<Service><Slo>BudgetBurn``."""
    return slo.alerting.tier(severity).name or alert_name(slo)


def burn_pairs(slo: SLO) -> list[BurnWindow]:
    """The window pairs whose tier is not disabled: the pairs that get an alerting rule."""
    return [p for p in alert_windows(slo) if not slo.alerting.tier(p.severity).disable]


def burn_alert_names(slo: SLO) -> list[str]:
    return list(dict.fromkeys(burn_alert_name(slo, p.severity) for p in burn_pairs(slo)))


def no_data_alert_name(slo: SLO) -> str:
    return f"{camel(slo.service)}{camel(slo.name)}NoData"


def rules_filename(service: str) -> str:
    return f"{service}.rules.yaml"


def tests_filename(service: str) -> str:
    return f"{service}.rules.test.yaml"


def _matchers(slo: SLO) -> str:
    return render_matchers((Matcher("service", "=", slo.service), Matcher("slo", "=", slo.name)))


def _labels(slo: SLO) -> dict[str, str]:
    return {"service": slo.service, "slo": slo.name, **dict(slo.labels)}


def event_queries(slo: SLO) -> tuple[str, str]:
    """(bad, total) events over the last 5m as PromQL.

    ``or vector(0)`` only where a series may truly be absent while the total is present: a
    bad-events counter appears with the first bad event, and a good-events counter can be
    absent through an outage where nothing succeeded (all bad, as it should read). A
    histogram exports every bucket with its count, so a missing bucket is a wrong bound:
    it reads as no data (and raises NoData), never as every event slow.
    """
    sli = slo.sli
    match sli:
        case RatioSLI(total=total, bad=bad, good=good):
            total_q = f"sum(increase({total}[5m]))"
            if bad is not None:
                return f"sum(increase({bad}[5m])) or vector(0)", total_q
            return f"{total_q} - (sum(increase({good}[5m])) or vector(0))", total_q
        case LatencySLI(histogram=histogram, selector=selector):
            total_q = f"sum(increase({histogram}_count{selector}[5m]))"
            bucket = with_matcher(selector, sli.le_matcher)
            return f"{total_q} - sum(increase({histogram}_bucket{bucket}[5m]))", total_q
        case RawSLI(bad_query=bad, total_query=total):
            return (
                f"sum({bad.replace('{{window}}', '5m')})",
                f"sum({total.replace('{{window}}', '5m')})",
            )
    raise AssertionError(sli)


def raw_series(slo: SLO) -> list[tuple[str, str]]:
    """(role, selector) of each raw series the SLI depends on: total, bad or good, bucket."""
    sli = slo.sli
    match sli:
        case RatioSLI(total=total, bad=bad, good=good):
            counted = ("bad", bad) if bad is not None else ("good", good)
            assert counted[1] is not None
            return [("total", total), (counted[0], counted[1])]
        case LatencySLI(histogram=histogram, selector=selector):
            return [
                ("total", f"{histogram}_count{selector}"),
                ("bucket", f"{histogram}_bucket{with_matcher(selector, sli.le_matcher)}"),
            ]
    return []  # raw SLIs: PromQL, not selectors; their recorded total stands in


def _record(name: str, expr: str, slo: SLO) -> dict[str, Any]:
    return {"record": name, "expr": expr, "labels": _labels(slo)}


def recording_groups(
    slo: SLO, horizon: Horizon | None = None, covered: Sequence[Span] | None = None
) -> list[dict[str, Any]]:
    """``covered``: the correction spans to write (default: the SLO's own, expanded over
    ``horizon``); the promtool tests put them on their own timeline."""
    selector = "{" + _matchers(slo) + "}"
    bad, total = event_queries(slo)
    events = [
        _record("slo:bad_events:increase5m", bad, slo),
        _record("slo:total_events:increase5m", total, slo),
    ]
    if slo.corrections:
        events = _corrected_events(slo, selector, horizon, covered) + [
            {**rule, "expr": corrected(rule["expr"], selector)} for rule in events
        ]
    ratios = [
        _record(
            "slo:error_ratio:5m",
            f"slo:bad_events:increase5m{selector} / slo:total_events:increase5m{selector}",
            slo,
        )
    ]
    windows = report_windows(slo)
    spans = [(format_duration(w), format_duration(w)) for w in windows if w != 300]
    spans.append(("period", format_duration(slo.window.period_seconds)))
    for name, span in spans:
        ratios.append(
            _record(
                f"slo:error_ratio:{name}",
                f"sum_over_time(slo:bad_events:increase5m{selector}[{span}]) / "
                f"sum_over_time(slo:total_events:increase5m{selector}[{span}])",
                slo,
            )
        )
    budget = clean(slo.budget)
    for window in windows:
        name = format_duration(window)
        ratios.append(
            _record(f"slo:burn_rate:{name}", f"slo:error_ratio:{name}{selector} / {budget}", slo)
        )
    if slo.alerting.min_events:
        for long in sorted({pair.long for pair in alert_windows(slo)}):
            span = format_duration(long)
            expr = (
                f"slo:total_events:increase5m{selector}"
                if long == 300
                else f"sum_over_time(slo:total_events:increase5m{selector}[{span}:5m])"
            )  # a subquery at 5m steps: the 5m counts add up without overlap
            ratios.append(_record(f"slo:total_events:{span}", expr, slo))
    ratios += [
        _record(
            "slo:budget_remaining:period", f"1 - slo:error_ratio:period{selector} / {budget}", slo
        ),
        _record("slo:objective:ratio", f"vector({clean(slo.objective / 100)})", slo),
        _record("slo:error_budget:ratio", f"vector({budget})", slo),
    ]
    prefix = f"slo-{slo.service}-{slo.name}"
    return [
        {"name": f"{prefix}-events", "rules": events},
        {"name": f"{prefix}-ratios", "rules": ratios},
    ]


def _corrected_events(
    slo: SLO, selector: str, horizon: Horizon | None, covered: Sequence[Span] | None
) -> list[dict[str, Any]]:
    """``slo:correction:active`` first in the events group: rules of a group run in order at
    one timestamp, so the counts after it read this evaluation's value."""
    if covered is None:
        covered = correction_spans(slo, horizon)
    rule = _record(ACTIVE, slo_active_expr(slo, horizon, covered), slo)
    rule["labels"] = {**rule["labels"], **active_labels(slo, horizon)}
    return [rule]


def _pairs(severity: str, slo: SLO) -> list[BurnWindow]:
    return [pair for pair in alert_windows(slo) if pair.severity == severity]


def _burn_expr(pair: BurnWindow, slo: SLO) -> str:
    selector = "{" + _matchers(slo) + "}"
    factor = clean(pair.factor)
    expr = (
        f"slo:burn_rate:{pair.long_name}{selector} > {factor} and "
        f"slo:burn_rate:{pair.short_name}{selector} > {factor}"
    )
    if slo.alerting.min_events:
        expr += f" and slo:total_events:{pair.long_name}{selector} >= {slo.alerting.min_events}"
    return expr


def _alert_labels(pair: BurnWindow, slo: SLO) -> dict[str, str]:
    custom = dict(slo.alerting.tier(pair.severity).labels)
    own = {"tier": pair.severity, "long": pair.long_name, "short": pair.short_name}
    labels = {"severity": custom.pop("severity", pair.severity), **own, **_labels(slo), **custom}
    labels.update(own)  # an SLO label of the same name stays on its recording series only
    return labels


def _annotations(slo: SLO, pair: BurnWindow, runbook_url: str | None) -> dict[str, str]:
    window = slo.window.describe()
    share = clean(round(pair.budget_share(slo.window.period_seconds) * 100, 2))
    speed = "fast: page now" if pair.severity == "page" else "steadily: open a ticket"
    events = slo.alerting.min_events
    minimum = f" with at least {events} events in {pair.long_name}" if events else ""
    annotations = {
        "summary": f"{slo.key} is burning its error budget {speed}",
        "description": (
            f"{slo.key} spends its error budget {VALUE}x faster than sustainable (at 1x the "
            f"budget lasts exactly the {window} window). The objective is {clean(slo.objective)}% "
            f"of events, so the budget is {clean(slo.budget * 100)}% of events. Fires when "
            f"{pair.long_name} and {pair.short_name} are above {clean(pair.factor)}x for "
            f"{pair.for_name}{minimum}: {share}% of the budget gone in {pair.long_name}."
        ),
    }
    if runbook_url:
        annotations["runbook_url"] = runbook_url
    return {**annotations, **slo.alerting.tier(pair.severity).annotations}


def runbook_url(slo: SLO, base_url: str | None) -> str | None:
    if not slo.runbook:
        return None
    if re.match(r"^https?://", slo.runbook) or not base_url:
        return slo.runbook
    return f"{base_url.rstrip('/')}/{slo.runbook.lstrip('./')}"


def alert_group(slo: SLO, base_url: str | None) -> dict[str, Any]:
    url = runbook_url(slo, base_url)
    rules: list[dict[str, Any]] = [
        {
            "alert": burn_alert_name(slo, pair.severity),
            "expr": _burn_expr(pair, slo),
            "for": pair.for_name,
            "labels": _alert_labels(pair, slo),
            "annotations": _annotations(slo, pair, url),
        }
        for pair in burn_pairs(slo)
    ]
    rules += no_data_rules(slo, url)
    return {"name": f"slo-{slo.service}-{slo.name}-alerts", "rules": rules}


def _no_data_expr(slo: SLO, role: str, selector: str, total: str) -> str:
    if role == "total":
        return f"vector(1) unless on() count({selector})"
    if role == "bad":
        span = format_duration(slo.window.period_seconds)
        return (
            f"(vector(1) unless on() count(last_over_time({selector}[{span}]))) "
            f"and on() count({total} offset {span})"
        )
    return f"(vector(1) unless on() count({selector})) and on() count({total})"


def _no_data_text(slo: SLO, role: str, selector: str) -> tuple[str, str]:
    """Summary and description of the NoData alert for one raw series."""
    span = slo.window.describe()
    if role == "total":
        return (
            f"{slo.key} has no data: its total series is missing",
            f"{selector} has returned no series for {NO_DATA_FOR}, so {slo.key}'s error budget "
            "cannot be computed (no data, never 100%). Check the exporter and the selector.",
        )
    if role == "bad":
        return (
            f"{slo.key} has never seen its bad series",
            f"{selector} has matched no series in the whole {span} window while the total "
            "series has: either no bad event happened in the period or the selector is wrong "
            "(the rules count it as 0 bad events). Check the selector.",
        )
    if role == "good":
        return (
            f"{slo.key}: its good series is missing",
            f"{selector} has returned no series for {NO_DATA_FOR} while the total series has: "
            "every event counts as bad. If nothing succeeded this is an outage; otherwise the "
            "selector is wrong.",
        )
    return (
        f"{slo.key}: its histogram has no bucket at the bound",
        f"{selector} has returned no series for {NO_DATA_FOR} while the histogram's count has: "
        "the bound is not one of the histogram's buckets, so the latency SLI reads as no data. "
        "Check 'below' against the buckets ('ops slo validate --prometheus URL' lists them).",
    )


def no_data_rules(slo: SLO, url: str | None) -> list[dict[str, Any]]:
    """One NoData alert (ticket) per raw series the SLI depends on, labelled ``missing``;
    none when the SLO turns them off (``alerting.no_data: false``)."""
    if not slo.alerting.no_data:
        return []
    series = raw_series(slo)
    if not series:
        series = [("total", f"slo:total_events:increase5m{{{_matchers(slo)}}}")]
    total = series[0][1]
    rules = []
    for role, selector in series:
        summary, description = _no_data_text(slo, role, selector)
        annotations = {"summary": summary, "description": description}
        if url:
            annotations["runbook_url"] = url
        rule: dict[str, Any] = {
            "alert": no_data_alert_name(slo),
            "expr": _no_data_expr(slo, role, selector, total),
        }
        if role != "bad":  # the bad check spans the whole period already
            rule["for"] = NO_DATA_FOR
        rule["labels"] = _no_data_labels(slo, role)
        rule["annotations"] = annotations
        rules.append(rule)
    return rules


def _no_data_labels(slo: SLO, role: str) -> dict[str, str]:
    own = {"tier": "ticket", "missing": role}
    labels = {"severity": "ticket", **own, **_labels(slo)}
    labels.update(own)  # as in _alert_labels: ops's own alert labels win on its alerts
    return labels


def rule_document(
    file: SLOFile, base_url: str | None, horizon: Horizon | None = None
) -> dict[str, Any]:
    groups: list[dict[str, Any]] = []
    for slo in file.slos:
        groups += recording_groups(slo, horizon)
        alerts = alert_group(slo, base_url)
        if alerts["rules"]:  # an SLO without alerts gets recording rules only
            groups.append(alerts)
    return {"groups": groups}


def inhibit_document(files: Sequence[SLOFile]) -> dict[str, Any]:
    """Alertmanager ``inhibit_rules``: while an SLO's page fires, its ticket is held back (the
    page says more, and sooner). One rule per SLO with both tiers; NoData is never inhibited."""
    rules = []
    for slo in (slo for file in files for slo in file.slos):
        if slo.alerting.tier("page").disable or slo.alerting.tier("ticket").disable:
            continue
        rules.append(
            {
                "source_matchers": [
                    f'alertname="{burn_alert_name(slo, "page")}"',
                    'tier="page"',
                    f'service="{slo.service}"',
                    f'slo="{slo.name}"',
                ],
                "target_matchers": [
                    f'alertname="{burn_alert_name(slo, "ticket")}"',
                    'tier="ticket"',
                    f'service="{slo.service}"',
                    f'slo="{slo.name}"',
                ],
                "equal": ["service", "slo"],
            }
        )
    return {"inhibit_rules": rules}


def render_inhibit(files: Sequence[SLOFile]) -> str:
    import yaml

    sources = ", ".join(_relative(file.source) for file in files)
    body = yaml.safe_dump(inhibit_document(files), sort_keys=False, width=4096)
    return (
        f"{GENERATED_HEADER.format(source=sources)}"
        "# Alertmanager inhibit_rules: append the list to the inhibit_rules of your\n"
        "# alertmanager.yml (or concatenate the files with yq, see the README).\n"
        f"{body}"
    )


GENERATED_HEADER = "# Generated by ops from {source}; DO NOT EDIT.\n"


def _relative(source: str) -> str:
    """The source as named relative to the working directory, so the same checkout gives the
    same bytes however the path was spelled."""
    import os

    if os.path.isabs(source):
        relative = os.path.relpath(source)
        return relative if not relative.startswith("..") else source
    return source


def render_yaml(document: Mapping[str, Any], source: str) -> str:
    """YAML with the generated-file header; the source is named relative to the working
    directory, so the same checkout gives the same bytes however the path was spelled."""
    return f"{GENERATED_HEADER.format(source=_relative(source))}{_dump_yaml(document)}"


def _dump_yaml(document: Mapping[str, Any]) -> str:
    """The bytes ``yaml.safe_dump`` writes, in linear time.

    PyYAML's emitter slows down more than linearly with the size of one document (1,000
    SLOs: 7.4 s, 100: 0.5 s), so each item of a top-level list is dumped on its own and the
    pieces joined: the same text, 0.9 s for 1,000 SLOs with libyaml's emitter (used when
    PyYAML has it; its output is the same for these plain documents, as the tests check).
    """
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    def dump(data: Any) -> str:
        text: str = yaml.dump(data, Dumper=dumper, sort_keys=False, width=4096, allow_unicode=True)
        return text

    parts = []
    for key, value in document.items():
        if isinstance(value, list) and value:
            parts.append(dump({key: []}).replace(" []\n", "\n"))
            parts += [dump([item]) for item in value]
        else:
            parts.append(dump({key: value}))
    return "".join(parts)


# -- promtool unit tests ------------------------------------------------------------------

_CANDIDATES = (
    "500",
    "503",
    "200",
    "404",
    "ok",
    "error",
    "true",
    "false",
    "on_time",
    "late",
    "helpful",
    "unhelpful",
    "success",
    "failure",
    "good",
    "bad",
    "0",
    "1",
    "x",
    "y",
)
TOTAL_PER_MINUTE = 100_000
# Series and evaluations every 5 minutes: the recorded counts are 5m increases, and a
# 1-minute step would make the tests of long windows five times slower for nothing.
TEST_STEP = "5m"
TEST_STEP_MINUTES = 5


def _series_parts(selector: str) -> tuple[str, list[Matcher]] | None:
    """A selector's metric name and its other matchers, when it names one metric."""
    try:
        parsed = parse(selector)
    except SelectorError:
        return None
    if parsed.metric is None or not METRIC.fullmatch(parsed.metric):
        return None  # a series of promtool's input_series is written name{labels}
    return parsed.metric, [m for m in parsed.labels if m.label != METRIC_NAME]


def _holds(op: str, pattern: str, value: str) -> bool:
    try:
        if op == "=":
            return value == pattern
        if op == "!=":
            return value != pattern
        matched = re.fullmatch(pattern, value) is not None
    except re.error:
        return False
    return matched if op == "=~" else not matched


def _solve(
    must: Sequence[tuple[str, str, str]], must_fail: Sequence[tuple[str, str, str]]
) -> dict[str, str] | None:
    """Labels satisfying every matcher of ``must`` and failing at least one of ``must_fail``."""
    labels_in = sorted({m[0] for m in (*must, *must_fail)})
    literals = [m[2] for m in (*must, *must_fail) if m[1] in ("=", "!=")]
    for _, op, pattern in (*must, *must_fail):
        if op in ("=~", "!~"):  # a regex's alternatives are often values it matches
            literals += [re.sub(r"[\\^$()]", "", part) for part in pattern.split("|")]
    pool = list(dict.fromkeys([*_CANDIDATES, *literals]))
    choice: dict[str, list[str]] = {}
    for label in labels_in:
        options = [v for v in pool if all(_holds(op, p, v) for lab, op, p in must if lab == label)]
        if not options:
            return None
        choice[label] = options
    if not must_fail:
        return {label: options[0] for label, options in choice.items()}
    for label, options in choice.items():
        for value in options:
            if any(lab == label and not _holds(op, p, value) for lab, op, p in must_fail):
                return {**{k: v[0] for k, v in choice.items()}, label: value}
    return None


def _series(name: str, labels: Mapping[str, str]) -> str:
    matchers = [Matcher(k, "=", v) for k, v in sorted(labels.items()) if v != ""]
    return f"{name}{{{render_matchers(matchers)}}}"


def settle_minutes(slo: SLO) -> int:
    """When a steady burn has fired every pair it can: the longest ``for:`` and 20 minutes
    (the 5m counts need two samples, and promtool checks alerts before that step runs)."""
    longest = max(pair.for_seconds for pair in alert_windows(slo)) // 60 + 20
    return -(-longest // TEST_STEP_MINUTES) * TEST_STEP_MINUTES


def test_steps(slo: SLO) -> int:
    return settle_minutes(slo) // TEST_STEP_MINUTES + 2


def input_series(
    slo: SLO,
    bad_per_minute: float,
    le: str | None = None,
    total_per_minute: float = TOTAL_PER_MINUTE,
) -> list[dict[str, str]] | None:
    """Counters with ``bad_per_minute`` of ``total_per_minute`` events bad (whole numbers per
    5m step); a latency SLI's bucket is spelled ``le`` (default: as the SLO writes it)."""
    good = total_per_minute - bad_per_minute
    steps = test_steps(slo)

    def values(per_minute: float) -> str:
        return f"0+{round(per_minute * TEST_STEP_MINUTES)}x{steps}"

    sli = slo.sli
    if isinstance(sli, LatencySLI):
        parsed = _series_parts(f"x{sli.selector}")
        labels = _solve(parsed[1], ()) if parsed else None
        if labels is None:
            return None
        return [
            {
                "series": _series(f"{sli.histogram}_count", labels),
                "values": values(total_per_minute),
            },
            {
                "series": _series(f"{sli.histogram}_bucket", {**labels, "le": le or sli.le}),
                "values": values(good),
            },
        ]
    if not isinstance(sli, RatioSLI):
        return None
    counted = sli.bad if sli.bad is not None else sli.good
    assert counted is not None
    total, part = _series_parts(sli.total), _series_parts(counted)
    if total is None or part is None:
        return None
    counted_per_minute = bad_per_minute if sli.bad is not None else good
    if total[0] != part[0]:
        inside = _solve([*part[1]], ())
        everything = _solve(total[1], ())
        if inside is None or everything is None:
            return None
        return [
            {"series": _series(part[0], inside), "values": values(counted_per_minute)},
            {"series": _series(total[0], everything), "values": values(total_per_minute)},
        ]
    inside = _solve([*total[1], *part[1]], ())
    outside = _solve(total[1], part[1])
    if inside is None or outside is None:
        return None
    return [
        {"series": _series(total[0], inside), "values": values(counted_per_minute)},
        {
            "series": _series(total[0], outside),
            "values": values(total_per_minute - counted_per_minute),
        },
    ]


def _expected_burn_alerts(slo: SLO, burn: float, url: str | None) -> list[dict[str, Any]]:
    """Per burn alert name, the alerts Prometheus fires at a steady ``burn``, with
    annotations as it renders them."""
    checks: dict[str, list[dict[str, Any]]] = {name: [] for name in burn_alert_names(slo)}
    for pair in burn_pairs(slo):
        if burn <= pair.factor:
            continue
        annotations = _annotations(slo, pair, url)
        annotations["description"] = annotations["description"].replace(VALUE, f"{burn:.1f}")
        checks[burn_alert_name(slo, pair.severity)].append(
            {"exp_labels": _alert_labels(pair, slo), "exp_annotations": annotations}
        )
    return [{"alertname": name, "exp_alerts": alerts} for name, alerts in checks.items()]


def _quiet(slo: SLO, at: str) -> list[dict[str, Any]]:
    return [
        {"eval_time": at, "alertname": name, "exp_alerts": []} for name in burn_alert_names(slo)
    ]


def _templated(slo: SLO) -> bool:
    """Annotations a team wrote with templates cannot be expected verbatim."""
    return any(
        "{{" in v
        for t in (slo.alerting.tier("page"), slo.alerting.tier("ticket"))
        for v in t.annotations.values()
    )


def test_groups(slo: SLO, base_url: str | None) -> list[dict[str, Any]] | None:
    """promtool test groups: a fast burn pages, a slow burn opens a ticket, healthy is quiet."""
    if _templated(slo):
        return None
    url = runbook_url(slo, base_url)
    total = TOTAL_PER_MINUTE
    fast = min(total, round(slo.budget * total * 20))
    healthy = round(slo.budget * total * 0.5)
    cases: list[tuple[str, int, str | None]] = [
        ("fast burn pages", fast, None),
        ("slow burn opens a ticket", round(slo.budget * total * 2), None),
        ("healthy fires nothing", healthy, None),
    ]
    if isinstance(slo.sli, LatencySLI):
        for spelling in slo.sli.le_spellings[1:]:  # Prometheus 3 writes le="1.0"
            cases += [
                (f'fast burn pages, bucket le="{spelling}"', fast, spelling),
                (f'healthy fires nothing, bucket le="{spelling}"', healthy, spelling),
            ]
    groups = []
    settled = f"{settle_minutes(slo)}m"
    for title, bad, le in cases:
        series = input_series(slo, bad, le)
        if series is None:
            return None
        burn = (bad / total) / slo.budget
        checks = [{"eval_time": settled, **c} for c in _expected_burn_alerts(slo, burn, url)]
        groups.append(
            {
                "name": f"{slo.key}: {title}",
                "interval": TEST_STEP,
                "input_series": series,
                "alert_rule_test": [
                    *checks,
                    {"eval_time": settled, "alertname": no_data_alert_name(slo), "exp_alerts": []},
                ],
            }
        )
    groups += _low_traffic_tests(slo, settled)
    groups += _no_data_tests(slo, base_url)
    return groups


def _low_traffic_tests(slo: SLO, settled: str) -> list[dict[str, Any]]:
    """With ``min_events``: one event per 5m step, every one bad, fires nothing while the
    long windows hold fewer events than the minimum (no case when they cannot)."""
    events = slo.alerting.min_events
    if not events or test_steps(slo) >= events:
        return []
    per_minute = 1 / TEST_STEP_MINUTES
    series = input_series(slo, per_minute, None, per_minute)
    if series is None:
        return []
    return [
        {
            "name": f"{slo.key}: every event bad, fewer than {events} events: nothing fires",
            "interval": TEST_STEP,
            "input_series": series,
            "alert_rule_test": _quiet(slo, settled),
        }
    ]


def _no_data_tests(slo: SLO, base_url: str | None) -> list[dict[str, Any]]:
    """Nothing at all raises NoData for the total; a total without its good series or bucket
    raises NoData naming that series (the bad series' check needs a whole period)."""
    by_role = {
        rule["labels"]["missing"]: rule for rule in no_data_rules(slo, runbook_url(slo, base_url))
    }
    if not by_role:
        return []  # NoData turned off: the other groups check that it never fires

    def expected(role: str) -> list[dict[str, Any]]:
        rule = by_role[role]
        return [{"exp_labels": dict(rule["labels"]), "exp_annotations": dict(rule["annotations"])}]

    groups: list[dict[str, Any]] = [
        {
            "name": f"{slo.key}: no data",
            "interval": TEST_STEP,
            "input_series": [],
            "alert_rule_test": [
                {
                    "eval_time": "15m",
                    "alertname": no_data_alert_name(slo),
                    "exp_alerts": expected("total"),
                },
                *_quiet(slo, "15m"),
            ],
        }
    ]
    role = next((r for r in ("good", "bucket") if r in by_role), None)
    series = input_series(slo, 0)
    if role is not None and series is not None:
        # input_series gives [count, bucket] for a histogram and [counted, the rest of the
        # total] for counters: the second matches the total but not the good selector.
        kept = series[0] if isinstance(slo.sli, LatencySLI) else series[1]
        total_only = [{**kept, "values": f"0+{TOTAL_PER_MINUTE * TEST_STEP_MINUTES}x5"}]
        groups.append(
            {
                "name": f"{slo.key}: the {role} series is missing",
                "interval": TEST_STEP,
                "input_series": total_only,
                "alert_rule_test": [
                    {
                        "eval_time": "15m",
                        "alertname": no_data_alert_name(slo),
                        "exp_alerts": expected(role),
                    }
                ],
            }
        )
    return groups


def test_document(file: SLOFile, base_url: str | None) -> tuple[dict[str, Any], list[str]]:
    """The promtool test file of a rule file, and the SLOs it could not make tests for."""
    tests: list[dict[str, Any]] = []
    skipped = []
    for slo in file.slos:
        groups = test_groups(slo, base_url)
        if groups is None:
            reason = (
                "raw SLIs are PromQL that ops cannot synthesise series for"
                if isinstance(slo.sli, RawSLI)
                else "its annotations are templates, which promtool would render"
                if _templated(slo)
                else "no label values satisfying its selectors were found"
            )
            skipped.append(f"{slo.key}: {reason}")
        else:
            tests += groups
    return {
        "rule_files": [rules_filename(file.service)],
        "evaluation_interval": TEST_STEP,
        "tests": tests,
    }, skipped


def check_rulable(slos: Sequence[SLO]) -> None:
    """Refuse SLOs whose rules would mislead: windows shorter than the alert windows, or two
    SLOs whose alert names collide."""
    names: dict[str, SLO] = {}
    for slo in slos:
        alert_windows(slo)
        name = alert_name(slo)
        other = names.setdefault(name, slo)
        if other is not slo:
            raise ConfigError(
                f"{slo.place}: alert name {name} is also the name of {other.key} ({other.place}); "
                "rename one of the SLOs"
            )


FORMATS = ("plain", "prometheusrule")


def prometheusrule_filename(service: str) -> str:
    return f"{service}.prometheusrule.yaml"


def prometheusrule_document(
    file: SLOFile, base_url: str | None, horizon: Horizon | None = None
) -> dict[str, Any]:
    """The same groups as a prometheus-operator ``PrometheusRule`` object, for clusters where
    the operator loads rules (add your Prometheus's ``ruleSelector`` labels with kustomize)."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": f"{file.service.replace('_', '-')}-slo-rules",
            "labels": {"app.kubernetes.io/managed-by": "ops-toolkit"},
        },
        "spec": rule_document(file, base_url, horizon),
    }


def generate(
    files: Sequence[SLOFile],
    base_url: str | None,
    with_tests: bool,
    output_format: str = "plain",
    horizons: Mapping[str, Horizon] | None = None,
) -> dict[str, str]:
    """File name -> content for every rule file (and test file) the SLO files make.

    ``output_format``: ``plain`` rule files (what promtool and a plain Prometheus read) or
    ``prometheusrule`` objects; promtool tests need the plain files. ``horizons``: per
    service, the horizon its recurring corrections are expanded over (see
    ``correction_rules.choose_horizon``); a file without recurring corrections needs none.
    """
    if output_format not in FORMATS:
        raise ConfigError(f"unknown rules format {output_format!r} (valid: {', '.join(FORMATS)})")
    if with_tests and output_format != "plain":
        raise ConfigError(
            "--tests needs --format plain: promtool tests read plain rule files (generate "
            "them in CI; a PrometheusRule holds the same groups)"
        )
    output: dict[str, str] = {}
    services: dict[str, str] = {}
    check_rulable([slo for file in files for slo in file.slos])
    for file in files:
        if file.service in services:
            raise ConfigError(
                f"{file.source}: service {file.service!r} is also defined in {services[file.service]}; "
                "rule files are per service"
            )
        services[file.service] = file.source
        horizon = (horizons or {}).get(file.service) if needs_horizon(file) else None
        stated = horizon_comment(horizon) if horizon is not None else ""
        if output_format == "prometheusrule":
            output[prometheusrule_filename(file.service)] = _with_comment(
                render_yaml(prometheusrule_document(file, base_url, horizon), file.source), stated
            )
            continue
        output[rules_filename(file.service)] = _with_comment(
            render_yaml(rule_document(file, base_url, horizon), file.source), stated
        )
        if with_tests:
            document, skipped = test_document(file, base_url)
            note = "".join(f"# No tests for {key}.\n" for key in skipped)
            output[tests_filename(file.service)] = render_yaml(document, file.source) + note
            if has_corrections(file):
                output.update(correction_test_files(file, base_url))
    return output


def _with_comment(text: str, comment: str) -> str:
    """``comment`` lines after the generated-file header."""
    if not comment:
        return text
    header, rest = text.split("\n", 1)
    return f"{header}\n{comment}{rest}"


# -- promtool tests of corrections ----------------------------------------------------------
#
# promtool 2.x starts every test at the Unix epoch, and a correction of 2026 would need 56
# years of samples before it. So the corrected SLOs' rules are also written with one
# correction on the tests' own timeline, ``[0, settle)``, by the same code that writes the
# deployed ones (only the span differs), into a file of their own that only promtool reads.
# The deployed rule file's tests run where its corrections are inactive: outside a
# correction, every burn still fires as before.


def correction_rules_filename(service: str) -> str:
    """Rules for promtool only: the name does not end in ``.rules.yaml``, so a glob of the
    deployed rule files does not load them into Prometheus."""
    return f"{service}.corrections.test-rules.yaml"


def correction_tests_filename(service: str) -> str:
    return f"{service}.corrections.rules.test.yaml"


CORRECTION_TEST_NOTE = (
    "# For promtool only, never load it into Prometheus: the corrected SLOs' rules with one\n"
    "# correction on the tests' timeline (promtool starts at 1970), written by the same code\n"
    "# as the deployed rules.\n"
)


def _test_span(slo: SLO) -> Span:
    return (0.0, float(settle_minutes(slo) * 60))


def correction_test_files(file: SLOFile, base_url: str | None) -> dict[str, str]:
    """The rules of ``file``'s corrected SLOs on the tests' timeline, and their tests."""
    corrected_slos = [slo for slo in file.slos if slo.corrections]
    groups: list[dict[str, Any]] = []
    tests: list[dict[str, Any]] = []
    for slo in corrected_slos:
        groups += recording_groups(slo, None, [_test_span(slo)])
        alerts = alert_group(slo, base_url)
        if alerts["rules"]:
            groups.append(alerts)
        tests += correction_test_groups(slo, base_url) or []
    rules_name = correction_rules_filename(file.service)
    document = {
        "rule_files": [rules_name],
        "evaluation_interval": TEST_STEP,
        "tests": tests,
    }
    return {
        rules_name: _with_comment(
            render_yaml({"groups": groups}, file.source), CORRECTION_TEST_NOTE
        ),
        correction_tests_filename(file.service): render_yaml(document, file.source),
    }


def _phases(slo: SLO, phases: Sequence[tuple[float, int]]) -> list[dict[str, str]] | None:
    """Counters whose bad events per minute change by phase: ``(bad_per_minute, steps)``."""
    parts = [input_series(slo, bad) for bad, _ in phases]
    if any(part is None for part in parts):
        return None
    series: list[dict[str, str]] = []
    for index, first in enumerate(parts[0] or []):
        values: list[str] = []
        reached = 0
        for (_, steps), part in zip(phases, parts, strict=True):
            assert part is not None
            step = int(part[index]["values"].split("+", 1)[1].split("x", 1)[0])
            if not values:
                values.append(f"0+{step}x{steps}")
                reached = step * steps
            else:
                values.append(f"{reached + step}+{step}x{steps - 1}")
                reached += step * steps
        series.append({"series": first["series"], "values": " ".join(values)})
    return series


def correction_test_groups(slo: SLO, base_url: str | None) -> list[dict[str, Any]] | None:
    """A fast burn inside a correction fires nothing; the same burn after it pages; a burn
    inside it followed by health fires nothing, though the long windows span both."""
    if _templated(slo):
        return None
    url = runbook_url(slo, base_url)
    total = TOTAL_PER_MINUTE
    fast = min(total, round(slo.budget * total * 20))
    healthy = round(slo.budget * total * 0.5)
    settle = settle_minutes(slo)
    steps = settle // TEST_STEP_MINUTES
    after = f"{2 * settle}m"
    burn = (fast / total) / slo.budget
    quiet_no_data = {"alertname": no_data_alert_name(slo), "exp_alerts": []}
    cases = [
        (
            "a fast burn inside a correction fires nothing",
            _phases(slo, [(fast, steps + 2)]),
            [*_quiet(slo, f"{settle}m"), {"eval_time": f"{settle}m", **quiet_no_data}],
        ),
        (
            "the same fast burn after the correction pages",
            _phases(slo, [(fast, 2 * steps + 2)]),
            [
                *({"eval_time": after, **c} for c in _expected_burn_alerts(slo, burn, url)),
                {"eval_time": after, **quiet_no_data},
            ],
        ),
        (
            "a burn inside a correction, healthy after it: nothing fires",
            _phases(slo, [(fast, steps), (healthy, steps + 2)]),
            [*_quiet(slo, after), {"eval_time": after, **quiet_no_data}],
        ),
    ]
    groups = []
    for title, series, checks in cases:
        if series is None:
            return None
        groups.append(
            {
                "name": f"{slo.key}: {title}",
                "interval": TEST_STEP,
                "input_series": series,
                "alert_rule_test": checks,
            }
        )
    return groups
