"""``ops store migrate``: a SQLite installation moved to PostgreSQL loses and repeats nothing.

The SQLite store is written by a real ``ops serve`` (messages sent, messages still pending
because Slack was unreachable, threads, seen events, an escalation, an override); the
migration runs through the CLI; then ``ops serve`` runs on the PostgreSQL target.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops_toolkit.serve.migrate import TABLES
from ops_toolkit.serve.store import LATEST
from tests.alerts.payloads import alert, notification
from tests.conftest import ROOT
from tests.integration.test_ha import Installation, eventually, post_webhook
from tests.slack_api import SlackServer, slack_server

ROUTES = """
default: {channel: "#alerts"}
routes:
  - match: {service: search, severity: page}
    channel: "#search-oncall"
    escalation: search
  - match: {service: search}
    channel: "#search-alerts"
"""
ONCALL = """
schedules:
  - name: primary
    timezone: UTC
    layers: [{rotation: weekly, start: 2026-01-05, participants: [U0PRIMARY1]}]
policies:
  - name: search
    tiers:
      - {schedule: primary, wait: 1h}
      - {users: [U0LEAD0001]}
"""


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    yield from slack_server(["alerts", "search-oncall", "search-alerts"])


def ops(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops_toolkit", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
    )


def migrate(source: str, target: str, *more: str) -> subprocess.CompletedProcess[str]:
    """``ops store migrate --from SOURCE`` into ``target`` given as OPS_STATE: a password on
    the command line is refused (every local user and every step can read it there)."""
    return ops("store", "migrate", "--from", source, *more, env={**os.environ, "OPS_STATE": target})


def group(index: int, status: str = "firing", severity: str = "ticket") -> dict[str, object]:
    name = f"MigrateGroup{index}"
    return notification(
        alert(name, status, fingerprint=f"m{index}", severity=severity),
        group_key=f'{{}}:{{alertname="{name}"}}',
    )


def sqlite_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return {t: int(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in TABLES}


def openings(slack: SlackServer, channel: str) -> list[str]:
    return [m["text"] for m in slack.state.top_level(channel)]


def test_a_migrated_store_sends_what_was_pending_once_and_nothing_again(
    tmp_path: Path, slack: SlackServer, postgres_database: str
) -> None:
    state = tmp_path / "state.db"
    (tmp_path / "oncall.yaml").write_text(ONCALL)
    before = Installation(tmp_path, slack, str(state), f"oncall: {tmp_path / 'oncall.yaml'}\n")
    (tmp_path / "routes.yaml").write_text(ROUTES)
    server = before.replica().start()
    try:
        for index in range(3):  # delivered on SQLite
            assert post_webhook(server, group(index)) == 200
        assert post_webhook(server, group(9, severity="page")) == 200  # an escalation
        eventually(lambda: len(slack.state.top_level("search-alerts")) == 3)
        eventually(lambda: len(slack.state.top_level("search-oncall")) == 1)
        override = ops(
            "oncall",
            "override",
            "primary",
            "--user",
            "U0COVER001",
            "--from",
            "2030-01-01T00:00",
            "--to",
            "2030-01-02T00:00",
            "--config",
            str(before.config),
            env=before.env,
        )
        assert override.returncode == 0, override.stderr
        # migrating under a running ops serve is refused, and names it
        refused = migrate(f"sqlite:{state}", postgres_database)
        assert refused.returncode == 1
        assert refused.stderr == (
            f"Error: {state}: ops serve (pid {server.process and server.process.pid}) holds "
            "this store; stop every ops serve on it, then migrate\n"
        )
    finally:
        server.stop()
    sent = sqlite_counts(state)["outbox"]  # 3 openings, the escalation's and its first page
    # Slack unreachable: two more groups stay pending in the outbox
    before.env["SLACK_API_URL"] = "http://127.0.0.1:9/api/"
    server = before.replica().start()
    try:
        for index in range(3, 5):
            assert post_webhook(server, group(index)) == 200
        eventually(lambda: sqlite_counts(state)["outbox"] == sent + 2)
    finally:
        server.stop()
    counts = sqlite_counts(state)

    migrated = migrate(f"sqlite:{state}", postgres_database, "--json")
    assert migrated.returncode == 0, migrated.stderr
    document = json.loads(migrated.stdout)
    assert document["tables"] == counts
    assert document["tables"]["outbox"] == sent + 2 and document["tables"]["escalations"] == 1
    assert document["tables"]["oncall_overrides"] == 1
    assert document["outbox_pending"] == 2
    assert document["from"] == str(state)
    assert document["to"] == postgres_database.replace(":ops-test-secret@", ":***@")
    # a second run changes nothing and says why
    again = migrate(f"sqlite:{state}", postgres_database)
    assert again.returncode == 1
    assert again.stderr.startswith(
        f"Error: OPS_STATE={document['to']}: the database already holds a store (outbox "
        f"{sent + 2}, "
    )

    after = Installation(
        tmp_path, slack, postgres_database, f"oncall: {tmp_path / 'oncall.yaml'}\n"
    )
    (tmp_path / "routes.yaml").write_text(ROUTES)
    server = after.replica().start()
    try:
        eventually(lambda: len(slack.state.top_level("search-alerts")) == 5)
        # events moved: the same firing again is a duplicate; threads moved: the resolution
        # of a group posted on SQLite replies in its thread
        assert post_webhook(server, group(0)) == 200
        assert post_webhook(server, group(0, "resolved")) == 200
        first = slack.state.top_level("search-alerts")[0]
        eventually(lambda: len(slack.state.replies("search-alerts", first["ts"])) == 1)
        time.sleep(1.5)  # anything sent twice would be here by now
        assert sorted(openings(slack, "search-alerts")) == sorted(
            set(openings(slack, "search-alerts"))
        )
        assert len(slack.state.top_level("search-alerts")) == 5
        assert len(slack.state.top_level("search-oncall")) == 1
        assert first["updates"] == 1
        listed = ops("escalation", "list", "--config", str(after.config), env=after.env)
        assert listed.returncode == 0, listed.stderr
        assert "MigrateGroup9" in listed.stdout
        ids = ops("outbox", "list", "--json", "--config", str(after.config), env=after.env)
        entries = json.loads(ids.stdout)
        # the ids moved, and the next ones follow them: an update and a reply for group 0
        assert sorted(e["id"] for e in entries) == list(range(1, sent + 5))
    finally:
        after.stop()


def test_migrate_names_what_is_wrong_with_its_arguments(
    tmp_path: Path, postgres_database: str
) -> None:
    missing = ops("store", "migrate", "--from", f"sqlite:{tmp_path}/none.db", "--to", "x")
    assert missing.stderr == (
        f"Error: --from {tmp_path}/none.db: no such store; pass the file 'ops serve' used "
        "(serve.state in ops.yaml)\n"
    )
    (tmp_path / "state.db").touch()
    wrong = ops("store", "migrate", "--from", str(tmp_path / "state.db"), "--to", "sqlite:other.db")
    assert wrong.returncode == 1
    assert wrong.stderr == (
        "Error: --to other.db: expected a PostgreSQL database "
        "(postgresql://USER:PASSWORD@HOST:PORT/DATABASE)\n"
    )
    bad = postgres_database.replace("ops-test-secret", "wrong-secret")
    denied = migrate(str(tmp_path / "state.db"), bad)
    assert denied.returncode == 1
    assert "wrong-secret" not in denied.stderr
    assert denied.stderr.startswith(
        f"Error: {bad.replace(':wrong-secret@', ':***@')}: cannot connect: "
    )


def test_migrate_never_shows_a_password_nor_a_traceback_for_hostile_arguments(
    tmp_path: Path,
) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"SQLite format 3\0" + bytes(range(256)) * 8)
    not_sqlite = ops("store", "migrate", "--from", str(junk), "--to", "postgresql://127.0.0.1:1/x")
    assert (not_sqlite.returncode, not_sqlite.stderr) == (
        1,
        f"Error: --from {junk}: cannot open the store: file is not a database\n",
    )
    (tmp_path / "state.db").touch()
    source = str(tmp_path / "state.db")
    keywords = migrate(source, "host=db password=hunter2-pw")
    assert keywords.stderr == (
        "Error: host=db password=***: a libpq key=value string; write the database as "
        "postgresql://USER:PASSWORD@HOST:PORT/DATABASE "
        "(--state, OPS_STATE, or serve.state in ops.yaml)\n"
    )
    for url in ("postgresql://ops:p@ss-hunter2@127.0.0.1:1/x", "postgresql://ops:a/hunter2@h/x"):
        unencoded = migrate(source, url)
        assert unencoded.stderr == (
            f"Error: {url.split(':', 2)[0]}://ops:***@{url.rsplit('@', 1)[1]}: the user or "
            "password holds an '@' or '/' as is; percent-encode it ('@' as %40, '/' as %2F) "
            "(--state, OPS_STATE, or serve.state in ops.yaml)\n"
        )
    # libpq quotes a URL it cannot parse back whole: the password is taken out of that too.
    quoted = migrate(source, "postgresql://ops:hunter2%40x@[::1/x")
    assert quoted.returncode == 1
    assert "hunter2" not in quoted.stderr
    assert quoted.stderr.startswith("Error: postgresql://ops:***@[::1/x: cannot connect: ")
    assert 'in URI: "postgresql://ops:***@[::1/x"' in quoted.stderr


def test_the_target_can_come_from_ops_state_keeping_the_password_out_of_argv(
    tmp_path: Path,
) -> None:
    """Every local user can read a command line (ps, /proc/PID/cmdline): the README's
    ``--to "$OPS_STATE"`` put the password there. Without --to, OPS_STATE is the target."""
    import os

    (tmp_path / "state.db").touch()
    env = {**os.environ, "OPS_STATE": "postgresql://ops:hunter2-pw@127.0.0.1:1/x"}
    result = ops("store", "migrate", "--from", str(tmp_path / "state.db"), env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: postgresql://ops:***@127.0.0.1:1/x: cannot connect: ")
    assert "hunter2" not in result.stderr
    # A target that is not PostgreSQL is named as it was given: OPS_STATE, not --to.
    env["OPS_STATE"] = str(tmp_path / "other.db")
    result = ops("store", "migrate", "--from", str(tmp_path / "state.db"), env=env)
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"Error: OPS_STATE={tmp_path / 'other.db'}: expected a PostgreSQL"
    )


@pytest.mark.parametrize(
    ("tampering", "refusal"),
    [
        (
            "UPDATE outbox SET attempts = 'abc'",
            'InvalidTextRepresentation: invalid input syntax for type integer: "abc"',
        ),
        ("UPDATE outbox SET attempts = 99999999999999999999", "NumericValueOutOfRange: "),
        (
            "UPDATE outbox SET channel = 'a' || char(0) || 'b'",
            "DataError: PostgreSQL text fields cannot contain NUL (0x00) bytes",
        ),
    ],
    ids=["text in a number column", "an integer past 64 bits", "a NUL in text"],
)
def test_a_tampered_sqlite_store_is_refused_in_one_line_and_nothing_is_copied(
    tmp_path: Path, postgres_database: str, tampering: str, refusal: str
) -> None:
    """SQLite keeps any value in any column; PostgreSQL's refusal was a psycopg traceback."""
    from ops_toolkit.notify.model import Planned
    from ops_toolkit.serve.store import Store

    path = tmp_path / "state.db"
    store = Store(str(path))
    store.enqueue([Planned("g", "#c", "post", {"text": "x"})], 1.0)
    store.database.close()
    with sqlite3.connect(path) as db:
        db.execute(tampering)
    result = migrate(str(path), postgres_database)
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"Error: --from {path}: table outbox, rows 1 to 1: a value PostgreSQL refuses ({refusal}"
    )
    assert result.stderr.endswith("); nothing was copied\n")
    target = Store(postgres_database)
    try:
        assert target.entries() == []
    finally:
        target.database.close()


