"""The cloud store: every statement DM Ledger sends to the shared database.

Set-based and batched: a push of N rows costs N/batch round trips. Where dialects
differ (PostgreSQL and SQLite ``ON CONFLICT``, Oracle ``MERGE``; row-value keyset
comparison), the variants sit side by side in one function.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from dmledger.cloud import ddl, schema
from dmledger.cloud import followups as fu
from dmledger.cloud.engine import backend_of, redact_url, translate
from dmledger.cloud.schema import (
    actors,
    dmledger_info,
    operators,
    outreach_logs,
    prospect_tombstones,
    prospects,
    sync_clock,
)
from dmledger.domain.notes import merge_note
from dmledger.domain.records import (
    ActorRow,
    CloudHeader,
    CloudInfo,
    Cursor,
    Edit,
    OutgoingLog,
    PulledRow,
)
from dmledger.domain.text import MESSAGE_MAX_BYTES, NOTES_MAX_BYTES, fit_bytes
from dmledger.errors import CloudError, CloudSchemaError, CloudUnavailable, NotFound

log = logging.getLogger(__name__)

Row = dict[str, Any]

# How long a push waits for older transactions to end so that its own rows come back in
# the same sync (PostgreSQL). A longer transaction only delays them to a later sync.
SETTLE_WAIT = 2.0


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
        try:
            with self.engine.begin() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as error:
            raise translate(error, self.url) from error
        except OSError as error:
            raise translate(error, self.url) from error

    @contextlib.contextmanager
    def reading(self) -> Iterator[sa.Connection]:
        """An autocommit connection for reads: each statement is one round trip."""
        try:
            with self.engine.connect() as conn:
                yield conn.execution_options(isolation_level="AUTOCOMMIT")
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
        """Bring a seed-schema database to the current schema, keeping every row as it is.

        Returns the steps taken (empty when already current). New columns are added
        nullable; ``row_version`` is set to 0 before the triggers exist, so no seed
        column of any row changes.
        """
        version = self.schema_version()
        if version == schema.SCHEMA_VERSION:
            return self._rebase_if_behind()
        if version is None:
            raise CloudSchemaError("the cloud is empty: run `dmledger cloud init` instead")
        if version in (2, 3, 4):
            done = self._upgrade_from_2() if version == 2 else []
            if version <= 3:
                done += self._upgrade_from_3()
            return done + self._upgrade_from_4()
        if version != 1:
            raise CloudSchemaError(f"cannot upgrade from schema version {version}")
        steps: list[str] = []
        with self.transaction() as conn:
            steps += self._add_columns(conn, schema.ADDED_COLUMNS)
            conn.execute(sa.update(prospects).values(row_version=0))
            steps.append("UPDATE prospects SET row_version = 0")
            for table in schema.ADDED_TABLES:
                table.create(conn)
                steps.append(f"CREATE TABLE {table.name}")
            if self.dialect != "sqlite":
                # SQLite cannot add a foreign key to an existing table; the agent
                # checks operators itself before it writes there.
                conn.exec_driver_sql(
                    "ALTER TABLE outreach_logs ADD CONSTRAINT fk_log_operator "
                    "FOREIGN KEY (operator_name) REFERENCES operators (operator_name)"
                )
                steps.append("ADD CONSTRAINT fk_log_operator")
            added = {t.name for t in schema.ADDED_TABLES}
            for index in schema.INDEXES:
                if index.table is not None and index.table.name in added:
                    continue  # Table.create above already made the indexes of a new table
                index.create(conn)
                steps.append(f"CREATE INDEX {index.name}")
            for statement in ddl.trigger_statements(self.dialect):
                conn.exec_driver_sql(statement)
            steps.append("CREATE TRIGGERS")
            for statement in ddl.seed_rows_statements(self.dialect):
                conn.exec_driver_sql(statement)
            # The clock starts above every version handed out so far (all 0).
            if self.dialect == "postgresql":
                steps.append(self._rebase(conn))
            steps.append(f"schema_version = {schema.SCHEMA_VERSION}")
        return steps

    def _upgrade_from_3(self) -> list[str]:
        """Version 3 to 4: PostgreSQL's clock row gives way to the transaction-id cursor.

        The base is set above every version the clock handed out, so every cache's
        cursor stays valid and no home needs a full resync. SQLite and Oracle keep
        their clock; only the version number changes there.
        """
        steps: list[str] = []
        with self.transaction() as conn:
            if self.dialect == "postgresql":
                for statement in ddl.PG_OBSOLETE:
                    conn.exec_driver_sql(statement)
                steps.append(self._rebase(conn))
                for statement in ddl.trigger_statements(self.dialect)[1:]:
                    conn.exec_driver_sql(statement)
                steps.append("CREATE TRIGGERS (transaction-id cursor)")
            self._set_schema_version(conn, 4)
            steps.append("schema_version = 4")
        return steps

    def _add_columns(
        self, conn: sa.Connection, columns: Sequence[tuple[sa.Table, sa.Column[object]]]
    ) -> list[str]:
        """ALTER TABLE … ADD each (table, column); returns the statements run."""
        statements = [
            ddl.add_column_statement(table, column, self.engine.dialect)
            for table, column in columns
        ]
        for statement in statements:
            conn.exec_driver_sql(statement)
        return statements

    @staticmethod
    def _set_schema_version(conn: sa.Connection, version: int) -> None:
        # Each step of an upgrade records its own version, so an upgrade stopped
        # between two steps resumes at the next one.
        conn.execute(
            sa.update(dmledger_info)
            .where(dmledger_info.c.info_key == "schema_version")
            .values(info_value=str(version))
        )

    def _rebase_if_behind(self) -> list[str]:
        """PostgreSQL: rebase when a version in the tables is at or above the watermark
        (a dump restored into a cluster with lower transaction ids); else nothing."""
        if self.dialect != "postgresql":
            return []
        top = sa.func.greatest(
            sa.select(sa.func.coalesce(sa.func.max(prospects.c.row_version), 0)).scalar_subquery(),
            sa.select(
                sa.func.coalesce(sa.func.max(prospect_tombstones.c.row_version), 0)
            ).scalar_subquery(),
        )
        with self.reading() as conn:
            behind = conn.execute(
                sa.select(top >= self._watermark()).where(sync_clock.c.id == 1)
            ).scalar_one()
        return [self.rebase_cursor()] if behind else []

    def rebase_cursor(self) -> str:
        """PostgreSQL: raise the cursor base above every version in the tables (after
        loading rows with chosen versions, or restoring a dump into another cluster)."""
        if self.dialect != "postgresql":
            raise CloudSchemaError("only a PostgreSQL cloud has a cursor base")
        with self.transaction() as conn:
            return self._rebase(conn)

    def _rebase(self, conn: sa.Connection) -> str:
        """Set PostgreSQL's cursor base so that every version stamped from now on, and
        the watermark, are above every version already handed out.

        Writers of prospects are held off (``SHARE ROW EXCLUSIVE`` waits for those
        running, then blocks new ones) until this transaction commits, so no row is
        stamped with the old base after the watermark moved to the new one.
        """
        conn.exec_driver_sql(
            "LOCK TABLE prospects, prospect_tombstones IN SHARE ROW EXCLUSIVE MODE"
        )
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

    def _upgrade_from_2(self) -> list[str]:
        """Version 2 to 3: the notes_replaced column and, once, the cloud identity."""
        steps: list[str] = []
        with self.transaction() as conn:
            steps += self._add_columns(conn, schema.ADDED_COLUMNS_V3)
            known = conn.execute(
                sa.select(dmledger_info.c.info_value).where(dmledger_info.c.info_key == "cloud_id")
            ).first()
            if known is None:
                conn.exec_driver_sql(ddl.cloud_id_statement(self.dialect))
                steps.append("cloud_id made")
            self._set_schema_version(conn, 3)
        return steps

    def _upgrade_from_4(self) -> list[str]:
        """Version 4 to 5: follow-ups, replies and templates (new objects only)."""
        steps: list[str] = []
        with self.transaction() as conn:
            steps += self._add_columns(conn, schema.ADDED_COLUMNS_V5)
            for table in schema.ADDED_TABLES_V5:
                table.create(conn)
                steps.append(f"CREATE TABLE {table.name}")
            for index in schema.INDEXES_V5:
                if index.table is not None and index.table in schema.ADDED_TABLES_V5:
                    continue  # Table.create above already made the indexes of a new table
                index.create(conn)
                steps.append(f"CREATE INDEX {index.name}")
            self._set_schema_version(conn, 5)
            steps.append(f"schema_version = {schema.SCHEMA_VERSION}")
        return steps

    @staticmethod
    def _schema_version_in(conn: sa.Connection) -> int | None:
        value = conn.execute(
            sa.select(dmledger_info.c.info_value).where(
                dmledger_info.c.info_key == "schema_version"
            )
        ).scalar_one_or_none()
        return int(value) if value is not None else None

    def reset(self) -> None:
        """The seed's factory reset: drop every DM Ledger table and create them empty."""
        with self.transaction() as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql("DROP TRIGGER IF EXISTS trg_prospects_stamp ON prospects")
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
                self._insert_ignore(conn, operators, [{"operator_name": name}], ["operator_name"])
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
                self._insert_ignore(
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
            self._insert_ignore(
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
            self._insert_ignore(conn, actors, list(rows.values()), ["username"])

    # -- push ----------------------------------------------------------------------

    def push_logs(self, conn: sa.Connection, batch: Sequence[OutgoingLog]) -> None:
        """Apply a batch of DMs: the prospects they touch, then the logs themselves.

        Idempotent: a log whose client_log_id is already in the cloud inserts nothing,
        and the prospect effects (contacted, earliest first contact owns) are the same
        however often they are applied.
        """
        if not batch:
            return
        earliest: dict[str, OutgoingLog] = {}
        for item in batch:
            known = earliest.get(item.target)
            if known is None or (item.sent_at, item.actor) < (known.sent_at, known.actor):
                earliest[item.target] = item
        logs = [
            {
                "client_log_id": item.client_log_id,
                "target_username": item.target,
                "actor_username": item.actor,
                "operator_name": item.operator,
                "message_text": fit_bytes(item.message, MESSAGE_MAX_BYTES),
                "created_at": item.sent_at,
                "template_name": item.template,
            }
            for item in batch
        ]
        targets = [item.target for item in batch]
        if self.dialect == "postgresql":
            # One statement, one round trip: the contacts as a data-modifying CTE, then
            # the logs (their foreign key is checked after both, at the statement's end).
            contacts = self._contacts_statement(list(earliest.values()))
            columns = list(logs[0])
            conn.execute(
                postgresql.insert(outreach_logs)
                .from_select(columns, _unnest(outreach_logs, columns, logs, "l"))
                .on_conflict_do_nothing(index_elements=["client_log_id"])
                .add_cte(contacts.cte("contacts"))
            )
            # The lead's DM figures read the logs, which a statement's own CTE cannot
            # see: one more statement, after it.
            fu.refresh_dm_figures(conn, targets)
            return
        self._apply_contacts(conn, list(earliest.values()))
        self._insert_ignore(conn, outreach_logs, logs, ["client_log_id"])
        fu.refresh_dm_figures(conn, targets)

    def _apply_contacts(self, conn: sa.Connection, firsts: Sequence[OutgoingLog]) -> None:
        rows = [{"t": f.target, "a": f.actor, "s": f.sent_at} for f in firsts]
        if self.dialect == "oracle":
            conn.execute(sa.text(_ORACLE_CONTACT_MERGE), rows)
            return
        conn.execute(self._contacts_statement(firsts), _contact_values(firsts))

    def _contacts_statement(self, firsts: Sequence[OutgoingLog]) -> Any:
        """PostgreSQL and SQLite share ON CONFLICT … DO UPDATE … WHERE: the earliest
        contact owns the lead, ``new`` becomes ``contacted``. PostgreSQL's carries the
        whole batch as arrays; SQLite's is run as executemany of ``_contact_values``."""
        insert: Any
        if self.dialect == "postgresql":
            values = _contact_values(firsts)
            columns = list(values[0])
            insert = postgresql.insert(prospects).from_select(
                columns, _unnest(prospects, columns, values, "c")
            )
        else:
            insert = sqlite.insert(prospects)
        new = insert.excluded
        cur = prospects.c
        earlier = sa.or_(
            cur.first_contacted.is_(None),
            new.first_contacted < cur.first_contacted,
            sa.and_(
                new.first_contacted == cur.first_contacted,
                new.owner_actor < cur.owner_actor,
            ),
        )
        is_new = sa.or_(cur.status.is_(None), sa.func.lower(cur.status) == "new")
        return insert.on_conflict_do_update(
            index_elements=[cur.target_username],
            set_={
                "status": sa.case((is_new, sa.literal("contacted")), else_=cur.status),
                "owner_actor": sa.case(
                    (
                        cur.first_contacted.is_(None),
                        sa.func.coalesce(cur.owner_actor, new.owner_actor),
                    ),
                    (earlier, new.owner_actor),
                    else_=sa.func.coalesce(cur.owner_actor, new.owner_actor),
                ),
                "first_contacted": sa.case(
                    (earlier, new.first_contacted), else_=cur.first_contacted
                ),
            },
            where=sa.or_(is_new, earlier, cur.owner_actor.is_(None)),
        )

    def push_edits(self, conn: sa.Connection, edits: Sequence[Edit]) -> list[Edit]:
        """Apply outbox edits in order; returns the edits dropped because their lead is
        not in the cloud (a teammate deleted it: deletion wins over concurrent edits).

        Consecutive edits are batched by kind; a delete closes a segment so an edit never
        jumps over a deletion of the same lead. See ARCHITECTURE.md for each field's rule.
        """
        dropped: list[Edit] = []
        segment: list[Edit] = []
        for edit in edits:
            if edit.op == "delete":
                dropped += self._apply_segment(conn, segment)
                segment = []
                self.delete_prospects(conn, [edit.target])
            else:
                segment.append(edit)
        dropped += self._apply_segment(conn, segment)
        return dropped

    def _apply_segment(self, conn: sa.Connection, segment: Sequence[Edit]) -> list[Edit]:
        if not segment:
            return []
        adds: dict[str, Edit] = {}
        for edit in segment:
            if edit.op == "add":
                adds.setdefault(edit.target, edit)
        if adds:
            self._insert_ignore(
                conn,
                prospects,
                [
                    {
                        "target_username": e.target,
                        "status": e.status or "new",
                        "notes": fit_bytes(e.notes, NOTES_MAX_BYTES),
                    }
                    for e in adds.values()
                ],
                ["target_username"],
            )
        changes = [e for e in segment if e.op != "add"]
        if not changes:
            return []
        # Notes are merged here from what the cloud holds, so those rows are locked first.
        found = self._notes_of(
            conn,
            sorted({e.target for e in changes}),
            lock=any(e.op in ("notes", "append") for e in changes),
        )
        statuses: dict[str, str] = {}
        notes: dict[str, tuple[str | None, str | None]] = {}
        for edit in changes:
            if edit.target not in found:
                continue  # dropped below: never recreate a deleted lead from an edit
            if edit.op == "status" and edit.status is not None:
                statuses[edit.target] = edit.status  # later wins
            elif edit.op in ("notes", "append"):
                text, replaced = notes.get(edit.target, found[edit.target])
                notes[edit.target] = _notes_after(edit, text, replaced)
        if statuses:
            status = prospects.c.status
            conn.execute(
                sa.update(prospects)
                .where(
                    prospects.c.target_username == sa.bindparam("t"),
                    sa.or_(status.is_(None), status != sa.bindparam("v")),
                )
                .values(status=sa.bindparam("v")),
                [{"t": t, "v": v} for t, v in statuses.items()],
            )
        changed = [(t, n, r) for t, (n, r) in notes.items() if (n, r) != found[t]]
        if changed:
            conn.execute(
                sa.update(prospects)
                .where(prospects.c.target_username == sa.bindparam("t"))
                .values(notes=sa.bindparam("n"), notes_replaced=sa.bindparam("r")),
                [{"t": t, "n": n, "r": r} for t, n, r in changed],
            )
        # Replies and follow-up dates (issue 12) come after the status and notes.
        fu.apply_replies_and_follow_ups(self, conn, [e for e in changes if e.target in found])
        return [e for e in changes if e.target not in found]

    def _notes_of(
        self, conn: sa.Connection, handles: Sequence[str], *, lock: bool
    ) -> dict[str, tuple[str | None, str | None]]:
        """(notes, notes_replaced) of the leads that exist, by handle."""
        found: dict[str, tuple[str | None, str | None]] = {}
        p = prospects.c
        for start in range(0, len(handles), 500):  # Oracle takes 1000 items in an IN list
            statement = sa.select(p.target_username, p.notes, p.notes_replaced).where(
                p.target_username.in_(handles[start : start + 500])
            )
            if lock:
                statement = statement.with_for_update()
            found.update((r[0], (r[1], r[2])) for r in conn.execute(statement))
        return found

    def delete_prospects(self, conn: sa.Connection, handles: Sequence[str]) -> None:
        """Delete leads and their DMs; the trigger leaves a tombstone for every cache."""
        if not handles:
            return
        params = [{"t": h} for h in handles]
        fu.delete_replies(conn, handles)
        conn.execute(
            sa.delete(outreach_logs).where(outreach_logs.c.target_username == sa.bindparam("t")),
            params,
        )
        conn.execute(
            sa.delete(prospects).where(prospects.c.target_username == sa.bindparam("t")), params
        )

    # -- pull ----------------------------------------------------------------------

    def header(
        self, conn: sa.Connection, *, with_count: bool = False, settle: bool = False
    ) -> CloudHeader:
        """The clock, the tombstone horizon, operators and actors: one statement.

        ``with_count`` adds a second statement counting prospects (for a progress bar
        on a full pull only: a no-op sync must stay at two round trips). ``settle``
        (PostgreSQL) makes the same statement wait, at most ``settle_wait``, for the
        transactions open when it began, so a pull sent next reads what they commit.
        """
        text = sa.cast(sa.null(), sa.String)
        number = sa.cast(sa.null(), sa.BigInteger)
        stamp = sa.cast(sa.null(), sa.TIMESTAMP)

        def info(key: str) -> sa.ScalarSelect[Any]:
            return (
                sa.select(dmledger_info.c.info_value)
                .where(dmledger_info.c.info_key == key)
                .scalar_subquery()
            )

        statement = sa.union_all(
            # The clock row also carries the cloud's identity, schema version and time.
            sa.select(
                sa.literal("C").label("kind"),
                info("cloud_id").label("name"),
                info("schema_version").label("owner"),
                info(fu.TEAM_VERSION_KEY).label("status"),
                self._watermark().label("version"),
                sync_clock.c.purged_through.label("purged"),
                self._now().label("now"),
                self._settling(self.settle_wait if settle else None).label("settled"),
            ).where(sync_clock.c.id == 1),
            sa.select(
                sa.literal("A"),
                actors.c.username,
                actors.c.owner_operator,
                actors.c.status,
                number,
                number,
                stamp,
                number,
            ),
            sa.select(
                sa.literal("O"),
                operators.c.operator_name,
                text,
                text,
                number,
                number,
                stamp,
                number,
            ),
        )
        version = purged = None
        cloud_id: str | None = None
        schema_version: int | None = None
        team_version: str | None = None
        now: datetime | None = None
        names: list[str] = []
        actor_rows: list[ActorRow] = []
        for row in conn.execute(statement):
            if row.kind == "C":
                version, purged = int(row.version), int(row.purged)
                cloud_id = row.name
                team_version = row.status
                schema_version = int(row.owner) if row.owner is not None else None
                now = _naive_utc(row.now)
            elif row.kind == "A":
                actor_rows.append(ActorRow(row.name, row.owner, row.status or "active"))
            else:
                names.append(row.name)
        if version is None or purged is None:
            raise CloudSchemaError(
                "the cloud's sync clock row is missing: run `dmledger cloud init`"
            )
        count = None
        if with_count:
            count = int(
                conn.execute(sa.select(sa.func.count()).select_from(prospects)).scalar_one()
            )
        return CloudHeader(
            version,
            purged,
            tuple(names),
            tuple(actor_rows),
            count,
            now=now,
            cloud_id=cloud_id,
            schema_version=schema_version,
            team_version=team_version,
        )

    def pull_page(self, conn: sa.Connection, after: Cursor, limit: int) -> list[PulledRow]:
        """Prospect changes and deletions after ``after`` in (version, handle) order."""
        p, t, a = prospects, prospect_tombstones, actors
        changes = (
            sa.select(
                sa.literal("P").label("kind"),
                p.c.target_username.label("handle"),
                p.c.row_version.label("version"),
                p.c.status,
                p.c.owner_actor,
                a.c.owner_operator,
                p.c.notes,
                p.c.first_contacted,
                p.c.last_updated,
                p.c.notes_replaced,
                p.c.last_dm_at,
                p.c.dm_count,
                p.c.last_reply_at,
                p.c.follow_up_at,
                p.c.last_message,
            )
            .select_from(p.outerjoin(a, a.c.username == p.c.owner_actor))
            .where(self._after(p.c.row_version, p.c.target_username, after))
        )
        text = sa.cast(sa.null(), sa.String)
        stamp = sa.cast(sa.null(), sa.TIMESTAMP)
        deletions = sa.select(
            sa.literal("T"),
            t.c.target_username,
            t.c.row_version,
            text,
            text,
            text,
            sa.cast(sa.null(), schema.varchar(4000)),
            stamp,
            t.c.deleted_at,
            sa.cast(sa.null(), schema.varchar(4000)),
            stamp,
            sa.cast(sa.null(), sa.Integer),
            stamp,
            stamp,
            sa.cast(sa.null(), schema.varchar(4000)),
        ).where(self._after(t.c.row_version, t.c.target_username, after))
        union = sa.union_all(changes, deletions).subquery()
        statement = sa.select(union).order_by(union.c.version, union.c.handle).limit(limit)
        if self.dialect == "postgresql":
            # Only what every transaction below the watermark wrote: those have ended,
            # so nothing can still appear under the cursor. Same snapshot as the rows.
            watermark = sa.select(self._watermark()).where(sync_clock.c.id == 1)
            statement = statement.where(union.c.version < watermark.scalar_subquery())
        return [
            PulledRow(
                kind=row.kind,
                handle=row.handle,
                version=int(row.version),
                status=row.status,
                owner_actor=row.owner_actor,
                owner_operator=row.owner_operator,
                notes=row.notes,
                first_contacted=row.first_contacted,
                last_updated=row.last_updated,
                notes_replaced=row.notes_replaced,
                last_dm_at=row.last_dm_at,
                dm_count=row.dm_count,
                last_reply_at=row.last_reply_at,
                follow_up_at=row.follow_up_at,
                last_message=row.last_message,
            )
            for row in conn.execute(statement)
        ]

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
            return bool(conn.execute(sa.select(self._settling(wait))).scalar_one())

    def _settling(self, wait: float | None) -> sa.ColumnElement[int]:
        """``dmledger_settle`` (see ddl) as a column: 1 when settled, else 0; NULL
        (no wait) for ``None`` and on SQLite and Oracle."""
        if wait is None or self.dialect != "postgresql":
            return sa.cast(sa.null(), sa.BigInteger)
        wait_ms = int(wait * 1000)
        return sa.literal_column(f"CAST(dmledger_settle({wait_ms}) AS INTEGER)", sa.BigInteger)

    def _watermark(self) -> sa.ColumnElement[int]:
        """The version below which every change is final, over ``sync_clock``.

        PostgreSQL: the oldest transaction still running (in this statement's snapshot)
        plus the base; every transaction below it has ended. SQLite and Oracle: the
        clock, which writers take in commit order.
        """
        if self.dialect == "postgresql":
            xmin = sa.literal_column(
                "pg_snapshot_xmin(pg_current_snapshot())::text::bigint", sa.BigInteger
            )
            return xmin + sync_clock.c.version
        return sync_clock.c.version

    def _after(
        self, version: sa.ColumnElement[Any], handle: sa.ColumnElement[Any], after: Cursor
    ) -> sa.ColumnElement[bool]:
        if self.dialect == "oracle":
            # Oracle has no row-value comparison; the leading range keeps the index usable.
            return sa.and_(
                version >= after.version,
                sa.or_(version > after.version, handle > after.handle),
            )
        return sa.tuple_(version, handle) > sa.tuple_(
            sa.literal(after.version, sa.BigInteger), sa.literal(after.handle, sa.String)
        )

    def database_now(self) -> datetime:
        """The cloud database's clock, in UTC (sessions run in UTC)."""
        with self.reading() as conn:
            return _naive_utc(conn.execute(sa.select(self._now())).scalar_one())

    def _now(self) -> sa.ColumnElement[datetime]:
        """The database's clock in UTC, as an expression (the header reads it too)."""
        sql = {
            "oracle": "SYS_EXTRACT_UTC(SYSTIMESTAMP)",
            "postgresql": "timezone('UTC', clock_timestamp())",
            "sqlite": "strftime('%Y-%m-%d %H:%M:%f', 'now')",
        }[self.dialect]
        return sa.literal_column(sql, sa.TIMESTAMP)

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

    def _insert_ignore(
        self, conn: sa.Connection, table: sa.Table, rows: Sequence[Row], keys: Sequence[str]
    ) -> int:
        """Insert rows whose key is not there yet; returns how many were inserted
        (exact on PostgreSQL and SQLite, -1 when the driver cannot tell)."""
        if not rows:
            return 0
        if self.dialect == "oracle":
            columns = list(rows[0])
            conn.execute(sa.text(_oracle_insert_ignore(table.name, columns, keys)), list(rows))
            return -1
        if self.dialect == "postgresql":
            # One statement for the whole batch: the rows travel as one array per column.
            columns = list(rows[0])
            batch = (
                postgresql.insert(table)
                .from_select(columns, _unnest(table, columns, rows))
                .on_conflict_do_nothing(index_elements=list(keys))
                .execution_options(preserve_rowcount=True)
            )
            return int(conn.execute(batch).rowcount)
        statement = (
            sqlite.insert(table)
            .on_conflict_do_nothing(index_elements=list(keys))
            .execution_options(preserve_rowcount=True)
        )
        # A single row runs as a plain execute, whose rowcount is exact on every driver.
        result = conn.execute(statement, rows[0] if len(rows) == 1 else list(rows))
        return int(result.rowcount)

    def insert_ignore(
        self, conn: sa.Connection, table: sa.Table, rows: Sequence[Row], keys: Sequence[str]
    ) -> int:
        """Insert-if-absent for the other cloud statement modules (``followups``)."""
        return self._insert_ignore(conn, table, rows, keys)


def _contact_values(firsts: Sequence[OutgoingLog]) -> list[Row]:
    return [
        {
            "target_username": f.target,
            "status": "contacted",
            "owner_actor": f.actor,
            "first_contacted": f.sent_at,
        }
        for f in firsts
    ]


def _unnest(
    table: sa.Table, columns: Sequence[str], rows: Sequence[Row], prefix: str = "u"
) -> sa.Select[Any]:
    """PostgreSQL: ``SELECT * FROM unnest(:a, :b, …)``, one typed array per column, so a
    batch of any size is one statement and one round trip (``prefix`` keeps the
    parameter names of two in one statement apart)."""
    arrays = [
        sa.bindparam(
            f"{prefix}_{name}",
            value=[row[name] for row in rows],
            type_=postgresql.ARRAY(table.c[name].type),
        )
        for name in columns
    ]
    source = sa.func.unnest(*arrays).table_valued(*columns).render_derived(name=f"{prefix}_rows")
    return sa.select(*(source.c[name] for name in columns))


def _naive_utc(value: object) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise CloudSchemaError(f"the cloud returned {value!r} for its clock, not a time")
    return value.replace(tzinfo=None)


def _notes_after(
    edit: Edit, notes: str | None, replaced: str | None
) -> tuple[str | None, str | None]:
    """(notes, notes_replaced) after one notes edit at the cloud.

    An append merges its dated line in (once, in time order). A replace wins, as the
    last write; when the notes it overwrites are not the ones its writer saw, they are
    kept as ``notes_replaced`` so their writer sees what was lost. A replace made on top
    of what the cloud holds clears that flag.
    """
    if edit.op == "append":
        if edit.notes is None:
            return notes, replaced
        return fit_bytes(merge_note(notes, edit.notes), NOTES_MAX_BYTES), replaced
    new = fit_bytes(edit.notes, NOTES_MAX_BYTES)
    seen = fit_bytes(edit.base, NOTES_MAX_BYTES)
    if notes == seen:
        return new, None
    if notes is not None and notes != new:
        return new, notes
    return new, replaced


def _oracle_insert_ignore(table: str, columns: Sequence[str], keys: Sequence[str]) -> str:
    """MERGE … WHEN NOT MATCHED: Oracle's insert-if-absent, run as array DML."""
    source = ", ".join(f":{c} AS {c}" for c in columns)
    on = " AND ".join(f"t.{k} = s.{k}" for k in keys)
    names = ", ".join(columns)
    values = ", ".join(f"s.{c}" for c in columns)
    return (
        f"MERGE INTO {table} t USING (SELECT {source} FROM dual) s ON ({on}) "
        f"WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({values})"
    )


_ORACLE_CONTACT_MERGE = """MERGE INTO prospects p
USING (SELECT :t AS t, :a AS a, :s AS s FROM dual) x
ON (p.target_username = x.t)
WHEN MATCHED THEN UPDATE SET
    p.status = CASE WHEN p.status IS NULL OR LOWER(p.status) = 'new'
                    THEN 'contacted' ELSE p.status END,
    p.owner_actor = CASE
        WHEN p.first_contacted IS NULL THEN COALESCE(p.owner_actor, x.a)
        WHEN x.s < p.first_contacted OR (x.s = p.first_contacted AND x.a < p.owner_actor)
            THEN x.a
        ELSE COALESCE(p.owner_actor, x.a) END,
    p.first_contacted = CASE
        WHEN p.first_contacted IS NULL OR x.s < p.first_contacted
             OR (x.s = p.first_contacted AND x.a < p.owner_actor)
            THEN x.s ELSE p.first_contacted END
    WHERE p.status IS NULL OR LOWER(p.status) = 'new' OR p.first_contacted IS NULL
        OR x.s < p.first_contacted OR p.owner_actor IS NULL
        OR (x.s = p.first_contacted AND x.a < p.owner_actor)
WHEN NOT MATCHED THEN INSERT (target_username, status, owner_actor, first_contacted)
    VALUES (x.t, 'contacted', x.a, x.s)"""


def open_cloud(url: str, *, password: str | None = None) -> CloudStore:
    """A CloudStore for a sqlite or postgresql URL. Oracle: see ``dmledger.cloud.oracle``."""
    from dmledger.cloud.engine import create_cloud_engine

    backend_of(url)
    return CloudStore(create_cloud_engine(url, password=password), url)


__all__ = ["CloudError", "CloudStore", "open_cloud"]
