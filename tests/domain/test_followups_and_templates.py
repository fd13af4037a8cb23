"""The follow-up rule (a pure function, property-tested) and message templates."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dmledger.domain.followups import (
    CLOSING,
    FollowUpRule,
    FollowUpState,
    due_at,
    lost,
    parse_days,
    parse_follow_up,
    rule_of,
    rule_values,
)
from dmledger.domain.statuses import STATUSES, Status, status_after_reply
from dmledger.domain.templates import check_template, render_template
from dmledger.errors import InvalidInput

no_deadline = settings(deadline=None)
T0 = datetime(2026, 3, 1, 9, 0, 0)

times = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 1, 1))
rules = st.builds(FollowUpRule, st.integers(1, 30), st.integers(0, 10))
states = st.builds(
    FollowUpState,
    st.sampled_from(STATUSES),
    st.none() | times,
    st.integers(0, 15),
    st.none() | times,
    st.none() | times,
)


@no_deadline
@given(states, rules, times)
def test_a_lead_with_a_reply_is_never_due(
    state: FollowUpState, rule: FollowUpRule, at: datetime
) -> None:
    replied = FollowUpState(state.status, state.last_dm_at, state.dm_count, at, state.follow_up_at)
    assert due_at(replied, rule) is None
    assert not lost(replied, rule, at)


@no_deadline
@given(states, rules, st.sampled_from(sorted(CLOSING)))
def test_a_closing_status_is_never_due(
    state: FollowUpState, rule: FollowUpRule, status: Status
) -> None:
    closed = FollowUpState(
        status.value, state.last_dm_at, state.dm_count, state.last_reply_at, state.follow_up_at
    )
    assert due_at(closed, rule) is None


@no_deadline
@given(times, st.integers(1, 15), rules)
def test_the_due_time_moves_with_each_follow_up_and_the_maximum_holds(
    first: datetime, dms: int, rule: FollowUpRule
) -> None:
    last = first + timedelta(days=dms)
    state = FollowUpState("contacted", last, dms)
    due = due_at(state, rule)
    if dms - 1 < rule.max_followups:
        assert due == last + timedelta(days=rule.after_days)
        # One more DM (the follow-up) moves it on, or ends it at the maximum.
        later = last + timedelta(hours=5)
        after = due_at(FollowUpState("contacted", later, dms + 1), rule)
        assert (
            after is None
            if dms >= rule.max_followups
            else after == later + timedelta(days=rule.after_days)
        )
    else:
        assert due is None
        assert lost(state, rule, last + timedelta(days=rule.after_days))


@no_deadline
@given(states, rules, times)
def test_a_date_set_by_hand_overrides_the_rule_unless_replied_or_closed(
    state: FollowUpState, rule: FollowUpRule, when: datetime
) -> None:
    manual = FollowUpState(state.status, state.last_dm_at, state.dm_count, None, when)
    closed = Status(state.status) in CLOSING
    assert due_at(manual, rule) == (None if closed else when)


def test_a_lead_never_messaged_is_not_due_by_the_rule() -> None:
    assert due_at(FollowUpState("new"), FollowUpRule()) is None


def test_a_reply_warms_early_statuses_and_never_moves_back() -> None:
    assert [status_after_reply(s).value for s in Status] == [
        "warm",
        "warm",
        "warm",
        "warm",
        "hot",
        "booked",
        "client",
        "rejected",
        "excluded",
    ]


def test_rules_are_checked_and_stored_values_read_back_or_default() -> None:
    with pytest.raises(InvalidInput, match="out of range"):
        FollowUpRule(0, 3)
    with pytest.raises(InvalidInput, match="--max 99"):
        FollowUpRule(2, 99)
    assert rule_of(rule_values(FollowUpRule(2, 5))) == FollowUpRule(2, 5)
    assert rule_of({"follow_up_after_days": "banana"}) == FollowUpRule()


def test_follow_up_dates_and_durations_parse_or_are_refused_naming_the_value() -> None:
    assert parse_follow_up("2026-12-03", T0) == datetime(2026, 12, 3)
    assert parse_follow_up("+3d", T0) == T0 + timedelta(days=3)
    assert parse_follow_up("none", T0) is None
    with pytest.raises(InvalidInput, match="'next week' is not a date"):
        parse_follow_up("next week", T0)
    assert parse_days("2d", "x") == 2 and parse_days("7", "x") == 7
    with pytest.raises(InvalidInput, match="'2h' is not a number of days"):
        parse_days("2h", "snooze")


def test_templates_refuse_unknown_placeholders_naming_them_and_render_known_ones() -> None:
    name, text = check_template(" intro ", "hi {handle}, {actor} from {operator}'s team")
    assert name == "intro"
    assert render_template(text, handle="foo", actor="a.b", operator="Sarah") == (
        "hi foo, a.b from Sarah's team"
    )
    with pytest.raises(InvalidInput, match=r"unknown placeholder \{first_name\}"):
        check_template("x", "hey {first_name}")
    with pytest.raises(InvalidInput, match=r"unknown placeholder \{handle.__class__\}"):
        check_template("x", "{handle.__class__}")
    with pytest.raises(InvalidInput, match="stray brace"):
        check_template("x", "oops {handle")
    with pytest.raises(InvalidInput, match="empty"):
        check_template("x", "  ")
    assert check_template("x", "{{literal}}")[1] == "{{literal}}"
