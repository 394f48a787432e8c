"""parse_runbook: the valid forms, and each error with its exact message."""

from __future__ import annotations

import pytest

from ops_toolkit.errors import RunbookError
from ops_toolkit.runbook.parse import parse_runbook, parse_runbook_bytes

FENCE = "```"

VALID = f"""---
title: Search errors
owner: team-search
alerts: [SearchAvailabilityBudgetBurn]
params:
  SERVICE: {{default: search-api, pattern: "^[a-z-]+$", from_label: service}}
  MODE: {{choices: [fast, slow], required: true}}
  TOKEN: {{secret: true}}
secrets: [ADMIN_TOKEN]
shell: bash
---
# Search errors

Some prose.

## Diagnose
{FENCE}promql {{"name":"error-ratio","tag":"diagnose","expect":"< 0.05"}}
sum(rate(x[5m]))
{FENCE}

{FENCE}sh
echo documentation only
{FENCE}

### Deeper
{FENCE}sh {{ name=old-style interactive=false }}
echo old
{FENCE}

## Mitigate
{FENCE}bash {{"name":"restart","confirm":"true","timeout":"5m","retries":"1"}}
systemctl restart "$SERVICE"
{FENCE}
"""


def test_a_runbook_parses_into_front_matter_params_and_steps() -> None:
    runbook = parse_runbook(VALID, "runbooks/search.md")
    assert runbook.title == "Search errors"
    assert runbook.owner == "team-search"
    assert runbook.alerts == ("SearchAvailabilityBudgetBurn",)
    assert runbook.secrets == ("ADMIN_TOKEN",)
    assert runbook.shell == "bash"
    assert runbook.name == "search"
    service = runbook.param("SERVICE")
    assert service is not None
    assert (service.default, service.pattern, service.from_label) == (
        "search-api",
        "^[a-z-]+$",
        "service",
    )
    mode = runbook.param("MODE")
    assert mode is not None and mode.choices == ("fast", "slow") and mode.required
    token = runbook.param("TOKEN")
    assert token is not None and token.secret
    assert [s.name for s in runbook.steps] == ["error-ratio", "old-style", "restart"]


def test_steps_keep_kind_code_attributes_section_and_lines() -> None:
    runbook = parse_runbook(VALID, "runbooks/search.md")
    first, old, restart = runbook.steps
    assert (first.kind, first.code, first.section) == (
        "promql",
        "sum(rate(x[5m]))\n",
        ("Diagnose",),
    )
    assert first.attributes == {"name": "error-ratio", "tag": "diagnose", "expect": "< 0.05"}
    assert first.line == 17 and first.end_line == 19
    assert VALID.splitlines()[first.line - 1].startswith(FENCE + "promql")
    assert old.section == ("Diagnose", "Deeper")
    assert old.attributes == {"name": "old-style", "interactive": "false"}
    assert restart.kind == "bash" and restart.section == ("Mitigate",)
    assert restart.tags == ()
    assert first.tags == ("diagnose",)


def test_title_falls_back_to_the_first_heading_without_front_matter() -> None:
    runbook = parse_runbook(f'# Restart\n\n{FENCE}sh {{"name":"a"}}\ntrue\n{FENCE}\n', "r.md")
    assert runbook.title == "Restart"
    assert runbook.steps[0].line == 3


