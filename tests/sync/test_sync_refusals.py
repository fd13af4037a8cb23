"""A bad row never blocks the queue, and a busy cloud is not a bad row.

The cloud refuses one actor's DMs (a CHECK constraint on PostgreSQL, a trigger on
SQLite): that DM is set aside with the database's error, shown by ``dmledger status
--json``, and the others sync; ``--retry-failed`` and ``--drop-failed`` do what the
user asks. A deadlock with another writer is a reason to try again, never to set a
good DM aside.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa
from syncworld import Team, assert_cache_equals_cloud, cloud_log_ids, sessions_waiting_on_locks
from typer.testing import CliRunner

from dmledger.app.ledger import Ledger
from dmledger.cli import app
from dmledger.cloud.store import CloudStore
from dmledger.cloud.tables import prospects
from dmledger.errors import DmLedgerError


def _refuse_actor(cloud: CloudStore, actor: str) -> None:
    with cloud.transaction() as conn:
        if cloud.dialect == "postgresql":
            conn.exec_driver_sql(
                "ALTER TABLE outreach_logs ADD CONSTRAINT no_banned_actor "
                f"CHECK (actor_username <> '{actor}')"
            )
        else:
            conn.exec_driver_sql(
                "CREATE TRIGGER no_banned_actor BEFORE INSERT ON outreach_logs "
                f"WHEN NEW.actor_username = '{actor}' "
                "BEGIN SELECT RAISE(ABORT, 'no_banned_actor: this actor is refused'); END"
            )


def _accept_all(cloud: CloudStore) -> None:
    with cloud.transaction() as conn:
        if cloud.dialect == "postgresql":
            conn.exec_driver_sql("ALTER TABLE outreach_logs DROP CONSTRAINT no_banned_actor")
        else:
            conn.exec_driver_sql("DROP TRIGGER no_banned_actor")


def _cli(ledger: Ledger, *args: str) -> Any:
    result = CliRunner().invoke(app, ["--home", str(ledger.home), "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def refused(team: Team) -> tuple[Ledger, list[str]]:
    """Ann has logged six DMs; the cloud refuses the one sent from banned.dm."""
    ann = team.agent("Ann")
    _refuse_actor(team.cloud, "banned.dm")
    ann.add_actor("banned.dm")  # registered: only its DMs are refused, by the cloud
    ids = []
    for i in range(6):
        actor = "banned.dm" if i == 2 else None
        ids.append(ann.log_dm(f"lead.{i}", f"dm {i}", actor=actor)[0].client_log_id)
    return ann, ids


def test_a_dm_the_cloud_refuses_is_set_aside_and_the_others_sync(
    team: Team, refused: tuple[Ledger, list[str]]
) -> None:
    ann, ids = refused

    report = _cli(ann, "sync")

    assert (report["pushed_logs"], report["set_aside"]) == (5, 1)
    assert set(cloud_log_ids(team.cloud)) == set(ids) - {ids[2]}
    status = _cli(ann, "status", "--offline")
    assert status["pending_logs"] == 0
    [aside] = status["set_aside"]
    assert (aside["kind"], aside["target"]) == ("log", "lead.2")
    assert "no_banned_actor" in aside["error"]
    assert [item.error for item in ann.status(probe_cloud=False).set_aside] == [aside["error"]]


def test_retry_failed_queues_the_dm_again_and_it_syncs_once_the_cloud_accepts_it(
    team: Team, refused: tuple[Ledger, list[str]]
) -> None:
    ann, ids = refused
    _cli(ann, "sync")

    again = _cli(ann, "sync", "--retry-failed")
    assert again["set_aside"] == 1, "still refused: set aside again"
    _accept_all(team.cloud)
    accepted = _cli(ann, "sync", "--retry-failed")

    assert (accepted["pushed_logs"], accepted["set_aside"]) == (1, 0)
    assert _cli(ann, "status", "--offline")["set_aside"] == []
    assert cloud_log_ids(team.cloud) == dict.fromkeys(ids, 1)
    assert_cache_equals_cloud(ann, team.cloud)


def test_drop_failed_removes_the_dm_and_the_cache_follows_the_cloud_again(
    team: Team, refused: tuple[Ledger, list[str]]
) -> None:
    ann, ids = refused
    _cli(ann, "sync")
    [aside] = _cli(ann, "status", "--offline")["set_aside"]
    assert ann.card("lead.2").owner_actor == "banned.dm"  # the refused DM, shown locally

    _cli(ann, "sync", "--drop-failed", f"log:{aside['id']}")
    _cli(ann, "sync")

    assert _cli(ann, "status", "--offline")["set_aside"] == []
    assert set(cloud_log_ids(team.cloud)) == set(ids) - {ids[2]}
    assert ann.card("lead.2").known is False
    assert_cache_equals_cloud(ann, team.cloud)


def test_a_push_waiting_on_a_row_another_tool_locked_is_delivered_after_it(
    pg_team: Team,
) -> None:
    """With the clock row (schema 3), a foreign tool locking a lead and then writing
    deadlocked with a push that held the clock; now the push waits for the row only."""
    ann, bob = pg_team.agent("Ann"), pg_team.agent("Bob")
    bob.add_prospect("busy.lead")
    bob.sync()
    ann.sync()
    ann.log_dm("busy.lead", "hi")
    other = pg_team.cloud.engine.connect()
    other.begin()
    other.execute(
        sa.select(prospects.c.target_username)
        .where(prospects.c.target_username == "busy.lead")
        .with_for_update()
    )
    outcome: list[DmLedgerError | None] = []

    def ann_syncs() -> None:
        try:
            ann.sync()
        except DmLedgerError as error:
            outcome.append(error)
        else:
            outcome.append(None)

    syncing = threading.Thread(target=ann_syncs)
    syncing.start()
    deadline = time.monotonic() + 30
    while sessions_waiting_on_locks(pg_team.cloud) == 0:  # Ann waits for the row
        assert time.monotonic() < deadline
        time.sleep(0.02)
    try:
        other.execute(
            sa.update(prospects)
            .where(prospects.c.target_username == "busy.lead")
            .values(notes="the other tool")
        )
        other.commit()  # no deadlock: Ann holds nothing the tool waits for
    finally:
        other.close()
    syncing.join(timeout=60)

    assert outcome == [None]
    assert ann.status(probe_cloud=False).set_aside == [], "a good DM was set aside"
    assert ann.status(probe_cloud=False).pending_logs == 0
    ann.sync()
    assert len(cloud_log_ids(pg_team.cloud)) == 1
    assert_cache_equals_cloud(ann, pg_team.cloud)
