"""Byte-safe cuts for the cloud copy of long text, names, and UTC times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dmledger.domain.text import (
    MESSAGE_MAX_BYTES,
    NAME_MAX,
    NOTES_MAX_BYTES,
    TARGET_USERNAME_MAX,
    TRUNCATION_MARKER,
    fit_bytes,
    validate_name,
)
from dmledger.domain.timeutil import (
    EVENT_FLOOR,
    FUTURE_SKEW,
    check_event_time,
    format_utc,
    parse_utc,
    utcnow,
)
from dmledger.errors import InvalidInput

# Hypothesis's per-example deadline is a timing assertion: on a busy machine it fails
# for reasons that have nothing to do with the rule under test.
no_deadline = settings(deadline=None)

WAVE = "👋"  # 4 bytes in UTF-8


def test_the_seed_column_sizes_hold() -> None:
    assert (MESSAGE_MAX_BYTES, NOTES_MAX_BYTES, TARGET_USERNAME_MAX, NAME_MAX) == (
        4000,
        4000,
        255,
        100,
    )


def test_text_that_fits_is_returned_unchanged() -> None:
    text = WAVE * 1000  # exactly 4000 bytes
    assert fit_bytes(text, 4000) is text
    assert fit_bytes(None, 4000) is None
    assert fit_bytes("", 10) == ""


def test_over_long_emoji_text_is_cut_on_a_character_boundary_with_the_marker() -> None:
    text = WAVE * 1250  # 5000 bytes
    cut = fit_bytes(text, 4000)
    assert cut is not None
    encoded = cut.encode("utf-8")
    assert len(encoded) <= 4000
    assert cut.endswith(TRUNCATION_MARKER)
    body = cut.removesuffix(TRUNCATION_MARKER)
    assert set(body) == {WAVE}
    # As many whole emoji as fit next to the marker, and not one more.
    room = 4000 - len(TRUNCATION_MARKER.encode("utf-8"))
    assert len(body) == room // 4


def test_a_cut_never_splits_an_emoji_whatever_the_offset() -> None:
    for prefix in ("", "a", "ab", "abc"):
        cut = fit_bytes(prefix + WAVE * 20, 40)
        assert cut is not None
        assert len(cut.encode("utf-8")) <= 40
        assert cut.startswith(prefix)
        assert "\ufffd" not in cut


def test_a_marker_that_cannot_fit_is_an_error_not_a_silent_overflow() -> None:
    with pytest.raises(ValueError, match="marker"):
        fit_bytes("abcdef", 2)


@no_deadline
@given(st.text(max_size=300), st.integers(min_value=len(TRUNCATION_MARKER.encode()), max_value=400))
def test_fit_bytes_result_fits_is_valid_utf8_and_is_a_marked_prefix(
    text: str, max_bytes: int
) -> None:
    result = fit_bytes(text, max_bytes)
    assert result is not None
    encoded = result.encode("utf-8")  # raises for a lone surrogate: it must be valid text
    assert len(encoded) <= max_bytes
    encoded.decode("utf-8")
    if len(text.encode("utf-8")) <= max_bytes:
        assert result == text
    else:
        assert result.endswith(TRUNCATION_MARKER)
        assert text.startswith(result.removesuffix(TRUNCATION_MARKER))


def test_names_are_trimmed_and_limited_to_100_bytes() -> None:
    assert validate_name("  Sarah ") == "Sarah"
    assert validate_name("é" * 50) == "é" * 50  # exactly 100 bytes
    with pytest.raises(InvalidInput, match="longer than 100 bytes"):
        validate_name("é" * 51, "operator name")
    with pytest.raises(InvalidInput, match="operator name '  ' is empty"):
        validate_name("  ", "operator name")
    with pytest.raises(InvalidInput, match="control characters"):
        validate_name("Sa\x07rah")


# -- time ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "utc"),
    [
        ("2026-11-25T14:30:00Z", datetime(2026, 11, 25, 14, 30)),
        ("2026-11-25T14:30:00z", datetime(2026, 11, 25, 14, 30)),
        ("2026-11-25T14:30:00+00:00", datetime(2026, 11, 25, 14, 30)),
        ("2026-11-25T16:30:00+02:00", datetime(2026, 11, 25, 14, 30)),
        ("2026-11-25T09:30:00-05:00", datetime(2026, 11, 25, 14, 30)),
        ("2026-11-26T00:15:00+05:45", datetime(2026, 11, 25, 18, 30)),
        ("2026-11-25T14:30:00", datetime(2026, 11, 25, 14, 30)),
        ("2026-11-25 14:30:00.123456", datetime(2026, 11, 25, 14, 30, 0, 123456)),
        ("2026-11-25", datetime(2026, 11, 25)),
    ],
)
def test_times_with_offsets_are_converted_to_naive_utc(raw: str, utc: datetime) -> None:
    parsed = parse_utc(raw)
    assert parsed == utc
    assert parsed.tzinfo is None


@pytest.mark.parametrize("raw", ["yesterday", "25/11/2026", "2026-13-01T00:00:00", ""])
def test_a_time_that_is_not_iso_8601_is_refused_naming_the_value(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_utc(raw)
    assert repr(raw) in str(caught.value)
    assert "ISO 8601" in str(caught.value)


def test_format_utc_writes_a_z_time_and_converts_aware_values() -> None:
    assert format_utc(None) is None
    assert format_utc(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05.000000Z"
    plus_two = timezone(timedelta(hours=2))
    assert format_utc(datetime(2026, 1, 2, 5, 4, 5, tzinfo=plus_two)) == (
        "2026-01-02T03:04:05.000000Z"
    )


@no_deadline
@given(
    st.datetimes(
        min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.timezones()
    )
)
def test_format_then_parse_gives_back_the_same_instant(moment: datetime) -> None:
    text = format_utc(moment)
    assert text is not None
    parsed = parse_utc(text)
    expected = moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
    assert parsed == expected


def test_utcnow_is_naive_utc() -> None:
    now = utcnow()
    assert now.tzinfo is None
    assert abs(datetime.now(UTC).replace(tzinfo=None) - now) < timedelta(minutes=1)


@pytest.mark.parametrize("raw", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-05:00"])
def test_a_time_outside_the_calendar_once_in_utc_is_refused_naming_it(raw: str) -> None:
    with pytest.raises(InvalidInput, match="out of range once converted to UTC") as caught:
        parse_utc(raw)
    assert raw in str(caught.value)


def test_an_event_time_runs_from_the_floor_to_a_few_minutes_past_now() -> None:
    now = datetime(2026, 12, 1, 12, 0)
    assert check_event_time(EVENT_FLOOR, now, "send time") == EVENT_FLOOR
    assert check_event_time(now + FUTURE_SKEW, now, "send time") == now + FUTURE_SKEW
    with pytest.raises(InvalidInput) as early:
        check_event_time(datetime(1653, 2, 3, 4, 5, 6), now, "send time")
    assert str(early.value).startswith("send time 1653-02-03T04:05:06.000000Z is before 2010-01-01")
    with pytest.raises(InvalidInput) as late:
        check_event_time(now + FUTURE_SKEW + timedelta(seconds=1), now, "reply time")
    assert "reply time 2026-12-01T12:05:01.000000Z is in the future" in str(late.value)
    assert "from 2010-01-01 to 5 minutes past now" in str(late.value)
