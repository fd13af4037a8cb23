"""Oracle, checked statically: no Oracle server can run here.

Every statement the cloud store can issue is produced by running the real CloudStore
methods on an Oracle dialect, with a recording connection in place of a server:
SQLAlchemy compiles each statement (the MERGEs too: ``cloud/merge.py``) for Oracle
exactly as it would before sending it. Each statement, and the
whole ``dmledger cloud ddl --dialect oracle`` script, is then parsed by sqlglot's
Oracle reader. What this proves: the SQL is well-formed Oracle SQL that names only
our tables and columns. What it cannot prove: that Oracle executes it (privileges,
the optimizer, PL/SQL compilation); the README says so.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
import sqlglot
from sqlglot import exp
from typer.testing import CliRunner

from dmledger.cli import app
from dmledger.cloud import tables as schema
from dmledger.cloud.analytics import fold as rollup_fold
from dmledger.cloud.analytics import rollups
from dmledger.cloud.connecting.database import CloudDatabase
from dmledger.cloud.exchange import team_settings as followups
from dmledger.cloud.schema import ddl
from dmledger.cloud.store import CloudStore
from dmledger.domain.records import ActorRow, Cursor, Edit, OutgoingLog
from support.env import IN_CI

SEED_SQL = Path(__file__).with_name("seed_initialization.sql")
T0 = datetime(2026, 3, 1, 9, 0, 0)


# -- a connection that records instead of executing -----------------------------------


class _Result:
    """What a statement "returns": canned answers so every code path is walked."""

    def __init__(self, recorder: OracleRecorder) -> None:
        self._recorder = recorder
        self._rows = list(recorder.rows)
        self.rowcount = 1

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        return list(self._rows)

    def scalar(self) -> Any:
        return 1

    def scalar_one(self) -> Any:
        return 0 if self._recorder.scalar is None else self._recorder.scalar

    def scalar_one_or_none(self) -> Any:
        return self._recorder.scalar

    def first(self) -> Any:
        return ("known",)


@dataclass
class OracleRecorder:
    """Stands in for a Connection: compiles each statement for Oracle and keeps the SQL.

    DDL elements (``Table.create``/``drop``) reach it through SQLAlchemy's mock engine,
    which hands them to the same recording function.
    """

    statements: list[str] = field(default_factory=list)
    rows: list[Any] = field(default_factory=list)
    scalar: Any = None
    later_rows: list[list[Any]] = field(default_factory=list)  # rows of the next statements

    def __post_init__(self) -> None:
        self.mock = sa.create_mock_engine("oracle+oracledb://", self._from_mock)
        self.dialect = self.mock.dialect

    def _from_mock(self, element: Any, *_multiparams: Any, **_params: Any) -> None:
        self.execute(element)

    def execute(self, statement: Any, parameters: Any = None) -> _Result:
        if isinstance(parameters, dict):  # values of named bound parameters (the cursor)
            statement = statement.params(parameters)
        compiled = statement.compile(
            dialect=self.dialect, compile_kwargs={"render_postcompile": True}
        )
        self.statements.append(str(compiled).strip())
        result = _Result(self)
        if self.later_rows:
            self.rows = self.later_rows.pop(0)
        return result

    def exec_driver_sql(self, sql: str, parameters: Any = None) -> _Result:
        self.statements.append(sql.strip())
        return _Result(self)

    def execution_options(self, **_options: Any) -> OracleRecorder:
        return self

    def _run_ddl_visitor(self, visitor: Any, element: Any, **kwargs: Any) -> None:
        # How Table.create(conn) reaches a connection; the mock engine renders the DDL.
        self.mock._run_ddl_visitor(visitor, element, **kwargs)


class RecordingOracleDatabase(CloudDatabase):
    """The real database handle, with its connections replaced by the recorder.

    ``existing_tables`` is overridden too: it asks SQLAlchemy's Oracle dialect to
    introspect, which is SQLAlchemy's SQL, not ours; the test decides which tables
    "exist" to walk the empty, seed and current-schema paths.
    """

    def __init__(self, recorder: OracleRecorder, tables: set[str]) -> None:
        super().__init__(recorder.mock, "oracle+oracledb://admin@ledger_high")
        self.recorder = recorder
        self.tables = tables

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        yield self.recorder

    @contextlib.contextmanager
    def reading(self) -> Iterator[Any]:
        yield self.recorder

    def existing_tables(self) -> set[str]:
        return set(self.tables)


class RecordingOracleStore(CloudStore):
    """The real CloudStore on a recording database handle."""

    def __init__(self, recorder: OracleRecorder, tables: set[str]) -> None:
        super().__init__(recorder.mock, "oracle+oracledb://admin@ledger_high")
        self.db = RecordingOracleDatabase(recorder, tables)


SEED_TABLE_NAMES = {t.name for t in schema.SEED_TABLES}
ALL_TABLE_NAMES = {t.name for t in (*schema.SEED_TABLES, *schema.ADDED_TABLES, *rollups.TABLES)}


def every_store_statement() -> dict[str, list[str]]:
    """Run every CloudStore method on Oracle; the SQL each one issued, by method."""
    found: dict[str, list[str]] = {}

    def run(
        name: str,
        tables: set[str],
        call: Any,
        *,
        scalar: Any = None,
        rows: Any = (),
        later_rows: Any = (),
    ) -> None:
        recorder = OracleRecorder(rows=list(rows), scalar=scalar, later_rows=list(later_rows))
        store = RecordingOracleStore(recorder, tables)
        call(store, recorder)
        assert recorder.statements, f"{name} issued no statement"
        found[name] = recorder.statements

    logs = [
        OutgoingLog("log-1", "foo.bar", "sarah.sells", "Sarah", "hi 👋" * 2000, T0),
        OutgoingLog("log-2", "foo.bar", "marcus.closes", "Marcus", "hello", T0),
    ]
    edits = [
        Edit(1, "add", "foo.bar", status="new", notes="n"),
        Edit(2, "status", "foo.bar", status="warm"),
        Edit(3, "notes", "foo.bar", notes="note", base="n"),
        Edit(4, "append", "foo.bar", notes="[2026-03-01 09:00:00 Sarah] called"),
        Edit(5, "delete", "gone.lead"),
        Edit(6, "add", "gone.lead"),
        Edit(7, "reply", "foo.bar", at=T0, ref="reply-1"),
        Edit(8, "follow_up", "foo.bar", ref="2026-03-04T00:00:00"),
        Edit(9, "follow_up", "foo.bar", ref=None),
    ]
    clock_row = SimpleNamespace(
        kind="C", version=7, purged=0, name="c1d", owner="5", status="t1", now=T0
    )
    # The leads the edits find (their notes are read, locked, to merge an append).
    found_rows = [("foo.bar", "n", None)]
    current = ALL_TABLE_NAMES
    run("init_schema", set(), lambda s, _: s.init_schema())
    run("upgrade", SEED_TABLE_NAMES, lambda s, _: s.upgrade())
    run("upgrade_from_2", current, lambda s, _: s.upgrade(), scalar="2")
    run("upgrade_from_3", current, lambda s, _: s.upgrade(), scalar="3")
    # Issue 10: the Team rollups (cloud/rollups.py, cloud/rollup_fold.py).
    run("upgrade_from_5", current, lambda s, _: s.upgrade(), scalar="5")
    run("rollup_fold", current, lambda _, c: rollup_fold.fold(c))
    run("rollup_rebuild", current, lambda _, c: rollup_fold.rebuild(c))
    run(
        "insert_ignore",
        current,
        lambda s, c: s.insert_ignore(
            c,
            schema.prospect_replies,
            [{"client_reply_id": "r", "target_username": "foo.bar", "replied_at": T0}],
            ["client_reply_id"],
        ),
    )
    # Issue 12: the team's rules and templates (cloud/followups.py).
    run("set_rules", current, lambda _, c: followups.set_rules(c, {"max_followups": "3"}))
    run("put_template", current, lambda _, c: followups.put_template(c, "intro", "hi", "Sarah"))
    run("delete_template", current, lambda _, c: followups.delete_template(c, "intro"))
    run("read_team_config", current, lambda _, c: followups.read_team_config(c))
    run("reset", current, lambda s, _: s.reset())
    run("schema_version", current, lambda s, _: s.schema_version(), scalar="5")
    run("check", current, lambda s, _: s.check(), scalar="5")
    run("current_schema", current, lambda s, _: s.current_schema())
    run("info_value", current, lambda s, _: s.info_value("demo_data"))
    run("set_info", current, lambda s, c: s.set_info(c, "demo_data", "true"))
    run("counts", current, lambda s, _: s.counts())
    run("add_operator", current, lambda s, _: s.add_operator("Sarah"))
    run("list_operators", current, lambda s, _: s.list_operators())
    run("add_actor", current, lambda s, _: s.add_actor("sarah.sells", "Sarah"))
    run("list_actors", current, lambda s, _: s.list_actors())
    run("set_actor_status", current, lambda s, _: s.set_actor_status("sarah.sells", "banned"))
    run(
        "ensure_people",
        current,
        lambda s, c: s.ensure_people(c, ["Sarah"], [ActorRow("sarah.sells", "Sarah", "active")]),
    )
    run("push_logs", current, lambda s, c: s.push_logs(c, logs))
    run("push_edits", current, lambda s, c: s.push_edits(c, edits), rows=found_rows)
    run("delete_prospects", current, lambda s, c: s.delete_prospects(c, ["foo.bar"]))
    run(
        "header",
        current,
        lambda s, c: s.header(c, with_count=True),
        rows=[clock_row],
    )
    run("pull_page", current, lambda s, c: s.pull_page(c, Cursor(3, "foo.bar"), 500))
    run(
        "header_and_page",
        current,
        lambda s, c: s.header_and_page(c, Cursor(3, "foo.bar"), 500, settle=True),
        rows=[clock_row],
        later_rows=[[]],  # the page after the header: no change
    )
    run("purge_tombstones", current, lambda s, _: s.purge_tombstones(T0), scalar=12)
    run("database_now", current, lambda s, _: s.database_now(), scalar=T0)
    run("logs_for", current, lambda s, _: s.logs_for("foo.bar", 20))
    return found


STATEMENTS = every_store_statement()
FLAT = [(name, sql) for name, sqls in STATEMENTS.items() for sql in sqls]


def _parse(sql: str) -> exp.Expression:
    parsed = sqlglot.parse(sql, read="oracle")
    assert len(parsed) == 1, f"expected one statement in {sql!r}"
    expression = parsed[0]
    assert expression is not None
    return expression


# -- the store's statements -----------------------------------------------------------


def test_every_public_store_method_was_walked() -> None:
    public = {
        name
        for name, member in vars(CloudStore).items()
        if callable(member) and not name.startswith("_")
    }
    # run_statements runs the caller's statements (grants): the grants tests check those.
    plumbing = {
        "transaction",
        "reading",
        "snapshot",  # a connection: SQLAlchemy sets Oracle's isolation level, no SQL of ours
        "dispose",
        "existing_tables",
        "require_schema",
        "run_statements",
        # database_now, then purge_tombstones: both walked above.
        "purge_tombstones_older_than",
        # PostgreSQL only (the transaction-id cursor): nothing is sent to Oracle.
        "rebase_cursor",
        "settle",
    }
    assert public - plumbing <= set(STATEMENTS), sorted(public - plumbing - set(STATEMENTS))


def test_the_store_uses_merge_on_oracle_for_every_upsert_and_insert_ignore() -> None:
    merges = [sql for _, sql in FLAT if sql.startswith("MERGE")]
    # The contact MERGE and insert-if-absent MERGEs for operators, actors, prospects
    # and logs. Status and notes edits only UPDATE: an edit never creates a lead.
    assert any("t.owner_actor = CASE" in sql for sql in merges)
    edits = STATEMENTS["push_edits"]
    assert any(sql.startswith("UPDATE prospects SET status=") for sql in edits), edits
    assert any("notes_replaced=" in sql and sql.startswith("UPDATE") for sql in edits), edits
    assert any(sql.endswith("FOR UPDATE") for sql in edits), edits
    for table in ("operators", "actors", "prospects", "outreach_logs"):
        assert any(sql.startswith(f"MERGE INTO {table} t") for sql in merges), table


@pytest.mark.parametrize(("method", "sql"), FLAT, ids=[f"{m}-{i}" for i, (m, _) in enumerate(FLAT)])
def test_every_store_statement_parses_as_oracle_sql(method: str, sql: str) -> None:
    if sql.startswith("CREATE OR REPLACE TRIGGER"):
        check_trigger(sql)
        return
    locked = re.fullmatch(r"LOCK TABLE (\w+) IN EXCLUSIVE MODE", sql)
    if locked is not None:  # sqlglot has no LOCK TABLE: checked by pattern
        assert locked[1] in ALL_TABLE_NAMES
        return
    expression = _parse(sql)
    # sqlglot falls back to an opaque Command for syntax it does not understand; none
    # of the plain statements may end up there.
    assert not isinstance(expression, exp.Command), f"{method}: not understood: {sql}"
    tables = {t.name.lower() for t in expression.find_all(exp.Table)} - {"dual"}
    assert tables <= ALL_TABLE_NAMES, f"{method} names unknown tables {tables}"


@pytest.mark.parametrize(("method", "sql"), FLAT, ids=[f"{m}-{i}" for i, (m, _) in enumerate(FLAT)])
def test_no_store_statement_uses_syntax_oracle_lacks(method: str, sql: str) -> None:
    upper = sql.upper()
    assert "ON CONFLICT" not in upper
    assert not re.search(r"\bLIMIT\b", upper), "Oracle has no LIMIT: FETCH FIRST"
    assert "__[POSTCOMPILE" not in sql
    assert not re.search(r"\)\s*[<>]=?\s*\(", sql), "Oracle has no row-value comparison"
    assert not re.search(r"AS VARCHAR2\s*\)", upper), "a VARCHAR2 CAST needs a length"
    assert "IS DISTINCT FROM" not in upper
    if not sql.startswith("CREATE OR REPLACE TRIGGER"):
        assert '"' not in sql, "quoted names would break the seed's upper-case tables"


def test_the_pull_page_query_limits_rows_the_oracle_way() -> None:
    (sql,) = STATEMENTS["pull_page"]
    expression = _parse(sql)
    assert isinstance(expression, exp.Select)
    assert "FETCH FIRST 500 ROWS ONLY" in sql
    assert [o.this.sql() for o in expression.args["order"].expressions] == [
        "anon_1.version",
        "anon_1.handle",
    ]


@pytest.mark.parametrize("method", ["init_schema", "upgrade", "reset"])
def test_schema_changes_create_each_object_once(method: str) -> None:
    # A second CREATE of the same name fails on every database (it once did in upgrade).
    created = [
        re.match(r"CREATE (?:UNIQUE |OR REPLACE )?(\w+) (\w+)", sql).groups()
        for sql in STATEMENTS[method]
        if sql.startswith("CREATE")
    ]
    assert len(created) == len(set(created)), sorted(created)


# Oracle's reserved words (V$RESERVED_WORDS with RESERVED = 'Y'): none may name a
# table, column or alias, since every name is written unquoted.
_RESERVED_WORDS = """ACCESS ADD ALL ALTER AND ANY AS ASC AUDIT BETWEEN BY CHAR CHECK CLUSTER COLUMN
    COMMENT COMPRESS CONNECT CREATE CURRENT DATE DECIMAL DEFAULT DELETE DESC DISTINCT DROP
    ELSE EXCLUSIVE EXISTS FILE FLOAT FOR FROM GRANT GROUP HAVING IDENTIFIED IMMEDIATE IN
    INCREMENT INDEX INITIAL INSERT INTEGER INTERSECT INTO IS LEVEL LIKE LOCK LONG MAXEXTENTS
    MINUS MLSLABEL MODE MODIFY NOAUDIT NOCOMPRESS NOT NOWAIT NULL NUMBER OF OFFLINE ON ONLINE
    OPTION OR ORDER PCTFREE PRIOR PUBLIC RAW RENAME RESOURCE REVOKE ROW ROWID ROWNUM ROWS
    SELECT SESSION SET SHARE SIZE SMALLINT START SUCCESSFUL SYNONYM SYSDATE TABLE THEN TO
    TRIGGER UID UNION UNIQUE UPDATE USER VALIDATE VALUES VARCHAR VARCHAR2 VIEW WHENEVER WHERE
    WITH"""
ORACLE_RESERVED = frozenset(_RESERVED_WORDS.split())


def test_no_name_the_store_uses_is_an_oracle_reserved_word() -> None:
    names = {t.name for t in schema.metadata.tables.values()}
    names |= {c.name for t in schema.metadata.tables.values() for c in t.columns}
    names |= {i.name for i in (*schema.INDEXES, *rollups.INDEXES) if i.name}
    for _, sql in FLAT:
        if sql.startswith(("CREATE OR REPLACE TRIGGER", "LOCK TABLE")):
            continue
        names |= {a.alias for a in _parse(sql).find_all(exp.Alias)}
    assert names
    assert {n.upper() for n in names} & ORACLE_RESERVED == set()


def test_the_upgrade_adds_only_nullable_columns_with_oracle_syntax() -> None:
    alters = [s for s in STATEMENTS["upgrade"] if s.startswith("ALTER TABLE")]
    assert "ALTER TABLE outreach_logs ADD client_log_id VARCHAR2(36)" in alters
    assert "ALTER TABLE outreach_logs ADD operator_name VARCHAR2(100)" in alters
    assert "ALTER TABLE prospects ADD row_version NUMBER(19)" in alters
    for sql in alters:
        assert not isinstance(_parse(sql), exp.Command), sql


# -- the DDL script ------------------------------------------------------------------


def oracle_ddl_script() -> str:
    result = CliRunner().invoke(app, ["cloud", "ddl", "--dialect", "oracle"])
    assert result.exit_code == 0, result.output
    return result.stdout


TRIGGER = re.compile(r"^CREATE OR REPLACE TRIGGER .*?^END;\n/$", re.MULTILINE | re.DOTALL)


def split_script(script: str) -> tuple[list[str], list[str]]:
    """(PL/SQL trigger blocks, the plain SQL around them)."""
    triggers = [m.group(0).removesuffix("/").strip() for m in TRIGGER.finditer(script)]
    return triggers, [TRIGGER.sub("", script)]


def seed_tables() -> dict[str, exp.Schema]:
    """The seed's CREATE TABLE statements, as sqlglot reads them."""
    tables = {}
    for expression in sqlglot.parse(SEED_SQL.read_text(encoding="utf-8"), read="oracle"):
        if isinstance(expression, exp.Create) and expression.kind == "TABLE":
            assert isinstance(expression.this, exp.Schema)
            tables[expression.this.this.name.lower()] = expression.this
    return tables


