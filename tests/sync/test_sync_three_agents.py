"""Three agents in three processes, working at once through a proxy that cuts at random.

Each agent logs DMs to a shared pool of leads, edits notes, adds, edits and deletes
scratch leads nobody messages, and syncs, for ``DMLEDGER_CHAOS_SECONDS`` (default
20) while the proxy resets every connection at random moments. Then the cuts stop,
each agent syncs until a whole round moves nothing, and every cache must equal the
cloud's PROSPECTS (same checksum) and the cloud must hold every DM exactly once.
"""

from __future__ import annotations

import os

import pytest
from syncworld import (
    Team,
    cache_leads,
    checksum,
    cloud_leads,
    cloud_log_ids,
    local_log_ids,
    proxied,
)

from support.agent import AgentProcess
from support.proxy import FaultProxy

CHAOS_SECONDS = float(os.environ.get("DMLEDGER_CHAOS_SECONDS", "20"))
CUTS_PER_SECOND = 1.5
CONTACTS = [f"lead.{i:02d}" for i in range(40)]
SCRATCH = [f"scratch.{i:02d}" for i in range(15)]


def _sync_until_quiet(agents: list[AgentProcess], rounds: int = 12) -> None:
    """Round-robin syncs until one full round moves nothing (a failure moves on)."""
    for _ in range(rounds):
        quiet = True
        for agent in agents:
            agent.send("sync")
            result = agent.expect("synced", "error")
            moved = result["event"] == "error" or any(
                result[key] for key in ("pushed_logs", "pushed_edits", "pulled", "deleted")
            )
            quiet = quiet and not moved
        if quiet:
            return
    raise AssertionError(f"no quiet round after {rounds} rounds of syncs")


@pytest.mark.slow
def test_three_agents_with_random_cuts_converge_and_keep_every_dm_once(pg_team: Team) -> None:
    with FaultProxy(("127.0.0.1", 5432)) as proxy:
        url = proxied(pg_team.cloud_url, proxy.port)
        homes = [pg_team.home(name, cloud_url=url) for name in ("Ann", "Bob", "Cara")]
        agents = [AgentProcess(h, "--log-batch", "20", "--pull-page", "25") for h in homes]
        try:
            proxy.random_cuts(CUTS_PER_SECOND, seed=2026)
            for number, agent in enumerate(agents):
                agent.send(
                    "chaos",
                    seconds=CHAOS_SECONDS,
                    seed=number,
                    contacts=CONTACTS,
                    scratch=SCRATCH,
                )
            work = [agent.expect("chaos_done", timeout=CHAOS_SECONDS + 120) for agent in agents]
            proxy.stop_random_cuts()
            cuts = proxy.cuts
            _sync_until_quiet(agents)
        finally:
            for agent in agents:
                agent.close()

    print(f"\n{cuts} cuts; work per agent: {work}")
    assert cuts >= CHAOS_SECONDS * CUTS_PER_SECOND / 3
    assert all(w["sync_errors"] > 0 and w["syncs_ok"] > 0 for w in work)
    cloud = cloud_leads(pg_team.cloud)
    ledgers = [pg_team.open(home) for home in homes]
    for ledger in ledgers:
        assert checksum(cache_leads(ledger)) == checksum(cloud), ledger.home.name
        status = ledger.status(probe_cloud=False)
        assert (status.pending_logs, status.pending_changes, status.set_aside) == (0, 0, [])
    logged = [local_log_ids(ledger) for ledger in ledgers]
    assert [len(ids) for ids in logged] == [w["dms"] for w in work]
    counts = cloud_log_ids(pg_team.cloud)
    assert set(counts) == set().union(*logged)
    assert sum(counts.values()) == sum(w["dms"] for w in work)
