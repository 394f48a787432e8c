"""One runbook-link builder for the chat report, the HTML report, policy notices, alert
messages and rollout milestones."""

from __future__ import annotations

import pytest

from ops_toolkit.config import Policy
from ops_toolkit.links import runbook_link, runbook_url
from ops_toolkit.notify.report import slo_line
from ops_toolkit.reports.scheduled import policy_message
from ops_toolkit.slo.evaluate import SLOStatus
from ops_toolkit.slo.html import render_html
from ops_toolkit.slo.spec import load_slos
from tests.conftest import ROOT

BASE = "https://git.example.com/search/ops/-/blob/main"
URL = f"{BASE}/runbooks/search-errors.md"


@pytest.mark.parametrize(
    ("path", "base", "url"),
    [
        ("runbooks/x.md", BASE, f"{BASE}/runbooks/x.md"),
        ("./runbooks/x.md", BASE + "/", f"{BASE}/runbooks/x.md"),
        (".ops/x.md", BASE, f"{BASE}/.ops/x.md"),
        ("https://wiki.example/x", BASE, "https://wiki.example/x"),
        ("https://wiki.example/x", None, "https://wiki.example/x"),
        ("runbooks/x.md", None, None),
    ],
    ids=[
        "a path goes under the base URL",
        "a leading ./ and a trailing slash do not double up",
        "a dot folder keeps its dot (lstrip('./') once ate it)",
        "a URL stays as written",
        "a URL needs no base",
        "a path without a base is no link",
    ],
)
def test_runbook_url(path: str, base: str | None, url: str | None) -> None:
    assert runbook_url(path, base) == url
    assert runbook_link(path, base) == (url or path)


def _status() -> SLOStatus:
    (availability,) = [s for s in load_slos([str(ROOT / "slos")]) if s.name == "availability"]
    return SLOStatus(availability, 1796000000.0, "ok", 0.0002, {})


def test_chat_report_html_report_and_policy_notice_link_the_same_url() -> None:
    """Before: the HTML report and policy notices linked the bare path (broken from a page)."""
    status = _status()
    policy = Policy(("search/*",), (50.0,), "#search-oncall", None)
    assert f"<{URL}|runbook>" in slo_line(status, BASE)
    assert f'<a href="{URL}">runbooks/search-errors.md</a>' in render_html([status], (), BASE)
    assert f"Runbook: <{URL}|runbook>" in policy_message(status, 50.0, policy, BASE).text


def test_without_a_base_url_a_runbook_path_is_text_never_a_broken_link() -> None:
    status = _status()
    policy = Policy(("search/*",), (50.0,), "#search-oncall", None)
    assert "runbook `runbooks/search-errors.md`" in slo_line(status)
    page = render_html([status])
    assert "<td>runbooks/search-errors.md</td>" in page and 'href="runbooks/' not in page
    assert "Runbook: `runbooks/search-errors.md`" in policy_message(status, 50.0, policy).text
