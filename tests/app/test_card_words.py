"""The card's verdict in words (``StatusCard.verdict_title`` / ``verdict_text``): the
one place the CLI, the pages and the extension take them from, true in every case."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dmledger.app.ledger import Ledger


@pytest.fixture
def ledger(home: Path, sqlite_url: str) -> Iterator[Ledger]:
    opened, _ = Ledger.init_home(home, "Sarah", cloud_url=sqlite_url, actor="sarah.sells")
    opened.cloud_init()
    yield opened
    opened.close()


def words(ledger: Ledger, handle: str) -> tuple[str, str, str]:
    card = ledger.card(handle)
    return card.verdict, card.verdict_title, card.verdict_text


def test_a_reply_from_someone_nobody_messaged_says_so_and_names_no_account(
    ledger: Ledger,
) -> None:
    ledger.followups.reply("wrote.first")
    card = ledger.card("wrote.first")
    assert card.verdict == "contacted" and card.last_reply_at is not None
    assert (card.verdict_title, card.verdict_text) == (
        "Already in touch",
        "@wrote.first replied, but nobody on the team has recorded a DM to them",
    )
    assert "unknown account" not in card.verdict_text


def test_a_status_set_by_hand_without_a_dm_names_no_account(ledger: Ledger) -> None:
    ledger.add_prospect("from.the.expo", status="hot")
    assert words(ledger, "from.the.expo") == (
        "contacted",
        "Already in the pipeline",
        "Marked hot, but nobody on the team has recorded a DM to @from.the.expo",
    )


def test_a_dm_names_its_account_and_operator_and_your_own_lead_is_yours(
    ledger: Ledger,
) -> None:
    ledger.add_operator("Marcus")
    ledger.add_actor("marcus.closes", "Marcus")
    ledger.log_dm("glow.skin", "Hey!", actor="marcus.closes")
    ledger.log_dm("fresh.face", "Hi!")
    assert words(ledger, "glow.skin") == (
        "contacted",
        "Already contacted",
        "by marcus.closes (Marcus)",
    )
    assert ledger.card("glow.skin").yours is False
    assert words(ledger, "fresh.face") == (
        "contacted",
        "Already contacted, by you",
        "from sarah.sells",
    )


def test_leads_nobody_messaged_and_excluded_leads(ledger: Ledger) -> None:
    ledger.add_prospect("quiet.lead")
    ledger.add_prospect("no.thanks", status="excluded")
    assert words(ledger, "someone.new") == (
        "not-contacted",
        "Not contacted",
        "Nobody on the team has recorded a DM to @someone.new (as of the last sync)",
    )
    assert words(ledger, "quiet.lead") == (
        "not-contacted",
        "In the ledger, not contacted yet",
        "@quiet.lead is a lead nobody has messaged",
    )
    assert words(ledger, "no.thanks") == (
        "excluded",
        "DO NOT CONTACT",
        "@no.thanks is marked excluded. Do not send a DM",
    )
