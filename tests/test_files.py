"""Files ops generates are written atomically and never through a name someone planted.

A symbolic link planted at a predictable temporary name (``x.rules.yaml.tmp``,
``s.yaml.ops-correct.tmp``) made ops overwrite whatever it pointed to, and chmod it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ops_toolkit.files import write_atomically
from tests.cli.test_run_cli import FENCE, ops, write_runbook

SLO_FILE = """version: ops/v1
service: victimsvc
slos:
  - name: availability
    objective: 99.9
    window: 30d
    sli:
      ratio:
        bad: http_requests_total{code=~"5.."}
        total: http_requests_total
"""
PRECIOUS = "precious content\n"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A folder with one SLO file and a file someone else's link may point at (0600)."""
    (tmp_path / "slos").mkdir()
    (tmp_path / "slos" / "s.yaml").write_text(SLO_FILE)
    victim = tmp_path / "precious.txt"
    victim.write_text(PRECIOUS)
    victim.chmod(0o600)
    return tmp_path


def test_rules_never_write_through_a_link_planted_at_the_temporary_name(
    workspace: Path,
) -> None:
    out = workspace / "out"
    out.mkdir()
    (out / "victimsvc.rules.yaml.tmp").symlink_to(workspace / "precious.txt")
    result = ops("slo", "rules", "slos", "--dir", "out", cwd=workspace)
    assert result.returncode == 0, result.stderr
    assert (workspace / "precious.txt").read_text() == PRECIOUS
    rules = out / "victimsvc.rules.yaml"
    assert not rules.is_symlink() and mode(rules) == 0o644
    assert "record: " in rules.read_text()
    assert sorted(p.name for p in out.iterdir()) == [
        "victimsvc.rules.yaml",
        "victimsvc.rules.yaml.tmp",  # the planted link, left as it was
    ]


def test_rules_replace_a_link_at_the_files_own_name_instead_of_following_it(
    workspace: Path,
) -> None:
    out = workspace / "out"
    out.mkdir()
    (out / "victimsvc.rules.yaml").symlink_to(workspace / "precious.txt")
    result = ops("slo", "rules", "slos", "--dir", "out", cwd=workspace)
    assert result.returncode == 0, result.stderr
    assert (workspace / "precious.txt").read_text() == PRECIOUS
    assert not (out / "victimsvc.rules.yaml").is_symlink()


def test_a_folder_in_the_way_of_a_rule_file_is_a_one_line_error(workspace: Path) -> None:
    (workspace / "out" / "victimsvc.rules.yaml").mkdir(parents=True)
    result = ops("slo", "rules", "slos", "--dir", "out", cwd=workspace)
    assert result.returncode == 1
    assert result.stderr == "Error: out/victimsvc.rules.yaml: cannot write: Is a directory\n"


def test_correct_neither_overwrites_nor_chmods_what_a_planted_link_points_to(
    workspace: Path,
) -> None:
    slo_file = workspace / "slos" / "s.yaml"
    slo_file.chmod(0o664)
    (workspace / "slos" / "s.yaml.ops-correct.tmp").symlink_to(workspace / "precious.txt")
    result = ops(
        *("slo", "correct", "victimsvc/availability", "slos"),
        *("--start", "2026-11-30T01:00:00Z", "--end", "2026-11-30T02:00:00Z", "--reason", "INC-1"),
        cwd=workspace,
    )
    assert result.returncode == 0, result.stderr
    assert (workspace / "precious.txt").read_text() == PRECIOUS
    assert mode(workspace / "precious.txt") == 0o600
    assert "INC-1" in slo_file.read_text()
    assert mode(slo_file) == 0o664  # the SLO file keeps its own mode


def test_convert_never_writes_through_a_link_at_its_output_name(workspace: Path) -> None:
    (workspace / "out").mkdir()
    (workspace / "out" / "victimsvc.openslo.yaml").symlink_to(workspace / "precious.txt")
    result = ops("slo", "convert", "slos", "--to", "openslo", "--dir", "out", cwd=workspace)
    assert result.returncode == 0, result.stderr
    assert (workspace / "precious.txt").read_text() == PRECIOUS
    written = workspace / "out" / "victimsvc.openslo.yaml"
    assert not written.is_symlink() and "kind: SLO" in written.read_text()


def test_a_failed_write_leaves_no_temporary_behind(tmp_path: Path) -> None:
    target = tmp_path / "folder"
    target.mkdir()
    with pytest.raises(IsADirectoryError):
        write_atomically(str(target), "text")
    assert [p.name for p in tmp_path.iterdir()] == ["folder"]


def test_write_atomically_sets_the_mode_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o077)
    try:
        write_atomically(str(tmp_path / "a"), "x", mode=0o644)
    finally:
        os.umask(previous)
    assert mode(tmp_path / "a") == 0o644 and (tmp_path / "a").read_text() == "x"


def test_a_run_report_is_as_private_as_the_run_state(tmp_path: Path) -> None:
    path = write_runbook(tmp_path, f'{FENCE}sh {{"name":"a"}}\necho hi\n{FENCE}\n')
    report = tmp_path / "report.md"
    report.write_text("old\n")
    report.chmod(0o644)
    result = ops(
        *("runbook", "run", str(path), "--report", str(report)),
        *("--state-dir", str(tmp_path / "state")),
    )
    assert result.returncode == 0, result.stderr
    assert mode(report) == 0o600
    assert "hi" in report.read_text()
    assert [mode(p) for p in (tmp_path / "state" / "runs").glob("*.json")] == [0o600]


def test_a_service_name_of_236_characters_gets_its_rule_files(workspace: Path) -> None:
    """``{service}.rules.yaml`` fits in NAME_MAX (255) but ``.{name}.XXXXXXXX.tmp`` did not:
    the write failed with 'File name too long'."""
    service = "s" * 236
    (workspace / "slos" / "s.yaml").write_text(SLO_FILE.replace("victimsvc", service))
    result = ops("slo", "rules", "slos", "--dir", "out", cwd=workspace)
    assert result.returncode == 0, result.stderr
    assert [p.name for p in (workspace / "out").iterdir()] == [f"{service}.rules.yaml"]
    assert "record: " in (workspace / "out" / f"{service}.rules.yaml").read_text()


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("a" * 255, id="255 ASCII characters"),
        pytest.param("é" * 127, id="127 two-byte characters (254 bytes)"),
        pytest.param("b" * 241, id="the longest name whose temporary fitted before, plus one"),
    ],
)
def test_a_target_name_up_to_name_max_is_written(tmp_path: Path, name: str) -> None:
    write_atomically(str(tmp_path / name), "x")
    assert [p.name for p in tmp_path.iterdir()] == [name]
    assert (tmp_path / name).read_text() == "x"