def columns(definition: exp.Schema) -> dict[str, str]:
    """Column name (lower-case) to its type, as Oracle SQL."""
    return {
        col.name.lower(): col.args["kind"].sql(dialect="oracle")
        for col in definition.expressions
        if isinstance(col, exp.ColumnDef)
    }


def test_the_ddl_script_parses_as_oracle_sql() -> None:
    triggers, plain = split_script(oracle_ddl_script())
    assert len(triggers) == 2 + len(rollups.trigger_statements("oracle"))
    parsed = [e for part in plain for e in sqlglot.parse(part, read="oracle") if e is not None]
    kinds = [type(e).__name__ for e in parsed]
    assert "Command" not in kinds
    creates = [e for e in parsed if isinstance(e, exp.Create)]
    indexes = len(schema.INDEXES) + len(rollups.INDEXES)
    assert sorted(e.kind for e in creates) == ["INDEX"] * indexes + ["TABLE"] * len(ALL_TABLE_NAMES)
    assert [type(e) for e in parsed if not isinstance(e, exp.Create)] == [
        exp.Insert,  # the rollups' state row
        exp.Insert,
        exp.Insert,
        exp.Insert,  # the cloud identity, made by SYS_GUID()
        exp.Commit,
    ]
    for trigger in triggers:
        check_trigger(trigger)


