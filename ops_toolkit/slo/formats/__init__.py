"""SLO file formats: one reader per format into the one model of ``slo/model.py``.

A reader takes the YAML documents of one file (each a ``Node`` carrying its path), and the
objects other files share, and returns an ``SLOFile``. ``slo/spec.py`` picks the reader from the registry ``FORMATS`` by
the first document's ``apiVersion`` (or ``version``), so an unknown format is an error that
lists the known ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from ops_toolkit.errors import ConfigError
from ops_toolkit.slo.model import SLOFile
from ops_toolkit.yamlpath import Node, parse_documents, show

# Objects one file may refer to in another (OpenSLO SLIs, DataSources, alert policies), by
# (kind, name); built from every file given before any file is read.
Shared = Mapping[tuple[str, str], Node]


class Reader(Protocol):
    def __call__(
        self, documents: list[Node], source: str, shared: Shared | None = None, /
    ) -> SLOFile: ...


def documents(text: str, source: str) -> list[Node]:
    """The YAML documents of ``text``; a top-level list counts as one document per item.

    Paths: ``""`` for a lone document, ``[d]`` for the d-th of several, ``[i]`` or
    ``[d][i]`` for items of a top-level list (as ``kubectl`` and OpenSLO tools write them).
    """
    parsed = parse_documents(text, source)
    nodes: list[Node] = []
    for number, value in enumerate(parsed):
        prefix = f"[{number}]" if len(parsed) > 1 else ""
        if isinstance(value, list):
            nodes += [Node(item, f"{prefix}[{i}]", source) for i, item in enumerate(value)]
        else:
            nodes.append(Node(value, prefix, source))
    return nodes


def format_key(node: Node) -> str:
    """``apiVersion`` (Kubernetes-style formats) or ``version`` (ops/v1, Sloth's files)."""
    if not isinstance(node.value, dict):
        raise node.error(
            f"expected a mapping with 'version' or 'apiVersion', got {show(node.value)}"
        )
    key = "apiVersion" if "apiVersion" in node.value else "version"
    value = node.text(key, required=False)
    if value is None:
        raise ConfigError(
            f"{node.source}: {node.path or '(top)'}: give 'version' (ops/v1, prometheus/v1) or "
            "'apiVersion' (openslo/v1, sloth.slok.dev/v1, pyrra.dev/v1alpha1)"
        )
    return value
