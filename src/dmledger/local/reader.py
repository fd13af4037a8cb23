"""Reading the cache with the standard library's ``sqlite3`` alone.

``dmledger today`` is bound by start-up, not by its query: it reads the due list
through this module and nothing heavier (no SQLAlchemy, no cloud driver). The
``Ledger`` runs the very same statements on its own connection's driver connection,
so the Today list has one source whichever way it is read. Meta keys come from
``local/meta_keys.py``, as everywhere.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from dmledger.domain.followups import FollowUpRule
from dmledger.local import integrity
from dmledger.local import meta_keys as keys

DB_NAME = "local_data.db"
READS_FROM_VERSION = 3  # the cache version that has the follow-up columns read here
COUNT_CAP = 10_000


@dataclass(frozen=True)
class DueRow:
    """A lead due for a follow-up, as the Today list shows it."""

    handle: str
    status: str
    owner_actor: str | None
    owner_operator: str | None
    due_at: datetime
    last_dm_at: datetime | None
    dm_count: int
    last_reply_at: datetime | None
    follow_up_at: datetime | None  # set by hand
    last_message: str | None  # the team's last DM text to the lead (as the cloud keeps it)


def open_cache(home: Path) -> sqlite3.Connection | None:
    """The home's cache opened read-only, or None when it cannot be read that way (not
    made yet, or made by an older agent: the store's own open upgrades it)."""
    path = home / DB_NAME
    if not path.is_file():
        return None
    integrity.quick_check(path)  # StoreDamaged: said by the Ledger's open, the same check
    db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        version = meta(db, keys.LOCAL_SCHEMA_VERSION)
    except sqlite3.Error:
        version = None
    if version is None or not version.isdigit() or int(version) < READS_FROM_VERSION:
        db.close()
        return None
    return db


def meta(db: sqlite3.Connection, key: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else row[0]


def follow_up_rule(db: sqlite3.Connection) -> FollowUpRule:
    """The team's rule as last read from the cloud (the default before any)."""
    days, most = meta(db, keys.RULE_DAYS), meta(db, keys.RULE_MAX)
    default = FollowUpRule()
    return FollowUpRule(
        int(days) if days else default.after_days,
        int(most) if most is not None else default.max_followups,
    )


def clock_offset(db: sqlite3.Connection) -> timedelta | None:
    """The cloud's clock minus this machine's, as measured at the last sync."""
    value = meta(db, keys.CLOCK_OFFSET)
    return timedelta(seconds=float(value)) if value else None


_DUE_COLUMNS = (
    "target_username, status, owner_actor, owner_operator, due_at, last_dm_at, "
    "dm_count, last_reply_at, follow_up_at, last_message"
)


def due_rows(
    db: sqlite3.Connection,
    now: datetime,
    *,
    actor: str | None = None,
    operator: str | None = None,
    limit: int = 200,
) -> tuple[list[DueRow], int]:
    """Leads due at ``now`` (naive UTC), most overdue first, and how many are due in all
    (counted up to ``COUNT_CAP + 1``: more than the cap reads as "more than 10,000").

    A range read of the partial indexes on ``due_at`` (alone, or after the owner)."""
    where = "due_at IS NOT NULL AND due_at <= ?"
    args: list[object] = [now.isoformat(timespec="microseconds")]
    if actor is not None:
        where += " AND owner_actor = ?"
        args.append(actor)
    if operator is not None:
        where += " AND owner_operator = ?"
        args.append(operator)
    rows = db.execute(
        f"SELECT {_DUE_COLUMNS} FROM prospects WHERE {where} "  # fixed text, bound values
        "ORDER BY due_at, target_username LIMIT ?",
        (*args, limit),
    ).fetchall()
    # Counting half a million due leads costs more than the page: count up to a cap.
    (total,) = db.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM prospects WHERE {where} LIMIT ?)",
        (*args, COUNT_CAP + 1),
    ).fetchone()
    return [_due_row(r) for r in rows], int(total)


def _due_row(r: tuple[object, ...]) -> DueRow:
    try:
        return _due_row_of(r)
    except (TypeError, ValueError) as error:
        raise integrity.DamagedValue(
            f"a cached lead holds a value DM Ledger never wrote ({error})"
        ) from error


def _due_row_of(r: tuple[object, ...]) -> DueRow:
    handle, status, actor, operator, due, last_dm, count, reply, by_hand, message = r
    return DueRow(
        handle=str(handle),
        status=str(status),
        owner_actor=None if actor is None else str(actor),
        owner_operator=None if operator is None else str(operator),
        due_at=_when(due) or datetime.min,
        last_dm_at=_when(last_dm),
        dm_count=int(count) if isinstance(count, int) else 0,
        last_reply_at=_when(reply),
        follow_up_at=_when(by_hand),
        last_message=None if message is None else str(message),
    )


def _when(text: object) -> datetime | None:
    return None if text is None else datetime.fromisoformat(str(text))
