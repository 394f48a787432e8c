"""lint knows the variables earlier steps export, by the rule a run carries them by."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops_toolkit.runbook.execute import RunOptions, start_run
from ops_toolkit.runbook.kinds import carried_exports
from ops_toolkit.runbook.lint import lint_runbook
from ops_toolkit.runbook.parse import parse_runbook
from tests.runbook.test_runme_runs import world

FENCE = "```"
HEAD = "---\ntitle: T\nowner: team\n---\n"


def two_steps(first: str, attributes: str = "", kind: str = "sh") -> str:
    """A step running ``first`` (one or two lines), then one that reads $REGION on line 11
    (a one-line ``first`` is padded with a comment)."""
    first = first if "\n" in first else f"{first}\n# one line"
    return (
        f'{HEAD}{FENCE}{kind} {{"name":"set-region"{attributes}}}\n{first}\n{FENCE}\n\n'
        f'{FENCE}sh {{"name":"use-region"}}\necho "$REGION"\n{FENCE}\n'
    )


UNKNOWN = (
    "r.md:11: warning: step 'use-region': $REGION is not a param, secret, captured variable "
    "or well-known environment variable"
)
CASES = [
    pytest.param("export REGION=eu-west-1", "", "sh", [], id="export NAME=value (Runme style)"),
    pytest.param('$ export REGION="eu west"', "", "sh", [], id="after a Runme prompt"),
    pytest.param("export A=1 REGION='b c'", "", "sh", [], id="several names in one export"),
    pytest.param("REGION=eu\nexport REGION", "", "sh", [], id="assigned, then exported"),
    pytest.param("declare -x REGION=eu", "", "bash", [], id="declare -x"),
    pytest.param("exec >/dev/null\nexport REGION=eu", "", "sh", [], id="exec redirecting only"),
    pytest.param("REGION=eu", "", "sh", [UNKNOWN], id="set but not exported"),
    pytest.param(
        "export REGION=eu\nsleep 0", ',"background":"true"', "sh", [UNKNOWN], id="background step"
    ),
    pytest.param(
        "trap 'echo bye' EXIT\nexport REGION=eu", "", "sh", [UNKNOWN], id="its own EXIT trap"
    ),
    pytest.param("export REGION=eu\nexec true", "", "sh", [UNKNOWN], id="exec another program"),
]


@pytest.mark.parametrize(("first", "attributes", "kind", "expected"), CASES)
def test_lint_knows_what_an_earlier_step_exports(
    first: str, attributes: str, kind: str, expected: list[str]
) -> None:
    runbook = parse_runbook(two_steps(first, attributes, kind), "r.md")
    findings = [str(f) for f in lint_runbook(runbook) if f.rule == "unknown-variable"]
    assert findings == expected


@pytest.mark.parametrize(("first", "attributes", "kind", "expected"), CASES)
def test_what_lint_expects_a_step_to_export_is_what_a_run_carries(
    tmp_path: Path, first: str, attributes: str, kind: str, expected: list[str]
) -> None:
    runbook = parse_runbook(two_steps(first, attributes, kind), str(tmp_path / "r.md"))
    record = start_run(runbook, RunOptions(steps=("set-region",)), world(tmp_path))
    assert record.status == "succeeded"
    assert sorted(record.variables) == sorted(carried_exports(runbook.steps[0]))


def test_a_variable_exported_only_by_a_later_step_is_still_unknown() -> None:
    text = (
        f'{HEAD}{FENCE}sh {{"name":"use-region"}}\necho "$REGION"\n{FENCE}\n\n'
        f'{FENCE}sh {{"name":"set-region"}}\nexport REGION=eu\n{FENCE}\n'
    )
    findings = [str(f) for f in lint_runbook(parse_runbook(text, "r.md"))]
    assert findings == [
        "r.md:6: warning: step 'use-region': $REGION is not a param, secret, captured variable "
        "or well-known environment variable"
    ]


def test_ops_credentials_a_step_exports_are_never_carried_so_lint_still_warns() -> None:
    text = (
        f'{HEAD}{FENCE}sh {{"name":"set-token"}}\nexport SLACK_BOT_TOKEN=xoxb-1\n{FENCE}\n\n'
        f'{FENCE}sh {{"name":"use-token"}}\necho "$SLACK_BOT_TOKEN"\n{FENCE}\n'
    )
    findings = [str(f) for f in lint_runbook(parse_runbook(text, "r.md"))]
    assert findings == [
        "r.md:10: warning: step 'use-token': $SLACK_BOT_TOKEN is not a param, secret, captured "
        "variable or well-known environment variable"
    ]


def test_a_when_may_read_an_exported_variable() -> None:
    text = (
        f'{HEAD}{FENCE}sh {{"name":"set-region"}}\nexport REGION=eu\n{FENCE}\n\n'
        f'{FENCE}sh {{"name":"only-eu","when":"REGION == \'eu\'"}}\ntrue\n{FENCE}\n'
    )
    assert [str(f) for f in lint_runbook(parse_runbook(text, "r.md"))] == []
