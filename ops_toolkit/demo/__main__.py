"""``python -m ops_toolkit.demo`` (``make demo``): the whole job on the worked example.

Starts a real Prometheus on a loopback port loaded with 30 days of the document-search
service's metrics (two incidents, one still burning), then runs ``ops`` as a user would.
Everything lives under ``.ops-demo/``; the Prometheus started here is stopped at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import time

from ops_toolkit.demo.prometheus import start_prometheus
from ops_toolkit.demo.search_api import SearchApiStandIn
from ops_toolkit.demo.servers import (
    AlertmanagerServer,
    free_port,
    graph_link,
    wait_ready,
)

WORKDIR = ".ops-demo"


def banner(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def ops(*args: str, ok: tuple[int, ...] = (0,)) -> None:
    """Run ``ops`` as a user would, showing the command first."""
    print(f"\n$ ops {shlex.join(args)}", flush=True)
    result = subprocess.run([sys.executable, "-m", "ops_toolkit", *args], check=False)
    if result.returncode not in ok:
        raise SystemExit(f"demo: 'ops {shlex.join(args)}' exited {result.returncode}")


def wait_for_lines(path: str, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                if sum(1 for _ in handle) >= count:
                    return
        time.sleep(0.1)
    raise SystemExit(f"demo: {path} did not get {count} message(s) in {timeout:g}s")


def wait_for_text(path: str, needle: str, timeout: float = 60.0) -> None:
    """Until a message containing ``needle`` is in the console notifier's file."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                if needle in handle.read():
                    return
        time.sleep(0.1)
    raise SystemExit(f"demo: no message with {needle!r} in {path} after {timeout:g}s")


DEMO_WAIT = "8s"  # the worked example's 10 minutes between tiers, shortened for the demo


def demo_oncall() -> str:
    """alerts/oncall.yaml with seconds instead of minutes between tiers."""
    path = f"{WORKDIR}/oncall.yaml"
    with open("alerts/oncall.yaml", encoding="utf-8") as source:
        text = source.read().replace("wait: 10m", f"wait: {DEMO_WAIT}")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def acknowledge(port: int, secret: str, ref: str, user: str) -> int:
    """Press Acknowledge as Slack would: a signed block_actions interaction."""
    import urllib.parse
    import urllib.request

    from ops_toolkit.escalate.interact import sign

    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user},
        "actions": [{"action_id": "ack", "value": ref, "action_ts": f"{time.time():.6f}"}],
    }
    body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/slack/interactions",
        data=body,
        headers=sign(secret, body, int(time.time())),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def who_is_on_call(schedule: str) -> str:
    from datetime import UTC, datetime

    from ops_toolkit.escalate.oncall import load_oncall

    return (
        load_oncall(f"{WORKDIR}/oncall.yaml").schedule(schedule).who(datetime.now(UTC))
        or "U0SEARCH01"
    )


def alert_labels(search_api_url: str) -> dict[str, str]:
    """The labels of the alert the demo fires: the SLO's, and where the service runs.

    ``search_api_url``: the stand-in the demo started (on a free port, never a fixed one);
    the runbooks take ``SEARCH_API_URL`` from this label (``from_label: search_api_url``),
    so ``ops serve``'s unattended ``health-endpoint`` step asks the stand-in, not the
    default ``:8080`` where nothing listens.
    """
    return {
        "alertname": "SearchAvailabilityBudgetBurn",
        "service": "search",
        "slo": "availability",
        "severity": "page",
        "team": "search",
        "component": "search-api",
        # Where the service runs: the runbook's cluster (kubectl) steps run only on
        # 'kubernetes', so the demo's unattended diagnosis touches nothing off loopback.
        "deploy": "local",
        "search_api_url": search_api_url,
    }


