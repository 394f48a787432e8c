"""The search service's stand-in (``python -m ops_toolkit.demo.search_api``), as the README
starts it: a real HTTP server on loopback answering the runbooks' health endpoint."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest


def test_the_stand_in_answers_healthz_and_says_what_it_is() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "ops_toolkit.demo.search_api", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("search-api stand-in on http://127.0.0.1:")
        url = first.split(" on ")[1].strip()
        with urllib.request.urlopen(f"{url}/healthz", timeout=10) as answer:
            assert json.load(answer) == {
                "status": "ok",
                "service": "search-api stand-in (python -m ops_toolkit.demo.search_api)",
            }
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{url}/admin/sources", timeout=10)
        assert missing.value.code == 404
        assert json.load(missing.value) == {
            "error": "the stand-in serves only /healthz, not /admin/sources"
        }
    finally:
        process.terminate()
        process.wait(10)


def test_a_busy_port_is_one_line_naming_it() -> None:
    from ops_toolkit.demo.search_api import SearchApiStandIn

    holder = SearchApiStandIn().start()
    try:
        port = holder.url.rsplit(":", 1)[1]
        done = subprocess.run(
            [sys.executable, "-m", "ops_toolkit.demo.search_api", "--port", port],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert (done.returncode, done.stderr) == (
            1,
            f"127.0.0.1:{port}: cannot listen: Address already in use\n",
        )
    finally:
        holder.stop()
