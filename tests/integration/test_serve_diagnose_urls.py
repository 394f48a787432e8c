"""An alert label that gives a runbook param a URL, in ``ops serve``'s unattended diagnosis,
must be a URL the operator allowed (``serve.diagnose_allowed_urls``): whoever can send an
alert otherwise chose the address the ``health-endpoint`` step fetches (SSRF). A URL not
listed stops the run before any step, and the thread says why.

A real ``ops serve`` (the real slack_sdk client against the local Slack-compatible API), the
real worked-example Prometheus, the demo's real search-API stand-in as the allowed host, and
a real HTTP server as the host an alert must not reach.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ops_toolkit.demo.search_api import SearchApiStandIn
from ops_toolkit.serve.diagnose import location_allowed, network_location, url_allowed
from tests.alerts.payloads import alert, notification
from tests.answering_server import AnsweringServer, answering_server
from tests.integration.serving import eventually
from tests.integration.test_serve import OpsServer
from tests.slack_api import SlackServer, slack_server


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    yield from slack_server(["alerts", "search-oncall"])


@pytest.fixture
def stand_in() -> Iterator[SearchApiStandIn]:
    server = SearchApiStandIn().start()
    yield server
    server.stop()


@pytest.fixture
def internal() -> Iterator[AnsweringServer]:
    """A service on the server's network that no alert should make ops serve fetch."""
    yield from answering_server()


def firing(group: str, url: str) -> dict[str, Any]:
    labels = alert(fingerprint=group, deploy="local", search_api_url=url)
    return notification(labels, group_key=group)


def test_a_label_may_give_a_param_only_a_url_the_operator_allowed(
    tmp_path: Path,
    slack: SlackServer,
    worked_prometheus: Any,
    stand_in: SearchApiStandIn,
    internal: AnsweringServer,
) -> None:
    server = OpsServer(
        tmp_path,
        slack,
        f"auto_diagnose: true\nprometheus: {worked_prometheus.url}\n",
        serve_extra=f"  diagnose_allowed_urls: [{stand_in.url}/]\n",
    ).start()
    try:
        assert server.post(firing("allowed", stand_in.url))[0] == 200
        assert server.post(firing("internal", internal.url))[0] == 200

        def replies() -> list[dict[str, Any]]:
            return [m for m in slack.state.posts("search-oncall") if m.get("thread_ts")]

        eventually(lambda: len(replies()) == 2, timeout=90)
        ran = next(m for m in replies() if "ran unattended" in m["text"])
        refused = next(m for m in replies() if "Could not run" in m["text"])
        body = json.dumps(ran["blocks"])
        assert "*health-endpoint* succeeded" in body
        assert refused["text"] == (
            ":mag: Could not run the diagnose steps of `search-errors`: param SEARCH_API_URL: "
            f"label search_api_url gives the URL '{internal.url}', which "
            "serve.diagnose_allowed_urls in ops.yaml does not list"
        )
        assert internal.requests == []  # not one request reached it
        assert "Traceback" not in server.log.read_text()
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("http://127.0.0.1:8080", True),
        ("http://127.0.0.1:8080/", True),
        ("http://127.0.0.1:8080/healthz", True),
        ("http://127.0.0.1:80801", False),
        ("http://127.0.0.1:8080.evil.example", False),
        ("http://127.0.0.1:8080@169.254.169.254", False),
        ("https://127.0.0.1:8080", False),
        ("http://127.0.0.1", False),
    ],
    ids=[
        "the URL itself",
        "with a trailing slash",
        "a path under it",
        "another port that starts the same",
        "another host that starts the same",
        "userinfo before another host",
        "another scheme",
        "another port (the default one)",
    ],
)
def test_a_url_is_allowed_only_as_itself_or_a_path_under_it(value: str, allowed: bool) -> None:
    assert url_allowed(value, "http://127.0.0.1:8080") is allowed


PROBE = """---
title: Probe a target
owner: team-search
alerts: [ProbeTarget]
params:
  TARGET: {{default: "{default}", pattern: "^[A-Za-z0-9./:_@-]+$", from_label: target}}
  NOTE: {{default: none, pattern: "^[A-Za-z0-9./_-]+$", from_label: note}}
  CODE: {{default: none, pattern: "^[A-Za-z0-9./_-]+$", from_label: code}}
  PAGE: {{default: none, pattern: "^[A-Za-z0-9./_-]+$", from_label: page}}
---
# Probe a target

```sh {{"name":"show","tag":"diagnose"}}
echo "note=$NOTE code=$CODE page=$PAGE"
```

```sh {{"name":"fetch","tag":"diagnose"}}
curl -sS --max-time 5 "$TARGET"
```
"""


@pytest.fixture
def allowed() -> Iterator[AnsweringServer]:
    """The service ``serve.diagnose_allowed_urls`` lists."""
    yield from answering_server()


def probe(group: str, **labels: str) -> dict[str, Any]:
    return notification(
        alert("ProbeTarget", fingerprint=group, service="probe", **labels),
        group_key=f"{{}}:{{g={group}}}",
    )


