"""Backups of the local store while anything is queued: what ``dmledger repair`` adds
to what it salvages from a damaged file.

A backup is a consistent copy made with SQLite's online backup API (never a copy of
the file: a live WAL database's file alone is not the database), checked (SQLite's
quick check of the tables holding queued work) before it replaces anything, and kept
0600 in ``HOME/backups/``; the newest ``KEEP`` are kept. One is due when the newest is
older than ``EVERY_S`` seconds and something is queued; the store checks that when it
opens and after each write it commits, and hands the copy to a daemon thread
(``start``), so neither a command nor the native host waits for it.

The bound: with the store and every backup damaged at once, what can be lost is what
was queued after the newest readable backup (at most ``EVERY_S`` seconds of work
before the damage, plus anything queued since a backup that failed its check) and is
unreadable in the damaged file; ``repair`` names each such item it can count.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from dmledger.errors import StoreDamaged
from dmledger.local import integrity

log = logging.getLogger(__name__)

FOLDER = "backups"
KEEP = 2
EVERY_S = 180.0  # at most this much queued work since the newest backup
PREFIX = "local_data-"
#: Off only in tests that take their backups by hand, at moments they choose.
AUTOMATIC = True


def folder(store: Path) -> Path:
    return store.parent / FOLDER


def backups(store: Path) -> list[Path]:
    """This store's backups, newest first."""
    try:
        found = [
            p for p in folder(store).iterdir() if p.name.startswith(PREFIX) and p.suffix == ".db"
        ]
    except OSError:
        return []
    return sorted(found, key=lambda p: p.name, reverse=True)


def due(store: Path, now: float | None = None) -> bool:
    """Is the newest backup older than ``EVERY_S`` (or is there none)?"""
    newest = backups(store)
    if not newest:
        return True
    try:
        age = (now or time.time()) - newest[0].stat().st_mtime
    except OSError:
        return True
    return age >= EVERY_S


def take(store: Path, *, stamp: str | None = None) -> Path | None:
    """Copy ``store`` now (when something is queued); the new backup's path, or None
    when nothing is queued or the copy failed its check (the older backups are kept)."""
    integrity.hold(store)
    try:
        return _take(store, stamp)
    finally:
        integrity.release(store)


def _take(store: Path, stamp: str | None) -> Path | None:
    source = sqlite3.connect(store, timeout=30)
    try:
        if not _queued(source):
            return None
        target_dir = folder(store)
        target_dir.mkdir(mode=0o700, exist_ok=True)
        name = f"{PREFIX}{stamp or time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
        partial = target_dir / f".{name}.{os.getpid()}.{threading.get_ident()}.partial"
        _forget_cut_copies(target_dir)
        target = sqlite3.connect(partial)
        try:
            os.chmod(partial, 0o600)
            source.backup(target, pages=4096)  # steps: the app's writers wait for none
            integrity.check_queue(target, partial)
            # A copy that is read, not written: no -wal or -shm beside it when opened.
            target.execute("PRAGMA journal_mode=DELETE")
        finally:
            target.close()
    finally:
        source.close()
    final = target_dir / f"{name}.db"
    os.replace(partial, final)
    for old in backups(store)[KEEP:]:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                Path(f"{old}{suffix}").unlink()
    return final


def readable(copy: Path) -> bool:
    """Does a backup still pass the check it passed when it was made?"""
    try:
        integrity.quick_check(copy)
        db = sqlite3.connect(f"{copy.as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            integrity.check_queue(db, copy)
        finally:
            db.close()
    except (sqlite3.Error, StoreDamaged, OSError):
        return False
    return True


def _forget_cut_copies(target_dir: Path) -> None:
    """Partial copies a process ended during (an hour old: none is still being written)."""
    for cut in target_dir.glob(".*.partial"):
        with contextlib.suppress(OSError):
            if time.time() - cut.stat().st_mtime > 3600:
                cut.unlink()


def _queued(db: sqlite3.Connection) -> bool:
    try:
        row = db.execute(
            "SELECT EXISTS (SELECT 1 FROM outreach_logs WHERE synced_to_cloud = 0) "
            "OR EXISTS (SELECT 1 FROM outbox) OR EXISTS (SELECT 1 FROM team_outbox)"
        ).fetchone()
    except sqlite3.Error:
        return False
    return bool(row and row[0])


def start(store: Path) -> bool:
    """Take a backup in a daemon thread of this process; True when one was started.

    Not a process of its own: a second process opening and closing the store right
    as the command that started it opens it again met SQLite's short-read I/O error in
    our tests (the last closer deletes the -shm and -wal). Connections of one process
    share their locks, so a thread cannot. The cost: a command that ends first (a
    ``log``) ends the thread with it; the copy is written to a hidden partial file and
    renamed only when whole, so a cut copy is never taken for a backup, and the next
    command or the running ``serve``, host or ``sync --watch`` takes it."""
    thread = threading.Thread(
        target=_take_quietly, args=(store,), name="dmledger-backup", daemon=True
    )
    thread.start()
    return True


def _take_quietly(store: Path) -> None:
    try:
        take(store)
    except (sqlite3.Error, OSError, StoreDamaged) as error:
        log.warning("no backup of %s: %s", store, error)


class Schedule:
    """When this process last asked for a backup of one store (so a burst of writes
    asks at most once per ``EVERY_S``)."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self._asked = 0.0

    def after_write(self, queued: Callable[[], bool]) -> bool:
        """Start a backup when one is due and something is queued; True if started."""
        now = time.monotonic()
        if not AUTOMATIC or (self._asked and now - self._asked < EVERY_S):
            return False
        self._asked = now
        if not due(self.store) or not queued():
            return False
        return start(self.store)


def main(argv: list[str]) -> int:
    """``python -m dmledger.local.backup STORE``: take one now (by hand, or from cron)."""
    (path,) = argv
    try:
        take(Path(path))
    except (sqlite3.Error, OSError, StoreDamaged) as error:
        # A store that fails the check is not copied: the older backups stay.
        logging.getLogger(__name__).warning("no backup of %s: %s", path, error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
