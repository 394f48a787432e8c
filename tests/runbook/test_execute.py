"""Running runbooks with real processes: safety, selection, retries, state, audit, secrets."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from ops_toolkit.errors import RunbookError
from ops_toolkit.runbook.audit import AuditLog
from ops_toolkit.runbook.execute import (
    RunOptions,
    World,
    dry_run,
    resume_run,
    run_document,
    start_run,
)
from ops_toolkit.runbook.parse import parse_runbook
from ops_toolkit.runbook.report import render_markdown
from ops_toolkit.runbook.state import StateStore
from tests.runbook.fakes import ScriptedUI

FENCE = "```"


def make_runbook(tmp_path: Path, body: str, front: str = "", name: str = "rb.md"):  # type: ignore[no-untyped-def]
    text = f"---\ntitle: Test\nowner: team\n{front}---\n{body}"
    path = tmp_path / name
    path.write_text(text)
    return parse_runbook(text, str(path))


def step(name: str, code: str, kind: str = "sh", **attributes: str) -> str:
    attrs = json.dumps({"name": name, **attributes})
    return f"{FENCE}{kind} {attrs}\n{code}\n{FENCE}\n\n"


def world(tmp_path: Path, ui: ScriptedUI | None = None, env: dict[str, str] | None = None) -> World:
    return World(
        ui=ui or ScriptedUI(),
        store=StateStore(str(tmp_path / "state")),
        audit=AuditLog(str(tmp_path / "state" / "audit.jsonl")),
        env={"PATH": os.environ["PATH"], **(env or {})},
        sleep=lambda seconds: None,
        user="alice",
        host="laptop",
    )


def statuses(record) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(s["name"], s["status"]) for s in run_document(record)["steps"]]


HOSTILE = ["$(touch PWNED)", "`touch PWNED`", "; touch PWNED", "a\ntouch PWNED", "'\"", "${PATH}"]


@pytest.mark.parametrize(
    "value", HOSTILE, ids=["subshell", "backticks", "semicolon", "newline", "quotes", "expansion"]
)
def test_hostile_param_values_reach_the_step_as_literal_text(tmp_path: Path, value: str) -> None:
    runbook = make_runbook(
        tmp_path,
        step("echo", 'printf "%s" "$VALUE" > out.txt; echo $VALUE', cwd=str(tmp_path)),
        "params:\n  VALUE: {}\n",
    )
    record = start_run(runbook, RunOptions(params={"VALUE": value}), world(tmp_path))
    assert record.status == "succeeded"
    assert (tmp_path / "out.txt").read_text() == value
    assert not (tmp_path / "PWNED").exists()


def test_a_param_failing_its_pattern_stops_the_run_before_any_step(tmp_path: Path) -> None:
    runbook = make_runbook(
        tmp_path,
        step("touch", "touch ran.txt", cwd=str(tmp_path)),
        "params:\n  SERVICE: {default: api, pattern: '^[a-z]+$'}\n",
    )
    with pytest.raises(RunbookError) as raised:
        start_run(runbook, RunOptions(params={"SERVICE": "api; rm -rf /"}), world(tmp_path))
    assert str(raised.value) == (
        f"{runbook.source}:5: param SERVICE: value 'api; rm -rf /' does not match pattern "
        "'^[a-z]+$'"
    )
    assert not (tmp_path / "ran.txt").exists()


def test_missing_required_params_are_named_together(tmp_path: Path) -> None:
    runbook = make_runbook(
        tmp_path, step("a", "true"), "params:\n  A: {required: true}\n  B: {required: true}\n"
    )
    with pytest.raises(RunbookError) as raised:
        start_run(runbook, RunOptions(), world(tmp_path))
    assert str(raised.value) == (
        f"{runbook.source}: missing required param(s): A, B; pass -p A=... -p B=..."
    )


def test_an_interactive_run_asks_for_missing_params(tmp_path: Path) -> None:
    runbook = make_runbook(
        tmp_path, step("a", 'test "$A" = given'), "params:\n  A: {required: true}\n"
    )
    ui = ScriptedUI(interactive=True, param_answers={"A": "given"})
    assert start_run(runbook, RunOptions(), world(tmp_path, ui)).status == "succeeded"


def test_unknown_params_get_a_suggestion(tmp_path: Path) -> None:
    runbook = make_runbook(tmp_path, step("a", "true"), "params:\n  SERVICE: {default: x}\n")
    with pytest.raises(RunbookError) as raised:
        start_run(runbook, RunOptions(params={"SERVICES": "y"}), world(tmp_path))
    assert str(raised.value) == (
        f"{runbook.source}: -p SERVICES: the runbook has no such param (did you mean 'SERVICE'?)"
    )


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def test_a_timed_out_step_leaves_no_process_behind(tmp_path: Path) -> None:
    # Checked by pid: a scan of every "sleep 300" on the machine would see other test runs.
    code = "sleep 300 & echo $! > child.pid\n(sleep 300 & echo $! > orphan.pid) ; sleep 300"
    runbook = make_runbook(tmp_path, step("slow", code, timeout="1s", cwd=str(tmp_path)))
    record = start_run(runbook, RunOptions(kill_grace=2.0), world(tmp_path))
    assert statuses(record) == [("slow", "timed_out")]
    assert record.steps["slow"].message == "timed out after 1s"
    for name in ("child.pid", "orphan.pid"):
        assert not _alive(int((tmp_path / name).read_text())), name


def test_a_step_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    runbook = make_runbook(tmp_path, step("stubborn", "trap '' TERM; sleep 30", timeout="0.5s"))
    started = time.monotonic()
    record = start_run(runbook, RunOptions(kill_grace=0.5), world(tmp_path))
    assert statuses(record) == [("stubborn", "timed_out")]
    assert time.monotonic() - started < 5


def test_retries_until_success(tmp_path: Path) -> None:
    code = 'n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; test "$n" -ge 3'
    runbook = make_runbook(
        tmp_path, step("flaky", code, retries="3", retry_delay="1s", cwd=str(tmp_path))
    )
    ui = ScriptedUI()
    record = start_run(runbook, RunOptions(), world(tmp_path, ui))
    assert statuses(record) == [("flaky", "succeeded")]
    assert record.steps["flaky"].attempts == 3
    assert "flaky: exit code 1; retrying in 1s (attempt 2 of 4)" in ui.shown


def test_retries_are_exhausted(tmp_path: Path) -> None:
    runbook = make_runbook(tmp_path, step("broken", "exit 4", retries="1"))
    record = start_run(runbook, RunOptions(), world(tmp_path))
    assert statuses(record) == [("broken", "failed")]
    assert (record.steps["broken"].attempts, record.steps["broken"].exit_code) == (2, 4)
    assert record.status == "failed"


@pytest.mark.parametrize(
    ("code", "expect", "status", "message"),
    [
        pytest.param("exit 3", "3", "succeeded", "", id="expected exit code"),
        pytest.param("exit 0", "3", "failed", "exit code 0 (expected 3)", id="other exit code"),
        pytest.param("echo ready", "/^ready$/", "succeeded", "", id="output matches"),
        pytest.param(
            "echo starting",
            "/^ready$/",
            "failed",
            "output does not match /^ready$/",
            id="output does not match",
        ),
    ],
)
def test_expect(tmp_path: Path, code: str, expect: str, status: str, message: str) -> None:
    runbook = make_runbook(tmp_path, step("check", code, expect=expect))
    record = start_run(runbook, RunOptions(), world(tmp_path))
    assert (record.steps["check"].status, record.steps["check"].message) == (status, message)


def test_capture_feeds_later_steps_and_when_decides(tmp_path: Path) -> None:
    body = (
        step("mode", "echo fast", capture="MODE")
        + step(
            "fast-path", 'echo "mode is $MODE" > fast.txt', when="MODE == 'fast'", cwd=str(tmp_path)
        )
        + step("slow-path", "touch slow.txt", when="MODE == 'slow'", cwd=str(tmp_path))
    )
    record = start_run(make_runbook(tmp_path, body), RunOptions(), world(tmp_path))
    assert statuses(record) == [
        ("mode", "succeeded"),
        ("fast-path", "succeeded"),
        ("slow-path", "skipped"),
    ]
    assert (tmp_path / "fast.txt").read_text() == "mode is fast\n"
    assert record.steps["slow-path"].message == "when is false: MODE == 'slow'"
    assert not (tmp_path / "slow.txt").exists()


def test_fail_fast_runs_on_failure_and_stops(tmp_path: Path) -> None:
    body = (
        step("deploy", "exit 1", on_failure="rollback")
        + step("verify", "true")
        + step("rollback", "echo rolled back")
    )
    record = start_run(make_runbook(tmp_path, body), RunOptions(), world(tmp_path))
    assert statuses(record) == [
        ("deploy", "failed"),
        ("verify", "skipped"),
        ("rollback", "succeeded"),
    ]
    assert record.steps["rollback"].handler
    assert run_document(record)["steps"][1]["message"] == "not reached"
    assert record.status == "failed"


def test_keep_going_runs_the_rest_after_a_failure(tmp_path: Path) -> None:
    body = step("a", "exit 1") + step("b", "true")
    record = start_run(make_runbook(tmp_path, body), RunOptions(keep_going=True), world(tmp_path))
    assert statuses(record) == [("a", "failed"), ("b", "succeeded")]
    assert record.status == "failed"


def test_confirm_steps_wait_unattended_and_run_with_yes(tmp_path: Path) -> None:
    body = step("restart", "touch restarted", confirm="true", cwd=str(tmp_path))
    runbook = make_runbook(tmp_path, body)
    record = start_run(runbook, RunOptions(), world(tmp_path))
    assert statuses(record) == [("restart", "needs_confirmation")]
    assert record.status == "waiting"  # for a person: resume on a terminal
    assert not (tmp_path / "restarted").exists()
    record = start_run(runbook, RunOptions(yes=True), world(tmp_path))
    assert statuses(record) == [("restart", "succeeded")]


def test_an_operator_can_decline_a_confirm_step(tmp_path: Path) -> None:
    runbook = make_runbook(tmp_path, step("restart", "touch x", confirm="true", cwd=str(tmp_path)))
    ui = ScriptedUI(interactive=True, confirm_answers=[False])
    record = start_run(runbook, RunOptions(), world(tmp_path, ui))
    assert statuses(record) == [("restart", "skipped")]
    assert not (tmp_path / "x").exists()


def test_manual_steps(tmp_path: Path) -> None:
    runbook = make_runbook(
        tmp_path, step("call", "Call $WHO now.", kind="manual"), "params:\n  WHO: {default: Bob}\n"
    )
    record = start_run(runbook, RunOptions(), world(tmp_path))
    assert statuses(record) == [("call", "pending_manual")]
    assert record.steps["call"].output == "Call Bob now.\n"
    ui = ScriptedUI(interactive=True, manual_answers=[True])
    assert statuses(start_run(runbook, RunOptions(), world(tmp_path, ui))) == [
        ("call", "succeeded")
    ]


def test_selection_by_step_from_and_tag(tmp_path: Path) -> None:
    body = (
        step("a", "true", tag="diagnose")
        + step("b", "true")
        + step("c", "true", tag="diagnose,verify")
    )
    runbook = make_runbook(tmp_path, body)
    w = world(tmp_path)
    assert list(start_run(runbook, RunOptions(steps=("b",)), w).steps) == ["b"]
    assert list(start_run(runbook, RunOptions(from_step="b"), w).steps) == ["b", "c"]
    assert list(start_run(runbook, RunOptions(tags=("diagnose",)), w).steps) == ["a", "c"]
    with pytest.raises(RunbookError) as raised:
        start_run(runbook, RunOptions(steps=("d",)), w)
    assert str(raised.value) == f"{runbook.source}: no step 'd'; see 'ops runbook show rb'"


def test_a_runbook_with_lint_errors_does_not_run(tmp_path: Path) -> None:
    runbook = make_runbook(tmp_path, step("a", "true", timout="5s"))
    with pytest.raises(RunbookError) as raised:
        start_run(runbook, RunOptions(), world(tmp_path))
    assert str(raised.value) == (
        f"{runbook.source}: fix these before running (ops runbook lint):\n"
        f"  {runbook.source}:5: error: step 'a': unknown attribute 'timout' (did you mean "
        "'timeout'?)"
    )


def test_secrets_never_reach_state_audit_report_or_output(tmp_path: Path) -> None:
    secret = "s3cr3t-T0KEN-value"
    body = step("use", 'echo "token=$API_TOKEN"; echo "pw=$DB_PASSWORD" >&2', capture="OUT") + step(
        "fail", 'echo "$API_TOKEN"; exit 1'
    )
    runbook = make_runbook(
        tmp_path, body, "secrets: [API_TOKEN]\nparams:\n  DB_PASSWORD: {secret: true}\n"
    )
    ui = ScriptedUI()
    env = {"API_TOKEN": secret, "DB_PASSWORD": "hunter2-pass"}
    record = start_run(runbook, RunOptions(), world(tmp_path, ui, env))
    assert record.steps["use"].output == "token=***\npw=***\n"
    document = json.dumps(run_document(record))
    report = render_markdown(run_document(record), record, "Test")
    files = "".join(p.read_text() for p in (tmp_path / "state").rglob("*") if p.is_file())
    for text in (document, report, files, "".join(ui.shown)):
        assert secret not in text and "hunter2-pass" not in text
    assert "token=***" in files


def test_secret_params_cannot_be_passed_on_the_command_line(tmp_path: Path) -> None:
    runbook = make_runbook(tmp_path, step("a", "true"), "params:\n  PW: {secret: true}\n")
    with pytest.raises(RunbookError) as raised:
        start_run(runbook, RunOptions(params={"PW": "x"}), world(tmp_path))
    assert "param PW is secret: export it in the environment" in str(raised.value)


def test_declared_secrets_must_be_set(tmp_path: Path) -> None:
    runbook = make_runbook(tmp_path, step("a", "true"), "secrets: [TOKEN]\n")
    with pytest.raises(RunbookError) as raised:
        start_run(runbook, RunOptions(), world(tmp_path))
    assert str(raised.value) == (
        f"{runbook.source}: secret(s) not set in the environment: TOKEN; export them before running"
    )


def test_the_audit_trail_has_a_line_per_start_step_and_end(tmp_path: Path) -> None:
    runbook = make_runbook(tmp_path, step("a", "echo hi") + step("b", "exit 2"))
    record = start_run(runbook, RunOptions(), world(tmp_path))
    lines = [
        json.loads(line) for line in (tmp_path / "state" / "audit.jsonl").read_text().splitlines()
    ]
    assert [(e["event"], e.get("step"), e.get("status")) for e in lines] == [
        ("run_started", None, None),
        ("step_finished", "a", "succeeded"),
        ("step_finished", "b", "failed"),
        ("run_finished", None, "failed"),
    ]
    first = lines[1]
    assert first["user"] == "alice" and first["host"] == "laptop"
    assert first["run_id"] == record.run_id and first["runbook_sha256"] == runbook.sha256
    assert first["exit_code"] == 0 and len(first["output_sha256"]) == 64


def test_resume_continues_from_the_first_step_that_did_not_succeed(tmp_path: Path) -> None:
    flag = tmp_path / "fixed"
    body = (
        step("one", "echo one >> log; echo captured", cwd=str(tmp_path), capture="FIRST")
        + step("two", f'test -e {flag}; echo "two saw $FIRST" >> log', cwd=str(tmp_path))
        + step("three", "echo three >> log", cwd=str(tmp_path))
    )
    runbook = make_runbook(tmp_path, body)
    w = world(tmp_path)
    record = start_run(runbook, RunOptions(), w)
    assert statuses(record) == [("one", "succeeded"), ("two", "failed"), ("three", "skipped")]
    flag.touch()
    resumed = resume_run(w.store.load(record.run_id), runbook, RunOptions(), w)
    assert resumed.status == "succeeded" and resumed.resumed == 1
    assert (tmp_path / "log").read_text() == "one\ntwo saw captured\nthree\n"


def test_resume_refuses_a_changed_runbook(tmp_path: Path) -> None:
    runbook = make_runbook(tmp_path, step("a", "exit 1"))
    w = world(tmp_path)
    record = start_run(runbook, RunOptions(), w)
    changed = make_runbook(tmp_path, step("a", "exit 0"))
    with pytest.raises(RunbookError) as raised:
        resume_run(w.store.load(record.run_id), changed, RunOptions(), w)
    assert "changed since run" in str(raised.value)
    assert (
        resume_run(w.store.load(record.run_id), changed, RunOptions(allow_changed=True), w).status
        == "succeeded"
    )


def test_dry_run_shows_plan_and_environment_and_runs_nothing(tmp_path: Path) -> None:
    body = step("a", "touch a", cwd=str(tmp_path), when="MODE == 'x'") + step(
        "b", "touch b", confirm="true"
    )
    runbook = make_runbook(tmp_path, body, "secrets: [TOKEN]\nparams:\n  MODE: {default: y}\n")
    planned = dry_run(runbook, RunOptions(), world(tmp_path, env={"TOKEN": "t0k"}))
    assert [(p.name, p.would_run, p.reason) for p in planned] == [
        ("a", False, "when is false: MODE == 'x'"),
        ("b", False, "needs confirmation (--yes)"),
    ]
    assert planned[0].env == {"MODE": "y", "TOKEN": "***"}
    assert not (tmp_path / "a").exists()
    assert not (tmp_path / "state").exists()


def test_time_spent_answering_a_confirmation_is_not_the_steps_duration(tmp_path: Path) -> None:
    clock = [1000.0]

    class SlowOperator(ScriptedUI):
        def confirm(self, step, question):  # type: ignore[no-untyped-def]
            clock[0] += 300.0  # five minutes to decide
            return True

    runbook = make_runbook(tmp_path, step("restart", "true", confirm="true"))
    base = world(tmp_path, SlowOperator(interactive=True))
    timed = World(
        ui=base.ui,
        store=base.store,
        audit=base.audit,
        env=base.env,
        clock=lambda: clock[0],
        sleep=base.sleep,
    )
    record = start_run(runbook, RunOptions(), timed)
    assert record.steps["restart"].duration_s == 0.0


@pytest.mark.parametrize(
    ("background", "interpreter"), [("false", ""), ("true", ""), ("false", "python3")]
)
def test_a_bad_working_directory_is_named_in_the_failure(
    tmp_path: Path, background: str, interpreter: str
) -> None:
    """Was: "cannot start sh: No such file or directory", as if sh were missing."""
    (tmp_path / "a-file").write_text("")
    extra = {"interpreter": interpreter} if interpreter else {}
    language = "python" if interpreter else "sh"
    runbook = make_runbook(
        tmp_path,
        step(
            "missing", "true", language, cwd=str(tmp_path / "nope"), background=background, **extra
        )
        + step(
            "file", "true", language, cwd=str(tmp_path / "a-file"), background=background, **extra
        ),
    )
    record = start_run(runbook, RunOptions(keep_going=True), world(tmp_path))
    program = interpreter or "sh"
    assert [(s.name, s.status, s.message) for s in record.steps.values()] == [
        (
            "missing",
            "failed",
            f"cannot start {program}: the working directory {tmp_path}/nope does not exist",
        ),
        (
            "file",
            "failed",
            f"cannot start {program}: the working directory {tmp_path}/a-file is not a directory",
        ),
    ]
