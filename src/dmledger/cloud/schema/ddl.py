"""DDL per dialect: tables and indexes from the metadata, triggers written out by hand.

SQLAlchemy renders the tables; the triggers that maintain ``row_version``,
``last_updated`` and the tombstones are dialect-specific procedural code, kept side
by side here so the three variants can be read against each other.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.dialects import oracle, postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateIndex, CreateTable

from dmledger.cloud import tables
from dmledger.cloud.analytics import rollups
from dmledger.errors import InvalidInput

DIALECTS = ("oracle", "postgresql", "sqlite")

# PostgreSQL: no clock row. A row is stamped with its writing transaction's id (xid8,
# 64 bits, never wraps) plus the cursor base kept in ``sync_clock.version``; a pull
# reads only below the oldest transaction still running (see ``CloudStore.watermark``),
# so a transaction's rows are read once it has ended, whatever its length, and writers
# never wait on each other for a version. The base is written into the function by
# ``pg_stamp_function`` (``cloud init``: 0; ``cloud upgrade``: above every version
# handed out before), so the row trigger reads no table. Tombstones are cleared and
# written per statement, from transition tables: O(N) for a statement of N rows.
_PG_STAMP = """CREATE OR REPLACE FUNCTION dmledger_stamp_prospect() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    NEW.row_version := pg_current_xact_id()::text::bigint + {base};
    NEW.last_updated := timezone('UTC', clock_timestamp());
    RETURN NEW;
END
$$"""

# SECURITY DEFINER: the triggers run with the schema owner's rights, so a
# least-privilege operator role needs no write access to the tombstones.
_PG_TRIGGERS = (
    "DROP TRIGGER IF EXISTS trg_prospects_stamp ON prospects",
    """CREATE TRIGGER trg_prospects_stamp BEFORE INSERT OR UPDATE ON prospects
FOR EACH ROW EXECUTE FUNCTION dmledger_stamp_prospect()""",
    """CREATE OR REPLACE FUNCTION dmledger_untombstone_prospects() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM prospect_tombstones t USING dmledger_added a
        WHERE t.target_username = a.target_username;
    RETURN NULL;
END
$$""",
    "DROP TRIGGER IF EXISTS trg_prospects_untombstone ON prospects",
    """CREATE TRIGGER trg_prospects_untombstone AFTER INSERT ON prospects
REFERENCING NEW TABLE AS dmledger_added
FOR EACH STATEMENT EXECUTE FUNCTION dmledger_untombstone_prospects()""",
    """CREATE OR REPLACE FUNCTION dmledger_tombstone_prospects() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO prospect_tombstones (target_username, row_version, deleted_at)
        SELECT d.target_username,
               pg_current_xact_id()::text::bigint + (SELECT version FROM sync_clock WHERE id = 1),
               timezone('UTC', clock_timestamp())
        FROM dmledger_removed d
        ON CONFLICT (target_username)
        DO UPDATE SET row_version = EXCLUDED.row_version, deleted_at = EXCLUDED.deleted_at;
    RETURN NULL;
END
$$""",
    "DROP TRIGGER IF EXISTS trg_prospects_tombstone ON prospects",
    """CREATE TRIGGER trg_prospects_tombstone AFTER DELETE ON prospects
REFERENCING OLD TABLE AS dmledger_removed
FOR EACH STATEMENT EXECUTE FUNCTION dmledger_tombstone_prospects()""",
)

# Wait, at most wait_ms, until every transaction open when called has ended: a pull
# sent next then reads what they committed. Each loop test takes a fresh snapshot
# (a VOLATILE function), all inside one statement, so waiting costs no round trip.
_PG_SETTLE = """CREATE OR REPLACE FUNCTION dmledger_settle(wait_ms integer) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    goal xid8 := pg_snapshot_xmax(pg_current_snapshot());
    deadline timestamptz := clock_timestamp() + wait_ms * interval '1 millisecond';
BEGIN
    LOOP
        IF pg_snapshot_xmin(pg_current_snapshot()) >= goal THEN
            RETURN true;
        END IF;
        IF clock_timestamp() >= deadline THEN
            RETURN false;
        END IF;
        PERFORM pg_sleep(0.01);
    END LOOP;
