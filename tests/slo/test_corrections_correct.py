"""``ops slo correct``: a one-off correction appended as text, every other byte kept."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.slo.correct import insert_correction, parse_when
from ops_toolkit.slo.spec import load_slos
from tests.conftest import ROOT

SLOTH = ROOT / "tests" / "slo" / "fixtures" / "sloth" / "search.yaml"
START, END = "2026-11-03T14:00:00Z", "2026-11-03T15:30:00Z"
LINE = f'{{start: {START}, end: {END}, reason: "INC-231: bad deploy"}}'


def correct(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["slo", "correct", *args])
    return result.exit_code, result.output


def inserted(before: str, after: str) -> list[str]:
    """The lines ``after`` has that ``before`` has not, checking every other line is kept."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    added, i = [], 0
    for line in new:
        if i < len(old) and line == old[i]:
            i += 1
        else:
            added.append(line)
    assert i == len(old), "a line of the original is missing or changed"
    return added


def test_an_ops_v1_slo_gets_the_correction_in_its_own_file(tmp_path: Path) -> None:
    path = tmp_path / "search.yaml"
    shutil.copy(ROOT / "slos" / "search.yaml", path)
    before = path.read_text()
    code, output = correct(
        "search/availability",
        str(tmp_path),
        "--start",
        START,
        "--end",
        END,
        "--reason",
        "INC-231: bad deploy",
    )
    assert code == 0, output
    assert output == (
        f"{path}: updated: search/availability: {START} to {END} corrected out "
        "(INC-231: bad deploy)\n"
    )
    assert inserted(before, path.read_text()) == ["    corrections:\n", f"      - {LINE}\n"]
    assert not (tmp_path / "corrections.yaml").exists()
    (slo,) = [s for s in load_slos([str(tmp_path)]) if s.name == "availability"]
    (added,) = slo.corrections
    assert (added.start, added.end, added.reason) == (
        datetime(2026, 11, 3, 14, tzinfo=UTC),
        datetime(2026, 11, 3, 15, 30, tzinfo=UTC),
        "INC-231: bad deploy",
    )
    # A second one goes under the first.
    code, output = correct(
        "search/availability",
        str(path),
        "--start",
        "1793000000",
        "--end",
        "1793003600",
        "--reason",
        "INC-232",
    )
    assert code == 0, output
    assert inserted(before, path.read_text()) == [
        "    corrections:\n",
        f"      - {LINE}\n",
        '      - {start: 2026-10-26T07:33:20Z, end: 2026-10-26T08:33:20Z, reason: "INC-232"}\n',
    ]


OPS = """# comment kept
version: ops/v1
service: search
slos:
  - name: first   # trailing comment kept
    objective: 99.9
    sli: {ratio: {bad: 'x{code="5"}', total: x}}
    corrections: [{start: 2026-01-01T00:00:00Z, end: 2026-01-01T01:00:00Z, reason: old}]
  - name: last
    objective: 99
    sli:
      raw:
        bad_query: sum(increase(bad[{{window}}]))
        total_query: sum(increase(all[{{window}}]))
    description: |
      A block scalar, last.

# the end"""


@pytest.mark.parametrize(
    ("slo", "expected"),
    [
        pytest.param(
            "first",
            OPS.replace("reason: old}]", f"reason: old}}, {LINE}]"),
            id="a flow list gets the item before its bracket",
        ),
        pytest.param(
            "last",
            OPS.replace(
                "      A block scalar, last.\n\n",
                f"      A block scalar, last.\n\n    corrections:\n      - {LINE}\n",
            )
            + "\n",
            # (a block scalar's trailing blank lines may be its own: '|+' keeps them)
            id="after a block scalar and its blank lines; a missing last newline added",
        ),
    ],
)
@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_the_text_edit_keeps_every_other_byte(
    tmp_path: Path, slo: str, expected: str, newline: str
) -> None:
    """CRLF: the lines added end as the file's do (was: a bare LF in a CRLF file)."""
    path = tmp_path / "search.yaml"
    path.write_bytes(OPS.replace("\n", newline).encode())
    code, output = correct(
        f"search/{slo}",
        str(path),
        "--start",
        START,
        "--end",
        END,
        "--reason",
        "INC-231: bad deploy",
    )
    assert code == 0, output
    assert path.read_bytes() == expected.replace("\n", newline).encode()


