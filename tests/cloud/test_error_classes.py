"""The translation of driver errors, one table per backend (``cloud/driver_errors.py``).

Each known code of each driver is raised as that driver's own exception class, wrapped
the way SQLAlchemy wraps it, and must come out as its class in ``dmledger/errors.py``.
Every code in the driver modules' tables must appear here, so adding one without its
row in this test fails. The same errors raised by a real PostgreSQL server and real
SQLite files: ``test_error_classes_real.py``. Oracle's codes are only constructed
here (no Oracle server runs on this machine), with the driver's own error factory.
"""

from __future__ import annotations

import sqlite3

import psycopg
import psycopg.errors
import pytest
from oracledb import errors as oracle_errors
from sqlalchemy import exc

from dmledger.cloud.driver_errors import oracle as errors_oracle
from dmledger.cloud.driver_errors import postgres as errors_pg
from dmledger.cloud.driver_errors import sqlite as errors_sqlite
from dmledger.cloud.driver_errors.kinds import Refusal
from dmledger.cloud.driver_errors.translation import classify, translate
from dmledger.errors import (
    CloudError,
    CloudPermissionDenied,
    CloudRowRefused,
    CloudSchemaError,
    CloudUnavailable,
)

PG_URL = "postgresql+psycopg://omar@db.example.com/team"
SQLITE_URL = "sqlite:////srv/team/cloud.db"
ORACLE_URL = "oracle+oracledb://OMAR@teamdb_tp"
INSERT = "INSERT INTO outreach_logs (client_log_id) VALUES (%(c)s)"

CLASS_OF: dict[Refusal, type[CloudError]] = {
    "unreachable": CloudUnavailable,
    "busy": CloudUnavailable,
    "login": CloudPermissionDenied,
    "right": CloudPermissionDenied,
    "schema": CloudSchemaError,
    "row": CloudRowRefused,
    "other": CloudError,
}


def _wrapped(original: Exception, statement: str = INSERT) -> exc.DBAPIError:
    return exc.DatabaseError(statement, {}, original)


def _assert_translated(original: Exception, url: str, kind: Refusal) -> None:
    wrapped = _wrapped(original)
    assert classify(wrapped) == kind
    assert type(translate(wrapped, url)) is CLASS_OF[kind]


# --------------------------------------------------------------------------- PostgreSQL

PG_TABLE: dict[str, Refusal] = {
    "40001": "busy",
    "40P01": "busy",
    "55P03": "busy",
    "53300": "busy",
    "57P01": "unreachable",
    "57P02": "unreachable",
    "57P03": "unreachable",
    "08006": "unreachable",
    "08001": "unreachable",
    "28P01": "login",
    "28000": "login",
    "42501": "right",
    "42P01": "schema",
    "42703": "schema",
    "3F000": "schema",
    "23505": "row",
    "23514": "row",
    "23503": "row",
    "23502": "row",
    "22001": "row",
    "22P02": "row",
    "22008": "row",
    "XX000": "other",
    "42601": "other",  # a syntax error is ours, not the row's
    "53100": "other",  # disk full
}


@pytest.mark.parametrize(("sqlstate", "kind"), sorted(PG_TABLE.items()))
def test_each_sqlstate_is_its_class(sqlstate: str, kind: Refusal) -> None:
    original = psycopg.errors.lookup(sqlstate)(f"the server said {sqlstate}")
    assert original.sqlstate == sqlstate
    _assert_translated(original, PG_URL, kind)


def test_every_sqlstate_and_class_the_translator_knows_is_in_the_table() -> None:
    assert set(errors_pg._BY_SQLSTATE) <= set(PG_TABLE)
    for sqlstate, kind in errors_pg._BY_SQLSTATE.items():
        assert PG_TABLE[sqlstate] == kind
    tested_classes = {code[:2]: kind for code, kind in PG_TABLE.items()}
    for sqlclass, kind in errors_pg._BY_CLASS.items():
        assert tested_classes.get(sqlclass) == kind, sqlclass


@pytest.mark.parametrize(
    ("original", "kind"),
    [
        # libpq's connect failures carry no SQLSTATE (see errors_pg.py)
        (psycopg.OperationalError('connection failed: port 5999 failed: Connection refused'),
         "unreachable"),
        (psycopg.errors.ConnectionTimeout("connection timeout expired"), "unreachable"),
        (psycopg.OperationalError("consuming input failed: server closed the connection"),
         "unreachable"),
        (psycopg.OperationalError('connection failed: FATAL:  database "x" does not exist'),
         "unreachable"),
        (psycopg.OperationalError(
            'connection failed: FATAL:  password authentication failed for user "omar"'),
         "login"),
        (psycopg.OperationalError('connection failed: FATAL:  role "omar" does not exist'),
         "login"),
        (psycopg.OperationalError(
            'connection failed: FATAL:  role "omar" is not permitted to log in'), "login"),
        (psycopg.InterfaceError("the cursor is closed"), "other"),
    ],
)  # fmt: skip
def test_psycopg_errors_without_a_sqlstate(original: psycopg.Error, kind: Refusal) -> None:
    assert original.sqlstate is None
    _assert_translated(original, PG_URL, kind)


