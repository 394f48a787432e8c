"""Metrics sources in ops.yaml: URL, tenant headers, basic auth or bearer token (pure parts)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from ops_toolkit.config import parse_config
from ops_toolkit.errors import ConfigError
from ops_toolkit.metrics.prometheus import PrometheusSource
from ops_toolkit.metrics.source import (
    SourceSettings,
    known_secrets,
    resolve_headers,
    secret_values,
)
from ops_toolkit.runbook.environment import person_environment, unattended_environment
from ops_toolkit.runbook.parse import parse_runbook

MIMIR = """\
prometheus:
  url: https://mimir.example.com/prometheus
  headers: {X-Scope-OrgID: search}
  basic_auth: {username: ops, password_env: MIMIR_PASSWORD}
"""


def test_a_plain_url_is_a_source_without_headers() -> None:
    config = parse_config("prometheus: http://127.0.0.1:9090\n", "ops.yaml")
    assert config.prometheus == "http://127.0.0.1:9090"
    assert config.prometheus_source == SourceSettings(
        "http://127.0.0.1:9090", place="ops.yaml: prometheus"
    )


def test_a_mapping_gives_url_headers_and_where_the_password_is() -> None:
    config = parse_config(MIMIR, "ops.yaml")
    assert config.prometheus == "https://mimir.example.com/prometheus"
    assert config.prometheus_source == SourceSettings(
        "https://mimir.example.com/prometheus",
        {"X-Scope-OrgID": "search"},
        username="ops",
        password_env="MIMIR_PASSWORD",
        place="ops.yaml: prometheus",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "prometheus: 127.0.0.1:9090\n",
            "ops.yaml: prometheus: expected an http(s) URL, got '127.0.0.1:9090'",
        ),
        ("prometheus: {headers: {a: b}}\n", "ops.yaml: prometheus.url: is required"),
        (
            "prometheus: {url: 'http://h', header: {a: b}}\n",
            "ops.yaml: prometheus.header: unknown key (did you mean 'headers'?); valid keys: "
            "url, headers, basic_auth, bearer_token_env, bearer_token_file, max_answer",
        ),
        (
            "prometheus: {url: 'http://h', headers: {Authorization: Bearer x}}\n",
            "ops.yaml: prometheus.headers.Authorization: credentials do not belong in headers "
            "(the file would hold the secret): use basic_auth or "
            "bearer_token_env/bearer_token_file",
        ),
        (
            "prometheus: {url: 'http://h', headers: {'X Org': a}}\n",
            "ops.yaml: prometheus.headers.X Org: not a valid HTTP header name",
        ),
        (
            "prometheus: {url: 'http://h', headers: {X-Scope-OrgID: \"a\\nb\"}}\n",
            "ops.yaml: prometheus.headers.X-Scope-OrgID: a header value cannot hold a line "
            "break or control character",
        ),
        (
            "prometheus: {url: 'http://h', basic_auth: {username: ops}}\n",
            "ops.yaml: prometheus.basic_auth: give one of password_env or password_file",
        ),
        (
            "prometheus: {url: 'http://h', basic_auth: {password_env: P}}\n",
            "ops.yaml: prometheus.basic_auth.username: is required",
        ),
        (
            "prometheus: {url: 'http://h', bearer_token_env: T, bearer_token_file: /t}\n",
            "ops.yaml: prometheus: give bearer_token_env or bearer_token_file, not both",
        ),
        (
            "prometheus: {url: 'http://h', bearer_token_env: T,"
            " basic_auth: {username: u, password_env: P}}\n",
            "ops.yaml: prometheus: give basic_auth or a bearer token, not both",
        ),
        (
            "prometheus: {url: 'http://h', bearer_token_env: 'my token'}\n",
            "ops.yaml: prometheus.bearer_token_env: expected an environment variable name, "
            "got 'my token'",
        ),
        (
            "prometheus: {url: 'http://h', max_answer: 2GiB}\n",
            "ops.yaml: prometheus.max_answer: expected a size from 1KiB to 1GiB, got '2GiB'",
        ),
        (
            "prometheus: {url: 'http://h', max_answer: lots}\n",
            "ops.yaml: prometheus.max_answer: expected a size like 32MiB or 2000000, got 'lots'",
        ),
    ],
    ids=[
        "a URL without a scheme",
        "a mapping without url",
        "a misspelt key",
        "a credential in headers",
        "a header name with a space",
        "a header value with a line break",
        "basic auth without a password",
        "basic auth without a username",
        "two places for the token",
        "basic and bearer at once",
        "a token variable that is not a name",
        "an answer limit over 1 GiB",
        "an answer limit that is not a size",
    ],
)
def test_bad_sources_name_the_yaml_path(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(text, "ops.yaml")
    assert str(raised.value) == message


def test_basic_auth_reads_the_password_from_the_environment() -> None:
    settings = parse_config(MIMIR, "ops.yaml").prometheus_source
    assert settings is not None
    headers = resolve_headers(settings, {"MIMIR_PASSWORD": "s3cret"})
    assert headers == {
        "X-Scope-OrgID": "search",
        "Authorization": "Basic " + base64.b64encode(b"ops:s3cret").decode(),
    }
    with pytest.raises(ConfigError) as raised:
        resolve_headers(settings, {})
    assert str(raised.value) == (
        "ops.yaml: prometheus.basic_auth.password_env: MIMIR_PASSWORD is not set"
    )


def test_a_bearer_token_comes_from_a_file_trimmed(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("tok-123\n")
    settings = SourceSettings("http://h", bearer_token_file=str(path), place="ops.yaml: prometheus")
    assert resolve_headers(settings, {}) == {"Authorization": "Bearer tok-123"}
    path.write_text("\n")
    with pytest.raises(ConfigError) as raised:
        resolve_headers(settings, {})
    assert str(raised.value) == f"ops.yaml: prometheus.bearer_token_file: {path} is empty"
    path.unlink()
    with pytest.raises(ConfigError) as raised:
        resolve_headers(settings, {})
    assert str(raised.value) == (
        f"ops.yaml: prometheus.bearer_token_file: cannot read {path}: No such file or directory"
    )


def test_credentials_go_only_to_the_server_they_were_written_for() -> None:
    settings = SourceSettings(
        "https://mimir.example.com/prometheus", {"X-Scope-OrgID": "a"}, bearer_token_env="T"
    )
    same = settings.for_url("https://MIMIR.example.com/prometheus/")
    assert (same.url, same.bearer_token_env, same.headers) == (
        "https://MIMIR.example.com/prometheus/",
        "T",
        {"X-Scope-OrgID": "a"},
    )
    assert settings.for_url("http://mimir.example.com/prometheus") == SourceSettings(
        "http://mimir.example.com/prometheus"
    )
    assert settings.for_url("https://evil.example.com") == SourceSettings(
        "https://evil.example.com"
    )


def test_every_form_of_the_secret_is_known_for_masking() -> None:
    settings = SourceSettings("http://h", username="ops", password_env="P")
    secrets = known_secrets(settings, {"P": "s3cret"})
    assert set(secrets.values()) == {
        "Basic " + base64.b64encode(b"ops:s3cret").decode(),
        base64.b64encode(b"ops:s3cret").decode(),
        "s3cret",
    }
    assert known_secrets(settings, {}) == {}  # unset: the query that needs it says so
    assert secret_values({"X-Scope-OrgID": "search"}) == {}


def test_the_secret_variables_never_reach_a_step() -> None:
    settings = SourceSettings("http://h", bearer_token_env="MIMIR_TOKEN")
    environ = {"PATH": "/bin", "MIMIR_TOKEN": "tok", "HOME": "/h"}
    assert person_environment(environ, settings.secret_env_names()) == {
        "PATH": "/bin",
        "HOME": "/h",
    }
    runbook = parse_runbook(
        "---\ntitle: t\nowner: o\nsecrets: [MIMIR_TOKEN]\n---\n# t\n", "runbooks/t.md"
    )
    assert unattended_environment(environ, runbook, settings.secret_env_names()) == {
        "PATH": "/bin",
        "HOME": "/h",
    }


def test_the_source_sends_the_headers_and_redacts_a_quoted_token() -> None:
    source = PrometheusSource(
        "http://127.0.0.1:1",
        headers={"X-Scope-OrgID": "search", "Authorization": "Bearer tok-123"},
    )
    assert source.headers["X-Scope-OrgID"] == "search"
    assert source._redact('cannot find the provided auth token "Bearer tok-123"') == (
        'cannot find the provided auth token "***"'
    )


def test_the_readme_example_is_a_valid_source() -> None:
    import re

    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Metrics from VictoriaMetrics, Thanos, Mimir", 1)[1]
    found = re.search(r"```yaml\n(prometheus:\n.*?)```", section, re.S)
    assert found is not None
    settings = parse_config(found.group(1), "ops.yaml").prometheus_source
    assert settings == SourceSettings(
        "https://mimir.example.com/prometheus",
        {"X-Scope-OrgID": "search"},
        username="ops",
        password_env="OPS_MIMIR_PASSWORD",
        place="ops.yaml: prometheus",
    )


@pytest.mark.parametrize(
    "token", ["tok-123\r\nX-Evil: 1", "tok 123", "tok\x00123"], ids=["CR LF", "space", "NUL"]
)
def test_a_bearer_token_that_would_break_its_header_is_refused_unquoted(token: str) -> None:
    """Sent as is, a line break added headers; the HTTP library refused it quoting the whole
    token back into the error ops printed."""
    settings = SourceSettings("http://h", bearer_token_env="TOK", place="ops.yaml: prometheus")
    with pytest.raises(ConfigError) as raised:
        resolve_headers(settings, {"TOK": token})
    assert str(raised.value) == (
        "ops.yaml: prometheus.bearer_token_env: the token in TOK holds a space, line break "
        "or control character"
    )


def test_the_answer_limit_is_read_from_ops_yaml_and_kept_for_another_url() -> None:
    config = parse_config("prometheus: {url: 'http://h:9090', max_answer: 512MiB}\n", "ops.yaml")
    assert config.prometheus_source is not None
    assert config.prometheus_source.max_answer == 512 * 1024 * 1024
    assert config.prometheus_source.for_url("http://other:9090").max_answer == 512 * 1024 * 1024
    assert parse_config("prometheus: http://h:9090\n", "ops.yaml").prometheus_source == (
        SourceSettings("http://h:9090", place="ops.yaml: prometheus")
    )
