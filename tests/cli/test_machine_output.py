"""A newcomer's papercuts on the CLI's machine-readable output: ``-o json`` wherever a
command says what it did, one form of time in JSON, tables with their header, messages that
say why (each was found by trying, and failed before its fix)."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.serve.escalations import Escalations, ref_of
from ops_toolkit.serve.store import Planned, Store
from tests.cli.escalations import ONCALL, T0, a_store_with_one_escalation
from tests.cli.test_run_cli import FENCE, write_runbook
from tests.conftest import ROOT

SLOS = str(ROOT / "slos")


# -- ops runbook run / resume ---------------------------------------------------------------


@pytest.mark.parametrize("flag", [["-o", "json"], ["--output", "json"], ["--json"]])
def test_runbook_run_takes_dash_o_json_as_every_command_does(
    tmp_path: Path, runner: CliRunner, flag: list[str]
) -> None:
    """Was: ``ops runbook run -o json`` -> "No such option: -o"."""
    path = write_runbook(tmp_path, f'{FENCE}sh {{"name":"hello"}}\necho hi\n{FENCE}\n')
    result = runner.invoke(
        main, ["runbook", "run", str(path), *flag, "--state-dir", str(tmp_path / "state")]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["status"], document["steps"][0]["output"]) == ("succeeded", "hi\n")


def test_runbook_run_dash_o_table_is_the_terminal_view(tmp_path: Path, runner: CliRunner) -> None:
    path = write_runbook(tmp_path, f'{FENCE}sh {{"name":"hello"}}\necho hi\n{FENCE}\n')
    args = ["runbook", "run", str(path), "--state-dir", str(tmp_path / "state")]
    table = runner.invoke(main, [*args, "-o", "table"])
    assert table.exit_code == 0, table.output
    assert not table.stdout.lstrip().startswith("{")
    both = runner.invoke(main, [*args, "-o", "table", "--json"])
    assert both.exit_code == 2
    assert both.stderr.endswith("Error: --json means -o json: give one of them, not -o table\n")


def test_runbook_resume_takes_dash_o_json(tmp_path: Path, runner: CliRunner) -> None:
    path = write_runbook(tmp_path, f'{FENCE}sh {{"name":"hello"}}\necho hi\n{FENCE}\n')
    state = ["--state-dir", str(tmp_path / "state")]
    run = json.loads(runner.invoke(main, ["runbook", "run", str(path), "--json", *state]).stdout)
    resumed = runner.invoke(main, ["runbook", "resume", run["run_id"], "-o", "json", *state])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["run_id"] == run["run_id"]


# -- ops escalation ---------------------------------------------------------------------------


def escalation_setup(tmp_path: Path) -> tuple[list[str], Escalations]:
    state = tmp_path / "state.db"
    config = tmp_path / "ops.yaml"
    config.write_text(f"serve: {{state: {state}}}\noncall: {ONCALL}\n")
    return ["--config", str(config)], a_store_with_one_escalation(state)


def test_escalation_list_json_gives_due_at_in_iso_8601_utc(
    tmp_path: Path, runner: CliRunner
) -> None:
    """Was a unix float (1780000000.0)."""
    common, _ = escalation_setup(tmp_path)
    (row,) = json.loads(runner.invoke(main, ["escalation", "list", "-o", "json", *common]).stdout)
    assert row["due_at"] == "2026-05-28T20:26:40Z"  # T0


def test_escalation_list_table_has_a_header_row(tmp_path: Path, runner: CliRunner) -> None:
    common, _ = escalation_setup(tmp_path)
    result = runner.invoke(main, ["escalation", "list", *common])
    ref = ref_of("g1", "#search-oncall")
    assert result.stdout.splitlines() == [
        "ref           status       alert                            channel            "
        "next page (UTC)  (last action)",
        f"{ref}  active       SearchErrors                     #search-oncall     "
        "tier 1 at 20:26:40",
    ]


@pytest.mark.parametrize(
    ("action", "status", "message"),
    [
        ("ack", "acknowledged", "Acknowledged by {user} at "),
        ("resolve", "resolved", "Resolved by {user} at "),
        ("escalate", "active", "Escalated by {user} at "),
    ],
)
def test_escalation_actions_take_dash_o_json(
    tmp_path: Path, runner: CliRunner, action: str, status: str, message: str
) -> None:
    common, _ = escalation_setup(tmp_path)
    ref = ref_of("g1", "#search-oncall")
    result = runner.invoke(main, ["escalation", action, ref, "-o", "json", *common])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["message"].startswith(message.format(user=getpass.getuser()))
    assert {k: v for k, v in document.items() if k != "message"} == {
        "ref": ref,
        "action": action,
        "changed": True,
        "status": status,
    }


def test_a_tier_paged_by_hand_says_who_escalated_it(tmp_path: Path, runner: CliRunner) -> None:
    """Was: after 'ops escalation escalate REF' the tier-2 page said "nobody acknowledged
    tier 1", though someone had just escalated it by hand (after acknowledging, even)."""
    common, escalations = escalation_setup(tmp_path)
    ref = ref_of("g1", "#search-oncall")
    escalations.store.enqueue([Planned("g1", "#search-oncall", "post", {"text": "FIRING"})], T0)
    escalations.tick(T0)  # tier 1 pages
    assert runner.invoke(main, ["escalation", "escalate", ref, *common]).exit_code == 0
    escalated = escalations.get(ref)
    assert escalated is not None and escalated.timeline.due_at is not None
    escalations.tick(escalated.timeline.due_at)  # the action's own time (the CLI's clock)
    pages = [
        e.message["text"]
        for e in escalations.store.entries(None)
        if e.action == "reply" and ":rotating_light:" in e.message["text"]
    ]
    assert len(pages) == 2, pages
    tier_two = [p for p in pages if "tier 2 of 3" in p]
    assert len(tier_two) == 1, pages
    assert tier_two[0].endswith(f": tier 2 of 3, escalated by hand by {getpass.getuser()}.")
    assert "nobody acknowledged" not in tier_two[0]