# --------------------------------------------------------------------------- SQLite

SQLITE_TABLE: dict[int, Refusal] = {
    sqlite3.SQLITE_BUSY: "busy",
    sqlite3.SQLITE_LOCKED: "busy",
    sqlite3.SQLITE_CANTOPEN: "unreachable",
    sqlite3.SQLITE_IOERR: "unreachable",
    sqlite3.SQLITE_IOERR_SHORT_READ: "unreachable",
    sqlite3.SQLITE_READONLY: "right",
    sqlite3.SQLITE_READONLY_DBMOVED: "right",
    sqlite3.SQLITE_PERM: "right",
    sqlite3.SQLITE_AUTH: "right",
    sqlite3.SQLITE_CONSTRAINT: "row",
    sqlite3.SQLITE_CONSTRAINT_UNIQUE: "row",
    sqlite3.SQLITE_CONSTRAINT_CHECK: "row",
    sqlite3.SQLITE_CONSTRAINT_NOTNULL: "row",
    sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY: "row",
    sqlite3.SQLITE_CONSTRAINT_TRIGGER: "row",
    sqlite3.SQLITE_TOOBIG: "row",
    sqlite3.SQLITE_MISMATCH: "row",
    sqlite3.SQLITE_CORRUPT: "other",
    sqlite3.SQLITE_NOTADB: "other",
    sqlite3.SQLITE_FULL: "other",
    sqlite3.SQLITE_ERROR: "other",  # a syntax error: SQLITE_ERROR without schema words
    sqlite3.SQLITE_MISUSE: "other",
}


def _sqlite_error(code: int, text: str = "sqlite said so") -> sqlite3.Error:
    original = sqlite3.OperationalError(text)
    original.sqlite_errorcode = code  # set by the C module on the errors it raises
    original.sqlite_errorname = f"code {code}"
    return original


@pytest.mark.parametrize(("code", "kind"), sorted(SQLITE_TABLE.items()))
def test_each_sqlite_code_is_its_class(code: int, kind: Refusal) -> None:
    _assert_translated(_sqlite_error(code), SQLITE_URL, kind)


def test_every_sqlite_code_the_translator_knows_is_in_the_table() -> None:
    for code, kind in errors_sqlite._BY_CODE.items():
        assert SQLITE_TABLE[code] == kind


@pytest.mark.parametrize(
    "text", ["no such table: outreach_logs", "no such column: notes_replaced",
             "table prospects has no column named notes_replaced"],
)  # fmt: skip
def test_sqlite_error_names_a_missing_table_or_column_only_in_words(text: str) -> None:
    _assert_translated(_sqlite_error(sqlite3.SQLITE_ERROR, text), SQLITE_URL, "schema")


def test_a_sqlite_error_without_a_code_is_not_understood() -> None:
    _assert_translated(sqlite3.ProgrammingError("Cannot operate on a closed database."),
                       SQLITE_URL, "other")  # fmt: skip


# --------------------------------------------------------------------------- Oracle


def _ora(code: int) -> Exception:
    """An ORA- error exactly as thin mode makes it when the database sends one."""
    error = oracle_errors._Error(f"ORA-{code:05d}: the database said so", code=code)
    made: Exception = error.exc_type(error)
    return made


def _dpy(number: int) -> Exception:
    made: Exception = oracle_errors._create_exception(number)
    return made