def test_a_label_giving_an_address_without_a_scheme_passes_the_same_allowlist(
    tmp_path: Path, slack: SlackServer, internal: AnsweringServer, allowed: AnsweringServer
) -> None:
    """Before, only a value with ``://`` was checked: ``localhost:PORT``, ``//host/x`` and
    ``127.0.0.1:PORT`` reached ``curl "$TARGET"``, which took them as http:// URLs and
    fetched the internal service. Now each is refused before any step, with the reason in
    the thread, the log and the audit trail; an address under the allowed URL and plain
    values still run."""
    internal_port = internal.url.rpartition(":")[2]
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    (runbooks / "probe.md").write_text(PROBE.format(default=f"{allowed.url}/default"))
    server = OpsServer(tmp_path, slack)
    server.config.write_text(
        f"serve:\n  state: {tmp_path / 'state.db'}\n  pace_seconds: 0.05\n"
        f"  diagnose_allowed_urls: [{allowed.url}]\n"
        f"runbooks: {runbooks}\nauto_diagnose: true\n",
        encoding="utf-8",
    )
    refused = {
        "host-port": f"127.0.0.1:{internal_port}",
        "scheme-relative": f"//127.0.0.1:{internal_port}/x",
        "name-port-path": f"localhost:{internal_port}/admin",
        "ip": "127.0.0.2",
    }
    server.start()
    try:
        for group, value in refused.items():
            assert server.post(probe(group, target=value))[0] == 200
        allowed_port = allowed.url.rpartition(":")[2]
        under = f"127.0.0.1:{allowed_port}/healthz"
        assert server.post(probe("under", target=under))[0] == 200
        plain = probe("plain", note="search-api", code="5xx", page="docs/availability")
        assert server.post(plain)[0] == 200

        def replies() -> list[dict[str, Any]]:  # the diagnose replies in the alerts' threads
            posts = slack.state.posts("alerts")
            return [m for m in posts if m.get("thread_ts") and m["text"].startswith(":mag:")]

        eventually(lambda: len(replies()) == 6, timeout=90)
        texts = sorted(m["text"] for m in replies() if "Could not run" in m["text"])
        kinds = {"host-port": "host:port", "scheme-relative": "scheme-relative URL"}
        kinds |= {"name-port-path": "host:port", "ip": "IP address"}
        reasons = sorted(
            f"param TARGET: label target gives the address '{refused[g]}' ({kinds[g]}), "
            "which serve.diagnose_allowed_urls in ops.yaml does not list"
            for g in refused
        )
        assert texts == [
            f":mag: Could not run the diagnose steps of `probe`: {reason}" for reason in reasons
        ]
        ran = [json.dumps(m["blocks"]) for m in replies() if "ran unattended" in m["text"]]
        assert len(ran) == 2
        assert any("note=search-api code=5xx page=docs/availability" in body for body in ran)
        assert internal.requests == []  # not one refused value reached a step
        assert sorted(allowed.requests) == ["/default", "/healthz"]
        log = server.log.read_text()
        assert all(f"cannot diagnose ProbeTarget: {reason}" in log for reason in reasons), log
        trail = tmp_path / "state.db.runs" / "audit.jsonl"
        events = [json.loads(line) for line in trail.read_text().splitlines()]
        refusals = [e for e in events if e["event"] == "run_refused"]
        assert sorted(e["reason"] for e in refusals) == reasons
        runs = [e for e in events if e["event"] == "run_started"]
        probe_md = runs[0]["runbook"]  # as the runs name it (from ops serve's folder)
        assert probe_md.endswith("/runbooks/probe.md")
        assert {(e["status"], e["user"], e["runbook"]) for e in refusals} == {
            ("refused", "ops-serve", probe_md)
        }
        started = [e["params"]["TARGET"] for e in runs]
        assert sorted(started) == sorted([f"{allowed.url}/default", under])
        assert "Traceback" not in log
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("search-api.search.svc:8080/admin", "host:port"),
        ("localhost:9090", "host:port"),
        ("localhost:9090?x=1", "host:port"),
        ("[::1]:9090", "host:port"),
        ("//evil.example/x", "scheme-relative URL"),
        (" //evil.example", "scheme-relative URL"),
        ("169.254.169.254", "IP address"),
        ("10.0.0.7/admin", "IP address"),
        ("ops@10.0.0.7", "IP address"),
        ("[fe80::1]", "IP address"),
        ("0x7f.0.0.1", "IP address"),
        ("http://10.0.0.7", "URL"),
        ("http:/10.0.0.7", "URL"),
        ("file:/etc/passwd", "URL"),
        ("search-api", None),
        ("5xx", None),
        ("docs/availability", None),
        ("0.99", None),
        ("3", None),
        ("1.2.3", None),
        ("team:search", None),
        ("dana@example.com", None),
    ],
)
def test_which_label_values_are_network_locations(value: str, kind: str | None) -> None:
    assert network_location(value) == kind


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("search-api.search.svc:8080", True),
        ("search-api.search.svc:8080/admin", True),
        ("//search-api.search.svc:8080/admin", True),
        ("search-api.search.svc:80801", False),
        ("search-api.search.svc:8080.evil.example", False),
        ("//evil.example/x", False),
        ("localhost:8080", False),
    ],
)
def test_an_address_without_a_scheme_is_allowed_as_the_url_after_its_scheme(
    value: str, allowed: bool
) -> None:
    assert location_allowed(value, "http://search-api.search.svc:8080") is allowed
