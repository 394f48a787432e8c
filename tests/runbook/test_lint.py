"""lint: each rule with its exact finding."""

from __future__ import annotations

import pytest

from ops_toolkit.runbook.lint import lint_runbook, lint_runbooks
from ops_toolkit.runbook.parse import parse_runbook

FENCE = "```"
HEAD = "---\ntitle: T\nowner: team\nparams:\n  SERVICE: {default: api, pattern: '^[a-z]+$'}\n---\n"


NO_STEPS = "r.md:1: note: no steps: a page to read (a fenced block with attributes is a step)"


def findings_for(body: str, head: str = HEAD) -> list[str]:
    return [str(f) for f in lint_runbook(parse_runbook(head + body, "r.md"))]


def step(attributes: str, code: str = "true", kind: str = "sh") -> str:
    return f"{FENCE}{kind} {attributes}\n{code}\n{FENCE}\n"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            step('{"name":"a","timout":"5m"}'),
            ["r.md:7: error: step 'a': unknown attribute 'timout' (did you mean 'timeout'?)"],
            id="unknown attribute with a suggestion",
        ),
        pytest.param(
            step('{"name":"a","timeout":"soon"}'),
            [
                "r.md:7: error: step 'a': timeout: not a duration: 'soon' (use e.g. '30s', '5m', "
                "'1h30m')"
            ],
            id="timeout that is not a duration",
        ),
        pytest.param(
            step('{"name":"a","retries":"two"}'),
            ["r.md:7: error: step 'a': retries: expected a whole number, got 'two'"],
            id="retries that is not an integer",
        ),
        pytest.param(
            step('{"name":"a","on_failure":"rollbak"}') + step('{"name":"rollback"}'),
            [
                "r.md:7: error: step 'a': on_failure names no step: 'rollbak' (did you mean "
                "'rollback'?)"
            ],
            id="on_failure naming no step",
        ),
        pytest.param(
            step('{"name":"a","when":"MODE = 1"}'),
            [
                "r.md:7: error: step 'a': when: bad expression 'MODE = 1': unexpected '=' at "
                "column 6"
            ],
            id="malformed when",
        ),
        pytest.param(
            step('{"name":"a","expect":"zero"}'),
            [
                "r.md:7: error: step 'a': expect: expected an exit code (e.g. '0') or /regex/, got "
                "'zero'"
            ],
            id="bad shell expect",
        ),
        pytest.param(
            step('{"name":"a","expect":"about 5"}', "up", "promql"),
            [
                "r.md:7: error: step 'a': expect: expected a comparison like '< 0.05', 'empty', or "
                "'< 0.05 or empty', got 'about 5'"
            ],
            id="bad promql expect",
        ),
        pytest.param(
            step('{"name":"a"}', 'echo "$SERVCE"'),
            [
                "r.md:8: warning: step 'a': $SERVCE is not a param, secret, captured variable or "
                "well-known environment variable"
            ],
            id="unknown variable",
        ),
        pytest.param(
            step('{"name":"a"}', 'X=1; for Y in 1 2; do echo "$X $Y ${Z:-d} $HOME $SERVICE"; done'),
            [],
            id="assigned, defaulted, well-known and param variables are known",
        ),
        pytest.param(
            step('{"name":"a","capture":"OUT"}', "date") + step('{"name":"b"}', 'echo "$OUT"'),
            [],
            id="captured variables are known to later steps",
        ),
        pytest.param(
            step('{"name":"a"}', "kubectl -n x delete pod y"),
            [
                "r.md:8: warning: step 'a': looks destructive (kubectl change) but has no "
                '"confirm":"true"'
            ],
            id="destructive without confirm",
        ),
        pytest.param(
            step('{"name":"a","confirm":"true"}', "rm -rf /tmp/x && systemctl restart api"),
            [],
            id="destructive with confirm",
        ),
        pytest.param(
            step('{"name":"a"}', "$ ls"),
            [
                "r.md:8: note: step 'a': the '$ ' prompt is dropped before the line runs (as Runme "
                "does)"
            ],
            id="Runme dollar prompt",
        ),
        pytest.param(
            step('{"name":"GET_PODS"}'),
            [
                "r.md:7: warning: step 'GET_PODS': UPPER_SNAKE names make Runme export the step's "
                "output as a variable; use kebab-case"
            ],
            id="Runme UPPER_SNAKE name",
        ),
        pytest.param(
            step('{"name":"a","background":"false","excludeFromRunAll":"true"}'),
            [],
            id="Runme's own attributes are accepted",
        ),
        pytest.param(
            step('{"name":"a","background":"true","timeout":"5m","capture":"OUT"}', "sleep 9"),
            [
                "r.md:7: note: step 'a': runs in the background: the run goes on at once, and "
                "stops it when it ends",
                "r.md:7: warning: step 'a': capture, timeout has no effect on a background step "
                "(the run does not wait for it)",
            ],
            id="a background step, and what has no effect on it",
        ),
        pytest.param(
            step('{"name":"a","promptEnv":"maybe"}'),
            ["r.md:7: error: step 'a': promptEnv: expected yes, no or auto, got 'maybe'"],
            id="promptEnv takes Runme's values",
        ),
        pytest.param(
            step('{"name":"a","promptEnv":"auto"}', "echo $HOME"),
            [
                "r.md:7: warning: step 'a': promptEnv asks for the variables a step exports "
                "('export NAME=value'), and this one exports none"
            ],
            id="promptEnv on a step that exports nothing",
        ),
        pytest.param(
            step('{"name":"a","promptEnv":"yes"}', "export A=1"),
            [],
            id="promptEnv on a step that exports",
        ),
        pytest.param(
            step('{"name":"a"}', 'up{job="$JOB"}', "promql"),
            ["r.md:8: warning: step 'a': $JOB is not a param; promql steps can only use params"],
            id="promql using a non-param",
        ),
    ],
)
def test_lint_rules(body: str, expected: list[str]) -> None:
    assert findings_for(body) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param(
            "  A: {pattern: '[a-'}",
            "r.md:3: error: param A: pattern '[a-' is not a valid regex: unterminated character "
            "set at position 0",
            id="bad pattern",
        ),
        pytest.param(
            "  A: {default: X1, pattern: '^[a-z]+$'}",
            "r.md:3: error: param A: default 'X1' does not match its pattern '^[a-z]+$'",
            id="default failing its own pattern",
        ),
        pytest.param(
            "  A: {default: c, choices: [a, b]}",
            "r.md:3: error: param A: default 'c' is not one of its choices (a, b)",
            id="default outside its choices",
        ),
    ],
)
def test_param_rules(params: str, expected: str) -> None:
    head = f"---\nparams:\n{params}\ntitle: T\nowner: o\n---\n"
    assert findings_for(step('{"name":"a"}'), head) == [expected]


