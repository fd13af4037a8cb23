"""The pull: keyset pages in commit order, resumable, and honest about purged tombstones."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from syncworld import (
    FailingGateway,
    Team,
    assert_cache_equals_cloud,
    cache_leads,
    cursor_of,
    engine_for,
)

from dmledger.app.ledger import Ledger
from dmledger.cloud.schema import ddl
from dmledger.cloud.store import CloudStore
from dmledger.cloud.tables import prospect_tombstones, prospects
from dmledger.domain.records import Edit
from dmledger.domain.timeutil import utcnow
from dmledger.local.store import ProspectFilter
from dmledger.sync.gateway import StoreGateway
from support.agent import AgentProcess


def _set_versions_without_triggers(cloud: CloudStore, versions: dict[str, int]) -> None:
    """Stamp leads with chosen versions (equal ones too), as a seed upgrade leaves them."""
    with cloud.transaction() as conn:
        if cloud.dialect == "postgresql":
            conn.exec_driver_sql("ALTER TABLE prospects DISABLE TRIGGER trg_prospects_stamp")
        else:
            conn.exec_driver_sql("DROP TRIGGER trg_prospects_stamp_update")
        for handle, version in versions.items():
            conn.execute(
                sa.update(prospects)
                .where(prospects.c.target_username == handle)
                .values(row_version=version)
            )
            conn.execute(
                sa.update(prospect_tombstones)
                .where(prospect_tombstones.c.target_username == handle)
                .values(row_version=version)
            )
        if cloud.dialect == "postgresql":
            conn.exec_driver_sql("ALTER TABLE prospects ENABLE TRIGGER trg_prospects_stamp")
        else:
            for statement in ddl.trigger_statements("sqlite"):
                conn.exec_driver_sql(statement)


@pytest.mark.parametrize("page", [1, 2, 3])
def test_equal_versions_across_page_boundaries_arrive_exactly_once(team: Team, page: int) -> None:
    bob, ann = team.agent("Bob"), team.agent("Ann")
    bob.add_prospect("gone.lead", notes="about to go")
    bob.add_prospect("first.lead")
    bob.sync()
    ann.sync()
    start = cursor_of(ann).version
    handles = [f"same.{i:02d}" for i in range(11)]
    for handle in handles:
        bob.add_prospect(handle, status="warm")
    bob.delete_prospect("gone.lead")
    bob.sync()
    # Five leads and the tombstone share one version, six share the next.
    versions = {h: start + 1 for h in handles[:5]} | {"gone.lead": start + 1}
    versions |= {h: start + 2 for h in handles[5:]}
    _set_versions_without_triggers(team.cloud, versions)

    gateway = FailingGateway(StoreGateway(ann.cloud))
    engine_for(ann, gateway, pull_page=page).sync_once()

    pulled = [(row.version, row.handle) for row in gateway.pulled]
    assert sorted(pulled) == pulled, "pages come in (version, handle) order"
    assert sorted(h for _, h in pulled) == sorted(versions), "each change exactly once"
    assert ann.card("gone.lead").known is False
    assert_cache_equals_cloud(ann, team.cloud)


def test_rows_all_at_version_zero_after_an_upgrade_pull_in_pages_of_one(team: Team) -> None:
    bob = team.agent("Bob")
    handles = [f"seed.{i:02d}" for i in range(9)]
    for handle in handles:
        bob.add_prospect(handle, notes=handle)
    bob.sync()
    _set_versions_without_triggers(team.cloud, dict.fromkeys(handles, 0))
    ann = team.agent("Ann")

    gateway = FailingGateway(StoreGateway(ann.cloud))
    engine_for(ann, gateway, pull_page=1).sync_once()

    assert [row.handle for row in gateway.pulled] == handles
    assert gateway.calls.count("pull_page") == len(handles) + 1  # the last one comes back empty
    assert_cache_equals_cloud(ann, team.cloud)


@pytest.mark.slow
def test_an_initial_pull_killed_half_way_resumes_where_it_stopped(team: Team) -> None:
    cloud = team.cloud
    handles = [f"lead.{i:05d}" for i in range(20_000)]
    with cloud.transaction() as conn:
        cloud.push_edits(conn, [Edit(i, "add", h) for i, h in enumerate(handles)])
    home = team.home("Ann")
    with AgentProcess(home, "--pull-page", "1000") as agent:
        agent.send("sync")
        event = agent.expect("progress")
        while event["done"] < len(handles) // 2:
            event = agent.expect("progress", "synced")
            assert event["event"] == "progress", "the pull ended before the kill"
        agent.kill()
    ann = team.open(home)
    kept = len(cache_leads(ann))
    assert len(handles) // 2 <= kept < len(handles)
    # Rows first: the search index is built at the end, search scans meanwhile.
    assert _searching(ann, "ead.0000") == (True, [f"lead.0000{i}" for i in range(10)])

    gateway = FailingGateway(StoreGateway(ann.cloud))
    report = engine_for(ann, gateway, pull_page=1000).sync_once()

    pages = gateway.calls.count("pull_page")
    print(f"\nkilled after {kept} of {len(handles)} rows; the resume fetched {pages} pages")
    assert pages <= (len(handles) - kept) // 1000 + 2, "the resume started again"
    assert report.pulled == len(handles) - kept
    assert_cache_equals_cloud(ann, cloud)
    # Rebuilt once, complete, and maintained again by its triggers.
    assert _searching(ann, "ead.1999") == (False, [f"lead.1999{i}" for i in range(10)])
    ann.add_prospect("fresh.lead.19990x")
    assert "fresh.lead.19990x" in _searching(ann, "ead.1999")[1]
    with ann.local.transaction() as conn:
        conn.exec_driver_sql("INSERT INTO prospects_fts(prospects_fts) VALUES ('integrity-check')")


def _searching(ledger: Ledger, text: str) -> tuple[bool, list[str]]:
    """(index still being built?, the handles a search finds)."""
    with ledger.local.reading() as conn:
        building = ledger.local.search_indexing(conn)
        rows = ledger.local.list_prospects(conn, ProspectFilter(search=text), limit=100)
    return building, sorted(r.handle for r in rows)


def test_an_agent_away_longer_than_tombstones_are_kept_resyncs_fully(team: Team) -> None:
    ann, bob = team.agent("Ann"), team.agent("Bob")
    for handle in ("keep.lead", "gone.lead", "also.gone"):
        bob.add_prospect(handle, notes=f"about {handle}")
    bob.sync()
    ann.sync()
    ann.log_dm("keep.lead", "hello from Ann")  # queued while away: must survive
    bob.delete_prospect("gone.lead")
    bob.delete_prospect("also.gone")
    bob.add_prospect("new.lead")
    bob.sync()
    assert team.cloud.purge_tombstones(utcnow() + timedelta(days=1)) == 2

    report = ann.sync()

    assert report.full_resync is True
    assert report.pushed_logs == 1
    assert not ann.card("gone.lead").known and not ann.card("also.gone").known
    assert ann.card("new.lead").known
    assert ann.card("keep.lead").owner_actor == "ann.dm"
    assert_cache_equals_cloud(ann, team.cloud)
    assert ann.sync().full_resync is False  # once is enough


def test_a_purge_that_lands_during_a_pull_cannot_hide_a_deletion(team: Team) -> None:
    ann, bob = team.agent("Ann"), team.agent("Bob")
    bob.add_prospect("doomed.lead", notes="soon gone")
    bob.sync()
    ann.sync()
    bob.delete_prospect("doomed.lead")
    bob.add_prospect("later.lead")  # moves Ann's cursor past the deletion
    bob.sync()

    def purge_before_the_first_page(name: str, number: int) -> None:
        if name == "pull_page" and gateway.calls.count("pull_page") == 1:
            team.cloud.purge_tombstones(utcnow() + timedelta(days=1))

    gateway = FailingGateway(StoreGateway(ann.cloud), on_call=purge_before_the_first_page)
    engine_for(ann, gateway).sync_once()
    assert ann.card("doomed.lead").known, "the tombstone was purged before Ann read it"

    report = ann.sync()

    assert report.full_resync is True
    assert not ann.card("doomed.lead").known
    assert_cache_equals_cloud(ann, team.cloud)


def test_an_agent_resyncs_fully_after_a_teammate_resets_the_cloud(team: Team) -> None:
    ann, bob = team.agent("Ann"), team.agent("Bob")
    for i in range(6):
        bob.add_prospect(f"before.reset.{i}")
    bob.sync()
    ann.sync()
    bob.cloud_reset()
    bob.add_prospect("after.reset")
    bob.sync()

    report = ann.sync()

    assert report.full_resync is True
    assert [row[0] for row in cache_leads(ann)] == ["after.reset"]
    assert_cache_equals_cloud(ann, team.cloud)


def test_pulled_times_are_the_caches_fixed_width_text_whatever_the_cloud(team: Team) -> None:
    bob, ann = team.agent("Bob"), team.agent("Ann")
    bob.add_prospect("timed.lead")
    bob.add_prospect("untimed.lead")
    bob.sync()
    on_the_second = datetime(2026, 3, 1, 9, 0, 0)  # no fraction: still six digits
    with team.cloud.transaction() as conn:
        conn.execute(
            sa.update(prospects)
            .where(prospects.c.target_username == "timed.lead")
            .values(
                first_contacted=on_the_second,
                last_dm_at=datetime(2026, 3, 2, 10, 30, 15, 123456),
                dm_count=1,
                last_reply_at=datetime(2026, 3, 3, 11, 0, 0, 5),
                follow_up_at=datetime(2026, 3, 9, 8, 0, 0),
            )
        )

    ann.sync()

    with ann.local.reading() as conn:
        rows = dict(
            (str(r[0]), tuple(r[1:]))
            for r in conn.exec_driver_sql(
                "SELECT target_username, first_contacted, last_dm_at, last_reply_at, "
                "follow_up_at, due_at, last_updated FROM prospects"
            )
        )
    assert rows["timed.lead"][:5] == (
        "2026-03-01T09:00:00.000000",
        "2026-03-02T10:30:15.123456",
        "2026-03-03T11:00:00.000005",
        "2026-03-09T08:00:00.000000",
        None,  # replied: never due
    )
    assert rows["untimed.lead"][:5] == (None, None, None, None, None)
    updated = rows["untimed.lead"][5]
    assert updated is not None and len(updated) == len("2026-03-01T09:00:00.000000")
    assert datetime.fromisoformat(updated).isoformat(timespec="microseconds") == updated
