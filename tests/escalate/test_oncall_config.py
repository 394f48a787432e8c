"""alerts/oncall.yaml errors name the file and the YAML path."""

from __future__ import annotations

import pytest

from ops_toolkit.errors import ConfigError
from ops_toolkit.escalate.oncall import load_oncall, parse_oncall

LAYER = "{rotation: weekly, start: 2026-01-05, participants: [U0AAAAAA1]}"


def schedules(layer: str = LAYER, extra: str = "") -> str:
    return f"""schedules:
  - name: primary
    timezone: Europe/Berlin
    layers:
      - {layer}
{extra}"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            schedules("{rotation: fortnightly, start: 2026-01-05, participants: [U0AAAAAA1]}"),
            "schedules[0].layers[0].rotation: expected daily, weekly or 'every N days', got 'fortnightly'",
        ),
        (
            schedules("{rotation: every 0 days, start: 2026-01-05, participants: [U0AAAAAA1]}"),
            "schedules[0].layers[0].rotation: expected daily, weekly or 'every N days', got 'every 0 days'",
        ),
        (
            schedules(
                '{rotation: daily, handoff: "9am", start: 2026-01-05, participants: [U0AAAAAA1]}'
            ),
            "schedules[0].layers[0].handoff: expected a 24-hour time like \"09:00\", got '9am'",
        ),
        (
            schedules("{rotation: daily, participants: [U0AAAAAA1]}"),
            "schedules[0].layers[0].start: is required (the date the first participant starts)",
        ),
        (
            schedules("{rotation: daily, start: 2026-01-05, participants: [U0AAAAAA1, '@dana']}"),
            "schedules[0].layers[0].participants[1]: expected a Slack user id (U0123ABCD) or an email address, got '@dana'",
        ),
        (
            schedules("{rotation: daily, start: 2026-01-05, participants: []}"),
            "schedules[0].layers[0].participants: must not be empty",
        ),
        (
            schedules(
                "{rotation: daily, start: 2026-01-05, days: [sat, funday], participants: [U0AAAAAA1]}"
            ),
            "schedules[0].layers[0].days[1]: expected a weekday (mon, tue, wed, thu, fri, sat, sun), got 'funday'",
        ),
        (
            schedules(
                '{rotation: daily, start: 2026-01-05, hours: "08:00", participants: [U0AAAAAA1]}'
            ),
            "schedules[0].layers[0].hours: expected a range like \"08:00-20:00\", got '08:00'",
        ),
        (
            schedules("{rotation: daily, start: 2026-01-05, participant: [U0AAAAAA1]}"),
            "schedules[0].layers[0].participant: unknown key (did you mean 'participants'?); valid keys: name, rotation, handoff, start, participants, days, hours, until",
        ),
        (
            schedules().replace("Europe/Berlin", "Europe/Berlinn"),
            "schedules[0].timezone: unknown time zone 'Europe/Berlinn' (e.g. UTC, Europe/Berlin)",
        ),
        (
            schedules(
                extra='    overrides:\n      - {user: U0BBBBBB2, from: "2026-01-06T09:00", to: "2026-01-06T08:00"}\n'
            ),
            "schedules[0].overrides[0].to: must be after 'from'",
        ),
        (
            schedules(
                extra='    overrides:\n      - {user: U0BBBBBB2, from: "next tuesday", to: "2026-01-06T08:00"}\n'
            ),
            "schedules[0].overrides[0].from: expected a time like 2026-03-28T09:00 or 2026-03-28T09:00+01:00, got 'next tuesday'",
        ),
        (
            schedules() + "  - name: primary\n    layers: [" + LAYER + "]\n",
            "schedules[1].name: duplicate name 'primary'",
        ),
        (
            schedules() + "policies:\n  - name: search\n    tiers:\n      - {schedule: primray}\n",
            "policies[0].tiers[0].schedule: no schedule named 'primray' (did you mean 'primary'?)",
        ),
        (
            schedules()
            + "policies:\n  - name: search\n    tiers:\n      - {schedule: primary}\n      - {users: [U0BBBBBB2]}\n",
            "policies[0].tiers[0].wait: is required before the next tier (e.g. 10m)",
        ),
        (
            schedules()
            + "policies:\n  - name: search\n    tiers:\n      - {schedule: primary, wait: soon}\n",
            "policies[0].tiers[0].wait: not a duration: 'soon' (use e.g. '30s', '5m', '1h30m')",
        ),
        (
            schedules() + "policies:\n  - name: search\n    tiers:\n      - {wait: 5m}\n",
            "policies[0].tiers[0]: give at least one of channel, user_group, users, schedule, webhook, email",
        ),
        (
            schedules()
            + "policies:\n  - name: search\n    tiers:\n      - {user_group: '@search'}\n",
            "policies[0].tiers[0].user_group: expected a Slack user group id like S0123ABCD, got '@search'",
        ),
        (
            schedules() + "policies:\n  - name: search\n    tiers:\n      - {webhook: pd}\n",
            "policies[0].tiers[0].webhook: no webhook named 'pd' (none defined)",
        ),
        (
            schedules()
            + "policies:\n  - name: search\n    tiers: [{schedule: primary}]\n    repeat: {every: 15m, limit: 0}\n",
            "policies[0].repeat.limit: expected a whole number from 1 to 100, got 0",
        ),
        (
            "webhooks:\n  pd: {url: 'https://events.pagerduty.com/v2/enqueue', format: pagerduty}\n",
            "webhooks.pd.routing_key_env: is required for format pagerduty (the variable holding the routing key)",
        ),
        (
            "webhooks:\n  pd: {url: 'ftp://example.com'}\n",
            "webhooks.pd.url: expected an http(s) URL, got 'ftp://example.com'",
        ),
        (
            "schedule: []\n",
            "schedule: unknown key (did you mean 'schedules'?); valid keys: schedules, policies, webhooks",
        ),
    ],
    ids=[
        "unknown rotation",
        "every zero days",
        "handoff not a 24-hour time",
        "start missing",
        "participant neither a user id nor an email",
        "no participants",
        "unknown weekday",
        "hours not a range",
        "misspelt key with a suggestion",
        "unknown time zone",
        "override ending before it starts",
        "override time not ISO 8601",
        "duplicate schedule name",
        "policy naming an unknown schedule",
        "a tier before another without a wait",
        "wait not a duration",
        "a tier that notifies nobody",
        "user group not an id",
        "unknown webhook",
        "repeat limit zero",
        "pagerduty without a routing key variable",
        "webhook url not http",
        "unknown top-level key",
    ],
)
def test_errors_name_the_yaml_path(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_oncall(text, "alerts/oncall.yaml")
    assert str(caught.value) == f"alerts/oncall.yaml: {message}"


def test_a_date_that_does_not_exist_is_a_config_error() -> None:
    # Regression: PyYAML's ValueError for 2026-02-30 escaped as a traceback.
    text = schedules("{rotation: daily, start: 2026-02-30, participants: [U0AAAAAA1]}")
    with pytest.raises(ConfigError) as caught:
        parse_oncall(text, "alerts/oncall.yaml")
    assert str(caught.value) == (
        "alerts/oncall.yaml:5: not valid YAML: not a valid date or time: '2026-02-30'"
    )


def test_a_start_that_is_not_a_date_names_the_path() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_oncall(
            schedules("{rotation: daily, start: soon, participants: [U0AAAAAA1]}"), "o.yaml"
        )
    assert str(caught.value) == (
        "o.yaml: schedules[0].layers[0].start: expected a date like 2026-01-05, got 'soon'"
    )


def test_an_empty_file_has_no_schedules_and_no_policies() -> None:
    config = parse_oncall("# nothing yet\n", "alerts/oncall.yaml")
    assert (config.schedules, config.policies) == ({}, {})


def test_unknown_schedule_names_suggest_the_close_one() -> None:
    config = parse_oncall(schedules(), "alerts/oncall.yaml")
    with pytest.raises(ConfigError) as caught:
        config.schedule("primry")
    assert (
        str(caught.value)
        == "alerts/oncall.yaml: no schedule named 'primry' (did you mean 'primary'?)"
    )


def test_a_missing_file_names_it(tmp_path: object) -> None:
    with pytest.raises(ConfigError) as caught:
        load_oncall("/nonexistent/oncall.yaml")
    assert str(caught.value) == "/nonexistent/oncall.yaml: cannot read: No such file or directory"
