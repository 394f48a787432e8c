"""A key written twice is refused in every file ops reads, naming the file and line.

PyYAML and ``json.loads`` keep the last of two equal keys without a word, so a second
``objective:`` further down a file, or a second ``"status"`` in a webhook body, would win
unseen (attack 16). Each reader goes through ``yamlpath.SafeLoader`` or ``strictjson``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ops_toolkit import strictjson
from ops_toolkit.config import parse_config
from ops_toolkit.errors import ConfigError, OpsError
from ops_toolkit.escalate.oncall import parse_oncall
from ops_toolkit.escalate.route import parse_routes
from ops_toolkit.rollout.plan import parse_plan
from ops_toolkit.runbook.parse import parse_runbook
from ops_toolkit.slo.spec import parse_slo_file, read_corrections_file
from ops_toolkit.yamlpath import parse_documents

ROOT = Path(__file__).resolve().parent.parent


def doubled(path: str, line: str, again: str) -> tuple[str, int, int]:
    """The file at ``path`` with ``again`` inserted after its first line equal to ``line``;
    the numbers of both lines."""
    lines = (ROOT / path).read_text().splitlines(keepends=True)
    index = next(i for i, text in enumerate(lines) if text.rstrip("\n") == line)
    return "".join([*lines[: index + 1], again + "\n", *lines[index + 1 :]]), index + 1, index + 2


@pytest.mark.parametrize(
    ("reader", "document", "key"),
    [
        (parse_slo_file, doubled("slos/search.yaml", "service: search", "service: x"), "service"),
        (
            parse_slo_file,
            doubled("tests/slo/fixtures/openslo/search.yaml", "kind: SLO", "kind: Service"),
            "kind",
        ),
        (
            parse_slo_file,
            doubled("tests/slo/fixtures/sloth/search.yaml", "  team: search", "  team: x"),
            "team",
        ),
        (
            parse_oncall,
            doubled("alerts/oncall.yaml", "    timezone: Europe/Berlin", "    timezone: UTC"),
            "timezone",
        ),
        (
            parse_routes,
            ("default: {channel: '#a'}\nroutes: []\ndefault: {channel: '#b'}\n", 1, 3),
            "default",
        ),
        (parse_plan, doubled("rollouts/search.yaml", "service: search", "service: x"), "service"),
        (parse_config, ("serve:\n  listen: 127.0.0.1:8080\n  listen: :80\n", 2, 3), "listen"),
    ],
    ids=["ops/v1 SLOs", "OpenSLO", "Sloth", "oncall.yaml", "routes.yaml", "rollout", "ops.yaml"],
)
def test_a_key_given_twice_in_a_yaml_file_is_refused_with_its_line(
    reader: Callable[[str, str], Any], document: tuple[str, int, int], key: str
) -> None:
    text, first, second = document
    with pytest.raises(ConfigError) as caught:
        reader(text, "in.yaml")
    assert str(caught.value) == (
        f"in.yaml:{second}: not valid YAML: duplicate key {key!r} (first given at line {first})"
    )


def test_a_corrections_file_with_a_key_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "corrections.yaml"
    path.write_text(
        "corrections:\n  search/availability:\n    - {start: 2026-11-01T00:00:00Z, "
        "end: 2026-11-01T01:00:00Z, reason: a, reason: b}\n"
    )
    with pytest.raises(ConfigError) as caught:
        read_corrections_file(str(path), ["search/availability"])
    assert str(caught.value) == (
        f"{path}:3: not valid YAML: duplicate key 'reason' (first given at line 3)"
    )


def test_runbook_front_matter_with_a_key_twice_names_the_file_lines() -> None:
    text = "---\ntitle: A\nowner: team-a\ntitle: B\n---\n# A\n"
    with pytest.raises(OpsError) as caught:
        parse_runbook(text, "runbooks/a.md")
    assert str(caught.value) == (
        "runbooks/a.md:4: front matter is not valid YAML: duplicate key 'title' "
        "(first given at line 2)"
    )


def test_runbook_step_attributes_with_a_key_twice_are_refused() -> None:
    text = '---\ntitle: A\n---\n# A\n\n```sh {"name":"a","confirm":"true","confirm":"false"}\ntrue\n```\n'
    with pytest.raises(OpsError) as caught:
        parse_runbook(text, "runbooks/a.md")
    assert str(caught.value) == "runbooks/a.md:6: step attributes name 'confirm' twice"


def test_merge_keys_may_still_be_overridden_and_equal_values_are_still_keys() -> None:
    text = "base: &b {objective: 99}\nslo:\n  <<: *b\n  objective: 99.9\n"
    assert parse_documents(text, "in.yaml") == [
        {"base": {"objective": 99}, "slo": {"objective": 99.9}}
    ]
    with pytest.raises(ConfigError) as caught:
        parse_documents("yes: 1\ntrue: 2\n", "in.yaml")
    assert str(caught.value) == (
        "in.yaml:2: not valid YAML: duplicate key 'True' (first given at line 1)"
    )


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('{"status": "firing", "status": "resolved"}', "status"),
        ('{"alerts": [{"labels": {"a": "1", "b": "2", "a": "3"}}]}', "a"),
    ],
    ids=["top level", "nested"],
)
def test_strict_json_refuses_a_key_twice(text: str, key: str) -> None:
    with pytest.raises(strictjson.DuplicateKeyError) as caught:
        strictjson.loads(text)
    assert (caught.value.key, str(caught.value)) == (key, f"duplicate key {key!r}")
    assert strictjson.loads('{"a": {"a": 1}}') == {"a": {"a": 1}}
