"""The demo's alert links its graph on the demo's own Prometheus, as Prometheus sets an
alert's generatorURL (it was a made-up ``127.0.0.1:9090``, where nothing listened)."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

from ops_toolkit.demo.servers import graph_link
from tests.integration.conftest import LoadedPrometheus


def test_the_graph_link_is_a_query_the_demos_prometheus_answers(
    worked_prometheus: LoadedPrometheus,
) -> None:
    link = graph_link(worked_prometheus.url + "/", "SearchAvailabilityBudgetBurn")
    parts = urllib.parse.urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == worked_prometheus.url
    assert parts.path == "/graph"
    query = dict(urllib.parse.parse_qsl(parts.query))
    assert query == {"g0.expr": 'ALERTS{alertname="SearchAvailabilityBudgetBurn"}', "g0.tab": "1"}
    asked = f"{worked_prometheus.url}/api/v1/query?" + urllib.parse.urlencode(
        {"query": query["g0.expr"]}
    )
    with urllib.request.urlopen(asked, timeout=10) as answer:
        assert json.load(answer)["status"] == "success"
