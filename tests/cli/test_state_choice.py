"""Every command that opens ``ops serve``'s store chooses it one way: ``--state``, else
``OPS_STATE``, else ``serve.state`` in ops.yaml. ``ops escalation``, ``ops oncall`` and
``ops slo report --once`` once ignored ``OPS_STATE``, which ``ops serve`` reads, so they
opened (or created) another store than the server's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.cli.options import serve_state
from ops_toolkit.config import OpsConfig, ServeSettings
from tests.cli.escalations import ONCALL, a_store_with_one_escalation

FROM_FILE = OpsConfig(serve=ServeSettings(state="from-ops-yaml.db"))


@pytest.mark.parametrize(
    ("option", "environ", "chosen"),
    [
        ("given.db", "env.db", "given.db"),
        (None, "env.db", "env.db"),
        (None, None, "from-ops-yaml.db"),
        (None, "", "from-ops-yaml.db"),
    ],
    ids=["--state wins", "then OPS_STATE", "then serve.state", "an empty OPS_STATE is unset"],
)
def test_the_store_is_chosen_in_one_order(
    option: str | None,
    environ: str | None,
    chosen: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if environ is None:
        monkeypatch.delenv("OPS_STATE", raising=False)
    else:
        monkeypatch.setenv("OPS_STATE", environ)
    assert serve_state(option, FROM_FILE) == chosen


def test_escalation_list_reads_ops_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    a_store_with_one_escalation(tmp_path / "served.db")
    (tmp_path / "ops.yaml").write_text(f"oncall: {ONCALL}\n")  # serve.state: ops-state.db
    listed = CliRunner().invoke(
        main, ["escalation", "list", "--json"], env={"OPS_STATE": str(tmp_path / "served.db")}
    )
    assert listed.exit_code == 0, listed.output
    assert [e["alert"] for e in json.loads(listed.stdout)] == ["SearchErrors"]
    assert not (tmp_path / "ops-state.db").exists()  # no empty store made beside it


def test_a_missing_store_names_all_three_ways_to_choose_it(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    for args in (["escalation", "list"], ["outbox", "list"]):
        result = CliRunner().invoke(main, args, env={"OPS_STATE": str(missing)})
        assert (result.exit_code, result.output) == (
            1,
            f"Error: {missing}: no such store; pass the one 'ops serve' uses (--state, "
            "OPS_STATE, or serve.state in ops.yaml)\n",
        ), args


def test_oncall_override_reads_ops_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    served = tmp_path / "served.db"
    common = ["--oncall", ONCALL]
    added = CliRunner().invoke(
        main,
        [
            "oncall",
            "override",
            "search-primary",
            "--user",
            "U0SEARCH03",
            "--from",
            "2026-03-28T18:00",
            "--to",
            "2026-03-29T18:00",
            *common,
        ],
        env={"OPS_STATE": str(served)},
    )
    assert added.exit_code == 0, added.output
    assert served.exists()
    who = CliRunner().invoke(
        main,
        ["oncall", "who", "search-primary", "--at", "2026-03-29T09:30", "--json", *common],
        env={"OPS_STATE": str(served)},
    )
    assert who.exit_code == 0, who.output
    assert "U0SEARCH03" in who.stdout
    assert not (tmp_path / "ops-state.db").exists()
