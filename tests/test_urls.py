"""URLs as messages show them: the password replaced, whatever the scheme."""

from __future__ import annotations

import pytest

from ops_toolkit.urls import redact_url, url_passwords


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
        ("postgresql://ops:p@ss-word@db/ops", "postgresql://ops:***@db/ops"),
        ("postgresql://ops:pa/ss-word@db/ops", "postgresql://ops:***@db/ops"),
        ("host=db user=ops password=s3cret dbname=ops", "host=db user=ops password=*** dbname=ops"),
        ("host=db password = 'a b\\' c' port=5432", "host=db password = *** port=5432"),
    ],
    ids=[
        "https",
        "postgresql",
        "a password parameter",
        "no password",
        "a path",
        "an unencoded @ in the password",
        "an unencoded / in the password",
        "a libpq key=value string",
        "a quoted libpq password",
    ],
)
def test_the_password_never_shows(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_every_form_of_a_password_is_found_to_scrub_from_messages() -> None:
    assert url_passwords("postgresql://ops:p%40ss@db/x?password=two%20words") == [
        "two%20words",
        "two words",
        "p%40ss",
        "p@ss",
    ]
    assert url_passwords("host=db password='a b'") == ["a b"]
    assert url_passwords("postgresql://db/x") == []
