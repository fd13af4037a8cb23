"""The local store: ``local_data.db`` in the home, answering instantly, online or offline.

One SQLite file in WAL mode with a busy timeout, so the web server, a CLI command
and the sync loop can use it at once. Writes go through ``transaction()`` (``BEGIN
IMMEDIATE``: a read-then-write unit never loses a race halfway); reads go through
``reading()`` and take no lock.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from dmledger.domain.followups import FollowUpRule, FollowUpState, due_at
from dmledger.domain.records import (
    ActorRow,
    Cursor,
    Edit,
    LocalLog,
    OutgoingLog,
    Prospect,
    PulledRow,
    SetAside,
)
from dmledger.domain.statuses import canonical_status
from dmledger.domain.timeutil import utcnow
from dmledger.errors import NotFound
from dmledger.local import schema
from dmledger.local.schema import actors, meta, operators, outbox, outreach_logs, prospects

log = logging.getLogger(__name__)

DB_NAME = "local_data.db"
RULE_DAYS_KEY = "rule_follow_up_after_days"  # meta: the team's follow-up rule
RULE_MAX_KEY = "rule_max_followups"


def iso(moment: datetime | None) -> str | None:
    """Fixed-width ISO text for a naive UTC datetime (text order is time order)."""
    return None if moment is None else moment.isoformat(timespec="microseconds")


def from_iso(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=None) if moment.tzinfo is None else moment


@dataclass(frozen=True)
class ProspectFilter:
    """What the Leads list and ``prospect list`` filter on; None means any."""

    status: str | None = None
    owner_actor: str | None = None
    owner_operator: str | None = None
    search: str | None = None
    contacted_from: datetime | None = None
    contacted_to: datetime | None = None


@dataclass(frozen=True)
class QueueCounts:
    pending_logs: int
    pending_changes: int
    failed_logs: int
    failed_changes: int


class LocalStore:
    """``local_data.db``; created with its tables on first open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.engine = sa.create_engine(
            f"sqlite:///{path}",
            connect_args={"timeout": 30, "isolation_level": None, "check_same_thread": False},
            # Insert counts (new vs already known) come from rowcount.
            execution_options={"preserve_rowcount": True},
        )
        event.listen(self.engine, "connect", _on_connect)
        event.listen(self.engine, "begin", _on_begin)
        self._create()

    @classmethod
    def in_home(cls, home: Path) -> LocalStore:
        return cls(home / DB_NAME)

    def _create(self) -> None:
        with self.transaction() as conn:
            schema.metadata.create_all(conn)
            for table, column in schema.ADDED_COLUMNS:
                present = {r[1] for r in conn.exec_driver_sql(f"PRAGMA table_info({table.name})")}
                if column.name not in present:
                    # A cache made by an older agent: the new columns start empty.
                    conn.exec_driver_sql(
                        f"ALTER TABLE {table.name} ADD COLUMN {column.name} "
                        f"{column.type.compile(dialect=conn.dialect)}"
                    )
                    if column is prospects.c.due_at:
                        # The follow-up figures come from the cloud: read every row again.
                        self.set_meta(conn, "force_resync", "1")
            # Indexes after the columns: some are on columns an older cache lacked.
            for index in schema.INDEXES:
                index.create(conn, checkfirst=True)
            # While a full resync builds the index, its triggers stay off (see below).
            building = self.get_meta(conn, schema.SEARCH_INDEX_BUILDING) is not None
            for statement in schema.FTS_STATEMENTS[:1] if building else schema.FTS_STATEMENTS:
                conn.exec_driver_sql(statement)
            conn.execute(
                sa.insert(meta)
                .prefix_with("OR REPLACE")
                .values(key="local_schema_version", value=str(schema.LOCAL_SCHEMA_VERSION))
            )

    def dispose(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """One unit of work: BEGIN IMMEDIATE … COMMIT, rolled back on any error."""
        with self.engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def reading(self) -> Iterator[sa.Connection]:
        """A connection for reads only: no transaction, no lock."""
        with self.engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    # -- meta ----------------------------------------------------------------------

    def get_meta(self, conn: sa.Connection, key: str) -> str | None:
        value = conn.execute(sa.select(meta.c.value).where(meta.c.key == key)).scalar_one_or_none()
        return None if value is None else str(value)

    def set_meta(self, conn: sa.Connection, key: str, value: str | None) -> None:
        conn.execute(sa.insert(meta).prefix_with("OR REPLACE").values(key=key, value=value))

    def delete_meta(self, conn: sa.Connection, key: str) -> None:
        conn.execute(sa.delete(meta).where(meta.c.key == key))

    def cursor(self, conn: sa.Connection) -> Cursor:
        version = self.get_meta(conn, "pull_version")
        handle = self.get_meta(conn, "pull_handle")
        if version is None:
            return Cursor()
        return Cursor(int(version), handle or "")

    def set_cursor(self, conn: sa.Connection, cursor: Cursor) -> None:
        self.set_meta(conn, "pull_version", str(cursor.version))
        self.set_meta(conn, "pull_handle", cursor.handle)

    # -- prospects -----------------------------------------------------------------

    def get_prospect(self, conn: sa.Connection, handle: str) -> Prospect | None:
        row = conn.execute(
            sa.select(prospects).where(prospects.c.target_username == handle)
        ).first()
        return None if row is None else _prospect(row)

    def put_prospect(self, conn: sa.Connection, p: Prospect) -> None:
        """Insert or replace the cached row for ``p.handle`` (keeps its rowid for FTS)."""
        values = {
            "status": p.status,
            "owner_actor": p.owner_actor,
            "owner_operator": p.owner_operator,
            "notes": p.notes,
            "first_contacted": iso(p.first_contacted),
            "last_updated": iso(p.last_updated),
            "row_version": p.row_version,
            "notes_replaced": p.notes_replaced,
            "last_message": p.last_message,
            **follow_up_values(
                self.follow_up_rule(conn),
                p.status,
                p.last_dm_at,
                p.dm_count,
                p.last_reply_at,
                p.follow_up_at,
            ),
        }
        result = conn.execute(
            sa.update(prospects).where(prospects.c.target_username == p.handle).values(**values)
        )
        if result.rowcount == 0:
            conn.execute(sa.insert(prospects).values(target_username=p.handle, **values))

    def insert_new_prospects(self, conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> int:
        """Bulk insert-if-absent (CSV import); returns how many rows were new."""
        if not rows:
            return 0
        result = conn.execute(sa.insert(prospects).prefix_with("OR IGNORE"), list(rows))
        return int(result.rowcount)

    def known_handles(self, conn: sa.Connection, handles: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(handles), 500):
            chunk = handles[start : start + 500]
            found.update(
                str(r[0])
                for r in conn.execute(
                    sa.select(prospects.c.target_username).where(
                        prospects.c.target_username.in_(chunk)
                    )
                )
            )
        return found

    def delete_prospect_row(self, conn: sa.Connection, handle: str) -> None:
        """Remove the cached row only (re-applying a queued delete)."""
        conn.execute(sa.delete(prospects).where(prospects.c.target_username == handle))

    def delete_prospect(self, conn: sa.Connection, handle: str) -> None:
        """Remove a lead and every local trace of it: notes, messages, queued edits."""
        conn.execute(sa.delete(prospects).where(prospects.c.target_username == handle))
        conn.execute(sa.delete(outreach_logs).where(outreach_logs.c.target_username == handle))
        conn.execute(sa.delete(outbox).where(outbox.c.target_username == handle))

    # -- the search index during a full resync ---------------------------------------

    def search_indexing(self, conn: sa.Connection) -> bool:
        """True while a full resync has the trigram index switched off."""
        return self.get_meta(conn, schema.SEARCH_INDEX_BUILDING) is not None

    def suspend_search_index(self, conn: sa.Connection) -> None:
        """Stop maintaining the trigram index row by row (a full resync writes every row:
        rebuilding once at the end is several times faster). Search scans meanwhile."""
        for trigger in schema.FTS_TRIGGERS:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
        self.set_meta(conn, schema.SEARCH_INDEX_BUILDING, "1")

    def rebuild_search_index(self, conn: sa.Connection) -> None:
        """Rebuild the trigram index from the rows once and maintain it again."""
        if not self.search_indexing(conn):
            return
        conn.exec_driver_sql("INSERT INTO prospects_fts(prospects_fts) VALUES ('rebuild')")
        for statement in schema.FTS_STATEMENTS:
            conn.exec_driver_sql(statement)
        self.delete_meta(conn, schema.SEARCH_INDEX_BUILDING)

    def list_prospects(
        self,
        conn: sa.Connection,
        where: ProspectFilter,
        *,
        after: str | None = None,
        limit: int = 50,
    ) -> list[Prospect]:
        """A keyset page in handle order: pass the last handle of a page as ``after``."""
        statement = sa.select(prospects)
        statement = self._filtered(statement, where, self._scan(conn, where))
        if after is not None:
            statement = statement.where(prospects.c.target_username > after)
        statement = statement.order_by(prospects.c.target_username).limit(limit)
        return [_prospect(r) for r in conn.execute(statement)]

    def count_prospects(self, conn: sa.Connection, where: ProspectFilter) -> int:
        statement = self._filtered(
            sa.select(sa.func.count()).select_from(prospects), where, self._scan(conn, where)
        )
        return int(conn.execute(statement).scalar_one())

    def _scan(self, conn: sa.Connection, where: ProspectFilter) -> bool:
        """Search by an exact scan instead of the index (while it is being rebuilt)?"""
        return bool(where.search) and self.search_indexing(conn)

    def _filtered(
        self, statement: sa.Select[Any], where: ProspectFilter, scan: bool = False
    ) -> sa.Select[Any]:
        c = prospects.c
        if where.status is not None:
            statement = statement.where(c.status == where.status)
        if where.owner_actor is not None:
            statement = statement.where(c.owner_actor == where.owner_actor)
        if where.owner_operator is not None:
            statement = statement.where(c.owner_operator == where.owner_operator)
        if where.contacted_from is not None:
            statement = statement.where(c.first_contacted >= iso(where.contacted_from))
        if where.contacted_to is not None:
            statement = statement.where(c.first_contacted < iso(where.contacted_to))
        if where.search:
            text = where.search.strip().lower()
            if len(text) >= 3 and not scan:
                # The trigram index finds substrings of 3+ characters without a scan.
                quoted = '"' + text.replace('"', '""') + '"'
                matches = sa.text("SELECT rowid FROM prospects_fts WHERE prospects_fts MATCH :q")
                statement = statement.where(
                    sa.literal_column("prospects.rowid").in_(
                        matches.bindparams(q=quoted).columns(sa.column("rowid"))
                    )
                )
            else:
                pattern = (
                    "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                )
                statement = statement.where(
                    sa.or_(
                        c.target_username.like(pattern, escape="\\"),
                        sa.func.lower(c.notes).like(pattern, escape="\\"),
                    )
                )
        return statement

    # -- logs ----------------------------------------------------------------------

    def insert_log(
        self, conn: sa.Connection, item: OutgoingLog, *, raw_clock: bool = False
    ) -> int | None:
        """Queue a DM; returns its local id, or None if this client_log_id is already here.

        ``raw_clock``: ``sent_at`` is this machine's uncorrected clock (no offset to the
        cloud's measured yet); :meth:`correct_raw_clock` fixes it at the next sync."""
        result = conn.execute(
            sa.insert(outreach_logs)
            .prefix_with("OR IGNORE")
            .values(
                target_username=item.target,
                actor_username=item.actor,
                operator_name=item.operator,
                message_snippet=item.message,
                timestamp=iso(item.sent_at),
                client_log_id=item.client_log_id,
                synced_to_cloud=0,
                raw_clock=1 if raw_clock else None,
                template_name=item.template,
            )
        )
        if result.rowcount == 0:
            return None
        return int(result.inserted_primary_key[0]) if result.inserted_primary_key else None

    def log_by_client_id(self, conn: sa.Connection, client_log_id: str) -> LocalLog | None:
        row = conn.execute(
            sa.select(outreach_logs).where(outreach_logs.c.client_log_id == client_log_id)
        ).first()
        return None if row is None else _log(row)

    def logs_for(self, conn: sa.Connection, handle: str, limit: int = 20) -> list[LocalLog]:
        rows = conn.execute(
            sa.select(outreach_logs)
            .where(outreach_logs.c.target_username == handle)
            .order_by(outreach_logs.c.timestamp.desc(), outreach_logs.c.id.desc())
            .limit(limit)
        )
        return [_log(r) for r in rows]

    def pending_logs(self, conn: sa.Connection, limit: int) -> list[OutgoingLog]:
        """The oldest unsynced DMs that are not set aside, in the order they were logged."""
        rows = conn.execute(
            sa.select(outreach_logs)
            .where(outreach_logs.c.synced_to_cloud == 0, outreach_logs.c.error.is_(None))
            .order_by(outreach_logs.c.id)
            .limit(limit)
        )
        return [
            OutgoingLog(
                client_log_id=r.client_log_id,
                target=r.target_username,
                actor=r.actor_username,
                operator=r.operator_name,
                message=r.message_snippet,
                sent_at=datetime.fromisoformat(r.timestamp),
                local_id=r.id,
                template=r.template_name,
            )
            for r in rows
        ]

    def pending_logs_for(self, conn: sa.Connection, handles: Iterable[str]) -> list[OutgoingLog]:
        """Unsynced DMs (set aside or not) to these leads, oldest first."""
        chosen = list(handles)
        found: list[OutgoingLog] = []
        for start in range(0, len(chosen), 500):
            rows = conn.execute(
                sa.select(outreach_logs)
                .where(
                    outreach_logs.c.synced_to_cloud == 0,
                    outreach_logs.c.target_username.in_(chosen[start : start + 500]),
                )
                .order_by(outreach_logs.c.timestamp, outreach_logs.c.id)
            )
            found.extend(
                OutgoingLog(
                    r.client_log_id,
                    r.target_username,
                    r.actor_username,
                    r.operator_name,
                    r.message_snippet,
                    datetime.fromisoformat(r.timestamp),
                    r.id,
                    r.template_name,
                )
                for r in rows
            )
        return found

    def correct_raw_clock(self, conn: sa.Connection, offset: timedelta) -> int:
        """Add the measured clock offset to queued DMs stamped by the raw clock."""
        c = outreach_logs.c
        rows = conn.execute(
            sa.select(c.id, c.timestamp).where(c.synced_to_cloud == 0, c.raw_clock == 1)
        ).all()
        if rows:
            conn.execute(
                sa.update(outreach_logs)
                .where(c.id == sa.bindparam("lid"))
                .values(timestamp=sa.bindparam("at"), raw_clock=None),
                [
                    {"lid": r.id, "at": iso(datetime.fromisoformat(r.timestamp) + offset)}
                    for r in rows
                ],
            )
        return len(rows)

    def mark_logs_synced(self, conn: sa.Connection, local_ids: Sequence[int]) -> None:
        if local_ids:
            conn.execute(
                sa.update(outreach_logs)
                .where(outreach_logs.c.id == sa.bindparam("lid"))
                .values(synced_to_cloud=1),
                [{"lid": i} for i in local_ids],
            )

    def set_log_aside(self, conn: sa.Connection, local_id: int, error: str) -> None:
        conn.execute(
            sa.update(outreach_logs)
            .where(outreach_logs.c.id == local_id)
            .values(error=error, failed_at=iso(utcnow()))
        )

    # -- outbox --------------------------------------------------------------------

    def enqueue_edit(
        self,
        conn: sa.Connection,
        op: str,
        handle: str,
        *,
        status: str | None = None,
        notes: str | None = None,
        base: str | None = None,
        at: datetime | None = None,
        ref: str | None = None,
    ) -> None:
        """Queue an edit in the journal, after every DM queued so far."""
        conn.execute(
            sa.insert(outbox).values(
                op=op,
                target_username=handle,
                status=status,
                notes=notes,
                base_notes=base,
                ref=ref,
                after_log=self._last_log_id(),
                created_at=iso(at or utcnow()),
            )
        )

    def enqueue_edits(self, conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Bulk queue (CSV import): rows of op, target_username, status, created_at."""
        if rows:
            conn.execute(sa.insert(outbox).values(after_log=self._last_log_id()), list(rows))

    @staticmethod
    def _last_log_id() -> sa.ScalarSelect[Any]:
        # Evaluated inside the INSERT: no read of its own, and in the same transaction.
        return sa.select(sa.func.coalesce(sa.func.max(outreach_logs.c.id), 0)).scalar_subquery()

    def pending_journal(self, conn: sa.Connection, limit: int) -> list[OutgoingLog | Edit]:
        """The oldest queued DMs and edits not set aside, in the order they were made."""
        return journal_order(self.pending_logs(conn, limit), self.pending_edits(conn, limit))[
            :limit
        ]

    def pending_journal_for(
        self, conn: sa.Connection, handles: Iterable[str]
    ) -> list[OutgoingLog | Edit]:
        """Every queued DM and edit (set aside or not) for these leads, in journal order."""
        if not self._journal_has_items(conn):
            return []  # the usual case during a big pull: no per-handle lookups at all
        chosen = list(handles)
        return journal_order(
            sorted(self.pending_logs_for(conn, chosen), key=lambda i: i.local_id),
            self.pending_edits_for(conn, chosen),
        )

    # -- notices -------------------------------------------------------------------

    def add_notice(self, conn: sa.Connection, handle: str, text: str, at: datetime) -> None:
        conn.execute(
            sa.insert(schema.notices).values(target_username=handle, text=text, at=iso(at))
        )

    def notices_for(self, conn: sa.Connection, handle: str) -> list[str]:
        n = schema.notices
        return [
            str(r[0])
            for r in conn.execute(
                sa.select(n.c.text).where(n.c.target_username == handle).order_by(n.c.id)
            )
        ]

    def pending_edits(self, conn: sa.Connection, limit: int) -> list[Edit]:
        """The oldest queued edits not set aside, in the order they were made."""
        rows = conn.execute(
            sa.select(outbox).where(outbox.c.error.is_(None)).order_by(outbox.c.seq).limit(limit)
        )
        return [_edit(r) for r in rows]

    def _journal_has_items(self, conn: sa.Connection) -> bool:
        unsynced = sa.select(outreach_logs.c.id).where(outreach_logs.c.synced_to_cloud == 0)
        queued = sa.select(outbox.c.seq)
        return bool(conn.execute(sa.select(sa.or_(unsynced.exists(), queued.exists()))).scalar())

    def pending_edits_for(self, conn: sa.Connection, handles: Iterable[str]) -> list[Edit]:
        chosen = list(handles)
        found: list[Edit] = []
        for start in range(0, len(chosen), 500):
            rows = conn.execute(
                sa.select(outbox)
                .where(outbox.c.target_username.in_(chosen[start : start + 500]))
                .order_by(outbox.c.seq)
            )
            found.extend(_edit(r) for r in rows)
        return sorted(found, key=lambda e: e.seq)

    def remove_edits(self, conn: sa.Connection, seqs: Sequence[int]) -> None:
        if seqs:
            conn.execute(
                sa.delete(outbox).where(outbox.c.seq == sa.bindparam("s")),
                [{"s": s} for s in seqs],
            )

    def set_edit_aside(self, conn: sa.Connection, seq: int, error: str) -> None:
        conn.execute(
            sa.update(outbox)
            .where(outbox.c.seq == seq)
            .values(error=error, failed_at=iso(utcnow()))
        )

    # -- set-aside rows ------------------------------------------------------------

    def set_aside(self, conn: sa.Connection) -> list[SetAside]:
        """Every queued item the cloud refused, logs first, oldest first."""
        items = [
            SetAside("log", r.id, r.target_username, r.error, f"DM from {r.actor_username}")
            for r in conn.execute(
                sa.select(outreach_logs)
                .where(outreach_logs.c.synced_to_cloud == 0, outreach_logs.c.error.is_not(None))
                .order_by(outreach_logs.c.id)
            )
        ]
        items += [
            SetAside("edit", r.seq, r.target_username, r.error, f"{r.op} edit")
            for r in conn.execute(
                sa.select(outbox).where(outbox.c.error.is_not(None)).order_by(outbox.c.seq)
            )
        ]
        return items

    def retry_set_aside(self, conn: sa.Connection) -> int:
        """Put every set-aside item back in the queue."""
        logs = conn.execute(
            sa.update(outreach_logs)
            .where(outreach_logs.c.error.is_not(None), outreach_logs.c.synced_to_cloud == 0)
            .values(error=None, failed_at=None)
        ).rowcount
        edits = conn.execute(
            sa.update(outbox).where(outbox.c.error.is_not(None)).values(error=None, failed_at=None)
        ).rowcount
        return int(logs) + int(edits)

    def drop_set_aside(self, conn: sa.Connection, kind: str, item_id: int) -> SetAside:
        """Delete one set-aside item for good; NotFound unless it is set aside."""
        for item in self.set_aside(conn):
            if item.kind == kind and item.id == item_id:
                if kind == "log":
                    conn.execute(sa.delete(outreach_logs).where(outreach_logs.c.id == item_id))
                else:
                    conn.execute(sa.delete(outbox).where(outbox.c.seq == item_id))
                # The cache still shows the dropped change; only the cloud's rows are
                # right now, so the next sync re-reads them all.
                self.set_meta(conn, "force_resync", "1")
                return item
        raise NotFound(f"no set-aside {kind} with id {item_id}: see `dmledger status`")

    def queue_counts(self, conn: sa.Connection) -> QueueCounts:
        c = outreach_logs.c
        pending_logs, failed_logs = conn.execute(
            sa.select(
                sa.func.count().filter(c.error.is_(None)),
                sa.func.count().filter(c.error.is_not(None)),
            ).where(c.synced_to_cloud == 0)
        ).one()
        pending_changes, failed_changes = conn.execute(
            sa.select(
                sa.func.count().filter(outbox.c.error.is_(None)),
                sa.func.count().filter(outbox.c.error.is_not(None)),
            )
        ).one()
        return QueueCounts(
            int(pending_logs), int(pending_changes), int(failed_logs), int(failed_changes)
        )

    # -- pull ----------------------------------------------------------------------

    def apply_pulled(self, conn: sa.Connection, rows: Sequence[PulledRow], gen: int) -> None:
        """Write a page of cloud changes into the cache, in cloud order.

        ``gen`` marks the rows seen by a full resync, so rows the cloud no longer has
        can be dropped at its end. Re-applying a page is harmless.
        """
        # A handle is in a page once (a lead is either in the cloud or tombstoned), so
        # the page goes in as two executemany statements, not two statements per row.
        gone = [{"h": row.handle} for row in rows if row.kind == "T"]
        if gone:
            conn.execute(
                sa.delete(prospects).where(prospects.c.target_username == sa.bindparam("h")), gone
            )
        rule = self.follow_up_rule(conn)
        changed = [
            {
                "target_username": row.handle,
                "status": canonical_status(row.status),  # legacy "Warm" is "warm"
                "owner_actor": row.owner_actor,
                "owner_operator": row.owner_operator,
                "notes": row.notes,
                "first_contacted": iso(row.first_contacted),
                "last_updated": iso(row.last_updated),
                "row_version": row.version,
                "notes_replaced": row.notes_replaced,
                "seen_gen": gen,
                "last_message": row.last_message,
                **follow_up_values(
                    rule,
                    row.status,
                    row.last_dm_at,
                    row.dm_count or 0,
                    row.last_reply_at,
                    row.follow_up_at,
                ),
            }
            for row in rows
            if row.kind == "P"
        ]
        if changed:
            upsert = sqlite_insert(prospects)
            # ON CONFLICT … DO UPDATE keeps the row's rowid, which the FTS index follows.
            conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=[prospects.c.target_username],
                    set_={k: upsert.excluded[k] for k in changed[0] if k != "target_username"},
                ),
                changed,
            )

    def drop_unseen(self, conn: sa.Connection, gen: int) -> int:
        """After a full resync: delete cached leads the cloud no longer has, unless this
        machine still has DMs or edits for them waiting to be pushed."""
        pending = sa.union(
            sa.select(outreach_logs.c.target_username).where(outreach_logs.c.synced_to_cloud == 0),
            sa.select(outbox.c.target_username),
        )
        result = conn.execute(
            sa.delete(prospects).where(
                prospects.c.seen_gen != gen, prospects.c.target_username.not_in(pending)
            )
        )
        return int(result.rowcount)

    def drop_logs_of_deleted(self, conn: sa.Connection, handles: Sequence[str]) -> None:
        """Synced DMs to a lead deleted in the cloud go too: no message left behind."""
        for start in range(0, len(handles), 500):
            conn.execute(
                sa.delete(outreach_logs).where(
                    outreach_logs.c.target_username.in_(handles[start : start + 500]),
                    outreach_logs.c.synced_to_cloud == 1,
                )
            )

    # -- follow-ups --------------------------------------------------------------------

    def follow_up_rule(self, conn: sa.Connection) -> FollowUpRule:
        """The team's rule as last read from the cloud (the default before any)."""
        days = self.get_meta(conn, RULE_DAYS_KEY)
        most = self.get_meta(conn, RULE_MAX_KEY)
        default = FollowUpRule()
        return FollowUpRule(
            int(days) if days else default.after_days,
            int(most) if most is not None else default.max_followups,
        )

    # -- people cache ----------------------------------------------------------------

    def replace_people(
        self, conn: sa.Connection, operator_names: Sequence[str], actor_rows: Sequence[ActorRow]
    ) -> None:
        """Refresh the cached operators and actors from the cloud, keeping local-only ones.

        One statement per table (every sync does this, so it is on the no-op path)."""
        if operator_names:
            conn.execute(
                sa.insert(operators).prefix_with("OR IGNORE"),
                [{"operator_name": name} for name in operator_names],
            )
        if actor_rows:
            conn.execute(
                sa.insert(actors).prefix_with("OR REPLACE"),
                [
                    {"username": a.username, "owner_operator": a.owner_operator, "status": a.status}
                    for a in actor_rows
                ],
            )

    def remember_actor(self, conn: sa.Connection, actor: ActorRow) -> None:
        conn.execute(
            sa.insert(actors)
            .prefix_with("OR IGNORE")
            .values(
                username=actor.username, owner_operator=actor.owner_operator, status=actor.status
            )
        )
        if actor.owner_operator:
            conn.execute(
                sa.insert(operators)
                .prefix_with("OR IGNORE")
                .values(operator_name=actor.owner_operator)
            )

    def get_actor(self, conn: sa.Connection, username: str) -> ActorRow | None:
        row = conn.execute(sa.select(actors).where(actors.c.username == username)).first()
        return None if row is None else ActorRow(row.username, row.owner_operator, row.status)

    def list_actors(self, conn: sa.Connection) -> list[ActorRow]:
        return [
            ActorRow(r.username, r.owner_operator, r.status)
            for r in conn.execute(sa.select(actors).order_by(actors.c.username))
        ]

    def list_operators(self, conn: sa.Connection) -> list[str]:
        return [
            str(r[0])
            for r in conn.execute(
                sa.select(operators.c.operator_name).order_by(operators.c.operator_name)
            )
        ]

    def owner_operator_of(self, conn: sa.Connection, actor: str | None) -> str | None:
        if actor is None:
            return None
        found = self.get_actor(conn, actor)
        return None if found is None else found.owner_operator

    # -- team cache ----------------------------------------------------------------

    def get_team_cache(self, conn: sa.Connection, key: str) -> tuple[str, datetime] | None:
        row = conn.execute(
            sa.select(schema.team_cache).where(schema.team_cache.c.key == key)
        ).first()
        if row is None:
            return None
        fetched = from_iso(row.fetched_at)
        assert fetched is not None
        return str(row.payload), fetched

    def put_team_cache(self, conn: sa.Connection, key: str, payload: str, at: datetime) -> None:
        conn.execute(
            sa.insert(schema.team_cache)
            .prefix_with("OR REPLACE")
            .values(key=key, payload=payload, fetched_at=iso(at))
        )


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _on_begin(conn: sa.Connection) -> None:
    # The driver runs in autocommit mode; we open write transactions ourselves so that
    # they take the write lock up front (BEGIN IMMEDIATE) and reads open none at all.
    if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _prospect(row: Any) -> Prospect:
    return Prospect(
        handle=row.target_username,
        status=row.status,
        owner_actor=row.owner_actor,
        owner_operator=row.owner_operator,
        notes=row.notes,
        first_contacted=from_iso(row.first_contacted),
        last_updated=from_iso(row.last_updated),
        row_version=row.row_version,
        notes_replaced=row.notes_replaced,
        last_dm_at=from_iso(row.last_dm_at),
        dm_count=row.dm_count or 0,
        last_reply_at=from_iso(row.last_reply_at),
        follow_up_at=from_iso(row.follow_up_at),
        last_message=row.last_message,
    )


def follow_up_values(
    rule: FollowUpRule,
    status: str | None,
    last_dm_at: datetime | None,
    dm_count: int,
    last_reply_at: datetime | None,
    follow_up_at: datetime | None,
) -> dict[str, Any]:
    """The follow-up columns of a cached lead, ``due_at`` computed by the domain rule."""
    state = FollowUpState(status, last_dm_at, dm_count, last_reply_at, follow_up_at)
    return {
        "last_dm_at": iso(last_dm_at),
        "dm_count": dm_count,
        "last_reply_at": iso(last_reply_at),
        "follow_up_at": iso(follow_up_at),
        "due_at": iso(due_at(state, rule)),
    }


def _log(row: Any) -> LocalLog:
    return LocalLog(
        id=row.id,
        client_log_id=row.client_log_id,
        target=row.target_username,
        actor=row.actor_username,
        operator=row.operator_name,
        message=row.message_snippet,
        sent_at=datetime.fromisoformat(row.timestamp),
        synced=bool(row.synced_to_cloud),
        error=row.error,
    )


def _edit(row: Any) -> Edit:
    return Edit(
        seq=row.seq,
        op=row.op,
        target=row.target_username,
        status=row.status,
        notes=row.notes,
        base=row.base_notes,
        after_log=row.after_log or 0,
        at=from_iso(row.created_at),
        ref=row.ref,
    )


def journal_order(logs: Sequence[OutgoingLog], edits: Sequence[Edit]) -> list[OutgoingLog | Edit]:
    """DMs (in id order) and edits (in seq order) merged in the order they were made:
    an edit comes after the DMs whose id is at most its ``after_log``."""
    merged: list[OutgoingLog | Edit] = []
    i = 0
    for edit in edits:
        while i < len(logs) and logs[i].local_id <= edit.after_log:
            merged.append(logs[i])
            i += 1
        merged.append(edit)
    merged.extend(logs[i:])
    return merged
