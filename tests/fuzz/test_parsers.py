"""Fuzz targets, one per parser: whatever users (or servers) feed them, only the project's own
errors come out, and each names its place. See ``profile.py`` for how long they run."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ops_toolkit.alerts.webhook import parse_notification
from ops_toolkit.check import alert_names
from ops_toolkit.config import parse_config
from ops_toolkit.errors import ConfigError, MetricsError, PayloadError, RunbookError
from ops_toolkit.escalate.route import parse_routes
from ops_toolkit.metrics.prometheus import PrometheusSource
from ops_toolkit.rollout.plan import parse_plan
from ops_toolkit.runbook.attributes import step_options
from ops_toolkit.runbook.lint import lint_runbook
from ops_toolkit.runbook.parse import parse_runbook, parse_runbook_problems
from ops_toolkit.slo.rules import generate
from ops_toolkit.slo.spec import parse_slo_file
from tests.fuzz.hostile import (
    HOSTILE_TREE,
    YAML_NOISE,
    _any_int_digits,
    json_text,
    mutated,
    yaml_documents,
    yaml_text,
)
from tests.fuzz.profile import fuzz
from tests.fuzz.seeds import (
    PROMETHEUS_ANSWERS,
    ROUTES,
    RUNBOOK,
    SLO_EXTRA_KEYS,
    SLO_FORMATS,
    WEBHOOK,
    keys_of,
    load_seed,
)

# -- SLO files, one target per format --------------------------------------------------------


@pytest.mark.parametrize("seed_file", list(SLO_FORMATS.values()), ids=list(SLO_FORMATS))
def test_slo_files_raise_only_config_errors(seed_file: str) -> None:
    seed = load_seed(seed_file)

    @fuzz(120)
    @given(yaml_documents([seed], keys_of(seed) + SLO_EXTRA_KEYS))
    def target(text: str) -> None:
        try:
            parsed = parse_slo_file(text, "f.yaml")
        except ConfigError as error:
            assert str(error).startswith("f.yaml")
            return
        generate([parsed], None, True)  # what the parser accepts, the rules can use

    target()


# -- ops.yaml and routes ------------------------------------------------------------------------


@fuzz(200)
@given(yaml_documents([load_seed("ops.yaml")], keys_of(load_seed("ops.yaml"))))
def test_ops_yaml_raises_only_config_errors(text: str) -> None:
    try:
        parse_config(text, "ops.yaml")
    except ConfigError as error:
        assert str(error).startswith("ops.yaml")


@fuzz(200)
@given(yaml_documents([ROUTES], keys_of(ROUTES)))
def test_routes_raise_only_config_errors(text: str) -> None:
    try:
        parse_routes(text, "r.yaml")
    except ConfigError as error:
        assert str(error).startswith("r.yaml")


# -- runbooks ----------------------------------------------------------------------------------

FENCE = "```"


def runbook_markdown(tree: Any) -> str:
    """A mutated runbook tree as Markdown: front matter, then a fenced block per step."""
    if not isinstance(tree, dict):
        return f"# {json_text(tree)}\n"
    parts = []
    if "front" in tree:
        parts.append(f"---\n{yaml_text(tree['front'])}---\n")
    parts.append("# Runbook\n")
    steps = tree.get("steps")
    for step in steps if isinstance(steps, list) else [steps]:
        if not isinstance(step, dict):
            parts.append(f"{FENCE}sh {json_text(step)}\n{FENCE}\n")
            continue
        with _any_int_digits():
            kind = str(step.get("kind", ""))
            code = str(step.get("code", ""))
        attributes = json_text(step["attributes"]) if "attributes" in step else ""
        parts.append(f"## Step\n{FENCE}{kind} {attributes}\n{code}\n{FENCE}\n")
    return "\n".join(parts)


MARKDOWN_NOISE = st.lists(
    st.sampled_from(["`", "~", "{", "}", "[", "]", '"', "'", ":", ",", "-", "#", "\n", " "])
    | st.sampled_from(["---\n", "```sh {", '"name":', "\x00", "a", "=", "$", "\\", "\ud800"])
    | st.sampled_from([5000, 4301]).map(lambda n: f'"retries":"{"9" * n}"')
    | st.sampled_from(['"timeout":"1e400d"', '"retries":1e400'])
    | st.text(max_size=3)
).map("".join)


@fuzz(300)
@given(
    mutated(RUNBOOK, (*keys_of(RUNBOOK), "kind", "attributes", "code")).map(runbook_markdown)
    | MARKDOWN_NOISE
)
def test_runbooks_raise_only_runbook_errors(text: str) -> None:
    try:
        runbook = parse_runbook(text, "fuzz.md")
        lint_runbook(runbook)
        for step in runbook.steps:
            step_options(step, "fuzz.md")
    except RunbookError as error:
        assert str(error).startswith("fuzz.md")
    # lint's way: past every error it can, and the rest linted
    partial, problems = parse_runbook_problems(text, "fuzz.md")
    assert all(str(problem).startswith("fuzz.md") for problem in problems)
    if partial is not None:
        lint_runbook(partial)


# -- webhook bodies ----------------------------------------------------------------------------


def decoded_as_the_server_does(data: Any) -> Any:
    """``data`` through JSON text and back, as ``POST /alertmanager`` decodes a body; None
    when the decoder refuses it (an integer over 4,300 digits: the server's 400)."""
    try:
        return json.loads(json_text(data))
    except ValueError:
        return None


@fuzz(300)
@given((mutated(WEBHOOK, keys_of(WEBHOOK)) | HOSTILE_TREE).map(decoded_as_the_server_does))
def test_webhook_bodies_raise_only_payload_errors(data: Any) -> None:
    try:
        parse_notification(data)
    except PayloadError as error:
        assert str(error).startswith("POST /alertmanager")


# -- Prometheus answers ------------------------------------------------------------------------


class _Answers(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer()

    def _answer(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def answering_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_prometheus_answers_raise_only_metrics_errors(answering_server: str) -> None:
    source = PrometheusSource(answering_server, timeout=5)

    @fuzz(150)
    @given(st.one_of(*(mutated(a) for a in PROMETHEUS_ANSWERS)).map(json_text) | YAML_NOISE)
    def target(body: str) -> None:
        _Answers.body = body.encode("utf-8", "surrogatepass")
        try:
            source.query("up", at=1764400000)
        except MetricsError as error:
            assert f"Prometheus at {answering_server}" in str(error)

    target()


# -- rollout plans -----------------------------------------------------------------------------


@fuzz(150)
@given(yaml_documents([load_seed("rollout.yaml")], keys_of(load_seed("rollout.yaml"))))
def test_rollout_plans_raise_only_config_errors(text: str) -> None:
    try:
        parse_plan(text, "p.yaml")
    except ConfigError as error:
        assert str(error).startswith("p.yaml")


# -- Prometheus rule files (ops check --rules) ---------------------------------------------------


@fuzz(100)
@given(yaml_documents([load_seed("rules.yaml")], keys_of(load_seed("rules.yaml"))))
def test_rule_files_never_raise(text: str) -> None:
    """An unreadable rule file names no alerts; it never stops ``ops check``."""
    assert isinstance(alert_names([text]), set)
