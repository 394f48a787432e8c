"""Relative paths in ops.yaml are taken from the file's folder, not the working directory
(as kubectl, docker compose and Prometheus do): ``ops --config /etc/ops/ops.yaml`` once
looked for ``runbooks: runbooks`` wherever it happened to be started."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.config import load_config, parse_config, under
from tests.conftest import ROOT

WRITTEN = """\
serve: {state: state/ops.db, messages: out/messages.jsonl}
routes: alerts/routes.yaml
oncall: alerts/oncall.yaml
runbooks: runbooks
slos: [slos, /abs/slos]
prometheus:
  url: http://127.0.0.1:9090
  bearer_token_file: secrets/token
reports:
  - {name: weekly, cron: '0 9 * * MON', slos: [slos, 'search/*'], channel: '#search-alerts'}
"""


def test_relative_paths_are_taken_from_the_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "conf"
    (folder / "slos").mkdir(parents=True)
    (folder / "ops.yaml").write_text(WRITTEN)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config("../conf/ops.yaml")
    assert config.serve.state == "../conf/state/ops.db"
    assert config.serve.messages == "../conf/out/messages.jsonl"
    assert (config.routes, config.oncall) == (
        "../conf/alerts/routes.yaml",
        "../conf/alerts/oncall.yaml",
    )
    assert config.runbooks == "../conf/runbooks"
    assert config.slos == ("../conf/slos", "/abs/slos")
    assert config.prometheus_source is not None
    assert config.prometheus_source.bearer_token_file == "../conf/secrets/token"
    # a report's entries: the folder that exists beside ops.yaml, and a selector as written
    assert config.reports[0].slos == ("../conf/slos", "search/*")


def test_in_the_working_directory_nothing_changes_and_defaults_stay_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ops.yaml").write_text("routes: alerts/routes.yaml\n")
    config = load_config(None)
    assert (config.routes, config.runbooks, config.slos) == (
        "alerts/routes.yaml",
        "runbooks",
        ("slos",),
    )
    elsewhere = parse_config("prometheus: http://127.0.0.1:9090\n", "/etc/ops/ops.yaml", "/etc/ops")
    # keys left out keep their defaults, relative to the working directory (the image's)
    assert (elsewhere.serve.state, elsewhere.runbooks, elsewhere.slos) == (
        "ops-state.db",
        "runbooks",
        ("slos",),
    )


@pytest.mark.parametrize(
    ("written", "taken"),
    [
        ("state.db", "/etc/ops/state.db"),
        ("sqlite:state.db", "sqlite:/etc/ops/state.db"),
        ("/var/lib/ops/state.db", "/var/lib/ops/state.db"),
        ("postgresql://ops@db:5432/ops", "postgresql://ops@db:5432/ops"),
    ],
    ids=["a path", "sqlite:PATH", "absolute", "a database URL"],
)
def test_serve_state_paths_but_not_urls_are_taken_from_the_folder(written: str, taken: str) -> None:
    config = parse_config(f"serve: {{state: '{written}'}}\n", "/etc/ops/ops.yaml", "/etc/ops")
    assert config.serve.state == taken


def test_under_keeps_absolute_home_and_empty_paths() -> None:
    assert under("conf", "/abs") == "/abs"
    assert under("conf", "~/x") == "~/x"
    assert under("conf", "") == ""
    assert under("", "x") == "x"
    assert under("conf", "../x") == "x"


def test_ops_check_from_another_directory_reads_the_files_beside_ops_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    for name in ("slos", "runbooks", "alerts"):
        shutil.copytree(ROOT / name, project / name)
    (project / "ops.yaml").write_text(
        "routes: alerts/routes.yaml\noncall: alerts/oncall.yaml\nrunbooks: runbooks\nslos: [slos]\n"
    )
    monkeypatch.chdir(tmp_path)  # not the project: nothing there but the project folder
    result = CliRunner().invoke(main, ["check", "--config", "project/ops.yaml", "--strict"])
    assert (result.exit_code, result.output) == (
        0,
        "checked 1 config, 3 routes, 3 schedules, 1 policies, 4 slos, 7 runbooks: 0 error(s), "
        "0 warning(s)\n",
    )
