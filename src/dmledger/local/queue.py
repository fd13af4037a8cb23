"""The journal of work not yet pushed: queued DMs, the outbox of edits, the items the
cloud set aside, and the notices a pull leaves on a lead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from dmledger.domain.records import Edit, LocalLog, OutgoingLog, SetAside
from dmledger.domain.timeutil import iso, utcnow
from dmledger.errors import NotFound
from dmledger.local import meta_keys as keys
from dmledger.local import schema
from dmledger.local.base import StoreBase
from dmledger.local.integrity import DamagedValue
from dmledger.local.rows import _edit, _log, journal_order
from dmledger.local.schema import outbox, outreach_logs, team_outbox


@dataclass(frozen=True)
class QueueCounts:
    pending_logs: int
    pending_changes: int
    failed_logs: int
    failed_changes: int


#: A queued DM's columns, in ``OutgoingLog``'s field order (``_outgoing``).
_OUTGOING = (
    outreach_logs.c.client_log_id,
    outreach_logs.c.target_username,
    outreach_logs.c.actor_username,
    outreach_logs.c.operator_name,
    outreach_logs.c.message_snippet,
    outreach_logs.c.timestamp,
    outreach_logs.c.id,
    outreach_logs.c.template_name,
)


def _outgoing(rows: Iterable[Any]) -> list[OutgoingLog]:
    """Rows of ``_OUTGOING`` as queued DMs, unpacked as tuples: a push reads up to
    10,000 of them at a time."""
    try:
        return [
            OutgoingLog(key, target, actor, operator, text, datetime.fromisoformat(at), lid, tpl)
            for key, target, actor, operator, text, at, lid, tpl in rows
            if _texts(key, target, actor, operator, text)
        ]
    except (TypeError, ValueError) as error:
        raise DamagedValue(f"a queued DM holds a value DM Ledger never wrote ({error})") from error


# Both copies of what makes a queued DM the one it is: its client id (the cloud keys
# DMs by it) and its lead and time, as the table holds them and as its indexes do.
_KEY_CHECKS = (
    "SELECT count(*) FROM outreach_logs INDEXED BY sqlite_autoindex_outreach_logs_1 "
    "WHERE client_log_id IN ({})",
    "SELECT count(*) FROM outreach_logs INDEXED BY ix_logs_target "
    "WHERE (target_username, timestamp) IN (VALUES {})",
)


def _check_keys(conn: sa.Connection, items: Sequence[OutgoingLog]) -> None:
    """DamagedValue when a DM about to be pushed reads otherwise in its table than in
    its indexes (damage changed one copy; SQLite's quick check does not compare them):
    a DM pushed under a changed id would reach the cloud twice. Index lookups only:
    about a millisecond per 1,000 DMs."""
    for start in range(0, len(items), 400):
        chunk = items[start : start + 400]
        ids = [i.client_log_id for i in chunk]
        pairs = [v for i in chunk for v in (i.target, iso(i.sent_at))]
        found_ids = conn.exec_driver_sql(
            _KEY_CHECKS[0].format(", ".join("?" * len(ids))), tuple(ids)
        ).scalar_one()
        found_pairs = conn.exec_driver_sql(
            _KEY_CHECKS[1].format(", ".join(["(?, ?)"] * len(chunk))), tuple(pairs)
        ).scalar_one()
        leads = {(i.target, iso(i.sent_at)) for i in chunk}
        if found_ids != len(set(ids)) or found_pairs < len(leads):
            raise DamagedValue(
                "a queued DM's id or lead reads otherwise in its table than in its index"
            )


def _texts(*values: object) -> bool:
    """True when every value is text (NOT NULL columns a damaged row may still break)."""
    for value in values:
        if not isinstance(value, str):
            raise ValueError(f"{value!r} where DM Ledger writes text")
    return True


class Journal(StoreBase):
    """Queued DMs and edits, in the order they were made, until the cloud has them."""

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
        """The oldest unsynced DMs that are not set aside, in the order they were logged
        (each checked against its indexes' copy first: see ``_check_keys``)."""
        c = outreach_logs.c
        rows = conn.execute(
            sa.select(*_OUTGOING)
            .where(c.synced_to_cloud == 0, c.error.is_(None))
            .order_by(c.id)
            .limit(limit)
        )
        items = _outgoing(rows)
        _check_keys(conn, items)
        return items

    def pending_logs_for(self, conn: sa.Connection, handles: Iterable[str]) -> list[OutgoingLog]:
        """Unsynced DMs (set aside or not) to these leads, oldest first."""
        chosen = list(handles)
        found: list[OutgoingLog] = []
        for start in range(0, len(chosen), 500):
            rows = conn.execute(
                sa.select(*_OUTGOING)
                .where(
                    outreach_logs.c.synced_to_cloud == 0,
                    outreach_logs.c.target_username.in_(chosen[start : start + 500]),
                )
                .order_by(outreach_logs.c.timestamp, outreach_logs.c.id)
            )
            found.extend(_outgoing(rows))
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
        """One UPDATE per 5,000 ids (a push of 10,000 DMs: two statements, not 10,000;
        SQLite takes up to 32,766 parameters)."""
        ids = list(local_ids)
        for start in range(0, len(ids), 5000):
            conn.execute(
                sa.update(outreach_logs)
                .where(outreach_logs.c.id.in_(ids[start : start + 5000]))
                .values(synced_to_cloud=1)
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

    def queued_edit_target(self, conn: sa.Connection, op: str, ref: str) -> str | None:
        """The lead of the queued edit ``op`` with this client-made ``ref``, if one waits."""
        found = conn.execute(
            sa.select(outbox.c.target_username)
            .where(outbox.c.op == op, outbox.c.ref == ref)
            .limit(1)
        ).first()
        return None if found is None else str(found[0])

    def remove_edits(self, conn: sa.Connection, seqs: Sequence[int]) -> None:
        if seqs:
            conn.execute(
                sa.delete(outbox).where(outbox.c.seq == sa.bindparam("s")),
                [{"s": s} for s in seqs],
            )
            self.raise_meta(conn, keys.EDITS_PUSHED_THROUGH, max(seqs))

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
                self.set_meta(conn, keys.FORCE_RESYNC, "1")
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
        # Template and rule changes made offline wait in their own queue; to the setter
        # they are edits waiting like any other.
        team_changes = conn.execute(
            sa.select(sa.func.count()).select_from(team_outbox)
        ).scalar_one()
        return QueueCounts(
            int(pending_logs),
            int(pending_changes) + int(team_changes),
            int(failed_logs),
            int(failed_changes),
        )
