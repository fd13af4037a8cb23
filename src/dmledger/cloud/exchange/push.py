"""The push: a batch of DMs and a run of outbox edits, applied in the caller's
transaction.

Called through ``CloudStore.push_logs`` / ``push_edits`` / ``delete_prospects``, with
the caller's connection (its dialect picks the statements). The
per-dialect statements (insert-if-absent, the contact upsert) are in ``upsert``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from dmledger.cloud.connecting.engine import pipelined
from dmledger.cloud.exchange import team_settings, upsert
from dmledger.cloud.tables import outreach_logs, prospect_replies, prospects
from dmledger.domain.notes import merge_note
from dmledger.domain.records import Edit, OutgoingLog
from dmledger.domain.text import MESSAGE_MAX_BYTES, NOTES_MAX_BYTES, fit_bytes


def push_logs(conn: sa.Connection, batch: Sequence[OutgoingLog]) -> None:
    """Apply a batch of DMs: the prospects they touch, then the logs themselves.

    Idempotent: a log whose client_log_id is already in the cloud inserts nothing,
    and the prospect effects (contacted, earliest first contact owns) are the same
    however often they are applied.
    """
    if not batch:
        return
    dialect = conn.dialect.name
    if dialect == "postgresql":
        # One round trip: both statements in a pipeline (BEGIN goes along).
        statements = pg_push_statements(batch)
        pipelined(conn, [(s.compile(dialect=conn.dialect), {}) for s in statements])
        return
    firsts, logs = _batch_rows(batch)
    upsert.apply_contacts(conn, dialect, firsts)
    upsert.insert_ignore(conn, dialect, outreach_logs, logs, ["client_log_id"])
    team_settings.refresh_dm_figures(conn, [item.target for item in batch])


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
    return insert, team_settings.dm_figures_set_statement(sorted({item.target for item in batch}))


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


def push_edits(conn: sa.Connection, edits: Sequence[Edit]) -> list[Edit]:
    """Apply outbox edits in order; returns the edits dropped because their lead is
    not in the cloud (a teammate deleted it: deletion wins over concurrent edits).

    Consecutive edits are batched by kind; a delete closes a segment so an edit never
    jumps over a deletion of the same lead. See ARCHITECTURE.md for each field's rule.
    """
    dropped: list[Edit] = []
    segment: list[Edit] = []
    for edit in edits:
        if edit.op == "delete":
            dropped += _apply_segment(conn, segment)
            segment = []
            delete_prospects(conn, [edit.target])
        else:
            segment.append(edit)
    dropped += _apply_segment(conn, segment)
    return dropped


def _apply_segment(conn: sa.Connection, segment: Sequence[Edit]) -> list[Edit]:
    if not segment:
        return []
    adds: dict[str, Edit] = {}
    for edit in segment:
        if edit.op == "add":
            adds.setdefault(edit.target, edit)
    if adds:
        upsert.insert_ignore(
            conn,
            conn.dialect.name,
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
    # Replies and follow-up dates come after the status and notes.
    _apply_replies_and_follow_ups(conn, [e for e in changes if e.target in found])
    return [e for e in changes if e.target not in found]


def _apply_replies_and_follow_ups(conn: sa.Connection, edits: Sequence[Edit]) -> None:
    """Store replies (insert-if-absent on their client-made id) and follow-up dates (the
    later edit wins) of leads that exist; in the order given."""
    replies = [e for e in edits if e.op == "reply" and e.ref and e.at is not None]
    if replies:
        upsert.insert_ignore(
            conn,
            conn.dialect.name,
            prospect_replies,
            [
                {
                    "client_reply_id": e.ref,
                    "target_username": e.target,
                    "replied_at": e.at,
                }
                for e in replies
            ],
            ["client_reply_id"],
        )
        targets = sorted({e.target for e in replies})
        conn.execute(team_settings.reply_effect_statement(), [{"t": t} for t in targets])
    dates: dict[str, datetime | None] = {}
    for e in edits:
        if e.op == "follow_up":
            dates[e.target] = datetime.fromisoformat(e.ref) if e.ref else None
    if dates:
        conn.execute(
            team_settings.follow_up_statement(), [{"t": t, "f": f} for t, f in dates.items()]
        )


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
    team_settings.delete_replies(conn, handles)
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
