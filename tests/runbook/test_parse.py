"""parse_runbook: the valid forms, and each error with its exact message."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops_toolkit.errors import RunbookError
from ops_toolkit.runbook.parse import parse_runbook, parse_runbook_bytes, read_runbook, runme_name
from ops_toolkit.yamlpath import alias_limit

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


SELF_ALIAS = "x: &a [*a]\n"
BOMB = (
    "---\ntitle: t\nx0: &a0 ["
    + ", ".join(["lol"] * 10)
    + "]\n"
    + "".join(f"x{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]\n" for n in range(1, 8))
    + "params:\n  X: {default: a, choices: *a7}\n---\n"
)


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
            "+++\ntitle = 'x'\nweight = \n+++\n",
            "r.md:3: front matter is not valid TOML: Invalid value",
            id="bad TOML front matter names the line",
        ),
        pytest.param(
            "+++\ntitle = 'x'\n",
            "r.md:1: front matter starts with '+++' but never ends",
            id="TOML front matter without its closing line",
        ),
        pytest.param(
            f'{FENCE}sh {{"name":"a"}}\ntrue\n{FENCE}\n\n{FENCE}sh {{"name":"a"}}\nfalse\n{FENCE}\n',
            "r.md:5: step 'a': duplicate name (first used on line 1)",
            id="duplicate step names",
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
            f'# T\n\n{FENCE}sh {{"name":"a","x":'
            + "[" * 100_000
            + "]" * 100_000
            + f"}}\ntrue\n{FENCE}\n",
            "r.md:3: step attributes are nested too deeply; values must be strings",
            id="attributes nested 100,000 deep (was a RecursionError)",
        ),
        pytest.param(
            "+++\nx = " + "[" * 5000 + "]" * 5000 + "\n+++\n# T\n",
            "r.md:2: front matter is not valid TOML: nested too deeply",
            id="TOML front matter nested 5,000 deep (was a RecursionError)",
        ),
        pytest.param(
            '+++\ntitle = "T"\nweight = ' + "9" * 5000 + "\n+++\n# T\n",
            "r.md:3: front matter is not valid TOML: an integer of more than 4300 digits",
            id="a 5,000-digit TOML integer (was a ValueError traceback, found by fuzzing)",
        ),
        pytest.param(
            "---\nx: " + "[" * 5000 + "]" * 5000 + "\n---\n# T\n",
            "r.md:2: front matter is not valid YAML: exceeded maximum nesting depth",
            id="YAML front matter nested 5,000 deep",
        ),
        pytest.param(
            BOMB,
            f"r.md:2: front matter expands to more than {alias_limit(BOMB[4:-4]):,} characters "
            "through YAML aliases; write the values out",
            id="alias bomb in param choices (was: 15 s then MemoryError)",
        ),
        pytest.param(
            f"---\n{SELF_ALIAS}---\n",
            f"r.md:2: front matter expands to more than {alias_limit(SELF_ALIAS):,} "
            "characters through YAML aliases; write the values out",
            id="an alias that contains itself",
        ),
        pytest.param(
            "---\nparams:\n  X: {default: a, choices: [a, [b]]}\n---\n",
            "r.md:3: param X: 'choices' must be a list of strings",
            id="choices that are not strings",
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


FIXTURES = Path(__file__).parent / "fixtures"
ALERTMANAGER = FIXTURES / "prometheus-operator/content/runbooks/alertmanager"


def test_runme_front_matter_is_kept_and_its_shell_and_cwd_used() -> None:
    runbook = read_runbook(str(FIXTURES / "runme/search-notebook.md"))
    assert (runbook.shell, runbook.cwd) == ("bash", "..")
    assert runbook.other_front_matter == {
        "runme": {"id": "01JD4Q6K9W3E5R7T2Y8U0I1O3P", "version": "v3"},
        "skipPrompts": False,
        "category": "search",
        "terminalRows": 20,
    }
    assert runbook.title == "Search index checks"


def test_a_hugo_page_without_steps_is_a_runbook_to_read() -> None:
    runbook = read_runbook(str(ALERTMANAGER / "AlertmanagerClusterDown.md"))
    assert runbook.title == "Alertmanager Cluster Down"
    assert runbook.other_front_matter == {"weight": 20}
    assert runbook.steps == ()


def test_toml_front_matter_is_read_like_yaml() -> None:
    runbook = read_runbook(
        str(FIXTURES / "prometheus-operator/content/runbooks/prometheus/PrometheusRuleFailures.md")
    )
    assert runbook.title == "Prometheus Rule Failures"
    assert runbook.other_front_matter == {"weight": 20}
    assert [(s.name, s.kind, s.line) for s in runbook.steps] == [("failing-groups", "promql", 14)]


def test_unknown_front_matter_keys_are_kept_not_refused() -> None:
    runbook = parse_runbook("---\ntitle: T\nowners: x\nsidebar_position: 3\n---\n", "r.md")
    assert runbook.other_front_matter == {"owners": "x", "sidebar_position": 3}
    assert runbook.front_matter_line["owners"] == 3


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="an empty file"),
        pytest.param("Just prose.\n", id="prose without a heading"),
        pytest.param("---\n---\n# Empty front matter\n", id="empty front matter"),
        pytest.param("# Title\n\n```yaml\na: 1\n```\n", id="documentation fences only"),
    ],
)
def test_no_front_matter_or_no_steps_is_a_valid_runbook(text: str) -> None:
    runbook = parse_runbook(text, "r.md")
    assert runbook.steps == () and runbook.alerts == () and runbook.other_front_matter == {}


def test_a_runme_notebook_opens_with_runme_names_and_kinds() -> None:
    runbook = read_runbook(str(FIXTURES / "runme/search-notebook.md"))
    assert [(s.name, s.kind, s.language, s.named) for s in runbook.steps] == [
        ("echo-index", "sh", "sh", False),
        ("echo-shards", "sh", "sh", False),
        ("echo-index-2", "sh", "sh", False),
        ("export-indexname", "sh", "", False),
        ("printfrom-python", "python", "python", False),
        ("consolelogops-does", "js", "js", False),
        ("reindex", "sh", "sh", True),
    ]
    assert [(f.language, f.line, f.name) for f in runbook.unrun_shell_blocks] == [
        ("bash", 35, "echo-a")
    ]
    by_id = runbook.step("01JD4Q7A1B2C3D4E5F6G7H8J9N")
    assert by_id is not None and by_id.name == "echo-index-2"


@pytest.mark.parametrize(
    ("code", "name"),
    [
        pytest.param('$ echo "Hello, rdme!"', "echo-hello", id="prompt dropped, two words kept"),
        pytest.param("export FOO=bar", "export-foo", id="cut before the first equals sign"),
        pytest.param("# list them\n\nkubectl get pods -n x", "kubectl-get", id="comments skipped"),
        pytest.param("ls # all of them", "ls", id="trailing comment cut off"),
        pytest.param(
            "abcdefghijklmnopqrstuvwxyz0123456789",
            "abcdefghijklmnopqrstuvwxyz012345",
            id="32 bytes",
        ),
        pytest.param("curl -sS 'http://x'", "curl-ss", id="lowercase letters and digits kept"),
        pytest.param("# only a comment", "only", id="a comment alone names the block"),
        pytest.param("", "", id="an empty block has no name"),
    ],
)
def test_runme_name_derives_a_name_from_the_first_command(code: str, name: str) -> None:
    assert runme_name(code) == name


def test_automatic_names_never_take_a_name_given_in_the_file() -> None:
    text = (
        f'{FENCE}sh {{"tag":"x"}}\necho a\n{FENCE}\n\n{FENCE}sh {{"name":"echo-a"}}\ntrue\n{FENCE}\n\n'
        f'{FENCE}sh {{"tag":"x"}}\necho a\n{FENCE}\n\n{FENCE}sh {{"tag":"x"}}\n!!!\n{FENCE}\n'
    )
    runbook = parse_runbook(text, "r.md")
    assert [s.name for s in runbook.steps] == ["echo-a-2", "echo-a", "echo-a-3", "step"]


def test_a_fence_without_a_language_but_with_attributes_is_a_shell_step() -> None:
    runbook = parse_runbook(
        f'{FENCE}{{"name":"a"}}\ntrue\n{FENCE}\n{FENCE} {{"name":"b"}}\ntrue\n{FENCE}\n', "r.md"
    )
    assert [(s.name, s.kind, s.language) for s in runbook.steps] == [
        ("a", "sh", ""),
        ("b", "sh", ""),
    ]


def test_a_step_in_a_language_ops_does_not_run_parses_as_that_kind() -> None:
    runbook = parse_runbook(f'{FENCE}python {{"name":"a"}}\nprint()\n{FENCE}\n', "r.md")
    assert [(s.name, s.kind) for s in runbook.steps] == [("a", "python")]
