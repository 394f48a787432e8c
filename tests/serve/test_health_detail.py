"""``/healthz`` and ``/metrics`` are asked by anyone (a load balancer has no token): when the
store fails, an anonymous caller learns only that it is unavailable; who the store is (a
URL's user, host and database) goes to a caller with the bearer token, and to the log once.

The store is the real PostgreSQL backend opened on a port where nothing listens, so the
failure is the driver's own, naming the store as it does in production.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from ops_toolkit.demo.servers import free_port
from ops_toolkit.serve.metrics import assess_health
from ops_toolkit.serve.server import AppSettings
from ops_toolkit.serve.store.backends import open_database
from tests.alerts.payloads import notification
from tests.serve.test_server_errors import serving

TOKEN = "health-t0ken"


class UnreachableStore:
    """A PostgreSQL store URL where nothing listens: every use fails as an outage does."""

    def __init__(self) -> None:
        self.url = f"postgresql://opsuser:hunter2-pw@127.0.0.1:{free_port()}/opsdb"
        self.shown = self.url.replace(":hunter2-pw@", ":***@")

    def use(self) -> None:
        open_database(self.url).close()

    def health(self) -> tuple[int, dict[str, Any]]:
        """What EscalationService.health answers when the store fails (the same function)."""
        try:
            self.use()
        except Exception as error:
            return assess_health(error, 0, 10, True)
        raise AssertionError(f"{self.url} answered")

    def stats(self) -> dict[str, float]:
        self.use()
        return {}


def get(url: str, token: str | None = None) -> tuple[int, bytes]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def store() -> UnreachableStore:
    return UnreachableStore()


@pytest.mark.parametrize("token", [TOKEN, None], ids=["a token configured", "no token"])
def test_an_anonymous_caller_learns_only_that_the_store_is_unavailable(
    tmp_path: Path, store: UnreachableStore, token: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    settings = AppSettings(token=token, health=store.health, stats=store.stats)
    served = serving(tmp_path, settings)
    url = next(served)
    try:
        with caplog.at_level(logging.WARNING, logger="ops.serve"):
            status, body = get(f"{url}/healthz")
            assert (status, json.loads(body)) == (
                503,
                {"status": "unavailable", "intake": "store unavailable"},
            )
            assert get(f"{url}/healthz", "wrong")[1] == body
            status, text = get(f"{url}/metrics")
            assert status == 503
            assert text.decode().startswith("# store unavailable\n")
            assert "ops_intake_up 0.0" in text.decode()
            assert b"opsuser" not in text and b"opsdb" not in text
            second = get(f"{url}/healthz")
            assert second == (503, body)
    finally:
        next(served, None)
    # the detail, naming the store (never its password), is in the log once per reason
    lines = [r.getMessage() for r in caplog.records if "store unavailable" in r.getMessage()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        f"GET /healthz: store unavailable: StoreError: {store.shown}: cannot connect: "
    )
    assert "hunter2" not in lines[0]


def test_the_bearer_token_shows_the_detail(tmp_path: Path, store: UnreachableStore) -> None:
    settings = AppSettings(token=TOKEN, health=store.health, stats=store.stats)
    served = serving(tmp_path, settings)
    url = next(served)
    try:
        status, body = get(f"{url}/healthz", TOKEN)
        answer = json.loads(body)
        assert status == 503
        assert answer["status"] == "unavailable" and answer["intake"] == "store unavailable"
        assert answer["detail"].startswith(f"StoreError: {store.shown}: cannot connect: ")
        assert "hunter2" not in answer["detail"]
        status, text = get(f"{url}/metrics", TOKEN)
        assert status == 503
        assert text.decode().startswith(
            f"# store unavailable: StoreError: {store.shown}: cannot connect: "
        )
    finally:
        next(served, None)


def post_webhook(url: str, token: str | None = None) -> tuple[int, str | None, dict[str, Any]]:
    """POST a valid webhook: (status, its Retry-After, the JSON answer)."""
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = json.dumps(notification()).encode()
    request = urllib.request.Request(f"{url}/alertmanager", data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers.get("Retry-After"), json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Retry-After"), json.loads(error.read())


def test_intake_tells_an_anonymous_sender_only_that_the_store_is_unavailable(
    tmp_path: Path, store: UnreachableStore, caplog: pytest.LogCaptureFixture
) -> None:
    """With no webhook token configured every sender is anonymous: the 503 (which
    Alertmanager retries) once named the store (the database URL's user, host and name);
    that goes to the log, once per reason."""
    settings = AppSettings(token=None, health=store.health, stats=store.stats)
    served = serving(tmp_path, settings)
    url = next(served)
    try:
        with caplog.at_level(logging.WARNING, logger="ops.serve"):
            answers = [post_webhook(url), post_webhook(url)]
    finally:
        next(served, None)
    anonymous = (
        503,
        "5",
        {"status": "error", "error": "POST /alertmanager: store unavailable; retry later"},
    )
    assert answers == [anonymous, anonymous]
    lines = [r.getMessage() for r in caplog.records if "store unavailable" in r.getMessage()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        f"POST /alertmanager: store unavailable: StoreError: {store.shown}: cannot connect: "
    )
    assert "hunter2" not in lines[0]


def test_intake_tells_the_bearer_tokens_holder_why_the_store_is_unavailable(
    tmp_path: Path, store: UnreachableStore
) -> None:
    settings = AppSettings(token=TOKEN, health=store.health, stats=store.stats)
    served = serving(tmp_path, settings)
    url = next(served)
    try:
        status, retry_after, answer = post_webhook(url, TOKEN)
    finally:
        next(served, None)
    assert (status, retry_after) == (503, "5")
    assert answer["error"].startswith(
        f"POST /alertmanager: cannot store the payload now: {store.shown}: cannot connect: "
    )
    assert answer["error"].endswith("; retry later")
    assert "hunter2" not in answer["error"]
