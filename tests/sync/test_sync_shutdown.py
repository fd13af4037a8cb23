"""SIGTERM during a sync: a real ``dmledger serve`` or ``sync --watch`` exits within 5 s,
the cloud transaction rolls back, and the queue is intact (issue 14, item 10).

The agent reaches PostgreSQL through the fault-injecting proxy with one second of
latency per chunk each way, so a sync takes far longer than the shutdown may; the
signal lands while the sync is talking to the cloud.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from syncworld import Team, cloud_log_ids, local_log_ids, proxied, queue_dms

from dmledger.app.ledger import Ledger
from dmledger.web.server import free_port
from support.proxy import FaultProxy

PG = ("127.0.0.1", 5432)
DMLEDGER = str(Path(sys.executable).with_name("dmledger"))
EXIT_WITHIN = 5.0
QUEUED = 300


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    with FaultProxy(PG) as running:
        yield running


def _open_transactions(admin_dsn: str) -> int:
    """Backends of this test database still inside a transaction."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
        ).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.parametrize(
    "command",
    [
        ["serve", "--no-browser", "--port", "{port}"],
        ["sync", "--watch", "--interval", "60"],
    ],
    ids=["serve", "sync-watch"],
)
def test_sigterm_during_a_sync_exits_promptly_and_loses_nothing(
    pg_team: Team, proxy: FaultProxy, pg_admin_dsn: str, command: list[str]
) -> None:
    home = pg_team.home("Ann", cloud_url=proxied(pg_team.cloud_url, proxy.port))
    ann = Ledger.open(home)
    ann.add_operator("Ann")
    ann.add_actor("ann.dm", "Ann")
    queued = set(queue_dms(ann, QUEUED, [f"lead.{i:03d}" for i in range(QUEUED)]))
    ann.close()

    proxy.latency = 1.0
    before = proxy.connections
    args = [part.format(port=free_port()) for part in command]
    process = subprocess.Popen(
        [DMLEDGER, *args],
        env={**os.environ, "DMLEDGER_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while proxy.connections == before or proxy.bytes_up < 1000:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the sync never reached the cloud"
            time.sleep(0.05)
        time.sleep(1.5)  # well inside the sync: it needs tens of round trips of 2 s
        assert process.poll() is None
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        finally:
            took = time.monotonic() - signalled
    finally:
        if process.poll() is None:
            process.kill()
        _, stderr = process.communicate(timeout=30)
    assert took < EXIT_WITHIN, f"exit took {took:.1f}s"
    assert "Traceback" not in stderr

    # The abandoned transaction is rolled back once its connection closes.
    proxy.latency = 0.0
    deadline = time.monotonic() + 10
    while _open_transactions(pg_admin_dsn) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _open_transactions(pg_admin_dsn) == 0
    in_cloud = cloud_log_ids(pg_team.cloud)
    assert max(in_cloud.values(), default=1) == 1
    ann = pg_team.open(home)
    assert local_log_ids(ann) == queued  # the queue is intact
    assert local_log_ids(ann, synced=True) <= set(in_cloud)
    ann.sync()
    assert cloud_log_ids(pg_team.cloud) == dict.fromkeys(queued, 1)
    assert ann.status(probe_cloud=False).pending_logs == 0
