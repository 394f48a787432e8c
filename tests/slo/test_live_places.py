"""Live-check messages name the query as the file wrote it, at the file's own key: a unit
test of ``check_live`` over a source where nothing matches (the integration tests in
tests/integration/test_slo_validate_formats.py ask a real Prometheus)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ops_toolkit.metrics.model import Sample
from ops_toolkit.slo.live import check_live
from ops_toolkit.slo.spec import load_slos, parse_slo_file

AT = 1_790_000_000.0


class NothingMatches:
    """A metrics source in which no selector matches any series."""

    def query(self, promql: str, at: float | None = None) -> list[Sample]:
        return []

    def query_many(
        self, queries: Sequence[str], at: float | None = None
    ) -> list[list[Sample] | Exception]:
        return [[] for _ in queries]


PYRRA = """apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata: {name: checkout, namespace: shop}
spec:
  target: "99.5"
  window: 28d
  indicator:
    ratio:
      errors: {metric: 'requests_total{code=~"5.."}'}
      total: {metric: request_total}
"""


def test_pyrra_messages_name_the_indicators_metric_keys() -> None:
    slos = parse_slo_file(PYRRA, "f.yaml").slos
    messages = [(f.level, f.message) for f in check_live(slos, NothingMatches(), AT)]
    assert messages == [
        (
            "error",
            "f.yaml: spec.indicator.ratio.total.metric: request_total matched no series "
            "in the last 28d",
        ),
        (
            "warning",
            'f.yaml: spec.indicator.ratio.errors.metric: requests_total{code=~"5.."} '
            "matched no series in the last 28d: either no bad event happened or the selector is "
            "wrong (the rules count it as 0 bad events)",
        ),
    ]


SLI_FILE = """apiVersion: openslo/v1
kind: SLI
metadata: {name: checkout-success}
spec:
  ratioMetric:
    counter: true
    good: {metricSource: {type: Prometheus, spec: {query: 'sum(requests_total{code!~"5.."})'}}}
    total: {metricSource: {type: Prometheus, spec: {query: sum(requests_total)}}}
"""
SLO_FILE = """apiVersion: openslo/v1
kind: SLO
metadata: {name: checkout}
spec:
  service: shop
  budgetingMethod: Occurrences
  indicatorRef: checkout-success
  objectives: [{target: 0.995}]
"""


def test_an_indicator_ref_is_named_in_the_sli_objects_file(tmp_path: Path) -> None:
    (tmp_path / "slis.yaml").write_text(SLI_FILE)
    (tmp_path / "slo.yaml").write_text(SLO_FILE)
    slos = load_slos([str(tmp_path)])
    messages = [f.message for f in check_live(slos, NothingMatches(), AT)]
    where = f"{tmp_path}/slis.yaml: spec.ratioMetric"
    assert messages == [
        f"{where}.total.metricSource.spec.query: sum(requests_total) matched no series in the "
        "last 30d",
        f'{where}.good.metricSource.spec.query: sum(requests_total{{code!~"5.."}}) matched no '
        "series in the last 30d",
    ]
