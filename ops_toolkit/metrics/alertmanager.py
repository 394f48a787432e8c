"""Alertmanager's API v2 silences: the only code that talks to Alertmanager.

Slack's Silence buttons create a silence with the alert group's matchers (its group
labels, matched exactly); the returned id is kept so Unsilence can expire it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ops_toolkit.errors import MetricsError


def rfc3339(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


def silence_body(
    matchers: Mapping[str, str], start: float, end: float, created_by: str, comment: str
) -> dict[str, Any]:
    """A ``POST /api/v2/silences`` body matching every label in ``matchers`` exactly."""
    if not matchers:
        raise ValueError("a silence needs at least one matcher")
    return {
        "matchers": [
            {"name": name, "value": value, "isRegex": False, "isEqual": True}
            for name, value in sorted(matchers.items())
        ],
        "startsAt": rfc3339(start),
        "endsAt": rfc3339(end),
        "createdBy": created_by,
        "comment": comment,
    }


class AlertmanagerClient:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        import requests

        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def _request(self, method: str, path: str, **arguments: Any) -> Any:
        import requests

        place = f"Alertmanager {method} {path}"
        try:
            response = self.session.request(
                method, f"{self.url}{path}", timeout=self.timeout, **arguments
            )
        except requests.RequestException as exc:
            raise MetricsError(
                f"{place}: cannot connect to {self.url}: {type(exc).__name__}"
            ) from None
        if response.status_code >= 300:
            reason = response.text.strip().splitlines()[0][:300] if response.text.strip() else ""
            raise MetricsError(
                f"{place}: HTTP {response.status_code}{': ' + reason if reason else ''}"
            )
        return response.json() if response.content else None

    def create_silence(self, body: Mapping[str, Any]) -> str:
        answer = self._request("POST", "/api/v2/silences", json=dict(body))
        return str(answer["silenceID"])

    def expire_silence(self, silence_id: str) -> bool:
        """Expire a silence; False when Alertmanager no longer knows it (already gone).

        Expiring an expired silence succeeds, so a second Unsilence is harmless; Alertmanager
        0.25 answers an unknown id with a 500 "silence not found", which is also 'done'.
        """
        try:
            self._request("DELETE", f"/api/v2/silence/{silence_id}")
        except MetricsError as error:
            if "silence not found" in str(error):
                return False
            raise
        return True

    def silence(self, silence_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._request("GET", f"/api/v2/silence/{silence_id}")
        return answer

    def silences(self) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = self._request("GET", "/api/v2/silences")
        return answer
