"""The README's shell examples run as written, so they stay true.

Every command line of every ```sh block is listed here, either with the outcome it has in
this sandbox (exit code and a piece of its output) or with the reason it is skipped. A
README command missing from both lists fails the test, so a new example gets checked too.

How they run: each block in a fresh directory holding the repository's ``slos/``,
``runbooks/`` and ``alerts/``, and the ``ops.yaml`` the README shows; ``ops`` commands with
the arguments exactly as written (in-process, with the process clock at the worked
example's data end, since Prometheus holds generated history, not live data); other
commands through bash. ``OPS_PROMETHEUS_URL`` points at the test Prometheus, and
``http://127.0.0.1:9090`` in a command is that server's URL; ``RUN_ID`` is the run the block
started; ``ops serve`` listens on a free port instead of 9095 and is stopped by pid.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import time_machine
import yaml
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.demo.search_api import SearchApiStandIn
from tests.conftest import ROOT
from tests.integration.conftest import LoadedPrometheus

README = ROOT / "README.md"


@dataclass(frozen=True)
class Outcome:
    """What a command does here: its exit code and a piece of its output (stdout+stderr)."""

    exit_code: int
    shows: str
    why: str = ""  # when it does not succeed here: why that is right


COMMANDS: dict[str, Outcome] = {
    "ops runbook list": Outcome(0, "search-errors"),
    "ops runbook lint runbooks/ --strict": Outcome(0, ""),
    "ops runbook lint": Outcome(0, ""),
    "ops runbook show search-errors": Outcome(0, "error-ratio"),
    "ops runbook show SearchApiDown": Outcome(0, "restart-after-outage.md"),
    "DEPLOY=local ops runbook run search-errors --tag diagnose": Outcome(
        0, "health-endpoint: succeeded"
    ),
    "ops runbook run search-errors --tag diagnose --non-interactive --json": Outcome(
        1, '"status": "failed"', "no Kubernetes cluster here"
    ),
    "ops runbook run add-document-source -p SOURCE_NAME=wiki -p SOURCE_URL=https://wiki.example": (
        Outcome(
            1,
            "check-approval",
            "its first step is manual: an unattended run stops there, before any network call",
        )
    ),
    "ops runbook run restart-after-outage --dry-run": Outcome(
        0, "1. targets-up [promql] would run"
    ),
    "ops runbook runs": Outcome(0, "Runbook runs"),
    "ops runbook runs RUN_ID": Outcome(0, "check-approval"),
    "ops runbook audit RUN_ID": Outcome(0, "step_finished  check-approval  pending_manual"),
    # the runs above are minutes old: none is 90 days old, whatever the date
    "ops runbook audit --prune --older-than 90d": Outcome(
        0, "removed 0 line(s) of runs finished before "
    ),
    "ops runbook resume RUN_ID": Outcome(
        1, "check-approval", "the manual step still waits for a person at a terminal"
    ),
    "ops slo validate": Outcome(0, "4 SLO(s) in 1 file(s): valid"),
    "ops slo report --prometheus http://127.0.0.1:9090": Outcome(0, "SLO error budgets"),
    "ops slo report --at 2026-11-16T09:00:00Z --keep-going": Outcome(0, "SLO error budgets"),
    "ops slo gate search/availability --min-remaining 25%": Outcome(
        3,
        "the gate stops while it burns",
        "the worked example's last hour pages: a rollout gate stops while the budget burns fast",
    ),
    # relative to now, so it works on the demo's data (which ends now) at any date
    'ops slo correct search/availability --start now-1h --end now --reason "INC-232: bad deploy, rolled back"': Outcome(
        0, "slos/search.yaml: updated: search/availability: "
    ),
    "ops slo gate search/availability -o json": Outcome(0, '"verdict": "go"'),
    "ops slo rules --dir alerts/ --tests": Outcome(0, "alerts/search.rules.yaml (unchanged)"),
    "ops slo rules --check": Outcome(0, "1 rule file(s) in alerts/ are current"),
    "ops slo rules --inhibit alerts/inhibit.yaml": Outcome(0, "alerts/inhibit.yaml (unchanged)"),
    "ops slo rules --format prometheusrule --dir deploy/rules/": Outcome(
        0, "deploy/rules/search.prometheusrule.yaml (created)"
    ),
    "ops slo validate --prometheus http://127.0.0.1:9090": Outcome(0, "valid"),
    "ops slo convert slos/search.yaml --to openslo > search.openslo.yaml": Outcome(0, ""),
    "promtool check rules alerts/search.rules.yaml": Outcome(0, "SUCCESS"),
    "cd alerts && promtool test rules search.rules.test.yaml": Outcome(0, "SUCCESS"),
    "OPS_WEBHOOK_TOKEN=s3cret ops serve --config ops.yaml --listen 127.0.0.1:9095": Outcome(
        0, '{"status":"ok"', "a server: started, asked GET /healthz, then stopped"
    ),
    "ops outbox list --status dead": Outcome(0, "0 entries"),
    "ops outbox retry --all": Outcome(0, "re-queued 0 entries"),
    "ops outbox list --inbox": Outcome(0, "0 payloads given up on"),
    "ops outbox retry --inbox --all": Outcome(0, "re-queued 0 payloads"),
    "ops slo report --post '#search-alerts' --chart burndown.png": Outcome(0, ""),
    "ops slo report -o html > report.html": Outcome(0, ""),
    "ops slo report --once --config ops.yaml --name weekly": Outcome(0, ""),
    "ops check": Outcome(0, ": 0 error(s), 0 warning(s)"),
    "ops routes test service=search severity=page": Outcome(0, "#search-oncall"),
    'eval "$(ops completion bash)"': Outcome(0, ""),
    "ops rollout status search": Outcome(0, "Ready: 'ops rollout advance search' enters pilot."),
    "ops rollout advance search --dry-run": Outcome(0, "Dry run: nothing ran."),
    "ops rollout advance search": Outcome(0, "verify-access: succeeded"),
    "ops rollout rollback search": Outcome(0, "serving stage closed"),
    "ops rollout report search -o html > rollout.html": Outcome(0, ""),
}

NO_CLUSTER = "no Kubernetes cluster here; tests/deploy/test_manifests.py checks deploy/kubernetes/"
NO_SYSTEMD = (
    "systemd is not PID 1 here (and /etc is not ours); tests/deploy/test_manifests.py "
    "verifies the unit with systemd-analyze"
)
ONCALL_CLI = "run with the shipped alerts/oncall.yaml by tests/cli/test_oncall_cli.py"
SKIPPED: dict[str, str] = {
    "ops slo convert sloth/ pyrra/ --to ops --dir slos/": "sloth/ and pyrra/ stand for a team's "
    "own folders; tests/integration/test_formats.py converts such files",
    "python -m ops_toolkit.demo.search_api &": "a server until stopped; the test starts the "
    "same stand-in (SearchApiStandIn) on a free port and sets SEARCH_API_URL to it",
    "make demo": "starts its own Prometheus, Alertmanager and Slack-compatible server for "
    "minutes; the demo is its own check",
    "make test": "the command that runs this test",
    "ops check --rules kube-prometheus.rules.yaml --strict -o json": "kube-prometheus.rules.yaml "
    "stands for a team's own rules file; this repository has none",
    "0 9 * * MON  cd /srv/ops && ops slo report --once --config ops.yaml --name weekly": "a "
    "crontab line for a server's /srv/ops; its command runs above as "
    "'ops slo report --once --config ops.yaml --name weekly'",
    # On call: these need an 'ops serve' store with escalations; the CLI tests run them.
    "ops oncall who": "what it prints depends on today's date; test_oncall_cli.py pins --at",
    "ops oncall who search-primary --at 2026-03-29T09:30": ONCALL_CLI,
    "ops oncall list search-primary --from 2026-03-23 --to 2026-04-06": ONCALL_CLI,
    "ops oncall override search-primary --user U0SEARCH03 --from 2026-03-28T18:00 --to "
    "2026-03-29T18:00": ONCALL_CLI + " (override, who, --remove against a store)",
    "ops oncall override --remove 1": ONCALL_CLI,
    'export OPS_STATE="postgresql://ops:$PGPASSWORD@db:5432/ops"': (
        "names a PostgreSQL server at db, for the two commands after it"
    ),
    "ops store migrate --from sqlite:ops-state.db --json": (
        "needs a PostgreSQL server at db; tests/integration/test_store_migrate.py migrates "
        "a store written by a real ops serve"
    ),
    "OPS_WEBHOOK_TOKEN=s3cret ops serve": (
        "runs until stopped, on a PostgreSQL server at db; tests/integration/test_ha.py runs "
        "two replicas on one database"
    ),
    "ops escalation list": "needs escalations in an 'ops serve' store; "
    "tests/cli/test_escalation_cli.py and tests/integration/test_escalation.py run it",
    "ops escalation ack|resolve|escalate REF": "REF stands for an escalation's ref; "
    "tests/cli/test_escalation_cli.py runs ack, resolve and escalate",
    # Running in production: a cluster, a database and systemd that are not here;
    # tests/deploy/ checks the files these commands apply.
    "systemctl stop ops-serve": NO_SYSTEMD,
    "ops store migrate --from sqlite:/var/lib/ops/ops-state.db --to "
    "postgresql://ops@db.example.com:5432/ops": "db.example.com stands for a team's "
    "PostgreSQL server; the store's own tests migrate into one they start",
    "docker build -t registry.example.com/ops-toolkit:latest .": "no Docker daemon here; "
    "tests/deploy/test_dockerfile.py checks the build context, builds the package from it and "
    "checks the manifests name this tag",
    "docker push registry.example.com/ops-toolkit:latest": "registry.example.com stands for a "
    "team's registry",
    "kubectl create namespace ops": NO_CLUSTER,
    "kubectl apply -k deploy/kubernetes/": NO_CLUSTER,
    "kubectl -n ops rollout status deployment/ops-serve": NO_CLUSTER,
    'kubectl -n ops create secret generic ops --from-literal=webhook-token="$(openssl rand '
    '-hex 32)" --from-literal=slack-bot-token=xoxb-... --from-literal=slack-signing-secret=... '
    "--from-literal=postgresql-dsn=postgresql://ops:...@db.example.com:5432/ops": NO_CLUSTER,
    "install -m 0644 deploy/systemd/ops-serve.service /etc/systemd/system/": NO_SYSTEMD,
    "install -D -m 0600 deploy/systemd/ops-serve.env.example /etc/ops/ops-serve.env": NO_SYSTEMD,
    "systemctl daemon-reload": NO_SYSTEMD,
    "systemctl enable --now ops-serve": NO_SYSTEMD,
}


def shell_blocks(text: str) -> list[list[str]]:
    """The command lines of each ```sh block, trailing comments removed."""
    blocks = re.findall(r"^```sh\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    commands = []
    for block in blocks:
        lines = []
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words and not line.lstrip().startswith("#"):
                lines.append(_without_comment(line))
        commands.append(lines)
    return commands


