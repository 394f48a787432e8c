"""The diagnose thread reply: hostile step output and names stay inert in Slack mrkdwn."""

from __future__ import annotations

from ops_toolkit.serve.diagnose import summary_message


def test_step_output_cannot_close_its_code_block_or_mention_anyone() -> None:
    document = {
        "run_id": "r1",
        "status": "succeeded",
        "steps": [
            {
                "name": "look_*here*",
                "status": "succeeded",
                "message": "exit 0\n*Status* resolved",
                "output": "pods:\n```\n<!channel> *all fine*\n```\u202e",
            }
        ],
    }
    message = summary_message("search\nerrors", document, None)
    assert message["text"] == (
        ":mag: Diagnose steps of `search errors` ran unattended (run `r1`): succeeded"
    )
    assert message["blocks"][1]["text"]["text"] == (
        ":white_check_mark: *lookˍ∗here∗* succeeded: exit 0 ∗Status∗ resolved\n"
        "```pods:\n`\u200b`\u200b`\n&lt;!channel&gt; *all fine*\n`\u200b`\u200b`\u200b```"
    )


def test_a_failure_to_start_names_the_runbook_inertly() -> None:
    """The error keeps its lines (lint findings, one a line), each made inert."""
    message = summary_message("a`b", None, "boom\n*Owner* <!here>")
    assert message["text"] == (
        ":mag: Could not run the diagnose steps of `aˋb`: boom\n∗Owner∗ &lt;!here&gt;"
    )
