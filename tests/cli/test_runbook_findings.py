"""What a newcomer following the README tripped over in ``ops runbook``: each fixed, each
pinned here by its exact message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.runbook.state import StateStore
from tests.cli.test_run_cli import FENCE, write_runbook


def _one_run(tmp_path: Path, runner: CliRunner, state: str) -> str:
    path = write_runbook(tmp_path, f'{FENCE}sh {{"name":"hello"}}\necho hi\n{FENCE}\n')
    result = runner.invoke(main, ["runbook", "run", str(path), "--json", "--state-dir", state])
    assert result.exit_code == 0, result.output
    run_id: str = json.loads(result.stdout)["run_id"]
    return run_id


def test_audit_of_a_run_that_does_not_exist_is_the_error_runs_and_resume_give(
    tmp_path: Path, runner: CliRunner
) -> None:
    state = str(tmp_path / "state")
    run_id = _one_run(tmp_path, runner, state)
    expected = (
        f"Error: no run 'nosuch' in {state}/runs; recent runs: {run_id} (see 'ops runbook runs')\n"
    )
    for command in ("audit", "runs", "resume"):
        result = runner.invoke(main, ["runbook", command, "nosuch", "--state-dir", state])
        assert (result.exit_code, result.output) == (1, expected), command


def test_audit_names_the_file_it_read_when_it_finds_nothing(
    tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    result = runner.invoke(main, ["runbook", "audit", "--state-dir", str(state)])
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == f"no audit records in {state}/audit.jsonl (from --state-dir)\n"
    monkeypatch.setenv("OPS_STATE_DIR", str(state))
    assert runner.invoke(main, ["runbook", "audit"]).stderr == (
        f"no audit records in {state}/audit.jsonl (from OPS_STATE_DIR)\n"
    )
    run_id = _one_run(tmp_path, runner, str(state))
    (state / "audit.jsonl").unlink()  # the run's record is there, its audit lines are not
    result = runner.invoke(main, ["runbook", "audit", run_id])
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == (
        f"no audit records of run {run_id} in {state}/audit.jsonl (from OPS_STATE_DIR)\n"
    )


def test_audit_of_a_run_prints_its_lines_and_nothing_on_stderr(
    tmp_path: Path, runner: CliRunner
) -> None:
    state = str(tmp_path / "state")
    run_id = _one_run(tmp_path, runner, state)
    result = runner.invoke(main, ["runbook", "audit", run_id, "--json", "--state-dir", state])
    assert result.exit_code == 0
    assert result.stderr == ""
    events = json.loads(result.stdout)
    assert [e["event"] for e in events] == ["run_started", "step_finished", "run_finished"]


CHOICES = "params:\n  MODE: {choices: [fast, slow]}\n"


def test_a_param_with_choices_and_no_default_unattended_fails_before_any_step_saying_how(
    tmp_path: Path, runner: CliRunner
) -> None:
    """Before: the run failed on the empty value: "value '' is not one of fast, slow"."""
    path = write_runbook(tmp_path, f'{FENCE}sh {{"name":"go"}}\necho "$MODE"\n{FENCE}\n', CHOICES)
    state = tmp_path / "state"
    result = runner.invoke(
        main,
        ["runbook", "run", str(path), "--yes", "--state-dir", str(state)],
        catch_exceptions=False,
    )
    assert (result.exit_code, result.output) == (
        1,
        f"Error: {path}: missing required param(s): MODE; pass -p MODE=fast|slow\n",
    )
    assert not (state / "runs").exists()
    passed = runner.invoke(
        main,
        ["runbook", "run", str(path), "-p", "MODE=slow", "--json", "--state-dir", str(state)],
        catch_exceptions=False,
    )
    assert json.loads(passed.stdout)["status"] == "succeeded"


def test_a_param_with_choices_and_no_default_is_asked_for_at_a_terminal_with_its_choices(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    from rich.console import Console

    from ops_toolkit.cli.terminal import TerminalUI
    from ops_toolkit.runbook.execute import resolve_params
    from ops_toolkit.runbook.parse import parse_runbook

    runbook = parse_runbook(
        f'---\ntitle: t\n{CHOICES}---\n{FENCE}sh {{"name":"a"}}\ntrue\n{FENCE}\n', "x.md"
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("medium\nfast\n"))
    shown = io.StringIO()
    ui = TerminalUI(Console(file=shown, width=200), io.StringIO(), interactive=True)
    assert resolve_params(runbook, {}, {}, ui) == {"MODE": "fast"}
    assert capsys.readouterr().err == "MODE [fast|slow]: MODE [fast|slow]: "
    assert (
        shown.getvalue()
        == "x.md:4: param MODE: value 'medium' is not one of fast, slow; try again\n"
    )


def test_lint_notes_a_param_that_choices_make_required_strict_or_not(
    tmp_path: Path, runner: CliRunner
) -> None:
    path = write_runbook(tmp_path, f'{FENCE}sh {{"name":"go"}}\necho "$MODE"\n{FENCE}\n', CHOICES)
    for strict in ([], ["--strict"]):
        result = runner.invoke(main, ["runbook", "lint", str(path), *strict])
        assert (result.exit_code, result.stdout) == (
            0,
            f"{path}:5: note: param MODE: choices and no default make it required: a run asks "
            "for it at a terminal, else wants -p MODE=fast|slow; say 'required: true' or give "
            "a default\n",
        )
    for said in (
        "{choices: [fast, slow], required: true}",
        "{choices: [fast, slow], default: fast}",
    ):
        path.write_text(path.read_text().replace("{choices: [fast, slow]}", said))
        assert runner.invoke(main, ["runbook", "lint", str(path), "--strict"]).stdout == ""
        path.write_text(path.read_text().replace(said, "{choices: [fast, slow]}"))


def test_show_marks_a_param_that_choices_make_required(tmp_path: Path, runner: CliRunner) -> None:
    path = write_runbook(tmp_path, f'{FENCE}sh {{"name":"go"}}\ntrue\n{FENCE}\n', CHOICES)
    result = runner.invoke(main, ["runbook", "show", str(path), "--json"])
    assert [(p["name"], p["required"]) for p in json.loads(result.stdout)["params"]] == [
        ("MODE", True)
    ]


NO_URL = (
    "Error: no Prometheus URL: pass --prometheus URL, set OPS_PROMETHEUS_URL, or put "
    "prometheus: in ops.yaml\n"
)
CHECK_THEN_QUERY = (
    f'{FENCE}sh {{"name":"check","tag":"fix"}}\ntest -f "$FLAG"\n{FENCE}\n\n'
    f'{FENCE}promql {{"name":"errors","tag":"diagnose"}}\nup\n{FENCE}\n'
)


URL = "http://127.0.0.1:9"


@pytest.fixture
def no_prometheus(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No URL from the environment, nor from an ops.yaml in the working directory."""
    monkeypatch.delenv("OPS_PROMETHEUS_URL", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("no_prometheus")
def test_a_run_with_a_promql_step_and_no_prometheus_url_fails_before_any_step(
    tmp_path: Path, runner: CliRunner
) -> None:
    """Before: the sh step ran, and the run was recorded as failed at the promql step."""
    path = write_runbook(tmp_path, CHECK_THEN_QUERY, "params:\n  FLAG: {default: flag}\n")
    (tmp_path / "flag").touch()
    state = tmp_path / "state"
    result = runner.invoke(main, ["runbook", "run", str(path), "--yes", "--state-dir", str(state)])
    assert (result.exit_code, result.output) == (1, NO_URL)
    assert not state.exists()  # nothing recorded: no run, no audit line
    selected = runner.invoke(
        main, ["runbook", "run", str(path), "--tag", "fix", "--json", "--state-dir", str(state)]
    )
    assert json.loads(selected.stdout)["status"] == "succeeded"  # no promql step selected
    dry = runner.invoke(main, ["runbook", "run", str(path), "--dry-run", "--json"])
    assert dry.exit_code == 0  # a plan runs nothing, so it needs no URL


@pytest.mark.usefixtures("no_prometheus")
def test_a_resume_with_a_promql_step_left_and_no_prometheus_url_fails_before_any_step(
    tmp_path: Path, runner: CliRunner
) -> None:
    path = write_runbook(tmp_path, CHECK_THEN_QUERY, "params:\n  FLAG: {default: flag}\n")
    state = tmp_path / "state"
    first = runner.invoke(
        main,
        # the URL is never reached: the run stops at 'check'
        ["runbook", "run", str(path), "--json", "--state-dir", str(state), "--prometheus", URL],
    )
    run_id = json.loads(first.stdout)["run_id"]
    assert json.loads(first.stdout)["status"] == "failed"
    audit = (state / "audit.jsonl").read_text()
    (tmp_path / "flag").touch()
    result = runner.invoke(main, ["runbook", "resume", run_id, "--state-dir", str(state)])
    assert (result.exit_code, result.output) == (1, NO_URL)
    assert (state / "audit.jsonl").read_text() == audit
    record = StateStore(str(state)).load(run_id)
    assert (record.resumed, record.steps["errors"].status) == (0, "pending")


ROOT = Path(__file__).resolve().parents[2]


def _claiming(folder: Path, name: str, alerts: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.md"
    path.write_text(
        f"---\ntitle: {name}\nowner: team\nalerts: [{alerts}]\n---\n"
        f'{FENCE}sh {{"name":"hello"}}\necho {name}\n{FENCE}\n'
    )
    return path


def test_show_takes_the_name_of_an_alert_its_runbook_claims(runner: CliRunner) -> None:
    """Before: "no runbook 'SearchApiDown'", though restart-after-outage declares it."""
    runbooks = str(ROOT / "runbooks")
    by_alert = runner.invoke(
        main, ["runbook", "show", "SearchApiDown", "--json", "--dir", runbooks]
    )
    by_name = runner.invoke(
        main, ["runbook", "show", "restart-after-outage", "--json", "--dir", runbooks]
    )
    assert by_alert.exit_code == 0, by_alert.output
    assert json.loads(by_alert.stdout) == json.loads(by_name.stdout)


def test_run_takes_an_alert_name_and_several_claims_are_listed(
    tmp_path: Path, runner: CliRunner
) -> None:
    folder = tmp_path / "runbooks"
    _claiming(folder, "restart", "SearchApiDown, SearchSlow")
    result = runner.invoke(
        main, ["runbook", "run", "SearchApiDown", "--dry-run", "--json", "--dir", str(folder)]
    )
    assert json.loads(result.stdout)["runbook"] == str(folder / "restart.md")
    _claiming(folder, "failover", "SearchApiDown")
    (folder / "zones").mkdir()
    _claiming(folder / "zones", "drain", "SearchApiDown")
    several = runner.invoke(main, ["runbook", "run", "SearchApiDown", "--dir", str(folder)])
    assert (several.exit_code, several.output) == (
        1,
        f"Error: alert 'SearchApiDown' has several runbooks in {folder}/: failover, restart, "
        "zones/drain; give one by name\n",
    )
    claimed_once = runner.invoke(
        main, ["runbook", "show", "SearchSlow", "--json", "--dir", str(folder)]
    )
    assert json.loads(claimed_once.stdout)["name"] == "restart"


def test_no_runbook_suggests_the_runbooks_of_similar_alert_names(
    tmp_path: Path, runner: CliRunner
) -> None:
    folder = tmp_path / "runbooks"
    _claiming(folder, "restart-after-outage", "SearchApiDown")
    _claiming(folder, "search-errors", "SearchAvailabilityBudgetBurn")
    result = runner.invoke(main, ["runbook", "show", "SearchApiDwn", "--dir", str(folder)])
    assert (result.exit_code, result.output) == (
        1,
        f"Error: no runbook 'SearchApiDwn' (looked in {folder}/); did you mean: SearchApiDown "
        "(alert of restart-after-outage)?\n",
    )
    named = runner.invoke(main, ["runbook", "show", "search-eror", "--dir", str(folder)])
    assert named.output == (
        f"Error: no runbook 'search-eror' (looked in {folder}/); did you mean: search-errors?\n"
    )


def test_an_alert_named_file_in_a_subfolder_is_found_by_the_alert_name(runner: CliRunner) -> None:
    operator = str(ROOT / "tests/runbook/fixtures/prometheus-operator/content/runbooks")
    shown = runner.invoke(main, ["runbook", "show", "AlertmanagerClusterDown", "--dir", operator])
    assert shown.exit_code == 0, shown.output
    assert "Alertmanager Cluster Down" in shown.stdout


def test_lint_without_paths_lints_the_folder_list_and_show_read(
    tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: lint read ./runbooks whatever OPS_RUNBOOKS_DIR said ('runbooks: no such file
    or directory' here)."""
    folder = tmp_path / "team-runbooks"
    path = _claiming(folder, "restart", "SearchApiDown")
    path.write_text(path.read_text().replace('"name":"hello"', '"name":"hello","timout":"5m"'))
    monkeypatch.chdir(tmp_path)  # no runbooks/ here
    monkeypatch.setenv("OPS_RUNBOOKS_DIR", str(folder))
    listed = runner.invoke(main, ["runbook", "list", "--json"])
    assert [r["path"] for r in json.loads(listed.stdout)] == [str(path)]
    result = runner.invoke(main, ["runbook", "lint"])
    assert (result.exit_code, result.stdout) == (
        1,
        f"{path}:6: error: step 'hello': unknown attribute 'timout' (did you mean 'timeout'?)\n",
    )


@pytest.mark.parametrize(
    ("colours", "attempts", "title"),
    [
        (False, 1, "roll-out sh"),
        (True, 1, "roll-out sh"),
        (False, 2, "roll-out sh (attempt 1/2)"),
    ],
    ids=["plain", "a colour terminal", "with attempts"],
)
def test_a_step_outside_any_section_has_no_dangling_dot_in_its_header(
    colours: bool, attempts: int, title: str
) -> None:
    """Before: 'roll-out sh ·  ───'."""
    import io

    from rich.console import Console
    from rich.text import Text

    from ops_toolkit.cli.terminal import TerminalUI
    from ops_toolkit.runbook.parse import parse_runbook

    console = Console(
        file=io.StringIO(),
        width=40,
        force_terminal=colours,
        color_system="standard" if colours else None,
    )
    runbook = parse_runbook(
        f'---\ntitle: t\n---\n# T\n{FENCE}sh {{"name":"roll-out"}}\ntrue\n{FENCE}\n', "rb.md"
    )
    TerminalUI(console, io.StringIO(), interactive=False).step_started(
        runbook.steps[0], 1, attempts
    )
    shown = console.file.getvalue()
    assert isinstance(shown, str)
    assert Text.from_ansi(shown).plain == f"{title} {'─' * (39 - len(title))}\n"


def test_resuming_a_run_that_succeeded_says_so_and_audits_nothing(
    tmp_path: Path, runner: CliRunner
) -> None:
    """Before: it said nothing and appended run_started and run_finished to the audit."""
    state = tmp_path / "state"
    run_id = _one_run(tmp_path, runner, str(state))
    audit = (state / "audit.jsonl").read_text()
    result = runner.invoke(main, ["runbook", "resume", run_id, "--json", "--state-dir", str(state)])
    assert result.exit_code == 0
    assert result.stderr == f"Run {run_id} already succeeded: nothing to resume.\n"
    assert json.loads(result.stdout)["status"] == "succeeded"
    assert (state / "audit.jsonl").read_text() == audit
    assert StateStore(str(state)).load(run_id).resumed == 0
