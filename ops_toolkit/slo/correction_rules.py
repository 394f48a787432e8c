"""Corrections in the generated rules: the ``slo:correction:active`` series and its horizon.

PromQL knows only UTC (``hour()``, ``day_of_week()``), so a recurring correction read in a
time zone cannot be written as a rule that holds for ever: its windows are expanded into
explicit ``time()`` intervals over a horizon (90 days by default) starting when the rules
are generated, and the rule file says when that horizon ends, so ``ops slo rules --check``
can ask for a regeneration while a third of it is left. One-off corrections are written
whole, whatever the horizon.

A 5m event count recorded at ``t`` holds the events of ``(t-5m, t]``, so a correction
``[a, b)`` is active (its counts multiplied out) for ``a < t < b + 5m``: every count that
holds a corrected event is excluded. Excluding a few minutes of ordinary events at the
edges costs nothing; counting the last minutes of a maintenance window's errors would page.

The active series carries what the rules know: ``corrections`` (a fingerprint per
correction, from its definition, not its reason) and, with recurring corrections,
``horizon_end``. ``--use-rules`` compares them with the SLO files (``evaluate.py``). Pure.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ops_toolkit.durations import format_duration
from ops_toolkit.errors import ConfigError
from ops_toolkit.slo.corrections import Correction, intervals, merge
from ops_toolkit.slo.model import SLO, SLOFile

DEFAULT_HORIZON = 90 * 86400
COUNT_SPAN = 300  # the recorded counts are 5m increases
# A longer expression is no longer a rule anyone can read, and costs each evaluation.
MAX_TERMS = 1000
ACTIVE = "slo:correction:active"

Span = tuple[float, float]


@dataclass(frozen=True)
class Horizon:
    """Recurring corrections are expanded over ``[start, start + seconds)``."""

    start: datetime
    seconds: int = DEFAULT_HORIZON

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds)

    def left(self, now: float) -> float:
        """Seconds from ``now`` to the horizon's end (negative once it has passed)."""
        return self.end.timestamp() - now

    def running_out(self, now: float) -> bool:
        """Less than a third left: time to regenerate (a 90d horizon: 30 days ahead)."""
        return self.left(now) <= self.seconds / 3

    @classmethod
    def starting(cls, now: float, seconds: int = DEFAULT_HORIZON) -> Horizon:
        """A horizon from ``now``'s UTC midnight: regenerating twice a day gives one file."""
        moment = datetime.fromtimestamp(now, tz=UTC)
        return cls(moment.replace(hour=0, minute=0, second=0, microsecond=0), seconds)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def has_corrections(file: SLOFile) -> bool:
    return any(slo.corrections for slo in file.slos)


def needs_horizon(file: SLOFile) -> bool:
    return any(c.recurring for slo in file.slos for c in slo.corrections)


def fingerprint(correction: Correction) -> str:
    """8 hex digits naming a correction by when it applies (not by its reason, which may be
    reworded without changing what the rules exclude)."""
    if correction.recurring:
        key = f"cron|{correction.cron}|{correction.duration}|{correction.timezone}"
    else:
        assert correction.start is not None and correction.end is not None
        key = f"once|{iso(correction.start)}|{iso(correction.end)}"
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def fingerprints(corrections: Sequence[Correction]) -> tuple[str, ...]:
    return tuple(sorted({fingerprint(c) for c in corrections}))


def active_labels(slo: SLO, horizon: Horizon | None) -> dict[str, str]:
    """What the loaded rules know, for ``--use-rules`` to compare with the SLO files."""
    labels = {"corrections": " ".join(fingerprints(slo.corrections))}
    if horizon is not None and any(c.recurring for c in slo.corrections):
        labels["horizon_end"] = iso(horizon.end)
    return labels


