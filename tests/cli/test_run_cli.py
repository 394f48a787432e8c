"""``ops runbook run|resume|runs`` as real processes: JSON, reports, SIGKILL and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.runbook.state import StateStore
from tests.runbook.test_process import alive

FENCE = "```"


def write_runbook(tmp_path: Path, body: str, front: str = "") -> Path:
    path = tmp_path / "rb.md"
    path.write_text(
        f"---\ntitle: CLI test\nowner: team\n{front}---\n# CLI test\n\n## Steps\n{body}"
    )
    return path


def ops(
    *args: str, env: dict[str, str] | None = None, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops_toolkit", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
        stdin=subprocess.DEVNULL,
        **kwargs,  # type: ignore[call-overload]
    )


def test_run_json_document_and_exit_codes(tmp_path: Path, runner: CliRunner) -> None:
    path = write_runbook(
        tmp_path,
        f'{FENCE}sh {{"name":"hello"}}\necho "hi $WHO"\n{FENCE}\n',
        "params:\n  WHO: {default: there}\n",
    )
    state = str(tmp_path / "state")
    result = runner.invoke(
        main, ["runbook", "run", str(path), "-p", "WHO=you", "--json", "--state-dir", state]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["status"] == "succeeded"
    assert document["steps"][0]["name"] == "hello"
    assert document["steps"][0]["output"] == "hi you\n"
    assert {"run_id", "runbook", "status", "steps"} <= set(document)
    assert {"name", "status", "exit_code", "duration_s", "output"} <= set(document["steps"][0])
    listing = runner.invoke(main, ["runbook", "runs", "--json", "--state-dir", state])
    assert [r["run_id"] for r in json.loads(listing.stdout)] == [document["run_id"]]
    shown = runner.invoke(
        main, ["runbook", "runs", document["run_id"], "--json", "--state-dir", state]
    )
    assert json.loads(shown.stdout)["steps"][0]["output"] == "hi you\n"


def test_a_failed_run_exits_1_and_says_how_to_resume(tmp_path: Path, runner: CliRunner) -> None:
    path = write_runbook(tmp_path, f'{FENCE}sh {{"name":"boom"}}\nexit 3\n{FENCE}\n')
    report = tmp_path / "report.md"
    result = runner.invoke(
        main,
        ["runbook", "run", str(path), "--state-dir", str(tmp_path / "s"), "--report", str(report)],
    )
    assert result.exit_code == 1
    assert "Run failed. Resume with: ops runbook resume " in result.output
    text = report.read_text()
    assert "| boom | ❌ failed | 3 |" in text and "**failed**" in text


def test_bad_param_syntax_is_a_usage_error(tmp_path: Path, runner: CliRunner) -> None:
    path = write_runbook(tmp_path, f'{FENCE}sh {{"name":"a"}}\ntrue\n{FENCE}\n')
    result = runner.invoke(main, ["runbook", "run", str(path), "-p", "NOEQUALS"])
    assert result.exit_code == 2
    assert "expected KEY=VALUE, got 'NOEQUALS'" in result.output


def test_unknown_run_id(tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(main, ["runbook", "resume", "nope", "--state-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.startswith("Error: no run 'nope' in ")


def test_dry_run_lists_steps_with_masked_secrets(tmp_path: Path) -> None:
    path = write_runbook(
        tmp_path, f'{FENCE}sh {{"name":"a"}}\necho "$TOKEN"\n{FENCE}\n', "secrets: [TOKEN]\n"
    )
    result = ops("runbook", "run", str(path), "--dry-run", env={"TOKEN": "abc-secret"})
    assert result.returncode == 0, result.stderr
    assert "1. a [sh] would run" in result.stdout
    assert "TOKEN=***" in result.stdout and "abc-secret" not in result.stdout


def test_resume_after_ops_is_killed_mid_step(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    marker = tmp_path / "in-step-two"
    release = tmp_path / "release"
    request.addfinalizer(release.touch)  # a failed assertion never leaves step two looping
    body = (
        f'{FENCE}sh {{"name":"one","capture":"GREETING"}}\necho hello\n{FENCE}\n\n'
        f'{FENCE}sh {{"name":"two"}}\ntouch {marker}\n'
        f'while [ ! -e {release} ]; do sleep 0.05; done\necho "two: $GREETING" >> {tmp_path}/log\n'
        f"{FENCE}\n\n"
        f'{FENCE}sh {{"name":"three"}}\necho three >> {tmp_path}/log\n{FENCE}\n'
    )
    path = write_runbook(tmp_path, body)
    state = str(tmp_path / "state")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ops_toolkit",
            "runbook",
            "run",
            str(path),
            "--state-dir",
            state,
            "--non-interactive",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.exists()
    process.send_signal(signal.SIGKILL)
    process.wait()
    run_id = next((Path(state) / "runs").glob("*.json")).stem
    saved = StateStore(state).load(run_id)  # the snapshot and its journal
    assert saved.steps["one"].status == "succeeded"
    assert saved.steps["two"].status == "running"
    orphan = saved.steps["two"].pgid
    assert orphan is not None

    refused = ops("runbook", "resume", run_id, "--state-dir", state)
    assert refused.returncode == 1
    assert f"step 'two' is still running as process group {orphan}" in refused.stderr

    os.killpg(orphan, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while alive(orphan) and time.monotonic() < deadline:
        time.sleep(0.02)
    release.touch()
    unknown = ops("runbook", "resume", run_id, "--state-dir", state, "--json")
    assert unknown.returncode == 1
    assert unknown.stderr == (
        f"Error: run {run_id}: step 'two' may have run: ops stopped before recording its "
        f"outcome; check what it did, then 'ops runbook resume {run_id} --rerun-unknown' runs "
        "it again, '--skip-unknown' goes on after it\n"
    )
    resumed = ops("runbook", "resume", run_id, "--state-dir", state, "--json", "--rerun-unknown")
    assert resumed.returncode == 0, resumed.stderr
    document = json.loads(resumed.stdout)
    assert [(s["name"], s["status"]) for s in document["steps"]] == [
        ("one", "succeeded"),
        ("two", "succeeded"),
        ("three", "succeeded"),
    ]
    assert (tmp_path / "log").read_text() == "two: hello\nthree\n"
    audit = [json.loads(line) for line in (Path(state) / "audit.jsonl").read_text().splitlines()]
    assert [e["event"] for e in audit] == [
        "run_started",
        "step_finished",
        "run_resumed",
        "step_finished",
        "step_finished",
        "run_finished",
    ]


def test_a_report_that_cannot_be_written_is_a_clear_error(
    tmp_path: Path, runner: CliRunner
) -> None:
    path = write_runbook(tmp_path, f'{FENCE}sh {{"name":"a"}}\ntrue\n{FENCE}\n')
    report = tmp_path / "missing" / "report.md"
    result = runner.invoke(
        main,
        ["runbook", "run", str(path), "--state-dir", str(tmp_path / "s"), "--report", str(report)],
    )
    # checked before any step runs (before: after the steps ran, the report failed)
    assert result.exit_code == 1
    assert result.output == f"Error: --report {report}: no such folder {report.parent}\n"
    assert not (tmp_path / "s" / "runs").exists()


@pytest.mark.parametrize(
    ("step", "params", "given", "finding"),
    [
        pytest.param(
            # Was a hang: ``X =~ Q`` with Q='^(a+)+$' and X='aaaa...!' backtracked for minutes.
            'sh {{"name":"check","when":"X =~ Q"}}\ntouch {ran}\n',
            "params:\n  X: {default: a}\n  Q: {default: a}\n",
            ["-p", "Q=^(a+)+$", "-p", "X=" + "a" * 40 + "!"],
            "step 'check': when: bad expression 'X =~ Q': the right side of '=~' at column 3 "
            "must be a quoted regular expression written in the runbook, not a variable",
            id="a regex taken from a param",
        ),
        pytest.param(
            # Was: -p 'T=0 or vector(1)' went into the query as is (and from a label, unattended).
            'promql {{"name":"q"}}\nsum(rate(x[5m])) > $T\n',
            "params:\n  T: {default: '1'}\n",
            ["-p", "T=0 or vector(1)", "--prometheus", "http://127.0.0.1:9"],
            "step 'q': param T is pasted into the query outside a string literal without a "
            "pattern or choices, so a value like '0 or vector(1)' rewrites the query; give it a "
            "pattern or choices",
            id="a param pasted unquoted into promql",
        ),
    ],
)
def test_a_param_that_could_rewrite_a_step_is_refused_before_any_step(
    tmp_path: Path, step: str, params: str, given: list[str], finding: str
) -> None:
    ran = tmp_path / "ran"
    path = write_runbook(tmp_path, f"{FENCE}{step.format(ran=ran)}{FENCE}\n", params)
    state = str(tmp_path / "state")
    result = ops("runbook", "run", str(path), *given, "--state-dir", state, timeout=60)
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {path}: fix these before running (ops runbook lint):\n"
        f"  {path}:11: error: {finding}\n"
    )
    assert not ran.exists()


def test_at_the_cli_a_routing_key_variable_and_ops_api_keys_never_reach_a_step(
    tmp_path: Path,
) -> None:
    """Was: PAGERDUTY_ROUTING_KEY (routing_key_env) and OPS_API_KEY reached the step."""
    (tmp_path / "alerts").mkdir()
    (tmp_path / "alerts" / "oncall.yaml").write_text(
        "webhooks:\n  pd:\n    url: http://127.0.0.1:9/\n    format: pagerduty\n"
        "    routing_key_env: PD_ROUTE\n"
    )
    path = write_runbook(
        tmp_path,
        f'{FENCE}sh {{"name":"leak"}}\n'
        'echo "pd=${PD_ROUTE:-unset} api=${OPS_API_KEY:-unset} other=$OTHER"\n'
        f"tr '\\0' '\\n' < /proc/$PPID/environ | grep -E '^(PD_ROUTE|OPS_API_KEY)=' | sort\n"
        f"{FENCE}\n",
        "env: [OTHER]\n",
    )
    env = {"PD_ROUTE": "pd-routing-key-77", "OPS_API_KEY": "ops-api-key-77", "OTHER": "x"}
    state = str(tmp_path / "state")
    result = ops("runbook", "run", str(path), "--json", "--state-dir", state, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (step,) = json.loads(result.stdout)["steps"]
    assert step["output"] == "pd=unset api=unset other=x\nOPS_API_KEY=***\nPD_ROUTE=***\n"
    path.write_text(path.read_text().replace("env: [OTHER]", "env: [OTHER, PD_ROUTE]"))
    linted = ops("runbook", "lint", str(path), env=env, cwd=tmp_path)
    assert linted.returncode == 1
    assert linted.stdout == (
        f"{path}:4: error: env: PD_ROUTE is one of ops's own credentials; it never reaches a step\n"
    )


def test_a_step_message_with_rich_markup_is_shown_not_parsed(
    tmp_path: Path, runner: CliRunner
) -> None:
    """The message quotes the expect regex; '[/]' in it was a MarkupError that failed the
    whole run ("unexpected error") after the step itself had finished."""
    path = write_runbook(
        tmp_path, f'{FENCE}sh {{"name":"a","expect":"/z[/]/"}}\necho hi\n{FENCE}\n'
    )
    result = runner.invoke(
        main, ["runbook", "run", str(path), "--yes", "--state-dir", str(tmp_path / "s")]
    )
    assert result.exit_code == 1
    assert "● a: failed (" in result.output
    assert "· output does not match /z[/]/" in result.output
    assert "MarkupError" not in result.output
