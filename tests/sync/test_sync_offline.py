"""Offline first: local actions never need the cloud, and the queue drains when it returns.

The background loop backs off with full jitter while the cloud is away (a seeded RNG
makes the delays exact; the bases are tiny so nothing sleeps for long), and syncs
everything, in order, once it is back.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from syncworld import (
    FailingGateway,
    Team,
    assert_cache_equals_cloud,
    engine_for,
    local_log_ids,
    proxied,
)

from dmledger.app.ledger import Ledger
from dmledger.cloud.store import CloudStore
from dmledger.cloud.tables import outreach_logs
from dmledger.errors import CloudUnavailable, DmLedgerError
from dmledger.local.store import ProspectFilter
from dmledger.sync.engine import SyncReport
from dmledger.sync.gateway import StoreGateway
from dmledger.sync.loop import SyncLoop, backoff_delay
from support.proxy import FaultProxy

BASE, CAP = 0.005, 0.04  # seconds: the shape of the backoff, none of its patience


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.01)


def _cloud_order(cloud: CloudStore) -> list[str]:
    with cloud.reading() as conn:
        return [
            str(r[0])
            for r in conn.execute(
                sa.select(outreach_logs.c.client_log_id).order_by(outreach_logs.c.log_id)
            )
        ]


@pytest.fixture
def running_loops() -> Iterator[list[SyncLoop]]:
    loops: list[SyncLoop] = []
    yield loops
    for loop in loops:
        loop.stop()


def test_backoff_is_exponential_with_full_jitter_up_to_the_cap() -> None:
    rng = random.Random(3)
    for failures in range(1, 12):
        ceiling = min(1.0, 0.01 * 2**failures)
        delays = [backoff_delay(failures, 0.01, 1.0, rng) for _ in range(300)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > 0.9 * ceiling, "jitter spans the whole window"
        assert min(delays) < 0.1 * ceiling
    assert backoff_delay(10_000, 0.01, 1.0, random.Random(0)) <= 1.0


def test_the_loop_backs_off_while_the_cloud_is_away_and_drains_the_queue_when_it_returns(
    team: Team, running_loops: list[SyncLoop]
) -> None:
    ann = team.agent("Ann")
    ann.sync()
    ids = [ann.log_dm(f"lead.{i}", f"dm {i}")[0].client_log_id for i in range(30)]
    away = threading.Event()
    away.set()

    def outage(name: str, number: int) -> None:
        if away.is_set():
            raise CloudUnavailable(f"injected outage at call {number} ({name})")

    engine = engine_for(ann, FailingGateway(StoreGateway(ann.cloud), on_call=outage), log_batch=7)
    delays: list[float] = []
    reports: list[SyncReport] = []

    def on_error(error: DmLedgerError, delay: float) -> None:
        delays.append(delay)

    loop = SyncLoop(
        engine.sync_once,
        interval=0.02,
        debounce=0.001,
        backoff_base=BASE,
        backoff_cap=CAP,
        on_report=reports.append,
        on_error=on_error,
        rng=random.Random(11),
    )
    running_loops.append(loop)
    loop.start()
    _wait_until(lambda: len(delays) >= 6, "six failed attempts")
    away.clear()
    _wait_until(lambda: ann.status(probe_cloud=False).pending_logs == 0, "the queue to drain")
    loop.stop()

    same_draws = random.Random(11)
    expected = [backoff_delay(n, BASE, CAP, same_draws) for n in range(1, len(delays) + 1)]
    assert delays == expected
    assert len(set(delays)) == len(delays), "jittered, never the same delay twice"
    assert loop.state.failures == 0 and loop.state.last_error is None
    assert sum(r.pushed_logs for r in reports) == len(ids)
    assert _cloud_order(team.cloud) == ids, "the queue drains in the order it was logged"
    assert_cache_equals_cloud(ann, team.cloud)


def test_a_local_write_can_ask_the_loop_for_an_early_sync(
    team: Team, running_loops: list[SyncLoop]
) -> None:
    ann = team.agent("Ann")
    reports: list[SyncReport] = []
    loop = SyncLoop(ann.sync, interval=3600, debounce=0.001, on_report=reports.append)
    running_loops.append(loop)
    loop.start()
    _wait_until(lambda: len(reports) == 1, "the first sync")
    ann.log_dm("eager.lead", "hi")

    loop.request()

    _wait_until(lambda: len(reports) == 2, "the requested sync")
    assert reports[1].pushed_logs == 1


def test_every_local_action_works_offline_and_the_queue_drains_in_order_on_return(
    pg_team: Team, running_loops: list[SyncLoop]
) -> None:
    with FaultProxy(("127.0.0.1", 5432)) as proxy:
        ann = pg_team.agent("Ann", cloud_url=proxied(pg_team.cloud_url, proxy.port))
        bob = pg_team.agent("Bob")
        bob.add_prospect("known.lead", notes="Bob's")
        bob.add_prospect("doomed.lead")
        bob.sync()
        ann.sync()
        proxy.set_offline(True)

        ids = _work_offline(ann)
        status = ann.status()
        assert status.cloud_reachable is False
        assert (status.pending_logs, status.pending_changes) == (len(ids), 4)
        with pytest.raises(CloudUnavailable):
            ann.sync()
        assert "unreachable" in (ann.status(probe_cloud=False).last_error or "")

        delays: list[float] = []
        loop = SyncLoop(
            ann.sync,
            interval=0.05,
            backoff_base=BASE,
            backoff_cap=CAP,
            on_error=lambda _e, delay: delays.append(delay),
            rng=random.Random(5),
        )
        running_loops.append(loop)
        loop.start()
        _wait_until(lambda: len(delays) >= 3, "the loop to fail while offline")
        proxy.set_offline(False)
        _wait_until(lambda: ann.status(probe_cloud=False).pending_logs == 0, "the drain")
        _wait_until(lambda: ann.status(probe_cloud=False).pending_changes == 0, "the edits")
        loop.stop()

    assert _cloud_order(pg_team.cloud) == ids
    assert local_log_ids(ann, synced=True) == set(ids)
    bob.sync()
    for ledger in (ann, bob):
        assert_cache_equals_cloud(ledger, pg_team.cloud)
        assert ledger.card("known.lead").notes == "Ann, offline"
        assert ledger.card("doomed.lead").known is False
        assert ledger.card("fresh.lead").status == "warm"


def _work_offline(ann: Ledger) -> list[str]:
    """Everything a teammate does in a day, with no cloud: all of it must work."""
    assert ann.card("known.lead").known
    ids = [ann.log_dm(f"offline.{i}", f"dm {i}")[0].client_log_id for i in range(12)]
    ids.append(ann.log_dm("known.lead", "hello")[0].client_log_id)
    ann.update_prospect("known.lead", notes="Ann, offline")
    ann.add_prospect("fresh.lead", status="warm")
    ann.update_prospect("offline.3", status="hot")
    ann.delete_prospect("doomed.lead")
    assert ann.card("offline.3").status == "hot"
    assert len(ann.list_prospects(ProspectFilter(search="offline."), limit=100)) == 12
    return ids
