"""``ops check``, ``ops routes test``, ``ops completion`` and top-level did-you-mean."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from tests.conftest import ROOT


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("slos", "runbooks", "alerts"):
        shutil.copytree(ROOT / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_worked_example_checks_clean_even_strict(runner: CliRunner, project: Path) -> None:
    """A fresh clone once warned: restart-after-outage claimed SearchApiDown, which nothing
    defined. It is now a hand-written rule in alerts/search-api.rules.yaml, which ops check
    reads with the other rule files there."""
    result = runner.invoke(main, ["check", "-o", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["errors"] == 0
    assert report["checked"] == {
        "config": 0,
        "routes": 3,
        "schedules": 3,
        "policies": 1,
        "slos": 4,
        "runbooks": 7,
    }
    assert report["problems"] == []
    strict = runner.invoke(main, ["check", "--strict"])
    assert (strict.exit_code, strict.output) == (
        0,
        "checked 0 config, 3 routes, 3 schedules, 1 policies, 4 slos, 7 runbooks: 0 error(s), "
        "0 warning(s)\n",
    )


def test_ops_check_strict_passes_on_the_repository_itself(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    result = runner.invoke(main, ["check", "--strict"])
    assert result.exit_code == 0, result.output
    assert result.output.endswith(": 0 error(s), 0 warning(s)\n"), result.output


def test_an_alert_no_rule_file_defines_is_a_warning(runner: CliRunner, project: Path) -> None:
    (project / "alerts" / "search-api.rules.yaml").unlink()
    result = runner.invoke(main, ["check", "--strict"])
    assert result.exit_code == 1
    assert result.stdout == (
        "warning: runbooks/restart-after-outage.md: claims alert 'SearchApiDown', which neither "
        "the generated rules nor the rule files in alerts/ or --rules define\n"
    )


def test_an_slo_with_a_recurring_correction_checks_clean(runner: CliRunner, project: Path) -> None:
    """Regression: the rules ops check generates for alert names had no horizon to expand a
    recurring correction over, and the check reported they could not be generated."""
    path = project / "slos" / "search.yaml"
    path.write_text(
        path.read_text().replace(
            "    corrections:\n",
            "    corrections:\n"
            "      - {cron: '0 3 * * SUN', duration: 2h, timezone: Europe/Berlin, reason: reindex}\n",
        )
    )
    result = runner.invoke(main, ["check", "-o", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["errors"] == 0


def test_rule_files_given_define_the_alerts_runbooks_claim(
    runner: CliRunner, project: Path
) -> None:
    (project / "alerts" / "search-api.rules.yaml").unlink()
    (project / "kube.rules.yaml").write_text(
        "groups:\n- name: kube\n  rules:\n  - alert: SearchApiDown\n    expr: up == 0\n"
    )
    result = runner.invoke(main, ["check", "--rules", "kube.rules.yaml", "--strict"])
    assert result.exit_code == 0, result.output
    assert (
        result.output
        == "checked 0 config, 3 routes, 3 schedules, 1 policies, 4 slos, 7 runbooks: 0 error(s), "
        "0 warning(s)\n"
    )


def test_every_problem_is_reported_in_one_pass(runner: CliRunner, project: Path) -> None:
    (project / "slos" / "broken.yaml").write_text("version: ops/v1\nservice: x\nslos: 3\n")
    (project / "alerts" / "routes.yaml").write_text("routes: [{channel: nope}]\n")
    (project / "runbooks" / "search-errors.md").unlink()
    result = runner.invoke(main, ["check"])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "error: alerts/routes.yaml: routes[0].channel: expected a channel like #search-oncall "
        "or an id like C0123ABCD, got 'nope'",
        "error: slos/broken.yaml: slos: expected a list, got '3'",
        "error: slos/search.yaml: slos[0]: runbook 'runbooks/search-errors.md' does not exist",
        "error: slos/search.yaml: slos[1]: runbook 'runbooks/search-errors.md' does not exist",
    ]
    assert result.stderr == (
        "checked 0 config, 3 schedules, 1 policies, 4 slos, 6 runbooks: 4 error(s), 0 warning(s)\n"
    )


def test_routes_test_prints_where_labels_go(runner: CliRunner, project: Path) -> None:
    page = runner.invoke(main, ["routes", "test", "service=search", "severity=page"])
    assert (page.exit_code, page.output) == (0, "#search-oncall (mention @here)\n")
    quality = runner.invoke(
        main, ["routes", "test", "service=search", "slo=answer-accuracy", "--json"]
    )
    assert json.loads(quality.stdout) == [{"channel": "#search-quality", "mention": None}]
    other = runner.invoke(main, ["routes", "test", "service=billing"])
    assert other.output == "#alerts\n"
    bad = runner.invoke(main, ["routes", "test", "service"])
    assert bad.exit_code == 2 and "expected LABEL=VALUE, got 'service'" in bad.output


def test_completion_scripts_for_each_shell(runner: CliRunner) -> None:
    for shell, marker in (
        ("bash", "_ops_completion"),
        ("zsh", "#compdef ops"),
        ("fish", "complete"),
    ):
        result = runner.invoke(main, ["completion", shell])
        assert (
            result.exit_code == 0 and marker in result.output and "_OPS_COMPLETE" in result.output
        )


def test_completion_lists_commands(runner: CliRunner) -> None:
    env = {
        **os.environ,
        "_OPS_COMPLETE": "bash_complete",
        "COMP_WORDS": "ops ro",
        "COMP_CWORD": "1",
    }
    result = runner.invoke(main, [], env=env, prog_name="ops")
    assert "plain,rollout" in result.output and "plain,routes" in result.output


def test_a_mistyped_command_gets_a_suggestion(runner: CliRunner) -> None:
    result = runner.invoke(main, ["runbok"])
    assert result.exit_code == 2
    assert "Error: No such command 'runbok' (did you mean 'runbook'" in result.output


def test_the_oncall_file_and_the_policies_routes_name_are_checked(
    runner: CliRunner, project: Path
) -> None:
    routes = project / "alerts" / "routes.yaml"
    routes.write_text(routes.read_text().replace("escalation: search", "escalation: serch"))
    (project / "alerts" / "oncall.yaml").write_text(
        (project / "alerts" / "oncall.yaml")
        .read_text()
        .replace("rotation: weekly", "rotation: yearly", 1)
    )
    result = runner.invoke(main, ["check"])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == (
        "error: alerts/oncall.yaml: schedules[0].layers[0].rotation: expected daily, weekly or "
        "'every N days', got 'yearly'"
    )
    (project / "alerts" / "oncall.yaml").write_text((ROOT / "alerts" / "oncall.yaml").read_text())
    result = runner.invoke(main, ["check"])
    assert result.stdout.splitlines()[0] == (
        "error: alerts/routes.yaml: routes[0].escalation: no escalation policy named 'serch' "
        "(did you mean 'search'?)"
    )


def test_lint_notes_are_not_problems(runner: CliRunner, project: Path) -> None:
    (project / "runbooks" / "read-me-first.md").write_text(
        "---\ntitle: Read me first\nowner: team-search\n---\n```bash\nkubectl get pods\n```\n"
    )
    result = runner.invoke(main, ["check", "-o", "json"])
    report = json.loads(result.stdout)
    assert report["checked"]["runbooks"] == 8
    assert [p["message"] for p in report["problems"] if "read-me-first" in p["message"]] == []


def test_a_runbook_nested_too_deeply_is_one_error_and_the_others_are_checked(
    runner: CliRunner, project: Path
) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    (project / "runbooks" / "deep.md").write_text(
        f'# D\n\n```sh {{"name":"a","x":{deep}}}\ntrue\n```\n'
    )
    result = runner.invoke(main, ["check", "-o", "json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["checked"]["runbooks"] == 7
    assert [p["message"] for p in report["problems"] if p["level"] == "error"] == [
        "runbooks/deep.md:3: step attributes are nested too deeply; values must be strings"
    ]


def test_ops_check_flags_every_credential_variable_the_runner_withholds(
    runner: CliRunner, project: Path
) -> None:
    """Was: 'ops check' knew only the on-call file's routing keys, while 'ops runbook run'
    (and 'ops serve') also withhold the metrics source's token variable: a runbook counting
    on PROM_TOKEN checked clean and then never got it."""
    (project / "ops.yaml").write_text(
        "prometheus: {url: 'http://127.0.0.1:9', bearer_token_env: PROM_TOKEN}\n"
    )
    (project / "alerts" / "oncall.yaml").write_text(
        (project / "alerts" / "oncall.yaml").read_text()
        + "webhooks:\n  pd:\n    url: http://127.0.0.1:9/\n    format: pagerduty\n"
        "    routing_key_env: PD_ROUTE\n"
    )
    runbook = project / "runbooks" / "token.md"
    runbook.write_text(
        "---\ntitle: Token\nowner: team-search\nenv: [PROM_TOKEN, PD_ROUTE]\n---\n# Token\n\n"
        '```sh {"name":"show"}\necho "$PROM_TOKEN"\n```\n'
    )
    checked = runner.invoke(main, ["check"])
    assert checked.exit_code == 1
    refusal = "is one of ops's own credentials; it never reaches a step"
    assert [line for line in checked.stdout.splitlines() if "token.md" in line] == [
        f"error: runbooks/token.md:4: env: PD_ROUTE {refusal}",
        f"error: runbooks/token.md:4: env: PROM_TOKEN {refusal}",
    ]
    # the runner refuses the same runbook for the same two variables
    ran = runner.invoke(main, ["runbook", "run", "runbooks/token.md", "--state-dir", "state"])
    assert (ran.exit_code, ran.output.splitlines()[1:]) == (
        1,
        [
            f"  runbooks/token.md:4: error: env: PROM_TOKEN {refusal}",
            f"  runbooks/token.md:4: error: env: PD_ROUTE {refusal}",
        ],
    )