def test_the_ddl_script_holds_every_seed_column_with_the_seeds_type_and_size() -> None:
    seed = seed_tables()
    assert set(seed) == SEED_TABLE_NAMES
    _, plain = split_script(oracle_ddl_script())
    ours = {
        e.this.this.name.lower(): e.this
        for part in plain
        for e in sqlglot.parse(part, read="oracle")
        if isinstance(e, exp.Create) and e.kind == "TABLE"
    }
    for table, definition in seed.items():
        assert table in ours
        theirs, mine = columns(definition), columns(ours[table])
        for name, kind in theirs.items():
            assert mine.get(name) == kind, f"{table}.{name}: seed {kind}, ddl {mine.get(name)}"


def test_the_seed_copy_used_by_the_tests_is_the_seed_documents_sql() -> None:
    document = Path(__file__).parents[3] / "shared" / "seeds" / "000_494f7ef18c2a93e7.txt"
    if not document.is_file():
        reason = f"the seed document is not next to this clone ({document})"
        if IN_CI:
            pytest.fail(reason + " (CI=true: CI lays shared/ beside the clone)")
        pytest.skip(reason)
    text = document.read_text(encoding="utf-8")
    block = text.split("```sql\n", 1)[1].split("```", 1)[0]
    assert SEED_SQL.read_text(encoding="utf-8") == block


