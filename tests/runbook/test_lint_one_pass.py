"""lint reports every error of a file in one pass, where the parser can go on past one."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops_toolkit.errors import RunbookError
from ops_toolkit.runbook.catalog import lint_paths
from ops_toolkit.runbook.parse import parse_runbook, read_runbook_problems

FENCE = "```"
BROKEN = f"""---
title: T
owner: [team-a, team-b]
params:
  MODE: {{defualt: fast}}
  REGION: {{default: eu}}
---
{FENCE}sh {{"name":"a","timeout":"5m",}}
echo a
{FENCE}

{FENCE}sh {{"name":"b"}}
echo "$REGION $MODE"
{FENCE}

{FENCE}sh {{"name":"b"}}
echo again
{FENCE}

{FENCE}sh {{"name":"c","retries":["1"]}}
echo c
{FENCE}

{FENCE}sh {{"name":"d","timout":"1m"}}
echo d
{FENCE}

{FENCE}sh {{"name":"e"}}
echo never closed
"""


def test_every_error_of_a_file_is_reported_in_one_pass(tmp_path: Path) -> None:
    """Before: only line 3's error, then line 5's once that was fixed, and so on. What the
    parser refused is not reported again as missing (owner) or unknown ($MODE)."""
    path = tmp_path / "r.md"
    path.write_text(BROKEN)
    assert [str(f) for f in lint_paths([str(path)])] == [
        f"{path}:3: error: front matter 'owner' must be a string",
        f"{path}:5: error: param MODE: unknown key 'defualt' (did you mean 'default'?)",
        f"{path}:8: error: step attributes are not valid JSON: Expecting property name enclosed "
        "in double quotes (column 28 of the attributes)",
        f"{path}:16: error: step 'b': duplicate name (first used on line 12)",
        f"{path}:20: error: step attribute 'retries' must be a string, got [\"1\"]",
        f"{path}:24: error: step 'd': unknown attribute 'timout' (did you mean 'timeout'?)",
        f"{path}:28: error: code fence is never closed (add a closing ``` line)",
    ]


def test_what_parses_is_kept_and_linted(tmp_path: Path) -> None:
    path = tmp_path / "r.md"
    path.write_text(BROKEN)
    runbook, errors = read_runbook_problems(str(path))
    assert runbook is not None
    assert [s.name for s in runbook.steps] == ["b", "d"]
    assert [p.name for p in runbook.params] == ["REGION"]
    assert (runbook.owner, runbook.unreadable) == ("", {"owner", "params.MODE", "steps"})
    assert len(errors) == 6  # the unknown attribute is lint's, not the parser's


def test_run_and_show_still_stop_at_the_first_error() -> None:
    with pytest.raises(RunbookError) as raised:
        parse_runbook(BROKEN, "r.md")
    assert str(raised.value) == (
        "r.md:8: step attributes are not valid JSON: Expecting property name enclosed in "
        "double quotes (column 28 of the attributes)"
    )


def test_a_file_the_parser_cannot_go_on_in_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "r.md"
    path.write_text('---\ntitle: T\n```sh {"name":"a",}\ntrue\n```\n')
    runbook, errors = read_runbook_problems(str(path))
    assert runbook is None
    assert [str(e) for e in errors] == [f"{path}:1: front matter starts with '---' but never ends"]
    assert [str(f) for f in lint_paths([str(path)])] == [
        f"{path}:1: error: front matter starts with '---' but never ends"
    ]
