"""Structure-aware hostile input for the fuzz targets: valid documents, then broken on purpose.

A target starts from a *seed* (a valid document as a Python tree) and applies a few mutations
at random paths: a value replaced by a hostile one (wrong type, huge or non-finite number,
empty mapping, NUL, lone surrogate, right-to-left text, deep nesting), a key deleted, or an
unknown key added. The tree is then written as YAML or JSON text, so the parsers see the bytes
a user could write, including numbers Python refuses to print (more than 4,300 digits).
Raw text noise covers what no tree can express (unclosed brackets, tabs, anchors).
"""

from __future__ import annotations

import copy
import json
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import yaml
from hypothesis import strategies as st

SCALARS: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**63,
    2**64 + 1,
    10**400,  # beyond float range when converted
    1e308,
    -1e308,
    5e-324,
    math.inf,
    -math.inf,
    math.nan,
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "\u202eevil",
    "é🙂",
    "1e400",
    "-1",
    "0",
    "30d",
    "1e308d",
    "99999999999999999999999d",
    "9" * 400 + "w",
    "{{window}}",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
    "<!channel>",
    "../../etc/passwd",
    "\t\n",
]
# Built lazily: hypothesis prints its strategies, and Python refuses to print these.
_HUGE = st.sampled_from([5000, 4301, 100_000]).map(lambda digits: 10**digits - 1)
_HUGE_TEXT = st.sampled_from([5000, 4301]).map(lambda digits: "9" * digits)
HOSTILE_SCALAR = (
    st.sampled_from(SCALARS)
    | _HUGE
    | _HUGE.map(lambda n: -n)
    | _HUGE_TEXT
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.text(st.characters(codec="utf-8"), max_size=12)
)


def _deep(depth: int, leaf: Any) -> Any:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"a": value}
    return value


HOSTILE_TREE: st.SearchStrategy[Any] = st.recursive(
    HOSTILE_SCALAR | st.builds(dict) | st.builds(list),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(HOSTILE_SCALAR.filter(lambda k: isinstance(k, str)), children, max_size=3)
    ),
    max_leaves=8,
) | st.builds(_deep, st.integers(50, 400), HOSTILE_SCALAR)


def _paths(tree: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from _paths(value, (*prefix, index))


def _get(tree: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        tree = tree[key]
    return tree


@st.composite
def mutated(draw: st.DrawFn, seed: Any, vocabulary: tuple[str, ...] = ()) -> Any:
    """``seed`` with one to four mutations at random places; keys come from ``vocabulary``."""
    tree = copy.deepcopy(seed)
    keys = st.sampled_from(vocabulary) | st.text(max_size=6) if vocabulary else st.text(max_size=6)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(list(_paths(tree))))
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        value = draw(HOSTILE_TREE)
        if not path:
            if action == "replace":
                tree = value
            continue
        parent = _get(tree, path[:-1])
        if action == "replace":
            parent[path[-1]] = value
        elif action == "delete":
            del parent[path[-1]]
        else:
            target = _get(tree, path)
            if isinstance(target, dict):
                target[draw(keys)] = value
            elif isinstance(target, list):
                target.append(value)
            else:
                parent[path[-1]] = value
    return tree


@contextmanager
def _any_int_digits() -> Iterator[None]:
    """Let the *writer* print huge integers; the parsers under test keep the default limit."""
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(limit)


def yaml_text(tree: Any) -> str:
    """``tree`` as YAML; values PyYAML cannot represent (lone surrogates) become escapes."""
    with _any_int_digits():
        try:
            return yaml.safe_dump_all(
                tree if isinstance(tree, list) and tree and _is_stream(tree) else [tree],
                allow_unicode=True,
                sort_keys=False,
                width=10**6,
            )
        except (yaml.YAMLError, UnicodeEncodeError, RecursionError):
            return json_text(tree)


def json_text(tree: Any) -> str:
    with _any_int_digits():
        return json.dumps(tree, ensure_ascii=False)


class Stream(list[Any]):
    """Several YAML documents (``---``), e.g. OpenSLO files."""


def _is_stream(tree: Any) -> bool:
    return isinstance(tree, Stream)


# Raw text noise: what no tree can express.
YAML_NOISE = st.lists(
    st.sampled_from(
        [
            "version: ops/v1\n",
            "service: s\n",
            "slos:\n",
            "  - name: x\n",
            "    objective: ",
            "99.9\n",
            "    window: ",
            "9999999999d",
            "    sli: {ratio: {bad: b, total: t}}\n",
            "{",
            "}",
            "[",
            "]",
            "[" * 200,
            ":",
            "- ",
            "apiVersion: openslo/v1\n",
            "kind: SLO\n",
            "---\n",
            "routes:\n",
            "match_re: {a: '('}\n",
            "\t",
            "\ud800",
            "\x00",
            "'",
            '"',
            "&a",
            "*a",
            "<<: *a\n",
            "!!python/object:os.system\n",
            "!!binary AAAA\n",
            "!!timestamp 9999-12-31\n",
            "? ",
        ]
    )
    | _HUGE_TEXT
    | st.text(max_size=4)
).map("".join)


def yaml_documents(seeds: list[Any], vocabulary: tuple[str, ...]) -> st.SearchStrategy[str]:
    """Mutated seeds as YAML text, or raw noise."""
    trees = st.one_of(*(mutated(seed, vocabulary) for seed in seeds))
    return trees.map(yaml_text) | YAML_NOISE
