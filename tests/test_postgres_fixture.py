"""The throwaway PostgreSQL the store tests run on: it starts, isolates, stops and restarts."""

from __future__ import annotations

import psycopg
import pytest

from tests.postgres import PostgresServer


def test_each_test_gets_its_own_empty_database(
    postgres_server: PostgresServer, postgres_database: str
) -> None:
    with psycopg.connect(postgres_database) as connection:
        connection.execute("CREATE TABLE marker (n integer)")
        tables = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert tables == (1,)
    other = postgres_server.create_database()
    try:
        with psycopg.connect(other) as connection:
            row = connection.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
            ).fetchone()
        assert row == (0,)
    finally:
        postgres_server.drop_database(other)


def test_the_server_listens_on_loopback_with_a_password(postgres_server: PostgresServer) -> None:
    assert postgres_server.admin_url.startswith("postgresql://ops:")
    assert "@127.0.0.1:" in postgres_server.admin_url
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(postgres_server.url(password="wrong"), connect_timeout=5)


def test_a_stopped_server_refuses_and_a_restarted_one_keeps_its_data() -> None:
    with PostgresServer() as server:
        url = server.create_database()
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("CREATE TABLE kept (n integer)")
            connection.execute("INSERT INTO kept VALUES (7)")
        port = server.port
        server.stop()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(url, connect_timeout=2)
        server.start()
        assert server.port == port
        with psycopg.connect(url) as connection:
            assert connection.execute("SELECT n FROM kept").fetchall() == [(7,)]
        server.restart(mode="immediate")
        with psycopg.connect(url) as connection:
            assert connection.execute("SELECT n FROM kept").fetchall() == [(7,)]
