"""Generated rules, proven by promtool and by a real Prometheus evaluating them.

The recording rules are evaluated over history by a Prometheus holding the worked example's
30 days: first the 5m event counts (every 5m over 30 days, by range queries, as promtool's
rules backfill does, into one block), then the ratios at the report's pinned time with
``promtool tsdb create-blocks-from rules`` from a second Prometheus that holds those counts. The budget remaining read from the recorded series must agree with the direct
report within 1% absolute.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.demo.servers import AlertmanagerServer, PrometheusServer, require_binary
from ops_toolkit.durations import parse_duration
from ops_toolkit.slo.model import LatencySLI
from ops_toolkit.slo.queries import count_queries
from ops_toolkit.slo.rules import generate
from ops_toolkit.slo.spec import load_slo_files
from tests.conftest import ROOT
from tests.integration.conftest import LoadedPrometheus


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_binary("promtool"), *args], capture_output=True, text=True, check=False
    )


def test_generated_rules_pass_promtool_check_and_their_tests(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "slo",
            "rules",
            str(ROOT / "slos"),
            "-o",
            str(tmp_path),
            "--tests",
            "--runbook-base-url",
            "https://git.example/ops",
        ],
    )
    assert result.exit_code == 0, result.output
    check = promtool("check", "rules", str(tmp_path / "search.rules.yaml"))
    assert check.returncode == 0, check.stdout + check.stderr
    # 4 SLOs x (2 counts, 8 ratios, 7 burn rates, budget, objective, budget ratio; 4 pairs,
    # NoData for the total and for the bad or good series or the bucket), and the
    # slo:correction:active series of ingestion-freshness, the one with a correction
    assert "SUCCESS: 105 rules found" in check.stdout
    tests = promtool("test", "rules", str(tmp_path / "search.rules.test.yaml"))
    assert tests.returncode == 0, tests.stdout + tests.stderr
    document = yaml.safe_load((tmp_path / "search.rules.test.yaml").read_text())
    # 4 SLOs x (fast, slow, healthy, no data), and a missing bucket or good series for three
    assert len(document["tests"]) == 19
    url = document["tests"][0]["alert_rule_test"][0]["exp_alerts"][0]["exp_annotations"][
        "runbook_url"
    ]
    assert url == "https://git.example/ops/runbooks/search-errors.md"


PERIODS_FILE = """\
version: ops/v1
service: periods
slos:
  - name: quarter
    objective: 99.9
    calendar: quarter
    sli:
      ratio:
        bad: http_requests_total{job="api",code=~"5.."}
        total: http_requests_total{job="api"}
  - name: thirty
    objective: 99.9
    window: 30d
    alerting: {min_events: 100}
    sli:
      ratio:
        bad: http_requests_total{job="api",code=~"5.."}
        total: http_requests_total{job="api"}
  - name: four-weeks
    objective: 99.5
    window: 28d
    sli:
      ratio:
        good: jobs_total{outcome="ok"}
        total: jobs_total
  - name: week
    objective: 99
    window: 7d
    sli:
      latency: {histogram: rpc_seconds, selector: '{job="rpc"}', below: 1}
  - name: three-days
    objective: 99
    window: 3d
    sli:
      ratio:
        bad: http_requests_total{job="api",code=~"5.."}
        total: http_requests_total{job="api"}
