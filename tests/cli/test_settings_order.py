"""Every command that reads SLOs, runbooks, a Prometheus URL or the runbook base URL chooses
it in one order: the command line, else the environment variable, else ops.yaml, else the
default (``ops_toolkit/cli/settings.py``).

Before, with ``slos: [objectives]`` ``ops slo validate`` and ``ops slo rules`` read slos/
and said "slos: no such file or directory ... or set slos: in ops.yaml"; with ``runbooks:
playbooks`` ``ops runbook list`` failed and ``show`` "looked in runbooks/"; ``ops slo
validate`` ignored ``prometheus:`` and ``ops slo rules`` ``runbook_base_url:``; and an
unreachable Prometheus always said to check --prometheus / OPS_PROMETHEUS_URL.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ops_toolkit.cli import main

SLO = """\
version: ops/v1
service: probe
runbook: playbooks/probe.md
slos:
  - name: availability
    objective: 99.9
    window: 30d
    sli:
      ratio:
        bad: http_requests_total{service="probe",code=~"5.."}
        total: http_requests_total{service="probe"}
"""

RUNBOOK = """\
---
title: Probe is failing
owner: team-probe
alerts: [ProbeAvailabilityBudgetBurn]
---
# Probe is failing

## Diagnose
```promql {"name":"up","tag":"diagnose"}
up
```
"""

BASE_URL = "https://git.example.com/ops/-/blob/main"
ENVIRONMENT = ("OPS_PROMETHEUS_URL", "OPS_RUNBOOKS_DIR", "OPS_RUNBOOK_BASE_URL", "OPS_CONFIG")


def closed_port() -> int:
    """A loopback port nothing listens on: a query to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose ops.yaml names every setting away from its default: SLOs in
    objectives/, runbooks in playbooks/, a Prometheus that refuses connections, a base URL.
    Neither slos/ nor runbooks/ exists."""
    (tmp_path / "objectives").mkdir()
    (tmp_path / "objectives" / "probe.yaml").write_text(SLO, encoding="utf-8")
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "probe.md").write_text(RUNBOOK, encoding="utf-8")
    (tmp_path / "ops.yaml").write_text(
        "slos: [objectives]\n"
        "runbooks: playbooks\n"
        f"prometheus: http://127.0.0.1:{closed_port()}\n"
        f"runbook_base_url: {BASE_URL}\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def ops(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def prometheus_url(project: Path) -> str:
    return (project / "ops.yaml").read_text(encoding="utf-8").split("prometheus: ")[1].split()[0]


def refused(url: str, origin: str) -> str:
    return f"cannot reach Prometheus at {url}: connection refused (is it running? check {origin})"


def rules_runbook_urls(folder: Path) -> set[str]:
    text = (folder / "probe.rules.yaml").read_text(encoding="utf-8")
    return {line.split(": ", 1)[1] for line in text.splitlines() if "runbook_url:" in line}


# -- each command reads ops.yaml's choice ------------------------------------------------


def without_prometheus(project: Path) -> None:
    config = project / "ops.yaml"
    lines = config.read_text(encoding="utf-8").splitlines(keepends=True)
    config.write_text("".join(x for x in lines if not x.startswith("prometheus:")), "utf-8")


def _validate(project: Path) -> None:
    without_prometheus(project)  # the SLOs alone: no live check
    result = ops("slo", "validate")
    assert (result.exit_code, result.stdout) == (
        0,
        "objectives/probe.yaml: probe/availability: 99.9% over 30d\n",
    )


def _rules(project: Path) -> None:
    result = ops("slo", "rules", "--dir", "out")
    assert (result.exit_code, result.stdout) == (0, "out/probe.rules.yaml (created)\n")


def _report(project: Path) -> None:
    result = ops("slo", "report", "--explain", "-o", "json")
    assert result.exit_code == 0, result.output
    assert [c["slo"] for c in json.loads(result.stdout)["sources"]] == ["probe/availability"]


def _gate(project: Path) -> None:
    result = ops("slo", "gate", "probe/availability", "--direct")
    assert result.exit_code == 1
    assert result.stdout.startswith("probe/availability: cannot tell: probe/availability: query")


def _correct(project: Path) -> None:
    result = ops(
        "slo", "correct", "probe/availability", "--start", "now-1h", "--end", "now",
        "--reason", "INC-1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("objectives/probe.yaml: updated: probe/availability: ")


def _check(project: Path) -> None:
    result = ops("check", "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["checked"] == {
        "config": 1,
        "routes": 0,
        "slos": 1,
        "runbooks": 1,
    }


def _runbook_list(project: Path) -> None:
    result = ops("runbook", "list", "-o", "json")
    assert result.exit_code == 0, result.output
    assert [r["path"] for r in json.loads(result.stdout)] == ["playbooks/probe.md"]


def _runbook_show(project: Path) -> None:
    result = ops("runbook", "show", "probe", "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["path"] == "playbooks/probe.md"


def _runbook_show_by_alert(project: Path) -> None:
    result = ops("runbook", "show", "ProbeAvailabilityBudgetBurn", "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["path"] == "playbooks/probe.md"


def _runbook_lint(project: Path) -> None:
    (project / "playbooks" / "broken.md").write_text("---\ntitle: [\n---\n", encoding="utf-8")
    result = ops("runbook", "lint", "-o", "json")
    assert result.exit_code == 1
    assert [f["path"] for f in json.loads(result.stdout)] == ["playbooks/broken.md"]


def _runbook_run(project: Path) -> None:
    result = ops("runbook", "run", "probe", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["runbook"] == "playbooks/probe.md"


READS_OPS_YAML: dict[str, Callable[[Path], None]] = {
    "slo validate reads slos:": _validate,
    "slo rules reads slos: and runbook_base_url:": _rules,
    "slo report reads slos:": _report,
    "slo gate reads slos:": _gate,
    "slo correct reads slos:": _correct,
    "check reads slos: and runbooks:": _check,
    "runbook list reads runbooks:": _runbook_list,
    "runbook show reads runbooks:": _runbook_show,
    "runbook show finds an alert's runbook in runbooks:": _runbook_show_by_alert,
    "runbook lint reads runbooks:": _runbook_lint,
    "runbook run reads runbooks:": _runbook_run,
}


@pytest.mark.parametrize("case", READS_OPS_YAML.values(), ids=READS_OPS_YAML.keys())
def test_each_command_reads_ops_yaml_s_slos_and_runbooks(
    case: Callable[[Path], None], project: Path
) -> None:
    case(project)


def test_slo_rules_links_runbooks_with_ops_yaml_s_base_url(project: Path) -> None:
    assert ops("slo", "rules", "--dir", "out").exit_code == 0
    assert rules_runbook_urls(project / "out") == {f"{BASE_URL}/playbooks/probe.md"}


QUERY_FAILED = (
    "probe/availability: query "
    '\'sum(increase(http_requests_total{{service="probe",code=~"5.."}}[30d]))\' failed: {}'
)
PROMETHEUS_COMMANDS = {  # the command, where it says it, and how
    "slo validate": (["slo", "validate"], "stderr", "Error: {}\n"),
    "slo report": (
        ["slo", "report", "--direct", "-o", "json"],
        "stderr",
        f"Error: {QUERY_FAILED}\n",
    ),
    "slo gate": (
        ["slo", "gate", "probe/availability", "--direct"],
        "first line",
        f"probe/availability: cannot tell: {QUERY_FAILED}",
    ),
    "runbook run": (
        ["runbook", "run", "probe", "--yes", "--json", "--state-dir", "state"],
        "step",
        "{}",
    ),
}


@pytest.mark.parametrize("case", PROMETHEUS_COMMANDS.values(), ids=PROMETHEUS_COMMANDS.keys())
@pytest.mark.parametrize(
    "how",
    ["ops.yaml", "OPS_PROMETHEUS_URL", "--prometheus"],
    ids=["prometheus: in ops.yaml", "OPS_PROMETHEUS_URL over ops.yaml", "--prometheus over all"],
)
def test_each_command_names_where_its_prometheus_url_came_from(
    case: tuple[list[str], str, str], how: str, project: Path
) -> None:
    args, where, shape = case
    url = prometheus_url(project)
    env, origin = {}, "prometheus: in ops.yaml"
    if how != "ops.yaml":  # another refusing server, so the URL in the message tells them apart
        url = f"http://127.0.0.1:{closed_port()}"
        env, origin = {"OPS_PROMETHEUS_URL": url}, "OPS_PROMETHEUS_URL"
    if how == "--prometheus":
        env = {"OPS_PROMETHEUS_URL": f"http://127.0.0.1:{closed_port()}"}
        args, origin = [*args, "--prometheus", url], "--prometheus"
    result = ops(*args, env=env)
    assert result.exit_code == 1
    if where == "step":
        said = json.loads(result.stdout)["steps"][0]["message"]
    else:
        said = result.stderr if where == "stderr" else result.stdout.splitlines()[0]
    assert said == shape.format(refused(url, origin))


def test_slo_validate_takes_config_from_another_folder(
    project: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = project / "ops.yaml"
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    result = ops("slo", "validate", "--config", str(config))
    origin = f"prometheus: in {config}"
    assert (result.exit_code, result.output) == (
        1,
        f"Error: {refused(prometheus_url(project), origin)}\n",
    )


@pytest.mark.parametrize(
    ("env", "args", "folder"),
    [
        ({"OPS_RUNBOOKS_DIR": "team"}, [], "team"),
        ({"OPS_RUNBOOKS_DIR": "team"}, ["--dir", "flagged"], "flagged"),
    ],
    ids=["OPS_RUNBOOKS_DIR over ops.yaml", "--dir over OPS_RUNBOOKS_DIR"],
)
def test_runbook_folder_order(
    env: dict[str, str], args: list[str], folder: str, project: Path
) -> None:
    for name in ("team", "flagged"):
        (project / name).mkdir()
        (project / name / "probe.md").write_text(RUNBOOK, encoding="utf-8")
    result = ops("runbook", "show", "probe", "-o", "json", *args, env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["path"] == f"{folder}/probe.md"


@pytest.mark.parametrize(
    ("env", "args", "base"),
    [
        ({"OPS_RUNBOOK_BASE_URL": "https://env.example"}, [], "https://env.example"),
        (
            {"OPS_RUNBOOK_BASE_URL": "https://env.example"},
            ["--runbook-base-url", "https://flag.example"],
            "https://flag.example",
        ),
    ],
    ids=["OPS_RUNBOOK_BASE_URL over ops.yaml", "--runbook-base-url over the variable"],
)
def test_runbook_base_url_order(
    env: dict[str, str], args: list[str], base: str, project: Path
) -> None:
    assert ops("slo", "rules", "--dir", "out", *args, env=env).exit_code == 0
    assert rules_runbook_urls(project / "out") == {f"{base}/playbooks/probe.md"}


def test_a_base_url_that_is_no_url_names_its_variable(project: Path) -> None:
    result = ops("slo", "rules", "--dir", "out", env={"OPS_RUNBOOK_BASE_URL": "git.example"})
    assert (result.exit_code, result.output) == (
        1,
        "Error: OPS_RUNBOOK_BASE_URL: expected an http(s) URL, got 'git.example'\n",
    )


def test_a_missing_slos_folder_of_ops_yaml_names_ops_yaml(project: Path) -> None:
    (project / "objectives" / "probe.yaml").unlink()
    (project / "objectives").rmdir()
    for args in (["slo", "validate"], ["slo", "rules", "--dir", "out"]):
        result = ops(*args)
        assert (result.exit_code, result.output) == (
            1,
            "Error: objectives: no such file or directory (slos: in ops.yaml)\n",
        )


def test_a_missing_runbooks_folder_of_ops_yaml_names_ops_yaml(project: Path) -> None:
    (project / "ops.yaml").write_text("runbooks: gone\n", encoding="utf-8")
    result = ops("runbook", "list")
    assert (result.exit_code, result.output) == (
        1,
        "Error: gone: no such folder (from runbooks: in ops.yaml)\n",
    )
    result = ops("runbook", "show", "probe")
    assert (result.exit_code, result.output) == (
        1,
        "Error: no runbook 'probe' (looked in gone/); gone/ has no runbooks\n",
    )


def test_slo_validate_offline_checks_the_files_only(
    project: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ops.yaml's prometheus: makes validate check live data; a CI job without that
    Prometheus in reach gives --offline (it failed on the unreachable server before)."""
    config = project / "ops.yaml"
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    result = ops("slo", "validate", "--config", str(config), "--offline")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].endswith("file(s): valid")
    refused_flag = ops("slo", "validate", "--offline", "--prometheus", "http://127.0.0.1:1")
    assert (refused_flag.exit_code, refused_flag.output.splitlines()[-1]) == (
        2,
        "Error: --offline checks the files only: leave out --prometheus",
    )
