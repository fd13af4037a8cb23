"""Guarantee 5, counted: round trips grow with batches, not rows.

``count_round_trips`` counts statements (an executemany counts once per statement
the driver sends, a PostgreSQL pipeline once) and commits on a warm cloud engine.
Nothing is timed.
"""

from __future__ import annotations

import pytest
from syncworld import (
    FailingGateway,
    Team,
    assert_cache_equals_cloud,
    engine_for,
    queue_dms,
)

from dmledger.cloud.connecting.engine import count_round_trips
from dmledger.sync.gateway import StoreGateway

ROWS = 10_000


def _header_trips(team: Team) -> int:
    """The header and the first page: one round trip on PostgreSQL (a pipeline), two
    statements on the embedded SQLite cloud (a file: no network to save)."""
    return 1 if team.cloud.dialect == "postgresql" else 2


def test_a_sync_with_nothing_to_push_pulls_its_first_page_with_the_header(team: Team) -> None:
    ann, bob = team.agent("Ann"), team.agent("Bob")
    bob.add_prospect("lead.a")
    bob.add_prospect("lead.b", notes="soon gone")
    bob.sync()
    ann.sync()

    with count_round_trips(ann.cloud.engine) as noop:
        report = ann.sync()
    assert not report.moved
    bob.update_prospect("lead.a", status="warm")
    bob.delete_prospect("lead.b")
    bob.add_prospect("lead.c")
    bob.sync()
    with count_round_trips(ann.cloud.engine) as changes:
        report = ann.sync()

    assert (report.pulled, report.deleted) == (2, 1)
    assert (noop.total, changes.total) == (_header_trips(team), _header_trips(team))
    assert (noop.commits, changes.commits) == (0, 0)
    assert_cache_equals_cloud(ann, team.cloud)


def test_a_dm_queued_while_the_header_was_out_is_pushed_then_pulled_back(team: Team) -> None:
    ann, bob = team.agent("Ann"), team.agent("Bob")
    bob.add_prospect("lead.a")
    bob.sync()
    ann.sync()
    bob.update_prospect("lead.a", status="warm")
    bob.sync()

    def a_dm_arrives(name: str, _number: int) -> None:
        if name == "header":  # the queue was empty: the first page rides with the header
            queue_dms(ann, 1, ["late.lead"], with_cache=False)

    gateway = FailingGateway(StoreGateway(ann.cloud), on_call=a_dm_arrives)
    report = engine_for(ann, gateway).sync_once()

    # The page read with the header predates the push: the pull starts again after it.
    assert gateway.calls == ["header", "pull_page", "push", "pull_page"]
    assert (report.pushed_logs, report.pulled) == (1, 2)
    assert ann.card("late.lead").contacted
    assert_cache_equals_cloud(ann, team.cloud)


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
    assert noop.total == _header_trips(team)
    # The whole sync: the push (contacts, logs, the leads' DM figures, commit per 1,000),
    # then the pull of its own changes.
    assert push.total <= 50
    assert pull.total <= 20
    assert_cache_equals_cloud(bob, team.cloud)
