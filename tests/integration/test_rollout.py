"""Staged rollouts against the real Prometheus loaded with the worked example's history.

Every expectation is derived from the generated data's truth (``Dataset.total``) at the
data's own end time, never from the wall clock.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from subprocess import Popen

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.metrics.prometheus import PrometheusSource
from ops_toolkit.rollout.advance import RolloutWorld, RunOutcome, advance, evaluate_status
from ops_toolkit.rollout.history import History
from ops_toolkit.rollout.plan import RunbookCall, parse_plan
from ops_toolkit.slo.spec import load_slos
from tests.conftest import ROOT
from tests.integration.conftest import LoadedPrometheus
from tests.runbook.test_process import alive
from tests.slack_api import SlackServer, slack_server

DAY = 86400
SUPPORT_LOAD = (
    'sum(increase(search_support_tickets_total{service="search-api"}[7d]))'
    ' / sum(avg_over_time(search_active_users{service="search-api"}[7d]))'
)


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    yield from slack_server(["search-rollout"])


def availability_remaining(prom: LoadedPrometheus, at: float) -> float:
    data = prom.dataset
    bad = data.total("http_requests_total", {"code": "500"}, at - 30 * DAY, at)
    total = data.total("http_requests_total", {}, at - 30 * DAY, at)
    return 1 - (bad / total) / 0.001


def accuracy(prom: LoadedPrometheus, since: float, until: float) -> float:
    data = prom.dataset
    good = data.total("search_answer_feedback_total", {"rating": "helpful"}, since, until)
    return good / data.total("search_answer_feedback_total", {}, since, until)


class NoRunbooks:
    """Status and blocked advances never run anything; a call here is a test failure."""

    def run(self, call: RunbookCall, run_id: str) -> RunOutcome:
        raise AssertionError(f"runbook {call.name} ran")

    def new_run_id(self, now: float) -> str:
        return "never"


def world(prom: LoadedPrometheus) -> RolloutWorld:
    return RolloutWorld(
        slos=load_slos([str(ROOT / "slos" / "search.yaml")]),
        source=lambda: PrometheusSource(prom.url),
        runner=NoRunbooks(),
    )


def plan_text(department: str, soak: str = "0s") -> str:
    return (
        "version: ops/v1\nkind: Rollout\nname: search\nservice: search\nstages:\n"
        "  - {name: pilot}\n"
        f"  - name: department\n    soak: {soak}\n    checks:\n{department}"
    )


def entered_pilot(history: History, at: float) -> None:
    history.append({"event": "advance_started", "stage": "pilot", "at": at, "run_id": "r1"})
    history.append(
        {
            "event": "advance_finished",
            "stage": "pilot",
            "at": at,
            "run_id": "r1",
            "status": "succeeded",
        }
    )


def test_checks_that_hold_make_the_stage_ready(
    tmp_path: Path, worked_prometheus: LoadedPrometheus
) -> None:
    at = worked_prometheus.end
    remaining = availability_remaining(worked_prometheus, at)
    assert 0.1 < remaining < 0.95, "the data should leave part of the budget"
    checks = (
        f"      - {{slo: search/availability, budget_remaining: '>= {remaining - 0.05:.4f}'}}\n"
        "      - {service: search, not_status: [exhausted]}\n"
        f"      - {{name: support-load, promql: '{SUPPORT_LOAD}', expect: '< 0.05'}}\n"
    )
    plan = parse_plan(plan_text(checks), str(tmp_path / "search.yaml"))
    history = History(plan.history_path)
    entered_pilot(history, at - 8 * DAY)
    status = evaluate_status(plan, history.read(), world(worked_prometheus), at)
    assert status.blocked == (), status.blocked
    assert status.ready and status.next_stage is not None
    budget, _, load = status.checks
    assert budget.value == pytest.approx(remaining, abs=0.01)
    tickets = worked_prometheus.dataset.total("search_support_tickets_total", {}, at - 7 * DAY, at)
    assert load.value == pytest.approx(tickets / 50, abs=0.01)


def test_a_budget_below_the_threshold_blocks(
    tmp_path: Path, worked_prometheus: LoadedPrometheus
) -> None:
    at = worked_prometheus.end
    remaining = availability_remaining(worked_prometheus, at)
    wanted = remaining + 0.05
    checks = (
        f"      - {{name: avail, slo: search/availability, budget_remaining: '>= {wanted:.4f}'}}\n"
    )
    plan = parse_plan(plan_text(checks), str(tmp_path / "search.yaml"))
    history = History(plan.history_path)
    entered_pilot(history, at - 8 * DAY)
    status = evaluate_status(plan, history.read(), world(worked_prometheus), at)
    assert not status.ready
    (reason,) = status.blocked
    assert reason.startswith("check 'avail': ") and reason.endswith(f"fails (>= {wanted:.4f})")
    result = advance(plan, history, world(worked_prometheus), at=at)
    assert not result.advanced and result.outcome is None
    assert len(history.read()) == 2, "a blocked advance records nothing and runs nothing"


def test_a_promql_check_over_its_threshold_blocks(
    tmp_path: Path, worked_prometheus: LoadedPrometheus
) -> None:
    at = worked_prometheus.end
    checks = f"      - {{name: support-load, promql: '{SUPPORT_LOAD}', expect: '< 0.001'}}\n"
    plan = parse_plan(plan_text(checks), str(tmp_path / "search.yaml"))
    status = evaluate_status(plan, [], world(worked_prometheus), at)
    # Before the first stage the next stage is the pilot, which has no checks.
    assert status.ready and status.next_stage is not None and status.next_stage.name == "pilot"
    history = History(plan.history_path)
    entered_pilot(history, at - 8 * DAY)
    status = evaluate_status(plan, history.read(), world(worked_prometheus), at)
    (reason,) = status.blocked
    assert reason.startswith("check 'support-load': 0.0") and reason.endswith("fails (< 0.001)")


def test_the_soak_blocks_until_the_previous_stage_has_held_long_enough(
    tmp_path: Path, worked_prometheus: LoadedPrometheus
) -> None:
    at = worked_prometheus.end
    checks = f"      - {{name: support-load, promql: '{SUPPORT_LOAD}', expect: '< 1'}}\n"
    plan = parse_plan(plan_text(checks, soak="7d"), str(tmp_path / "search.yaml"))
    history = History(plan.history_path)
    entered_pilot(history, at - DAY)
    status = evaluate_status(plan, history.read(), world(worked_prometheus), at)
    assert status.soak_left == 6 * DAY
    assert status.blocked == (
        f"soak: stage 'pilot' entered {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(at - DAY))}"
        " must hold for 7d; 6d left",
    )


def test_a_check_must_have_held_over_the_whole_soak_not_only_now(
    tmp_path: Path, worked_prometheus: LoadedPrometheus
) -> None:
    """Answer accuracy dipped days ago: a 1d SLI holds now, but its worst over 7d does not."""
    at = worked_prometheus.end
    now_1d = accuracy(worked_prometheus, at - DAY, at)
    worst_1d = min(
        accuracy(worked_prometheus, t - DAY, t) for t in range(at - 7 * DAY, at + 1, 3600)
    )
    assert worst_1d < 0.92 <= now_1d, "the worked example's accuracy incident is in the soak"
    checks = "      - {name: accuracy, slo: search/answer-accuracy, sli: '>= 92%', window: 1d}\n"
    instant = parse_plan(plan_text(checks), str(tmp_path / "a.yaml"))
    soaked = parse_plan(plan_text(checks, soak="7d"), str(tmp_path / "b.yaml"))
    for plan in (instant, soaked):
        entered_pilot(History(plan.history_path), at - 8 * DAY)
    now = evaluate_status(
        instant, History(instant.history_path).read(), world(worked_prometheus), at
    )
    (check,) = now.checks
    assert check.passed and check.value == pytest.approx(now_1d, abs=0.003)
    over = evaluate_status(
        soaked, History(soaked.history_path).read(), world(worked_prometheus), at
    )
    (check,) = over.checks
    assert not check.passed and check.value == pytest.approx(worst_1d, abs=0.01)
    assert check.detail.endswith("(worst over 7d) fails (>= 92%)")


def write_project(tmp_path: Path, prom: LoadedPrometheus, runbook: str, checks: str = "") -> Path:
    """A project directory: the worked example's SLOs, one runbook, a plan, an ops.yaml."""
    (tmp_path / "slos").mkdir()
    (tmp_path / "slos" / "search.yaml").write_text((ROOT / "slos" / "search.yaml").read_text())
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "open.md").write_text(runbook)
    (tmp_path / "rollouts").mkdir()
    (tmp_path / "rollouts" / "search.yaml").write_text(
        "version: ops/v1\nkind: Rollout\nservice: search\nchannel: '#search-rollout'\n"
        "stages:\n"
        "  - name: pilot\n    description: Fifty pilot users.\n"
        "    runbook: {name: open, params: {STAGE: pilot}}\n"
        "    rollback: {name: open, params: {STAGE: closed}}\n"
        f"    checks:\n{checks or '      []'}\n"
    )
    (tmp_path / "ops.yaml").write_text(
        f"prometheus: {prom.url}\nrunbook_base_url: https://git.example.com/ops/-/blob/main\n"
        f"serve: {{state: {tmp_path / 'ops-state.db'}, messages: {tmp_path / 'messages.jsonl'}}}\n"
    )
    return tmp_path


