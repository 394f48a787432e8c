"""What every SLO reader takes as a series selector: PromQL's own grammar, read, not
braces counted."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.slo.formats.common import is_selector


@pytest.mark.parametrize(
    "text",
    [
        "http_requests_total",
        'http_requests_total{code=~"5.."}',
        'x{a="b", c!="d",}',
        "x{a='b'}",
        "x{a=`C:\\temp`}",
        'x{a="\\"}"}',  # an escaped quote before a brace, inside the value
        'x{a="}{"}',
        '{__name__="x", job="api"}',
        "x{}",
        'x{ a = "b" , c =~ "d" }',
    ],
)
def test_selectors_promql_reads_are_selectors(text: str) -> None:
    assert is_selector(text)


@pytest.mark.parametrize(
    "text",
    [
        'x{a="}"}[5m]) * 0 or rate(y{b="{"}',  # the attacker's: braces balance, PromQL does not
        'x{a="b"} or vector(1)',
        'x{a="b"}[5m]',
        "rate(x[5m])",
        'x{a="b}',
        "x{a=b}",
        'x{a="b" c="d"}',
        "{}",
        "",
        'x{a="b\nc"}',
    ],
)
def test_anything_else_is_not(text: str) -> None:
    assert not is_selector(text)


def test_an_injected_expression_is_refused_at_its_yaml_path(tmp_path: Path) -> None:
    """It passed validate, and the generated rules counted the injected expression as the
    SLO's bad events (promtool accepted them)."""
    path = tmp_path / "s.yaml"
    path.write_text(
        "version: ops/v1\nservice: search\nslos:\n  - name: availability\n"
        "    objective: 99.9\n    window: 30d\n    sli:\n      ratio:\n"
        '        bad: \'x{a="}"}[5m]) * 0 or rate(y{b="{"}\'\n'
        "        total: http_requests_total\n"
    )
    result = CliRunner().invoke(main, ["slo", "validate", str(path)])
    assert (result.exit_code, result.output) == (
        1,
        f"Error: {path}: slos[0].sli.ratio.bad: expected a series selector like "
        'http_requests_total{code=~"5.."}, got \'x{a="}"}[5m]) * 0 or rate(y{b="{"}\'\n',
    )