def test_a_tier_due_by_the_policy_still_says_nobody_acknowledged(tmp_path: Path) -> None:
    _, escalations = escalation_setup(tmp_path)
    escalations.store.enqueue([Planned("g1", "#search-oncall", "post", {"text": "FIRING"})], T0)
    escalations.tick(T0 + 600)
    texts = [e.message["text"] for e in escalations.store.entries(None) if e.action == "reply"]
    assert any(t.endswith(": tier 2 of 3, nobody acknowledged tier 1.") for t in texts), texts


# -- ops outbox retry -----------------------------------------------------------------------


def test_outbox_retry_takes_dash_o_json(tmp_path: Path, runner: CliRunner) -> None:
    state = tmp_path / "state.db"
    store = Store(str(state))
    store.enqueue([Planned("g", "#alerts", "post", {"text": "x"})], T0)
    store.close()
    result = runner.invoke(main, ["outbox", "retry", "1", "7", "-o", "json", "--state", str(state)])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "requeued": 0,
        "not_requeued": [
            {
                "id": 1,
                "reason": "entry 1: pending, not dead: it is still being delivered; nothing to "
                "re-queue",
            },
            {"id": 7, "reason": "entry 7: no such entry (ops outbox list shows the ids)"},
        ],
    }


# -- ops slo convert ------------------------------------------------------------------------


def test_slo_convert_takes_dash_o_json(tmp_path: Path, runner: CliRunner) -> None:
    source = f"{SLOS}/search.yaml"
    printed = runner.invoke(main, ["slo", "convert", source, "--to", "openslo", "-o", "json"])
    assert printed.exit_code == 0, printed.output
    document = json.loads(printed.stdout)
    plain = runner.invoke(main, ["slo", "convert", source, "--to", "openslo"]).stdout
    (entry,) = document["files"]
    assert (document["to"], entry["service"], entry["path"], entry["text"]) == (
        "openslo",
        "search",
        None,
        plain,
    )
    assert document["warnings"] == [
        line.removeprefix("Warning: ") for line in printed.stderr.splitlines()
    ]
    written = runner.invoke(
        main, ["slo", "convert", source, "--to", "ops", "--dir", str(tmp_path), "--json"]
    )
    assert written.exit_code == 0, written.output
    assert json.loads(written.stdout)["files"] == [
        {"source": source, "service": "search", "path": str(tmp_path / "search.yaml")}
    ]


# -- ops rollout rollback -------------------------------------------------------------------


def test_rollout_rollback_takes_dash_o_json(
    tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "open.md").write_text(
        '---\nparams:\n  STAGE: {required: true, pattern: "^[a-z-]+$"}\n---\n# Open\n\n'
        f'{FENCE}sh {{"name":"write-access"}}\necho "stage=$STAGE" >> access.conf\n{FENCE}\n'
    )
    (tmp_path / "rollouts").mkdir()
    (tmp_path / "rollouts" / "search.yaml").write_text(
        "version: ops/v1\nkind: Rollout\nservice: search\nchannel: '#search-rollout'\n"
        "stages:\n  - name: pilot\n    runbook: {name: open, params: {STAGE: pilot}}\n"
        "    rollback: {name: open, params: {STAGE: closed}}\n    checks: []\n"
    )
    (tmp_path / "ops.yaml").write_text(
        f"serve: {{state: {tmp_path / 'state.db'}, messages: {tmp_path / 'messages.jsonl'}}}\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPS_STATE_DIR", str(tmp_path / "runs"))
    advanced = runner.invoke(main, ["rollout", "advance", "search", "--non-interactive", "--json"])
    assert advanced.exit_code == 0, advanced.output
    assert json.loads(advanced.stdout)["advanced"]  # the console's milestone on stderr
    back = runner.invoke(main, ["rollout", "rollback", "search", "--non-interactive", "-o", "json"])
    assert back.exit_code == 0, back.output
    document = json.loads(back.stdout)
    assert (document["plan"], document["rolled_back"], document["run"]["status"]) == (
        "search",
        True,
        "succeeded",
    )
    assert (tmp_path / "access.conf").read_text() == "stage=pilot\nstage=closed\n"


