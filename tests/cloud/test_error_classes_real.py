"""Real driver errors, provoked on the real PostgreSQL server and on real SQLite files,
come out as their class in ``dmledger/errors.py`` (the tables: ``test_error_classes.py``).

Not provoked here: a wrong password, because this machine's server trusts every local
login (its ``pg_hba.conf`` says ``trust``), so ``28P01`` is only constructed in the
table test; and every Oracle error, as no Oracle server runs here.
"""

from __future__ import annotations

import socket
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy import exc

from dmledger.cloud.connecting.engine import create_cloud_engine
from dmledger.cloud.driver_errors.translation import classify, translate
from dmledger.errors import (
    CloudError,
    CloudPermissionDenied,
    CloudRowRefused,
    CloudSchemaError,
    CloudUnavailable,
)
from support.env import PG_HOST, PG_PORT


def _raised(
    url: str, action: Callable[[sa.Connection], object], **engine_args: object
) -> CloudError:
    """Run ``action`` on a fresh engine for ``url``; the DM Ledger error it turns into."""
    engine = sa.create_engine(url, **engine_args) if engine_args else create_cloud_engine(url)
    try:
        with engine.connect() as conn:
            action(conn)
            conn.commit()
    except exc.DBAPIError as error:
        return translate(error, url)
    finally:
        engine.dispose()
    raise AssertionError("the action did not fail")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((PG_HOST, 0))
        port: int = probe.getsockname()[1]
    return port


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture
def pg_table(pg_url: str) -> str:
    """``pg_url`` holding a table ``t`` with one row (id 1) and a short text column."""
    engine = create_cloud_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id int PRIMARY KEY, v int, s varchar(3))")
        conn.exec_driver_sql("INSERT INTO t VALUES (1, 0, 'a')")
    engine.dispose()
    return pg_url


@pytest.fixture
def nologin_role(pg_admin_dsn: str) -> Iterator[str]:
    name = f"dml_nologin_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} NOLOGIN")
    yield name
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(f"DROP ROLE {name}")


def _as_user(url: str, user: str) -> str:
    return url.replace("postgresql+psycopg://postgres@", f"postgresql+psycopg://{user}@", 1)


def _select(conn: sa.Connection) -> object:
    return conn.exec_driver_sql("SELECT 1").scalar()


def test_pg_unknown_role_is_a_refused_login(pg_url: str) -> None:
    error = _raised(_as_user(pg_url, f"nobody_{uuid.uuid4().hex[:6]}"), _select)
    assert isinstance(error, CloudPermissionDenied) and error.verb is None
    assert "refused the login" in str(error)


def test_pg_role_that_may_not_log_in_is_a_refused_login(pg_url: str, nologin_role: str) -> None:
    error = _raised(_as_user(pg_url, nologin_role), _select)
    assert isinstance(error, CloudPermissionDenied) and "refused the login" in str(error)


def test_pg_unknown_database_is_unreachable(pg_database: str) -> None:
    url = f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/nodb_{uuid.uuid4().hex[:6]}"
    assert isinstance(_raised(url, _select), CloudUnavailable)


def test_pg_refused_port_is_unreachable() -> None:
    url = f"postgresql+psycopg://postgres@{PG_HOST}:{_free_port()}/any"
    error = _raised(url, _select)
    assert isinstance(error, CloudUnavailable) and "unreachable" in str(error)


def test_pg_serialization_failure_is_busy(pg_table: str) -> None:
    engine = create_cloud_engine(pg_table)
    try:
        with engine.connect() as first, engine.connect() as second:
            first.exec_driver_sql("BEGIN ISOLATION LEVEL REPEATABLE READ")
            assert first.exec_driver_sql("SELECT v FROM t WHERE id = 1").scalar() == 0
            second.exec_driver_sql("UPDATE t SET v = 2 WHERE id = 1")
            second.commit()
            with pytest.raises(exc.DBAPIError) as caught:
                first.exec_driver_sql("UPDATE t SET v = 3 WHERE id = 1")
    finally:
        engine.dispose()
    assert getattr(caught.value.orig, "sqlstate", None) == "40001"
    assert classify(caught.value) == "busy"
    assert isinstance(translate(caught.value, pg_table), CloudUnavailable)


def test_pg_lock_wait_that_gives_up_is_busy(pg_table: str) -> None:
    engine = create_cloud_engine(pg_table)
    try:
        with engine.connect() as holder, engine.connect() as waiter:
            holder.exec_driver_sql("SELECT v FROM t WHERE id = 1 FOR UPDATE")
            waiter.exec_driver_sql("SET lock_timeout = '50ms'")
            with pytest.raises(exc.DBAPIError) as caught:
                waiter.exec_driver_sql("UPDATE t SET v = 5 WHERE id = 1")
    finally:
        engine.dispose()
    assert getattr(caught.value.orig, "sqlstate", None) == "55P03"
    assert isinstance(translate(caught.value, pg_table), CloudUnavailable)


def test_pg_restricted_role_is_denied_the_right(
    pg_table: str, operator_role: str, pg_admin_dsn: str
) -> None:
    schema = pg_table.rsplit("search_path%3D", 1)[1]
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(f"GRANT USAGE ON SCHEMA {schema} TO {operator_role}")
        conn.execute(f"GRANT SELECT ON {schema}.t TO {operator_role}")
    error = _raised(
        _as_user(pg_table, operator_role),
        lambda conn: conn.exec_driver_sql("DELETE FROM t WHERE id = 1"),
    )
    assert isinstance(error, CloudPermissionDenied) and error.verb == "DELETE"
    assert f"{operator_role} is not allowed to DELETE from t" in str(error)


