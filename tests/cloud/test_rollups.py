"""The Team rollups equal the raw logs' figures, on a real SQLite file and a real
PostgreSQL server, whatever writes came in.

The definition is ``analytics`` (its statements read the raw logs); ``rollup_figures``
must give the same numbers after a fold. Hypothesis writes random DMs through the
agent's push and through a foreign tool (no operator_name), edits statuses both ways,
moves, re-times and deletes logs with plain SQL, changes an account's owner, erases
leads, and folds at random points; then every figure under every shape of filter is
compared. Issue 12's follow-up figures too: DMs from templates, replies recorded and
withdrawn, and the lead facts the figures read (first contact, follow-up date, DM
count and last DM) written by a foreign tool.
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dmledger.app.cloud_access import cloud_store_for
from dmledger.app.ledger import Ledger
from dmledger.cloud.analytics import figures, rollups
from dmledger.cloud.analytics import fold as rollup_fold
from dmledger.cloud.analytics import followup_figures as rollup_followups
from dmledger.cloud.analytics import page as rollup_page
from dmledger.cloud.analytics import raw as analytics
from dmledger.cloud.analytics import raw_followups as followup_analytics
from dmledger.cloud.analytics.raw import LogFilter
from dmledger.cloud.store import CloudStore
from dmledger.cloud.tables import actors, outreach_logs, prospect_replies, prospects
from dmledger.domain.followups import FollowUpRule
from dmledger.domain.records import ActorRow, Edit, OutgoingLog

OPERATORS = ("Sarah", "Marcus", "Priya")
ACTORS = (
    ActorRow("sarah.sells", "Sarah", "active"),
    ActorRow("sarah.alt", "Sarah", "restricted"),
    ActorRow("marcus.closes", "Marcus", "active"),
    ActorRow("priya.studio", "Priya", "active"),
)
LEADS = tuple(f"lead.{n}" for n in range(4))
STATUSES = ("new", "contacted", "Booked", "client", "cold_noreply", "WARM", None)
T0 = datetime(2026, 11, 1)
QUERIES = ("messages_per_day", "heatmap", "lead_statuses", "by_operator", "by_actor")


@pytest.fixture
def store(cloud_url: str) -> Iterator[CloudStore]:
    cloud = cloud_store_for(cloud_url)
    cloud.init_schema()
    with cloud.transaction() as conn:
        cloud.ensure_people(conn, list(OPERATORS), ACTORS)
    yield cloud
    cloud.dispose()


moments = st.builds(
    lambda d, m: T0 + timedelta(days=d, minutes=m),
    st.integers(0, 20),
    st.integers(0, 24 * 60 - 1),
)
# Replies to the microsecond: the median's delays must be exact on every backend.
precise_moments = st.builds(
    lambda moment, us: moment + timedelta(microseconds=us), moments, st.integers(0, 59_999_999)
)
actor_names = st.sampled_from([a.username for a in ACTORS])
leads = st.sampled_from(LEADS)
templates = st.sampled_from([None, None, "opener", "bump"])
RULES = (FollowUpRule(), FollowUpRule(1, 0), FollowUpRule(2, 1))
NOWS = (T0 + timedelta(days=5), T0 + timedelta(days=30))

writes = st.one_of(
    st.tuples(st.just("push"), leads, st.sampled_from(ACTORS), moments, templates),
    st.tuples(st.just("foreign_log"), leads, actor_names, moments, templates),
)
operations = st.one_of(
    writes,
    st.tuples(st.just("status_edit"), leads, st.sampled_from(STATUSES[:-1])),
    st.tuples(st.just("status_sql"), leads, st.sampled_from(STATUSES)),
    st.tuples(st.just("retime_sql"), leads, moments),
    st.tuples(st.just("move_sql"), leads, leads, actor_names),
    st.tuples(st.just("delete_log_sql"), leads),
    st.tuples(st.just("owner_sql"), actor_names, st.sampled_from(OPERATORS)),
    st.tuples(st.just("erase"), leads),
    st.tuples(st.just("reply_sql"), leads, precise_moments),
    st.tuples(st.just("unreply_sql"), leads),
    st.tuples(st.just("lead_facts_sql"), leads, st.one_of(st.none(), moments), st.integers(0, 4)),
    st.tuples(st.just("fold")),
)

day_filters = st.builds(
    lambda start, days, operator, actor: LogFilter(
        start=None if start is None else T0 + timedelta(days=start),
        end=None if start is None else T0 + timedelta(days=start + days),
        operator=operator,
        actor=actor,
    ),
    st.one_of(st.none(), st.integers(-2, 21)),
    st.integers(1, 10),
    st.one_of(st.none(), st.sampled_from(OPERATORS)),
    st.one_of(st.none(), actor_names),
)


def _ensure_lead(conn: sa.Connection, handle: str) -> None:
    found = conn.execute(
        sa.select(prospects.c.target_username).where(prospects.c.target_username == handle)
    ).first()
    if found is None:
        conn.execute(sa.insert(prospects).values(target_username=handle, status="new"))


def empty(store: CloudStore) -> None:
    """No leads or DMs, the accounts' first owners, empty rollups."""
    with store.transaction() as conn:
        for table in (outreach_logs, prospect_replies, prospects):
            conn.execute(sa.delete(table))
        for actor in ACTORS:
            conn.execute(
                sa.update(actors)
                .where(actors.c.username == actor.username)
                .values(owner_operator=actor.owner_operator)
            )
        rollup_fold.rebuild(conn)