END
$$"""

# Objects of the clock-row design (schema version 3 and before) that version 4 drops.
PG_OBSOLETE = ("DROP FUNCTION IF EXISTS dmledger_tombstone_prospect() CASCADE",)
PG_FUNCTIONS = (
    "dmledger_stamp_prospect()",
    "dmledger_untombstone_prospects()",
    "dmledger_tombstone_prospects()",
    "dmledger_tombstone_prospect()",
    "dmledger_settle(integer)",
)


def pg_stamp_function(base: int) -> str:
    """The PostgreSQL row stamp, with the cursor base written in."""
    return _PG_STAMP.format(base=int(base))


# SQLite has no BEFORE-trigger assignment: AFTER triggers update the row once more.
# The insert trigger's stamping UPDATE sets row_version to the clock's value; the
# update trigger skips exactly that case, so one write takes one version. Any other
# update is stamped, including one by another tool that sets row_version itself.
_SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now') || '000'"
_SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER IF NOT EXISTS trg_prospects_stamp_insert AFTER INSERT ON prospects
FOR EACH ROW BEGIN
    UPDATE sync_clock SET version = version + 1 WHERE id = 1;
    UPDATE prospects SET row_version = (SELECT version FROM sync_clock WHERE id = 1),
        last_updated = {_SQLITE_NOW}
        WHERE target_username = NEW.target_username;
    DELETE FROM prospect_tombstones WHERE target_username = NEW.target_username;
END""",
    f"""CREATE TRIGGER IF NOT EXISTS trg_prospects_stamp_update AFTER UPDATE ON prospects
FOR EACH ROW WHEN NEW.row_version IS OLD.row_version
    OR NEW.row_version IS NOT (SELECT version FROM sync_clock WHERE id = 1) BEGIN
    UPDATE sync_clock SET version = version + 1 WHERE id = 1;
    UPDATE prospects SET row_version = (SELECT version FROM sync_clock WHERE id = 1),
        last_updated = {_SQLITE_NOW}
        WHERE target_username = NEW.target_username;
END""",
    f"""CREATE TRIGGER IF NOT EXISTS trg_prospects_tombstone AFTER DELETE ON prospects
FOR EACH ROW BEGIN
    UPDATE sync_clock SET version = version + 1 WHERE id = 1;
    INSERT OR REPLACE INTO prospect_tombstones (target_username, row_version, deleted_at)
        VALUES (OLD.target_username, (SELECT version FROM sync_clock WHERE id = 1),
                {_SQLITE_NOW});
END""",
)

_ORACLE_TRIGGERS = (
    """CREATE OR REPLACE TRIGGER trg_prospects_stamp
BEFORE INSERT OR UPDATE ON prospects
FOR EACH ROW
DECLARE
    v NUMBER;
BEGIN
    UPDATE sync_clock SET version = version + 1 WHERE id = 1 RETURNING version INTO v;
    :NEW.row_version := v;
    :NEW.last_updated := SYS_EXTRACT_UTC(SYSTIMESTAMP);
    IF INSERTING THEN
        DELETE FROM prospect_tombstones WHERE target_username = :NEW.target_username;
    END IF;
END;""",
    """CREATE OR REPLACE TRIGGER trg_prospects_tombstone
AFTER DELETE ON prospects
FOR EACH ROW
DECLARE
    v NUMBER;
BEGIN
    UPDATE sync_clock SET version = version + 1 WHERE id = 1 RETURNING version INTO v;
    MERGE INTO prospect_tombstones t
        USING (SELECT :OLD.target_username AS target_username FROM dual) s
        ON (t.target_username = s.target_username)
        WHEN MATCHED THEN UPDATE SET t.row_version = v,
            t.deleted_at = SYS_EXTRACT_UTC(SYSTIMESTAMP)
        WHEN NOT MATCHED THEN INSERT (target_username, row_version, deleted_at)
            VALUES (s.target_username, v, SYS_EXTRACT_UTC(SYSTIMESTAMP));
END;""",
)