# -- triggers ------------------------------------------------------------------------
#
# sqlglot does not parse PL/SQL blocks: a CREATE TRIGGER with a DECLARE/BEGIN body is
# split at its first ';' and the head falls back to an opaque Command, and the body
# (BEGIN …) fails to parse at all. So the trigger is checked in parts: its head by
# pattern (timing, events, table, FOR EACH ROW), each SQL statement of its body by
# sqlglot, each ``:NEW.col := expr`` assignment as an expression naming a real column.

HEAD = re.compile(
    r"CREATE OR REPLACE TRIGGER (?P<name>\w+)\s+(?P<timing>BEFORE|AFTER)\s+"
    r"(?P<events>(?:INSERT|UPDATE(?: OF \w+(?:, \w+)*)?|DELETE)"
    r"(?:\s+OR\s+(?:INSERT|UPDATE|DELETE))*)\s+"
    r"ON (?P<table>\w+)\s+FOR EACH ROW\s+"
    r"(?:WHEN\s*\((?P<when>.*?)\)\s+(?=DECLARE|BEGIN))?"
    r"(?:DECLARE\s+(?P<declare>.*?))?\bBEGIN\b"
    r"(?P<body>.*)\bEND;\s*$",
    re.DOTALL,
)


def check_trigger(sql: str) -> None:
    head = HEAD.fullmatch(sql.strip())
    assert head is not None, f"not a row trigger: {sql}"
    assert head["table"] in ALL_TABLE_NAMES
    if head["declare"] is not None:
        assert re.fullmatch(r"\s*(\w+ NUMBER;\s*)+", head["declare"]), head["declare"]
    if head["when"] is not None:  # the WHEN condition, as a WHERE clause
        condition = sqlglot.parse_one(f"SELECT 1 FROM dual WHERE {head['when']}", read="oracle")
        assert isinstance(condition, exp.Select), head["when"]
    body = re.sub(r"\bIF\b[^;]*?\bTHEN\b|\bEND IF;", ";", head["body"])
    statements = [s.strip() for s in body.split(";") if s.strip()]
    assert statements
    table_columns = {c.name for c in schema.metadata.tables[head["table"]].columns}
    for statement in statements:
        expression = sqlglot.parse_one(statement, read="oracle")
        if isinstance(expression, exp.PropertyEQ):  # :NEW.col := expr
            target = expression.this
            assert isinstance(target, exp.Dot) and target.this.name == "NEW", statement
            assert target.expression.name in table_columns, statement
            continue
        assert isinstance(expression, exp.Update | exp.Delete | exp.Merge | exp.Insert), statement
        tables = {t.name for t in expression.find_all(exp.Table)} - {"dual"}
        assert tables <= ALL_TABLE_NAMES, statement


def test_sqlglot_cannot_read_a_trigger_whole_which_is_why_it_is_checked_in_parts() -> None:
    # If this starts failing, sqlglot has learnt PL/SQL: check triggers whole instead.
    for trigger in ddl.trigger_statements("oracle"):
        with pytest.raises(sqlglot.errors.ParseError):
            sqlglot.parse(trigger, read="oracle")


def test_trigger_bodies_stamp_version_and_time_from_the_database() -> None:
    triggers, _ = split_script(oracle_ddl_script())
    stamp, tombstone, *_rollups = triggers
    assert "BEFORE INSERT OR UPDATE ON prospects" in stamp
    assert ":NEW.row_version := v;" in stamp
    assert ":NEW.last_updated := SYS_EXTRACT_UTC(SYSTIMESTAMP);" in stamp
    assert "AFTER DELETE ON prospects" in tombstone
    assert "MERGE INTO prospect_tombstones" in tombstone
