"""Handle normalisation: what people paste becomes the one stored form, or an error.

The rule (DESIGN.md): store lower-case without ``@``; valid is 1-30 characters of
``a-z 0-9 . _``, not starting or ending with ``.``, no ``..``. Invalid input is refused
with the value and the rule named, never silently turned into a different handle.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from dmledger.domain.handles import (
    _RESERVED_PATHS,
    HANDLE_RULE,
    normalize_handle,
    validate_actor_username,
)
from dmledger.errors import InvalidInput

# Hypothesis's per-example deadline is a timing assertion: on a busy machine it fails
# for reasons that have nothing to do with the rule under test.
no_deadline = settings(deadline=None)

VALID = re.compile(r"[a-z0-9._]{1,30}")


def is_valid_handle(text: str) -> bool:
    """The rule of DESIGN.md, written out independently of the implementation."""
    return (
        VALID.fullmatch(text) is not None
        and not text.startswith(".")
        and not text.endswith(".")
        and ".." not in text
    )


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("foo.bar", "foo.bar"),
        ("@Foo.Bar", "foo.bar"),
        ("FOO_BAR", "foo_bar"),
        ("  @glow.skin  ", "glow.skin"),
        ("https://www.instagram.com/foo.bar/", "foo.bar"),
        ("https://www.instagram.com/Foo.Bar/?igsh=MWZ1dGx5bnR4cHF5Ng==", "foo.bar"),
        ("https://instagram.com/foo.bar?igsh=abc&utm_source=qr", "foo.bar"),
        ("http://m.instagram.com/foo.bar", "foo.bar"),
        ("HTTPS://WWW.INSTAGRAM.COM/Foo_Bar/", "foo_bar"),
        ("instagram.com/name", "name"),
        ("www.instagram.com/name/", "name"),
        ("https://www.instagram.com/name/#posts", "name"),
        ("a", "a"),
        ("_", "_"),
        ("1234567890", "1234567890"),
        ("a" * 30, "a" * 30),
    ],
)
def test_pasted_forms_normalise_to_the_stored_handle(raw: str, stored: str) -> None:
    assert normalize_handle(raw) == stored


@pytest.mark.parametrize(
    ("raw", "rule_words"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("@", "contains"),
        ("foo..bar", "'..'"),
        (".foo", "starts or ends with '.'"),
        ("foo.", "starts or ends with '.'"),
        ("foo bar", "contains a space:"),
        ("foo bar!", "contains a space and '!':"),
        ("a-b!c?", "contains '!', '-' and '?':"),
        ("foo-bar", "contains '-'"),
        ("@@foo", "contains '@'"),
        ("föo", "contains 'ö'"),
        ("a" * 31, "31 characters long"),
        ("https://www.instagram.com/foo..bar/", "'..'"),
    ],
)
def test_invalid_handles_are_refused_naming_the_value_and_the_rule(
    raw: str, rule_words: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_handle(raw)
    message = str(caught.value)
    assert repr(raw) in message
    assert rule_words in message
    assert HANDLE_RULE in message


@pytest.mark.parametrize(
    "raw",
    [
        "https://twitter.com/foo",
        "https://evil.example/instagram.com/foo",
        "ftp://instagram.com/foo",
        "https://www.instagram.com/",
        "https://www.instagram.com/p/C1x2y3z4/",
        "https://www.instagram.com/reel/abc/",
        "https://www.instagram.com/stories/foo/123/",
        "https://www.instagram.com/foo/bar/",
        "instagram.com/explore",
    ],
)
def test_urls_that_are_not_profiles_are_refused_not_guessed(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_handle(raw)
    assert repr(raw) in str(caught.value)
    assert "https://www.instagram.com/NAME/" in str(caught.value)


def test_a_lookalike_unicode_letter_is_refused_not_lowered_into_ascii() -> None:
    # KELVIN SIGN lower-cases to a plain "k": accepting it would store "kim" for
    # something that is not the handle "kim" (a different person).
    raw = "\u212aim"
    with pytest.raises(InvalidInput) as caught:
        normalize_handle(raw)
    assert repr(raw) in str(caught.value)


def test_actor_usernames_follow_the_handle_rule() -> None:
    assert validate_actor_username("@Sarah.Sells") == "sarah.sells"
    with pytest.raises(InvalidInput, match="sarah sells"):
        validate_actor_username("sarah sells")


# -- properties ------------------------------------------------------------------

handle_chars = st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789._")
valid_handles = st.text(handle_chars, min_size=1, max_size=30).filter(is_valid_handle)


@no_deadline
@given(st.text(max_size=40))
@example("\u212aim")
@example("İstanbul")
@example("https://www.instagram.com/ǅ/")
def test_normalize_returns_a_valid_handle_or_refuses(raw: str) -> None:
    try:
        handle = normalize_handle(raw)
    except InvalidInput as error:
        assert repr(raw) in str(error)
        return
    assert is_valid_handle(handle)
    assert normalize_handle(handle) == handle


@no_deadline
@given(st.text(max_size=40).filter(lambda t: "/" not in t))
def test_a_plain_value_is_only_trimmed_unprefixed_and_lowered(raw: str) -> None:
    # Never silently a different handle: what is accepted equals the input up to
    # surrounding space, one leading '@' and ASCII case.
    try:
        handle = normalize_handle(raw)
    except InvalidInput:
        return
    typed = raw.strip().removeprefix("@")
    assert typed.isascii()
    assert typed.lower() == handle


@no_deadline
@given(valid_handles)
def test_a_valid_handle_is_stored_as_itself(handle: str) -> None:
    assert normalize_handle(handle) == handle


@no_deadline
@given(valid_handles, st.sampled_from(["{}", "@{}", " {} ", "@{} "]), st.booleans())
def test_case_and_at_sign_do_not_change_the_handle(handle: str, form: str, upper: bool) -> None:
    typed = form.format(handle.upper() if upper else handle)
    assert normalize_handle(typed) == handle


@no_deadline
@given(
    valid_handles,
    st.sampled_from(
        [
            "https://www.instagram.com/{}/",
            "https://www.instagram.com/{}",
            "https://instagram.com/{}/?igsh=MWZ1dGx5bnR4cHF5Ng%3D%3D",
            "instagram.com/{}",
            "www.instagram.com/{}/?hl=en",
        ]
    ),
)
def test_every_profile_url_form_gives_the_handle(handle: str, form: str) -> None:
    # instagram.com/p/ or /reel/ are pages, not profiles: those names are refused in a URL.
    assume(handle not in _RESERVED_PATHS)
    assert normalize_handle(form.format(handle)) == handle
