"""The SLO budget report as Slack messages (Block Kit), within Slack's limits. Pure.

The first message has the header (period, count of SLOs per status) and as many SLO lines as
fit; more SLOs continue in the thread, message by message.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from ops_toolkit.formatting import bar, percent
from ops_toolkit.notify.message import (
    MAX_BLOCKS,
    MAX_HEADER,
    MAX_SECTION,
    Message,
    escape,
    link,
    truncate,
)
from ops_toolkit.slo.budget import STATUSES
from ops_toolkit.slo.evaluate import CALENDAR_NOTE, SLOStatus
from ops_toolkit.slo.report import TABLE_BURN_WINDOWS, corrected_note, rfc3339, sort_worst_first

EMOJI = {
    "exhausted": ":red_circle:",
    "critical": ":rotating_light:",
    "warning": ":warning:",
    "error": ":x:",
    "no_data": ":grey_question:",
    "ok": ":white_check_mark:",
}
WINDOW_NAMES = {3600: "1h", 21600: "6h", 86400: "1d", 259200: "3d"}


def slo_line(status: SLOStatus, runbook_base_url: str | None = None) -> str:
    slo = status.slo
    rates = status.burn_rates()
    burns = " ".join(
        f"{WINDOW_NAMES[w]} {rates[w]:.1f}x" for w in TABLE_BURN_WINDOWS if rates.get(w) is not None
    )
    sli = "—" if status.sli is None else f"{status.sli * 100:.3f}%"
    line = (
        f"{EMOJI[status.status]} *{escape(slo.key)}* {sli} / {slo.objective:g}% · "
        f"`{bar(status.budget_remaining)}` {percent(status.budget_remaining)} left"
    )
    if burns:
        line += f" · burn {burns}"
    note = corrected_note(status)
    if note is not None:
        line += f" · {escape(note)}"
    line += f" · {source_note(status)}"
    if slo.runbook:
        from ops_toolkit.links import runbook_url

        url = runbook_url(slo.runbook, runbook_base_url)
        line += f" · {link(url, 'runbook')}" if url else f" · runbook `{escape(slo.runbook)}`"
    return truncate(line, 900)


def source_note(status: SLOStatus) -> str:
    """Which source the SLO's numbers came from, compactly: ``from rules`` (recorded
    series) or ``from queries`` (raw counters), and why not the rules when they were there
    (the full reason is in ``ops slo report --explain``)."""
    if status.source_note is None:
        return f"from {status.source}"
    why = "a calendar period" if status.source_note == CALENDAR_NOTE else "a correction"
    return f"from {status.source} ({why})"


def _sections(lines: Sequence[str]) -> list[str]:
    sections: list[str] = []
    current = ""
    for line in lines:
        if current and len(current) + 1 + len(line) > MAX_SECTION:
            sections.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        sections.append(current)
    return sections


def report_messages(
    statuses: Sequence[SLOStatus],
    *,
    title: str = "SLO budget report",
    runbook_base_url: str | None = None,
) -> list[Message]:
    """The report: a first message and, when it does not fit, continuations for its thread."""
    ordered = sort_worst_first(statuses)
    counts = Counter(s.status for s in ordered)
    summary = " · ".join(
        f"{counts[name]} {name.replace('_', ' ')}" for name in STATUSES if counts[name]
    )
    at = rfc3339(ordered[0].at) if ordered else ""
    windows = ", ".join(dict.fromkeys(s.slo.window.describe() for s in ordered)) or "—"
    sections = _sections([slo_line(s, runbook_base_url) for s in ordered]) or ["No SLOs selected."]
    header: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": truncate(title, MAX_HEADER)}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"at {at} · windows {escape(windows)} · {len(ordered)} SLOs: {summary}",
                }
            ],
        },
    ]
    room = MAX_BLOCKS - 1
    chunks = [sections[: room - len(header)]]
    rest = sections[room - len(header) :]
    while rest:
        chunks.append(rest[:room])
        rest = rest[room:]
    messages = []
    for number, chunk in enumerate(chunks):
        blocks: list[dict[str, Any]] = list(header) if number == 0 else []
        blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": text}} for text in chunk]
        if len(chunks) > 1:
            blocks.append(
                {
                    "type": "context",
                    "elements": [{"type": "mrkdwn", "text": f"part {number + 1} of {len(chunks)}"}],
                }
            )
        text = (
            f"{escape(title)}: {summary}"
            if number == 0
            else f"{escape(title)} (part {number + 1} of {len(chunks)})"
        )
        messages.append(Message(truncate(text, MAX_SECTION), tuple(blocks)))
    return messages