def source_store(tmp_path: Path, kind: str) -> tuple[Path, Path]:
    """(what --from names, the file it is): a store of this release (WAL mode), one of the
    first release (no schema_version, no inbox retry columns, rollback journal), or a
    symlink to one of the first release."""
    from ops_toolkit.notify.model import Planned
    from ops_toolkit.serve.store import Store
    from tests.serve.test_store_migrations import FIRST_RELEASE

    real = tmp_path / "stores" / "state.db"
    real.parent.mkdir()
    if kind == "current":
        store = Store(str(real))
        store.accept([('{"version": "4"}', 1)], 1_799_999_000.0)
        store.enqueue([Planned("g1", "#alerts", "post", {"text": "kept"})], 1_799_999_000.0)
        store.database.close()
    else:
        with sqlite3.connect(real) as old:
            old.executescript(FIRST_RELEASE)
        old.close()
    if kind != "symlink":
        return real, real
    link = tmp_path / "ops-state.db"
    link.symlink_to(real)
    return link, real


def beside(path: Path) -> list[str]:
    """The store's folder but the lock files (the lock is how migrate keeps serve out)."""
    return sorted(p.name for p in path.parent.iterdir() if p.suffix != ".lock")


@pytest.mark.parametrize("kind", ["current", "first release", "symlink"])
def test_a_migration_never_changes_its_source(
    tmp_path: Path, postgres_database: str, kind: str
) -> None:
    """Was: the source was opened for writing (switched to WAL, its schema upgraded in
    place), through a symlinked --from too: a migration changed the store it moved."""
    from ops_toolkit.serve.store import Store

    given, real = source_store(tmp_path, kind)
    before = (real.read_bytes(), real.stat().st_mtime_ns, beside(real))
    result = migrate(str(given), postgres_database, "--json")
    assert result.returncode == 0, result.stderr
    assert (real.read_bytes(), real.stat().st_mtime_ns, beside(real)) == before
    assert given.is_symlink() == (kind == "symlink")
    document = json.loads(result.stdout)
    assert document["from"] == str(given)
    assert (document["tables"]["inbox"], document["tables"]["outbox"]) == (1, 1)
    target = Store(postgres_database)
    try:  # an older source's rows are upgraded on the way: the retry columns' defaults
        (payload,) = target.unprocessed()
        assert (payload.body, payload.attempts, payload.next_attempt_at) == (
            '{"version": "4"}',
            0,
            0.0,
        )
        (entry,) = target.entries()
        assert (entry.group_key, entry.message, entry.status) == ("g1", {"text": "kept"}, "pending")
    finally:
        target.database.close()


