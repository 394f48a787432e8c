"""ops.yaml: defaults, values, and errors with their YAML path."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops_toolkit.config import load_config, parse_config
from ops_toolkit.errors import ConfigError


def test_defaults_and_values() -> None:
    config = parse_config(
        "serve: {listen: '0.0.0.0:8080', max_age: 30m, pace_seconds: 0.5}\n"
        "prometheus: http://127.0.0.1:9090\nslos: slos/search.yaml\n",
        "ops.yaml",
    )
    assert (config.serve.host, config.serve.port, config.serve.max_age) == ("0.0.0.0", 8080, 1800.0)
    assert config.serve.pace_seconds == 0.5
    assert config.slos == ("slos/search.yaml",)
    assert parse_config("", "ops.yaml").serve.port == 9095


def test_body_limit_and_read_timeout() -> None:
    defaults = parse_config("", "ops.yaml").serve
    assert (defaults.max_body, defaults.read_timeout) == (32 * 1024 * 1024, 30.0)
    serve = parse_config("serve: {max_body: 64MiB, read_timeout: 5s}\n", "ops.yaml").serve
    assert (serve.max_body, serve.read_timeout) == (64 * 1024 * 1024, 5.0)
    assert parse_config("serve: {max_body: 2000000}\n", "ops.yaml").serve.max_body == 2_000_000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "reports:\n  - {name: w, cron: 'every monday', channel: '#a'}\n",
            "ops.yaml: reports[0].cron: not a cron expression: 'every monday' (e.g. '0 9 * * MON')",
        ),
        (
            "reports:\n  - {name: w, cron: '0 9 * * MON', channel: '#a', timezone: Mars/Base}\n",
            "ops.yaml: reports[0].timezone: unknown time zone 'Mars/Base' (e.g. UTC, Europe/Berlin)",
        ),
        (
            "reports:\n  - {name: w, cron: '0 9 * * MON', channel: a}\n",
            "ops.yaml: reports[0].channel: expected a channel like #search or an id like C0123ABCD, got 'a'",
        ),
        (
            "policies:\n  - {channel: '#a', thresholds: [50%, 150%]}\n",
            "ops.yaml: policies[0].thresholds[1]: expected N% or a fraction from 0 to 1, got "
            "'150%' (a percentage is 0% to 100%)",
        ),
        (
            "policies:\n  - {channel: '#a', thresholds: [50, 0.25]}\n",
            "ops.yaml: policies[0].thresholds[0]: expected N% or a fraction from 0 to 1, got 50 "
            "(did you mean 50%?)",
        ),
        (
            "policies:\n  - {channel: '#a', gate: 40}\n",
            "ops.yaml: policies[0].gate: expected N% or a fraction from 0 to 1, got 40 "
            "(did you mean 40%?)",
        ),
        (
            "serve: {listen: localhost}\n",
            "ops.yaml: serve.listen: expected HOST:PORT like 127.0.0.1:9095, got 'localhost'",
        ),
        (
            "serve: {max_age: soon}\n",
            "ops.yaml: serve.max_age: not a duration: 'soon' (use e.g. '30s', '5m', '1h30m')",
        ),
        (
            "serve: {pace_seconds: -1}\n",
            "ops.yaml: serve.pace_seconds: expected a duration longer than 0, got -1",
        ),
        (
            "serve: {max_body: lots}\n",
            "ops.yaml: serve.max_body: expected a size like 32MiB or 2000000, got 'lots'",
        ),
        (
            "serve: {max_body: 10}\n",
            "ops.yaml: serve.max_body: expected a size from 1KiB to 1GiB, got '10'",
        ),
        (
            "serve: {max_body: 5GiB}\n",
            "ops.yaml: serve.max_body: expected a size from 1KiB to 1GiB, got '5GiB'",
        ),
        (
            "serve: {max_body: [1]}\n",
            "ops.yaml: serve.max_body: expected a size like 32MiB or 2000000, got a list",
        ),
        (
            "runbook_base_url: git.example.com\n",
            "ops.yaml: runbook_base_url: expected an http(s) URL, got 'git.example.com'",
        ),
        (
            "promethues: x\n",
            "ops.yaml: promethues: unknown key (did you mean 'prometheus'?); valid keys: serve, "
            "routes, runbooks, runbook, runbook_base_url, slos, prometheus, reports, policies, auto_diagnose, "
            "notifier, oncall, slack, alertmanager, store",
        ),
        (
            "slack: {allow: {silnce: [oncall]}}\n",
            "ops.yaml: slack.allow.silnce: unknown key (did you mean 'silence'?); valid keys: ack, "
            "escalate, resolve, silence, unsilence, diagnose, runbook",
        ),
        (
            "runbook: {audit_retention: 90}\n",
            "ops.yaml: runbook.audit_retention: expected a duration like 90d, got 90",
        ),
        (
            "runbook: {audit_retention: soon}\n",
            "ops.yaml: runbook.audit_retention: not a duration: 'soon' (use e.g. '30s', '5m', "
            "'1h30m')",
        ),
        (
            "runbook: {audit_retention: 0d}\n",
            "ops.yaml: runbook.audit_retention: expected a duration longer than 0, got '0d'",
        ),
        (
            "runbook: {retention: 90d}\n",
            "ops.yaml: runbook.retention: unknown key (did you mean 'audit_retention'?); valid "
            "keys: audit_retention",
        ),
        (
            "slack: {allow: {silence: [oncall, '@dana']}}\n",
            "ops.yaml: slack.allow.silence[1]: expected a Slack user id (U0123ABCD) or 'oncall', "
            "got '@dana'",
        ),
    ],
)
def test_errors_name_the_path(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(text, "ops.yaml")
    assert str(raised.value) == message


def test_allow_lists_per_action() -> None:
    config = parse_config(
        "slack: {allow: {silence: [oncall, U0LEAD0001], resolve: [U0LEAD0001]}}\n", "ops.yaml"
    )
    assert config.may("silence_4h", "U0SEARCH01", on_call={"U0SEARCH01"})
    assert not config.may("silence_1h", "U0SEARCH02", on_call={"U0SEARCH01"})
    assert config.may("silence_24h", "U0LEAD0001", on_call=())
    assert not config.may("resolve", "U0SEARCH01", on_call={"U0SEARCH01"})
    assert config.may("ack", "U0ANYONE01", on_call=())  # no list: anyone


def test_a_config_file_that_is_not_there_says_where_to_get_one(tmp_path: Path) -> None:
    # Before: "ops.yaml: cannot read: No such file or directory", and nothing on what to do.
    missing = str(tmp_path / "ops.yaml")
    with pytest.raises(ConfigError) as caught:
        load_config(missing)
    assert str(caught.value) == (
        f"{missing}: no such file; write one (README, 'ops.yaml'; "
        "deploy/kubernetes/configmap.yaml has a complete example) or leave out --config to run "
        "on the defaults"
    )


def test_the_credential_variables_of_a_config_skip_a_broken_oncall_file(tmp_path: Path) -> None:
    """One set for the runner, 'ops check' and 'ops serve'; a broken on-call file adds none
    (its error is reported where it is checked) but the metrics source's still count."""
    from ops_toolkit.config import configured_credential_variables

    oncall = tmp_path / "oncall.yaml"
    oncall.write_text(
        "webhooks:\n  pd:\n    url: http://127.0.0.1:9/\n    format: pagerduty\n"
        "    routing_key_env: PD_ROUTE\n"
    )
    text = f"prometheus: {{url: 'http://127.0.0.1:9', bearer_token_env: PROM_TOKEN}}\noncall: {oncall}\n"
    assert configured_credential_variables(parse_config(text, "ops.yaml")) == {
        "PROM_TOKEN",
        "PD_ROUTE",
    }
    oncall.write_text("schedules: 7\n")
    assert configured_credential_variables(parse_config(text, "ops.yaml")) == {"PROM_TOKEN"}


