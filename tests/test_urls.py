"""URLs as messages show them: the password replaced, whatever the scheme."""

from __future__ import annotations

import pytest

from ops_toolkit.urls import redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://ops:s3cret@prom.example:9090", "https://ops:***@prom.example:9090"),
        ("postgresql://ops:s3cret@db:5432/ops", "postgresql://ops:***@db:5432/ops"),
        (
            "postgresql://db/ops?user=ops&password=s3cret&x=1",
            "postgresql://db/ops?user=ops&password=***&x=1",
        ),
        ("postgresql://ops@db/ops", "postgresql://ops@db/ops"),
        ("ops-state.db", "ops-state.db"),
    ],
    ids=["https", "postgresql", "a password parameter", "no password", "a path"],
)
def test_the_password_never_shows(url: str, shown: str) -> None:
    assert redact_url(url) == shown