ORACLE_TABLE: dict[str, Refusal] = {
    # busy
    "ORA-00060": "busy", "ORA-08177": "busy", "ORA-00054": "busy", "ORA-30006": "busy",
    # login
    "ORA-01017": "login", "ORA-01005": "login", "ORA-28000": "login", "ORA-28001": "login",
    "DPY-4001": "login",
    # right
    "ORA-01031": "right", "ORA-01950": "right", "ORA-01536": "right", "ORA-01045": "right",
    # schema
    "ORA-00942": "schema", "ORA-00904": "schema",
    # row
    "ORA-00001": "row", "ORA-01400": "row", "ORA-01407": "row", "ORA-02290": "row",
    "ORA-02291": "row", "ORA-02292": "row", "ORA-01438": "row", "ORA-01722": "row",
    "ORA-12899": "row", "ORA-01841": "row", "ORA-01847": "row", "ORA-01861": "row",
    "ORA-20000": "row", "ORA-20001": "row", "ORA-20999": "row",
    # unreachable: gone, never made, not serving, timed out
    "ORA-03113": "unreachable", "ORA-03135": "unreachable", "ORA-12514": "unreachable",
    "ORA-12541": "unreachable", "ORA-12505": "unreachable", "ORA-12528": "unreachable",
    "ORA-12516": "unreachable", "ORA-12519": "unreachable", "ORA-12520": "unreachable",
    "ORA-01033": "unreachable", "ORA-01034": "unreachable", "ORA-01089": "unreachable",
    "ORA-01090": "unreachable", "ORA-12170": "unreachable", "ORA-12535": "unreachable",
    "DPY-1001": "unreachable", "DPY-4011": "unreachable", "DPY-4024": "unreachable",
    "DPY-6000": "unreachable", "DPY-6001": "unreachable", "DPY-6003": "unreachable",
    "DPY-6005": "unreachable",
    # not understood
    "ORA-00900": "other", "ORA-21000": "other", "ORA-01013": "other",
}  # fmt: skip


@pytest.mark.parametrize(("code", "kind"), sorted(ORACLE_TABLE.items()))
def test_each_oracle_code_is_its_class(code: str, kind: Refusal) -> None:
    prefix, number = code.split("-")
    original = _ora(int(number)) if prefix == "ORA" else _dpy(int(number))
    _assert_translated(original, ORACLE_URL, kind)


def test_every_oracle_code_the_translator_knows_is_in_the_table() -> None:
    known = (
        errors_oracle._BUSY
        | errors_oracle._LOGIN
        | errors_oracle.NO_PRIVILEGE
        | errors_oracle._SCHEMA
        | errors_oracle._ROW
        | errors_oracle._UNREACHABLE
    )
    assert known <= set(ORACLE_TABLE)


# --------------------------------------------------------------------------- messages


def test_the_translated_errors_name_the_object_and_the_right() -> None:
    refused = psycopg.errors.InsufficientPrivilege("permission denied for table outreach_logs")
    denied = translate(_wrapped(refused), PG_URL)
    assert isinstance(denied, CloudPermissionDenied) and denied.verb == "INSERT"
    assert "omar is not allowed to INSERT into outreach_logs" in str(denied)
    delete = translate(
        _wrapped(refused, "DELETE FROM outreach_logs WHERE target_username = %(t)s"), PG_URL
    )
    assert isinstance(delete, CloudPermissionDenied) and delete.verb == "DELETE"
    # A push's one statement: the contacts as a CTE (with a SELECT inside), then the logs.
    cte = translate(
        _wrapped(
            refused,
            "WITH contacts AS (INSERT INTO prospects (target_username) SELECT "
            "c.t FROM unnest(%(t)s) AS c(t) ON CONFLICT (target_username) DO UPDATE SET "
            "status = 'contacted') INSERT INTO outreach_logs (client_log_id) SELECT l.c "
            "FROM unnest(%(c)s) AS l(c) ON CONFLICT (client_log_id) DO NOTHING",
        ),
        PG_URL,
    )
    assert isinstance(cte, CloudPermissionDenied) and cte.verb == "INSERT"
    assert "omar is not allowed to INSERT into outreach_logs" in str(cte)
    missing = translate(
        _wrapped(psycopg.errors.UndefinedColumn('column "notes_replaced" does not exist')),
        PG_URL,
    )
    assert isinstance(missing, CloudSchemaError) and "column notes_replaced" in str(missing)


def test_a_refused_login_names_the_user_and_is_not_a_missing_right() -> None:
    login = translate(_wrapped(psycopg.errors.InvalidPassword("password failed")), PG_URL)
    assert isinstance(login, CloudPermissionDenied) and login.verb is None
    assert "refused the login of omar" in str(login)


def test_a_read_only_sqlite_file_stops_the_sync_rather_than_set_a_deletion_aside() -> None:
    readonly = _sqlite_error(sqlite3.SQLITE_READONLY, "attempt to write a readonly database")
    denied = translate(_wrapped(readonly, "DELETE FROM outreach_logs WHERE 1"), SQLITE_URL)
    assert isinstance(denied, CloudPermissionDenied) and denied.verb is None
    assert "cannot be written by this process" in str(denied)


def test_errors_that_are_not_the_drivers() -> None:
    assert isinstance(translate(ConnectionRefusedError(111, "refused"), PG_URL), CloudUnavailable)
    already = CloudRowRefused("kept as it is")
    assert translate(already, PG_URL) is already
    unknown = translate(_wrapped(ValueError("a driver nobody knows")), PG_URL)
    assert type(unknown) is CloudError
