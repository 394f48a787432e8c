"""``python -m ops_toolkit.demo.prometheus`` keeps a Prometheus with the worked example's 30
days for the README's examples (a newcomer found none: ``make demo`` stops its own), and
stops it on SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from tests.conftest import ROOT


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] != "Z"


def test_it_serves_the_worked_example_until_sigterm(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "ops_toolkit.demo.prometheus", "--dir", str(tmp_path / "p")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            assert line, f"ended before its URL: {lines}"
            lines.append(line)
            if line.startswith("export OPS_PROMETHEUS_URL="):
                break
        found = re.match(r"export OPS_PROMETHEUS_URL=(\S+)", lines[-1])
        assert found is not None, lines
        url = found.group(1)
        pid = int(re.search(r"\(pid (\d+)\)", lines[0]).group(1))  # type: ignore[union-attr]
        query = urllib.parse.urlencode(
            {"query": "count(count_over_time(http_requests_total[30d]))"}
        )
        with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=10) as answer:
            result = json.load(answer)["data"]["result"]
        assert int(result[0]["value"][1]) > 0
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert not _alive(pid)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
