"""The state one benchmark run shares between figures: sizes, the database, homes."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from bench.harness import BenchDatabase, Sizes
from dmledger import settings as config
from dmledger.app.ledger import Ledger

REPO = Path(__file__).resolve().parents[1]


@dataclass
class RunContext:
    sizes: Sizes
    db: BenchDatabase
    tmp: Path
    log: Callable[[str], None]
    seed: int = 20261125
    handles: list[str] = field(default_factory=list)  # the cloud's leads, version order
    top_version: int = 0
    cache_home: Path | None = None  # a home whose cache holds every cloud lead, synced
    notes: list[str] = field(default_factory=list)  # remarks for the results file


def new_home(
    path: Path, cloud_url: str, *, operator: str = "Op01", actor: str = "sender.01"
) -> Path:
    """An initialised home (config, token, empty local store) using ``cloud_url``."""
    path.mkdir(parents=True, exist_ok=True)
    ledger, _password = Ledger.init_home(path, operator, cloud_url=cloud_url, actor=actor)
    ledger.close()
    return path


def open_via(home: Path, cloud_url: str) -> Ledger:
    """Open ``home`` with its cloud reached at ``cloud_url`` (e.g. through a proxy)."""
    settings = config.load(home).model_copy(update={"cloud_url": cloud_url})
    return Ledger(home, settings)


def run_child(*args: str, timeout: float = 3600) -> dict[str, Any]:
    """Run ``python -m bench.child ARGS`` and return its JSON answer."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.child", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.child {args[0]} failed:\n{done.stderr[-4000:]}")
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


# What P2 compares between the pulled cache and the plain copy: every column the pull
# reads from the cloud (the cache's own, such as due_at, the copy does not have).
CACHE_COLUMNS = (
    "target_username, coalesce(status, 'new'), owner_actor, owner_operator, notes, "
    "first_contacted, last_updated, row_version, notes_replaced, last_dm_at, "
    "coalesce(dm_count, 0), last_reply_at, follow_up_at, last_message"
)


def cache_checksum(
    home: Path, file: str = "local_data.db", table: str = "prospects"
) -> tuple[int, str]:
    """(rows, sha256) of a home's cached leads (or P2's plain copy), in handle order."""
    digest = hashlib.sha256()
    rows = 0
    db = sqlite3.connect(home / file)
    try:
        for row in db.execute(f"SELECT {CACHE_COLUMNS} FROM {table} ORDER BY target_username"):
            digest.update(repr(row).encode())
            rows += 1
    finally:
        db.close()
    return rows, digest.hexdigest()


def round_trip_time(dsn: str, samples: int = 15) -> float:
    """Median seconds of ``SELECT 1`` on an open connection to ``dsn``."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT 1").fetchone()
        timings = []
        for _ in range(samples):
            started = time.perf_counter()
            conn.execute("SELECT 1").fetchone()
            timings.append(time.perf_counter() - started)
    timings.sort()
    return timings[len(timings) // 2]
