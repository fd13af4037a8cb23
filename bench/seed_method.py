"""The seed's way of pushing the offline queue, rebuilt faithfully as a baseline (P3).

The tool the seed document comes from pushes its ``outreach_logs`` queue row by row,
each statement committed on its own (autocommit), and marks each local row synced
after its insert:

- per actor in the queue: make sure its operator and the actor exist (two statements);
- per DM: make sure the lead exists and is marked contacted (one MERGE/upsert: the
  cloud's ``OUTREACH_LOGS.TARGET_USERNAME`` is a foreign key to ``PROSPECTS``), then
  insert the log (one statement), then ``UPDATE outreach_logs SET synced_to_cloud = 1``
  locally.

So N queued DMs cost 2·N + 2·actors round trips. The statements are the seed schema's
own (no ``client_log_id``: the seed's push is not idempotent).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import psycopg

PROSPECT_UPSERT = """
INSERT INTO prospects (target_username, status, owner_actor, first_contacted)
VALUES (%s, 'contacted', %s, %s)
ON CONFLICT (target_username) DO UPDATE SET status = 'contacted'
"""
LOG_INSERT = """
INSERT INTO outreach_logs (target_username, actor_username, message_text, created_at)
VALUES (%s, %s, %s, %s)
"""
OPERATOR_ENSURE = (
    "INSERT INTO operators (operator_name) VALUES (%s) ON CONFLICT (operator_name) DO NOTHING"
)
ACTOR_ENSURE = (
    "INSERT INTO actors (username, owner_operator) VALUES (%s, %s) "
    "ON CONFLICT (username) DO NOTHING"
)


def push_like_the_seed(local_db: Path, dsn: str) -> tuple[float, int]:
    """Push every unsynced DM of ``local_db`` the seed's way; returns (seconds, DMs).

    The cloud connection is opened before the clock starts (the seed keeps one open).
    """
    local = sqlite3.connect(local_db, isolation_level=None)
    with psycopg.connect(dsn, autocommit=True) as cloud:
        cloud.execute("SELECT 1")
        started = time.perf_counter()
        queue = local.execute(
            "SELECT id, target_username, actor_username, operator_name, message_snippet,"
            " timestamp FROM outreach_logs WHERE synced_to_cloud = 0 ORDER BY id"
        ).fetchall()
        for actor, operator in sorted({(row[2], row[3]) for row in queue}):
            cloud.execute(OPERATOR_ENSURE, (operator,))
            cloud.execute(ACTOR_ENSURE, (actor, operator))
        for local_id, target, actor, _operator, message, sent_at in queue:
            cloud.execute(PROSPECT_UPSERT, (target, actor, sent_at))
            cloud.execute(LOG_INSERT, (target, actor, message[:4000], sent_at))
            local.execute("UPDATE outreach_logs SET synced_to_cloud = 1 WHERE id = ?", (local_id,))
        seconds = time.perf_counter() - started
    local.close()
    return seconds, len(queue)
