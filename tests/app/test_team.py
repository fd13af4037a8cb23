"""The Team page's use case: filters, the assembled report, and the offline cache.

The team below was counted by hand; "now" is Sunday 2026-11-29 20:00 UTC, so the
last 7 days run from Monday 2026-11-23 00:00 to Monday 2026-11-30 00:00.

    sent (UTC)              actor          operator  lead      status
    Mon 11-23 09:15         sarah.sells    Sarah     alpha     Booked (seed spelling)
    Tue 11-24 10:00         sarah.sells    Sarah     alpha
    Wed 11-25 14:00         marcus.closes  Marcus    alpha     (a double contact)
    Fri 11-27 08:00         priya.studio   (none)    gamma     Cold_NoReply (seed's tool)
    Sun 11-29 18:30         sarah.sells    Sarah     beta      client
    Sun 11-01 12:00         sarah.sells    Sarah     old.lead  hot (before the week)
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from dmledger.app.cloud_access import cloud_store_for
from dmledger.app.dashboard import TeamFilter, TeamReport
from dmledger.app.ledger import Ledger
from dmledger.cloud.analytics import fold as rollup_fold
from dmledger.cloud.tables import outreach_logs, prospects
from dmledger.domain.records import ActorRow, Edit, OutgoingLog
from dmledger.errors import CloudUnavailable, InvalidInput

NOW = datetime(2026, 11, 29, 20, 0)
CLOSED_PORT_URL = "postgresql+psycopg://postgres@127.0.0.1:1/x"


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute)


@pytest.fixture
def ledger(home: Path, cloud_url: str) -> Iterator[Ledger]:
    created, _ = Ledger.init_home(home, "Sarah", cloud_url=cloud_url, actor="sarah.sells")
    created.cloud_init()
    store = created.cloud
    with store.transaction() as conn:
        store.ensure_people(
            conn,
            ["Marcus", "Priya", "Sarah"],
            [
                ActorRow("sarah.sells", "Sarah", "active"),
                ActorRow("marcus.closes", "Marcus", "active"),
                ActorRow("priya.studio", "Priya", "banned"),
            ],
        )
        store.push_logs(
            conn,
            [
                OutgoingLog(str(uuid.uuid4()), lead, actor, operator, "hello", sent)
                for actor, operator, lead, sent in (
                    ("sarah.sells", "Sarah", "alpha", at(11, 23, 9, 15)),
                    ("sarah.sells", "Sarah", "alpha", at(11, 24, 10)),
                    ("marcus.closes", "Marcus", "alpha", at(11, 25, 14)),
                    ("sarah.sells", "Sarah", "beta", at(11, 29, 18, 30)),
                    ("sarah.sells", "Sarah", "old.lead", at(11, 1, 12)),
                )
            ],
        )
        # The seed's tool writes logs without operator_name.
        conn.execute(sa.insert(prospects).values(target_username="gamma", status="Cold_NoReply"))
        conn.execute(
            sa.insert(outreach_logs).values(
                target_username="gamma", actor_username="priya.studio", created_at=at(11, 27, 8)
            )
        )
        store.push_edits(
            conn,
            [
                Edit(1, "status", "alpha", status="Booked"),
                Edit(2, "status", "beta", status="client"),
                Edit(3, "status", "old.lead", status="hot"),
            ],
        )
    created.close()
    opened = Ledger.open(home, clock=lambda: NOW)
    yield opened
    opened.close()


@pytest.fixture
def offline(ledger: Ledger) -> Iterator[Ledger]:
    """The same home (and local cache) two hours later, with the cloud unreachable."""
    settings = ledger.settings.model_copy(update={"cloud_url": CLOSED_PORT_URL})
    cut_off = Ledger(ledger.home, settings, clock=lambda: NOW + timedelta(hours=2))
    yield cut_off
    cut_off.close()


# -- the report ------------------------------------------------------------------------


def test_a_weeks_report_totals_the_team_and_fills_every_day(ledger: Ledger) -> None:
    report, fetched_at, from_cache = ledger.team.report(TeamFilter("7d"))
    assert (fetched_at, from_cache) == (NOW, False)
    assert report.generated_at == NOW
    assert report.period_label == "Last 7 days"
    assert report.totals == {
        "messages": 5,
        "leads_contacted": 3,
        "booked": 2,  # alpha ("Booked") and beta (client)
        "clients": 1,
        "double_contacts": 1,
    }
    assert report.messages_per_day == [
        ("2026-11-23", 1),
        ("2026-11-24", 1),
        ("2026-11-25", 1),
        ("2026-11-26", 0),
        ("2026-11-27", 1),
        ("2026-11-28", 0),
        ("2026-11-29", 1),
    ]


def test_the_funnel_lists_all_nine_statuses_in_pipeline_order_reading_legacy_names(
    ledger: Ledger,
) -> None:
    report, _, _ = ledger.team.report(TeamFilter("7d"))
    assert report.funnel == [
        ("new", 0),
        ("contacted", 0),
        ("cold", 1),  # gamma, stored as Cold_NoReply
        ("warm", 0),
        ("hot", 0),  # old.lead is hot, but was not messaged this week
        ("booked", 1),  # alpha, stored as Booked
        ("client", 1),
        ("rejected", 0),
        ("excluded", 0),
    ]


def test_the_heatmap_is_seven_weekdays_by_24_utc_hours_monday_first(ledger: Ledger) -> None:
    report, _, _ = ledger.team.report(TeamFilter("7d"))
    assert len(report.heatmap) == 7
    assert {len(row) for row in report.heatmap} == {24}
    busy = {
        (day, hour): n for day, row in enumerate(report.heatmap) for hour, n in enumerate(row) if n
    }
    # Mon 09h, Tue 10h, Wed 14h, Fri 08h, Sun 18h.
    assert busy == {(0, 9): 1, (1, 10): 1, (2, 14): 1, (4, 8): 1, (6, 18): 1}


def test_leaderboards_and_double_contacts_come_with_the_report(ledger: Ledger) -> None:
    report, _, _ = ledger.team.report(TeamFilter("7d"))
    assert report.by_operator == [
        {"operator": "Sarah", "messages": 3, "leads": 2, "booked": 2},
        {"operator": "Marcus", "messages": 1, "leads": 1, "booked": 1},
        {"operator": "Priya", "messages": 1, "leads": 1, "booked": 0},
    ]
    assert [(r["actor"], r["operator"], r["status"]) for r in report.by_actor] == [
        ("sarah.sells", "Sarah", "active"),
        ("marcus.closes", "Marcus", "active"),
        ("priya.studio", "Priya", "banned"),
    ]
    assert report.double_contacts == [
        {
            "handle": "alpha",
            "actors": ["marcus.closes", "sarah.sells"],
            "first_contacted": at(11, 23, 9, 15),
            "last_message_at": at(11, 25, 14),
            "messages": 3,
        }
    ]


def test_the_report_reads_one_moment_while_a_teammate_folds_new_dms_in(
    ledger: Ledger, cloud_url: str
) -> None:
    """A teammate's DM and fold commit between the report's first Team statement and
    the rest: without one snapshot the week's days and its totals would disagree."""
    rollup_fold.bring_up_to_date(ledger.cloud.db)  # nothing left for the report to fold
    teammate = cloud_store_for(cloud_url)
    landed: list[str] = []

    def between(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if landed or "rollup_status" not in statement:
            return
        landed.append(statement)
        with teammate.transaction() as conn:
            sent = at(11, 28, 9)
            teammate.push_logs(
                conn, [OutgoingLog(str(uuid.uuid4()), "delta", "sarah.sells", "Sarah", "hi", sent)]
            )
        assert rollup_fold.bring_up_to_date(teammate.db) == 1

    event.listen(ledger.cloud.engine, "after_cursor_execute", between)
    try:
        report, _, _ = ledger.team.report(TeamFilter("7d"))
    finally:
        event.remove(ledger.cloud.engine, "after_cursor_execute", between)
        teammate.dispose()
    assert landed, "no Team statement read rollup_status"
    assert sum(n for _, n in report.messages_per_day) == report.totals["messages"] == 5
    assert sum(r["messages"] for r in report.by_operator) == 5
    after, _, _ = ledger.team.report(TeamFilter("7d"))
    assert after.totals["messages"] == 6 and dict(after.messages_per_day)["2026-11-28"] == 1


def test_all_time_runs_from_the_first_to_the_last_day_with_a_dm(ledger: Ledger) -> None:
    report, _, _ = ledger.team.report(TeamFilter("all"))
    days = report.messages_per_day
    assert (days[0], days[-1], len(days)) == (("2026-11-01", 1), ("2026-11-29", 1), 29)
    assert sum(n for _, n in days) == report.totals["messages"] == 6
    assert dict(report.funnel)["hot"] == 1


def test_an_actor_filter_accepts_any_handle_spelling(ledger: Ledger) -> None:
    report, _, _ = ledger.team.report(TeamFilter("7d", actor="@Sarah.Sells"))
    assert [r["actor"] for r in report.by_actor] == ["sarah.sells"]
    assert (report.totals["messages"], report.totals["double_contacts"]) == (3, 1)


def test_an_operator_filter_counts_only_that_operators_dms(ledger: Ledger) -> None:
    report, _, _ = ledger.team.report(TeamFilter("30d", operator="  Priya "))
    assert report.totals["messages"] == 1
    assert [r["operator"] for r in report.by_operator] == ["Priya"]
    assert len(report.messages_per_day) == 30


def test_a_report_survives_a_json_round_trip(ledger: Ledger) -> None:
    report, _, _ = ledger.team.report(TeamFilter("7d"))
    payload = json.dumps(report.to_dict())
    assert TeamReport.from_dict(json.loads(payload)) == report
    assert json.loads(payload)["double_contacts"][0]["first_contacted"] == (
        "2026-11-23T09:15:00.000000Z"
    )


def test_a_payload_that_is_not_a_report_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not a team report"):
        TeamReport.from_dict({"generated_at": "2026-11-29T20:00:00Z"})


# -- offline ---------------------------------------------------------------------------


def test_with_the_cloud_unreachable_the_cached_report_is_shown_with_its_age(
    ledger: Ledger, offline: Ledger
) -> None:
    online, _, _ = ledger.team.report(TeamFilter("7d"))
    cached, fetched_at, from_cache = offline.team.report(TeamFilter("7d"))
    assert from_cache is True
    assert fetched_at == NOW  # two hours before the offline ledger's "now"
    assert cached.to_dict() == online.to_dict()


def test_each_filter_has_its_own_cached_report(ledger: Ledger, offline: Ledger) -> None:
    ledger.team.report(TeamFilter("7d", operator="Sarah"))
    cached, _, from_cache = offline.team.report(TeamFilter("7d", operator=" Sarah"))
    assert from_cache is True
    assert [r["operator"] for r in cached.by_operator] == ["Sarah"]
    with pytest.raises(CloudUnavailable):
        offline.team.report(TeamFilter("7d"))


def test_an_unreadable_cached_report_counts_as_none(ledger: Ledger, offline: Ledger) -> None:
    key = TeamFilter("7d").cache_key()
    with offline.local.transaction() as conn:
        offline.local.put_team_cache(conn, key, '{"from": "an older version"}', NOW)
    with pytest.raises(CloudUnavailable):
        offline.team.report(TeamFilter("7d"))


def test_a_bad_filter_is_refused_before_the_cloud_is_asked(offline: Ledger) -> None:
    with pytest.raises(InvalidInput, match="period '90d' is not one of: today, 7d, 30d"):
        offline.team.report(TeamFilter("90d"))


# -- filters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        ("today", datetime(2026, 11, 29), datetime(2026, 11, 30)),
        ("7d", datetime(2026, 11, 23), datetime(2026, 11, 30)),
        ("30d", datetime(2026, 10, 31), datetime(2026, 11, 30)),
        ("all", None, None),
    ],
)
def test_rolling_periods_are_whole_utc_days_ending_with_today(
    period: str, start: datetime | None, end: datetime | None
) -> None:
    assert TeamFilter(period).bounds(NOW) == (start, end)


