"""What the fuzz targets found: each crash once, with the exact message that replaced it."""

from __future__ import annotations

import pytest

from ops_toolkit.check import alert_names
from ops_toolkit.config import parse_config
from ops_toolkit.errors import ConfigError, RunbookError
from ops_toolkit.runbook.attributes import step_options
from ops_toolkit.runbook.parse import parse_runbook
from ops_toolkit.slo.spec import parse_slo_file

DIGITS = "9" * 5000  # over Python's 4,300-digit limit for int <-> str
FORTY = "9" * 40

OPS_V1 = """version: ops/v1
service: search
slos:
  - name: availability
    objective: 99.9
    window: 30d
    sli: {ratio: {bad: 'http_requests_total{code=~"5.."}', total: http_requests_total}}
"""


def latency_below(below: str) -> str:
    """OPS_V1 with a latency SLI whose threshold is ``below`` as written."""
    ratio = (
        """sli: {ratio: {bad: 'http_requests_total{code=~"5.."}', total: http_requests_total}}"""
    )
    return OPS_V1.replace(ratio, f"sli: {{latency: {{histogram: d, below: {below}}}}}")


OPENSLO = """apiVersion: openslo/v1
kind: SLO
metadata: {name: availability, annotations: {ops-toolkit/runbook: runbooks/search-errors.md}}
spec:
  service: search
  budgetingMethod: Occurrences
  timeWindow: [{duration: 28d, isRolling: true}]
  objectives: [{target: 0.995}]
  indicator:
    spec:
      ratioMetric:
        counter: true
        good: {metricSource: {type: Prometheus, spec: {query: 'up{code!~"5.."}'}}}
        total: {metricSource: {type: Prometheus, spec: {query: up}}}
"""
INDICATOR = OPENSLO[OPENSLO.index("  indicator:") :]


