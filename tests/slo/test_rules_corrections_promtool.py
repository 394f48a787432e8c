"""The generated promtool tests of corrections, run by the real promtool.

promtool starts every test at 1970, so the corrected SLOs' rules are also written with one
correction on that timeline ([0, settle)); these tests prove those files pass, and that they
would fail if the rules did not multiply the counts out.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import yaml

from ops_toolkit.demo.servers import require_binary
from ops_toolkit.slo.correction_rules import Horizon
from ops_toolkit.slo.rules import generate
from ops_toolkit.slo.spec import parse_slo_file

CORRECTION = "    corrections: [{cron: '0 3 * * *', duration: 30m, timezone: America/New_York, reason: nightly reindex}]\n"

PERIODS = f"""\
version: ops/v1
service: periods
slos:
  - name: thirty
    objective: 99.9
    window: 30d
{CORRECTION}    sli:
      ratio:
        bad: http_requests_total{{job="api",code=~"5.."}}
        total: http_requests_total{{job="api"}}
  - name: four-weeks
    objective: 99.5
    window: 28d
    corrections: [{{start: 2026-11-03T14:00:00Z, end: 2026-11-03T15:30:00Z, reason: INC-231}}]
    sli:
      ratio:
        good: jobs_total{{outcome="ok"}}
        total: jobs_total
  - name: week
    objective: 99
    window: 7d
{CORRECTION}    sli:
      latency: {{histogram: rpc_seconds, selector: '{{job="rpc"}}', below: 1}}
  - name: three-days
    objective: 99
    window: 3d
{CORRECTION}    alerting: {{min_events: 100}}
    sli:
      ratio:
        bad: http_requests_total{{job="api",code=~"5.."}}
        total: http_requests_total{{job="api"}}
  - name: uncorrected
    objective: 99
    window: 7d
    sli:
      ratio:
        bad: http_requests_total{{job="api",code=~"5.."}}
        total: http_requests_total{{job="api"}}
"""

HORIZON = Horizon(datetime(2026, 11, 30, tzinfo=UTC))


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_binary("promtool"), *args], capture_output=True, text=True, check=False, cwd=cwd
    )


def _write(tmp_path: Path) -> None:
    file = parse_slo_file(PERIODS, str(tmp_path / "periods.yaml"))
    for name, text in generate([file], None, True, horizons={"periods": HORIZON}).items():
        (tmp_path / name).write_text(text)


def test_a_burn_inside_a_correction_fires_nothing_and_outside_still_pages(tmp_path: Path) -> None:
    """For 30d, 28d, 7d (latency) and 3d (min_events) SLOs; the deployed rules' own tests run
    outside their corrections and still page, ticket and stay quiet as before."""
    _write(tmp_path)
    check = promtool("check", "rules", "periods.rules.yaml", cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    for tests in ("periods.rules.test.yaml", "periods.corrections.rules.test.yaml"):
        result = promtool("test", "rules", tests, cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
    document = yaml.safe_load((tmp_path / "periods.corrections.rules.test.yaml").read_text())
    assert document["rule_files"] == ["periods.corrections.test-rules.yaml"]
    fired = {
        test["name"]: sorted(
            alert["exp_labels"]["tier"]
            for case in test["alert_rule_test"]
            for alert in case["exp_alerts"]
        )
        for test in document["tests"]
    }
    expected = {}
    for slo in ("thirty", "four-weeks", "week", "three-days"):
        expected |= {
            f"periods/{slo}: a fast burn inside a correction fires nothing": [],
            f"periods/{slo}: the same fast burn after the correction pages": [
                "page",
                "page",
                "ticket",
                "ticket",
            ],
            f"periods/{slo}: a burn inside a correction, healthy after it: nothing fires": [],
        }
    assert fired == expected  # the uncorrected SLO has no correction tests
    rules = yaml.safe_load((tmp_path / "periods.corrections.test-rules.yaml").read_text())
    assert {g["name"].rsplit("-", 1)[0] for g in rules["groups"]} == {
        "slo-periods-thirty",
        "slo-periods-four-weeks",
        "slo-periods-week",
        "slo-periods-three-days",
    }


def test_the_correction_tests_fail_when_the_counts_are_not_multiplied_out(
    tmp_path: Path,
) -> None:
    """The tests are not vacuous: with the multiplication neutralised, a burn inside the
    correction fires, and so does one whose long window spans it."""
    _write(tmp_path)
    path = tmp_path / "periods.corrections.test-rules.yaml"
    path.write_text(path.read_text().replace("* on() (1 - max(", "* on() (1 + 0 * max("))
    result = promtool("test", "rules", "periods.corrections.rules.test.yaml", cwd=tmp_path)
    assert result.returncode == 1
    failed = {
        line.strip().removeprefix("name: ").rstrip(",")
        for line in result.stdout.splitlines() + result.stderr.splitlines()
        if line.strip().startswith("name: ")
    }
    assert "periods/thirty: a fast burn inside a correction fires nothing" in failed
    assert "periods/thirty: a burn inside a correction, healthy after it: nothing fires" in failed
    assert not any("after the correction pages" in name for name in failed)
