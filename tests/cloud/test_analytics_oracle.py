"""The Team page's SQL on Oracle, checked statically: no Oracle server can run here.

Every analytics statement, under every shape of filter, is compiled by SQLAlchemy's
Oracle dialect exactly as it would be before sending, then parsed by sqlglot's Oracle
reader. A last test proves the list is complete: whatever the query functions send
to a real (SQLite) cloud is one of the statements checked here.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import sqlglot
from sqlalchemy.dialects import oracle, sqlite
from sqlglot import exp

from dmledger.app.ledger import Ledger
from dmledger.cloud import tables as schema
from dmledger.cloud.analytics import figures as rollup_figures
from dmledger.cloud.analytics import followup_figures as rollup_followups
from dmledger.cloud.analytics import page as rollup_page
from dmledger.cloud.analytics import raw as analytics
from dmledger.cloud.analytics import raw_followups as followup_analytics
from dmledger.cloud.analytics.raw import LogFilter
from dmledger.cloud.store import CloudStore
from dmledger.domain.followups import FollowUpRule
from dmledger.domain.records import ActorRow, OutgoingLog

FILTERS = {
    "all-time": LogFilter(),
    "period": LogFilter(start=datetime(2026, 11, 1), end=datetime(2026, 12, 1)),
    "period-operator-actor": LogFilter(
        start=datetime(2026, 11, 1), end=datetime(2026, 12, 1), operator="Sarah", actor="s.one"
    ),
}
# Oracle's reserved words (V$RESERVED_WORDS, RESERVED = 'Y'): no alias or bind may be one.
_RESERVED_WORDS = """ACCESS ADD ALL ALTER AND ANY AS ASC AUDIT BETWEEN BY CHAR CHECK CLUSTER COLUMN
    COMMENT COMPRESS CONNECT CREATE CURRENT DATE DECIMAL DEFAULT DELETE DESC DISTINCT DROP ELSE
    EXCLUSIVE EXISTS FILE FLOAT FOR FROM GRANT GROUP HAVING IDENTIFIED IMMEDIATE IN INCREMENT
    INDEX INITIAL INSERT INTEGER INTERSECT INTO IS LEVEL LIKE LOCK LONG MAXEXTENTS MINUS
    MLSLABEL MODE MODIFY NOAUDIT NOCOMPRESS NOT NOWAIT NULL NUMBER OF OFFLINE ON ONLINE OPTION
    OR ORDER PCTFREE PRIOR PUBLIC RAW RENAME RESOURCE REVOKE ROW ROWID ROWNUM ROWS SELECT
    SESSION SET SHARE SIZE SMALLINT START SUCCESSFUL SYNONYM SYSDATE TABLE THEN TO TRIGGER UID
    UNION UNIQUE UPDATE USER VALIDATE VALUES VARCHAR VARCHAR2 VIEW WHENEVER WHERE WITH"""
ORACLE_RESERVED = frozenset(_RESERVED_WORDS.split())
TABLES = {t.name for t in schema.metadata.tables.values()}


def compiled(statement: sa.ClauseElement, dialect: sa.Dialect) -> str:
    return str(
        statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    ).strip()


ORACLE_SQL = (
    {
        f"{name}[{shape}]": compiled(statement, oracle.dialect())
        for shape, flt in FILTERS.items()
        for name, statement in analytics.statements(flt, "oracle").items()
    }
    | {
        # Issue 12's follow-up figures (cloud/followup_analytics.py).
        f"fu_{name}[{shape}]": compiled(statement, oracle.dialect())
        for shape, flt in FILTERS.items()
        for name, statement in followup_analytics.statements(flt, "oracle").items()
    }
    | {
        # Issue 10: the same figures answered from the rollups (cloud/rollup_figures.py).
        f"rollup_{name}[{shape}]": compiled(statement, oracle.dialect())
        for shape, flt in FILTERS.items()
        for name, statement in rollup_figures.statements(flt, "oracle").items()
    }
    | {
        # Issue 12's follow-up figures from the rollups (cloud/rollup_followups.py).
        f"rollup_fu_{name}[{shape}]": compiled(statement, oracle.dialect())
        for shape, flt in FILTERS.items()
        for name, statement in rollup_followups.statements(flt, "oracle").items()
    }
)


def parse(sql: str) -> exp.Expression:
    (expression,) = sqlglot.parse(sql, read="oracle")
    assert expression is not None
    return expression


@pytest.mark.parametrize("name", sorted(ORACLE_SQL))
def test_every_analytics_statement_parses_as_oracle_sql(name: str) -> None:
    sql = ORACLE_SQL[name]
    expression = parse(sql)
    # sqlglot falls back to an opaque Command for what it does not understand.
    assert isinstance(expression, exp.Select), f"{name}: not understood: {sql}"
    assert {t.name.lower() for t in expression.find_all(exp.Table)} <= TABLES


@pytest.mark.parametrize("name", sorted(ORACLE_SQL))
def test_no_analytics_statement_uses_syntax_oracle_lacks(name: str) -> None:
    sql = ORACLE_SQL[name]
    upper = sql.upper()
    assert not re.search(r"\bLIMIT\b", upper), "Oracle has no LIMIT: FETCH FIRST"
    assert "__[POSTCOMPILE" not in sql
    for foreign in ("STRFTIME", "DATE_TRUNC", "ISODOW", "EXTRACT(", "CAST(OUTREACH_LOGS"):
        assert foreign not in upper.replace(" ", ""), f"{name} uses {foreign}"
    assert '"' not in sql, "a quoted name would not match the seed's upper-case tables"
    names = {a.alias.upper() for a in parse(sql).find_all(exp.Alias)}
    binds = {b.upper() for b in re.findall(r":(\w+)", sql)}
    assert (names | binds) & ORACLE_RESERVED == set()


def test_day_weekday_and_hour_use_oracles_nls_independent_forms() -> None:
    sql = ORACLE_SQL["heatmap[period]"]
    # 'IW' is the ISO week's Monday whatever NLS_TERRITORY says; 'D' would not be.
    assert "trunc(outreach_logs.created_at) - trunc(outreach_logs.created_at, 'IW') AS wd" in sql
    assert "to_number(to_char(outreach_logs.created_at, 'HH24')) AS hr" in sql
    assert "trunc(outreach_logs.created_at) AS sent_day" in ORACLE_SQL["per_day[period]"]


def test_the_double_contact_list_is_limited_the_oracle_way() -> None:
    sql = ORACLE_SQL["double_contacts[all-time]"]
    assert f"FETCH FIRST {analytics.DOUBLE_CONTACTS_LIMIT} ROWS ONLY" in sql
    assert "count(*) OVER () AS total" in sql


def test_every_statement_the_queries_send_is_one_checked_here(home: Path, sqlite_url: str) -> None:
    ledger, _ = Ledger.init_home(home, "Sarah", cloud_url=sqlite_url)
    ledger.cloud_init()
    store = ledger.cloud
    sent = datetime(2026, 11, 10, 12, 0)
    with store.transaction() as conn:
        store.ensure_people(
            conn, ["Sarah"], [ActorRow("s.one", "Sarah", "active"), ActorRow("s.two", "Sarah", "x")]
        )
        store.push_logs(
            conn,
            [
                OutgoingLog(str(uuid.uuid4()), "lead.one", actor, "Sarah", "hi", sent)
                for actor in ("s.one", "s.two")
            ],
        )
    try:
        for shape, flt in FILTERS.items():
            expected = {
                collapse_in_lists(compiled(statement, sqlite.dialect()))
                for statement in analytics.statements(flt, "sqlite").values()
            }
            seen = statements_sent(store, flt)
            # Seven: the double contact's actors were asked for too.
            assert len(seen) == len(expected) == 7, shape
            assert set(seen) == expected, shape
    finally:
        ledger.close()


def test_every_statement_the_rollup_page_sends_is_one_checked_here_and_sent_once(
    home: Path, sqlite_url: str
) -> None:
    ledger, _ = Ledger.init_home(home, "Sarah", cloud_url=sqlite_url)
    ledger.cloud_init()
    store = ledger.cloud
    rule, now = FollowUpRule(), datetime(2026, 3, 1)
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(collapse_in_lists(statement))

    try:
        for shape, flt in FILTERS.items():
            checked = {
                collapse_in_lists(compiled(statement, sqlite.dialect()))
                for statements in (
                    rollup_figures.statements(flt, "sqlite"),
                    rollup_followups.statements(flt, "sqlite"),
                )
                for statement in statements.values()
            }
            calls: tuple[tuple[Any, int], ...] = (
                (rollup_page.team_figures, 10),
                (rollup_followups.followup_figures, 6),
            )
            for call, count in calls:
                seen.clear()
                sa.event.listen(store.engine, "before_cursor_execute", record)
                try:
                    with store.reading() as conn:
                        call(conn, flt, rule, now)
                finally:
                    sa.event.remove(store.engine, "before_cursor_execute", record)
                assert len(seen) == len(set(seen)) == count, shape
                assert set(seen) <= checked, shape
    finally:
        ledger.close()


def collapse_in_lists(sql: str) -> str:
    """An expanding IN list written as one placeholder, whatever its length."""
    return re.sub(r"IN \(\?(?:, \?)*\)", "IN (?)", sql.strip())


def statements_sent(store: CloudStore, flt: LogFilter) -> list[str]:
    """The SQL each query function sends for ``flt``, as the database receives it."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(collapse_in_lists(statement))

    sa.event.listen(store.engine, "before_cursor_execute", record)
    try:
        with store.reading() as conn:
            analytics.messages_per_day(conn, flt)
            analytics.heatmap(conn, flt)
            analytics.lead_statuses(conn, flt)
            analytics.by_operator(conn, flt)
            analytics.by_actor(conn, flt)
            analytics.double_contacts(conn, flt)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", record)
    return seen
