"""Skewed clocks in real processes: the CLI run under ``faketime`` (libfaketime), which
shifts every clock the process reads, not only the one the Ledger is given.

The cloud is the real PostgreSQL server, whose clock libfaketime does not touch (an
embedded SQLite cloud would read the faked clock too, so it cannot show an offset).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from syncworld import Team, cloud_logs

from dmledger.domain.timeutil import utcnow
from support.env import IN_CI

FAKETIME = shutil.which("faketime")
DMLEDGER = Path(sys.executable).with_name("dmledger")

pytestmark = pytest.mark.skipif(
    FAKETIME is None and not IN_CI, reason="faketime is not installed (make test installs it)"
)


def _run(home: Path, shift: str, *args: str) -> Any:
    assert FAKETIME is not None, "CI=true: faketime must be installed"
    done = subprocess.run(
        [FAKETIME, "-f", shift, str(DMLEDGER), "--home", str(home), "--json", *args],
        env={**os.environ, "FAKETIME_DONT_FAKE_MONOTONIC": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def test_processes_with_clocks_three_hours_off_stamp_dms_with_the_cloud_time(
    pg_team: Team,
) -> None:
    fast, slow = pg_team.home("Ann"), pg_team.home("Bob")
    _run(fast, "+3h", "sync")  # each home measures its offset once
    _run(slow, "-3h", "sync")
    _run(fast, "+3h", "log", "--to", "fast.clock", "--message", "Ann first")
    _run(fast, "+3h", "sync")
    _run(slow, "-3h", "log", "--to", "fast.clock", "--message", "Bob later")
    _run(slow, "-3h", "sync")
    _run(fast, "+3h", "sync")

    logs = cloud_logs(pg_team.cloud, "fast.clock")
    assert sorted(log["actor_username"] for log in logs) == ["ann.dm", "bob.dm"]
    for log in logs:
        assert abs(log["created_at"] - utcnow()) < timedelta(minutes=5), log
    for home in (fast, slow):
        card = _run(home, "+0", "prospect", "show", "fast.clock")
        assert card["owner_actor"] == "ann.dm", "the first contact in real time owns it"