def _without_comment(line: str) -> str:
    """``line`` up to its shell comment (a ``#`` after whitespace, outside quotes)."""
    quote = ""
    for index, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip()
    return line.rstrip()


BLOCKS = shell_blocks(README.read_text(encoding="utf-8"))


def test_every_readme_command_is_checked_or_skipped_with_a_reason() -> None:
    written = [command for block in BLOCKS for command in block]
    assert set(written) == {*COMMANDS, *SKIPPED}


def readme_ops_yaml(prometheus: str) -> str:
    """``ops.yaml`` as the README shows it: its settings block, then reports and policies."""
    text = README.read_text(encoding="utf-8")
    settings = re.search(r"`ops.yaml` \(every key optional\):\n\n```yaml\n(.*?)```", text, re.S)
    schedules = re.search(r"```yaml\n(reports:\n.*?)```", text, re.S)
    assert settings and schedules
    document = yaml.safe_load(settings.group(1)) | yaml.safe_load(schedules.group(1))
    document["prometheus"] = prometheus
    return yaml.safe_dump(document, sort_keys=False)


@pytest.fixture
def search_api() -> Iterator[str]:
    """The stand-in the README starts (``python -m ops_toolkit.demo.search_api``)."""
    server = SearchApiStandIn().start()
    try:
        yield server.url
    finally:
        server.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Shell:
    """Runs README command lines in ``directory`` the way the module docstring describes."""

    def __init__(self, directory: Path, prometheus: LoadedPrometheus, env: dict[str, str]):
        self.directory = directory
        self.prometheus = prometheus
        self.env = env
        self.run_id = ""

    def run(self, command: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
        line = command.replace("http://127.0.0.1:9090", self.prometheus.url)
        line = line.replace("RUN_ID", self.run_id)
        if " ops serve " in f" {line} ":
            return self._serve(line)
        words = shlex.split(line)
        assignments = {}
        while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):  # DEPLOY=local ops ...
            name, _, value = words.pop(0).partition("=")
            assignments[name] = value
        if words[:1] != ["ops"]:
            return self._bash(line)
        target = None
        if ">" in words:
            words, target = words[: words.index(">")], words[words.index(">") + 1]
        for name, value in {**self.env, **assignments}.items():
            monkeypatch.setenv(name, value)
        with time_machine.travel(self.prometheus.end + 60, tick=True):
            result = CliRunner().invoke(main, words[1:])
        for name in assignments:  # for this command only, as in a shell
            monkeypatch.delenv(name, raising=False)
            if name in self.env:
                monkeypatch.setenv(name, self.env[name])
        output = result.output
        if target:
            (self.directory / target).write_text(result.stdout)
        if " run " in line:
            self.run_id = self._latest_run_id()
        return result.exit_code, output

    def _latest_run_id(self) -> str:
        runs = sorted((Path(self.env["OPS_STATE_DIR"]) / "runs").glob("*.json"))
        return max(runs, key=lambda p: p.stat().st_mtime).stem if runs else ""

    def _bash(self, line: str) -> tuple[int, str]:
        done = subprocess.run(
            ["bash", "-c", line],
            cwd=self.directory,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return done.returncode, done.stdout + done.stderr

    def _serve(self, line: str) -> tuple[int, str]:
        port = free_port()
        words = shlex.split(line.replace("127.0.0.1:9095", f"127.0.0.1:{port}"))
        env = {**os.environ, **self.env}
        while "=" in words[0]:
            name, _, value = words.pop(0).partition("=")
            env[name] = value
        ops = str(Path(sys.executable).with_name("ops"))
        server = subprocess.Popen(
            [ops, *words[1:]],
            cwd=self.directory,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as answer:
                        return 0, answer.read().decode()
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        output = server.stdout.read() if server.stdout else ""
                        return server.returncode or 1, output
                    time.sleep(0.2)
        finally:
            server.terminate()
            server.wait(timeout=30)


@pytest.mark.parametrize("block", BLOCKS, ids=[block[0] for block in BLOCKS])
def test_readme_block_runs_as_written(
    block: list[str],
    tmp_path: Path,
    worked_prometheus: LoadedPrometheus,
    search_api: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if all(command in SKIPPED for command in block):
        pytest.skip("; ".join(f"{c}: {SKIPPED[c]}" for c in block))
    for name in ("slos", "runbooks", "alerts", "rollouts"):
        shutil.copytree(ROOT / name, tmp_path / name)
    (tmp_path / "ops.yaml").write_text(readme_ops_yaml(worked_prometheus.url))
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_API_URL", "OPS_WEBHOOK_TOKEN", "OPS_RUNBOOK_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    shell = Shell(
        tmp_path,
        worked_prometheus,
        {
            "OPS_PROMETHEUS_URL": worked_prometheus.url,
            "OPS_STATE_DIR": str(tmp_path / "state"),
            "SEARCH_API_URL": search_api,
            "SEARCH_ADMIN_TOKEN": "not-a-real-token",
            "KUBECONFIG": str(tmp_path / "no-cluster"),  # kubectl may only try loopback
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        },
    )
    for command in block:
        if command in SKIPPED:
            continue
        expected = COMMANDS[command]
        exit_code, output = shell.run(command, monkeypatch)
        assert "Traceback" not in output, f"{command}\n{output}"
        assert exit_code == expected.exit_code, f"{command}\n{output}"
        assert expected.shows in output, f"{command}\n{output}"
        if os.environ.get("OPS_README_SHOW"):
            print(f"$ {command}  -> {exit_code}\n{output[:600]}")


def test_rules_check_without_tests_judges_only_the_rule_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It once reported the committed test file as stale: --check judges what the options
    generate, and a test file beside a current rule file is not what they generate."""
    for name in ("slos", "alerts"):
        shutil.copytree(ROOT / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPS_RUNBOOK_BASE_URL", raising=False)
    current = CliRunner().invoke(main, ["slo", "rules", "--check"])
    assert (current.exit_code, current.output) == (0, "1 rule file(s) in alerts/ are current\n")
    (tmp_path / "alerts" / "gone.rules.test.yaml").write_text(
        "# Generated by ops from slos/gone.yaml. DO NOT EDIT.\n"
    )
    left_over = CliRunner().invoke(main, ["slo", "rules", "--check"])
    assert left_over.exit_code == 1
    assert left_over.output == (
        "alerts/gone.rules.test.yaml: generated from an SLO file that no longer exists\n"
        "Rule files are stale: run 'ops slo rules' and commit the result.\n"
    )