# -- ops oncall -----------------------------------------------------------------------------


def oncall_override(runner: CliRunner, state: str, *extra: str) -> tuple[int, str]:
    result = runner.invoke(
        main,
        [
            *("oncall", "override", "search-primary", "--user", "U0COVER001"),
            *("--from", "2026-03-28T18:00", "--to", "2026-03-29T18:00"),
            *("--oncall", ONCALL, "--state", state, *extra),
        ],
    )
    return result.exit_code, result.stdout


def test_oncall_override_takes_dash_o_json_and_overrides_are_listed_with_ids(
    tmp_path: Path, runner: CliRunner
) -> None:
    """Was: no way to see an override's id (what --remove takes) short of reading the
    database."""
    state = str(tmp_path / "state.db")
    code, output = oncall_override(runner, state, "-o", "json")
    assert (code, json.loads(output)) == (
        0,
        {
            "id": 1,
            "schedule": "search-primary",
            "user": "U0COVER001",
            "start": "2026-03-28T17:00:00Z",
            "end": "2026-03-29T16:00:00Z",
        },
    )
    common = ["--oncall", ONCALL, "--state", state]
    # the listing shows overrides not yet over: this one is over by the wall clock's now, so
    # one far ahead is added too (2999: ahead at any hour the tests run)
    later = runner.invoke(
        main,
        [
            *("oncall", "override", "search-secondary", "--user", "lead@example.com"),
            *("--from", "2999-01-01T09:00", "--to", "2999-01-02T09:00", *common),
        ],
    )
    assert later.exit_code == 0, later.output
    listed = runner.invoke(main, ["oncall", "overrides", "-o", "json", *common])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == [
        {
            "id": 2,
            "schedule": "search-secondary",
            "user": "lead@example.com",
            "start": "2999-01-01T08:00:00Z",
            "end": "2999-01-02T08:00:00Z",
            "created_by": f"cli:{getpass.getuser()}",
        }
    ]
    table = runner.invoke(main, ["oncall", "override", "--list", *common])
    assert table.stdout == (
        "   2  search-secondary: lead@example.com from 2999-01-01 09:00 CET to "
        f"2999-01-02 09:00 CET (by cli:{getpass.getuser()})\n"
    )
    assert runner.invoke(main, ["oncall", "overrides", "search-primary", *common]).stdout == ""
    removed = runner.invoke(main, ["oncall", "override", "--remove", "2", "-o", "json", *common])
    assert json.loads(removed.stdout) == {"removed": 2, "schedule": "search-secondary"}
    assert json.loads(runner.invoke(main, ["oncall", "overrides", "--json", *common]).stdout) == []


def test_oncall_list_json_gives_every_time_in_utc(tmp_path: Path, runner: CliRunner) -> None:
    """Was: the rotation's shifts came with +01:00/+02:00, an override's with +00:00."""
    state = str(tmp_path / "state.db")
    assert oncall_override(runner, state)[0] == 0
    result = runner.invoke(
        main,
        [
            *("oncall", "list", "search-primary", "--from", "2026-03-27T09:00"),
            *("--to", "2026-03-31T09:00", "-o", "json", "--oncall", ONCALL, "--state", state),
        ],
    )
    assert result.exit_code == 0, result.output
    (schedule,) = json.loads(result.stdout)
    assert schedule["shifts"] == [
        {"start": "2026-03-27T08:00:00Z", "end": "2026-03-28T17:00:00Z", "user": "U0SEARCH03"},
        {"start": "2026-03-28T17:00:00Z", "end": "2026-03-29T16:00:00Z", "user": "U0COVER001"},
        {"start": "2026-03-29T16:00:00Z", "end": "2026-03-30T07:00:00Z", "user": "U0SEARCH03"},
        {"start": "2026-03-30T07:00:00Z", "end": "2026-03-31T07:00:00Z", "user": "U0SEARCH01"},
    ]


# -- ops check ------------------------------------------------------------------------------


def test_ops_check_says_a_runbooks_level_once(
    tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was: ``warning: runbooks/secrets.md:1: warning: no owner; ...``."""
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "secrets.md").write_text(
        f'---\ntitle: Secrets\n---\n# Secrets\n\n{FENCE}sh {{"name":"a"}}\ntrue\n{FENCE}\n'
    )
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["check"])
    assert "warning: runbooks/secrets.md:1: no owner; add 'owner:' so escalations reach a team" in (
        result.stdout.splitlines()
    )
    document = json.loads(runner.invoke(main, ["check", "-o", "json"]).stdout)
    assert {
        "level": "warning",
        "part": "runbooks",
        "message": "runbooks/secrets.md:1: no owner; add 'owner:' so escalations reach a team",
    } in document["problems"]