def test_the_seeds_parse() -> None:
    assert parse_slo_file(OPS_V1, "f.yaml").slos[0].objective == 99.9
    assert parse_slo_file(OPENSLO, "o.yaml").slos[0].runbook == "runbooks/search-errors.md"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            OPENSLO.replace(INDICATOR, "  indicator:\n    spec:\n"),
            "o.yaml: spec.indicator.spec: is required",
            id="empty OpenSLO indicator.spec (AttributeError in yamlpath)",
        ),
        pytest.param(
            OPENSLO.replace(INDICATOR, "  indicator: 5\n"),
            "o.yaml: spec.indicator: expected a mapping, got '5'",
            id="OpenSLO indicator a number (AttributeError in yamlpath)",
        ),
        pytest.param(
            OPENSLO.replace(
                "annotations: {ops-toolkit/runbook: runbooks/search-errors.md}", "annotations: true"
            ),
            "o.yaml: metadata.annotations: expected a mapping, got 'True'",
            id="OpenSLO annotations not a mapping (AttributeError)",
        ),
        pytest.param(
            OPENSLO.replace("duration: 28d", f"duration: {'9' * 400}d"),
            "o.yaml: spec.timeWindow[0].duration: expected at most 3650d (ten years), got "
            f"'{'9' * 36}...",
            id="huge OpenSLO window (OverflowError)",
        ),
        pytest.param(
            OPS_V1.replace("objective: 99.9", f"objective: {DIGITS}"),
            "f.yaml:5: not valid YAML: an integer of 5000 digits is too long (at most 4300)",
            id="objective over 4300 digits (ValueError)",
        ),
        pytest.param(
            OPS_V1.replace("objective: 99.9", f"objective: 1{'0' * 400}"),
            "f.yaml: slos[0].objective: expected a number between 0 and 100 (exclusive), got "
            f"1{'0' * 39}...",
            id="objective of 401 digits (OverflowError in float())",
        ),
        pytest.param(
            latency_below(f"1{'0' * 400}"),
            f"f.yaml: slos[0].sli.latency.below: expected seconds up to 1e+09, got '1{'0' * 39}...'",
            id="latency threshold of 401 digits (OverflowError in float())",
        ),
        pytest.param(
            latency_below(".nan"),
            "f.yaml: slos[0].sli.latency.below: expected seconds up to 1e+09, got 'nan'",
            id="latency threshold nan",
        ),
        pytest.param(
            OPS_V1.replace("window: 30d", f"window: {'9' * 400}d"),
            f"f.yaml: slos[0].window: expected a window of at most 3650d, got '{FORTY}...'",
            id="huge window (OverflowError)",
        ),
        pytest.param(
            OPS_V1.replace("window: 30d", "window: 3651d"),
            "f.yaml: slos[0].window: expected a window of at most 3650d, got '3651d'",
            id="window just over ten years",
        ),
        pytest.param(
            OPS_V1.replace("window: 30d", "window: nan"),
            "f.yaml: slos[0].window: expected a duration like 30d or 28d, got 'nan'",
            id="window nan",
        ),
        pytest.param(
            OPS_V1.replace("service: search", "service: 2026-13-01"),
            "f.yaml:2: not valid YAML: not a valid date or time: '2026-13-01'",
            id="impossible date (ValueError in PyYAML)",
        ),
        pytest.param(
            OPS_V1.replace("service: search", "service: !!timestamp soon"),
            "f.yaml:2: not valid YAML: not a valid date or time: 'soon'",
            id="timestamp tag on a non-date (AttributeError in PyYAML)",
        ),
    ],
)
def test_slo_files(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_slo_file(text, "o.yaml" if "openslo" in text else "f.yaml")
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "serve: {inbox_limit: .inf}\n",
            "ops.yaml: serve.inbox_limit: must be a whole number, got inf",
            id="infinite inbox limit (OverflowError in int())",
        ),
        pytest.param(
            "serve: {pace_seconds: .nan}\n",
            "ops.yaml: serve.pace_seconds: not a duration: 'nan' (use e.g. '30s', '5m', '1h30m')",
            id="nan pacing",
        ),
        pytest.param(
            "serve: {max_age: 1e400}\n",
            "ops.yaml: serve.max_age: duration too long: '1e400' (at most 3650d)",
            id="infinite max_age",
        ),
        pytest.param(
            f"serve: {{inbox_limit: {DIGITS}}}\n",
            "ops.yaml:1: not valid YAML: an integer of 5000 digits is too long (at most 4300)",
            id="inbox limit over 4300 digits (ValueError)",
        ),
    ],
)
def test_ops_yaml(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(text, "ops.yaml")
    assert str(raised.value) == message


FENCE = "```"


def runbook(attributes: str, front: str = "title: t\n") -> str:
    return f"---\n{front}---\n# T\n\n{FENCE}sh {attributes}\necho\n{FENCE}\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            runbook(f'{{"name":"a","retries":{DIGITS}}}'),
            "r.md:6: step attributes hold a number too long to read; write values as strings",
            id="JSON number over 4300 digits (ValueError in json.loads)",
        ),
        pytest.param(
            runbook('{"name":"a"}', f"title: t\nowner: {DIGITS}\n"),
            "r.md:3: front matter is not valid YAML: an integer of 5000 digits is too long "
            "(at most 4300)",
            id="front matter integer over 4300 digits (ValueError)",
        ),
    ],
)
def test_runbooks(text: str, message: str) -> None:
    with pytest.raises(RunbookError) as raised:
        parse_runbook(text, "r.md")
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        pytest.param(
            f'{{"name":"a","retries":"{DIGITS}"}}',
            f"r.md:6: step 'a': retries: expected a whole number up to 999999, got '{FORTY}...'",
            id="retries over 4300 digits (ValueError from int())",
        ),
        pytest.param(
            '{"name":"a","timeout":"1e400"}',
            "r.md:6: step 'a': timeout: duration too long: '1e400' (at most 3650d)",
            id="infinite timeout",
        ),
        pytest.param(
            f'{{"name":"a","retry_delay":"{"9" * 400}d"}}',
            f"r.md:6: step 'a': retry_delay: duration too long: '{FORTY}...' (at most 3650d)",
            id="huge retry delay",
        ),
        pytest.param(
            '{"name":"a","timeout":"nan"}',
            "r.md:6: step 'a': timeout: not a duration: 'nan' (use e.g. '30s', '5m', '1h30m')",
            id="nan timeout",
        ),
    ],
)
def test_step_attributes(attributes: str, message: str) -> None:
    (step,) = parse_runbook(runbook(attributes), "r.md").steps
    with pytest.raises(RunbookError) as raised:
        step_options(step, "r.md")
    assert str(raised.value) == message


def test_a_rules_file_with_a_huge_integer_names_no_alerts() -> None:
    """ops check --rules read rule files with PyYAML's loader: ValueError, a traceback."""
    good = "groups: [{name: g, rules: [{alert: Up, expr: up}]}]\n"
    huge = f"groups: [{{name: g, rules: [{{alert: Big, expr: up, for: {DIGITS}}}]}}]\n"
    assert alert_names([good, huge, "when: 2026-13-01\n"]) == {"Up"}