"""


def _tiers(document: dict[str, Any]) -> dict[str, list[str]]:
    """Test name -> tiers of the burn alerts it expects to fire, in order."""
    return {
        test["name"]: [
            alert["exp_labels"]["tier"]
            for case in test["alert_rule_test"]
            if case["alertname"].endswith("BudgetBurn")
            for alert in case["exp_alerts"]
        ]
        for test in document["tests"]
    }


def test_generated_tests_prove_fast_slow_and_healthy_for_every_period(tmp_path: Path) -> None:
    """90d, 30d, 28d, 7d and 3d SLOs: a fast burn pages (and tickets once the ticket pairs'
    `for:` has passed), a slow burn (2x) tickets only through the 1x pair, healthy is quiet."""
    (tmp_path / "periods.yaml").write_text(PERIODS_FILE)
    result = CliRunner().invoke(
        main, ["slo", "rules", str(tmp_path / "periods.yaml"), "-o", str(tmp_path), "--tests"]
    )
    assert result.exit_code == 0, result.output
    check = promtool("check", "rules", str(tmp_path / "periods.rules.yaml"))
    assert check.returncode == 0, check.stdout + check.stderr
    tests = promtool("test", "rules", str(tmp_path / "periods.rules.test.yaml"))
    assert tests.returncode == 0, tests.stdout + tests.stderr
    document = yaml.safe_load((tmp_path / "periods.rules.test.yaml").read_text())
    tiers = _tiers(document)
    for slo in ("quarter", "thirty", "four-weeks", "week", "three-days"):
        assert tiers[f"periods/{slo}: fast burn pages"] == ["page", "page", "ticket", "ticket"]
        assert tiers[f"periods/{slo}: slow burn opens a ticket"] == ["ticket"]
        assert tiers[f"periods/{slo}: healthy fires nothing"] == []
    # The 7d latency SLO's bound is whole: its bucket is also tested spelled as Prometheus 3
    # writes it, where a healthy service used to page.
    assert tiers['periods/week: fast burn pages, bucket le="1.0"'] == [
        "page",
        "page",
        "ticket",
        "ticket",
    ]
    assert tiers['periods/week: healthy fires nothing, bucket le="1.0"'] == []
    # min_events: the same burn on a trickle of events fires nothing.
    assert tiers["periods/thirty: every event bad, fewer than 100 events: nothing fires"] == []
    rules = (tmp_path / "periods.rules.yaml").read_text()
    assert 'slo:total_events:1h{service="periods",slo="thirty"} >= 100' in rules
    assert 'slo:burn_rate:6m{service="periods",slo="three-days"} > 14.4' in rules
    assert 'slo:burn_rate:9d{service="periods",slo="quarter"} > 1' in rules


def test_the_golden_rules_pass_promtool() -> None:
    golden = ROOT / "tests" / "slo" / "golden"
    assert promtool("check", "rules", str(golden / "checkout.rules.yaml")).returncode == 0
    tests = promtool("test", "rules", str(golden / "checkout.rules.test.yaml"))
    assert tests.returncode == 0, tests.stdout + tests.stderr


def test_a_broken_expectation_makes_promtool_fail(tmp_path: Path) -> None:
    """The generated tests are not vacuous: a wrong expected severity is caught."""
    CliRunner().invoke(main, ["slo", "rules", str(ROOT / "slos"), "-o", str(tmp_path), "--tests"])
    path = tmp_path / "search.rules.test.yaml"
    path.write_text(path.read_text().replace("severity: page", "severity: ticket", 1))
    assert promtool("test", "rules", str(path)).returncode == 1


def _events_only(rules_path: Path, target: Path) -> None:
    document = yaml.safe_load(rules_path.read_text())
    groups = [g for g in document["groups"] if g["name"].endswith("-events")]
    target.write_text(yaml.safe_dump({"groups": groups}))


def _ratios_only(rules_path: Path, target: Path) -> None:
    document = yaml.safe_load(rules_path.read_text())
    groups = [g for g in document["groups"] if g["name"].endswith("-ratios")]
    target.write_text(yaml.safe_dump({"groups": groups}))


def _copy_blocks(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        if entry.is_dir() and (entry / "meta.json").exists():
            shutil.copytree(entry, target / entry.name)


def _backfill(rules: Path, url: str, start: int, end: int, interval: str, out: Path) -> None:
    result = promtool(
        "tsdb",
        "create-blocks-from",
        "rules",
        "--quiet",
        f"--url={url}",
        f"--start={start}",
        f"--end={end}",
        f"--eval-interval={interval}",
        f"--output-dir={out}",
        str(rules),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _record(rules: Path, url: str, start: int, end: int, step: int, tsdb: Path) -> None:
    """Evaluate the recording rules of ``rules`` over [start, end] every ``step`` seconds and
    write what they record into ``tsdb``, as one block.

    What ``promtool tsdb create-blocks-from rules`` does (a range query per rule against the
    same Prometheus; the result stored under the rule's name, the rule's labels over the
    result's), without its 2-hour blocks: over 31 days promtool 2.42 made 372 queries and
    blocks per rule, 5,580 for these 15 rules (12 minutes under load), which Prometheus then
    opened one by one. One query per rule and one block check the same rules.
    """
    families: dict[str, list[str]] = {}
    for group in yaml.safe_load(rules.read_text())["groups"]:
        for rule in group["rules"]:
            form = {"query": rule["expr"], "start": start, "end": end, "step": step}
            request = urllib.request.Request(
                f"{url}/api/v1/query_range", data=urllib.parse.urlencode(form).encode()
            )
            with urllib.request.urlopen(request, timeout=120) as response:
                answer = json.load(response)
            assert answer["status"] == "success", answer
            for series in answer["data"]["result"]:
                labels = {**series["metric"], **rule.get("labels", {})}
                labels.pop("__name__", None)
                key = (
                    rule["record"]
                    + "{"
                    + ",".join(
                        f'{name}="{_escaped(value)}"' for name, value in sorted(labels.items())
                    )
                    + "}"
                )
                families.setdefault(rule["record"], []).extend(
                    f"{key} {value} {int(moment)}\n" for moment, value in series["values"]
                )
    openmetrics = rules.with_suffix(".om")
    with openmetrics.open("w") as handle:
        for lines in families.values():  # a family's samples together, as OpenMetrics wants
            handle.writelines(lines)
        handle.write("# EOF\n")
    result = promtool(
        "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=744h", "-q",
        str(openmetrics), str(tsdb),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def _escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


SHORT_PERIODS = """\
version: ops/v1
service: search-periods
slos:
  - name: availability-week
    objective: 99.9
    window: 7d
    sli:
      ratio:
        bad: http_requests_total{service="search-api",code=~"5.."}
        total: http_requests_total{service="search-api"}
  - name: availability-week-min-events
    objective: 99.9
    window: 7d
    alerting: {min_events: 1000000000}
    sli:
      ratio:
        bad: http_requests_total{service="search-api",code=~"5.."}
        total: http_requests_total{service="search-api"}
  - name: latency-three-days
    objective: 90
    window: 3d
    sli:
      latency: {histogram: http_request_duration_seconds, selector: '{service="search-api"}', below: 1}
"""


def agreement_slo_paths(base: Path) -> list[str]:
    """The worked example and SLOs over its metrics with 7d and 3d periods."""
    (base / "periods.yaml").write_text(SHORT_PERIODS)
    return [str(ROOT / "slos"), str(base / "periods.yaml")]


def agreement_rules(base: Path) -> tuple[list[str], Path]:
    """The agreement SLOs' files and their generated rules in one file (``all.rules.yaml``),
    split beside it into ``events.yaml`` (the 5m counts) and ``ratios.yaml`` (the rest)."""
    paths = agreement_slo_paths(base)
    generated = generate(load_slo_files(paths), None, False)
    groups = [
        group
        for name, text in sorted(generated.items())
        for group in yaml.safe_load(text)["groups"]
    ]
    rules = base / "all.rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": groups}))
    _events_only(rules, base / "events.yaml")
    _ratios_only(rules, base / "ratios.yaml")
    return paths, rules


@pytest.fixture(scope="module")
def recorded_prometheus(
    worked_prometheus: LoadedPrometheus, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, int, list[str]]]:
    base = tmp_path_factory.mktemp("rules")
    paths, rules = agreement_rules(base)
    end = worked_prometheus.end // 300 * 300
    tsdb = base / "tsdb"
    _copy_blocks(Path(worked_prometheus.server.tsdb_dir), tsdb)
    _record(base / "events.yaml", worked_prometheus.url, end - 31 * 86400, end, 300, tsdb)
    with_events = PrometheusServer(str(base / "p1"), str(tsdb), rule_files=[str(rules)]).start()
    try:
        _backfill(base / "ratios.yaml", with_events.url, end - 300, end, "1m", base / "ratios")
    finally:
        with_events.stop()
    _copy_blocks(base / "ratios", tsdb)
    server = PrometheusServer(str(base / "p2"), str(tsdb), rule_files=[str(rules)]).start()
    try:
        yield server.url, end, paths
    finally:
        server.stop()


SHORTEST_COMPARED = {
    "availability": 0,
    "availability-week": 0,
    "availability-week-min-events": 0,
    "ingestion-freshness": 6 * 3600,
    "answer-accuracy": 6 * 3600,
}


def test_recorded_budget_agrees_with_the_direct_report(
    recorded_prometheus: tuple[str, int, list[str]],
) -> None:
    """For the worked example's 30d SLOs and for 7d and 3d SLOs, whose windows scale."""
    url, end, paths = recorded_prometheus
    base = [
        "slo",
        "report",
        *paths,
        "--prometheus",
        url,
        "--at",
        str(end),
        "--format",
        "json",
    ]
    direct = json.loads(CliRunner().invoke(main, [*base, "--direct"]).stdout)
    result = CliRunner().invoke(main, [*base, "--use-rules"])
    assert result.exit_code == 0, result.output
    recorded = json.loads(result.stdout)
    by_name = {d["slo"]: d for d in direct}
    assert len(recorded) == 7
    periods = {"availability-week": 7, "availability-week-min-events": 7, "latency-three-days": 3}
    for document in recorded:
        expected = by_name[document["slo"]]
        # 1% of a 30d budget; a shorter period's budget is smaller, so the same few events
        # at the window's shifted edges (the incident is at the end) weigh 30d/period more.
        tolerance = 0.01 * 30 / periods.get(document["slo"], 30)
        assert document["budget_remaining"] == pytest.approx(
            expected["budget_remaining"], abs=tolerance
        ), document["slo"]
        # Burn rates agree more loosely than the budget: the backfilled 5m counts are
        # evaluated at promtool's own (unaligned) times, so a window's edges shift by up to 5
        # minutes, which moves a short window's ratio by up to ~20% next to the incident's
        # edge; increase() also extrapolates lumpy counts. The statuses derived from them must
        # still agree exactly (below). A window is compared when it holds enough bad events
        # for the shift not to matter. Availability: the incident of the last 50 minutes gives ~45 bad requests
        # every 5 minutes, so every window. Latency (0.4% slow, ~6 per 5 minutes): from 1h.
        # Ingestion runs every 15 minutes and about one rating in three minutes is
        # unhelpful: from 6h.
        assert set(document["burn_rates"]) == set(expected["burn_rates"])
        shortest = SHORTEST_COMPARED.get(document["slo"], 3600)
        for window, rate in expected["burn_rates"].items():
            if rate is not None and parse_duration(window) >= shortest:
                assert document["burn_rates"][window] == pytest.approx(rate, rel=0.2, abs=0.05), (
                    document["slo"],
                    window,
                )
    assert {d["slo"]: d["status"] for d in recorded} == {d["slo"]: d["status"] for d in direct}
    statuses = {d["slo"]: d["status"] for d in direct}
    # The incident of the last hour (3% errors, 30x) pages the 30d SLO through 1h/5m and the
    # 7d SLO through its own 14m/5m pair.
    assert statuses["availability"] == statuses["availability-week"] == "critical"
    # The same SLO with a minimum of events per alert window no page can reach: quiet.
    assert statuses["availability-week-min-events"] == "ok"
    assert set(by_name["availability-week"]["burn_rates"]) >= {"14m", "1h24m", "16h48m"}


def test_a_report_reads_fresh_recorded_series_without_a_flag(
    recorded_prometheus: tuple[str, int, list[str]],
) -> None:
    url, end, paths = recorded_prometheus
    base = ["slo", "report", *paths, "--prometheus", url, "--format", "json"]

    def report(*extra: str) -> tuple[list[dict[str, object]], str]:
        result = CliRunner().invoke(main, [*base, *extra])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout), result.stderr

    auto, said = report("--at", str(end))
    forced, _ = report("--at", str(end), "--use-rules")
    direct, _ = report("--at", str(end), "--direct")
    sources = {str(d["slo"]): d["source"] for d in auto}
    assert sources == {str(d["slo"]): d["source"] for d in forced}
    recorded = sorted(name for name, source in sources.items() if source == "rules")
    assert recorded == [  # the calendar SLO: direct (the rules record rolling windows)
        "answer-accuracy",
        "answer-latency",
        "availability",
        "availability-week",
        "availability-week-min-events",
        "latency-three-days",
    ]
    assert [d["budget_remaining"] for d in auto] == [d["budget_remaining"] for d in forced]
    assert {d["source"] for d in direct} == {"queries"}
    assert said == (
        f"source: recorded series for 6 of {len(auto)} SLO(s), direct queries for the rest "
        "(--direct to query raw counters for all)\n"
    )
    # An hour after the last recorded sample the series are stale: every SLO goes direct.
    later, said = report("--at", str(end + 3600))
    assert {d["source"] for d in later} == {"queries"} and said == ""