WRITE_ACCESS = """---
params:
  STAGE: {required: true, pattern: "^[a-z-]+$"}
---
# Open a stage

```sh {"name":"write-access"}
echo "stage=$STAGE" >> access.conf
```
"""


def test_an_advance_runs_the_runbook_records_the_evidence_and_posts_the_milestone(
    tmp_path: Path,
    worked_prometheus: LoadedPrometheus,
    slack: SlackServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checks = f"      - {{name: support-load, promql: '{SUPPORT_LOAD}', expect: '< 0.05'}}"
    project = write_project(tmp_path, worked_prometheus, WRITE_ACCESS, checks)
    monkeypatch.chdir(project)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_API_URL", slack.url)
    monkeypatch.setenv("OPS_STATE_DIR", str(project / "state"))
    at = str(worked_prometheus.end)
    args = ["rollout", "advance", "search", "--at", at, "--non-interactive", "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["advanced"] and document["run"]["status"] == "succeeded"
    assert (project / "access.conf").read_text() == "stage=pilot\n"
    events = [json.loads(line) for line in (project / "rollouts/search.history.jsonl").open()]
    assert [e["event"] for e in events] == ["advance_started", "advance_finished"]
    (evidence,) = events[0]["checks"]
    assert evidence["name"] == "support-load" and evidence["passed"] is True
    (post,) = slack.state.top_level("search-rollout")
    text = json.dumps(post["blocks"])
    assert "stage 1/1 'pilot' reached" in post["text"]
    assert "support-load" in text and document["run"]["run_id"] in text
    assert "https://git.example.com/ops/-/blob/main/runbooks/open.md" in text
    # Already at the last stage: nothing more to do, and nothing is posted twice.
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 1 and "is at its last stage 'pilot'" in again.output
    assert len(slack.state.top_level("search-rollout")) == 1
    # now, not --at the data's end: that is before the advance, when no stage was entered
    status = CliRunner().invoke(main, ["rollout", "status", "search", "-o", "json"])
    assert json.loads(status.stdout)["stage"] == "pilot"
    report = CliRunner().invoke(main, ["rollout", "report", "search", "--at", at, "-o", "markdown"])
    assert report.exit_code == 0, report.output
    assert "| 1 | pilot |" in report.stdout and "| support-load |" in report.stdout
    assert "## SLO budgets now" in report.stdout and "search/availability" in report.stdout
    table = CliRunner().invoke(main, ["rollout", "report", "search", "--at", at])
    assert table.exit_code == 0, table.output
    assert table.stdout.startswith("search (search): current stage pilot\n")
    assert "SLO budgets now:" in table.stdout and "search/availability" in table.stdout
    assert "Evidence for pilot:" in table.stdout
    page = CliRunner().invoke(main, ["rollout", "report", "search", "--at", at, "-o", "html"])
    assert page.exit_code == 0 and "<svg" in page.stdout and "Evidence for pilot" in page.stdout
    back = CliRunner().invoke(main, ["rollout", "rollback", "search", "--non-interactive"])
    assert back.exit_code == 0, back.output
    assert (project / "access.conf").read_text() == "stage=pilot\nstage=closed\n"
    status = CliRunner().invoke(main, ["rollout", "status", "search", "-o", "json"])
    assert json.loads(status.stdout)["stage"] is None
    posts = slack.state.top_level("search-rollout")
    assert [p["text"] for p in posts][1] == "search: stage 'pilot' rolled back to 'not started'"


SLOW_RUNBOOK = """---
params:
  STAGE: {required: true, pattern: "^[a-z-]+$"}
---
# Open a stage, slowly

```sh {"name":"write-access"}
echo "stage=$STAGE" >> access.conf
```

```sh {"name":"reload"}
if [ -e slept ]; then echo reloaded; exit 0; fi
sleep 60 & echo $! > sleeper.pid; touch slept; wait
```
"""


def sleeper_pid(project: Path) -> int | None:
    """The slow step's sleep, once the step wrote its pid (the file exists a moment empty)."""
    try:
        text = (project / "sleeper.pid").read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text else None


def test_an_advance_killed_mid_run_resumes_the_same_run_and_enters_the_stage_once(
    tmp_path: Path, worked_prometheus: LoadedPrometheus
) -> None:
    project = write_project(tmp_path, worked_prometheus, SLOW_RUNBOOK)
    env = {**os.environ, "OPS_STATE_DIR": str(project / "state")}
    env.pop("SLACK_BOT_TOKEN", None)
    command = [sys.executable, "-m", "ops_toolkit", "rollout", "advance", "search"]
    command += ["--non-interactive", "--at", str(worked_prometheus.end)]
    first = subprocess.Popen(
        command,
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not sleeper_pid(project) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sleeper_pid(project), "the slow step never started"
    finally:
        first.kill()
        first.wait()
        if pid := sleeper_pid(project):
            os.kill(pid, signal.SIGKILL)
    history = project / "rollouts" / "search.history.jsonl"
    (started,) = [json.loads(line) for line in history.open()]
    assert started["event"] == "advance_started"
    unknown = subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=60
    )
    assert unknown.returncode == 1  # ops cannot know whether 'reload' ran: a person decides
    assert f"run {started['run_id']}: step 'reload' may have run" in unknown.stderr
    second = subprocess.run(
        [*command, "--rerun-unknown"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 0, second.stderr
    events = [json.loads(line) for line in history.open()]
    assert [e["event"] for e in events] == ["advance_started", "advance_finished"]
    assert events[1]["run_id"] == started["run_id"] and events[1]["status"] == "succeeded"
    assert (project / "access.conf").read_text() == "stage=pilot\n", "a finished step ran twice"
    messages = [json.loads(line) for line in (project / "messages.jsonl").open()]
    assert len([m for m in messages if m["channel"] == "#search-rollout"]) == 1


def test_an_advance_told_to_stop_ends_its_run_aborted_and_recorded(
    tmp_path: Path,
    worked_prometheus: LoadedPrometheus,
    stopped_at_teardown: Callable[[Popen[str]], Popen[str]],
) -> None:
    project = write_project(tmp_path, worked_prometheus, SLOW_RUNBOOK)
    env = {**os.environ, "OPS_STATE_DIR": str(project / "state"), "OPS_KILL_GRACE": "1"}
    env.pop("SLACK_BOT_TOKEN", None)
    command = [sys.executable, "-m", "ops_toolkit", "rollout", "advance", "search"]
    command += ["--non-interactive", "--at", str(worked_prometheus.end)]
    first = stopped_at_teardown(
        subprocess.Popen(
            command,
            cwd=project,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    )
    deadline = time.monotonic() + 30
    while (sleeper := sleeper_pid(project)) is None:
        assert time.monotonic() < deadline, "the slow step never started"
        time.sleep(0.05)
    first.send_signal(signal.SIGTERM)
    _, stderr = first.communicate(timeout=60)
    assert first.returncode == 143  # 128 + SIGTERM, as shells report it (before: 1)
    events = [json.loads(line) for line in (project / "rollouts" / "search.history.jsonl").open()]
    assert [(e["event"], e.get("status")) for e in events] == [
        ("advance_started", None),
        ("advance_finished", "aborted"),
    ]
    run_id = events[0]["run_id"]
    assert f"run {run_id} aborted" in stderr
    saved = json.loads((project / "state" / "runs" / f"{run_id}.json").read_text())
    assert saved["status"] == "aborted"
    assert saved["steps"]["reload"]["message"] == "interrupted by SIGTERM"
    assert not alive(sleeper)


FRESH_5M = "      - {name: fresh, slo: search/ingestion-freshness, sli: '>= 90%', window: 5m}\n"
NO_SERIES = "no series yet (is the metric exported, its recording rule loaded?)"


def quiet_minute(prom: LoadedPrometheus) -> int:
    """The latest minute whose 5m window (and a minute either side) saw no pipeline run: the
    freshness SLO's 5m SLI is 0 of 0 there, by the generated data's truth."""
    data = prom.dataset
    for at in range(prom.end, data.start + DAY, -60):
        if data.total("ingest_pipeline_runs_total", {}, at - 7 * 60, at + 60) == 0:
            return at
    raise AssertionError("the worked example's pipeline runs every minute")


def test_a_check_without_data_cannot_tell_it_does_not_block_and_nothing_runs(
    tmp_path: Path, worked_prometheus: LoadedPrometheus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: a check with no data (no traffic in its window, or its series not there yet)
    was listed under 'Blocked by:' and the exit was 3 (blocked), where an outage exits 1."""
    project = write_project(tmp_path, worked_prometheus, WRITE_ACCESS, FRESH_5M)
    monkeypatch.chdir(project)
    monkeypatch.setenv("OPS_STATE_DIR", str(project / "state"))
    quiet = str(quiet_minute(worked_prometheus))
    no_traffic = "no data: no events in the 5m window (no traffic); cannot tell"
    result = CliRunner().invoke(main, ["rollout", "status", "search", "--at", quiet])
    assert result.exit_code == 1, result.output
    assert "Blocked by" not in result.stdout and "Ready" not in result.stdout
    assert result.stdout.endswith(f"Cannot tell yet (no data):\n  - check 'fresh': {no_traffic}\n")
    document = CliRunner().invoke(main, ["rollout", "status", "search", "--at", quiet, "--json"])
    assert document.exit_code == 1, document.output
    status = json.loads(document.stdout)
    assert (status["verdict"], status["ready"], status["blocked_by"]) == ("cannot tell", False, [])
    assert status["cannot_tell"] == [f"check 'fresh': {no_traffic}"]
    (check,) = status["checks"]
    assert (check["verdict"], check["passed"], check["error"]) == ("cannot tell", False, None)
    assert check["no_data"] == "no events in the 5m window (no traffic)"
    # before the data: the SLO's series do not exist yet
    before = str(worked_prometheus.dataset.start - DAY)
    early = CliRunner().invoke(main, ["rollout", "status", "search", "--at", before, "--json"])
    assert early.exit_code == 1, early.output
    (check,) = json.loads(early.stdout)["checks"]
    assert (check["verdict"], check["no_data"]) == ("cannot tell", NO_SERIES)
    # an advance refuses as it does when blocked, says which, and runs nothing
    advance_args = ["rollout", "advance", "search", "--at", quiet, "--non-interactive"]
    refused = CliRunner().invoke(main, advance_args)
    assert refused.exit_code == 1, refused.output
    assert refused.stderr == (
        "search: stage 'pilot' not entered: cannot tell whether its checks hold (the reasons "
        "above); nothing ran. Run 'ops rollout advance search' again once the checks' series "
        "have data (traffic in their windows).\n"
    )
    assert not (project / "access.conf").exists()
    assert not (project / "rollouts" / "search.history.jsonl").exists()


def test_a_failing_check_blocks_though_another_cannot_tell(
    tmp_path: Path, worked_prometheus: LoadedPrometheus, monkeypatch: pytest.MonkeyPatch
) -> None:
    quiet = quiet_minute(worked_prometheus)
    assert availability_remaining(worked_prometheus, quiet) < 1, "the data has errors"
    checks = "      - {name: budget, slo: search/availability, budget_remaining: '>= 100%'}\n"
    project = write_project(tmp_path, worked_prometheus, WRITE_ACCESS, checks + FRESH_5M)
    monkeypatch.chdir(project)
    monkeypatch.setenv("OPS_STATE_DIR", str(project / "state"))
    args = ["rollout", "status", "search", "--at", str(quiet), "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 3, result.output
    status = json.loads(result.stdout)
    assert status["verdict"] == "blocked"
    assert [c["verdict"] for c in status["checks"]] == ["fails", "cannot tell"]
    (blocked,) = status["blocked_by"]
    assert blocked.startswith("check 'budget': ") and blocked.endswith("fails (>= 100%)")
    advance_args = ["rollout", "advance", "search", "--at", str(quiet), "--non-interactive"]
    refused = CliRunner().invoke(main, advance_args)
    assert refused.exit_code == 3, refused.output
    assert "Blocked by:\n  - check 'budget': " in refused.stdout
    assert "Cannot tell yet (no data):\n  - check 'fresh': no data: " in refused.stdout
    assert refused.stderr == (
        "search: stage 'pilot' not entered: blocked (the reasons above); nothing ran. "
        "Run 'ops rollout advance search' again once they are resolved.\n"
    )
    assert not (project / "access.conf").exists()
