"""The Markdown report links runbooks as the HTML page does: under ``runbook_base_url``."""

from __future__ import annotations

import pytest

from ops_toolkit.slo.evaluate import from_ratios
from ops_toolkit.slo.html import render_html
from ops_toolkit.slo.model import SLO
from ops_toolkit.slo.report import markdown
from ops_toolkit.slo.spec import parse_slo_file

AT = 1_790_000_000.0
BASE = "https://git.example.com/search/ops/-/blob/main"


def slo_with(runbook: str) -> SLO:
    text = f"""version: ops/v1
service: search
slos:
  - name: availability
    objective: 99.9
    runbook: {runbook}
    sli: {{ratio: {{bad: 'x_total{{code="500"}}', total: x_total}}}}
"""
    (slo,) = parse_slo_file(text, "f.yaml").slos
    return slo


def runbook_cell(report: str) -> str:
    row = next(line for line in report.splitlines() if line.startswith("| search |"))
    return row.rstrip(" |").rsplit("| ", 1)[-1]


@pytest.mark.parametrize(
    ("runbook", "base", "cell"),
    [
        pytest.param(
            "runbooks/x.md", BASE, f"[runbooks/x.md]({BASE}/runbooks/x.md)", id="under the base"
        ),
        pytest.param("./runbooks/x.md", BASE, f"[./runbooks/x.md]({BASE}/runbooks/x.md)", id="./"),
        pytest.param("runbooks/x.md", None, "runbooks/x.md", id="no base: text, not a link"),
        pytest.param(
            "https://wiki.example.com/x",
            None,
            "[https://wiki.example.com/x](https://wiki.example.com/x)",
            id="a URL links as itself",
        ),
    ],
)
def test_markdown_links_runbooks_under_the_base_url(
    runbook: str, base: str | None, cell: str
) -> None:
    """Was: ``[runbooks/x.md](runbooks/x.md)`` whatever the base URL."""
    status = from_ratios(slo_with(runbook), AT, 0.0002, {3600: 0.0})
    assert runbook_cell(markdown([status], base)) == cell
    page = render_html([status], [], base)
    url = cell.rsplit("(", 1)[-1].rstrip(")") if "](" in cell else None
    assert (f'<a href="{url}">' in page) == (url is not None)
