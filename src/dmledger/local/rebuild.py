"""The store side of ``dmledger repair``: the rows a damaged file or a backup holds, and
a fresh store built from the rows chosen (``app/repair.py`` chooses).

Rows keep their ids (``outreach_logs.id``, the queues' ``seq``): an edit's place in the
journal (``after_log``) and the pushed-through marks stay true, and a later repair
that adds a backup of this store meets the same numbers.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from dmledger.domain.handles import normalize_handle
from dmledger.domain.records import ActorRow, OutgoingLog
from dmledger.errors import InvalidInput
from dmledger.local import meta_keys as keys
from dmledger.local import schema
from dmledger.local.effects import apply_dm_to_cache
from dmledger.local.salvage import Row, Salvage, read_rows
from dmledger.local.store import LocalStore

#: The tables a repair reads, with the columns this agent makes (the fallback when a
#: file's own schema cannot be read).
TABLES = (schema.outreach_logs, schema.outbox, schema.team_outbox, schema.meta, schema.actors)
WANTED: dict[str, list[str]] = {t.name: [c.name for c in t.columns] for t in TABLES} | {
    "sqlite_sequence": ["name", "seq"]
}
#: Meta values a fresh store keeps (the rest is the cloud's, read again by the resync).
KEPT_META = (
    keys.CLOCK_OFFSET,
    keys.EDITS_PUSHED_THROUGH,
    keys.TEAM_EDITS_PUSHED_THROUGH,
    keys.RULE_DAYS,
    keys.RULE_MAX,
)


def read_damaged(path: Path) -> Salvage:
    """What can be read of a damaged file, page by page (``local/salvage.py``)."""
    return read_rows(path, WANTED)


def read_backup(path: Path) -> Salvage:
    """A backup's rows: through SQLite when it reads cleanly, else page by page."""
    found = Salvage()
    try:
        db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            for name in WANTED:
                present = [r[1] for r in db.execute(f'PRAGMA table_info("{name}")')]
                if not present:
                    continue
                cursor = db.execute(f'SELECT rowid, * FROM "{name}"')
                names = ["_rowid", *present]
                found.tables[name] = {r[0]: dict(zip(names, r, strict=True)) for r in cursor}
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return read_rows(path, WANTED)
    return found


def sequence(found: Salvage, table: str) -> int:
    """The highest id SQLite ever gave a row of ``table`` (its AUTOINCREMENT record),
    or 0 when that record cannot be read."""
    for row in found.tables.get("sqlite_sequence", {}).values():
        if row.get("name") == table and isinstance(row.get("seq"), int):
            return int(row["seq"])
    return 0


def meta_value(found: Salvage, key: str) -> str | None:
    for row in found.tables.get("meta", {}).values():
        if row.get("key") == key:
            value = row.get("value")
            return None if value is None else str(value)
    return None


def write_store(
    path: Path,
    *,
    logs: Iterable[Row],
    edits: Iterable[Row],
    team_edits: Iterable[Row],
    meta: dict[str, str],
    actors: Iterable[ActorRow],
) -> None:
    """A fresh store at ``path`` (which must not exist) holding these rows; each DM
    also marks its lead in the cache, so a card shows it before the resync."""
    store = LocalStore(path)
    try:
        with store.transaction() as conn:
            kept = list(logs)
            _insert(conn, schema.outreach_logs, kept)
            _insert(conn, schema.outbox, edits)
            _insert(conn, schema.team_outbox, team_edits)
            for key, value in meta.items():
                store.set_meta(conn, key, value)
            store.set_meta(conn, keys.FORCE_RESYNC, "1")
            for actor in actors:
                store.remember_actor(conn, actor)
            for row in sorted(kept, key=lambda r: int(r["id"])):
                apply_dm_to_cache(store, conn, outgoing(row))
    finally:
        store.dispose()


def _insert(conn: sa.Connection, table: sa.Table, rows: Iterable[Row]) -> None:
    names = {c.name for c in table.columns}
    values = [{k: v for k, v in row.items() if k in names} for row in rows]
    if values:
        conn.execute(sa.insert(table), values)


def outgoing(row: Row) -> OutgoingLog:
    return OutgoingLog(
        str(row["client_log_id"]),
        str(row["target_username"]),
        str(row["actor_username"]),
        str(row["operator_name"]),
        str(row["message_snippet"]),
        datetime.fromisoformat(str(row["timestamp"])),
        int(row["id"]),
        None if row.get("template_name") is None else str(row["template_name"]),
    )


def sound_log(row: Row) -> bool:
    """Does a row read from damaged pages hold a whole DM (every value of its kind)?"""
    text = ("client_log_id", "target_username", "actor_username", "operator_name")
    try:
        if not all(isinstance(row.get(k), str) and row[k] and "\ufffd" not in row[k] for k in text):
            return False
        if not isinstance(row.get("message_snippet"), str):
            return False
        datetime.fromisoformat(str(row["timestamp"]))
        return isinstance(row.get("id"), int) and row.get("synced_to_cloud") in (0, 1)
    except (ValueError, TypeError):
        return False


_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def reconciled_log(row: Row, indexed: Row | None) -> Row | None:
    """A DM's row checked against its indexes' copy of the same columns: where the two
    disagree, damage changed one; the copy that has the form DM Ledger writes wins. None
    when that cannot tell (the DM is then reported lost, never pushed under a wrong
    id or to a wrong lead)."""
    if not indexed:
        return row
    fixed = dict(row)
    for column, other in indexed.items():
        mine = row.get(column)
        if column not in row or mine == other or column == "id":
            continue
        if column == "synced_to_cloud":
            fixed[column] = 0  # pushing again is safe: the cloud keys DMs by client id
            continue
        chosen = _one_of(column, mine, other)
        if chosen is None:
            return None
        fixed[column] = chosen
    return fixed


def _one_of(column: str, mine: object, other: object) -> object | None:
    def well_formed(value: object) -> bool:
        if not isinstance(value, str) or "\ufffd" in value:
            return False
        if column == "client_log_id":
            return bool(_UUID.match(value))
        if column == "target_username":
            try:
                return normalize_handle(value) == value
            except InvalidInput:
                return False
        if column == "timestamp":
            try:
                datetime.fromisoformat(value)
            except ValueError:
                return False
        return True

    good = [v for v in (mine, other) if well_formed(v)]
    if len(good) == 1:
        return good[0]
    return mine if column == "timestamp" and len(good) == 2 else None


def sound_edit(row: Row, ops: frozenset[str]) -> bool:
    try:
        datetime.fromisoformat(str(row["created_at"]))
    except (ValueError, TypeError, KeyError):
        return False
    return isinstance(row.get("seq"), int) and row.get("op") in ops and bool(row.get(_key(row)))


def _key(row: Row) -> str:
    return "target_username" if "target_username" in row else "name"