def demo_config(prometheus_url: str, search_api_url: str, messages: str, oncall: str) -> str:
    """The demo's ops.yaml. Relative paths in it are taken from its folder, .ops-demo/.

    The alert's ``search_api_url`` label chooses the URL the unattended ``health-endpoint``
    step fetches, so the stand-in's address is the one URL labels may give
    (``serve.diagnose_allowed_urls``): any other would stop the diagnosis.
    """
    return (
        f"serve:\n  state: state.db\n  messages: {os.path.basename(messages)}\n"
        "  pace_seconds: 0.2\n"
        f"  diagnose_allowed_urls: [{search_api_url}]\n"
        f"routes: ../alerts/routes.yaml\nrunbooks: ../runbooks\nslos: [../slos]\n"
        f"runbook_base_url: https://git.example.com/search/ops/-/blob/main\n"
        f"prometheus: {prometheus_url}\nauto_diagnose: true\n"
        f"oncall: {oncall}\n"
    )


def escalate(prometheus_url: str, search_api_url: str) -> None:
    """Alertmanager -> ops serve -> the console notifier, with the runbook and the budget."""
    banner("Escalation: a real Alertmanager sends the alert to 'ops serve' (console notifier)")
    token = secrets.token_hex(16)
    port = free_port()
    messages = f"{WORKDIR}/messages.jsonl"
    oncall = os.path.basename(demo_oncall())
    with open(f"{WORKDIR}/ops.yaml", "w", encoding="utf-8") as handle:
        handle.write(demo_config(prometheus_url, search_api_url, messages, oncall))
    signing_secret = secrets.token_hex(16)
    env = {**os.environ, "OPS_WEBHOOK_TOKEN": token, "SLACK_SIGNING_SECRET": signing_secret}
    env.pop("SLACK_BOT_TOKEN", None)
    print(
        f"$ OPS_WEBHOOK_TOKEN=... ops serve --config {WORKDIR}/ops.yaml --listen 127.0.0.1:{port}",
        flush=True,
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ops_toolkit",
            "serve",
            "--config",
            f"{WORKDIR}/ops.yaml",
            "--listen",
            f"127.0.0.1:{port}",
        ],
        env=env,
    )
    manager = None
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz", server, 30, "/dev/null")
        manager = AlertmanagerServer(
            f"{WORKDIR}/alertmanager", f"http://127.0.0.1:{port}/alertmanager", token
        ).start()
        labels = alert_labels(search_api_url)
        annotations = {
            "summary": "search/availability is burning its error budget fast",
            "description": "5xx answers at 3% for the last hour (26x the sustainable rate).",
        }
        print(f"Alertmanager {manager.url}: firing SearchAvailabilityBudgetBurn", flush=True)
        manager.fire(
            labels, annotations, generator_url=graph_link(prometheus_url, labels["alertname"])
        )
        wait_for_text(messages, "ran unattended")  # the escalation, then its diagnose results
        wait_for_text(messages, "tier 1 of 3")
        banner(
            f"Nobody acknowledges: tier 2 follows {DEMO_WAIT} later (10 minutes in alerts/oncall.yaml)"
        )
        wait_for_text(messages, "tier 2 of 3", timeout=60)
        ops("escalation", "list", "--config", f"{WORKDIR}/ops.yaml")
        listed = subprocess.run(
            [
                sys.executable,
                "-m",
                "ops_toolkit",
                "escalation",
                "list",
                "--json",
                "--config",
                f"{WORKDIR}/ops.yaml",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        ref = json.loads(listed.stdout)[0]["ref"]
        user = who_is_on_call("search-secondary")
        banner(f"{user} presses Acknowledge in Slack: a signed interaction reaches ops serve")
        status = acknowledge(port, signing_secret, ref, user)
        print(f"POST /slack/interactions (signed; ack escalation {ref}): HTTP {status}", flush=True)
        wait_for_text(messages, f"Acknowledged by <@{user}>")
        ops("escalation", "list", "--config", f"{WORKDIR}/ops.yaml")
        print("Alertmanager: the alert is resolved", flush=True)
        manager.fire(labels, annotations, resolved=True)
        wait_for_text(messages, "Resolved at")
        time.sleep(0.5)
    finally:
        if manager is not None:
            manager.stop()
        server.terminate()
        server.wait(15)
    ops("outbox", "list", "--state", f"{WORKDIR}/state.db")
    print(f"(every message is also in {messages}; set SLACK_BOT_TOKEN to post to Slack)")


def rollout() -> None:
    """The worked example's staged rollout: status, one advance (pilot), blocked next stage."""
    banner("Staged rollout: open search stage by stage, each advance gated on SLO evidence")
    os.makedirs(f"{WORKDIR}/rollouts", exist_ok=True)
    plan = f"{WORKDIR}/rollouts/search.yaml"
    shutil.copyfile("rollouts/search.yaml", plan)  # its history is written beside this copy
    # The stage runbook writes the local stub's access file; cluster steps stay skipped.
    os.environ["ACCESS_FILE"] = f"{WORKDIR}/search-access.conf"
    config = ("--config", f"{WORKDIR}/ops.yaml")
    ops("rollout", "status", plan, *config, ok=(0, 3))
    ops("rollout", "advance", plan, *config, "--non-interactive")
    print(f"\n$ cat {WORKDIR}/search-access.conf", flush=True)
    with open(f"{WORKDIR}/search-access.conf", encoding="utf-8") as handle:
        print(handle.read(), end="")
    ops("rollout", "status", plan, *config, ok=(0, 3))
    ops("rollout", "report", plan, *config)


def main() -> None:
    os.environ.setdefault("COLUMNS", "120")
    banner("Runbooks: list, lint, show")
    ops("runbook", "list")
    ops("runbook", "lint", "--strict", "runbooks/")
    ops("runbook", "show", "search-errors")

    banner("A local Prometheus with the worked example's last 30 days")
    server = start_prometheus(WORKDIR)
    search_api = SearchApiStandIn().start()
    os.environ["OPS_PROMETHEUS_URL"] = server.url
    os.environ["OPS_STATE_DIR"] = f"{WORKDIR}/state"
    # the runbooks' params, from the environment as a person would set them
    os.environ["SEARCH_API_URL"] = search_api.url
    os.environ["DEPLOY"] = "local"
    try:
        banner("SLOs: validate, then the error-budget report from Prometheus")
        ops("slo", "validate")
        ops("slo", "report")
        ops("slo", "gate", "search/answer-accuracy", "--min-remaining", "0.25", ok=(0, 3))
        banner("Alerting rules from the SLOs, checked by promtool")
        ops(
            "slo",
            "rules",
            "--dir",
            f"{WORKDIR}/alerts",
            "--tests",
            "--runbook-base-url",
            "https://git.example.com/search/ops/-/blob/main",
        )
        for command in (
            ["check", "rules", f"{WORKDIR}/alerts/search.rules.yaml"],
            ["test", "rules", f"{WORKDIR}/alerts/search.rules.test.yaml"],
        ):
            print(f"\n$ promtool {shlex.join(command)}", flush=True)
            subprocess.run(["promtool", *command], check=True)
        banner("An alert fired: run the runbook's diagnose steps, unattended")
        print(
            f"(the search service's health endpoint is a stand-in at {search_api.url}; "
            "DEPLOY=local skips the cluster steps, which run where DEPLOY=kubernetes)"
        )
        report = f"{WORKDIR}/search-errors-run.md"
        ops(
            "runbook",
            "run",
            "search-errors",
            "--tag",
            "diagnose",
            "--non-interactive",
            "--report",
            report,
            ok=(0, 1),
        )
        banner(f"The run report ({report}), ready to paste into the incident")
        with open(report, encoding="utf-8") as handle:
            print(handle.read())
        ops("runbook", "runs")
        escalate(server.url, search_api.url)
        banner("The weekly budget report: to chat (console notifier), as a chart and an HTML page")
        ops(
            "slo",
            "report",
            "--config",
            f"{WORKDIR}/ops.yaml",
            "--post",
            "#search-alerts",
            "--console",
            "--chart",
            f"{WORKDIR}/burndown.png",
            "--format",
            "markdown",
        )
        with open(f"{WORKDIR}/report.html", "w", encoding="utf-8") as handle:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "ops_toolkit",
                    "slo",
                    "report",
                    "--config",
                    f"{WORKDIR}/ops.yaml",
                    "--format",
                    "html",
                ],
                stdout=handle,
                check=True,
            )
        print(f"chart: {WORKDIR}/burndown.png, page: {WORKDIR}/report.html (self-contained)")
        rollout()
    finally:
        search_api.stop()
        server.stop()


if __name__ == "__main__":
    main()
