"""A PostgreSQL deadlock or serialization failure is a lost race, not an outage.

Was: reported as "database unavailable" and waited out with the outage back-off (0.5 s,
doubling). Now: ``StoreConflict``, logged as a conflict, and the loop's round is retried at
once.
"""

from __future__ import annotations

import logging
import threading

import psycopg
import pytest

from ops_toolkit.errors import StoreConflict, StoreError
from ops_toolkit.serve.store.postgres import PostgresDatabase
from ops_toolkit.serve.worker import Loop
from ops_toolkit.urls import redact_url


def test_a_real_deadlock_is_a_conflict_naming_its_sqlstate(postgres_database: str) -> None:
    database = PostgresDatabase(postgres_database)
    try:
        database.execute("CREATE TABLE pair (id INTEGER PRIMARY KEY, n INTEGER)")
        database.execute("INSERT INTO pair VALUES (1, 0), (2, 0)")
        both_locked_one = threading.Barrier(2)
        errors: list[BaseException] = []

        def update(first: int, second: int) -> None:
            try:
                with database.transaction() as transaction:
                    transaction.execute("UPDATE pair SET n = n + 1 WHERE id = ?", (first,))
                    both_locked_one.wait(timeout=30)
                    transaction.execute("UPDATE pair SET n = n + 1 WHERE id = ?", (second,))
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=update, args=pair) for pair in ((1, 2), (2, 1))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        database.close()
    (error,) = errors  # PostgreSQL broke the cycle by rolling one of them back
    assert isinstance(error, StoreConflict)
    assert str(error).startswith(
        f"{redact_url(postgres_database)}: deadlock with another writer (SQLSTATE 40P01), "
        "rolled back: deadlock detected"
    )


@pytest.mark.parametrize(
    ("driver_error", "expected"),
    [
        pytest.param(
            psycopg.errors.SerializationFailure("could not serialize access"),
            "serialization failure (SQLSTATE 40001), rolled back: could not serialize access",
            id="serialization failure: a conflict",
        ),
        pytest.param(
            psycopg.errors.DeadlockDetected("deadlock detected"),
            "deadlock with another writer (SQLSTATE 40P01), rolled back: deadlock detected",
            id="deadlock: a conflict",
        ),
        pytest.param(
            psycopg.OperationalError("server closed the connection unexpectedly"),
            "database unavailable: server closed the connection unexpectedly",
            id="a broken connection: an outage",
        ),
    ],
)
def test_driver_errors_are_told_apart(
    postgres_database: str, driver_error: psycopg.OperationalError, expected: str
) -> None:
    database = PostgresDatabase(postgres_database)
    try:
        error = database.store_error(driver_error)
    finally:
        database.close()
    assert str(error) == f"{redact_url(postgres_database)}: {expected}"
    assert isinstance(error, StoreConflict) == ("SQLSTATE" in expected)


@pytest.mark.parametrize(
    ("error", "counted", "said"),
    [
        pytest.param(
            StoreConflict("postgresql://ops@db/ops: deadlock with another writer"),
            (1, 0),
            "processing: postgresql://ops@db/ops: deadlock with another writer; retrying at once",
            id="a conflict: retried at once, counted as a conflict",
        ),
        pytest.param(
            StoreError("postgresql://ops@db/ops: database unavailable: refused"),
            (0, 1),
            "processing: postgresql://ops@db/ops: database unavailable: refused; retrying in 0.5s",
            id="an outage: the back-off, counted as an error",
        ),
    ],
)
def test_a_loop_retries_a_conflict_at_once_and_backs_off_an_outage(
    caplog: pytest.LogCaptureFixture, error: StoreError, counted: tuple[int, int], said: str
) -> None:
    rounds: list[str] = []
    second = threading.Event()

    def step() -> float:
        rounds.append("round")
        if len(rounds) == 1:
            raise error
        second.set()
        return 3600.0

    loop = Loop("processing", step)
    with caplog.at_level(logging.INFO, logger="ops.serve"):
        loop.start()
        try:
            assert second.wait(timeout=30)
        finally:
            loop.stop()
    assert (loop.conflicts, loop.errors) == counted
    assert [r.getMessage() for r in caplog.records if r.name == "ops.serve"] == [said]
