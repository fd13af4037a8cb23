"""``Ledger``, the one application object: the use cases every interface shares."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from dmledger.app.ledger import Ledger
from dmledger.errors import ConfigError, ExcludedProspect, InvalidInput, NotFound, Refused
from dmledger.local.store import ProspectFilter

T0 = datetime(2026, 3, 1, 9, 0, 0)


@pytest.fixture
def ledger(home: Path, sqlite_url: str) -> Iterator[Ledger]:
    opened, password = Ledger.init_home(home, "Sarah", cloud_url=sqlite_url, actor="sarah.sells")
    assert password is None
    opened.cloud_init()
    yield opened
    opened.close()


def test_init_keeps_a_password_in_the_url_out_of_the_settings(home: Path) -> None:
    url = "postgresql+psycopg://sarah:pa55-word@db.example:5432/team"
    ledger, password = Ledger.init_home(home, "Sarah", cloud_url=url)
    ledger.close()
    assert password == "pa55-word"
    assert ledger.settings.cloud_url == "postgresql+psycopg://sarah@db.example:5432/team"
    assert "pa55-word" not in (home / "config.toml").read_text(encoding="utf-8")
    reopened = Ledger.open(home)
    reopened.close()
    assert reopened.cloud_label == "postgresql+psycopg://sarah@db.example:5432/team"


def test_opening_a_home_that_was_never_initialised_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="dmledger init --operator NAME"):
        Ledger.open(tmp_path / "nowhere")


def test_logging_first_dm_sets_contacted_first_contacted_and_owner_actor(ledger: Ledger) -> None:
    item, card, created = ledger.log_dm("https://www.instagram.com/Foo.Bar/", "hi 👋", at=T0)
    assert created is True
    assert item.target == "foo.bar"
    assert (card.status, card.contacted, card.owner_actor, card.owner_operator) == (
        "contacted",
        True,
        "sarah.sells",
        "Sarah",
    )
    assert card.first_contacted == "2026-03-01T09:00:00.000000Z"
    assert [r.message for r in card.recent_logs] == ["hi 👋"]
    assert card.pending_sync is True


def test_logging_with_the_same_client_log_id_records_one_dm(ledger: Ledger) -> None:
    first, _, created = ledger.log_dm("foo.bar", "hi", client_log_id="dm-1", at=T0)
    again, card, created_again = ledger.log_dm("foo.bar", "hi", client_log_id="dm-1", at=T0)
    assert (created, created_again) == (True, False)
    assert again.client_log_id == first.client_log_id
    assert len(card.recent_logs) == 1


def test_a_reply_sent_twice_with_the_same_reply_id_is_queued_once(ledger: Ledger) -> None:
    ledger.followups.reply("new.writer", at=T0, reply_id="reply-1")  # nobody had DMed them
    again = ledger.followups.reply("new.writer", at=T0 + timedelta(minutes=1), reply_id="reply-1")
    assert again.was_contacted is False and again.prospect.status == "warm"
    with ledger.local.reading() as conn:
        queued = [(e.op, e.ref) for e in ledger.local.pending_edits(conn, 100)]
    assert queued == [("add", None), ("reply", "reply-1")]
    taken = r"'reply-1' is already the id of a reply from new\.writer"
    with pytest.raises(InvalidInput, match=taken):
        ledger.followups.reply("someone.else", reply_id="reply-1")
    with pytest.raises(InvalidInput, match="reply_id 'no spaces!' must be 1-36 characters"):
        ledger.followups.reply("someone.else", reply_id="no spaces!")
    assert ledger.card("someone.else").known is False  # nothing written for either


def test_a_dm_uses_the_actor_given_or_the_one_set_at_init(ledger: Ledger) -> None:
    ledger.add_actor("sarah.growth")
    item, card, _ = ledger.log_dm("foo.bar", "hi", actor="@Sarah.Growth", at=T0)
    assert item.actor == "sarah.growth"
    assert card.owner_actor == "sarah.growth"
    default, _, _ = ledger.log_dm("other.lead", "hi")
    assert default.actor == "sarah.sells"


def test_a_dm_without_any_actor_is_refused(home: Path, sqlite_url: str) -> None:
    ledger, _ = Ledger.init_home(home, "Sarah", cloud_url=sqlite_url)
    try:
        with pytest.raises(ConfigError, match="--actor USERNAME"):
            ledger.log_dm("foo.bar", "hi")
    finally:
        ledger.close()


def test_a_dm_to_an_excluded_lead_is_refused_unless_forced(ledger: Ledger) -> None:
    ledger.add_prospect("foo.bar", status="Excluded")
    with pytest.raises(ExcludedProspect, match=r"'foo\.bar' is excluded"):
        ledger.log_dm("foo.bar", "hi")
    assert ledger.card("foo.bar").recent_logs == []
    _, card, created = ledger.log_dm("foo.bar", "hi", force=True)
    assert created is True
    assert card.status == "excluded"


def test_a_dm_never_moves_a_booked_lead_backwards(ledger: Ledger) -> None:
    ledger.log_dm("foo.bar", "hi", at=T0)
    ledger.update_prospect("foo.bar", status="booked")
    _, card, _ = ledger.log_dm("foo.bar", "see you Thursday", at=T0 + timedelta(days=1))
    assert card.status == "booked"


def test_a_person_may_move_a_status_backwards(ledger: Ledger) -> None:
    ledger.add_prospect("foo.bar", status="booked")
    assert ledger.update_prospect("foo.bar", status="cold").status == "cold"


@pytest.mark.parametrize(
    ("raw", "words"),
    [("", "empty"), ("foo..bar", "'..'"), ("https://twitter.com/x", "not an Instagram")],
)
def test_invalid_handles_are_refused_everywhere(ledger: Ledger, raw: str, words: str) -> None:
    for call in (
        lambda: ledger.add_prospect(raw),
        lambda: ledger.log_dm(raw, "hi"),
        lambda: ledger.card(raw),
        lambda: ledger.update_prospect(raw, status="warm"),
        lambda: ledger.delete_prospect(raw),
    ):
        with pytest.raises(InvalidInput, match=words):
            call()


def test_adding_a_known_lead_is_refused_with_its_status(ledger: Ledger) -> None:
    ledger.log_dm("foo.bar", "hi")
    with pytest.raises(Refused, match=r"status contacted, owner sarah\.sells"):
        ledger.add_prospect("@FOO.BAR")


def test_notes_are_replaced_or_appended_with_a_dated_line(ledger: Ledger) -> None:
    ledger.add_prospect("foo.bar", notes="first")
    ledger.update_prospect("foo.bar", append_note="called back")
    notes = ledger.card("foo.bar").notes
    assert notes is not None
    first, second = notes.split("\n")
    assert first == "first"
    assert second.endswith(" Sarah] called back")
    assert ledger.update_prospect("foo.bar", notes="clean").notes == "clean"


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({}, "nothing to change"),
        ({"notes": "a", "append_note": "b"}, "not both"),
        ({"status": "lukewarm"}, "'lukewarm' is not one of"),
        ({"append_note": "   "}, "note to append is empty"),
        ({"append_note": "\r\n\t"}, "note to append is empty"),
    ],
)
def test_an_update_that_cannot_apply_is_refused(
    ledger: Ledger, changes: dict[str, str], words: str
) -> None:
    ledger.add_prospect("foo.bar", notes="kept")
    with pytest.raises(InvalidInput, match=words):
        ledger.update_prospect("foo.bar", **changes)
    assert ledger.card("foo.bar").notes == "kept"


def test_unknown_leads_are_not_found(ledger: Ledger) -> None:
    assert ledger.card("nobody.yet").known is False
    with pytest.raises(NotFound, match=r"'nobody\.yet' is not in the ledger"):
        ledger.require_card("nobody.yet")
    with pytest.raises(NotFound):
        ledger.update_prospect("nobody.yet", status="warm")
    with pytest.raises(NotFound):
        ledger.delete_prospect("nobody.yet")


@pytest.mark.parametrize(
    ("message", "words"),
    [("   ", "message is empty"), ("x" * 20_001, "the limit is 20000"), ("a\x00b", "NUL")],
)
def test_a_message_that_cannot_be_recorded_is_refused(
    ledger: Ledger, message: str, words: str
) -> None:
    with pytest.raises(InvalidInput, match=words):
        ledger.log_dm("foo.bar", message)


def test_a_long_message_is_kept_whole_locally(ledger: Ledger) -> None:
    message = "👋" * 5000
    _, card, _ = ledger.log_dm("foo.bar", message)
    assert card.recent_logs[0].message == message


def test_a_client_log_id_must_be_short_and_plain(ledger: Ledger) -> None:
    with pytest.raises(InvalidInput, match="client_log_id"):
        ledger.log_dm("foo.bar", "hi", client_log_id="has spaces in it")


def test_listing_refuses_a_limit_out_of_range_and_an_unknown_status(ledger: Ledger) -> None:
    with pytest.raises(InvalidInput, match="limit 0 is out of range"):
        ledger.list_prospects(ProspectFilter(), limit=0)
    with pytest.raises(InvalidInput, match="'lukewarm'"):
        ledger.list_prospects(ProspectFilter(status="lukewarm"))


def test_listing_reads_legacy_status_names(ledger: Ledger) -> None:
    ledger.add_prospect("foo.bar", status="Cold_NoReply")
    listed = ledger.list_prospects(ProspectFilter(status="Cold_NoReply"))
    assert [(p.handle, p.status) for p in listed] == [("foo.bar", "cold")]


def test_what_one_teammate_logs_the_other_sees_after_sync(tmp_path: Path, cloud_url: str) -> None:
    sarah, _ = Ledger.init_home(tmp_path / "s", "Sarah", cloud_url=cloud_url, actor="sarah.sells")
    marcus, _ = Ledger.init_home(tmp_path / "m", "Marcus", cloud_url=cloud_url, actor="m.closes")
    try:
        sarah.cloud_init()
        sarah.log_dm("foo.bar", "hi", at=T0)
        marcus.log_dm("foo.bar", "hello", at=T0 + timedelta(hours=1))
        for ledger in (sarah, marcus, sarah):
            ledger.sync()
        for ledger in (sarah, marcus):
            card = ledger.card("foo.bar")
            assert (card.owner_actor, card.owner_operator) == ("sarah.sells", "Sarah")
            assert card.status == "contacted"
    finally:
        sarah.close()
        marcus.close()


def test_a_cloud_reset_empties_the_local_cache_too(ledger: Ledger) -> None:
    ledger.log_dm("foo.bar", "hi")
    ledger.sync()
    ledger.cloud_reset()
    assert ledger.card("foo.bar").known is False
    assert ledger.cloud.counts()["prospects"] == 0


def test_status_answers_with_an_unreachable_cloud(home: Path) -> None:
    ledger, _ = Ledger.init_home(
        home, "Sarah", cloud_url="postgresql+psycopg://postgres@127.0.0.1:1/x", actor="s.sells"
    )
    try:
        ledger.log_dm("foo.bar", "hi")
        status = ledger.status()
    finally:
        ledger.close()
    assert status.cloud_reachable is False
    assert status.pending_logs == 1
    assert status.pending_changes == 0


def test_dropping_a_set_aside_item_needs_a_kind_and_an_id(ledger: Ledger) -> None:
    with pytest.raises(InvalidInput, match="expected log:ID or edit:ID"):
        ledger.drop_set_aside("table:3")
    with pytest.raises(NotFound, match="no set-aside edit with id 9"):
        ledger.drop_set_aside("edit:9")


def test_a_clock_set_before_2010_still_records_a_dm_and_a_reply_before_the_first_sync(
    home: Path, sqlite_url: str
) -> None:
    # A machine whose clock was reset (a flat battery): the floor is for times people
    # give; this machine's own reading is kept and corrected at the first sync.
    Ledger.init_home(home, "Sarah", actor="sarah.sells", cloud_url=sqlite_url)[0].close()
    ledger = Ledger.open(home, clock=lambda: datetime(1999, 1, 1, 12, 0))
    try:
        _item, card, created = ledger.log_dm("reset.clock", "hi")
        assert created and card.recent_logs[0].sent_at.startswith("1999-01-01")
        assert ledger.followups.reply("reset.clock").was_contacted is True
        with pytest.raises(InvalidInput, match="is before 2010-01-01"):
            ledger.log_dm("reset.clock", "hi", at=datetime(1999, 1, 1))
    finally:
        ledger.close()
