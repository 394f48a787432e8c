"""Unattended diagnose runs leave a bounded number of run records behind."""

from __future__ import annotations

import os
from pathlib import Path

from ops_toolkit.alerts.webhook import parse_notification
from ops_toolkit.runbook.execute import no_metrics
from ops_toolkit.serve.diagnose import Diagnoser, prune_runs, skipped_message
from ops_toolkit.serve.store import Store
from tests.alerts.payloads import alert, notification
from tests.integration.serving import eventually

ECHO_RUNBOOK = """---
title: Echoes its pod
owner: team-test
alerts: [EchoAlert]
params:
  POD: {default: none, pattern: "^[a-z0-9-]+$", from_label: pod}
---
# Echoes its pod

```sh {"name":"echo","tag":"diagnose"}
echo "pod $POD"
```
"""


def records(runs: Path, *names: str, start: float = 1_780_000_000.0) -> None:
    """Run records named ``names``, each a minute newer than the one before."""
    runs.mkdir(parents=True, exist_ok=True)
    for minute, name in enumerate(names):
        path = runs / f"{name}.json"
        path.write_text("{}")
        os.utime(path, (start + 60 * minute, start + 60 * minute))


def test_only_the_newest_run_records_are_kept_with_their_journals(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    records(runs, "r1", "r2", "r3", "r4", "r5")
    (runs / "r1.jsonl").write_text("")  # a journal left by a run that broke
    (runs / "r5.jsonl").write_text("")  # the newest run, still going
    (runs / ".tmp-x.json").write_text("")  # a snapshot being written
    assert prune_runs(str(tmp_path), keep=2) == 3
    assert sorted(p.name for p in runs.iterdir()) == [
        ".tmp-x.json",
        "r4.json",
        "r5.json",
        "r5.jsonl",
    ]
    assert prune_runs(str(tmp_path), keep=2) == 0


def test_pruning_a_state_folder_without_runs_removes_nothing(tmp_path: Path) -> None:
    assert prune_runs(str(tmp_path / "missing"), keep=1) == 0


def test_each_unattended_run_prunes_the_records_over_the_number_kept(tmp_path: Path) -> None:
    """Was: every run's record kept for good (an alert storm filled the disk)."""
    runbook = tmp_path / "echo.md"
    runbook.write_text(ECHO_RUNBOOK)
    store = Store(str(tmp_path / "state.db"))
    state = tmp_path / "state.db.runs"
    replied: list[None] = []
    diagnoser = Diagnoser(
        store,
        str(state),
        {"EchoAlert": str(runbook)},
        no_metrics,
        lambda: replied.append(None),
        keep_runs=1,
    )
    try:
        for count, pod in enumerate(("p1", "p2", "p3"), start=1):
            body = notification(alert("EchoAlert", fingerprint=pod, pod=pod), group_key=pod)
            diagnoser.submit(parse_notification(body), ["#c"])
            eventually(lambda: len(replied) == count)  # noqa: B023 (called at once)
        texts = [e.message["text"] for e in store.entries()]
        assert len(texts) == 3 and all("ran unattended" in t for t in texts)
        assert len(list((state / "runs").glob("*.json"))) == 1
    finally:
        diagnoser.stop()
        store.close()


def test_a_run_not_run_says_why_inertly() -> None:
    message = skipped_message("a`b", "ops serve stopped")
    assert message["text"] == ":mag: Diagnose steps of `aˋb` not run: ops serve stopped"
    assert message["blocks"] == [
        {"type": "section", "text": {"type": "mrkdwn", "text": message["text"]}}
    ]