def test_the_audit_retention_is_a_duration() -> None:
    assert parse_config("runbook:\n  audit_retention: 90d\n", "ops.yaml").audit_retention == 7776000
    assert parse_config("runbooks: runbooks\n", "ops.yaml").audit_retention is None


# Every int field of the config model, with what ops.yaml writes for it: the test below
# covers each, and test_every_int_field_of_the_config_model_is_checked keeps it so.
WHOLE_NUMBER_FIELDS = {
    "ServeSettings.port": ("serve: {{listen: '127.0.0.1:{}'}}", "serve.listen"),
    "ServeSettings.inbox_limit": ("serve: {{inbox_limit: {}}}", "serve.inbox_limit"),
    "ServeSettings.max_body": ("serve: {{max_body: {}}}", "serve.max_body"),
    "ServeSettings.diagnose_queue": ("serve: {{diagnose_queue: {}}}", "serve.diagnose_queue"),
}
NOT_WHOLE = {
    # field: (a fraction, a bool, a string): the messages for each
    "ServeSettings.port": (
        ("95.5", "expected HOST:PORT like 127.0.0.1:9095, got '127.0.0.1:95.5'"),
        ("true", "expected HOST:PORT like 127.0.0.1:9095, got '127.0.0.1:true'"),
        ("port", "expected HOST:PORT like 127.0.0.1:9095, got '127.0.0.1:port'"),
    ),
    "ServeSettings.inbox_limit": (
        ("0.5", "must be a whole number, got 0.5"),
        ("true", "must be a whole number, got true"),
        ("'100'", "must be a whole number, got '100'"),
    ),
    "ServeSettings.max_body": (
        ("2048.5", "must be a whole number of bytes or a size like 32MiB, got 2048.5"),
        ("true", "must be a whole number of bytes or a size like 32MiB, got true"),
        ("'2048.5'", "expected a whole number of bytes, got '2048.5'"),
    ),
    "ServeSettings.diagnose_queue": (
        ("0.5", "must be a whole number, got 0.5"),
        ("false", "must be a whole number, got false"),
        ("'20'", "must be a whole number, got '20'"),
    ),
}


