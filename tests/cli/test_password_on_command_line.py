"""A URL or DSN with a password is refused on ops's command line, taken from the environment.

ops's command line is world-readable (``ps``, ``/proc/<pid>/cmdline``): every step ops runs
could read ``--prometheus http://user:PASSWORD@...`` from ``/proc/$PPID/cmdline``, in forms
no masking knows (base64, reversed). The environment variable (which steps never get) and
ops.yaml keep it off the command line.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main

PASSWORD = "Pr0m-Passw0rd-XYZ"
WHY = (
    "the URL holds a password, and ops's command line can be read by every local user and "
    "by every step ops runs (/proc/PID/cmdline): set "
)
PROMETHEUS = (
    "OPS_PROMETHEUS_URL instead (or prometheus: in ops.yaml, with basic_auth and password_env)"
)
STATE = "OPS_STATE instead (or serve.state in ops.yaml)"


def url_options() -> list[tuple[list[str], str]]:
    """Every option of every command that takes a URL or a DSN: (command path, option)."""
    found: list[tuple[list[str], str]] = []

    def walk(command: click.Command, path: list[str]) -> None:
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                walk(sub, [*path, name])
            return
        for param in command.params:
            metavar = str(getattr(param, "metavar", "") or "")
            if isinstance(param, click.Option) and ("URL" in metavar or "://" in metavar):
                found.append((path, max(param.opts, key=len)))

    walk(main, [])
    return found


def test_the_url_options_are_the_ones_this_file_covers() -> None:
    options = {(" ".join(path), option) for path, option in url_options()}
    assert {option for _, option in options} == {
        "--prometheus",
        "--state",
        "--runbook-base-url",
        "--to",
    }
    assert ("serve", "--state") in options
    assert ("runbook run", "--prometheus") in options
    assert ("store migrate", "--to") in options


@pytest.mark.parametrize(
    ("path", "option"),
    url_options(),
    ids=lambda value: "-".join(value) if isinstance(value, list) else value,
)
def test_every_url_option_refuses_a_password_on_the_command_line(
    runner: CliRunner, path: list[str], option: str
) -> None:
    result = runner.invoke(main, [*path, option, f"http://ops:{PASSWORD}@127.0.0.1:9/"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Error: {option}: {WHY}")
    assert PASSWORD not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["serve", "--state", f"postgresql://ops:{PASSWORD}@127.0.0.1:1/ops"],
            f"--state: {WHY}{STATE}",
        ),
        (
            ["outbox", "list", "--state", f"postgresql://db/ops?password={PASSWORD}"],
            f"--state: {WHY}{STATE}",
        ),
        (["escalation", "list", f"--state=host=db password={PASSWORD}"], f"--state: {WHY}{STATE}"),
        (
            ["slo", "report", "--prometheus", f"https://u:{PASSWORD}@prom:9090"],
            f"--prometheus: {WHY}{PROMETHEUS}",
        ),
        (
            ["store", "migrate", "--from", "x.db", "--to", f"postgresql://ops:{PASSWORD}@db/ops"],
            f"--to: {WHY}OPS_STATE instead",
        ),
        (
            ["slo", "rules", "--runbook-base-url", f"https://u:{PASSWORD}@git.example.com/rb"],
            f"--runbook-base-url: {WHY}OPS_RUNBOOK_BASE_URL instead (or runbook_base_url in ops.yaml)",
        ),
    ],
    ids=["serve-userinfo", "outbox-query", "escalation-keywords", "slo-report", "migrate", "rules"],
)
def test_the_refusal_names_the_option_and_where_the_password_goes(
    runner: CliRunner, args: list[str], message: str
) -> None:
    result = runner.invoke(main, args)
    assert (result.exit_code, result.output) == (1, f"Error: {message}\n")


def test_a_url_without_a_password_is_taken(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPS_")}
    taken = ops_run(tmp_path, "--prometheus", "http://ops@127.0.0.1:9/", env=env)
    assert taken.returncode == 0, taken.stderr


OPS_RUN = [sys.executable, "-m", "ops_toolkit", "runbook", "run"]
PEEK = """---
title: argv
---
```bash {"name":"peek"}
tr '\\0' ' ' < /proc/$PPID/cmdline | base64 -w0; echo
```
"""


def ops_run(tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    runbook = tmp_path / "peek.md"
    runbook.write_text(PEEK)
    return subprocess.run(
        [*OPS_RUN, str(runbook), "--json", "--non-interactive", *args],
        capture_output=True,
        text=True,
        env={**env, "OPS_STATE_DIR": str(tmp_path / "state")},
        stdin=subprocess.DEVNULL,
    )


def test_a_step_cannot_read_the_prometheus_password_from_ops_s_command_line(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPS_")}
    url = f"http://ops:{PASSWORD}@127.0.0.1:9/"
    refused = ops_run(tmp_path, "--prometheus", url, env=env)
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == f"Error: --prometheus: {WHY}{PROMETHEUS}\n"
    assert not (tmp_path / "state").exists()  # refused before any step ran
    # The same URL from the environment: the step runs, and its view of ops's command line
    # holds no password in any form.
    taken = ops_run(tmp_path, env={**env, "OPS_PROMETHEUS_URL": url})
    assert taken.returncode == 0, taken.stderr
    output = json.loads(taken.stdout)["steps"][0]["output"]
    seen = base64.b64decode(output.strip()).decode()
    assert "runbook run" in seen and PASSWORD not in seen
