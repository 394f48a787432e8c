"""Budget report messages within Slack's limits, with 1 and with 300 SLOs."""

from __future__ import annotations

import dataclasses

import pytest

from ops_toolkit.notify.message import MAX_BLOCKS, MAX_HEADER, MAX_SECTION
from ops_toolkit.notify.report import report_messages
from ops_toolkit.slo.evaluate import SLOStatus, from_ratios
from ops_toolkit.slo.spec import parse_slo_file
from ops_toolkit.slo.windows import BURN_WINDOWS


def statuses(count: int) -> list[SLOStatus]:
    lines = ["version: ops/v1", "service: svc", "runbook: runbooks/search-errors.md", "slos:"]
    for n in range(count):
        lines += [
            f"  - name: slo-with-a-rather-long-name-{n:03d}",
            "    objective: 99.9",
            "    sli: {ratio: {bad: 'b_total', total: 't_total'}}",
        ]
    slos = parse_slo_file("\n".join(lines) + "\n", "s.yaml").slos
    return [
        from_ratios(
            slo, 1_800_000_000.0, 0.0002 * (n % 9), dict.fromkeys(BURN_WINDOWS, 0.0001 * (n % 40))
        )
        for n, slo in enumerate(slos)
    ]


@pytest.mark.parametrize("count", [1, 300, 1000])
def test_reports_keep_slacks_limits(count: int) -> None:
    messages = report_messages(statuses(count), runbook_base_url="https://git.example/ops")
    for message in messages:
        assert len(message.blocks) <= MAX_BLOCKS
        for block in message.blocks:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= MAX_SECTION
            if block["type"] == "header":
                assert len(block["text"]["text"]) <= MAX_HEADER
    lines = [
        line
        for m in messages
        for b in m.blocks
        if b["type"] == "section"
        for line in b["text"]["text"].splitlines()
    ]
    assert len(lines) == count
    assert messages[0].blocks[0]["type"] == "header"


def test_the_report_header_counts_statuses_and_lines_are_worst_first() -> None:
    (message,) = report_messages(statuses(12))
    context = message.blocks[1]["elements"][0]["text"]
    assert context.startswith("at 2027-01-15T08:00:00Z · windows 30d · 12 SLOs: ")
    first_line = message.blocks[2]["text"]["text"].splitlines()[0]
    assert first_line.startswith(":red_circle: *svc/slo-with-a-rather-long-name-")
    assert "runbook `runbooks/search-errors.md`" in first_line


def test_more_slos_than_one_message_holds_continue_in_the_thread() -> None:
    messages = report_messages(statuses(1000))
    assert len(messages) >= 2
    assert messages[1].text == f"SLO budget report (part 2 of {len(messages)})"


def test_a_runbook_link_that_would_break_out_of_the_link_is_shown_as_code() -> None:
    text = (
        "version: ops/v1\nservice: svc\nrunbook: 'https://git.example/rb.md|<!channel>'\nslos:\n"
        "  - {name: a, objective: 99.9, sli: {ratio: {bad: b_total, total: t_total}}}\n"
    )
    (slo,) = parse_slo_file(text, "s.yaml").slos
    status = from_ratios(slo, 1_800_000_000.0, 0.0, dict.fromkeys(BURN_WINDOWS, 0.0))
    (message,) = report_messages([status], title="Weekly <!channel>")
    line = message.blocks[2]["text"]["text"]
    assert line.endswith(" · `https://git.example/rb.md|&lt;!channel&gt;`")
    assert message.text.startswith("Weekly &lt;!channel&gt;: ")
    linked = dataclasses.replace(slo, runbook="https://git.example/rb.md")
    (good,) = report_messages(
        [from_ratios(linked, 1_800_000_000.0, 0.0, dict.fromkeys(BURN_WINDOWS, 0.0))]
    )
    assert good.blocks[2]["text"]["text"].endswith(" · <https://git.example/rb.md|runbook>")