def test_a_source_newer_than_this_ops_is_refused_unchanged(
    tmp_path: Path, postgres_database: str
) -> None:
    given, real = source_store(tmp_path, "current")
    with sqlite3.connect(real) as db:
        db.execute(
            "INSERT INTO schema_version (version, applied_at, description) VALUES (99, 0, 'x')"
        )
    db.close()
    before = (real.read_bytes(), real.stat().st_mtime_ns)
    result = migrate(str(given), postgres_database)
    assert (result.returncode, result.stderr) == (
        1,
        f"Error: --from {given}: the store's schema is version 99, newer than this ops knows "
        f"(version {LATEST}): migrate with the ops release that wrote it\n",
    )
    assert (real.read_bytes(), real.stat().st_mtime_ns) == before


def test_a_symlinked_source_is_refused_while_ops_serve_holds_the_file_it_names(
    tmp_path: Path, postgres_database: str
) -> None:
    """ops serve locks the name it was given; a migration through another name (a symlink
    to the same file) must still see it."""
    import os

    from ops_toolkit.serve.lock import hold_for_serve

    given, real = source_store(tmp_path, "symlink")
    held = hold_for_serve(str(real))  # as ops serve --state <the real file> does
    try:
        result = migrate(str(given), postgres_database)
    finally:
        held.release()
    assert (result.returncode, result.stderr) == (
        1,
        f"Error: {real}: ops serve (pid {os.getpid()}) holds this store; stop every ops "
        "serve on it, then migrate\n",
    )


def test_migrate_takes_the_one_output_option(tmp_path: Path, postgres_database: str) -> None:
    """'ops store migrate' had --json only: -o yaml gives the same document, -o table the
    lines, and --json with another -o is a usage error before anything is copied."""
    import yaml

    from ops_toolkit.notify.model import Planned
    from ops_toolkit.serve.store import Store

    path = tmp_path / "state.db"
    store = Store(str(path))
    store.enqueue([Planned("g", "#c", "post", {"text": "x"})], 1.0)
    store.database.close()
    both = migrate(str(path), postgres_database, "--json", "-o", "yaml")
    assert both.returncode == 2
    assert both.stderr.endswith("Error: --json means -o json: give one of them, not -o yaml\n")
    migrated = migrate(str(path), postgres_database, "-o", "yaml")
    assert migrated.returncode == 0, migrated.stderr
    document = yaml.safe_load(migrated.stdout)
    assert (document["from"], document["tables"], document["outbox_pending"]) == (
        str(path),
        sqlite_counts(path),
        1,
    )