def dialect_named(name: str) -> Dialect:
    """The SQLAlchemy dialect for ``oracle``, ``postgresql`` or ``sqlite``."""
    if name == "oracle":
        return oracle.dialect()  # type: ignore[no-untyped-call]
    if name == "postgresql":
        return postgresql.dialect()  # type: ignore[no-untyped-call]
    if name == "sqlite":
        return sqlite.dialect()
    raise InvalidInput(f"dialect {name!r} is not one of: {', '.join(DIALECTS)}")


def trigger_statements(dialect_name: str, *, base: int = 0) -> tuple[str, ...]:
    """The trigger DDL for one dialect, one statement per item (``base``: PostgreSQL's
    cursor base, see ``pg_stamp_function``)."""
    return {
        "postgresql": (pg_stamp_function(base), *_PG_TRIGGERS, _PG_SETTLE),
        "sqlite": _SQLITE_TRIGGERS,
        "oracle": _ORACLE_TRIGGERS,
    }[dialect_name]


# A random cloud identity, made by the database itself (so the printed DDL is the same
# every time it is rendered, and a worksheet run of it still makes a fresh id).
_RANDOM_ID = {
    "postgresql": "CAST(gen_random_uuid() AS VARCHAR(36))",
    "oracle": "LOWER(RAWTOHEX(SYS_GUID()))",
    "sqlite": "lower(hex(randomblob(16)))",
}


def cloud_id_statement(dialect_name: str) -> str:
    """Insert a new random ``cloud_id`` into ``dmledger_info`` (there must be none)."""
    return (
        "INSERT INTO dmledger_info (info_key, info_value) "
        f"VALUES ('cloud_id', {_RANDOM_ID[dialect_name]})"
    )


def seed_rows_statements(dialect_name: str) -> tuple[str, ...]:
    """Rows every schema needs: the clock, the schema version and the cloud identity."""
    return (
        "INSERT INTO sync_clock (id, version, purged_through) VALUES (1, 0, 0)",
        "INSERT INTO dmledger_info (info_key, info_value) "
        f"VALUES ('schema_version', '{tables.SCHEMA_VERSION}')",
        cloud_id_statement(dialect_name),
    )


def create_statements(dialect_name: str) -> Iterator[str]:
    """Every statement that creates the current schema on an empty database, in order."""
    dialect = dialect_named(dialect_name)
    for table in (*tables.SEED_TABLES, *tables.ADDED_TABLES):
        yield str(CreateTable(table).compile(dialect=dialect)).strip()
    for index in tables.INDEXES:
        yield str(CreateIndex(index).compile(dialect=dialect)).strip()
    yield from trigger_statements(dialect_name)
    yield from rollups.create_statements(dialect)
    yield from seed_rows_statements(dialect_name)


def render_script(dialect_name: str) -> str:
    """The whole schema as one SQL script for a SQL worksheet or a DBA.

    Oracle PL/SQL blocks end with ``/`` on a line of their own, as SQL*Plus and the
    SQL worksheet expect; every other statement ends with ``;``.
    """
    dialect_named(dialect_name)  # refuse unknown names before rendering anything
    parts = [f"-- DM Ledger cloud schema, version {tables.SCHEMA_VERSION}, for {dialect_name}"]
    if dialect_name != "oracle":
        # One transaction, so the closing COMMIT has one to end (SQLite refuses a bare
        # COMMIT) and a failure halfway leaves nothing behind. Oracle commits DDL itself.
        parts.append("BEGIN;")
    for statement in create_statements(dialect_name):
        if dialect_name == "oracle" and statement.startswith("CREATE OR REPLACE TRIGGER"):
            parts.append(statement + "\n/")
        elif statement.rstrip().endswith(";") and dialect_name != "oracle":
            parts.append(statement)
        else:
            parts.append(statement + ";")
    parts.append("COMMIT;")
    return "\n\n".join(parts) + "\n"


def add_column_statement(table: sa.Table, column: sa.Column[object], dialect: Dialect) -> str:
    """``ALTER TABLE … ADD …`` for a nullable column, in the dialect's own words."""
    type_sql = column.type.compile(dialect=dialect)
    keyword = "ADD" if dialect.name == "oracle" else "ADD COLUMN"
    return f"ALTER TABLE {table.name} {keyword} {column.name} {type_sql}"