def apply(store: CloudStore, operation: tuple[Any, ...]) -> None:
    kind, *args = operation
    logs = outreach_logs.c
    with store.transaction() as conn:
        if kind == "push":
            lead, actor, sent, *rest = args
            template = rest[0] if rest else None
            log = OutgoingLog(
                str(uuid.uuid4()),
                lead,
                actor.username,
                actor.owner_operator,
                "hi",
                sent,
                template=template,
            )
            store.push_logs(conn, [log])
        elif kind == "foreign_log":
            lead, actor, sent, *rest = args
            template = rest[0] if rest else None
            _ensure_lead(conn, lead)
            conn.execute(
                sa.insert(outreach_logs).values(
                    target_username=lead,
                    actor_username=actor,
                    message_text="x",
                    created_at=sent,
                    template_name=template,
                )
            )
        elif kind == "reply_sql":
            lead, at = args
            _ensure_lead(conn, lead)
            conn.execute(
                sa.insert(prospect_replies).values(
                    client_reply_id=str(uuid.uuid4()), target_username=lead, replied_at=at
                )
            )
            conn.execute(
                sa.update(prospects)
                .where(prospects.c.target_username == lead)
                .values(last_reply_at=at)
            )
        elif kind == "unreply_sql":
            (lead,) = args
            conn.execute(
                sa.delete(prospect_replies).where(prospect_replies.c.target_username == lead)
            )
            conn.execute(
                sa.update(prospects)
                .where(prospects.c.target_username == lead)
                .values(last_reply_at=None)
            )
        elif kind == "lead_facts_sql":
            # A foreign tool rewrites what the follow-up figures read of a lead.
            lead, at, count = args
            conn.execute(
                sa.update(prospects)
                .where(prospects.c.target_username == lead)
                .values(
                    first_contacted=at,
                    follow_up_at=None if count % 2 else at,
                    dm_count=count,
                    last_dm_at=at,
                )
            )
        elif kind == "status_edit":
            lead, status = args
            store.push_edits(conn, [Edit(1, "status", lead, status=status.lower())])
        elif kind == "status_sql":
            lead, status = args
            conn.execute(
                sa.update(prospects)
                .where(prospects.c.target_username == lead)
                .values(status=status)
            )
        elif kind == "retime_sql":
            lead, sent = args
            first = sa.select(sa.func.min(logs.log_id)).where(logs.target_username == lead)
            conn.execute(
                sa.update(outreach_logs)
                .where(logs.log_id == first.scalar_subquery())
                .values(created_at=sent)
            )
        elif kind == "move_sql":
            lead, other, actor = args
            _ensure_lead(conn, other)
            first = sa.select(sa.func.max(logs.log_id)).where(logs.target_username == lead)
            conn.execute(
                sa.update(outreach_logs)
                .where(logs.log_id == first.scalar_subquery())
                .values(target_username=other, actor_username=actor)
            )
        elif kind == "delete_log_sql":
            (lead,) = args
            first = sa.select(sa.func.min(logs.log_id)).where(logs.target_username == lead)
            conn.execute(sa.delete(outreach_logs).where(logs.log_id == first.scalar_subquery()))
        elif kind == "owner_sql":
            actor, operator = args
            conn.execute(
                sa.update(actors).where(actors.c.username == actor).values(owner_operator=operator)
            )
        elif kind == "erase":
            (lead,) = args
            store.delete_prospects(conn, [lead])
        else:
            rollup_fold.fold(conn)


