"""The two environment models, ops's own credentials, and values the OS cannot pass."""

from __future__ import annotations

import subprocess

import pytest

from ops_toolkit.errors import RunbookError
from ops_toolkit.runbook.environment import (
    is_ops_credential,
    ops_credentials,
    os_refuses,
    person_environment,
    unattended_environment,
)
from ops_toolkit.runbook.lint import lint_runbook
from ops_toolkit.runbook.parse import parse_runbook

SERVER_ENV = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/home/ops",
    "LANG": "C.UTF-8",
    "LC_TIME": "en_GB.UTF-8",
    "TZ": "UTC",
    "KUBECONFIG": "/etc/kube/config",
    "USER": "ops",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-key",
    "SEARCH_ADMIN_TOKEN": "admin-token-value",
    "GRAFANA_URL": "https://grafana.example",
    "SLACK_BOT_TOKEN": "xoxb-bot-token",
    "SLACK_SIGNING_SECRET": "signing-secret-value",
    "SLACK_API_URL": "http://127.0.0.1:9/api/",
    "SLACK_CHANNEL": "#search-incidents",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.example/services/T0/B0/secret-part",
    "OPS_WEBHOOK_TOKEN": "webhook-token-value",
    "OPS_PAGER_TOKEN": "pager-token-value",
    "OPS_DATABASE_URL": "postgresql://ops:db-password@127.0.0.1/ops",
    "OPS_PROMETHEUS_URL": "http://prom:prom-password@127.0.0.1:9090",
    "OPS_STATE_DIR": "/var/lib/ops",
}


@pytest.mark.parametrize(
    ("name", "value", "credential"),
    [
        ("SLACK_BOT_TOKEN", "", True),
        ("SLACK_SIGNING_SECRET", "", True),
        ("SLACK_API_URL", "", True),
        ("OPS_WEBHOOK_TOKEN", "", True),
        ("OPS_ANYTHING_TOKEN", "", True),
        ("OPS_DATABASE_URL", "", True),
        ("OPS_STORE_DSN", "", True),
        ("OPS_PROMETHEUS_URL", "http://u:p@host", True),
        ("OPS_PROMETHEUS_URL", "http://host:9090", False),
        ("OPS_STATE_DIR", "/var/lib/ops", False),
        ("SEARCH_ADMIN_TOKEN", "", False),
        ("MY_SLACK_BOT_TOKEN", "", False),
        ("OPS_API_KEY", "", True),
        ("OPS_KEY", "", True),
        ("OPS_PAGERDUTY_ROUTING_KEY", "", True),
        ("OPS_SEARCH_API_KEY", "", True),
        ("SEARCH_API_KEY", "", False),
    ],
)
def test_which_variables_are_ops_credentials(name: str, value: str, credential: bool) -> None:
    assert is_ops_credential(name, value) is credential


def test_at_the_cli_steps_get_the_persons_environment_minus_ops_credentials() -> None:
    assert sorted(person_environment(SERVER_ENV)) == [
        "AWS_SECRET_ACCESS_KEY",
        "GRAFANA_URL",
        "HOME",
        "KUBECONFIG",
        "LANG",
        "LC_TIME",
        "OPS_STATE_DIR",
        "PATH",
        "SEARCH_ADMIN_TOKEN",
        "TZ",
        "USER",
    ]


def test_unattended_steps_get_the_allow_list_and_what_the_runbook_names() -> None:
    runbook = parse_runbook(
        "---\ntitle: t\nenv: [GRAFANA_URL, SLACK_BOT_TOKEN]\nsecrets: [SEARCH_ADMIN_TOKEN]\n---\n",
        "rb.md",
    )
    assert unattended_environment(SERVER_ENV, runbook) == {
        "PATH": "/usr/bin:/bin",
        "HOME": "/home/ops",
        "LANG": "C.UTF-8",
        "LC_TIME": "en_GB.UTF-8",
        "TZ": "UTC",
        "KUBECONFIG": "/etc/kube/config",
        "GRAFANA_URL": "https://grafana.example",
        "SEARCH_ADMIN_TOKEN": "admin-token-value",
    }


