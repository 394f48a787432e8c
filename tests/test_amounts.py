"""One grammar for every budget amount: ``N%`` or a fraction from 0 to 1."""

from __future__ import annotations

import pytest

from ops_toolkit.amounts import parse_budget_amount


@pytest.mark.parametrize(
    ("value", "fraction"),
    [
        ("25%", 0.25),
        ("0%", 0.0),
        ("100%", 1.0),
        (" 12.5% ", 0.125),
        (0.25, 0.25),
        ("0.25", 0.25),
        (0, 0.0),
        (1, 1.0),
    ],
    ids=[
        "a percentage",
        "zero percent is a freeze",
        "a hundred percent",
        "a fractional percentage with spaces",
        "a fraction",
        "a fraction as text (a command line)",
        "zero",
        "one is the whole budget",
    ],
)
def test_amounts_people_write(value: object, fraction: float) -> None:
    assert parse_budget_amount(value) == pytest.approx(fraction)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (40, "expected N% or a fraction from 0 to 1, got 40 (did you mean 40%?)"),
        ("40", "expected N% or a fraction from 0 to 1, got '40' (did you mean 40%?)"),
        (12.5, "expected N% or a fraction from 0 to 1, got 12.5 (did you mean 12.5%?)"),
        (150, "expected N% or a fraction from 0 to 1, got 150"),
        ("150%", "expected N% or a fraction from 0 to 1, got '150%' (a percentage is 0% to 100%)"),
        (-0.1, "expected N% or a fraction from 0 to 1, got -0.1"),
        ("lots", "expected N% or a fraction from 0 to 1, got 'lots'"),
        ("x%", "expected N% or a fraction from 0 to 1, got 'x%'"),
        (True, "expected N% or a fraction from 0 to 1, got True"),
        (None, "expected N% or a fraction from 0 to 1, got None"),
    ],
    ids=[
        "a bare number above 1 was meant as a percentage",
        "the same from a command line",
        "a fractional percentage without its sign",
        "above a hundred is no percentage either",
        "a percentage above 100",
        "a negative amount",
        "a word",
        "a percent sign after no number",
        "a YAML boolean",
        "nothing",
    ],
)
def test_amounts_refused(value: object, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_budget_amount(value)
    assert str(raised.value) == message


def test_a_policy_threshold_in_percent_is_the_percentage_written() -> None:
    """'58%' read back as 57.99999999999999 missed the store's armed state kept under 58.0."""
    from ops_toolkit.config import parse_config

    config = parse_config("policies:\n  - {channel: '#a', thresholds: [58%, 29%, 0.07]}\n", "o")
    assert config.policies[0].thresholds == (58.0, 29.0, 7.0)