def test_json_values_that_are_not_strings_become_strings() -> None:
    runbook = parse_runbook(
        f'{FENCE}sh {{"name":"a","retries":2,"confirm":true}}\ntrue\n{FENCE}\n', "r.md"
    )
    assert runbook.steps[0].attributes == {"name": "a", "retries": "2", "confirm": "true"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            f'# T\n\n{FENCE}sh {{"name": "a",}}\ntrue\n{FENCE}\n',
            "r.md:3: step attributes are not valid JSON: Expecting property name enclosed in "
            "double quotes (column 14 of the attributes)",
            id="invalid JSON attributes name the fence line",
        ),
        pytest.param(
            f'# T\n\n{FENCE}sh {{"name":"a"}}\ntrue\n',
            "r.md:3: code fence is never closed (add a closing ``` line)",
            id="an unterminated fence is an error, not a step to the end of file",
        ),
        pytest.param(
            "---\ntitle: [unclosed\nowner: x\n---\n# T\n",
            "r.md:3: front matter is not valid YAML: did not find expected ',' or ']'",
            id="bad front matter YAML names the YAML error's line",
        ),
        pytest.param(
            "---\ntitle: x\n",
            "r.md:1: front matter starts with '---' but never ends",
            id="front matter without its closing line",
        ),
        pytest.param(
            "---\ntitle: x\ntimout: 5\n---\n",
            "r.md:3: unknown front matter key 'timout'",
            id="unknown front matter key",
        ),
        pytest.param(
            "---\nowners: x\n---\n",
            "r.md:2: unknown front matter key 'owners' (did you mean 'owner'?)",
            id="unknown front matter key with a suggestion",
        ),
        pytest.param(
            f'{FENCE}sh {{"name":"a"}}\ntrue\n{FENCE}\n\n{FENCE}sh {{"name":"a"}}\nfalse\n{FENCE}\n',
            "r.md:5: step 'a': duplicate name (first used on line 1)",
            id="duplicate step names",
        ),
        pytest.param(
            f'{FENCE}python {{"name":"a"}}\nprint()\n{FENCE}\n',
            "r.md:1: step 'a': unknown kind 'python' (valid: bash, manual, promql, sh)",
            id="unknown kind lists the valid ones",
        ),
        pytest.param(
            f'{FENCE}sh {{"tag":"diagnose"}}\ntrue\n{FENCE}\n',
            'r.md:1: step has no \'name\' attribute; add one, e.g. {"name":"check-x"}',
            id="a step needs a name",
        ),
        pytest.param(
            f'{FENCE}sh {{"name":["a"]}}\ntrue\n{FENCE}\n',
            "r.md:1: step attribute 'name' must be a string, got [\"a\"]",
            id="attribute values are flat",
        ),
        pytest.param(
            "---\nparams:\n  bad-name: {default: x}\n---\n",
            "r.md:3: param 'bad-name': name must be an environment variable name",
            id="param names are environment variable names",
        ),
        pytest.param(
            "---\nparams:\n  X: {defualt: x}\n---\n",
            "r.md:3: param X: unknown key 'defualt' (did you mean 'default'?)",
            id="unknown param key",
        ),
        pytest.param(
            "---\n- a\n---\n",
            "r.md:2: front matter must be a YAML mapping (key: value)",
            id="front matter must be a mapping",
        ),
    ],
)
def test_bad_runbooks_raise_a_runbook_error_naming_the_place(text: str, message: str) -> None:
    with pytest.raises(RunbookError) as raised:
        parse_runbook(text, "r.md")
    assert str(raised.value) == message


def test_a_file_that_is_not_utf8_names_the_line() -> None:
    with pytest.raises(RunbookError) as raised:
        parse_runbook_bytes(b"# T\nok\n\xff\xfe\n", "r.md")
    assert str(raised.value) == "r.md:3: file is not valid UTF-8"


def test_a_file_over_one_mebibyte_is_refused() -> None:
    with pytest.raises(RunbookError) as raised:
        parse_runbook_bytes(b"a" * (1024 * 1024 + 1), "big.md")
    assert str(raised.value) == "big.md: file is larger than 1 MiB; split the runbook"


def test_a_fence_without_attributes_is_documentation() -> None:
    runbook = parse_runbook(f"{FENCE}sh\nrm -rf /\n{FENCE}\n{FENCE}\nplain\n{FENCE}\n", "r.md")
    assert runbook.steps == ()


def test_fences_inside_lists_are_steps_too() -> None:
    text = f'1. First\n\n   {FENCE}sh {{"name":"in-list"}}\n   echo hi\n   {FENCE}\n'
    runbook = parse_runbook(text, "r.md")
    assert [(s.name, s.code, s.line) for s in runbook.steps] == [("in-list", "echo hi\n", 3)]


def test_tilde_fences_and_longer_fences_close_properly() -> None:
    text = '~~~sh {"name":"a"}\necho ```\n~~~\n\n````bash {"name":"b"}\n```\n````\n'
    runbook = parse_runbook(text, "r.md")
    assert [s.code for s in runbook.steps] == ["echo ```\n", "```\n"]


def test_text_with_a_lone_surrogate_is_a_runbook_error() -> None:
    """Found by the property test: YAML's C loader raised UnicodeEncodeError."""
    with pytest.raises(RunbookError) as raised:
        parse_runbook("---\n\ud800---\n---\n", "r.md")
    assert str(raised.value) == "r.md:2: text is not valid Unicode (a lone surrogate)"