def test_a_custom_period_keeps_its_bounds_and_ends_today_by_default() -> None:
    week = TeamFilter("custom", start=datetime(2026, 11, 1), end=datetime(2026, 11, 8))
    assert week.bounds(NOW) == (datetime(2026, 11, 1), datetime(2026, 11, 8))
    assert week.label() == "2026-11-01 to 2026-11-07"
    since = TeamFilter("custom", start=datetime(2026, 11, 1))
    assert since.bounds(NOW) == (datetime(2026, 11, 1), datetime(2026, 11, 30))


def test_aware_custom_bounds_are_converted_to_utc() -> None:
    paris = timezone(timedelta(hours=1))
    flt = TeamFilter(
        "custom",
        start=datetime(2026, 11, 1, 0, 30, tzinfo=paris),
        end=datetime(2026, 11, 2, tzinfo=UTC),
    )
    assert flt.bounds(NOW) == (datetime(2026, 10, 31, 23, 30), datetime(2026, 11, 2))
    assert flt.label() == "2026-10-31 23:30 to 2026-11-02 00:00 UTC"


@pytest.mark.parametrize(
    ("flt", "message"),
    [
        (TeamFilter("90d"), "period '90d' is not one of: today, 7d, 30d, all, custom"),
        (TeamFilter("custom"), "a custom period needs a start"),
        (
            TeamFilter("custom", start=datetime(2026, 11, 8), end=datetime(2026, 11, 1)),
            "starts on 2026-11-08, after its last day 2026-10-31",
        ),
        (
            TeamFilter("custom", start=datetime(2000, 1, 1), end=datetime(2026, 1, 1)),
            "the limit is 3660 days",
        ),
        (TeamFilter("7d", start=datetime(2026, 11, 1)), "only to the custom period"),
        (TeamFilter(operator="Sa\x00rah"), "operator name 'Sa\\\\x00rah' contains control"),
        (TeamFilter(actor="not a handle!"), "not a handle!"),
    ],
)
def test_a_bad_filter_is_refused_naming_the_value_and_the_rule(
    flt: TeamFilter, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        flt.bounds(NOW)


def test_a_blank_operator_or_actor_means_everyone() -> None:
    flt = TeamFilter("7d", operator="  ", actor="").normalised()
    assert (flt.operator, flt.actor) == (None, None)
    assert flt.cache_key() == TeamFilter("7d").cache_key()
