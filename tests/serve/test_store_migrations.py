"""Versioned schema migrations on both backends: a newer ops upgrades an older store in place
and keeps its data; an older ops refuses a newer store with one clear line."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.demo.servers import free_port
from ops_toolkit.errors import StoreError
from ops_toolkit.notify.model import Planned
from ops_toolkit.serve.store import LATEST, Store, migrate, schema_version
from ops_toolkit.serve.store.backends import open_database
from ops_toolkit.urls import redact_url
from tests.serve.test_store_contract import race

NOW = 1_800_000_000.0

# The schema as ops wrote it before migrations were versioned (and before the inbox had its
# retry columns): a store of that release has these tables and no schema_version.
FIRST_RELEASE = """
CREATE TABLE inbox (id INTEGER PRIMARY KEY, received_at REAL NOT NULL, body TEXT NOT NULL,
    processed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE events (key TEXT PRIMARY KEY, seen_at REAL NOT NULL);
CREATE TABLE outbox (id INTEGER PRIMARY KEY, created_at REAL NOT NULL, group_key TEXT NOT NULL,
    channel TEXT NOT NULL, action TEXT NOT NULL, message TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL, last_error TEXT, ts TEXT, claimed_by TEXT, claimed_at REAL);
CREATE TABLE threads (group_key TEXT NOT NULL, channel TEXT NOT NULL, channel_id TEXT, ts TEXT,
    PRIMARY KEY (group_key, channel));
INSERT INTO inbox (received_at, body) VALUES (1799999000.0, '{"version": "4"}');
INSERT INTO outbox (created_at, group_key, channel, action, message, next_attempt_at)
    VALUES (1799999000.0, 'g1', '#alerts', 'post', '{"text": "kept"}', 1799999000.0);
"""


def test_a_store_one_version_behind_is_upgraded_in_place_with_its_data(state: str) -> None:
    database = open_database(state)
    assert migrate(database, target=LATEST - 1, now=NOW) == 0
    assert schema_version(database) == LATEST - 1
    with database.transaction() as tx:
        tx.execute("INSERT INTO inbox (received_at, body) VALUES (?, ?)", (NOW, "{}"))
        tx.execute(
            "INSERT INTO outbox (created_at, group_key, channel, action, message, "
            "next_attempt_at) VALUES (?, 'g1', '#alerts', 'post', '{\"text\": \"kept\"}', ?)",
            (NOW, NOW),
        )
    database.close()

    store = Store(state)
    assert schema_version(store.database) == LATEST
    assert [e.body for e in store.unprocessed()] == ["{}"]
    (entry,) = store.due(NOW)
    assert (entry.group_key, entry.message) == ("g1", {"text": "kept"})
    versions = store.execute("SELECT version, description FROM schema_version ORDER BY 1").rows
    assert [v for v, _ in versions] == list(range(1, LATEST + 1))


def test_a_store_from_before_versioning_is_upgraded_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        old.executescript(FIRST_RELEASE)
    store = Store(str(path))
    assert schema_version(store.database) == LATEST
    (payload,) = store.unprocessed()
    assert (payload.body, payload.attempts) == ('{"version": "4"}', 0)
    store.retry_inbox(payload.id, NOW + 5, "boom")  # the columns added since the first release
    (entry,) = store.due(NOW)
    assert entry.message == {"text": "kept"}
    assert Store(str(path)).inbox_depth() == 1  # opening again changes nothing


def stamp_newer(state: str) -> None:
    store = Store(state)
    store.execute(
        "INSERT INTO schema_version (version, applied_at, description) VALUES (?, ?, ?)",
        (LATEST + 1, NOW, "from a newer ops"),
    )
    store.enqueue([Planned("g1", "#alerts", "post", {"text": "x"})], NOW)
    store.close()


def newer_message(shown: str) -> str:
    return (
        f"{shown}: the store's schema is version {LATEST + 1}, newer than this ops knows "
        f"(version {LATEST}): a newer ops has upgraded it. Run that newer ops here too (every "
        "replica the same release); an older one cannot use it"
    )


def test_an_older_ops_refuses_a_newer_store_and_changes_nothing(state: str) -> None:
    stamp_newer(state)
    with pytest.raises(StoreError) as caught:
        Store(state)
    assert str(caught.value) == newer_message(redact_url(state))
    assert schema_version(open_database(state)) == LATEST + 1


def test_the_cli_says_so_in_one_line_and_exits_1(state: str, runner: CliRunner) -> None:
    stamp_newer(state)
    result = runner.invoke(main, ["outbox", "list"], env={"OPS_STATE": state})
    assert result.exit_code == 1
    assert result.output == f"Error: {newer_message(redact_url(state))}\n"
    assert "hunter" not in result.output and "ops-test-secret" not in result.output


def test_ops_serve_refuses_a_newer_store_without_a_traceback(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    stamp_newer(path)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ops_toolkit",
            "serve",
            "--state",
            path,
            "--insecure-no-auth",
            "--listen",
            f"127.0.0.1:{free_port()}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == f"Error: {newer_message(path)}"
    assert "Traceback" not in result.stderr


def test_replicas_starting_together_migrate_an_empty_database_once(postgres_database: str) -> None:
    stores = race(lambda _: Store(postgres_database), [None, None, None])  # type: ignore[list-item]
    versions = stores[0].execute("SELECT version FROM schema_version ORDER BY 1").rows
    assert versions == [(v,) for v in range(1, LATEST + 1)]
    for store in stores:
        store.close()


def test_the_cli_names_a_bad_state_url_without_its_password(
    runner: CliRunner, postgres_server: object
) -> None:
    unknown = runner.invoke(
        main, ["outbox", "list"], env={"OPS_STATE": "mysql://ops:hunter22@db/ops"}
    )
    assert (unknown.exit_code, unknown.output) == (
        1,
        "Error: mysql://ops:***@db/ops: unknown store 'mysql:'; give a file path, sqlite:PATH "
        "or postgresql://USER:PASSWORD@HOST:PORT/DATABASE (--state, OPS_STATE, or serve.state in "
        "ops.yaml)\n",
    )
    port = free_port()
    unreachable = runner.invoke(
        main,
        ["outbox", "list"],
        env={"OPS_STATE": f"postgresql://ops:hunter22@127.0.0.1:{port}/ops"},
    )
    assert unreachable.exit_code == 1
    assert unreachable.output.startswith(
        f"Error: postgresql://ops:***@127.0.0.1:{port}/ops: cannot connect: "
    )
    assert unreachable.output.endswith(
        "(is PostgreSQL running and reachable at that address?; --state, OPS_STATE, or serve.state in "
        "ops.yaml)\n"
    )
    assert "hunter22" not in unknown.output + unreachable.output
    assert unreachable.exception is None or isinstance(unreachable.exception, SystemExit)
