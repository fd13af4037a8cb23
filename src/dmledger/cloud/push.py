"""The push: a batch of DMs and a run of outbox edits, applied in the caller's
transaction.

Called through ``CloudStore.push_logs`` / ``push_edits`` / ``delete_prospects``. The
per-dialect statements (insert-if-absent, the contact upsert) are in ``upsert``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from dmledger.cloud import followups as fu
from dmledger.cloud import upsert
from dmledger.cloud.engine import pipelined
from dmledger.cloud.schema import outreach_logs, prospects
from dmledger.domain.notes import merge_note
from dmledger.domain.records import Edit, OutgoingLog
from dmledger.domain.text import MESSAGE_MAX_BYTES, NOTES_MAX_BYTES, fit_bytes

if TYPE_CHECKING:
    from dmledger.cloud.store import CloudStore


def push_logs(store: CloudStore, conn: sa.Connection, batch: Sequence[OutgoingLog]) -> None:
    """Apply a batch of DMs: the prospects they touch, then the logs themselves.

    Idempotent: a log whose client_log_id is already in the cloud inserts nothing,
    and the prospect effects (contacted, earliest first contact owns) are the same
    however often they are applied.
    """
    if not batch:
        return
    if store.dialect == "postgresql":
        # One round trip: both statements in a pipeline (BEGIN goes along).
        statements = pg_push_statements(batch)
        pipelined(conn, [(s.compile(dialect=conn.dialect), {}) for s in statements])
        return
    firsts, logs = _batch_rows(batch)
    upsert.apply_contacts(conn, store.dialect, firsts)
    upsert.insert_ignore(conn, store.dialect, outreach_logs, logs, ["client_log_id"])
    fu.refresh_dm_figures(conn, [item.target for item in batch])


def pg_push_statements(batch: Sequence[OutgoingLog]) -> tuple[sa.Insert, sa.Update]:
    """PostgreSQL: a batch of DMs as two statements.

    The first inserts the logs and, as a data-modifying CTE, the contacts: new leads
    with their DM figures from the batch (the logs travel once, as arrays, and feed
    both). Their foreign keys are checked at the statement's end, after both. The
    second recounts the DM figures of the leads that were already in the cloud (and
    of any lead whose figures the first got wrong); it needs a statement of its own,
    as a statement's CTEs cannot see each other's rows.
    """
    firsts, logs = _batch_rows(batch)
    columns = list(logs[0])
    rows = upsert.unnest(outreach_logs, columns, logs, "l").cte("batch_logs")
    contacts = upsert.contacts_statement("postgresql", firsts, rows)
    insert = (
        postgresql.insert(outreach_logs)
        .from_select(columns, sa.select(*(rows.c[name] for name in columns)))
        .on_conflict_do_nothing(index_elements=["client_log_id"])
        .add_cte(contacts.cte("contacts"))
    )
    return insert, fu.dm_figures_set_statement(sorted({item.target for item in batch}))


def _batch_rows(batch: Sequence[OutgoingLog]) -> tuple[list[OutgoingLog], list[upsert.Row]]:
    """Each lead's earliest DM of the batch (its contact), and the batch's log rows."""
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
    return list(earliest.values()), logs


def push_edits(store: CloudStore, conn: sa.Connection, edits: Sequence[Edit]) -> list[Edit]:
    """Apply outbox edits in order; returns the edits dropped because their lead is
    not in the cloud (a teammate deleted it: deletion wins over concurrent edits).

    Consecutive edits are batched by kind; a delete closes a segment so an edit never
    jumps over a deletion of the same lead. See ARCHITECTURE.md for each field's rule.
    """
    dropped: list[Edit] = []
    segment: list[Edit] = []
    for edit in edits:
        if edit.op == "delete":
            dropped += _apply_segment(store, conn, segment)
            segment = []
            store.delete_prospects(conn, [edit.target])
        else:
            segment.append(edit)
    dropped += _apply_segment(store, conn, segment)
    return dropped


def _apply_segment(store: CloudStore, conn: sa.Connection, segment: Sequence[Edit]) -> list[Edit]:
    if not segment:
        return []
    adds: dict[str, Edit] = {}
    for edit in segment:
        if edit.op == "add":
            adds.setdefault(edit.target, edit)
    if adds:
        upsert.insert_ignore(
            conn,
            store.dialect,
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
    found = _notes_of(
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
            notes[edit.target] = notes_after(edit, text, replaced)
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
    fu.apply_replies_and_follow_ups(store, conn, [e for e in changes if e.target in found])
    return [e for e in changes if e.target not in found]


def _notes_of(
    conn: sa.Connection, handles: Sequence[str], *, lock: bool
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


def delete_prospects(conn: sa.Connection, handles: Sequence[str]) -> None:
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


def notes_after(
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