def test_the_values_of_ops_credentials_are_what_gets_masked() -> None:
    # SLACK_CHANNEL and SLACK_API_URL are kept from steps too, but are no secrets to mask: a
    # runbook's own SLACK_CHANNEL param with the same value must not be refused or hidden.
    assert ops_credentials(SERVER_ENV) == {
        "SLACK_BOT_TOKEN": "xoxb-bot-token",
        "SLACK_SIGNING_SECRET": "signing-secret-value",
        "SLACK_WEBHOOK_URL": "https://hooks.slack.example/services/T0/B0/secret-part",
        "OPS_WEBHOOK_TOKEN": "webhook-token-value",
        "OPS_PAGER_TOKEN": "pager-token-value",
        "OPS_DATABASE_URL": "postgresql://ops:db-password@127.0.0.1/ops",
        "OPS_DATABASE_URL (password)": "db-password",
        "OPS_PROMETHEUS_URL": "http://prom:prom-password@127.0.0.1:9090",
        "OPS_PROMETHEUS_URL (password)": "prom-password",
    }


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("plain value", None),
        ("a\x00b", "contains a NUL byte"),
        ("\ud800", "is not valid Unicode (a lone surrogate)"),
        ("x" * (128 * 1024 - 6), None),
        ("x" * (128 * 1024 - 5), "is longer than an environment variable can hold (128 KiB)"),
    ],
    ids=["plain", "NUL", "lone surrogate", "longest that fits", "one byte too long"],
)
def test_values_the_os_cannot_pass(value: str, problem: str | None) -> None:
    assert os_refuses("NAME", value) == problem
    if problem is None:  # the OS agrees
        subprocess.run(["true"], env={"NAME": value}, check=True)
    else:
        with pytest.raises((OSError, ValueError)):
            subprocess.run(["true"], env={"NAME": value}, check=True)


def lint_messages(front: str) -> list[str]:
    text = f'---\ntitle: t\nowner: o\n{front}---\n```sh {{"name":"a"}}\necho "$GRAFANA_URL"\n```\n'
    return [str(f) for f in lint_runbook(parse_runbook(text, "r.md"))]


def test_a_runbook_names_what_unattended_runs_pass_in_env() -> None:
    runbook = parse_runbook("---\ntitle: t\nenv: [GRAFANA_URL, AWS_PROFILE]\n---\n", "r.md")
    assert runbook.env == ("GRAFANA_URL", "AWS_PROFILE")
    assert lint_messages("env: [GRAFANA_URL]\n") == []
    assert lint_messages("") == [
        "r.md:6: warning: step 'a': $GRAFANA_URL is not a param, secret, captured variable or "
        "well-known environment variable"
    ]


def test_env_and_secrets_cannot_name_bad_names_or_ops_credentials() -> None:
    assert lint_messages("env: [GRAFANA_URL, not-a-name, SLACK_BOT_TOKEN]\n") == [
        "r.md:4: error: env 'not-a-name' is not an environment variable name",
        "r.md:4: error: env: SLACK_BOT_TOKEN is one of ops's own credentials; it never reaches "
        "a step",
    ]
    assert lint_messages("env: [GRAFANA_URL]\nsecrets: [OPS_WEBHOOK_TOKEN]\n") == [
        "r.md:5: error: secrets: OPS_WEBHOOK_TOKEN is one of ops's own credentials; it never "
        "reaches a step",
    ]
    with pytest.raises(RunbookError) as raised:
        parse_runbook("---\ntitle: t\nenv: {A: 1}\n---\n", "r.md")
    assert str(raised.value) == "r.md:3: front matter 'env' must be a list of strings"


def test_variables_the_oncall_file_names_are_ops_credentials_whatever_their_name() -> None:
    """Was: routing_key_env's variable reached steps at the CLI and in serve, unmasked."""
    environ = {**SERVER_ENV, "PD_ROUTE": "pd-routing-key", "OPS_API_KEY": "ops-api-key"}
    named = frozenset({"PD_ROUTE"})
    assert is_ops_credential("PD_ROUTE", "", named)
    assert "PD_ROUTE" not in person_environment(environ, named)
    assert "OPS_API_KEY" not in person_environment(environ, named)
    runbook = parse_runbook("---\ntitle: t\nenv: [PD_ROUTE]\n---\n", "rb.md")
    assert "PD_ROUTE" not in unattended_environment(environ, runbook, named)
    masked = ops_credentials(environ, named)
    assert masked["PD_ROUTE"] == "pd-routing-key"
    assert masked["OPS_API_KEY"] == "ops-api-key"


def test_env_and_secrets_cannot_name_a_variable_the_oncall_file_reads() -> None:
    text = '---\ntitle: t\nowner: o\nenv: [PD_ROUTE]\nsecrets: [PD_ROUTE]\n---\n```sh {"name":"a"}\ntrue\n```\n'
    runbook = parse_runbook(text, "r.md")
    assert [str(f) for f in lint_runbook(runbook)] == []
    assert [str(f) for f in lint_runbook(runbook, frozenset({"PD_ROUTE"}))] == [
        "r.md:5: error: secrets: PD_ROUTE is one of ops's own credentials; it never reaches a step",
        "r.md:4: error: env: PD_ROUTE is one of ops's own credentials; it never reaches a step",
    ]
