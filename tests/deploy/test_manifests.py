"""What deploy/ ships is what ops reads, runs and serves.

The Kubernetes manifests (the files deploy/kubernetes/kustomization.yaml lists), the systemd
unit and the Alertmanager HA example are checked against the code: every environment
variable they set is one ops reads, every port one ``ops serve`` listens on, every command
line a real ``ops`` command, the probe path a route of the server, every secret a key the
README documents. Their shape is checked against a small Kubernetes schema
(``k8s_schema.py``), the Alertmanager file with ``amtool check-config`` and the unit with
``systemd-analyze verify``. No cluster runs here: what a cluster would do is not tested.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from click.testing import CliRunner
from starlette.routing import Route

from ops_toolkit.cli import main
from ops_toolkit.config import OpsConfig, ServeSettings, parse_config, parse_listen
from ops_toolkit.demo.servers import require_binary
from ops_toolkit.escalate.oncall import parse_oncall
from ops_toolkit.escalate.route import parse_routes
from ops_toolkit.notify.console import ConsoleNotifier
from ops_toolkit.serve.service import EscalationService
from ops_toolkit.serve.store.backends import runs_directory
from tests.conftest import ROOT
from tests.deploy import k8s_schema
from tests.deploy.manifests import (
    ALERTMANAGER_HA,
    SYSTEMD_ENV,
    SYSTEMD_UNIT,
    Container,
    click_envvars,
    command_envvars,
    containers,
    env_file_names,
    environ_reads,
    kustomization,
    manifests,
    of_kind,
    pod_labels,
    pod_spec,
    readme_section,
    resolve,
    secret_refs,
    systemd_command_line,
    systemd_unit,
)

SERVE_JOIN_SECONDS = 30
"""How long ``ops serve`` waits for its intake writer and for each worker loop on SIGTERM
(``GroupCommitWriter.stop`` and ``Loop.stop`` join for up to 30 s)."""


def serve_containers() -> list[Container]:
    return [c for c in containers() if c.command_line[1:2] == ["serve"]]


def listen_port(command_line: list[str]) -> int:
    """The port ``ops serve`` listens on for this command line: ``--listen``, else default."""
    if "--listen" in command_line:
        return parse_listen(command_line[command_line.index("--listen") + 1])[1]
    return ServeSettings().port


def configmap_data() -> dict[str, str]:
    (configmap,) = of_kind("ConfigMap")
    data: dict[str, str] = configmap.body["data"]
    return data


# Shape


def test_kustomization_lists_every_manifest_file_and_no_secret() -> None:
    listed = set(kustomization()["resources"])
    on_disk = {p.name for p in (ROOT / "deploy" / "kubernetes").glob("*.yaml")}
    assert listed == on_disk - {"kustomization.yaml"}
    assert "Secret" not in {m.kind for m in manifests()}  # secrets are references only


def test_every_object_has_a_known_kind_and_the_fields_that_kind_has() -> None:
    problems = [p for m in manifests() for p in k8s_schema.check_object(m.body, m.source)]
    assert problems == []
    assert sorted(m.kind for m in manifests()) == [
        "ConfigMap",
        "CronJob",
        "Deployment",
        "PodDisruptionBudget",
        "Service",
    ]


def test_the_schema_names_a_misspelt_field_and_a_missing_one() -> None:
    (deployment,) = of_kind("Deployment")
    container = dict(pod_spec(deployment)["containers"][0])
    container["readinesProbe"] = container.pop("readinessProbe")
    del container["image"]
    broken = {
        **deployment.body,
        "spec": {
            **deployment.body["spec"],
            "template": {"spec": {**pod_spec(deployment), "containers": [container]}},
        },
    }
    problems = k8s_schema.check_object(broken, "deployment.yaml[0]")
    assert problems[0].startswith(
        "deployment.yaml[0]: spec.template.spec.containers[0]: unknown field 'readinesProbe' "
        "of Container (known: args, command, env, image, imagePullPolicy, lifecycle, "
    )
    assert problems[1:] == [
        "deployment.yaml[0]: spec.template.spec.containers[0]: Container needs 'image'"
    ]
    assert k8s_schema.check_object({"apiVersion": "apps/v1beta1", "kind": "Deployment"}, "x") == [
        "x: unknown apiVersion/kind apps/v1beta1 Deployment (known: apps/v1 Deployment, "
        "v1 Service, v1 ConfigMap, policy/v1 PodDisruptionBudget, batch/v1 CronJob)"
    ]


def test_selectors_select_the_pods_and_mounts_name_volumes() -> None:
    (deployment,) = of_kind("Deployment")
    labels = pod_labels(deployment)
    assert deployment.body["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (service,) = of_kind("Service")
    assert service.body["spec"]["selector"].items() <= labels.items()
    (budget,) = of_kind("PodDisruptionBudget")
    assert budget.body["spec"]["selector"]["matchLabels"].items() <= labels.items()
    configmaps = {m.name for m in of_kind("ConfigMap")}
    for container in containers():
        volumes = {v["name"]: v for v in pod_spec(container.owner).get("volumes", [])}
        for mount in container.body["volumeMounts"]:
            assert mount["name"] in volumes, container.place
            if "configMap" in volumes[mount["name"]]:
                assert volumes[mount["name"]]["configMap"]["name"] in configmaps


def test_two_replicas_that_a_drain_or_rollout_never_takes_both_of() -> None:
    (deployment,) = of_kind("Deployment")
    assert deployment.body["spec"]["replicas"] == 2
    assert deployment.body["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    (budget,) = of_kind("PodDisruptionBudget")
    assert budget.body["spec"]["minAvailable"] == 1


def test_containers_run_as_non_root_on_a_read_only_root_and_write_only_to_volumes() -> None:
    for container in containers():
        pod = pod_spec(container.owner)
        assert pod["securityContext"]["runAsNonRoot"] is True, container.place
        context = container.body["securityContext"]
        assert context["readOnlyRootFilesystem"] is True, container.place
        assert context["allowPrivilegeEscalation"] is False, container.place
        assert context["capabilities"]["drop"] == ["ALL"], container.place
        assert "limits" in container.body["resources"], container.place
        config = container_config(container)
        command, _ = resolve(container.command_line)
        # ops writes its console messages, temporary files and the store when it is a SQLite
        # file (not when OPS_STATE, from the Secret, names it); each on an emptyDir
        writes = [config.serve.messages, "/tmp"]
        if "OPS_STATE" in container.env_names and "OPS_STATE" in command_envvars(command):
            state = SAMPLE_VALUES["postgresql-dsn"]  # what the Secret holds
        else:
            state = config.serve.state
            writes.append(state)
        if command.name == "serve":
            writes.append(runs_directory(state))  # diagnose runs
        for path in writes:
            absolute = path if path.startswith("/") else f"{container.body['workingDir']}/{path}"
            mount = container.mount_for(absolute)
            assert mount is not None, f"{container.place}: {absolute} is on the read-only root"
            assert "emptyDir" in container.volume(mount["name"]), f"{container.place}: {absolute}"


# Command lines, environment, ports


def test_every_command_line_is_a_real_ops_command(runner: CliRunner) -> None:
    lines = [c.command_line for c in containers()] + [systemd_command_line()]
    assert len(lines) == 3
    for line in lines:
        _, parsed = resolve(line)  # parses every option and argument as click would
        result = runner.invoke(main, [*line[1:], "--help"], prog_name="ops")
        assert result.exit_code == 0, (line, result.output)
        assert result.output.startswith(f"Usage: {parsed.command_path} [OPTIONS]"), line


def test_the_report_cron_job_runs_a_schedule_once_with_the_flags_the_command_has() -> None:
    (cronjob,) = of_kind("CronJob")
    (container,) = pod_spec(cronjob)["containers"]
    command, parsed = resolve([*container["command"], *container["args"]])
    assert command.name == "report"
    assert parsed.params["once"] is True
    config = parse_config(configmap_data()["report-cron.yaml"], "report-cron.yaml")
    report = config.report(parsed.params["name"])  # a ConfigError if the name is unknown
    assert report.cron == cronjob.body["spec"]["schedule"]
    assert report.timezone == cronjob.body["spec"]["timeZone"]
    # the replicas do not read report-cron.yaml: the report is never posted twice
    serve_config = parse_config(configmap_data()["ops.yaml"], "ops.yaml")
    assert report.name not in {r.name for r in serve_config.reports}


def test_ops_reads_every_environment_variable_the_deployment_sets() -> None:
    read_anywhere = environ_reads()
    assert {"OPS_WEBHOOK_TOKEN", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"} <= read_anywhere
    assert click_envvars() >= {"OPS_STATE", "OPS_PROMETHEUS_URL"}
    for container in containers():
        command, _ = resolve(container.command_line)
        unread = set(container.env_names) - read_anywhere - command_envvars(command)
        assert unread == set(), f"{container.place}: ops does not read {sorted(unread)}"
    (serve,) = serve_containers()
    assert set(serve.env_names) == {
        "OPS_STATE",
        "OPS_WEBHOOK_TOKEN",
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
    }


def test_ops_reads_every_environment_variable_the_systemd_unit_sets() -> None:
    command, _ = resolve(systemd_command_line())
    readable = environ_reads() | command_envvars(command)
    environment = systemd_unit()["Service"]["Environment"]
    names = {environment.partition("=")[0], *env_file_names(SYSTEMD_ENV)}
    assert names - readable == set()
    assert names == {"OPS_STATE", "OPS_WEBHOOK_TOKEN", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"}


def test_every_port_is_the_one_ops_serve_listens_on() -> None:
    (serve,) = serve_containers()
    port = listen_port(serve.command_line)
    named = {p["name"]: p["containerPort"] for p in serve.body["ports"]}
    assert set(named.values()) == {port}
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        action = serve.body[probe].get("httpGet") or serve.body[probe]["tcpSocket"]
        assert named.get(action["port"], action["port"]) == port, probe
    (service,) = of_kind("Service")
    (service_port,) = service.body["spec"]["ports"]
    assert named.get(service_port["targetPort"], service_port["targetPort"]) == port
    assert listen_port(systemd_command_line()) == ServeSettings().port


@pytest.fixture
def service(tmp_path: Path) -> EscalationService:
    """The server ``ops serve`` runs, on a SQLite store of its own."""
    config = OpsConfig(serve=ServeSettings(state=str(tmp_path / "state.db")))
    return EscalationService(
        config, token="t0ken", notifier=ConsoleNotifier(str(tmp_path / "messages.jsonl"))
    )


@pytest.fixture
def server_routes(service: EscalationService) -> dict[str, set[str] | None]:
    return {r.path: r.methods for r in service.app.routes if isinstance(r, Route)}


def test_the_readiness_probe_asks_a_route_the_server_answers(
    service: EscalationService, server_routes: dict[str, set[str] | None]
) -> None:
    (serve,) = serve_containers()
    path = serve.body["readinessProbe"]["httpGet"]["path"]
    assert path == "/healthz" and "GET" in (server_routes[path] or set())
    service.start()
    try:
        status, body = service.health()  # GET /healthz's answer (over HTTP: test_sigterm.py)
    finally:
        service.stop()
    assert (status, body["intake"]) == (200, "ok")


def test_every_secret_is_a_reference_to_a_key_the_readme_documents() -> None:
    section = readme_section("Running in production")
    refs = list(secret_refs())
    assert {name for _, name, _ in refs} >= {
        "OPS_STATE",
        "OPS_WEBHOOK_TOKEN",
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
    }
    for container, name, ref in refs:
        assert ref["name"] == "ops", container.place
        assert f"`{ref['key']}`" in section, f"{container.place}: {name}: key {ref['key']}"
        assert f"`{name}`" in section, f"{container.place}: {name} is not in the README"
    for container in containers():  # no token written into a manifest
        assert all("value" not in item for item in container.body.get("env", []))


SAMPLE_VALUES = {
    "postgresql-dsn": "postgresql://ops:pa55word@db.example.com:5432/ops",
    "webhook-token": "0f3c9a1be7d24c55",
    "slack-bot-token": "xoxb-1234-5678-abcdef",
    "slack-signing-secret": "8f14e45fceea167a",
}
"""A value of the shape the README's Secret table documents, for each key."""


