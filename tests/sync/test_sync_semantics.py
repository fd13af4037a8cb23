"""What a sync means: clocks, deletions, offline contention, and the order of queued work."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from syncworld import (
    T0,
    FailingGateway,
    Team,
    assert_cache_equals_cloud,
    cloud_log_ids,
    cloud_logs,
    cursor_of,
    engine_for,
    local_log_ids,
)

from dmledger.app.views import StatusCard
from dmledger.cloud.analytics.raw import LogFilter, double_contacts
from dmledger.domain.timeutil import utcnow
from dmledger.errors import CloudUnavailable
from dmledger.sync.gateway import StoreGateway

SKEW = timedelta(hours=3)


def test_client_clocks_three_hours_apart_do_not_change_what_syncs_or_who_owns(team: Team) -> None:
    ahead = team.agent("Ann", clock=lambda: utcnow() + SKEW)
    behind = team.agent("Bob", clock=lambda: utcnow() - SKEW)
    ahead.sync()
    behind.sync()
    ahead.add_prospect("shared.lead", notes="Ann's clock says three hours from now")
    ahead.log_dm("contested.lead", "hi from Ann")
    ahead.sync()
    # Bob's clock is six hours behind Ann's: a cursor taken from client time would
    # skip her rows. He must see them, and his later write must win at the cloud.
    behind.sync()
    assert behind.card("shared.lead").known
    behind.update_prospect("shared.lead", notes="Bob wrote last")
    behind.log_dm("contested.lead", "hi from Bob")
    behind.sync()
    ahead.sync()

    for ledger in (ahead, behind):
        assert_cache_equals_cloud(ledger, team.cloud)
        assert ledger.card("shared.lead").notes == "Bob wrote last"
        # Event times are corrected to the cloud's clock: Ann, who wrote first, owns it
        # (by the raw clocks Bob's DM read six hours earlier and took the lead).
        assert ledger.card("contested.lead").owner_actor == "ann.dm"
    assert cursor_of(ahead) == cursor_of(behind)
    # Neither DM is stored hours away from when it was sent.
    for log in cloud_logs(team.cloud, "contested.lead"):
        assert abs(log["created_at"] - utcnow()) < timedelta(minutes=5), log
    # LAST_UPDATED comes from the database clock, not from either client.
    for lead in (ahead.card("shared.lead"), ahead.card("contested.lead")):
        assert lead.last_updated is not None
        stamped = datetime.fromisoformat(lead.last_updated.rstrip("Z"))
        assert abs(stamped - utcnow()) < timedelta(hours=1)


def test_a_deletion_reaches_an_agent_that_was_away_with_no_notes_or_dms_left(
    team: Team,
) -> None:
    ann, bob = team.agent("Ann"), team.agent("Bob")
    bob.add_prospect("leaving.lead", notes="Bob's notes")
    bob.sync()
    ann.sync()
    ann.log_dm("leaving.lead", "hello")
    ann.update_prospect("leaving.lead", notes="Ann's notes")
    ann.sync()
    # Ann is away (no sync) while Bob deletes the lead.
    bob.sync()
    bob.delete_prospect("leaving.lead")
    bob.sync()
    assert cloud_logs(team.cloud, "leaving.lead") == []

    report = ann.sync()

    assert report.deleted == 1
    card = ann.card("leaving.lead")
    assert card.known is False and card.notes is None and card.recent_logs == []
    assert local_log_ids(ann) == set()
    assert_cache_equals_cloud(ann, team.cloud)


def test_two_offline_agents_editing_and_contacting_one_lead_converge(team: Team) -> None:
    ann, bob, cara = team.agent("Ann"), team.agent("Bob"), team.agent("Cara")
    cara.add_prospect("keen.lead", notes="imported")
    cara.sync()
    ann.sync()
    bob.sync()
    # Both offline: Ann messages later, Bob earlier; both change status and notes.
    ann.log_dm("keen.lead", "hi, Ann here", at=T0 + timedelta(hours=2))
    ann.update_prospect("keen.lead", status="warm", notes="Ann: replied")
    bob.log_dm("keen.lead", "hi, Bob here", at=T0 + timedelta(hours=1))
    bob.update_prospect("keen.lead", status="hot", notes="Bob: wants a call")

    ann.sync()
    bob.sync()  # Bob's edits reach the cloud last: they win for both fields
    ann.sync()
    cara.sync()

    cards = [ledger.card("keen.lead") for ledger in (ann, bob, cara)]
    assert _shared(cards[0]) == _shared(cards[1]) == _shared(cards[2])
    assert cards[0].owner_actor == "bob.dm", "the earliest first contact owns the lead"
    assert [card.yours for card in cards] == [False, True, False]
    assert cards[0].first_contacted == "2026-03-02T10:00:00.000000Z"
    assert (cards[0].status, cards[0].notes) == ("hot", "Bob: wants a call")
    for ledger in (ann, bob, cara):
        assert_cache_equals_cloud(ledger, team.cloud)
    logs = cloud_logs(team.cloud, "keen.lead")
    assert sorted(log["actor_username"] for log in logs) == ["ann.dm", "bob.dm"]
    with team.cloud.reading() as conn:
        total, rows = double_contacts(conn, LogFilter())
    assert total == 1 and rows[0]["actors"] == ["ann.dm", "bob.dm"]


def _shared(card: StatusCard) -> dict[str, object]:
    """The card without what depends on who reads it: this machine's own view of the
    DMs (each sees its own log), and whether the lead is the reader's (the words say
    "by you" to its owner)."""
    personal = {"recent_logs": [], "yours": None, "verdict_title": None, "verdict_text": None}
    return card.to_dict() | personal


def test_a_lead_added_with_notes_then_messaged_offline_keeps_its_notes(team: Team) -> None:
    ann, bob = team.agent("Ann"), team.agent("Bob")
    ann.add_prospect("met.at.a.fair", status="warm", notes="met at the fair")
    ann.log_dm("met.at.a.fair", "great to meet you")

    ann.sync()
    bob.sync()

    for ledger in (ann, bob):
        card = ledger.card("met.at.a.fair")
        assert (card.status, card.notes, card.owner_actor) == ("warm", "met at the fair", "ann.dm")
        assert_cache_equals_cloud(ledger, team.cloud)


def test_a_dm_logged_after_deleting_its_lead_offline_is_kept(team: Team) -> None:
    ann = team.agent("Ann")
    ann.add_prospect("second.chance", notes="old notes")
    ann.sync()
    ann.delete_prospect("second.chance")
    item, _card, _new = ann.log_dm("second.chance", "trying again")

    ann.sync()

    assert set(cloud_log_ids(team.cloud)) == {item.client_log_id}
    card = ann.card("second.chance")
    assert card.known and card.notes is None and card.status == "contacted"
    assert [log.message for log in card.recent_logs] == ["trying again"]
    assert_cache_equals_cloud(ann, team.cloud)


@pytest.mark.parametrize("call", [1, 2, 3])
def test_a_push_whose_reply_is_lost_is_not_repeated_in_the_cloud(team: Team, call: int) -> None:
    ann = team.agent("Ann")
    ann.sync()
    ann.add_prospect("lost.reply", notes="first")
    ann.update_prospect("lost.reply", status="warm")
    ids = [ann.log_dm(f"lead.{i}", f"dm {i}")[0].client_log_id for i in range(5)]
    # Calls: 1 edits, 2 and 3 the DMs in two batches; each commits, then "loses" its reply.
    gateway = FailingGateway(StoreGateway(ann.cloud), fail_at={call: "after"})
    engine = engine_for(ann, gateway, log_batch=3)
    with pytest.raises(CloudUnavailable, match="reply lost"):
        engine.sync_once()

    engine.sync_once()

    assert cloud_log_ids(team.cloud) == dict.fromkeys(ids, 1)
    assert ann.status(probe_cloud=False).pending_logs == 0
    assert ann.card("lost.reply").status == "warm"
    assert_cache_equals_cloud(ann, team.cloud)
