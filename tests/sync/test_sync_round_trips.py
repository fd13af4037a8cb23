"""Guarantee 5, counted: round trips grow with batches, not rows.

``count_round_trips`` counts statements (an executemany counts once per statement
the driver sends) and commits on a warm cloud engine. Nothing is timed.
"""

from __future__ import annotations

import pytest
from syncworld import Team, assert_cache_equals_cloud, queue_dms

from dmledger.cloud.engine import count_round_trips

ROWS = 10_000


@pytest.mark.slow
def test_sync_round_trips_are_bounded_by_batches_not_rows(team: Team) -> None:
    ann, bob = team.agent("Ann"), team.agent("Bob")
    ann.sync()
    bob.sync()  # both engines are warm and both schemas checked

    with count_round_trips(ann.cloud.engine) as noop:
        ann.sync()
    queue_dms(ann, ROWS, [f"lead.{i:05d}" for i in range(ROWS)], with_cache=False)
    with count_round_trips(ann.cloud.engine) as push:
        pushed = ann.sync()
    with count_round_trips(bob.cloud.engine) as pull:
        pulled = bob.sync()

    print(
        f"\n[{team.cloud.dialect}] round trips: no-op sync {noop.total} ({noop}); "
        f"pushing {ROWS} DMs {push.total} ({push}); pulling {ROWS} changed leads "
        f"{pull.total} ({pull})"
    )
    assert (pushed.pushed_logs, pulled.pulled) == (ROWS, ROWS)
    assert noop.total <= 2
    # The whole sync: the push (contacts, logs, the leads' DM figures, commit per 1,000),
    # then the pull of its own changes.
    assert push.total <= 50
    assert pull.total <= 20
    assert_cache_equals_cloud(bob, team.cloud)