def test_every_secret_the_manifests_pass_is_an_ops_credential() -> None:
    """So it is masked in all that ops prints and never reaches a runbook step."""
    from ops_toolkit.runbook.environment import is_ops_credential

    refs = list(secret_refs())
    assert {ref["key"] for _, _, ref in refs} == set(SAMPLE_VALUES)
    for container, name, ref in refs:
        assert is_ops_credential(name, SAMPLE_VALUES[ref["key"]]), f"{container.place}: {name}"


def test_termination_grace_covers_what_ops_serve_does_on_sigterm() -> None:
    """In-flight requests get serve.read_timeout for their body, then the writer and the
    loops are joined; Kubernetes and systemd wait that long before SIGKILL, alike."""
    (deployment,) = of_kind("Deployment")
    grace = pod_spec(deployment)["terminationGracePeriodSeconds"]
    assert grace >= ServeSettings().read_timeout + SERVE_JOIN_SECONDS
    assert systemd_unit()["Service"]["TimeoutStopSec"] == str(grace)


# The ConfigMap: ops's own files, read by ops's own parsers


def test_the_configmap_holds_files_ops_parses_and_the_shipped_routes() -> None:
    data = configmap_data()
    (serve,) = serve_containers()
    _, parsed = resolve(serve.command_line)
    mount = serve.mount_for(parsed.params["config_path"])
    assert mount is not None and mount["readOnly"] is True
    config = container_config(serve)
    for path in (config.routes, config.oncall):
        assert path is not None and serve.mount_for(path) == mount, path
        assert Path(path).name in data
    routing = parse_routes(data["routes.yaml"], "configmap.yaml: data.routes.yaml")
    oncall = parse_oncall(data["oncall.yaml"], "configmap.yaml: data.oncall.yaml")
    routing.check_policies(list(oncall.policies))
    for name in ("routes.yaml", "oncall.yaml"):
        assert data[name] == (ROOT / "alerts" / name).read_text(encoding="utf-8"), name
    assert config.serve.state == ServeSettings().state  # the store comes from OPS_STATE