def spans(slo: SLO, horizon: Horizon | None) -> list[Span]:
    """Unix-second spans ``(a, b)`` the SLO's corrections cover: one-off ones whole,
    recurring ones within the horizon; merged and sorted."""
    once = [(c.start, c.end) for c in slo.corrections if not c.recurring]
    recurring = [c for c in slo.corrections if c.recurring]
    found = [(a, b) for a, b in once if a is not None and b is not None]
    if recurring:
        if horizon is None:
            raise ConfigError(
                f"{slo.place}.corrections: recurring corrections need a horizon to be expanded "
                "over (ops slo rules --horizon)"
            )
        found += intervals(recurring, horizon.start, horizon.end)
    return [(a.timestamp(), b.timestamp()) for a, b in merge(found)]


def slo_active_expr(slo: SLO, horizon: Horizon | None, covered: Sequence[Span]) -> str:
    """``active_expr`` of the SLO's spans, refused (naming the SLO) when it would hold more
    than ``MAX_TERMS`` terms: irregular windows over a long horizon."""
    terms = active_terms(covered)
    if len(terms) > MAX_TERMS:
        span = format_duration(horizon.seconds) if horizon else "whole"
        raise ConfigError(
            f"{slo.place}.corrections: their windows take {len(terms)} terms in the {span} "
            f"horizon; a rule holds at most {MAX_TERMS}: give a shorter --horizon, or windows "
            "that repeat at a regular step (each run of them is one term)"
        )
    return _expr(terms)


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def active_expr(covered: Sequence[Span]) -> str:
    """1 while a 5m count holds a corrected event (``a < time() < b + 5m``), else 0.

    ``vector(time()) > a < b`` keeps the sample only between the two (comparison operators
    filter), so a window costs one term. Windows that repeat at a fixed step with a fixed
    length (a daily or weekly window between two changes of clocks) are one term too:
    ``((vector(time()) > first < last_end) - first) % step > 0 < length``. ``* 0 + 1``
    turns what is kept into 1 and ``or vector(0)`` fills the rest.
    """
    return _expr(active_terms(covered))


def active_terms(covered: Sequence[Span]) -> list[str]:
    """The terms of ``active_expr``: one per window, or per run of regular windows."""
    extended: list[Span] = []
    for a, b in sorted(covered):
        if extended and a <= extended[-1][1]:
            extended[-1] = (extended[-1][0], max(extended[-1][1], b + COUNT_SPAN))
        else:
            extended.append((a, b + COUNT_SPAN))
    return [_term(run) for run in _runs(extended)]


def _expr(terms: Sequence[str]) -> str:
    if not terms:
        return "vector(0)"
    return f"({' or '.join(terms)}) * 0 + 1 or vector(0)"


def _runs(extended: Sequence[Span]) -> list[list[Span]]:
    """Consecutive windows of one length at one step, three or more to a run; the others
    one to a run."""
    runs: list[list[Span]] = []
    index = 0
    while index < len(extended):
        run = [extended[index]]
        if index + 2 < len(extended):
            length = extended[index][1] - extended[index][0]
            step = extended[index + 1][0] - extended[index][0]
            following = index + 1
            while (
                following < len(extended)
                and extended[following][0] - extended[following - 1][0] == step
                and extended[following][1] - extended[following][0] == length
            ):
                run.append(extended[following])
                following += 1
        if len(run) < 3:
            run = run[:1]
        runs.append(run)
        index += len(run)
    return runs


def _term(run: Sequence[Span]) -> str:
    first, last = run[0], run[-1]
    within = f"vector(time()) > {_number(first[0])} < {_number(last[1])}"
    if len(run) == 1:
        return within
    step = _number(run[1][0] - first[0])
    length = _number(first[1] - first[0])
    return f"(({within}) - {_number(first[0])}) % {step} > 0 < {length}"


def corrected(expr: str, selector: str) -> str:
    """A 5m count multiplied out while a correction is active (``max``: two series of the
    active rule can overlap for a moment when new rules are loaded)."""
    return f"({expr}) * on() (1 - max({ACTIVE}{selector}))"


