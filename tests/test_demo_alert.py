"""``make demo``'s alert points ``ops serve``'s unattended diagnosis at the stand-in search
API the demo started. Before, its labels gave no address, the runbook's default ``:8080``
applied, nothing listened there (the demo binds no fixed port) and ``health-endpoint``
failed in every demo."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from ops_toolkit.config import parse_config
from ops_toolkit.demo.__main__ import alert_labels, demo_config
from ops_toolkit.demo.search_api import HEALTH, SearchApiStandIn
from ops_toolkit.runbook.parse import read_runbook
from ops_toolkit.serve.diagnose import params_from_labels
from tests.conftest import ROOT
from tests.runbook.test_guard import run_python

SEARCH_ERRORS = str(ROOT / "runbooks" / "search-errors.md")


def test_the_demo_alert_carries_the_started_stand_ins_address() -> None:
    stand_in = SearchApiStandIn().start()  # on a free port, as the demo starts it
    try:
        labels = alert_labels(stand_in.url)
        assert labels["search_api_url"] == stand_in.url != "http://127.0.0.1:8080"
        params = params_from_labels(read_runbook(SEARCH_ERRORS), labels)
        assert (params["SEARCH_API_URL"], params["DEPLOY"]) == (stand_in.url, "local")
    finally:
        stand_in.stop()


def test_the_unattended_diagnosis_of_the_demo_alert_reaches_the_stand_in(tmp_path: Path) -> None:
    """The diagnosis ``ops serve`` runs for the demo's alert, with its labels: the health
    step gets the stand-in's real answer. In a child process, as ops serve guards itself
    (not dumpable) before it runs a step, which the test process must not be."""
    stand_in = SearchApiStandIn().start()
    # the URLs the demo's ops.yaml lets alert labels choose
    demo = demo_config("http://127.0.0.1:9090", stand_in.url, "m.jsonl", "oncall.yaml")
    allowed = parse_config(demo, "ops.yaml").serve.diagnose_allowed_urls
    assert allowed == (stand_in.url,)
    code = textwrap.dedent(f"""
        import json
        from ops_toolkit.demo.__main__ import alert_labels
        from ops_toolkit.runbook.execute import no_metrics
        from ops_toolkit.serve.diagnose import Diagnoser
        diagnoser = Diagnoser(
            None, {str(tmp_path)!r}, {{}}, no_metrics, lambda: None, allowed_urls={allowed!r}
        )
        labels = alert_labels({stand_in.url!r})
        print(json.dumps(diagnoser.message_for({SEARCH_ERRORS!r}, labels)))
    """)
    try:
        message = json.loads(run_python(code))
    finally:
        stand_in.stop()
    (health,) = [
        block["text"]["text"]
        for block in message["blocks"]
        if "*health-endpoint*" in block["text"]["text"]
    ]
    first, *output = health.splitlines()
    assert first == ":white_check_mark: *health-endpoint* succeeded"
    assert json.loads("\n".join(output).strip("`\n")) == HEALTH
