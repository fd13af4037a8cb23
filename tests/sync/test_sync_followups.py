"""Issue 12 on both backends: replies, follow-up dates, rules and templates across homes."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from syncworld import FailingGateway, Team, assert_cache_equals_cloud, engine_for

from dmledger.app.ledger import Ledger
from dmledger.cloud.tables import prospect_replies
from dmledger.domain.records import Prospect
from dmledger.errors import CloudUnavailable
from dmledger.sync.gateway import StoreGateway

T0 = datetime(2026, 3, 1, 9, 0, 0)


def cached(agent: Ledger, handle: str) -> Prospect:
    with agent.local.reading() as conn:
        found = agent.local.get_prospect(conn, handle)
    assert found is not None, handle
    return found


def cached_or_none(agent: Ledger, handle: str) -> Prospect | None:
    with agent.local.reading() as conn:
        return agent.local.get_prospect(conn, handle)


def reply_count(team: Team, handle: str | None = None) -> int:
    with team.cloud.reading() as conn:
        statement = sa.select(sa.func.count()).select_from(prospect_replies)
        if handle is not None:
            statement = statement.where(prospect_replies.c.target_username == handle)
        return int(conn.execute(statement).scalar_one())


def test_replies_made_offline_on_two_homes_converge_each_stored_once(team: Team) -> None:
    ann, bob = team.agent("Ann"), team.agent("Bob")
    ann.log_dm("shared.lead", "hi", at=T0)
    ann.sync()
    bob.sync()
    # Both offline: each records a reply to the same lead, Bob also to his own lead.
    ann.followups.reply("shared.lead", at=T0 + timedelta(hours=2))
    bob.followups.reply("shared.lead", at=T0 + timedelta(hours=3))
    bob.followups.reply("bob.only", at=T0 + timedelta(hours=1))
    for agent in (ann, bob, ann, bob):
        agent.sync()
    assert reply_count(team, "shared.lead") == 2 and reply_count(team) == 3
    for agent in (ann, bob):
        assert_cache_equals_cloud(agent, team.cloud)
        card = agent.card("shared.lead")
        assert card.status == "warm"
        assert cached(agent, "shared.lead").last_reply_at == T0 + timedelta(hours=3)
    assert ann.followups.today().items == []


def test_a_reply_sent_twice_with_its_id_is_one_reply_before_and_after_a_sync(
    team: Team,
) -> None:
    ann = team.agent("Ann")
    ann.log_dm("twice.lead", "hi", at=T0)
    ann.sync()
    first = ann.followups.reply("twice.lead", at=T0 + timedelta(hours=1), reply_id="card-1")
    again = ann.followups.reply("twice.lead", at=T0 + timedelta(hours=2), reply_id="card-1")
    assert first.was_contacted and again.was_contacted
    assert cached(ann, "twice.lead").last_reply_at == T0 + timedelta(hours=1)
    with ann.local.reading() as conn:
        assert [e.op for e in ann.local.pending_edits(conn, 100)] == ["reply"]
    ann.sync()
    # Sent once more after it reached the cloud (a form resubmitted from the history):
    # queued again here, kept once there, and the cloud's time wins at the next pull.
    ann.followups.reply("twice.lead", at=T0 + timedelta(hours=3), reply_id="card-1")
    ann.sync()
    ann.sync()
    assert reply_count(team, "twice.lead") == 1
    assert cached(ann, "twice.lead").last_reply_at == T0 + timedelta(hours=1)
    assert_cache_equals_cloud(ann, team.cloud)
    # Another reply (its own id) is another reply.
    ann.followups.reply("twice.lead", at=T0 + timedelta(days=2), reply_id="card-2")
    ann.sync()
    assert reply_count(team, "twice.lead") == 2


def test_a_reply_and_a_dm_logged_offline_on_different_homes_end_the_same(team: Team) -> None:
    ann, bob = team.agent("Ann"), team.agent("Bob")
    ann.log_dm("lead.x", "hi", at=T0)
    ann.sync()
    bob.sync()
    bob.followups.reply("lead.x", at=T0 + timedelta(days=1))
    ann.log_dm("lead.x", "following up", at=T0 + timedelta(days=3))  # did not know
    bob.sync()
    ann.sync()
    bob.sync()
    for agent in (ann, bob):
        assert_cache_equals_cloud(agent, team.cloud)
        p = cached(agent, "lead.x")
        assert (p.status, p.dm_count, p.last_reply_at) == ("warm", 2, T0 + timedelta(days=1))
        assert (p.last_dm_at, p.last_message) == (T0 + timedelta(days=3), "following up")
        assert agent.followups.today().items == []


def test_rules_and_templates_reach_every_home_and_follow_up_dates_sync(team: Team) -> None:
    ann, bob = team.agent("Ann"), team.agent("Bob")
    ann.log_dm("lead.y", "hi", at=T0)
    ann.sync()
    bob.sync()
    assert bob.followups.rule().after_days == 3
    ann.followups.set_rule("5d", 1)
    ann.templates.add("nudge", "hey {handle}, it's {actor}")
    bob.sync()
    assert (bob.followups.rule().after_days, bob.followups.rule().max_followups) == (5, 1)
    assert [t.name for t in bob.templates.list()] == ["nudge"]
    due = bob.followups.today().items
    assert [(i["handle"], i["due_at"]) for i in due] == [("lead.y", "2026-03-06T09:00:00.000000Z")]
    # Bob snoozes it; Ann sees the date; Ann's follow-up DM clears it, and with --max 1
    # the lead is not due again.
    bob.followups.set_follow_up("lead.y", "2026-03-10")
    bob.sync()
    ann.sync()
    assert cached(ann, "lead.y").follow_up_at == datetime(2026, 3, 10)
    ann.templates.log("lead.y", "nudge", at=T0 + timedelta(days=6))
    ann.sync()
    bob.sync()
    for agent in (ann, bob):
        assert_cache_equals_cloud(agent, team.cloud)
        assert cached(agent, "lead.y").follow_up_at is None
        assert agent.followups.today().items == []
    with team.cloud.reading() as conn:
        names = conn.exec_driver_sql(
            "SELECT template_name FROM outreach_logs WHERE target_username = 'lead.y' "
            "ORDER BY created_at"
        ).all()
    assert [n[0] for n in names] == [None, "nudge"]


def test_a_no_op_sync_does_not_read_the_team_config_again(team: Team) -> None:
    ann = team.agent("Ann")
    ann.followups.set_rule("2d")
    gateway = FailingGateway(StoreGateway(ann.cloud))
    engine = engine_for(ann, gateway)
    engine.sync_once()
    engine.sync_once()
    assert gateway.calls == ["header", "pull_page", "header", "pull_page"]


def test_deleting_a_lead_deletes_its_replies_everywhere(team: Team) -> None:
    ann, bob = team.agent("Ann"), team.agent("Bob")
    ann.log_dm("gone.soon", "hi", at=T0)
    ann.followups.reply("gone.soon", at=T0 + timedelta(hours=1))
    ann.followups.set_follow_up("gone.soon", "2026-04-01")
    ann.sync()
    bob.sync()
    assert reply_count(team, "gone.soon") == 1
    bob.delete_prospect("gone.soon")
    bob.sync()
    ann.sync()
    assert reply_count(team, "gone.soon") == 0
    for agent in (ann, bob):
        assert cached_or_none(agent, "gone.soon") is None
        assert_cache_equals_cloud(agent, team.cloud)


def test_replies_pushed_through_random_connection_losses_are_stored_exactly_once(
    team: Team,
) -> None:
    ann = team.agent("Ann")
    handles = [f"lead.{i:02d}" for i in range(30)]
    for h in handles:
        ann.log_dm(h, "hi", at=T0)
    ann.sync()
    for h in handles:
        ann.followups.reply(h, at=T0 + timedelta(hours=1))
    rng = random.Random(12)
    for _ in range(40):
        fail = {rng.randint(1, 4): rng.choice(["before", "after"])}
        engine = engine_for(ann, FailingGateway(StoreGateway(ann.cloud), fail), edit_batch=4)
        try:
            engine.sync_once()
        except CloudUnavailable:
            continue
    ann.sync()
    assert reply_count(team) == 30
    assert {h: reply_count(team, h) for h in handles} == dict.fromkeys(handles, 1)
    assert_cache_equals_cloud(ann, team.cloud)


def test_team_follow_up_figures_are_computed_in_the_cloud(team: Team) -> None:
    from dmledger.app.dashboard import TeamFilter
    from dmledger.cloud.analytics.raw import LogFilter
    from dmledger.cloud.analytics.raw_followups import followup_figures
    from dmledger.domain.followups import FollowUpRule, FollowUpState, lost

    ann, bob = team.agent("Ann"), team.agent("Bob")
    ann.templates.add("intro", "hi {handle}")
    ann.templates.log("a.lead", "intro", at=T0)
    ann.templates.log("b.lead", "intro", at=T0)
    ann.log_dm("c.lead", "plain", at=T0)
    bob.log_dm("d.lead", "hey", at=T0)
    for day in (1, 2, 3):  # d.lead: three follow-ups, never answered
        bob.log_dm("d.lead", f"again {day}", at=T0 + timedelta(days=day))
    ann.followups.reply("a.lead", at=T0 + timedelta(hours=4))
    ann.followups.reply("c.lead", at=T0 + timedelta(hours=10))
    ann.sync()
    bob.sync()
    now = T0 + timedelta(days=30)
    rule = FollowUpRule(3, 3)
    with team.cloud.reading() as conn:
        figures = followup_figures(conn, LogFilter(), rule, now)
    by_template = {r["name"]: r for r in figures["reply_rate"]["by_template"]}
    assert by_template == {"intro": {"name": "intro", "leads": 2, "replied": 1, "rate": 0.5}}
    by_actor = {r["name"]: (r["leads"], r["replied"]) for r in figures["reply_rate"]["by_actor"]}
    assert by_actor == {"ann.dm": (3, 2), "bob.dm": (1, 0)}
    assert figures["median_hours_to_first_reply"] == 7.0
    assert figures["followups_per_day"] == [
        ["2026-03-02", 1],
        ["2026-03-03", 1],
        ["2026-03-04", 1],
    ]
    assert figures["lost_no_reply"] == 1
    # The SQL mirrors the domain rule: every cached lead, judged by domain.followups.lost.
    with bob.local.reading() as conn:
        judged = [
            p.handle
            for p in (
                bob.local.get_prospect(conn, h) for h in ("a.lead", "b.lead", "c.lead", "d.lead")
            )
            if p is not None
            and lost(
                FollowUpState(p.status, p.last_dm_at, p.dm_count, p.last_reply_at, p.follow_up_at),
                rule,
                now,
            )
        ]
    assert judged == ["d.lead"]
    report, _, _ = ann.team.report(TeamFilter(period="all"))
    assert report.to_dict()["followups"]["lost_no_reply"] == 1  # the cloud's rule: 3d, 3


def team_config_of(agent: Ledger) -> tuple[dict[str, str], tuple[int, int]]:
    """The templates and the rule as this home shows them."""
    rule = agent.followups.rule()
    return {t.name: t.text for t in agent.templates.list()}, (rule.after_days, rule.max_followups)


def cloud_team_config(team: Team) -> tuple[dict[str, str], tuple[int, int]]:
    from dmledger.cloud.exchange.team_settings import read_team_config
    from dmledger.domain.followups import rule_of

    with team.cloud.reading() as conn:
        config = read_team_config(conn)
    rule = rule_of(config.rules)
    return config.templates, (rule.after_days, rule.max_followups)


def test_template_and_rule_edits_made_offline_on_two_homes_converge(pg_team: Team) -> None:
    from syncworld import proxied

    from support.proxy import FaultProxy

    with FaultProxy(("127.0.0.1", 5432)) as proxy:
        url = proxied(pg_team.cloud_url, proxy.port)
        ann, bob = pg_team.agent("Ann", cloud_url=url), pg_team.agent("Bob", cloud_url=url)
        ann.templates.add("old", "hello {handle}")
        ann.log_dm("lead.z", "hi", at=T0)
        ann.sync()
        bob.sync()
        assert ann.followups.team_edits_waiting() == 0
        proxy.set_offline(True)
        # Offline, each home edits: both change `intro`, Ann edits `old` and the rule,
        # Bob deletes `old`; each sees its own changes at once.
        ann.templates.add("intro", "hi {handle}, Ann here")
        ann.templates.add("old", "hello again {handle}")
        ann.followups.set_rule("5d", 1)
        ann.templates.log("lead.q", "intro", at=T0)  # a DM from the new template
        bob.templates.add("intro", "hey {handle}, Bob here")
        bob.templates.delete("old")
        assert ann.followups.team_edits_waiting() == 4 and bob.followups.team_edits_waiting() == 2
        # `status` counts them among the edits waiting.
        assert ann.status(probe_cloud=False).pending_changes == 4
        assert team_config_of(ann) == (
            {"intro": "hi {handle}, Ann here", "old": "hello again {handle}"},
            (5, 1),
        )
        assert team_config_of(bob) == ({"intro": "hey {handle}, Bob here"}, (3, 3))
        # The new rule is Ann's at once: her leads (DMs at T0) are due 5 days later.
        due = {i["handle"]: i["due_at"] for i in ann.followups.today().items}
        assert due == dict.fromkeys(["lead.q", "lead.z"], "2026-03-06T09:00:00.000000Z")
        with pytest.raises(CloudUnavailable):
            ann.sync()
        assert ann.followups.team_edits_waiting() == 4  # the queue is intact
        proxy.set_offline(False)
        for agent in (ann, bob, ann):
            agent.sync()
        # The last change to reach the cloud wins: Bob's intro, Bob's delete of `old`.
        expected = ({"intro": "hey {handle}, Bob here"}, (5, 1))
        assert cloud_team_config(pg_team) == expected
        for agent in (ann, bob):
            assert team_config_of(agent) == expected
            assert agent.followups.team_edits_waiting() == 0
            assert_cache_equals_cloud(agent, pg_team.cloud)
        with pg_team.cloud.reading() as conn:
            names = conn.exec_driver_sql(
                "SELECT template_name FROM outreach_logs WHERE target_username = 'lead.q'"
            ).all()
        assert [n[0] for n in names] == ["intro"]


def test_team_edits_queued_during_a_sync_reach_the_cloud_once_through_lost_replies(
    team: Team,
) -> None:
    from dmledger.sync.lock import sync_lock

    ann, bob = team.agent("Ann"), team.agent("Bob")
    # A sync holds the lock: the change cannot be shared now, so it waits in the queue.
    with sync_lock(ann.home):
        ann.templates.add("intro", "hi {handle}")
        ann.followups.set_rule("4d", 2)
    assert ann.followups.team_edits_waiting() == 3  # one template, two rule keys
    assert cloud_team_config(team) == ({}, (3, 3))
    # The reply of the committed push is lost: the next sync pushes the same changes
    # again, which changes nothing.
    gateway = FailingGateway(StoreGateway(ann.cloud), {2: "after"})
    with pytest.raises(CloudUnavailable):
        engine_for(ann, gateway).sync_once()
    assert gateway.calls == ["header", "push_team_edits"]
    assert ann.followups.team_edits_waiting() == 3
    ann.sync()
    bob.sync()
    expected = ({"intro": "hi {handle}"}, (4, 2))
    assert cloud_team_config(team) == expected
    for agent in (ann, bob):
        assert team_config_of(agent) == expected
        assert agent.followups.team_edits_waiting() == 0
    # Bob's delete, queued while a sync ran, goes with his next sync.
    with sync_lock(bob.home):
        bob.templates.delete("intro")
    engine_for(bob, StoreGateway(bob.cloud)).sync_once()
    assert team_config_of(bob)[0] == {} and cloud_team_config(team)[0] == {}
    ann.sync()
    assert team_config_of(ann)[0] == {}