def test_other_formats_get_the_corrections_yaml_beside_them(tmp_path: Path) -> None:
    shutil.copy(SLOTH, tmp_path / "search.yaml")
    sloth = (tmp_path / "search.yaml").read_bytes()
    code, output = correct(
        "search-sloth/availability",
        str(tmp_path),
        "--start",
        START,
        "--end",
        END,
        "--reason",
        "INC-231: bad deploy",
        "--json",
    )
    assert code == 0, output
    assert json.loads(output) == {
        "slo": "search-sloth/availability",
        "file": str(tmp_path / "corrections.yaml"),
        "created": True,
        "already_recorded": False,
        "start": START,
        "end": END,
        "reason": "INC-231: bad deploy",
    }
    assert (tmp_path / "search.yaml").read_bytes() == sloth
    assert (tmp_path / "corrections.yaml").read_text() == (
        f"corrections:\n  search-sloth/availability:\n    - {LINE}\n"
    )
    code, output = correct(
        "search-sloth/answer-latency",
        str(tmp_path),
        "--start",
        START,
        "--end",
        END,
        "--reason",
        "INC-231: bad deploy",
    )
    assert code == 0, output
    assert output.startswith(f"{tmp_path / 'corrections.yaml'}: updated: ")
    assert (tmp_path / "corrections.yaml").read_text() == (
        f"corrections:\n  search-sloth/availability:\n    - {LINE}\n"
        f"  search-sloth/answer-latency:\n    - {LINE}\n"
    )
    by_key = {s.key: s for s in load_slos([str(tmp_path)])}
    assert [c.reason for c in by_key["search-sloth/answer-latency"].corrections] == [
        "INC-231: bad deploy"
    ]


def test_an_existing_corrections_yaml_keeps_its_comments(tmp_path: Path) -> None:
    shutil.copy(SLOTH, tmp_path / "search.yaml")
    text = (
        "# Maintenance windows, reviewed monthly.\n"
        "corrections:\n"
        "  search-sloth/availability:   # the API\n"
        '    - {cron: "0 2 * * SUN", duration: 1h, timezone: Europe/Berlin, reason: upgrades}\n'
        "    # keep this comment\n"
    )
    (tmp_path / "corrections.yaml").write_text(text)
    code, output = correct(
        "search-sloth/availability",
        str(tmp_path),
        "--start",
        START,
        "--end",
        END,
        "--reason",
        "INC-231: bad deploy",
    )
    assert code == 0, output
    assert inserted(text, (tmp_path / "corrections.yaml").read_text()) == [f"    - {LINE}\n"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["search/availabilty", "--start", START, "--end", END, "--reason", "x"],
            "Error: no SLO 'search/availabilty' in {dir} (did you mean 'search/availability'?)\n",
            id="unknown SLO",
        ),
        pytest.param(
            ["search/availability", "--start", END, "--end", START, "--reason", "x"],
            f"Error: --end: must be after --start ({END}), got {START}\n",
            id="end before start",
        ),
        pytest.param(
            ["search/availability", "--start", START, "--end", START, "--reason", "x"],
            f"Error: --end: must be after --start ({START}), got {START}\n",
            id="empty span",
        ),
        pytest.param(
            [
                "search/availability",
                "--start",
                "2999-01-01T00:00:00Z",
                "--end",
                "2999-01-02T00:00:00Z",
                "--reason",
                "x",
            ],
            "Error: --start: 2999-01-01T00:00:00Z is in the future (now {now}): a correction "
            "records what happened; write planned maintenance into the SLO file's "
            "corrections: (or corrections.yaml) by hand\n",
            id="a span that has not begun",
        ),
        pytest.param(
            ["search/availability", "--start", START, "--end", END, "--reason", "  "],
            "Error: --reason: must not be empty: say why these events do not count\n",
            id="empty reason",
        ),
        pytest.param(
            ["search/availability", "--start", START, "--end", END, "--reason", "a\n\x1b[2J"],
            "Error: --reason: must be one line without control or bidi characters\n",
            id="a reason that would fake lines or clear a terminal",
        ),
    ],
)
def test_refusals_leave_the_file_alone(
    tmp_path: Path, args: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time_machine

    path = tmp_path / "search.yaml"
    shutil.copy(ROOT / "slos" / "search.yaml", path)
    before = path.read_bytes()
    with time_machine.travel(datetime(2026, 11, 30, 8, 0, tzinfo=UTC), tick=False):
        code, output = correct(args[0], str(tmp_path), *args[1:])
    assert (code, output) == (
        1,
        message.format(dir=tmp_path, now="2026-11-30T08:00:00Z"),
    )
    assert path.read_bytes() == before
    assert not (tmp_path / "corrections.yaml").exists()


def test_a_time_that_is_not_one_is_a_usage_error(tmp_path: Path) -> None:
    shutil.copy(ROOT / "slos" / "search.yaml", tmp_path / "search.yaml")
    code, output = correct(
        "search/availability", str(tmp_path), "--start", "yesterday", "--end", END, "--reason", "x"
    )
    assert code == 2
    assert output.endswith(
        "Error: Invalid value for --start: expected ISO 8601 (2026-11-03T14:00:00Z), unix "
        "seconds, now or now-2h, got 'yesterday'\n"
    )


def test_a_flow_style_slo_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "search.yaml"
    text = (
        "version: ops/v1\nservice: search\nslos:\n"
        "  - {name: flow, objective: 99, sli: {ratio: {bad: b, total: t}}}\n"
    )
    path.write_text(text)
    code, output = correct(
        "search/flow", str(path), "--start", START, "--end", END, "--reason", "x"
    )
    assert (code, output) == (
        1,
        f"Error: {path}: slos[0]: cannot add a correction to a value written in flow style or "
        "not a mapping; add it by hand\n",
    )
    assert path.read_text() == text


NOW = datetime(2026, 11, 30, 8, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("now-2h", datetime(2026, 11, 30, 6, 0, 30, tzinfo=UTC)),
        ("now - 1h30m", datetime(2026, 11, 30, 6, 30, 30, tzinfo=UTC)),
        ("now+15m", datetime(2026, 11, 30, 8, 15, 30, tzinfo=UTC)),
        ("1794819600", datetime(2026, 11, 16, 9, tzinfo=UTC)),
        ("2026-11-03T14:00Z", datetime(2026, 11, 3, 14, tzinfo=UTC)),
        ("2026-11-03T14:00", datetime(2026, 11, 3, 14, tzinfo=UTC)),
        ("2026-11-03T15:00+01:00", datetime(2026, 11, 3, 14, tzinfo=UTC)),
    ],
)
def test_parse_when(text: str, expected: datetime) -> None:
    assert parse_when(text, NOW) == expected