def test_missing_owner_and_title_are_warnings_and_no_steps_a_note() -> None:
    assert findings_for("text\n", head="") == [
        "r.md:1: warning: no title; add 'title:' or a '# Heading'",
        "r.md:1: warning: no owner; add 'owner:' so escalations reach a team",
        "r.md:1: note: no steps: a page to read (a fenced block with attributes is a step)",
    ]


def test_front_matter_of_other_tools_is_silent_and_other_unknown_keys_warn() -> None:
    head = (
        "---\ntitle: T\nowner: o\nrunme: {id: 01JD, version: v3}\nskipPrompts: true\n"
        "weight: 20\nbookCollapseSection: true\nsidebar_position: 2\nowners: x\n"
        "reviewed: 2026-01-01\n---\n"
    )
    assert findings_for(step('{"name":"a"}'), head) == [
        "r.md:9: warning: front matter key 'owners' means nothing to ops (did you mean "
        "'owner'?); it is kept and ignored",
        "r.md:10: warning: front matter key 'reviewed' means nothing to ops; it is kept and "
        "ignored",
    ]


def test_an_alert_claimed_by_two_runbooks_is_an_error() -> None:
    text = "---\ntitle: T\nowner: o\nalerts: [Down]\n---\n" + step('{"name":"a"}')
    first, second = parse_runbook(text, "a.md"), parse_runbook(text, "b.md")
    assert [str(f) for f in lint_runbooks([first, second])] == [
        "b.md:4: error: alert 'Down' is already claimed by a.md; an alert must lead to one runbook"
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            f"{FENCE}bash\n# show the pods\nkubectl get pods\n{FENCE}\n",
            [
                NO_STEPS,
                "r.md:7: note: a bash block without attributes is documentation to ops, but "
                'Runme would run it; to make it a step, give it attributes: ```bash {"name":'
                '"kubectl-get"}',
            ],
            id="a shell block without attributes: Runme would run it",
        ),
        pytest.param(
            f"{FENCE}yaml\na: 1\n{FENCE}\n{FENCE}python\nprint()\n{FENCE}\n",
            [NO_STEPS],
            id="blocks without attributes in other languages are plain documentation",
        ),
        pytest.param(
            step('{"name":"a"}', "console.log(1)", "js"),
            [
                "r.md:7: note: step 'a': ops does not run 'js' blocks; give the step an "
                '"interpreter" attribute (the program that runs it, e.g. "interpreter":"node"); '
                "until then it is documentation"
            ],
            id="a step in a language ops does not run is documentation",
        ),
        pytest.param(
            step('{"name":"a","interpreter":"python3"}', "print(1)", "python"),
            [],
            id="an interpreter makes it a step",
        ),
        pytest.param(
            step('{"name":"a","interpreter":"zsh"}', "true"),
            [
                "r.md:7: warning: step 'a': interpreter has no effect on a sh step (it runs with "
                "sh); it is for blocks in other languages"
            ],
            id="an interpreter on a shell step is ignored",
        ),
        pytest.param(
            step('{"name":"a","interpreter":"python3 \'-u"}', "print(1)", "python"),
            ["r.md:7: error: step 'a': interpreter: not a command line: No closing quotation"],
            id="an interpreter that is not a command line",
        ),
        pytest.param(
            step('{"name":"a"}', "up", "promq"),
            ["r.md:7: warning: step 'a': ops does not run 'promq' blocks (did you mean 'promql'?)"],
            id="a kind with a typo",
        ),
        pytest.param(
            step('{"name":"a","on_failure":"b"}') + step('{"name":"b"}', "x", "ruby"),
            [
                "r.md:7: error: step 'a': on_failure names step 'b', which ops cannot run",
                "r.md:10: note: step 'b': ops does not run 'ruby' blocks; give the step an "
                '"interpreter" attribute (the program that runs it, e.g. "interpreter":"ruby"); '
                "until then it is documentation",
            ],
            id="on_failure naming a step ops cannot run",
        ),
        pytest.param(
            step('{"tag":"x"}', "GET_PODS=1 ls") + step('{"tag":"x"}', "a  b"),
            [],
            id="automatic names are not held to the name style",
        ),
    ],
)
def test_runme_blocks(body: str, expected: list[str]) -> None:
    assert findings_for(body) == expected


