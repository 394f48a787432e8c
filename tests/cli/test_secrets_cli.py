"""Nothing ``ops runbook`` prints holds a secret: the live console, dry runs, ops's credentials."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from ops_toolkit.cli.terminal import TerminalUI
from ops_toolkit.runbook.parse import parse_runbook
from tests.cli.test_run_cli import FENCE, ops, write_runbook

BOT_TOKEN = "xoxb-cli-bot-token"
WEBHOOK_TOKEN = "webhook-cli-token"


def test_the_live_console_masks_a_secret_split_across_two_reads(tmp_path: Path) -> None:
    path = write_runbook(
        tmp_path,
        f'{FENCE}sh {{"name":"split"}}\nprintf first; sleep 0.5; printf rest; echo " done"\n{FENCE}\n',
        "secrets: [PW]\n",
    )
    result = ops(
        "runbook", "run", str(path), "--state-dir", str(tmp_path / "s"), env={"PW": "firstrest"}
    )
    assert result.returncode == 0, result.stderr
    assert "*** done" in result.stdout
    assert "firstrest" not in result.stdout + result.stderr


def test_steps_at_the_cli_never_see_ops_credentials_and_cannot_print_them(tmp_path: Path) -> None:
    code = (
        'echo "bot=${SLACK_BOT_TOKEN:-unset} hook=${OPS_WEBHOOK_TOKEN:-unset} home=${HOME:+set}"\n'
        "tr '\\0' '\\n' < /proc/$PPID/environ | grep -E '^(SLACK_BOT|OPS_WEBHOOK)_TOKEN=' | sort\n"
        "printf %s \"$(tr '\\0' '\\n' < /proc/$PPID/environ | sed -n 's/^SLACK_BOT_TOKEN=//p')\""
        " | base64"
    )
    path = write_runbook(tmp_path, f'{FENCE}sh {{"name":"leak"}}\n{code}\n{FENCE}\n')
    report = tmp_path / "report.md"
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "OPS_WEBHOOK_TOKEN": WEBHOOK_TOKEN}
    state = tmp_path / "s"
    result = ops(
        "runbook", "run", str(path), "--state-dir", str(state), "--report", str(report), env=env
    )
    assert result.returncode == 0, result.stderr
    expected = "bot=unset hook=unset home=set\nOPS_WEBHOOK_TOKEN=***\nSLACK_BOT_TOKEN=***\n***\n"
    assert expected in result.stdout
    as_json = ops("runbook", "run", str(path), "--state-dir", str(state), "--json", env=env)
    assert json.loads(as_json.stdout)["steps"][0]["output"] == expected
    run_id = json.loads(as_json.stdout)["run_id"]
    shown = ops("runbook", "runs", run_id, "--json", "--state-dir", str(state))
    stored = "".join(p.read_text() for p in state.rglob("*") if p.is_file())
    for text in (result.stdout, result.stderr, as_json.stdout, shown.stdout, stored):
        assert BOT_TOKEN not in text and WEBHOOK_TOKEN not in text
    assert BOT_TOKEN not in report.read_text()


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_dry_run_never_prints_a_secret_param_substituted_into_a_query(
    tmp_path: Path, as_json: bool
) -> None:
    path = write_runbook(
        tmp_path,
        f'{FENCE}promql {{"name":"q"}}\nup{{token="$PW"}}\n{FENCE}\n',
        "params:\n  PW: {secret: true, pattern: '^[a-z0-9-]+$'}\n",
    )
    result = ops(
        "runbook", "run", str(path), "--dry-run", *(["--json"] if as_json else []),
        env={"PW": "hunter2-secret"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "hunter2-secret" not in result.stdout
    if as_json:
        (planned,) = json.loads(result.stdout)["steps"]
        assert planned["action"] == 'query Prometheus: up{token="***"}'
        assert planned["env"] == {"PW": "***"}
    else:
        assert result.stdout == (
            '1. q [promql] would run\n   query Prometheus: up{token="***"}\n   PW=***\n'
        )


def test_end_of_input_at_a_prompt_stops_the_run_like_ctrl_c(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runbook = parse_runbook(f'---\ntitle: t\n---\n{FENCE}sh {{"name":"a"}}\ntrue\n{FENCE}\n', "t")
    ui = TerminalUI(Console(file=io.StringIO()), io.StringIO(), interactive=True)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(KeyboardInterrupt):
        ui.confirm(runbook.steps[0], "Run step 'a'?")