def test_pg_missing_table_and_refused_rows(pg_table: str) -> None:
    missing = _raised(pg_table, lambda c: c.exec_driver_sql("SELECT * FROM nowhere"))
    assert isinstance(missing, CloudSchemaError) and "table nowhere" in str(missing)
    duplicate = _raised(pg_table, lambda c: c.exec_driver_sql("INSERT INTO t VALUES (1, 0, 'b')"))
    assert isinstance(duplicate, CloudRowRefused)
    too_long = _raised(pg_table, lambda c: c.exec_driver_sql("INSERT INTO t VALUES (2, 0, 'abcd')"))
    assert isinstance(too_long, CloudRowRefused)


def test_pg_session_terminated_by_the_server_is_unreachable(
    pg_table: str, pg_admin_dsn: str
) -> None:
    engine = create_cloud_engine(pg_table)
    try:
        with engine.connect() as conn:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            with pytest.raises(exc.DBAPIError) as caught:
                conn.exec_driver_sql("SELECT 1")
    finally:
        engine.dispose()
    assert isinstance(translate(caught.value, pg_table), CloudUnavailable)


# --------------------------------------------------------------------------- SQLite


def _sqlite_file(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        conn.execute(
            "CREATE TRIGGER no_x BEFORE INSERT ON t WHEN NEW.v = 'x' "
            "BEGIN SELECT RAISE(ABORT, 'no_x: refused'); END"
        )
        conn.execute("INSERT INTO t VALUES (1, 'a')")
    conn.close()
    return f"sqlite:///{path}"


def test_sqlite_locked_is_busy(tmp_path: Path) -> None:
    url = _sqlite_file(tmp_path / "cloud.db")
    holder = sqlite3.connect(tmp_path / "cloud.db")
    holder.execute("BEGIN IMMEDIATE")
    try:
        # No busy timeout: the cloud engine's 30 s wait would only delay the same error.
        error = _raised(
            url,
            lambda c: c.exec_driver_sql("INSERT INTO t VALUES (2, 'b')"),
            connect_args={"timeout": 0},
        )
    finally:
        holder.rollback()
        holder.close()
    assert isinstance(error, CloudUnavailable) and "busy" in str(error)


def test_sqlite_read_only_file_is_denied(tmp_path: Path) -> None:
    _sqlite_file(tmp_path / "cloud.db")
    url = f"sqlite:///file:{tmp_path / 'cloud.db'}?mode=ro&uri=true"
    error = _raised(url, lambda c: c.exec_driver_sql("DELETE FROM t"))
    assert isinstance(error, CloudPermissionDenied) and error.verb is None
    assert "readonly" in str(error)


def test_sqlite_file_that_is_not_a_database_stops_the_sync(tmp_path: Path) -> None:
    (tmp_path / "cloud.db").write_bytes(b"this is a text file, not a database\n" * 200)
    error = _raised(f"sqlite:///{tmp_path / 'cloud.db'}", _select)
    assert type(error) is CloudError and "not a database" in str(error)


def test_sqlite_corrupt_file_stops_the_sync(tmp_path: Path) -> None:
    path = tmp_path / "cloud.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, "x" * 200) for i in range(500)])
    conn.close()
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page : 4 * page] = b"\xa5" * (3 * page)  # the table's first pages, the header kept
    path.write_bytes(bytes(data))
    error = _raised(
        f"sqlite:///{path}", lambda c: c.exec_driver_sql("SELECT sum(length(v)) FROM t").all()
    )
    assert type(error) is CloudError and "malformed" in str(error)


def test_sqlite_file_in_a_missing_folder_is_unreachable(tmp_path: Path) -> None:
    error = _raised(f"sqlite:///{tmp_path / 'gone' / 'cloud.db'}", _select)
    assert isinstance(error, CloudUnavailable)


def test_sqlite_refused_rows_and_missing_table(tmp_path: Path) -> None:
    url = _sqlite_file(tmp_path / "cloud.db")
    for statement in (
        "INSERT INTO t VALUES (1, 'dup')",
        "INSERT INTO t VALUES (3, NULL)",
        "INSERT INTO t VALUES (4, 'x')",  # the trigger's RAISE(ABORT)
    ):
        error = _raised(url, lambda c, s=statement: c.exec_driver_sql(s))  # type: ignore[misc]
        assert isinstance(error, CloudRowRefused), statement
    missing = _raised(url, lambda c: c.exec_driver_sql("SELECT * FROM nowhere"))
    assert isinstance(missing, CloudSchemaError) and "table nowhere" in str(missing)


def test_sqlite_table_locked_by_the_same_connection_is_busy(tmp_path: Path) -> None:
    path = tmp_path / "cloud.db"
    url = _sqlite_file(path)
    with sqlite3.connect(path) as conn:
        conn.executemany("INSERT INTO t VALUES (?, 'b')", [(i,) for i in range(2, 50)])
    conn.close()

    def drop_while_reading(conn: sa.Connection) -> None:
        reading = conn.exec_driver_sql("SELECT id FROM t")
        reading.fetchone()  # the statement is still stepping through t
        conn.exec_driver_sql("DROP TABLE t")

    error = _raised(url, drop_while_reading)
    assert isinstance(error, CloudUnavailable) and "locked" in str(error)
