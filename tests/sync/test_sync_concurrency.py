"""Concurrent writers and concurrent syncs.

A transaction held open by a foreign writer must not make anyone miss its rows, must
not block a pull, and on PostgreSQL must not block other writers either (the cursor is
the writing transaction's id, read below the oldest one still open). A bulk statement
by another tool reaches every cache. One home syncs once at a time, across threads
and processes; a SIGKILLed holder frees the lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from syncworld import (
    Team,
    assert_cache_equals_cloud,
    cache_leads,
    cloud_leads,
    engine_for,
    sessions_waiting_on_locks,
)

from dmledger.cloud.tables import operators, prospects
from dmledger.domain.timeutil import utcnow
from dmledger.errors import SyncBusy
from dmledger.sync.lock import sync_lock
from support.agent import AgentProcess


@pytest.fixture
def held_writer(team: Team) -> Iterator[sa.Connection]:
    """A foreign tool's connection whose transaction stays open until the test commits."""
    conn = team.cloud.engine.connect()
    conn.begin()
    yield conn
    conn.close()


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.02)


def test_a_transaction_held_open_while_others_commit_is_not_missed(
    team: Team, held_writer: sa.Connection
) -> None:
    ann, bob = team.agent("Ann"), team.agent("Bob")
    for handle in ("shared.lead", "bob.lead"):
        bob.add_prospect(handle, status="cold")
    bob.sync()
    ann.sync()

    # The slow writer writes and then sits on its transaction.
    held_writer.execute(sa.insert(prospects).values(target_username="slow.lead", status="hot"))
    held_writer.execute(
        sa.update(prospects)
        .where(prospects.c.target_username == "shared.lead")
        .values(notes="written by the slow tool")
    )
    bob.update_prospect("bob.lead", status="warm", notes="Bob was quicker")
    bob.cloud.settle_wait = 0.2  # Bob does not wait long for the slow writer to end
    bob_writing = threading.Event()

    def note_bobs_first_write(_conn, _cursor, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE")):
            bob_writing.set()

    sa.event.listen(bob.cloud.engine, "before_cursor_execute", note_bobs_first_write)
    bob_sync = threading.Thread(target=bob.sync)
    bob_sync.start()
    if team.cloud.dialect == "postgresql":
        # No clock row: Bob's push waits for nobody and commits.
        bob_sync.join(timeout=60)
        assert not bob_sync.is_alive(), "Bob's push must not wait for the slow writer"
        assert sessions_waiting_on_locks(team.cloud) == 0
        assert bob.status(probe_cloud=False).pending_changes == 0
    else:
        # SQLite has one writer: wait until Bob has sent his first write, then give an
        # unblocked write ample time to finish, so "still running" means "blocked by
        # the slow writer", not "not started yet".
        _wait_until(bob_writing.is_set, "Bob's push to reach its first write")
        time.sleep(0.5)
        assert bob_sync.is_alive(), "SQLite: Bob cannot commit while the slow writer holds"

    ann.cloud.settle_wait = 0.2
    report = ann.sync()  # a pull reads committed rows only, and takes no lock

    # Nothing below the slow writer's transaction id was written since Ann's last
    # pull; Bob's commit is above it, so it waits for the slow writer to end too.
    assert report.pulled == 0
    assert ann.card("slow.lead").known is False
    assert ann.card("bob.lead").status == "cold"
    held_writer.commit()
    bob_sync.join(timeout=60)
    assert not bob_sync.is_alive()

    ann.sync()
    assert_cache_equals_cloud(ann, team.cloud)
    assert ann.card("slow.lead").status == "hot"
    assert ann.card("shared.lead").notes == "written by the slow tool"
    assert ann.card("bob.lead").notes == "Bob was quicker"


def test_a_transaction_that_began_first_and_writes_last_is_not_missed(pg_team: Team) -> None:
    """The case a sequence or a clock without a lock gets wrong: the slow transaction
    takes its id first, others commit and are pulled past, then it writes a lead."""
    ann, bob = pg_team.agent("Ann"), pg_team.agent("Bob")
    held_writer = pg_team.cloud.engine.connect()
    held_writer.begin()
    bob.add_prospect("first.lead")
    bob.sync()
    ann.sync()
    # The foreign tool's transaction gets its id (any write does) long before its lead.
    held_writer.execute(sa.insert(operators).values(operator_name="Tool"))
    for agent in (ann, bob):
        agent.cloud.settle_wait = 0.2
    for i in range(3):
        bob.add_prospect(f"bob.{i}")
        bob.sync()
        ann.sync()
    assert sessions_waiting_on_locks(pg_team.cloud) == 0
    held_writer.execute(sa.insert(prospects).values(target_username="late.lead", status="hot"))
    held_writer.commit()
    held_writer.close()

    ann.sync()
    assert ann.card("late.lead").status == "hot"
    assert {f"bob.{i}" for i in range(3)} <= {row[0] for row in cache_leads(ann)}
    assert_cache_equals_cloud(ann, pg_team.cloud)


def _bulk(cloud_dialect: str, sql_pg: str, sql_sqlite: str) -> str:
    return sql_pg if cloud_dialect == "postgresql" else sql_sqlite


def test_a_bulk_statement_by_a_foreign_tool_reaches_every_cache(team: Team) -> None:
    """One INSERT of 20,000 leads, one UPDATE of half of them and one DELETE of a
    quarter, each a single statement by another tool: every cache ends equal."""
    ann, bob = team.agent("Ann"), team.agent("Bob")
    bob.add_prospect("before.bulk")
    bob.sync()
    ann.sync()
    dialect = team.cloud.dialect
    series = _bulk(
        dialect,
        "SELECT 'bulk.' || g AS h FROM generate_series(1, 20000) g",
        "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < 20000) "
        "SELECT 'bulk.' || g AS h FROM s",
    )
    with team.cloud.engine.begin() as conn:
        conn.exec_driver_sql(
            f"INSERT INTO prospects (target_username, status) SELECT h, 'new' FROM ({series}) x"
        )
    ann.sync()  # Ann catches the insert; Bob only sees the end result
    with team.cloud.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE prospects SET status = 'warm', notes = 'bulk edit' "
                "WHERE target_username LIKE 'bulk.%' AND LENGTH(target_username) IN (6, 8, 10)"
            )
        )
    with team.cloud.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM prospects WHERE target_username LIKE 'bulk.1%'"))
    gone = 1 + 10 + 100 + 1000 + 10000  # bulk.1, bulk.1x, … bulk.1xxxx
    for agent in (ann, bob):
        agent.sync()
        assert_cache_equals_cloud(agent, team.cloud)
    assert len(cache_leads(bob)) == 20000 - gone + 1
    assert ann.card("bulk.1234").known is False
    assert ann.card("bulk.222").status == "warm"
    assert ann.card("bulk.22").status == "new"
    with team.cloud.reading() as conn:
        tombstones = conn.exec_driver_sql("SELECT COUNT(*) FROM prospect_tombstones").scalar()
    assert tombstones == gone


