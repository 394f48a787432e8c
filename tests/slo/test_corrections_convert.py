"""``ops slo convert`` and corrections: carried by ops/v1, warned about for OpenSLO."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.slo.spec import load_slos, parse_slo_file

FIXTURES = Path(__file__).parent / "fixtures"

OPS = """version: ops/v1
service: search
slos:
  - name: availability
    objective: 99.9
    sli:
      ratio:
        bad: http_requests_total{code=~"5.."}
        total: http_requests_total
    corrections:
      - {start: 2026-11-03T14:00:00Z, end: 2026-11-03T15:30:00Z, reason: INC-231}
      - {cron: "0 2 * * SUN", duration: 90m, timezone: Europe/Berlin, reason: upgrades}
  - name: plain
    objective: 99
    sli:
      ratio:
        bad: http_requests_total{code=~"5.."}
        total: http_requests_total
"""


def convert(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["slo", "convert", *args])
    return result.exit_code, result.stdout, result.stderr


def when(slo_corrections: tuple) -> list[tuple]:  # type: ignore[type-arg]
    return [(c.start, c.end, c.cron, c.duration, c.timezone, c.reason) for c in slo_corrections]


def test_openslo_cannot_carry_corrections_and_says_where_they_go(tmp_path: Path) -> None:
    path = tmp_path / "search.yaml"
    path.write_text(OPS)
    code, out, err = convert(str(path), "--to", "openslo")
    assert code == 0, err
    assert err == (
        f"Warning: {path}: slos[0]: OpenSLO has no place for corrections (2); dropped: move "
        "them to the corrections.yaml beside the new file under 'search/availability:', where "
        "they apply to SLOs of any format\n"
    )
    assert "INC-231" not in out and "corrections" not in out


def test_ops_v1_carries_its_corrections(tmp_path: Path) -> None:
    path = tmp_path / "search.yaml"
    path.write_text(OPS)
    code, out, err = convert(str(path), "--to", "ops")
    assert code == 0, err
    assert err == ""
    before = parse_slo_file(OPS, "a.yaml").slos
    after = parse_slo_file(out, "b.yaml").slos
    assert [when(s.corrections) for s in after] == [when(s.corrections) for s in before]
    assert len(after[0].corrections) == 2


def test_corrections_yaml_stays_where_it_is_for_any_format(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "sloth" / "search.yaml", tmp_path / "search.yaml")
    (tmp_path / "corrections.yaml").write_text(
        "corrections:\n"
        "  search-sloth/availability:\n"
        "    - {start: 2026-11-03T14:00:00Z, end: 2026-11-03T15:30:00Z, reason: INC-231}\n"
    )
    (loaded,) = [s for s in load_slos([str(tmp_path)]) if s.name == "availability"]
    assert [c.reason for c in loaded.corrections] == ["INC-231"]
    for target in ("ops", "openslo"):
        code, out, err = convert(str(tmp_path / "search.yaml"), "--to", target, "--force")
        assert code == 0, err
        assert "no place for corrections" not in err, target  # they apply from corrections.yaml
        assert "INC-231" not in out, target  # and are not copied (they would apply twice)
