"""The Team page's SQL, on a real SQLite file and a real PostgreSQL server.

One small team, written out below, whose right answers were counted by hand:

    Sarah  owns sarah.sells (active) and sarah.alt (restricted)
    Marcus owns marcus.closes
    Priya  owns priya.studio, which only the seed's tool used (no operator_name)

    #  sent (UTC)               actor          lead     note
    1  Mon 2026-11-23 09:15     sarah.sells    alpha
    2  Tue 2026-11-24 10:00     sarah.sells    alpha
    3  Tue 2026-11-24 10:30     sarah.alt      beta
    4  Tue 2026-11-24 23:59     marcus.closes  beta     beta: two actors this week
    5  Wed 2026-11-25 00:00     marcus.closes  gamma    midnight: Wednesday, hour 0
    6  Wed 2026-11-25 14:00     priya.studio   delta    seed's tool
    7  Sun 2026-11-29 18:30     marcus.closes  alpha    alpha: two actors this week
    8  Fri 2026-11-20 08:00     priya.studio   gamma    seed's tool; before the week
    9  Sun 2026-11-01 12:00     sarah.sells    epsilon  before the week

    statuses: alpha booked, beta client, gamma Cold_NoReply (the seed tool's
    spelling), delta Booked, epsilon warm, zeta new (never messaged).

"The week" is Monday 2026-11-23 00:00 to Monday 2026-11-30 00:00: DMs 1-7.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa

from dmledger.app.ledger import Ledger
from dmledger.cloud.analytics import raw as analytics
from dmledger.cloud.analytics.raw import LogFilter
from dmledger.cloud.store import CloudStore
from dmledger.cloud.tables import outreach_logs, prospects
from dmledger.domain.records import ActorRow, Edit, OutgoingLog

T = TypeVar("T")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute)


WEEK = LogFilter(start=datetime(2026, 11, 23), end=datetime(2026, 11, 30))
ALL = LogFilter()

ACTORS = (
    ActorRow("sarah.sells", "Sarah", "active"),
    ActorRow("sarah.alt", "Sarah", "restricted"),
    ActorRow("marcus.closes", "Marcus", "active"),
    ActorRow("priya.studio", "Priya", "active"),
)
# (actor, operator, lead, sent): pushed by DM Ledger agents.
AGENT_DMS = (
    ("sarah.sells", "Sarah", "alpha", at(23, 9, 15)),
    ("sarah.sells", "Sarah", "alpha", at(24, 10)),
    ("sarah.alt", "Sarah", "beta", at(24, 10, 30)),
    ("marcus.closes", "Marcus", "beta", at(24, 23, 59)),
    ("marcus.closes", "Marcus", "gamma", at(25, 0)),
    ("marcus.closes", "Marcus", "alpha", at(29, 18, 30)),
    ("sarah.sells", "Sarah", "epsilon", at(1, 12)),
)
# (actor, lead, sent): written by the seed's tool, which has no operator_name column.
SEED_TOOL_DMS = (
    ("priya.studio", "delta", at(25, 14)),
    ("priya.studio", "gamma", at(20, 8)),
)
STATUSES = {
    "alpha": "booked",
    "beta": "client",
    "gamma": "Cold_NoReply",
    "epsilon": "warm",
}


def load_team(store: CloudStore) -> None:
    with store.transaction() as conn:
        store.ensure_people(conn, ["Marcus", "Priya", "Sarah"], ACTORS)
        store.push_logs(
            conn,
            [
                OutgoingLog(str(uuid.uuid4()), lead, actor, operator, "hello", sent)
                for actor, operator, lead, sent in AGENT_DMS
            ],
        )
        # What the seed's tool writes: its own lead row, logs without operator_name.
        conn.execute(sa.insert(prospects).values(target_username="delta", status="Booked"))
        conn.execute(
            sa.insert(outreach_logs),
            [
                {
                    "target_username": lead,
                    "actor_username": actor,
                    "message_text": "hi from the old tool",
                    "created_at": sent,
                }
                for actor, lead, sent in SEED_TOOL_DMS
            ],
        )
        edits = [Edit(n, "status", lead, status=s) for n, (lead, s) in enumerate(STATUSES.items())]
        store.push_edits(conn, [*edits, Edit(99, "add", "zeta", status="new")])


@pytest.fixture
def team(home: Path, cloud_url: str) -> Iterator[Ledger]:
    ledger, _ = Ledger.init_home(home, "Sarah", cloud_url=cloud_url, actor="sarah.sells")
    ledger.cloud_init()
    load_team(ledger.cloud)
    yield ledger
    ledger.close()


def ask(ledger: Ledger, query: Callable[[sa.Connection, LogFilter], T], flt: LogFilter) -> T:
    with ledger.cloud.reading() as conn:
        return query(conn, flt)


def test_messages_per_day_counts_each_utc_day_that_has_dms(team: Ledger) -> None:
    assert ask(team, analytics.messages_per_day, WEEK) == [
        (date(2026, 11, 23), 1),
        (date(2026, 11, 24), 3),  # 23:59 still counts on the 24th
        (date(2026, 11, 25), 2),  # midnight counts on the 25th
        (date(2026, 11, 29), 1),
    ]
    assert ask(team, analytics.messages_per_day, ALL)[:2] == [
        (date(2026, 11, 1), 1),
        (date(2026, 11, 20), 1),
    ]


def test_heatmap_files_each_dm_under_its_iso_weekday_and_utc_hour(team: Ledger) -> None:
    # 2026-11-23 is a Monday (row 0) and 2026-11-29 a Sunday (row 6, not row 0).
    assert sorted(ask(team, analytics.heatmap, WEEK)) == [
        (0, 9, 1),
        (1, 10, 2),
        (1, 23, 1),
        (2, 0, 1),
        (2, 14, 1),
        (6, 18, 1),
    ]


def test_lead_statuses_count_the_leads_messaged_by_stored_status(team: Ledger) -> None:
    rows = ask(team, analytics.lead_statuses, WEEK)
    # alpha (3 DMs) and delta ("Booked", 1 DM) are booked; zeta was never messaged and
    # epsilon not this week, so neither appears.
    assert {status: (leads, dms) for status, leads, dms in rows} == {
        "booked": (2, 4),
        "client": (1, 2),
        "cold_noreply": (1, 1),
    }


def test_operator_leaderboard_takes_the_seed_tools_operator_from_the_actors_owner(
    team: Ledger,
) -> None:
    assert ask(team, analytics.by_operator, WEEK) == [
        {"operator": "Marcus", "messages": 3, "leads": 3, "booked": 2},
        {"operator": "Sarah", "messages": 3, "leads": 2, "booked": 2},
        {"operator": "Priya", "messages": 1, "leads": 1, "booked": 1},
    ]


def test_actor_leaderboard_shows_each_accounts_owner_and_health(team: Ledger) -> None:
    assert ask(team, analytics.by_actor, WEEK) == [
        row("marcus.closes", "Marcus", "active", messages=3, leads=3, booked=2),
        row("sarah.sells", "Sarah", "active", messages=2, leads=1, booked=1),
        row("priya.studio", "Priya", "active", messages=1, leads=1, booked=1),
        row("sarah.alt", "Sarah", "restricted", messages=1, leads=1, booked=1),
    ]


def row(actor: str, operator: str, status: str, **counts: int) -> dict[str, Any]:
    return {"actor": actor, "operator": operator, "status": status, **counts}


def test_double_contacts_are_leads_messaged_by_two_actors_most_recent_first(
    team: Ledger,
) -> None:
    total, rows = ask(team, analytics.double_contacts, WEEK)
    assert total == 2
    assert rows == [
        {
            "handle": "alpha",
            "actors": ["marcus.closes", "sarah.sells"],
            "first_contacted": at(23, 9, 15),
            "last_message_at": at(29, 18, 30),
            "messages": 3,
        },
        {
            "handle": "beta",
            "actors": ["marcus.closes", "sarah.alt"],
            "first_contacted": at(24, 10, 30),
            "last_message_at": at(24, 23, 59),
            "messages": 2,
        },
    ]


def test_a_lead_is_a_double_contact_only_when_both_actors_are_in_the_period(
    team: Ledger,
) -> None:
    # gamma had priya.studio on the 20th and marcus.closes on the 25th.
    total, rows = ask(team, analytics.double_contacts, ALL)
    assert total == 3
    assert [(r["handle"], r["actors"]) for r in rows] == [
        ("alpha", ["marcus.closes", "sarah.sells"]),
        ("gamma", ["marcus.closes", "priya.studio"]),
        ("beta", ["marcus.closes", "sarah.alt"]),
    ]


def test_the_double_contact_list_is_cut_at_the_limit_but_the_total_counts_all(
    team: Ledger,
) -> None:
    with team.cloud.reading() as conn:
        total, rows = analytics.double_contacts(conn, ALL, limit=1)
    assert total == 3
    assert [r["handle"] for r in rows] == ["alpha"]


def test_an_operator_filter_counts_seed_tool_rows_through_the_actors_owner(
    team: Ledger,
) -> None:
    priya = LogFilter(WEEK.start, WEEK.end, operator="Priya")
    assert ask(team, analytics.messages_per_day, priya) == [(date(2026, 11, 25), 1)]
    assert ask(team, analytics.by_operator, priya) == [
        {"operator": "Priya", "messages": 1, "leads": 1, "booked": 1}
    ]
    assert [r["actor"] for r in ask(team, analytics.by_actor, priya)] == ["priya.studio"]
    assert ask(team, analytics.double_contacts, priya) == (0, [])
    total, rows = ask(team, analytics.double_contacts, LogFilter(operator="Priya"))
    assert (total, rows[0]["handle"], rows[0]["messages"]) == (1, "gamma", 2)


def test_an_operator_filter_keeps_that_operators_dms_and_their_shared_leads(
    team: Ledger,
) -> None:
    sarah = LogFilter(WEEK.start, WEEK.end, operator="Sarah")
    assert ask(team, analytics.messages_per_day, sarah) == [
        (date(2026, 11, 23), 1),
        (date(2026, 11, 24), 2),
    ]
    assert sorted(ask(team, analytics.lead_statuses, sarah)) == [("booked", 1, 2), ("client", 1, 1)]
    assert [r["operator"] for r in ask(team, analytics.by_operator, sarah)] == ["Sarah"]
    # The leads Sarah shares with Marcus, with all their DMs of the week.
    total, rows = ask(team, analytics.double_contacts, sarah)
    assert total == 2
    assert [(r["handle"], r["messages"]) for r in rows] == [("alpha", 3), ("beta", 2)]


def test_an_actor_filter_keeps_only_that_accounts_dms(team: Ledger) -> None:
    alt = LogFilter(WEEK.start, WEEK.end, actor="sarah.alt")
    assert ask(team, analytics.messages_per_day, alt) == [(date(2026, 11, 24), 1)]
    assert ask(team, analytics.heatmap, alt) == [(1, 10, 1)]
    assert ask(team, analytics.by_actor, alt) == [
        row("sarah.alt", "Sarah", "restricted", messages=1, leads=1, booked=1)
    ]
    total, rows = ask(team, analytics.double_contacts, alt)
    assert (total, [r["handle"] for r in rows]) == (1, ["beta"])


def test_a_period_includes_its_start_and_excludes_its_end(team: Ledger) -> None:
    # gamma's DM at 00:00 is in, delta's at 14:00 is out.
    morning = LogFilter(start=at(25, 0), end=at(25, 14))
    assert ask(team, analytics.messages_per_day, morning) == [(date(2026, 11, 25), 1)]
    assert ask(team, analytics.heatmap, morning) == [(2, 0, 1)]


def test_an_empty_cloud_answers_every_query_with_nothing(home: Path, cloud_url: str) -> None:
    ledger, _ = Ledger.init_home(home, "Sarah", cloud_url=cloud_url)
    ledger.cloud_init()
    try:
        with ledger.cloud.reading() as conn:
            assert analytics.messages_per_day(conn, ALL) == []
            assert analytics.heatmap(conn, ALL) == []
            assert analytics.lead_statuses(conn, ALL) == []
            assert analytics.by_operator(conn, ALL) == []
            assert analytics.by_actor(conn, ALL) == []
            assert analytics.double_contacts(conn, ALL) == (0, [])
    finally:
        ledger.close()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2026, 11, 23), date(2026, 11, 23)),
        (datetime(2026, 11, 23, 0, 0), date(2026, 11, 23)),
        ("2026-11-23", date(2026, 11, 23)),
    ],
)
def test_a_day_bucket_from_any_dialect_reads_as_a_date(value: object, expected: date) -> None:
    assert analytics.as_date(value) == expected