# -- the horizon in the rule file ------------------------------------------------------------

_HORIZON_LINE = re.compile(
    r"^# Recurring corrections are expanded from (\S+) until (\S+) \((\S+)\); ", re.MULTILINE
)


def horizon_comment(horizon: Horizon) -> str:
    """The rule file's line saying until when its recurring corrections hold."""
    due = horizon.end - timedelta(seconds=horizon.seconds / 3)
    return (
        f"# Recurring corrections are expanded from {iso(horizon.start)} until "
        f"{iso(horizon.end)} ({format_duration(horizon.seconds)}); regenerate before "
        f"{iso(due)} ('ops slo rules --check' fails from then).\n"
    )


def read_horizon(text: str) -> Horizon | None:
    """The horizon a generated rule file states, or None (no recurring corrections)."""
    found = _HORIZON_LINE.search(text)
    if not found:
        return None
    try:
        start = datetime.fromisoformat(found.group(1).replace("Z", "+00:00"))
        end = datetime.fromisoformat(found.group(2).replace("Z", "+00:00"))
    except ValueError:
        return None
    return Horizon(start, int((end - start).total_seconds()))


def horizon_problem(path: str, horizon: Horizon, now: float) -> str | None:
    """Why the rule file at ``path`` must be regenerated for its horizon, or None."""
    if not horizon.running_out(now):
        return None
    end = iso(horizon.end)
    if horizon.left(now) <= 0:
        return (
            f"{path}: its recurring corrections were expanded until {end}, which has passed: "
            "the rules no longer exclude them; run 'ops slo rules' and load the result"
        )
    days = horizon.left(now) / 86400
    return (
        f"{path}: its recurring corrections are expanded until {end}, {days:.1f} days from "
        f"now (under a third of its {format_duration(horizon.seconds)} horizon): run "
        "'ops slo rules' to extend them"
    )


def choose_horizon(existing: str | None, now: float, seconds: int) -> Horizon:
    """The horizon to write with: the one of the file on disk while more than a third of it
    is left (so regenerating does not rewrite the file every day), else one from today."""
    if existing is not None:
        current = read_horizon(existing)
        if current is not None and current.seconds == seconds and not current.running_out(now):
            return current
    return Horizon.starting(now, seconds)


def known_corrections(text: str) -> dict[tuple[str, str], set[str]] | None:
    """(service, slo) -> the fingerprints a generated rule file's active series carry; None
    when the text is not a rule file (then only its bytes can differ)."""
    import yaml

    from ops_toolkit.yamlpath import SafeLoader

    try:
        document = yaml.load(text, Loader=SafeLoader)
    except (yaml.YAMLError, UnicodeEncodeError):
        return None
    if isinstance(document, dict) and isinstance(document.get("spec"), dict):
        document = document["spec"]  # a PrometheusRule
    if not isinstance(document, dict) or not isinstance(document.get("groups"), list):
        return None
    known: dict[tuple[str, str], set[str]] = {}
    for group in document["groups"]:
        for rule in group.get("rules", []) if isinstance(group, dict) else []:
            if isinstance(rule, dict) and rule.get("record") == ACTIVE:
                labels = rule.get("labels") or {}
                key = (str(labels.get("service", "")), str(labels.get("slo", "")))
                known[key] = set(str(labels.get("corrections", "")).split())
    return known


def missing_corrections(path: str, text: str, file: SLOFile) -> list[str]:
    """A line per correction of ``file`` that the rule file at ``path`` does not apply."""
    known = known_corrections(text)
    if known is None:
        return []
    problems = []
    for slo in file.slos:
        have = known.get((slo.service, slo.name), set())
        for correction in slo.corrections:
            if fingerprint(correction) not in have:
                problems.append(
                    f"{path}: {slo.key}: the rules lack the correction at {correction.place} "
                    f"({correction.describe()}); run 'ops slo rules' and load the result"
                )
    return problems
