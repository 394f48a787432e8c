"""Imports point down (DESIGN.md): a lower package never imports a higher one."""

from __future__ import annotations

import ast

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "ops_toolkit"
# Each package and the packages above it, which it must not import.
ABOVE: dict[str, set[str]] = {
    "alerts": {"notify", "escalate", "reports", "serve", "cli", "rollout"},
    "notify": {"escalate", "reports", "serve", "cli", "rollout"},
    "escalate": {"reports", "serve", "cli"},
    "reports": {"serve", "cli"},
    "serve": {"cli"},
    "slo": {"notify", "escalate", "reports", "serve", "cli"},
    "runbook": {"notify", "escalate", "reports", "serve", "cli"},
    "metrics": {"notify", "escalate", "reports", "serve", "cli", "slo", "runbook"},
}


def imported(path: str) -> set[str]:
    tree = ast.parse((PACKAGE / path).read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n.split(".")[1] for n in names if n.startswith("ops_toolkit.") and n.count(".") >= 1}


@pytest.mark.parametrize("package", sorted(ABOVE))
def test_no_package_imports_one_above_it(package: str) -> None:
    wrong = {
        f"{path.relative_to(PACKAGE)} imports ops_toolkit.{name}"
        for path in (PACKAGE / package).rglob("*.py")
        for name in imported(str(path.relative_to(PACKAGE)))
        if name in ABOVE[package]
    }
    assert sorted(wrong) == []
