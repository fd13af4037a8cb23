"""The upgrade chain: a cloud at an earlier schema version brought to the current one.

Called through ``CloudStore.upgrade`` with its database handle. A seed database
(version 1) goes to the current version in one transaction; from version 2 on,
``STEPS`` maps each version to the step that takes it one version up, in its own
transaction, recording the version it reached so a stopped upgrade resumes at the
next step. A new schema version adds one
``_upgrade_from_N`` and one entry in ``STEPS``.

PostgreSQL's cursor base (``rebase``) lives here too: an upgrade and a restored dump
are the two times it must move.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa

from dmledger.cloud import tables
from dmledger.cloud.analytics import fold, rollups
from dmledger.cloud.analytics.rollups import ROLLUP_VERSION
from dmledger.cloud.exchange import pull
from dmledger.cloud.schema import ddl
from dmledger.cloud.schema.version import schema_version, set_schema_version
from dmledger.cloud.tables import dmledger_info, prospect_tombstones, prospects, sync_clock
from dmledger.errors import CloudSchemaError

if TYPE_CHECKING:
    from dmledger.cloud.connecting.database import CloudDatabase


def upgrade(db: CloudDatabase) -> list[str]:
    """Bring a database at any earlier schema version to the current one, keeping every
    row as it is.

    Returns the steps taken (empty when already current). A seed database (version 1)
    goes to the current version in one step; a later one runs each step of ``STEPS``
    from its version up, each in its own transaction, recording its version.
    """
    version = schema_version(db)
    if version == tables.SCHEMA_VERSION:
        with db.transaction() as conn:
            refreshed = rollups.refresh(conn)
        return refreshed + rebase_if_behind(db)
    if version is None:
        raise CloudSchemaError("the cloud is empty: run `dmledger cloud init` instead")
    if version == 1:
        return _upgrade_from_1(db)
    if version not in STEPS:
        raise CloudSchemaError(f"cannot upgrade from schema version {version}")
    done: list[str] = []
    for start in range(version, tables.SCHEMA_VERSION):
        done += STEPS[start](db)
    return done


def _upgrade_from_1(db: CloudDatabase) -> list[str]:
    """The seed's schema to the current one. New columns are added nullable;
    ``row_version`` is set to 0 before the triggers exist, so no seed column of any
    row changes."""
    steps: list[str] = []
    with db.transaction() as conn:
        steps += add_columns(conn, tables.ADDED_COLUMNS)
        conn.execute(sa.update(prospects).values(row_version=0))
        steps.append("UPDATE prospects SET row_version = 0")
        for table in tables.ADDED_TABLES:
            table.create(conn)
            steps.append(f"CREATE TABLE {table.name}")
        if db.dialect != "sqlite":
            # SQLite cannot add a foreign key to an existing table; the agent
            # checks operators itself before it writes there.
            conn.exec_driver_sql(
                "ALTER TABLE outreach_logs ADD CONSTRAINT fk_log_operator "
                "FOREIGN KEY (operator_name) REFERENCES operators (operator_name)"
            )
            steps.append("ADD CONSTRAINT fk_log_operator")
        added = {t.name for t in tables.ADDED_TABLES}
        for index in tables.INDEXES:
            if index.table is not None and index.table.name in added:
                continue  # Table.create above already made the indexes of a new table
            index.create(conn)
            steps.append(f"CREATE INDEX {index.name}")
        for statement in ddl.trigger_statements(db.dialect):
            conn.exec_driver_sql(statement)
        steps.append("CREATE TRIGGERS")
        for statement in ddl.seed_rows_statements(db.dialect):
            conn.exec_driver_sql(statement)
        steps += fold.install(conn)
        # The clock starts above every version handed out so far (all 0).
        if db.dialect == "postgresql":
            steps.append(rebase(conn))
        steps.append(f"schema_version = {tables.SCHEMA_VERSION}")
    return steps


def _upgrade_from_2(db: CloudDatabase) -> list[str]:
    """Version 2 to 3: the notes_replaced column and, once, the cloud identity."""
    steps: list[str] = []
    with db.transaction() as conn:
        steps += add_columns(conn, tables.ADDED_COLUMNS_V3)
        known = conn.execute(
            sa.select(dmledger_info.c.info_value).where(dmledger_info.c.info_key == "cloud_id")
        ).first()
        if known is None:
            conn.exec_driver_sql(ddl.cloud_id_statement(db.dialect))
            steps.append("cloud_id made")
        set_schema_version(conn, 3)
    return steps


def _upgrade_from_3(db: CloudDatabase) -> list[str]:
    """Version 3 to 4: PostgreSQL's clock row gives way to the transaction-id cursor.

    The base is set above every version the clock handed out, so every cache's
    cursor stays valid and no home needs a full resync. SQLite and Oracle keep
    their clock; only the version number changes there.
    """
    steps: list[str] = []
    with db.transaction() as conn:
        if db.dialect == "postgresql":
            for statement in ddl.PG_OBSOLETE:
                conn.exec_driver_sql(statement)
            steps.append(rebase(conn))
            for statement in ddl.trigger_statements(db.dialect)[1:]:
                conn.exec_driver_sql(statement)
            steps.append("CREATE TRIGGERS (transaction-id cursor)")
        set_schema_version(conn, 4)
        steps.append("schema_version = 4")
    return steps


def _upgrade_from_4(db: CloudDatabase) -> list[str]:
    """Version 4 to 5: follow-ups, replies and templates (new objects only)."""
    steps: list[str] = []
    with db.transaction() as conn:
        steps += add_columns(conn, tables.ADDED_COLUMNS_V5)
        for table in tables.ADDED_TABLES_V5:
            table.create(conn)
            steps.append(f"CREATE TABLE {table.name}")
        for index in tables.INDEXES_V5:
            if index.table is not None and index.table in tables.ADDED_TABLES_V5:
                continue  # Table.create above already made the indexes of a new table
            index.create(conn)
            steps.append(f"CREATE INDEX {index.name}")
        set_schema_version(conn, 5)
        steps.append(f"schema_version = {tables.SCHEMA_VERSION}")
    return steps


def _upgrade_from_5(db: CloudDatabase) -> list[str]:
    """Version 5 to 6: the Team page's rollups, filled once from the raw logs."""
    with db.transaction() as conn:
        steps = fold.install(conn)
        set_schema_version(conn, ROLLUP_VERSION)
    return [*steps, f"schema_version = {ROLLUP_VERSION}"]


