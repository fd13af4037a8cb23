"""The cloud store: the one object through which DM Ledger talks to the shared database.

``CloudStore`` holds the statements about the schema's life, the people and the
tombstones; the rest of its methods hand over to one room each, passing a connection
or the database handle (``connecting.CloudDatabase``), never itself: ``exchange``
(push, pull, insert-if-absent), ``schema`` (DDL and the upgrade chain).
Set-based and batched: a push of N rows costs N/batch round trips.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from dmledger.cloud import tables
from dmledger.cloud.analytics import rollups
from dmledger.cloud.connecting.database import CloudDatabase
from dmledger.cloud.exchange import pull, push, upsert
from dmledger.cloud.schema import ddl, version
from dmledger.cloud.schema import upgrade as upgrading
from dmledger.cloud.tables import (
    actors,
    dmledger_info,
    operators,
    outreach_logs,
    prospect_tombstones,
    sync_clock,
)
from dmledger.cloud.urls import redact_url
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


class CloudStore:
    """The shared database as the rest of DM Ledger sees it: its schema's life (init,
    upgrade, reset, check), the people, the tombstones, and the front of the sync
    statements (push and pull run in the caller's connection).

    Methods that write take a Connection from ``transaction()`` so a caller groups
    statements into one commit; read methods open their own autocommit connection
    (one round trip per statement, no COMMIT to pay for). ``db`` is the database
    handle the upgrade chain and the Team fold take.
    """

    def __init__(self, engine: sa.Engine, url: str | None = None) -> None:
        self.db = CloudDatabase(engine, url)
        self.engine = engine
        self.url = self.db.url
        self.dialect = self.db.dialect
        self.settle_wait = SETTLE_WAIT

    # -- connections: the database handle's ------------------------------------------

    def transaction(self) -> contextlib.AbstractContextManager[sa.Connection]:
        """One cloud transaction (``CloudDatabase.transaction``)."""
        return self.db.transaction()

    def reading(self) -> contextlib.AbstractContextManager[sa.Connection]:
        """An autocommit connection for reads (``CloudDatabase.reading``)."""
        return self.db.reading()

    def snapshot(self) -> contextlib.AbstractContextManager[sa.Connection]:
        """Reads that all see the same moment (``CloudDatabase.snapshot``)."""
        return self.db.snapshot()

    def dispose(self) -> None:
        self.db.dispose()

    # -- schema ------------------------------------------------------------------

    def existing_tables(self) -> set[str]:
        return self.db.existing_tables()

    def schema_version(self) -> int | None:
        """1 for a seed-only database, the recorded version for ours, None when empty."""
        return version.schema_version(self.db)

    def init_schema(self) -> bool:
        """Create the schema if the database is empty. Returns True if it created it.

        Idempotent: a database already at the current version is left alone; a seed
        database is refused with the advice to run ``cloud upgrade``.
        """
        version = self.schema_version()
        if version == tables.SCHEMA_VERSION:
            return False
        if version == 1:
            raise CloudSchemaError(
                "the cloud holds the seed's schema: run `dmledger cloud upgrade` to bring it "
                "to the current version without losing a row"
            )
        if version is not None and version > tables.SCHEMA_VERSION:
            raise CloudSchemaError(
                f"the cloud schema is version {version}, newer than this agent knows "
                f"({tables.SCHEMA_VERSION}): upgrade DM Ledger"
            )
        with self.transaction() as conn:
            for statement in ddl.create_statements(self.dialect):
                conn.exec_driver_sql(statement)
        log.info("created the cloud schema at %s", self.url)
        return True

    def upgrade(self) -> list[str]:
        """Bring a database at an earlier schema version (the seed's is 1) to the
        current one, keeping every row as it is; the steps taken (see ``upgrade``)."""
        return upgrading.upgrade(self.db)

    def rebase_cursor(self) -> str:
        """PostgreSQL: raise the cursor base above every version in the tables (after
        loading rows with chosen versions, or restoring a dump into another cluster)."""
        return upgrading.rebase_cursor(self.db)

    def reset(self) -> None:
        """The seed's factory reset: drop every DM Ledger table and create them empty."""
        with self.transaction() as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql("DROP TRIGGER IF EXISTS trg_prospects_stamp ON prospects")
            rollups.drop(conn)
            for table in reversed((*tables.SEED_TABLES, *tables.ADDED_TABLES)):
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
        if version != tables.SCHEMA_VERSION:
            raise CloudSchemaError(
                f"the cloud schema is version {version}, this agent needs "
                f"{tables.SCHEMA_VERSION}: run `dmledger cloud upgrade`"
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
        if info.schema_version == tables.SCHEMA_VERSION:
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
                for table in tables.SEED_TABLES
            }

    def current_schema(self) -> str | None:
        """The schema holding the tables (PostgreSQL and Oracle), for grants."""
        return self.db.current_schema()

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
        push.push_logs(conn, batch)

    def push_edits(self, conn: sa.Connection, edits: Sequence[Edit]) -> list[Edit]:
        """Apply outbox edits in order; the edits dropped because their lead is not in
        the cloud (see ``push.push_edits``)."""
        return push.push_edits(conn, edits)

    def delete_prospects(self, conn: sa.Connection, handles: Sequence[str]) -> None:
        """Delete leads and their DMs; the trigger leaves a tombstone for every cache."""
        push.delete_prospects(conn, handles)

    # -- pull ----------------------------------------------------------------------

    def header(
        self, conn: sa.Connection, *, with_count: bool = False, settle: bool = False
    ) -> CloudHeader:
        """The clock, the tombstone horizon, operators and actors in one statement
        (``with_count`` and ``settle``: see ``pull.header``)."""
        return pull.header(conn, with_count=with_count, settle_wait=self._settle_wait(settle))

    def pull_page(self, conn: sa.Connection, after: Cursor, limit: int) -> list[PulledRow]:
        """Prospect changes and deletions after ``after`` in (version, handle) order."""
        return pull.pull_page(conn, after, limit)

    def header_and_page(
        self, conn: sa.Connection, after: Cursor, limit: int, *, settle: bool = False
    ) -> tuple[CloudHeader, list[PulledRow]]:
        """The header, then the first page after ``after``: one round trip on
        PostgreSQL (see ``pull.header_and_page``)."""
        return pull.header_and_page(conn, after, limit, settle_wait=self._settle_wait(settle))

    def _settle_wait(self, settle: bool) -> float | None:
        """How long a header waits for older transactions (``settle``), or None."""
        return self.settle_wait if settle else None

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
