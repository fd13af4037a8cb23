"""How cached rows become records and back: ISO time text, leads, DMs, queued edits.

One place for the shape of a row, shared by the store's modules and ``followups``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from dmledger.domain.followups import FollowUpRule, FollowUpState, due_at
from dmledger.domain.records import Edit, LocalLog, OutgoingLog, Prospect
from dmledger.domain.timeutil import iso
from dmledger.local.integrity import DamagedValue


def from_iso(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)  # iso() writes naive UTC: nothing to convert
    except (TypeError, ValueError) as error:
        raise DamagedValue(f"a time holds {text!r} ({error})") from error


# The columns a lead is read from, in this order (``lead_of`` reads them by position:
# the Leads list's hot path fetches plain tuples).
LEAD_COLUMNS = (
    "target_username", "status", "owner_actor", "owner_operator", "notes", "first_contacted",
    "last_updated", "row_version", "notes_replaced", "last_dm_at", "dm_count", "last_reply_at",
    "follow_up_at", "last_message",
)  # fmt: skip


def lead_of(row: Sequence[Any]) -> Prospect:
    """A lead from the values of ``LEAD_COLUMNS``, in that order."""
    try:
        return _lead_of(row)
    except (TypeError, ValueError) as error:
        raise DamagedValue(
            f"a cached lead holds a value DM Ledger never wrote ({error})"
        ) from error


def _lead_of(row: Sequence[Any]) -> Prospect:
    (handle, status, owner, operator, notes, first, updated, version, replaced,
     last_dm, dm_count, last_reply, follow_up, last_message) = row  # fmt: skip
    return Prospect(
        handle=handle,
        status=status,
        owner_actor=owner,
        owner_operator=operator,
        notes=notes,
        first_contacted=None if first is None else datetime.fromisoformat(first),
        last_updated=None if updated is None else datetime.fromisoformat(updated),
        row_version=version,
        notes_replaced=replaced,
        last_dm_at=None if last_dm is None else datetime.fromisoformat(last_dm),
        dm_count=dm_count or 0,
        last_reply_at=None if last_reply is None else datetime.fromisoformat(last_reply),
        follow_up_at=None if follow_up is None else datetime.fromisoformat(follow_up),
        last_message=last_message,
    )


def _prospect(row: Any) -> Prospect:
    """A lead from a row of ``prospects`` (any column order: read by name)."""
    return lead_of([getattr(row, name) for name in LEAD_COLUMNS])


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
    try:
        return _log_of(row)
    except (TypeError, ValueError) as error:
        raise DamagedValue(f"a DM holds a value DM Ledger never wrote ({error})") from error


def _log_of(row: Any) -> LocalLog:
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


_EDIT_OPS = frozenset({"add", "status", "notes", "append", "delete", "reply", "follow_up"})


def _edit(row: Any) -> Edit:
    try:
        return _edit_of(row)
    except (TypeError, ValueError) as error:
        raise DamagedValue(
            f"a queued edit holds a value DM Ledger never wrote ({error})"
        ) from error


def _edit_of(row: Any) -> Edit:
    op: Any = row.op
    if op not in _EDIT_OPS or not isinstance(row.target_username, str):
        raise ValueError(f"op {op!r}, lead {row.target_username!r}")
    return Edit(
        seq=row.seq,
        op=op,
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
