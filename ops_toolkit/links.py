"""One builder for runbook links, so chat reports, HTML pages, policy notices, alert messages
and rollout milestones point at the same place.

A runbook path (``runbooks/x.md``) is only a link under ``runbook_base_url`` (ops.yaml): a
bare path is relative to nothing a reader has open (a Slack message, a saved HTML page), so
without a base URL callers show it as text, never as a broken link. Pure.
"""

from __future__ import annotations


def runbook_url(path: str, base_url: str | None) -> str | None:
    """The URL of the runbook at ``path``: itself when it is one, else under ``base_url``;
    None when there is no base URL to put a path under."""
    if path.startswith(("http://", "https://")):
        return path
    if not base_url:
        return None
    relative = path
    while relative.startswith("./"):
        relative = relative[2:]
    return f"{base_url.rstrip('/')}/{relative.lstrip('/')}"


def runbook_link(path: str, base_url: str | None) -> str:
    """``runbook_url`` when there is one, else the path as written (shown as text)."""
    return runbook_url(path, base_url) or path