def test_use_rules_without_recorded_series_says_what_to_do(
    worked_prometheus: LoadedPrometheus,
) -> None:
    result = CliRunner().invoke(
        main,
        ["slo", "report", str(ROOT / "slos"), "--prometheus", worked_prometheus.url, "--use-rules"],
    )
    assert result.exit_code == 1
    assert result.output == (
        "Error: Prometheus has no slo:error_ratio series: load the rule files from 'ops slo "
        "rules' into it, or report without --use-rules\n"
    )


def test_the_repository_alerts_are_current(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(
        main,
        [
            "slo",
            "rules",
            str(ROOT / "slos"),
            "-o",
            str(ROOT / "alerts"),
            "--tests",
            "--inhibit",
            str(ROOT / "alerts" / "inhibit.yaml"),
            "--check",
        ],
    )
    assert result.exit_code == 0, result.output
    assert os.path.exists(ROOT / "alerts" / "search.rules.yaml")


@pytest.mark.parametrize("spelling", ["1", "1.0"])
def test_direct_queries_count_the_bucket_in_either_spelling(tmp_path: Path, spelling: str) -> None:
    """Prometheus 3 writes whole bucket bounds as 1.0: a report over such a histogram must
    count its good events (before, the bucket matched nothing and every event read as bad)."""
    sli = LatencySLI("rpc_seconds", '{job="rpc"}', 1.0)
    _, good_query, total_query = count_queries(sli, "10m")
    document = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": f'rpc_seconds_bucket{{job="rpc",le="{spelling}"}}',
                        "values": "0+90x20",
                    },
                    {"series": 'rpc_seconds_count{job="rpc"}', "values": "0+100x20"},
                ],
                "promql_expr_test": [
                    {"expr": good_query, "eval_time": "15m", "exp_samples": [{"value": 900}]},
                    {"expr": total_query, "eval_time": "15m", "exp_samples": [{"value": 1000}]},
                ],
            }
        ],
    }
    path = tmp_path / "spelling.test.yaml"
    path.write_text(yaml.safe_dump(document))
    result = promtool("test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


BAD_NEVER_SEEN = """\
version: ops/v1
service: quiet
slos:
  - name: api
    objective: 99
    window: 3d
    sli:
      ratio:
        bad: http_requests_total{job="api",code="500"}
        total: http_requests_total{job="api"}
"""


def test_a_bad_series_never_seen_in_a_whole_period_raises_no_data(tmp_path: Path) -> None:
    """A typo in the bad selector reads as zero errors; once the total has existed for a
    whole period without the bad series ever matching, a NoData ticket names the selector.
    A bad series seen once in the period keeps it quiet; so does a total younger than it."""
    (tmp_path / "quiet.yaml").write_text(BAD_NEVER_SEEN)
    result = CliRunner().invoke(
        main, ["slo", "rules", str(tmp_path / "quiet.yaml"), "-o", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    rule = next(
        r
        for g in yaml.safe_load((tmp_path / "quiet.rules.yaml").read_text())["groups"]
        for r in g["rules"]
        if r.get("labels", {}).get("missing") == "bad"
    )
    steps = 3 * 288 + 12  # 3 days and an hour at 5m
    total = {"series": 'http_requests_total{job="api",code="200"}', "values": f"0+500x{steps}"}
    once = {"series": 'http_requests_total{job="api",code="500"}', "values": f"0x2 1x{steps - 2}"}

    def case(name: str, series: list[dict[str, str]], at: str, fires: bool) -> dict[str, Any]:
        expected = [{"exp_labels": rule["labels"], "exp_annotations": rule["annotations"]}]
        return {
            "name": name,
            "interval": "5m",
            "input_series": series,
            "alert_rule_test": [
                {
                    "eval_time": at,
                    "alertname": "QuietApiNoData",
                    "exp_alerts": expected if fires else [],
                }
            ],
        }

    document = {
        "rule_files": ["quiet.rules.yaml"],
        "evaluation_interval": "5m",
        "tests": [
            case("never seen in a whole period", [total], "3d30m", True),
            case("seen once in the period", [total, once], "3d30m", False),
            case("total younger than a period", [total], "2d", False),
        ],
    }
    path = tmp_path / "quiet.test.yaml"
    path.write_text(yaml.safe_dump(document))
    tests = promtool("test", "rules", str(path))
    assert tests.returncode == 0, tests.stdout + tests.stderr


TIERS_FILE = """\
version: ops/v1
service: tiers
labels: {team: core}
slos:
  - name: custom
    objective: 99.9
    window: 28d
    alerting:
      page:
        name: TiersCustomPage
        labels: {severity: critical, routing_key: core-oncall}
        annotations: {dashboard: https://grafana.example/d/tiers}
      ticket:
        name: TiersCustomTicket
        labels: {severity: warning}
    sli:
      ratio:
        bad: http_requests_total{job="api",code=~"5.."}
        total: http_requests_total{job="api"}
  - name: pages-only
    objective: 99
    window: 7d
    alerting: {ticket: {disable: true}}
    sli:
      ratio:
        bad: http_requests_total{job="api",code=~"5.."}
        total: http_requests_total{job="api"}
"""


def _write_tiers(tmp_path: Path) -> Path:
    (tmp_path / "tiers.yaml").write_text(TIERS_FILE)
    result = CliRunner().invoke(
        main,
        [
            "slo",
            "rules",
            str(tmp_path / "tiers.yaml"),
            "-o",
            str(tmp_path),
            "--tests",
            "--inhibit",
            str(tmp_path / "inhibit.yaml"),
        ],
    )
    assert result.exit_code == 0, result.output
    return tmp_path / "inhibit.yaml"


def test_per_tier_names_labels_annotations_and_disable_pass_promtool(tmp_path: Path) -> None:
    _write_tiers(tmp_path)
    assert promtool("check", "rules", str(tmp_path / "tiers.rules.yaml")).returncode == 0
    tests = promtool("test", "rules", str(tmp_path / "tiers.rules.test.yaml"))
    assert tests.returncode == 0, tests.stdout + tests.stderr
    document = yaml.safe_load((tmp_path / "tiers.rules.test.yaml").read_text())
    fast = next(t for t in document["tests"] if t["name"] == "tiers/custom: fast burn pages")
    fired = {
        case["alertname"]: [
            (a["exp_labels"]["severity"], a["exp_labels"]["tier"]) for a in case["exp_alerts"]
        ]
        for case in fast["alert_rule_test"]
    }
    assert fired == {
        "TiersCustomPage": [("critical", "page"), ("critical", "page")],
        "TiersCustomTicket": [("warning", "ticket"), ("warning", "ticket")],
        "TiersCustomNoData": [],
    }
    only = next(t for t in document["tests"] if t["name"] == "tiers/pages-only: fast burn pages")
    assert [a["exp_labels"]["tier"] for a in only["alert_rule_test"][0]["exp_alerts"]] == [
        "page",
        "page",
    ]


def test_generated_inhibit_rules_pass_amtool_check_config(tmp_path: Path) -> None:
    inhibit = _write_tiers(tmp_path)
    rules = yaml.safe_load(inhibit.read_text())["inhibit_rules"]
    assert len(rules) == 1  # pages-only has no ticket to inhibit
    config = tmp_path / "alertmanager.yml"
    # amtool refuses a configuration without a route: the smallest one around the rules.
    config.write_text(
        "route: {receiver: none}\nreceivers: [{name: none}]\n"
        + yaml.safe_dump({"inhibit_rules": rules})
    )
    result = subprocess.run(
        [require_binary("amtool"), "check-config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " - 1 inhibit rules" in result.stdout


class InhibitingAlertmanager(AlertmanagerServer):
    """Alertmanager with a receiver that sends nothing and the generated inhibit rules."""

    def __init__(self, workdir: str, inhibit_rules: list[dict[str, Any]]) -> None:
        super().__init__(workdir, "http://127.0.0.1:9/unused", None)
        self.inhibit_rules = inhibit_rules

    def start(self, timeout: float = 30.0) -> InhibitingAlertmanager:
        os.makedirs(self.workdir, exist_ok=True)
        config = os.path.join(self.workdir, "alertmanager.yml")
        with open(config, "w", encoding="utf-8") as handle:
            handle.write(
                "route: {receiver: none, group_by: [alertname, service, slo], group_wait: 1s}\n"
                "receivers: [{name: none}]\n"
                + yaml.safe_dump({"inhibit_rules": self.inhibit_rules})
            )
        self.launch(
            "prometheus-alertmanager",
            [
                f"--config.file={config}",
                f"--storage.path={os.path.join(self.workdir, 'data')}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
            ],
            "alertmanager",
            timeout,
        )
        return self


def _alert_states(url: str) -> dict[tuple[str, str], str]:
    """(alertname, slo) -> state (active, suppressed) as Alertmanager's API reports it."""
    with urllib.request.urlopen(f"{url}/api/v2/alerts", timeout=10) as response:
        alerts = json.load(response)
    return {(a["labels"]["alertname"], a["labels"]["slo"]): a["status"]["state"] for a in alerts}


def test_a_real_alertmanager_holds_the_ticket_while_the_page_fires(tmp_path: Path) -> None:
    rules = yaml.safe_load(_write_tiers(tmp_path).read_text())["inhibit_rules"]
    server = InhibitingAlertmanager(str(tmp_path / "am"), rules).start()
    try:
        common = {"service": "tiers", "slo": "custom", "team": "core"}
        server.fire({"alertname": "TiersCustomPage", "tier": "page", **common}, {})
        server.fire({"alertname": "TiersCustomTicket", "tier": "ticket", **common}, {})
        other = {**common, "slo": "other"}
        server.fire({"alertname": "TiersCustomTicket", "tier": "ticket", **other}, {})
        states: dict[tuple[str, str], str] = {}
        for _ in range(100):  # the inhibitor marks alerts as they pass the pipeline
            states = _alert_states(server.url)
            if states.get(("TiersCustomTicket", "custom")) == "suppressed":
                break
            time.sleep(0.1)
        assert states == {
            ("TiersCustomPage", "custom"): "active",
            ("TiersCustomTicket", "custom"): "suppressed",
            ("TiersCustomTicket", "other"): "active",  # another SLO's ticket is not held
        }
    finally:
        server.stop()


def test_prometheusrule_objects_hold_the_same_groups_and_pass_promtool(tmp_path: Path) -> None:
    args = ["slo", "rules", str(ROOT / "slos"), "-o", str(tmp_path), "--format", "prometheusrule"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["search.prometheusrule.yaml"]
    text = (tmp_path / "search.prometheusrule.yaml").read_text()
    assert text.startswith("# Generated by ops from ")
    document = yaml.safe_load(text)
    assert (document["apiVersion"], document["kind"], document["metadata"]["name"]) == (
        "monitoring.coreos.com/v1",
        "PrometheusRule",
        "search-slo-rules",
    )
    plain = yaml.safe_load(
        generate(load_slo_files([str(ROOT / "slos")]), None, False)["search.rules.yaml"]
    )
    assert document["spec"] == plain
    (tmp_path / "groups.yaml").write_text(yaml.safe_dump(document["spec"]))
    check = promtool("check", "rules", str(tmp_path / "groups.yaml"))
    assert check.returncode == 0, check.stdout + check.stderr
    assert CliRunner().invoke(main, [*args, "--check"]).exit_code == 0
    refused = CliRunner().invoke(main, [*args, "--tests"])
    assert refused.exit_code == 2
    assert "Error: --tests needs --format plain: promtool tests read plain rule files" in (
        refused.output
    )
