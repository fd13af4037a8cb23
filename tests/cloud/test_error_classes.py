"""The one classification of database refusals (``cloud/engine.py: classify``).

PostgreSQL's SQLSTATEs are exercised against the real server by the sync tests; here
each code the classifier knows, PostgreSQL's and Oracle's (no Oracle server runs here),
is checked through the error SQLAlchemy would wrap it in, with the translated error
the sync acts on.
"""

from __future__ import annotations

import pytest
from sqlalchemy import exc

from dmledger.cloud.engine import classify, is_row_refusal, translate
from dmledger.errors import (
    CloudError,
    CloudPermissionDenied,
    CloudRowRefused,
    CloudSchemaError,
    CloudUnavailable,
)

URL = "postgresql+psycopg://omar@db.example.com/team"


class _DriverError(Exception):
    def __init__(self, text: str, sqlstate: str | None = None) -> None:
        super().__init__(text)
        self.sqlstate = sqlstate


def _wrapped(
    text: str,
    sqlstate: str | None = None,
    kind: type[exc.DBAPIError] = exc.DatabaseError,
    statement: str = "INSERT INTO outreach_logs (client_log_id) VALUES (%(c)s)",
) -> exc.DBAPIError:
    return kind(statement, {}, _DriverError(text, sqlstate))


@pytest.mark.parametrize(
    ("text", "sqlstate", "expected"),
    [
        ('new row violates check constraint "no_banned_actor"', "23514", "row"),
        ('duplicate key value violates unique constraint "x"', "23505", "row"),
        ("value too long for type character varying(36)", "22001", "row"),
        ("permission denied for table outreach_logs", "42501", "right"),
        ('relation "outreach_logs" does not exist', "42P01", "schema"),
        ('column "notes_replaced" does not exist', "42703", "schema"),
        ("deadlock detected", "40P01", "busy"),
        ("could not serialize access", "40001", "busy"),
        ("ORA-00001: unique constraint (ADMIN.UX) violated", None, "row"),
        ("ORA-02291: integrity constraint (ADMIN.FK) violated - parent key not found", None, "row"),
        ("ORA-12899: value too large for column NOTES", None, "row"),
        ("ORA-20001: refused by a trigger", None, "row"),
        ("ORA-01031: insufficient privileges", None, "right"),
        ("ORA-00942: table or view does not exist", None, "schema"),
        ('ORA-00904: "NOTES_REPLACED": invalid identifier', None, "schema"),
        ("ORA-00060: deadlock detected while waiting for resource", None, "busy"),
        ("something nobody has seen before", "XX000", "other"),
    ],
)
def test_each_known_code_is_classified(text: str, sqlstate: str | None, expected: str) -> None:
    error = _wrapped(text, sqlstate)
    assert classify(error) == expected
    assert is_row_refusal(error) is (expected == "row")


def test_sqlite_constraints_and_trigger_refusals_are_row_refusals() -> None:
    refused = _wrapped("no_banned_actor: this actor is refused", kind=exc.IntegrityError)
    assert classify(refused) == "row"
    missing = _wrapped("no such table: outreach_logs", kind=exc.OperationalError)
    assert classify(missing) == "schema"


def test_the_translated_errors_name_the_object_and_the_right() -> None:
    denied = translate(_wrapped("permission denied for table outreach_logs", "42501"), URL)
    assert isinstance(denied, CloudPermissionDenied) and denied.verb == "INSERT"
    assert "omar is not allowed to INSERT into outreach_logs" in str(denied)
    delete = translate(
        _wrapped(
            "permission denied for table outreach_logs",
            "42501",
            statement="DELETE FROM outreach_logs WHERE target_username = %(t)s",
        ),
        URL,
    )
    assert isinstance(delete, CloudPermissionDenied) and delete.verb == "DELETE"
    # A push's one statement: the contacts as a CTE (with a SELECT inside), then the logs.
    cte = translate(
        _wrapped(
            "permission denied for table outreach_logs",
            "42501",
            statement="WITH contacts AS (INSERT INTO prospects (target_username) SELECT "
            "c.t FROM unnest(%(t)s) AS c(t) ON CONFLICT (target_username) DO UPDATE SET "
            "status = 'contacted') INSERT INTO outreach_logs (client_log_id) SELECT l.c "
            "FROM unnest(%(c)s) AS l(c) ON CONFLICT (client_log_id) DO NOTHING",
        ),
        URL,
    )
    assert isinstance(cte, CloudPermissionDenied) and cte.verb == "INSERT"
    assert "omar is not allowed to INSERT into outreach_logs" in str(cte)
    missing = translate(_wrapped('column "notes_replaced" does not exist', "42703"), URL)
    assert isinstance(missing, CloudSchemaError) and "column notes_replaced" in str(missing)
    row = translate(_wrapped("ORA-12899: value too large for column NOTES"), URL)
    assert isinstance(row, CloudRowRefused)
    busy = translate(_wrapped("deadlock detected", "40P01"), URL)
    assert isinstance(busy, CloudUnavailable)
    other = translate(_wrapped("something nobody has seen before", "XX000"), URL)
    assert type(other) is CloudError, "not understood: stops the sync, never sets aside"
