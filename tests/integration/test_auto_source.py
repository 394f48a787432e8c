"""Every reader of budgets chooses its source alike: recorded series when they are present
and fresh, direct queries otherwise; ``--explain`` says which and why.

A real Prometheus holds a small generated history whose two sources disagree on purpose:
the recorded error ratios say half the budget is spent (0.0005 against a 0.001 budget),
while the raw counters hold no errors at all. So each budget read shows its source: 50%
left from the rules, 100% from direct queries.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.config import OpsConfig, parse_config
from ops_toolkit.demo.servers import PrometheusServer, require_binary
from ops_toolkit.metrics.prometheus import PrometheusSource
from ops_toolkit.notify.message import BudgetInfo
from ops_toolkit.reports.scheduled import PolicyRunner, ReportPublisher
from ops_toolkit.rollout.history import History
from ops_toolkit.serve.service import BudgetLookup, slo_index
from ops_toolkit.serve.store import Store
from ops_toolkit.slo.evaluate import recorded_names
from ops_toolkit.slo.spec import load_slos
from tests.integration.test_rollout import entered_pilot

END = 1794819600  # 2026-11-16T09:00:00Z: the history ends here; every read is pinned to it
RATIO = 0.0005  # what the rules recorded: half of a 99.9% objective's budget spent


def slo_file(name: str, objective_line: str = "    window: 30d\n", extra: str = "") -> str:
    return (
        f"  - name: {name}\n    objective: 99.9\n{objective_line}{extra}    sli:\n      ratio:\n"
        f'        bad: shop_requests_total{{route="{name}",code="500"}}\n'
        f'        total: shop_requests_total{{route="{name}"}}\n'
    )


CORRECTION = (
    "    corrections:\n"
    "      - {start: '2026-11-16T07:00:00Z', end: '2026-11-16T08:00:00Z', reason: INC-7}\n"
)
SLOS = "version: ops/v1\nservice: shop\nslos:\n" + "".join(
    (
        slo_file("checkout"),  # every recorded series fresh: rules
        slo_file("search"),  # its 6h ratio was never recorded: queries
        slo_file("browse"),  # recorded until 40 minutes before the report: queries
        slo_file("basket"),  # nothing recorded: queries
        slo_file("monthly", "    calendar: month\n"),  # a calendar period: queries
        slo_file("refunds", extra=CORRECTION),  # fresh, but the rules miss its correction
    )
)
RECORDED_UNTIL = {"checkout": END, "search": END, "browse": END - 2400, "refunds": END}
LEFT_OUT = {"search": "slo:error_ratio:6h"}


@dataclass(frozen=True)
class Shop:
    url: str
    slos: Path


def openmetrics(slos: Path) -> str:
    """An hour of raw counters without errors for every route, and the recorded ratios."""
    lines = ["# TYPE shop_requests counter"]
    for minute in range(61):
        moment = END - 3600 + 60 * minute
        for slo in load_slos([str(slos)]):
            lines.append(
                f'shop_requests_total{{route="{slo.name}",code="200"}} {1000 * minute} {moment}'
            )
    for slo in load_slos([str(slos)]):
        until = RECORDED_UNTIL.get(slo.name)
        if until is None:
            continue
        for name in recorded_names(slo):
            if name == LEFT_OUT.get(slo.name):
                continue
            lines.append(f"# TYPE {name.replace(':', '_')} gauge")
            for moment in range(until - 1800, until + 1, 60):
                lines.append(f'{name}{{service="shop",slo="{slo.name}"}} {RATIO} {moment}')
    return "\n".join(lines) + "\n# EOF\n"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    base = tmp_path_factory.mktemp("shop")
    slos = base / "shop.yaml"
    slos.write_text(SLOS)
    data = base / "data.om"
    data.write_text(openmetrics(slos))
    tsdb = base / "tsdb"
    subprocess.run(
        [require_binary("promtool"), "tsdb", "create-blocks-from", "openmetrics", "-q", data, tsdb],
        check=True,
        capture_output=True,
    )
    server = PrometheusServer(str(base / "work"), str(tsdb)).start()
    try:
        yield Shop(server.url, slos)
    finally:
        server.stop()


def explain(shop: Shop, *extra: str) -> list[str]:
    args = ["slo", "report", str(shop.slos), "--prometheus", shop.url, "--explain", *extra]
    result = CliRunner().invoke(main, [*args, "--at", str(END)])
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


REASONS = [
    "    shop/checkout: rules: recorded series present and fresh",
    "    shop/search: queries: recorded series missing: slo:error_ratio:6h",
    "    shop/browse: queries: recorded series stale by 40 minutes",
    "    shop/basket: queries: no recorded series: load the rules 'ops slo rules' writes "
    "into Prometheus",
    "    shop/monthly: queries: a calendar period: the rules record rolling windows",
]


def refunds_reason(shop: Shop) -> str:
    return (
        "a correction overlaps the period: the loaded rules do not know the correction at "
        f"{shop.slos}: slos[5].corrections[0] (2026-11-16T07:00:00Z to 2026-11-16T08:00:00Z: "
        "INC-7)"
    )


def test_explain_says_which_source_each_slo_reads_and_why(shop: Shop) -> None:
    lines = explain(shop)
    assert lines[1] == (
        "8 recorded-series queries (period, 5m, 30m, 1h, 2h, 6h, 1d, 3d) serve 1 rolling SLO(s)"
    )
    # The count queries are planned for the five SLOs read directly, not for checkout.
    assert not any('route="checkout"' in line for line in lines)
    at = lines.index("Sources at 2026-11-16T09:00:00Z (rules: recorded series; queries: direct):")
    assert lines[at + 1 :] == [*REASONS, f"    shop/refunds: queries: {refunds_reason(shop)}"]


def test_explain_as_json_gives_the_same_choices(shop: Shop) -> None:
    document = json.loads("\n".join(explain(shop, "-o", "json")))
    assert document["at"] == "2026-11-16T09:00:00Z"
    assert [(d["slo"], d["source"]) for d in document["sources"]] == [
        ("shop/checkout", "rules"),
        ("shop/search", "queries"),
        ("shop/browse", "queries"),
        ("shop/basket", "queries"),
        ("shop/monthly", "queries"),
        ("shop/refunds", "queries"),
    ]
    assert document["sources"][2]["reason"] == "recorded series stale by 40 minutes"
    assert document["sources"][5]["reason"] == refunds_reason(shop)
    assert document["recorded_queries"][:2] == ["slo:error_ratio:period", "slo:error_ratio:5m"]
    assert {s["slo"] for q in document["queries"] for s in q["serves"]} == {
        "shop/search",
        "shop/browse",
        "shop/basket",
        "shop/monthly",
        "shop/refunds",
    }


def test_explain_says_when_the_source_was_forced_or_could_not_be_asked(shop: Shop) -> None:
    forced = explain(shop, "--direct")
    assert forced[-1] == "    shop/refunds: queries: --direct: direct queries for every SLO"
    rules = explain(shop, "--use-rules")
    assert rules[-6:] == [
        "    shop/checkout: rules: --use-rules: recorded series for every rolling SLO",
        "    shop/search: rules: --use-rules: recorded series for every rolling SLO",
        "    shop/browse: rules: --use-rules: recorded series for every rolling SLO",
        "    shop/basket: rules: --use-rules: recorded series for every rolling SLO",
        "    shop/monthly: queries: a calendar period: the rules record rolling windows",
        f"    shop/refunds: queries: {refunds_reason(shop)}",
    ]
    result = CliRunner().invoke(main, ["slo", "report", str(shop.slos), "--explain"], env={})
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == (
        "    shop/refunds: queries: no Prometheus given to ask which recorded series exist "
        "(--prometheus)"
    )


def config(tmp_path: Path, shop: Shop, extra: str) -> OpsConfig:
    text = (
        f"serve: {{state: {tmp_path / 'state.db'}, messages: {tmp_path / 'messages.jsonl'}}}\n"
        f"slos: [{shop.slos}]\nprometheus: {shop.url}\n{extra}"
    )
    return parse_config(text, "ops.yaml")


def test_a_scheduled_report_reads_fresh_recorded_series_and_says_so(
    tmp_path: Path, shop: Shop
) -> None:
    schedule = (
        "reports:\n  - {name: daily, cron: '0 9 * * *', slos: ['shop/*'], channel: '#shop'}\n"
    )
    settings = config(tmp_path, shop, schedule)
    store = Store(str(tmp_path / "state.db"))
    publisher = ReportPublisher(settings, store, lambda: PrometheusSource(shop.url))
    (first, *_) = publisher.plan(settings.reports[0], END)
    lines = {
        line.split("*")[1]: line
        for block in first.message["blocks"]
        if block["type"] == "section"
        for line in block["text"]["text"].splitlines()
    }
    assert "`█████░░░░░` 50.0% left" in lines["shop/checkout"]
    assert lines["shop/checkout"].endswith(" · from rules")
    for name in ("search", "browse", "basket", "monthly"):
        assert "100.0% left" in lines[f"shop/{name}"]
        assert lines[f"shop/{name}"].endswith(" · from queries"), name
    assert lines["shop/refunds"].endswith(" · from queries (a correction)")


def test_the_policy_reads_the_same_source(tmp_path: Path, shop: Shop) -> None:
    policy = "policies:\n  - {slos: ['shop/*'], thresholds: [75%], channel: '#shop'}\n"
    settings = config(tmp_path, shop, policy)
    store = Store(str(tmp_path / "state.db"))
    runner = PolicyRunner(settings, store, lambda: PrometheusSource(shop.url))
    assert runner.run(END) == 1  # checkout's recorded 50% crosses 75%; the rest hold 100%
    (text,) = [row[0] for row in store.db.execute("SELECT message FROM outbox").fetchall()]
    assert "*shop/checkout*: error budget fell below 75% (50.0% left" in text


def test_an_alerts_budget_line_reads_fresh_recorded_series(shop: Shop) -> None:
    lookup = BudgetLookup(
        slo_index((str(shop.slos),)), PrometheusSource(shop.url), clock=lambda: float(END)
    )
    checkout = lookup({"service": "shop", "slo": "checkout"})
    assert isinstance(checkout, BudgetInfo)
    assert (checkout.source, checkout.remaining) == ("rules", pytest.approx(0.5))
    search = lookup({"service": "shop", "slo": "search"})
    assert isinstance(search, BudgetInfo)
    assert (search.source, search.remaining) == ("queries", 1.0)


def gate(shop: Shop, key: str, *extra: str) -> tuple[int, list[str]]:
    args = ["slo", "gate", key, str(shop.slos), "--prometheus", shop.url, "--at", str(END)]
    result = CliRunner().invoke(main, [*args, "--min-remaining", "75%", *extra])
    return result.exit_code, result.stdout.splitlines()


def test_the_gate_reads_fresh_recorded_series_and_says_so(shop: Shop) -> None:
    code, lines = gate(shop, "shop/checkout")
    assert (code, lines) == (
        3,
        [
            "shop/checkout: budget remaining 50.0% is below the gate (minimum 75.0%)",
            "shop/checkout: status ok",  # burn rate 0.5 in every window
            "shop/checkout: source: rules: recorded series present and fresh",
        ],
    )


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("shop/browse", "recorded series stale by 40 minutes"),
        ("shop/search", "recorded series missing: slo:error_ratio:6h"),
        (
            "shop/basket",
            "no recorded series: load the rules 'ops slo rules' writes into Prometheus",
        ),
    ],
    ids=["stale", "one missing", "none loaded"],
)
def test_the_gate_falls_back_to_direct_queries_and_says_why(
    shop: Shop, key: str, reason: str
) -> None:
    code, lines = gate(shop, key, "-o", "json")
    document = json.loads("\n".join(lines))
    assert (code, document["verdict"], document["budget_remaining"]) == (0, "go", 1.0)
    assert (document["source"], document["source_reason"]) == ("queries", reason)


def test_the_gate_takes_the_reports_source_override(shop: Shop) -> None:
    code, lines = gate(shop, "shop/checkout", "--direct")
    assert (code, lines[0], lines[-1]) == (
        0,
        "shop/checkout: budget remaining 100.0% holds (minimum 75.0%)",
        "shop/checkout: source: queries: --direct: direct queries for every SLO",
    )
    # Forced onto rules that never recorded it, the gate cannot tell (exit 1, as a rollout
    # check without data): not a "stop" (3), which says the budget is known to be spent.
    code, lines = gate(shop, "shop/basket", "--use-rules")
    assert (code, lines) == (
        1,
        [
            "shop/basket: no data in the 30d window; cannot tell",
            "shop/basket: source: rules: --use-rules: recorded series for every rolling SLO",
        ],
    )
    result = CliRunner().invoke(
        main, ["slo", "gate", "shop/checkout", str(shop.slos), "--direct", "--use-rules"]
    )
    assert result.exit_code == 2
    assert "Error: --direct and --use-rules contradict each other" in result.output


DAY = 86400
FRESH_REASON = "recorded series present and fresh"


def rollout_plan(tmp_path: Path, shop: Shop, soak: str) -> Path:
    """A plan whose next stage checks two budgets (fresh rules, stale rules) and the
    service's statuses; its first stage was entered a day before the history's end."""
    folder = tmp_path / "rollouts"
    folder.mkdir()
    (folder / "shop.yaml").write_text(
        "version: ops/v1\nkind: Rollout\nname: shop\nservice: shop\n"
        f"slos: [{shop.slos}]\nsoak_step: 10m\nstages:\n  - {{name: pilot}}\n"
        f"  - name: wide\n    soak: {soak}\n    checks:\n"
        "      - {name: checkout, slo: shop/checkout, budget_remaining: '>= 75%'}\n"
        "      - {name: browse, slo: shop/browse, budget_remaining: '>= 75%'}\n"
        "      - {name: calm, service: shop, not_status: [exhausted]}\n",
        encoding="utf-8",
    )
    entered_pilot(History(str(folder / "shop.history.jsonl")), END - DAY)
    return folder


def rollout_status(folder: Path, shop: Shop, *extra: str) -> tuple[int, str]:
    args = ["rollout", "status", "shop", "--dir", str(folder), "--prometheus", shop.url]
    result = CliRunner().invoke(main, [*args, "--at", str(END), *extra])
    return result.exit_code, result.stdout


def checks_by_name(output: str) -> dict[str, dict[str, object]]:
    return {c["name"]: c for c in json.loads(output)["checks"]}


def test_rollout_checks_read_fresh_recorded_series_and_fall_back_from_stale_ones(
    tmp_path: Path, shop: Shop
) -> None:
    # A 20-minute soak at 10-minute steps: the 30 minutes the rules recorded cover it.
    code, output = rollout_status(rollout_plan(tmp_path, shop, "20m"), shop, "-o", "json")
    checks = checks_by_name(output)
    assert code == 3
    assert (checks["checkout"]["passed"], checks["checkout"]["value"]) == (False, 0.5)
    assert checks["checkout"]["sources"] == [
        {"slo": "shop/checkout", "source": "rules", "reason": FRESH_REASON}
    ]
    assert (checks["browse"]["passed"], checks["browse"]["value"]) == (True, 1.0)
    assert checks["browse"]["sources"] == [
        {"slo": "shop/browse", "source": "queries", "reason": "recorded series stale by 40 minutes"}
    ]
    calm = checks["calm"]["sources"]
    assert isinstance(calm, list)
    assert [f"    {s['slo']}: {s['source']}: {s['reason']}" for s in calm] == [
        *REASONS,
        f"    shop/refunds: queries: {refunds_reason(shop)}",
    ]


def test_a_recorded_series_younger_than_the_soak_gives_way_to_direct_queries(
    tmp_path: Path, shop: Shop
) -> None:
    """The rules recorded the last 30 minutes only: a 2h soak's worst value is not in them."""
    code, output = rollout_status(rollout_plan(tmp_path, shop, "2h"), shop, "-o", "json")
    checkout = checks_by_name(output)["checkout"]
    assert (code, checkout["passed"], checkout["value"]) == (0, True, 1.0)
    assert checkout["sources"] == [
        {
            "slo": "shop/checkout",
            "source": "queries",
            "reason": "recorded series do not cover the 2h soak",
        }
    ]


