"""The session-end check of tests/conftest.py names a process a test left behind and fails.

Run on an inner pytest session in a subprocess, so that its leaks are its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

INNER_CONFTEST = "from tests.conftest import pytest_configure, pytest_sessionfinish  # noqa: F401\n"


def run_inner(tmp_path: Path, test: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(INNER_CONFTEST)
    (tmp_path / "test_inner.py").write_text(test)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OPS_TEST_LEFTOVER_WAIT": "0.5"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_child_and_an_escaped_process_left_running_are_named_and_fail_the_session(
    tmp_path: Path,
) -> None:
    inner = run_inner(
        tmp_path,
        "import subprocess\n"
        "def test_leaks():\n"
        "    subprocess.Popen(['sleep', '301'])\n"
        "    subprocess.run(['sh', '-c', 'setsid sleep 302 > /dev/null 2>&1 &'], check=True)\n",
    )
    assert inner.returncode == 1, inner.stdout
    assert "LEFTOVER PROCESSES" in inner.stdout
    assert "processes the tests started are still there at the end of the session:" in (
        inner.stdout
    )
    left = [line for line in inner.stdout.splitlines() if line.startswith("  pid ")]
    assert [line.split(": ", 1)[1] for line in left] == ["sleep 301", "sleep 302"]
    assert "1 passed" in inner.stdout


def test_a_session_that_stops_what_it_started_passes(tmp_path: Path) -> None:
    inner = run_inner(
        tmp_path,
        "import subprocess\ndef test_waits():\n    subprocess.Popen(['sleep', '0.1']).wait()\n",
    )
    assert inner.returncode == 0, inner.stdout
    assert "LEFTOVER" not in inner.stdout
