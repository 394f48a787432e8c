"""Every command finds ops.yaml one way: ``--config``, else ``OPS_CONFIG``, else ./ops.yaml
when present. ``ops check``, ``ops routes test``, ``ops escalation`` and ``ops rollout``
once declared ``--config`` by hand (three help texts, no environment variable), and
``ops runbook`` and ``ops slo validate`` read ./ops.yaml alone."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.cli.docs import command_tree

VALID_KEYS = (
    "serve, routes, runbooks, runbook, runbook_base_url, slos, prometheus, reports, policies, "
    "auto_diagnose, notifier, oncall, slack, alertmanager, store"
)


def test_every_config_option_is_the_shared_one() -> None:
    declared = {
        path: (tuple(param.opts), param.envvar, getattr(param, "help", None))
        for path, command, _ in command_tree(main)
        for param in command.params
        if isinstance(param, click.Option) and param.name == "config_path"
    }
    assert {"ops check", "ops routes test", "ops escalation list", "ops rollout status"} <= set(
        declared
    )
    shared = (
        ("--config",),
        "OPS_CONFIG",
        "ops.yaml (env OPS_CONFIG; default: ./ops.yaml when present).",
    )
    assert {path: shared for path in declared} == declared


COMMANDS = [
    ["check"],
    ["routes", "test", "service=search"],
    ["escalation", "list"],
    ["rollout", "status", "search"],
    ["slo", "report"],
    ["slo", "gate", "search/availability"],
    ["oncall", "who"],
]


@pytest.fixture
def broken_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An ops.yaml outside the working folder, wrong in a way every command reports; the
    working folder has none of its own."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = elsewhere / "ops.yaml"
    config.write_text("bogus: 1\n", encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return config


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
def test_each_command_reads_the_ops_yaml_ops_config_names(
    args: list[str], broken_config: Path
) -> None:
    result = CliRunner().invoke(main, args, env={"OPS_CONFIG": str(broken_config)})
    problem = f"{broken_config}: bogus: unknown key; valid keys: {VALID_KEYS}"
    first = result.output.splitlines()[0]
    assert (result.exit_code, first) == (
        1,
        f"error: {problem}" if args == ["check"] else f"Error: {problem}",
    )


def test_config_wins_over_ops_config(tmp_path: Path, broken_config: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(f"slos: [{tmp_path / 'none'}]\n", encoding="utf-8")
    result = CliRunner().invoke(
        main, ["slo", "report", "--config", str(good)], env={"OPS_CONFIG": str(broken_config)}
    )
    assert (result.exit_code, result.output) == (
        1,
        f"Error: {tmp_path / 'none'}: no such file or directory; give SLO files or "
        "directories, or set slos: in ops.yaml\n",
    )


def test_runbook_commands_read_the_ops_yaml_ops_config_names(broken_config: Path) -> None:
    """``ops runbook run`` takes Prometheus (headers, credentials) from ops.yaml."""
    runbooks = broken_config.parent / "runbooks"
    runbooks.mkdir()
    (runbooks / "probe.md").write_text(
        '---\ntitle: Probe\n---\n# Probe\n\n```sh {"name":"hello"}\necho hello\n```\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        main,
        ["runbook", "run", str(runbooks / "probe.md"), "--yes", "--state-dir", str(runbooks)],
        env={"OPS_CONFIG": str(broken_config)},
    )
    assert (result.exit_code, result.output.splitlines()[0]) == (
        1,
        f"Error: {broken_config}: bogus: unknown key; valid keys: {VALID_KEYS}",
    )
