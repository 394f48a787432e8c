"""One output option everywhere (``-o, --output FORMAT``, ``--json``, ``--format``) and
tables that stay readable at 80 columns, through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.serve.store import Planned, Store
from tests.cli.escalations import ONCALL, a_store_with_one_escalation
from tests.conftest import ROOT

RUNBOOKS = str(ROOT / "runbooks")
SLOS = str(ROOT / "slos")
NARROW = {"COLUMNS": "80"}


@pytest.mark.parametrize(
    "args",
    [
        ["runbook", "list", RUNBOOKS],
        ["runbook", "show", f"{RUNBOOKS}/search-errors.md"],
        ["slo", "validate", SLOS],
    ],
    ids=["runbook list", "runbook show", "slo validate"],
)
def test_json_output_and_format_are_one_option(args: list[str], runner: CliRunner) -> None:
    documents = [
        runner.invoke(main, [*args, *flag]).stdout
        for flag in (["--json"], ["-o", "json"], ["--output", "json"], ["--format", "json"])
    ]
    assert len(set(documents)) == 1
    assert json.loads(documents[0])
    as_yaml = runner.invoke(main, [*args, "-o", "yaml"])
    assert as_yaml.exit_code == 0, as_yaml.output
    assert yaml.safe_load(as_yaml.stdout) == json.loads(documents[0])


def test_json_with_another_output_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(main, ["runbook", "list", RUNBOOKS, "--json", "-o", "yaml"])
    assert result.exit_code == 2
    assert result.stderr.endswith("Error: --json means -o json: give one of them, not -o yaml\n")


def test_a_format_a_command_has_not_is_refused_naming_those_it_has(runner: CliRunner) -> None:
    result = runner.invoke(main, ["runbook", "show", "search-errors", "-o", "html"])
    assert result.exit_code == 2
    assert result.stderr.endswith(
        "Error: Invalid value for '-o' / '--output' / '--format': 'html' is not one of "
        "'table', 'json', 'yaml'.\n"
    )


def test_help_shows_the_output_option_once(runner: CliRunner) -> None:
    result = runner.invoke(main, ["outbox", "list", "--help"], env={"COLUMNS": "100"})
    assert (
        "  -o, --output, --format FORMAT   Output format: table, wide, json, yaml\n"
        "                                  [default: table].\n"
        "  --json                          Shorthand for -o json.\n"
    ) in result.output
    assert "  --json" in result.output


def test_check_and_routes_test_take_yaml(runner: CliRunner) -> None:
    routes = runner.invoke(main, ["routes", "test", "service=search", "-o", "yaml"])
    assert routes.exit_code == 0, routes.output
    assert isinstance(yaml.safe_load(routes.stdout), list)
    check = runner.invoke(main, ["check", "-o", "yaml"])
    assert set(yaml.safe_load(check.stdout)) == {"errors", "warnings", "checked", "problems"}


def test_slo_rules_takes_its_folder_as_dir(tmp_path: Path, runner: CliRunner) -> None:
    target = tmp_path / "rules"
    written = runner.invoke(main, ["slo", "rules", SLOS, "--dir", str(target)])
    assert written.exit_code == 0, written.output
    assert (target / "search.rules.yaml").exists()
    checked = runner.invoke(main, ["slo", "rules", SLOS, "--dir", str(target), "--check"])
    assert checked.exit_code == 0, checked.output


def test_slo_rules_dash_o_is_a_deprecated_folder_never_a_format(
    tmp_path: Path, runner: CliRunner
) -> None:
    target = tmp_path / "old"
    old = runner.invoke(main, ["slo", "rules", SLOS, "-o", str(target)])
    assert old.exit_code == 0, old.output
    assert old.stderr == f"warning: -o/--output DIR is deprecated here: use --dir {target}\n"
    assert (target / "search.rules.yaml").exists()
    as_format = runner.invoke(main, ["slo", "rules", SLOS, "-o", "json"])
    assert as_format.exit_code == 2
    assert as_format.stderr.endswith(
        "Error: 'ops slo rules' writes files: give their folder with --dir DIR (-o json is an "
        "output format, which rules have not; --json prints what was written)\n"
    )
    assert not Path("json").exists()


def _fits(text: str, width: int = 80) -> None:
    too_wide = [line for line in text.splitlines() if len(line) > width]
    assert not too_wide, too_wide
    assert "…" not in text


def test_runbook_list_at_80_columns_keeps_names_whole(runner: CliRunner) -> None:
    result = runner.invoke(main, ["runbook", "list", RUNBOOKS], env=NARROW)
    assert result.exit_code == 0, result.output
    _fits(result.stdout)
    for name in ("add-document-source", "restart-after-outage", "team-search-quality"):
        assert f"│ {name} " in result.stdout
    assert result.stderr == "(80 columns: alerts, steps not shown; -o wide shows all)\n"
    wide = runner.invoke(main, ["runbook", "list", RUNBOOKS, "-o", "wide"], env=NARROW)
    assert "┃ name" in wide.stdout and "┃ alerts" in wide.stdout and wide.stderr == ""


def _one_run(tmp_path: Path, runner: CliRunner) -> tuple[str, str]:
    path = tmp_path / "hello.md"
    path.write_text(
        '---\ntitle: Hello\n---\n```sh {"name":"greet"}\necho "hi"\n```\n', encoding="utf-8"
    )
    state = str(tmp_path / "state")
    ran = runner.invoke(main, ["runbook", "run", str(path), "--json", "--state-dir", state])
    assert ran.exit_code == 0, ran.output
    return state, str(json.loads(ran.stdout)["run_id"])


def test_runbook_runs_at_80_columns_never_cuts_the_id_and_says_where_it_looked(
    tmp_path: Path, runner: CliRunner
) -> None:
    state, run_id = _one_run(tmp_path, runner)
    result = runner.invoke(main, ["runbook", "runs"], env={**NARROW, "OPS_STATE_DIR": state})
    assert result.exit_code == 0, result.output
    _fits(result.stdout)
    assert f"│ {run_id} │" in result.stdout
    assert result.stderr == (
        "(80 columns: finished, who, started not shown; -o wide shows all)\n"
        f"1 run(s) in {state} (from OPS_STATE_DIR)\n"
    )
    flag = runner.invoke(main, ["runbook", "runs", "--state-dir", state], env=NARROW)
    assert flag.stderr.endswith(f"1 run(s) in {state} (from --state-dir)\n")
    wide = runner.invoke(main, ["runbook", "runs", "--state-dir", state, "-o", "wide"])
    assert "┃ started" in wide.stdout and "┃ finished" in wide.stdout
    (row,) = yaml.safe_load(
        runner.invoke(main, ["runbook", "runs", "-o", "yaml"], env={"OPS_STATE_DIR": state}).stdout
    )
    assert row["run_id"] == run_id and row["status"] == "succeeded"


def test_runbook_runs_in_an_empty_default_folder_says_how_to_look_elsewhere(
    tmp_path: Path, runner: CliRunner
) -> None:
    result = runner.invoke(
        main, ["runbook", "runs"], env={"OPS_STATE_DIR": None, "XDG_STATE_HOME": str(tmp_path)}
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        f"0 run(s) in {tmp_path}/ops (the default; set OPS_STATE_DIR or --state-dir to look "
        "elsewhere)\n"
    )


def test_outbox_list_at_80_columns_has_a_header_row_and_times(
    tmp_path: Path, runner: CliRunner
) -> None:
    path = str(tmp_path / "state.db")
    store = Store(path)
    (inbox_id,) = store.accept([("{}", 1)], 1796000000.0)
    planned = [
        Planned("g", "#search-oncall", "post", {"text": "[FIRING:1] SearchAvailabilityBudgetBurn"}),
        Planned("g", "#alerts", "post", {"text": "hello"}),
    ]
    store.process(inbox_id, ["k"], planned, 1796000000.0)
    dead = next(e for e in store.entries() if e.channel == "#search-oncall")
    store.kill(dead.id, "Slack chat_postMessage: HTTP 500 internal_error after 5 attempts")
    result = runner.invoke(main, ["outbox", "list", "--state", path], env=NARROW)
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Outbox, newest first\n"
        "┏━━━━┳━━━━━━━━━┳━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┓\n"
        "┃ id ┃ status  ┃ channel        ┃ created (UTC)       ┃ last error             ┃\n"
        "┡━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━┩\n"
        "│  2 │ pending │ #alerts        │ 2026-11-30 00:53:20 │                        │\n"
        "│  1 │ dead    │ #search-oncall │ 2026-11-30 00:53:20 │ Slack                  │\n"
        "│    │         │                │                     │ chat_postMessage: HTTP │\n"
        "│    │         │                │                     │ 500 internal_error     │\n"
        "│    │         │                │                     │ after 5 attempts       │\n"
        "└────┴─────────┴────────────────┴─────────────────────┴────────────────────────┘\n"
    )
    assert result.stderr == (
        "(80 columns: group, action, tries, text not shown; -o wide shows all)\n2 entries\n"
    )
    wide = runner.invoke(main, ["outbox", "list", "--state", path, "-o", "wide"], env=NARROW)
    header = next(line for line in wide.stdout.splitlines() if line.startswith("┃"))
    assert [c.strip() for c in header.strip("┃").split("┃")] == [
        "id",
        "status",
        "action",
        "channel",
        "tries",
        "created (UTC)",
        "group",
        "text",
        "last error",
    ]


def _folder_cases(tmp_path: Path) -> list[tuple[str, str]]:
    """(--dir value, the error after 'Error: --dir VALUE: ') for folders ops cannot write."""
    (tmp_path / "a-file").write_text("")
    return [
        (str(tmp_path / "a-file"), "is a file, not a folder"),
        (
            str(tmp_path / "a-file" / "rules"),
            f"{tmp_path / 'a-file'} is a file, in the way of the folder",
        ),
        ("/sys/ops-rules", "cannot write in /sys: permission denied"),  # refused even to root
    ]


@pytest.mark.parametrize("command", ["rules", "convert"])
def test_an_unwritable_dir_is_refused_in_one_line_before_any_work(
    tmp_path: Path, runner: CliRunner, command: str
) -> None:
    """Before: a traceback from os.makedirs after the SLOs were read and the rules made. The
    SLO file named does not exist: the folder's error comes first, so nothing was read."""
    missing = str(tmp_path / "missing.yaml")
    extra = ["--to", "ops"] if command == "convert" else []
    for folder, reason in _folder_cases(tmp_path):
        result = runner.invoke(main, ["slo", command, missing, *extra, "--dir", folder])
        assert (result.exit_code, result.output) == (1, f"Error: --dir {folder}: {reason}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_rules_refuses_an_inhibit_file_it_could_not_write_before_any_work(
    tmp_path: Path, runner: CliRunner
) -> None:
    (tmp_path / "a-file").write_text("")
    inhibit = tmp_path / "a-file" / "inhibit.yaml"
    args = ["slo", "rules", SLOS, "--dir", str(tmp_path / "rules"), "--inhibit", str(inhibit)]
    result = runner.invoke(main, args)
    assert (result.exit_code, result.output) == (
        1,
        f"Error: --inhibit's folder {inhibit.parent}: is a file, not a folder\n",
    )
    assert not (tmp_path / "rules").exists()


