"""What ``ops`` shows a person: a run's log, why an outbox entry was not re-queued, step
attributes in ``runbook show``, the environment of a dry run once."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.runbook.state import RunRecord, StateStore, StepRecord
from ops_toolkit.serve.store import Planned, Store

FENCE = "```"
T0 = 1796000000.0  # 2026-11-30T00:53:20Z


def _pinned_run(state: Path) -> str:
    record = RunRecord(
        run_id="20261130T005320Z-abc123",
        runbook="runbooks/restart.md",
        runbook_sha256="0" * 64,
        user="alice",
        host="laptop",
        started_at=T0,
        params={"SERVICE": "search-api"},
        plan=["drain", "restart", "verify"],
        status="failed",
        finished_at=T0 + 75,
        steps={
            "drain": StepRecord(
                "drain", "succeeded", 0, 1.5, "draining search-api\ndone\n", 1, "", T0, T0 + 2
            ),
            "restart": StepRecord(
                "restart", "failed", 1, 70.25, "token=***\nno route\n", 2, "exit code 1",
                T0 + 3, T0 + 74,
            ),
            "verify": StepRecord("verify", "pending"),
        },
    )  # fmt: skip
    StateStore(str(state)).save(record)
    return record.run_id


def test_a_run_shows_each_steps_output_between_its_start_and_end(
    tmp_path: Path, runner: CliRunner
) -> None:
    run_id = _pinned_run(tmp_path)
    result = runner.invoke(main, ["runbook", "runs", run_id, "--state-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Run 20261130T005320Z-abc123: failed\n"
        "runbook runbooks/restart.md, by alice, started 2026-11-30T00:53:20Z\n"
        "\n"
        "[2026-11-30T00:53:20Z] drain: started\n"
        "  draining search-api\n"
        "  done\n"
        "[2026-11-30T00:53:22Z] drain: succeeded, exit 0, 1.50s\n"
        "\n"
        "[2026-11-30T00:53:23Z] restart: started\n"
        "  token=***\n"
        "  no route\n"
        "[2026-11-30T00:54:34Z] restart: failed, exit 1, 70.25s, 2 attempts, exit code 1\n"
        "\n"
        "[not started]          verify: skipped: not reached\n"
        "\n"
        "[2026-11-30T00:54:35Z] run failed\n"
    )
    as_json = json.loads(
        runner.invoke(
            main, ["runbook", "runs", run_id, "--state-dir", str(tmp_path), "--json"]
        ).stdout
    )
    assert [(s["started_at"], s["finished_at"]) for s in as_json["steps"]] == [
        ("2026-11-30T00:53:20Z", "2026-11-30T00:53:22Z"),
        ("2026-11-30T00:53:23Z", "2026-11-30T00:54:34Z"),
        (None, None),
    ]


def test_a_real_runs_log_is_masked(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "rb.md"
    path.write_text(
        f"---\ntitle: t\nsecrets: [API_TOKEN]\n---\n"
        f'{FENCE}sh {{"name":"leak"}}\necho "token is $API_TOKEN"\n{FENCE}\n',
        encoding="utf-8",
    )
    state = str(tmp_path / "state")
    env = {"API_TOKEN": "s3cret-value"}
    ran = runner.invoke(
        main, ["runbook", "run", str(path), "--state-dir", state, "--json"], env=env
    )
    assert ran.exit_code == 0, ran.output
    document = json.loads(ran.stdout)
    shown = runner.invoke(main, ["runbook", "runs", document["run_id"], "--state-dir", state])
    (step,) = document["steps"]
    assert (
        f"[{step['started_at']}] leak: started\n  token is ***\n[{step['finished_at']}] leak: "
        "succeeded, exit 0, "
    ) in shown.stdout
    assert "s3cret-value" not in shown.stdout


def _store_with_a_sent_a_pending_and_a_dead_entry(path: str) -> Store:
    store = Store(path)
    (inbox_id,) = store.accept([("{}", 1)], T0)
    planned = [Planned("g", f"#c{n}", "post", {"text": str(n)}) for n in range(3)]
    store.process(inbox_id, ["k"], planned, T0)
    first, _, third = sorted(store.entries(), key=lambda e: e.id)
    store.mark_sent(first, "1796000000.000100", "C0")
    store.kill(third.id, "Slack chat_postMessage: HTTP 500")
    return store


def test_retrying_an_entry_that_is_not_dead_says_why_nothing_was_requeued(
    tmp_path: Path, runner: CliRunner
) -> None:
    path = str(tmp_path / "state.db")
    store = _store_with_a_sent_a_pending_and_a_dead_entry(path)
    result = runner.invoke(main, ["outbox", "retry", "1", "2", "3", "99", "--state", path])
    assert result.exit_code == 1
    assert result.stdout == "re-queued 1 entry\n"
    assert result.stderr == (
        "entry 1: already sent to #c0; nothing to re-queue\n"
        "entry 2: pending, not dead: it is still being delivered; nothing to re-queue\n"
        "entry 99: no such entry (ops outbox list shows the ids)\n"
    )
    assert {e.id: e.status for e in store.entries()} == {1: "sent", 2: "pending", 3: "pending"}
    dead_only = runner.invoke(main, ["outbox", "retry", "--all", "--state", path])
    assert (dead_only.exit_code, dead_only.output) == (0, "re-queued 0 entries\n")


def test_show_prints_step_attributes_as_key_colon_value(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "rb.md"
    path.write_text(
        "---\ntitle: t\n---\n"
        f'{FENCE}promql {{"name":"one-up","tag":"diagnose","expect":"== 1 or empty"}}\n'
        f"count(up)\n{FENCE}\n",
        encoding="utf-8",
    )
    result = runner.invoke(main, ["runbook", "show", str(path)], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    assert "1. one-up [promql]  tag: diagnose  expect: == 1 or empty  line 4\n" in result.stdout
    assert "expect=" not in result.stdout


def test_a_dry_run_shows_the_environment_once_and_each_script(
    tmp_path: Path, runner: CliRunner
) -> None:
    path = tmp_path / "rb.md"
    path.write_text(
        "---\ntitle: t\nparams:\n  WHO: {default: you}\nsecrets: [API_TOKEN]\n---\n"
        f'{FENCE}sh {{"name":"count","capture":"BEFORE"}}\necho 3\n{FENCE}\n'
        f'{FENCE}sh {{"name":"greet"}}\necho "hi $WHO"\necho "$BEFORE"\n{FENCE}\n'
        f'{FENCE}promql {{"name":"q"}}\nup{{who="$WHO"}}\n{FENCE}\n',
        encoding="utf-8",
    )
    env = {"API_TOKEN": "s3cret-value"}
    result = runner.invoke(main, ["runbook", "run", str(path), "--dry-run"], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"Dry run of {path}: nothing runs.\n"
        "Params and secrets every step gets (secrets masked):\n"
        "   WHO=you\n"
        "   API_TOKEN=***\n"
        "1. count [sh] would run\n"
        "   run with sh -e -c <script> in .\n"
        "   | echo 3\n"
        "2. greet [sh] would run\n"
        "   run with sh -e -c <script> in .\n"
        "   + BEFORE=<output of count>\n"
        '   | echo "hi $WHO"\n'
        '   | echo "$BEFORE"\n'
        "3. q [promql] would run\n"
        '   query Prometheus: up{who="you"}\n'
    )


def test_a_path_that_does_not_exist_is_file_not_found(runner: CliRunner) -> None:
    """Before: "no runbook '/tmp/nope.md' (looked in runbooks/); known: ..."."""
    result = runner.invoke(main, ["runbook", "show", "/tmp/ops-test-nope/nope.md"])
    assert (result.exit_code, result.output) == (
        1,
        "Error: /tmp/ops-test-nope/nope.md: file not found\n",
    )


def test_an_unknown_tag_lists_the_tags_that_exist(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "rb.md"
    path.write_text(
        "---\ntitle: t\n---\n"
        f'{FENCE}sh {{"name":"a","tag":"diagnose"}}\ntrue\n{FENCE}\n'
        f'{FENCE}sh {{"name":"b","tag":"verify,diagnose"}}\ntrue\n{FENCE}\n',
        encoding="utf-8",
    )
    result = runner.invoke(main, ["runbook", "run", str(path), "--tag", "diagnos", "--dry-run"])
    assert (result.exit_code, result.output) == (
        1,
        f"Error: {path}: no step has tag 'diagnos' (did you mean 'diagnose'?); its tags: "
        "diagnose, verify\n",
    )
    two = runner.invoke(
        main, ["runbook", "run", str(path), "--tag", "x", "--tag", "y", "--dry-run"]
    )
    assert two.output == f"Error: {path}: no step has tag 'x' or 'y'; its tags: diagnose, verify\n"


def test_an_unwritable_chart_is_refused_before_any_query(tmp_path: Path, runner: CliRunner) -> None:
    chart = tmp_path / "missing" / "burndown.png"
    # a Prometheus that would hang or refuse is never asked: the path is checked first
    result = runner.invoke(
        main, ["slo", "report", "--prometheus", "http://127.0.0.1:9", "--chart", str(chart)]
    )
    assert (result.exit_code, result.output) == (
        1,
        f"Error: --chart {chart}: no such folder {chart.parent}\n",
    )


def test_serve_on_a_busy_port_says_one_clear_line(tmp_path: Path, runner: CliRunner) -> None:
    """Before: "listening on ..." was printed, then uvicorn's own error."""
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        state = tmp_path / "state.db"
        result = runner.invoke(
            main,
            ["serve", "--listen", f"127.0.0.1:{port}", "--insecure-no-auth", "--state", str(state)],
        )
    assert (result.exit_code, result.output) == (
        1,
        f"Error: 127.0.0.1:{port}: cannot listen: Address already in use (choose another "
        "address with --listen or serve.listen in ops.yaml)\n",
    )
    assert not state.exists()


