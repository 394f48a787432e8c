"""No secret leaves a run, and no run is left ``running``: real processes, real state files."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from ops_toolkit.errors import RunbookError
from ops_toolkit.metrics.model import Sample
from ops_toolkit.runbook.audit import AuditLog
from ops_toolkit.runbook.execute import RunOptions, World, dry_run, run_document, start_run
from ops_toolkit.runbook.report import render_markdown
from ops_toolkit.runbook.state import StateStore
from tests.runbook.fakes import ScriptedUI
from tests.runbook.test_execute import make_runbook, step, world

TOKEN = "xoxb-server-bot-token"


def everything_written(tmp_path: Path, ui: ScriptedUI, record: object) -> str:
    """What a run showed, stored and would report: the places a secret must never be."""
    files = "".join(p.read_text() for p in (tmp_path / "state").rglob("*") if p.is_file())
    document = run_document(record)  # type: ignore[arg-type]
    report = render_markdown(document, record, "Test")  # type: ignore[arg-type]
    return "".join(ui.shown) + files + json.dumps(document) + report


def test_a_secret_split_across_two_reads_is_masked_on_the_console(tmp_path: Path) -> None:
    runbook = make_runbook(
        tmp_path, step("split", "printf first; sleep 0.5; printf rest; echo"), "secrets: [PW]\n"
    )
    ui = ScriptedUI()
    record = start_run(runbook, RunOptions(), world(tmp_path, ui, {"PW": "firstrest"}))
    assert record.steps["split"].output == "***\n"
    assert "".join(ui.shown[1:]) == "***\n"
    assert "firstrest" not in everything_written(tmp_path, ui, record)


def test_encoded_forms_of_a_secret_are_masked_everywhere(tmp_path: Path) -> None:
    code = (
        'printf %s "$PW" | base64; printf "user:%s" "$PW" | base64\n'
        "python3 -c 'import os, urllib.parse; print(urllib.parse.quote(os.environ[\"PW\"]))'"
    )
    runbook = make_runbook(tmp_path, step("encode", code), "secrets: [PW]\n")
    secret = "p@ss w/rd+1"
    ui = ScriptedUI()
    record = start_run(runbook, RunOptions(), world(tmp_path, ui, {"PW": secret}))
    user_form = base64.b64encode(f"user:{secret}".encode()).decode()
    assert record.steps["encode"].output == f"***\n{user_form[:7]}***{user_form[-3:]}\n***\n"
    written = everything_written(tmp_path, ui, record)
    for form in (secret, base64.b64encode(secret.encode()).decode(), "p%40ss%20w%2Frd%2B1"):
        assert form not in written


def test_ops_credentials_are_kept_from_steps_and_masked(tmp_path: Path) -> None:
    runbook = make_runbook(
        tmp_path,
        step("leak", f'echo "bot=${{SLACK_BOT_TOKEN:-unset}}"; cat {tmp_path / "leaked"}'),
    )
    (tmp_path / "leaked").write_text(f"found {TOKEN} in a file\n")
    base = world(tmp_path)
    ui = ScriptedUI()
    cli_world = World(
        ui=ui,
        store=base.store,
        audit=base.audit,
        env=base.env,
        credentials={"SLACK_BOT_TOKEN": TOKEN},
    )
    record = start_run(runbook, RunOptions(), cli_world)
    assert record.steps["leak"].output == "bot=unset\nfound *** in a file\n"
    assert TOKEN not in everything_written(tmp_path, ui, record)


def test_short_secret_params_are_refused(tmp_path: Path) -> None:
    runbook = make_runbook(tmp_path, step("a", "true"), "params:\n  PW: {secret: true}\n")
    with pytest.raises(RunbookError) as raised:
        start_run(runbook, RunOptions(), world(tmp_path, env={"PW": "x"}))
    assert str(raised.value) == (
        f"{runbook.source}:5: param PW: a secret must be at least 4 characters long; a shorter "
        "one cannot be masked in output"
    )


def test_short_secrets_are_refused(tmp_path: Path) -> None:
    runbook = make_runbook(tmp_path, step("a", "true"), "secrets: [API_TOKEN, PIN]\n")
    with pytest.raises(RunbookError) as raised:
        start_run(runbook, RunOptions(), world(tmp_path, env={"API_TOKEN": "abcd", "PIN": "123"}))
    assert str(raised.value) == (
        f"{runbook.source}:4: secret(s) PIN: a secret must be at least 4 characters long; a "
        "shorter one cannot be masked in output"
    )
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("api\x00", "contains a NUL byte"),
        ("api\udcff\ud800", "is not valid Unicode (a lone surrogate)"),
        ("a" * 200_000, "is longer than an environment variable can hold (128 KiB)"),
    ],
    ids=["NUL", "lone surrogate", "too long"],
)
def test_a_param_value_the_os_cannot_pass_is_a_validation_error(
    tmp_path: Path, value: str, problem: str
) -> None:
    runbook = make_runbook(tmp_path, step("a", 'echo "$SERVICE"'), "params:\n  SERVICE: {}\n")
    with pytest.raises(RunbookError) as raised:
        start_run(runbook, RunOptions(params={"SERVICE": value}), world(tmp_path))
    assert str(raised.value) == (
        f"{runbook.source}:5: param SERVICE: the value {problem}, so it cannot be passed to a step"
    )
    assert not (tmp_path / "state").exists()


def test_captured_output_the_os_cannot_pass_fails_the_capturing_step(tmp_path: Path) -> None:
    body = step("read", r"printf 'a\000b'", capture="RAW") + step("use", 'echo "$RAW"')
    runbook = make_runbook(tmp_path, body)
    record = start_run(runbook, RunOptions(), world(tmp_path))
    assert record.status == "failed"
    assert (record.steps["read"].status, record.steps["read"].message) == (
        "failed",
        "capture RAW: the output contains a NUL byte, so it cannot be passed to later steps",
    )
    assert record.steps["use"].status == "pending"


class BrokenSource:
    """A metrics source with a bug: it raises what no caller expects."""

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        raise KeyError("result")


def test_an_unexpected_error_mid_run_ends_it_failed_in_state_and_audit(tmp_path: Path) -> None:
    body = step("first", "echo ok") + step("query", "up", kind="promql") + step("last", "true")
    runbook = make_runbook(tmp_path, body)
    base = world(tmp_path)
    ui = ScriptedUI()
    broken = World(
        ui=ui, store=base.store, audit=base.audit, env=base.env, metrics=lambda: BrokenSource()
    )
    record = start_run(runbook, RunOptions(), broken)
    saved = StateStore(str(tmp_path / "state")).load(record.run_id)
    for run in (record, saved):
        assert run.status == "failed"
        assert [(s.name, s.status, s.message) for s in run.steps.values()] == [
            ("first", "succeeded", ""),
            ("query", "failed", "unexpected error: KeyError: 'result'"),
            ("last", "pending", ""),
        ]
    audit = [json.loads(line) for line in (tmp_path / "state" / "audit.jsonl").open()]
    assert audit[-1]["event"] == "run_finished"
    assert (audit[-1]["status"], audit[-1]["error"]) == (
        "failed",
        "unexpected error: KeyError: 'result'",
    )
    assert ui.shown[-1] == f"run {record.run_id} failed: unexpected error: KeyError: 'result'"


def test_dry_run_shows_secret_params_in_queries_as_stars(tmp_path: Path) -> None:
    body = step("q", 'up{token="$PW", service="$SERVICE"}', kind="promql")
    runbook = make_runbook(
        tmp_path, body, "params:\n  PW: {secret: true}\n  SERVICE: {default: api}\n"
    )
    w = World(
        ui=ScriptedUI(),
        store=StateStore(str(tmp_path / "state")),
        audit=AuditLog(str(tmp_path / "audit.jsonl")),
        env={"PW": "hunter2-pass"},
        credentials={"OPS_WEBHOOK_TOKEN": "webhook-token"},
    )
    (planned,) = dry_run(runbook, RunOptions(params={"SERVICE": "x-webhook-token"}), w)
    assert planned.action == 'query Prometheus: up{token="***", service="x-***"}'
    assert planned.env == {"PW": "***", "SERVICE": "x-***"}


def test_a_plain_param_holding_a_secret_is_refused_before_it_is_stored(tmp_path: Path) -> None:
    runbook = make_runbook(
        tmp_path, step("a", 'curl "$URL"'), "secrets: [API_TOKEN]\nparams:\n  URL: {}\n"
    )
    url = "https://api.example/?token=api-token-value"
    with pytest.raises(RunbookError) as raised:
        start_run(
            runbook,
            RunOptions(params={"URL": url}),
            world(tmp_path, env={"API_TOKEN": "api-token-value"}),
        )
    assert str(raised.value) == (
        f"{runbook.source}:6: param URL: the value holds a secret (a value of the runbook's "
        "secrets or of ops's credentials); mark the param 'secret: true' and pass it in the "
        "environment"
    )
    assert not (tmp_path / "state").exists()


def test_a_slack_setting_that_is_no_secret_is_neither_masked_nor_refused(tmp_path: Path) -> None:
    from ops_toolkit.runbook.environment import ops_credentials, person_environment

    runbook = make_runbook(
        tmp_path,
        step("say", 'echo "open $SLACK_CHANNEL"'),
        "params:\n  SLACK_CHANNEL: {default: '#search-incidents'}\n",
    )
    shell = {"PATH": world(tmp_path).env["PATH"], "SLACK_CHANNEL": "#search-incidents"}
    base = world(tmp_path)
    person = World(
        ui=base.ui,
        store=base.store,
        audit=base.audit,
        env=person_environment(shell),
        credentials=ops_credentials(shell),
    )
    record = start_run(runbook, RunOptions(), person)
    assert record.steps["say"].output == "open #search-incidents\n"