def test_rules_makes_a_dir_that_does_not_exist_yet(tmp_path: Path, runner: CliRunner) -> None:
    target = tmp_path / "new" / "rules"
    result = runner.invoke(main, ["slo", "rules", SLOS, "--dir", str(target)])
    assert result.exit_code == 0, result.output
    assert (target / "search.rules.yaml").exists()
    assert [p.name for p in target.iterdir() if p.name.startswith(".ops-write-check")] == []


def test_rules_refuses_a_legacy_dash_o_folder_beside_dir(tmp_path: Path, runner: CliRunner) -> None:
    # Before, -o won silently: the files went to -o's folder and --dir was ignored.
    legacy, chosen = tmp_path / "legacy", tmp_path / "chosen"
    result = runner.invoke(main, ["slo", "rules", SLOS, "-o", str(legacy), "--dir", str(chosen)])
    assert result.exit_code == 2
    assert f"-o {legacy} and --dir {chosen} both name the folder: keep --dir" in result.output
    assert not legacy.exists() and not chosen.exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "slos-out",
            "-o/--output is an output format in ops, not a folder: give the folder "
            "with --dir slos-out",
        ),
        (
            "yaml",
            "'ops slo convert' writes YAML in the --to format: it has no -o yaml (table or json)",
        ),
    ],
    ids=["a folder", "a format"],
)
def test_convert_no_longer_takes_its_folder_as_dash_o(
    tmp_path: Path, runner: CliRunner, value: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: 'slo convert -o DIR' was the folder, the one command where -o was not a
    format."""
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(
        main, ["slo", "convert", f"{SLOS}/search.yaml", "--to", "openslo", "-o", value]
    )
    assert result.exit_code == 2
    assert result.stderr.endswith(f"Error: {message}\n")
    assert not Path(value).exists()


def test_commands_that_had_json_only_take_the_one_output_option(
    runner: CliRunner, tmp_path: Path
) -> None:
    """``ops escalation list``, ``ops oncall who|list`` and ``ops runbook lint`` had
    ``--json`` only; they take ``-o json|yaml`` (and ``--format``) like every other."""
    oncall = ONCALL
    state = str(tmp_path / "state.db")
    a_store_with_one_escalation(Path(state))
    broken = tmp_path / "broken.md"
    broken.write_text('---\ntitle: x\n---\n```sh {"name":"a","timout":"5s"}\ntrue\n```\n')
    commands = [
        ["escalation", "list", "--state", state, "--config", str(tmp_path / "none.yaml")],
        ["oncall", "who", "search-primary", "--at", "2026-03-29T09:30", "--oncall", oncall],
        ["oncall", "list", "search-primary", "--from", "2026-03-23", "--oncall", oncall],
        ["runbook", "lint", str(broken)],
    ]
    for args in commands:
        if args[0] == "escalation":
            (tmp_path / "none.yaml").write_text("")
        documents = [
            runner.invoke(main, [*args, *flag]).stdout
            for flag in (["--json"], ["-o", "json"], ["--output", "json"], ["--format", "json"])
        ]
        assert len(set(documents)) == 1, args
        assert json.loads(documents[0]), args
        as_yaml = runner.invoke(main, [*args, "-o", "yaml"])
        assert yaml.safe_load(as_yaml.stdout) == json.loads(documents[0]), args
        refused = runner.invoke(main, [*args, "-o", "html"])
        assert refused.exit_code == 2, args


@pytest.mark.parametrize("command", ["correct", "gate", "report"])
def test_slo_commands_read_ops_yaml_through_the_shared_config_option(command: str) -> None:
    """'slo correct', 'gate' and 'report' declared --config by hand; now the one option."""
    from ops_toolkit.cli.slo import slo

    (option,) = [p for p in slo.commands[command].params if p.name == "config_path"]
    assert option.opts == ["--config"]
    assert option.help == "ops.yaml (env OPS_CONFIG; default: ./ops.yaml when present)."  # type: ignore[attr-defined]


FORMAT_FLAGS = (["--json"], ["-o", "json"], ["--output", "json"], ["--format", "json"])


def test_runbook_audit_takes_the_one_output_option(tmp_path: Path, runner: CliRunner) -> None:
    """'ops runbook audit' had --json only."""
    from ops_toolkit.runbook.execute import RunOptions, start_run
    from tests.runbook.test_execute import make_runbook, step, world

    state = tmp_path / "state"
    record = start_run(make_runbook(tmp_path, step("a", "true")), RunOptions(), world(tmp_path))
    args = ["runbook", "audit", record.run_id, "--state-dir", str(state)]
    documents = [runner.invoke(main, [*args, *flag]).stdout for flag in FORMAT_FLAGS]
    assert len(set(documents)) == 1
    events = json.loads(documents[0])
    assert [e["event"] for e in events] == ["run_started", "step_finished", "run_finished"]
    as_yaml = runner.invoke(main, [*args, "-o", "yaml"])
    assert (as_yaml.exit_code, yaml.safe_load(as_yaml.stdout)) == (0, events)
    table = runner.invoke(main, [*args, "-o", "table"])
    assert f"{record.run_id}  step_finished  a  succeeded" in table.stdout.splitlines()[1]
    refused = runner.invoke(main, [*args, "-o", "html"])
    assert refused.exit_code == 2
    assert refused.stderr.endswith(
        "Error: Invalid value for '-o' / '--output' / '--format': 'html' is not one of "
        "'table', 'json', 'yaml'.\n"
    )


def test_slo_correct_takes_the_one_output_option(tmp_path: Path, runner: CliRunner) -> None:
    """'ops slo correct' had --json only. Each format writes the same correction into a
    fresh copy of the SLO file, and prints the same document."""
    import shutil

    path = tmp_path / "search.yaml"
    original = (ROOT / "slos" / "search.yaml").read_text()
    args = ["slo", "correct", "search/availability", str(path), "--reason", "INC-7"]
    args += ["--start", "2026-11-03T14:00:00Z", "--end", "2026-11-03T15:30:00Z"]
    documents = []
    for flag in [*FORMAT_FLAGS, ["-o", "yaml"]]:
        shutil.copy(ROOT / "slos" / "search.yaml", path)
        result = runner.invoke(main, [*args, *flag])
        assert result.exit_code == 0, result.output
        documents.append(yaml.safe_load(result.stdout))  # JSON is YAML too
    assert (
        documents
        == [
            {
                "slo": "search/availability",
                "file": str(path),
                "created": False,
                "already_recorded": False,
                "start": "2026-11-03T14:00:00Z",
                "end": "2026-11-03T15:30:00Z",
                "reason": "INC-7",
            }
        ]
        * 5
    )
    path.write_text(original)
    both = runner.invoke(main, [*args, "--json", "-o", "yaml"])
    assert both.exit_code == 2
    assert both.stderr.endswith("Error: --json means -o json: give one of them, not -o yaml\n")
    assert path.read_text() == original  # refused before anything was written
