"""A throwaway PostgreSQL server on a loopback port, for the tests and the benchmarks.

Debian's ``postgresql`` package puts its binaries in ``/usr/lib/postgresql/<major>/bin``,
off the PATH; we look there. PostgreSQL refuses to run as root, so when we are root the
cluster is created and run as the ``postgres`` system user (``subprocess`` switches user
in the child, so the pid we hold is the postmaster's own and we stop it by that pid).

The cluster is tuned for tests, not durability (``fsync=off``): a database per test is
then a cheap ``CREATE DATABASE``. Connections over TCP need the password (scram), so the
tests can check what ops says about a wrong one.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Any

from ops_toolkit.demo.servers import free_port

SUPERUSER = "ops"
PASSWORD = "ops-test-secret"
RUN_AS = "postgres"


def postgres_bindir() -> str:
    """The directory holding ``initdb`` and ``postgres``: the newest Debian install, or PATH."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(candidate, "initdb")):
            return candidate
    found = shutil.which("initdb")
    if found is not None:
        return os.path.dirname(found)
    raise RuntimeError(
        "PostgreSQL is not installed; run 'make system-deps' (Debian package postgresql)"
    )


def _run_as() -> dict[str, Any]:
    """``Popen`` arguments that drop root to the postgres user (nothing when not root)."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(RUN_AS)
    except KeyError:
        raise RuntimeError(
            f"running as root and there is no '{RUN_AS}' user to run PostgreSQL as; "
            "run 'make system-deps' (Debian package postgresql creates it)"
        ) from None
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


class PostgresServer:
    """``postgres`` on 127.0.0.1 with its data and socket directories in a temporary dir.

    ``start``/``stop``/``restart`` keep the port and the data, so a test can take the
    database away under a running client and bring it back. ``create_database`` gives each
    test its own empty database.
    """

    def __init__(self, basedir: str | None = None, *, port: int | None = None) -> None:
        self.bindir = postgres_bindir()
        self.owns_basedir = basedir is None
        self.basedir = basedir or tempfile.mkdtemp(prefix="ops-pg-")
        self.datadir = os.path.join(self.basedir, "data")
        self.socketdir = os.path.join(self.basedir, "sock")
        self.log_path = os.path.join(self.basedir, "postgres.log")
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._databases = 0

    # -- addresses -------------------------------------------------------------------------

    def url(self, database: str = "postgres", *, password: str = PASSWORD) -> str:
        return f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{self.port}/{database}"

    @property
    def admin_url(self) -> str:
        return self.url("postgres")

    # -- lifecycle -------------------------------------------------------------------------

    def _chown(self, path: str) -> None:
        who = _run_as()
        if who:
            os.chown(path, who["user"], who["group"])

    def init(self) -> None:
        """``initdb`` a fresh cluster (superuser ``ops`` with a password) unless one exists."""
        if os.path.exists(os.path.join(self.datadir, "PG_VERSION")):
            return
        os.makedirs(self.socketdir, exist_ok=True)
        self._chown(self.basedir)
        self._chown(self.socketdir)
        password_file = os.path.join(self.basedir, "pwfile")
        with open(password_file, "w", encoding="utf-8") as handle:
            handle.write(PASSWORD + "\n")
        self._chown(password_file)
        result = subprocess.run(
            [
                os.path.join(self.bindir, "initdb"),
                "-D",
                self.datadir,
                f"--username={SUPERUSER}",
                f"--pwfile={password_file}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            capture_output=True,
            cwd=self.basedir,
            check=False,
            **_run_as(),
        )
        os.unlink(password_file)
        if result.returncode != 0:
            raise RuntimeError(
                f"initdb failed ({result.returncode}): {result.stderr.decode(errors='replace')}"
            )

    def start(self, timeout: float = 30.0) -> PostgresServer:
        self.init()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    os.path.join(self.bindir, "postgres"),
                    "-D",
                    self.datadir,
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-k",
                    self.socketdir,
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=200",
                    "-c",
                    "shared_buffers=32MB",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.basedir,
                start_new_session=True,
                **_run_as(),
            )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        process = self.process
        assert process is not None
        while time.monotonic() < deadline:
            if process.poll() is not None:
                with open(self.log_path, encoding="utf-8", errors="replace") as handle:
                    tail = handle.read()[-2000:]
                raise RuntimeError(f"postgres exited with {process.returncode}:\n{tail}")
            try:
                with psycopg.connect(self.admin_url, connect_timeout=2):
                    return
            except psycopg.OperationalError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"postgres on port {self.port} was not ready within {timeout:g}s")

    def stop(self, *, mode: str = "fast") -> None:
        """Stop the postmaster we started: ``fast`` (SIGINT: clients cut, clean shutdown) or
        ``immediate`` (SIGQUIT: as after a crash; recovery runs at the next start)."""
        process = self.process
        self.process = None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGQUIT if mode == "immediate" else signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self, *, mode: str = "fast") -> None:
        self.stop(mode=mode)
        self.start()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def cleanup(self) -> None:
        """Stop the server and remove the temporary directory we made."""
        self.stop()
        if self.owns_basedir:
            shutil.rmtree(self.basedir, ignore_errors=True)

    # -- databases -------------------------------------------------------------------------

    def create_database(self, prefix: str = "test") -> str:
        """A new empty database; returns its URL (with the password)."""
        import psycopg
        from psycopg import sql

        self._databases += 1
        name = f"{prefix}_{os.getpid()}_{self._databases}"
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg
        from psycopg import sql

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.cleanup()
