"""SLO model -> Prometheus recording and alerting rules, and promtool tests for them. Pure.

Naming scheme (every series carries ``service`` and ``slo`` plus the SLO file's labels):

    slo:bad_events:increase5m     bad events in the last 5m
    slo:total_events:increase5m   all events in the last 5m
    slo:error_ratio:<w>           bad/total over w (5m, 30m, 1h, 2h, 6h, 1d, 3d), event-weighted:
                                  sum_over_time of the 5m counts, never an average of ratios
    slo:error_ratio:period        the same over the SLO's window (calendar: its nominal length)
    slo:burn_rate:<w>             error ratio / error budget
    slo:budget_remaining:period   1 - error ratio over the period / error budget
    slo:objective:ratio           the objective as a ratio (0.999)
    slo:error_budget:ratio        1 - objective

Alerts: ``<Service><Slo>BudgetBurn`` with ``severity: page`` (1h/5m and 6h/30m pairs) and
``severity: ticket`` (1d/2h and 3d/6h pairs), factors recomputed for the SLO's period, and
``<Service><Slo>NoData`` when the total series has been absent for 10 minutes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ops_toolkit.durations import format_duration
from ops_toolkit.errors import ConfigError
from ops_toolkit.slo.model import SLO, LatencySLI, RatioSLI, RawSLI, SLOFile
from ops_toolkit.slo.queries import with_matcher
from ops_toolkit.slo.windows import BURN_ALERTS, BURN_WINDOWS

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


def no_data_alert_name(slo: SLO) -> str:
    return f"{camel(slo.service)}{camel(slo.name)}NoData"


def rules_filename(service: str) -> str:
    return f"{service}.rules.yaml"


def tests_filename(service: str) -> str:
    return f"{service}.rules.test.yaml"


def _matchers(slo: SLO) -> str:
    return f'service="{slo.service}",slo="{slo.name}"'


def _labels(slo: SLO) -> dict[str, str]:
    return {"service": slo.service, "slo": slo.name, **dict(slo.labels)}


def event_queries(slo: SLO) -> tuple[str, str]:
    """(bad, total) events over the last 5m as PromQL; a missing bad series counts as 0."""
    sli = slo.sli
    match sli:
        case RatioSLI(total=total, bad=bad, good=good):
            total_q = f"sum(increase({total}[5m]))"
            if bad is not None:
                return f"sum(increase({bad}[5m])) or vector(0)", total_q
            return f"{total_q} - (sum(increase({good}[5m])) or vector(0))", total_q
        case LatencySLI(histogram=histogram, selector=selector):
            total_q = f"sum(increase({histogram}_count{selector}[5m]))"
            bucket = with_matcher(selector, f'le="{sli.le}"')
            return (
                f"{total_q} - (sum(increase({histogram}_bucket{bucket}[5m])) or vector(0))",
                total_q,
            )
        case RawSLI(bad_query=bad, total_query=total):
            return (
                f"sum({bad.replace('{{window}}', '5m')})",
                f"sum({total.replace('{{window}}', '5m')})",
            )
    raise AssertionError(sli)


def _record(name: str, expr: str, slo: SLO) -> dict[str, Any]:
    return {"record": name, "expr": expr, "labels": _labels(slo)}


def recording_groups(slo: SLO) -> list[dict[str, Any]]:
    selector = "{" + _matchers(slo) + "}"
    bad, total = event_queries(slo)
    events = [
        _record("slo:bad_events:increase5m", bad, slo),
        _record("slo:total_events:increase5m", total, slo),
    ]
    ratios = [
        _record(
            "slo:error_ratio:5m",
            f"slo:bad_events:increase5m{selector} / slo:total_events:increase5m{selector}",
            slo,
        )
    ]
    spans = [(format_duration(w), format_duration(w)) for w in BURN_WINDOWS if w != 300]
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
    for window in BURN_WINDOWS:
        name = format_duration(window)
        ratios.append(
            _record(f"slo:burn_rate:{name}", f"slo:error_ratio:{name}{selector} / {budget}", slo)
        )
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


def _pairs(severity: str, slo: SLO) -> list[tuple[str, str, float]]:
    period = slo.window.period_seconds
    return [
        (a.long_name, a.short_name, a.factor(period)) for a in BURN_ALERTS if a.severity == severity
    ]


def _burn_expr(severity: str, slo: SLO) -> str:
    selector = "{" + _matchers(slo) + "}"
    return " or ".join(
        f"(slo:burn_rate:{long}{selector} > {clean(factor)} and slo:burn_rate:{short}{selector} > {clean(factor)})"
        for long, short, factor in _pairs(severity, slo)
    )


def _annotations(slo: SLO, severity: str, runbook_url: str | None) -> dict[str, str]:
    window = slo.window.describe()
    pairs = " or ".join(
        f"{long} and {short} above {clean(f)}x" for long, short, f in _pairs(severity, slo)
    )
    speed = "fast: page now" if severity == "page" else "steadily: open a ticket"
    annotations = {
        "summary": f"{slo.key} is burning its error budget {speed}",
        "description": (
            f"{slo.key} spends its error budget {VALUE}x faster than sustainable (at 1x the "
            f"budget lasts exactly the {window} window). The objective is {clean(slo.objective)}% "
            f"of events, so the budget is {clean(slo.budget * 100)}% of events. Fires when {pairs}."
        ),
    }
    if runbook_url:
        annotations["runbook_url"] = runbook_url
    return annotations


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
            "alert": alert_name(slo),
            "expr": _burn_expr(severity, slo),
            "labels": {"severity": severity, **_labels(slo)},
            "annotations": _annotations(slo, severity, url),
        }
        for severity in ("page", "ticket")
    ]
    no_data: dict[str, Any] = {
        "alert": no_data_alert_name(slo),
        "expr": f"absent(slo:total_events:increase5m{{{_matchers(slo)}}})",
        "for": NO_DATA_FOR,
        "labels": {"severity": "ticket", **_labels(slo)},
        "annotations": {
            "summary": f"{slo.key} has no data",
            "description": (
                f"No events have been recorded for {slo.key} for {NO_DATA_FOR}: the SLI's total "
                "series is absent, so its error budget cannot be computed. Check the exporter "
                "and the SLI's selectors."
            ),
        },
    }
    if url:
        no_data["annotations"]["runbook_url"] = url
    rules.append(no_data)
    return {"name": f"slo-{slo.service}-{slo.name}-alerts", "rules": rules}


def rule_document(file: SLOFile, base_url: str | None) -> dict[str, Any]:
    groups: list[dict[str, Any]] = []
    for slo in file.slos:
        groups += recording_groups(slo)
        groups.append(alert_group(slo, base_url))
    return {"groups": groups}


def render_yaml(document: Mapping[str, Any], source: str) -> str:
    """YAML with the generated-file header; the source is named relative to the working
    directory, so the same checkout gives the same bytes however the path was spelled."""
    import os

    if os.path.isabs(source):
        relative = os.path.relpath(source)
        source = relative if not relative.startswith("..") else source

    return f"# Generated by ops from {source}; DO NOT EDIT.\n{_dump_yaml(document)}"


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

_SELECTOR = re.compile(r"^\s*([A-Za-z_:][A-Za-z0-9_:]*)?\s*(?:\{(.*)\})?\s*$", re.DOTALL)
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?')
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
TEST_MINUTES = 60


def parse_selector(selector: str) -> tuple[str, list[tuple[str, str, str]]] | None:
    match = _SELECTOR.match(selector)
    if not match:
        return None
    name, body = match.group(1) or "", match.group(2) or ""
    matchers, position = [], 0
    while position < len(body.strip()):
        found = _MATCHER.match(body, position)
        if not found:
            return None
        matchers.append((found.group(1), found.group(2), found.group(3).replace('\\"', '"')))
        position = found.end()
    for label, op, value in matchers:
        if label == "__name__" and op == "=":
            name = value
    return (name, [m for m in matchers if m[0] != "__name__"]) if name else None


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
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if v != "")
    return f"{name}{{{inner}}}"


def input_series(slo: SLO, bad_per_minute: int) -> list[dict[str, str]] | None:
    """Counters whose bad share is ``bad_per_minute`` of 100,000 events a minute."""
    good = TOTAL_PER_MINUTE - bad_per_minute

    def values(per_minute: int) -> str:
        return f"0+{per_minute}x{TEST_MINUTES}"

    sli = slo.sli
    if isinstance(sli, LatencySLI):
        parsed = parse_selector(f"x{sli.selector}")
        labels = _solve(parsed[1], ()) if parsed else None
        if labels is None:
            return None
        return [
            {
                "series": _series(f"{sli.histogram}_count", labels),
                "values": values(TOTAL_PER_MINUTE),
            },
            {
                "series": _series(f"{sli.histogram}_bucket", {**labels, "le": sli.le}),
                "values": values(good),
            },
        ]
    if not isinstance(sli, RatioSLI):
        return None
    counted = sli.bad if sli.bad is not None else sli.good
    assert counted is not None
    total, part = parse_selector(sli.total), parse_selector(counted)
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
            {"series": _series(total[0], everything), "values": values(TOTAL_PER_MINUTE)},
        ]
    inside = _solve([*total[1], *part[1]], ())
    outside = _solve(total[1], part[1])
    if inside is None or outside is None:
        return None
    return [
        {"series": _series(total[0], inside), "values": values(counted_per_minute)},
        {
            "series": _series(total[0], outside),
            "values": values(TOTAL_PER_MINUTE - counted_per_minute),
        },
    ]


def _expected_burn_alerts(slo: SLO, burn: float, url: str | None) -> list[dict[str, Any]]:
    """The alerts Prometheus fires at a steady ``burn``, with annotations as it renders them."""
    expected = []
    for severity in ("page", "ticket"):
        firing = [(long, factor) for long, _, factor in _pairs(severity, slo) if burn > factor]
        if not firing:
            continue
        annotations = _annotations(slo, severity, url)
        annotations["description"] = annotations["description"].replace(VALUE, f"{burn:.1f}")
        expected.append(
            {"exp_labels": {"severity": severity, **_labels(slo)}, "exp_annotations": annotations}
        )
    return expected


def test_groups(slo: SLO, base_url: str | None) -> list[dict[str, Any]] | None:
    """promtool test groups: a fast burn pages, a slow burn opens a ticket, healthy is quiet."""
    url = runbook_url(slo, base_url)
    total = TOTAL_PER_MINUTE
    cases = [
        ("fast burn pages", min(total, round(slo.budget * total * 20))),
        ("slow burn opens a ticket", round(slo.budget * total * 2)),
        ("healthy fires nothing", round(slo.budget * total * 0.5)),
    ]
    groups = []
    for title, bad in cases:
        series = input_series(slo, bad)
        if series is None:
            return None
        burn = (bad / total) / slo.budget
        expected = _expected_burn_alerts(slo, burn, url)
        groups.append(
            {
                "name": f"{slo.key}: {title}",
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    {"eval_time": "30m", "alertname": alert_name(slo), "exp_alerts": expected},
                    {"eval_time": "30m", "alertname": no_data_alert_name(slo), "exp_alerts": []},
                ],
            }
        )
    no_data_annotations = alert_group(slo, base_url)["rules"][2]["annotations"]
    groups.append(
        {
            "name": f"{slo.key}: no data",
            "interval": "1m",
            "input_series": [],
            "alert_rule_test": [
                {
                    "eval_time": "15m",
                    "alertname": no_data_alert_name(slo),
                    "exp_alerts": [
                        {
                            "exp_labels": {"severity": "ticket", **_labels(slo)},
                            "exp_annotations": dict(no_data_annotations),
                        }
                    ],
                },
                {"eval_time": "15m", "alertname": alert_name(slo), "exp_alerts": []},
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
                else "no label values satisfying its selectors were found"
            )
            skipped.append(f"{slo.key}: {reason}")
        else:
            tests += groups
    return {
        "rule_files": [rules_filename(file.service)],
        "evaluation_interval": "1m",
        "tests": tests,
    }, skipped


def check_rulable(slos: Sequence[SLO]) -> None:
    """Refuse SLOs whose rules would mislead: windows shorter than the alert windows, or two
    SLOs whose alert names collide."""
    longest = max(a.long for a in BURN_ALERTS)
    names: dict[str, SLO] = {}
    for slo in slos:
        if slo.window.period_seconds < longest:
            raise ConfigError(
                f"{slo.place}.window: {slo.window.describe()} is shorter than the "
                f"{format_duration(longest)} burn-rate window; rules need a window of at least "
                f"{format_duration(longest)}"
            )
        name = alert_name(slo)
        other = names.setdefault(name, slo)
        if other is not slo:
            raise ConfigError(
                f"{slo.place}: alert name {name} is also the name of {other.key} ({other.place}); "
                "rename one of the SLOs"
            )


def generate(files: Sequence[SLOFile], base_url: str | None, with_tests: bool) -> dict[str, str]:
    """File name -> content for every rule file (and test file) the SLO files make."""
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
        output[rules_filename(file.service)] = render_yaml(
            rule_document(file, base_url), file.source
        )
        if with_tests:
            document, skipped = test_document(file, base_url)
            note = "".join(f"# No tests for {key}.\n" for key in skipped)
            output[tests_filename(file.service)] = render_yaml(document, file.source) + note
    return output
