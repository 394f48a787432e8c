"""``ops outbox list|retry`` over a real store."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.notify.model import Planned
from ops_toolkit.serve.store import Store


def test_list_and_retry_dead_entries(tmp_path: Path, runner: CliRunner) -> None:
    path = str(tmp_path / "state.db")
    store = Store(path)
    (inbox_id,) = store.accept([("{}", 1)], 1000.0)
    store.process(inbox_id, ["k"], [Planned("g", "#alerts", "post", {"text": "hello"})], 1000.0)
    (entry,) = store.entries()
    store.kill(entry.id, "Slack chat_postMessage: HTTP 500")
    listed = runner.invoke(main, ["outbox", "list", "--state", path, "--status", "dead", "--json"])
    assert listed.exit_code == 0
    (row,) = json.loads(listed.stdout)
    assert (row["status"], row["channel"], row["last_error"]) == (
        "dead",
        "#alerts",
        "Slack chat_postMessage: HTTP 500",
    )
    retried = runner.invoke(main, ["outbox", "retry", "--all", "--state", path])
    assert retried.output == "re-queued 1 entry\n"
    assert [e.status for e in store.entries()] == ["pending"]
    assert runner.invoke(main, ["outbox", "retry", "--state", path]).exit_code == 2


def test_listing_a_store_that_does_not_exist_creates_nothing(
    tmp_path: Path, runner: CliRunner
) -> None:
    path = tmp_path / "missing.db"
    result = runner.invoke(main, ["outbox", "list", "--state", str(path)])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {path}: no such store; pass the one 'ops serve' uses (--state, OPS_STATE, or "
        "serve.state in ops.yaml)\n"
    )
    assert not path.exists()


def test_dead_payloads_are_listed_and_can_be_processed_again(
    tmp_path: Path, runner: CliRunner
) -> None:
    path = str(tmp_path / "state.db")
    store = Store(path)
    first, second = store.accept([("{}", 1), ("{}", 1)], 1000.0)
    store.kill_inbox(first, "3 attempts failed: KeyError: 'poison'")
    listed = runner.invoke(main, ["outbox", "list", "--inbox", "--state", path])
    assert listed.stdout == (
        "Webhook payloads given up on\n"
        "┏━━━━┳━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓\n"
        "┃ id ┃ received (UTC)      ┃ reason                                ┃\n"
        "┡━━━━╇━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┩\n"
        "│  1 │ 1970-01-01 00:16:40 │ 3 attempts failed: KeyError: 'poison' │\n"
        "└────┴─────────────────────┴───────────────────────────────────────┘\n"
    )
    as_json = runner.invoke(main, ["outbox", "list", "--inbox", "--state", path, "--json"])
    assert json.loads(as_json.stdout) == [
        {
            "id": 1,
            "received_at": "1970-01-01T00:16:40Z",
            "reason": "3 attempts failed: KeyError: 'poison'",
        }
    ]
    retried = runner.invoke(main, ["outbox", "retry", "--inbox", str(first), "--state", path])
    assert retried.output == "re-queued 1 payload\n"
    assert [e.id for e in store.unprocessed()] == [first, second]
    assert store.dead_inbox() == []


def test_a_file_that_is_not_a_store_is_a_clear_error(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "state.db"
    path.write_text("not a database, just some text that is long enough\n" * 20)
    result = runner.invoke(main, ["outbox", "list", "--state", str(path)])
    assert (result.exit_code, result.output) == (
        1,
        f"Error: {path}: cannot open the store: file is not a database (check --state, "
        "OPS_STATE, or serve.state in ops.yaml)\n",
    )


def test_a_command_under_another_writers_lock_says_the_store_is_busy(
    tmp_path: Path, runner: CliRunner
) -> None:
    """ops.yaml's store.busy_timeout holds for the CLI too: past it, one line (not a
    traceback after the default 30 s)."""
    import sqlite3

    path = tmp_path / "state.db"
    Store(str(path)).close()
    config = tmp_path / "ops.yaml"
    config.write_text(f"serve: {{state: {path}}}\nstore: {{busy_timeout: 200ms}}\n")
    locker = sqlite3.connect(path, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        result = runner.invoke(main, ["outbox", "retry", "--all", "--config", str(config)])
    finally:
        locker.close()
    assert (result.exit_code, result.output) == (
        1,
        f"Error: {path}: busy: another connection held the write lock past "
        "store.busy_timeout (0.2s)\n",
    )
