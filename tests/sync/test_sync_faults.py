"""Connections dropped mid-push and mid-pull: nothing lost, nothing twice, cursor honest.

The agent reaches PostgreSQL through the fault-injecting TCP proxy. A listener on the
agent's cloud engine counts round trips (statements and commits) and cuts every
connection at round trip N of a sync, for N = 1, 2, 3, … until a sync finishes before
N: so each statement of a push, of the commits and of the pull is cut once. A second
sweep lets the COMMIT reach the server and cuts before its reply comes back (the
transaction may have committed, the agent cannot know). After every cut sync the
local cursor must not be ahead of the cache, the cloud must hold no DM twice, and
every DM the agent marked synced must be in the cloud.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from typing import Any

import pytest
from sqlalchemy import event
from syncworld import (
    Team,
    assert_cache_equals_cloud,
    assert_cursor_not_ahead,
    cloud_log_ids,
    engine_for,
    local_log_ids,
    proxied,
    queue_dms,
)

from dmledger.app.ledger import Ledger
from dmledger.errors import CloudUnavailable
from support.env import PG_HOST, PG_PORT
from support.proxy import FaultProxy

PG = (PG_HOST, PG_PORT)
ANN_LEADS = [f"ann.lead.{i:02d}" for i in range(40)]
BOB_LEADS = [f"bob.lead.{i:02d}" for i in range(70)]
COMMIT_MESSAGE_BYTES = 12  # the simple-query message 'Q', int32 length, "COMMIT\0"


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    with FaultProxy(PG) as running:
        yield running


def _bob_changes(bob: Ledger, round_no: int) -> None:
    """Bob edits 70 leads, so Ann has several pages to pull."""
    for handle in BOB_LEADS:
        if bob.card(handle).known:
            bob.update_prospect(handle, notes=f"round {round_no}")
        else:
            bob.add_prospect(handle, notes=f"round {round_no}")
    bob.sync()


def _check(ann: Ledger, team: Team, queued: list[str]) -> None:
    counts = cloud_log_ids(team.cloud)
    assert max(counts.values(), default=1) == 1, "a DM is in the cloud twice"
    assert local_log_ids(ann, synced=True) <= set(counts), "a DM marked synced is missing"
    assert set(counts) <= set(queued)
    assert_cursor_not_ahead(ann, team.cloud)


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["before_round_trip", "after_commit_sent"])
def test_connection_cuts_at_every_round_trip_lose_and_duplicate_nothing(
    pg_team: Team, proxy: FaultProxy, moment: str
) -> None:
    ann = pg_team.agent("Ann", cloud_url=proxied(pg_team.cloud_url, proxy.port))
    bob = pg_team.agent("Bob")
    ann.sync()
    engine = engine_for(ann, log_batch=40, edit_batch=4, pull_page=25)
    # "before_round_trip" counts statements and commits; "after_commit_sent" commits.
    seen = {"trips": 0, "commits": 0}
    cut_at = 0

    def on_statement(*_args: Any) -> None:
        seen["trips"] += 1
        if moment == "before_round_trip" and seen["trips"] == cut_at:
            proxy.cut()

    def on_commit(*_args: Any) -> None:
        seen["trips"] += 1
        seen["commits"] += 1
        if moment == "before_round_trip" and seen["trips"] == cut_at:
            proxy.cut()
        if moment == "after_commit_sent" and seen["commits"] == cut_at:
            proxy.cut_after_bytes(COMMIT_MESSAGE_BYTES)

    event.listen(ann.cloud.engine, "before_cursor_execute", on_statement)
    event.listen(ann.cloud.engine, "commit", on_commit)
    position = "trips" if moment == "before_round_trip" else "commits"
    queued: list[str] = []
    cut_syncs = 0
    in_doubt = 0  # DMs the cloud committed while the agent saw the connection drop
    for n in count(1):
        assert n < 300, "the sweep never reached the end of a sync"
        _bob_changes(bob, n)
        queued += queue_dms(ann, 100, ANN_LEADS)
        ann.update_prospect(ANN_LEADS[n % len(ANN_LEADS)], status="warm", notes=f"n={n}")
        seen.update(trips=0, commits=0)
        cut_at = n
        try:
            engine.sync_once()
        except CloudUnavailable:
            cut_syncs += 1
            in_doubt += len(set(cloud_log_ids(pg_team.cloud)) - local_log_ids(ann, synced=True))
        else:
            if seen[position] < n:
                break  # n is past the last position: every one was cut once
        _check(ann, pg_team, queued)

    event.remove(ann.cloud.engine, "before_cursor_execute", on_statement)
    event.remove(ann.cloud.engine, "commit", on_commit)
    print(f"\n{moment}: {cut_syncs} syncs cut, {in_doubt} DMs committed but not confirmed")
    assert cut_syncs >= 5
    ann.sync()
    bob.sync()
    counts = cloud_log_ids(pg_team.cloud)
    assert set(counts) == set(queued) and sum(counts.values()) == len(queued)
    assert ann.status(probe_cloud=False).pending_logs == 0
    assert_cache_equals_cloud(ann, pg_team.cloud)
    assert_cache_equals_cloud(bob, pg_team.cloud)
