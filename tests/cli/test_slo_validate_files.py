"""``ops slo validate`` over several files: a bad one is reported beside the good ones, and
``-o json`` prints its one document on an invalid file too (a newcomer's script got nothing
on stdout, and one bad file hid every other file's verdict)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from ops_toolkit.cli import main
from tests.conftest import ROOT

BAD = "apiVersion: ops/v1\nservice: x\nslos:\n  - name: a\n    objective: 200\n"
PROBLEM = (
    "apiVersion: unknown key (did you mean 'version'?); valid keys: version, service, "
    "runbook, labels, slos, description"
)


def _files(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "slos" / "search.yaml", tmp_path / "good.yaml")
    (tmp_path / "bad.yaml").write_text(BAD, encoding="utf-8")
    return tmp_path


def test_a_bad_file_is_an_error_beside_the_good_files(tmp_path: Path) -> None:
    folder = _files(tmp_path)
    result = CliRunner().invoke(main, ["slo", "validate", str(folder)])
    assert result.exit_code == 1
    assert f"{folder}/good.yaml: search/availability: 99.9% over 30d" in result.stdout
    assert result.stderr.splitlines() == [
        f"Error: {folder}/bad.yaml: {PROBLEM}",
        "1 error(s); 4 SLO(s) valid elsewhere",
    ]


def test_json_on_an_invalid_file_is_the_one_document(tmp_path: Path) -> None:
    folder = _files(tmp_path)
    result = CliRunner().invoke(main, ["slo", "validate", str(folder), "-o", "json"])
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert [row["slo"] for row in document["slos"]] == [
        "availability",
        "answer-latency",
        "answer-accuracy",
        "ingestion-freshness",
    ]
    assert document["findings"] == [{"level": "error", "message": f"{folder}/bad.yaml: {PROBLEM}"}]