def test_rollout_status_says_each_slos_source_and_takes_the_override(
    tmp_path: Path, shop: Shop
) -> None:
    folder = rollout_plan(tmp_path, shop, "20m")
    code, output = rollout_status(folder, shop)
    lines = output.splitlines()
    start = lines.index("Sources (rules: recorded series; queries: direct):")
    assert (code, lines[start + 1 : start + 3]) == (
        3,
        [
            f"  shop/checkout: rules: {FRESH_REASON}",
            "  shop/browse: queries: recorded series stale by 40 minutes",
        ],
    )
    code, output = rollout_status(folder, shop, "--direct", "-o", "json")
    checkout = checks_by_name(output)["checkout"]
    assert (code, checkout["value"], checkout["sources"]) == (
        0,
        1.0,
        [
            {
                "slo": "shop/checkout",
                "source": "queries",
                "reason": "--direct: direct queries for every SLO",
            }
        ],
    )


def test_the_rollout_reports_budgets_say_their_source(tmp_path: Path, shop: Shop) -> None:
    folder = rollout_plan(tmp_path, shop, "20m")
    args = ["rollout", "report", "shop", "--dir", str(folder), "--prometheus", shop.url]
    result = CliRunner().invoke(main, [*args, "--at", str(END), "-o", "markdown"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    start = lines.index("| SLO | budget left | status | source |")
    assert lines[start + 2 : start + 4] == [
        f"| shop/checkout | 50.0% | ok | rules: {FRESH_REASON} |",
        "| shop/search | 100.0% | ok | queries: recorded series missing: slo:error_ratio:6h |",
    ]
