"""Ctrl-C ends every command the same way: one line and exit 130, as shells report it."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

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