PROMQL_HEAD = (
    "---\ntitle: T\nowner: team\nparams:\n  T: {default: '1'}\n  W: {default: 5m}\n"
    "  L: {default: job}\n  N: {default: '1', pattern: '^[0-9]+$'}\n  C: {default: a, choices: [a, b]}\n---\n"
)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        pytest.param(
            "sum(rate(x[$W])) > $T",
            [
                "r.md:12: error: step 'q': param W is pasted into the query outside a string "
                "literal without a pattern or choices, so a value like '0 or vector(1)' rewrites "
                "the query; give it a pattern or choices",
                "r.md:12: error: step 'q': param T is pasted into the query outside a string "
                "literal without a pattern or choices, so a value like '0 or vector(1)' rewrites "
                "the query; give it a pattern or choices",
            ],
            id="unquoted params without pattern (was a warning)",
        ),
        pytest.param(
            'up{$L="a"}',
            [
                "r.md:12: error: step 'q': param L is pasted into the query outside a string "
                "literal without a pattern or choices, so a value like '0 or vector(1)' rewrites "
                "the query; give it a pattern or choices"
            ],
            id="a param as a label name",
        ),
        pytest.param(
            'up{job=~\'$L\', x="a\\"$L"}',
            [
                "r.md:12: warning: step 'q': param L goes into a query without a pattern or "
                "choices; alert labels are untrusted input"
            ],
            id="inside string literals the value is escaped: a warning",
        ),
        pytest.param('sum(rate(x[5m])) > $N or up{c="$C"} > $C', [], id="pattern or choices"),
    ],
)
def test_params_pasted_into_promql_outside_strings_need_a_pattern(
    code: str, expected: list[str]
) -> None:
    assert findings_for(step('{"name":"q"}', code, "promql"), PROMQL_HEAD) == expected