def test_every_int_field_of_the_config_model_is_checked() -> None:
    import dataclasses

    import ops_toolkit.config as config

    models = [v for v in vars(config).values() if dataclasses.is_dataclass(v)]
    ints = {
        f"{model.__name__}.{field.name}"
        for model in models
        if model.__module__ == config.__name__
        for field in dataclasses.fields(model)
        if field.type in ("int", int)
    }
    assert ints == set(WHOLE_NUMBER_FIELDS) == set(NOT_WHOLE)


@pytest.mark.parametrize(
    ("field", "written", "message"),
    [
        pytest.param(field, written, message, id=f"{field} {written}")
        for field, cases in NOT_WHOLE.items()
        for written, message in cases
    ],
)
def test_an_int_field_refuses_a_fraction_a_bool_or_a_string(
    field: str, written: str, message: str
) -> None:
    """``serve.diagnose_queue: 0.5`` was int() into 0, silently: no run ever waited."""
    template, path = WHOLE_NUMBER_FIELDS[field]
    with pytest.raises(ConfigError) as raised:
        parse_config(template.format(written) + "\n", "ops.yaml")
    assert str(raised.value) == f"ops.yaml: {path}: {message}"


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("serve: {inbox_limit: 500, diagnose_queue: 3}", (500, 3, 32 * 1024 * 1024)),
        ("serve: {max_body: 1.5KiB}", (10_000, 20, 1536)),
    ],
)
def test_whole_numbers_are_read_as_written(written: str, expected: tuple[int, int, int]) -> None:
    serve = parse_config(written + "\n", "ops.yaml").serve
    assert (serve.inbox_limit, serve.diagnose_queue, serve.max_body) == expected
