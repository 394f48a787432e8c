"""The Markdown run report: who, when, params, each step's result; good to paste into an incident."""

from __future__ import annotations

import time
from typing import Any

from ops_toolkit.runbook.state import RunRecord

MAX_OUTPUT_LINES = 40
_ICON = {
    "succeeded": "✅",
    "failed": "❌",
    "timed_out": "⏱️",
    "skipped": "⏭️",
    "needs_confirmation": "✋",
    "pending_manual": "🧑",
    "unknown": "❓",  # may have run: its outcome was not recorded
}


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(timestamp))


def truncate_output(text: str, lines: int = MAX_OUTPUT_LINES) -> str:
    """First and last lines of a long output, with a note of what was cut."""
    rows = text.rstrip("\n").splitlines()
    if len(rows) <= lines:
        return "\n".join(rows)
    half = lines // 2
    cut = len(rows) - 2 * half
    return "\n".join([*rows[:half], f"… {cut} lines cut …", *rows[-half:]])


def render_markdown(document: dict[str, Any], record: RunRecord, title: str) -> str:
    """``document`` is the run's JSON document (see execute.run_document)."""
    lines = [
        f"# Run of {title}",
        "",
        "| | |",
        "| --- | --- |",
        f"| Run | `{record.run_id}` |",
        f"| Runbook | `{record.runbook}` (sha256 `{record.runbook_sha256[:12]}`) |",
        f"| Who | {record.user}@{record.host} |",
        f"| Started | {_when(record.started_at)} |",
        f"| Finished | {_when(record.finished_at)} |",
        f"| Status | **{document['status']}** |",
        "",
    ]
    if record.params:
        lines += ["## Parameters", "", "| name | value |", "| --- | --- |"]
        lines += [f"| `{k}` | `{v}` |" for k, v in record.params.items()]
        lines.append("")
    lines += [
        "## Steps",
        "",
        "| step | status | exit | duration | note |",
        "| --- | --- | --- | --- | --- |",
    ]
    shown = [  # each step's earlier outcomes (before a resume), then its last one
        outcome
        for step in document["steps"]
        for outcome in (
            *(
                (f"{step['name']} (earlier attempt {number})", earlier)
                for number, earlier in enumerate(step.get("earlier", ()), 1)
            ),
            (step["name"], step),
        )
    ]
    for name, step in shown:
        icon = _ICON.get(step["status"], "")
        exit_code = "" if step["exit_code"] is None else str(step["exit_code"])
        duration = "" if step["duration_s"] is None else f"{step['duration_s']:.2f}s"
        note = str(step["message"]).replace("|", "\\|")
        lines.append(f"| {name} | {icon} {step['status']} | {exit_code} | {duration} | {note} |")
    lines.append("")
    for name, step in shown:
        if not step["output"]:
            continue
        lines += [f"### {name}", "", "```text", truncate_output(step["output"]), "```", ""]
    return "\n".join(lines)
