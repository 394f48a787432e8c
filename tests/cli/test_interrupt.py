"""Ctrl-C ends every command the same way: one line and exit 130, as shells report it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT


def _sigint_is_default() -> None:
    """A job started in the background by a non-interactive shell inherits SIGINT ignored;
    the test sends it, so it must be the default (Python's KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_during_a_slow_report_exits_130_with_one_line(
    hanging_prometheus: tuple[str, list[socket.socket]],
) -> None:
    """Before: click printed "Aborted!" and exited 1, and only after every query in flight
    had waited out its timeout (the query threads were joined at exit)."""
    url, held = hanging_prometheus
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ops_toolkit",
            "slo",
            "report",
            "slos",
            "--prometheus",
            url,
            "--timeout",
            "600",
        ],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_sigint_is_default,
    )
    try:
        deadline = time.monotonic() + 60
        while not held and time.monotonic() < deadline:  # the queries are in flight
            time.sleep(0.02)
        assert held
        process.send_signal(signal.SIGINT)
        # without the fix this waits for the 600 s query timeout: communicate's limit fails it
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert (process.returncode, stdout, stderr) == (130, "", "Interrupted (Ctrl-C).\n")


def test_a_rollout_advance_stopped_by_sigterm_exits_143_and_can_be_resumed(
    tmp_path: Path,
) -> None:
    """Before: the stage's run was recorded aborted, but ops exited 1, which a deploy script
    cannot tell from a failed runbook; now 128 + the signal, as 'ops runbook run' exits."""
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "open.md").write_text(
        "---\ntitle: Open\n---\n"
        f'```sh {{"name":"open"}}\ntouch {tmp_path}/started\nsleep 1000\n```\n',
        encoding="utf-8",
    )
    (tmp_path / "rollouts").mkdir()
    (tmp_path / "rollouts" / "search.yaml").write_text(
        "version: ops/v1\nkind: Rollout\nname: search\nservice: search\n"
        f"runbooks: {tmp_path / 'runbooks'}\n"
        "stages:\n  - {name: pilot, runbook: {name: open}}\n  - {name: all}\n",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ops_toolkit",
            "rollout",
            "advance",
            "search",
            "--dir",
            str(tmp_path / "rollouts"),
            "--state-dir",
            str(tmp_path / "state"),
            "--non-interactive",
        ],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OPS_KILL_GRACE": "0.5"},
    )
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert (tmp_path / "started").exists()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 143
    run_id = next((tmp_path / "state" / "runs").glob("*.json")).stem
    assert stderr.endswith(
        f"search: stage 'pilot' not entered: run {run_id} aborted. Run 'ops rollout advance "
        "search' again to resume it.\n"
    )
