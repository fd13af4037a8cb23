"""What a DM or an edit does to the cached lead: one implementation for two callers.

The app applies a new DM or edit to the cache at once; after a pull overwrites a
cached lead with the cloud's row, sync re-applies the DMs and edits this machine has
not pushed yet, so a pull never undoes local work.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import sqlalchemy as sa

from dmledger.domain.notes import merge_note
from dmledger.domain.records import Edit, OutgoingLog, Prospect
from dmledger.domain.rules import Contact, apply_dm
from dmledger.domain.statuses import read_stored_status, status_after_reply
from dmledger.local.store import LocalStore


def apply_dm_to_cache(store: LocalStore, conn: sa.Connection, item: OutgoingLog) -> Prospect:
    """Update (or create) the cached lead for one DM; returns the lead after it."""
    current = store.get_prospect(conn, item.target)
    before = (
        None
        if current is None
        else Contact(
            read_stored_status(current.status), current.owner_actor, current.first_contacted
        )
    )
    after = apply_dm(before, item.actor, item.sent_at)
    owner_operator = (
        current.owner_operator
        if current is not None and current.owner_actor == after.owner_actor
        else None
    )
    if owner_operator is None and after.owner_actor is not None:
        owner_operator = store.owner_operator_of(conn, after.owner_actor) or (
            item.operator if after.owner_actor == item.actor else None
        )
    updated = Prospect(
        handle=item.target,
        status=after.status.value,
        owner_actor=after.owner_actor,
        owner_operator=owner_operator,
        notes=None if current is None else current.notes,
        first_contacted=after.first_contacted,
        last_updated=None if current is None else current.last_updated,
        row_version=None if current is None else current.row_version,
        notes_replaced=None if current is None else current.notes_replaced,
    )
    updated = _after_dm(current, item, updated)
    store.put_prospect(conn, updated)
    return updated


def _after_dm(current: Prospect | None, item: OutgoingLog, updated: Prospect) -> Prospect:
    """The follow-up figures after one more DM (as the cloud's push computes them): a
    newer DM is the follow-up, so a date set by hand is cleared."""
    if current is None:
        return replace(updated, last_dm_at=item.sent_at, dm_count=1, last_message=item.message)
    last = current.last_dm_at
    newer = last is None or item.sent_at > last
    return replace(
        updated,
        last_dm_at=item.sent_at if newer else last,
        dm_count=current.dm_count + 1,
        last_reply_at=current.last_reply_at,
        follow_up_at=None if newer else current.follow_up_at,
        last_message=item.message if newer else current.last_message,
    )


def apply_edit_to_cache(store: LocalStore, conn: sa.Connection, edit: Edit) -> None:
    """Apply one outbox edit to the cache (used when re-applying after a pull)."""
    current = store.get_prospect(conn, edit.target)
    if edit.op == "delete":
        if current is not None:
            store.delete_prospect_row(conn, edit.target)
        return
    if edit.op == "add":
        if current is None:
            store.put_prospect(conn, Prospect(edit.target, edit.status or "new", notes=edit.notes))
        return
    if current is None:
        current = Prospect(edit.target, "new")
    if edit.op == "status" and edit.status is not None:
        current = replace(current, status=edit.status)
    elif edit.op == "notes":
        current = replace(current, notes=edit.notes)
    elif edit.op == "append" and edit.notes is not None:
        current = replace(current, notes=merge_note(current.notes, edit.notes))
    elif edit.op == "reply" and edit.at is not None:
        current = replace(
            current,
            status=status_after_reply(read_stored_status(current.status)).value,
            last_reply_at=max(current.last_reply_at or edit.at, edit.at),
        )
    elif edit.op == "follow_up":
        current = replace(
            current, follow_up_at=datetime.fromisoformat(edit.ref) if edit.ref else None
        )
    store.put_prospect(conn, current)


def apply_to_cache(store: LocalStore, conn: sa.Connection, item: OutgoingLog | Edit) -> None:
    """Re-apply one journal item (a DM or an edit) to the cache."""
    if isinstance(item, Edit):
        apply_edit_to_cache(store, conn, item)
    else:
        apply_dm_to_cache(store, conn, item)
