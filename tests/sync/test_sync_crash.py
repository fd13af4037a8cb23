"""Guarantee 1 under SIGKILL: a sync killed anywhere leaves each DM in the cloud once.

An agent process syncs thousands of queued DMs in small batches (many commit points
in the cloud and in ``local_data.db``) and is killed with SIGKILL at a random moment,
over and over on the same home. After a final clean sync the cloud must hold every DM
exactly once, and after every kill the local cursor must not be ahead of the cache.

Trials: 50 under CI=true, 10 otherwise; ``DMLEDGER_CRASH_TRIALS`` overrides both.
"""

from __future__ import annotations

import os
import random
import time
from datetime import timedelta

import pytest
from syncworld import (
    T0,
    Team,
    assert_cache_equals_cloud,
    assert_cursor_not_ahead,
    cloud_log_ids,
    local_log_ids,
    queue_dms,
)

from support.agent import AgentProcess
from support.env import IN_CI

TRIALS = int(os.environ.get("DMLEDGER_CRASH_TRIALS", "50" if IN_CI else "10"))
AGENT_ARGS = ("--log-batch", "25", "--edit-batch", "10", "--pull-page", "100")
LEADS = [f"lead.{i:03d}" for i in range(300)]


@pytest.mark.slow
def test_a_sync_killed_at_random_points_leaves_every_dm_in_the_cloud_exactly_once(
    team: Team,
) -> None:
    home = team.home("Ann")
    ann = team.open(home)
    queued = queue_dms(ann, 3000, LEADS, with_cache=False)
    rng = random.Random(20261125)
    span = 0.3  # seconds; adapted so that most kills land while the sync still works
    interrupted = 0
    waiting = AgentProcess(home, *AGENT_ARGS)
    for trial in range(TRIALS):
        agent = waiting
        if ann.status(probe_cloud=False).pending_logs < 600:
            later = T0 + timedelta(days=1 + trial)
            queued += queue_dms(ann, 1200, LEADS, start=later, with_cache=False)
        if trial % 4 == 3:  # some edits in the outbox too
            lead = LEADS[trial % len(LEADS)]
            if ann.card(lead).known:
                ann.update_prospect(lead, notes=f"trial {trial}")
            else:
                ann.add_prospect(lead, notes=f"trial {trial}")
        agent.send("sync")
        agent.expect("started")
        # Python takes a while to start: the next agent warms up while this one works.
        waiting = AgentProcess(home, *AGENT_ARGS, wait_ready=False)
        time.sleep(rng.uniform(0, span))
        agent.kill()
        finished = _finished(agent)
        agent.close()
        interrupted += not finished
        span = span * 0.7 if finished else min(span * 1.1, 2.0)
        assert_cursor_not_ahead(ann, team.cloud)
        waiting.expect("ready", timeout=60)
    waiting.close()

    ann.sync()
    counts = cloud_log_ids(team.cloud)
    print(f"\n{TRIALS} kills, {interrupted} mid-sync, {len(queued)} DMs")
    assert interrupted >= TRIALS // 3, "the kills must land while the sync runs"
    assert set(counts) == set(queued) == local_log_ids(ann, synced=True)
    assert counts.most_common(1)[0][1] == 1
    assert sum(counts.values()) == len(queued)
    assert ann.status(probe_cloud=False).pending_logs == 0
    assert_cache_equals_cloud(ann, team.cloud)


def _finished(agent: AgentProcess) -> bool:
    """True if the agent reported the end of its sync before it was killed."""
    while (event := agent.next_event(timeout=30)) is not None:
        if event["event"] in ("synced", "error"):
            return True
    return False


@pytest.mark.slow
def test_a_push_of_replies_killed_at_random_points_stores_each_reply_exactly_once(
    team: Team,
) -> None:
    import sqlalchemy as sa

    from dmledger.cloud.tables import prospect_replies

    home = team.home("Ann")
    ann = team.open(home)
    leads = [f"lead.{i:03d}" for i in range(400)]
    queue_dms(ann, len(leads), leads)
    ann.sync()
    for handle in leads:
        ann.followups.reply(handle, at=T0 + timedelta(hours=2))
    with ann.local.reading() as conn:
        made = {e.ref for e in ann.local.pending_edits(conn, 10_000) if e.op == "reply"}
    assert len(made) == len(leads)
    rng = random.Random(12)
    waiting = AgentProcess(home, "--edit-batch", "5", "--log-batch", "5")
    for _ in range(max(4, TRIALS // 2)):
        agent = waiting
        agent.send("sync")
        agent.expect("started")
        waiting = AgentProcess(home, "--edit-batch", "5", "--log-batch", "5", wait_ready=False)
        time.sleep(rng.uniform(0.05, 0.6))
        agent.kill()
        _finished(agent)
        agent.close()
        waiting.expect("ready", timeout=60)
    waiting.close()
    ann.sync()
    with team.cloud.reading() as conn:
        stored = [r[0] for r in conn.execute(sa.select(prospect_replies.c.client_reply_id))]
    assert sorted(stored) == sorted(made)
    assert ann.status(probe_cloud=False).pending_changes == 0
    assert_cache_equals_cloud(ann, team.cloud)
    assert all(ann.card(h).status == "warm" for h in leads[:20])
