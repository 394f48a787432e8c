"""Durations that must be positive, in ops.yaml and the on-call file: one check, one message.

Before, a duration written as a string skipped the positivity check that a number got:
``store: {busy_timeout: 0s}`` was taken (every write would give up at once) while
``busy_timeout: 0`` was refused, ``-5s`` said "not a duration", and a string also skipped
``busy_timeout``'s one-hour limit. ``ops_toolkit.yamlpath.positive_duration`` is now the one
check every such field goes through.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.config import parse_config
from ops_toolkit.errors import ConfigError
from ops_toolkit.escalate.oncall import parse_oncall

# Every duration of ops.yaml that must be positive, as a flow mapping around VALUE.
OPS_YAML_DURATIONS = {
    "store.busy_timeout": "store: {busy_timeout: VALUE}",
    "serve.max_age": "serve: {max_age: VALUE}",
    "serve.read_timeout": "serve: {read_timeout: VALUE}",
    "serve.pace_seconds": "serve: {pace_seconds: VALUE}",
    "runbook.audit_retention": "runbook: {audit_retention: VALUE}",
}
# Zero and below in either form: numbers (audit_retention takes strings only) and strings.
NOT_POSITIVE = [("0", "0"), ("-5", "-5"), ("0s", "'0s'"), ("-5s", "'-5s'"), ("0ms", "'0ms'")]
NOT_POSITIVE += [("-0.5", "-0.5"), ("'-1h30m'", "'-1h30m'"), ("0d", "'0d'"), ("'  0s '", "'  0s '")]


def ops_yaml_cases() -> list[tuple[str, str, str]]:
    cases = []
    for path, template in OPS_YAML_DURATIONS.items():
        for written, shown in NOT_POSITIVE:
            if path == "runbook.audit_retention" and not shown.startswith("'"):
                continue  # a bare number there is refused as "expected a duration like 90d"
            cases.append((template.replace("VALUE", written), path, shown))
    return cases


@pytest.mark.parametrize(
    ("text", "path", "shown"),
    ops_yaml_cases(),
    ids=[f"{path} {text.split(': ', 2)[-1][:-1]}" for text, path, _ in ops_yaml_cases()],
)
def test_every_ops_yaml_duration_refuses_zero_and_below_in_either_form(
    text: str, path: str, shown: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text + "\n", "ops.yaml")
    assert str(caught.value) == f"ops.yaml: {path}: expected a duration longer than 0, got {shown}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "store: {busy_timeout: 2h}",
            "ops.yaml: store.busy_timeout: duration too long: '2h' (at most 1h)",
        ),
        (
            "store: {busy_timeout: 7200}",
            "ops.yaml: store.busy_timeout: duration too long: 7200 (at most 1h)",
        ),
        (
            "store: {busy_timeout: .inf}",
            "ops.yaml: store.busy_timeout: duration too long: inf (at most 1h)",
        ),
        (
            "serve: {max_age: 5000d}",
            "ops.yaml: serve.max_age: duration too long: '5000d' (at most 3650d)",
        ),
        (
            "serve: {read_timeout: 400000000}",
            "ops.yaml: serve.read_timeout: duration too long: 400000000 (at most 3650d)",
        ),
        (
            "store: {busy_timeout: .nan}",
            "ops.yaml: store.busy_timeout: not a duration: 'nan' (use e.g. '30s', '5m', '1h30m')",
        ),
        (
            "store: {busy_timeout: '-soon'}",
            "ops.yaml: store.busy_timeout: not a duration: '-soon' (use e.g. '30s', '5m', '1h30m')",
        ),
        (
            "store: {busy_timeout: true}",
            "ops.yaml: store.busy_timeout: expected a duration like 30s or 5m, got true",
        ),
        (
            "serve: {max_age: [1h]}",
            "ops.yaml: serve.max_age: expected a duration like 30s or 5m, got a list",
        ),
    ],
    ids=[
        "a string over busy_timeout's limit (taken before)",
        "a number over busy_timeout's limit",
        "infinity",
        "a string over ten years",
        "a number over ten years (taken before)",
        "nan",
        "a minus sign before no duration",
        "a boolean",
        "a list",
    ],
)
def test_duration_limits_and_kinds_are_one_shape_for_numbers_and_strings(
    text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text + "\n", "ops.yaml")
    assert str(caught.value) == message


def test_positive_durations_are_read_in_either_form() -> None:
    config = parse_config(
        "store: {busy_timeout: 250ms}\n"
        "serve: {max_age: 90, read_timeout: 1m, pace_seconds: 500ms}\n"
        "runbook: {audit_retention: 90d}\n",
        "ops.yaml",
    )
    assert (
        config.store.busy_timeout,
        config.serve.max_age,
        config.serve.read_timeout,
        config.serve.pace_seconds,
        config.audit_retention,
    ) == (0.25, 90.0, 60.0, 0.5, 90 * 86400.0)
    assert parse_config("store: {busy_timeout: 1h}\n", "ops.yaml").store.busy_timeout == 3600


POLICY = (
    "schedules:\n  - name: primary\n    layers:\n"
    "      - {rotation: weekly, start: 2026-01-05, participants: [U0AAAAAA1]}\n"
    "policies:\n  - name: search\n    tiers:\n"
)


@pytest.mark.parametrize(
    ("policy", "path", "shown"),
    [
        (
            "      - {schedule: primary, wait: 0s}\n      - {users: [U0BBBBBB2]}\n",
            "tiers[0].wait",
            "'0s'",
        ),
        (
            "      - {schedule: primary, wait: -5s}\n      - {users: [U0BBBBBB2]}\n",
            "tiers[0].wait",
            "'-5s'",
        ),
        (
            "      - {schedule: primary, wait: -5}\n      - {users: [U0BBBBBB2]}\n",
            "tiers[0].wait",
            "-5",
        ),
        ("      - {schedule: primary, wait: 0ms}\n", "tiers[0].wait", "'0ms'"),
        (
            "      - {schedule: primary}\n    repeat: {every: 0s, limit: 2}\n",
            "repeat.every",
            "'0s'",
        ),
        (
            "      - {schedule: primary}\n    repeat: {every: -15m, limit: 2}\n",
            "repeat.every",
            "'-15m'",
        ),
    ],
    ids=[
        "a tier's wait of 0s",
        "a tier's wait of -5s",
        "a tier's wait of -5",
        "the last tier's wait of 0ms (taken before)",
        "repeat every 0s",
        "repeat every -15m",
    ],
)
def test_escalation_durations_refuse_zero_and_below_with_the_same_message(
    policy: str, path: str, shown: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_oncall(POLICY + policy, "alerts/oncall.yaml")
    assert str(caught.value) == (
        f"alerts/oncall.yaml: policies[0].{path}: expected a duration longer than 0, got {shown}"
    )


def test_a_command_refuses_a_zero_busy_timeout_before_it_opens_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end: the commands that open the store (``ops serve``, ``ops escalation``, ...)
    stop at the config with one line; before, the store was opened with no wait at all."""
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "ops.yaml"
    config.write_text("store: {busy_timeout: 0s}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["escalation", "list", "--config", str(config)])
    assert (result.exit_code, result.output) == (
        1,
        f"Error: {config}: store.busy_timeout: expected a duration longer than 0, got '0s'\n",
    )
    assert not (tmp_path / "ops-state.db").exists()