def normalised(name: str, value: Any) -> Any:
    if name in ("by_operator", "by_actor"):
        # Rows tied on messages may come in either order; each row must match.
        return sorted(value, key=repr)
    if name in ("heatmap", "lead_statuses"):
        return sorted(value, key=repr)
    return value


def assert_rollups_match(store: CloudStore, filters: list[LogFilter]) -> None:
    rollup_fold.bring_up_to_date(store.db)
    with store.reading() as conn:
        for flt in [LogFilter(), *filters]:
            assert figures.answers(flt)
            for name in QUERIES:
                raw = normalised(name, getattr(analytics, name)(conn, flt))
                rolled = normalised(name, getattr(figures, name)(conn, flt))
                assert rolled == raw, (name, flt)
            # The median unrounded, bit for bit, and its count.
            raw_median = followup_analytics.first_reply(conn, flt)
            assert rollup_followups.first_reply(conn, flt) == raw_median, ("median", flt)
            for rule in RULES:
                for now in NOWS:
                    raw_followups = followup_analytics.followup_figures(conn, flt, rule, now)
                    rolled_followups = rollup_followups.followup_figures(conn, flt, rule, now)
                    assert rolled_followups == raw_followups, ("followups", flt, rule, now)
            for limit in (1, 50):
                assert figures.double_contacts(conn, flt, limit) == analytics.double_contacts(
                    conn, flt, limit
                ), ("double_contacts", flt, limit)
            # The whole page, each statement once, gives the same figures.
            page = rollup_page.team_figures(conn, flt, RULES[2], NOWS[0])
            for name in (*QUERIES, "double_contacts"):
                raw = normalised(name, getattr(analytics, name)(conn, flt))
                assert normalised(name, getattr(page, name)) == raw, ("page", name, flt)
            raw_followups = followup_analytics.followup_figures(conn, flt, RULES[2], NOWS[0])
            assert page.followups == raw_followups, ("page followups", flt)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    first=st.lists(writes, min_size=2, max_size=12),
    steps=st.lists(operations, min_size=1, max_size=20),
    filters=st.lists(day_filters, max_size=4),
)
def test_every_team_figure_from_the_rollups_equals_the_raw_logs(
    store: CloudStore,
    first: list[tuple[Any, ...]],
    steps: list[tuple[Any, ...]],
    filters: list[LogFilter],
) -> None:
    empty(store)
    for step in [*first, ("fold",), *steps]:
        apply(store, step)
    assert_rollups_match(store, filters)


def test_an_erased_lead_leaves_the_rollups_in_its_own_transaction(store: CloudStore) -> None:
    apply(store, ("push", "lead.1", ACTORS[0], T0))
    apply(store, ("push", "lead.1", ACTORS[2], T0 + timedelta(days=1)))
    rollup_fold.bring_up_to_date(store.db)
    with store.reading() as conn:
        assert figures.double_contacts(conn, LogFilter())[0] == 1
    apply(store, ("erase", "lead.1"))
    # Before any fold: the handle is in no rollup table.
    with store.reading() as conn:
        for table in rollups.TABLES:
            if "target_username" in table.c:
                found = conn.execute(
                    sa.select(sa.func.count())
                    .select_from(table)
                    .where(table.c.target_username == "lead.1")
                ).scalar_one()
                assert found == 0, table.name
    assert_rollups_match(store, [])
    with store.reading() as conn:
        assert figures.double_contacts(conn, LogFilter()) == (0, [])
        assert figures.messages_per_day(conn, LogFilter()) == []


