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
        f"ops.yaml: YAML aliases expand to more than {20_000 + 4 * len(text):,} values; "
        "write the values out (an alias of an alias of a list multiplies it)"
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