def test_parse_when_refuses_a_bad_duration() -> None:
    with pytest.raises(ValueError, match="not a duration: 'soon'"):
        parse_when("now-soon", NOW)


def test_insert_into_an_empty_or_null_table() -> None:
    item = "{X}"
    for text in ("", "corrections:\n", "corrections: ~\n", "corrections: null  # none yet\n"):
        edited = insert_correction(text, "c.yaml", ["corrections", "a/b"], item)
        assert (edited.startswith("corrections:") and edited.endswith("\n  a/b:\n    - {X}\n")) or (
            edited == "corrections:  # none yet\n  a/b:\n    - {X}\n"
        ), (text, edited)


def test_a_correction_in_the_first_centuries_is_written_as_it_loads_back(tmp_path: Path) -> None:
    """strftime wrote the year 1 as "1-01-01T...", which no reader takes: the correction
    was refused as if the SLO file were wrong."""
    shutil.copy(ROOT / "slos" / "search.yaml", tmp_path / "search.yaml")
    code, output = correct(
        "search/availability",
        str(tmp_path),
        "--start",
        "0001-01-01T00:00:00Z",
        "--end",
        "0002-01-01T00:00:00Z",
        "--reason",
        "all of it",
    )
    assert (code, output) == (
        0,
        f"{tmp_path}/search.yaml: updated: search/availability: 0001-01-01T00:00:00Z to "
        "0002-01-01T00:00:00Z corrected out (all of it)\n",
    )


def test_now_minus_an_hour_to_now_is_exactly_an_hour(tmp_path: Path) -> None:
    """A newcomer's ``--start now-1h --end now`` was written as 06:41:57 to 07:41:58: the
    start rounded down and the end up from a ``now`` with a fraction of a second."""
    shutil.copy(SLOTH, tmp_path / "search.yaml")
    code, output = correct(
        "search-sloth/availability",
        str(tmp_path),
        *("--start", "now-1h", "--end", "now", "--reason", "INC-232: cache flush", "--json"),
    )
    assert code == 0, output
    written = json.loads(output)
    start = datetime.fromisoformat(written["start"])
    end = datetime.fromisoformat(written["end"])
    assert (end - start).total_seconds() == 3600


def test_the_same_correction_twice_is_recorded_once(tmp_path: Path) -> None:
    """A newcomer ran ``ops slo correct`` twice (a script's retry) and the file held the
    correction twice; the second run now leaves the file alone and says so."""
    shutil.copy(SLOTH, tmp_path / "search.yaml")
    args = ("search-sloth/availability", str(tmp_path), "--start", START, "--end", END)
    code, output = correct(*args, "--reason", "INC-231: bad deploy")
    assert code == 0, output
    path = tmp_path / "corrections.yaml"
    once = path.read_bytes()
    code, output = correct(*args, "--reason", "INC-231: bad deploy")
    assert code == 0, output
    assert output == (
        f"{path}: unchanged: search-sloth/availability: {START} to {END} is already corrected "
        "out (INC-231: bad deploy)\n"
    )
    assert path.read_bytes() == once
    code, output = correct(*args, "--reason", "INC-231: bad deploy", "-o", "json")
    assert code == 0, output
    assert json.loads(output)["already_recorded"] is True
    # Another reason over the same window is another correction.
    code, output = correct(*args, "--reason", "INC-231: and the cache")
    assert code == 0, output
    assert len(inserted(once.decode(), path.read_text())) == 1