def test_a_period_bounded_inside_a_day_is_answered_by_the_raw_statements(
    store: CloudStore,
) -> None:
    apply(store, ("push", "lead.1", ACTORS[0], T0 + timedelta(hours=9)))
    apply(store, ("push", "lead.2", ACTORS[0], T0 + timedelta(hours=15)))
    rollup_fold.bring_up_to_date(store.db)
    afternoon = LogFilter(start=T0 + timedelta(hours=12), end=T0 + timedelta(days=1))
    assert not figures.answers(afternoon)
    with store.reading() as conn:
        assert figures.lead_statuses(conn, afternoon) == [("contacted", 1, 1)]
        assert figures.lead_statuses(conn, LogFilter(start=T0, end=T0 + timedelta(days=1))) == [
            ("contacted", 2, 2)
        ]


def test_the_upgrade_to_version_6_fills_the_rollups_from_existing_logs(
    store: CloudStore,
) -> None:
    for n, actor in enumerate(ACTORS):
        apply(store, ("push", f"lead.{n % 3}", actor, T0 + timedelta(days=n, hours=n)))
    apply(store, ("foreign_log", "lead.5", "priya.studio", T0 + timedelta(days=2)))
    with store.transaction() as conn:
        rollups.drop(conn)
        conn.exec_driver_sql(
            "UPDATE dmledger_info SET info_value = '5' WHERE info_key = 'schema_version'"
        )
    steps = store.upgrade()
    assert steps[-1] == "schema_version = 6"
    assert store.schema_version() == 6
    with store.reading() as conn:
        assert not rollup_fold.pending(conn)  # filled, nothing queued
        assert figures.messages_per_day(conn, LogFilter())  # not empty
    assert_rollups_match(store, [LogFilter(start=T0, end=T0 + timedelta(days=2))])


def test_each_kind_of_write_is_folded_in_whoever_makes_it(store: CloudStore) -> None:
    # After each write the figures must match: a write whose trigger queued nothing
    # (or a fold that missed it) shows here, named by the step.
    day = timedelta(days=1)
    steps: list[tuple[Any, ...]] = [
        ("push", "lead.0", ACTORS[0], T0),
        ("foreign_log", "lead.1", "priya.studio", T0 + day),
        ("foreign_log", "lead.0", "marcus.closes", T0 + 2 * day),
        ("status_sql", "lead.0", "Booked"),
        ("status_edit", "lead.1", "client"),
        ("owner_sql", "priya.studio", "Marcus"),
        ("retime_sql", "lead.0", T0 + 5 * day),
        ("move_sql", "lead.0", "lead.1", "sarah.alt"),
        ("delete_log_sql", "lead.1"),
        ("erase", "lead.0"),
    ]
    filters = [LogFilter(start=T0 + day, end=T0 + 3 * day, operator="Marcus")]
    for step in steps:
        apply(store, step)
        with store.reading() as conn:
            assert rollup_fold.pending(conn), step
        assert_rollups_match(store, filters)


def test_a_lead_queued_by_a_transaction_still_open_is_folded_once_it_commits(
    pg_url: str,
) -> None:
    # PostgreSQL, where writers run concurrently: the fold takes only the queue rows it
    # can see, neither waits for nor loses the open transaction's.
    cloud = cloud_store_for(pg_url)
    try:
        cloud.init_schema()
        with cloud.transaction() as conn:
            cloud.ensure_people(conn, list(OPERATORS), ACTORS)
        apply(cloud, ("push", "lead.1", ACTORS[0], T0))
        with cloud.engine.connect() as held, held.begin():
            _ensure_lead(held, "lead.2")
            held.execute(
                sa.insert(outreach_logs).values(
                    target_username="lead.2", actor_username="marcus.closes", created_at=T0
                )
            )
            assert rollup_fold.bring_up_to_date(cloud.db) == 1  # lead.1 only
            with cloud.reading() as conn:
                assert figures.lead_statuses(conn, LogFilter()) == [("contacted", 1, 1)]
        # Committed now: its lead is still queued.
        with cloud.reading() as conn:
            assert rollup_fold.pending(conn)
        assert_rollups_match(cloud, [])
        with cloud.reading() as conn:
            assert sorted(figures.lead_statuses(conn, LogFilter())) == [
                ("contacted", 1, 1),
                ("new", 1, 1),
            ]
    finally:
        cloud.dispose()


