"""Measurements that run in a process of their own, so that the process's peak memory
is theirs alone. Each prints one JSON line: seconds, peak RSS (VmHWM) and rows.

    python -m bench.child pull HOME            # DM Ledger's initial pull (P2)
    python -m bench.child floor HOME DSN       # the plain copy of the same rows (P2's floor)
    python -m bench.child profile-pull HOME OUT  # the pull under cProfile, stats to OUT
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

# Every column the pull reads from the cloud (cloud/pull.py's page statement), so both
# copies carry the same data: the leads, their owners' operators, and the DM figures,
# reply and follow-up dates the cache keeps beside them.
FLOOR_QUERY = """
SELECT p.target_username, p.status, p.owner_actor, a.owner_operator, p.notes,
       p.first_contacted, p.last_updated, p.row_version, p.notes_replaced,
       p.last_dm_at, p.dm_count, p.last_reply_at, p.follow_up_at, p.last_message
FROM prospects p LEFT JOIN actors a ON a.username = p.owner_actor
"""
# The plain copy: a SQLite table with only its primary key (no search index, no other
# index, no trigger), in a file of its own next to the home.
FLOOR_TABLE = """
CREATE TABLE copied (target_username TEXT PRIMARY KEY, status TEXT, owner_actor TEXT,
                     owner_operator TEXT, notes TEXT, first_contacted TEXT,
                     last_updated TEXT, row_version INTEGER, notes_replaced TEXT,
                     last_dm_at TEXT, dm_count INTEGER, last_reply_at TEXT,
                     follow_up_at TEXT, last_message TEXT)
"""
FLOOR_INSERT = "INSERT INTO copied VALUES (" + ", ".join("?" * 14) + ")"


def peak_rss_mb() -> float:
    """This process's peak resident set size (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (a loaded machine inflates wall
    time, much less this)."""
    times = os.times()
    return times.user + times.system


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="microseconds")


def floor(home: Path, dsn: str) -> dict[str, Any]:
    """The plain copy: every row through a server-side cursor into one executemany into
    a SQLite table with only its primary key, one transaction."""
    started = time.perf_counter()
    rows = 0
    with psycopg.connect(dsn) as pg, pg.cursor(name="floor") as cursor:
        cursor.itersize = 5000
        cursor.execute(FLOOR_QUERY)
        db = sqlite3.connect(home / "plain_copy.db", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(FLOOR_TABLE)

        def converted() -> Iterator[tuple[Any, ...]]:
            nonlocal rows
            for (handle, status, actor, operator, notes, first, last, version, replaced,
                 last_dm, dm_count, last_reply, follow_up, message) in cursor:  # fmt: skip
                rows += 1
                yield (handle, status or "new", actor, operator, notes, _iso(first), _iso(last),
                       version, replaced, _iso(last_dm), dm_count, _iso(last_reply),
                       _iso(follow_up), message)  # fmt: skip

        db.execute("BEGIN")
        db.executemany(FLOOR_INSERT, converted())
        db.execute("COMMIT")
        db.close()
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds(),
        "peak_rss_mb": peak_rss_mb(),
        "rows": rows,
    }


def pull(home: Path) -> dict[str, Any]:
    """DM Ledger's own initial pull into the (empty) cache of ``home``, as ``dmledger
    sync`` does it: the sync returns once the rows are in ("seconds"), then the indexes
    are built ("index_seconds"; here in this process, where the command starts a
    process of its own), so the peak RSS covers both."""
    from dmledger.app.ledger import Ledger

    ledger = Ledger.open(home)
    try:
        started = time.perf_counter()
        report = ledger.sync(build_indexes=False)
        seconds = time.perf_counter() - started
        cpu = cpu_seconds()
        started = time.perf_counter()
        ledger.build_indexes()
        index_seconds = time.perf_counter() - started
        index_cpu = cpu_seconds() - cpu
        pending = ledger.indexes_pending()
    finally:
        ledger.close()
    return {
        "seconds": seconds,
        "index_seconds": index_seconds,
        "cpu_seconds": cpu,  # from the process's start: imports and opening included
        "index_cpu_seconds": index_cpu,
        "indexes_pending": pending,
        "peak_rss_mb": peak_rss_mb(),
        "rows": report.pulled,
    }


def profile_pull(home: Path, out: Path) -> dict[str, Any]:
    import cProfile

    profiler = cProfile.Profile()
    result = profiler.runcall(pull, home)
    profiler.dump_stats(str(out))
    return dict(result)


def main(argv: list[str]) -> None:
    command, *args = argv
    if command == "pull":
        result = pull(Path(args[0]))
    elif command == "floor":
        result = floor(Path(args[0]), args[1])
    elif command == "profile-pull":
        result = profile_pull(Path(args[0]), Path(args[1]))
    else:
        raise SystemExit(f"unknown command {command!r}")
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
