"""A few hundred bytes of YAML aliases of aliases ("billion laughs") are refused by every
reader in one line, before anything writes the values out; a file that shares values
through aliases is read as before."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ops_toolkit import yamlpath
from ops_toolkit.cli import main
from ops_toolkit.config import parse_config
from ops_toolkit.errors import ConfigError
from ops_toolkit.yamlpath import parse_documents


def laughs(depth: int) -> str:
    """``&a0 [x x ... x]`` then each level a list of ten aliases of the level below: 10 **
    (depth + 1) values from a line per level."""
    levels = ["&a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, depth + 1)]
    return "[" + ", ".join(levels) + "]"


def test_an_alias_bomb_in_a_size_is_one_short_line(tmp_path: Path) -> None:
    """The attacker's ops.yaml: 25 s, 2.3 GB and a 580 MB 'one-line' error before."""
    text = f"serve:\n  max_body: {laughs(7)}\n"
    with pytest.raises(ConfigError) as raised:
        parse_config(text, "ops.yaml")
    assert str(raised.value) == (
        f"ops.yaml: YAML aliases expand to more than {200_000 + 8 * len(text):,} characters; "
        "write the values out (an alias of an alias of a list multiplies it, an alias of a "
        "long string repeats it)"
    )


def test_an_alias_bomb_in_openslo_labels_is_refused_by_validate(tmp_path: Path) -> None:
    """The attacker's 917-byte OpenSLO file took 12 s and 1.1 GB; one level more, 8.5 GB."""
    path = tmp_path / "bomb.yaml"
    path.write_text(
        "apiVersion: openslo/v1\nkind: SLO\nmetadata:\n  name: s\n"
        f"  labels:\n    team: {laughs(8)}\n"
        "spec:\n  service: search\n  budgetingMethod: Occurrences\n"
        "  objectives: [{target: 0.99}]\n  timeWindow: [{duration: 30d, isRolling: true}]\n"
    )
    result = CliRunner().invoke(main, ["slo", "validate", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {path}: YAML aliases expand to more than ")
    assert result.output.count("\n") == 1


def test_shared_values_through_aliases_are_read_as_written() -> None:
    text = "defaults: &labels {team: search, tier: '1'}\nslos:\n" + "".join(
        f"  - {{name: s{i}, labels: *labels}}\n" for i in range(200)
    )
    (document,) = parse_documents(text, "slos.yaml")
    assert len(document["slos"]) == 200
    assert document["slos"][199]["labels"] == {"team": "search", "tier": "1"}


def test_a_file_without_aliases_is_not_walked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The count runs only when the text has a ``*``: a big file without aliases pays
    nothing for it."""
    calls: list[int] = []
    original = yamlpath.expanded_size

    def counted(value: object, limit: int) -> int:
        calls.append(limit)
        return original(value, limit)

    monkeypatch.setattr(yamlpath, "expanded_size", counted)
    parse_documents("a: [1, 2, 3]\n", "x.yaml")
    assert calls == []
    parse_documents("a: &x [1]\nb: *x\n", "x.yaml")
    assert len(calls) == 1


def string_bomb(copies: int, size: int = 100_000) -> str:
    """The attacker's SLO file: one long scalar, then ``copies`` labels aliasing it (a 103 KB
    file, some 400 values: far under the bound on values that the guard counted)."""
    lines = ["version: ops/v1", "service: bomb", "labels:", f"  l0: &s {'x' * size}"]
    lines += [f"  l{i}: *s" for i in range(1, copies + 1)]
    lines += ["slos:", "  - name: s0", "    objective: 99.9", "    window: 30d", "    sli:"]
    lines += ["      ratio:", '        bad: x{code="5"}', "        total: x"]
    return "\n".join(lines) + "\n"


def test_a_long_string_aliased_many_times_is_refused_before_rules_are_written(
    tmp_path: Path,
) -> None:
    """It made 'ops slo rules' write a 2.6 GB rule file at 5.1 GB of memory."""
    path = tmp_path / "strbomb.yaml"
    text = string_bomb(199)
    path.write_text(text)
    result = CliRunner().invoke(main, ["slo", "rules", str(path), "--dir", str(tmp_path / "out")])
    assert (result.exit_code, result.output) == (
        1,
        f"Error: {path}: YAML aliases expand to more than {200_000 + 8 * len(text):,} "
        "characters; write the values out (an alias of an alias of a list multiplies it, an "
        "alias of a long string repeats it)\n",
    )
    assert not (tmp_path / "out").exists()


def test_a_long_string_aliased_a_few_times_is_read() -> None:
    """Sharing a long query or description a few times stays within the bound."""
    (document,) = parse_documents(string_bomb(7), "slos.yaml")
    assert document["labels"]["l7"] == "x" * 100_000


def test_a_long_string_aliased_in_front_matter_is_refused() -> None:
    from ops_toolkit.errors import RunbookError
    from ops_toolkit.runbook.parse import parse_runbook

    raw = f"title: t\nx: &s {'x' * 100_000}\nowner: *s\n" + "".join(
        f"y{i}: *s\n" for i in range(20)
    )
    with pytest.raises(RunbookError) as raised:
        parse_runbook(f"---\n{raw}---\n# T\n", "r.md")
    assert str(raised.value) == (
        f"r.md:2: front matter expands to more than {200_000 + 8 * len(raw):,} characters "
        "through YAML aliases; write the values out"
    )


@pytest.mark.parametrize(
    ("value", "size"),
    [
        pytest.param("abc", 3, id="a string is its length"),
        pytest.param("", 1, id="an empty string counts one"),
        pytest.param({"ab": "cde"}, 6, id="a mapping is one more than its keys and values"),
        pytest.param([1, True, None, 2.5], 5, id="short scalars count one each"),
        pytest.param(10**99, 99, id="an integer of 100 digits about its digits (from its bits)"),
        pytest.param([[["xy"] * 3] * 4] * 5, 1 + 5 * (1 + 4 * (1 + 3 * 2)), id="shared lists"),
    ],
)
def test_expanded_size_counts_characters(value: object, size: int) -> None:
    assert yamlpath.expanded_size(value, 10**9) == size


def test_a_shared_string_counts_at_each_place() -> None:
    shared = "x" * 1000
    assert yamlpath.expanded_size({"a": shared, "b": shared, "c": [shared] * 3}, 10**9) == (
        1 + 3 + 5 * 1000 + 1
    )
    assert yamlpath.expanded_size([shared] * 100, 5000) > 5000
