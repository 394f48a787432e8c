"""SLO definitions checked against live data (``ops slo validate --prometheus``).

A definition can parse and still measure nothing: a typo in a selector reads as no data or,
worse, as zero errors; a latency bound without its bucket reads as every event slow. Like
nobl9's ``sloctl validate sli``, each selector an SLO uses is asked whether it matched any
series over the SLO's period, and a latency SLI's bucket bound whether it exists.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ops_toolkit.durations import format_duration, parse_duration
from ops_toolkit.metrics.model import MetricsSource, Sample
from ops_toolkit.slo.model import SLO, BurnWindow, LatencySLI, RatioSLI, RawSLI
from ops_toolkit.slo.queries import count_queries
from ops_toolkit.slo.windows import alert_windows


@dataclass(frozen=True)
class Finding:
    """One problem: ``error`` (the SLO cannot measure what it says) or ``warning``."""

    level: str
    message: str


@dataclass(frozen=True)
class _Check:
    slo: SLO
    path: str  # below the SLO's place, e.g. ".sli.ratio.total"
    what: str  # the selector or query, as the model holds it
    query: str
    role: str = "total"  # "total" and "good" must match series; "bad" may read 0 or nothing
    bucket: LatencySLI | None = None
    traffic: BurnWindow | None = None  # events in this pair's long window, for low traffic

    def place_and_query(self) -> tuple[str, str]:
        """Where the user wrote this query, and how: their file's key and text when the
        format's differ from the model's (OpenSLO, Sloth), else the model's."""
        written = self.slo.written.get(self.role)
        if written is None:
            return f"{self.slo.place}{self.path}", self.what
        return written.place, written.text


def _span(slo: SLO) -> str:
    return format_duration(slo.window.period_seconds)


def plan(slo: SLO) -> list[_Check]:
    """The queries that tell whether ``slo``'s selectors match anything in its period."""
    span = _span(slo)

    def seen(selector: str) -> str:
        return f"count(last_over_time({selector}[{span}]))"

    sli = slo.sli
    match sli:
        case RatioSLI(total=total, bad=bad, good=good):
            kind, counted = ("bad", bad) if bad is not None else ("good", good)
            assert counted is not None
            return [
                _Check(slo, ".sli.ratio.total", total, seen(total)),
                _Check(slo, f".sli.ratio.{kind}", counted, seen(counted), role=kind),
            ]
        case LatencySLI(histogram=histogram, selector=selector):
            count = f"{histogram}_count{selector}"
            buckets = f"{histogram}_bucket{selector}"
            return [
                _Check(slo, ".sli.latency.histogram", count, seen(count)),
                _Check(
                    slo,
                    ".sli.latency.below",
                    buckets,
                    f"count by (le) (last_over_time({buckets}[{span}]))",
                    role="good",
                    bucket=sli,
                ),
            ]
        case RawSLI(bad_query=bad, total_query=total):
            return [
                _Check(slo, ".sli.raw.total_query", total, total.replace("{{window}}", span)),
                _Check(slo, ".sli.raw.bad_query", bad, bad.replace("{{window}}", span), role="bad"),
            ]
    raise AssertionError(sli)


def _traffic(slo: SLO) -> list[_Check]:
    """Events in the fastest alerting pair's long window: the alert a handful of events
    trips first. None for an SLO whose burn-rate alerts are all disabled: nothing fires."""
    pairs = [p for p in alert_windows(slo) if not slo.alerting.tier(p.severity).disable]
    if not pairs:
        return []
    pair = next((p for p in pairs if p.severity == "page"), pairs[0])
    _, _, total = count_queries(slo.sli, pair.long_name)
    return [_Check(slo, ".alerting.min_events", total, total, traffic=pair)]


def check_live(slos: Sequence[SLO], source: MetricsSource, at: float) -> list[Finding]:
    """Every selector of every SLO, asked at ``at``; a failed query is an error finding."""
    checks = [check for slo in slos for check in (*plan(slo), *_traffic(slo))]
    answers = source.query_many([c.query for c in checks], at)
    findings = []
    for check, answer in zip(checks, answers, strict=True):
        finding = _judge(check, answer)
        if finding is not None:
            findings.append(finding)
    return findings


