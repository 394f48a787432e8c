"""Property tests: whatever users feed the parsers, only the project's own errors come out."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ops_toolkit.alerts.webhook import parse_notification
from ops_toolkit.errors import ConfigError, PayloadError
from ops_toolkit.escalate.route import parse_routes
from ops_toolkit.slo.spec import parse_slo_file

EXAMPLES = int(os.environ.get("OPS_FUZZ_EXAMPLES", "300"))
YAMLISH = st.lists(
    st.sampled_from(
        [
            "version: ops/v1\n",
            "service: s\n",
            "slos:\n",
            "  - name: x\n",
            "    objective: ",
            "99.9\n",
            "    sli: {ratio: {bad: b, total: t}}\n",
            "{",
            "}",
            "[",
            "]",
            ":",
            "- ",
            "apiVersion: openslo/v1\n",
            "kind: SLO\n",
            "---\n",
            "routes:\n",
            "match_re: {a: '('}\n",
            "\t",
            "\ud800",
            "'",
            '"',
            "&a",
            "*a",
            "!!python/object:os.system\n",
        ]
    )
    | st.text(max_size=4)
).map("".join)


@settings(max_examples=EXAMPLES, deadline=None)
@given(YAMLISH)
def test_slo_files_raise_only_config_errors(text: str) -> None:
    try:
        parse_slo_file(text, "f.yaml")
    except ConfigError as error:
        assert str(error).startswith("f.yaml")


@settings(max_examples=EXAMPLES, deadline=None)
@given(YAMLISH)
def test_routes_raise_only_config_errors(text: str) -> None:
    try:
        parse_routes(text, "r.yaml")
    except ConfigError as error:
        assert str(error).startswith("r.yaml")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "version",
                    "status",
                    "alerts",
                    "labels",
                    "startsAt",
                    "groupKey",
                    "endsAt",
                    "annotations",
                    "fingerprint",
                    "truncatedAlerts",
                    "x",
                ]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(JSON)
def test_webhook_payloads_raise_only_payload_errors(data: Any) -> None:
    try:
        parse_notification(data)
    except PayloadError as error:
        assert str(error).startswith("POST /alertmanager: ")
