"""The SLO model's own spellings."""

from __future__ import annotations

import pytest

from ops_toolkit.slo.model import LatencySLI, go_float


@pytest.mark.parametrize(
    ("bound", "spelled"),
    [
        # Go's strconv.FormatFloat(b, 'g', -1, 64), which the exporters use for `le`
        (1.0, "1"),
        (1.5, "1.5"),
        (0.1234567, "0.1234567"),  # `:g` rounded this to 0.123457: a bucket no exporter writes
        (123456.7, "123456.7"),
        (1234567.0, "1.234567e+06"),
        (1e6, "1e+06"),
        (100000.0, "100000"),
        (2.5e-6, "2.5e-06"),
        (0.0001, "0.0001"),
    ],
)
def test_a_bucket_bound_is_spelled_as_the_exporters_spell_it(bound: float, spelled: str) -> None:
    assert go_float(bound) == spelled
    assert LatencySLI("h", "{}", bound).le == spelled