def add_columns(
    conn: sa.Connection, columns: Sequence[tuple[sa.Table, sa.Column[object]]]
) -> list[str]:
    """ALTER TABLE … ADD each (table, column); returns the statements run."""
    statements = [
        ddl.add_column_statement(table, column, conn.dialect) for table, column in columns
    ]
    for statement in statements:
        conn.exec_driver_sql(statement)
    return statements


def rebase_if_behind(db: CloudDatabase) -> list[str]:
    """PostgreSQL: rebase when a version in the tables is at or above the watermark
    (a dump restored into a cluster with lower transaction ids); else nothing."""
    if db.dialect != "postgresql":
        return []
    top = sa.func.greatest(
        sa.select(sa.func.coalesce(sa.func.max(prospects.c.row_version), 0)).scalar_subquery(),
        sa.select(
            sa.func.coalesce(sa.func.max(prospect_tombstones.c.row_version), 0)
        ).scalar_subquery(),
    )
    with db.reading() as conn:
        behind = conn.execute(
            sa.select(top >= pull.watermark_of(db.dialect)).where(sync_clock.c.id == 1)
        ).scalar_one()
    return [rebase_cursor(db)] if behind else []


def rebase_cursor(db: CloudDatabase) -> str:
    """PostgreSQL: raise the cursor base above every version in the tables (after
    loading rows with chosen versions, or restoring a dump into another cluster)."""
    if db.dialect != "postgresql":
        raise CloudSchemaError("only a PostgreSQL cloud has a cursor base")
    with db.transaction() as conn:
        return rebase(conn)


def rebase(conn: sa.Connection) -> str:
    """Set PostgreSQL's cursor base so that every version stamped from now on, and
    the watermark, are above every version already handed out.

    Writers of prospects are held off (``SHARE ROW EXCLUSIVE`` waits for those
    running, then blocks new ones) until this transaction commits, so no row is
    stamped with the old base after the watermark moved to the new one.
    """
    conn.exec_driver_sql("LOCK TABLE prospects, prospect_tombstones IN SHARE ROW EXCLUSIVE MODE")
    old, xmin, top = conn.exec_driver_sql(
        "SELECT c.version, pg_snapshot_xmin(pg_current_snapshot())::text::bigint, "
        "GREATEST(c.version, "
        "(SELECT COALESCE(MAX(row_version), 0) FROM prospects), "
        "(SELECT COALESCE(MAX(row_version), 0) FROM prospect_tombstones)) "
        "FROM sync_clock c WHERE c.id = 1"
    ).one()
    base = max(int(old), int(top) + 1 - int(xmin))
    conn.exec_driver_sql(ddl.pg_stamp_function(base))
    conn.execute(sa.update(sync_clock).where(sync_clock.c.id == 1).values(version=base))
    return f"cursor base = {base}"


#: The step that takes a cloud from each version (the key) to the next.
STEPS: dict[int, Callable[[CloudDatabase], list[str]]] = {
    2: _upgrade_from_2,
    3: _upgrade_from_3,
    4: _upgrade_from_4,
    5: _upgrade_from_5,
}