def _judge(check: _Check, answer: list[Sample] | Exception) -> Finding | None:
    """Total and good queries must match series; a bad-events query that reads 0 is the
    healthy case (no errors), and one that matches nothing is only a warning."""
    if isinstance(answer, Exception):
        place, _ = check.place_and_query()
        return Finding("error", f"{place}: query {check.query!r} failed: {answer}")
    if check.bucket is not None:
        return _judge_bucket(check, check.bucket, answer)
    if check.traffic is not None:
        return _judge_traffic(check.slo, check.traffic, answer)
    place, query = check.place_and_query()
    span = _span(check.slo)
    if check.role == "bad":
        written = check.slo.written
        if answer or ("bad" in written and written["bad"] == written.get("total")):
            return None  # it reads 0 or more; or one query is both sides: the total's check
        if isinstance(check.slo.sli, RatioSLI):
            wrong, absent = "selector", "the rules count it as 0 bad events"
        else:
            wrong, absent = (
                "query",
                "while it is absent the SLO reads as no data: add 'or vector(0)'",
            )
        return Finding(
            "warning",
            f"{place}: {query} matched no series in the last {span}: either no bad event "
            f"happened or the {wrong} is wrong ({absent})",
        )
    if not answer:
        return Finding("error", f"{place}: {query} matched no series in the last {span}")
    if any(sample.value > 0 for sample in answer):
        return None
    return Finding("error", f"{place}: {query} counted no events in the last {span}")


def _judge_bucket(check: _Check, sli: LatencySLI, answer: list[Sample]) -> Finding | None:
    place, query = check.place_and_query()
    bounds = sorted({s.labels.get("le", "") for s in answer}, key=_bound)
    if any(sli.has_bound(le) for le in bounds):
        return None
    span = _span(check.slo)
    if not bounds:
        return Finding("error", f"{place}: {query} matched no series in the last {span}")
    wanted = " or ".join(f'le="{le}"' for le in sli.le_spellings)
    return Finding(
        "error",
        f"{place}: histogram {sli.histogram}{sli.selector} has no bucket {wanted}; its buckets "
        f"are: {', '.join(bounds)}",
    )


def _judge_traffic(slo: SLO, pair: BurnWindow, answer: list[Sample]) -> Finding | None:
    """Low traffic: one bad event among the recent events would burn past the pair's factor."""
    events = sum(s.value for s in answer if not math.isnan(s.value))
    if events <= 0:
        return None  # no data: the selector checks say why
    needed = 1 / (pair.factor * slo.budget)  # fewer events than this: one bad one fires
    if events >= needed or slo.alerting.min_events >= needed:
        return None
    whole = max(1, round(events))  # increase() extrapolates: 4 runs may read as 4.07
    burn = (1 / whole) / slo.budget
    minimum = math.ceil(needed)
    if slo.format == "ops/v1":
        place, advice = (
            f"{slo.place}.alerting.min_events",
            f"set alerting.min_events to at least {minimum}",
        )
    else:  # the file's format has no such key: say where ops/v1 has it
        place = slo.place
        advice = (
            f"{slo.format} has no minimum of events for alerts; ops/v1 has: convert the file "
            f"(ops slo convert {slo.source} --to ops) and set alerting.min_events to at least "
            f"{minimum}"
        )
    return Finding(
        "warning",
        f"{place}: low traffic: {whole} events in the last {pair.long_name}, so one bad "
        f"event would burn {burn:.1f}x and fire the {pair.long_name}/{pair.short_name} "
        f"{pair.severity} (above {pair.factor:g}x); {advice}",
    )


def _bound(le: str) -> float:
    try:
        return float(le)
    except ValueError:
        return float("inf")


_RETENTION_TIME = re.compile(r"(?:[0-9]+(?:ms|y|w|d|h|m|s))+")


def retention_seconds(stated: str) -> float | None:
    """Seconds of the time limit in Prometheus's ``storageRetention`` (``15d``, ``1y``,
    ``30d or 10GiB``); None when it states only a size limit or none we can read."""
    for part in stated.split(" or "):
        part = part.strip()
        if _RETENTION_TIME.fullmatch(part):
            years = re.findall(r"([0-9]+)y", part)
            rest = re.sub(r"[0-9]+y", "", part)
            try:
                return sum(int(y) * 365 * 86400 for y in years) + (
                    parse_duration(rest) if rest else 0.0
                )
            except ValueError:
                return None
    return None


def check_retention(
    slos: Sequence[SLO], stated: str | None, server: str, lines: Mapping[str, int]
) -> list[Finding]:
    """A warning for each SLO whose period is longer than the server keeps samples.

    Prometheus keeps 15 days unless told otherwise: a 30d SLO then reports, gates and
    alerts on the last 15 days only, and nothing else says so. ``lines`` maps an SLO's
    ``place`` to its line in its file, so the warning sends the reader to ``file:line``.
    """
    kept = retention_seconds(stated) if stated else None
    if kept is None:
        return []
    findings = []
    for slo in slos:
        period = slo.window.period_seconds
        if period <= kept:
            continue
        line = lines.get(slo.place)
        where = f"{slo.source}:{line}: {slo.path}" if line else slo.place
        findings.append(
            Finding(
                "warning",
                f"{where}: {slo.key}: its window ({slo.window.describe()}, {_span(slo)}) is "
                f"longer than the {format_duration(kept)} Prometheus at {server} keeps "
                f"(storageRetention {stated}): budgets cover only the last "
                f"{format_duration(kept)}; set --storage.tsdb.retention.time to at least "
                f"{_span(slo)}",
            )
        )
    return findings
