"""Running what Runme runs: steps by automatic name or id, other languages, run-all."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from subprocess import Popen

import pytest
from rich.console import Console

from ops_toolkit.errors import RunbookError
from ops_toolkit.runbook.audit import AuditLog
from ops_toolkit.runbook.environment import ops_credentials, person_environment
from ops_toolkit.runbook.execute import (
    RunOptions,
    World,
    dry_run,
    plan_steps,
    run_document,
    start_run,
)
from ops_toolkit.runbook.kinds import may_change_environment
from ops_toolkit.runbook.lint import lint_runbook
from ops_toolkit.runbook.parse import read_runbook
from ops_toolkit.runbook.state import StateStore
from ops_toolkit.runbook.view import show_renderables
from tests.runbook.fakes import ScriptedUI

FENCE = "```"
NOTEBOOK = str(Path(__file__).parent / "fixtures" / "runme" / "search-notebook.md")


def world(tmp_path: Path, ui: ScriptedUI | None = None, env: dict[str, str] | None = None) -> World:
    """As the CLI builds it: the person's environment, minus and masking ops's credentials."""
    environ = {"PATH": os.environ["PATH"], **(env or {})}
    return World(
        ui=ui or ScriptedUI(),
        store=StateStore(str(tmp_path / "state")),
        audit=AuditLog(str(tmp_path / "state" / "audit.jsonl")),
        env=person_environment(environ),
        credentials=ops_credentials(environ),
        sleep=lambda seconds: None,
        user="alice",
        host="laptop",
    )


def outputs(record) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    return [(s["name"], s["status"], s["output"]) for s in run_document(record)["steps"]]


def test_steps_are_selected_by_automatic_name_or_runme_id(tmp_path: Path) -> None:
    runbook = read_runbook(NOTEBOOK)
    options = RunOptions(steps=("echo-shards", "01JD4Q7A1B2C3D4E5F6G7H8J9N"))
    record = start_run(runbook, options, world(tmp_path))
    assert outputs(record) == [
        ("echo-shards", "succeeded", "shards: 3\n"),
        ("echo-index-2", "succeeded", "index ok, again\n"),
    ]


def test_a_step_in_another_language_runs_with_its_interpreter(tmp_path: Path) -> None:
    runbook = read_runbook(NOTEBOOK)
    record = start_run(runbook, RunOptions(steps=("printfrom-python",)), world(tmp_path))
    assert outputs(record) == [("printfrom-python", "succeeded", "from python\n")]


def test_a_step_ops_cannot_run_is_refused_with_the_reason(tmp_path: Path) -> None:
    runbook = read_runbook(NOTEBOOK)
    with pytest.raises(RunbookError) as raised:
        start_run(runbook, RunOptions(steps=("consolelogops-does",)), world(tmp_path))
    assert str(raised.value) == (
        f"{NOTEBOOK}:45: step 'consolelogops-does': ops does not run 'js' blocks; give the step "
        'an "interpreter" attribute (the program that runs it, e.g. "interpreter":"node")'
    )


def test_a_run_of_all_steps_leaves_out_documentation_and_excluded_steps() -> None:
    runbook = read_runbook(NOTEBOOK)
    assert [s.name for s in plan_steps(runbook, RunOptions())] == [
        "echo-index",
        "echo-shards",
        "echo-index-2",
        "export-indexname",
        "printfrom-python",
    ]
    assert [s.name for s in plan_steps(runbook, RunOptions(from_step="printfrom-python"))] == [
        "printfrom-python"
    ]


def make_runbook(tmp_path: Path, body: str, front: str = ""):  # type: ignore[no-untyped-def]
    path = tmp_path / "rb.md"
    path.write_text(f"---\ntitle: T\nowner: team\n{front}---\n{body}")
    return read_runbook(str(path))


def step(name: str, code: str, kind: str = "sh", **attributes: str) -> str:
    attrs = json.dumps({"name": name, **attributes})
    return f"{FENCE}{kind} {attrs}\n{code}\n{FENCE}\n\n"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_runme_notebook_runs_from_top_to_bottom(tmp_path: Path) -> None:
    record = start_run(read_runbook(NOTEBOOK), RunOptions(), world(tmp_path))
    assert record.status == "succeeded"
    assert outputs(record) == [
        ("echo-index", "succeeded", "index ok\n"),
        ("echo-shards", "succeeded", "shards: 3\n"),
        ("echo-index-2", "succeeded", "index ok, again\n"),
        ("export-indexname", "succeeded", ""),
        ("printfrom-python", "succeeded", "from python\n"),
    ]
    assert record.variables == {"INDEX_NAME": "docs-v2"}


def test_excluded_steps_run_only_when_asked_for(tmp_path: Path) -> None:
    record = start_run(read_runbook(NOTEBOOK), RunOptions(steps=("reindex",)), world(tmp_path))
    assert outputs(record) == [("reindex", "succeeded", "reindexing\n")]


def test_dollar_prompts_are_dropped_and_dollar_expansions_kept(tmp_path: Path) -> None:
    runbook = make_runbook(tmp_path, step("a", '$ echo one\n  $ echo two\necho "$HOME" >/dev/null'))
    record = start_run(runbook, RunOptions(), world(tmp_path, env={"HOME": str(tmp_path)}))
    assert outputs(record) == [("a", "succeeded", "one\ntwo\n")]


def test_exports_reach_the_steps_after_them_and_plain_variables_do_not(tmp_path: Path) -> None:
    runbook = make_runbook(
        tmp_path,
        step("set", 'export REGION=eu-west-1\nLOCAL=1\nexport PATH="$PATH"')
        + step("use", 'echo "$REGION ${LOCAL:-unset}"')
        + step("fail", "export LATE=1\nfalse")
        + step("after", 'echo "${LATE:-unset}"'),
    )
    record = start_run(runbook, RunOptions(keep_going=True), world(tmp_path))
    assert outputs(record)[1] == ("use", "succeeded", "eu-west-1 unset\n")
    assert outputs(record)[3] == ("after", "succeeded", "unset\n")
    assert record.variables == {"REGION": "eu-west-1"}


def test_exports_never_carry_ops_credentials_and_secrets_stay_masked(tmp_path: Path) -> None:
    runbook = make_runbook(
        tmp_path,
        step(
            "set",
            'export SLACK_WEBHOOK=x LEAK="$SLACK_BOT_TOKEN" DB="$OPS_DATABASE_URL"\n'
            'export COPY="$ADMIN_TOKEN" OK=1',
        )
        + step("use", 'echo "${SLACK_WEBHOOK:-unset} ${LEAK:-unset} ${DB:-unset} $OK"'),
        "secrets: [ADMIN_TOKEN]\n",
    )
    env = {
        "SLACK_BOT_TOKEN": "xoxb-ops-own",
        "OPS_DATABASE_URL": "postgres://ops:pw@db/ops",
        "ADMIN_TOKEN": "s3cr3t-admin",
    }
    record = start_run(runbook, RunOptions(), world(tmp_path, env=env))
    assert record.variables == {"LEAK": "", "DB": "", "COPY": "***", "OK": "1"}
    assert outputs(record)[1] == ("use", "succeeded", "unset unset unset 1\n")
    stored = "".join(p.read_text() for p in (tmp_path / "state").rglob("*") if p.is_file())
    assert record.run_id in stored
    assert "s3cr3t-admin" not in stored and "xoxb-ops-own" not in stored


BACKGROUND = "echo $$ > bg.pid\nexec sleep 300"
WAIT_FOR_PID = "for i in $(seq 100); do test -s bg.pid && break; sleep 0.05; done\n"


@pytest.mark.parametrize("last", ["true", "false"], ids=["run succeeds", "run fails"])
def test_a_background_step_runs_beside_the_run_and_is_stopped_when_it_ends(
    tmp_path: Path, last: str
) -> None:
    runbook = make_runbook(
        tmp_path,
        step("serve", BACKGROUND, background="true", cwd=str(tmp_path))
        + step("check", WAIT_FOR_PID + 'kill -0 "$(cat bg.pid)" && echo running', cwd=str(tmp_path))
        + step("last", last),
    )
    record = start_run(runbook, RunOptions(), world(tmp_path))
    pid = int((tmp_path / "bg.pid").read_text())
    assert not alive(pid)
    document = run_document(record)
    assert [(s["name"], s["status"]) for s in document["steps"]] == [
        ("serve", "succeeded"),
        ("check", "succeeded"),
        ("last", "succeeded" if last == "true" else "failed"),
    ]
    assert document["steps"][0]["message"] == (
        "running in the background until the run ends; stopped at the end of the run"
    )
    assert document["steps"][1]["output"] == "running\n"
    assert record.steps["serve"].pgid is None


def test_sigterm_stops_the_run_and_its_background_steps(
    tmp_path: Path, stopped_at_teardown: Callable[[Popen[str]], Popen[str]]
) -> None:
    path = tmp_path / "rb.md"
    path.write_text(
        "---\ntitle: T\nowner: team\n---\n"
        + step("serve", BACKGROUND, background="true", cwd=str(tmp_path))
        + step("wait", WAIT_FOR_PID + "touch waiting\nsleep 300", cwd=str(tmp_path))
    )
    ops = stopped_at_teardown(
        subprocess.Popen(
            [
                *(sys.executable, "-m", "ops_toolkit", "runbook", "run", str(path), "--json"),
                *("--non-interactive", "--state-dir", str(tmp_path / "state")),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    )
    for _ in range(400):
        if (tmp_path / "waiting").exists() or ops.poll() is not None:
            break
        time.sleep(0.05)
    assert (tmp_path / "waiting").exists(), ops.communicate()
    pid = int((tmp_path / "bg.pid").read_text())
    ops.send_signal(signal.SIGTERM)
    stdout, stderr = ops.communicate(timeout=60)
    assert ops.returncode == 128 + signal.SIGTERM, stderr  # 143, as shells report it
    assert json.loads(stdout)["status"] == "aborted"
    assert not alive(pid)


def test_show_dry_run_and_lint_say_a_step_runs_in_the_background(tmp_path: Path) -> None:
    runbook = make_runbook(tmp_path, step("serve", "sleep 300", background="true"))
    planned = dry_run(runbook, RunOptions(), world(tmp_path))
    assert planned[0].action == (
        "start in the background with sh -e -c <script> in .; stopped when the run ends"
    )
    assert [f.message for f in lint_runbook(runbook)] == [
        "step 'serve': runs in the background: the run goes on at once, and stops it when it ends"
    ]
    console = Console(width=200, record=True, color_system=None)
    for part in show_renderables(runbook):
        console.print(part)
    assert "background: the run goes on at once and stops it when it ends" in console.export_text()


PROMPTED = 'export INDEX_NAME="docs-v2"\necho "index: $INDEX_NAME"'


def test_prompt_env_asks_at_a_terminal_and_the_answer_arrives_as_a_variable(
    tmp_path: Path,
) -> None:
    runbook = make_runbook(tmp_path, step("index", PROMPTED, promptEnv="yes", cwd=str(tmp_path)))
    ui = ScriptedUI(interactive=True, param_answers={"INDEX_NAME": "$(touch PWNED)"})
    record = start_run(runbook, RunOptions(), world(tmp_path, ui))
    assert outputs(record) == [("index", "succeeded", "index: $(touch PWNED)\n")]
    assert not (tmp_path / "PWNED").exists()
    assert record.variables == {"INDEX_NAME": "$(touch PWNED)"}


def test_prompt_env_keeps_a_variable_that_is_set(tmp_path: Path) -> None:
    runbook = make_runbook(tmp_path, step("index", PROMPTED, promptEnv="auto"))
    record = start_run(runbook, RunOptions(), world(tmp_path, env={"INDEX_NAME": "docs-v9"}))
    assert outputs(record) == [("index", "succeeded", "index: docs-v9\n")]


def test_prompt_env_refuses_unattended_when_the_variable_is_unset(tmp_path: Path) -> None:
    runbook = make_runbook(tmp_path, step("index", PROMPTED, promptEnv="true"))
    record = start_run(runbook, RunOptions(), world(tmp_path))
    document = run_document(record)
    assert (document["status"], document["steps"][0]["status"]) == ("failed", "failed")
    assert document["steps"][0]["message"] == (
        "asks for INDEX_NAME (promptEnv) but no one is at a terminal; set INDEX_NAME in the "
        "environment, or run it at a terminal"
    )


def test_skip_prompts_in_the_front_matter_runs_the_export_as_written(tmp_path: Path) -> None:
    runbook = make_runbook(
        tmp_path, step("index", PROMPTED, promptEnv="true"), "skipPrompts: true\n"
    )
    record = start_run(runbook, RunOptions(), world(tmp_path))
    assert outputs(record) == [("index", "succeeded", "index: docs-v2\n")]


def test_a_step_that_cannot_export_runs_without_the_exit_trap(tmp_path: Path) -> None:
    # The trap's `env -0` is a fork and an exec per step: only a script that could export
    # anything pays for it (issue 15).
    runbook = make_runbook(
        tmp_path,
        step("plain", "trap -p EXIT", kind="bash")
        + step("assigns", "X=1; trap -p EXIT | grep -c 'env -0'", kind="bash"),
    )
    record = start_run(runbook, RunOptions(), world(tmp_path))
    assert outputs(record) == [("plain", "succeeded", ""), ("assigns", "succeeded", "1\n")]


def test_exports_by_sourcing_defaulting_or_reassigning_reach_later_steps(tmp_path: Path) -> None:
    (tmp_path / "env.sh").write_text("export SOURCED=yes\n")
    runbook = make_runbook(
        tmp_path,
        step("source", ". ./env.sh", cwd=".")
        + step("default", ': "${GREETING:=hello}"')
        + step("reassign", 'HOME="$HOME/sub"')
        + step("use", 'echo "$SOURCED $GREETING $HOME"'),
    )
    env = {"HOME": str(tmp_path), "GREETING": ""}
    record = start_run(runbook, RunOptions(), world(tmp_path, env=env))
    assert outputs(record)[3] == ("use", "succeeded", f"yes hello {tmp_path}/sub\n")


def test_carrying_exports_adds_nothing_to_a_steps_environment(tmp_path: Path) -> None:
    runbook = make_runbook(tmp_path, step("names", "env | cut -d= -f1 | grep '^OPS_' | sort"))
    record = start_run(runbook, RunOptions(), world(tmp_path))
    assert outputs(record) == [("names", "succeeded", "OPS_RUNBOOK\nOPS_RUN_ID\nOPS_STEP\n")]


@pytest.mark.parametrize(
    ("shell", "script", "env", "expected"),
    [
        pytest.param("sh", "true", {}, False, id="a bare command cannot export"),
        pytest.param("bash", "kubectl rollout status deploy/api", {}, False, id="nor a command"),
        pytest.param("sh", "./deploy.sh && cd ..", {}, False, id="nor running a script"),
        pytest.param("sh", "export A=1", {}, True, id="export does"),
        pytest.param("sh", "A=1", {}, True, id="an assignment may change an exported name"),
        pytest.param("sh", ". ./env.sh", {}, True, id="sourcing with a dot does"),
        pytest.param("bash", "source env.sh", {}, True, id="sourcing by name does"),
        pytest.param("bash", "((COUNT++))", {}, True, id="arithmetic does"),
        pytest.param("bash", "read LINE < file", {}, True, id="read does"),
        pytest.param("bash", 'eval "$CODE"', {}, True, id="eval does"),
        pytest.param("/bin/bash", "true", {"BASH_ENV": "/etc/x"}, True, id="a startup file does"),
        pytest.param("zsh", "true", {}, True, id="an unknown shell always may"),
    ],
)
def test_which_scripts_may_change_their_environment(
    shell: str, script: str, env: dict[str, str], expected: bool
) -> None:
    assert may_change_environment(shell, script, env) is expected


def test_a_background_steps_log_is_masked_like_every_other_output(tmp_path: Path) -> None:
    secret = "s3cr3t-token-value"
    # the secret arrives in two writes, a second apart, so it spans two reads of the pipe
    code = f"printf %s 'token={secret[:6]}'; sleep 0.3; printf '%s\\n' '{secret[6:]} done'\nexec sleep 300"
    runbook = make_runbook(
        tmp_path,
        step("serve", code, background="true") + step("wait", "sleep 1"),
        front="secrets: [API_TOKEN]\n",
    )
    record = start_run(runbook, RunOptions(), world(tmp_path, env={"API_TOKEN": secret}))
    output = run_document(record)["steps"][0]["output"]
    log = output.split("output in ")[1].strip()
    assert Path(log).read_text() == "token=*** done\n"


def test_a_background_steps_log_is_kept_beside_its_run_not_in_tmp(tmp_path: Path) -> None:
    """Was: /tmp/ops-<step>-*.log, left behind after the run with no one to remove it."""
    runbook = make_runbook(
        tmp_path,
        step("serve/port", "echo serving\nexec sleep 300", background="true")
        + step("wait", "sleep 0.3"),
    )
    record = start_run(runbook, RunOptions(), world(tmp_path))
    log = tmp_path / "state" / "runs" / f"{record.run_id}.serve_port.log"
    assert run_document(record)["steps"][0]["output"].endswith(f"; output in {log}\n")
    assert log.read_text() == "serving\n"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
