"""Statuses, the seed tool's legacy names, what a DM does to a lead, and who owns it."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dmledger.domain.rules import Contact, apply_dm, check_dm_allowed
from dmledger.domain.statuses import (
    ACTOR_STATUSES,
    STATUSES,
    Status,
    parse_actor_status,
    parse_status,
    read_stored_status,
    status_after_dm,
)
from dmledger.errors import ExcludedProspect, InvalidInput, Refused

# Hypothesis's per-example deadline is a timing assertion: on a busy machine it fails
# for reasons that have nothing to do with the rule under test.
no_deadline = settings(deadline=None)

T0 = datetime(2026, 3, 1, 9, 0, 0)


def test_there_are_exactly_the_nine_statuses_in_pipeline_order() -> None:
    assert STATUSES == (
        "new",
        "contacted",
        "cold",
        "warm",
        "hot",
        "booked",
        "client",
        "rejected",
        "excluded",
    )


@pytest.mark.parametrize("name", STATUSES)
def test_every_status_parses_as_itself_in_any_case(name: str) -> None:
    assert parse_status(name) is Status(name)
    assert parse_status(f"  {name.upper()} ") is Status(name)


@pytest.mark.parametrize(
    ("legacy", "status"),
    [
        ("Cold_NoReply", Status.COLD),
        ("Warm", Status.WARM),
        ("Hot", Status.HOT),
        ("Booked", Status.BOOKED),
        ("Client", Status.CLIENT),
        ("Rejected", Status.REJECTED),
        ("Excluded", Status.EXCLUDED),
        ("New", Status.NEW),
    ],
)
def test_the_seed_tools_legacy_values_read_as_the_matching_status(
    legacy: str, status: Status
) -> None:
    assert parse_status(legacy) is status
    assert read_stored_status(legacy) is status


@pytest.mark.parametrize("raw", ["lukewarm", "", "booked!", "contact"])
def test_an_unknown_status_is_refused_naming_the_value_and_the_statuses(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_status(raw)
    message = str(caught.value)
    assert repr(raw) in message
    assert ", ".join(STATUSES) in message


def test_an_unknown_stored_status_reads_as_new_so_a_sync_never_stops() -> None:
    assert read_stored_status("SomethingElse") is Status.NEW
    assert read_stored_status(None) is Status.NEW


def test_actor_statuses_are_the_four_health_states() -> None:
    assert ACTOR_STATUSES == ("active", "restricted", "banned", "retired")
    assert parse_actor_status(" Banned ") == "banned"
    with pytest.raises(InvalidInput, match="'sleeping' is not one of: active"):
        parse_actor_status("sleeping")


# -- what a DM does to the status ----------------------------------------------------


def test_a_dm_to_a_new_or_unknown_lead_makes_it_contacted() -> None:
    assert status_after_dm(Status.NEW) is Status.CONTACTED
    assert status_after_dm(None) is Status.CONTACTED


@pytest.mark.parametrize("status", [s for s in Status if s is not Status.NEW])
def test_a_dm_never_moves_a_status_backwards(status: Status) -> None:
    assert status_after_dm(status) is status


def test_a_booked_lead_stays_booked_after_a_dm() -> None:
    before = Contact(Status.BOOKED, "sarah.sells", T0)
    after = apply_dm(before, "marcus.closes", T0 + timedelta(days=2))
    assert after == before


def test_logging_first_dm_sets_contacted_first_contacted_and_owner_actor() -> None:
    assert apply_dm(None, "sarah.sells", T0) == Contact(Status.CONTACTED, "sarah.sells", T0)
    new_lead = Contact(Status.NEW, None, None)
    assert apply_dm(new_lead, "sarah.sells", T0) == Contact(Status.CONTACTED, "sarah.sells", T0)


def test_a_first_dm_keeps_an_owner_that_was_already_recorded() -> None:
    assigned = Contact(Status.WARM, "priya.studio", None)
    after = apply_dm(assigned, "sarah.sells", T0)
    assert after == Contact(Status.WARM, "priya.studio", T0)


def test_a_dm_to_an_excluded_lead_is_refused_unless_forced() -> None:
    with pytest.raises(ExcludedProspect) as caught:
        check_dm_allowed("foo.bar", Status.EXCLUDED, force=False)
    assert isinstance(caught.value, Refused)
    assert "'foo.bar'" in str(caught.value)
    assert "excluded" in str(caught.value)
    assert "--force" in str(caught.value)
    check_dm_allowed("foo.bar", Status.EXCLUDED, force=True)
    for status in (None, *[s for s in Status if s is not Status.EXCLUDED]):
        check_dm_allowed("foo.bar", status, force=False)


def test_a_forced_dm_leaves_an_excluded_lead_excluded() -> None:
    after = apply_dm(Contact(Status.EXCLUDED, None, None), "sarah.sells", T0)
    assert after.status is Status.EXCLUDED


# -- ownership -----------------------------------------------------------------------


def test_a_later_dm_by_someone_else_does_not_take_the_lead() -> None:
    owned = Contact(Status.CONTACTED, "sarah.sells", T0)
    assert apply_dm(owned, "marcus.closes", T0 + timedelta(minutes=1)) == owned


def test_an_earlier_dm_made_offline_takes_ownership_and_first_contact() -> None:
    owned = Contact(Status.HOT, "sarah.sells", T0)
    earlier = T0 - timedelta(hours=3)
    assert apply_dm(owned, "marcus.closes", earlier) == Contact(
        Status.HOT, "marcus.closes", earlier
    )


def test_a_tie_on_first_contact_goes_to_the_alphabetically_first_actor() -> None:
    owned = Contact(Status.CONTACTED, "sarah.sells", T0)
    assert apply_dm(owned, "marcus.closes", T0).owner_actor == "marcus.closes"
    owned_by_first = Contact(Status.CONTACTED, "marcus.closes", T0)
    assert apply_dm(owned_by_first, "sarah.sells", T0).owner_actor == "marcus.closes"


actors = st.sampled_from(["a.one", "b.two", "c.three", "d.four"])
times = st.integers(min_value=0, max_value=50).map(lambda m: T0 + timedelta(minutes=m))


@no_deadline
@given(st.lists(st.tuples(actors, times), min_size=1, max_size=6))
def test_every_machine_agrees_on_the_owner_whatever_order_dms_arrive_in(
    dms: list[tuple[str, datetime]],
) -> None:
    # Earliest first contact owns; ties go to the alphabetically first actor.
    winner_time, winner = min((sent, actor) for actor, sent in dms)
    outcomes = set()
    for order in itertools.islice(itertools.permutations(dms), 24):
        state: Contact | None = None
        for actor, sent in order:
            state = apply_dm(state, actor, sent)
        outcomes.add(state)
    assert outcomes == {Contact(Status.CONTACTED, winner, winner_time)}
