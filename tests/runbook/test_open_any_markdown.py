"""Property: any Markdown file opens as a runbook, or fails with a RunbookError at a place.

The strategy writes Markdown the way people and tools do: YAML or TOML front matter with
known and unknown keys, headings, prose, lists and quotes, and fences in any language with
JSON, Runme's old ``{ key=value }`` or broken attributes. Anything but a ``RunbookError``
naming the file (and a line inside it, when it names one) is a bug.
"""

from __future__ import annotations

import json
import os

from hypothesis import given, settings
from hypothesis import strategies as st

from ops_toolkit.errors import RunbookError
from ops_toolkit.runbook.kinds import kind_for
from ops_toolkit.runbook.lint import lint_runbook
from ops_toolkit.runbook.parse import FRONT_KEYS, parse_runbook_bytes

EXAMPLES = int(os.environ.get("OPS_FUZZ_EXAMPLES", "300"))
words = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))
    | st.sampled_from("`~{}$#=\"' -:"),
    max_size=12,
)
keys = st.sampled_from(
    [*FRONT_KEYS, "runme", "weight", "bookCollapseSection", "sidebar_position", "x-y", "1"]
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**30), 10**30), st.floats(allow_nan=True), words
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(words, inner, max_size=3)
)


@st.composite
def front_matter(draw: st.DrawFn) -> str:
    data = draw(st.dictionaries(keys, values, max_size=5))
    style = draw(st.sampled_from(["yaml", "yaml", "json", "toml", "broken", "none", "none"]))
    if style == "yaml":
        import yaml

        return f"---\n{yaml.safe_dump(data, allow_unicode=True)}---\n"
    if style == "json":
        return f"---\n{json.dumps(data, default=str, ensure_ascii=False)}\n---\n"
    if style == "toml":
        lines = [
            f"{k} = {json.dumps(v)}"
            for k, v in data.items()
            if isinstance(v, str | bool) or (isinstance(v, int) and abs(v) < 2**63)
        ]
        return "+++\n" + "\n".join(lines) + "\n+++\n"
    if style == "broken":
        return draw(st.sampled_from(["---\ntitle: [\n---\n", "---\n- a\n---\n", "+++\nx =\n+++\n"]))
    return ""


attribute_values = st.one_of(
    words, st.integers(-(10**30), 10**30), st.booleans(), st.none(), st.lists(words, max_size=2)
)
attribute_keys = (
    st.sampled_from(
        """name id tag timeout retries expect when interpreter background excludeFromRunAll
        promptEnv capture on_failure confirm cwd""".split()
    )
    | words
)


@st.composite
def attributes(draw: st.DrawFn) -> str:
    data = draw(st.dictionaries(attribute_keys, attribute_values, max_size=4))
    if draw(st.booleans()):
        data = {k: v for k, v in data.items() if isinstance(v, str)}
    style = draw(st.sampled_from(["json", "json", "json", "old", "broken", "none"]))
    if style == "json":
        return " " + json.dumps(data)
    if style == "old":
        return " { " + " ".join(f"{k}={v}" for k, v in data.items()) + " }"
    if style == "broken":
        return " " + draw(st.sampled_from(['{"name":', "{", "{}", "{ name= }", '{"a":{}}']))
    return ""


@st.composite
def fence(draw: st.DrawFn) -> str:
    marker = draw(st.sampled_from(["```", "~~~", "````"]))
    language = draw(st.sampled_from(["", "sh", "bash", "shell", "promql", "manual", "python"]))
    code = draw(st.lists(words | st.sampled_from(["$ echo hi", "export A=1", "# c"]), max_size=3))
    closed = draw(st.integers(0, 9)) > 0
    body = "\n".join(code)
    indent = draw(st.sampled_from(["", "   ", "> ", "1. "]))
    text = f"{marker}{language}{draw(attributes())}\n{body}\n" + (f"{marker}\n" if closed else "")
    return "".join(
        indent + line if indent != "1. " or i == 0 else "   " + line
        for i, line in enumerate(text.splitlines(keepends=True))
    )


blocks = st.one_of(
    fence(),
    words.map(lambda w: f"{'#' * 2} {w}\n"),
    words.map(lambda w: f"{w}\n"),
    words.map(lambda w: f"- {w}\n"),
    st.sampled_from(["---\n", "+++\n", "\n", "<!-- x -->\n", "| a |\n|---|\n"]),
)
markdown = st.builds(
    lambda head, body: head + "\n".join(body), front_matter(), st.lists(blocks, max_size=8)
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(markdown, st.sampled_from(["\n", "\r\n"]))
def test_any_markdown_opens_or_fails_with_a_place(text: str, newline: str) -> None:
    data = text.replace("\n", newline).encode("utf-8")
    line_count = data.count(b"\n") + 1
    try:
        runbook = parse_runbook_bytes(data, "fuzz.md")
    except RunbookError as error:
        assert error.source == "fuzz.md"
        assert str(error).startswith("fuzz.md:")
        assert error.line is None or 1 <= error.line <= line_count
        return
    names = [s.name for s in runbook.steps]
    assert len(names) == len(set(names)) and all(names)
    assert all(1 <= s.line <= line_count for s in runbook.steps)
    for step in runbook.steps:
        kind_for(step)
    for finding in lint_runbook(runbook):
        assert finding.level in ("error", "warning", "note")
        assert 1 <= finding.line <= line_count