def test_an_agent_with_the_operator_role_folds_and_reads_the_team_figures(
    tmp_path: Path, pg_url: str, operator_role: str, operator_url: str
) -> None:
    lead, _ = Ledger.init_home(tmp_path / "lead", "Lena", cloud_url=pg_url, actor="lena.leads")
    lead.cloud_init()
    lead.cloud_grants("operator", operator_role, apply=True)
    agent, _ = Ledger.init_home(tmp_path / "op", "Omar", cloud_url=operator_url, actor="omar.dm")
    try:
        agent.sync()
        agent.log_dm("lead.1", "hello")
        agent.sync()
        with agent.cloud.reading() as conn:
            assert rollup_fold.pending(conn)
        # (The whole Team page also reads issue 12's team_rules, which the operator
        # role is not granted: not the rollups' concern.)
        assert rollup_fold.bring_up_to_date(agent.cloud.db) == 1
        with agent.cloud.reading() as conn:
            assert not rollup_fold.pending(conn)  # the operator's agent folded
            assert figures.lead_statuses(conn, LogFilter()) == [("contacted", 1, 1)]
            assert figures.by_operator(conn, LogFilter())[0]["operator"] == "Omar"
    finally:
        agent.close()
        lead.close()


HOUR = timedelta(hours=1)
MEDIAN_CASES = {
    "no replied lead": [],
    "a single lead": [1.5 * HOUR],
    "an even count: the mean of the middle two": [HOUR, 2 * HOUR],
    "an odd count": [3 * HOUR, HOUR, 2 * HOUR],
    "ties in the middle": [HOUR, 2 * HOUR, 2 * HOUR, 5 * HOUR],
    "middle delays a microsecond apart": [
        HOUR + timedelta(microseconds=2),
        HOUR + timedelta(microseconds=1),
        HOUR + timedelta(microseconds=3),
        HOUR,
    ],
    "a reply recorded before the first contact": [-timedelta(minutes=30), HOUR, 3 * HOUR],
}


def _replied_leads(store: CloudStore, delays: list[timedelta], *, shared: bool) -> None:
    """One lead per delay, first contacted then replied to ``delay`` later; ``shared``:
    all contacted at one moment by one account (tied leads then share a rollup row)."""
    for n, delay in enumerate(delays):
        lead = f"lead.{n}"
        contacted = T0 + (
            timedelta(hours=9, microseconds=999_999)
            if shared
            else timedelta(days=n % 3, seconds=n, microseconds=999_999 * (n % 2))
        )
        apply(store, ("foreign_log", lead, "sarah.sells", contacted))
        with store.transaction() as conn:
            conn.execute(
                sa.update(prospects)
                .where(prospects.c.target_username == lead)
                .values(first_contacted=contacted)
            )
        apply(store, ("reply_sql", lead, contacted + delay))


@pytest.mark.parametrize("shared", [False, True], ids=["own moments", "one moment"])
@pytest.mark.parametrize("case", sorted(MEDIAN_CASES))
def test_the_median_time_to_first_reply_from_the_rollups_is_the_raw_one_bit_for_bit(
    store: CloudStore, case: str, shared: bool
) -> None:
    delays = MEDIAN_CASES[case]
    _replied_leads(store, delays, shared=shared)
    rollup_fold.bring_up_to_date(store.db)
    hours = [delay.total_seconds() / 3600 for delay in delays]
    expected = (statistics.median(hours) if hours else None, len(delays))
    with store.reading() as conn:
        for flt in (LogFilter(), LogFilter(start=T0, end=T0 + timedelta(days=3))):
            assert followup_analytics.first_reply(conn, flt) == expected, flt
            assert rollup_followups.first_reply(conn, flt) == expected, flt
    assert_rollups_match(
        store, [LogFilter(start=T0 + timedelta(days=1), end=T0 + timedelta(days=3))]
    )


@pytest.mark.parametrize("count", [9, 10])
def test_only_the_middle_delays_leave_the_database(store: CloudStore, count: int) -> None:
    _replied_leads(store, [n * HOUR for n in range(count)], shared=False)
    rollup_fold.bring_up_to_date(store.db)
    with store.reading() as conn:
        statement = rollup_followups.first_reply_statement(LogFilter(), conn.dialect.name)
        rows = conn.execute(statement).all()
        assert len(rows) == 2 - count % 2
        assert {int(row.total) for row in rows} == {count}
        assert rollup_followups.first_reply(conn, LogFilter()) == ((count - 1) / 2, count)
