"""Writes to the cached leads: one lead at a time (the app), in bulk (CSV import), and
pages of cloud changes (the pull; a full resync writes them with the indexes off, see
``indexing``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from dmledger.domain.followups import FollowUpRule, due_of
from dmledger.domain.records import Prospect, PulledRow
from dmledger.domain.statuses import canonical_status
from dmledger.domain.timeutil import iso
from dmledger.local.base import StoreBase
from dmledger.local.rows import _prospect, follow_up_values
from dmledger.local.schema import outbox, outreach_logs, prospects


class CacheWrites(StoreBase):
    """Writes to ``prospects``: the app's, the CSV import's and the pull's."""

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

    # -- pull ----------------------------------------------------------------------

    def apply_pulled(self, conn: sa.Connection, rows: Sequence[PulledRow], gen: int) -> None:
        """Write a page of cloud changes into the cache, in cloud order.

        ``gen`` marks the rows seen by a full resync, so rows the cloud no longer has
        can be dropped at its end. Re-applying a page is harmless.
        """
        # A handle is in a page once (a lead is either in the cloud or tombstoned), so
        # the page goes in as two executemany statements, not two statements per row.
        gone = [(row.handle,) for row in rows if row.kind == "T"]
        if gone:
            conn.exec_driver_sql("DELETE FROM prospects WHERE target_username = ?", gone)
        rule = self.follow_up_rule(conn)
        # Plain tuples straight to the driver's executemany: at a million rows a dict
        # and SQLAlchemy's parameter processing per row cost more than SQLite's insert.
        changed = [_pulled_values(row, rule, gen) for row in rows if row.kind == "P"]
        if not changed:
            return
        if gen:
            # A full resync marks every row with its generation, indexes off: one upsert.
            conn.exec_driver_sql(_UPSERT_PULLED, changed)
        else:
            _write_differences(conn, changed)

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

    def mark_seen(self, conn: sa.Connection, handles: Iterable[str], gen: int) -> None:
        """Count cached leads as seen by the full resync ``gen`` (``drop_unseen`` keeps
        them): a push during the resync just wrote them to the cloud."""
        wanted = sorted(handles)
        for start in range(0, len(wanted), 500):
            conn.execute(
                sa.update(prospects)
                .where(prospects.c.target_username.in_(wanted[start : start + 500]))
                .values(seen_gen=gen)
            )

    def drop_logs_of_deleted(self, conn: sa.Connection, handles: Sequence[str]) -> None:
        """Synced DMs to a lead deleted in the cloud go too: no message left behind."""
        for start in range(0, len(handles), 500):
            conn.execute(
                sa.delete(outreach_logs).where(
                    outreach_logs.c.target_username.in_(handles[start : start + 500]),
                    outreach_logs.c.synced_to_cloud == 1,
                )
            )


# The columns a pulled row writes, in the order :func:`_pulled_values` gives them.
_PULLED_COLUMNS = (
    "target_username",
    "status",
    "owner_actor",
    "owner_operator",
    "notes",
    "first_contacted",
    "last_updated",
    "row_version",
    "notes_replaced",
    "seen_gen",
    "last_message",
    "last_dm_at",
    "dm_count",
    "last_reply_at",
    "follow_up_at",
    "due_at",
)
# ON CONFLICT … DO UPDATE keeps the row's rowid, which the FTS index follows.
_UPSERT_PULLED = (
    f"INSERT INTO prospects ({', '.join(_PULLED_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _PULLED_COLUMNS)}) "
    "ON CONFLICT (target_username) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _PULLED_COLUMNS[1:])
)

# What an incremental pull compares with the cached row: every column it writes but
# the resync mark (kept as it is), by position in _PULLED_COLUMNS.
_COMPARED = tuple(
    i for i, c in enumerate(_PULLED_COLUMNS) if c not in ("target_username", "seen_gen")
)
_SELECT_PULLED = f"SELECT {', '.join(_PULLED_COLUMNS)} FROM prospects WHERE target_username IN "


def _write_differences(conn: sa.Connection, values: Sequence[tuple[Any, ...]]) -> None:
    """Write pulled rows into a cache whose indexes are on: new leads are inserted, and a
    known lead gets an UPDATE of the columns that differ only (rows grouped by the set
    of columns they change). SQLite maintains an index, and the trigram index's trigger
    fires, only for the columns an UPDATE sets: a status change of 100 leads among a
    million then writes the rows and the status indexes, not the indexes of every
    column and the notes' trigrams; a row already as pulled is not written at all."""
    cached: dict[str, Any] = {}
    for start in range(0, len(values), 500):
        handles = tuple(v[0] for v in values[start : start + 500])
        sql = _SELECT_PULLED + "(" + ", ".join("?" for _ in handles) + ")"
        cached.update((row[0], row) for row in conn.exec_driver_sql(sql, handles))
    new: list[tuple[Any, ...]] = []
    updates: dict[tuple[int, ...], list[tuple[Any, ...]]] = {}
    for row in values:
        old = cached.get(row[0])
        if old is None:
            new.append(row)
            continue
        differ = tuple(i for i in _COMPARED if row[i] != old[i])
        if differ:
            updates.setdefault(differ, []).append((*(row[i] for i in differ), row[0]))
    if new:
        conn.exec_driver_sql(_UPSERT_PULLED, new)
    for differ, params in updates.items():
        assignments = ", ".join(f"{_PULLED_COLUMNS[i]} = ?" for i in differ)
        conn.exec_driver_sql(
            f"UPDATE prospects SET {assignments} WHERE target_username = ?", params
        )


_datetime = datetime.fromisoformat  # the cache's text back (see rows.from_iso)
# A cloud holds a handful of distinct status spellings: map each once, not per row.
_canonical = functools.lru_cache(maxsize=1024)(canonical_status)


def _pulled_values(row: PulledRow, rule: FollowUpRule, gen: int) -> tuple[Any, ...]:
    """One pulled lead as the cache stores it (legacy "Warm" is "warm", ``due_at`` from
    the domain rule), in :data:`_PULLED_COLUMNS` order. The times come as the cache's
    text already; only a lead the rule can make due is read as datetimes for it."""
    (_kind, handle, version, status, owner, operator, notes, first, updated, replaced,
     last_dm, dm_count, last_reply, follow_up, message) = row  # fmt: skip
    due = None
    if last_dm is not None or follow_up is not None:  # without either, never due
        when = due_of(
            status,
            None if last_dm is None else _datetime(last_dm),
            dm_count or 0,
            None if last_reply is None else _datetime(last_reply),
            None if follow_up is None else _datetime(follow_up),
            rule,
        )
        due = iso(when)
    return (handle, _canonical(status), owner, operator, notes, first, updated, version,
            replaced, gen, message, last_dm, dm_count or 0, last_reply, follow_up, due)  # fmt: skip
