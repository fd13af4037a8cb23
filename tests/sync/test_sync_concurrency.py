"""Concurrent writers and concurrent syncs.

A transaction held open by a foreign writer must not make anyone miss its rows (the
cursor follows commit order, not clock order), and must not block a pull. One home
syncs once at a time, across threads and processes; a SIGKILLed holder frees the lock.
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
    cloud_leads,
    engine_for,
    sessions_waiting_on_locks,
)

from dmledger.cloud.schema import prospects
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

    # The slow writer takes its version and then sits on its transaction.
    held_writer.execute(sa.insert(prospects).values(target_username="slow.lead", status="hot"))
    held_writer.execute(
        sa.update(prospects)
        .where(prospects.c.target_username == "shared.lead")
        .values(notes="written by the slow tool")
    )
    # Bob commits meanwhile: with one clock row, his writes queue behind the slow one.
    bob.update_prospect("bob.lead", status="warm", notes="Bob was quicker")
    bob_writing = threading.Event()

    def note_bobs_first_write(_conn, _cursor, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE")):
            bob_writing.set()

    sa.event.listen(bob.cloud.engine, "before_cursor_execute", note_bobs_first_write)
    bob_sync = threading.Thread(target=bob.sync)
    bob_sync.start()
    if team.cloud.dialect == "postgresql":
        _wait_until(
            lambda: sessions_waiting_on_locks(team.cloud) > 0,
            "Bob's push to queue on the clock row",
        )
    else:
        # SQLite shows no lock waits: wait until Bob has sent his first write, then
        # give an unblocked write ample time to finish, so "still running" means
        # "blocked by the slow writer", not "not started yet".
        _wait_until(bob_writing.is_set, "Bob's push to reach its first write")
        time.sleep(0.5)

    report = ann.sync()  # a pull reads committed rows only, and takes no lock

    assert bob_sync.is_alive(), "Bob cannot have committed while the slow writer holds"
    assert report.pulled == 0
    assert ann.card("slow.lead").known is False
    held_writer.commit()
    bob_sync.join(timeout=60)
    assert not bob_sync.is_alive()

    ann.sync()
    assert_cache_equals_cloud(ann, team.cloud)
    assert ann.card("slow.lead").status == "hot"
    assert ann.card("shared.lead").notes == "written by the slow tool"
    assert ann.card("bob.lead").notes == "Bob was quicker"


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


def test_a_purge_queues_behind_a_writer_re_adding_a_deleted_lead_instead_of_deadlocking(
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
    writer.execute(sa.insert(prospects).values(target_username="first.lead"))  # has the clock
    purged: list[int] = []
    purge = threading.Thread(
        target=lambda: purged.append(pg_team.cloud.purge_tombstones(utcnow() + timedelta(days=1)))
    )
    purge.start()
    _wait_until(lambda: sessions_waiting_on_locks(pg_team.cloud) > 0, "the purge to queue")

    # Re-adding a deleted lead removes its tombstone, while the purge waits for the clock.
    writer.execute(sa.insert(prospects).values(target_username="back.again"))
    writer.commit()
    writer.close()
    purge.join(timeout=60)

    assert purged == [1], "only the tombstone of the lead still gone was left to purge"
    assert {row[0] for row in cloud_leads(pg_team.cloud)} == {"first.lead", "back.again"}
