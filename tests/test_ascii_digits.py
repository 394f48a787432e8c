"""Numbers and durations are ASCII digits, as every tool that reads the same files takes them:
``\\d`` in a Python regex and ``float()``/``int()`` also take Arabic-Indic (``٣``), Devanagari
or full-width digits and ``1_000``, so ``soak_step: "٣d"`` was three days. Each parser that
had a ``\\d`` (or ``isdigit()``) refuses them, one test per parser, with the usual message.
"""

from __future__ import annotations

import pytest

from ops_toolkit.alerts.webhook import parse_notification
from ops_toolkit.config import parse_listen, parse_size
from ops_toolkit.durations import parse_duration
from ops_toolkit.errors import ConfigError, PayloadError
from ops_toolkit.escalate.oncall import parse_oncall
from ops_toolkit.notify.email import SmtpSettings
from ops_toolkit.rollout.plan import parse_plan
from ops_toolkit.runbook.attributes import check_attribute
from ops_toolkit.runbook.expr import ExpressionError, parse_expression
from ops_toolkit.slo.live import retention_seconds
from tests.alerts.payloads import alert, notification
from tests.escalate.test_oncall_config import schedules

THREE = "\u0663"  # ARABIC-INDIC DIGIT THREE: str.isdigit() and \d say yes, Prometheus says no
USE = "(use e.g. '30s', '5m', '1h30m')"


@pytest.mark.parametrize(
    "text", [f"{THREE}d", THREE, "1_0s", "1_0", "\uff13m"], ids=["٣d", "٣", "1_0s", "1_0", "３m"]
)
def test_durations(text: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_duration(text)
    assert str(raised.value) == f"not a duration: {text!r} {USE}"


def test_a_rollout_plans_soak_step() -> None:
    plan = "version: ops/v1\nkind: Rollout\nservice: search\nsoak_step: '٣d'\nstages: [{name: a}]"
    with pytest.raises(ConfigError) as raised:
        parse_plan(plan, "p.yaml")
    assert str(raised.value) == f"p.yaml: soak_step: not a duration: '٣d' {USE}"


@pytest.mark.parametrize("text", [f"{THREE}MiB", "1_024"])
def test_sizes(text: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_size(text)
    assert str(raised.value) == f"expected a size like 32MiB or 2000000, got {text!r}"


@pytest.mark.parametrize("port", ["\u00b2", "\u0669\u0660\u0669\u0665"], ids=["²", "٩٠٩٥"])
def test_listen_addresses(port: str) -> None:
    """'²' was a ValueError from int() (a traceback), '٩٠٩٥' was port 9095."""
    with pytest.raises(ValueError) as raised:
        parse_listen(f"127.0.0.1:{port}")
    assert str(raised.value) == f"expected HOST:PORT like 127.0.0.1:9095, got '127.0.0.1:{port}'"


def test_the_smtp_port() -> None:
    with pytest.raises(ConfigError) as raised:
        SmtpSettings.from_environment({"OPS_SMTP_HOST": "mail", "OPS_SMTP_PORT": "\u00b2\u2075"})
    assert str(raised.value) == "OPS_SMTP_PORT: expected a port number, got '²⁵'"


@pytest.mark.parametrize(
    ("key", "value", "kind", "message"),
    [
        ("retries", THREE, "sh", "expected a whole number, got '٣'"),
        ("expect", THREE, "sh", "expected an exit code (e.g. '0') or /regex/, got '٣'"),
        (
            "expect",
            f"< {THREE}",
            "promql",
            "expected a comparison like '< 0.05', 'empty', or '< 0.05 or empty', got '< ٣'",
        ),
    ],
    ids=["a count", "an exit code", "a promql comparison"],
)
def test_step_attributes(key: str, value: str, kind: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        check_attribute(key, value, kind)
    assert str(raised.value) == message


def test_when_expressions() -> None:
    with pytest.raises(ExpressionError) as raised:
        parse_expression(f"$X == {THREE}")
    assert str(raised.value) == "unexpected '٣' at column 7"


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        (
            "{rotation: every ٣ days, start: 2026-01-05, participants: [U0AAAAAA1]}",
            "rotation: expected daily, weekly or 'every N days', got 'every ٣ days'",
        ),
        (
            "{rotation: weekly, handoff: '0٣:00', start: 2026-01-05, participants: [U0AAAAAA1]}",
            "handoff: expected a 24-hour time like \"09:00\", got '0٣:00'",
        ),
    ],
    ids=["a rotation", "a handoff time"],
)
def test_oncall_schedules(layer: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_oncall(schedules(layer), "o.yaml")
    assert str(raised.value) == f"o.yaml: schedules[0].layers[0].{message}"


def test_alert_times() -> None:
    with pytest.raises(PayloadError) as raised:
        parse_notification(notification(alert(starts="2026-11-29T1٣:00:00Z")))
    assert str(raised.value) == (
        "POST /alertmanager: alerts[0].startsAt: not an RFC 3339 time: '2026-11-29T1٣:00:00Z'"
    )


@pytest.mark.parametrize(
    ("stated", "seconds"),
    [("15d", 15 * 86400.0), ("1y", 365 * 86400.0), ("٣d", None), ("١٥d or 10GiB", None)],
)
def test_a_prometheus_retention(stated: str, seconds: float | None) -> None:
    assert retention_seconds(stated) == seconds