def test_timeout_is_one_deadline_for_the_whole_gate(runner: CliRunner) -> None:
    """Before: a hanging Prometheus held 'ops slo gate --timeout 2' for 18 s here: each
    query, then each fallback query, waited its own 2 s. Now the queries share one deadline:
    none is sent once it has passed, so the hanging server sees only the first wave."""
    import socket
    import threading

    held: list[socket.socket] = []
    with socket.socket() as hanging:
        hanging.bind(("127.0.0.1", 0))
        hanging.listen(64)
        port = hanging.getsockname()[1]

        def accept_and_never_answer() -> None:
            while True:
                try:
                    held.append(hanging.accept()[0])
                except OSError:
                    return

        threading.Thread(target=accept_and_never_answer, daemon=True).start()
        url = f"http://127.0.0.1:{port}"
        args = ["slo", "gate", "search/availability", "--prometheus", url, "--timeout", "1"]
        result = runner.invoke(main, args)
    for connection in held:
        connection.close()
    assert result.exit_code == 1
    assert result.output == (
        "search/availability: cannot tell: search/availability: query "
        '\'sum(increase(http_requests_total{service="search-api",code=~"5.."}[30d]))\' failed: '
        f"Prometheus at {url} did not answer within 1s (--timeout bounds the whole command)\n"
        "search/availability: source: queries: could not ask Prometheus which recorded series "
        f"exist: Prometheus at {url} did not answer within 1s (--timeout bounds the whole "
        "command)\n"
    )
    # only the first question, which recorded series exist, was sent: it used the whole
    # deadline (32 queries with the fallbacks, before the one deadline)
    assert len(held) == 1
