"""A lead's DM figures (last DM, DM count, last message, follow-up date cleared by a
newer DM): PostgreSQL's one-statement form for a whole batch, and the push's insert
that gives new leads their figures, give row for row what the portable per-lead
statement gives, on random logs written as a foreign tool might (times missing or
tied, texts missing), in the real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dmledger.app.cloud_access import cloud_store_for
from dmledger.cloud.exchange import push
from dmledger.cloud.exchange import team_settings as followups
from dmledger.cloud.store import CloudStore
from dmledger.cloud.tables import actors, operators, outreach_logs, prospects
from dmledger.domain.records import OutgoingLog

T0 = datetime(2026, 3, 1, 9, 0, 0)
HANDLES = ("ana", "ben", "cleo", "dev")
FIGURES = ("target_username", "last_dm_at", "dm_count", "last_message", "follow_up_at")

times = st.none() | st.integers(0, 3).map(lambda h: T0 + timedelta(hours=h))
logs = st.lists(
    st.tuples(st.sampled_from(HANDLES), times, st.none() | st.sampled_from(["a", "b", "c"])),
    max_size=12,
)
leads = st.fixed_dictionaries(
    {h: st.tuples(times, times) for h in HANDLES}  # (last_dm_at, follow_up_at) before
)


@pytest.fixture
def store(pg_url: str) -> Iterator[CloudStore]:
    cloud = cloud_store_for(pg_url)
    assert cloud.init_schema() is True
    yield cloud
    cloud.dispose()


def _figures(conn: sa.Connection) -> list[tuple[Any, ...]]:
    columns = [prospects.c[name] for name in FIGURES]
    return [tuple(row) for row in conn.execute(sa.select(*columns).order_by(columns[0]))]


def _write(conn: sa.Connection, before: dict[str, tuple[Any, Any]], rows: list[Any]) -> None:
    conn.execute(sa.delete(outreach_logs))
    conn.execute(sa.delete(prospects))
    conn.execute(
        sa.insert(prospects),
        [
            {"target_username": h, "last_dm_at": d, "follow_up_at": f}
            for h, (d, f) in before.items()
        ],
    )
    if rows:
        conn.execute(
            sa.insert(outreach_logs),
            [{"target_username": h, "created_at": t, "message_text": m} for h, t, m in rows],
        )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(before=leads, rows=logs, chosen=st.sets(st.sampled_from(HANDLES), min_size=1))
def test_the_batch_statement_matches_the_per_lead_one(
    store: CloudStore, before: dict[str, tuple[Any, Any]], rows: list[Any], chosen: set[str]
) -> None:
    handles = sorted(chosen)
    with store.engine.connect() as conn:
        _write(conn, before, rows)
        conn.execute(followups.dm_figures_statement(), [{"t": h} for h in handles])
        one_by_one = _figures(conn)
        conn.rollback()
        _write(conn, before, rows)
        conn.execute(followups.dm_figures_set_statement(handles))
        batched = _figures(conn)
        conn.rollback()
    assert batched == one_by_one
    # Leads outside the batch are left as they were.
    untouched = {row[0]: row for row in batched if row[0] not in chosen}
    assert all(untouched[h][1] == before[h][0] for h in untouched)


# -- the push's own statements ---------------------------------------------------------

NEW = ("eli", "fay")  # leads the push brings into the cloud
pushed = st.lists(
    st.tuples(
        st.sampled_from(HANDLES[:2] + NEW),
        st.integers(0, 3).map(lambda h: T0 + timedelta(hours=h)),
        st.sampled_from(["a", "b", "c"]),
    ),
    min_size=1,
    max_size=10,
)


def _batch(rows: list[Any]) -> list[OutgoingLog]:
    return [OutgoingLog(str(uuid.uuid4()), h, "sender.one", "Op", m, t) for h, t, m in rows]


def _people(conn: sa.Connection) -> None:
    conn.execute(sa.insert(operators), [{"operator_name": "Op"}])
    conn.execute(sa.insert(actors), [{"username": "sender.one", "owner_operator": "Op"}])


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(before=leads, rows=logs, batch=pushed)
def test_a_push_leaves_every_lead_with_the_figures_its_logs_give(
    store: CloudStore, before: dict[str, tuple[Any, Any]], rows: list[Any], batch: list[Any]
) -> None:
    """New leads get their figures from the push's insert itself (the recount then
    rewrites none of them); leads already in the cloud are recounted; either way the
    figures are what the per-lead statement computes from the logs."""
    dms = _batch(batch)
    insert, recount = push.pg_push_statements(dms)
    new = sorted({d.target for d in dms} & set(NEW))
    with store.engine.connect() as conn:
        _people(conn)
        _write(conn, before, rows)
        conn.execute(insert)
        inserted = {row[0]: row for row in _figures(conn) if row[0] in new}
        if new:
            conn.execute(followups.dm_figures_statement(), [{"t": h} for h in new])
        assert {row[0]: row for row in _figures(conn) if row[0] in new} == inserted
        updated = conn.execute(recount).rowcount
        after_push = _figures(conn)
        touched = sorted({d.target for d in dms})
        conn.execute(followups.dm_figures_statement(), [{"t": h} for h in touched])
        recomputed = _figures(conn)
        conn.rollback()
    assert after_push == recomputed
    # The recount touched only leads that were in the cloud before the push.
    assert updated <= len({d.target for d in dms} - set(NEW))
