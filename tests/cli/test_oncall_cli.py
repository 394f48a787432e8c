"""``ops oncall who|list|override`` on the shipped schedules, at pinned times."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from tests.conftest import ROOT

ONCALL = str(ROOT / "alerts" / "oncall.yaml")


def invoke(runner: CliRunner, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(main, ["oncall", *args], env=env)
    return result.exit_code, result.output


def test_who_at_a_pinned_time_names_the_person_and_the_next_handoff(
    runner: CliRunner, tmp_path: Path
) -> None:
    code, output = invoke(
        runner,
        "who",
        "search-primary",
        "--at",
        "2026-03-29T09:30",
        "--oncall",
        ONCALL,
        "--state",
        str(tmp_path / "none.db"),
    )
    assert (code, output) == (0, "search-primary: U0SEARCH03 until 2026-03-30 09:00 CEST\n")
    assert not (tmp_path / "none.db").exists()  # looking does not create a store


def test_list_shows_shifts_in_local_time_across_the_spring_change(
    runner: CliRunner, tmp_path: Path
) -> None:
    code, output = invoke(
        runner,
        "list",
        "search-primary",
        "--from",
        "2026-03-23T09:00",
        "--to",
        "2026-04-06T09:00",
        "--oncall",
        ONCALL,
        "--state",
        str(tmp_path / "s.db"),
    )
    assert code == 0
    assert output == (
        "search-primary (Europe/Berlin)\n"
        "  2026-03-23 09:00 CET  ->  2026-03-30 09:00 CEST  U0SEARCH03\n"
        "  2026-03-30 09:00 CEST  ->  2026-04-06 09:00 CEST  U0SEARCH01\n"
    )


def test_an_override_in_the_store_changes_who_and_can_be_removed(
    runner: CliRunner, store_state: str
) -> None:
    common = ("--oncall", ONCALL)
    store = {"OPS_STATE": store_state}  # PostgreSQL's password: refused on the command line
    code, output = invoke(
        runner,
        "override",
        "search-primary",
        "--user",
        "U0COVER001",
        "--from",
        "2026-03-28T18:00",
        "--to",
        "2026-03-29T18:00",
        *common,
        env=store,
    )
    assert (code, output) == (
        0,
        "override 1: U0COVER001 on call for search-primary from 2026-03-28 18:00 CET to "
        "2026-03-29 18:00 CEST\n",
    )
    code, output = invoke(
        runner, "who", "search-primary", "--at", "2026-03-29T09:30", "--json", *common, env=store
    )
    assert json.loads(output) == [
        {
            "schedule": "search-primary",
            "user": "U0COVER001",
            "until": "2026-03-29T16:00:00Z",
            "timezone": "Europe/Berlin",
        }
    ]
    assert invoke(runner, "override", "--remove", "1", *common, env=store) == (
        0,
        "removed override 1 of search-primary\n",
    )
    code, output = invoke(
        runner, "who", "search-primary", "--at", "2026-03-29T09:30", *common, env=store
    )
    assert output == "search-primary: U0SEARCH03 until 2026-03-30 09:00 CEST\n"


def test_mistakes_are_one_line_errors(runner: CliRunner, tmp_path: Path) -> None:
    common = ("--oncall", ONCALL, "--state", str(tmp_path / "s.db"))
    assert invoke(runner, "who", "search-primry", *common) == (
        1,
        f"Error: {ONCALL}: no schedule named 'search-primry' (did you mean 'search-primary'?)\n",
    )
    code, output = invoke(
        runner, "override", "search-primary", "--user", "dana", "--to", "2026-03-30", *common
    )
    assert code == 2
    assert (
        "Invalid value for --user: expected a Slack user id (U0123ABCD) or an email address, got 'dana'"
        in output
    )
    assert invoke(runner, "override", "--remove", "7", *common) == (
        1,
        f"Error: {tmp_path / 's.db'}: no override with id 7\n",
    )
    code, output = invoke(runner, "list", "--from", "yesterday", *common)
    assert code == 2 and "Invalid value for --from: expected a time like" in output


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ("who", "--at", "9999-12-31T23:59:59Z"),
            "Invalid value for --at: expected a time from 1970 to 2999, got 9999-12-31T23:59:59Z",
        ),
        (
            ("who", "--at", "0001-01-01T00:00"),
            "Invalid value for --at: expected a time from 1970 to 2999, got 0001-01-01T00:00",
        ),
        (
            ("list", "--from", "2026-01-02", "--to", "2028-01-02"),
            "Invalid value for --to: must be at most 366 days after --from: list a year at a time",
        ),
    ],
    ids=["the calendar's end", "the calendar's start", "eight thousand years"],
)
def test_times_at_the_calendar_edges_and_huge_ranges_are_one_line_errors(
    runner: CliRunner, tmp_path: Path, args: tuple[str, ...], error: str
) -> None:
    """An attacker's ``who --at 9999-12-31T23:59:59Z`` was an OverflowError traceback, and
    ``list --from 0001-01-02 --to 9999-12-30`` ran for minutes, one row a shift."""
    code, output = invoke(runner, *args, "--oncall", ONCALL, "--state", str(tmp_path / "s.db"))
    assert code == 2
    assert output.splitlines()[-1] == f"Error: {error}"


def test_without_an_oncall_file_the_error_says_what_to_do(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert invoke(runner, "who") == (
        1,
        "Error: alerts/oncall.yaml: no such file; write one (see README, 'On call') or pass "
        "--oncall PATH\n",
    )
