"""The variables ops reads its credentials from: one set, known before the diagnoser starts."""

from __future__ import annotations

from pathlib import Path

from ops_toolkit.config import parse_config
from ops_toolkit.serve.service import credential_variables, load_oncall_file

ONCALL = (
    "webhooks:\n  pd:\n    url: http://127.0.0.1:9/v2/enqueue\n    format: pagerduty\n"
    "    routing_key_env: PD_ROUTE\n"
)


def test_the_metrics_source_and_the_oncall_file_name_them_together(tmp_path: Path) -> None:
    (tmp_path / "oncall.yaml").write_text(ONCALL)
    config = parse_config(
        "prometheus: {url: 'http://127.0.0.1:9090', bearer_token_env: PROM_TOKEN}\n"
        f"oncall: {tmp_path / 'oncall.yaml'}\n",
        "ops.yaml",
    )
    oncall = load_oncall_file(config)
    assert credential_variables(config, oncall) == {"PROM_TOKEN", "PD_ROUTE"}


def test_without_an_oncall_file_only_the_metrics_sources() -> None:
    config = parse_config(
        "prometheus: {url: 'http://127.0.0.1:9090', bearer_token_env: PROM_TOKEN}\n", "ops.yaml"
    )
    assert credential_variables(config, None) == {"PROM_TOKEN"}
