"""``ops escalation list|ack|resolve|escalate`` over a real store."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.serve.escalations import Escalations, ref_of
from ops_toolkit.serve.store import Planned
from tests.cli.escalations import T0, a_store_with_one_escalation
from tests.conftest import ROOT


def setup(tmp_path: Path) -> tuple[list[str], Escalations]:
    state = tmp_path / "state.db"
    config = tmp_path / "ops.yaml"
    config.write_text(f"serve: {{state: {state}}}\noncall: {ROOT / 'alerts' / 'oncall.yaml'}\n")
    escalations = a_store_with_one_escalation(state)
    return ["--config", str(config)], escalations


def test_list_ack_and_resolve(tmp_path: Path, runner: CliRunner) -> None:
    common, _ = setup(tmp_path)
    ref = ref_of("g1", "#search-oncall")
    listed = runner.invoke(main, ["escalation", "list", "--json", *common])
    (row,) = json.loads(listed.stdout)
    assert (row["ref"], row["status"], row["alert"], row["next_step"], row["due_at"]) == (
        ref,
        "active",
        "SearchErrors",
        1,
        "2026-05-28T20:26:40Z",  # T0, as ISO 8601 in UTC
    )
    acked = runner.invoke(main, ["escalation", "ack", ref, *common])
    assert acked.exit_code == 0
    assert acked.output.startswith(f"Acknowledged by {getpass.getuser()} at ")
    again = runner.invoke(main, ["escalation", "ack", ref, *common])
    assert again.output == f"Nothing to do: already acknowledged by {getpass.getuser()}.\n"
    assert runner.invoke(main, ["escalation", "resolve", ref, *common]).exit_code == 0
    assert json.loads(runner.invoke(main, ["escalation", "list", "--json", *common]).stdout) == []
    everything = runner.invoke(main, ["escalation", "list", "--all", "--json", *common])
    assert json.loads(everything.stdout)[0]["status"] == "resolved"


def test_an_unknown_ref_is_a_one_line_error(tmp_path: Path, runner: CliRunner) -> None:
    common, _ = setup(tmp_path)
    result = runner.invoke(main, ["escalation", "escalate", "0123456789ab", *common])
    assert (result.exit_code, result.output) == (
        1,
        "Error: escalation 0123456789ab: no escalation 0123456789ab\n",
    )


def test_without_a_store_the_error_says_which(tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(main, ["escalation", "list", "--state", str(tmp_path / "none.db")])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {tmp_path / 'none.db'}: no such store; pass the one 'ops serve' uses (--state, "
        "OPS_STATE, or serve.state in ops.yaml)\n"
    )


def test_list_names_a_repeat_of_the_last_tier_not_a_tier_past_it(
    tmp_path: Path, runner: CliRunner
) -> None:
    """Three tiers, then repeats every 15 minutes: the fourth step is the third tier's first
    repeat (a newcomer read ``tier 4`` of a three-tier policy)."""
    common, escalations = setup(tmp_path)
    # the opening post the pages reply to, as processing the payload queues it
    escalations.store.enqueue([Planned("g1", "#search-oncall", "post", {"text": "FIRING"})], T0)
    escalations.tick(T0 + 600)  # tiers 1 and 2 paged; the third is next
    third = json.loads(runner.invoke(main, ["escalation", "list", "--json", *common]).stdout)
    assert (third[0]["next_step"], third[0]["next_page"]) == (3, "tier 3")
    escalations.tick(T0 + 1200)
    listed = runner.invoke(main, ["escalation", "list", *common])
    (row,) = json.loads(runner.invoke(main, ["escalation", "list", "--json", *common]).stdout)
    assert (row["next_step"], row["next_page"]) == (4, "tier 3, repeat 1")
    assert " tier 3, repeat 1 at " in listed.stdout
