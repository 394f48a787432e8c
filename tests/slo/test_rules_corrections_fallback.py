"""Which SLOs ``--use-rules`` answers from direct queries, from what the loaded rules know.

A plain fake stands in for Prometheus: it answers the two queries about
``slo:correction:active`` (when each series was first seen in the period, and whether it
was ever 1) with pinned samples; the real Prometheus is in tests/integration.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pytest

from ops_toolkit.errors import MetricsError
from ops_toolkit.metrics.model import Sample
from ops_toolkit.slo.correction_rules import fingerprint
from ops_toolkit.slo.evaluate import rules_fallbacks
from ops_toolkit.slo.model import SLO
from ops_toolkit.slo.spec import parse_slo_file


def _at(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


AT = _at("2026-11-20T12:00:00Z")

FILE = """\
version: ops/v1
service: shop
slos:
  - name: api
    objective: 99
    window: 7d
    corrections:
      - {start: 2026-11-18T10:00:00Z, end: 2026-11-18T11:00:00Z, reason: INC-7}
      - {start: 2026-10-01T10:00:00Z, end: 2026-10-01T11:00:00Z, reason: long ago}
    sli: {ratio: {bad: 'r{code="500"}', total: r}}
"""


def _slo(text: str = FILE) -> SLO:
    return parse_slo_file(text, "shop.yaml").slos[0]


class PinnedSource:
    """Answers ``query_many`` with the samples given, in the order the queries come."""

    def __init__(self, *answers: list[Sample] | Exception) -> None:
        self.answers = list(answers)
        self.queries: list[str] = []

    def query(self, promql: str, at: float | None = None) -> list[Sample]:
        raise AssertionError("rules_fallbacks sends its queries together")

    def query_many(
        self, queries: Sequence[str], at: float | None = None
    ) -> list[list[Sample] | Exception]:
        self.queries += queries
        return self.answers


def _series(marks: Sequence[str], **extra: str) -> dict[str, str]:
    return {"service": "shop", "slo": "api", "corrections": " ".join(marks), **extra}


def _known(slo: SLO, since: str, active: float = 1.0, **extra: str) -> PinnedSource:
    labels = _series([fingerprint(c) for c in slo.corrections], **extra)
    return PinnedSource([Sample(labels, _at(since))], [Sample(labels, active)])


def test_rules_that_knew_the_correction_before_it_began_are_trusted() -> None:
    slo = _slo()
    source = _known(slo, "2026-11-13T11:05:00Z")
    assert rules_fallbacks([slo], source, AT) == {}
    assert source.queries == [
        "min_over_time(timestamp(slo:correction:active)[7d1h:5m])",
        "max_over_time(slo:correction:active[7d1h])",
    ]


def test_a_correction_the_rules_do_not_know_sends_the_slo_to_direct_queries() -> None:
    slo = _slo()
    labels = _series([fingerprint(slo.corrections[1])])  # only the old one
    source = PinnedSource([Sample(labels, _at("2026-11-13T11:05:00Z"))], [Sample(labels, 0.0)])
    assert rules_fallbacks([slo], source, AT) == {
        "shop/api": "the loaded rules do not know the correction at shop.yaml: "
        "slos[0].corrections[0] (2026-11-18T10:00:00Z to 2026-11-18T11:00:00Z: INC-7)"
    }
    assert rules_fallbacks([slo], PinnedSource([], []), AT) == {
        "shop/api": "the loaded rules do not know the correction at shop.yaml: "
        "slos[0].corrections[0] (2026-11-18T10:00:00Z to 2026-11-18T11:00:00Z: INC-7)"
    }


@pytest.mark.parametrize(
    ("since", "falls_back"),
    [("2026-11-18T10:10:00Z", False), ("2026-11-18T10:10:01Z", True)],
    ids=["within 10m of its start", "later"],
)
def test_rules_loaded_after_the_correction_began_cannot_change_the_past(
    since: str, falls_back: bool
) -> None:
    slo = _slo()
    found = rules_fallbacks([slo], _known(slo, since), AT)
    expected = (
        "the rules that know the correction at shop.yaml: slos[0].corrections[0] "
        "(2026-11-18T10:00:00Z to 2026-11-18T11:00:00Z: INC-7) were loaded at "
        f"{since}, after it began (2026-11-18T10:00:00Z)"
    )
    assert found == ({"shop/api": expected} if falls_back else {})


def test_a_correction_outside_the_period_does_not_matter() -> None:
    """The October correction is unknown to these rules, and out of the 7d period."""
    slo = _slo()
    labels = _series([fingerprint(slo.corrections[0])])
    source = PinnedSource([Sample(labels, _at("2026-11-13T11:05:00Z"))], [Sample(labels, 1.0)])
    assert rules_fallbacks([slo], source, AT) == {}


RECURRING = FILE.replace(
    "      - {start: 2026-10-01T10:00:00Z, end: 2026-10-01T11:00:00Z, reason: long ago}\n",
    "      - {cron: '0 3 * * *', duration: 30m, reason: nightly}\n",
)


def test_recurring_windows_past_the_loaded_horizon_send_the_slo_to_direct_queries() -> None:
    slo = _slo(RECURRING)
    current = _known(slo, "2026-09-01T00:00:00Z", horizon_end="2026-12-01T00:00:00Z")
    assert rules_fallbacks([slo], current, AT) == {}
    ended = _known(slo, "2026-09-01T00:00:00Z", horizon_end="2026-11-19T00:00:00Z")
    assert rules_fallbacks([slo], ended, AT) == {
        "shop/api": "the loaded rules expand the correction at shop.yaml: "
        "slos[0].corrections[1] (every '0 3 * * *' (UTC) for 30m: nightly) only until "
        "2026-11-19T00:00:00Z (regenerate them: 'ops slo rules')"
    }


def test_rules_applying_a_correction_the_file_no_longer_has() -> None:
    """Only when that series was active in the period: then some events the file counts
    were left out of the recorded counts."""
    slo = _slo()
    labels = _series([*(fingerprint(c) for c in slo.corrections), "0badf00d"])
    seen = [Sample(labels, _at("2026-11-01T00:00:00Z"))]
    assert rules_fallbacks([slo], PinnedSource(seen, [Sample(labels, 1.0)]), AT) == {
        "shop/api": "the loaded rules applied a correction its SLO file no longer has"
    }
    assert rules_fallbacks([slo], PinnedSource(seen, [Sample(labels, 0.0)]), AT) == {}


def test_a_failed_query_names_it() -> None:
    with pytest.raises(MetricsError) as raised:
        rules_fallbacks([_slo()], PinnedSource(MetricsError("HTTP 503"), []), AT)
    assert str(raised.value) == (
        "query 'min_over_time(timestamp(slo:correction:active)[7d1h:5m])' failed: HTTP 503"
    )


def test_no_rolling_slos_no_queries() -> None:
    source = PinnedSource()
    assert rules_fallbacks([], source, AT) == {}
    assert source.queries == []


def test_the_fingerprint_ignores_the_reason() -> None:
    one, two = _slo(), _slo(FILE.replace("reason: INC-7", "reason: INC-7 (the bad deploy)"))
    assert fingerprint(one.corrections[0]) == fingerprint(two.corrections[0])
    assert fingerprint(one.corrections[0]) != fingerprint(one.corrections[1])