def test_a_second_sync_of_the_same_home_is_refused_while_one_runs(team: Team) -> None:
    ann = team.agent("Ann")
    engine = engine_for(ann)
    with sync_lock(ann.home), pytest.raises(SyncBusy, match="another DM Ledger process"):
        engine.sync_once()
    # Released: the same sync now runs.
    assert engine.sync_once().finished_at is not None


def test_a_sync_is_refused_while_another_process_holds_the_lock_until_it_is_killed(
    team: Team,
) -> None:
    ann = team.agent("Ann")
    ann.log_dm("waiting.lead", "hi")
    with AgentProcess(ann.home) as holder:
        holder.send("hold_lock")
        holder.expect("locked")
        with pytest.raises(SyncBusy):
            ann.sync()
        assert ann.status(probe_cloud=False).pending_logs == 1
        holder.kill()  # SIGKILL: the kernel drops the flock with the process
    assert ann.sync().pushed_logs == 1


def test_a_purge_waits_for_a_writer_re_adding_a_deleted_lead_instead_of_deadlocking(
    pg_team: Team,
) -> None:
    bob = pg_team.agent("Bob")
    for handle in ("back.again", "gone.for.good"):
        bob.add_prospect(handle)
    bob.sync()
    for handle in ("back.again", "gone.for.good"):
        bob.delete_prospect(handle)
    bob.sync()
    writer = pg_team.cloud.engine.connect()
    writer.begin()
    writer.execute(sa.insert(prospects).values(target_username="first.lead"))
    # Re-adding a deleted lead removes its tombstone; the purge then waits for that row.
    writer.execute(sa.insert(prospects).values(target_username="back.again"))
    purged: list[int] = []
    purge = threading.Thread(
        target=lambda: purged.append(pg_team.cloud.purge_tombstones(utcnow() + timedelta(days=1)))
    )
    purge.start()
    _wait_until(lambda: sessions_waiting_on_locks(pg_team.cloud) > 0, "the purge to queue")
    writer.commit()
    writer.close()
    purge.join(timeout=60)

    assert purged == [1], "only the tombstone of the lead still gone was left to purge"
    assert {row[0] for row in cloud_leads(pg_team.cloud)} == {"first.lead", "back.again"}
