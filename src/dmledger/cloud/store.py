"""The cloud store: the one object through which DM Ledger talks to the shared database.

``CloudStore`` holds the engine, the transactions and the statements about the schema,
the people and the tombstones; the rest of its methods hand over to one module each:
``push`` (DMs and edits), ``pull`` (the header and pages), ``upgrade`` (the schema
version chain) and ``upsert`` (insert-if-absent and the contact upsert, per dialect).
Set-based and batched: a push of N rows costs N/batch round trips.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from dmledger.cloud import ddl, pull, push, rollups, schema, upsert
from dmledger.cloud import upgrade as upgrading
from dmledger.cloud.driver_errors import translate
from dmledger.cloud.engine import redact_url
from dmledger.cloud.schema import (
    actors,
    dmledger_info,
    operators,
    outreach_logs,
    prospect_tombstones,
    sync_clock,
)
from dmledger.domain.records import (
    ActorRow,
    CloudHeader,
    CloudInfo,
    Cursor,
    Edit,
    OutgoingLog,
    PulledRow,
)
from dmledger.errors import CloudError, CloudSchemaError, CloudUnavailable, NotFound

log = logging.getLogger(__name__)

Row = dict[str, Any]

# How long a push waits for older transactions to end so that its own rows come back in
# the same sync (PostgreSQL). A longer transaction only delays them to a later sync.
SETTLE_WAIT = 2.0


# What makes a transaction's reads one snapshot (see ``CloudStore.snapshot``).
_SNAPSHOT_OPTIONS: dict[str, dict[str, Any]] = {
    "postgresql": {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True},
    "oracle": {"isolation_level": "SERIALIZABLE"},
}


class CloudStore:
    """The shared database, through one SQLAlchemy Engine.

    Methods that write take a Connection from ``transaction()`` so a caller groups
    statements into one commit; read methods open their own autocommit connection
    (one round trip per statement, no COMMIT to pay for).
    """

    def __init__(self, engine: sa.Engine, url: str | None = None) -> None:
        self.engine = engine
        self.url = url or engine.url.render_as_string(hide_password=True)
        self.dialect = engine.dialect.name
        self.settle_wait = SETTLE_WAIT

    # -- connections -------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """One cloud transaction: committed on success, rolled back on any error.

        Driver errors come out as DM Ledger errors (CloudUnavailable for a lost
        connection). The original SQLAlchemy error is kept as ``__cause__``.
        """
        with self._translated(), self.engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def reading(self) -> Iterator[sa.Connection]:
        """An autocommit connection for reads: each statement is one round trip."""
        with self._translated(), self.engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[sa.Connection]:
        """Reads that all see the same moment, whatever commits meanwhile: one read-only
        transaction (PostgreSQL ``BEGIN READ ONLY ISOLATION LEVEL REPEATABLE READ``;
        Oracle SERIALIZABLE, checked on paper only; SQLite's WAL snapshot from an
        explicit BEGIN, which pysqlite sends only before a write). For a page of
        figures that must add up; a BEGIN and a COMMIT more than ``reading``."""
        options: dict[str, Any] = _SNAPSHOT_OPTIONS.get(self.dialect, {})
        with self._translated(), self.engine.connect() as opened:
            conn = opened.execution_options(**options)
            with conn.begin():
                if self.dialect == "sqlite":
                    conn.exec_driver_sql("BEGIN")
                yield conn

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """Driver and socket errors raised inside come out as DM Ledger errors
        (``driver_errors.translate``), the original kept as ``__cause__``."""
        try:
            yield
        except sa.exc.SQLAlchemyError as error:
            raise translate(error, self.url) from error
        except OSError as error:
            raise translate(error, self.url) from error

    def dispose(self) -> None:
        self.engine.dispose()

    # -- schema ------------------------------------------------------------------

    def existing_tables(self) -> set[str]:
        with self.reading() as conn:
            return {name.lower() for name in sa.inspect(conn).get_table_names()}

    def schema_version(self) -> int | None:
        """1 for a seed-only database, the recorded version for ours, None when empty."""
        tables = self.existing_tables()
        if "dmledger_info" in tables:
            with self.reading() as conn:
                value = conn.execute(
                    sa.select(dmledger_info.c.info_value).where(
                        dmledger_info.c.info_key == "schema_version"
                    )
                ).scalar_one_or_none()
            return int(value) if value is not None else None
        if {t.name for t in schema.SEED_TABLES} <= tables:
            return 1
        return None

    def init_schema(self) -> bool:
        """Create the schema if the database is empty. Returns True if it created it.

        Idempotent: a database already at the current version is left alone; a seed
        database is refused with the advice to run ``cloud upgrade``.
        """
        version = self.schema_version()
        if version == schema.SCHEMA_VERSION:
            return False
        if version == 1:
            raise CloudSchemaError(
                "the cloud holds the seed's schema: run `dmledger cloud upgrade` to bring it "
                "to the current version without losing a row"
            )
        if version is not None and version > schema.SCHEMA_VERSION:
            raise CloudSchemaError(
                f"the cloud schema is version {version}, newer than this agent knows "
                f"({schema.SCHEMA_VERSION}): upgrade DM Ledger"
            )
        with self.transaction() as conn:
            for statement in ddl.create_statements(self.dialect):
                conn.exec_driver_sql(statement)
        log.info("created the cloud schema at %s", self.url)
        return True

    def upgrade(self) -> list[str]:
        """Bring a database at an earlier schema version (the seed's is 1) to the
        current one, keeping every row as it is; the steps taken (see ``upgrade``)."""
        return upgrading.upgrade(self)

    def rebase_cursor(self) -> str:
        """PostgreSQL: raise the cursor base above every version in the tables (after
        loading rows with chosen versions, or restoring a dump into another cluster)."""
        return upgrading.rebase_cursor(self)

    def reset(self) -> None:
        """The seed's factory reset: drop every DM Ledger table and create them empty."""
        with self.transaction() as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql("DROP TRIGGER IF EXISTS trg_prospects_stamp ON prospects")
            rollups.drop(conn)
            for table in reversed((*schema.SEED_TABLES, *schema.ADDED_TABLES)):
                table.drop(conn, checkfirst=True)
            if self.dialect == "postgresql":
                for function in ddl.PG_FUNCTIONS:
                    conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {function}")
            for statement in ddl.create_statements(self.dialect):
                conn.exec_driver_sql(statement)

    def require_schema(self) -> None:
        version = self.schema_version()
        if version is None:
            raise CloudSchemaError("the cloud has no DM Ledger schema: run `dmledger cloud init`")
        if version != schema.SCHEMA_VERSION:
            raise CloudSchemaError(
                f"the cloud schema is version {version}, this agent needs "
                f"{schema.SCHEMA_VERSION}: run `dmledger cloud upgrade`"
            )

    def check(self) -> CloudInfo:
        """Reachable? Schema version? Round-trip time (median of three ``SELECT 1``)?"""
        info = CloudInfo(url=redact_url(self.url), backend=self.dialect, reachable=False)
        probe = "SELECT 1 FROM dual" if self.dialect == "oracle" else "SELECT 1"
        try:
            with self.reading() as conn:
                timings = []
                for _ in range(3):
                    started = time.perf_counter()
                    conn.exec_driver_sql(probe).scalar()
                    timings.append((time.perf_counter() - started) * 1000)
                info.round_trip_ms = sorted(timings)[1]
                info.server_version = ".".join(
                    str(p) for p in (conn.dialect.server_version_info or ())
                )
        except CloudUnavailable as error:
            info.message = str(error)
            return info
        info.reachable = True
        info.schema_version = self.schema_version()
        if info.schema_version == schema.SCHEMA_VERSION:
            info.demo_data = self.info_value("demo_data") == "true"
            info.counts = self.counts()
        return info

    def info_value(self, key: str) -> str | None:
        with self.reading() as conn:
            value = conn.execute(
                sa.select(dmledger_info.c.info_value).where(dmledger_info.c.info_key == key)
            ).scalar_one_or_none()
        return None if value is None else str(value)

    def set_info(self, conn: sa.Connection, key: str, value: str) -> None:
        conn.execute(sa.delete(dmledger_info).where(dmledger_info.c.info_key == key))
        conn.execute(sa.insert(dmledger_info).values(info_key=key, info_value=value))

    def counts(self) -> dict[str, int]:
        with self.reading() as conn:
            return {
                table.name: int(
                    conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                )
                for table in schema.SEED_TABLES
            }

    def current_schema(self) -> str | None:
        """The schema holding the tables (PostgreSQL and Oracle), for grants."""
        if self.dialect == "postgresql":
            query = "SELECT current_schema()"
        elif self.dialect == "oracle":
            query = "SELECT SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA') FROM dual"
        else:
            return None
        with self.reading() as conn:
            value = conn.exec_driver_sql(query).scalar()
        return None if value is None else str(value)

    def run_statements(self, statements: Sequence[str]) -> None:
        """Run administrative statements (grants) in one transaction."""
        with self.transaction() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)

    # -- people --------------------------------------------------------------------

    def add_operator(self, name: str) -> bool:
        """Register an operator; False when it already existed."""
        with self.transaction() as conn:
            return (
                self.insert_ignore(conn, operators, [{"operator_name": name}], ["operator_name"])
                > 0
            )

    def list_operators(self) -> list[str]:
        with self.reading() as conn:
            return [
                str(r[0])
                for r in conn.execute(
                    sa.select(operators.c.operator_name).order_by(operators.c.operator_name)
                )
            ]

    def add_actor(self, username: str, operator: str) -> bool:
        """Register an actor owned by ``operator`` (which must exist)."""
        with self.transaction() as conn:
            known = conn.execute(
                sa.select(operators.c.operator_name).where(operators.c.operator_name == operator)
            ).first()
            if known is None:
                raise NotFound(
                    f"operator {operator!r} is not registered: add it with "
                    f"`dmledger operator add {operator}`"
                )
            return (
                self.insert_ignore(
                    conn,
                    actors,
                    [{"username": username, "owner_operator": operator, "status": "active"}],
                    ["username"],
                )
                > 0
            )

    def list_actors(self) -> list[ActorRow]:
        with self.reading() as conn:
            rows = conn.execute(
                sa.select(actors.c.username, actors.c.owner_operator, actors.c.status).order_by(
                    actors.c.username
                )
            )
            return [ActorRow(r.username, r.owner_operator, r.status or "active") for r in rows]

    def set_actor_status(self, username: str, status: str) -> None:
        with self.transaction() as conn:
            result = conn.execute(
                sa.update(actors).where(actors.c.username == username).values(status=status)
            )
            if result.rowcount == 0:
                raise NotFound(f"actor {username!r} is not registered in the cloud")

    def ensure_people(
        self, conn: sa.Connection, operator_names: Sequence[str], actor_rows: Sequence[ActorRow]
    ) -> None:
        """Make sure the operators and actors a batch of logs refers to exist (insert-ignore)."""
        if operator_names:
            self.insert_ignore(
                conn,
                operators,
                [{"operator_name": n} for n in sorted(set(operator_names))],
                ["operator_name"],
            )
        if actor_rows:
            rows = {
                a.username: {
                    "username": a.username,
                    "owner_operator": a.owner_operator,
                    "status": a.status,
                }
                for a in actor_rows
            }
            self.insert_ignore(conn, actors, list(rows.values()), ["username"])

    # -- push ----------------------------------------------------------------------

    def push_logs(self, conn: sa.Connection, batch: Sequence[OutgoingLog]) -> None:
        """Apply a batch of DMs (idempotent; see ``push.push_logs``)."""
        push.push_logs(self, conn, batch)

    def push_edits(self, conn: sa.Connection, edits: Sequence[Edit]) -> list[Edit]:
        """Apply outbox edits in order; the edits dropped because their lead is not in
        the cloud (see ``push.push_edits``)."""
        return push.push_edits(self, conn, edits)

    def delete_prospects(self, conn: sa.Connection, handles: Sequence[str]) -> None:
        """Delete leads and their DMs; the trigger leaves a tombstone for every cache."""
        push.delete_prospects(conn, handles)

    # -- pull ----------------------------------------------------------------------

    def header(
        self, conn: sa.Connection, *, with_count: bool = False, settle: bool = False
    ) -> CloudHeader:
        """The clock, the tombstone horizon, operators and actors in one statement
        (``with_count`` and ``settle``: see ``pull.header``)."""
        return pull.header(self, conn, with_count=with_count, settle=settle)

    def pull_page(self, conn: sa.Connection, after: Cursor, limit: int) -> list[PulledRow]:
        """Prospect changes and deletions after ``after`` in (version, handle) order."""
        return pull.pull_page(self, conn, after, limit)

    def header_and_page(
        self, conn: sa.Connection, after: Cursor, limit: int, *, settle: bool = False
    ) -> tuple[CloudHeader, list[PulledRow]]:
        """The header, then the first page after ``after``: one round trip on
        PostgreSQL (see ``pull.header_and_page``)."""
        return pull.header_and_page(self, conn, after, limit, settle=settle)

    def settle(self, timeout: float | None = None) -> bool:
        """PostgreSQL: wait, at most ``timeout`` (default ``settle_wait``), until every
        transaction open now has ended, so a pull sent next reads what they committed
        (a push's own rows among them). False when one is still open: its rows, and
        those after it, come with a later sync. One round trip; SQLite and Oracle are
        settled at commit.
        """
        if self.dialect != "postgresql":
            return True
        with self.reading() as conn:
            wait = self.settle_wait if timeout is None else timeout
            return bool(conn.execute(sa.select(pull.settling(self.dialect, wait))).scalar_one())

    def database_now(self) -> datetime:
        """The cloud database's clock, in UTC (sessions run in UTC)."""
        with self.reading() as conn:
            return pull.naive_utc(conn.execute(sa.select(pull.now_of(self.dialect))).scalar_one())

    def purge_tombstones_older_than(self, days: int) -> int:
        """Drop tombstones older than ``days`` by the database's clock (never a client's)."""
        return self.purge_tombstones(self.database_now() - timedelta(days=days))

    def purge_tombstones(self, older_than: datetime) -> int:
        """Drop tombstones deleted before ``older_than`` (UTC); caches behind them resync."""
        with self.transaction() as conn:
            top = conn.execute(
                sa.select(sa.func.max(prospect_tombstones.c.row_version)).where(
                    prospect_tombstones.c.deleted_at < older_than
                )
            ).scalar_one_or_none()
            if top is None:
                return 0
            # The clock row first, as every SQLite and Oracle writer takes it: a writer
            # re-adding a lead holds the clock, then deletes its tombstone; the other
            # order deadlocks. PostgreSQL writers take no clock: the purge waits only
            # for a writer holding one of the tombstones it deletes.
            conn.execute(
                sa.update(sync_clock)
                .where(sync_clock.c.id == 1)
                .values(
                    purged_through=sa.func.greatest(sync_clock.c.purged_through, top)
                    if self.dialect != "sqlite"
                    else sa.func.max(sync_clock.c.purged_through, top)
                )
            )
            deleted = conn.execute(
                sa.delete(prospect_tombstones).where(prospect_tombstones.c.row_version <= top)
            ).rowcount
            return int(deleted)

    # -- reads for people ----------------------------------------------------------

    def logs_for(self, handle: str, limit: int = 50) -> list[Row]:
        """The team's DMs to one lead, newest first (for the lead page)."""
        with self.reading() as conn:
            rows = conn.execute(
                sa.select(
                    outreach_logs.c.client_log_id,
                    outreach_logs.c.actor_username,
                    outreach_logs.c.operator_name,
                    outreach_logs.c.message_text,
                    outreach_logs.c.created_at,
                )
                .where(outreach_logs.c.target_username == handle)
                .order_by(outreach_logs.c.created_at.desc())
                .limit(limit)
            )
            return [dict(r._mapping) for r in rows]

    # -- helpers -------------------------------------------------------------------

    def insert_ignore(
        self, conn: sa.Connection, table: sa.Table, rows: Sequence[Row], keys: Sequence[str]
    ) -> int:
        """Insert-if-absent for the other cloud statement modules (``followups``)."""
        return upsert.insert_ignore(conn, self.dialect, table, rows, keys)


__all__ = ["CloudError", "CloudStore"]
