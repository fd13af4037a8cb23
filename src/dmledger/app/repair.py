"""``dmledger repair``: from a damaged local store back to a working one, losing no
queued DM, reply or edit that any copy still holds.

1. Check (SQLite's ``PRAGMA integrity_check``, after the quick check at open).
2. Move the damaged file aside, with its ``-wal`` and ``-shm``, into ``HOME/damaged/``
   with a timestamp; nothing is deleted.
3. Salvage every row of the queues it can read (``local/salvage.py``), and add what
   the newest backup holds that the salvage missed (``local/backup.py``): DMs by
   their client id, so the union holds each once and the cloud, which keys DMs by the
   same id, never gets one twice; edits by their place in the journal (``seq``),
   never one the cloud already took (the pushed-through marks).
4. Build a fresh store with the union queued, the home's settings untouched, then
   sync: the queue goes up and the cache is read again from the cloud (or at the next
   sync, when the cloud cannot be reached now).

What the damaged file and the backups both miss is reported as lost, item by item
where the ids say an item was there (``lost_items``), never silently.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dmledger import settings as config
from dmledger.domain.records import ActorRow
from dmledger.errors import DmLedgerError, Refused
from dmledger.local import DB_NAME, OPS, Row, Salvage, backup, integrity, rebuild
from dmledger.local import meta_keys as keys
from dmledger.sync.lock import sync_lock

from .views import RepairView

DAMAGED_FOLDER = "damaged"
HOLDER_WAIT_S = 30.0
KINDS = {"dms": "outreach_logs", "edits": "outbox", "team_changes": "team_outbox"}


@dataclass
class _Tally:
    salvaged: int = 0
    from_backup: int = 0
    lost: list[str] = field(default_factory=list)
    uncounted: list[str] = field(default_factory=list)


def check(home: Path) -> RepairView:
    """SQLite's full check of the home's store; changes nothing."""
    config.load(home)
    problems = integrity.integrity_problems(home / DB_NAME)
    return _view(problems, checked_only=True)


def repair(home: Path, *, clock: Callable[[], float] = time.time) -> RepairView:
    """Repair the home's store when it is damaged (see the module's docstring)."""
    config.load(home)  # ConfigError for a home that was never set up
    path = home / DB_NAME
    problems = integrity.integrity_problems(path)
    if not problems:
        return _view([], checked_only=False)
    holder = _holder(path)
    if holder is not None:
        raise Refused(
            f"the local store {path} is open in another DM Ledger process (pid {holder}): "
            "stop `dmledger serve` and close the browser (its DM Ledger host), then run "
            "`dmledger repair` again"
        )
    with sync_lock(home, wait=False):
        moved = _move_aside(path, clock())
        view = _rebuild(home, path, moved, problems)
    with contextlib.suppress(DmLedgerError, OSError):
        backup.take(path)  # the newest backup is of the repaired store
    return _resync(home, view)


def _holder(path: Path, *, wait: float = HOLDER_WAIT_S) -> int | None:
    """Another process that has the store open, after waiting ``wait`` seconds for it to
    let go (a backup or an index build a sync started ends by itself)."""
    deadline = time.monotonic() + wait
    while True:
        holder = integrity.holder_of(path)
        if holder is None or holder == os.getpid() or time.monotonic() >= deadline:
            return None if holder == os.getpid() else holder
        time.sleep(0.2)


def _move_aside(path: Path, now: float) -> Path:
    folder = path.parent / DAMAGED_FOLDER
    folder.mkdir(mode=0o700, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    target = folder / f"{path.stem}-{stamp}{path.suffix}"
    n = 1
    while target.exists():
        n += 1
        target = folder / f"{path.stem}-{stamp}-{n}{path.suffix}"
    os.replace(path, target)
    for suffix in ("-wal", "-shm"):
        beside = Path(f"{path}{suffix}")
        if beside.exists():
            os.replace(beside, Path(f"{target}{suffix}"))
    return target


def _rebuild(home: Path, path: Path, moved: Path, problems: list[str]) -> RepairView:
    salvage = rebuild.read_damaged(moved)
    newest = _newest_backup(path)
    older = rebuild.read_backup(newest) if newest is not None else Salvage()
    tallies = {kind: _Tally() for kind in KINDS}

    logs = _merge_logs(salvage, older, tallies["dms"])
    edits = _merge_edits(
        salvage, older, "outbox", keys.EDITS_PUSHED_THROUGH, OPS["outbox"], tallies["edits"]
    )
    team = _merge_edits(
        salvage,
        older,
        "team_outbox",
        keys.TEAM_EDITS_PUSHED_THROUGH,
        OPS["team_outbox"],
        tallies["team_changes"],
    )
    if not salvage.tables.get("outreach_logs") and not salvage.tables.get("meta"):
        tallies["dms"].uncounted.append(
            "the damaged file held no readable queue: anything queued"
            + (f" after the backup {newest.name}" if newest else "")
            + " cannot be read or counted"
        )
    elif any("write-ahead log" in p and "missing" in p for p in problems):
        tallies["dms"].uncounted.append(
            "the changes only in the missing write-ahead log"
            + (f", made after the backup {newest.name}," if newest else "")
            + " could not be read and cannot be counted"
        )
    meta = {}
    for key in rebuild.KEPT_META:
        value = rebuild.meta_value(salvage, key) or rebuild.meta_value(older, key)
        if value is not None:
            meta[key] = value
    actors = _actors(salvage, older, home)
    partial = path.with_name(path.name + ".repairing")
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    rebuild.write_store(partial, logs=logs, edits=edits, team_edits=team, meta=meta, actors=actors)
    os.replace(partial, path)
    config.secure_home(home)
    lost_items = [item for t in tallies.values() for item in t.lost]
    return RepairView(
        damaged=True,
        problems=problems,
        checked_only=False,
        moved_to=str(moved),
        salvaged=sum(t.salvaged for t in tallies.values()),
        from_backup=sum(t.from_backup for t in tallies.values()),
        lost=len(lost_items),
        lost_items=lost_items,
        uncounted=[item for t in tallies.values() for item in t.uncounted],
        unreadable=salvage.unreadable[:50],
        backup=None if newest is None else str(newest),
        details={
            kind: {"salvaged": t.salvaged, "from_backup": t.from_backup, "lost": len(t.lost)}
            for kind, t in tallies.items()
        },
        resynced=False,
        resync_error=None,
    )


def _newest_backup(path: Path) -> Path | None:
    """The newest backup whose queue reads cleanly (each was checked when it was made;
    this checks it again, the queue's tables only: a backup holds the whole cache)."""
    for found in backup.backups(path):
        if backup.readable(found):
            return found
    found_any = backup.backups(path)
    return found_any[0] if found_any else None  # damaged too: read page by page


def _merge_logs(salvage: Salvage, older: Salvage, tally: _Tally) -> list[Row]:
    """Every readable DM (synced ones too: this machine's history), each client id once;
    the damaged file's copy first (it is newer), the backup's for what it lacks."""
    chosen: dict[str, Row] = {}
    ids: set[int] = set()
    # A row id is never given twice: the same id with another client id in the backup
    # means the damage changed this copy's (the backup was checked when it was made).
    in_backup = {
        int(r["id"]): r["client_log_id"]
        for r in older.rows("outreach_logs")
        if rebuild.sound_log(r)
    }
    indexed = salvage.indexed.get("outreach_logs", {})
    for found in salvage.rows("outreach_logs"):
        row = rebuild.reconciled_log(found, indexed.get(found["_rowid"]))
        if row is None:
            continue  # its two copies disagree and neither reads as DM Ledger wrote it
        if in_backup.get(int(row["id"]) if isinstance(row.get("id"), int) else -1) not in (
            None,
            row.get("client_log_id"),
        ):
            continue
        if rebuild.sound_log(row) and row["client_log_id"] not in chosen:
            chosen[row["client_log_id"]] = row
            ids.add(int(row["id"]))
            tally.salvaged += row["synced_to_cloud"] == 0
    backup_ids: set[int] = set()
    for row in older.rows("outreach_logs"):
        if not rebuild.sound_log(row):
            continue
        backup_ids.add(int(row["id"]))
        if row["client_log_id"] in chosen or row["synced_to_cloud"] != 0:
            continue
        if int(row["id"]) in ids:
            row = {k: v for k, v in row.items() if k != "id"} | {"id": _free_id(ids)}
        chosen[row["client_log_id"]] = row
        ids.add(int(row["id"]))
        tally.from_backup += 1
    # Ids SQLite gave after everything the backup and the synced rows account for, and
    # that neither copy can read: DMs queued and lost.
    synced = [int(r["id"]) for r in chosen.values() if r["synced_to_cloud"] == 1]
    floor = max([*backup_ids, *synced, 0])
    top = max(rebuild.sequence(salvage, "outreach_logs"), max(ids, default=0))
    for missing in range(floor + 1, top + 1):
        if missing not in ids:
            tally.lost.append(f"DM #{missing} (queued after the newest backup, unreadable)")
    return list(chosen.values())


def _free_id(ids: set[int]) -> int:
    return max(ids, default=0) + 1


def _merge_edits(
    salvage: Salvage,
    older: Salvage,
    table: str,
    pushed_key: str,
    ops: frozenset[str],
    tally: _Tally,
) -> list[Row]:
    pushed = max(
        int(v)
        for v in (
            rebuild.meta_value(salvage, pushed_key) or "0",
            rebuild.meta_value(older, pushed_key) or "0",
        )
        if v.isdigit()
    )
    chosen: dict[int, Row] = {}
    keys_in_backup = {
        int(r["seq"]): _edit_key(r) for r in older.rows(table) if rebuild.sound_edit(r, ops)
    }
    for row in salvage.rows(table):
        seq = row.get("seq")
        if isinstance(seq, int) and keys_in_backup.get(seq, _edit_key(row)) != _edit_key(row):
            continue  # damaged here: the backup's copy of this edit is added below
        if rebuild.sound_edit(row, ops):
            chosen[int(row["seq"])] = row
            tally.salvaged += 1
    backup_seqs: set[int] = set()
    for row in older.rows(table):
        if not rebuild.sound_edit(row, ops):
            continue
        seq = int(row["seq"])
        backup_seqs.add(seq)
        if seq in chosen or seq <= pushed:
            continue  # read already, or the cloud has it (it was removed once pushed)
        chosen[seq] = row
        tally.from_backup += 1
    floor = max([*backup_seqs, pushed, 0])
    top = max(rebuild.sequence(salvage, table), max(chosen, default=0))
    what = "edit" if table == "outbox" else "team change"
    for missing in range(floor + 1, top + 1):
        if missing not in chosen:
            tally.lost.append(f"{what} #{missing} (queued after the newest backup, unreadable)")
    return [chosen[k] for k in sorted(chosen)]


def _edit_key(row: Row) -> tuple[object, ...]:
    """What an edit is (never changed once queued; its error and failed_at may be)."""
    return tuple(v for k, v in sorted(row.items()) if k not in ("error", "failed_at", "_rowid"))


def _actors(salvage: Salvage, older: Salvage, home: Path) -> list[ActorRow]:
    found: dict[str, ActorRow] = {}
    for source in (older, salvage):
        for row in source.rows("actors"):
            name = row.get("username")
            if isinstance(name, str) and name:
                owner = row.get("owner_operator")
                status = row.get("status")
                found[name] = ActorRow(
                    name,
                    owner if isinstance(owner, str) else None,
                    status if isinstance(status, str) else "active",
                )
    settings = config.load(home)
    if settings.actor and settings.actor not in found:
        found[settings.actor] = ActorRow(settings.actor, settings.operator, "active")
    return list(found.values())


def _resync(home: Path, view: RepairView) -> RepairView:
    """Sync now: the queue goes up and the cache is read again; when the cloud cannot
    be reached, the next sync does it (the store says a resync is due)."""
    from .ledger import Ledger

    ledger = Ledger.open(home)
    try:
        ledger.sync(build_indexes=False)
        ledger.build_indexes(background=True)
    except DmLedgerError as error:
        return view.model_copy(update={"resync_error": str(error)})
    finally:
        ledger.close()
    return view.model_copy(update={"resynced": True})


def _view(problems: list[str], *, checked_only: bool) -> RepairView:
    return RepairView(
        damaged=bool(problems),
        problems=problems,
        checked_only=checked_only,
        moved_to=None,
        salvaged=0,
        from_backup=0,
        lost=0,
        lost_items=[],
        uncounted=[],
        unreadable=[],
        backup=None,
        details={kind: {"salvaged": 0, "from_backup": 0, "lost": 0} for kind in KINDS},
        resynced=False,
        resync_error=None,
    )