@pytest.mark.parametrize("name", ["ops.yaml", "report-cron.yaml"])
def test_ops_check_passes_the_configmap_over_the_shipped_runbooks_and_slos(
    name: str, tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ConfigMap as mounted (here under tmp_path, not /etc/ops), from the working
    directory the containers have: a checkout with runbooks/ and slos/ (here, this one)."""
    (serve,) = serve_containers()
    mount = serve.mount_for(resolve(serve.command_line)[1].params["config_path"])
    assert mount is not None
    for key, text in configmap_data().items():
        text = text.replace(mount["mountPath"] + "/", f"{tmp_path}/")
        (tmp_path / key).write_text(text.replace(f"{serve.body['workingDir']}/", f"{ROOT}/"))
    monkeypatch.chdir(ROOT)
    result = runner.invoke(main, ["check", "--config", str(tmp_path / name)])
    assert result.exit_code == 0, result.output
    assert " 0 error(s)" in result.output


def container_config(container: Container) -> OpsConfig:
    """The ops.yaml a container's command reads, parsed by ops (from the ConfigMap)."""
    _, parsed = resolve(container.command_line)
    path = parsed.params["config_path"]
    return parse_config(configmap_data()[Path(path).name], f"configmap.yaml: data.{path}")


# Alertmanager


def test_the_alertmanager_ha_example_passes_amtool(tmp_path: Path) -> None:
    result = subprocess.run(
        [require_binary("amtool"), "check-config", str(ALERTMANAGER_HA)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    broken = tmp_path / "alertmanager.yml"
    broken.write_text(ALERTMANAGER_HA.read_text().replace("send_resolved", "send_resolve"))
    result = subprocess.run(
        [require_binary("amtool"), "check-config", str(broken)], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "field send_resolve not found" in result.stdout


def test_alertmanager_sends_to_the_service_with_the_token_and_the_routed_labels(
    server_routes: dict[str, set[str] | None],
) -> None:
    config = yaml.safe_load(ALERTMANAGER_HA.read_text())
    (receiver,) = config["receivers"]
    (webhook,) = receiver["webhook_configs"]
    url = urlsplit(webhook["url"])
    (service,) = of_kind("Service")
    (service_port,) = service.body["spec"]["ports"]
    assert url.hostname == f"{service.name}.{kustomization()['namespace']}.svc"
    assert url.port == service_port["port"]
    assert "POST" in (server_routes[url.path] or set())
    assert webhook["send_resolved"] is True
    assert webhook["max_alerts"] > 0
    authorization = webhook["http_config"]["authorization"]
    assert authorization["type"] == "Bearer" and authorization["credentials_file"]
    routing = parse_routes((ROOT / "alerts" / "routes.yaml").read_text(), "alerts/routes.yaml")
    routed = {label for route in routing.routes for label in (*route.match, *route.match_re)}
    # routing reads a group's common labels: every label a route matches is grouped by
    assert routed <= set(config["route"]["group_by"])
    assert config["route"]["receiver"] == receiver["name"]


# systemd


def _unit_root(tmp_path: Path, unit_text: str) -> Path:
    """A root for ``systemd-analyze verify --root``: the system's own units, the unit, and
    an executable at the unit's ``ExecStart`` path (ops is not installed in /usr/local)."""
    root = tmp_path / "root"
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "usr/lib/systemd").mkdir(parents=True)
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system" / SYSTEMD_UNIT.name).write_text(unit_text)
    program = root / systemd_command_line()[0].lstrip("/")
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    return root


def _verify(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_binary("systemd-analyze"), "verify", f"--root={root}", SYSTEMD_UNIT.name],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    result = _verify(_unit_root(tmp_path, SYSTEMD_UNIT.read_text()))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_systemd_analyze_verify_reports_a_misspelt_setting(tmp_path: Path) -> None:
    text = SYSTEMD_UNIT.read_text().replace("ProtectSystem=strict", "ProtectSystem=strickt")
    result = _verify(_unit_root(tmp_path, text))
    assert "Failed to parse protect system value, ignoring: strickt" in result.stderr


def test_the_systemd_unit_is_hardened(tmp_path: Path) -> None:
    service = systemd_unit()["Service"]
    assert service["DynamicUser"] == "yes"
    assert service["StateDirectory"] == "ops"
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes"
    assert service["Restart"] == "on-failure"
    state = service["Environment"].partition("=")[2]
    assert state.startswith(f"/var/lib/{service['StateDirectory']}/")  # writable under strict
    result = subprocess.run(
        [
            require_binary("systemd-analyze"),
            "security",
            "--offline=true",
            f"--root={_unit_root(tmp_path, SYSTEMD_UNIT.read_text())}",
            SYSTEMD_UNIT.name,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert f"Overall exposure level for {SYSTEMD_UNIT.name}: " in result.stdout
    level = result.stdout.rsplit(": ", 1)[1].split()
    assert float(level[0]) < 2.0 and level[1] == "OK", result.stdout[-200:]


def test_the_environment_table_lists_every_variable_the_deploy_files_set() -> None:
    table = readme_section("Environment")
    names = {n for c in containers() for n in c.env_names} | set(env_file_names(SYSTEMD_ENV))
    assert [n for n in sorted(names) if f"`{n}`" not in table] == []


def example_env() -> dict[str, str]:
    lines = (ROOT / "deploy" / "systemd" / "ops-serve.env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_the_examples_placeholder_webhook_token_is_refused(
    runner: CliRunner, tmp_path: Path
) -> None:
    """Left in place, the example's token is one everyone who read the examples knows."""
    token = example_env()["OPS_WEBHOOK_TOKEN"]
    result = runner.invoke(
        main,
        # A config that is not there: the token is refused before it is read (without the
        # check, the server would have started).
        ["serve", "--state", str(tmp_path / "s.db"), "--config", str(tmp_path / "none.yaml")],
        env={"OPS_WEBHOOK_TOKEN": token},
    )
    assert (result.exit_code, result.output) == (
        1,
        "Error: OPS_WEBHOOK_TOKEN still holds the placeholder 'change-me' from deploy/'s "
        "examples: set the real value\n",
    )


def test_the_examples_placeholder_signing_secret_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With it, anyone could sign /ops commands and button presses."""
    from ops_toolkit.errors import ConfigError
    from ops_toolkit.serve.oncall import Oncall
    from ops_toolkit.serve.store import Store

    monkeypatch.setenv("SLACK_SIGNING_SECRET", example_env()["SLACK_SIGNING_SECRET"])
    oncall = Oncall(
        parse_config("", "ops.yaml"),
        parse_oncall((ROOT / "alerts" / "oncall.yaml").read_text(), "oncall.yaml"),
        Store(str(tmp_path / "s.db")),
        lookup_user=lambda email: None,
        wake_delivery=lambda: None,
        diagnose=None,
        runbook_paths={},
    )
    with pytest.raises(ConfigError) as caught:
        oncall.slack_routes()
    assert str(caught.value) == (
        "SLACK_SIGNING_SECRET still holds the placeholder 'change-me' from deploy/'s examples: "
        "set the real value"
    )
