"""``ops runbook list|lint|show`` through click's CliRunner: exit codes and output."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from tests.conftest import ROOT

RUNBOOKS = str(ROOT / "runbooks")


def test_help_lists_the_groups(runner: CliRunner) -> None:
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    from ops_toolkit.cli import COMMANDS

    for name, entry in COMMANDS.items():
        assert re.search(rf"^  {name} +{re.escape(entry.help)}$", result.output, re.M), name


def test_list_json_names_every_worked_example(runner: CliRunner) -> None:
    result = runner.invoke(main, ["runbook", "list", RUNBOOKS, "--json"])
    assert result.exit_code == 0, result.output
    names = {r["name"] for r in json.loads(result.output)}
    assert {
        "search-errors",
        "answer-quality",
        "add-document-source",
        "restart-after-outage",
        "escalate-incident",
    } <= names


def test_list_table_shows_titles(runner: CliRunner) -> None:
    result = runner.invoke(main, ["runbook", "list", RUNBOOKS])
    assert result.exit_code == 0
    assert "search-errors" in result.output and "team-search" in result.output


def test_show_renders_steps_and_params(runner: CliRunner) -> None:
    result = runner.invoke(main, ["runbook", "show", "search-errors", "--dir", RUNBOOKS])
    assert result.exit_code == 0, result.output
    assert "error-ratio [promql]" in result.output
    assert "^[a-z0-9-]+$" in result.output
    assert "Mitigate" in result.output


def test_show_json(runner: CliRunner) -> None:
    result = runner.invoke(main, ["runbook", "show", f"{RUNBOOKS}/search-errors.md", "--json"])
    document = json.loads(result.output)
    assert document["steps"][0]["name"] == "error-ratio"
    assert document["steps"][0]["section"] == ["Diagnose"]


def test_an_unknown_name_lists_close_matches(runner: CliRunner) -> None:
    result = runner.invoke(main, ["runbook", "show", "search-eror", "--dir", RUNBOOKS])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: no runbook 'search-eror' (looked in {RUNBOOKS}/); did you mean: search-errors?"
    )


def test_lint_exit_codes(runner: CliRunner, tmp_path: Path) -> None:
    good = tmp_path / "good.md"
    good.write_text('---\ntitle: T\nowner: o\n---\n```sh {"name":"a"}\ntrue\n```\n')
    warn = tmp_path / "warn.md"
    warn.write_text('---\ntitle: T\nowner: o\n---\n```sh {"name":"a"}\necho $NOPE\n```\n')
    bad = tmp_path / "bad.md"
    bad.write_text('---\ntitle: T\nowner: o\n---\n```sh {"name":"a"\ntrue\n```\n')
    assert runner.invoke(main, ["runbook", "lint", str(good)]).exit_code == 0
    assert runner.invoke(main, ["runbook", "lint", str(warn)]).exit_code == 0
    assert runner.invoke(main, ["runbook", "lint", "--strict", str(warn)]).exit_code == 1
    result = runner.invoke(main, ["runbook", "lint", str(bad), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == [
        {
            "path": str(bad),
            "line": 5,
            "level": "error",
            "rule": "parse",
            "message": "step attributes are not valid JSON: Expecting ',' delimiter (column 12 "
            "of the attributes)",
        }
    ]


def test_lint_a_missing_path_is_an_error_not_a_traceback(runner: CliRunner) -> None:
    result = runner.invoke(main, ["runbook", "lint", "nope/"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: nope/: no such file or directory; give runbook files or directories\n"
    )


def test_usage_errors_exit_2(runner: CliRunner) -> None:
    assert runner.invoke(main, ["runbook", "show"]).exit_code == 2
    assert runner.invoke(main, ["nope"]).exit_code == 2


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("bad", "refusals"),
    [
        pytest.param(
            {"bad.md": '# Bad\n\n```sh {"name":"a"\ntrue\n```\n', "binary.md": b"# T\n\xff\n"},
            [
                "bad.md:3: step attributes are not valid JSON: Expecting ',' delimiter (column 12 "
                "of the attributes)",
                "binary.md:2: file is not valid UTF-8",
            ],
            id="invalid JSON attributes, invalid UTF-8",
        ),
        pytest.param(
            {
                "attrs.md": f'# A\n\n```sh {{"name":"a","x":{DEEP}}}\ntrue\n```\n',
                "toml.md": "+++\nx = " + "[" * 5000 + "]" * 5000 + "\n+++\n",
            },
            [
                "attrs.md:3: step attributes are nested too deeply; values must be strings",
                "toml.md:2: front matter is not valid TOML: nested too deeply",
            ],
            id="attributes and TOML nested too deeply",
        ),
    ],
)
def test_list_shows_the_good_runbooks_and_reports_the_bad_ones(
    runner: CliRunner, tmp_path: Path, bad: dict[str, str | bytes], refusals: list[str]
) -> None:
    (tmp_path / "good.md").write_text("# Good\n")
    for name, content in bad.items():
        if isinstance(content, bytes):
            (tmp_path / name).write_bytes(content)
        else:
            (tmp_path / name).write_text(content)
    result = runner.invoke(main, ["runbook", "list", str(tmp_path), "--json"])
    assert result.exit_code == 0
    assert [r["name"] for r in json.loads(result.stdout)] == ["good"]
    assert result.stderr == "".join(
        [
            *(f"not listed: {tmp_path}/{refusal}\n" for refusal in refusals),
            f"2 file(s) are not valid runbooks; see: ops runbook lint {tmp_path}\n",
        ]
    )
    strict = runner.invoke(main, ["runbook", "list", str(tmp_path), "--strict"])
    assert strict.exit_code == 1
    assert "good" in strict.stdout


def test_list_and_show_a_directory_of_prometheus_operator_runbooks(runner: CliRunner) -> None:
    operator = str(ROOT / "tests/runbook/fixtures/prometheus-operator/content/runbooks")
    result = runner.invoke(main, ["runbook", "list", operator, "--json", "--strict"])
    assert result.exit_code == 0, result.output
    assert [(r["name"], r["alerts"], r["steps"]) for r in json.loads(result.stdout)] == [
        ("AlertmanagerClusterDown", ["AlertmanagerClusterDown"], 0),
        ("AlertmanagerFailedReload", ["AlertmanagerFailedReload"], 1),
        ("PrometheusRuleFailures", ["PrometheusRuleFailures"], 1),
    ]
    shown = runner.invoke(
        main, ["runbook", "show", "AlertmanagerClusterDown", "--dir", f"{operator}/alertmanager"]
    )
    assert shown.exit_code == 0, shown.output
    assert "Alertmanager Cluster Down" in shown.stdout


def test_lint_reports_a_when_nested_too_deeply_on_one_line(
    runner: CliRunner, tmp_path: Path
) -> None:
    when = "(" * 3000 + "A" + ")" * 3000
    (tmp_path / "w.md").write_text(
        f'---\nowner: t\n---\n# W\n\n```sh {{"name":"a","when":"{when}"}}\ntrue\n```\n'
    )
    result = runner.invoke(main, ["runbook", "lint", str(tmp_path / "w.md")])
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        f"{tmp_path}/w.md:6: error: step 'a': when: bad expression '{'(' * 60}...': nested more "
        "than 50 deep at column 51; simplify the expression"
    )
