"""Recording DMs from the card and as they are sent, online and offline; then
``dmledger sync`` delivers each to the cloud exactly once."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from support.extension import CARD, Browser, dmledger, seeded_home

pytestmark = pytest.mark.browser


def cloud_rows(home: Path, handle: str) -> list[tuple[str, str]]:
    engine = sa.create_engine(f"sqlite:///{home / 'cloud.db'}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT client_log_id, message_text FROM outreach_logs "
                    "WHERE target_username = :handle"
                ),
                {"handle": handle},
            ).all()
    finally:
        engine.dispose()
    return [(str(a), str(b)) for a, b in rows]


def local_logs(browser: Browser, handle: str) -> list[dict[str, Any]]:
    ledger = browser.ledger()
    try:
        return [log.to_dict() for log in ledger.card(handle).recent_logs]
    finally:
        ledger.close()


def sync(home: Path) -> None:
    """``dmledger sync``, again while the sync the host scheduled holds the lock."""
    deadline = time.monotonic() + 60
    while True:
        done = dmledger(home, "sync", check=False)
        if done.returncode == 0:
            return
        assert "syncing" in done.stderr and time.monotonic() < deadline, done.stderr
        time.sleep(0.2)


def delivered_once(browser: Browser, handle: str, text: str) -> None:
    """The one DM recorded here for ``handle`` is ``text`` from sarah.sells, and after
    two syncs the cloud holds it exactly once."""
    [log] = local_logs(browser, handle)
    assert log["message"] == text and log["actor"] == "sarah.sells"
    sync(browser.home)
    sync(browser.home)
    assert cloud_rows(browser.home, handle) == [(log["client_log_id"], text)]


def test_log_a_dm_from_the_card_then_sync_delivers_it_once(browser: Browser) -> None:
    page = browser.page
    browser.open("/brand.new.lead/")
    browser.wait_verdict("not-contacted", "brand.new.lead")
    page.click(f'{CARD} [data-action="log-dm"]')
    page.fill(f'{CARD} textarea[name="message"]', "Hi! Loved your studio 👋")
    assert page.locator(f"{CARD} select[name=actor]").input_value() == "sarah.sells"
    page.click(f'{CARD} [data-action="submit-log"]')
    browser.wait_verdict("contacted", "brand.new.lead")
    # The setter's own lead reads as theirs, not as a teammate's.
    text = browser.card_text()
    assert "Already contacted, by you" in text and "from sarah.sells on" in text
    delivered_once(browser, "brand.new.lead", "Hi! Loved your studio 👋")


def test_set_the_status_add_a_note_and_mark_do_not_contact(browser: Browser) -> None:
    page = browser.page
    browser.open("/quiet.lead/")
    browser.wait_verdict("not-contacted", "quiet.lead")
    page.select_option(f'{CARD} select[name="status"]', "warm")
    page.click(f'{CARD} [data-action="set-status"]')
    page.locator(f'{CARD} [data-status="warm"]').wait_for()
    page.click(f'{CARD} [data-action="add-note"]')
    page.fill(f'{CARD} input[name="note"]', "Replied, call Friday")
    page.click(f'{CARD} [data-action="submit-note"]')
    page.locator(f"{CARD} .notes", has_text="Replied, call Friday").wait_for()
    page.click(f'{CARD} [data-action="exclude"]')
    browser.wait_verdict("excluded", "quiet.lead")
    ledger = browser.ledger()
    try:
        card = ledger.card("quiet.lead")
    finally:
        ledger.close()
    assert (
        card.status == "excluded" and "[" in (card.notes or "") and "Replied" in (card.notes or "")
    )
    browser.go("/someone.unknown/")
    browser.wait_verdict("not-contacted", "someone.unknown")
    page.click(f'{CARD} [data-action="exclude"]')  # an unknown lead is added, excluded
    browser.wait_verdict("excluded", "someone.unknown")


def test_a_dm_to_an_excluded_lead_needs_the_explicit_confirmation(browser: Browser) -> None:
    page = browser.page
    browser.open("/no.thanks/")
    browser.wait_verdict("excluded", "no.thanks")
    page.click(f'{CARD} [data-action="log-dm"]')
    page.fill(f'{CARD} textarea[name="message"]', "sorry, one more")
    page.click(f'{CARD} [data-action="submit-log"]')
    page.locator(f"{CARD} .note-error", has_text="excluded").wait_for()
    assert local_logs(browser, "no.thanks") == []
    # The form stays open with what was typed; the confirmation is what is missing.
    assert page.locator(f'{CARD} textarea[name="message"]').input_value() == "sorry, one more"
    page.check(f'{CARD} input[name="force"]')
    page.click(f'{CARD} [data-action="submit-log"]')
    page.locator(f"{CARD} .note-ok").wait_for()
    assert [x["message"] for x in local_logs(browser, "no.thanks")] == ["sorry, one more"]


def type_and_send(browser: Browser, text: str, *, click: bool = False) -> None:
    box = browser.page.locator('[role="main"] [role="textbox"][contenteditable="true"]')
    box.click()
    browser.page.keyboard.type(text)
    if click:
        browser.page.get_by_role("button", name="Send").click()
    else:
        browser.page.keyboard.press("Enter")


def test_a_dm_sent_in_a_thread_is_offered_for_recording_with_its_text(browser: Browser) -> None:
    page = browser.page
    browser.open("/direct/t/1002/")
    browser.wait_verdict("not-contacted", "brand.new.lead")
    type_and_send(browser, "Hey there, quick question")
    assert page.evaluate("window.SENT") == ["Hey there, quick question"]  # the site sent it
    ask = page.locator(f'{CARD} [data-sent="ask"]')
    ask.wait_for()
    assert "Record this DM?" in ask.inner_text() and "Hey there, quick question" in ask.inner_text()
    assert local_logs(browser, "brand.new.lead") == []  # nothing without the setter's yes
    page.click(f'{CARD} [data-action="log-sent"]')
    page.locator(f'{CARD} [data-sent="recorded"]').wait_for()
    browser.wait_verdict("contacted", "brand.new.lead")
    # The Send button counts as a send too; "No" records nothing.
    type_and_send(browser, "second one", click=True)
    page.locator(f'{CARD} [data-sent="ask"]', has_text="second one").wait_for()
    page.click(f'{CARD} [data-action="dismiss-sent"]')
    delivered_once(browser, "brand.new.lead", "Hey there, quick question")


def test_with_the_option_on_a_sent_dm_is_recorded_without_asking(browser: Browser) -> None:
    page = browser.page
    browser.open("/direct/t/1002/")
    browser.wait_verdict("not-contacted", "brand.new.lead")
    options = browser.context.new_page()
    options.goto(f"chrome-extension://{extension_id()}/options.html")
    options.locator('[data-host-state="ok"]').wait_for()
    options.check("#auto-record")
    options.close()
    page.bring_to_front()
    type_and_send(browser, "auto recorded hello")
    page.locator(f'{CARD} [data-sent="recorded"]').wait_for()
    assert [x["message"] for x in local_logs(browser, "brand.new.lead")] == ["auto recorded hello"]


def extension_id() -> str:
    from dmledger.native.install import EXTENSION_ID

    return EXTENSION_ID


def test_logging_works_offline_and_waits_for_the_cloud(open_browser: Any, home: Path) -> None:
    # A cloud that cannot be reached: nothing listens on port 9.
    seeded_home(home, cloud_url="postgresql+psycopg://postgres@127.0.0.1:9/none", seed=False)
    browser: Browser = open_browser(home)
    page = browser.page
    browser.open("/direct/t/1002/")
    browser.wait_verdict("not-contacted", "brand.new.lead")
    type_and_send(browser, "sent while offline")
    page.click(f'{CARD} [data-action="log-sent"]')
    page.locator(f"{CARD} .pill-pending").first.wait_for()
    browser.wait_verdict("contacted", "brand.new.lead")
    [log] = local_logs(browser, "brand.new.lead")
    assert log["synced"] is False and log["message"] == "sent while offline"
    done = dmledger(home, "sync", check=False)
    assert done.returncode == 3  # cloud unreachable: the DM stays queued
    assert local_logs(browser, "brand.new.lead")[0]["synced"] is False


def cloud_replies(home: Path, handle: str) -> int:
    engine = sa.create_engine(f"sqlite:///{home / 'cloud.db'}")
    try:
        with engine.connect() as conn:
            count = conn.execute(
                sa.text("SELECT count(*) FROM prospect_replies WHERE target_username = :h"),
                {"h": handle},
            ).scalar_one()
    finally:
        engine.dispose()
    return int(count)


def test_record_a_reply_from_the_card_then_sync_delivers_it_once(browser: Browser) -> None:
    page = browser.page
    browser.open("/glow.skin/")  # Marcus messaged them
    browser.wait_verdict("contacted", "glow.skin")
    button = page.locator(f'{CARD} [data-action="reply"]')
    assert button.inner_text() == "They replied"
    button.dblclick()  # pressed twice: one reply (the page's reply_id)
    page.locator(f"{CARD} .note-ok", has_text="Reply recorded: follow-ups stop.").wait_for()
    page.locator(f'{CARD} [data-status="warm"]').wait_for()
    ledger = browser.ledger()
    try:
        with ledger.local.reading() as conn:
            lead = ledger.local.get_prospect(conn, "glow.skin")
    finally:
        ledger.close()
    assert lead is not None and lead.status == "warm" and lead.last_reply_at is not None
    sync(browser.home)
    sync(browser.home)
    assert cloud_replies(browser.home, "glow.skin") == 1
    # Someone nobody messaged wrote first: accepted, and the card says the lead is added.
    browser.go("/wrote.first/")
    browser.wait_verdict("not-contacted", "wrote.first")
    page.click(f'{CARD} [data-action="reply"]')
    page.locator(f"{CARD} .note-ok", has_text="Nobody had recorded a DM to them").wait_for()
    page.locator(f'{CARD} [data-status="warm"]').wait_for()
    # The card says what is true: they replied, and no DM (so no account) is on record.
    text = browser.card_text()
    assert "Already in touch" in text and "unknown account" not in text
    assert "@wrote.first replied, but nobody on the team has recorded a DM to them." in text
    assert "Replied" in page.locator(f"{CARD} .facts").inner_text()
